//! Instance-wide moderation under `/admin`: bans from every community of the instance, and
//! purging a thread or an answer for good.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::{ApiJson, ApiPath};
use crate::context::AppContext;
use crate::error::{AppResult, ErrorBody};
use crate::service::instance_moderation::{self as service, InstanceBanView};
use crate::service::moderation::Content;

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(list_bans))
        .routes(routes!(ban, unban))
        .routes(routes!(purge_thread))
        .routes(routes!(purge_answer))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceBanRequest {
    pub reason: String,
    /// When the ban ends (RFC 3339); none: until lifted.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    /// Also remove everything the person wrote here (each removal is logged and can be
    /// restored from the moderation page).
    #[serde(default)]
    pub remove_content: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstanceBanJson {
    pub person: String,
    pub reason: String,
    pub expires: Option<NaiveDateTime>,
    pub banned_by: Option<String>,
    pub published: NaiveDateTime,
}

impl From<InstanceBanView> for InstanceBanJson {
    fn from(v: InstanceBanView) -> Self {
        InstanceBanJson {
            person: v.person,
            reason: v.ban.reason,
            expires: v.ban.expires_at,
            banned_by: v.banned_by,
            published: v.ban.published,
        }
    }
}

/// People banned from the whole instance, newest first (staff).
#[utoipa::path(get, path = "/admin/bans", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = Vec<InstanceBanJson>),
        (status = 403, description = "Not staff", body = ErrorBody),
    ))]
async fn list_bans(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
) -> AppResult<Json<Vec<InstanceBanJson>>> {
    let found = service::bans(&ctx.db, &ctx.settings, &session).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

/// Ban a person (`name` here, `name@domain` elsewhere) from every community of this
/// instance: no new threads, answers or votes anywhere here until the ban ends.
#[utoipa::path(put, path = "/admin/bans/{person}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("person" = String, Path)), request_body = InstanceBanRequest,
    responses(
        (status = 200, body = InstanceBanJson),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 409, description = "Yourself", body = ErrorBody),
        (status = 422, description = "Missing reason, or an expiry in the past", body = ErrorBody),
    ))]
async fn ban(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(person): ApiPath<String>,
    ApiJson(req): ApiJson<InstanceBanRequest>,
) -> AppResult<Json<InstanceBanJson>> {
    let view = service::ban(
        &ctx.db,
        &ctx.settings,
        &session,
        &person,
        &req.reason,
        req.expires.map(|t| t.naive_utc()),
        req.remove_content,
    )
    .await?;
    Ok(Json(view.into()))
}

/// Lift an instance ban.
#[utoipa::path(delete, path = "/admin/bans/{person}", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("person" = String, Path)),
    responses(
        (status = 204, description = "Lifted"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "Not banned", body = ErrorBody),
    ))]
async fn unban(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(person): ApiPath<String>,
) -> AppResult<StatusCode> {
    service::unban(&ctx.db, &ctx.settings, &session, &person).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Why; kept in the mod log with the thread's title.
    pub reason: String,
}

/// Delete a thread for good, with its answers: nothing is kept to restore.
#[utoipa::path(post, path = "/admin/threads/{id}/purge", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)), request_body = PurgeRequest,
    responses(
        (status = 204, description = "Purged"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Missing reason", body = ErrorBody),
    ))]
