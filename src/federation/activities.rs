//! The activities local members' actions become, built as JSON in the shapes of spec §6.2
//! and §6.3 (both `to` and `cc` always present), and handed to the outbox in the same
//! transaction as the change.

use serde_json::{Value, json};

use super::PUBLIC;
use super::convert::{answer_object, thread_object};
use super::outbox::{new_activity_id, send_in_community, send_to};
use crate::db::answer::Answer;
use crate::db::community::Community;
use crate::db::person::Person;
use crate::db::thread::Thread;
use crate::db::{DbConn, community};
use crate::error::AppResult;
use crate::settings::Settings;

fn addressed(id: String, kind: &str, actor: &str, group: &Community, object: Value) -> Value {
    json!({
        "id": id,
        "type": kind,
        "actor": actor,
        "to": [group.ap_id, PUBLIC],
        "cc": [group.ap_id],
        "audience": group.ap_id,
        "object": object,
    })
}

/// `Create` or `Update` of a thread (`Page`) by its author.
pub async fn thread_written(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    author: &Person,
    thread: &Thread,
    kind: &str,
) -> AppResult<()> {
    let group = community::read(conn, thread.community_id).await?;
    let page = thread_object(conn, settings, thread).await?;
    let activity = addressed(
        new_activity_id(settings, kind)?,
        kind,
        &author.ap_id,
        &group,
        page,
    );
    send_in_community(conn, settings, &group, activity).await
}

/// `Create` or `Update` of an answer (`Note`) by its author.
pub async fn answer_written(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    author: &Person,
    answer: &Answer,
    group: &Community,
    kind: &str,
) -> AppResult<()> {
    let note = answer_object(conn, settings, answer).await?;
    let activity = addressed(
        new_activity_id(settings, kind)?,
        kind,
        &author.ap_id,
        group,
        note,
    );
    send_in_community(conn, settings, group, activity).await
}

/// `Delete` of a thread or answer. Without `summary` when the author deletes; with it
/// (the reason, possibly empty) when a moderator removes (spec §6.2).
pub async fn deleted(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    actor: &Person,
    object_ap_id: &str,
    group: &Community,
    moderator_reason: Option<&str>,
) -> AppResult<()> {
    let mut activity = addressed(
        new_activity_id(settings, "delete")?,
        "Delete",
        &actor.ap_id,
        group,
        json!(object_ap_id),
    );
    if let Some(reason) = moderator_reason {
        activity["summary"] = json!(reason);
    }
    send_in_community(conn, settings, group, activity).await
}

/// A vote as `Like` (+1) / `Dislike` (-1); taking it back is `Undo` of the earlier one.
/// Returns the id of the new vote activity, which the vote row keeps for the Undo.
pub async fn voted(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    voter: &Person,
    object_ap_id: &str,
    group: &Community,
    score: i64,
    previous: Option<(i64, String)>,
) -> AppResult<Option<String>> {
    let vote = |id: String, score: i64| {
        json!({
            "id": id,
            "type": if score > 0 { "Like" } else { "Dislike" },
            "actor": voter.ap_id,
            "object": object_ap_id,
            "to": [PUBLIC],
            "cc": [group.ap_id],
            "audience": group.ap_id,
        })
    };
    if let Some((old_score, old_id)) = previous
        && old_score != 0
        && old_score != score
    {
        let undo = json!({
            "id": new_activity_id(settings, "undo")?,
            "type": "Undo",
            "actor": voter.ap_id,
            "to": [PUBLIC],
            "cc": [group.ap_id],
            "audience": group.ap_id,
            "object": vote(old_id, old_score),
        });
        send_in_community(conn, settings, group, undo).await?;
    }
    if score == 0 {
        return Ok(None);
    }
    let id = new_activity_id(settings, if score > 0 { "like" } else { "dislike" })?;
    send_in_community(conn, settings, group, vote(id.clone(), score)).await?;
    Ok(Some(id))
}

