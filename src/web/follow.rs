//! Following a community of another instance by handle (`!name@domain`) or URL: resolved
//! like `GET /api/v1/resolve`, then followed like the community page's Join button.

use activitypub_federation::config::Data;
use askama::Template;
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::FieldErrors;
use super::page::{Layout, Web, WebForm, WebResult};
use crate::api::resolve::{ResolvedType, resolve_view};
use crate::context::AppContext;
use crate::error::AppError;
use crate::service::communities;

#[derive(Debug, Default, Deserialize)]
pub struct FollowForm {
    #[serde(default)]
    handle: String,
}

#[derive(Template)]
#[template(path = "follow.html")]
struct FollowTemplate {
    layout: Layout,
    form: FollowForm,
    errors: FieldErrors,
}

pub async fn form(web: Web) -> WebResult {
    web.require_session()?;
    let template = FollowTemplate {
        layout: web.layout("Follow a community"),
        form: FollowForm::default(),
        errors: FieldErrors::default(),
    };
    Ok(web.render(StatusCode::OK, &template))
}

pub async fn submit(
    data: Data<AppContext>,
    web: Web,
    WebForm(form): WebForm<FollowForm>,
) -> WebResult {
    let session = web.require_session()?;
    let result = async {
        let found = resolve_view(&form.handle, &data).await?;
        let handle = match (found.kind, found.handle) {
            (ResolvedType::Community, Some(handle)) => handle,
            _ => {
                return Err(AppError::unprocessable(
                    "not_a_community",
                    "this address is not a community",
                ));
            }
        };
        communities::follow(&web.ctx.db, &web.ctx.settings, session, &handle).await?;
        Ok(handle)
    }
    .await;
    match result {
        Ok(handle) => Ok(web.see_other(&format!("/c/{handle}"))),
        // A remote server that does not answer is said by the field too: the visitor can
        // check the address or try later.
        Err(err) if err.status().is_client_error() || err.status().as_u16() == 502 => {
            let status = err.status();
            let template = FollowTemplate {
                layout: web.layout("Follow a community"),
                errors: FieldErrors::from_error(&err, |_| Some("handle")),
                form,
            };
            Ok(web.render(status, &template))
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use crate::db::types::AccountRole;
    use crate::testing::{TestApi, for_each_backend, test_settings};
    use crate::web::tests::{Browser, location, text};
    use serde_json::json;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_community_is_followed_by_its_handle() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            api.create_user("bob", AccountRole::Member).await;
            let alice = api.login("alice").await;
            let created = api
                .call(
                    "POST",
                    "/api/v1/communities",
                    Some(&alice),
                    Some(json!({"name": "rust", "title": "Rust help", "kind": "qa"})),
                )
                .await;
            assert_eq!(created.status, 201, "{:?}", created.body);

            let mut anonymous = Browser::new(&api);
            let page = anonymous.get("/communities/follow").await;
            assert_eq!(page.status, 303, "sign in first");

            let mut bob = Browser::new(&api);
            bob.sign_in("bob").await;
            let page = bob.get("/communities/follow").await;
            assert_eq!(page.status, 200);
            assert!(text(&page).contains("<label for=\"handle\""));

            let forged = bob
                .post_raw("/communities/follow", &[("handle", "!rust@localhost:8541")])
                .await;
            assert_eq!(forged.status, 403);

            let bad = bob.post("/communities/follow", &[("handle", "rust")]).await;
            assert_eq!(bad.status, 400);
            assert!(text(&bad).contains("id=\"handle-error\""), "{}", text(&bad));
            assert!(text(&bad).contains("value=\"rust\""));
            let person = bob
                .post(
                    "/communities/follow",
                    &[("handle", "@alice@localhost:8541")],
                )
                .await;
            assert_eq!(person.status, 422);
            assert!(text(&person).contains("not a community"));

            let followed = bob
                .post("/communities/follow", &[("handle", "!rust@localhost:8541")])
                .await;
            assert_eq!(followed.status, 303, "{}", text(&followed));
            assert_eq!(location(&followed), "/c/rust");
            let page = bob.get("/c/rust").await;
            assert!(text(&page).contains("Leave"), "{}", text(&page));
        })
        .await;
    }
}
