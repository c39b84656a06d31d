//! Moderation: reports and their queue, removing and restoring content, community bans, and
//! the mod log every moderator action writes to (issue #10).
//!
//! Each action writes its log entry and its outgoing activity in the transaction that makes
//! the change, as every other write does.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::db::answer::{self, Answer};
use crate::db::community::{self, Community};
use crate::db::moderation::{self as rows, CommunityBan, ModLogEntry, NewModLogEntry, Report};
use crate::db::person::Person;
use crate::db::thread::{self, Thread};
use crate::db::types::{ModAction, ReportStatus, Visibility};
use crate::db::{Db, DbConn, community_moderator, instance};
use crate::error::{AppError, AppResult};
use crate::federation::activities;
use crate::federation::outbox::{self, new_activity_id};
use crate::service::auth::Session;
use crate::service::communities::{can_moderate, handle_of, resolve};
use crate::service::people::person_by_handle;
use crate::service::threads::{authors, refuse_if_deleted, visible_answer, visible_thread};
use crate::settings::Settings;

/// The longest reason a report, removal or ban takes, in characters.
pub const REASON_MAX_CHARS: usize = 1000;
/// Reports, bans and log entries shown at once.
pub const PAGE_SIZE: i64 = 50;

/// A thread or an answer, as moderation targets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Content {
    Thread(i64),
    Answer(i64),
}

/// A report with what a moderator needs to judge it.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub report: Report,
    pub reporter: String,
    pub community_handle: String,
    pub thread_title: String,
    /// The reported text's author.
    pub author: String,
    /// The reported text, as Markdown source (the page escapes it).
    pub excerpt: String,
    /// Whether the reported thread or answer is removed now.
    pub removed: bool,
}

/// A ban in force, with handles.
#[derive(Debug, Clone)]
pub struct BanView {
    pub ban: CommunityBan,
    pub person: String,
    pub community_handle: String,
    pub banned_by: Option<String>,
}

/// A mod log entry with handles and the title of the thread it concerns.
#[derive(Debug, Clone)]
pub struct LogView {
    pub entry: ModLogEntry,
    pub moderator: Option<String>,
    pub person: Option<String>,
    pub community_handle: Option<String>,
    pub thread_title: Option<String>,
}

