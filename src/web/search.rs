//! The search page (`/search`): the form with its filters, results with snippets, paging.

use askama::Template;
use axum::http::{StatusCode, Uri};
use serde::Deserialize;

use super::page::{Layout, Web, WebResult, url_encode};
use super::views::{ThreadSummary, query};
use crate::service::search::{self as search_service, SearchRequest};

/// Results per page.
const PER_PAGE: i64 = 20;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    community: Option<String>,
    tag: Option<String>,
    /// `solved`, `unsolved`, or anything else for both.
    solved: Option<String>,
    /// `question`, `discussion`, or empty for both.
    kind: Option<String>,
    offset: Option<i64>,
}

/// One result as the page shows it.
pub struct Hit {
    pub thread: ThreadSummary,
    pub answer_id: Option<i64>,
    /// Already HTML-escaped by the service, the matched words in `<mark>`.
    pub snippet_html: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchTemplate {
    layout: Layout,
    q: String,
    community: String,
    tag: String,
    solved: &'static str,
    kind: &'static str,
    searched: bool,
    error: Option<String>,
    hits: Vec<Hit>,
    total: i64,
    total_capped: bool,
    offset: i64,
    next_offset: Option<i64>,
}

impl SearchTemplate {
    /// This search at another offset, every filter kept.
    fn page_url(&self, offset: i64) -> String {
        let mut url = format!("/search?q={}", url_encode(&self.q));
        for (key, value) in [
            ("community", self.community.as_str()),
            ("tag", self.tag.as_str()),
            ("solved", self.solved),
            ("kind", self.kind),
        ] {
            if !value.is_empty() {
                url.push_str(&format!("&{key}={}", url_encode(value)));
            }
        }
        if offset > 0 {
            url.push_str(&format!("&offset={offset}"));
        }
        url
    }

    fn prev_url(&self) -> Option<String> {
        (self.offset > 0).then(|| self.page_url((self.offset - PER_PAGE).max(0)))
    }

    fn next_url(&self) -> Option<String> {
        self.next_offset.map(|n| self.page_url(n))
    }

    fn results_label(&self) -> String {
        if self.total_capped {
            // Only the newest matches were ranked: there may be more than these.
            format!("{}+ results", self.total)
        } else {
            super::views::plural(self.total, "result", "results")
        }
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

pub async fn page(web: Web, uri: Uri) -> WebResult {
    let query: SearchQuery = query(&uri)?;
    let solved = match query.solved.as_deref() {
        Some("solved") => "solved",
        Some("unsolved") => "unsolved",
        _ => "",
    };
    let kind = match query.kind.as_deref() {
        Some("question") => "question",
        Some("discussion") => "discussion",
        _ => "",
    };
    let mut template = SearchTemplate {
        layout: web.layout(if query.q.trim().is_empty() {
            "Search".to_owned()
        } else {
            format!("Search: {}", query.q.trim())
        }),
        q: query.q.clone(),
        community: non_empty(&query.community).unwrap_or_default().to_owned(),
        tag: non_empty(&query.tag).unwrap_or_default().to_owned(),
        solved,
        kind,
        searched: false,
        error: None,
        hits: Vec::new(),
        total: 0,
        total_capped: false,
        offset: query.offset.unwrap_or(0),
        next_offset: None,
    };
    template.layout.search_q = query.q.clone();
    if query.q.trim().is_empty() {
        return Ok(web.render(StatusCode::OK, &template));
    }
    template.searched = true;
    let result = search_service::search(
        &web.ctx.db,
        &web.ctx.settings,
        web.viewer(),
        SearchRequest {
            q: &query.q,
            community: non_empty(&query.community),
            tag: non_empty(&query.tag),
            solved: match solved {
                "solved" => Some(true),
                "unsolved" => Some(false),
                _ => None,
            },
            kind: (!kind.is_empty()).then_some(kind),
            limit: Some(PER_PAGE),
            offset: query.offset,
            ..SearchRequest::default()
        },
    )
    .await;
    match result {
        Ok(found) => {
            template.total = found.total;
            template.total_capped = found.total_capped;
            template.next_offset = found.next_offset;
            template.hits = found
                .results
                .into_iter()
                .map(|r| Hit {
                    thread: ThreadSummary::from(&r.thread),
                    answer_id: r.answer_id,
                    snippet_html: r.snippet_html,
                })
                .collect();
            Ok(web.render(StatusCode::OK, &template))
        }
        // A refused search (too long, unknown community, bad tag) is told next to the form,
        // so it can be corrected there.
        Err(err) if err.status().is_client_error() && err.status() != StatusCode::UNAUTHORIZED => {
            let status = err.status();
            template.error = Some(super::page::capitalized(&err.message));
            Ok(web.render(status, &template))
        }
        Err(err) => Err(err.into()),
    }
}
