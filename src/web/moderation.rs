//! Moderation in the web UI: the report form and the remove / restore buttons on threads
//! and answers, the moderators' page (`/mod`: open reports, removed content, bans) and the
//! public mod log (`/modlog`), all through `service::moderation`.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use chrono::{NaiveDate, NaiveTime};
use serde::Deserialize;

use super::auth::EmptyForm;
use super::page::{Layout, Web, WebForm, WebResult};
use super::views::{date, datetime};
use crate::db::types::{ModAction, ReportStatus};
use crate::error::AppError;
use crate::service::moderation::{self, Content, LogView};

#[derive(Template)]
#[template(path = "notice.html")]
pub(crate) struct NoticeTemplate {
    pub(crate) layout: Layout,
    pub(crate) message: String,
    pub(crate) back_url: String,
    pub(crate) back_label: &'static str,
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
    /// Where to go afterwards: a path on this site (the moderation page), else the thread.
    #[serde(default)]
    next: String,
}

async fn report(web: Web, target: Content, form: ReasonForm) -> WebResult {
    let session = web.require_session()?;
    let made = moderation::report(
        &web.ctx.db,
        &web.ctx.settings,
        session,
        target,
        &form.reason,
    )
    .await?;
    let template = NoticeTemplate {
        layout: web.layout("Report sent"),
        message: "Thank you. The community's moderators will look at it.".to_owned(),
        back_url: match made.answer_id {
            Some(answer) => format!("/t/{}#r{answer}", made.thread_id),
            None => format!("/t/{}", made.thread_id),
        },
        back_label: "Back to the thread",
    };
    Ok(web.render(StatusCode::OK, &template))
}

pub async fn report_thread(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    report(web, Content::Thread(id), form).await
}

pub async fn report_answer(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    report(web, Content::Answer(id), form).await
}

/// Only same-site paths are followed, never `//host` or a full URL.
fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')).then_some(next)
}

async fn set_removed(web: Web, target: Content, removed: bool, form: ReasonForm) -> WebResult {
    let session = web.require_session()?;
    let reason = Some(form.reason.as_str()).filter(|r| !r.trim().is_empty());
    let thread = moderation::set_removed(
        &web.ctx.db,
        &web.ctx.settings,
        session,
        target,
        removed,
        reason,
    )
    .await?;
    let back = match (safe_next(&form.next), target) {
        (Some(next), _) => next.to_owned(),
        (None, Content::Answer(answer)) => format!("/t/{thread}#r{answer}"),
        (None, Content::Thread(_)) => format!("/t/{thread}"),
    };
    Ok(web.see_other(&back))
}

pub async fn remove_thread(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    set_removed(web, Content::Thread(id), true, form).await
}

pub async fn restore_thread(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    set_removed(web, Content::Thread(id), false, form).await
}

pub async fn remove_answer(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    set_removed(web, Content::Answer(id), true, form).await
}

pub async fn restore_answer(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    set_removed(web, Content::Answer(id), false, form).await
}

/// Admins purge a thread or an answer for good, then see its community or thread.
async fn purge(web: Web, target: Content, form: ReasonForm) -> WebResult {
    let next = crate::service::instance_moderation::purge(
        &web.ctx.db,
        &web.ctx.settings,
        web.require_session()?,
        target,
        &form.reason,
    )
    .await?;
    Ok(web.see_other(&next))
}

pub async fn purge_thread(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    purge(web, Content::Thread(id), form).await
}

pub async fn purge_answer(
    web: Web,
    Path(id): Path<i64>,
    WebForm(form): WebForm<ReasonForm>,
) -> WebResult {
    purge(web, Content::Answer(id), form).await
}

pub struct ReportRow {
    pub id: i64,
    pub title: String,
    pub url: String,
    pub what: &'static str,
    pub author: String,
    pub community: String,
    pub reporter: String,
    pub reason: String,
    pub excerpt: String,
    pub removed: bool,
    pub remove_action: String,
    pub published: String,
    pub published_at: String,
}

