//! Communities: creation, settings, membership (following) and moderators.

use std::collections::HashMap;

use crate::db::community::{self, Community, CommunityInsertForm, CommunityUpdateForm};
use crate::db::person::Person;
use crate::db::types::{ActorKind, CommunityKind, FollowState, Visibility};
use crate::db::{
    Db, DbConn, actor_name, community_follow, community_moderator, instance, local_account, tag,
};
use crate::error::{AppError, AppResult};
use crate::service::auth::Session;
use crate::settings::Settings;

pub const TITLE_MAX_CHARS: usize = 100;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
/// Most communities one listing returns.
pub const LIST_LIMIT: i64 = 500;

/// A community with what pages and API answers show about it.
#[derive(Debug, Clone)]
pub struct CommunityDetails {
    pub community: Community,
    /// `name` for local communities, `name@domain` for remote ones.
    pub handle: String,
    pub member_count: i64,
    pub thread_count: i64,
    /// The viewer's follow, if any.
    pub follow_state: Option<FollowState>,
    /// Whether the viewer may moderate it.
    pub viewer_moderates: bool,
}

#[derive(Debug, Clone)]
pub struct NewCommunity {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub rules: Option<String>,
    pub kind: CommunityKind,
    pub visibility: Visibility,
    pub posting_restricted_to_mods: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CommunityChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub rules: Option<String>,
    pub kind: Option<CommunityKind>,
    pub visibility: Option<Visibility>,
    pub posting_restricted_to_mods: Option<bool>,
}

fn community_not_found(handle: &str) -> AppError {
    AppError::not_found(
        "community_not_found",
        format!("no community `{handle}` is known here"),
    )
}

/// Splits `name` or `name@domain` (an optional leading `!` is accepted).
fn parse_handle<'a>(handle: &'a str, local_domain: &'a str) -> (String, &'a str) {
    let handle = handle.trim().trim_start_matches('!');
    match handle.split_once('@') {
        Some((name, domain)) => (name.to_ascii_lowercase(), domain),
        None => (handle.to_ascii_lowercase(), local_domain),
    }
}

/// `name` for local communities and persons, `name@domain` for remote ones.
pub fn handle_of(name: &str, local: bool, domain: &str) -> String {
    if local {
        name.to_owned()
    } else {
        format!("{name}@{domain}")
    }
}

/// Finds a community by handle and checks the viewer may see it: `internal` communities
/// are for signed-in members of this instance only.
pub async fn resolve(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    viewer: Option<&Session>,
    handle: &str,
) -> AppResult<Community> {
    let (name, domain) = parse_handle(handle, &settings.domain);
    let found = community::read_by_name(conn, &name, &domain.to_ascii_lowercase())
        .await?
        .ok_or_else(|| community_not_found(handle))?;
    ensure_visible(&found, viewer)?;
    Ok(found)
}

/// Refuses anonymous viewers of `internal` and `partners` communities: neither is public
/// (partner instances read the latter by signed fetch, not through these pages).
pub fn ensure_visible(community: &Community, viewer: Option<&Session>) -> AppResult<()> {
    if community.visibility != Visibility::Public && viewer.is_none() {
        return Err(AppError::unauthorized(
            "sign_in_required",
            "this community is for members of this instance; sign in to see it",
        ));
    }
    Ok(())
}

/// Instance admins and moderators moderate every community; others only where they are
/// community moderators.
pub async fn can_moderate(
    conn: &mut DbConn<'_>,
    session: &Session,
    community_id: i64,
) -> AppResult<bool> {
    if session.is_staff() {
        return Ok(true);
    }
    Ok(community_moderator::is_moderator(conn, community_id, session.person.id).await?)
}

