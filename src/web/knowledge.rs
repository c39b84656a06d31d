//! The knowledge base pages: solved questions with their accepted answers (`/kb`), the
//! unanswered queue (`/unanswered`), tags (`/tags`) and one tag with its experts
//! (`/tags/{tag}`).

use askama::Template;
use axum::extract::Path;
use axum::http::{StatusCode, Uri};
use serde::Deserialize;

use super::page::{Layout, Web, WebResult, url_encode};
use super::views::{ThreadSummary, date, datetime, person_url, query};
use crate::db::knowledge::KnowledgeSort;
use crate::service::knowledge::{self, Expert, KnowledgeEntry, KnowledgeRequest, TagCount};

/// Entries per page.
const PER_PAGE: i64 = 20;

#[derive(Debug, Default, Deserialize)]
pub struct KnowledgeQuery {
    community: Option<String>,
    tag: Option<String>,
    /// `votes` (default) or `recent`.
    sort: Option<String>,
    offset: Option<i64>,
}

impl KnowledgeQuery {
    fn community(&self) -> Option<&str> {
        self.community
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }

    fn tag(&self) -> Option<&str> {
        self.tag.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }

    fn sort(&self) -> (KnowledgeSort, &'static str) {
        match self.sort.as_deref() {
            Some("recent") => (KnowledgeSort::Recent, "recent"),
            _ => (KnowledgeSort::Votes, "votes"),
        }
    }
}

/// An accepted answer as the knowledge base shows it.
pub struct AcceptedView {
    pub id: i64,
    pub author: String,
    pub author_url: Option<String>,
    /// Sanitized when stored.
    pub body_html: String,
    pub date: String,
    pub datetime: String,
}

pub struct EntryView {
    pub thread: ThreadSummary,
    pub accepted: Vec<AcceptedView>,
}

impl From<&KnowledgeEntry> for EntryView {
    fn from(entry: &KnowledgeEntry) -> EntryView {
        EntryView {
            thread: ThreadSummary::from(&entry.thread),
            accepted: entry
                .accepted
                .iter()
                .filter(|node| !node.answer.deleted && !node.answer.removed)
                .map(|node| AcceptedView {
                    id: node.answer.id,
                    author: node.author_handle.clone(),
                    author_url: person_url(&node.author_handle, None),
                    body_html: node.answer.body_html.clone(),
                    date: date(&node.answer.published),
                    datetime: datetime(&node.answer.published),
                })
                .collect(),
        }
    }
}

/// The part of an address that keeps the community scope: `&community=...` or nothing.
fn scope_param(community: &Option<String>) -> String {
    community
        .as_deref()
        .map(|c| format!("&community={}", url_encode(c)))
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "kb.html")]
struct KbTemplate {
    layout: Layout,
    community: Option<String>,
    tag: Option<String>,
    sort: &'static str,
    entries: Vec<EntryView>,
    offset: i64,
    next_offset: Option<i64>,
}

impl KbTemplate {
    /// This listing with another sort and offset, the filters kept.
    fn url(&self, sort: &str, offset: i64) -> String {
        let mut url = format!("/kb?sort={sort}");
        if let Some(tag) = &self.tag {
            url.push_str(&format!("&tag={}", url_encode(tag)));
        }
        url.push_str(&scope_param(&self.community));
        if offset > 0 {
            url.push_str(&format!("&offset={offset}"));
        }
        url
    }

    fn sort_url(&self, sort: &str) -> String {
        self.url(sort, 0)
    }

    /// This listing without the tag filter.
    fn all_url(&self) -> String {
        format!("/kb?sort={}{}", self.sort, scope_param(&self.community))
    }

    fn prev_url(&self) -> Option<String> {
        (self.offset > 0).then(|| self.url(self.sort, (self.offset - PER_PAGE).max(0)))
    }

    fn next_url(&self) -> Option<String> {
        self.next_offset.map(|n| self.url(self.sort, n))
    }

    fn unanswered_url(&self) -> String {
        let mut url = "/unanswered".to_owned();
        let mut sep = '?';
        if let Some(tag) = &self.tag {
            url.push_str(&format!("{sep}tag={}", url_encode(tag)));
            sep = '&';
        }
        if let Some(c) = &self.community {
            url.push_str(&format!("{sep}community={}", url_encode(c)));
        }
        url
    }
}