/// `ChooseAnswer` (PieFed's vocabulary) or its `Undo`.
pub async fn answer_chosen(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    chooser: &Person,
    answer_ap_id: &str,
    group: &Community,
    accepted: bool,
) -> AppResult<()> {
    let choose = json!({
        "id": new_activity_id(settings, "answer")?,
        "type": "ChooseAnswer",
        "actor": chooser.ap_id,
        "object": answer_ap_id,
        "audience": group.ap_id,
        "to": [PUBLIC],
        "cc": [group.ap_id],
    });
    let activity = if accepted {
        choose
    } else {
        json!({
            "id": new_activity_id(settings, "undo")?,
            "type": "Undo",
            "actor": chooser.ap_id,
            "audience": group.ap_id,
            "to": [PUBLIC],
            "cc": [group.ap_id],
            "object": choose,
        })
    };
    send_in_community(conn, settings, group, activity).await
}

/// `Follow` of a remote group; returns the Follow's id.
pub async fn follow(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    follower: &Person,
    group: &Community,
) -> AppResult<String> {
    let id = new_activity_id(settings, "follow")?;
    let activity = follow_json(&id, follower, group);
    send_to(conn, settings, activity, &group.inbox_url).await?;
    Ok(id)
}

fn follow_json(id: &str, follower: &Person, group: &Community) -> Value {
    json!({
        "id": id,
        "type": "Follow",
        "actor": follower.ap_id,
        "object": group.ap_id,
        "to": [group.ap_id],
        "cc": [],
    })
}

/// `Undo(Follow)` of a remote group.
pub async fn unfollow(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    follower: &Person,
    group: &Community,
    follow_ap_id: Option<&str>,
) -> AppResult<()> {
    let follow_id = match follow_ap_id {
        Some(id) => id.to_owned(),
        None => new_activity_id(settings, "follow")?,
    };
    let activity = json!({
        "id": new_activity_id(settings, "undo")?,
        "type": "Undo",
        "actor": follower.ap_id,
        "object": follow_json(&follow_id, follower, group),
        "to": [group.ap_id],
        "cc": [],
    });
    send_to(conn, settings, activity, &group.inbox_url).await
}

/// The group's `Accept` of a remote `Follow`, embedding the Follow exactly as received.
pub async fn accept_follow(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    group: &Community,
    follower: &Person,
    follow: Value,
) -> AppResult<()> {
    let mut follow = follow;
    if let Value::Object(map) = &mut follow {
        map.remove("@context");
    }
    let activity = json!({
        "id": new_activity_id(settings, "accept")?,
        "type": "Accept",
        "actor": group.ap_id,
        "to": [follower.ap_id],
        "cc": [],
        "object": follow,
    });
    send_to(conn, settings, activity, &follower.inbox_url).await
}

/// A moderator's removal (`Delete` with the reason as `summary`, spec §6.3) or, when
/// `restore`, its `Undo` embedding a fresh copy of that Delete.
pub async fn moderator_removed(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    moderator: &Person,
    object_ap_id: &str,
    group: &Community,
    reason: &str,
    restore: bool,
) -> AppResult<()> {
    let mut delete = addressed(
        new_activity_id(settings, "delete")?,
        "Delete",
        &moderator.ap_id,
        group,
        json!(object_ap_id),
    );
    delete["summary"] = json!(reason);
    delete["withReplies"] = json!(false);
    let activity = if restore {
        undo_of(settings, moderator, group, delete)?
    } else {
        delete
    };
    send_in_community(conn, settings, group, activity).await
}

/// A moderator locks a thread (`Lock`, Lemmy's extension) or unlocks it (`Undo(Lock)`).
pub async fn thread_locked(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    moderator: &Person,
    thread_ap_id: &str,
    group: &Community,
    reason: Option<&str>,
    locked: bool,
) -> AppResult<()> {
    let mut lock = addressed(
        new_activity_id(settings, "lock")?,
        "Lock",
        &moderator.ap_id,
        group,
        json!(thread_ap_id),
    );
    if let Some(reason) = reason {
        lock["summary"] = json!(reason);
    }
    let activity = if locked {
        lock
    } else {
        undo_of(settings, moderator, group, lock)?
    };
    send_in_community(conn, settings, group, activity).await
}

