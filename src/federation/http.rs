//! Federation endpoints: WebFinger, NodeInfo, the instance actor, and the object URLs
//! (`/c/`, `/u/`, `/t/`, `/r/`) with content negotiation between ActivityPub JSON and HTML.

use axum::Router;
use axum::extract::{Extension, Query, State};

use super::signed_fetch::Requester;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::protocol::WithContext;
use super::protocol::actors::{self as actor_json};
use super::{ACTIVITY_JSON, convert};
use crate::api::ApiPath;
use crate::context::AppContext;
use crate::db::types::{ActorKind, Visibility};
use crate::db::{
    actor_name, community, community_moderator, instance, local_account, person, stats,
};
use crate::error::{AppError, AppResult};
use crate::settings::RegistrationMode;

pub fn routes(ctx: &AppContext) -> Router<AppContext> {
    let objects = Router::new()
        .route("/c/{name}", get(community_actor))
        .route("/c/{name}/followers", get(community_followers))
        .route("/c/{name}/moderators", get(community_moderators))
        .route("/c/{name}/featured", get(community_featured))
        .route("/u/{name}", get(person_actor))
        .route("/t/{id}", get(thread_object))
        .route("/t/{id}/context", get(thread_context))
        .route("/t/{id}/replies", get(thread_replies))
        .route("/r/{id}", get(answer_object))
        .route("/r/{id}/replies", get(answer_replies))
        .route_layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            super::signed_fetch::require_signature,
        ));
    // Per address outside, so a refused flood does not spend any instance's budget.
    let inboxes = Router::new()
        .route("/inbox", post(super::inbox::post_inbox))
        .route("/c/{name}/inbox", post(super::inbox::post_inbox))
        .route("/u/{name}/inbox", post(super::inbox::post_inbox))
        .route_layer(crate::api::rate_limit::inbox_instance_limit(&ctx.settings))
        .route_layer(crate::api::rate_limit::inbox_address_limit(&ctx.settings));
    Router::new()
        .merge(objects)
        .merge(inboxes)
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.0", get(nodeinfo_20))
        .route("/nodeinfo/2.0.json", get(nodeinfo_20))
        .route("/nodeinfo/2.1", get(nodeinfo_21))
        .route("/nodeinfo/2.1.json", get(nodeinfo_21))
        .route("/actor", get(instance_actor))
}

/// True when the client asked for ActivityPub JSON (`application/activity+json` or
/// `application/ld+json`, with any parameters, anywhere in the list).
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|part| {
            part.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .any(|media| media == "application/activity+json" || media == "application/ld+json")
}

/// ActivityPub JSON with its media type.
pub fn activity_json(status: StatusCode, value: impl serde::Serialize) -> Response {
    let mut response = (status, axum::Json(value)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ACTIVITY_JSON),
    );
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn json_with_type(value: serde_json::Value, content_type: &'static str) -> Response {
    let mut response = axum::Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn url(ctx: &AppContext, path: &str) -> AppResult<Url> {
    Url::parse(&format!("{}{path}", ctx.public_url())).map_err(AppError::internal)
}

#[derive(Debug, Deserialize)]
struct WebfingerQuery {
    resource: Option<String>,
}

/// `acct:name@domain` for local persons, communities and the instance actor.
async fn webfinger(
    State(ctx): State<AppContext>,
    Query(query): Query<WebfingerQuery>,
) -> AppResult<Response> {
    let resource = query.resource.unwrap_or_default();
    let account = resource
        .trim()
        .strip_prefix("acct:")
        .unwrap_or(resource.trim());
    let (name, domain) = account
        .trim_start_matches(['@', '!'])
        .rsplit_once('@')
        .ok_or_else(|| {
            AppError::bad_request("invalid_resource", "resource must be acct:name@domain")
        })?;
    let domain = domain.to_ascii_lowercase();
    if domain != ctx.settings.domain {
        return Err(AppError::not_found(
            "unknown_domain",
            format!("this server is {}, not {domain}", ctx.settings.domain),
        ));
    }
    let name = name.to_ascii_lowercase();
    let base = ctx.public_url();
    let (href, kind) = if name == domain {
        (format!("{base}/actor"), "Application")
    } else {
        let found = crate::with_conn!(&ctx.db, |conn| {
            let kind = actor_name::kind_of(&mut conn, &name).await?;
            let visible = match kind {
                Some(ActorKind::Person) => local_account::read_by_name(&mut conn, &name)
                    .await
                    .map(|(_, p)| {
                        if p.deleted {
                            None
                        } else {
                            Some(ActorKind::Person)
                        }
                    })
                    .or_else(|e| match e {
                        // A deleted account keeps its name reserved but has no account row.
                        diesel::result::Error::NotFound => Ok(None),
                        other => Err(other),
                    })?,
                Some(ActorKind::Community) => community::read_by_name(&mut conn, &name, &domain)
                    .await?
                    .filter(|c| c.visibility != Visibility::Internal)
                    .map(|_| ActorKind::Community),
                None => None,
            };
            Ok::<_, AppError>((kind, visible))
        })?;
        match found {
            (_, Some(ActorKind::Person)) => (format!("{base}/u/{name}"), "Person"),
            (_, Some(ActorKind::Community)) => (format!("{base}/c/{name}"), "Group"),
            (Some(ActorKind::Person), None) => {
                return Err(AppError::new(
                    crate::error::ErrorKind::Gone,
                    "gone",
                    format!("{name}@{domain} was deleted"),
                ));
            }
            _ => {
                return Err(AppError::not_found(
                    "unknown_account",
                    format!("nobody is called {name}@{domain} here"),
                ));
            }
        }
    };
    Ok(json_with_type(
        json!({
            "subject": format!("acct:{name}@{domain}"),
            "aliases": [href],
            "links": [
                {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": href},
                {"rel": "self", "type": ACTIVITY_JSON, "href": href,
                 "properties": {"https://www.w3.org/ns/activitystreams#type": kind}}
            ]
        }),
        "application/jrd+json",
    ))
}

async fn nodeinfo_links(State(ctx): State<AppContext>) -> Response {
    let base = ctx.public_url();
    axum::Json(json!({
        "links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{base}/nodeinfo/2.1")},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0")},
            {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": format!("{base}/actor")}
        ]
    }))
    .into_response()
}

