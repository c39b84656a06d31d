//! `GET /api/v1/search`: threads and answers, local and federated, matching every word of
//! a query, with snippets.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::MaybeAuth;
use super::threads::ThreadView;
use super::{ApiPath, ApiQuery};
use crate::context::AppContext;
use crate::error::{AppResult, ErrorBody};
use crate::service::search::{self as search_service, SearchRequest};

pub fn routes() -> OpenApiRouter<AppContext> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(similar))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (every one must match; punctuation and operators are ignored). At
    /// most 10,000 characters; only the first 16 words count.
    #[serde(default)]
    pub q: String,
    /// Only this community (`name`, or `name@domain` for a remote one).
    pub community: Option<String>,
    /// Only threads with this tag.
    pub tag: Option<String>,
    /// `true`: only threads with an accepted answer; `false`: only those without.
    pub solved: Option<bool>,
    /// `question` or `discussion`.
    pub kind: Option<String>,
    /// Only this person's threads and answers: `name` (local) or `name@domain`.
    pub author: Option<String>,
    /// Only threads from this instance (a domain, with `:port` when it has one).
    pub instance: Option<String>,
    /// Published on or after: a date (`2026-11-01`, from its start, UTC) or an RFC 3339
    /// time.
    pub since: Option<String>,
    /// Published on or before: a date (through its end, UTC) or an RFC 3339 time.
    pub until: Option<String>,
    /// Results per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_offset` of the previous page.
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResultView {
    pub thread: ThreadView,
    /// The answer that matched best, when an answer did (accepted answers weigh double).
    pub answer_id: Option<i64>,
    /// The text around the matched words: HTML-escaped, the words in `<mark>`.
    pub snippet_html: String,
    /// Higher is more relevant; only comparable within one result list.
    pub relevance: f64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResultsView {
    pub results: Vec<SearchResultView>,
    /// Pass as `offset` for the next page; absent on the last one.
    pub next_offset: Option<i64>,
    /// How many threads match in all, over every page; at least that many when
    /// `total_capped`.
    pub total: i64,
    /// True when the threads or the answers matching reached the cap of what is ranked
    /// (the newest 1,000 of each): more than `total` threads may match, and adding words
    /// narrows the search to older ones.
    pub total_capped: bool,
}

/// Search threads and answers, most relevant first; solved and well-voted threads rank
/// higher among equals. Threads of `internal` communities only for signed-in members.
#[utoipa::path(get, path = "/search", tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, body = SearchResultsView),
        (status = 400, description = "Query too long; bad limit, offset, tag, kind or date", body = ErrorBody),
        (status = 404, description = "No such community, person or instance", body = ErrorBody),
    ))]
async fn search(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> AppResult<Json<SearchResultsView>> {
    let page = search_service::search(
        &ctx.db,
        &ctx.settings,
        viewer.as_ref(),
        SearchRequest {
            q: &query.q,
            community: query.community.as_deref(),
            tag: query.tag.as_deref(),
            solved: query.solved,
            kind: query.kind.as_deref(),
            author: query.author.as_deref(),
            instance: query.instance.as_deref(),
            since: query.since.as_deref(),
            until: query.until.as_deref(),
            limit: query.limit,
            offset: query.offset,
        },
    )
    .await?;
    Ok(Json(SearchResultsView {
        results: page
            .results
            .into_iter()
            .map(|r| SearchResultView {
                thread: r.thread.into(),
                answer_id: r.answer_id,
                snippet_html: r.snippet_html,
                relevance: r.relevance,
            })
            .collect(),
        next_offset: page.next_offset,
        total: page.total,
        total_capped: page.total_capped,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    /// The title being typed.
    #[serde(default)]
    pub title: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SimilarView {
    /// At most 5, solved first.
    pub threads: Vec<ThreadView>,
}

/// Threads of the community that share words with `title`, solved first: shown on the ask
/// form so a question already answered is found before it is asked again.
#[utoipa::path(get, path = "/communities/{handle}/similar", tag = "search",
    params(("handle" = String, Path), SimilarQuery),
    responses(
        (status = 200, body = SimilarView),
        (status = 400, description = "Title too long", body = ErrorBody),
        (status = 401, description = "An internal community, and not signed in", body = ErrorBody),
        (status = 404, description = "No such community", body = ErrorBody),
    ))]
async fn similar(
    State(ctx): State<AppContext>,
    MaybeAuth(viewer): MaybeAuth,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(query): ApiQuery<SimilarQuery>,
) -> AppResult<Json<SimilarView>> {
    let found = search_service::similar(
        &ctx.db,
        &ctx.settings,
        viewer.as_ref(),
        &handle,
        &query.title,
    )
    .await?;
    Ok(Json(SimilarView {
        threads: found.into_iter().map(|r| r.thread.into()).collect(),
    }))
}
