//! The thread page (`/t/{id}`): the question, its answers as a tree, and the forms that
//! vote, accept, answer and reply.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::EmptyForm;
use super::edit::{check_answer_edit, check_delete, check_thread_edit};
use super::page::{Layout, Web, WebForm, WebResult, capitalized};
use super::views::{date, datetime, person_url};
use crate::db::types::ThreadKind;
use crate::error::AppError;
use crate::service::threads::{self, AnswerNode, ThreadDetails, VoteTarget};

/// A failed answer or reply, shown again at the form it came from.
#[derive(Debug, Default)]
pub struct DraftState {
    /// `None`: the answer form at the bottom; `Some(id)`: the reply form under answer `id`.
    pub parent_id: Option<i64>,
    pub body: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadTemplate {
    layout: Layout,
    t: ThreadDetails,
    author_url: Option<String>,
    community_title: String,
    origin: Option<String>,
    published: String,
    published_at: String,
    is_question: bool,
    solved: bool,
    can_vote: bool,
    signed_in: bool,
    answers_html: String,
    thread_moderation_html: String,
    answer_count: i64,
    draft: DraftState,
    can_edit: bool,
    can_delete: bool,
    /// Lock and unlock: the community's moderators and staff.
    can_lock: bool,
}

impl ThreadTemplate {
    fn draft_for_answer(&self) -> bool {
        self.draft.parent_id.is_none()
    }
}

/// Everything an answer's template needs besides the answer.
struct TreeContext<'a> {
    csrf_token: &'a str,
    viewer_person: Option<i64>,
    /// The viewer may accept answers here; the page offers it on answers to the question,
    /// not on replies below them.
    can_accept: bool,
    locked: bool,
    /// The viewer moderates the community (delete anyone's answer).
    moderates: bool,
    /// The viewer is an admin (purge for good).
    purges: bool,
    draft: &'a DraftState,
}

#[derive(Template)]
#[template(path = "answer.html")]
struct AnswerTemplate<'a> {
    node: &'a AnswerNode,
    cx: &'a TreeContext<'a>,
    author_url: Option<String>,
    published: String,
    published_at: String,
    children_html: String,
    moderation_html: String,
    can_vote: bool,
    draft_here: bool,
}

impl AnswerTemplate<'_> {
    fn hidden(&self) -> bool {
        self.node.answer.deleted || self.node.answer.removed
    }

    fn can_edit(&self) -> bool {
        check_answer_edit(&self.node.answer, self.cx.locked, self.cx.viewer_person).is_ok()
    }

    fn can_delete(&self) -> bool {
        let a = &self.node.answer;
        check_delete(
            a.author_id,
            self.hidden(),
            self.cx.viewer_person,
            self.cx.moderates,
            "answer",
        )
        .is_ok()
    }
}

#[derive(Template)]
#[template(path = "moderate_post.html")]
struct ModeratePostTemplate<'a> {
    /// `t` for a thread, `r` for an answer: the URL prefix of its forms.
    kind: &'a str,
    id: i64,
    /// How the controls name the post ("thread", "answer by ann").
    what: &'a str,
    csrf: &'a str,
    can_report: bool,
    moderates: bool,
    /// The viewer is an admin, who may also purge the post for good.
    purges: bool,
    removed: bool,
    deleted: bool,
}

/// The report form for signed-in members other than the author, and remove or restore for
/// moderators.
fn moderation_controls(template: &ModeratePostTemplate<'_>) -> Result<String, AppError> {
    template.render().map_err(AppError::internal)
}

/// Renders answers bottom-up: askama templates cannot include themselves.
fn render_tree(nodes: &[AnswerNode], cx: &TreeContext<'_>) -> Result<String, AppError> {
    if nodes.is_empty() {
        return Ok(String::new());
    }
    // An answer with a member's forms is about 2.5 KB of HTML; rendered into one buffer
    // sized for them, not into a string per answer copied onto a growing one.
    let mut html = String::with_capacity(nodes.len() * 2560 + 32);
    html.push_str("<ol class=\"answers\">");
    for node in nodes {
        let a = &node.answer;
        let what = format!("answer by {}", node.author_handle);
        let template = AnswerTemplate {
            moderation_html: moderation_controls(&ModeratePostTemplate {
                kind: "r",
                id: a.id,
                what: &what,
                csrf: cx.csrf_token,
                can_report: cx
                    .viewer_person
                    .is_some_and(|p| p != a.author_id && !a.deleted && !a.removed),
                moderates: cx.moderates,
                purges: cx.purges,
                removed: a.removed,
                deleted: a.deleted,
            })?,
            children_html: render_tree(&node.children, cx)?,
            author_url: person_url(&node.author_handle, None),
            published: date(&a.published),
            published_at: datetime(&a.published),
            can_vote: cx
                .viewer_person
                .is_some_and(|p| p != a.author_id && !a.deleted && !a.removed),
            draft_here: cx.draft.parent_id == Some(a.id),
            node,
            cx,
        };
        template
            .render_into(&mut html)
            .map_err(AppError::internal)?;
    }
    html.push_str("</ol>");
    Ok(html)
}

