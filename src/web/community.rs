//! The community page (`/c/{name}`, `/c/{name}@{domain}`): threads by sort and tag,
//! joining and leaving; and the form that creates a community.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::{EmptyForm, FieldErrors};
use super::page::{Layout, Web, WebForm, WebResult, url_encode};
use super::views::{ThreadSummary, person_url};
use crate::db::thread::ThreadSort;
use crate::db::types::{CommunityKind, FollowState, Visibility};
use crate::service::communities::{self, CommunityDetails, NewCommunity};
use crate::service::threads::{self, ThreadListRequest};

/// Tags offered as filters at most.
const TAG_FILTERS_MAX: usize = 20;

#[derive(Debug, Default, Deserialize)]
pub struct CommunityQuery {
    sort: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
}

/// A person on the page, linked where their profile is.
pub struct PersonLink {
    pub handle: String,
    pub url: Option<String>,
}

#[derive(Template)]
#[template(path = "community.html")]
struct CommunityTemplate {
    layout: Layout,
    c: CommunityDetails,
    /// The instance a remote community lives on.
    origin: Option<String>,
    description_html: Option<String>,
    rules_html: Option<String>,
    moderators: Vec<PersonLink>,
    threads: Vec<ThreadSummary>,
    sort: &'static str,
    tag: Option<String>,
    tags: Vec<(String, i64)>,
    next_cursor: Option<String>,
    joined: bool,
    pending: bool,
    can_post: bool,
}

const SORTS: [(&str, &str); 4] = [
    ("new", "Newest"),
    ("active", "Active"),
    ("top", "Top"),
    ("unanswered", "Unanswered"),
];

impl CommunityTemplate {
    fn sorts(&self) -> &'static [(&'static str, &'static str)] {
        &SORTS
    }

    /// This listing with another sort, the tag filter kept.
    fn sort_url(&self, sort: &str) -> String {
        let mut url = format!("/c/{}?sort={sort}", self.c.handle);
        if let Some(tag) = &self.tag {
            url.push_str(&format!("&tag={}", url_encode(tag)));
        }
        url
    }

    /// This listing filtered by `tag`, the sort kept.
    fn tag_url(&self, tag: &str) -> String {
        format!(
            "/c/{}?sort={}&tag={}",
            self.c.handle,
            self.sort,
            url_encode(tag)
        )
    }

    fn next_url(&self) -> String {
        let mut url = self.sort_url(self.sort);
        if let Some(cursor) = &self.next_cursor {
            url.push_str(&format!("&cursor={}", url_encode(cursor)));
        }
        url
    }

    fn ask_url(&self) -> String {
        format!("/ask?community={}", url_encode(&self.c.handle))
    }

    fn is_qa(&self) -> bool {
        self.c.community.kind == CommunityKind::Qa
    }

    fn visibility_note(&self) -> &'static str {
        match self.c.community.visibility {
            Visibility::Public => "",
            Visibility::Partners => "Shared with partner instances only",
            Visibility::Internal => "Internal: members of this instance only",
        }
    }
}

fn parse_sort(sort: Option<&str>) -> (ThreadSort, &'static str) {
    match sort {
        Some("active") => (ThreadSort::Active, "active"),
        Some("top") => (ThreadSort::Top, "top"),
        Some("unanswered") => (ThreadSort::Unanswered, "unanswered"),
        _ => (ThreadSort::New, "new"),
    }
}

