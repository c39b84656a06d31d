//! Rows to ActivityPub JSON: what our communities, people, threads and answers look like
//! to other servers.

use axum::http::StatusCode;
use chrono::NaiveDateTime;
use url::Url;

use super::PUBLIC;
use super::protocol::actors::{self as actor_json, Group, GroupType, Person, PersonType};
use super::protocol::objects::{Note, NoteType, Page, PageType, Tombstone, TombstoneType};
use super::protocol::{
    Endpoints, LanguageTag, PublicKey, Source, Tag, TagKind, TagLink, WithContext,
};
use super::signed_fetch::Requester;
use crate::context::AppContext;
use crate::db::community::Community;
use crate::db::types::{CommunityKind, MentionKind, Visibility};
use crate::db::{DbConn, answer, community, instance, mention, person, tag, thread};
use crate::error::{AppError, AppResult};
use crate::settings::Settings;

fn parse(url: &str) -> AppResult<Url> {
    Url::parse(url).map_err(AppError::internal)
}

fn optional(url: Option<&str>) -> Option<Url> {
    url.and_then(|u| Url::parse(u).ok())
}

fn not_found(what: &str) -> AppError {
    AppError::not_found("not_found", format!("no {what} here"))
}

/// Whether `group`'s content may be served to `requester`: `public` to anyone, `partners`
/// only to a signed fetch from a partner domain, `internal` never (as if it did not exist).
pub async fn ensure_served(
    ctx: &AppContext,
    group: &Community,
    requester: &Requester,
    what: &str,
) -> AppResult<()> {
    match group.visibility {
        Visibility::Public => Ok(()),
        Visibility::Internal => Err(not_found(what)),
        Visibility::Partners => {
            let Some(authority) = requester.authority.as_deref() else {
                return Err(AppError::unauthorized(
                    "signature_required",
                    "this community is shared with partner instances only: sign the fetch with your instance's key",
                ));
            };
            let standing = crate::service::federation_policy::standing(&ctx.db, authority).await?;
            if standing == crate::db::federation_policy::DomainStanding::Partner {
                Ok(())
            } else {
                Err(AppError::forbidden(
                    "not_a_partner",
                    format!(
                        "this community is shared with partner instances only, and {authority} is not one"
                    ),
                ))
            }
        }
    }
}

/// A local community that federates, as `requester` may see it (see `ensure_served`).
pub async fn federated_community(
    ctx: &AppContext,
    name: &str,
    requester: &Requester,
) -> AppResult<Community> {
    let name = name.to_ascii_lowercase();
    let found = crate::with_conn!(&ctx.db, |conn| community::read_by_name(
        &mut conn,
        &name,
        &ctx.settings.domain
    )
    .await
    .map_err(AppError::from))?
    .filter(|c| c.local)
    .ok_or_else(|| not_found("community"))?;
    ensure_served(ctx, &found, requester, "community").await?;
    Ok(found)
}

pub fn group(settings: &Settings, c: &Community) -> AppResult<Group> {
    let id = parse(&c.ap_id)?;
    Ok(Group {
        kind: GroupType::Group,
        preferred_username: c.name.clone(),
        name: Some(c.title.clone()),
        summary: c.description_html.clone(),
        source: c.description.as_deref().map(Source::markdown),
        media_type: Some("text/html".to_owned()),
        url: Some(id.clone()),
        icon: None,
        inbox: parse(&c.inbox_url)?,
        outbox: Some(parse(&format!("{}/outbox", c.ap_id))?),
        followers: optional(c.followers_url.as_deref()),
        featured: optional(c.featured_url.as_deref()),
        attributed_to: c
            .moderators_url
            .as_ref()
            .map(|u| serde_json::Value::String(u.clone())),
        moderators: optional(c.moderators_url.as_deref()),
        endpoints: Some(Endpoints {
            shared_inbox: optional(c.shared_inbox_url.as_deref())
                .or_else(|| Url::parse(&format!("{}/inbox", settings.public_url())).ok()),
        }),
        public_key: PublicKey::main_key(&id, &c.public_key_pem),
        posting_restricted_to_mods: c.posting_restricted_to_mods,
        sensitive: false,
        manually_approves_followers: false,
        discoverable: true,
        language: Vec::new(),
        question_answer: c.kind == CommunityKind::Qa,
        published: Some(c.published.and_utc()),
        updated: c.updated.map(|u| u.and_utc()),
        id,
    })
}