pub struct LogRow {
    pub what: String,
    pub url: String,
    pub person: String,
    pub moderator: String,
    pub community: String,
    pub reason: String,
    pub action: &'static str,
    pub thread_url: Option<String>,
    pub thread_title: String,
    pub until: String,
    pub restore_action: Option<String>,
    pub published: String,
    pub published_at: String,
}

pub struct BanRow {
    pub person: String,
    pub community: String,
    pub reason: String,
    pub until: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "mod.html")]
struct ModTemplate {
    layout: Layout,
    notice: Option<&'static str>,
    reports: Vec<ReportRow>,
    removed: Vec<LogRow>,
    bans: Vec<BanRow>,
    communities: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "resolved" => "The report was resolved.",
        "dismissed" => "The report was dismissed.",
        "banned" => "The ban is in force.",
        "lifted" => "The ban was lifted.",
        _ => return None,
    })
}

fn action_label(action: ModAction) -> &'static str {
    match action {
        ModAction::RemoveThread => "removed a thread",
        ModAction::RestoreThread => "restored a thread",
        ModAction::RemoveAnswer => "removed an answer",
        ModAction::RestoreAnswer => "restored an answer",
        ModAction::LockThread => "locked a thread",
        ModAction::UnlockThread => "unlocked a thread",
        ModAction::Ban => "banned",
        ModAction::Unban => "lifted the ban on",
        ModAction::ResolveReport => "resolved a report",
        ModAction::DismissReport => "dismissed a report",
        ModAction::AddModerator => "made moderator",
        ModAction::RemoveModerator => "removed as moderator",
        ModAction::PurgeThread => "purged a thread",
        ModAction::PurgeAnswer => "purged an answer",
        ModAction::Pin => "pinned a thread",
        ModAction::Unpin => "unpinned a thread",
    }
}

fn log_row(v: LogView) -> LogRow {
    let e = &v.entry;
    let thread_url = e.thread_id.map(|t| match e.answer_id {
        Some(a) => format!("/t/{t}#r{a}"),
        None => format!("/t/{t}"),
    });
    let restore_action = match (e.action, e.answer_id, e.thread_id) {
        (ModAction::RemoveAnswer, Some(a), _) => Some(format!("/r/{a}/restore")),
        (ModAction::RemoveThread, _, Some(t)) => Some(format!("/t/{t}/restore")),
        _ => None,
    };
    let title = v.thread_title.clone().unwrap_or_default();
    LogRow {
        what: match e.answer_id {
            Some(_) => format!("An answer in “{title}”"),
            None => format!("“{title}”"),
        },
        url: thread_url.clone().unwrap_or_default(),
        person: v.person.clone().unwrap_or_default(),
        moderator: v.moderator.clone().unwrap_or_else(|| "(gone)".to_owned()),
        community: v.community_handle.clone().unwrap_or_default(),
        reason: e.reason.clone().unwrap_or_default(),
        action: action_label(e.action),
        thread_url,
        thread_title: title,
        until: e.expires_at.as_ref().map(date).unwrap_or_default(),
        restore_action,
        published: date(&e.published),
        published_at: datetime(&e.published),
    }
}

pub async fn page(web: Web, Query(query): Query<DoneQuery>) -> WebResult {
    let session = web.require_session()?;
    let db = &web.ctx.db;
    let reports = moderation::reports(db, session, ReportStatus::Open)
        .await?
        .into_iter()
        .map(|r| {
            let (what, url, remove_action) = match r.report.answer_id {
                Some(a) => (
                    "answer",
                    format!("/t/{}#r{a}", r.report.thread_id),
                    format!("/r/{a}/remove"),
                ),
                None => (
                    "thread",
                    format!("/t/{}", r.report.thread_id),
                    format!("/t/{}/remove", r.report.thread_id),
                ),
            };
            ReportRow {
                id: r.report.id,
                title: r.thread_title,
                url,
                what,
                author: r.author,
                community: r.community_handle,
                reporter: r.reporter,
                reason: r.report.reason,
                excerpt: r.excerpt,
                removed: r.removed,
                remove_action,
                published: date(&r.report.published),
                published_at: datetime(&r.report.published),
            }
        })
        .collect();
    let removed = moderation::removed_content(db, session)
        .await?
        .into_iter()
        .map(log_row)
        .collect();
    let bans = moderation::bans(db, &web.ctx.settings, session, None)
        .await?
        .into_iter()
        .map(|b| BanRow {
            until: b
                .ban
                .expires_at
                .as_ref()
                .map(date)
                .unwrap_or_else(|| "lifted by a moderator".to_owned()),
            person: b.person,
            community: b.community_handle,
            reason: b.ban.reason,
            by: b.banned_by.unwrap_or_default(),
        })
        .collect();
    let communities = moderation::moderated_communities(db, session).await?;
    let template = ModTemplate {
        layout: web.layout("Moderation"),
        notice: notice(query.done.as_deref()),
        reports,
        removed,
        bans,
        communities,
    };
    Ok(web.render(StatusCode::OK, &template))
}

