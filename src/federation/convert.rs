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
use crate::context::AppContext;
use crate::db::community::Community;
use crate::db::types::{CommunityKind, MentionKind, Visibility};
use crate::db::{answer, community, mention, person, tag, thread};
use crate::error::{AppError, AppResult};

fn parse(url: &str) -> AppResult<Url> {
    Url::parse(url).map_err(AppError::internal)
}

fn optional(url: Option<&str>) -> Option<Url> {
    url.and_then(|u| Url::parse(u).ok())
}

fn not_found(what: &str) -> AppError {
    AppError::not_found("not_found", format!("no {what} here"))
}

/// A local community that federates: `internal` ones are never served to other servers.
pub async fn federated_community(ctx: &AppContext, name: &str) -> AppResult<Community> {
    let name = name.to_ascii_lowercase();
    let found = crate::with_conn!(&ctx.db, |conn| community::read_by_name(
        &mut conn,
        &name,
        &ctx.settings.domain
    )
    .await
    .map_err(AppError::from))?
    .filter(|c| c.local && c.visibility != Visibility::Internal)
    .ok_or_else(|| not_found("community"))?;
    Ok(found)
}

pub fn group(ctx: &AppContext, c: &Community) -> AppResult<Group> {
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
                .or_else(|| Url::parse(&format!("{}/inbox", ctx.public_url())).ok()),
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

/// Reads a local, federated (not internal), live thread with its live answers.
pub async fn conversation(ctx: &AppContext, id: i64) -> AppResult<Conversation> {
    let (found, group, answers) = crate::with_conn!(&ctx.db, |conn| {
        let found = thread::read(&mut conn, id).await.map_err(|e| match e {
            diesel::result::Error::NotFound => not_found("thread"),
            other => AppError::from(other),
        })?;
        let group = community::read(&mut conn, found.community_id).await?;
        let answers = answer::list_for_thread(&mut conn, found.id).await?;
        Ok::<_, AppError>((found, group, answers))
    })?;
    if !found.local || group.visibility == Visibility::Internal || found.deleted || found.removed {
        return Err(not_found("thread"));
    }
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
pub async fn thread_json(ctx: &AppContext, id: i64) -> AppResult<(StatusCode, serde_json::Value)> {
    let public_url = ctx.public_url();
    let local_domain = ctx.settings.domain.clone();
    let (found, group, author, tags, mentions) = crate::with_conn!(&ctx.db, |conn| {
        let found = thread::read(&mut conn, id).await.map_err(|e| match e {
            diesel::result::Error::NotFound => not_found("thread"),
            other => AppError::from(other),
        })?;
        let group = community::read(&mut conn, found.community_id).await?;
        let author = person::read(&mut conn, found.author_id).await?;
        let tags = tag::tags_of(&mut conn, &[found.id]).await?;
        let mentions = mention::list(&mut conn, mention::MentionSource::Thread(found.id)).await?;
        Ok::<_, AppError>((found, group, author, tags, mentions))
    })?;
    if !found.local || group.visibility == Visibility::Internal {
        return Err(not_found("thread"));
    }
    if found.deleted || found.removed {
        return gone(&found.ap_id, "Page", found.updated);
    }
    let group_id = parse(&group.ap_id)?;
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
        name: Some(format!("@{}@{}", group.name, local_domain)),
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
    let value = serde_json::to_value(WithContext::new(page)).map_err(AppError::internal)?;
    Ok((StatusCode::OK, value))
}

/// An answer as `Note` replying to the thread or its parent answer (410 once deleted).
pub async fn answer_json(ctx: &AppContext, id: i64) -> AppResult<(StatusCode, serde_json::Value)> {
    let public_url = ctx.public_url();
    let local_domain = ctx.settings.domain.clone();
    let (found, parent_thread, group, author, parent_ap_id, mentions) =
        crate::with_conn!(&ctx.db, |conn| {
            let found = answer::read(&mut conn, id).await.map_err(|e| match e {
                diesel::result::Error::NotFound => not_found("answer"),
                other => AppError::from(other),
            })?;
            let parent_thread = thread::read(&mut conn, found.thread_id).await?;
            let group = community::read(&mut conn, parent_thread.community_id).await?;
            let author = person::read(&mut conn, found.author_id).await?;
            let parent_ap_id = match found.parent_id {
                Some(parent) => answer::read(&mut conn, parent).await?.ap_id,
                None => parent_thread.ap_id.clone(),
            };
            let mentions =
                mention::list(&mut conn, mention::MentionSource::Answer(found.id)).await?;
            Ok::<_, AppError>((found, parent_thread, group, author, parent_ap_id, mentions))
        })?;
    if !found.local || group.visibility == Visibility::Internal {
        return Err(not_found("answer"));
    }
    if found.deleted || found.removed {
        return gone(&found.ap_id, "Note", found.updated);
    }
    let group_id = parse(&group.ap_id)?;
    let mut tags = vec![Tag::Link(TagLink {
        kind: TagKind::Mention,
        href: group_id.clone(),
        name: Some(format!("@{}@{}", group.name, local_domain)),
    })];
    tags.extend(mention_tags(&mentions, &public_url, &local_domain));
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
        context: Some(parse(&format!("{}/context", parent_thread.ap_id))?),
        answer: found.accepted,
        published: Some(found.published.and_utc()),
        updated: found.updated.map(|u| u.and_utc()),
    };
    let value = serde_json::to_value(WithContext::new(note)).map_err(AppError::internal)?;
    Ok((StatusCode::OK, value))
}