/// NodeInfo must always answer 200, or Lemmy marks the instance dead: usage numbers that
/// cannot be read are left out rather than failing the document.
async fn nodeinfo(ctx: &AppContext, version: &str) -> Response {
    let usage = match stats::local_usage(&ctx.db).await {
        Ok(u) => json!({
            "users": {"total": u.users, "activeHalfyear": u.active_half_year, "activeMonth": u.active_month},
            "localPosts": u.local_threads,
            "localComments": u.local_answers
        }),
        Err(err) => {
            tracing::warn!(error = %err, "NodeInfo usage unavailable");
            json!({"users": {}})
        }
    };
    let software = json!({"name": crate::SOFTWARE_NAME, "version": crate::VERSION});
    let schema = format!("http://nodeinfo.diaspora.software/ns/schema/{version}#");
    let mut response = axum::Json(json!({
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": ctx.settings.registration.mode == RegistrationMode::Open,
        "usage": usage,
        "metadata": {
            "nodeName": ctx.settings.domain,
            "registrationMode": ctx.settings.registration.mode
        }
    }))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("application/json; profile=\"{schema}\"")) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

async fn nodeinfo_20(State(ctx): State<AppContext>) -> Response {
    nodeinfo(&ctx, "2.0").await
}

async fn nodeinfo_21(State(ctx): State<AppContext>) -> Response {
    nodeinfo(&ctx, "2.1").await
}

/// The instance actor (`Application`), always JSON: it has no page of its own.
async fn instance_actor(State(ctx): State<AppContext>) -> AppResult<Response> {
    let local = crate::with_conn!(&ctx.db, |conn| instance::read_local(&mut conn)
        .await
        .map_err(AppError::from))?;
    let id = url(&ctx, "/actor")?;
    let public_key = local
        .public_key_pem
        .as_deref()
        .ok_or_else(|| AppError::internal("the instance actor has no key"))?;
    let actor = actor_json::Instance {
        kind: actor_json::ApplicationType::Application,
        preferred_username: ctx.settings.domain.clone(),
        name: ctx.settings.domain.clone(),
        summary: None,
        inbox: url(&ctx, "/inbox")?,
        outbox: url(&ctx, "/actor/outbox")?,
        endpoints: Some(super::protocol::Endpoints {
            shared_inbox: Some(url(&ctx, "/inbox")?),
        }),
        public_key: super::protocol::PublicKey::main_key(&id, public_key),
        manually_approves_followers: false,
        url: Some(url(&ctx, "/")?),
        published: Some(local.created_at.and_utc()),
        id,
    };
    Ok(activity_json(StatusCode::OK, WithContext::new(actor)))
}

