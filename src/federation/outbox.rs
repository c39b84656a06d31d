//! Writing outgoing activities: each is stored with one delivery row per remote inbox in
//! the caller's transaction, so a change and what it owes other servers commit together;
//! the delivery worker sends them later.

use std::sync::LazyLock;

use serde_json::{Value, json};
use tokio::sync::Notify;
use url::Url;

use super::PUBLIC;
use super::actor::authority;
use super::convert::with_context;
use crate::db::community::{self, Community};
use crate::db::{DbConn, instance, outbox};
use crate::error::{AppError, AppResult};
use crate::settings::Settings;

/// Wakes delivery workers of this process when new deliveries were committed.
static OUTBOX_SIGNAL: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Tells the delivery worker there is work; call after the transaction committed.
pub fn wake() {
    OUTBOX_SIGNAL.notify_waiters();
    OUTBOX_SIGNAL.notify_one();
}

/// Resolves when `wake` is called (or at once if a wake-up is pending).
pub async fn woken() {
    OUTBOX_SIGNAL.notified().await;
}

/// A new activity id on this instance: `{public_url}/activities/{kind}/{random}`.
pub fn new_activity_id(settings: &Settings, kind: &str) -> AppResult<String> {
    Ok(format!(
        "{}/activities/{}/{}",
        settings.public_url(),
        kind.to_ascii_lowercase(),
        crate::service::auth::random_secret()?
    ))
}

/// Stores `activity` (signed by `actor_ap_id` when sent) with a delivery to each inbox
/// that is not on this instance, one per distinct URL.
pub async fn enqueue(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    activity: &Value,
    actor_ap_id: &str,
    inboxes: &[String],
) -> AppResult<()> {
    let local = settings.domain.to_ascii_lowercase();
    let mut targets: Vec<(String, String)> = inboxes
        .iter()
        .filter_map(|inbox| {
            let url = Url::parse(inbox).ok()?;
            let domain = authority(&url).to_ascii_lowercase();
            (domain != local && !domain.is_empty()).then(|| (domain, inbox.clone()))
        })
        .collect();
    targets.sort();
    targets.dedup();
    let mut domains: Vec<String> = targets.iter().map(|(domain, _)| domain.clone()).collect();
    domains.dedup();
    let standings = crate::db::federation_policy::standings(conn, &domains).await?;
    targets.retain(|(domain, _)| standings.of(domain).federates());
    if targets.is_empty() {
        return Ok(());
    }
    domains.retain(|domain| standings.of(domain).federates());
    let ap_id = activity
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| AppError::internal("an outgoing activity has no id"))?;
    let kind = activity
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Activity");
    let payload = serde_json::to_string(activity).map_err(AppError::internal)?;
    let now = crate::db::now();
    let stored = outbox::insert_activity(conn, ap_id, actor_ap_id, kind, &payload, now).await?;
    let key = ordering_key(activity);
    let instance_ids = instance::ensure_remotes(conn, &domains, now).await?;
    for (domain, inbox) in targets {
        let instance_id = *instance_ids
            .get(&domain)
            .ok_or_else(|| AppError::internal(format!("no instance row for {domain}")))?;
        outbox::insert_delivery(conn, stored.id, instance_id, &inbox, key.as_deref(), now).await?;
    }
    Ok(())
}

/// What an activity is about, for keeping order per inbox: the object for Create, Update,
/// Delete and ChooseAnswer (so an edit never overtakes its creation); the actor and object
/// for votes and follows (so an Undo never overtakes what it undoes). Announce, Undo,
/// Accept and Reject take the key of what they wrap. None when nothing can be told.
pub fn ordering_key(activity: &Value) -> Option<String> {
    let id_of = |value: &Value| super::inbox::link_id(value).map(String::from);
    let kind = activity.get("type").and_then(Value::as_str)?;
    let object = activity.get("object");
    match kind {
        "Announce" | "Undo" | "Accept" | "Reject" => match object? {
            wrapped @ Value::Object(_) => ordering_key(wrapped),
            link => id_of(link),
        },
        "Like" | "Dislike" | "EmojiReact" | "Follow" => {
            let actor = activity.get("actor").and_then(Value::as_str)?;
            Some(format!("{actor} {}", id_of(object?)?))
        }
        _ => match object {
            Some(object) => id_of(object),
            // A bare object (the Announce(Page) sent for Mastodon): its own id.
            None => id_of(activity),
        },
    }
}

/// Sends a member's activity about content in `group` the FEP-1b12 way: into a local
/// group it is announced by the group to the group's remote followers (and a new thread
/// is also announced bare, for Mastodon); into a remote group it goes to the group's inbox.
/// `internal` communities never federate.
pub async fn send_in_community(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    group: &Community,
    activity: Value,
) -> AppResult<()> {
    if group.visibility == crate::db::types::Visibility::Internal {
        return Ok(());
    }
    let actor = activity
        .get("actor")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if group.local {
        announce(conn, settings, group, activity).await
    } else {
        let inbox = group
            .shared_inbox_url
            .clone()
            .unwrap_or_else(|| group.inbox_url.clone());
        enqueue(conn, settings, &with_context(activity), &actor, &[inbox]).await
    }
}

