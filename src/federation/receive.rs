//! What a verified activity means: the checks of spec §6.1 and §8.4 (origin, ownership,
//! the group's authority for announced activities), then the write through
//! `service::remote`.

use activitypub_federation::config::Data;
use activitypub_federation::fetch::fetch_object_http;
use activitypub_federation::fetch::object_id::ObjectId;
use serde_json::Value;
use url::Url;

use super::actor::{KnownActor, authority};
use super::classify::{self, Action, Activity, Answered, Document, Inbound, Object, Refusal};
use super::inbox::{InboxActivity, link_id};
use super::protocol::objects::Page;
use crate::context::AppContext;
use crate::db::answer::{self, Answer};
use crate::db::community::{self, Community};
use crate::db::person::Person;
use crate::db::thread::{self, Thread};
use crate::db::{received_activity, types::Visibility};
use crate::error::{AppError, AppResult};
use crate::service::remote::{self, Content, RemotePost};
use crate::service::threads::VoteTarget;

type Fed = Data<AppContext>;

fn bad(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::bad_request(code, message)
}

fn forbidden(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::forbidden(code, message)
}

/// A document the classifier refused: 400 with its code, so the sender does not retry.
fn refused(refusal: Refusal) -> AppError {
    AppError::bad_request(refusal.code, refusal.message)
}

/// How many times an activity is applied again after its store met a row that another
/// activity, received at the same moment, stored first.
const CONCURRENT_STORE_RETRIES: u32 = 2;

/// Entry point after the signature was verified: each activity id has an effect once.
///
/// Two activities carrying the same new post (a backlog sent in parallel: an answer whose
/// parent is fetched while the parent's own Create arrives) both read "unknown" and both
/// insert; on PostgreSQL the second meets the first's unique key. Applied again, it finds
/// the stored row and goes on as for any known post. Answering 409 instead would tell the
/// sender to drop the activity for good. (SQLite's writers take turns, so it never races.)
pub async fn receive(activity: InboxActivity, data: &Fed) -> AppResult<()> {
    let mut retries = 0;
    loop {
        let effect = apply(&activity.raw, &activity.inbound, None, data);
        match once(&activity.id, data, effect).await {
            Err(err) if err.is_unique_violation() && retries < CONCURRENT_STORE_RETRIES => {
                retries += 1;
                tracing::debug!(
                    activity = %activity.id,
                    retries,
                    error = %err,
                    "stored at the same moment by another activity; applied again"
                );
            }
            result => return result,
        }
    }
}

/// Runs `effect` unless an activity with `id` was received before. When it fails, the id
/// is forgotten again, so the sender's retry is applied.
async fn once(id: &Url, data: &Fed, effect: impl Future<Output = AppResult<()>>) -> AppResult<()> {
    let id = id.to_string();
    let now = crate::db::now();
    // A write: in a transaction, so it waits for its turn rather than for SQLite's lock.
    let fresh = crate::transaction!(&data.db, |conn| received_activity::insert_new(
        &mut conn, &id, now
    )
    .await
    .map_err(AppError::from))?;
    if !fresh {
        tracing::debug!(activity = %id, "repeated activity ignored");
        return Ok(());
    }
    let result = effect.await;
    if result.is_err() {
        let _ = crate::with_conn!(&data.db, |conn| received_activity::forget(&mut conn, &id)
            .await
            .map_err(AppError::from));
    }
    result
}

async fn actor_at(url: &Url, data: &Fed) -> AppResult<KnownActor> {
    ObjectId::<KnownActor>::from(url.clone())
        .dereference(data)
        .await
}

async fn person_at(url: &Url, data: &Fed) -> AppResult<Person> {
    actor_at(url, data)
        .await?
        .person()
        .cloned()
        .ok_or_else(|| bad("actor_not_person", format!("{url} is not a person")))
}