pub fn person(ctx: &AppContext, p: &crate::db::person::Person) -> AppResult<Person> {
    let id = parse(&p.ap_id)?;
    Ok(Person {
        kind: PersonType::Person,
        preferred_username: p.name.clone(),
        name: p.display_name.clone(),
        summary: p.bio_html.clone(),
        source: p.bio.as_deref().map(Source::markdown),
        url: Some(id.clone()),
        icon: actor_json::image(p.avatar_url.as_deref()),
        inbox: parse(&p.inbox_url)?,
        outbox: Some(parse(&format!("{}/outbox", p.ap_id))?),
        followers: Some(parse(&format!("{}/followers", p.ap_id))?),
        following: Some(parse(&format!("{}/following", p.ap_id))?),
        endpoints: Some(Endpoints {
            shared_inbox: optional(p.shared_inbox_url.as_deref())
                .or_else(|| Url::parse(&format!("{}/inbox", ctx.public_url())).ok()),
        }),
        public_key: PublicKey::main_key(&id, &p.public_key_pem),
        discoverable: true,
        manually_approves_followers: false,
        published: Some(p.published.and_utc()),
        updated: p.updated.map(|u| u.and_utc()),
        id,
    })
}

pub fn tombstone(
    ap_id: &str,
    former_type: &str,
    deleted: Option<NaiveDateTime>,
) -> AppResult<Tombstone> {
    Ok(Tombstone {
        kind: TombstoneType::Tombstone,
        id: parse(ap_id)?,
        former_type: Some(former_type.to_owned()),
        deleted: deleted.map(|d| d.and_utc()),
    })
}

/// Items per page of a collection.
pub const COLLECTION_PAGE_SIZE: usize = 100;

/// An `OrderedCollection` of ids, inline when it has at most one page of items, otherwise
/// with `first` and pages `?page=N` (`OrderedCollectionPage` with `partOf` and `next`).
pub fn ordered_collection(
    id: &str,
    items: &[String],
    page: Option<u32>,
) -> AppResult<serde_json::Value> {
    let context = "https://www.w3.org/ns/activitystreams";
    let pages = items.len().div_ceil(COLLECTION_PAGE_SIZE).max(1);
    match page {
        None if items.len() <= COLLECTION_PAGE_SIZE => Ok(serde_json::json!({
            "@context": context,
            "id": id,
            "type": "OrderedCollection",
            "totalItems": items.len(),
            "orderedItems": items,
        })),
        None => Ok(serde_json::json!({
            "@context": context,
            "id": id,
            "type": "OrderedCollection",
            "totalItems": items.len(),
            "first": format!("{id}?page=1"),
            "last": format!("{id}?page={pages}"),
        })),
        Some(n) if n >= 1 && (n as usize) <= pages => {
            let start = (n as usize - 1) * COLLECTION_PAGE_SIZE;
            let end = (start + COLLECTION_PAGE_SIZE).min(items.len());
            let mut page = serde_json::json!({
                "@context": context,
                "id": format!("{id}?page={n}"),
                "type": "OrderedCollectionPage",
                "partOf": id,
                "totalItems": items.len(),
                "orderedItems": &items[start..end],
            });
            if (n as usize) < pages {
                page["next"] = serde_json::json!(format!("{id}?page={}", n + 1));
            }
            if n > 1 {
                page["prev"] = serde_json::json!(format!("{id}?page={}", n - 1));
            }
            Ok(page)
        }
        Some(_) => Err(AppError::not_found(
            "no_such_page",
            "this collection has no such page",
        )),
    }
}

/// A federated thread's conversation: the thread and its live answers, oldest first.
pub struct Conversation {
    pub thread_ap_id: String,
    pub title: String,
    pub group_ap_id: String,
    pub answers: Vec<crate::db::answer::Answer>,
}

/// Reads a local, live thread that `requester` may see, with its live answers.
pub async fn conversation(
    ctx: &AppContext,
    id: i64,
    requester: &Requester,
) -> AppResult<Conversation> {
    let (found, group, answers) = crate::with_conn!(&ctx.db, |conn| {
        let found = thread::read(&mut conn, id).await.map_err(|e| match e {
            diesel::result::Error::NotFound => not_found("thread"),
            other => AppError::from(other),
        })?;
        let group = community::read(&mut conn, found.community_id).await?;
        let answers = answer::list_for_thread(&mut conn, found.id).await?;
        Ok::<_, AppError>((found, group, answers))
    })?;
    if !found.local || found.deleted || found.removed {
        return Err(not_found("thread"));
    }
    ensure_served(ctx, &group, requester, "thread").await?;
    Ok(Conversation {
        thread_ap_id: found.ap_id,
        title: found.title,
        group_ap_id: group.ap_id,
        answers: answers
            .into_iter()
            .filter(|a| !a.deleted && !a.removed)
            .collect(),
    })
}

