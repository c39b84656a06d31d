//! Actors as `activitypub_federation` sees them: any actor we know (local or remote
//! person, community, or our instance actor), read from the database by id or fetched and
//! stored; inbox signatures are verified and fetches signed with their keys.

use activitypub_federation::config::Data;
use activitypub_federation::traits::{Actor, Object};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::protocol::{Endpoints, Source, lenient_source};
use crate::context::AppContext;
use crate::db::community::{self, Community, RemoteCommunityForm};
use crate::db::instance::{self, Instance};
use crate::db::person::{self, Person, RemotePersonForm};
use crate::db::types::{CommunityKind, Visibility};
use crate::error::{AppError, AppResult};

/// The row behind an actor.
#[derive(Debug, Clone)]
pub enum ActorRow {
    Person(Person),
    Community(Community),
    /// Our own instance actor (`/actor`); remote instance actors are stored as persons.
    LocalInstance(Instance),
}

#[derive(Debug, Clone)]
pub struct KnownActor {
    pub id: Url,
    pub row: ActorRow,
    inbox: Url,
    shared_inbox: Option<Url>,
}

fn url(s: &str) -> AppResult<Url> {
    Url::parse(s).map_err(AppError::internal)
}

impl KnownActor {
    pub fn from_person(p: Person) -> AppResult<KnownActor> {
        Ok(KnownActor {
            id: url(&p.ap_id)?,
            inbox: url(&p.inbox_url)?,
            shared_inbox: p
                .shared_inbox_url
                .as_deref()
                .and_then(|u| Url::parse(u).ok()),
            row: ActorRow::Person(p),
        })
    }

    pub fn from_community(c: Community) -> AppResult<KnownActor> {
        Ok(KnownActor {
            id: url(&c.ap_id)?,
            inbox: url(&c.inbox_url)?,
            shared_inbox: c
                .shared_inbox_url
                .as_deref()
                .and_then(|u| Url::parse(u).ok()),
            row: ActorRow::Community(c),
        })
    }

    /// The instance actor, whose key signs our fetches.
    pub async fn local_instance(ctx: &AppContext) -> AppResult<KnownActor> {
        let row = crate::with_conn!(&ctx.db, |conn| instance::read_local(&mut conn)
            .await
            .map_err(AppError::from))?;
        let public_url = ctx.public_url();
        Ok(KnownActor {
            id: url(&format!("{public_url}/actor"))?,
            inbox: url(&format!("{public_url}/inbox"))?,
            shared_inbox: None,
            row: ActorRow::LocalInstance(row),
        })
    }

    pub fn person(&self) -> Option<&Person> {
        match &self.row {
            ActorRow::Person(p) => Some(p),
            _ => None,
        }
    }

    pub fn community(&self) -> Option<&Community> {
        match &self.row {
            ActorRow::Community(c) => Some(c),
            _ => None,
        }
    }
}

/// The fields we read from any remote actor document, whatever its type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteActorJson {
    #[serde(rename = "type")]
    kind: String,
    id: Url,
    /// Optional for people: some servers (and fediverse-pasture's test actors) leave it out.
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default, deserialize_with = "lenient_source")]
    source: Option<Source>,
    #[serde(default)]
    icon: Option<Value>,
    inbox: Url,
    #[serde(default)]
    shared_inbox: Option<Url>,
    #[serde(default)]
    endpoints: Option<Endpoints>,
    #[serde(default)]
    followers: Option<Url>,
    #[serde(default)]
    featured: Option<Url>,
    #[serde(default)]
    attributed_to: Option<Value>,
    #[serde(default)]
    moderators: Option<Url>,
    public_key: RemoteKey,
    #[serde(default)]
    posting_restricted_to_mods: bool,
    #[serde(default)]
    question_answer: bool,
    #[serde(default)]
    published: Option<DateTime<Utc>>,
    #[serde(default)]
    updated: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteKey {
    #[serde(default)]
    owner: Option<Url>,
    public_key_pem: String,
}

/// `host` or `host:port`, how instances are keyed.
pub fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    }
}

fn icon_url(icon: Option<&Value>) -> Option<String> {
    let icon = icon?;
    let icon = match icon {
        Value::Array(items) => items.last()?,
        other => other,
    };
    match icon {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map.get("url").and_then(|u| match u {
            Value::String(s) => Some(s.clone()),
            Value::Object(link) => link.get("href").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }),
        _ => None,
    }
    .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
}

fn naive(t: Option<DateTime<Utc>>) -> Option<NaiveDateTime> {
    t.map(|t| t.naive_utc())
}

