//! Threads and answers: asking, answering, editing with history, deleting, locking,
//! voting and accepting answers.

use std::collections::{HashMap, HashSet};

use crate::content::{find_mentions, markdown_to_html, normalize_tag};
use crate::db::answer::{self, Answer, AnswerInsertForm};
use crate::db::community::{self, Community};
use crate::db::mention::{self, MentionSource};
use crate::db::person::Person;
use crate::db::revision::{self, AnswerRevision, ThreadRevision};
use crate::db::thread::{self, Thread, ThreadCursor, ThreadInsertForm, ThreadQuery, ThreadSort};
use crate::db::types::{CommunityKind, ThreadKind};
use crate::db::{Db, DbConn, instance, person, tag, vote};
use crate::error::{AppError, AppResult};
use crate::federation::{activities, outbox};
use crate::service::auth::Session;
use crate::service::communities::{
    self, CommunityDetails, can_moderate, ensure_visible, handle_of, resolve,
};
use crate::service::moderation;
use crate::settings::Settings;

pub const THREAD_TITLE_MIN_CHARS: usize = 3;
pub const THREAD_TITLE_MAX_CHARS: usize = 200;
/// Longest thread or answer body, in characters.
pub const BODY_MAX_CHARS: usize = 100_000;
pub const MAX_TAGS: usize = 5;
/// Replies nest at most this deep below the thread.
pub const MAX_DEPTH: i64 = 50;
pub const PAGE_DEFAULT: i64 = 20;
pub const PAGE_MAX: i64 = 100;

/// A thread with everything its JSON and pages show.
#[derive(Debug, Clone)]
pub struct ThreadDetails {
    pub thread: Thread,
    pub community_handle: String,
    pub author_handle: String,
    pub author_deleted: bool,
    pub tags: Vec<String>,
    pub accepted_answer_ids: Vec<i64>,
    /// The viewer's vote: -1, 0 or 1.
    pub my_vote: i64,
}

/// An answer with its replies, as the thread view nests them.
#[derive(Debug, Clone)]
pub struct AnswerNode {
    pub answer: Answer,
    pub author_handle: String,
    pub author_deleted: bool,
    pub my_vote: i64,
    pub children: Vec<AnswerNode>,
}

/// A page of threads and where the next one starts.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    pub threads: Vec<ThreadDetails>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewThread {
    pub title: String,
    pub body: String,
    /// Defaults from the community: `question` in Q&A communities, else `discussion`.
    pub kind: Option<ThreadKind>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ThreadChanges {
    pub title: Option<String>,
    pub body: Option<String>,
    pub tags: Option<Vec<String>>,
}

fn thread_not_found() -> AppError {
    AppError::not_found("thread_not_found", "no thread has this id")
}

fn answer_not_found() -> AppError {
    AppError::not_found("answer_not_found", "no answer has this id")
}

fn not_found_as(err: diesel::result::Error, missing: fn() -> AppError) -> AppError {
    match err {
        diesel::result::Error::NotFound => missing(),
        other => AppError::from(other),
    }
}

fn clean_thread_title(title: &str) -> AppResult<String> {
    let title = title.trim();
    let chars = title.chars().count();
    if !(THREAD_TITLE_MIN_CHARS..=THREAD_TITLE_MAX_CHARS).contains(&chars)
        || title.chars().any(char::is_control)
    {
        return Err(AppError::unprocessable(
            "invalid_title",
            format!(
                "title must be {THREAD_TITLE_MIN_CHARS} to {THREAD_TITLE_MAX_CHARS} characters, without control characters"
            ),
        ));
    }
    Ok(title.to_owned())
}