/// 410 with a Tombstone: what a deleted object's address answers.
fn gone(
    ap_id: &str,
    former_type: &str,
    deleted: Option<NaiveDateTime>,
) -> AppResult<(StatusCode, serde_json::Value)> {
    let stone = tombstone(ap_id, former_type, deleted)?;
    let value = serde_json::to_value(WithContext::new(stone)).map_err(AppError::internal)?;
    Ok((StatusCode::GONE, value))
}

/// Mention tags for stored mentions: people as `@name@domain`, communities too (Lemmy and
/// Mastodon write group mentions with `@`).
fn mention_tags(
    targets: &[mention::MentionTarget],
    public_url: &str,
    local_domain: &str,
) -> Vec<Tag> {
    targets
        .iter()
        .filter_map(|m| {
            let segment = match m.kind {
                MentionKind::Person => "u",
                MentionKind::Community => "c",
            };
            // Remote actors' ids are unknown until fetched; only local ones link directly.
            (m.domain == local_domain).then(|| {
                Url::parse(&format!("{public_url}/{segment}/{}", m.name))
                    .ok()
                    .map(|href| {
                        Tag::Link(TagLink {
                            kind: TagKind::Mention,
                            href,
                            name: Some(format!("@{}@{}", m.name, m.domain)),
                        })
                    })
            })?
        })
        .collect()
}

/// A thread as `Page` (or a 410 `Tombstone` once deleted).
pub async fn thread_json(
    ctx: &AppContext,
    id: i64,
    requester: &Requester,
) -> AppResult<(StatusCode, serde_json::Value)> {
    let settings = ctx.settings.clone();
    let (found, group, page) = crate::with_conn!(&ctx.db, |conn| {
        let found = thread::read(&mut conn, id).await.map_err(|e| match e {
            diesel::result::Error::NotFound => not_found("thread"),
            other => AppError::from(other),
        })?;
        let group = community::read(&mut conn, found.community_id).await?;
        let page = if found.local && !found.deleted && !found.removed {
            Some(thread_object(&mut conn, &settings, &found).await?)
        } else {
            None
        };
        Ok::<_, AppError>((found, group, page))
    })?;
    if !found.local {
        return Err(not_found("thread"));
    }
    ensure_served(ctx, &group, requester, "thread").await?;
    match page {
        Some(page) => Ok((StatusCode::OK, with_context(page))),
        None => gone(&found.ap_id, "Page", found.updated),
    }
}

/// `@context` first, then the object's fields.
pub fn with_context(object: serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("@context".to_owned(), super::protocol::context());
    if let serde_json::Value::Object(map) = object {
        out.extend(map);
    }
    serde_json::Value::Object(out)
}

/// `@name@domain` of a group for its Mention tag.
async fn group_mention(conn: &mut DbConn<'_>, group: &Community) -> AppResult<(Url, String)> {
    let domains = instance::domains(conn, &[group.instance_id]).await?;
    let domain = domains.get(&group.instance_id).cloned().unwrap_or_default();
    Ok((parse(&group.ap_id)?, format!("@{}@{}", group.name, domain)))
}