/// The page of the community `handle` (`name` or `name@domain`).
pub async fn page(web: &Web, handle: &str, query: CommunityQuery) -> WebResult {
    let ctx = &web.ctx;
    let viewer = web.viewer();
    let (sort, sort_name) = parse_sort(query.sort.as_deref());
    let tag = query
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(threads::checked_tag)
        .transpose()?;
    let threads::CommunityPage {
        community: c,
        listing,
        moderators,
        mut tags,
    } = threads::get_community_page(
        &ctx.db,
        &ctx.settings,
        viewer,
        handle,
        ThreadListRequest {
            sort,
            tag: tag.as_deref(),
            cursor: query.cursor.as_deref().filter(|c| !c.is_empty()),
            limit: None,
        },
    )
    .await?;
    let moderators = moderators
        .into_iter()
        .map(|(person, handle)| PersonLink {
            url: person_url(&handle, Some(&person.ap_id)),
            handle,
        })
        .collect();
    tags.truncate(TAG_FILTERS_MAX);
    let origin = (!c.community.local)
        .then(|| url::Url::parse(&c.community.ap_id).ok())
        .flatten()
        .and_then(|u| u.host_str().map(str::to_owned));
    let can_post =
        viewer.is_some() && (!c.community.posting_restricted_to_mods || c.viewer_moderates);
    let template = CommunityTemplate {
        layout: web.layout(c.community.title.clone()),
        origin,
        description_html: c.community.description_html.clone(),
        rules_html: c
            .community
            .rules
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .map(crate::content::markdown_to_html),
        moderators,
        threads: listing.threads.iter().map(ThreadSummary::from).collect(),
        sort: sort_name,
        tag,
        tags,
        next_cursor: listing.next_cursor,
        joined: c.follow_state == Some(FollowState::Accepted),
        pending: c.follow_state == Some(FollowState::Pending),
        can_post,
        c,
    };
    Ok(web.render(StatusCode::OK, &template))
}

pub async fn join(
    web: Web,
    Path(handle): Path<String>,
    WebForm(_): WebForm<EmptyForm>,
) -> WebResult {
    let session = web.require_session()?;
    communities::follow(&web.ctx.db, &web.ctx.settings, session, &handle).await?;
    Ok(web.see_other(&format!("/c/{handle}")))
}

pub async fn leave(
    web: Web,
    Path(handle): Path<String>,
    WebForm(_): WebForm<EmptyForm>,
) -> WebResult {
    let session = web.require_session()?;
    communities::unfollow(&web.ctx.db, &web.ctx.settings, session, &handle).await?;
    Ok(web.see_other(&format!("/c/{handle}")))
}

#[derive(Debug, Default, Deserialize)]
pub struct NewCommunityForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub rules: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub visibility: String,
}

#[derive(Template)]
#[template(path = "community_new.html")]
struct NewCommunityTemplate {
    layout: Layout,
    form: NewCommunityForm,
    errors: FieldErrors,
}

pub async fn new_form(web: Web) -> WebResult {
    web.require_session()?;
    let template = NewCommunityTemplate {
        layout: web.layout("New community"),
        form: NewCommunityForm {
            kind: "qa".to_owned(),
            visibility: "public".to_owned(),
            ..NewCommunityForm::default()
        },
        errors: FieldErrors::default(),
    };
    Ok(web.render(StatusCode::OK, &template))
}

fn new_community_field(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_name" | "name_taken" => "name",
        "invalid_title" => "title",
        "invalid_description" => "description",
        "invalid_rules" => "rules",
        _ => return None,
    })
}

pub async fn create(web: Web, WebForm(form): WebForm<NewCommunityForm>) -> WebResult {
    let session = web.require_session()?;
    let kind = match form.kind.as_str() {
        "discussion" => CommunityKind::Discussion,
        _ => CommunityKind::Qa,
    };
    let visibility = match form.visibility.as_str() {
        "partners" => Visibility::Partners,
        "internal" => Visibility::Internal,
        _ => Visibility::Public,
    };
    let new = NewCommunity {
        name: form.name.trim().to_owned(),
        title: form.title.clone(),
        description: Some(form.description.clone()),
        rules: Some(form.rules.clone()),
        kind,
        visibility,
        posting_restricted_to_mods: false,
    };
    match communities::create(&web.ctx.db, &web.ctx.settings, session, new).await {
        Ok(created) => Ok(web.see_other(&format!("/c/{}", created.handle))),
        Err(err) if err.status().is_client_error() => {
            let template = NewCommunityTemplate {
                layout: web.layout("New community"),
                errors: FieldErrors::from_error(&err, new_community_field),
                form,
            };
            Ok(web.render(err.status(), &template))
        }
        Err(err) => Err(err.into()),
    }
}