fn check_body(body: &str, required: bool) -> AppResult<()> {
    if required && body.trim().is_empty() {
        return Err(AppError::unprocessable(
            "empty_body",
            "body must not be empty",
        ));
    }
    if body.chars().count() > BODY_MAX_CHARS {
        return Err(AppError::unprocessable(
            "body_too_long",
            format!("body must be at most {BODY_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

fn clean_tags(raw: &[String]) -> AppResult<Vec<String>> {
    let mut tags: Vec<String> = Vec::new();
    for given in raw {
        let tag = normalize_tag(given).map_err(|bad| {
            AppError::unprocessable(
                "invalid_tag",
                format!("tag `{bad}` must be 1-30 characters of a-z, 0-9 and -"),
            )
        })?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(AppError::unprocessable(
            "too_many_tags",
            format!("a thread has at most {MAX_TAGS} tags"),
        ));
    }
    Ok(tags)
}

/// `{micros}_{id}` for time sorts, `{score}_{id}` for `top`.
fn encode_cursor(sort: ThreadSort, last: &Thread) -> String {
    match sort {
        ThreadSort::New | ThreadSort::Unanswered => {
            format!(
                "{}_{}",
                last.published.and_utc().timestamp_micros(),
                last.id
            )
        }
        ThreadSort::Active => format!(
            "{}_{}",
            last.last_activity_at.and_utc().timestamp_micros(),
            last.id
        ),
        ThreadSort::Top => format!("{}_{}", last.score, last.id),
    }
}

fn decode_cursor(sort: ThreadSort, cursor: &str) -> AppResult<ThreadCursor> {
    let invalid = || {
        AppError::bad_request(
            "invalid_cursor",
            "cursor must be a next_cursor value from the same listing",
        )
    };
    let (key, id) = cursor.rsplit_once('_').ok_or_else(invalid)?;
    let key: i64 = key.parse().map_err(|_| invalid())?;
    let id: i64 = id.parse().map_err(|_| invalid())?;
    Ok(match sort {
        ThreadSort::Top => ThreadCursor::Score(key, id),
        _ => ThreadCursor::Time(
            chrono::DateTime::from_timestamp_micros(key)
                .ok_or_else(invalid)?
                .naive_utc(),
            id,
        ),
    })
}

/// Person handles and deletion flags for the given person ids.
pub(crate) async fn authors(
    conn: &mut DbConn<'_>,
    ids: &[i64],
) -> AppResult<HashMap<i64, (String, bool)>> {
    let people: Vec<Person> = person::read_many(conn, ids).await?;
    let instance_ids: Vec<i64> = people.iter().map(|p| p.instance_id).collect();
    let domains = instance::domains(conn, &instance_ids).await?;
    Ok(people
        .into_iter()
        .map(|p| {
            let domain = domains.get(&p.instance_id).cloned().unwrap_or_default();
            (p.id, (handle_of(&p.name, p.local, &domain), p.deleted))
        })
        .collect())
}

/// Joins what the thread list and view need, keeping the order of `list`.
pub(crate) async fn details(
    conn: &mut DbConn<'_>,
    viewer: Option<&Session>,
    list: Vec<Thread>,
) -> AppResult<Vec<ThreadDetails>> {
    let ids: Vec<i64> = list.iter().map(|t| t.id).collect();
    let author_ids: Vec<i64> = list.iter().map(|t| t.author_id).collect();
    let community_ids: Vec<i64> = list.iter().map(|t| t.community_id).collect();
    let authors = authors(conn, &author_ids).await?;
    let communities: Vec<Community> = community::read_many(conn, &community_ids).await?;
    let instance_ids: Vec<i64> = communities.iter().map(|c| c.instance_id).collect();
    let domains = instance::domains(conn, &instance_ids).await?;
    let community_handles: HashMap<i64, String> = communities
        .iter()
        .map(|c| {
            let domain = domains.get(&c.instance_id).cloned().unwrap_or_default();
            (c.id, handle_of(&c.name, c.local, &domain))
        })
        .collect();
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for (thread_id, name) in tag::tags_of(conn, &ids).await? {
        tags.entry(thread_id).or_default().push(name);
    }
    let mut accepted: HashMap<i64, Vec<i64>> = HashMap::new();
    for (thread_id, answer_id) in answer::accepted_ids(conn, &ids).await? {
        accepted.entry(thread_id).or_default().push(answer_id);
    }
    let votes: HashMap<i64, i64> = match viewer {
        Some(session) => vote::thread_votes_of(conn, session.person.id, &ids)
            .await?
            .into_iter()
            .collect(),
        None => HashMap::new(),
    };
    Ok(list
        .into_iter()
        .map(|t| {
            let (author_handle, author_deleted) =
                authors.get(&t.author_id).cloned().unwrap_or_default();
            ThreadDetails {
                community_handle: community_handles
                    .get(&t.community_id)
                    .cloned()
                    .unwrap_or_default(),
                author_handle,
                author_deleted,
                tags: tags.remove(&t.id).unwrap_or_default(),
                accepted_answer_ids: accepted.remove(&t.id).unwrap_or_default(),
                my_vote: votes.get(&t.id).copied().unwrap_or(0),
                thread: t,
            }
        })
        .collect())
}

async fn one_details(
    conn: &mut DbConn<'_>,
    viewer: Option<&Session>,
    thread: Thread,
) -> AppResult<ThreadDetails> {
    details(conn, viewer, vec![thread])
        .await?
        .pop()
        .ok_or_else(thread_not_found)
}

/// Reads a thread and its community, checking the viewer may see it.
pub(crate) async fn visible_thread(
    conn: &mut DbConn<'_>,
    viewer: Option<&Session>,
    id: i64,
) -> AppResult<(Thread, Community)> {
    let found = thread::read(conn, id)
        .await
        .map_err(|e| not_found_as(e, thread_not_found))?;
    let community = community::read(conn, found.community_id).await?;
    ensure_visible(&community, viewer)?;
    Ok((found, community))
}

/// Asks a question or starts a discussion in a community.
pub async fn create_thread(
    db: &Db,
    settings: &Settings,
    session: &Session,
    community_handle: &str,
    new: NewThread,
) -> AppResult<ThreadDetails> {
    let title = clean_thread_title(&new.title)?;
    check_body(&new.body, false)?;
    let tags = clean_tags(&new.tags)?;
    let body_html = markdown_to_html(&new.body);
    let mentions = find_mentions(&new.body);
    let public_url = settings.public_url();
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let found = resolve(&mut conn, settings, Some(session), community_handle).await?;
        moderation::ensure_not_banned(&mut conn, found.id, session.person.id).await?;
        if found.posting_restricted_to_mods && !can_moderate(&mut conn, session, found.id).await? {
            return Err(AppError::forbidden(
                "posting_restricted",
                "only moderators may start threads in this community",
            ));
        }
        let kind = new.kind.unwrap_or(match found.kind {
            CommunityKind::Qa => ThreadKind::Question,
            CommunityKind::Discussion => ThreadKind::Discussion,
        });
        let inserted = thread::insert(
            &mut conn,
            &ThreadInsertForm {
                // The address needs the id; a unique placeholder holds the place until then.
                ap_id: format!(
                    "{public_url}/t/new-{}",
                    crate::service::auth::random_secret()?
                ),
                local: true,
                community_id: found.id,
                author_id: session.person.id,
                kind,
                title: title.clone(),
                body: new.body.clone(),
                body_html: body_html.clone(),
                last_activity_at: now,
                published: now,
            },
        )
        .await?;
        let created = thread::set_ap_id(
            &mut conn,
            inserted.id,
            &format!("{public_url}/t/{}", inserted.id),
        )
        .await?;
        tag::set_thread_tags(&mut conn, created.id, &tags, now).await?;
        mention::replace(&mut conn, MentionSource::Thread(created.id), &mentions).await?;
        activities::thread_written(&mut conn, settings, &session.person, &created, "Create")
            .await?;
        one_details(&mut conn, Some(session), created).await
    })
    .inspect(|_| outbox::wake())
}

/// A thread with its answers as a tree (accepted answers first, then by score).
pub async fn get_thread(
    db: &Db,
    viewer: Option<&Session>,
    id: i64,
) -> AppResult<(ThreadDetails, Vec<AnswerNode>)> {
    crate::with_conn!(db, |conn| thread_with_answers(&mut conn, viewer, id).await)
}

/// [`get_thread`]'s reads on a connection the caller holds.
async fn thread_with_answers(
    conn: &mut DbConn<'_>,
    viewer: Option<&Session>,
    id: i64,
) -> AppResult<(ThreadDetails, Vec<AnswerNode>)> {
    let (found, _) = visible_thread(conn, viewer, id).await?;
    let answers = answer::list_for_thread(conn, found.id).await?;
    let details = one_details(conn, viewer, found).await?;
    let tree = answer_tree(conn, viewer, answers).await?;
    Ok((details, tree))
}

/// The thread page's reads on one pooled connection: the thread, its answers and its
/// community. Under load a page that queued for the pool a second time held its first
/// results (100 answers) while it waited; one checkout keeps memory to the pool's size.
pub async fn get_thread_page(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    id: i64,
) -> AppResult<(ThreadDetails, Vec<AnswerNode>, CommunityDetails)> {
    crate::with_conn!(db, |conn| {
        let (details, tree) = thread_with_answers(&mut conn, viewer, id).await?;
        let community =
            communities::get_on(&mut conn, settings, viewer, &details.community_handle).await?;
        Ok::<_, AppError>((details, tree, community))
    })
}

pub(crate) async fn answer_tree(
    conn: &mut DbConn<'_>,
    viewer: Option<&Session>,
    answers: Vec<Answer>,
) -> AppResult<Vec<AnswerNode>> {
    let ids: Vec<i64> = answers.iter().map(|a| a.id).collect();
    let author_ids: Vec<i64> = answers.iter().map(|a| a.author_id).collect();
    let authors = authors(conn, &author_ids).await?;
    let votes: HashMap<i64, i64> = match viewer {
        Some(session) => vote::answer_votes_of(conn, session.person.id, &ids)
            .await?
            .into_iter()
            .collect(),
        None => HashMap::new(),
    };
    let present: HashSet<i64> = ids.iter().copied().collect();
    let mut children: HashMap<Option<i64>, Vec<Answer>> = HashMap::new();
    for a in answers {
        // A reply whose parent is unknown here hangs from the thread rather than vanishing.
        let parent = a.parent_id.filter(|p| present.contains(p));
        children.entry(parent).or_default().push(a);
    }
    fn build(
        parent: Option<i64>,
        children: &mut HashMap<Option<i64>, Vec<Answer>>,
        authors: &HashMap<i64, (String, bool)>,
        votes: &HashMap<i64, i64>,
    ) -> Vec<AnswerNode> {
        let mut level = children.remove(&parent).unwrap_or_default();
        level.sort_by(|a, b| {
            b.accepted
                .cmp(&a.accepted)
                .then(b.score.cmp(&a.score))
                .then(a.published.cmp(&b.published))
                .then(a.id.cmp(&b.id))
        });
        level
            .into_iter()
            .map(|a| {
                let (author_handle, author_deleted) =
                    authors.get(&a.author_id).cloned().unwrap_or_default();
                AnswerNode {
                    children: build(Some(a.id), children, authors, votes),
                    author_handle,
                    author_deleted,
                    my_vote: votes.get(&a.id).copied().unwrap_or(0),
                    answer: a,
                }
            })
            .collect()
    }
    Ok(build(None, &mut children, &authors, &votes))
}

/// Which page of which threads a listing asks for.
#[derive(Debug, Clone)]
pub struct ThreadListRequest<'a> {
    pub sort: ThreadSort,
    /// Only threads with this tag (normalized like tags on threads).
    pub tag: Option<&'a str>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<&'a str>,
    /// Threads per page; [`PAGE_DEFAULT`] when absent, at most [`PAGE_MAX`].
    pub limit: Option<i64>,
}

/// The page size asked for, [`PAGE_DEFAULT`] when absent; 400 outside 1..=[`PAGE_MAX`].
pub(crate) fn page_limit(limit: Option<i64>) -> AppResult<i64> {
    let limit = limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(AppError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {PAGE_MAX}"),
        ));
    }
    Ok(limit)
}

