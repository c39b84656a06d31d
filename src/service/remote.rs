//! The inbox's write path: what verified activities of remote actors change here (their
//! threads, answers, votes, accepted answers, deletions and follows), each in one
//! transaction together with the group's Announce of it when the group is ours.

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::db::answer::{self, Answer, AnswerInsertForm};
use crate::db::community::Community;
use crate::db::person::Person;
use crate::db::thread::{self, Thread, ThreadInsertForm};
use crate::db::types::{CommunityKind, FollowState, ModAction, ThreadKind, Visibility};
use crate::db::{Db, community_follow, community_moderator, revision, tag, vote};
use crate::error::{AppError, AppResult};
use crate::federation::{activities, outbox};
use crate::service::moderation;
use crate::service::threads::{BODY_MAX_CHARS, MAX_DEPTH, MAX_TAGS, VoteTarget};
use crate::settings::Settings;

/// A thread or answer as received, already converted to our fields.
#[derive(Debug, Clone)]
pub struct RemotePost {
    pub ap_id: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Sanitized HTML.
    pub body_html: String,
    pub tags: Vec<String>,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
}

fn refused(code: &'static str, message: &str) -> AppError {
    AppError::forbidden(code, message.to_owned())
}

/// Whether a local group takes activities from a person on another instance: a `public`
/// one from anyone this instance federates with, a `partners` one only from partner
/// domains, an `internal` one from nobody.
pub async fn ensure_takes_from(
    conn: &mut crate::db::DbConn<'_>,
    group: &Community,
    person: &Person,
) -> AppResult<()> {
    if !group.local {
        return Ok(());
    }
    match group.visibility {
        Visibility::Public => Ok(()),
        Visibility::Internal => Err(refused(
            "community_not_federated",
            "this community takes nothing from other instances",
        )),
        Visibility::Partners => {
            let authority = url::Url::parse(&person.ap_id)
                .map(|u| crate::federation::actor::authority(&u).to_ascii_lowercase())
                .unwrap_or_default();
            let standing = crate::db::federation_policy::standing(conn, &authority).await?;
            if standing == crate::db::federation_policy::DomainStanding::Partner {
                Ok(())
            } else {
                Err(refused(
                    "not_a_partner",
                    "this community is shared with partner instances only",
                ))
            }
        }
    }
}