async fn purge_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<PurgeRequest>,
) -> AppResult<StatusCode> {
    service::purge(
        &ctx.db,
        &ctx.settings,
        &session,
        Content::Thread(id),
        &req.reason,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete an answer for good, with its replies.
#[utoipa::path(post, path = "/admin/answers/{id}/purge", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)), request_body = PurgeRequest,
    responses(
        (status = 204, description = "Purged"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Missing reason", body = ErrorBody),
    ))]
async fn purge_answer(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<PurgeRequest>,
) -> AppResult<StatusCode> {
    service::purge(
        &ctx.db,
        &ctx.settings,
        &session,
        Content::Answer(id),
        &req.reason,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::db::types::AccountRole;
    use crate::testing::{TestApi, for_each_backend, test_settings};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admins_ban_from_every_community_and_purge_for_good() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("root", AccountRole::Admin).await;
            api.create_user("ann", AccountRole::Member).await;
            api.create_user("spammer", AccountRole::Member).await;
            let root = api.login("root").await;
            let ann = api.login("ann").await;
            let spammer = api.login("spammer").await;
            for name in ["rust", "go"] {
                api.call(
                    "POST",
                    "/api/v1/communities",
                    Some(&ann),
                    Some(json!({"name": name, "title": name, "kind": "qa"})),
                )
                .await;
            }
            let spam = api
                .call(
                    "POST",
                    "/api/v1/communities/rust/threads",
                    Some(&spammer),
                    Some(json!({"title": "Cheap watches", "body": "Buy now"})),
                )
                .await;
            let spam_id = spam.body["id"].as_i64().expect("thread");

            let by_member = api
                .call(
                    "PUT",
                    "/api/v1/admin/bans/spammer",
                    Some(&ann),
                    Some(json!({"reason": "spam"})),
                )
                .await;
            assert_eq!(by_member.status, 403);
            let no_reason = api
                .call(
                    "PUT",
                    "/api/v1/admin/bans/spammer",
                    Some(&root),
                    Some(json!({"reason": " "})),
                )
                .await;
            assert_eq!(no_reason.status, 422);
            let banned = api
                .call(
                    "PUT",
                    "/api/v1/admin/bans/spammer",
                    Some(&root),
                    Some(json!({"reason": "Spam everywhere", "remove_content": true})),
                )
                .await;
            assert_eq!(banned.status, 200, "{:?}", banned.body);
            assert_eq!(banned.body["person"], "spammer");

            // Refused in every community, the message says from where and why.
            for name in ["rust", "go"] {
                let refused = api
                    .call(
                        "POST",
                        &format!("/api/v1/communities/{name}/threads"),
                        Some(&spammer),
                        Some(json!({"title": "More", "body": "watches"})),
                    )
                    .await;
                assert_eq!((refused.status.as_u16(), refused.code()), (403, "banned"));
                assert!(
                    refused.body["error"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("this instance")
                );
            }
            // Their thread is removed (text withheld), and the ban is listed.
            let removed = api
                .call(
                    "GET",
                    &format!("/api/v1/threads/{spam_id}"),
                    Some(&ann),
                    None,
                )
                .await;
            assert_eq!(removed.body["removed"], true, "{:?}", removed.body);
            let listed = api
                .call("GET", "/api/v1/admin/bans", Some(&root), None)
                .await;
            assert_eq!(listed.body[0]["reason"], "Spam everywhere");

            let lifted = api
                .call("DELETE", "/api/v1/admin/bans/spammer", Some(&root), None)
                .await;
            assert_eq!(lifted.status, 204);
            let again = api
                .call("DELETE", "/api/v1/admin/bans/spammer", Some(&root), None)
                .await;
            assert_eq!(
                (again.status.as_u16(), again.code()),
                (404, "ban_not_found")
            );
            let allowed = api
                .call(
                    "POST",
                    "/api/v1/communities/go/threads",
                    Some(&spammer),
                    Some(json!({"title": "Sorry", "body": "A real question"})),
                )
                .await;
            assert_eq!(allowed.status, 201);

            // A purge deletes for good; the log keeps the title and reason.
            let by_moderator = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/threads/{spam_id}/purge"),
                    Some(&ann),
                    Some(json!({"reason": "x"})),
                )
                .await;
            assert_eq!(by_moderator.status, 403);
            let purged = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/threads/{spam_id}/purge"),
                    Some(&root),
                    Some(json!({"reason": "Illegal content"})),
                )
                .await;
            assert_eq!(purged.status, 204, "{:?}", purged.body);
            let gone = api
                .call(
                    "GET",
                    &format!("/api/v1/threads/{spam_id}"),
                    Some(&root),
                    None,
                )
                .await;
            assert_eq!(gone.status, 404);
            let twice = api
                .call(
                    "POST",
                    &format!("/api/v1/admin/threads/{spam_id}/purge"),
                    Some(&root),
                    Some(json!({"reason": "Illegal content"})),
                )
                .await;
            assert_eq!(
                (twice.status.as_u16(), twice.code()),
                (404, "thread_not_found")
            );
            let log = api
                .call("GET", "/api/v1/modlog?community=rust", Some(&root), None)
                .await;
            let entry = &log.body["entries"][0];
            assert_eq!(entry["action"], "purge_thread", "{:?}", log.body);
            assert!(
                entry["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Cheap watches")
            );
        })
        .await;
    }
}
