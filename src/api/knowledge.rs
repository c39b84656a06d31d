//! The knowledge base over HTTP: `GET /api/v1/kb` (solved questions with their accepted
//! answers), `/unanswered`, `/tags` and `/tags/{tag}/experts`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::MaybeAuth;
use super::threads::{AnswerView, ThreadView};
use super::{ApiPath, ApiQuery};
use crate::context::AppContext;
use crate::db::knowledge::KnowledgeSort;
use crate::error::{AppResult, ErrorBody};
use crate::service::knowledge::{self as knowledge_service, KnowledgeRequest};

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(knowledge_base))
        .routes(routes!(unanswered))
        .routes(routes!(tags))
        .routes(routes!(experts))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KnowledgeSortParam {
    /// Highest score first.
    #[default]
    Votes,
    /// Newest first.
    Recent,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KnowledgeQuery {
    /// Only this community (`name`, or `name@domain`); the whole instance if absent.
    pub community: Option<String>,
    /// Only threads with this tag.
    pub tag: Option<String>,
    /// `votes` (default) or `recent`; the unanswered queue is always oldest first.
    #[serde(default)]
    pub sort: KnowledgeSortParam,
    /// Per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_offset` of the previous page.
    pub offset: Option<i64>,
}

impl KnowledgeQuery {
    fn request(&self) -> KnowledgeRequest<'_> {
        KnowledgeRequest {
            community: self.community.as_deref(),
            tag: self.tag.as_deref(),
            sort: match self.sort {
                KnowledgeSortParam::Votes => KnowledgeSort::Votes,
                KnowledgeSortParam::Recent => KnowledgeSort::Recent,
            },
            limit: self.limit,
            offset: self.offset,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KnowledgeEntryView {
    pub thread: ThreadView,
    pub accepted_answers: Vec<AnswerView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KnowledgePageView {
    pub items: Vec<KnowledgeEntryView>,
    pub next_offset: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnansweredPageView {
    pub threads: Vec<ThreadView>,
    pub next_offset: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TagCountView {
    pub tag: String,
    /// Live threads with the tag.
    pub threads: i64,
    /// Of those, threads with an accepted answer.
    pub solved: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExpertView {
    /// `name` here, `name@domain` for people on other instances.
    pub handle: String,
    pub accepted_answers: i64,
}

/// A tag someone is an expert in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExpertiseView {
    pub tag: String,
    /// Their accepted answers in threads with this tag.
    pub accepted_answers: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommunityScope {
    /// Only this community; the whole instance if absent.
    pub community: Option<String>,
}

/// Solved questions with their accepted answers, local and federated.
#[utoipa::path(get, path = "/kb", tag = "knowledge",
    params(KnowledgeQuery),
    responses(
        (status = 200, body = KnowledgePageView),
        (status = 400, description = "Bad tag, limit or offset", body = ErrorBody),
        (status = 404, description = "No such community", body = ErrorBody),
    ))]
async fn knowledge_base(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiQuery(query): ApiQuery<KnowledgeQuery>,
) -> AppResult<Json<KnowledgePageView>> {
    let page =
        knowledge_service::solved(&ctx.db, &ctx.settings, viewer.as_ref(), query.request()).await?;
    Ok(Json(KnowledgePageView {
        items: page
            .items
            .into_iter()
            .map(|entry| KnowledgeEntryView {
                thread: entry.thread.into(),
                accepted_answers: entry.accepted.into_iter().map(AnswerView::from).collect(),
            })
            .collect(),
        next_offset: page.next_offset,
    }))
}

/// Questions nobody has answered for `knowledge.unanswered_after_hours`, oldest first.
#[utoipa::path(get, path = "/unanswered", tag = "knowledge",
    params(KnowledgeQuery),
    responses(
        (status = 200, body = UnansweredPageView),
        (status = 400, description = "Bad tag, limit or offset", body = ErrorBody),
        (status = 404, description = "No such community", body = ErrorBody),
    ))]
async fn unanswered(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiQuery(query): ApiQuery<KnowledgeQuery>,
) -> AppResult<Json<UnansweredPageView>> {
    let page =
        knowledge_service::unanswered(&ctx.db, &ctx.settings, viewer.as_ref(), query.request())
            .await?;
    Ok(Json(UnansweredPageView {
        threads: page.items.into_iter().map(ThreadView::from).collect(),
        next_offset: page.next_offset,
    }))
}

/// Tags with their thread and solved counts, most used first (at most 200).
#[utoipa::path(get, path = "/tags", tag = "knowledge",
    params(CommunityScope),
    responses(
        (status = 200, body = Vec<TagCountView>),
        (status = 404, description = "No such community", body = ErrorBody),
    ))]
async fn tags(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiQuery(scope): ApiQuery<CommunityScope>,
) -> AppResult<Json<Vec<TagCountView>>> {
    let counts = knowledge_service::tags(
        &ctx.db,
        &ctx.settings,
        viewer.as_ref(),
        scope.community.as_deref(),
    )
    .await?;
    Ok(Json(
        counts
            .into_iter()
            .map(|c| TagCountView {
                tag: c.tag,
                threads: c.threads,
                solved: c.solved,
            })
            .collect(),
    ))
}

/// The people whose answers in threads with this tag were accepted most (at most 10).
#[utoipa::path(get, path = "/tags/{tag}/experts", tag = "knowledge",
    params(("tag" = String, Path), CommunityScope),
    responses(
        (status = 200, body = Vec<ExpertView>),
        (status = 400, description = "Not a valid tag", body = ErrorBody),
        (status = 404, description = "No such community", body = ErrorBody),
    ))]
async fn experts(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(tag): ApiPath<String>,
    ApiQuery(scope): ApiQuery<CommunityScope>,
) -> AppResult<Json<Vec<ExpertView>>> {
    let found = knowledge_service::experts(
        &ctx.db,
        &ctx.settings,
        viewer.as_ref(),
        &tag,
        scope.community.as_deref(),
    )
    .await?;
    Ok(Json(
        found
            .into_iter()
            .map(|e| ExpertView {
                handle: e.handle,
                accepted_answers: e.accepted_answers,
            })
            .collect(),
    ))
}