/// Applies `inbound`, classified from `raw` (which is kept to be forwarded unchanged).
/// `via` is the group that announced it, whose signature vouches for the embedded activity
/// (spec §6.1 rule 6).
async fn apply(
    raw: &Value,
    inbound: &Inbound,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let activity = match inbound {
        Inbound::Activity(activity) => activity,
        Inbound::Ignored { kind, reason } => {
            tracing::debug!(kind = %kind, reason, "activity type ignored");
            return Ok(());
        }
        Inbound::Document(document) => {
            tracing::debug!(object = %document.id(), "an object sent as an activity ignored");
            return Ok(());
        }
    };
    let actor = &activity.actor;
    match &activity.action {
        Action::Follow { object } => on_follow(raw, actor, object, data).await,
        Action::FollowAnswer { accepted, follow } => {
            on_follow_answer(*accepted, actor, follow, data).await
        }
        Action::Create(object) | Action::Update(object) => {
            on_create_or_update(raw, actor, object, via, data).await
        }
        Action::Delete {
            object,
            moderator_reason: None,
        } => on_delete(raw, actor, object, via, data).await,
        Action::Delete {
            object,
            moderator_reason: Some(reason),
        } => on_removal(raw, actor, object, true, reason, via, data).await,
        Action::Lock { object, reason } => {
            on_lock(raw, actor, object, true, reason.as_deref(), via, data).await
        }
        Action::Block {
            object,
            target,
            reason,
            expires,
        } => {
            let ban = Some((reason.as_deref(), *expires));
            on_block(actor, object, target, ban, via, data).await
        }
        Action::Flag {
            objects, reason, ..
        } => on_flag(&activity.id, actor, objects, reason.as_deref(), via, data).await,
        Action::Collection {
            added,
            object,
            target,
        } => on_collection(actor, object, target, *added, via, data).await,
        Action::Vote { score, object } => on_vote(raw, actor, object, *score, via, data).await,
        Action::ChooseAnswer { object } => {
            on_choose_answer(raw, actor, object, true, via, data).await
        }
        Action::Undo(undone) => on_undo(raw, actor, undone, via, data).await,
        Action::Announce(inner) if via.is_none() => {
            let inner_raw = raw.get("object").unwrap_or(&Value::Null);
            on_announce(actor, inner_raw, inner, data).await
        }
        Action::Share(_) if via.is_none() => on_share(actor, data).await,
        Action::Announce(_) | Action::Share(_) => Ok(()),
    }
}

/// The community (local or remote, deleted or not) whose id is `url`, if we know it.
async fn group_at(url: &Url, data: &Fed) -> AppResult<Option<Community>> {
    let id = url.to_string();
    crate::with_conn!(&data.db, |conn| community::read_by_ap_id(&mut conn, &id)
        .await
        .map_err(AppError::from))
}

async fn local_group(url: &Url, data: &Fed) -> AppResult<Option<Community>> {
    Ok(group_at(url, data).await?.filter(|c| c.local && !c.deleted))
}

async fn on_follow(activity: &Value, actor: &Url, target: &Url, data: &Fed) -> AppResult<()> {
    let Some(group) = local_group(target, data).await? else {
        // Following our people is not offered; nothing to do.
        return Ok(());
    };
    let follower = person_at(actor, data).await?;
    remote::follow_local_group(&data.db, &data.settings, &group, &follower, activity).await
}

async fn on_follow_answer(
    accepted: bool,
    actor: &Url,
    follow: &Answered,
    data: &Fed,
) -> AppResult<()> {
    let group = match actor_at(actor, data).await?.community() {
        Some(group) if !group.local => group.clone(),
        _ => return Ok(()),
    };
    let Answered::Follow(follow) = follow else {
        // By id only: we keep no ids of the Follows we sent, so nothing names the follower.
        return Ok(());
    };
    // The follow is ours: its actor is one of our people, its object the group.
    let follower_url = &follow.actor;
    if !authority(follower_url).eq_ignore_ascii_case(&data.settings.domain) {
        return Err(forbidden(
            "not_ours",
            "the answered Follow is not from this instance",
        ));
    }
    if let Action::Follow { object: followed } = &follow.action
        && followed.as_str() != group.ap_id
    {
        return Err(forbidden(
            "origin_mismatch",
            "only the followed group answers a Follow",
        ));
    }
    let id = follower_url.to_string();
    let follower = crate::with_conn!(&data.db, |conn| crate::db::person::read_by_ap_id(
        &mut conn, &id
    )
    .await
    .map_err(AppError::from))?;
    match follower {
        Some(follower) => remote::follow_answered(&data.db, &group, &follower, accepted).await,
        None => Ok(()),
    }
}

/// Markdown body, sanitized HTML, and title of a received Page or Note (spec §5.3). Pure:
/// public for the fuzz target.
pub fn convert_post(page: &Page, group_name: Option<&str>) -> RemotePost {
    let markdown = match (&page.source, &page.media_type) {
        (Some(source), _) if source.media_type == "text/markdown" => source.content.clone(),
        (_, Some(media)) if media == "text/markdown" => page.content.clone().unwrap_or_default(),
        _ => html_to_text(page.content.as_deref().unwrap_or_default()),
    };
    let (title, markdown) = match page
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(name) => (name.to_owned(), markdown),
        None => (
            derive_title(&markdown, group_name),
            strip_leading_mention(&markdown, group_name),
        ),
    };
    let title: String = title.chars().take(200).collect();
    let tags = page.tag.iter().filter_map(|t| match t {
        super::protocol::Tag::Link(link) if link.kind == super::protocol::TagKind::Hashtag => {
            link.name.clone()
        }
        _ => None,
    });
    let now = crate::db::now();
    RemotePost {
        ap_id: page.id.to_string(),
        title,
        // Rendered by our own Markdown renderer: remote HTML is never shown as sent.
        body_html: crate::content::markdown_to_html(&markdown),
        body: markdown,
        tags: remote::clean_remote_tags(tags),
        published: page
            .published
            .map(|t| t.naive_utc())
            .unwrap_or(now)
            .min(now),
        updated: page.updated.map(|t| t.naive_utc()),
    }
}