/// A thread as the `Page` we send and serve (without `@context`).
pub async fn thread_object(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    found: &thread::Thread,
) -> AppResult<serde_json::Value> {
    let public_url = settings.public_url();
    let local_domain = settings.domain.clone();
    let group = community::read(conn, found.community_id).await?;
    let author = person::read(conn, found.author_id).await?;
    let tags = tag::tags_of(conn, &[found.id]).await?;
    let mentions = mention::list(conn, mention::MentionSource::Thread(found.id)).await?;
    let accepted = answer::accepted_ids(conn, &[found.id]).await?;
    let mut accepted_ids = Vec::new();
    for (_, answer_id) in accepted {
        accepted_ids.push(answer::read(conn, answer_id).await?.ap_id);
    }
    let (group_id, group_name) = group_mention(conn, &group).await?;
    let mut tag_list: Vec<Tag> = tags
        .into_iter()
        .filter_map(|(_, name)| {
            Url::parse(&format!("{public_url}/tags/{name}"))
                .ok()
                .map(|href| {
                    Tag::Link(TagLink {
                        kind: TagKind::Hashtag,
                        href,
                        name: Some(format!("#{name}")),
                    })
                })
        })
        .collect();
    tag_list.push(Tag::Link(TagLink {
        kind: TagKind::Mention,
        href: group_id.clone(),
        name: Some(group_name),
    }));
    tag_list.extend(mention_tags(&mentions, &public_url, &local_domain));
    let page = Page {
        kind: PageType::Page,
        id: parse(&found.ap_id)?,
        attributed_to: vec![parse(&author.ap_id)?],
        to: vec![group_id.clone(), parse(PUBLIC)?],
        cc: Vec::new(),
        audience: Some(group_id),
        name: Some(found.title.clone()),
        content: Some(found.body_html.clone()),
        media_type: Some("text/html".to_owned()),
        source: Some(Source::markdown(&found.body)),
        in_reply_to: None,
        attachment: Vec::new(),
        sensitive: false,
        language: Some(LanguageTag::undetermined()),
        tag: tag_list,
        context: Some(parse(&format!("{}/context", found.ap_id))?),
        replies: Some(parse(&format!("{}/replies", found.ap_id))?),
        url: Some(parse(&found.ap_id)?),
        published: Some(found.published.and_utc()),
        updated: found.updated.map(|u| u.and_utc()),
    };
    let mut value = serde_json::to_value(page).map_err(AppError::internal)?;
    if let serde_json::Value::Object(map) = &mut value {
        // Ours (spec §12, schema.org Question.acceptedAnswer): which answers are accepted.
        map.insert("acceptedAnswer".to_owned(), serde_json::json!(accepted_ids));
    }
    Ok(value)
}

/// An answer as `Note` replying to the thread or its parent answer (410 once deleted).
pub async fn answer_json(
    ctx: &AppContext,
    id: i64,
    requester: &Requester,
) -> AppResult<(StatusCode, serde_json::Value)> {
    let settings = ctx.settings.clone();
    let (found, group, note) = crate::with_conn!(&ctx.db, |conn| {
        let found = answer::read(&mut conn, id).await.map_err(|e| match e {
            diesel::result::Error::NotFound => not_found("answer"),
            other => AppError::from(other),
        })?;
        let parent_thread = thread::read(&mut conn, found.thread_id).await?;
        let group = community::read(&mut conn, parent_thread.community_id).await?;
        let note = if found.local && !found.deleted && !found.removed {
            Some(answer_object(&mut conn, &settings, &found).await?)
        } else {
            None
        };
        Ok::<_, AppError>((found, group, note))
    })?;
    if !found.local {
        return Err(not_found("answer"));
    }
    ensure_served(ctx, &group, requester, "answer").await?;
    match note {
        Some(note) => Ok((StatusCode::OK, with_context(note))),
        None => gone(&found.ap_id, "Note", found.updated),
    }
}

/// An answer as the `Note` we send and serve (without `@context`).
pub async fn answer_object(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    found: &answer::Answer,
) -> AppResult<serde_json::Value> {
    let public_url = settings.public_url();
    let local_domain = settings.domain.clone();
    let parent_thread = thread::read(conn, found.thread_id).await?;
    let group = community::read(conn, parent_thread.community_id).await?;
    let author = person::read(conn, found.author_id).await?;
    let parent_ap_id = match found.parent_id {
        Some(parent) => answer::read(conn, parent).await?.ap_id,
        None => parent_thread.ap_id.clone(),
    };
    let mentions = mention::list(conn, mention::MentionSource::Answer(found.id)).await?;
    let (group_id, group_name) = group_mention(conn, &group).await?;
    let mut tags = vec![Tag::Link(TagLink {
        kind: TagKind::Mention,
        href: group_id.clone(),
        name: Some(group_name),
    })];
    tags.extend(mention_tags(&mentions, &public_url, &local_domain));
    // The thread's origin owns the conversation (spec §6.3); a remote thread's context is
    // what its origin said, which we do not store, so it is derived the same way.
    let context = format!("{}/context", parent_thread.ap_id);
    let note = Note {
        kind: NoteType::Note,
        id: parse(&found.ap_id)?,
        attributed_to: vec![parse(&author.ap_id)?],
        to: vec![parse(PUBLIC)?],
        cc: vec![group_id.clone()],
        audience: Some(group_id),
        in_reply_to: Some(parse(&parent_ap_id)?),
        content: found.body_html.clone(),
        media_type: Some("text/html".to_owned()),
        source: Some(Source::markdown(&found.body)),
        tag: tags,
        distinguished: false,
        language: Some(LanguageTag::undetermined()),
        context: Some(parse(&context)?),
        answer: found.accepted,
        published: Some(found.published.and_utc()),
        updated: found.updated.map(|u| u.and_utc()),
    };
    serde_json::to_value(note).map_err(AppError::internal)
}
