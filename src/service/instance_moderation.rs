//! Instance-wide moderation by admins: banning a person from every community here (with
//! their content removed if asked), and purging a thread or an answer for good.

use chrono::NaiveDateTime;

use crate::db::community;
use crate::db::instance_moderation::{self as rows, InstanceBan};
use crate::db::moderation::{self as mod_rows, NewModLogEntry};
use crate::db::person::Person;
use crate::db::thread;
use crate::db::types::ModAction;
use crate::db::{Db, DbConn};
use crate::error::{AppError, AppResult};
use crate::federation::{activities, outbox};
use crate::service::auth::Session;
use crate::service::moderation::{Content, Post, apply_removal, check_expiry, clean_reason};
use crate::service::people::person_by_handle;
use crate::settings::Settings;

/// An instance ban with the handles of the people concerned.
#[derive(Debug, Clone)]
pub struct InstanceBanView {
    pub ban: InstanceBan,
    pub person: String,
    pub banned_by: Option<String>,
}

/// An instance-wide log entry (no community).
fn instance_entry(admin: &Person, action: ModAction) -> NewModLogEntry {
    NewModLogEntry {
        community_id: None,
        moderator_id: Some(admin.id),
        action,
        person_id: None,
        thread_id: None,
        answer_id: None,
        reason: None,
        expires_at: None,
        published: crate::db::now(),
    }
}

async fn handle(conn: &mut DbConn<'_>, settings: &Settings, person_id: i64) -> AppResult<String> {
    let found = crate::db::person::read(conn, person_id).await?;
    let domains = crate::db::instance::domains(conn, &[found.instance_id]).await?;
    Ok(match domains.get(&found.instance_id) {
        Some(domain) if *domain != settings.domain => format!("{}@{domain}", found.name),
        _ => found.name,
    })
}

async fn ban_view(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    ban: InstanceBan,
) -> AppResult<InstanceBanView> {
    let person = handle(conn, settings, ban.person_id).await?;
    let banned_by = match ban.banned_by {
        Some(id) => Some(handle(conn, settings, id).await?),
        None => None,
    };
    Ok(InstanceBanView {
        ban,
        person,
        banned_by,
    })
}