fn not_found(what: &str) -> AppError {
    AppError::not_found("not_found", format!("no {what} here"))
}

async fn community_actor(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(name): ApiPath<String>,
) -> AppResult<Response> {
    if !wants_activity_json(&headers) {
        return Ok(crate::web::community_page(&ctx, &headers, &uri, &name).await);
    }
    let found = convert::federated_community(&ctx, &name, &requester).await?;
    let group = convert::group(&ctx.settings, &found)?;
    Ok(activity_json(StatusCode::OK, WithContext::new(group)))
}

/// Lemmy reads only `totalItems` of a followers collection.
async fn community_followers(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    ApiPath(name): ApiPath<String>,
) -> AppResult<Response> {
    let found = convert::federated_community(&ctx, &name, &requester).await?;
    let counts = crate::with_conn!(&ctx.db, |conn| community::member_counts(
        &mut conn,
        &[found.id]
    )
    .await
    .map_err(AppError::from))?;
    let total = counts.first().map_or(0, |(_, n)| *n);
    Ok(activity_json(
        StatusCode::OK,
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "Collection",
            "id": format!("{}/followers", found.ap_id),
            "totalItems": total,
            "items": []
        }),
    ))
}

/// The moderators as an `OrderedCollection` of actor ids (FEP-1b12, what Lemmy parses).
async fn community_moderators(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    ApiPath(name): ApiPath<String>,
) -> AppResult<Response> {
    let found = convert::federated_community(&ctx, &name, &requester).await?;
    let people = crate::with_conn!(&ctx.db, |conn| community_moderator::list(
        &mut conn, found.id
    )
    .await
    .map_err(AppError::from))?;
    let ids: Vec<&str> = people.iter().map(|p| p.ap_id.as_str()).collect();
    Ok(activity_json(
        StatusCode::OK,
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "OrderedCollection",
            "id": format!("{}/moderators", found.ap_id),
            "totalItems": ids.len(),
            "orderedItems": ids
        }),
    ))
}

/// Pinned threads, as embedded `Page`s (spec §6.6: what Lemmy parses), newest first.
async fn community_featured(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    ApiPath(name): ApiPath<String>,
) -> AppResult<Response> {
    let found = convert::federated_community(&ctx, &name, &requester).await?;
    let pages = crate::with_conn!(&ctx.db, |conn| {
        let mut pages = Vec::new();
        for pinned in crate::db::thread::pinned_in(&mut conn, found.id).await? {
            pages.push(convert::thread_object(&mut conn, &ctx.settings, &pinned).await?);
        }
        Ok::<_, AppError>(pages)
    })?;
    Ok(activity_json(
        StatusCode::OK,
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "OrderedCollection",
            "id": format!("{}/featured", found.ap_id),
            "totalItems": pages.len(),
            "orderedItems": pages
        }),
    ))
}

async fn person_actor(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(name): ApiPath<String>,
) -> AppResult<Response> {
    if !wants_activity_json(&headers) {
        return Ok(crate::web::person_page(&ctx, &headers, &uri, &name).await);
    }
    let name = name.to_ascii_lowercase();
    let found = crate::with_conn!(&ctx.db, |conn| {
        match local_account::read_by_name(&mut conn, &name).await {
            Ok((_, p)) => Ok(Some(p)),
            Err(diesel::result::Error::NotFound) => {
                // A deleted account keeps its person row (for its content) without an account.
                Ok(person::read_local_by_name(&mut conn, &name).await?)
            }
            Err(e) => Err(AppError::from(e)),
        }
    })?
    .ok_or_else(|| not_found("person"))?;
    if found.deleted {
        return Ok(activity_json(
            StatusCode::GONE,
            WithContext::new(convert::tombstone(&found.ap_id, "Person", found.updated)?),
        ));
    }
    Ok(activity_json(
        StatusCode::OK,
        WithContext::new(convert::person(&ctx, &found)?),
    ))
}

async fn thread_object(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    if !wants_activity_json(&headers) {
        return Ok(crate::web::thread_page(&ctx, &headers, &uri, id).await);
    }
    let (status, value) = convert::thread_json(&ctx, id, &requester).await?;
    Ok(activity_json(status, value))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<u32>,
}