pub async fn resolve_report(
    web: Web,
    Path(id): Path<i64>,
    WebForm(_): WebForm<EmptyForm>,
) -> WebResult {
    moderation::close_report(&web.ctx.db, web.require_session()?, id, true).await?;
    Ok(web.see_other("/mod?done=resolved"))
}

pub async fn dismiss_report(
    web: Web,
    Path(id): Path<i64>,
    WebForm(_): WebForm<EmptyForm>,
) -> WebResult {
    moderation::close_report(&web.ctx.db, web.require_session()?, id, false).await?;
    Ok(web.see_other("/mod?done=dismissed"))
}

#[derive(Debug, Default, Deserialize)]
pub struct BanForm {
    #[serde(default)]
    community: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    reason: String,
    /// A date (`YYYY-MM-DD`, the end of that day in UTC), or empty.
    #[serde(default)]
    until: String,
}

/// A ban form's end date (`YYYY-MM-DD`, the end of that day in UTC); empty: none.
pub(crate) fn parse_until(text: &str) -> Result<Option<chrono::NaiveDateTime>, AppError> {
    match text.trim() {
        "" => Ok(None),
        text => {
            let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                AppError::unprocessable(
                    "invalid_date",
                    format!("`{text}` is not a date: write it as YYYY-MM-DD"),
                )
            })?;
            Ok(Some(day.and_time(
                NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default(),
            )))
        }
    }
}

pub async fn ban(web: Web, WebForm(form): WebForm<BanForm>) -> WebResult {
    let session = web.require_session()?;
    let until = parse_until(&form.until)?;
    moderation::ban(
        &web.ctx.db,
        &web.ctx.settings,
        session,
        &form.community,
        &form.person,
        &form.reason,
        until,
    )
    .await?;
    Ok(web.see_other("/mod?done=banned#bans"))
}

pub async fn lift_ban(web: Web, WebForm(form): WebForm<BanForm>) -> WebResult {
    let session = web.require_session()?;
    moderation::unban(
        &web.ctx.db,
        &web.ctx.settings,
        session,
        &form.community,
        &form.person,
    )
    .await?;
    Ok(web.see_other("/mod?done=lifted#bans"))
}

#[derive(Template)]
#[template(path = "modlog.html")]
struct ModLogTemplate {
    layout: Layout,
    community: Option<String>,
    entries: Vec<LogRow>,
    older_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ModLogQuery {
    community: Option<String>,
    before: Option<i64>,
}

/// The mod log: public for public communities, as the API's `/api/v1/modlog`.
pub async fn mod_log(web: Web, Query(query): Query<ModLogQuery>) -> WebResult {
    let community = query.community.filter(|c| !c.trim().is_empty());
    let (entries, next) = moderation::mod_log(
        &web.ctx.db,
        &web.ctx.settings,
        web.viewer(),
        community.as_deref(),
        query.before,
    )
    .await?;
    let older_url = next.map(|before| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        if let Some(c) = &community {
            url.append_pair("community", c);
        }
        url.append_pair("before", &before.to_string());
        format!("/modlog?{}", url.finish())
    });
    let title = match &community {
        Some(c) => format!("Mod log of {c}"),
        None => "Mod log".to_owned(),
    };
    let template = ModLogTemplate {
        layout: web.layout(title),
        community,
        entries: entries.into_iter().map(log_row).collect(),
        older_url,
    };
    Ok(web.render(StatusCode::OK, &template))
}