/// The inboxes on partner domains: a `partners` group's followers may include instances
/// that stopped being partners since they followed, and those get nothing more.
async fn partner_inboxes(conn: &mut DbConn<'_>, inboxes: Vec<String>) -> AppResult<Vec<String>> {
    // One lookup for the whole list: this runs inside the posting transaction, and a
    // query per follower inbox would hold it open for as long as the list is long.
    let with_domain: Vec<(String, String)> = inboxes
        .into_iter()
        .filter_map(|inbox| {
            let domain = authority(&Url::parse(&inbox).ok()?).to_ascii_lowercase();
            Some((inbox, domain))
        })
        .collect();
    let mut domains: Vec<String> = with_domain.iter().map(|(_, d)| d.clone()).collect();
    domains.sort_unstable();
    domains.dedup();
    let standings = crate::db::federation_policy::standings(conn, &domains).await?;
    Ok(with_domain
        .into_iter()
        .filter(|(_, domain)| {
            standings.of(domain) == crate::db::federation_policy::DomainStanding::Partner
        })
        .map(|(inbox, _)| inbox)
        .collect())
}

/// The group announces `activity` (kept exactly as it is) to its remote followers.
pub async fn announce(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    group: &Community,
    activity: Value,
) -> AppResult<()> {
    if !group.local || group.visibility == crate::db::types::Visibility::Internal {
        return Ok(());
    }
    let mut inboxes = community::remote_follower_inboxes(conn, group.id).await?;
    if group.visibility == crate::db::types::Visibility::Partners {
        inboxes = partner_inboxes(conn, inboxes).await?;
    }
    if inboxes.is_empty() {
        return Ok(());
    }
    let followers = group
        .followers_url
        .clone()
        .unwrap_or_else(|| format!("{}/followers", group.ap_id));
    let compat_page = match (
        activity.get("type").and_then(Value::as_str),
        activity.get("object"),
    ) {
        (Some("Create"), Some(object))
            if object.get("type").and_then(Value::as_str) == Some("Page") =>
        {
            Some(object.clone())
        }
        _ => None,
    };
    let mut inner = activity;
    if let Value::Object(map) = &mut inner {
        // The embedded activity travels without its own @context, as Lemmy sends it.
        map.remove("@context");
    }
    let announce_of = |object: Value| -> AppResult<Value> {
        Ok(with_context(json!({
            "id": new_activity_id(settings, "announce")?,
            "type": "Announce",
            "actor": group.ap_id,
            "to": [group.ap_id, PUBLIC],
            "cc": [followers],
            "object": object,
        })))
    };
    enqueue(conn, settings, &announce_of(inner)?, &group.ap_id, &inboxes).await?;
    if let Some(page) = compat_page {
        enqueue(conn, settings, &announce_of(page)?, &group.ap_id, &inboxes).await?;
    }
    Ok(())
}

/// Sends an activity straight to one actor's inbox (Follow, Accept, Undo(Follow)).
pub async fn send_to(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    activity: Value,
    inbox: &str,
) -> AppResult<()> {
    let actor = activity
        .get("actor")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    enqueue(
        conn,
        settings,
        &with_context(activity),
        &actor,
        &[inbox.to_owned()],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::for_each_backend;

    /// A `partners` group's followers: only those on a partner domain (any port of it)
    /// are kept, in the order given, whether other domains are blocked, merely open or
    /// not URLs at all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn partner_inboxes_keep_only_partner_domains_in_order() {
        for_each_backend(async |db| {
            let now = crate::db::now();
            let inboxes: Vec<String> = [
                "https://acme.example/inbox",
                "https://spam.example/inbox",
                "https://other.example/u/ann/inbox",
                "not a url",
                "https://evil.acme.example/inbox",
                "https://ACME.example:8443/u/bob/inbox",
                "https://social.spam.example/inbox",
                "https://acme.example/inbox",
            ]
            .map(String::from)
            .to_vec();
            let kept = async {
                crate::with_conn!(&db, |conn| {
                    crate::db::domain_block::upsert(&mut conn, "spam.example", None, None, now)
                        .await?;
                    crate::db::federation_policy::upsert_allow(
                        &mut conn,
                        "acme.example",
                        None,
                        None,
                        now,
                    )
                    .await?;
                    let none = partner_inboxes(&mut conn, Vec::new()).await?;
                    assert!(none.is_empty());
                    partner_inboxes(&mut conn, inboxes.clone()).await
                })
            };
            let kept: Vec<String> = kept.await.expect("queries");
            assert_eq!(
                kept,
                vec![
                    "https://acme.example/inbox",
                    "https://ACME.example:8443/u/bob/inbox",
                    "https://acme.example/inbox",
                ]
            );
        })
        .await;
    }
}
