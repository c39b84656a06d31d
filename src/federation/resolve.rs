//! Finding remote things by handle or URL: `!group@domain`, `@person@domain` (WebFinger),
//! or an object URL, fetched through the guarded client and stored like received content.

use activitypub_federation::config::Data;
use activitypub_federation::fetch::fetch_object_http;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::fetch::webfinger::webfinger_resolve_actor;
use serde_json::Value;
use url::Url;

use super::actor::{KnownActor, authority};
use crate::context::AppContext;
use crate::db::answer::{self, Answer};
use crate::db::community::{self, Community};
use crate::db::person::{self, Person};
use crate::db::thread::{self, Thread};
use crate::error::{AppError, AppResult};
use crate::service::remote::Content;

/// What a query resolved to.
#[derive(Debug, Clone)]
pub enum Resolved {
    Community(Community),
    Person(Person),
    Thread(Thread),
    Answer(Answer),
}

fn not_found(q: &str) -> AppError {
    AppError::not_found("not_found", format!("nothing was found for `{q}`"))
}

/// Resolves `q`: `!name@domain` (community), `@name@domain` (person), `name@domain`
/// (either), or an `http(s)` URL of an actor, thread or answer.
pub async fn resolve(q: &str, data: &Data<AppContext>) -> AppResult<Resolved> {
    let q = q.trim();
    if q.is_empty() || q.len() > 2048 {
        return Err(AppError::bad_request(
            "invalid_query",
            "q must be a handle like !name@domain or @name@domain, or a URL",
        ));
    }
    if q.starts_with("https://") || q.starts_with("http://") {
        let url = Url::parse(q)
            .map_err(|_| AppError::bad_request("invalid_query", "q is not a valid URL"))?;
        return resolve_url(&url, data).await;
    }
    let (want_community, want_person, handle) = match q.chars().next() {
        Some('!') => (true, false, &q[1..]),
        Some('@') => (false, true, &q[1..]),
        _ => (true, true, q),
    };
    let Some((name, domain)) = handle.split_once('@') else {
        return Err(AppError::bad_request(
            "invalid_query",
            "a handle has the form name@domain",
        ));
    };
    if name.is_empty() || domain.is_empty() || name.contains('/') || domain.contains('/') {
        return Err(AppError::bad_request(
            "invalid_query",
            "a handle has the form name@domain",
        ));
    }
    let domain = domain.to_ascii_lowercase();
    let name_lower = name.to_lowercase();
    // Known rows first: our own actors, and remote ones already stored.
    let known = crate::with_conn!(&data.db, |conn| {
        let c = if want_community {
            community::read_by_name(&mut conn, &name_lower, &domain).await?
        } else {
            None
        };
        let p = if want_person && c.is_none() {
            person::read_by_name_and_domain(&mut conn, &name_lower, &domain).await?
        } else {
            None
        };
        Ok::<_, AppError>((c, p))
    })?;
    let is_local = domain == data.settings.domain.to_ascii_lowercase();
    match known {
        (Some(c), _) if c.local || is_local => return Ok(Resolved::Community(c)),
        (_, Some(p)) if p.local || is_local => return Ok(Resolved::Person(p)),
        _ if is_local => return Err(not_found(q)),
        _ => {}
    }
    let actor: KnownActor =
        webfinger_resolve_actor::<AppContext, KnownActor>(&format!("{name}@{domain}"), data)
            .await
            .map_err(|e| {
                if e.code == "webfinger_failed" || e.code == "object_not_found" {
                    not_found(q)
                } else {
                    e
                }
            })?;
    match (actor.community(), actor.person()) {
        (Some(c), _) if want_community => Ok(Resolved::Community(c.clone())),
        (_, Some(p)) if want_person => Ok(Resolved::Person(p.clone())),
        _ => Err(not_found(q)),
    }
}

async fn resolve_url(url: &Url, data: &Data<AppContext>) -> AppResult<Resolved> {
    let id = url.to_string();
    let known = crate::with_conn!(&data.db, |conn| {
        let mut found = thread::read_by_ap_id(&mut conn, &id)
            .await?
            .map(Resolved::Thread);
        if found.is_none() {
            found = answer::read_by_ap_id(&mut conn, &id)
                .await?
                .map(Resolved::Answer);
        }
        if found.is_none() {
            found = community::read_by_ap_id(&mut conn, &id)
                .await?
                .map(Resolved::Community);
        }
        if found.is_none() {
            found = person::read_by_ap_id(&mut conn, &id)
                .await?
                .map(Resolved::Person);
        }
        Ok::<_, AppError>(found)
    })?;
    if let Some(found) = known {
        return Ok(found);
    }
    if authority(url).eq_ignore_ascii_case(&data.settings.domain) {
        return Err(not_found(url.as_str()));
    }
    let fetched: Value = fetch_object_http(url, data).await?.object;
    let kind = fetched
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "Group" | "Person" | "Service" | "Application" | "Organization" => {
            let actor = ObjectId::<KnownActor>::from(url.clone())
                .dereference(data)
                .await?;
            match (actor.community(), actor.person()) {
                (Some(c), _) => Ok(Resolved::Community(c.clone())),
                (_, Some(p)) => Ok(Resolved::Person(p.clone())),
                _ => Err(not_found(url.as_str())),
            }
        }
        _ => {
            super::receive::store_fetched(&fetched, data).await?;
            let id = fetched
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or(url.as_str())
                .to_owned();
            let id = Url::parse(&id).map_err(|_| not_found(&id))?;
            match super::receive::target_of(&id, data).await? {
                Some(Content::Thread(t)) => Ok(Resolved::Thread(t)),
                Some(Content::Answer(a)) => Ok(Resolved::Answer(a)),
                None => Err(not_found(id.as_str())),
            }
        }
    }
}