/// Removes what `target` wrote in every community, as a moderator removal each (logged,
/// federated for our communities, restorable one by one from the moderation page).
async fn remove_everything_by(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    admin: &Person,
    target: &Person,
    reason: &str,
) -> AppResult<()> {
    let (found_threads, found_answers) = rows::live_posts_by(conn, target.id).await?;
    let mut posts: Vec<(i64, Post<'_>, &str)> = found_threads
        .iter()
        .map(|t| (t.community_id, Post::Thread(t), t.ap_id.as_str()))
        .collect();
    for found in &found_answers {
        let parent = thread::read(conn, found.thread_id).await?;
        posts.push((
            parent.community_id,
            Post::Answer(found),
            found.ap_id.as_str(),
        ));
    }
    for (community_id, post, ap_id) in posts {
        apply_removal(
            conn,
            community_id,
            admin,
            post,
            true,
            Some(reason.to_owned()),
        )
        .await?;
        let group = community::read(conn, community_id).await?;
        if group.local {
            activities::moderator_removed(conn, settings, admin, ap_id, &group, reason, false)
                .await?;
        }
    }
    Ok(())
}

/// An admin bans a person (local or remote) from every community of this instance, with a
/// reason and an optional expiry; with `remove_content`, everything they wrote here is
/// removed too. Banning again replaces the reason and expiry.
#[allow(clippy::too_many_arguments)]
pub async fn ban(
    db: &Db,
    settings: &Settings,
    session: &Session,
    person_handle: &str,
    reason: &str,
    expires_at: Option<NaiveDateTime>,
    remove_content: bool,
) -> AppResult<InstanceBanView> {
    session.require_admin()?;
    let reason = clean_reason(Some(reason), true)?.unwrap_or_default();
    let now = crate::db::now();
    check_expiry(expires_at, now)?;
    crate::transaction!(db, |conn| {
        let target = person_by_handle(&mut conn, settings, person_handle).await?;
        if target.id == session.person.id {
            return Err(AppError::conflict(
                "cannot_ban_self",
                "you cannot ban yourself",
            ));
        }
        let ban = rows::upsert_ban(
            &mut conn,
            &InstanceBan {
                person_id: target.id,
                reason: reason.clone(),
                expires_at,
                banned_by: Some(session.person.id),
                published: now,
            },
        )
        .await?;
        let mut entry = instance_entry(&session.person, ModAction::Ban);
        entry.person_id = Some(target.id);
        entry.reason = Some(reason.clone());
        entry.expires_at = expires_at;
        mod_rows::log(&mut conn, &entry).await?;
        if remove_content {
            remove_everything_by(&mut conn, settings, &session.person, &target, &reason).await?;
        }
        ban_view(&mut conn, settings, ban).await
    })
    .inspect(|_| outbox::wake())
}

/// An admin lifts an instance ban (removed content stays removed until restored).
pub async fn unban(
    db: &Db,
    settings: &Settings,
    session: &Session,
    person_handle: &str,
) -> AppResult<()> {
    session.require_admin()?;
    crate::transaction!(db, |conn| {
        let target = person_by_handle(&mut conn, settings, person_handle).await?;
        if !rows::delete_ban(&mut conn, target.id).await? {
            return Err(AppError::not_found(
                "ban_not_found",
                format!("`{person_handle}` is not banned from this instance"),
            ));
        }
        let mut entry = instance_entry(&session.person, ModAction::Unban);
        entry.person_id = Some(target.id);
        mod_rows::log(&mut conn, &entry).await?;
        Ok::<_, AppError>(())
    })
}

/// Instance bans in force, newest first (staff).
pub async fn bans(
    db: &Db,
    settings: &Settings,
    session: &Session,
) -> AppResult<Vec<InstanceBanView>> {
    session.require_staff()?;
    let now = crate::db::now();
    crate::with_conn!(db, |conn| {
        let found = rows::bans_in_force(&mut conn, now).await?;
        let mut views = Vec::with_capacity(found.len());
        for ban in found {
            views.push(ban_view(&mut conn, settings, ban).await?);
        }
        Ok::<_, AppError>(views)
    })
}

/// An admin deletes a thread (with its answers) or an answer (with its replies) for good:
/// nothing is kept to restore. Content of our communities is removed on the other
/// instances first (a moderator Delete), since after the purge nothing refers to it. The
/// log keeps who, why, and the thread's title. Returns where to go next: the thread of a
/// purged answer, or the community of a purged thread (its page path).
pub async fn purge(
    db: &Db,
    settings: &Settings,
    session: &Session,
    target: Content,
    reason: &str,
) -> AppResult<String> {
    session.require_admin()?;
    let reason = clean_reason(Some(reason), true)?.unwrap_or_default();
    crate::transaction!(db, |conn| {
        let (ap_id, thread_found, answer_id, author_id) = match target {
            Content::Thread(id) => {
                let found = thread::read(&mut conn, id)
                    .await
                    .map_err(|e| not_found_as(e, "thread"))?;
                (found.ap_id.clone(), found.clone(), None, found.author_id)
            }
            Content::Answer(id) => {
                let found = crate::db::answer::read(&mut conn, id)
                    .await
                    .map_err(|e| not_found_as(e, "answer"))?;
                let parent = thread::read(&mut conn, found.thread_id).await?;
                (found.ap_id, parent, Some(found.id), found.author_id)
            }
        };
        let group = community::read(&mut conn, thread_found.community_id).await?;
        if group.local {
            activities::moderator_removed(
                &mut conn,
                settings,
                &session.person,
                &ap_id,
                &group,
                &reason,
                false,
            )
            .await?;
        }
        let action = if answer_id.is_some() {
            ModAction::PurgeAnswer
        } else {
            ModAction::PurgeThread
        };
        let mut entry = instance_entry(&session.person, action);
        entry.community_id = Some(group.id);
        entry.person_id = Some(author_id);
        entry.reason = Some(format!("{reason} (\u{201c}{}\u{201d})", thread_found.title));
        if answer_id.is_some() {
            // The thread stays, so the entry can point at it.
            entry.thread_id = Some(thread_found.id);
        }
        mod_rows::log(&mut conn, &entry).await?;
        match answer_id {
            Some(id) => {
                thread::read_for_update(&mut conn, thread_found.id).await?;
                rows::purge_answer(&mut conn, id).await?;
                thread::refresh_answer_counts(&mut conn, thread_found.id).await?;
                Ok::<_, AppError>(format!("/t/{}", thread_found.id))
            }
            None => {
                rows::purge_thread(&mut conn, thread_found.id).await?;
                let domains = crate::db::instance::domains(&mut conn, &[group.instance_id]).await?;
                let domain = domains.get(&group.instance_id).cloned().unwrap_or_default();
                Ok(format!(
                    "/c/{}",
                    crate::service::communities::handle_of(&group.name, group.local, &domain)
                ))
            }
        }
    })
    .inspect(|_| outbox::wake())
}

fn not_found_as(err: diesel::result::Error, what: &'static str) -> AppError {
    match err {
        diesel::result::Error::NotFound => AppError::not_found(
            if what == "thread" {
                "thread_not_found"
            } else {
                "answer_not_found"
            },
            format!("no {what} has this id"),
        ),
        other => AppError::from(other),
    }
}