/// A tag from a query, normalized like tags on threads; 400 when it is not one.
pub(crate) fn checked_tag(raw: &str) -> AppResult<String> {
    normalize_tag(raw)
        .map_err(|bad| AppError::bad_request("invalid_tag", format!("`{bad}` is not a valid tag")))
}

/// A page of a community's threads.
pub async fn list_threads(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    community_handle: &str,
    request: ThreadListRequest<'_>,
) -> AppResult<ThreadPage> {
    let query = checked_list_request(&request)?;
    crate::with_conn!(db, |conn| {
        let found = resolve(&mut conn, settings, viewer, community_handle).await?;
        list_threads_in(&mut conn, viewer, found.id, request.sort, &query).await
    })
}

/// A listing request with its limit, cursor and tag checked: `(limit, after, tag)`.
type CheckedListRequest = (i64, Option<ThreadCursor>, Option<String>);

fn checked_list_request(request: &ThreadListRequest<'_>) -> AppResult<CheckedListRequest> {
    let limit = page_limit(request.limit)?;
    let after = request
        .cursor
        .map(|c| decode_cursor(request.sort, c))
        .transpose()?;
    let tag = request.tag.map(checked_tag).transpose()?;
    Ok((limit, after, tag))
}

async fn list_threads_in(
    conn: &mut DbConn<'_>,
    viewer: Option<&Session>,
    community_id: i64,
    sort: ThreadSort,
    (limit, after, tag): &CheckedListRequest,
) -> AppResult<ThreadPage> {
    let mut rows = thread::list(
        conn,
        &ThreadQuery {
            community_id,
            sort,
            tag: tag.as_deref(),
            after: *after,
            limit: limit + 1,
        },
    )
    .await?;
    let more = rows.len() as i64 > *limit;
    rows.truncate(*limit as usize);
    let next_cursor = if more {
        rows.last().map(|last| encode_cursor(sort, last))
    } else {
        None
    };
    let threads = details(conn, viewer, rows).await?;
    Ok(ThreadPage {
        threads,
        next_cursor,
    })
}