fn clean_text(
    value: Option<String>,
    field: &'static str,
    code: &'static str,
    max: usize,
) -> AppResult<Option<String>> {
    let value = value.filter(|v| !v.trim().is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        return Err(AppError::unprocessable(
            code,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value)
}

fn clean_title(title: &str) -> AppResult<String> {
    let title = title.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > TITLE_MAX_CHARS || title.chars().any(char::is_control) {
        return Err(AppError::unprocessable(
            "invalid_title",
            format!("title must be 1 to {TITLE_MAX_CHARS} characters, without control characters"),
        ));
    }
    Ok(title.to_owned())
}

/// Creates a local community (a `Group` actor with its own key pair). The creator becomes
/// its first moderator and its first member.
pub async fn create(
    db: &Db,
    settings: &Settings,
    session: &Session,
    new: NewCommunity,
) -> AppResult<CommunityDetails> {
    crate::service::accounts::validate_username(&new.name).map_err(|e| {
        AppError::unprocessable(
            "invalid_name",
            e.message.replacen("username", "community name", 1),
        )
    })?;
    let title = clean_title(&new.title)?;
    let description = clean_text(
        new.description,
        "description",
        "invalid_description",
        DESCRIPTION_MAX_CHARS,
    )?;
    let rules = clean_text(new.rules, "rules", "invalid_rules", DESCRIPTION_MAX_CHARS)?;
    let keypair = tokio::task::spawn_blocking(
        activitypub_federation::http_signatures::generate_actor_keypair,
    )
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    let public_url = settings.public_url();
    let ap_id = format!("{public_url}/c/{}", new.name);
    let now = crate::db::now();
    let created = crate::transaction!(db, |conn| {
        if !actor_name::reserve_actor_name(&mut conn, &new.name, ActorKind::Community).await? {
            return Err(AppError::conflict(
                "name_taken",
                format!(
                    "the name `{}` is already taken by a person or a community",
                    new.name
                ),
            ));
        }
        let local = instance::read_local(&mut conn).await?;
        let created = community::insert(
            &mut conn,
            &CommunityInsertForm {
                ap_id: ap_id.clone(),
                local: true,
                instance_id: local.id,
                name: new.name.clone(),
                name_lower: new.name.clone(),
                title: title.clone(),
                description_html: description.as_deref().map(crate::content::markdown_to_html),
                description: description.clone(),
                rules: rules.clone(),
                kind: new.kind,
                visibility: new.visibility,
                posting_restricted_to_mods: new.posting_restricted_to_mods,
                inbox_url: format!("{ap_id}/inbox"),
                shared_inbox_url: Some(format!("{public_url}/inbox")),
                followers_url: Some(format!("{ap_id}/followers")),
                moderators_url: Some(format!("{ap_id}/moderators")),
                featured_url: Some(format!("{ap_id}/featured")),
                public_key_pem: keypair.public_key.clone(),
                private_key_pem: Some(keypair.private_key.clone()),
                published: now,
                last_refreshed_at: now,
            },
        )
        .await?;
        community_moderator::add(&mut conn, created.id, session.person.id, now).await?;
        community_follow::upsert(
            &mut conn,
            created.id,
            session.person.id,
            FollowState::Accepted,
            now,
        )
        .await?;
        Ok::<_, AppError>(created)
    })?;
    let mut details = crate::with_conn!(db, |conn| {
        details_of(&mut conn, settings, Some(session), vec![created]).await
    })?;
    details
        .pop()
        .ok_or_else(|| AppError::internal("created community vanished"))
}

/// Counts, handles and the viewer's relation for each community, in the given order.
async fn details_of(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    viewer: Option<&Session>,
    list: Vec<Community>,
) -> AppResult<Vec<CommunityDetails>> {
    let ids: Vec<i64> = list.iter().map(|c| c.id).collect();
    let (members, threads, follows, domains, moderated) = {
        let members: HashMap<i64, i64> = community::member_counts(conn, &ids)
            .await?
            .into_iter()
            .collect();
        let threads: HashMap<i64, i64> = community::thread_counts(conn, &ids)
            .await?
            .into_iter()
            .collect();
        let follows: HashMap<i64, FollowState> = match viewer {
            Some(session) => community_follow::states_of(conn, session.person.id, &ids)
                .await?
                .into_iter()
                .collect(),
            None => HashMap::new(),
        };
        let instance_ids: Vec<i64> = list.iter().map(|c| c.instance_id).collect();
        let domains = instance::domains(conn, &instance_ids).await?;
        // One query for the viewer's moderated communities, not one per community listed.
        let moderated: HashMap<i64, bool> = match viewer {
            Some(session) if session.is_staff() => ids.iter().map(|id| (*id, true)).collect(),
            Some(session) => community_moderator::moderated_among(conn, session.person.id, &ids)
                .await?
                .into_iter()
                .map(|id| (id, true))
                .collect(),
            None => HashMap::new(),
        };
        (members, threads, follows, domains, moderated)
    };
    Ok(list
        .into_iter()
        .map(|c| {
            let domain = domains
                .get(&c.instance_id)
                .cloned()
                .unwrap_or_else(|| settings.domain.clone());
            CommunityDetails {
                handle: handle_of(&c.name, c.local, &domain),
                member_count: members.get(&c.id).copied().unwrap_or(0),
                thread_count: threads.get(&c.id).copied().unwrap_or(0),
                follow_state: follows.get(&c.id).copied(),
                viewer_moderates: moderated.get(&c.id).copied().unwrap_or(false),
                community: c,
            }
        })
        .collect())
}

pub async fn get(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    handle: &str,
) -> AppResult<CommunityDetails> {
    crate::with_conn!(db, |conn| get_on(&mut conn, settings, viewer, handle).await)
}

/// [`get`] on a connection the caller already holds, so a page reads on one checkout.
pub(crate) async fn get_on(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    viewer: Option<&Session>,
    handle: &str,
) -> AppResult<CommunityDetails> {
    let found = resolve(conn, settings, viewer, handle).await?;
    let mut details = details_of(conn, settings, viewer, vec![found]).await?;
    details.pop().ok_or_else(|| community_not_found(handle))
}

/// Every community the viewer may see, by title.
pub async fn list(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
) -> AppResult<Vec<CommunityDetails>> {
    crate::with_conn!(db, |conn| {
        let found = community::list(&mut conn, viewer.is_some(), LIST_LIMIT).await?;
        details_of(&mut conn, settings, viewer, found).await
    })
}

/// Moderators change a community's settings (not its name, which ids are built on).
pub async fn update(
    db: &Db,
    settings: &Settings,
    session: &Session,
    handle: &str,
    changes: CommunityChanges,
) -> AppResult<CommunityDetails> {
    let mut form = CommunityUpdateForm {
        title: changes.title.as_deref().map(clean_title).transpose()?,
        kind: changes.kind,
        visibility: changes.visibility,
        posting_restricted_to_mods: changes.posting_restricted_to_mods,
        updated: Some(crate::db::now()),
        ..CommunityUpdateForm::default()
    };
    if let Some(description) = changes.description {
        let description = clean_text(
            Some(description),
            "description",
            "invalid_description",
            DESCRIPTION_MAX_CHARS,
        )?;
        form.description_html = Some(description.as_deref().map(crate::content::markdown_to_html));
        form.description = Some(description);
    }
    if let Some(rules) = changes.rules {
        form.rules = Some(clean_text(
            Some(rules),
            "rules",
            "invalid_rules",
            DESCRIPTION_MAX_CHARS,
        )?);
    }
    let updated = crate::transaction!(db, |conn| {
        let found = resolve(&mut conn, settings, Some(session), handle).await?;
        require_moderator(&mut conn, session, &found).await?;
        let updated = community::update(&mut conn, found.id, &form).await?;
        crate::federation::activities::group_updated(
            &mut conn,
            settings,
            &session.person,
            &updated,
        )
        .await?;
        Ok::<_, AppError>(updated)
    })
    .inspect(|_| crate::federation::outbox::wake())?;
    let mut details = crate::with_conn!(db, |conn| {
        details_of(&mut conn, settings, Some(session), vec![updated]).await
    })?;
    details.pop().ok_or_else(|| community_not_found(handle))
}

async fn require_moderator(
    conn: &mut DbConn<'_>,
    session: &Session,
    found: &Community,
) -> AppResult<()> {
    if !found.local {
        return Err(AppError::forbidden(
            "remote_community",
            "this community is moderated on its own instance",
        ));
    }
    if can_moderate(conn, session, found.id).await? {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "moderator_required",
            "only this community's moderators may do this",
        ))
    }
}