/// The thread as a conversation (FEP-7888/f228): the Page first, then every live answer,
/// oldest first; paged by 100 as NodeBB does.
async fn thread_context(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    ApiPath(id): ApiPath<i64>,
    Query(query): Query<PageQuery>,
) -> AppResult<Response> {
    let conversation = convert::conversation(&ctx, id, &requester).await?;
    let mut items = vec![conversation.thread_ap_id.clone()];
    items.extend(conversation.answers.iter().map(|a| a.ap_id.clone()));
    let id = format!("{}/context", conversation.thread_ap_id);
    let mut collection = convert::ordered_collection(&id, &items, query.page)?;
    if query.page.is_none() {
        collection["name"] = json!(conversation.title);
        collection["url"] = json!(conversation.thread_ap_id);
        collection["attributedTo"] = json!(conversation.group_ap_id);
        collection["audience"] = json!(conversation.group_ap_id);
        collection["orderType"] = json!("ForwardChronological");
    }
    Ok(activity_json(StatusCode::OK, collection))
}

/// Direct answers to the thread.
async fn thread_replies(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    ApiPath(id): ApiPath<i64>,
    Query(query): Query<PageQuery>,
) -> AppResult<Response> {
    let conversation = convert::conversation(&ctx, id, &requester).await?;
    let items: Vec<String> = conversation
        .answers
        .iter()
        .filter(|a| a.parent_id.is_none())
        .map(|a| a.ap_id.clone())
        .collect();
    let id = format!("{}/replies", conversation.thread_ap_id);
    Ok(activity_json(
        StatusCode::OK,
        convert::ordered_collection(&id, &items, query.page)?,
    ))
}

/// Direct replies to an answer.
async fn answer_replies(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    ApiPath(id): ApiPath<i64>,
    Query(query): Query<PageQuery>,
) -> AppResult<Response> {
    let thread_id = crate::with_conn!(&ctx.db, |conn| crate::db::answer::read(&mut conn, id)
        .await
        .map_err(|e| match e {
            diesel::result::Error::NotFound => not_found("answer"),
            other => AppError::from(other),
        }))?
    .thread_id;
    let conversation = convert::conversation(&ctx, thread_id, &requester).await?;
    let parent = conversation
        .answers
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| not_found("answer"))?;
    let items: Vec<String> = conversation
        .answers
        .iter()
        .filter(|a| a.parent_id == Some(id))
        .map(|a| a.ap_id.clone())
        .collect();
    let id = format!("{}/replies", parent.ap_id);
    Ok(activity_json(
        StatusCode::OK,
        convert::ordered_collection(&id, &items, query.page)?,
    ))
}