/// What a community's page shows.
pub struct CommunityPage {
    pub community: CommunityDetails,
    pub listing: ThreadPage,
    pub moderators: Vec<(Person, String)>,
    /// Tags with their thread counts, most used first.
    pub tags: Vec<(String, i64)>,
}

/// Everything a community's page shows, read on one pooled connection (see
/// [`get_thread_page`]). A deleted community is 410 Gone.
pub async fn get_community_page(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    community_handle: &str,
    request: ThreadListRequest<'_>,
) -> AppResult<CommunityPage> {
    crate::with_conn!(db, |conn| {
        let community = communities::get_on(&mut conn, settings, viewer, community_handle).await?;
        if community.community.deleted {
            return Err(AppError::new(
                crate::error::ErrorKind::Gone,
                "gone",
                "this community was deleted",
            ));
        }
        let query = checked_list_request(&request)?;
        let id = community.community.id;
        let listing = list_threads_in(&mut conn, viewer, id, request.sort, &query).await?;
        let people = crate::db::community_moderator::list(&mut conn, id).await?;
        let moderators = communities::with_handles(&mut conn, people).await?;
        let tags = tag::counts_in_community(&mut conn, id).await?;
        Ok(CommunityPage {
            community,
            listing,
            moderators,
            tags,
        })
    })
}

pub(crate) fn refuse_if_deleted(deleted: bool, what: &str) -> AppResult<()> {
    if deleted {
        Err(AppError::conflict(
            "deleted",
            format!("this {what} was deleted"),
        ))
    } else {
        Ok(())
    }
}

