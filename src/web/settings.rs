//! The member's own settings (`/settings`): profile, password, sessions and API tokens,
//! and deleting the account, through the services behind `/api/v1/me` and `/auth/tokens`.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::auth::{EmptyForm, FieldErrors};
use super::page::{Layout, Web, WebForm, WebResult};
use super::views;
use crate::api::auth::session_set_cookie;
use crate::db::types::TokenKind;
use crate::error::AppError;
use crate::service::accounts::{self, ContentOnDeletion, ProfileChanges};
use crate::service::auth::{self as auth_service, Session};

/// A session or API token as the list shows it.
pub struct TokenRow {
    pub id: i64,
    pub kind: &'static str,
    pub label: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    /// The session showing this page.
    pub current: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    avatar_url: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
    /// `keep` or `remove`.
    #[serde(default)]
    content: String,
    /// The username typed again, so that the account is not deleted by a slip.
    #[serde(default)]
    confirm: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsTemplate {
    layout: Layout,
    username: String,
    profile: ProfileForm,
    profile_errors: FieldErrors,
    password_errors: FieldErrors,
    delete_errors: FieldErrors,
    /// Whether "remove my content" was chosen, kept when the form comes back.
    delete_remove: bool,
    tokens: Vec<TokenRow>,
    notice: Option<&'static str>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "profile" => "Your profile was saved.",
        "password" => "Your password was changed. Your other sessions and tokens were signed out.",
        "revoked" => "The session or token was revoked.",
        _ => return None,
    })
}

/// The page with the profile as stored and empty password forms.
async fn template(web: &Web, session: &Session) -> Result<SettingsTemplate, AppError> {
    let tokens = auth_service::list_tokens(&web.ctx.db, session)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            kind: match t.kind {
                TokenKind::Session => "Browser session",
                TokenKind::Api => "API token",
            },
            label: t.label.unwrap_or_default(),
            created: views::date(&t.created_at),
            last_used: views::date(&t.last_used_at),
            expires: views::date(&t.expires_at),
            current: t.id == session.token.id,
        })
        .collect();
    let person = &session.person;
    Ok(SettingsTemplate {
        layout: web.layout("Settings"),
        username: person.name.clone(),
        profile: ProfileForm {
            display_name: person.display_name.clone().unwrap_or_default(),
            bio: person.bio.clone().unwrap_or_default(),
            avatar_url: person.avatar_url.clone().unwrap_or_default(),
        },
        profile_errors: FieldErrors::default(),
        password_errors: FieldErrors::default(),
        delete_errors: FieldErrors::default(),
        delete_remove: false,
        tokens,
        notice: None,
    })
}

pub async fn page(web: Web, Query(query): Query<DoneQuery>) -> WebResult {
    let session = web.require_session()?;
    let mut template = template(&web, session).await?;
    template.notice = notice(query.done.as_deref());
    Ok(web.render(StatusCode::OK, &template))
}

/// Shows the page again with a form's error; client errors only, the rest are error pages.
fn refused(
    web: &Web,
    mut template: SettingsTemplate,
    err: AppError,
    fill: impl FnOnce(&mut SettingsTemplate, FieldErrors),
    field_of: impl Fn(&str) -> Option<&'static str>,
) -> WebResult {
    if !err.status().is_client_error() {
        return Err(err.into());
    }
    let status = err.status();
    fill(&mut template, FieldErrors::from_error(&err, field_of));
    Ok(web.render(status, &template))
}

pub async fn update_profile(web: Web, WebForm(form): WebForm<ProfileForm>) -> WebResult {
    let session = web.require_session()?;
    let changes = ProfileChanges {
        display_name: Some(form.display_name.clone()),
        bio: Some(form.bio.clone()),
        avatar_url: Some(form.avatar_url.clone()),
    };
    match accounts::update_profile(&web.ctx.db, session, changes).await {
        Ok(_) => Ok(web.see_other("/settings?done=profile")),
        Err(err) => {
            let mut template = template(&web, session).await?;
            // What was typed comes back, not what is stored.
            template.profile = form;
            refused(
                &web,
                template,
                err,
                |t, e| t.profile_errors = e,
                |code| match code {
                    "invalid_display_name" => Some("display_name"),
                    "invalid_bio" => Some("bio"),
                    "invalid_avatar_url" => Some("avatar_url"),
                    _ => None,
                },
            )
        }
    }
}

