//! Actors: `Group` (community), `Person` (member) and `Application` (this instance).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    Endpoints, ImageObject, LanguageTag, PublicKey, Source, lenient_bool, lenient_bool_or_true,
    lenient_source, one_or_many,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupType {
    Group,
}

/// A community. Sent with every field Lemmy and Mastodon require; read leniently.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(rename = "type")]
    pub kind: GroupType,
    pub id: Url,
    pub preferred_username: String,
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTML description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_source",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<serde_json::Value>,
    pub inbox: Url,
    /// Required by Lemmy; optional when reading (NodeBB and others omit it at times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub featured: Option<Url>,
    /// The moderators collection (FEP-1b12), a single URL when we send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributed_to: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderators: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    pub public_key: PublicKey,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub posting_restricted_to_mods: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub sensitive: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub manually_approves_followers: bool,
    #[serde(default = "default_true", deserialize_with = "lenient_bool_or_true")]
    pub discoverable: bool,
    #[serde(default, deserialize_with = "one_or_many")]
    pub language: Vec<LanguageTag>,
    /// PieFed's flag for Q&A communities.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub question_answer: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersonType {
    Person,
    Service,
    Organization,
}

/// A person (Lemmy also accepts `Service` and `Organization` as people).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(rename = "type")]
    pub kind: PersonType,
    pub id: Url,
    pub preferred_username: String,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_source",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<serde_json::Value>,
    pub inbox: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub following: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    pub public_key: PublicKey,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub discoverable: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub manually_approves_followers: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationType {
    Application,
}

/// The instance actor: signs our fetches, and is what WebFinger `acct:domain@domain` finds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    #[serde(rename = "type")]
    pub kind: ApplicationType,
    pub id: Url,
    /// The domain (what Mastodon's authorized fetch expects).
    pub preferred_username: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub inbox: Url,
    pub outbox: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    pub public_key: PublicKey,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub manually_approves_followers: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
}

/// `{"type": "Image", "url": ...}` from an avatar URL we store.
pub fn image(url: Option<&str>) -> Option<serde_json::Value> {
    let url = Url::parse(url?).ok()?;
    serde_json::to_value(ImageObject {
        kind: "Image".to_owned(),
        url,
    })
    .ok()
}
