//! Moderation API: reports and their queue, removing and restoring threads and answers,
//! community bans, and the mod log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Auth, MaybeAuth};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::context::AppContext;
use crate::db::moderation::Report;
use crate::db::types::{ModAction, ReportStatus};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::service::moderation::{self as service, BanView, Content, LogView, ReportView};

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(create_report, list_reports))
        .routes(routes!(resolve_report))
        .routes(routes!(dismiss_report))
        .routes(routes!(remove_thread))
        .routes(routes!(restore_thread))
        .routes(routes!(remove_answer))
        .routes(routes!(restore_answer))
        .routes(routes!(ban, list_bans))
        .routes(routes!(unban))
        .routes(routes!(mod_log))
}

/// What is reported: exactly one of `thread_id` and `answer_id`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateReport {
    pub thread_id: Option<i64>,
    pub answer_id: Option<i64>,
    /// What is wrong, for the moderators (1 to 1000 characters).
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportJson {
    pub id: i64,
    pub ap_id: String,
    pub thread_id: i64,
    pub answer_id: Option<i64>,
    pub reason: String,
    pub status: ReportStatus,
    pub published: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    /// Present in the moderators' queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<ReportQueueFields>,
}

/// What the queue adds to a report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportQueueFields {
    pub reporter: String,
    pub community: String,
    pub thread_title: String,
    /// Who wrote the reported text.
    pub author: String,
    /// The start of the reported text (Markdown source).
    pub excerpt: String,
    /// Whether the reported thread or answer is removed now.
    pub removed: bool,
}

impl From<Report> for ReportJson {
    fn from(r: Report) -> Self {
        ReportJson {
            id: r.id,
            ap_id: r.ap_id,
            thread_id: r.thread_id,
            answer_id: r.answer_id,
            reason: r.reason,
            status: r.status,
            published: r.published,
            resolved_at: r.resolved_at,
            queue: None,
        }
    }
}

impl From<ReportView> for ReportJson {
    fn from(v: ReportView) -> Self {
        let mut json = ReportJson::from(v.report);
        json.queue = Some(ReportQueueFields {
            reporter: v.reporter,
            community: v.community_handle,
            thread_title: v.thread_title,
            author: v.author,
            excerpt: v.excerpt,
            removed: v.removed,
        });
        json
    }
}

/// Report a thread or an answer to its community's moderators. Reporting the same thing
/// again while the report is open returns the open report.
#[utoipa::path(post, path = "/reports", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    request_body = CreateReport,
    responses(
        (status = 201, body = ReportJson),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "No target, two targets, or a missing or too long reason", body = ErrorBody),
    ))]
async fn create_report(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiJson(req): ApiJson<CreateReport>,
) -> AppResult<(StatusCode, Json<ReportJson>)> {
    let target = match (req.thread_id, req.answer_id) {
        (Some(id), None) => Content::Thread(id),
        (None, Some(id)) => Content::Answer(id),
        _ => {
            return Err(AppError::unprocessable(
                "invalid_target",
                "name exactly one of thread_id and answer_id",
            ));
        }
    };
    let report = service::report(&ctx.db, &ctx.settings, &session, target, &req.reason).await?;
    Ok((StatusCode::CREATED, Json(report.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportsQuery {
    /// `open` (the default), `resolved` or `dismissed`.
    pub status: Option<String>,
}

/// The reports in the communities the caller moderates (every community for admins and
/// instance moderators), newest first, at most 50.
#[utoipa::path(get, path = "/reports", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(ReportsQuery),
    responses(
        (status = 200, body = Vec<ReportJson>),
        (status = 400, description = "Unknown status", body = ErrorBody),
        (status = 403, description = "The caller moderates nothing", body = ErrorBody),
    ))]
async fn list_reports(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiQuery(query): ApiQuery<ReportsQuery>,
) -> AppResult<Json<Vec<ReportJson>>> {
    let status = match query.status.as_deref() {
        None | Some("") => ReportStatus::Open,
        Some(text) => text.parse().map_err(|_| {
            AppError::bad_request(
                "invalid_status",
                format!("status must be open, resolved or dismissed, not `{text}`"),
            )
        })?,
    };
    let found = service::reports(&ctx.db, &session, status).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

/// Close a report as acted on.
#[utoipa::path(post, path = "/reports/{id}/resolve", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ReportJson),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already closed", body = ErrorBody),
    ))]