/// Joins (follows) a community. Local communities accept at once.
pub async fn follow(
    db: &Db,
    settings: &Settings,
    session: &Session,
    handle: &str,
) -> AppResult<FollowState> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let found = resolve(&mut conn, settings, Some(session), handle).await?;
        // A remote community accepts (or not) by sending Accept; until then the follow
        // is pending.
        let state = if found.local {
            FollowState::Accepted
        } else {
            FollowState::Pending
        };
        let existing = community_follow::read(&mut conn, found.id, session.person.id).await?;
        if let Some(existing) = existing {
            // Following again changes nothing; a pending remote follow is asked again with
            // a new Follow (receivers drop ids they have seen; spec §16).
            if found.local || existing.state == FollowState::Accepted {
                return Ok(existing.state);
            }
        }
        let row =
            community_follow::upsert(&mut conn, found.id, session.person.id, state, now).await?;
        if !found.local {
            let follow_id =
                crate::federation::activities::follow(&mut conn, settings, &session.person, &found)
                    .await?;
            community_follow::set_follow_ap_id(&mut conn, row.id, &follow_id).await?;
        }
        Ok::<_, AppError>(row.state)
    })
    .inspect(|_| crate::federation::outbox::wake())
}

/// Leaves a community. Leaving one you are not in is not an error.
pub async fn unfollow(
    db: &Db,
    settings: &Settings,
    session: &Session,
    handle: &str,
) -> AppResult<()> {
    crate::transaction!(db, |conn| {
        let found = resolve(&mut conn, settings, Some(session), handle).await?;
        let existing = community_follow::read(&mut conn, found.id, session.person.id).await?;
        community_follow::delete(&mut conn, found.id, session.person.id).await?;
        if let (false, Some(existing)) = (found.local, existing) {
            crate::federation::activities::unfollow(
                &mut conn,
                settings,
                &session.person,
                &found,
                existing.follow_ap_id.as_deref(),
            )
            .await?;
        }
        Ok::<_, AppError>(())
    })
    .inspect(|_| crate::federation::outbox::wake())
}