/// Renders the thread page, with `draft` shown at its form after a failed post.
pub async fn render(web: &Web, id: i64, status: StatusCode, draft: DraftState) -> WebResult {
    let ctx = &web.ctx;
    let viewer = web.viewer();
    let (t, tree, community) = threads::get_thread_page(&ctx.db, &ctx.settings, viewer, id).await?;
    let thread = &t.thread;
    let viewer_person = viewer.map(|s| s.person.id);
    let is_question = thread.kind == ThreadKind::Question;
    let cx = TreeContext {
        csrf_token: web.csrf_token(),
        viewer_person,
        can_accept: is_question
            && !thread.deleted
            && (viewer_person == Some(thread.author_id) || community.viewer_moderates),
        locked: thread.locked,
        moderates: community.viewer_moderates,
        purges: viewer.is_some_and(|s| s.is_admin()),
        draft: &draft,
    };
    let answers_html = render_tree(&tree, &cx)?;
    let origin = (!thread.local)
        .then(|| url::Url::parse(&thread.ap_id).ok())
        .flatten()
        .and_then(|u| u.host_str().map(str::to_owned));
    let title = if thread.removed {
        "Removed thread".to_owned()
    } else if thread.deleted {
        "Deleted thread".to_owned()
    } else {
        thread.title.clone()
    };
    let thread_moderation_html = moderation_controls(&ModeratePostTemplate {
        kind: "t",
        id: thread.id,
        what: "thread",
        csrf: web.csrf_token(),
        can_report: viewer_person
            .is_some_and(|p| p != thread.author_id && !thread.deleted && !thread.removed),
        moderates: community.viewer_moderates,
        purges: viewer.is_some_and(|s| s.is_admin()),
        removed: thread.removed,
        deleted: thread.deleted,
    })?;
    let template = ThreadTemplate {
        thread_moderation_html,
        layout: web.layout(title),
        author_url: person_url(&t.author_handle, None),
        community_title: community.community.title.clone(),
        origin,
        published: date(&thread.published),
        published_at: datetime(&thread.published),
        is_question,
        solved: is_question && thread.accepted_answer_count > 0,
        can_vote: viewer_person.is_some_and(|p| p != thread.author_id)
            && !thread.deleted
            && !thread.removed,
        signed_in: viewer.is_some(),
        answers_html,
        answer_count: thread.answer_count,
        draft,
        can_edit: check_thread_edit(thread, viewer_person).is_ok(),
        can_delete: check_delete(
            thread.author_id,
            thread.deleted || thread.removed,
            viewer_person,
            community.viewer_moderates,
            "thread",
        )
        .is_ok(),
        can_lock: community.viewer_moderates && !thread.deleted,
        t,
    };
    Ok(web.render(status, &template))
}

pub async fn page(web: &Web, id: i64) -> WebResult {
    render(web, id, StatusCode::OK, DraftState::default()).await
}

#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    body: String,
    parent_id: Option<String>,
}

pub async fn answer(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<AnswerForm>,
) -> WebResult {
    let session = web.require_session()?;
    let parent_id = match form.parent_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
            AppError::bad_request("invalid_parent", "parent_id must be an answer id")
        })?),
    };
    match threads::create_answer(
        &web.ctx.db,
        &web.ctx.settings,
        session,
        id,
        &form.body,
        parent_id,
    )
    .await
    {
        Ok(created) => Ok(web.see_other(&format!("/t/{id}#r{}", created.answer.id))),
        Err(err) if matches!(err.status().as_u16(), 409 | 422) => {
            let draft = DraftState {
                parent_id,
                body: form.body,
                error: Some(capitalized(&err.message)),
            };
            render(&web, id, err.status(), draft).await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct VoteForm {
    #[serde(default)]
    score: String,
}

fn parse_score(raw: &str) -> Result<i64, AppError> {
    raw.trim()
        .parse()
        .map_err(|_| AppError::bad_request("invalid_score", "score must be 1, 0 or -1"))
}

pub async fn vote_thread(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<VoteForm>,
) -> WebResult {
    let session = web.require_session()?;
    let score = parse_score(&form.score)?;
    threads::vote(
        &web.ctx.db,
        &web.ctx.settings,
        session,
        VoteTarget::Thread(id),
        score,
    )
    .await?;
    Ok(web.see_other(&format!("/t/{id}")))
}

pub async fn vote_answer(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<VoteForm>,
) -> WebResult {
    let session = web.require_session()?;
    let score = parse_score(&form.score)?;
    threads::vote(
        &web.ctx.db,
        &web.ctx.settings,
        session,
        VoteTarget::Answer(id),
        score,
    )
    .await?;
    answer_anchor(&web, id).await
}

/// Back to the answer's place in its thread.
async fn answer_anchor(web: &Web, id: i64) -> WebResult {
    let node = threads::get_answer(&web.ctx.db, web.viewer(), id).await?;
    Ok(web.see_other(&format!("/t/{}#r{id}", node.answer.thread_id)))
}

pub async fn accept(web: Web, Path(id): Path<i64>, WebForm(_): WebForm<EmptyForm>) -> WebResult {
    set_accepted(web, id, true).await
}

pub async fn unaccept(web: Web, Path(id): Path<i64>, WebForm(_): WebForm<EmptyForm>) -> WebResult {
    set_accepted(web, id, false).await
}

async fn set_accepted(web: Web, id: i64, accepted: bool) -> WebResult {
    let session = web.require_session()?;
    threads::set_accepted(&web.ctx.db, &web.ctx.settings, session, id, accepted).await?;
    answer_anchor(&web, id).await
}