async fn resolve_report(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ReportJson>> {
    Ok(Json(
        service::close_report(&ctx.db, &session, id, true)
            .await?
            .into(),
    ))
}

/// Close a report as needing nothing.
#[utoipa::path(post, path = "/reports/{id}/dismiss", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ReportJson),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already closed", body = ErrorBody),
    ))]
async fn dismiss_report(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ReportJson>> {
    Ok(Json(
        service::close_report(&ctx.db, &session, id, false)
            .await?
            .into(),
    ))
}

/// An optional reason for a removal or a restore (send `{}` for none).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ModerationReason {
    pub reason: Option<String>,
}

/// The state after a removal or a restore.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RemovalState {
    pub removed: bool,
}

async fn set_removed(
    ctx: &AppContext,
    session: &crate::service::auth::Session,
    target: Content,
    removed: bool,
    reason: Option<String>,
) -> AppResult<Json<RemovalState>> {
    service::set_removed(
        &ctx.db,
        &ctx.settings,
        session,
        target,
        removed,
        reason.as_deref(),
    )
    .await?;
    Ok(Json(RemovalState { removed }))
}

/// Moderators remove a thread: hidden everywhere, kept for a restore; federated as Delete
/// with the reason as `summary`.
#[utoipa::path(post, path = "/threads/{id}/remove", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)), request_body = ModerationReason,
    responses((status = 200, body = RemovalState), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Already removed, or deleted", body = ErrorBody)))]
async fn remove_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ModerationReason>,
) -> AppResult<Json<RemovalState>> {
    set_removed(&ctx, &session, Content::Thread(id), true, req.reason).await
}

/// Moderators restore a removed thread.
#[utoipa::path(post, path = "/threads/{id}/restore", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)), request_body = ModerationReason,
    responses((status = 200, body = RemovalState), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Not removed", body = ErrorBody)))]
async fn restore_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ModerationReason>,
) -> AppResult<Json<RemovalState>> {
    set_removed(&ctx, &session, Content::Thread(id), false, req.reason).await
}

/// Moderators remove an answer (replies below it stay).
#[utoipa::path(post, path = "/answers/{id}/remove", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)), request_body = ModerationReason,
    responses((status = 200, body = RemovalState), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Already removed, or deleted", body = ErrorBody)))]
async fn remove_answer(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ModerationReason>,
) -> AppResult<Json<RemovalState>> {
    set_removed(&ctx, &session, Content::Answer(id), true, req.reason).await
}

/// Moderators restore a removed answer (an accepted answer is accepted again).
#[utoipa::path(post, path = "/answers/{id}/restore", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)), request_body = ModerationReason,
    responses((status = 200, body = RemovalState), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Not removed", body = ErrorBody)))]
async fn restore_answer(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ModerationReason>,
) -> AppResult<Json<RemovalState>> {
    set_removed(&ctx, &session, Content::Answer(id), false, req.reason).await
}

/// A ban from a community.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateBan {
    /// The person: `name` here, `name@domain` elsewhere.
    pub person: String,
    pub reason: String,
    /// When the ban ends (RFC 3339); none: until lifted.
    pub expires: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BanJson {
    pub person: String,
    pub community: String,
    pub reason: String,
    pub expires: Option<NaiveDateTime>,
    pub banned_by: Option<String>,
    pub published: NaiveDateTime,
}

impl From<BanView> for BanJson {
    fn from(v: BanView) -> Self {
        BanJson {
            person: v.person,
            community: v.community_handle,
            reason: v.ban.reason,
            expires: v.ban.expires_at,
            banned_by: v.banned_by,
            published: v.ban.published,
        }
    }
}

/// Moderators ban a person from the community: no new threads, answers or votes there
/// until the ban ends. Federated as `Block` with the community as `target`.
#[utoipa::path(post, path = "/communities/{handle}/bans", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("handle" = String, Path)), request_body = CreateBan,
    responses(
        (status = 201, body = BanJson),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such community or person", body = ErrorBody),
        (status = 409, description = "Yourself, or a moderator", body = ErrorBody),
        (status = 422, description = "Missing reason, or an expiry in the past", body = ErrorBody),
    ))]