async fn answer_object(
    State(ctx): State<AppContext>,
    Extension(requester): Extension<Requester>,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    if !wants_activity_json(&headers) {
        return Ok(crate::web::answer_page(&ctx, &headers, &uri, id).await);
    }
    let (status, value) = convert::answer_json(&ctx, id, &requester).await?;
    Ok(activity_json(status, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::AccountRole;
    use crate::federation::protocol::actors::{Group, Instance, Person};
    use crate::federation::protocol::objects::{Note, Page};
    use crate::testing::{TestApi, TestResponse, for_each_backend, test_settings};
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::{Value, json};

    const MASTODON_ACCEPT: &str = "application/activity+json, application/ld+json";

    async fn get(api: &TestApi, path: &str, accept: &str) -> TestResponse {
        api.send(
            Request::get(path)
                .header("accept", accept)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    /// Moderators pin a thread (logged, shown in the thread view) and the community's
    /// featured collection embeds it as a Page; others may not; unpinning empties it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pinned_threads_are_the_featured_collection() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let (thread, _, _) = forum(&api).await;
            let alice = api.login("alice").await;
            let bob = api.login("bob").await;
            let pin = format!("/api/v1/threads/{thread}/pin");
            let refused = api.call("POST", &pin, Some(&bob), None).await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (403, "moderator_required")
            );
            let missing = api
                .call("POST", "/api/v1/threads/999999/pin", Some(&alice), None)
                .await;
            assert_eq!(missing.status.as_u16(), 404, "{:?}", missing.body);
            let anonymous = api.call("POST", &pin, None, None).await;
            assert_eq!(anonymous.status.as_u16(), 401);
            let pinned = api.call("POST", &pin, Some(&alice), None).await;
            assert_eq!(pinned.body["pinned"], true, "{:?}", pinned.body);
            let again = api.call("POST", &pin, Some(&alice), None).await;
            assert_eq!(again.body["pinned"], true, "pinning twice changes nothing");
            let featured = get(&api, "/c/rust/featured", MASTODON_ACCEPT).await;
            assert_eq!(featured.body["totalItems"], 1, "{:?}", featured.body);
            assert_eq!(featured.body["orderedItems"][0]["type"], "Page");
            assert_eq!(
                featured.body["orderedItems"][0]["name"],
                "How do I share a pool?"
            );
            let log = api
                .call("GET", "/api/v1/modlog?community=rust", None, None)
                .await;
            assert_eq!(
                log.body["entries"][0]["action"], "pin_thread",
                "{:?}",
                log.body
            );
            assert_eq!(log.body["entries"].as_array().map(Vec::len), Some(1));
            let unpinned = api.call("DELETE", &pin, Some(&alice), None).await;
            assert_eq!(unpinned.body["pinned"], false);
            let featured = get(&api, "/c/rust/featured", MASTODON_ACCEPT).await;
            assert_eq!(featured.body["totalItems"], 0, "{:?}", featured.body);
        })
        .await;
    }

    /// A Q&A community `rust` with a tagged question, an answer and a reply.
    async fn forum(api: &TestApi) -> (i64, i64, i64) {
        api.create_user("alice", AccountRole::Member).await;
        api.create_user("bob", AccountRole::Member).await;
        let alice = api.login("alice").await;
        let bob = api.login("bob").await;
        api.call(
            "POST",
            "/api/v1/communities",
            Some(&alice),
            Some(json!({
                "name": "rust", "title": "Rust help", "kind": "qa", "description": "Ask **here**."
            })),
        )
        .await;
        let thread = api
            .call("POST", "/api/v1/communities/rust/threads", Some(&alice), Some(json!({
                "title": "How do I share a pool?", "body": "Asking @bob@localhost:8541", "tags": ["axum"]
            })))
            .await;
        let thread = thread.body["id"].as_i64().expect("thread");
        let answer = api
            .call(
                "POST",
                &format!("/api/v1/threads/{thread}/answers"),
                Some(&bob),
                Some(json!({"body": "Use `Arc`."})),
            )
            .await;
        let answer = answer.body["id"].as_i64().expect("answer");
        let reply = api
            .call(
                "POST",
                &format!("/api/v1/threads/{thread}/answers"),
                Some(&alice),
                Some(json!({"body": "Thanks!", "parent_id": answer})),
            )
            .await;
        (thread, answer, reply.body["id"].as_i64().expect("reply"))
    }

    #[test]
    fn activity_json_is_recognized_in_any_accept_form() {
        let accepts = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_str(value).expect("header"),
            );
            wants_activity_json(&headers)
        };
        assert!(accepts("application/activity+json"));
        assert!(accepts(MASTODON_ACCEPT));
        assert!(accepts(
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""
        ));
        assert!(accepts("text/html;q=0.9, Application/Activity+JSON"));
        assert!(!accepts("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(!accepts("application/json"));
        assert!(!wants_activity_json(&HeaderMap::new()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_person_page_and_note_have_the_fields_lemmy_requires() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let (thread, answer, reply) = forum(&api).await;
            let base = "http://localhost:8541";

            let group = get(&api, "/c/rust", MASTODON_ACCEPT).await;
            assert_eq!(group.status, 200, "{:?}", group.body);
            assert_eq!(group.headers["content-type"], ACTIVITY_JSON);
            let g = &group.body;
            assert_eq!(g["type"], "Group");
            assert_eq!(g["id"], format!("{base}/c/rust"));
            assert_eq!(g["preferredUsername"], "rust");
            assert_eq!(g["name"], "Rust help");
            assert_eq!(g["inbox"], format!("{base}/c/rust/inbox"));
            assert_eq!(g["outbox"], format!("{base}/c/rust/outbox"));
            assert_eq!(g["attributedTo"], format!("{base}/c/rust/moderators"), "a single URL");
            assert_eq!(g["endpoints"]["sharedInbox"], format!("{base}/inbox"));
            assert_eq!(g["publicKey"]["id"], format!("{base}/c/rust#main-key"));
            assert_eq!(g["publicKey"]["owner"], format!("{base}/c/rust"));
            assert!(g["publicKey"]["publicKeyPem"].as_str().expect("pem").contains("BEGIN PUBLIC KEY"));
            assert_eq!(g["mediaType"], "text/html");
            assert_eq!(g["source"]["mediaType"], "text/markdown");
            assert!(g["summary"].as_str().expect("summary").contains("<strong>here</strong>"));
            assert_eq!(g["questionAnswer"], true);
            assert!(g["language"].is_array(), "Lemmy reads a list of language objects");
            assert!(g["@context"].is_array());
            serde_json::from_value::<Group>(group.body.clone()).expect("our Group parses as we read others");

            let person = get(&api, "/u/bob", "application/activity+json").await;
            assert_eq!(person.body["type"], "Person");
            assert_eq!(person.body["preferredUsername"], "bob");
            assert_eq!(person.body["outbox"], format!("{base}/u/bob/outbox"));
            serde_json::from_value::<Person>(person.body.clone()).expect("parses");

            let page = get(&api, &format!("/t/{thread}"), MASTODON_ACCEPT).await;
            assert_eq!(page.status, 200, "{:?}", page.body);
            let p = &page.body;
            assert_eq!(p["type"], "Page");
            assert_eq!(p["attributedTo"], format!("{base}/u/alice"), "a single string");
            assert_eq!(p["to"], json!([format!("{base}/c/rust"), crate::federation::PUBLIC]));
            assert_eq!(p["audience"], format!("{base}/c/rust"));
            assert_eq!(p["name"], "How do I share a pool?");
            assert_eq!(p["mediaType"], "text/html");
            assert_eq!(p["source"]["content"], "Asking @bob@localhost:8541");
            assert!(p.get("inReplyTo").is_none(), "Lemmy refuses a Page with inReplyTo");
            assert!(p["context"].is_string(), "Lemmy reads context as a string");
            assert!(p["language"].is_object(), "Lemmy reads one language object on a Page");
            let tags = p["tag"].as_array().expect("tags");
            assert!(tags.contains(&json!({"type": "Hashtag", "href": format!("{base}/tags/axum"), "name": "#axum"})));
            assert!(tags.contains(&json!({"type": "Mention", "href": format!("{base}/c/rust"), "name": "@rust@localhost:8541"})));
            assert!(tags.contains(&json!({"type": "Mention", "href": format!("{base}/u/bob"), "name": "@bob@localhost:8541"})));
            serde_json::from_value::<Page>(page.body.clone()).expect("parses");

            let note = get(&api, &format!("/r/{answer}"), MASTODON_ACCEPT).await;
            let n = &note.body;
            assert_eq!(n["type"], "Note");
            assert_eq!(n["attributedTo"], format!("{base}/u/bob"));
            assert_eq!(n["inReplyTo"], format!("{base}/t/{thread}"));
            assert_eq!(n["context"], format!("{base}/t/{thread}/context"), "answers share the thread's context");
            assert_eq!(n["to"], json!([crate::federation::PUBLIC]));
            assert_eq!(n["cc"], json!([format!("{base}/c/rust")]));
            assert_eq!(n["answer"], false);
            assert!(n["content"].as_str().expect("content").contains("<code>Arc</code>"));
            serde_json::from_value::<Note>(note.body.clone()).expect("parses");
            let nested = get(&api, &format!("/r/{reply}"), MASTODON_ACCEPT).await;
            assert_eq!(nested.body["inReplyTo"], format!("{base}/r/{answer}"));

            let actor = get(&api, "/actor", "application/activity+json").await;
            assert_eq!(actor.body["type"], "Application");
            assert_eq!(actor.body["preferredUsername"], "localhost:8541");
            serde_json::from_value::<Instance>(actor.body.clone()).expect("parses");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browsers_get_pages_and_servers_get_json() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let (thread, answer, _) = forum(&api).await;
            let browser = "text/html,application/xhtml+xml,*/*;q=0.8";
            for path in [
                "/c/rust".to_owned(),
                "/u/alice".to_owned(),
                format!("/t/{thread}"),
            ] {
                let page = get(&api, &path, browser).await;
                assert_eq!(page.status, 200, "{path}");
                assert!(
                    page.headers["content-type"]
                        .to_str()
                        .expect("ascii")
                        .starts_with("text/html"),
                    "{path}"
                );
                assert!(
                    page.headers["vary"]
                        .to_str()
                        .expect("ascii")
                        .contains("Accept"),
                    "{path}"
                );
            }
            let thread_page = get(&api, &format!("/t/{thread}"), browser).await;
            let html = thread_page.body.as_str().expect("html");
            assert!(
                html.contains("How do I share a pool?") && html.contains("<code>Arc</code>"),
                "{html}"
            );
            let answer_page = get(&api, &format!("/r/{answer}"), browser).await;
            assert_eq!(answer_page.status, 303);
            assert_eq!(
                answer_page.headers["location"],
                format!("/t/{thread}#r{answer}")
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleted_objects_are_tombstones_and_internal_ones_do_not_exist() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let (thread, answer, _) = forum(&api).await;
            let bob = api.login("bob").await;
            api.call(
                "DELETE",
                &format!("/api/v1/answers/{answer}"),
                Some(&bob),
                None,
            )
            .await;
            let gone = get(&api, &format!("/r/{answer}"), MASTODON_ACCEPT).await;
            assert_eq!(gone.status, 410);
            assert_eq!(gone.body["type"], "Tombstone");
            assert_eq!(gone.body["formerType"], "Note");
            assert_eq!(
                get(&api, &format!("/t/{thread}"), MASTODON_ACCEPT)
                    .await
                    .status,
                200
            );

            let alice = api.login("alice").await;
            api.call(
                "POST",
                "/api/v1/communities",
                Some(&alice),
                Some(json!({
                    "name": "staff", "title": "Staff", "kind": "qa", "visibility": "internal"
                })),
            )
            .await;
            let secret = api
                .call(
                    "POST",
                    "/api/v1/communities/staff/threads",
                    Some(&alice),
                    Some(json!({"title": "Salaries"})),
                )
                .await;
            let secret = secret.body["id"].as_i64().expect("id");
            assert_eq!(get(&api, "/c/staff", MASTODON_ACCEPT).await.status, 404);
            assert_eq!(
                get(&api, "/c/staff/followers", MASTODON_ACCEPT)
                    .await
                    .status,
                404
            );
            assert_eq!(
                get(&api, &format!("/t/{secret}"), MASTODON_ACCEPT)
                    .await
                    .status,
                404
            );
            assert_eq!(get(&api, "/c/nothing", MASTODON_ACCEPT).await.status, 404);
            assert_eq!(get(&api, "/t/999999", MASTODON_ACCEPT).await.status, 404);

            let followers = get(&api, "/c/rust/followers", MASTODON_ACCEPT).await;
            assert_eq!(followers.body["totalItems"], 1);
            let moderators = get(&api, "/c/rust/moderators", MASTODON_ACCEPT).await;
            assert_eq!(
                moderators.body["orderedItems"],
                json!(["http://localhost:8541/u/alice"])
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn threads_serve_their_context_and_replies_collections() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let (thread, answer, reply) = forum(&api).await;
            let base = "http://localhost:8541";
            let context = get(&api, &format!("/t/{thread}/context"), MASTODON_ACCEPT).await;
            assert_eq!(context.status, 200, "{:?}", context.body);
            let c = &context.body;
            assert_eq!(c["type"], "OrderedCollection");
            assert_eq!(c["id"], format!("{base}/t/{thread}/context"));
            assert_eq!(
                c["attributedTo"],
                format!("{base}/c/rust"),
                "the group owns the conversation"
            );
            assert_eq!(c["orderType"], "ForwardChronological");
            assert_eq!(
                c["orderedItems"],
                json!([
                    format!("{base}/t/{thread}"),
                    format!("{base}/r/{answer}"),
                    format!("{base}/r/{reply}")
                ]),
                "the root post first, then answers oldest first"
            );
            let replies = get(&api, &format!("/t/{thread}/replies"), MASTODON_ACCEPT).await;
            assert_eq!(
                replies.body["orderedItems"],
                json!([format!("{base}/r/{answer}")])
            );
            let nested = get(&api, &format!("/r/{answer}/replies"), MASTODON_ACCEPT).await;
            assert_eq!(
                nested.body["orderedItems"],
                json!([format!("{base}/r/{reply}")])
            );

            let bob = api.login("bob").await;
            api.call(
                "DELETE",
                &format!("/api/v1/answers/{answer}"),
                Some(&bob),
                None,
            )
            .await;
            let context = get(&api, &format!("/t/{thread}/context"), MASTODON_ACCEPT).await;
            assert_eq!(
                context.body["totalItems"], 2,
                "deleted answers leave the conversation"
            );
            assert_eq!(
                get(&api, "/t/999999/context", MASTODON_ACCEPT).await.status,
                404
            );
        })
        .await;
    }

    #[test]
    fn long_collections_are_paged_by_one_hundred() {
        let items: Vec<String> = (0..250)
            .map(|i| format!("https://a.example/r/{i}"))
            .collect();
        let id = "https://a.example/t/1/context";
        let top = convert::ordered_collection(id, &items, None).expect("top");
        assert_eq!(top["totalItems"], 250);
        assert_eq!(top["first"], format!("{id}?page=1"));
        assert!(top.get("orderedItems").is_none());
        let first = convert::ordered_collection(id, &items, Some(1)).expect("page 1");
        assert_eq!(first["type"], "OrderedCollectionPage");
        assert_eq!(first["partOf"], id);
        assert_eq!(first["orderedItems"].as_array().expect("items").len(), 100);
        assert_eq!(first["next"], format!("{id}?page=2"));
        let last = convert::ordered_collection(id, &items, Some(3)).expect("page 3");
        assert_eq!(last["orderedItems"].as_array().expect("items").len(), 50);
        assert!(last.get("next").is_none());
        assert_eq!(last["prev"], format!("{id}?page=2"));
        assert!(convert::ordered_collection(id, &items, Some(4)).is_err());
        assert!(convert::ordered_collection(id, &items, Some(0)).is_err());
        let short = convert::ordered_collection(id, &items[..3], None).expect("short");
        assert_eq!(short["orderedItems"].as_array().expect("inline").len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn webfinger_finds_people_groups_and_the_instance() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            forum(&api).await;
            let finger = |resource: &str| {
                let path = format!("/.well-known/webfinger?resource={resource}");
                let api = &api;
                async move { get(api, &path, "application/jrd+json").await }
            };
            let group = finger("acct:rust@localhost:8541").await;
            assert_eq!(group.status, 200);
            assert_eq!(group.headers["content-type"], "application/jrd+json");
            assert_eq!(group.body["subject"], "acct:rust@localhost:8541");
            let self_link = group.body["links"]
                .as_array()
                .expect("links")
                .iter()
                .find(|l| l["rel"] == "self")
                .expect("self link")
                .clone();
            assert_eq!(self_link["href"], "http://localhost:8541/c/rust");
            assert_eq!(self_link["type"], ACTIVITY_JSON);
            assert_eq!(
                self_link["properties"]["https://www.w3.org/ns/activitystreams#type"],
                "Group"
            );

            let person = finger("acct:Alice@localhost:8541").await;
            assert_eq!(
                person.body["links"][1]["href"], "http://localhost:8541/u/alice",
                "names are case-insensitive"
            );
            let instance = finger("acct:localhost:8541@localhost:8541").await;
            assert_eq!(
                instance.body["links"][1]["href"],
                "http://localhost:8541/actor"
            );

            assert_eq!(finger("acct:nobody@localhost:8541").await.status, 404);
            assert_eq!(finger("acct:alice@elsewhere.example").await.status, 404);
            assert_eq!(finger("nonsense").await.status, 400);
            assert_eq!(get(&api, "/.well-known/webfinger", "*/*").await.status, 400);

            let bob = api.login("bob").await;
            api.call(
                "DELETE",
                "/api/v1/me",
                Some(&bob),
                Some(json!({"password": crate::testing::TEST_PASSWORD, "content": "keep"})),
            )
            .await;
            assert_eq!(finger("acct:bob@localhost:8541").await.status, 410);
            let gone = get(&api, "/u/bob", MASTODON_ACCEPT).await;
            assert_eq!(gone.status, 410);
            assert_eq!(gone.body["type"], "Tombstone");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodeinfo_describes_the_instance() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            forum(&api).await;
            let links = get(&api, "/.well-known/nodeinfo", "application/json").await;
            let rels: Vec<&str> = links.body["links"]
                .as_array()
                .expect("links")
                .iter()
                .map(|l| l["rel"].as_str().expect("rel"))
                .collect();
            assert_eq!(
                rels,
                vec![
                    "http://nodeinfo.diaspora.software/ns/schema/2.1",
                    "http://nodeinfo.diaspora.software/ns/schema/2.0",
                    "https://www.w3.org/ns/activitystreams#Application",
                ]
            );
            for version in ["2.0", "2.1"] {
                let info = get(&api, &format!("/nodeinfo/{version}"), "application/json").await;
                assert_eq!(info.status, 200);
                let b: &Value = &info.body;
                assert_eq!(b["version"], version);
                assert_eq!(b["software"]["name"], "lyceum");
                assert_eq!(b["protocols"], json!(["activitypub"]));
                assert_eq!(b["openRegistrations"], true);
                assert_eq!(b["usage"]["users"]["total"], 2);
                assert_eq!(b["usage"]["users"]["activeMonth"], 2);
                assert_eq!(b["usage"]["localPosts"], 1);
                assert_eq!(b["usage"]["localComments"], 2);
            }
        })
        .await;
    }
}