/// The name an actor is known by here: its `preferredUsername`, or for a person without one
/// the last segment of its id (a community needs a real one: `!name@domain` finds it).
fn actor_name(actor: &RemoteActorJson) -> AppResult<String> {
    let invalid = |message: &str| {
        AppError::new(
            crate::error::ErrorKind::BadGateway,
            "remote_actor_invalid",
            message.to_owned(),
        )
    };
    let name = match actor.preferred_username.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ if actor.kind == "Group" => {
            return Err(invalid("the group has no preferredUsername"));
        }
        _ => actor
            .id
            .path_segments()
            .and_then(|mut segments| segments.rfind(|s| !s.is_empty()))
            .map(str::to_owned)
            .or_else(|| actor.id.host_str().map(str::to_owned))
            .ok_or_else(|| invalid("the actor has neither a preferredUsername nor a path"))?,
    };
    if name.chars().count() > 100 {
        return Err(invalid(
            "the actor's preferredUsername is longer than 100 characters",
        ));
    }
    Ok(name)
}

/// Stores (or refreshes) a fetched actor: a `Group` becomes a community, anything else
/// (Person, Service, Application, Organization) a person.
pub async fn store_remote_actor(ctx: &AppContext, json: Value) -> AppResult<KnownActor> {
    let actor: RemoteActorJson = serde_json::from_value(json).map_err(|e| {
        AppError::new(
            crate::error::ErrorKind::BadGateway,
            "remote_actor_invalid",
            format!("the remote actor document is not usable: {e}"),
        )
    })?;
    if let Some(owner) = &actor.public_key.owner
        && owner != &actor.id
    {
        return Err(AppError::new(
            crate::error::ErrorKind::BadGateway,
            "remote_actor_invalid",
            "the actor's public key belongs to another actor",
        ));
    }
    let now = crate::db::now();
    let domain = authority(&actor.id);
    let shared_inbox = actor
        .endpoints
        .as_ref()
        .and_then(|e| e.shared_inbox.clone())
        .or(actor.shared_inbox.clone())
        .filter(|u| u.host_str() == actor.id.host_str())
        .map(String::from);
    let name = actor_name(&actor)?;
    let published = naive(actor.published).unwrap_or(now);
    crate::transaction!(&ctx.db, |conn| {
        let instance = instance::ensure_remote(&mut conn, &domain, now).await?;
        if actor.kind == "Group" {
            let moderators_url = actor.moderators.clone().map(String::from).or_else(|| {
                actor
                    .attributed_to
                    .as_ref()
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            let description = actor
                .source
                .as_ref()
                .filter(|s| s.media_type == "text/markdown")
                .map(|s| s.content.clone());
            let form = RemoteCommunityForm {
                ap_id: actor.id.to_string(),
                local: false,
                instance_id: instance.id,
                name: name.clone(),
                name_lower: name.to_lowercase(),
                title: actor
                    .name
                    .clone()
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| name.clone())
                    .chars()
                    .take(200)
                    .collect(),
                description_html: actor.summary.as_deref().map(crate::content::sanitize_html),
                description,
                kind: if actor.question_answer {
                    CommunityKind::Qa
                } else {
                    CommunityKind::Discussion
                },
                visibility: Visibility::Public,
                posting_restricted_to_mods: actor.posting_restricted_to_mods,
                inbox_url: actor.inbox.to_string(),
                shared_inbox_url: shared_inbox.clone(),
                followers_url: actor.followers.clone().map(String::from),
                moderators_url,
                featured_url: actor.featured.clone().map(String::from),
                public_key_pem: actor.public_key.public_key_pem.clone(),
                deleted: false,
                published,
                updated: naive(actor.updated),
                last_refreshed_at: now,
            };
            let row = community::upsert_remote(&mut conn, &form).await?;
            KnownActor::from_community(row)
        } else {
            let form = RemotePersonForm {
                ap_id: actor.id.to_string(),
                local: false,
                instance_id: instance.id,
                name: name.clone(),
                name_lower: name.to_lowercase(),
                display_name: actor.name.clone().map(|n| n.chars().take(100).collect()),
                bio_html: actor.summary.as_deref().map(crate::content::sanitize_html),
                avatar_url: icon_url(actor.icon.as_ref()),
                inbox_url: actor.inbox.to_string(),
                shared_inbox_url: shared_inbox.clone(),
                public_key_pem: actor.public_key.public_key_pem.clone(),
                bot: actor.kind != "Person",
                deleted: false,
                published,
                updated: naive(actor.updated),
                last_refreshed_at: now,
            };
            let row = person::upsert_remote(&mut conn, &form).await?;
            KnownActor::from_person(row)
        }
    })
}

#[async_trait]
impl Object for KnownActor {
    type DataType = AppContext;
    type Kind = Value;
    type Error = AppError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        match &self.row {
            ActorRow::Person(p) => Some(p.last_refreshed_at.and_utc()),
            ActorRow::Community(c) => Some(c.last_refreshed_at.and_utc()),
            ActorRow::LocalInstance(_) => None,
        }
    }

    async fn read_from_id(object_id: Url, data: &Data<AppContext>) -> AppResult<Option<Self>> {
        let id = object_id.to_string();
        if id == format!("{}/actor", data.public_url()) {
            return Ok(Some(KnownActor::local_instance(data).await?));
        }
        let (p, c) = crate::with_conn!(&data.db, |conn| {
            let p = person::read_by_ap_id(&mut conn, &id).await?;
            let c = match p {
                Some(_) => None,
                None => community::read_by_ap_id(&mut conn, &id).await?,
            };
            Ok::<_, AppError>((p, c))
        })?;
        match (p, c) {
            (Some(p), _) => Ok(Some(KnownActor::from_person(p)?)),
            (None, Some(c)) => Ok(Some(KnownActor::from_community(c)?)),
            (None, None) => Ok(None),
        }
    }

    async fn into_json(self, data: &Data<AppContext>) -> AppResult<Value> {
        let value = match &self.row {
            ActorRow::Person(p) => serde_json::to_value(super::convert::person(data, p)?),
            ActorRow::Community(c) => {
                serde_json::to_value(super::convert::group(&data.settings, c)?)
            }
            ActorRow::LocalInstance(_) => return Err(AppError::internal("not served from here")),
        };
        value.map_err(AppError::internal)
    }

    async fn verify(
        json: &Value,
        expected_domain: &Url,
        _data: &Data<AppContext>,
    ) -> AppResult<()> {
        let id = json
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| Url::parse(s).ok())
            .ok_or_else(|| {
                AppError::new(
                    crate::error::ErrorKind::BadGateway,
                    "remote_actor_invalid",
                    "the actor document has no id",
                )
            })?;
        if authority(&id) != authority(expected_domain) {
            return Err(AppError::new(
                crate::error::ErrorKind::BadGateway,
                "remote_id_mismatch",
                "the actor document was served from another host than its id",
            ));
        }
        Ok(())
    }

    async fn from_json(json: Value, data: &Data<AppContext>) -> AppResult<Self> {
        store_remote_actor(data, json).await
    }
}

