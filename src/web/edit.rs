//! Changing posts after the fact: edit forms, delete confirmations, locking, edit history.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::ask::{ask_field, split_tags};
use super::auth::{EmptyForm, FieldErrors};
use super::page::{Layout, Web, WebForm, WebResult};
use super::views::{date, datetime, person_url};
use crate::content::markdown_to_html;
use crate::db::answer::Answer;
use crate::db::thread::Thread;
use crate::error::AppError;
use crate::service::communities;
use crate::service::threads::{self, AnswerNode, ThreadChanges, ThreadDetails};

// The checks below mirror `service::threads`, so that a page offers an action exactly when
// the service would take it; removed posts count as deleted because pages show them so.

fn refuse_hidden(hidden: bool, what: &str) -> Result<(), AppError> {
    if hidden {
        return Err(AppError::conflict(
            "deleted",
            format!("this {what} was deleted"),
        ));
    }
    Ok(())
}

fn refuse_locked(locked: bool) -> Result<(), AppError> {
    if locked {
        return Err(AppError::conflict(
            "thread_locked",
            "this thread is locked: it takes no new answers or edits",
        ));
    }
    Ok(())
}

/// Whether `viewer` may edit the thread (its author, while it is neither deleted nor locked).
pub(super) fn check_thread_edit(thread: &Thread, viewer: Option<i64>) -> Result<(), AppError> {
    if viewer != Some(thread.author_id) {
        return Err(AppError::forbidden(
            "not_author",
            "only the author may edit this thread",
        ));
    }
    refuse_hidden(thread.deleted || thread.removed, "thread")?;
    refuse_locked(thread.locked)
}

/// Whether `viewer` may edit the answer; `thread_locked` is its thread's state.
pub(super) fn check_answer_edit(
    answer: &Answer,
    thread_locked: bool,
    viewer: Option<i64>,
) -> Result<(), AppError> {
    if viewer != Some(answer.author_id) {
        return Err(AppError::forbidden(
            "not_author",
            "only the author may edit this answer",
        ));
    }
    refuse_hidden(answer.deleted || answer.removed, "answer")?;
    refuse_locked(thread_locked)
}

/// Whether `viewer` may delete a post by `author_id`: its author or a moderator.
pub(super) fn check_delete(
    author_id: i64,
    hidden: bool,
    viewer: Option<i64>,
    moderates: bool,
    what: &str,
) -> Result<(), AppError> {
    if viewer.is_none() || (viewer != Some(author_id) && !moderates) {
        return Err(AppError::forbidden(
            "not_allowed",
            format!("only the author or a moderator may delete this {what}"),
        ));
    }
    refuse_hidden(hidden, what)
}

/// A thread, and whether the viewer moderates its community.
async fn thread_for(web: &Web, id: i64) -> Result<(ThreadDetails, bool), AppError> {
    let ctx = &web.ctx;
    let (t, _) = threads::get_thread(&ctx.db, web.viewer(), id).await?;
    let community =
        communities::get(&ctx.db, &ctx.settings, web.viewer(), &t.community_handle).await?;
    Ok((t, community.viewer_moderates))
}

/// An answer, its thread, and whether the viewer moderates the thread's community.
async fn answer_for(web: &Web, id: i64) -> Result<(AnswerNode, ThreadDetails, bool), AppError> {
    let node = threads::get_answer(&web.ctx.db, web.viewer(), id).await?;
    let (t, moderates) = thread_for(web, node.answer.thread_id).await?;
    Ok((node, t, moderates))
}

fn answer_url(answer: &Answer) -> String {
    format!("/t/{}#r{}", answer.thread_id, answer.id)
}

#[derive(Debug, Default, Deserialize)]
pub struct ThreadEditForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    tags: String,
}

#[derive(Template)]
#[template(path = "thread_edit.html")]
struct ThreadEditTemplate {
    layout: Layout,
    action: String,
    back_url: String,
    form: ThreadEditForm,
    errors: FieldErrors,
}

/// The field errors and status of an edit form: fresh, or shown again after `refused`.
fn form_state(refused: Option<&AppError>) -> (FieldErrors, StatusCode) {
    match refused {
        Some(err) => (FieldErrors::from_error(err, ask_field), err.status()),
        None => (FieldErrors::default(), StatusCode::OK),
    }
}