/// A moderator bans a person from the group (`Block` with `target` the group, spec §6.3) or
/// lifts the ban (`Undo(Block)`).
pub async fn person_banned(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    moderator: &Person,
    person_ap_id: &str,
    group: &Community,
    ban: Option<(&str, Option<chrono::NaiveDateTime>)>,
) -> AppResult<()> {
    let mut block = json!({
        "id": new_activity_id(settings, "block")?,
        "type": "Block",
        "actor": moderator.ap_id,
        "to": [PUBLIC],
        "cc": [group.ap_id],
        "object": person_ap_id,
        "target": group.ap_id,
        "audience": group.ap_id,
        "removeData": false,
    });
    let activity = match ban {
        Some((reason, expires)) => {
            block["summary"] = json!(reason);
            if let Some(end) = expires {
                block["endTime"] = json!(
                    end.and_utc()
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
            block
        }
        None => undo_of(settings, moderator, group, block)?,
    };
    send_in_community(conn, settings, group, activity).await
}

/// A moderator adds `object_ap_id` to one of the group's collections (`Add`), or removes it
/// (`Remove`): `collection` is `moderators` (a person) or `featured` (a pinned thread). Sent
/// as Lemmy sends it: a Person actor, the group as `audience`, announced by the group.
pub async fn collection_changed(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    moderator: &Person,
    object_ap_id: &str,
    group: &Community,
    collection: &str,
    added: bool,
) -> AppResult<()> {
    let stored = match collection {
        "moderators" => group.moderators_url.clone(),
        _ => group.featured_url.clone(),
    };
    let target = stored.unwrap_or_else(|| format!("{}/{collection}", group.ap_id));
    let kind = if added { "Add" } else { "Remove" };
    let mut activity = addressed(
        new_activity_id(settings, &kind.to_ascii_lowercase())?,
        kind,
        &moderator.ap_id,
        group,
        json!(object_ap_id),
    );
    activity["target"] = json!(target);
    send_in_community(conn, settings, group, activity).await
}

/// A moderator edited the group's profile: the two `Update`s of spec §6.2, the moderator's
/// (announced by the group: what Lemmy reads) and the group's own (what Mastodon reads, sent
/// to the followers' shared inboxes).
pub async fn group_updated(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    moderator: &Person,
    group: &Community,
) -> AppResult<()> {
    if !group.local || group.visibility == crate::db::types::Visibility::Internal {
        return Ok(());
    }
    let object = serde_json::to_value(super::convert::group(settings, group)?)
        .map_err(crate::error::AppError::internal)?;
    let by_moderator = addressed(
        new_activity_id(settings, "update")?,
        "Update",
        &moderator.ap_id,
        group,
        object.clone(),
    );
    send_in_community(conn, settings, group, by_moderator).await?;
    let inboxes = community::remote_follower_inboxes(conn, group.id).await?;
    if inboxes.is_empty() {
        return Ok(());
    }
    let by_group = addressed(
        new_activity_id(settings, "update")?,
        "Update",
        &group.ap_id,
        group,
        object,
    );
    super::outbox::enqueue(
        conn,
        settings,
        &super::convert::with_context(by_group),
        &group.ap_id,
        &inboxes,
    )
    .await
}

/// A report of remote content, forwarded to the group it was posted in as `Flag` (to that
/// group only: reports are not announced to followers).
pub async fn reported(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    report_ap_id: &str,
    reporter: &Person,
    object_ap_id: &str,
    group: &Community,
    reason: &str,
) -> AppResult<()> {
    if group.local || group.visibility == crate::db::types::Visibility::Internal {
        return Ok(());
    }
    let flag = json!({
        "id": report_ap_id,
        "type": "Flag",
        "actor": reporter.ap_id,
        "to": [group.ap_id],
        "object": object_ap_id,
        "summary": reason,
        "audience": group.ap_id,
    });
    let inbox = group
        .shared_inbox_url
        .clone()
        .unwrap_or_else(|| group.inbox_url.clone());
    send_to(conn, settings, flag, &inbox).await
}

/// `Undo` of `inner` by `actor`, addressed like it; the embedded activity keeps its own id.
fn undo_of(
    settings: &Settings,
    actor: &Person,
    group: &Community,
    inner: Value,
) -> AppResult<Value> {
    Ok(addressed(
        new_activity_id(settings, "undo")?,
        "Undo",
        &actor.ap_id,
        group,
        inner,
    ))
}