pub async fn change_password(web: Web, WebForm(form): WebForm<PasswordForm>) -> WebResult {
    let session = web.require_session()?;
    let result = if form.new_password != form.new_password_again {
        Err(AppError::unprocessable(
            "passwords_differ",
            "the two new passwords are not the same",
        ))
    } else {
        accounts::change_password(
            &web.ctx.db,
            session,
            &form.current_password,
            &form.new_password,
        )
        .await
    };
    match result {
        Ok(()) => Ok(web.see_other("/settings?done=password")),
        Err(err) => refused(
            &web,
            template(&web, session).await?,
            err,
            |t, e| t.password_errors = e,
            |code| match code {
                "wrong_password" => Some("current_password"),
                "invalid_password" => Some("new_password"),
                "passwords_differ" => Some("new_password_again"),
                _ => None,
            },
        ),
    }
}

/// A redirect home that also clears the session cookie (the session is gone).
fn signed_out(web: &Web) -> Response {
    let mut response = web.see_other("/");
    if let Some(cookie) = session_set_cookie(&web.ctx, None) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn revoke_token(
    web: Web,
    Path(id): Path<i64>,
    WebForm(_): WebForm<EmptyForm>,
) -> WebResult {
    let session = web.require_session()?;
    auth_service::revoke_token(&web.ctx.db, session, id).await?;
    if id == session.token.id {
        // Revoking this very session is signing out.
        return Ok(signed_out(&web));
    }
    Ok(web.see_other("/settings?done=revoked"))
}

pub async fn delete_account(web: Web, WebForm(form): WebForm<DeleteForm>) -> WebResult {
    let session = web.require_session()?;
    let remove = form.content == "remove";
    let result = if form.confirm.trim() != session.person.name {
        Err(AppError::unprocessable(
            "confirmation_mismatch",
            "type your username to confirm",
        ))
    } else {
        let content = if remove {
            ContentOnDeletion::Remove
        } else {
            ContentOnDeletion::Keep
        };
        accounts::delete_account(&web.ctx.db, session, &form.password, content).await
    };
    match result {
        Ok(()) => Ok(signed_out(&web)),
        Err(err) => {
            let mut template = template(&web, session).await?;
            template.delete_remove = remove;
            refused(
                &web,
                template,
                err,
                |t, e| t.delete_errors = e,
                |code| match code {
                    "wrong_password" => Some("password"),
                    "confirmation_mismatch" => Some("confirm"),
                    _ => None,
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::db::types::AccountRole;
    use crate::testing::{TEST_PASSWORD, TestApi, for_each_backend, test_settings};
    use crate::web::tests::{Browser, location, text};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn settings_edit_the_profile_and_show_errors_by_the_field() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let mut anonymous = Browser::new(&api);
            let page = anonymous.get("/settings").await;
            assert_eq!(page.status, 303, "anonymous visitors are sent to sign in");
            assert_eq!(location(&page), "/login?next=%2Fsettings");

            let mut alice = Browser::new(&api);
            alice.sign_in("alice").await;
            let page = alice.get("/settings").await;
            assert_eq!(page.status, 200, "{}", text(&page));
            assert!(text(&page).contains("Display name"));
            assert!(text(&page).contains("Current session"));

            let saved = alice
                .post(
                    "/settings/profile",
                    &[
                        ("display_name", "Alice A."),
                        ("bio", "I like **Rust**."),
                        ("avatar_url", "https://img.example/a.png"),
                    ],
                )
                .await;
            assert_eq!(saved.status, 303, "{}", text(&saved));
            assert_eq!(location(&saved), "/settings?done=profile");
            let page = alice.get("/settings?done=profile").await;
            assert!(text(&page).contains("Your profile was saved."));
            assert!(text(&page).contains("Alice A."));
            let profile = alice.get("/u/alice").await;
            assert!(text(&profile).contains("<strong>Rust</strong>"));

            let refused = alice
                .post(
                    "/settings/profile",
                    &[
                        ("display_name", "Alice"),
                        ("bio", ""),
                        ("avatar_url", "ftp://nope"),
                    ],
                )
                .await;
            assert_eq!(refused.status, 422);
            let html = text(&refused);
            assert!(html.contains("id=\"avatar_url-error\""), "{html}");
            assert!(
                html.contains("value=\"ftp://nope\""),
                "what was typed comes back"
            );

            // Without the CSRF token nothing changes.
            let forged = alice
                .post_raw("/settings/profile", &[("display_name", "Mallory")])
                .await;
            assert_eq!(forged.status, 403);
            assert!(text(&forged).contains("Form expired"));
            let page = alice.get("/settings").await;
            assert!(!text(&page).contains("Mallory"));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn settings_change_the_password_and_revoke_tokens() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let api_token = api.login("alice").await;
            let mut alice = Browser::new(&api);
            alice.sign_in("alice").await;

            let page = alice.get("/settings").await;
            let html = text(&page).to_owned();
            assert!(html.contains("API token"), "{html}");
            let marker = "action=\"/settings/tokens/";
            let ids: Vec<i64> = html
                .match_indices(marker)
                .map(|(at, _)| {
                    let rest = &html[at + marker.len()..];
                    rest[..rest.find('/').expect("id")].parse().expect("id")
                })
                .collect();
            assert_eq!(ids.len(), 2, "{html}");

            let forged = alice
                .post_raw(&format!("/settings/tokens/{}/revoke", ids[0]), &[])
                .await;
            assert_eq!(forged.status, 403);
            let me = api.call("GET", "/api/v1/me", Some(&api_token), None).await;
            assert_eq!(me.status, 200);
            // The API token is the one that is not the current session.
            for id in &ids {
                if !html.contains(&format!("data-current-token=\"{id}\"")) {
                    let revoked = alice
                        .post(&format!("/settings/tokens/{id}/revoke"), &[])
                        .await;
                    assert_eq!(revoked.status, 303, "{}", text(&revoked));
                    assert_eq!(location(&revoked), "/settings?done=revoked");
                }
            }
            let me = api.call("GET", "/api/v1/me", Some(&api_token), None).await;
            assert_eq!(me.status, 401, "the API token was revoked");
            alice.get("/settings").await;

            let wrong = alice
                .post(
                    "/settings/password",
                    &[
                        ("current_password", "not the password"),
                        ("new_password", "a new long password"),
                        ("new_password_again", "a new long password"),
                    ],
                )
                .await;
            assert_eq!(wrong.status, 403);
            assert!(text(&wrong).contains("id=\"current_password-error\""));
            let differ = alice
                .post(
                    "/settings/password",
                    &[
                        ("current_password", TEST_PASSWORD),
                        ("new_password", "a new long password"),
                        ("new_password_again", "another long password"),
                    ],
                )
                .await;
            assert_eq!(differ.status, 422);
            assert!(text(&differ).contains("id=\"new_password_again-error\""));
            let forged = alice
                .post_raw(
                    "/settings/password",
                    &[
                        ("current_password", TEST_PASSWORD),
                        ("new_password", "a new long password"),
                        ("new_password_again", "a new long password"),
                    ],
                )
                .await;
            assert_eq!(forged.status, 403);
            let changed = alice
                .post(
                    "/settings/password",
                    &[
                        ("current_password", TEST_PASSWORD),
                        ("new_password", "a new long password"),
                        ("new_password_again", "a new long password"),
                    ],
                )
                .await;
            assert_eq!(changed.status, 303, "{}", text(&changed));
            let page = alice.get("/settings?done=password").await;
            assert_eq!(page.status, 200, "this session stays signed in");
            assert!(text(&page).contains("Your password was changed."));

            // Revoking the current session signs out.
            let html = text(&page).to_owned();
            let at = html.find("data-current-token=\"").expect("current") + 20;
            let current = &html[at..at + html[at..].find('"').expect("end")];
            let out = alice
                .post(&format!("/settings/tokens/{current}/revoke"), &[])
                .await;
            assert_eq!(out.status, 303);
            assert_eq!(location(&out), "/");
            let page = alice.get("/settings").await;
            assert_eq!(page.status, 303, "signed out");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn settings_delete_the_account_after_confirmation() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("alice", AccountRole::Member).await;
            let mut alice = Browser::new(&api);
            alice.sign_in("alice").await;
            alice.get("/settings").await;

            let unconfirmed = alice
                .post(
                    "/settings/delete",
                    &[
                        ("password", TEST_PASSWORD),
                        ("content", "keep"),
                        ("confirm", "bob"),
                    ],
                )
                .await;
            assert_eq!(unconfirmed.status, 422);
            assert!(text(&unconfirmed).contains("id=\"confirm-error\""));
            let forged = alice
                .post_raw(
                    "/settings/delete",
                    &[
                        ("password", TEST_PASSWORD),
                        ("content", "keep"),
                        ("confirm", "alice"),
                    ],
                )
                .await;
            assert_eq!(forged.status, 403);
            let deleted = alice
                .post(
                    "/settings/delete",
                    &[
                        ("password", TEST_PASSWORD),
                        ("content", "remove"),
                        ("confirm", "alice"),
                    ],
                )
                .await;
            assert_eq!(deleted.status, 303, "{}", text(&deleted));
            assert_eq!(location(&deleted), "/");
            let login = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(serde_json::json!({"username": "alice", "password": TEST_PASSWORD})),
                )
                .await;
            assert_eq!(login.status, 401, "the account is gone");
        })
        .await;
    }
}