fn thread_edit_page(
    web: &Web,
    id: i64,
    form: ThreadEditForm,
    refused: Option<&AppError>,
) -> Response {
    let (errors, status) = form_state(refused);
    let template = ThreadEditTemplate {
        layout: web.layout("Edit the thread"),
        action: format!("/t/{id}/edit"),
        back_url: format!("/t/{id}"),
        form,
        errors,
    };
    web.render(status, &template)
}

pub async fn edit_thread_form(web: Web, Path(id): Path<i64>) -> WebResult {
    let session = web.require_session()?;
    let (t, _) = threads::get_thread(&web.ctx.db, web.viewer(), id).await?;
    check_thread_edit(&t.thread, Some(session.person.id))?;
    let form = ThreadEditForm {
        title: t.thread.title.clone(),
        body: t.thread.body.clone(),
        tags: t.tags.join(", "),
    };
    Ok(thread_edit_page(&web, id, form, None))
}

pub async fn edit_thread(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ThreadEditForm>,
) -> WebResult {
    let session = web.require_session()?;
    let changes = ThreadChanges {
        title: Some(form.title.clone()),
        body: Some(form.body.clone()),
        tags: Some(split_tags(&form.tags)),
    };
    match threads::edit_thread(&web.ctx.db, &web.ctx.settings, session, id, changes).await {
        Ok(_) => Ok(web.see_other(&format!("/t/{id}"))),
        // Refusals the author can act on keep the draft; a 403 is the error page, since
        // someone who may not edit has no draft worth keeping.
        Err(err) if matches!(err.status().as_u16(), 409 | 422) => {
            Ok(thread_edit_page(&web, id, form, Some(&err)))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AnswerEditForm {
    #[serde(default)]
    body: String,
}

#[derive(Template)]
#[template(path = "answer_edit.html")]
struct AnswerEditTemplate {
    layout: Layout,
    action: String,
    back_url: String,
    form: AnswerEditForm,
    errors: FieldErrors,
}

fn answer_edit_page(
    web: &Web,
    answer: &Answer,
    form: AnswerEditForm,
    refused: Option<&AppError>,
) -> Response {
    let (errors, status) = form_state(refused);
    let template = AnswerEditTemplate {
        layout: web.layout("Edit your answer"),
        action: format!("/r/{}/edit", answer.id),
        back_url: answer_url(answer),
        form,
        errors,
    };
    web.render(status, &template)
}

pub async fn edit_answer_form(web: Web, Path(id): Path<i64>) -> WebResult {
    let session = web.require_session()?;
    let (node, t, _) = answer_for(&web, id).await?;
    check_answer_edit(&node.answer, t.thread.locked, Some(session.person.id))?;
    let form = AnswerEditForm {
        body: node.answer.body.clone(),
    };
    Ok(answer_edit_page(&web, &node.answer, form, None))
}

pub async fn edit_answer(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<AnswerEditForm>,
) -> WebResult {
    let session = web.require_session()?;
    match threads::edit_answer(&web.ctx.db, &web.ctx.settings, session, id, &form.body).await {
        Ok(edited) => Ok(web.see_other(&answer_url(&edited.answer))),
        Err(err) if matches!(err.status().as_u16(), 409 | 422) => {
            let node = threads::get_answer(&web.ctx.db, web.viewer(), id).await?;
            Ok(answer_edit_page(&web, &node.answer, form, Some(&err)))
        }
        Err(err) => Err(err.into()),
    }
}

/// A post about to be deleted, as its confirmation page names it.
struct DeleteTarget {
    /// `thread` or `answer`.
    what: &'static str,
    author_id: i64,
    hidden: bool,
    /// What is about to go, as the viewer knows it: a title, or whose answer.
    subject: String,
    /// What deleting does besides erasing the text.
    consequence: &'static str,
    action: String,
    cancel_url: String,
}

#[derive(Template)]
#[template(path = "confirm_delete.html")]
struct ConfirmDeleteTemplate {
    layout: Layout,
    target: DeleteTarget,
}

/// The confirmation page, refused like the delete itself would be.
fn confirm_delete(web: &Web, moderates: bool, target: DeleteTarget) -> WebResult {
    let session = web.require_session()?;
    check_delete(
        target.author_id,
        target.hidden,
        Some(session.person.id),
        moderates,
        target.what,
    )?;
    let template = ConfirmDeleteTemplate {
        layout: web.layout(format!("Delete this {}?", target.what)),
        target,
    };
    Ok(web.render(StatusCode::OK, &template))
}

pub async fn delete_thread_form(web: Web, Path(id): Path<i64>) -> WebResult {
    web.require_session()?;
    let (t, moderates) = thread_for(&web, id).await?;
    let th = &t.thread;
    let target = DeleteTarget {
        what: "thread",
        author_id: th.author_id,
        hidden: th.deleted || th.removed,
        subject: th.title.clone(),
        consequence: "Its answers stay, under a deleted question.",
        action: format!("/t/{id}/delete"),
        cancel_url: format!("/t/{id}"),
    };
    confirm_delete(&web, moderates, target)
}

pub async fn delete_thread(
    web: Web,
    Path(id): Path<i64>,
    WebForm(_): WebForm<EmptyForm>,
) -> WebResult {
    let session = web.require_session()?;
    threads::delete_thread(&web.ctx.db, &web.ctx.settings, session, id).await?;
    Ok(web.see_other(&format!("/t/{id}")))
}

pub async fn delete_answer_form(web: Web, Path(id): Path<i64>) -> WebResult {
    web.require_session()?;
    let (node, _, moderates) = answer_for(&web, id).await?;
    let a = &node.answer;
    let target = DeleteTarget {
        what: "answer",
        author_id: a.author_id,
        hidden: a.deleted || a.removed,
        subject: format!(
            "The answer by {} of {}",
            node.author_handle,
            date(&a.published)
        ),
        consequence: "Replies below it stay.",
        action: format!("/r/{id}/delete"),
        cancel_url: answer_url(a),
    };
    confirm_delete(&web, moderates, target)
}

pub async fn delete_answer(
    web: Web,
    Path(id): Path<i64>,
    WebForm(_): WebForm<EmptyForm>,
) -> WebResult {
    let session = web.require_session()?;
    let deleted = threads::delete_answer(&web.ctx.db, &web.ctx.settings, session, id).await?;
    Ok(web.see_other(&answer_url(&deleted.answer)))
}

/// A `true` / `false` form field (the two buttons of a toggle).
fn form_flag(value: &str, code: &'static str, name: &str) -> Result<bool, AppError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AppError::bad_request(
            code,
            format!("{name} must be true or false"),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct LockForm {
    #[serde(default)]
    locked: String,
}

pub async fn lock(web: Web, Path(id): Path<i64>, WebForm(form): WebForm<LockForm>) -> WebResult {
    let session = web.require_session()?;
    let locked = form_flag(&form.locked, "invalid_locked", "locked")?;
    threads::set_locked(&web.ctx.db, &web.ctx.settings, session, id, locked, None).await?;
    Ok(web.see_other(&format!("/t/{id}")))
}

#[derive(Debug, Deserialize)]
pub struct PinForm {
    #[serde(default)]
    pinned: String,
}

/// Moderators pin a thread to its community or unpin it.
pub async fn pin(web: Web, Path(id): Path<i64>, WebForm(form): WebForm<PinForm>) -> WebResult {
    let session = web.require_session()?;
    let pinned = form_flag(&form.pinned, "invalid_pinned", "pinned")?;
    threads::set_pinned(&web.ctx.db, &web.ctx.settings, session, id, pinned).await?;
    Ok(web.see_other(&format!("/t/{id}")))
}

/// A post's text at one time; `title` only for threads.
struct Text {
    title: Option<String>,
    body_html: String,
}

/// One version on the history page.
struct Version {
    label: String,
    editor: String,
    editor_url: Option<String>,
    at: String,
    at_iso: String,
    title: Option<String>,
    body_html: String,
}

/// The versions of a post, newest first. A revision row holds the text an edit replaced,
/// with who made that edit and when; so each version was written by whoever replaced the
/// one before it, and the first by the author when the post was published.
fn versions(
    author: &str,
    published: NaiveDateTime,
    current: Text,
    replaced: Vec<(Text, String, NaiveDateTime)>,
) -> Vec<Version> {
    let count = replaced.len();
    let mut written_by = (author.to_owned(), published);
    let mut out = Vec::with_capacity(count + 1);
    let texts = replaced
        .into_iter()
        .map(|(text, editor, at)| (text, Some((editor, at))))
        .chain(std::iter::once((current, None)));
    for (n, (text, replaced_by)) in texts.enumerate() {
        let label = if n == count {
            "Current version".to_owned()
        } else if n == 0 {
            "Original".to_owned()
        } else {
            format!("Version {}", n + 1)
        };
        let (editor, at) = &written_by;
        out.push(Version {
            label,
            editor_url: person_url(editor, None),
            editor: editor.clone(),
            at: at.format("%Y-%m-%d %H:%M UTC").to_string(),
            at_iso: datetime(at),
            title: text.title,
            body_html: text.body_html,
        });
        if let Some(next) = replaced_by {
            written_by = next;
        }
    }
    out.reverse();
    out
}

#[derive(Template)]
#[template(path = "revisions.html")]
struct RevisionsTemplate {
    layout: Layout,
    back_url: String,
    /// `thread` or `answer`.
    what: &'static str,
    /// A deleted post's old versions are not shown: deleting erased its text.
    hidden: bool,
    versions: Vec<Version>,
}

impl Text {
    /// A replaced version: revision rows hold Markdown source, rendered the way the service
    /// renders posts so that hostile HTML in an old version stays inert.
    fn replaced(title: Option<String>, markdown: &str) -> Text {
        Text {
            title,
            body_html: markdown_to_html(markdown),
        }
    }
}

fn history_page(
    web: &Web,
    title: String,
    back_url: String,
    what: &'static str,
    versions: Option<Vec<Version>>,
) -> WebResult {
    let template = RevisionsTemplate {
        layout: web.layout(title),
        back_url,
        what,
        hidden: versions.is_none(),
        versions: versions.unwrap_or_default(),
    };
    Ok(web.render(StatusCode::OK, &template))
}

pub async fn thread_revisions(web: Web, Path(id): Path<i64>) -> WebResult {
    let db = &web.ctx.db;
    let (t, _) = threads::get_thread(db, web.viewer(), id).await?;
    let th = &t.thread;
    if th.deleted || th.removed {
        return history_page(
            &web,
            "Edit history: Deleted thread".to_owned(),
            format!("/t/{id}"),
            "thread",
            None,
        );
    }
    let replaced = threads::thread_history(db, web.viewer(), id)
        .await?
        .into_iter()
        .map(|(v, editor)| (Text::replaced(Some(v.title), &v.body), editor, v.created_at))
        .collect();
    let current = Text {
        title: Some(th.title.clone()),
        body_html: th.body_html.clone(),
    };
    let all = versions(&t.author_handle, th.published, current, replaced);
    history_page(
        &web,
        format!("Edit history: {}", th.title),
        format!("/t/{id}"),
        "thread",
        Some(all),
    )
}

pub async fn answer_revisions(web: Web, Path(id): Path<i64>) -> WebResult {
    let db = &web.ctx.db;
    let node = threads::get_answer(db, web.viewer(), id).await?;
    let a = &node.answer;
    let title = format!("Edit history: the answer by {}", node.author_handle);
    if a.deleted || a.removed {
        return history_page(&web, title, answer_url(a), "answer", None);
    }
    let replaced = threads::answer_history(db, web.viewer(), id)
        .await?
        .into_iter()
        .map(|(v, editor)| (Text::replaced(None, &v.body), editor, v.created_at))
        .collect();
    let current = Text {
        title: None,
        body_html: a.body_html.clone(),
    };
    let all = versions(&node.author_handle, a.published, current, replaced);
    history_page(&web, title, answer_url(a), "answer", Some(all))
}

#[cfg(test)]
mod tests {
    use super::{Text, versions};

    fn at(hour: u32) -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .expect("time")
    }

    fn text(body: &str) -> Text {
        Text::replaced(None, body)
    }

    #[test]
    fn each_version_is_credited_to_whoever_replaced_the_one_before() {
        let replaced = vec![
            (text("first"), "ann".to_owned(), at(2)),
            (text("second"), "remote@far.example".to_owned(), at(3)),
        ];
        let all = versions("author", at(1), text("third"), replaced);
        let seen: Vec<(&str, &str, &str, Option<&str>)> = all
            .iter()
            .map(|v| {
                (
                    v.label.as_str(),
                    v.body_html.as_str(),
                    v.editor.as_str(),
                    v.editor_url.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (
                    "Current version",
                    "<p>third</p>\n",
                    "remote@far.example",
                    None
                ),
                ("Version 2", "<p>second</p>\n", "ann", Some("/u/ann")),
                ("Original", "<p>first</p>\n", "author", Some("/u/author")),
            ]
        );
        assert_eq!(all[0].at_iso, "2026-11-29T03:00:00Z");
        assert_eq!(all[2].at, "2026-11-29 01:00 UTC");
        let unedited = versions("author", at(1), text("only"), Vec::new());
        assert_eq!(unedited.len(), 1);
        assert_eq!(unedited[0].label, "Current version");
    }
}