fn check_size(post: &RemotePost) -> AppResult<()> {
    if post.body.chars().count() > BODY_MAX_CHARS {
        return Err(AppError::unprocessable(
            "body_too_long",
            format!("a body may be at most {BODY_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Announces `activity` when the group is ours (FEP-1b12: forwarded unchanged).
async fn announce_if_local(
    conn: &mut crate::db::DbConn<'_>,
    settings: &Settings,
    group: &Community,
    activity: Option<&Value>,
) -> AppResult<()> {
    match activity {
        Some(activity) if group.local => {
            outbox::announce(conn, settings, group, activity.clone()).await
        }
        _ => Ok(()),
    }
}

/// Is `person` allowed to moderate `group` as far as we know: a moderator we store, or an
/// actor on the group's own server (spec §6.1 rule 8: the group's server vouches).
async fn moderates(
    conn: &mut crate::db::DbConn<'_>,
    group: &Community,
    person: &Person,
) -> AppResult<bool> {
    if !group.local && person.instance_id == group.instance_id {
        return Ok(true);
    }
    Ok(community_moderator::is_moderator(conn, group.id, person.id).await?)
}

/// Refuses `person` unless they may moderate `group` (see `moderates`); `what` completes
/// "only the community's moderators may …".
async fn ensure_moderates(
    conn: &mut crate::db::DbConn<'_>,
    group: &Community,
    person: &Person,
    what: &str,
) -> AppResult<()> {
    if moderates(conn, group, person).await? {
        Ok(())
    } else {
        Err(refused(
            "moderator_required",
            &format!("only the community's moderators may {what}"),
        ))
    }
}

/// Whether `person` may moderate the remote `group` as far as we know (see `moderates`).
pub async fn may_moderate(db: &Db, group: &Community, person: &Person) -> AppResult<bool> {
    crate::with_conn!(db, |conn| moderates(&mut conn, group, person).await)
}

/// A new or edited thread. New threads into our groups must respect the group's rules;
/// an edit only by the author (or the group's server), and never older over newer.
pub async fn store_thread(
    db: &Db,
    settings: &Settings,
    group: &Community,
    author: &Person,
    actor: &Person,
    post: RemotePost,
    activity: Option<&Value>,
) -> AppResult<Thread> {
    check_size(&post)?;
    let now = crate::db::now();
    let result = crate::transaction!(db, |conn| {
        if let Some(existing) = thread::read_by_ap_id(&mut conn, &post.ap_id).await? {
            if existing.local {
                return Ok(existing);
            }
            if existing.author_id != actor.id && !moderates(&mut conn, group, actor).await? {
                return Err(refused(
                    "not_author",
                    "only the author may edit this thread",
                ));
            }
            if existing.deleted || existing.removed {
                return Ok(existing);
            }
            let newer = match (post.updated, existing.updated) {
                (Some(new), Some(old)) => new > old,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !newer {
                return Ok(existing);
            }
            revision::save_thread_version(
                &mut conn,
                existing.id,
                actor.id,
                &existing.title,
                &existing.body,
                now,
            )
            .await?;
            let updated = thread::update_text(
                &mut conn,
                existing.id,
                &post.title,
                &post.body,
                &post.body_html,
                post.updated.unwrap_or(now),
            )
            .await?;
            tag::set_thread_tags(&mut conn, updated.id, &post.tags, now).await?;
            announce_if_local(&mut conn, settings, group, activity).await?;
            return Ok(updated);
        }
        if group.local {
            crate::service::moderation::ensure_not_banned(&mut conn, group.id, author.id).await?;
            ensure_takes_from(&mut conn, group, author).await?;
            if group.posting_restricted_to_mods && !moderates(&mut conn, group, author).await? {
                return Err(refused(
                    "posting_restricted",
                    "only moderators may start threads in this community",
                ));
            }
        }
        let kind = match group.kind {
            CommunityKind::Qa => ThreadKind::Question,
            CommunityKind::Discussion => ThreadKind::Discussion,
        };
        let inserted = thread::insert(
            &mut conn,
            &ThreadInsertForm {
                ap_id: post.ap_id.clone(),
                local: false,
                community_id: group.id,
                author_id: author.id,
                kind,
                title: post.title.clone(),
                body: post.body.clone(),
                body_html: post.body_html.clone(),
                last_activity_at: post.published,
                published: post.published,
            },
        )
        .await?;
        tag::set_thread_tags(&mut conn, inserted.id, &post.tags, now).await?;
        announce_if_local(&mut conn, settings, group, activity).await?;
        Ok::<_, AppError>(inserted)
    });
    outbox::wake();
    result
}

/// A new or edited answer to `parent_thread` (below `parent` when it replies to an answer).
#[allow(clippy::too_many_arguments)]
pub async fn store_answer(
    db: &Db,
    settings: &Settings,
    group: &Community,
    parent_thread: &Thread,
    parent: Option<&Answer>,
    author: &Person,
    actor: &Person,
    post: RemotePost,
    activity: Option<&Value>,
) -> AppResult<Answer> {
    check_size(&post)?;
    let now = crate::db::now();
    let result = crate::transaction!(db, |conn| {
        if let Some(existing) = answer::read_by_ap_id(&mut conn, &post.ap_id).await? {
            if existing.local {
                return Ok(existing);
            }
            if existing.author_id != actor.id && !moderates(&mut conn, group, actor).await? {
                return Err(refused(
                    "not_author",
                    "only the author may edit this answer",
                ));
            }
            let newer = match (post.updated, existing.updated) {
                (Some(new), Some(old)) => new > old,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if existing.deleted || existing.removed || !newer {
                return Ok(existing);
            }
            revision::save_answer_version(&mut conn, existing.id, actor.id, &existing.body, now)
                .await?;
            let updated = answer::update_body(
                &mut conn,
                existing.id,
                &post.body,
                &post.body_html,
                post.updated.unwrap_or(now),
            )
            .await?;
            announce_if_local(&mut conn, settings, group, activity).await?;
            return Ok(updated);
        }
        refuse_answer_to(parent_thread, group)?;
        if group.local {
            crate::service::moderation::ensure_not_banned(&mut conn, group.id, author.id).await?;
        }
        let depth = parent.map_or(0, |p| p.depth + 1);
        if depth >= MAX_DEPTH {
            return Err(AppError::unprocessable(
                "too_deep",
                format!("replies nest at most {MAX_DEPTH} levels deep"),
            ));
        }
        let inserted = answer::insert(
            &mut conn,
            &AnswerInsertForm {
                ap_id: post.ap_id.clone(),
                local: false,
                thread_id: parent_thread.id,
                parent_id: parent.map(|p| p.id),
                author_id: author.id,
                depth,
                body: post.body.clone(),
                body_html: post.body_html.clone(),
                published: post.published,
            },
        )
        .await?;
        announce_if_local(&mut conn, settings, group, activity).await?;
        // The thread row is locked last, so concurrent answers to one thread insert in
        // parallel and hold the lock only to count it and to commit. Deleted or
        // locked while this one was being stored: judged again on the locked row, and the
        // error rolls the answer back.
        let locked = thread::read_for_update(&mut conn, parent_thread.id).await?;
        refuse_answer_to(&locked, group)?;
        thread::count_new_answer(&mut conn, &locked, inserted.published).await?;
        Ok::<_, AppError>(inserted)
    });
    outbox::wake();
    result
}

/// Whether a remote answer may join the thread: not once it is deleted or removed, nor,
/// in a group of this server, once it is locked.
fn refuse_answer_to(thread: &Thread, group: &Community) -> AppResult<()> {
    if thread.deleted || thread.removed {
        return Err(AppError::conflict("deleted", "the thread was deleted"));
    }
    if thread.locked && group.local {
        return Err(AppError::conflict(
            "thread_locked",
            "this thread is locked: it takes no new answers",
        ));
    }
    Ok(())
}

/// A remote vote (+1, -1, or 0 to take it back). Nobody votes on their own writing.
#[allow(clippy::too_many_arguments)]
pub async fn set_vote(
    db: &Db,
    settings: &Settings,
    group: &Community,
    target: VoteTarget,
    voter: &Person,
    score: i64,
    vote_ap_id: Option<&str>,
    activity: Option<&Value>,
) -> AppResult<()> {
    let now = crate::db::now();
    let result = crate::transaction!(db, |conn| {
        let (author_id, thread_id) = match target {
            VoteTarget::Thread(id) => {
                let t = thread::read(&mut conn, id).await?;
                (t.author_id, t.id)
            }
            VoteTarget::Answer(id) => {
                let a = answer::read(&mut conn, id).await?;
                (a.author_id, a.thread_id)
            }
        };
        if author_id == voter.id {
            return Ok(());
        }
        if group.local && score != 0 {
            crate::service::moderation::ensure_not_banned(&mut conn, group.id, voter.id).await?;
        }
        thread::read_for_update(&mut conn, thread_id).await?;
        match target {
            VoteTarget::Thread(id) => {
                vote::set_thread_vote(&mut conn, id, voter.id, score, vote_ap_id, now).await?;
                thread::refresh_score(&mut conn, id).await?;
            }
            VoteTarget::Answer(id) => {
                vote::set_answer_vote(&mut conn, id, voter.id, score, vote_ap_id, now).await?;
                answer::refresh_score(&mut conn, id).await?;
            }
        }
        announce_if_local(&mut conn, settings, group, activity).await?;
        Ok::<_, AppError>(())
    });
    outbox::wake();
    result
}

/// `ChooseAnswer` or its `Undo`: allowed for the asker, the group's moderators (or its
/// server) and nobody else (spec §12).
pub async fn set_accepted(
    db: &Db,
    settings: &Settings,
    group: &Community,
    chosen: &Answer,
    chooser: &Person,
    accepted: bool,
    activity: Option<&Value>,
) -> AppResult<()> {
    let now = crate::db::now();
    let result = crate::transaction!(db, |conn| {
        let parent_thread = thread::read_for_update(&mut conn, chosen.thread_id).await?;
        if parent_thread.author_id != chooser.id && !moderates(&mut conn, group, chooser).await? {
            return Err(refused(
                "not_allowed",
                "only the asker or a moderator may accept answers",
            ));
        }
        if parent_thread.kind != ThreadKind::Question || chosen.deleted {
            return Ok(());
        }
        if chosen.accepted != accepted {
            answer::set_accepted(&mut conn, chosen.id, accepted, now).await?;
            thread::refresh_answer_counts(&mut conn, parent_thread.id).await?;
        }
        announce_if_local(&mut conn, settings, group, activity).await?;
        Ok::<_, AppError>(())
    });
    outbox::wake();
    result
}

/// A thread or an answer, as activities name them.
#[derive(Debug, Clone)]
pub enum Content {
    Thread(Thread),
    Answer(Answer),
}

/// A remote moderator removes (or restores) a thread or an answer: hidden with its text
/// kept, logged in our mod log under their name, and announced when the group is ours.
#[allow(clippy::too_many_arguments)]
pub async fn set_removed(
    db: &Db,
    settings: &Settings,
    group: &Community,
    target: Content,
    moderator: &Person,
    removed: bool,
    reason: Option<&str>,
    activity: Option<&Value>,
) -> AppResult<()> {
    let result = crate::transaction!(db, |conn| {
        ensure_moderates(&mut conn, group, moderator, "remove or restore posts").await?;
        let post = match &target {
            Content::Thread(t) if !t.deleted && t.removed != removed => moderation::Post::Thread(t),
            Content::Answer(a) if !a.deleted && a.removed != removed => moderation::Post::Answer(a),
            _ => return Ok(()),
        };
        let reason = reason.map(str::to_owned);
        moderation::apply_removal(&mut conn, group.id, moderator, post, removed, reason).await?;
        announce_if_local(&mut conn, settings, group, activity).await?;
        Ok::<_, AppError>(())
    });
    outbox::wake();
    result
}

/// A remote moderator locks (or unlocks) a thread; logged and announced like a removal.
#[allow(clippy::too_many_arguments)]
pub async fn set_locked(
    db: &Db,
    settings: &Settings,
    group: &Community,
    found: &Thread,
    moderator: &Person,
    locked: bool,
    reason: Option<&str>,
    activity: Option<&Value>,
) -> AppResult<()> {
    let result = crate::transaction!(db, |conn| {
        ensure_moderates(&mut conn, group, moderator, "lock threads").await?;
        let current = thread::read_for_update(&mut conn, found.id).await?;
        if current.deleted || current.locked == locked {
            return Ok(());
        }
        let reason = reason.map(str::to_owned);
        moderation::apply_lock(&mut conn, group.id, moderator, &current, locked, reason).await?;
        announce_if_local(&mut conn, settings, group, activity).await?;
        Ok::<_, AppError>(())
    });
    outbox::wake();
    result
}

/// A remote group's moderator bans `person` (a reason and an end when given) or, with
/// `ban` `None`, lifts the ban: kept as our own ban of that community, so `ensure_not_banned`
/// refuses the person there, and logged under the remote moderator's name.
pub async fn set_banned(
    db: &Db,
    group: &Community,
    moderator: &Person,
    person: &Person,
    ban: Option<(Option<&str>, Option<NaiveDateTime>)>,
) -> AppResult<()> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        ensure_moderates(&mut conn, group, moderator, "ban from it").await?;
        let mut entry = match ban {
            Some((reason, expires_at)) => {
                let reason = remote_reason(reason);
                crate::db::moderation::upsert_ban(
                    &mut conn,
                    &crate::db::moderation::CommunityBan {
                        community_id: group.id,
                        person_id: person.id,
                        reason: reason.clone(),
                        expires_at,
                        banned_by: Some(moderator.id),
                        published: now,
                    },
                )
                .await?;
                let mut entry = moderation::log_entry(group.id, moderator, ModAction::Ban);
                entry.reason = Some(reason).filter(|r| !r.is_empty());
                entry.expires_at = expires_at;
                entry
            }
            None => {
                if !crate::db::moderation::delete_ban(&mut conn, group.id, person.id).await? {
                    return Ok(());
                }
                moderation::log_entry(group.id, moderator, ModAction::Unban)
            }
        };
        entry.person_id = Some(person.id);
        moderation::log(&mut conn, entry).await?;
        Ok::<_, AppError>(())
    })
}

/// A remote group's moderator pins (features) or unpins one of its threads; logged.
pub async fn set_pinned(
    db: &Db,
    group: &Community,
    moderator: &Person,
    found: &Thread,
    pinned: bool,
) -> AppResult<()> {
    crate::transaction!(db, |conn| {
        ensure_moderates(&mut conn, group, moderator, "pin threads").await?;
        let current = thread::read_for_update(&mut conn, found.id).await?;
        if current.deleted || current.pinned == pinned {
            return Ok(());
        }
        moderation::apply_pin(&mut conn, group.id, moderator, &current, pinned).await?;
        Ok::<_, AppError>(())
    })
}

/// A remote group's moderator adds `person` to its moderators, or removes them: our copy of
/// the list follows (it decides whose moderation of that community we accept), logged.
pub async fn set_moderator(
    db: &Db,
    group: &Community,
    moderator: &Person,
    person: &Person,
    added: bool,
) -> AppResult<()> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        ensure_moderates(&mut conn, group, moderator, "change its moderators").await?;
        let is = community_moderator::is_moderator(&mut conn, group.id, person.id).await?;
        let action = match (added, is) {
            (true, false) => {
                community_moderator::add(&mut conn, group.id, person.id, now).await?;
                ModAction::AddModerator
            }
            (false, true) => {
                community_moderator::remove(&mut conn, group.id, person.id).await?;
                ModAction::RemoveModerator
            }
            _ => return Ok(()),
        };
        let mut entry = moderation::log_entry(group.id, moderator, action);
        entry.person_id = Some(person.id);
        moderation::log(&mut conn, entry).await?;
        Ok::<_, AppError>(())
    })
}

/// A reason given by another server, made fit to show: control characters become spaces,
/// at most `REASON_MAX_CHARS` characters, trimmed.
pub fn remote_reason(reason: Option<&str>) -> String {
    reason
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .take(moderation::REASON_MAX_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A `Delete` by the author, or (with the group's authority) a moderator.
pub async fn delete(
    db: &Db,
    settings: &Settings,
    group: &Community,
    target: Content,
    actor: &Person,
    activity: Option<&Value>,
) -> AppResult<()> {
    let now = crate::db::now();
    let result = crate::transaction!(db, |conn| {
        let author_id = match &target {
            Content::Thread(t) => t.author_id,
            Content::Answer(a) => a.author_id,
        };
        if author_id != actor.id && !moderates(&mut conn, group, actor).await? {
            return Err(refused(
                "not_allowed",
                "only the author or a moderator may delete this",
            ));
        }
        match &target {
            Content::Thread(t) if !t.deleted => {
                thread::mark_deleted(&mut conn, t.id, now).await?;
            }
            Content::Answer(a) if !a.deleted => {
                thread::read_for_update(&mut conn, a.thread_id).await?;
                answer::mark_deleted(&mut conn, a.id, now).await?;
                thread::refresh_answer_counts(&mut conn, a.thread_id).await?;
            }
            _ => return Ok(()),
        }
        announce_if_local(&mut conn, settings, group, activity).await?;
        Ok::<_, AppError>(())
    });
    outbox::wake();
    result
}

/// A remote `Follow` of one of our groups: public groups (and `partners` ones, for partner
/// domains) accept at once and answer with `Accept`; others are not followed from outside.
pub async fn follow_local_group(
    db: &Db,
    settings: &Settings,
    group: &Community,
    follower: &Person,
    follow: &Value,
) -> AppResult<()> {
    if !group.local {
        return Err(refused(
            "community_not_federated",
            "this community cannot be followed from other instances",
        ));
    }
    let now = crate::db::now();
    let follow_id = follow.get("id").and_then(Value::as_str).unwrap_or_default();
    let result = crate::transaction!(db, |conn| {
        ensure_takes_from(&mut conn, group, follower).await?;
        let row =
            community_follow::upsert(&mut conn, group.id, follower.id, FollowState::Accepted, now)
                .await?;
        community_follow::set_follow_ap_id(&mut conn, row.id, follow_id).await?;
        activities::accept_follow(&mut conn, settings, group, follower, follow.clone()).await?;
        Ok::<_, AppError>(())
    });
    outbox::wake();
    result
}

/// `Undo(Follow)` of one of our groups.
pub async fn unfollow_local_group(db: &Db, group: &Community, follower: &Person) -> AppResult<()> {
    crate::transaction!(db, |conn| {
        community_follow::delete(&mut conn, group.id, follower.id).await?;
        Ok::<_, AppError>(())
    })
}

/// The remote group answered our member's `Follow`: accepted, or rejected (removed).
pub async fn follow_answered(
    db: &Db,
    group: &Community,
    follower: &Person,
    accepted: bool,
) -> AppResult<()> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let Some(existing) = community_follow::read(&mut conn, group.id, follower.id).await? else {
            return Ok(());
        };
        if accepted {
            if existing.state != FollowState::Accepted {
                community_follow::upsert(
                    &mut conn,
                    group.id,
                    follower.id,
                    FollowState::Accepted,
                    now,
                )
                .await?;
            }
        } else {
            community_follow::delete(&mut conn, group.id, follower.id).await?;
        }
        Ok::<_, AppError>(())
    })
}

/// Tags as received, normalized; invalid ones are dropped, at most `MAX_TAGS` kept.
pub fn clean_remote_tags(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut tags = Vec::new();
    for name in names {
        if let Ok(tag) = crate::content::normalize_tag(name.trim_start_matches('#'))
            && !tags.contains(&tag)
        {
            tags.push(tag);
        }
        if tags.len() == MAX_TAGS {
            break;
        }
    }
    tags
}

/// Whether any local member follows `group` (spec §6.1 rule 7: content of a remote group
/// is taken only when someone here follows it).
pub async fn has_local_followers(db: &Db, group: &Community) -> AppResult<bool> {
    crate::with_conn!(db, |conn| {
        community_follow::has_local_followers(&mut conn, group.id)
            .await
            .map_err(AppError::from)
    })
}

/// A follow of a remote group still pending after this long is asked again.
const FIRST_FOLLOW_RETRY: chrono::Duration = chrono::Duration::seconds(30);
/// Asking again stops this long after the first Follow.
const FOLLOW_RETRY_FOR: chrono::Duration = chrono::Duration::days(7);

/// Sends a new `Follow` (new id: receivers drop ids they have seen) for each pending follow
/// of a remote group whose wait has doubled since it was last asked: after 30 s, 1 min,
/// 2 min ... at most daily, for a week (spec §16: a Lemmy 0.19 Accept can be lost).
/// Returns how many were asked again.
pub async fn resend_pending_follows(db: &Db, settings: &Settings) -> AppResult<usize> {
    let now = crate::db::now();
    let pending = crate::with_conn!(db, |conn| community_follow::pending_remote(&mut conn, 100)
        .await
        .map_err(AppError::from))?;
    let mut asked = 0;
    for follow in pending {
        let waited = now - follow.updated_at;
        let interval = (follow.updated_at - follow.created_at)
            .clamp(FIRST_FOLLOW_RETRY, chrono::Duration::days(1));
        if waited < interval || now - follow.created_at > FOLLOW_RETRY_FOR {
            continue;
        }
        crate::transaction!(db, |conn| {
            let group = crate::db::community::read(&mut conn, follow.community_id).await?;
            let follower = crate::db::person::read(&mut conn, follow.person_id).await?;
            let id = activities::follow(&mut conn, settings, &follower, &group).await?;
            community_follow::asked_again(&mut conn, follow.id, &id, now).await?;
            Ok::<_, AppError>(())
        })?;
        asked += 1;
    }
    if asked > 0 {
        outbox::wake();
    }
    Ok(asked)
}

/// An `Announce` from a remote group proves it counts us as followers: pending follows of
/// it by our members are accepted (spec §16).
pub async fn group_announced(db: &Db, group: &Community) -> AppResult<()> {
    let now = crate::db::now();
    crate::with_conn!(db, |conn| community_follow::accept_pending(
        &mut conn, group.id, now
    )
    .await
    .map_err(AppError::from))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::community::RemoteCommunityForm;
    use crate::db::types::AccountRole;
    use crate::testing::{TestApi, execute_sql, for_each_backend, remote_person, test_settings};

    async fn remote_group(db: &Db) -> Community {
        let now = crate::db::now();
        let result = async {
            crate::transaction!(db, |conn| {
                let instance =
                    crate::db::instance::ensure_remote(&mut conn, "remote.example", now).await?;
                crate::db::community::upsert_remote(
                    &mut conn,
                    &RemoteCommunityForm {
                        ap_id: "https://remote.example/c/ops".to_owned(),
                        local: false,
                        instance_id: instance.id,
                        name: "ops".to_owned(),
                        name_lower: "ops".to_owned(),
                        title: "Ops".to_owned(),
                        description: None,
                        description_html: None,
                        kind: CommunityKind::Discussion,
                        visibility: Visibility::Public,
                        posting_restricted_to_mods: false,
                        inbox_url: "https://remote.example/c/ops/inbox".to_owned(),
                        shared_inbox_url: Some("https://remote.example/inbox".to_owned()),
                        followers_url: None,
                        moderators_url: None,
                        featured_url: None,
                        public_key_pem: "unused".to_owned(),
                        deleted: false,
                        published: now,
                        updated: None,
                        last_refreshed_at: now,
                    },
                )
                .await
                .map_err(AppError::from)
            })
        };
        result.await.expect("remote group")
    }

    /// A remote group's ban of our member is kept as our ban of that community: the member
    /// is refused there with the code a local ban gives, until it ends or is undone. Only the
    /// group's own server or moderators we know of may ban; moderators added by the group
    /// are known from then on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn remote_bans_and_moderator_lists_are_kept() {
        for_each_backend(async |db| {
            let api = TestApi::new(db.clone(), test_settings()).await;
            let token = api.signed_in_member("ann").await;
            let group = remote_group(&db).await;
            let owner = remote_person(&db, "remote.example", "owner").await;
            let outsider = remote_person(&db, "other.example", "mallory").await;
            let ann = async {
                crate::with_conn!(&db, |conn| crate::db::person::read_local_by_name(
                    &mut conn, "ann"
                )
                .await
                .map_err(AppError::from))
            };
            let ann = ann.await.expect("read").expect("ann");
            let post = || {
                api.call(
                    "POST",
                    "/api/v1/communities/ops@remote.example/threads",
                    Some(&token),
                    Some(serde_json::json!({"title": "Disk full", "body": "Again."})),
                )
            };

            let refused = set_banned(&db, &group, &outsider, &ann, Some((Some("x"), None)))
                .await
                .expect_err("not a moderator");
            assert_eq!(refused.code, "moderator_required");
            set_banned(&db, &group, &owner, &ann, Some((Some("Spam\u{7}"), None)))
                .await
                .expect("banned");
            let answer = post().await;
            assert_eq!((answer.status.as_u16(), answer.code()), (403, "banned"));
            assert!(
                answer.body.to_string().contains("Spam"),
                "{:?}",
                answer.body
            );

            // An end in the past is no ban.
            let past = crate::db::now() - chrono::Duration::hours(1);
            set_banned(&db, &group, &owner, &ann, Some((None, Some(past))))
                .await
                .expect("banned until an hour ago");
            assert_eq!(post().await.status.as_u16(), 201);
            set_banned(&db, &group, &owner, &ann, Some((Some("Again"), None)))
                .await
                .expect("banned");
            set_banned(&db, &group, &owner, &ann, None)
                .await
                .expect("unbanned");
            set_banned(&db, &group, &owner, &ann, None)
                .await
                .expect("unbanning twice changes nothing");
            assert_eq!(post().await.status.as_u16(), 201);

            // Made a moderator by the group, the outsider may ban; removed, no longer.
            set_moderator(&db, &group, &outsider, &outsider, true)
                .await
                .expect_err("not a moderator yet");
            set_moderator(&db, &group, &owner, &outsider, true)
                .await
                .expect("added");
            set_banned(
                &db,
                &group,
                &outsider,
                &ann,
                Some((Some("Off topic"), None)),
            )
            .await
            .expect("a moderator now");
            set_moderator(&db, &group, &owner, &outsider, false)
                .await
                .expect("removed");
            assert_eq!(
                set_banned(&db, &group, &outsider, &ann, None)
                    .await
                    .expect_err("no longer")
                    .code,
                "moderator_required"
            );
            let log = api
                .call(
                    "GET",
                    "/api/v1/modlog?community=ops@remote.example",
                    Some(&token),
                    None,
                )
                .await;
            let actions: Vec<&str> = log.body["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .filter_map(|e| e["action"].as_str())
                .collect();
            assert_eq!(
                actions,
                [
                    "remove_moderator",
                    "ban",
                    "add_moderator",
                    "unban",
                    "ban",
                    "ban",
                    "ban"
                ],
                "{:?}",
                log.body
            );
            assert_eq!(log.body["entries"][6]["reason"], "Spam", "{:?}", log.body);
            assert_eq!(log.body["entries"][6]["moderator"], "owner@remote.example");
        })
        .await;
    }

    /// A remote answer stored while the thread is being deleted is judged again once it
    /// holds the thread row: refused, and rolled back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_remote_answer_racing_the_threads_deletion_is_rolled_back() {
        for_each_backend(async |db| {
            let settings = test_settings();
            let api = TestApi::new(db.clone(), settings.clone()).await;
            let token = api.signed_in_member("ann").await;
            let created = api
                .call(
                    "POST",
                    "/api/v1/communities",
                    Some(&token),
                    Some(serde_json::json!({"name": "ops", "title": "Ops", "kind": "qa"})),
                )
                .await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            let asked = api
                .call(
                    "POST",
                    "/api/v1/communities/ops/threads",
                    Some(&token),
                    Some(serde_json::json!({"title": "Disk full", "body": "Again."})),
                )
                .await;
            assert_eq!(asked.status, 201, "{:?}", asked.body);
            let thread_id = asked.body["id"].as_i64().expect("id");
            let read = async {
                crate::with_conn!(&db, |conn| {
                    let t = thread::read(&mut conn, thread_id).await?;
                    let g = crate::db::community::read(&mut conn, t.community_id).await?;
                    Ok::<_, AppError>((t, g))
                })
            };
            let (parent_thread, group) = read.await.expect("thread and group");
            let bob = remote_person(&db, "remote.example", "bob").await;
            let now = crate::db::now();
            let post = RemotePost {
                ap_id: "https://remote.example/comment/1".to_owned(),
                title: String::new(),
                body: "Sneaking in.".to_owned(),
                body_html: "<p>Sneaking in.</p>".to_owned(),
                tags: Vec::new(),
                published: now,
                updated: None,
            };

            let (held, held_signal) = tokio::sync::oneshot::channel::<()>();
            let deleting = crate::testing::hold_thread_row_then(
                &db,
                thread_id,
                held,
                crate::testing::HeldThreadChange::Delete,
            );
            let late = async {
                held_signal.await.expect("the thread row is held");
                store_answer(
                    &db,
                    &settings,
                    &group,
                    &parent_thread,
                    None,
                    &bob,
                    &bob,
                    post.clone(),
                    None,
                )
                .await
            };
            let ((), late) = tokio::join!(deleting, late);
            assert_eq!(late.expect_err("refused").code, "deleted");
            let stored = async {
                crate::with_conn!(&db, |conn| answer::read_by_ap_id(&mut conn, &post.ap_id)
                    .await
                    .map_err(AppError::from))
            };
            assert!(stored.await.expect("read").is_none(), "rolled back");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pending_follows_are_asked_again_with_new_ids_then_accepted_by_an_announce() {
        for_each_backend(async |db| {
            let api = TestApi::new(db.clone(), test_settings()).await;
            api.create_user("ann", AccountRole::Member).await;
            let token = api.login("ann").await;
            let group = remote_group(&db).await;
            let followed = api
                .call(
                    "POST",
                    "/api/v1/communities/ops@remote.example/follow",
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(followed.body["follow_state"], "pending", "{followed:?}");
            let follows = |db: Db| async move {
                let rows = async {
                    crate::with_conn!(&db, |conn| {
                        crate::db::outbox::recent_activities(&mut conn, 50)
                            .await
                            .map_err(AppError::from)
                    })
                };
                rows.await
                    .expect("outbox")
                    .into_iter()
                    .filter(|a| a.kind == "Follow")
                    .map(|a| a.ap_id)
                    .collect::<Vec<_>>()
            };
            assert_eq!(follows(db.clone()).await.len(), 1, "the first Follow");
            let settings = test_settings();
            assert_eq!(
                resend_pending_follows(&db, &settings).await.expect("runs"),
                0,
                "too early"
            );
            // Ten minutes pass.
            let past =
                (crate::db::now() - chrono::Duration::minutes(10)).format("%Y-%m-%d %H:%M:%S");
            execute_sql(
                &db,
                &format!(
                    "UPDATE community_follows SET created_at = '{past}', updated_at = '{past}'"
                ),
            )
            .await;
            assert_eq!(
                resend_pending_follows(&db, &settings).await.expect("runs"),
                1
            );
            assert_eq!(
                resend_pending_follows(&db, &settings).await.expect("runs"),
                0,
                "not twice"
            );
            let sent = follows(db.clone()).await;
            assert_eq!(sent.len(), 2);
            assert_ne!(sent[0], sent[1], "a new id each time");

            group_announced(&db, &group).await.expect("accepts");
            let state = api
                .call(
                    "GET",
                    "/api/v1/communities/ops@remote.example",
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(state.body["follow_state"], "accepted", "{state:?}");
        })
        .await;
    }
}