async fn ban(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(handle): ApiPath<String>,
    ApiJson(req): ApiJson<CreateBan>,
) -> AppResult<(StatusCode, Json<BanJson>)> {
    let made = service::ban(
        &ctx.db,
        &ctx.settings,
        &session,
        &handle,
        &req.person,
        &req.reason,
        req.expires.map(|t| t.naive_utc()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

/// The bans in force in the community (moderators only).
#[utoipa::path(get, path = "/communities/{handle}/bans", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("handle" = String, Path)),
    responses((status = 200, body = Vec<BanJson>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_bans(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(handle): ApiPath<String>,
) -> AppResult<Json<Vec<BanJson>>> {
    let found = service::bans(&ctx.db, &ctx.settings, &session, Some(&handle)).await?;
    Ok(Json(found.into_iter().map(Into::into).collect()))
}

/// Lift a ban.
#[utoipa::path(delete, path = "/communities/{handle}/bans/{person}", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("handle" = String, Path), ("person" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody),
        (status = 404, description = "No such community or person, or no ban", body = ErrorBody)))]
async fn unban(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath((handle, person)): ApiPath<(String, String)>,
) -> AppResult<StatusCode> {
    service::unban(&ctx.db, &ctx.settings, &session, &handle, &person).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ModLogQuery {
    /// One community's log (`name` or `name@domain`); without it, every community the
    /// caller may see.
    pub community: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModLogEntryJson {
    pub id: i64,
    pub action: ModAction,
    pub moderator: Option<String>,
    pub community: Option<String>,
    /// The person acted on (a post's author, the banned, the new moderator).
    pub person: Option<String>,
    pub thread_id: Option<i64>,
    pub thread_title: Option<String>,
    pub answer_id: Option<i64>,
    pub reason: Option<String>,
    pub expires: Option<NaiveDateTime>,
    pub published: NaiveDateTime,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModLogPage {
    pub entries: Vec<ModLogEntryJson>,
    pub next_before: Option<i64>,
}

impl From<LogView> for ModLogEntryJson {
    fn from(v: LogView) -> Self {
        ModLogEntryJson {
            id: v.entry.id,
            action: v.entry.action,
            moderator: v.moderator,
            community: v.community_handle,
            person: v.person,
            thread_id: v.entry.thread_id,
            thread_title: v.thread_title,
            answer_id: v.entry.answer_id,
            reason: v.entry.reason,
            expires: v.entry.expires_at,
            published: v.entry.published,
        }
    }
}

/// The mod log, newest first, 50 entries a page: every moderator and admin action with
/// actor, target, reason and time. Public for public communities.
#[utoipa::path(get, path = "/modlog", tag = "moderation",
    params(ModLogQuery),
    responses((status = 200, body = ModLogPage), (status = 401, description = "An internal community, anonymously", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn mod_log(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiQuery(query): ApiQuery<ModLogQuery>,
) -> AppResult<Json<ModLogPage>> {
    let (entries, next_before) = service::mod_log(
        &ctx.db,
        &ctx.settings,
        viewer.as_ref(),
        query.community.as_deref(),
        query.before,
    )
    .await?;
    Ok(Json(ModLogPage {
        entries: entries.into_iter().map(Into::into).collect(),
        next_before,
    }))
}

#[cfg(test)]
mod tests {
    use crate::testing::{TestApi, TestResponse, for_each_backend, remote_person, test_settings};
    use serde_json::{Value, json};

    async fn ok(api: &TestApi, method: &str, path: &str, who: Option<&str>, body: Value) -> Value {
        let response = api.call(method, path, who, Some(body)).await;
        assert!(
            response.status.is_success(),
            "{method} {path}: {} {}",
            response.status,
            response.body
        );
        response.body
    }

    fn refusal(response: &TestResponse) -> (u16, &str) {
        (response.status.as_u16(), response.code())
    }

    /// A report from another instance (an inbound `Flag`) joins the moderators' queue like a
    /// member's, its reason made fit to show; the same Flag again files nothing new.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_from_other_instances_join_the_queue() {
        for_each_backend(async |db| {
            let settings = test_settings();
            let api = TestApi::new(db.clone(), settings.clone()).await;
            let ann = api.signed_in_member("ann").await;
            let ann = Some(ann.as_str());
            ok(
                &api,
                "POST",
                "/api/v1/communities",
                ann,
                json!({"name": "rust", "title": "Rust", "kind": "qa"}),
            )
            .await;
            let thread = ok(
                &api,
                "POST",
                "/api/v1/communities/rust/threads",
                ann,
                json!({"title": "Pools in axum", "body": "How?"}),
            )
            .await;
            let thread_id = thread["id"].as_i64().expect("thread id");
            let reporter = remote_person(&db, "other.example", "mallory").await;
            let (group, found) = async {
                crate::with_conn!(&db, |conn| {
                    let group =
                        crate::db::community::read_by_name(&mut conn, "rust", &settings.domain)
                            .await?
                            .expect("rust");
                    let found = crate::db::thread::read(&mut conn, thread_id).await?;
                    Ok::<_, crate::error::AppError>((group, found))
                })
            }
            .await
            .expect("rows");
            let flag = "https://other.example/flag/1";
            let file = || {
                crate::service::moderation::report_from_remote(
                    &db,
                    &settings,
                    &reporter,
                    &group,
                    crate::service::remote::Content::Thread(found.clone()),
                    Some("Off topic\r\nreally"),
                    flag,
                )
            };
            let first = file().await.expect("filed");
            let again = file().await.expect("the same");
            assert_eq!(first.id, again.id);
            assert_eq!(first.ap_id, flag);
            let queue = ok(&api, "GET", "/api/v1/reports", ann, json!(null)).await;
            let queue = queue.as_array().expect("a list");
            assert_eq!(queue.len(), 1, "{queue:?}");
            assert_eq!(queue[0]["queue"]["reporter"], "mallory@other.example");
            assert_eq!(queue[0]["reason"], "Off topic \nreally");
            assert_eq!(queue[0]["thread_id"], thread_id);
        })
        .await;
    }

    /// Issue #10 items 1, 2 and 4 on one instance: a member reports an answer, the
    /// moderator sees the queue, removes the answer (hidden, counted out, restorable), bans
    /// its author (refused everywhere in the community until unbanned), resolves the report;
    /// the mod log records each action with actor, target and reason, publicly for a public
    /// community and never for an internal one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_removals_bans_and_the_mod_log() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let ann = api.signed_in_member("ann").await;
            let bob = api.signed_in_member("bob").await;
            let carl = api.signed_in_member("carl").await;
            let (ann, bob, carl) = (Some(ann.as_str()), Some(bob.as_str()), Some(carl.as_str()));
            ok(&api, "POST", "/api/v1/communities", ann, json!({"name": "rust", "title": "Rust", "kind": "qa"})).await;
            let thread = ok(&api, "POST", "/api/v1/communities/rust/threads", bob, json!({"title": "Pools in axum", "body": "How?"})).await;
            let thread_id = thread["id"].as_i64().expect("thread id");
            let answer = ok(&api, "POST", &format!("/api/v1/threads/{thread_id}/answers"), carl, json!({"body": "Buy pills at spam.example"})).await;
            let answer_id = answer["id"].as_i64().expect("answer id");

            // Reports: one target and a reason are required; a second report is the first.
            let none = api.call("POST", "/api/v1/reports", bob, Some(json!({"reason": "spam"}))).await;
            assert_eq!(refusal(&none), (422, "invalid_target"));
            let blank = api.call("POST", "/api/v1/reports", bob, Some(json!({"answer_id": answer_id, "reason": "  "}))).await;
            assert_eq!(refusal(&blank), (422, "invalid_reason"));
            let report = ok(&api, "POST", "/api/v1/reports", bob, json!({"answer_id": answer_id, "reason": "Spam link"})).await;
            assert_eq!(report["status"], "open");
            let again = ok(&api, "POST", "/api/v1/reports", bob, json!({"answer_id": answer_id, "reason": "Still spam"})).await;
            assert_eq!(again["id"], report["id"], "one open report per reporter and target");
            let anonymous = api.call("POST", "/api/v1/reports", None, Some(json!({"answer_id": answer_id, "reason": "x"}))).await;
            assert_eq!(anonymous.status.as_u16(), 401);

            // The queue is the moderators'.
            let not_mod = api.call("GET", "/api/v1/reports", carl, None).await;
            assert_eq!(refusal(&not_mod), (403, "moderator_required"));
            let queue = ok(&api, "GET", "/api/v1/reports", ann, json!(null)).await;
            let queue = queue.as_array().expect("a list");
            assert_eq!(queue.len(), 1, "{queue:?}");
            assert_eq!(queue[0]["queue"]["reporter"], "bob");
            assert_eq!(queue[0]["queue"]["author"], "carl");
            assert_eq!(queue[0]["queue"]["excerpt"], "Buy pills at spam.example");
            let bad_status = api.call("GET", "/api/v1/reports?status=maybe", ann, None).await;
            assert_eq!(refusal(&bad_status), (400, "invalid_status"));

            // Removal: only moderators; hidden with its text, out of the count; once.
            let by_member = api.call("POST", &format!("/api/v1/answers/{answer_id}/remove"), bob, Some(json!({"reason": "spam"}))).await;
            assert_eq!(refusal(&by_member), (403, "moderator_required"));
            ok(&api, "POST", &format!("/api/v1/answers/{answer_id}/remove"), ann, json!({"reason": "Spam link"})).await;
            let twice = api.call("POST", &format!("/api/v1/answers/{answer_id}/remove"), ann, Some(json!({}))).await;
            assert_eq!(refusal(&twice), (409, "already_removed"));
            let seen = ok(&api, "GET", &format!("/api/v1/threads/{thread_id}"), None, json!(null)).await;
            assert_eq!(seen["answer_count"], 0, "a removed answer is not counted");
            let shown = &seen["answers"][0];
            assert_eq!((shown["removed"].clone(), shown["body"].clone()), (json!(true), json!("")), "{shown}");
            let queue = ok(&api, "GET", "/api/v1/reports", ann, json!(null)).await;
            assert_eq!(queue[0]["queue"]["removed"], true);

            // The report is closed once.
            let report_id = report["id"].as_i64().expect("report id");
            let resolved = ok(&api, "POST", &format!("/api/v1/reports/{report_id}/resolve"), ann, json!(null)).await;
            assert_eq!(resolved["status"], "resolved");
            let closed = api.call("POST", &format!("/api/v1/reports/{report_id}/dismiss"), ann, None).await;
            assert_eq!(refusal(&closed), (409, "report_closed"));
            let open = ok(&api, "GET", "/api/v1/reports", ann, json!(null)).await;
            assert_eq!(open.as_array().map(Vec::len), Some(0));

            // Bans: reason required, future expiry, not yourself; refused until lifted.
            let past = api.call("POST", "/api/v1/communities/rust/bans", ann, Some(json!({"person": "carl", "reason": "spam", "expires": "2001-01-01T00:00:00Z"}))).await;
            assert_eq!(refusal(&past), (422, "invalid_expiry"));
            let me = api.call("POST", "/api/v1/communities/rust/bans", ann, Some(json!({"person": "ann", "reason": "oops"}))).await;
            assert_eq!(refusal(&me), (409, "cannot_ban_self"));
            let nobody = api.call("POST", "/api/v1/communities/rust/bans", ann, Some(json!({"person": "zed", "reason": "spam"}))).await;
            assert_eq!(refusal(&nobody), (404, "person_not_found"));
            let ban = ok(&api, "POST", "/api/v1/communities/rust/bans", ann, json!({"person": "carl", "reason": "Spam", "expires": "2999-01-01T00:00:00Z"})).await;
            assert_eq!((ban["person"].clone(), ban["banned_by"].clone()), (json!("carl"), json!("ann")));
            let answer_again = api.call("POST", &format!("/api/v1/threads/{thread_id}/answers"), carl, Some(json!({"body": "more"}))).await;
            assert_eq!(refusal(&answer_again), (403, "banned"));
            assert!(answer_again.body["error"]["message"].as_str().unwrap_or_default().contains("Spam"), "{}", answer_again.body);
            let ask = api.call("POST", "/api/v1/communities/rust/threads", carl, Some(json!({"title": "Hello", "body": "x"}))).await;
            assert_eq!(refusal(&ask), (403, "banned"));
            let vote = api.call("POST", &format!("/api/v1/threads/{thread_id}/vote"), carl, Some(json!({"score": 1}))).await;
            assert_eq!(refusal(&vote), (403, "banned"));
            let bans = ok(&api, "GET", "/api/v1/communities/rust/bans", ann, json!(null)).await;
            assert_eq!(bans.as_array().map(Vec::len), Some(1));
            let not_mod_bans = api.call("GET", "/api/v1/communities/rust/bans", bob, None).await;
            assert_eq!(refusal(&not_mod_bans), (403, "moderator_required"));
            let lifted = api.call("DELETE", "/api/v1/communities/rust/bans/carl", ann, None).await;
            assert_eq!(lifted.status.as_u16(), 204);
            let lifted_again = api.call("DELETE", "/api/v1/communities/rust/bans/carl", ann, None).await;
            assert_eq!(refusal(&lifted_again), (404, "ban_not_found"));
            ok(&api, "POST", &format!("/api/v1/threads/{thread_id}/answers"), carl, json!({"body": "Sorry: use State."})).await;

            // Restore brings the text back and the count.
            ok(&api, "POST", &format!("/api/v1/answers/{answer_id}/restore"), ann, json!({})).await;
            let seen = ok(&api, "GET", &format!("/api/v1/threads/{thread_id}"), None, json!(null)).await;
            assert_eq!(seen["answer_count"], 2);
            let restore_twice = api.call("POST", &format!("/api/v1/answers/{answer_id}/restore"), ann, Some(json!({}))).await;
            assert_eq!(refusal(&restore_twice), (409, "not_removed"));
            api.call("POST", &format!("/api/v1/threads/{thread_id}/lock"), ann, None).await;

            // The log, newest first, for anyone: a public community.
            let log = ok(&api, "GET", "/api/v1/modlog?community=rust", None, json!(null)).await;
            let actions: Vec<&str> = log["entries"].as_array().expect("entries").iter().map(|e| e["action"].as_str().unwrap_or_default()).collect();
            assert_eq!(actions, ["lock_thread", "restore_answer", "unban", "ban", "resolve_report", "remove_answer"], "{log}");
            let removal = &log["entries"][5];
            assert_eq!(removal["moderator"], "ann");
            assert_eq!(removal["person"], "carl");
            assert_eq!(removal["reason"], "Spam link");
            assert_eq!(removal["thread_title"], "Pools in axum");
            assert_eq!(log["entries"][3]["expires"], "2999-01-01T00:00:00");

            // An internal community's log is its members' only.
            ok(&api, "POST", "/api/v1/communities", ann, json!({"name": "secret", "title": "Secret", "kind": "qa", "visibility": "internal"})).await;
            let hidden = ok(&api, "POST", "/api/v1/communities/secret/threads", ann, json!({"title": "Internal plans", "body": "x"})).await;
            let hidden_id = hidden["id"].as_i64().expect("id");
            api.call("POST", &format!("/api/v1/threads/{hidden_id}/lock"), ann, None).await;
            let outside = ok(&api, "GET", "/api/v1/modlog", None, json!(null)).await;
            assert!(!outside.to_string().contains("Internal plans"), "{outside}");
            let inside = ok(&api, "GET", "/api/v1/modlog", bob, json!(null)).await;
            assert!(inside.to_string().contains("Internal plans"), "{inside}");
            let direct = api.call("GET", "/api/v1/modlog?community=secret", None, None).await;
            assert_eq!(direct.status.as_u16(), 401);
            // A partners community's log is not for anonymous readers either: its threads
            // need a partner's signature (issue #11, case 22).
            ok(&api, "POST", "/api/v1/communities", ann, json!({"name": "acme", "title": "Acme", "kind": "qa", "visibility": "partners"})).await;
            let shared = ok(&api, "POST", "/api/v1/communities/acme/threads", ann, json!({"title": "Partner roadmap", "body": "x"})).await;
            api.call("POST", &format!("/api/v1/threads/{}/lock", shared["id"]), ann, None).await;
            let outside = ok(&api, "GET", "/api/v1/modlog", None, json!(null)).await;
            assert!(!outside.to_string().contains("Partner roadmap"), "{outside}");
            let inside = ok(&api, "GET", "/api/v1/modlog", bob, json!(null)).await;
            assert!(inside.to_string().contains("Partner roadmap"), "{inside}");
        })
        .await;
    }
}