fn refuse_if_locked(thread: &Thread) -> AppResult<()> {
    if thread.locked {
        Err(AppError::conflict(
            "thread_locked",
            "this thread is locked: it takes no new answers or edits",
        ))
    } else {
        Ok(())
    }
}

/// The author edits a thread; the replaced version is kept.
pub async fn edit_thread(
    db: &Db,
    settings: &Settings,
    session: &Session,
    id: i64,
    changes: ThreadChanges,
) -> AppResult<ThreadDetails> {
    let title = changes
        .title
        .as_deref()
        .map(clean_thread_title)
        .transpose()?;
    if let Some(body) = &changes.body {
        check_body(body, false)?;
    }
    let tags = changes.tags.as_deref().map(clean_tags).transpose()?;
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let (found, _) = visible_thread(&mut conn, Some(session), id).await?;
        if found.author_id != session.person.id {
            return Err(AppError::forbidden(
                "not_author",
                "only the author may edit this thread",
            ));
        }
        refuse_if_deleted(found.deleted, "thread")?;
        refuse_if_locked(&found)?;
        moderation::ensure_not_banned(&mut conn, found.community_id, session.person.id).await?;
        let found_title = found.title.clone();
        let found_body = found.body.clone();
        let mut current = found;
        let new_title = title.clone().unwrap_or_else(|| current.title.clone());
        let new_body = changes.body.clone().unwrap_or_else(|| current.body.clone());
        if new_title != current.title || new_body != current.body {
            revision::save_thread_version(
                &mut conn,
                current.id,
                session.person.id,
                &current.title,
                &current.body,
                now,
            )
            .await?;
            current = thread::update_text(
                &mut conn,
                current.id,
                &new_title,
                &new_body,
                &markdown_to_html(&new_body),
                now,
            )
            .await?;
            mention::replace(
                &mut conn,
                MentionSource::Thread(current.id),
                &find_mentions(&new_body),
            )
            .await?;
        }
        let mut changed = new_title != found_title || new_body != found_body;
        if let Some(tags) = &tags {
            tag::set_thread_tags(&mut conn, current.id, tags, now).await?;
            changed = true;
        }
        if changed {
            activities::thread_written(&mut conn, settings, &session.person, &current, "Update")
                .await?;
        }
        one_details(&mut conn, Some(session), current).await
    })
    .inspect(|_| outbox::wake())
}

/// The author or a moderator deletes a thread, leaving a tombstone.
pub async fn delete_thread(
    db: &Db,
    settings: &Settings,
    session: &Session,
    id: i64,
) -> AppResult<ThreadDetails> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let (found, group) = visible_thread(&mut conn, Some(session), id).await?;
        let own = found.author_id == session.person.id;
        if !own && !can_moderate(&mut conn, session, found.community_id).await? {
            return Err(AppError::forbidden(
                "not_allowed",
                "only the author or a moderator may delete this thread",
            ));
        }
        refuse_if_deleted(found.deleted, "thread")?;
        let deleted = thread::mark_deleted(&mut conn, found.id, now).await?;
        mention::replace(&mut conn, MentionSource::Thread(found.id), &[]).await?;
        let reason = (!own).then_some("");
        activities::deleted(
            &mut conn,
            settings,
            &session.person,
            &found.ap_id,
            &group,
            reason,
        )
        .await?;
        one_details(&mut conn, Some(session), deleted).await
    })
    .inspect(|_| outbox::wake())
}

/// Moderators lock (no new answers or edits) or unlock a thread, with an optional reason;
/// logged, and federated as `Lock` / `Undo(Lock)`.
pub async fn set_locked(
    db: &Db,
    settings: &Settings,
    session: &Session,
    id: i64,
    locked: bool,
    reason: Option<&str>,
) -> AppResult<ThreadDetails> {
    let reason = moderation::clean_reason(reason, false)?;
    crate::transaction!(db, |conn| {
        let (found, group) = visible_thread(&mut conn, Some(session), id).await?;
        if !can_moderate(&mut conn, session, found.community_id).await? {
            return Err(AppError::forbidden(
                "moderator_required",
                "only this community's moderators may lock threads",
            ));
        }
        refuse_if_deleted(found.deleted, "thread")?;
        if found.locked == locked {
            return one_details(&mut conn, Some(session), found).await;
        }
        let changed = moderation::apply_lock(
            &mut conn,
            group.id,
            &session.person,
            &found,
            locked,
            reason.clone(),
        )
        .await?;
        activities::thread_locked(
            &mut conn,
            settings,
            &session.person,
            &found.ap_id,
            &group,
            reason.as_deref(),
            locked,
        )
        .await?;
        one_details(&mut conn, Some(session), changed).await
    })
    .inspect(|_| outbox::wake())
}