pub async fn kb(web: Web, uri: Uri) -> WebResult {
    let query: KnowledgeQuery = query(&uri)?;
    let (sort, sort_key) = query.sort();
    let offset = query.offset.unwrap_or(0);
    let page = knowledge::solved(
        &web.ctx.db,
        &web.ctx.settings,
        web.viewer(),
        KnowledgeRequest {
            community: query.community(),
            tag: query.tag(),
            sort,
            limit: Some(PER_PAGE),
            offset: Some(offset),
        },
    )
    .await?;
    let title = match query.tag() {
        Some(tag) => format!("Knowledge base: {tag}"),
        None => "Knowledge base".to_owned(),
    };
    let template = KbTemplate {
        layout: web.layout(title),
        community: query.community().map(str::to_owned),
        tag: query.tag().map(str::to_owned),
        sort: sort_key,
        entries: page.items.iter().map(EntryView::from).collect(),
        offset,
        next_offset: page.next_offset,
    };
    Ok(web.render(StatusCode::OK, &template))
}

#[derive(Template)]
#[template(path = "unanswered.html")]
struct UnansweredTemplate {
    layout: Layout,
    community: Option<String>,
    tag: Option<String>,
    threads: Vec<ThreadSummary>,
    offset: i64,
    next_offset: Option<i64>,
}

impl UnansweredTemplate {
    fn url(&self, offset: i64) -> String {
        let mut url = format!("/unanswered?offset={offset}");
        if let Some(tag) = &self.tag {
            url.push_str(&format!("&tag={}", url_encode(tag)));
        }
        url.push_str(&scope_param(&self.community));
        url
    }

    fn prev_url(&self) -> Option<String> {
        (self.offset > 0).then(|| self.url((self.offset - PER_PAGE).max(0)))
    }

    fn next_url(&self) -> Option<String> {
        self.next_offset.map(|n| self.url(n))
    }
}

pub async fn unanswered(web: Web, uri: Uri) -> WebResult {
    let query: KnowledgeQuery = query(&uri)?;
    let offset = query.offset.unwrap_or(0);
    let page = knowledge::unanswered(
        &web.ctx.db,
        &web.ctx.settings,
        web.viewer(),
        KnowledgeRequest {
            community: query.community(),
            tag: query.tag(),
            limit: Some(PER_PAGE),
            offset: Some(offset),
            ..KnowledgeRequest::default()
        },
    )
    .await?;
    let template = UnansweredTemplate {
        layout: web.layout("Unanswered questions"),
        community: query.community().map(str::to_owned),
        tag: query.tag().map(str::to_owned),
        threads: page.items.iter().map(ThreadSummary::from).collect(),
        offset,
        next_offset: page.next_offset,
    };
    Ok(web.render(StatusCode::OK, &template))
}

#[derive(Template)]
#[template(path = "tags.html")]
struct TagsTemplate {
    layout: Layout,
    tags: Vec<TagCount>,
}

pub async fn tags(web: Web, uri: Uri) -> WebResult {
    let query: KnowledgeQuery = query(&uri)?;
    let tags = knowledge::tags(
        &web.ctx.db,
        &web.ctx.settings,
        web.viewer(),
        query.community(),
    )
    .await?;
    let template = TagsTemplate {
        layout: web.layout("Tags"),
        tags,
    };
    Ok(web.render(StatusCode::OK, &template))
}

pub struct ExpertView {
    pub handle: String,
    pub url: Option<String>,
    pub accepted_answers: i64,
}

impl From<Expert> for ExpertView {
    fn from(e: Expert) -> ExpertView {
        ExpertView {
            url: person_url(&e.handle, None),
            handle: e.handle,
            accepted_answers: e.accepted_answers,
        }
    }
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagTemplate {
    layout: Layout,
    tag: String,
    entries: Vec<EntryView>,
    experts: Vec<ExpertView>,
    next_offset: Option<i64>,
}

impl TagTemplate {
    fn more_url(&self) -> String {
        format!(
            "/kb?tag={}&offset={}",
            url_encode(&self.tag),
            self.next_offset.unwrap_or(0)
        )
    }

    fn unanswered_url(&self) -> String {
        format!("/unanswered?tag={}", url_encode(&self.tag))
    }
}

pub async fn tag(web: Web, Path(tag): Path<String>, uri: Uri) -> WebResult {
    let query: KnowledgeQuery = query(&uri)?;
    let ctx = &web.ctx;
    let page = knowledge::solved(
        &ctx.db,
        &ctx.settings,
        web.viewer(),
        KnowledgeRequest {
            community: query.community(),
            tag: Some(&tag),
            limit: Some(PER_PAGE),
            ..KnowledgeRequest::default()
        },
    )
    .await?;
    let experts = knowledge::experts(
        &ctx.db,
        &ctx.settings,
        web.viewer(),
        &tag,
        query.community(),
    )
    .await?;
    let template = TagTemplate {
        layout: web.layout(format!("Tag: {tag}")),
        entries: page.items.iter().map(EntryView::from).collect(),
        experts: experts.into_iter().map(ExpertView::from).collect(),
        next_offset: page.next_offset,
        tag,
    };
    Ok(web.render(StatusCode::OK, &template))
}
