//! The home page: what this instance is, its communities, recently solved questions.

use askama::Template;
use axum::http::StatusCode;

use super::page::{Layout, Web, WebResult};
use super::views::ThreadSummary;
use crate::db::knowledge::KnowledgeSort;
use crate::service::communities::{self, CommunityDetails};
use crate::service::knowledge::{self, KnowledgeRequest};

/// Recently solved questions shown on the home page.
const RECENT_SOLVED: i64 = 10;

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate {
    layout: Layout,
    local: Vec<CommunityDetails>,
    remote: Vec<CommunityDetails>,
    solved: Vec<ThreadSummary>,
}

pub async fn home(web: Web) -> WebResult {
    let ctx = &web.ctx;
    let (local, remote) = communities::list(&ctx.db, &ctx.settings, web.viewer())
        .await?
        .into_iter()
        .filter(|c| !c.community.deleted)
        .partition(|c| c.community.local);
    let solved = knowledge::solved(
        &ctx.db,
        &ctx.settings,
        web.viewer(),
        KnowledgeRequest {
            sort: KnowledgeSort::Recent,
            limit: Some(RECENT_SOLVED),
            ..KnowledgeRequest::default()
        },
    )
    .await?
    .items
    .iter()
    .map(|entry| ThreadSummary::from(&entry.thread))
    .collect();
    let template = HomeTemplate {
        layout: web.layout(""),
        local,
        remote,
        solved,
    };
    Ok(web.render(StatusCode::OK, &template))
}