/// A moderator pins a thread to its community (its featured collection) or unpins it;
/// federated as `Add` / `Remove` with `{group}/featured` as target. Pinning a pinned thread
/// changes nothing.
pub async fn set_pinned(
    db: &Db,
    settings: &Settings,
    session: &Session,
    id: i64,
    pinned: bool,
) -> AppResult<ThreadDetails> {
    crate::transaction!(db, |conn| {
        let (found, group) = visible_thread(&mut conn, Some(session), id).await?;
        if !can_moderate(&mut conn, session, found.community_id).await? {
            return Err(AppError::forbidden(
                "moderator_required",
                "only this community's moderators may pin threads",
            ));
        }
        refuse_if_deleted(found.deleted, "thread")?;
        if found.pinned == pinned {
            return one_details(&mut conn, Some(session), found).await;
        }
        let changed =
            moderation::apply_pin(&mut conn, group.id, &session.person, &found, pinned).await?;
        activities::collection_changed(
            &mut conn,
            settings,
            &session.person,
            &found.ap_id,
            &group,
            "featured",
            pinned,
        )
        .await?;
        one_details(&mut conn, Some(session), changed).await
    })
    .inspect(|_| outbox::wake())
}

/// Earlier versions of a thread, oldest first.
pub async fn thread_history(
    db: &Db,
    viewer: Option<&Session>,
    id: i64,
) -> AppResult<Vec<(ThreadRevision, String)>> {
    crate::with_conn!(db, |conn| {
        visible_thread(&mut conn, viewer, id).await?;
        let versions = revision::thread_history(&mut conn, id).await?;
        let editors: Vec<i64> = versions.iter().map(|v| v.editor_id).collect();
        let handles = authors(&mut conn, &editors).await?;
        Ok::<_, AppError>(
            versions
                .into_iter()
                .map(|v| {
                    let handle = handles
                        .get(&v.editor_id)
                        .map(|h| h.0.clone())
                        .unwrap_or_default();
                    (v, handle)
                })
                .collect(),
        )
    })
}

/// Answers a thread, or replies to an answer in it (`parent_id`).
pub async fn create_answer(
    db: &Db,
    settings: &Settings,
    session: &Session,
    thread_id: i64,
    body: &str,
    parent_id: Option<i64>,
) -> AppResult<AnswerNode> {
    check_body(body, true)?;
    let body_html = markdown_to_html(body);
    let mentions = find_mentions(body);
    let public_url = settings.public_url();
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let (found, _) = visible_thread(&mut conn, Some(session), thread_id).await?;
        refuse_if_deleted(found.deleted, "thread")?;
        refuse_if_locked(&found)?;
        moderation::ensure_not_banned(&mut conn, found.community_id, session.person.id).await?;
        let depth = match parent_id {
            Some(parent_id) => {
                let parent = answer::read(&mut conn, parent_id)
                    .await
                    .map_err(|e| not_found_as(e, answer_not_found))?;
                if parent.thread_id != found.id {
                    return Err(AppError::unprocessable(
                        "invalid_parent",
                        "parent_id must be an answer in this thread",
                    ));
                }
                if parent.depth + 1 >= MAX_DEPTH {
                    return Err(AppError::unprocessable(
                        "too_deep",
                        format!("replies nest at most {MAX_DEPTH} levels deep"),
                    ));
                }
                parent.depth + 1
            }
            None => 0,
        };
        let inserted = answer::insert(
            &mut conn,
            &AnswerInsertForm {
                ap_id: format!(
                    "{public_url}/r/new-{}",
                    crate::service::auth::random_secret()?
                ),
                local: true,
                thread_id: found.id,
                parent_id,
                author_id: session.person.id,
                depth,
                body: body.to_owned(),
                body_html: body_html.clone(),
                published: now,
            },
        )
        .await?;
        let created = answer::set_ap_id(
            &mut conn,
            inserted.id,
            &format!("{public_url}/r/{}", inserted.id),
        )
        .await?;
        mention::replace(&mut conn, MentionSource::Answer(created.id), &mentions).await?;
        let group = community::read(&mut conn, found.community_id).await?;
        activities::answer_written(
            &mut conn,
            settings,
            &session.person,
            &created,
            &group,
            "Create",
        )
        .await?;
        // The thread row is locked last, so answers to one thread are stored (and their
        // deliveries queued) in parallel and wait on each other only for the count and the
        // commit. Locked or deleted meanwhile: judged again on the locked row, and the error
        // rolls the answer and its deliveries back.
        let locked = thread::read_for_update(&mut conn, found.id).await?;
        refuse_if_deleted(locked.deleted, "thread")?;
        refuse_if_locked(&locked)?;
        thread::count_new_answer(&mut conn, &locked, created.published).await?;
        one_node(&mut conn, Some(session), created).await
    })
    .inspect(|_| outbox::wake())
}

async fn one_node(
    conn: &mut DbConn<'_>,
    viewer: Option<&Session>,
    answer: Answer,
) -> AppResult<AnswerNode> {
    let mut tree = answer_tree(conn, viewer, vec![answer]).await?;
    tree.pop().ok_or_else(answer_not_found)
}

