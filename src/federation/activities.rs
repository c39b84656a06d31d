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
