//! Threads and answers: view, edit, delete, lock, history, answer, vote, accept.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Auth, MaybeAuth};
use super::{ApiJson, ApiPath};
use crate::context::AppContext;
use crate::db::types::ThreadKind;
use crate::error::{AppResult, ErrorBody};
use crate::service::threads::{
    self as threads_service, AcceptState, AnswerNode, ThreadChanges, ThreadDetails, VoteResult,
    VoteTarget,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ThreadView {
    pub id: i64,
    pub ap_id: String,
    pub title: String,
    /// Markdown source.
    pub body: String,
    /// Sanitized HTML rendered from `body`.
    pub body_html: String,
    pub kind: ThreadKind,
    /// The community's handle.
    pub community: String,
    /// The author's handle (`name` here, `name@domain` elsewhere).
    pub author: String,
    /// The author deleted their account; the content stays.
    pub author_deleted: bool,
    pub score: i64,
    pub upvotes: i64,
    pub downvotes: i64,
    pub answer_count: i64,
    /// A question with at least one accepted answer.
    pub solved: bool,
    pub accepted_answer_ids: Vec<i64>,
    pub tags: Vec<String>,
    pub locked: bool,
    /// Pinned by a moderator to the top of its community.
    pub pinned: bool,
    /// A tombstone: the thread was deleted and its text is gone.
    pub deleted: bool,
    /// Removed by a moderator: the title and text are withheld until a restore.
    pub removed: bool,
    /// The caller's vote: 1, 0 or -1.
    pub my_vote: i64,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
    pub last_activity_at: NaiveDateTime,
    pub local: bool,
}

impl From<ThreadDetails> for ThreadView {
    fn from(d: ThreadDetails) -> ThreadView {
        let t = d.thread;
        let (title, body, body_html) = if t.removed {
            ("[removed]".to_owned(), String::new(), String::new())
        } else {
            (t.title, t.body, t.body_html)
        };
        ThreadView {
            id: t.id,
            ap_id: t.ap_id,
            title,
            body,
            body_html,
            kind: t.kind,
            community: d.community_handle,
            author: d.author_handle,
            author_deleted: d.author_deleted,
            score: t.score,
            upvotes: t.upvotes,
            downvotes: t.downvotes,
            answer_count: t.answer_count,
            solved: t.kind == ThreadKind::Question && t.accepted_answer_count > 0,
            accepted_answer_ids: d.accepted_answer_ids,
            tags: d.tags,
            locked: t.locked,
            pinned: t.pinned,
            deleted: t.deleted,
            removed: t.removed,
            my_vote: d.my_vote,
            published: t.published,
            updated: t.updated,
            last_activity_at: t.last_activity_at,
            local: t.local,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ThreadPageView {
    pub threads: Vec<ThreadView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A thread with its answers as a tree.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ThreadWithAnswers {
    #[serde(flatten)]
    pub thread: ThreadView,
    /// Top-level answers, accepted first, then by score; each with its replies.
    pub answers: Vec<AnswerView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnswerView {
    pub id: i64,
    pub ap_id: String,
    pub thread_id: i64,
    /// The answer this replies to; absent for answers to the thread.
    pub parent_id: Option<i64>,
    pub author: String,
    pub author_deleted: bool,
    pub body: String,
    pub body_html: String,
    pub score: i64,
    pub upvotes: i64,
    pub downvotes: i64,
    pub accepted: bool,
    /// A tombstone: its replies stay visible below it.
    pub deleted: bool,
    /// Removed by a moderator: the text is withheld until a restore; replies stay.
    pub removed: bool,
    pub depth: i64,
    pub my_vote: i64,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
    pub local: bool,
    #[schema(no_recursion)]
    pub children: Vec<AnswerView>,
}

impl From<AnswerNode> for AnswerView {
    fn from(node: AnswerNode) -> AnswerView {
        let a = node.answer;
        let (body, body_html) = if a.removed {
            (String::new(), String::new())
        } else {
            (a.body, a.body_html)
        };
        AnswerView {
            id: a.id,
            ap_id: a.ap_id,
            thread_id: a.thread_id,
            parent_id: a.parent_id,
            author: node.author_handle,
            author_deleted: node.author_deleted,
            body,
            body_html,
            score: a.score,
            upvotes: a.upvotes,
            downvotes: a.downvotes,
            accepted: a.accepted,
            deleted: a.deleted,
            removed: a.removed,
            depth: a.depth,
            my_vote: node.my_vote,
            published: a.published,
            updated: a.updated,
            local: a.local,
            children: node.children.into_iter().map(AnswerView::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditThread {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Replaces the tags when given.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAnswer {
    /// Markdown, 1-100,000 characters.
    pub body: String,
    /// Reply to this answer instead of the thread.
    #[serde(default)]
    pub parent_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditAnswer {
    pub body: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    /// 1 up, -1 down, 0 takes the vote back.
    pub score: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VoteView {
    pub score: i64,
    pub upvotes: i64,
    pub downvotes: i64,
    pub my_vote: i64,
}

impl From<VoteResult> for VoteView {
    fn from(v: VoteResult) -> VoteView {
        VoteView {
            score: v.score,
            upvotes: v.upvotes,
            downvotes: v.downvotes,
            my_vote: v.my_vote,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AcceptView {
    pub thread_id: i64,
    pub solved: bool,
    pub accepted_answer_ids: Vec<i64>,
}

impl From<AcceptState> for AcceptView {
    fn from(s: AcceptState) -> AcceptView {
        AcceptView {
            thread_id: s.thread_id,
            solved: s.solved,
            accepted_answer_ids: s.accepted_answer_ids,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevisionView {
    pub id: i64,
    /// Who made the edit that replaced this version.
    pub editor: String,
    /// The title at the time (threads only).
    pub title: Option<String>,
    pub body: String,
    /// When this version was replaced.
    pub replaced_at: NaiveDateTime,
}

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(get_thread, edit_thread, delete_thread))
        .routes(routes!(lock_thread, unlock_thread))
        .routes(routes!(pin_thread, unpin_thread))
        .routes(routes!(thread_revisions))
        .routes(routes!(create_answer))
        .routes(routes!(vote_thread))
        .routes(routes!(get_answer, edit_answer, delete_answer))
        .routes(routes!(answer_revisions))
        .routes(routes!(accept, unaccept))
        .routes(routes!(vote_answer))
}

/// A thread with its answers as a tree.
#[utoipa::path(get, path = "/threads/{id}", tag = "threads",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ThreadWithAnswers),
        (status = 401, description = "In an internal community, and not signed in", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn get_thread(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ThreadWithAnswers>> {
    let (thread, answers) = threads_service::get_thread(&ctx.db, viewer.as_ref(), id).await?;
    Ok(Json(ThreadWithAnswers {
        thread: thread.into(),
        answers: answers.into_iter().map(AnswerView::from).collect(),
    }))
}

/// The author edits title, body or tags; the replaced version is kept.
#[utoipa::path(patch, path = "/threads/{id}", tag = "threads",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    request_body = EditThread,
    responses(
        (status = 200, body = ThreadView),
        (status = 403, description = "Not the author", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Deleted or locked", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn edit_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<EditThread>,
) -> AppResult<Json<ThreadView>> {
    let edited = threads_service::edit_thread(
        &ctx.db,
        &ctx.settings,
        &session,
        id,
        ThreadChanges {
            title: req.title,
            body: req.body,
            tags: req.tags,
        },
    )
    .await?;
    Ok(Json(edited.into()))
}

/// The author or a moderator deletes the thread; a tombstone keeps its id.
#[utoipa::path(delete, path = "/threads/{id}", tag = "threads",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ThreadView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already deleted", body = ErrorBody),
    ))]
async fn delete_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ThreadView>> {
    Ok(Json(
        threads_service::delete_thread(&ctx.db, &ctx.settings, &session, id)
            .await?
            .into(),
    ))
}

/// Moderators lock the thread: no new answers or edits.
#[utoipa::path(post, path = "/threads/{id}/lock", tag = "threads",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ThreadView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn lock_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ThreadView>> {
    Ok(Json(
        threads_service::set_locked(&ctx.db, &ctx.settings, &session, id, true, None)
            .await?
            .into(),
    ))
}

/// Moderators unlock the thread.
#[utoipa::path(delete, path = "/threads/{id}/lock", tag = "threads",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ThreadView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unlock_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ThreadView>> {
    Ok(Json(
        threads_service::set_locked(&ctx.db, &ctx.settings, &session, id, false, None)
            .await?
            .into(),
    ))
}

/// Moderators pin the thread to their community (its featured collection). Pinning a pinned
/// thread changes nothing.
#[utoipa::path(post, path = "/threads/{id}/pin", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ThreadView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a moderator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The thread is deleted", body = ErrorBody),
    ))]
async fn pin_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ThreadView>> {
    let pinned = threads_service::set_pinned(&ctx.db, &ctx.settings, &session, id, true).await?;
    Ok(Json(pinned.into()))
}

/// Moderators unpin the thread.
#[utoipa::path(delete, path = "/threads/{id}/pin", tag = "moderation",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ThreadView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a moderator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The thread is deleted", body = ErrorBody),
    ))]
async fn unpin_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ThreadView>> {
    let unpinned = threads_service::set_pinned(&ctx.db, &ctx.settings, &session, id, false).await?;
    Ok(Json(unpinned.into()))
}

/// Earlier versions of the thread, oldest first.
#[utoipa::path(get, path = "/threads/{id}/revisions", tag = "threads",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<RevisionView>), (status = 404, body = ErrorBody)))]
async fn thread_revisions(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<RevisionView>>> {
    let versions = threads_service::thread_history(&ctx.db, viewer.as_ref(), id).await?;
    Ok(Json(
        versions
            .into_iter()
            .map(|(v, editor)| RevisionView {
                id: v.id,
                editor,
                title: Some(v.title),
                body: v.body,
                replaced_at: v.created_at,
            })
            .collect(),
    ))
}

/// Answer the thread, or reply to one of its answers.
#[utoipa::path(post, path = "/threads/{id}/answers", tag = "answers",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    request_body = CreateAnswer,
    responses(
        (status = 201, body = AnswerView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The thread is locked or deleted", body = ErrorBody),
        (status = 422, description = "Empty or too long body, bad parent, too deep", body = ErrorBody),
    ))]
async fn create_answer(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<CreateAnswer>,
) -> AppResult<(StatusCode, Json<AnswerView>)> {
    let created = threads_service::create_answer(
        &ctx.db,
        &ctx.settings,
        &session,
        id,
        &req.body,
        req.parent_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Vote on a thread.
#[utoipa::path(post, path = "/threads/{id}/vote", tag = "threads",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    request_body = VoteRequest,
    responses(
        (status = 200, body = VoteView),
        (status = 403, description = "Your own thread", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "score is not 1, 0 or -1", body = ErrorBody),
    ))]
async fn vote_thread(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<VoteRequest>,
) -> AppResult<Json<VoteView>> {
    Ok(Json(
        threads_service::vote(
            &ctx.db,
            &ctx.settings,
            &session,
            VoteTarget::Thread(id),
            req.score,
        )
        .await?
        .into(),
    ))
}

/// One answer with its replies.
#[utoipa::path(get, path = "/answers/{id}", tag = "answers",
    params(("id" = i64, Path)),
    responses((status = 200, body = AnswerView), (status = 404, body = ErrorBody)))]
async fn get_answer(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<AnswerView>> {
    Ok(Json(
        threads_service::get_answer(&ctx.db, viewer.as_ref(), id)
            .await?
            .into(),
    ))
}

/// The author edits the answer; the replaced version is kept.
#[utoipa::path(patch, path = "/answers/{id}", tag = "answers",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    request_body = EditAnswer,
    responses(
        (status = 200, body = AnswerView),
        (status = 403, description = "Not the author", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Deleted, or the thread is locked", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn edit_answer(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<EditAnswer>,
) -> AppResult<Json<AnswerView>> {
    Ok(Json(
        threads_service::edit_answer(&ctx.db, &ctx.settings, &session, id, &req.body)
            .await?
            .into(),
    ))
}

/// The author or a moderator deletes the answer; replies below it stay.
#[utoipa::path(delete, path = "/answers/{id}", tag = "answers",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = AnswerView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already deleted", body = ErrorBody),
    ))]
async fn delete_answer(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<AnswerView>> {
    Ok(Json(
        threads_service::delete_answer(&ctx.db, &ctx.settings, &session, id)
            .await?
            .into(),
    ))
}

/// Earlier versions of the answer, oldest first.
#[utoipa::path(get, path = "/answers/{id}/revisions", tag = "answers",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<RevisionView>), (status = 404, body = ErrorBody)))]
async fn answer_revisions(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<RevisionView>>> {
    let versions = threads_service::answer_history(&ctx.db, viewer.as_ref(), id).await?;
    Ok(Json(
        versions
            .into_iter()
            .map(|(v, editor)| RevisionView {
                id: v.id,
                editor,
                title: None,
                body: v.body,
                replaced_at: v.created_at,
            })
            .collect(),
    ))
}

/// The asker or a moderator accepts the answer; the question is then solved.
#[utoipa::path(post, path = "/answers/{id}/accept", tag = "answers",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = AcceptView),
        (status = 403, description = "Not the asker or a moderator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not a question, or deleted", body = ErrorBody),
    ))]
async fn accept(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<AcceptView>> {
    Ok(Json(
        threads_service::set_accepted(&ctx.db, &ctx.settings, &session, id, true)
            .await?
            .into(),
    ))
}

/// Undo accepting the answer.
#[utoipa::path(delete, path = "/answers/{id}/accept", tag = "answers",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = AcceptView),
        (status = 403, description = "Not the asker or a moderator", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn unaccept(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<AcceptView>> {
    Ok(Json(
        threads_service::set_accepted(&ctx.db, &ctx.settings, &session, id, false)
            .await?
            .into(),
    ))
}

/// Vote on an answer.
#[utoipa::path(post, path = "/answers/{id}/vote", tag = "answers",
    security(("bearer" = []), ("session" = [])),
    params(("id" = i64, Path)),
    request_body = VoteRequest,
    responses(
        (status = 200, body = VoteView),
        (status = 403, description = "Your own answer", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "score is not 1, 0 or -1", body = ErrorBody),
    ))]
async fn vote_answer(
    State(ctx): State<AppContext>,
    Auth(session): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<VoteRequest>,
) -> AppResult<Json<VoteView>> {
    Ok(Json(
        threads_service::vote(
            &ctx.db,
            &ctx.settings,
            &session,
            VoteTarget::Answer(id),
            req.score,
        )
        .await?
        .into(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::db::types::AccountRole;
    use crate::testing::{TestApi, TestResponse, for_each_backend, test_settings};
    use serde_json::{Value, json};

    struct Forum {
        api: TestApi,
        /// Created the community (its moderator).
        founder: String,
        asker: String,
        helper: String,
        other: String,
    }

    /// A `qa` community `rust` made by `founder`, and three more members.
    async fn forum(db: crate::db::Db) -> Forum {
        let api = TestApi::new(db, test_settings()).await;
        for name in ["founder", "asker", "helper", "other"] {
            api.create_user(name, AccountRole::Member).await;
        }
        let founder = api.login("founder").await;
        let created = api
            .call(
                "POST",
                "/api/v1/communities",
                Some(&founder),
                Some(json!({
                    "name": "rust", "title": "Rust at Acme", "kind": "qa",
                    "description": "Ask about **Rust**."
                })),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        Forum {
            asker: api.login("asker").await,
            helper: api.login("helper").await,
            other: api.login("other").await,
            founder,
            api,
        }
    }

    async fn ask(f: &Forum, title: &str, tags: Value) -> i64 {
        let asked = f
            .api
            .call(
                "POST",
                "/api/v1/communities/rust/threads",
                Some(&f.asker),
                Some(json!({
                    "title": title, "body": "How do I do this?", "tags": tags
                })),
            )
            .await;
        assert_eq!(asked.status, 201, "{:?}", asked.body);
        asked.body["id"].as_i64().expect("id")
    }

    async fn answer(
        f: &Forum,
        token: &str,
        thread: i64,
        body: &str,
        parent: Option<i64>,
    ) -> TestResponse {
        f.api
            .call(
                "POST",
                &format!("/api/v1/threads/{thread}/answers"),
                Some(token),
                Some(json!({"body": body, "parent_id": parent})),
            )
            .await
    }

    fn titles(page: &TestResponse) -> Vec<String> {
        page.body["threads"]
            .as_array()
            .expect("threads")
            .iter()
            .map(|t| t["title"].as_str().expect("title").to_owned())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_question_is_asked_answered_voted_and_solved() {
        for_each_backend(async |db| {
            let f = forum(db).await;
            let api = &f.api;
            let thread = ask(
                &f,
                "How do I share state between axum handlers?",
                json!(["Axum", "state", "#Rust"]),
            )
            .await;
            let unanswered = ask(&f, "Why is my build slow?", json!(["build"])).await;

            let got = api
                .call("GET", &format!("/api/v1/threads/{thread}"), None, None)
                .await;
            assert_eq!(got.status, 200, "{:?}", got.body);
            assert_eq!(
                got.body["kind"], "question",
                "defaults from the qa community"
            );
            assert_eq!(got.body["tags"], json!(["axum", "rust", "state"]));
            assert_eq!(got.body["community"], "rust");
            assert_eq!(got.body["author"], "asker");
            assert_eq!(
                got.body["ap_id"],
                format!("http://localhost:8541/t/{thread}")
            );
            assert_eq!(got.body["solved"], false);

            let first = answer(&f, &f.helper, thread, "Use `State<AppContext>`.", None).await;
            assert_eq!(first.status, 201, "{:?}", first.body);
            let first_id = first.body["id"].as_i64().expect("id");
            assert_eq!(
                first.body["ap_id"],
                format!("http://localhost:8541/r/{first_id}")
            );
            let reply = answer(&f, &f.other, thread, "Or an `Extension`.", Some(first_id)).await;
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            assert_eq!(reply.body["depth"], 1);
            let second = answer(&f, &f.other, thread, "A global static works too.", None).await;
            let second_id = second.body["id"].as_i64().expect("id");

            // Votes: two up on the first answer, one down on the second, one up on the thread.
            for token in [&f.other, &f.founder] {
                let voted = api
                    .call(
                        "POST",
                        &format!("/api/v1/answers/{first_id}/vote"),
                        Some(token),
                        Some(json!({"score": 1})),
                    )
                    .await;
                assert_eq!(voted.status, 200, "{:?}", voted.body);
            }
            let down = api
                .call(
                    "POST",
                    &format!("/api/v1/answers/{second_id}/vote"),
                    Some(&f.helper),
                    Some(json!({"score": -1})),
                )
                .await;
            assert_eq!(
                down.body,
                json!({"score": -1, "upvotes": 0, "downvotes": 1, "my_vote": -1})
            );
            let changed = api
                .call(
                    "POST",
                    &format!("/api/v1/answers/{second_id}/vote"),
                    Some(&f.helper),
                    Some(json!({"score": 1})),
                )
                .await;
            assert_eq!(
                changed.body["score"], 1,
                "a changed vote replaces the old one"
            );
            let undone = api
                .call(
                    "POST",
                    &format!("/api/v1/answers/{second_id}/vote"),
                    Some(&f.helper),
                    Some(json!({"score": 0})),
                )
                .await;
            assert_eq!(undone.body["score"], 0);
            let up = api
                .call(
                    "POST",
                    &format!("/api/v1/threads/{thread}/vote"),
                    Some(&f.helper),
                    Some(json!({"score": 1})),
                )
                .await;
            assert_eq!(up.body["score"], 1);

            let accepted = api
                .call(
                    "POST",
                    &format!("/api/v1/answers/{second_id}/accept"),
                    Some(&f.asker),
                    None,
                )
                .await;
            assert_eq!(accepted.status, 200, "{:?}", accepted.body);
            assert_eq!(
                accepted.body,
                json!({"thread_id": thread, "solved": true, "accepted_answer_ids": [second_id]})
            );

            let got = api
                .call(
                    "GET",
                    &format!("/api/v1/threads/{thread}"),
                    Some(&f.helper),
                    None,
                )
                .await;
            assert_eq!(got.body["solved"], true);
            assert_eq!(got.body["answer_count"], 3);
            assert_eq!(got.body["score"], 1);
            assert_eq!(got.body["my_vote"], 1);
            let answers = got.body["answers"].as_array().expect("answers");
            assert_eq!(answers.len(), 2, "the reply is nested, not top-level");
            assert_eq!(answers[0]["id"], second_id, "accepted answers come first");
            assert_eq!(answers[0]["accepted"], true);
            assert_eq!(answers[1]["id"], first_id);
            assert_eq!(answers[1]["score"], 2);
            assert_eq!(answers[1]["children"][0]["body"], "Or an `Extension`.");
            assert!(
                answers[1]["body_html"]
                    .as_str()
                    .expect("html")
                    .contains("<code>State&lt;AppContext&gt;</code>")
            );

            let page = api
                .call("GET", "/api/v1/communities/rust/threads", None, None)
                .await;
            assert_eq!(
                titles(&page),
                vec![
                    "Why is my build slow?",
                    "How do I share state between axum handlers?"
                ]
            );
            assert_eq!(page.body["threads"][1]["solved"], true);
            let open = api
                .call(
                    "GET",
                    "/api/v1/communities/rust/threads?sort=unanswered",
                    None,
                    None,
                )
                .await;
            assert_eq!(titles(&open), vec!["Why is my build slow?"]);
            let tagged = api
                .call(
                    "GET",
                    "/api/v1/communities/rust/threads?tag=Axum",
                    None,
                    None,
                )
                .await;
            assert_eq!(
                titles(&tagged),
                vec!["How do I share state between axum handlers?"]
            );
            let top = api
                .call(
                    "GET",
                    "/api/v1/communities/rust/threads?sort=top",
                    None,
                    None,
                )
                .await;
            assert_eq!(
                titles(&top)[0],
                "How do I share state between axum handlers?"
            );
            let active = api
                .call(
                    "GET",
                    "/api/v1/communities/rust/threads?sort=active",
                    None,
                    None,
                )
                .await;
            assert_eq!(
                titles(&active)[0],
                "How do I share state between axum handlers?",
                "answered last"
            );
            let none = api
                .call(
                    "GET",
                    "/api/v1/communities/rust/threads?tag=python",
                    None,
                    None,
                )
                .await;
            assert!(titles(&none).is_empty());

            let tags = api
                .call("GET", "/api/v1/communities/rust/tags", None, None)
                .await;
            assert_eq!(tags.body[0], json!({"tag": "axum", "count": 1}));
            assert_eq!(tags.body.as_array().expect("tags").len(), 4);

            let unaccepted = api
                .call(
                    "DELETE",
                    &format!("/api/v1/answers/{second_id}/accept"),
                    Some(&f.asker),
                    None,
                )
                .await;
            assert_eq!(unaccepted.body["solved"], false);
            let _ = unanswered;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thread_lists_page_with_a_cursor() {
        for_each_backend(async |db| {
            let f = forum(db).await;
            for i in 0..5 {
                ask(&f, &format!("Question number {i}"), json!([])).await;
            }
            let mut seen = Vec::new();
            let mut path = "/api/v1/communities/rust/threads?limit=2".to_owned();
            loop {
                let page = f.api.call("GET", &path, None, None).await;
                assert_eq!(page.status, 200, "{:?}", page.body);
                seen.extend(titles(&page));
                match page.body["next_cursor"].as_str() {
                    Some(cursor) => {
                        path = format!("/api/v1/communities/rust/threads?limit=2&cursor={cursor}")
                    }
                    None => break,
                }
            }
            assert_eq!(
                seen,
                (0..5)
                    .rev()
                    .map(|i| format!("Question number {i}"))
                    .collect::<Vec<_>>()
            );
            for bad in [
                "?cursor=nonsense",
                "?limit=0",
                "?limit=101",
                "?sort=hot",
                "?tag=c%2B%2B",
            ] {
                let page = f
                    .api
                    .call(
                        "GET",
                        &format!("/api/v1/communities/rust/threads{bad}"),
                        None,
                        None,
                    )
                    .await;
                assert_eq!(page.status, 400, "{bad}: {:?}", page.body);
            }
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn edits_keep_history_and_deletes_leave_tombstones() {
        for_each_backend(async |db| {
            let f = forum(db).await;
            let api = &f.api;
            let thread = ask(&f, "Original title", json!(["one"])).await;
            let edited = api
                .call("PATCH", &format!("/api/v1/threads/{thread}"), Some(&f.asker),
                    Some(json!({"title": "Better title", "body": "Clearer body with @someone@learn.other.example", "tags": ["two"]})))
                .await;
            assert_eq!(edited.status, 200, "{:?}", edited.body);
            assert_eq!(edited.body["title"], "Better title");
            assert_eq!(edited.body["tags"], json!(["two"]));
            assert!(edited.body["updated"].is_string());
            let history = api.call("GET", &format!("/api/v1/threads/{thread}/revisions"), None, None).await;
            assert_eq!(history.body.as_array().expect("list").len(), 1);
            assert_eq!(history.body[0]["title"], "Original title");
            assert_eq!(history.body[0]["body"], "How do I do this?");
            assert_eq!(history.body[0]["editor"], "asker");

            let parent = answer(&f, &f.helper, thread, "First answer", None).await;
            let parent_id = parent.body["id"].as_i64().expect("id");
            let child = answer(&f, &f.other, thread, "A reply", Some(parent_id)).await;
            let child_id = child.body["id"].as_i64().expect("id");
            let fixed = api
                .call("PATCH", &format!("/api/v1/answers/{parent_id}"), Some(&f.helper), Some(json!({"body": "First answer, fixed"})))
                .await;
            assert_eq!(fixed.body["body"], "First answer, fixed");
            let history = api.call("GET", &format!("/api/v1/answers/{parent_id}/revisions"), None, None).await;
            assert_eq!(history.body[0]["body"], "First answer");

            let deleted = api.call("DELETE", &format!("/api/v1/answers/{parent_id}"), Some(&f.helper), None).await;
            assert_eq!(deleted.status, 200);
            assert_eq!(deleted.body["deleted"], true);
            let view = api.call("GET", &format!("/api/v1/threads/{thread}"), None, None).await;
            let top = &view.body["answers"][0];
            assert_eq!(top["deleted"], true);
            assert_eq!(top["body"], "");
            assert_eq!(top["children"][0]["id"], child_id, "replies stay under the tombstone");
            assert_eq!(view.body["answer_count"], 1);

            let again = api.call("PATCH", &format!("/api/v1/answers/{parent_id}"), Some(&f.helper), Some(json!({"body": "x"}))).await;
            assert_eq!((again.status.as_u16(), again.code()), (409, "deleted"));

            let gone = api.call("DELETE", &format!("/api/v1/threads/{thread}"), Some(&f.asker), None).await;
            assert_eq!(gone.body["deleted"], true);
            let tombstone = api.call("GET", &format!("/api/v1/threads/{thread}"), None, None).await;
            assert_eq!(tombstone.status, 200, "the id stays valid");
            assert_eq!(tombstone.body["deleted"], true);
            assert_eq!(tombstone.body["body"], "");
            let edit = api.call("PATCH", &format!("/api/v1/threads/{thread}"), Some(&f.asker), Some(json!({"body": "back"}))).await;
            assert_eq!((edit.status.as_u16(), edit.code()), (409, "deleted"));
            let late = answer(&f, &f.helper, thread, "late", None).await;
            assert_eq!(late.status, 409);
            let list = api.call("GET", "/api/v1/communities/rust/threads", None, None).await;
            assert!(titles(&list).is_empty(), "deleted threads leave the lists");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn permission_rules_refuse_what_they_should() {
        for_each_backend(async |db| {
            let f = forum(db).await;
            let api = &f.api;
            let thread = ask(&f, "Whose thread is this?", json!([])).await;
            let helper_answer = answer(&f, &f.helper, thread, "An answer", None).await;
            let answer_id = helper_answer.body["id"].as_i64().expect("id");

            // Not signed in: 401.
            let anonymous = api
                .call(
                    "POST",
                    "/api/v1/communities/rust/threads",
                    None,
                    Some(json!({"title": "abc", "body": ""})),
                )
                .await;
            assert_eq!(anonymous.status, 401);
            // Editing is for authors only (moderators neither).
            for token in [&f.helper, &f.founder] {
                let refused = api
                    .call(
                        "PATCH",
                        &format!("/api/v1/threads/{thread}"),
                        Some(token),
                        Some(json!({"title": "Hijacked"})),
                    )
                    .await;
                assert_eq!(
                    (refused.status.as_u16(), refused.code()),
                    (403, "not_author")
                );
            }
            let refused = api
                .call(
                    "PATCH",
                    &format!("/api/v1/answers/{answer_id}"),
                    Some(&f.asker),
                    Some(json!({"body": "mine now"})),
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (403, "not_author")
            );
            // Accepting is for the asker and moderators.
            let refused = api
                .call(
                    "POST",
                    &format!("/api/v1/answers/{answer_id}/accept"),
                    Some(&f.other),
                    None,
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (403, "not_allowed")
            );
            let by_moderator = api
                .call(
                    "POST",
                    &format!("/api/v1/answers/{answer_id}/accept"),
                    Some(&f.founder),
                    None,
                )
                .await;
            assert_eq!(by_moderator.body["solved"], true);
            // Nobody votes on their own writing.
            let own = api
                .call(
                    "POST",
                    &format!("/api/v1/answers/{answer_id}/vote"),
                    Some(&f.helper),
                    Some(json!({"score": 1})),
                )
                .await;
            assert_eq!((own.status.as_u16(), own.code()), (403, "own_content"));
            let bad_score = api
                .call(
                    "POST",
                    &format!("/api/v1/threads/{thread}/vote"),
                    Some(&f.helper),
                    Some(json!({"score": 2})),
                )
                .await;
            assert_eq!(
                (bad_score.status.as_u16(), bad_score.code()),
                (422, "invalid_score")
            );
            // Deleting is for the author and moderators.
            let refused = api
                .call(
                    "DELETE",
                    &format!("/api/v1/answers/{answer_id}"),
                    Some(&f.other),
                    None,
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (403, "not_allowed")
            );
            let refused = api
                .call(
                    "DELETE",
                    &format!("/api/v1/threads/{thread}"),
                    Some(&f.helper),
                    None,
                )
                .await;
            assert_eq!(refused.status, 403);
            // Locking is for moderators; a locked thread takes no answers or edits.
            let refused = api
                .call(
                    "POST",
                    &format!("/api/v1/threads/{thread}/lock"),
                    Some(&f.asker),
                    None,
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (403, "moderator_required")
            );
            let locked = api
                .call(
                    "POST",
                    &format!("/api/v1/threads/{thread}/lock"),
                    Some(&f.founder),
                    None,
                )
                .await;
            assert_eq!(locked.body["locked"], true);
            let late = answer(&f, &f.other, thread, "too late", None).await;
            assert_eq!((late.status.as_u16(), late.code()), (409, "thread_locked"));
            let edit = api
                .call(
                    "PATCH",
                    &format!("/api/v1/threads/{thread}"),
                    Some(&f.asker),
                    Some(json!({"title": "Edited while locked"})),
                )
                .await;
            assert_eq!((edit.status.as_u16(), edit.code()), (409, "thread_locked"));
            let unlocked = api
                .call(
                    "DELETE",
                    &format!("/api/v1/threads/{thread}/lock"),
                    Some(&f.founder),
                    None,
                )
                .await;
            assert_eq!(unlocked.body["locked"], false);
            // A moderator removes someone else's answer.
            let removed = api
                .call(
                    "DELETE",
                    &format!("/api/v1/answers/{answer_id}"),
                    Some(&f.founder),
                    None,
                )
                .await;
            assert_eq!(removed.status, 200);
            let after = api
                .call("GET", &format!("/api/v1/threads/{thread}"), None, None)
                .await;
            assert_eq!(
                after.body["solved"], false,
                "a deleted answer no longer solves the question"
            );

            // Discussions have no accepted answers.
            let discussion = api
                .call(
                    "POST",
                    "/api/v1/communities/rust/threads",
                    Some(&f.asker),
                    Some(json!({"title": "Show your projects", "kind": "discussion"})),
                )
                .await;
            let discussion_id = discussion.body["id"].as_i64().expect("id");
            let reply = answer(&f, &f.helper, discussion_id, "Mine!", None).await;
            let reply_id = reply.body["id"].as_i64().expect("id");
            let refused = api
                .call(
                    "POST",
                    &format!("/api/v1/answers/{reply_id}/accept"),
                    Some(&f.asker),
                    None,
                )
                .await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (409, "not_a_question")
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_input_gets_named_errors() {
        for_each_backend(async |db| {
            let f = forum(db).await;
            let api = &f.api;
            let post = |body: Value| {
                api.call(
                    "POST",
                    "/api/v1/communities/rust/threads",
                    Some(&f.asker),
                    Some(body),
                )
            };
            for (body, code) in [
                (json!({"title": "ab"}), "invalid_title"),
                (json!({"title": "x".repeat(201)}), "invalid_title"),
                (
                    json!({"title": "Fine title", "body": "x".repeat(100_001)}),
                    "body_too_long",
                ),
                (
                    json!({"title": "Fine title", "tags": ["c++"]}),
                    "invalid_tag",
                ),
                (
                    json!({"title": "Fine title", "tags": ["a", "b", "c", "d", "e", "f"]}),
                    "too_many_tags",
                ),
                (
                    json!({"title": "Fine title", "kind": "poll"}),
                    "invalid_fields",
                ),
            ] {
                let response = post(body.clone()).await;
                assert_eq!(
                    (response.status.as_u16(), response.code()),
                    (422, code),
                    "{}",
                    &body.to_string()[..60.min(body.to_string().len())]
                );
            }
            assert_eq!(
                api.call("GET", "/api/v1/threads/999999", None, None)
                    .await
                    .code(),
                "thread_not_found"
            );
            assert_eq!(
                api.call("GET", "/api/v1/answers/999999", None, None)
                    .await
                    .code(),
                "answer_not_found"
            );
            assert_eq!(
                api.call("GET", "/api/v1/communities/nope", None, None)
                    .await
                    .code(),
                "community_not_found"
            );
            assert_eq!(
                api.call(
                    "GET",
                    "/api/v1/communities/rust@elsewhere.example",
                    None,
                    None
                )
                .await
                .status,
                404
            );
            assert_eq!(
                api.call("GET", "/api/v1/threads/abc", None, None)
                    .await
                    .status,
                400
            );

            let thread = ask(&f, "Depth test", json!([])).await;
            let empty = answer(&f, &f.helper, thread, "   ", None).await;
            assert_eq!((empty.status.as_u16(), empty.code()), (422, "empty_body"));
            let other_thread = ask(&f, "Another thread", json!([])).await;
            let elsewhere = answer(&f, &f.helper, other_thread, "elsewhere", None).await;
            let foreign_parent = answer(
                &f,
                &f.helper,
                thread,
                "reply",
                elsewhere.body["id"].as_i64(),
            )
            .await;
            assert_eq!(
                (foreign_parent.status.as_u16(), foreign_parent.code()),
                (422, "invalid_parent")
            );
            let missing_parent = answer(&f, &f.helper, thread, "reply", Some(999_999)).await;
            assert_eq!(missing_parent.status, 404);

            // Replies nest at most 50 deep.
            let mut parent = None;
            for depth in 0..50 {
                let reply = answer(&f, &f.helper, thread, &format!("level {depth}"), parent).await;
                assert_eq!(reply.status, 201, "depth {depth}: {:?}", reply.body);
                parent = reply.body["id"].as_i64();
            }
            let too_deep = answer(&f, &f.helper, thread, "one more", parent).await;
            assert_eq!(
                (too_deep.status.as_u16(), too_deep.code()),
                (422, "too_deep")
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_votes_are_all_counted() {
        for_each_backend(async |db| {
            let f = forum(db).await;
            let thread = ask(&f, "Vote on me, everyone", json!([])).await;
            let mut voters = Vec::new();
            for i in 0..8 {
                let name = format!("voter{i}");
                f.api.create_user(&name, AccountRole::Member).await;
                voters.push(f.api.login(&name).await);
            }
            let path = format!("/api/v1/threads/{thread}/vote");
            let votes = voters.iter().map(|token| {
                f.api
                    .call("POST", &path, Some(token), Some(json!({"score": 1})))
            });
            for response in futures_util::future::join_all(votes).await {
                assert_eq!(response.status, 200, "{:?}", response.body);
            }
            let got = f
                .api
                .call("GET", &format!("/api/v1/threads/{thread}"), None, None)
                .await;
            assert_eq!(got.body["score"], 8);
            assert_eq!(got.body["upvotes"], 8);
        })
        .await;
    }

    /// Answers lock the thread row only to count themselves in, at the end of their
    /// transaction, so many at once must still all be counted, and the count must equal
    /// what a full recount finds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_posted_at_once_are_all_counted() {
        for_each_backend(async |db| {
            let f = forum(db.clone()).await;
            let thread = ask(&f, "Which allocator?", json!([])).await;
            let bodies: Vec<String> = (0..8).map(|i| format!("Answer number {i}.")).collect();
            let posted =
                futures_util::future::join_all(bodies.iter().enumerate().map(|(i, body)| {
                    let token = if i % 2 == 0 { &f.helper } else { &f.other };
                    answer(&f, token, thread, body, None)
                }))
                .await;
            for reply in &posted {
                assert_eq!(reply.status, 201, "{:?}", reply.body);
            }
            let got = f
                .api
                .call("GET", &format!("/api/v1/threads/{thread}"), None, None)
                .await;
            assert_eq!(got.body["answer_count"], 8, "{:?}", got.body);
            // Counted one by one, the thread holds what a full recount finds.
            let compare = async {
                crate::transaction!(&db, |conn| {
                    let counted = crate::db::thread::read_for_update(&mut conn, thread).await?;
                    let recounted =
                        crate::db::thread::refresh_answer_counts(&mut conn, thread).await?;
                    Ok::<_, crate::error::AppError>((counted, recounted))
                })
            };
            let (counted, recounted) = compare.await.expect("recount");
            assert_eq!(
                (counted.answer_count, counted.last_activity_at),
                (recounted.answer_count, recounted.last_activity_at)
            );
        })
        .await;
    }

    /// An answer stored while a moderator locks the thread is judged again once it holds
    /// the thread row, and rolled back: the lock wins, and nothing of the answer stays.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answer_racing_the_thread_lock_is_rolled_back() {
        for_each_backend(async |db| {
            let f = forum(db.clone()).await;
            let thread = ask(&f, "Locked soon?", json!([])).await;
            let (held, held_signal) = tokio::sync::oneshot::channel::<()>();
            let moderator = crate::testing::hold_thread_row_then(
                &db,
                thread,
                held,
                crate::testing::HeldThreadChange::Lock,
            );
            let late = async {
                held_signal.await.expect("the thread row is held");
                answer(&f, &f.helper, thread, "Sneaking in.", None).await
            };
            let ((), late) = tokio::join!(moderator, late);
            assert_eq!(
                (late.status.as_u16(), late.code()),
                (409, "thread_locked"),
                "{:?}",
                late.body
            );
            let got = f
                .api
                .call("GET", &format!("/api/v1/threads/{thread}"), None, None)
                .await;
            assert_eq!(got.body["answer_count"], 0, "{:?}", got.body);
            // Rows changed is portable across both backends where a SELECT's count is not.
            let stored =
                crate::testing::execute_sql(&db, "DELETE FROM answers WHERE body = 'Sneaking in.'")
                    .await;
            assert_eq!(stored, 0, "the answer was rolled back");
        })
        .await;
    }
}