/// Reads an answer with its thread and community, checking the viewer may see them.
pub(crate) async fn visible_answer(
    conn: &mut DbConn<'_>,
    viewer: Option<&Session>,
    id: i64,
) -> AppResult<(Answer, Thread)> {
    let found = answer::read(conn, id)
        .await
        .map_err(|e| not_found_as(e, answer_not_found))?;
    let (parent_thread, _) = visible_thread(conn, viewer, found.thread_id).await?;
    Ok((found, parent_thread))
}

pub async fn get_answer(db: &Db, viewer: Option<&Session>, id: i64) -> AppResult<AnswerNode> {
    crate::with_conn!(db, |conn| {
        let (found, _) = visible_answer(&mut conn, viewer, id).await?;
        one_node(&mut conn, viewer, found).await
    })
}

/// The author edits an answer; the replaced version is kept.
pub async fn edit_answer(
    db: &Db,
    settings: &Settings,
    session: &Session,
    id: i64,
    body: &str,
) -> AppResult<AnswerNode> {
    check_body(body, true)?;
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let (found, parent_thread) = visible_answer(&mut conn, Some(session), id).await?;
        if found.author_id != session.person.id {
            return Err(AppError::forbidden(
                "not_author",
                "only the author may edit this answer",
            ));
        }
        refuse_if_deleted(found.deleted, "answer")?;
        refuse_if_locked(&parent_thread)?;
        moderation::ensure_not_banned(&mut conn, parent_thread.community_id, session.person.id)
            .await?;
        if body == found.body {
            return one_node(&mut conn, Some(session), found).await;
        }
        revision::save_answer_version(&mut conn, found.id, session.person.id, &found.body, now)
            .await?;
        let updated =
            answer::update_body(&mut conn, found.id, body, &markdown_to_html(body), now).await?;
        mention::replace(
            &mut conn,
            MentionSource::Answer(found.id),
            &find_mentions(body),
        )
        .await?;
        let group = community::read(&mut conn, parent_thread.community_id).await?;
        activities::answer_written(
            &mut conn,
            settings,
            &session.person,
            &updated,
            &group,
            "Update",
        )
        .await?;
        one_node(&mut conn, Some(session), updated).await
    })
    .inspect(|_| outbox::wake())
}

/// The author or a moderator deletes an answer; replies below it stay.
pub async fn delete_answer(
    db: &Db,
    settings: &Settings,
    session: &Session,
    id: i64,
) -> AppResult<AnswerNode> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let (found, parent_thread) = visible_answer(&mut conn, Some(session), id).await?;
        let own = found.author_id == session.person.id;
        if !own && !can_moderate(&mut conn, session, parent_thread.community_id).await? {
            return Err(AppError::forbidden(
                "not_allowed",
                "only the author or a moderator may delete this answer",
            ));
        }
        refuse_if_deleted(found.deleted, "answer")?;
        thread::read_for_update(&mut conn, parent_thread.id).await?;
        let deleted = answer::mark_deleted(&mut conn, found.id, now).await?;
        mention::replace(&mut conn, MentionSource::Answer(found.id), &[]).await?;
        thread::refresh_answer_counts(&mut conn, parent_thread.id).await?;
        let group = community::read(&mut conn, parent_thread.community_id).await?;
        let reason = (!own).then_some("");
        activities::deleted(
            &mut conn,
            settings,
            &session.person,
            &found.ap_id,
            &group,
            reason,
        )
        .await?;
        one_node(&mut conn, Some(session), deleted).await
    })
    .inspect(|_| outbox::wake())
}

pub async fn answer_history(
    db: &Db,
    viewer: Option<&Session>,
    id: i64,
) -> AppResult<Vec<(AnswerRevision, String)>> {
    crate::with_conn!(db, |conn| {
        visible_answer(&mut conn, viewer, id).await?;
        let versions = revision::answer_history(&mut conn, id).await?;
        let editors: Vec<i64> = versions.iter().map(|v| v.editor_id).collect();
        let handles = authors(&mut conn, &editors).await?;
        Ok::<_, AppError>(
            versions
                .into_iter()
                .map(|v| {
                    let handle = handles
                        .get(&v.editor_id)
                        .map(|h| h.0.clone())
                        .unwrap_or_default();
                    (v, handle)
                })
                .collect(),
        )
    })
}

/// The thread's state after accepting or un-accepting an answer.
#[derive(Debug, Clone)]
pub struct AcceptState {
    pub thread_id: i64,
    pub solved: bool,
    pub accepted_answer_ids: Vec<i64>,
}