pub(crate) fn clean_reason(reason: Option<&str>, required: bool) -> AppResult<Option<String>> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match reason {
        None if required => Err(AppError::unprocessable(
            "invalid_reason",
            "a reason is required: say what is wrong",
        )),
        Some(r)
            if r.chars().count() > REASON_MAX_CHARS
                || r.chars().any(|c| c.is_control() && c != '\n') =>
        {
            Err(AppError::unprocessable(
                "invalid_reason",
                format!(
                    "the reason must be at most {REASON_MAX_CHARS} characters, without control characters"
                ),
            ))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

fn moderator_required() -> AppError {
    AppError::forbidden(
        "moderator_required",
        "only this community's moderators and the instance's admins may do this",
    )
}

async fn require_moderator(
    conn: &mut DbConn<'_>,
    session: &Session,
    community_id: i64,
) -> AppResult<()> {
    if can_moderate(conn, session, community_id).await? {
        Ok(())
    } else {
        Err(moderator_required())
    }
}

/// The communities whose queue and bans the session sees: `None` is all (staff).
async fn moderated_scope(conn: &mut DbConn<'_>, session: &Session) -> AppResult<Option<Vec<i64>>> {
    if session.is_staff() {
        return Ok(None);
    }
    let ids = community_moderator::moderated_by(conn, session.person.id).await?;
    if ids.is_empty() {
        return Err(moderator_required());
    }
    Ok(Some(ids))
}

/// Refuses a person banned from the community (a ban in force: expired ones are over).
pub(crate) async fn ensure_not_banned(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
) -> AppResult<()> {
    let now = crate::db::now();
    if let Some(ban) = crate::db::instance_moderation::ban_in_force(conn, person_id, now).await? {
        return Err(banned_error(
            "this instance",
            &ban.reason,
            ban.expires_at.as_ref(),
        ));
    }
    let Some(ban) = rows::ban_in_force(conn, community_id, person_id, now).await? else {
        return Ok(());
    };
    Err(banned_error(
        "this community",
        &ban.reason,
        ban.expires_at.as_ref(),
    ))
}

/// A ban's end must lie ahead.
pub(crate) fn check_expiry(expires_at: Option<NaiveDateTime>, now: NaiveDateTime) -> AppResult<()> {
    if expires_at.is_some_and(|t| t <= now) {
        return Err(AppError::unprocessable(
            "invalid_expiry",
            "the ban's expiry must be in the future",
        ));
    }
    Ok(())
}

/// The 403 a banned person gets: from where, why and until when.
fn banned_error(from: &str, reason: &str, expires_at: Option<&NaiveDateTime>) -> AppError {
    let until = expires_at
        .map(|t| format!(" until {}", t.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    AppError::forbidden(
        "banned",
        format!("you are banned from {from}{until}{reason}"),
    )
}

/// A log entry saying `moderator` did `action` in a community; callers add what it concerns.
pub(crate) fn log_entry(
    community_id: i64,
    moderator: &Person,
    action: ModAction,
) -> NewModLogEntry {
    NewModLogEntry {
        community_id: Some(community_id),
        moderator_id: Some(moderator.id),
        action,
        person_id: None,
        thread_id: None,
        answer_id: None,
        reason: None,
        expires_at: None,
        published: crate::db::now(),
    }
}

/// Writes a mod log entry (for actions other services take: adding moderators).
pub(crate) async fn log(conn: &mut DbConn<'_>, new: NewModLogEntry) -> AppResult<ModLogEntry> {
    Ok(rows::log(conn, &new).await?)
}

/// A member reports a thread or an answer to the community's moderators. Reporting the same
/// thing again while the first report is open returns the first. Reports of content in a
/// remote community also go to that community as `Flag`.
pub async fn report(
    db: &Db,
    settings: &Settings,
    session: &Session,
    target: Content,
    reason: &str,
) -> AppResult<Report> {
    let reason = clean_reason(Some(reason), true)?.unwrap_or_default();
    crate::transaction!(db, |conn| {
        let (thread_id, answer_id, object_ap_id, group) = match target {
            Content::Thread(id) => {
                let (found, group) = visible_thread(&mut conn, Some(session), id).await?;
                (found.id, None, found.ap_id, group)
            }
            Content::Answer(id) => {
                let (found, parent) = visible_answer(&mut conn, Some(session), id).await?;
                let group = community::read(&mut conn, parent.community_id).await?;
                (parent.id, Some(found.id), found.ap_id, group)
            }
        };
        let ap_id = new_activity_id(settings, "flag")?;
        let reported = Reported {
            thread_id,
            answer_id,
            object_ap_id: &object_ap_id,
            group: &group,
        };
        file_report(
            &mut conn,
            settings,
            &session.person,
            reported,
            &reason,
            &ap_id,
        )
        .await
    })
    .inspect(|_| outbox::wake())
}

/// What a report is about.
struct Reported<'a> {
    thread_id: i64,
    answer_id: Option<i64>,
    object_ap_id: &'a str,
    group: &'a Community,
}

/// Files a report (or returns the reporter's open one about the same thing), and forwards it
/// as `Flag` when the community is remote: the one place reports are written, for our
/// members and other instances' alike.
async fn file_report(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    reporter: &Person,
    reported: Reported<'_>,
    reason: &str,
    ap_id: &str,
) -> AppResult<Report> {
    let Reported {
        thread_id,
        answer_id,
        object_ap_id,
        group,
    } = reported;
    if let Some(open) = rows::open_report_by(conn, reporter.id, thread_id, answer_id).await? {
        return Ok(open);
    }
    let created = rows::insert_report(
        conn,
        &rows::NewReport {
            ap_id,
            reporter_id: reporter.id,
            community_id: group.id,
            thread_id,
            answer_id,
            reason,
            status: ReportStatus::Open,
            published: crate::db::now(),
        },
    )
    .await?;
    activities::reported(conn, settings, ap_id, reporter, object_ap_id, group, reason).await?;
    Ok(created)
}

/// A report from another instance (`Flag`) of a thread or answer in one of our communities,
/// queued for its moderators like our members' reports. Its id is the Flag's, so a repeat
/// files nothing new.
pub async fn report_from_remote(
    db: &Db,
    settings: &Settings,
    reporter: &Person,
    group: &Community,
    target: crate::service::remote::Content,
    reason: Option<&str>,
    flag_id: &str,
) -> AppResult<Report> {
    let reason = crate::service::remote::remote_reason(reason);
    crate::transaction!(db, |conn| {
        if let Some(known) = rows::report_by_ap_id(&mut conn, flag_id).await? {
            return Ok(known);
        }
        let (thread_id, answer_id, object_ap_id) = match &target {
            crate::service::remote::Content::Thread(t) => (t.id, None, t.ap_id.clone()),
            crate::service::remote::Content::Answer(a) => {
                (a.thread_id, Some(a.id), a.ap_id.clone())
            }
        };
        let reported = Reported {
            thread_id,
            answer_id,
            object_ap_id: &object_ap_id,
            group,
        };
        file_report(&mut conn, settings, reporter, reported, &reason, flag_id).await
    })
}

/// The reports with `status` in the communities the session moderates (all for staff),
/// newest first.
pub async fn reports(
    db: &Db,
    session: &Session,
    status: ReportStatus,
) -> AppResult<Vec<ReportView>> {
    crate::with_conn!(db, |conn| {
        let scope = moderated_scope(&mut conn, session).await?;
        let found = rows::list_reports(&mut conn, status, scope.as_deref(), PAGE_SIZE).await?;
        report_views(&mut conn, found).await
    })
}

async fn report_views(conn: &mut DbConn<'_>, found: Vec<Report>) -> AppResult<Vec<ReportView>> {
    let thread_ids: Vec<i64> = found.iter().map(|r| r.thread_id).collect();
    let threads: HashMap<i64, thread::Thread> = thread::read_many(conn, &thread_ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut answers = HashMap::new();
    for id in found.iter().filter_map(|r| r.answer_id) {
        answers.insert(id, answer::read(conn, id).await?);
    }
    let mut people: Vec<i64> = found.iter().map(|r| r.reporter_id).collect();
    people.extend(threads.values().map(|t| t.author_id));
    people.extend(answers.values().map(|a| a.author_id));
    let handles = authors(conn, &people).await?;
    let communities = community_handles(conn, found.iter().map(|r| r.community_id)).await?;
    let handle = |id: i64| handles.get(&id).map(|h| h.0.clone()).unwrap_or_default();
    Ok(found
        .into_iter()
        .filter_map(|report| {
            let parent = threads.get(&report.thread_id)?;
            let (author, excerpt, removed) = match report.answer_id {
                Some(id) => {
                    let a = answers.get(&id)?;
                    (handle(a.author_id), a.body.clone(), a.removed)
                }
                None => (
                    handle(parent.author_id),
                    parent.body.clone(),
                    parent.removed,
                ),
            };
            Some(ReportView {
                reporter: handle(report.reporter_id),
                community_handle: communities
                    .get(&report.community_id)
                    .cloned()
                    .unwrap_or_default(),
                thread_title: parent.title.clone(),
                author,
                excerpt: excerpt.chars().take(500).collect(),
                removed,
                report,
            })
        })
        .collect())
}

async fn community_handles(
    conn: &mut DbConn<'_>,
    ids: impl Iterator<Item = i64>,
) -> AppResult<HashMap<i64, String>> {
    let ids: Vec<i64> = ids.collect();
    let found: Vec<Community> = community::read_many(conn, &ids).await?;
    let instance_ids: Vec<i64> = found.iter().map(|c| c.instance_id).collect();
    let domains = instance::domains(conn, &instance_ids).await?;
    Ok(found
        .into_iter()
        .map(|c| {
            let domain = domains.get(&c.instance_id).cloned().unwrap_or_default();
            (c.id, handle_of(&c.name, c.local, &domain))
        })
        .collect())
}

/// A moderator closes a report: `resolved` (acted on) or `dismissed` (nothing to do).
pub async fn close_report(
    db: &Db,
    session: &Session,
    id: i64,
    resolved: bool,
) -> AppResult<Report> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let found = rows::report(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("report_not_found", format!("no report {id}")))?;
        require_moderator(&mut conn, session, found.community_id).await?;
        let (status, action) = if resolved {
            (ReportStatus::Resolved, ModAction::ResolveReport)
        } else {
            (ReportStatus::Dismissed, ModAction::DismissReport)
        };
        let closed = rows::close_report(&mut conn, id, status, session.person.id, now)
            .await?
            .ok_or_else(|| {
                AppError::conflict(
                    "report_closed",
                    format!("report {id} was already resolved or dismissed"),
                )
            })?;
        let mut new = log_entry(found.community_id, &session.person, action);
        new.thread_id = Some(found.thread_id);
        new.answer_id = found.answer_id;
        new.reason = Some(found.reason.clone());
        rows::log(&mut conn, &new).await?;
        Ok::<_, AppError>(closed)
    })
}

/// A moderator removes a thread or an answer (`removed`), or restores it. The text is kept
/// so that a restore brings it back; it federates as Delete with the reason as `summary`, and
/// Undo of it. Returns the id of the thread concerned.
pub async fn set_removed(
    db: &Db,
    settings: &Settings,
    session: &Session,
    target: Content,
    removed: bool,
    reason: Option<&str>,
) -> AppResult<i64> {
    let reason = clean_reason(reason, false)?;
    crate::transaction!(db, |conn| {
        let (group, object_ap_id, thread_id) = match target {
            Content::Thread(id) => {
                let (found, group) = visible_thread(&mut conn, Some(session), id).await?;
                require_moderator(&mut conn, session, group.id).await?;
                refuse_if_deleted(found.deleted, "thread")?;
                check_state(found.removed, removed, "thread")?;
                apply_removal(
                    &mut conn,
                    group.id,
                    &session.person,
                    Post::Thread(&found),
                    removed,
                    reason.clone(),
                )
                .await?;
                (group, found.ap_id, found.id)
            }
            Content::Answer(id) => {
                let (found, parent) = visible_answer(&mut conn, Some(session), id).await?;
                require_moderator(&mut conn, session, parent.community_id).await?;
                refuse_if_deleted(found.deleted, "answer")?;
                check_state(found.removed, removed, "answer")?;
                apply_removal(
                    &mut conn,
                    parent.community_id,
                    &session.person,
                    Post::Answer(&found),
                    removed,
                    reason.clone(),
                )
                .await?;
                let group = community::read(&mut conn, parent.community_id).await?;
                (group, found.ap_id, parent.id)
            }
        };
        activities::moderator_removed(
            &mut conn,
            settings,
            &session.person,
            &object_ap_id,
            &group,
            reason.as_deref().unwrap_or_default(),
            !removed,
        )
        .await?;
        Ok::<_, AppError>(thread_id)
    })
    .inspect(|_| outbox::wake())
}

/// A thread or an answer, as read, for the changes moderators make to it.
pub(crate) enum Post<'a> {
    Thread(&'a Thread),
    Answer(&'a Answer),
}

/// Hides (or shows again) a post, refreshes its thread's counts and logs it: the one place a
/// removal changes rows, whether the moderator is ours or a remote one. The caller has
/// checked the moderator and that the state changes.
pub(crate) async fn apply_removal(
    conn: &mut DbConn<'_>,
    community_id: i64,
    moderator: &Person,
    post: Post<'_>,
    removed: bool,
    reason: Option<String>,
) -> AppResult<()> {
    let (action, thread_id, answer_id, author_id) = match post {
        Post::Thread(t) => {
            thread::set_removed(conn, t.id, removed).await?;
            let action = if removed {
                ModAction::RemoveThread
            } else {
                ModAction::RestoreThread
            };
            (action, t.id, None, t.author_id)
        }
        Post::Answer(a) => {
            thread::read_for_update(conn, a.thread_id).await?;
            answer::set_removed(conn, a.id, removed).await?;
            thread::refresh_answer_counts(conn, a.thread_id).await?;
            let action = if removed {
                ModAction::RemoveAnswer
            } else {
                ModAction::RestoreAnswer
            };
            (action, a.thread_id, Some(a.id), a.author_id)
        }
    };
    let mut new = log_entry(community_id, moderator, action);
    new.thread_id = Some(thread_id);
    new.answer_id = answer_id;
    new.person_id = Some(author_id);
    new.reason = reason;
    rows::log(conn, &new).await?;
    Ok(())
}

/// Locks (or unlocks) a thread and logs it, for our moderators and remote ones alike. The
/// caller has checked the moderator and that the state changes.
pub(crate) async fn apply_lock(
    conn: &mut DbConn<'_>,
    community_id: i64,
    moderator: &Person,
    found: &Thread,
    locked: bool,
    reason: Option<String>,
) -> AppResult<Thread> {
    let changed = thread::set_locked(conn, found.id, locked).await?;
    let action = if locked {
        ModAction::LockThread
    } else {
        ModAction::UnlockThread
    };
    let mut new = log_entry(community_id, moderator, action);
    new.thread_id = Some(found.id);
    new.person_id = Some(found.author_id);
    new.reason = reason;
    rows::log(conn, &new).await?;
    Ok(changed)
}

/// Pins (or unpins) a thread and logs it, for our moderators and remote ones alike. The
/// caller has checked the moderator and that the state changes.
pub(crate) async fn apply_pin(
    conn: &mut DbConn<'_>,
    community_id: i64,
    moderator: &Person,
    found: &Thread,
    pinned: bool,
) -> AppResult<Thread> {
    let changed = thread::set_pinned(conn, found.id, pinned).await?;
    let action = if pinned {
        ModAction::Pin
    } else {
        ModAction::Unpin
    };
    let mut new = log_entry(community_id, moderator, action);
    new.thread_id = Some(found.id);
    new.person_id = Some(found.author_id);
    rows::log(conn, &new).await?;
    Ok(changed)
}

fn check_state(is_removed: bool, want_removed: bool, what: &str) -> AppResult<()> {
    match (is_removed, want_removed) {
        (true, true) => Err(AppError::conflict(
            "already_removed",
            format!("this {what} is already removed"),
        )),
        (false, false) => Err(AppError::conflict(
            "not_removed",
            format!("this {what} is not removed; there is nothing to restore"),
        )),
        _ => Ok(()),
    }
}

/// A moderator bans a person from a community, with a reason and an optional expiry (a ban
/// again replaces the reason and expiry). They can no longer post, answer or vote there.
pub async fn ban(
    db: &Db,
    settings: &Settings,
    session: &Session,
    community_handle: &str,
    person_handle: &str,
    reason: &str,
    expires_at: Option<NaiveDateTime>,
) -> AppResult<BanView> {
    let reason = clean_reason(Some(reason), true)?.unwrap_or_default();
    let now = crate::db::now();
    check_expiry(expires_at, now)?;
    crate::transaction!(db, |conn| {
        let group = resolve(&mut conn, settings, Some(session), community_handle).await?;
        require_moderator(&mut conn, session, group.id).await?;
        let target = person_by_handle(&mut conn, settings, person_handle).await?;
        if target.id == session.person.id {
            return Err(AppError::conflict(
                "cannot_ban_self",
                "you cannot ban yourself",
            ));
        }
        if community_moderator::is_moderator(&mut conn, group.id, target.id).await? {
            return Err(AppError::conflict(
                "cannot_ban_moderator",
                "moderators cannot be banned from their community; remove them as moderator first",
            ));
        }
        let ban = rows::upsert_ban(
            &mut conn,
            &CommunityBan {
                community_id: group.id,
                person_id: target.id,
                reason: reason.clone(),
                expires_at,
                banned_by: Some(session.person.id),
                published: now,
            },
        )
        .await?;
        let mut new = log_entry(group.id, &session.person, ModAction::Ban);
        new.person_id = Some(target.id);
        new.reason = Some(reason.clone());
        new.expires_at = expires_at;
        rows::log(&mut conn, &new).await?;
        activities::person_banned(
            &mut conn,
            settings,
            &session.person,
            &target.ap_id,
            &group,
            Some((&reason, expires_at)),
        )
        .await?;
        let mut views = ban_views(&mut conn, vec![ban]).await?;
        views
            .pop()
            .ok_or_else(|| AppError::internal("the ban just made is gone"))
    })
    .inspect(|_| outbox::wake())
}

/// A moderator lifts a ban.
pub async fn unban(
    db: &Db,
    settings: &Settings,
    session: &Session,
    community_handle: &str,
    person_handle: &str,
) -> AppResult<()> {
    crate::transaction!(db, |conn| {
        let group = resolve(&mut conn, settings, Some(session), community_handle).await?;
        require_moderator(&mut conn, session, group.id).await?;
        let target = person_by_handle(&mut conn, settings, person_handle).await?;
        if !rows::delete_ban(&mut conn, group.id, target.id).await? {
            return Err(AppError::not_found(
                "ban_not_found",
                format!("`{person_handle}` is not banned from this community"),
            ));
        }
        let mut new = log_entry(group.id, &session.person, ModAction::Unban);
        new.person_id = Some(target.id);
        rows::log(&mut conn, &new).await?;
        activities::person_banned(
            &mut conn,
            settings,
            &session.person,
            &target.ap_id,
            &group,
            None,
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .inspect(|_| outbox::wake())
}

/// Bans in force in the communities the session moderates (all for staff), or in one.
pub async fn bans(
    db: &Db,
    settings: &Settings,
    session: &Session,
    community_handle: Option<&str>,
) -> AppResult<Vec<BanView>> {
    let now = crate::db::now();
    crate::with_conn!(db, |conn| {
        let scope = match community_handle {
            Some(handle) => {
                let group = resolve(&mut conn, settings, Some(session), handle).await?;
                require_moderator(&mut conn, session, group.id).await?;
                Some(vec![group.id])
            }
            None => moderated_scope(&mut conn, session).await?,
        };
        let found = rows::bans_in_force(&mut conn, scope.as_deref(), now).await?;
        ban_views(&mut conn, found).await
    })
}

async fn ban_views(conn: &mut DbConn<'_>, found: Vec<CommunityBan>) -> AppResult<Vec<BanView>> {
    let mut people: Vec<i64> = found.iter().map(|b| b.person_id).collect();
    people.extend(found.iter().filter_map(|b| b.banned_by));
    let handles = authors(conn, &people).await?;
    let communities = community_handles(conn, found.iter().map(|b| b.community_id)).await?;
    let handle = |id: i64| handles.get(&id).map(|h| h.0.clone()).unwrap_or_default();
    Ok(found
        .into_iter()
        .map(|ban| BanView {
            person: handle(ban.person_id),
            community_handle: communities
                .get(&ban.community_id)
                .cloned()
                .unwrap_or_default(),
            banned_by: ban.banned_by.map(handle),
            ban,
        })
        .collect())
}

/// Threads and answers removed by moderators in the communities the session moderates,
/// for the moderation page (from the log: the latest removals not restored since).
pub async fn removed_content(db: &Db, session: &Session) -> AppResult<Vec<LogView>> {
    crate::with_conn!(db, |conn| {
        let scope = moderated_scope(&mut conn, session).await?;
        let log = rows::list_log(&mut conn, scope.as_deref(), None, PAGE_SIZE * 4).await?;
        // Newest first: the first entry about an object says where it stands now.
        let mut seen = std::collections::HashSet::new();
        let mut still_removed = Vec::new();
        for e in log {
            let key = match (e.action, e.answer_id, e.thread_id) {
                (ModAction::RemoveAnswer | ModAction::RestoreAnswer, Some(a), _) => {
                    Content::Answer(a)
                }
                (ModAction::RemoveThread | ModAction::RestoreThread, _, Some(t)) => {
                    Content::Thread(t)
                }
                _ => continue,
            };
            if seen.insert(key)
                && matches!(e.action, ModAction::RemoveThread | ModAction::RemoveAnswer)
            {
                still_removed.push(e);
            }
        }
        log_views(&mut conn, still_removed).await
    })
}

/// The mod log, newest first, `PAGE_SIZE` entries before the cursor `before`. For one
/// community (its visibility rules apply), or, without one, every community the viewer may
/// see: anonymous viewers and remote servers do not see `internal` communities' entries.
pub async fn mod_log(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    community_handle: Option<&str>,
    before: Option<i64>,
) -> AppResult<(Vec<LogView>, Option<i64>)> {
    crate::with_conn!(db, |conn| {
        let scope = match community_handle {
            Some(handle) => Some(vec![resolve(&mut conn, settings, viewer, handle).await?.id]),
            None if viewer.is_some() => None,
            // Anonymous viewers see what they could read: public communities only (a
            // `partners` one needs a partner's signature, an `internal` one an account).
            None => Some(community::ids_with_visibility(&mut conn, Visibility::Public).await?),
        };
        let found = rows::list_log(&mut conn, scope.as_deref(), before, PAGE_SIZE + 1).await?;
        let more = found.len() as i64 > PAGE_SIZE;
        let page: Vec<ModLogEntry> = found.into_iter().take(PAGE_SIZE as usize).collect();
        let next = if more {
            page.last().map(|e| e.id)
        } else {
            None
        };
        Ok::<_, AppError>((log_views(&mut conn, page).await?, next))
    })
}

async fn log_views(conn: &mut DbConn<'_>, found: Vec<ModLogEntry>) -> AppResult<Vec<LogView>> {
    let mut people: Vec<i64> = found.iter().filter_map(|e| e.moderator_id).collect();
    people.extend(found.iter().filter_map(|e| e.person_id));
    let handles = authors(conn, &people).await?;
    let communities = community_handles(conn, found.iter().filter_map(|e| e.community_id)).await?;
    let thread_ids: Vec<i64> = found.iter().filter_map(|e| e.thread_id).collect();
    let titles: HashMap<i64, String> = thread::read_many(conn, &thread_ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t.title))
        .collect();
    let handle = |id: i64| handles.get(&id).map(|h| h.0.clone());
    Ok(found
        .into_iter()
        .map(|entry| LogView {
            moderator: entry.moderator_id.and_then(handle),
            person: entry.person_id.and_then(handle),
            community_handle: entry
                .community_id
                .and_then(|id| communities.get(&id).cloned()),
            thread_title: entry.thread_id.and_then(|id| titles.get(&id).cloned()),
            entry,
        })
        .collect())
}

/// Handles of the communities the session moderates, local ones first (staff: every
/// community this instance knows), for the ban form.
pub async fn moderated_communities(db: &Db, session: &Session) -> AppResult<Vec<String>> {
    crate::with_conn!(db, |conn| {
        let found: Vec<Community> = match moderated_scope(&mut conn, session).await? {
            None => community::list(&mut conn, true, 1000).await?,
            Some(ids) => community::read_many(&mut conn, &ids).await?,
        };
        let mut found: Vec<(bool, i64)> = found.iter().map(|c| (!c.local, c.id)).collect();
        found.sort();
        let handles = community_handles(&mut conn, found.iter().map(|(_, id)| *id)).await?;
        Ok::<_, AppError>(
            found
                .into_iter()
                .filter_map(|(_, id)| handles.get(&id).cloned())
                .collect(),
        )
    })
}