/// Plain text of HTML (for senders without a Markdown source): tags dropped, paragraphs
/// and line breaks kept as blank lines and line breaks.
fn html_to_text(html: &str) -> String {
    let spaced = html
        .replace("</p>", "</p>\n\n")
        .replace("<br>", "\n")
        .replace("<br/>", "\n")
        .replace("<br />", "\n");
    let stripped = ammonia::Builder::empty().clean(&spaced).to_string();
    stripped
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

/// The text without a leading `@group` or `@group@domain` mention (how Mastodon users
/// address a group), as spec §7.2 asks for the title and the first paragraph.
fn strip_leading_mention(text: &str, group_name: Option<&str>) -> String {
    let trimmed = text.trim_start();
    let Some(name) = group_name else {
        return text.to_owned();
    };
    let Some(rest) = trimmed.strip_prefix('@') else {
        return text.to_owned();
    };
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let handle = rest[..end].split('@').next().unwrap_or_default();
    if handle.eq_ignore_ascii_case(name) {
        rest[end..].trim_start().to_owned()
    } else {
        text.to_owned()
    }
}

/// A title for a post without `name` (Mastodon): its first line without the group mention,
/// at most 200 characters.
fn derive_title(text: &str, group_name: Option<&str>) -> String {
    let text = strip_leading_mention(text, group_name);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let title: String = first.chars().take(200).collect();
    let title = title.trim().to_owned();
    if title.is_empty() {
        "(untitled)".to_owned()
    } else {
        title
    }
}

fn is_public(json: &Value) -> bool {
    ["to", "cc"].iter().any(|field| match json.get(field) {
        Some(Value::String(s)) => is_public_iri(s),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(is_public_iri),
        _ => false,
    })
}

fn is_public_iri(s: &str) -> bool {
    s == super::PUBLIC || s == "Public" || s == "as:Public"
}

fn attributed_to(json: &Value) -> Option<Url> {
    match json.get("attributedTo")? {
        Value::Array(items) => items
            .iter()
            .find(|i| i.get("type").and_then(Value::as_str).unwrap_or("Person") != "Group")
            .and_then(link_id),
        other => link_id(other),
    }
}

/// Every address an object names for its group: `audience`, then `to`, `cc`, mention tags.
fn group_candidates(json: &Value) -> Vec<Url> {
    let mut out = Vec::new();
    if let Some(a) = json.get("audience").and_then(link_id) {
        out.push(a);
    }
    for field in ["to", "cc"] {
        match json.get(field) {
            Some(Value::Array(items)) => out.extend(items.iter().filter_map(link_id)),
            Some(v) => out.extend(link_id(v)),
            None => {}
        }
    }
    if let Some(Value::Array(tags)) = json.get("tag") {
        out.extend(
            tags.iter()
                .filter(|t| t.get("type").and_then(Value::as_str) == Some("Mention"))
                .filter_map(|t| t.get("href").and_then(link_id)),
        );
    }
    out
}

/// The group a new thread is posted to: one we already know (never fetched from here).
async fn find_group(json: &Value, data: &Fed) -> AppResult<Option<Community>> {
    for candidate in group_candidates(json) {
        if let Some(found) = group_at(&candidate, data).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Unknown ancestors one reply may bring, at most: each is held in memory until the walk
/// up the chain ends (at most 1 MiB each), and a longer chain of posts nobody here has
/// seen is more likely a trap than a conversation (issue #11 case 15).
const MAX_ANCESTOR_FETCHES: u32 = 32;

/// The stored thread or answer with this ActivityPub id, if any.
async fn known_parent(url: &Url, data: &Fed) -> AppResult<Option<(Thread, Option<Answer>)>> {
    let id = url.to_string();
    crate::with_conn!(&data.db, |conn| {
        if let Some(t) = thread::read_by_ap_id(&mut conn, &id).await? {
            return Ok(Some((t, None)));
        }
        let Some(a) = answer::read_by_ap_id(&mut conn, &id).await? else {
            return Ok(None);
        };
        let t = thread::read(&mut conn, a.thread_id).await?;
        Ok::<_, AppError>(Some((t, Some(a))))
    })
}

/// What an `inReplyTo` points at, fetching unknown parents. The walk up the chain is a
/// loop and the ancestors are stored from the top down, so each store finds its parent
/// already stored: storing them by recursion nested one store per ancestor and overflowed
/// the worker's stack a dozen levels up (issue #11 case 15).
async fn resolve_parent(url: &Url, data: &Fed) -> AppResult<(Thread, Option<Answer>)> {
    if let Some(known) = known_parent(url, data).await? {
        return Ok(known);
    }
    let mut unknown: Vec<(Value, Page, Url)> = Vec::new();
    let mut next = Some(url.clone());
    while let Some(current) = next.take() {
        if known_parent(&current, data).await?.is_some() {
            break;
        }
        if unknown.len() >= MAX_ANCESTOR_FETCHES as usize {
            return Err(AppError::unprocessable(
                "fetch_limit_reached",
                format!("more than {MAX_ANCESTOR_FETCHES} unknown posts above this reply"),
            ));
        }
        // Unknown: fetch it from its origin, to be stored like a received Create.
        let fetched: Value = fetch_object_http(&current, data).await?.object;
        if let Some(post) = classify::post(&fetched).map_err(refused)? {
            let actor = attributed_to(&fetched)
                .ok_or_else(|| bad("invalid_object", "the parent has no attributedTo"))?;
            next = fetched.get("inReplyTo").and_then(link_id);
            unknown.push((fetched, post, actor));
        }
    }
    for (fetched, post, actor) in unknown.iter().rev() {
        Box::pin(store_object(fetched, post, actor, None, None, true, data)).await?;
    }
    known_parent(url, data)
        .await?
        .ok_or_else(|| bad("unknown_parent", "the replied-to object is not known"))
}

async fn on_create_or_update(
    activity: &Value,
    actor: &Url,
    object: &Object,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let object_id = match object {
        Object::Link(id) => id,
        Object::Embedded(document) => document.id(),
    };
    if via.is_some() && authority(object_id).eq_ignore_ascii_case(&data.settings.domain) {
        // Our own content coming back, announced by a remote group: we have it.
        return Ok(());
    }
    if let Object::Embedded(Document::Group(_)) = object {
        let group = activity.get("object").unwrap_or(&Value::Null);
        return on_group_update(group, actor, object_id, via, data).await;
    }
    // An id only, or an object from a third origin announced by a group: fetch it from
    // where it lives, so only its origin can say what it contains (spec §6.1 rule 6).
    let third_origin =
        via.is_some_and(|g| Url::parse(&g.ap_id).is_ok_and(|g| authority(&g) != authority(actor)));
    let (fetched, fetched_post);
    let (raw, post): (&Value, &Page) = match object {
        Object::Embedded(Document::Post(post)) if !third_origin => {
            (activity.get("object").unwrap_or(&Value::Null), post)
        }
        Object::Embedded(document) if !third_origin => {
            // Profile updates: actors are refetched when their keys or names are needed.
            tracing::debug!(object = %document.id(), "object type ignored");
            return Ok(());
        }
        _ => {
            fetched = fetch_object_http::<AppContext, Value>(object_id, data)
                .await?
                .object;
            let Some(post) = classify::post(&fetched).map_err(refused)? else {
                tracing::debug!(object = %object_id, "fetched object type ignored");
                return Ok(());
            };
            fetched_post = post;
            (&fetched, &fetched_post)
        }
    };
    if authority(object_id) != authority(actor) {
        return Err(forbidden(
            "origin_mismatch",
            "the object is not on the actor's host",
        ));
    }
    let author = attributed_to(raw)
        .ok_or_else(|| bad("invalid_object", "the object has no attributedTo"))?;
    if authority(&author) != authority(object_id) {
        return Err(forbidden(
            "origin_mismatch",
            "the object's author is not on the object's host",
        ));
    }
    if was_deleted_before_arrival(object_id, data).await? {
        tracing::debug!(object = %object_id, "a post deleted before it arrived ignored");
        return Ok(());
    }
    let announce = if via.is_none() { Some(activity) } else { None };
    store_object(raw, post, actor, announce, via, false, data).await
}

/// Stores a thread or answer fetched by URL because someone asked for it. The group of a
/// new thread is fetched too when it is not known yet.
pub async fn store_fetched(object: &Value, data: &Fed) -> AppResult<()> {
    let Some(post) = classify::post(object).map_err(refused)? else {
        tracing::debug!("a fetched object that is no post ignored");
        return Ok(());
    };
    let id = &post.id;
    let author = attributed_to(object)
        .ok_or_else(|| bad("invalid_object", "the object has no attributedTo"))?;
    if authority(&author) != authority(id) {
        return Err(forbidden(
            "origin_mismatch",
            "the object's author is not on the object's host",
        ));
    }
    let audience = object.get("audience").and_then(link_id);
    if let Some(audience) = audience
        && object.get("inReplyTo").and_then(link_id).is_none()
        && find_group(object, data).await?.is_none()
    {
        actor_at(&audience, data).await?;
    }
    store_object(object, &post, &author, None, None, true, data).await
}

/// Stores a post (new or edited) sent or vouched for by `actor`: `post` is `object` as
/// classified; addressing and authorship are read from `object`, where a list keeps the
/// types (PeerTube's attributedTo names both the author and the group).
async fn store_object(
    object: &Value,
    post: &Page,
    actor: &Url,
    activity: Option<&Value>,
    via: Option<&Community>,
    requested: bool,
    data: &Fed,
) -> AppResult<()> {
    if !is_public(object) {
        return Err(forbidden(
            "not_public",
            "only public posts are taken into communities",
        ));
    }
    let author_url = attributed_to(object)
        .ok_or_else(|| bad("invalid_object", "the object has no attributedTo"))?;
    let in_reply_to = object.get("inReplyTo").and_then(link_id);
    let actor_person = person_at(actor, data).await?;
    let author = if author_url == *actor {
        actor_person.clone()
    } else {
        person_at(&author_url, data).await?
    };
    match in_reply_to {
        Some(parent_url) => {
            let (parent_thread, parent) = resolve_parent(&parent_url, data).await?;
            let group = group_of(&parent_thread, &actor_person, data).await?;
            check_via(via, &group)?;
            if !group.local
                && via.is_none()
                && !requested
                && !remote::has_local_followers(&data.db, &group).await?
            {
                return Ok(());
            }
            let post = convert_post(post, None);
            remote::store_answer(
                &data.db,
                &data.settings,
                &group,
                &parent_thread,
                parent.as_ref(),
                &author,
                &actor_person,
                post,
                activity,
            )
            .await?;
        }
        None => {
            let group = match via {
                Some(group) => Some(group.clone()),
                None => find_group(object, data).await?,
            };
            let Some(group) = group else {
                tracing::debug!("a post for no known community ignored");
                return Ok(());
            };
            if !group.local
                && via.is_none()
                && !requested
                && !remote::has_local_followers(&data.db, &group).await?
            {
                return Ok(());
            }
            let post = convert_post(post, Some(&group.name));
            remote::store_thread(
                &data.db,
                &data.settings,
                &group,
                &author,
                &actor_person,
                post,
                activity,
            )
            .await?;
        }
    }
    Ok(())
}

/// The thread's group, if it takes activities from `actor` (see `remote::ensure_takes_from`).
async fn group_of(found: &Thread, actor: &Person, data: &Fed) -> AppResult<Community> {
    let id = found.community_id;
    crate::with_conn!(&data.db, |conn| {
        let group = community::read(&mut conn, id).await?;
        if group.visibility != Visibility::Public && !group.local {
            return Err(forbidden(
                "community_not_federated",
                "not a federated community",
            ));
        }
        remote::ensure_takes_from(&mut conn, &group, actor).await?;
        Ok::<_, AppError>(group)
    })
}

/// An announced activity must be about the announcing group's own content.
fn check_via(via: Option<&Community>, group: &Community) -> AppResult<()> {
    match via {
        Some(announcer) if announcer.id != group.id => Err(forbidden(
            "wrong_group",
            "a group may only announce activities about its own content",
        )),
        _ => Ok(()),
    }
}

/// A thread or answer by its id, if we have it.
pub async fn target_of(url: &Url, data: &Fed) -> AppResult<Option<Content>> {
    let id = url.to_string();
    crate::with_conn!(&data.db, |conn| {
        if let Some(t) = thread::read_by_ap_id(&mut conn, &id).await? {
            return Ok(Some(Content::Thread(t)));
        }
        Ok::<_, AppError>(
            answer::read_by_ap_id(&mut conn, &id)
                .await?
                .map(Content::Answer),
        )
    })
}

async fn group_of_target(target: &Content, actor: &Person, data: &Fed) -> AppResult<Community> {
    let thread_id = match target {
        Content::Thread(t) => t.id,
        Content::Answer(a) => a.thread_id,
    };
    let found = crate::with_conn!(&data.db, |conn| thread::read(&mut conn, thread_id)
        .await
        .map_err(AppError::from))?;
    group_of(&found, actor, data).await
}

/// The thread or answer an activity is about, its group and the acting person; `None`
/// when we do not have the content (nothing to change here).
async fn acting_on(
    target_url: &Url,
    actor: &Url,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<Option<(Content, Community, Person)>> {
    let Some(target) = target_of(target_url, data).await? else {
        return Ok(None);
    };
    let person = person_at(actor, data).await?;
    let group = group_of_target(&target, &person, data).await?;
    check_via(via, &group)?;
    Ok(Some((target, group, person)))
}

fn vote_target(target: &Content) -> VoteTarget {
    match target {
        Content::Thread(t) => VoteTarget::Thread(t.id),
        Content::Answer(a) => VoteTarget::Answer(a.id),
    }
}

/// What a group announces of an activity it received directly (not of announced ones).
fn to_announce<'a>(activity: &'a Value, via: Option<&Community>) -> Option<&'a Value> {
    via.is_none().then_some(activity)
}

async fn on_delete(
    activity: &Value,
    actor: &Url,
    object: &Url,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let Some((target, group, person)) = acting_on(object, actor, via, data).await? else {
        return remember_deleted_before_arrival(actor, object, data).await;
    };
    let announce = to_announce(activity, via);
    remote::delete(&data.db, &data.settings, &group, target, &person, announce).await
}

/// The `received_activities` key that marks `object` as deleted before it arrived. The
/// space keeps it apart from every activity id; it is pruned with them (30 days).
fn deleted_before_arrival(object: &Url) -> String {
    format!("deleted-before-arrival {object}")
}

/// A Delete can overtake the Create it follows (a retried Create, two inboxes, a slow
/// queue). A Delete of an object we do not have, from the object's own host, is
/// remembered so the Create arriving later has no effect, as Mastodon does
/// (`delete_arrived_first?`); Lemmy refuses such a Delete and takes the late Create, so
/// the deleted post would appear for good. From any other host it means nothing.
async fn remember_deleted_before_arrival(actor: &Url, object: &Url, data: &Fed) -> AppResult<()> {
    if authority(actor) != authority(object) {
        return Ok(());
    }
    let key = deleted_before_arrival(object);
    let now = crate::db::now();
    crate::with_conn!(&data.db, |conn| received_activity::insert_new(
        &mut conn, &key, now
    )
    .await
    .map_err(AppError::from))?;
    Ok(())
}

/// Whether `object` was deleted by its host before we received it.
async fn was_deleted_before_arrival(object: &Url, data: &Fed) -> AppResult<bool> {
    let key = deleted_before_arrival(object);
    crate::with_conn!(&data.db, |conn| received_activity::exists(&mut conn, &key)
        .await
        .map_err(AppError::from))
}

/// A moderator's removal (`Delete` with `summary`), or with `removed` false its `Undo`.
async fn on_removal(
    activity: &Value,
    actor: &Url,
    object: &Url,
    removed: bool,
    reason: &str,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let Some((target, group, moderator)) = acting_on(object, actor, via, data).await? else {
        return Ok(());
    };
    remote::set_removed(
        &data.db,
        &data.settings,
        &group,
        target,
        &moderator,
        removed,
        Some(reason).filter(|r| !r.is_empty()),
        to_announce(activity, via),
    )
    .await
}

/// `Lock` of a thread, or with `locked` false its `Undo`.
async fn on_lock(
    activity: &Value,
    actor: &Url,
    object: &Url,
    locked: bool,
    reason: Option<&str>,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let Some((Content::Thread(found), group, moderator)) =
        acting_on(object, actor, via, data).await?
    else {
        // Lemmy 0.19 locks posts only; a lock of an answer changes nothing here.
        return Ok(());
    };
    remote::set_locked(
        &data.db,
        &data.settings,
        &group,
        &found,
        &moderator,
        locked,
        reason,
        to_announce(activity, via),
    )
    .await
}

/// The remote group a moderation activity about the group itself (a ban, a moderator or
/// featured list change, a profile edit) concerns. Its followers take such activities only
/// inside the group's own Announce (spec §6.1 rule 8); `None` when `group_url` is no remote
/// group we know (nothing here to change; our own groups are moderated here).
async fn moderated_remote_group(
    group_url: &Url,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<Option<Community>> {
    let found = group_at(group_url, data).await?;
    let Some(group) = found.filter(|g| !g.local && !g.deleted) else {
        tracing::debug!(group = %group_url, "moderation of no remote group we know ignored");
        return Ok(None);
    };
    match via {
        None => Err(forbidden(
            "not_announced",
            "moderation of a remote community is taken only inside that community's Announce",
        )),
        Some(announcer) if announcer.id != group.id => Err(forbidden(
            "wrong_group",
            "a group may only announce moderation of itself",
        )),
        Some(_) => Ok(Some(group)),
    }
}

/// `Update` of a remote group's profile, sent by the group itself (what Mastodon reads) or by
/// one of its moderators inside the group's Announce (what Lemmy sends): the embedded Group
/// refreshes our copy (title, description, settings).
async fn on_group_update(
    raw: &Value,
    actor: &Url,
    group_url: &Url,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    if actor == group_url {
        match group_at(group_url, data).await? {
            Some(group) if !group.local => check_via(via, &group)?,
            _ => return Ok(()),
        }
    } else {
        let Some(group) = moderated_remote_group(group_url, via, data).await? else {
            return Ok(());
        };
        let moderator = person_at(actor, data).await?;
        if !remote::may_moderate(&data.db, &group, &moderator).await? {
            return Err(forbidden(
                "moderator_required",
                "only the community's moderators may edit it",
            ));
        }
    }
    super::actor::store_remote_actor(data, raw.clone()).await?;
    Ok(())
}

/// A remote moderator's ban (`Block` with the group as `target`) or, with `ban` `None`, its
/// `Undo`: our copy of the ban then refuses the person's answers, threads and votes in that
/// community here as well, whether they are remote or our own members.
async fn on_block(
    actor: &Url,
    object: &Url,
    target: &Url,
    ban: Option<(Option<&str>, Option<chrono::NaiveDateTime>)>,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let Some(group) = moderated_remote_group(target, via, data).await? else {
        return Ok(());
    };
    let moderator = person_at(actor, data).await?;
    let banned = person_at(object, data).await?;
    remote::set_banned(&data.db, &group, &moderator, &banned, ban).await
}

/// A report from another instance (`Flag`): the first reported thread or answer we hold in
/// one of our communities goes into that community's queue. Reports of remote content, or
/// of accounts only, are for their own instances.
async fn on_flag(
    id: &Url,
    actor: &Url,
    objects: &[Url],
    reason: Option<&str>,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    if via.is_some() {
        // Reports go to a group, never through one.
        return Ok(());
    }
    for object in objects {
        let Some(target) = target_of(object, data).await? else {
            continue;
        };
        let reporter = person_at(actor, data).await?;
        let group = group_of_target(&target, &reporter, data).await?;
        if !group.local {
            continue;
        }
        crate::service::moderation::report_from_remote(
            &data.db,
            &data.settings,
            &reporter,
            &group,
            target,
            reason,
            id.as_str(),
        )
        .await?;
        return Ok(());
    }
    tracing::debug!(report = %id, "a report of nothing in our communities ignored");
    Ok(())
}

/// `Add` or `Remove` on a remote group's moderators collection (our copy of its moderator
/// list follows, so the moderator's later actions there are accepted from any server) or on
/// its featured collection (the thread is pinned or unpinned here too).
async fn on_collection(
    actor: &Url,
    object: &Url,
    target: &Url,
    added: bool,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let Some(announcer) = via else {
        tracing::debug!(target = %target, "a collection change not announced by a group ignored");
        return Ok(());
    };
    let is = |stored: &Option<String>, suffix: &str| {
        let expected = stored
            .clone()
            .unwrap_or_else(|| format!("{}/{suffix}", announcer.ap_id));
        Url::parse(&expected).is_ok_and(|u| u == *target)
    };
    let group_url = Url::parse(&announcer.ap_id).map_err(AppError::internal)?;
    if is(&announcer.moderators_url, "moderators") {
        let Some(group) = moderated_remote_group(&group_url, via, data).await? else {
            return Ok(());
        };
        let moderator = person_at(actor, data).await?;
        let person = person_at(object, data).await?;
        return remote::set_moderator(&data.db, &group, &moderator, &person, added).await;
    }
    if is(&announcer.featured_url, "featured") {
        let Some(group) = moderated_remote_group(&group_url, via, data).await? else {
            return Ok(());
        };
        let Some(Content::Thread(found)) = target_of(object, data).await? else {
            tracing::debug!(object = %object, "a featured post we do not hold ignored");
            return Ok(());
        };
        let moderator = person_at(actor, data).await?;
        check_via(via, &group_of(&found, &moderator, data).await?)?;
        return remote::set_pinned(&data.db, &group, &moderator, &found, added).await;
    }
    Err(forbidden(
        "wrong_group",
        "a group may only announce changes to its own collections",
    ))
}

/// A vote, or with `score` 0 (from `Undo`) its withdrawal.
async fn on_vote(
    activity: &Value,
    actor: &Url,
    object: &Url,
    score: i64,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let Some((target, group, voter)) = acting_on(object, actor, via, data).await? else {
        return Ok(());
    };
    // The id as sent, not as `Url` normalizes it: ids are stored verbatim (spec §13).
    let vote_id = (score != 0)
        .then(|| activity.get("id").and_then(Value::as_str))
        .flatten();
    remote::set_vote(
        &data.db,
        &data.settings,
        &group,
        vote_target(&target),
        &voter,
        score,
        vote_id,
        to_announce(activity, via),
    )
    .await
}

/// `ChooseAnswer`, or with `accepted` false (from `Undo`) its withdrawal.
async fn on_choose_answer(
    activity: &Value,
    actor: &Url,
    object: &Url,
    accepted: bool,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    let Some((Content::Answer(chosen), group, chooser)) =
        acting_on(object, actor, via, data).await?
    else {
        return Ok(());
    };
    remote::set_accepted(
        &data.db,
        &data.settings,
        &group,
        &chosen,
        &chooser,
        accepted,
        to_announce(activity, via),
    )
    .await
}

async fn on_undo(
    activity: &Value,
    actor: &Url,
    undone: &Activity,
    via: Option<&Community>,
    data: &Fed,
) -> AppResult<()> {
    // The undone activity must be the actor's own.
    if undone.actor != *actor {
        return Err(forbidden(
            "origin_mismatch",
            "only the actor can undo its activity",
        ));
    }
    match &undone.action {
        Action::Follow { object } => {
            let Some(group) = local_group(object, data).await? else {
                return Ok(());
            };
            let follower = person_at(actor, data).await?;
            remote::unfollow_local_group(&data.db, &group, &follower).await
        }
        Action::Vote { object, .. } => on_vote(activity, actor, object, 0, via, data).await,
        Action::ChooseAnswer { object } => {
            on_choose_answer(activity, actor, object, false, via, data).await
        }
        Action::Delete {
            object,
            moderator_reason: Some(reason),
        } => on_removal(activity, actor, object, false, reason, via, data).await,
        Action::Lock { object, .. } => {
            on_lock(activity, actor, object, false, None, via, data).await
        }
        Action::Block { object, target, .. } => {
            on_block(actor, object, target, None, via, data).await
        }
        // The classifier wraps nothing else in an Undo (an author's own delete cannot be
        // undone: its text is gone).
        _ => Ok(()),
    }
}

/// The remote group behind an Announce, `None` when the announcer is a person (a boost is
/// not group activity, spec §7.2) or one of our own groups.
async fn announcing_group(actor: &Url, data: &Fed) -> AppResult<Option<Community>> {
    let announcer = actor_at(actor, data).await?;
    Ok(announcer.community().filter(|g| !g.local).cloned())
}

/// An Announce of an id only (an Mbin or PeerTube boost) is not applied, but coming from a
/// group it proves the group counts us as followers.
async fn on_share(actor: &Url, data: &Fed) -> AppResult<()> {
    if let Some(group) = announcing_group(actor, data).await? {
        remote::group_announced(&data.db, &group).await?;
    }
    Ok(())
}

/// `Announce` by a group we follow: the embedded activity (`raw`, classified as `inner`) is
/// applied on the group's authority (rule 6); a bare object (the Mastodon compatibility
/// Announce) or an ignored activity is skipped.
async fn on_announce(actor: &Url, raw: &Value, inner: &Inbound, data: &Fed) -> AppResult<()> {
    let Some(group) = announcing_group(actor, data).await? else {
        return Ok(());
    };
    let Inbound::Activity(announced) = inner else {
        // A bare object (the compatibility Announce(Page) that accompanies Announce(Create))
        // or an activity we do not act on: still proof that we are followed.
        remote::group_announced(&data.db, &group).await?;
        return Ok(());
    };
    let inner_actor = &announced.actor;
    if authority(inner_actor).eq_ignore_ascii_case(&data.settings.domain) {
        // Our own member's activity coming back from the group: already applied here.
        return Ok(());
    }
    crate::service::federation_policy::ensure_federates(
        &data.db,
        &authority(inner_actor),
        "the announced activity's actor",
    )
    .await?;
    if authority(&announced.id) != authority(inner_actor) {
        return Err(forbidden(
            "origin_mismatch",
            "the announced activity's id is not on its actor's host",
        ));
    }
    remote::group_announced(&data.db, &group).await?;
    if !remote::has_local_followers(&data.db, &group).await? {
        return Ok(());
    }
    // The announced activity has its effect once, however many times it is announced.
    let effect = Box::pin(apply(raw, inner, Some(&group), data));
    once(&announced.id, data, effect).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::protocol::fixtures;
    use serde_json::json;

    fn fixture(path: &str) -> Value {
        let text = std::fs::read_to_string(fixtures::root().join(path)).expect("fixture");
        serde_json::from_str(&text).expect("json")
    }

    #[test]
    fn a_mastodon_note_mentioning_a_group_becomes_a_titled_thread() {
        let note = fixture("mastodon/objects/page.json");
        assert!(is_public(&note));
        let groups = group_candidates(&note);
        assert!(
            groups
                .iter()
                .any(|g| g.as_str() == "https://enterprise.lemmy.ml/c/tenforward"),
            "{groups:?}"
        );
        let page = classify::post(&note).expect("classified").expect("a post");
        let post = convert_post(&page, Some("tenforward"));
        assert_eq!(post.title, "Variable never resetting at refresh");
        assert!(
            post.body.starts_with("Variable never resetting"),
            "{}",
            post.body
        );
        assert!(
            post.body.contains("I'm using a variable"),
            "entities decoded: {}",
            post.body
        );
        assert_eq!(
            attributed_to(&note).map(String::from).as_deref(),
            Some("https://masto.qa.urbanwildlife.biz/users/mastodon")
        );
    }

    #[test]
    fn a_lemmy_page_keeps_its_markdown_source_and_name() {
        let create = fixture("lemmy/activities/create_or_update/create_page.json");
        let page = classify::post(&create["object"])
            .expect("classified")
            .expect("a post");
        let post = convert_post(&page, None);
        let source = create["object"]["source"]["content"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(post.body, source);
        assert_eq!(post.title, create["object"]["name"].as_str().expect("name"));
    }

    #[test]
    fn titles_are_derived_from_the_first_line_without_the_mention() {
        assert_eq!(derive_title("@rust hello\nmore", Some("rust")), "hello");
        assert_eq!(
            derive_title("@rust@acme.example hello", Some("RUST")),
            "hello"
        );
        assert_eq!(derive_title("@other hello", Some("rust")), "@other hello");
        assert_eq!(derive_title("", None), "(untitled)");
        assert_eq!(derive_title(&"x".repeat(500), None).chars().count(), 200);
        assert_eq!(
            html_to_text("<p>a &amp; b</p><p>c<br>d</p>"),
            "a & b\n\nc\nd"
        );
    }

    #[test]
    fn addressing_is_public_only_with_the_public_collection() {
        assert!(is_public(&json!({"to": "as:Public"})));
        assert!(is_public(&json!({"cc": [super::super::PUBLIC]})));
        assert!(!is_public(
            &json!({"to": ["https://a.example/u/x/followers"]})
        ));
    }
}