/// The asker or a moderator marks an answer accepted (or, with `accepted = false`, undoes
/// it). Only questions have accepted answers; a thread is solved while any is accepted.
pub async fn set_accepted(
    db: &Db,
    settings: &Settings,
    session: &Session,
    answer_id: i64,
    accepted: bool,
) -> AppResult<AcceptState> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let (found, parent_thread) = visible_answer(&mut conn, Some(session), answer_id).await?;
        if parent_thread.author_id != session.person.id
            && !can_moderate(&mut conn, session, parent_thread.community_id).await?
        {
            return Err(AppError::forbidden(
                "not_allowed",
                "only the asker or a moderator may accept answers",
            ));
        }
        if parent_thread.kind != ThreadKind::Question {
            return Err(AppError::conflict(
                "not_a_question",
                "only answers to questions can be accepted",
            ));
        }
        refuse_if_deleted(parent_thread.deleted, "thread")?;
        refuse_if_deleted(found.deleted, "answer")?;
        thread::read_for_update(&mut conn, parent_thread.id).await?;
        if found.accepted != accepted {
            answer::set_accepted(&mut conn, found.id, accepted, now).await?;
            let group = community::read(&mut conn, parent_thread.community_id).await?;
            activities::answer_chosen(
                &mut conn,
                settings,
                &session.person,
                &found.ap_id,
                &group,
                accepted,
            )
            .await?;
        }
        let refreshed = thread::refresh_answer_counts(&mut conn, parent_thread.id).await?;
        let ids = answer::accepted_ids(&mut conn, &[parent_thread.id])
            .await?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        Ok::<_, AppError>(AcceptState {
            thread_id: refreshed.id,
            solved: refreshed.accepted_answer_count > 0,
            accepted_answer_ids: ids,
        })
    })
    .inspect(|_| outbox::wake())
}

/// What a vote is on.
#[derive(Debug, Clone, Copy)]
pub enum VoteTarget {
    Thread(i64),
    Answer(i64),
}

/// The object's score after a vote, and the voter's vote.
#[derive(Debug, Clone, Copy)]
pub struct VoteResult {
    pub score: i64,
    pub upvotes: i64,
    pub downvotes: i64,
    pub my_vote: i64,
}

/// Votes +1 or -1 (0 takes the vote back). One vote per person per object; nobody votes
/// on their own writing. Totals are recomputed from the votes with the thread locked, so
/// concurrent votes never lose one another.
pub async fn vote(
    db: &Db,
    settings: &Settings,
    session: &Session,
    target: VoteTarget,
    score: i64,
) -> AppResult<VoteResult> {
    if !(-1..=1).contains(&score) {
        return Err(AppError::unprocessable(
            "invalid_score",
            "score must be 1, 0 or -1",
        ));
    }
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let (author_id, deleted, thread_id, object_ap_id, community_id) = match target {
            VoteTarget::Thread(id) => {
                let (t, _) = visible_thread(&mut conn, Some(session), id).await?;
                (t.author_id, t.deleted, t.id, t.ap_id, t.community_id)
            }
            VoteTarget::Answer(id) => {
                let (a, t) = visible_answer(&mut conn, Some(session), id).await?;
                (a.author_id, a.deleted, t.id, a.ap_id, t.community_id)
            }
        };
        if author_id == session.person.id {
            return Err(AppError::forbidden(
                "own_content",
                "you cannot vote on what you wrote",
            ));
        }
        refuse_if_deleted(deleted, "post")?;
        moderation::ensure_not_banned(&mut conn, community_id, session.person.id).await?;
        thread::read_for_update(&mut conn, thread_id).await?;
        let previous = match target {
            VoteTarget::Thread(id) => vote::thread_vote(&mut conn, id, session.person.id).await?,
            VoteTarget::Answer(id) => vote::answer_vote(&mut conn, id, session.person.id).await?,
        };
        let previous_score = previous.as_ref().map_or(0, |p| p.0);
        let vote_ap_id = if previous_score == score {
            previous.and_then(|p| p.1)
        } else {
            let group = community::read(&mut conn, community_id).await?;
            let previous = previous.and_then(|(s, id)| id.map(|id| (s, id)));
            activities::voted(
                &mut conn,
                settings,
                &session.person,
                &object_ap_id,
                &group,
                score,
                previous,
            )
            .await?
        };
        let vote_ap_id = vote_ap_id.as_deref();
        let (score_now, up, down) = match target {
            VoteTarget::Thread(id) => {
                vote::set_thread_vote(&mut conn, id, session.person.id, score, vote_ap_id, now)
                    .await?;
                let t = thread::refresh_score(&mut conn, id).await?;
                (t.score, t.upvotes, t.downvotes)
            }
            VoteTarget::Answer(id) => {
                vote::set_answer_vote(&mut conn, id, session.person.id, score, vote_ap_id, now)
                    .await?;
                let a = answer::refresh_score(&mut conn, id).await?;
                (a.score, a.upvotes, a.downvotes)
            }
        };
        Ok::<_, AppError>(VoteResult {
            score: score_now,
            upvotes: up,
            downvotes: down,
            my_vote: score,
        })
    })
    .inspect(|_| outbox::wake())
}