impl Actor for KnownActor {
    fn public_key_pem(&self) -> &str {
        match &self.row {
            ActorRow::Person(p) => &p.public_key_pem,
            ActorRow::Community(c) => &c.public_key_pem,
            ActorRow::LocalInstance(i) => i.public_key_pem.as_deref().unwrap_or_default(),
        }
    }

    fn private_key_pem(&self) -> Option<String> {
        match &self.row {
            ActorRow::Person(p) => p.private_key_pem.clone(),
            ActorRow::Community(c) => c.private_key_pem.clone(),
            ActorRow::LocalInstance(i) => i.private_key_pem.clone(),
        }
    }

    fn inbox(&self) -> Url {
        self.inbox.clone()
    }

    fn shared_inbox(&self) -> Option<Url> {
        self.shared_inbox.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(value: Value) -> RemoteActorJson {
        serde_json::from_value(value).expect("an actor document")
    }

    fn actor(kind: &str, id: &str, preferred_username: Option<&str>) -> RemoteActorJson {
        let mut value = json!({
            "type": kind, "id": id, "inbox": format!("{id}/inbox"),
            "publicKey": {"id": format!("{id}#main"), "owner": id, "publicKeyPem": "PEM"},
        });
        if let Some(name) = preferred_username {
            value["preferredUsername"] = json!(name);
        }
        parsed(value)
    }

    #[test]
    fn a_person_without_preferred_username_is_named_by_its_id() {
        let named = actor("Person", "https://pasture.example/emily", None);
        assert_eq!(actor_name(&named).expect("a name"), "emily");
        let trailing = actor("Person", "https://a.example/users/7/", Some("  "));
        assert_eq!(actor_name(&trailing).expect("a name"), "7");
        let root = actor("Service", "https://relay.example/", None);
        assert_eq!(actor_name(&root).expect("a name"), "relay.example");
        let given = actor("Person", "https://a.example/u/1", Some(" ann "));
        assert_eq!(actor_name(&given).expect("a name"), "ann");
    }

    #[test]
    fn a_group_needs_its_preferred_username() {
        let group = actor("Group", "https://a.example/c/rust", None);
        let err = actor_name(&group).expect_err("refused");
        assert_eq!(err.code, "remote_actor_invalid");
        let long = "x".repeat(101);
        let person = actor("Person", "https://a.example/u/1", Some(&long));
        assert_eq!(
            actor_name(&person).expect_err("refused").code,
            "remote_actor_invalid"
        );
    }
}