/// The community's moderators.
pub async fn moderators(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    handle: &str,
) -> AppResult<Vec<(Person, String)>> {
    crate::with_conn!(db, |conn| {
        let found = resolve(&mut conn, settings, viewer, handle).await?;
        let people = community_moderator::list(&mut conn, found.id).await?;
        with_handles(&mut conn, people).await
    })
}

/// Persons with their handles (`name` local, `name@domain` remote).
pub async fn with_handles(
    conn: &mut DbConn<'_>,
    people: Vec<Person>,
) -> AppResult<Vec<(Person, String)>> {
    let ids: Vec<i64> = people.iter().map(|p| p.instance_id).collect();
    let domains = instance::domains(conn, &ids).await?;
    Ok(people
        .into_iter()
        .map(|p| {
            let domain = domains.get(&p.instance_id).cloned().unwrap_or_default();
            let handle = handle_of(&p.name, p.local, &domain);
            (p, handle)
        })
        .collect())
}

/// Moderators add a local member as moderator.
pub async fn add_moderator(
    db: &Db,
    settings: &Settings,
    session: &Session,
    handle: &str,
    username: &str,
) -> AppResult<Vec<(Person, String)>> {
    let now = crate::db::now();
    crate::transaction!(db, |conn| {
        let found = resolve(&mut conn, settings, Some(session), handle).await?;
        require_moderator(&mut conn, session, &found).await?;
        let (_, person) = local_account::read_by_name(&mut conn, &username.to_ascii_lowercase())
            .await
            .map_err(|e| match e {
                diesel::result::Error::NotFound => AppError::unprocessable(
                    "unknown_user",
                    format!("no local member is called `{username}`"),
                ),
                other => AppError::from(other),
            })?;
        if !community_moderator::is_moderator(&mut conn, found.id, person.id).await? {
            community_moderator::add(&mut conn, found.id, person.id, now).await?;
            let mut entry = crate::service::moderation::log_entry(
                found.id,
                &session.person,
                crate::db::types::ModAction::AddModerator,
            );
            entry.person_id = Some(person.id);
            crate::service::moderation::log(&mut conn, entry).await?;
            crate::federation::activities::collection_changed(
                &mut conn,
                settings,
                &session.person,
                &person.ap_id,
                &found,
                "moderators",
                true,
            )
            .await?;
        }
        let people = community_moderator::list(&mut conn, found.id).await?;
        with_handles(&mut conn, people).await
    })
    .inspect(|_| crate::federation::outbox::wake())
}

/// Moderators remove a moderator (themselves included); a community keeps at least one.
pub async fn remove_moderator(
    db: &Db,
    settings: &Settings,
    session: &Session,
    handle: &str,
    username: &str,
) -> AppResult<Vec<(Person, String)>> {
    crate::transaction!(db, |conn| {
        let found = resolve(&mut conn, settings, Some(session), handle).await?;
        require_moderator(&mut conn, session, &found).await?;
        let people = community_moderator::list(&mut conn, found.id).await?;
        let Some(target) = people
            .iter()
            .find(|p| p.local && p.name_lower == username.to_ascii_lowercase())
        else {
            return Err(AppError::not_found(
                "moderator_not_found",
                format!("`{username}` is not a moderator of this community"),
            ));
        };
        if people.len() == 1 {
            return Err(AppError::conflict(
                "last_moderator",
                "a community keeps at least one moderator; add another first",
            ));
        }
        community_moderator::remove(&mut conn, found.id, target.id).await?;
        let mut entry = crate::service::moderation::log_entry(
            found.id,
            &session.person,
            crate::db::types::ModAction::RemoveModerator,
        );
        entry.person_id = Some(target.id);
        crate::service::moderation::log(&mut conn, entry).await?;
        crate::federation::activities::collection_changed(
            &mut conn,
            settings,
            &session.person,
            &target.ap_id,
            &found,
            "moderators",
            false,
        )
        .await?;
        let people = community_moderator::list(&mut conn, found.id).await?;
        with_handles(&mut conn, people).await
    })
    .inspect(|_| crate::federation::outbox::wake())
}

/// Tags used in the community, most used first.
pub async fn tag_counts(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    handle: &str,
) -> AppResult<Vec<(String, i64)>> {
    crate::with_conn!(db, |conn| {
        let found = resolve(&mut conn, settings, viewer, handle).await?;
        Ok::<_, AppError>(tag::counts_in_community(&mut conn, found.id).await?)
    })
}
