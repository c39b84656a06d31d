//! Objects: threads as `Page`, answers as `Note`, deleted things as `Tombstone`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    LanguageTag, Source, Tag, language, lenient_bool, lenient_source, links, one_or_many,
    single_link,
};

/// The types Lemmy accepts as a post. We send `Page`; NodeBB sends `Article`; PieFed sends
/// `Question` for polls, and NodeBB accepts it as a post too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageType {
    Page,
    Article,
    Note,
    Question,
    Video,
    Event,
}

/// A thread.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    #[serde(rename = "type")]
    pub kind: PageType,
    pub id: Url,
    /// The author (a single URL when we send it).
    #[serde(deserialize_with = "links", serialize_with = "single_link")]
    pub attributed_to: Vec<Url>,
    #[serde(default, deserialize_with = "links")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "links")]
    pub cc: Vec<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Url>,
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_source",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<Source>,
    /// Must be absent for Lemmy; a `Note` used as a post has `null` here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub attachment: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub sensitive: bool,
    #[serde(
        default,
        deserialize_with = "language",
        skip_serializing_if = "Option::is_none"
    )]
    pub language: Option<LanguageTag>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub tag: Vec<Tag>,
    /// The thread's context collection, a URL (an embedded object is read as its id).
    #[serde(
        default,
        deserialize_with = "optional_link",
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<Url>,
    #[serde(
        default,
        deserialize_with = "optional_link",
        skip_serializing_if = "Option::is_none"
    )]
    pub replies: Option<Url>,
    #[serde(
        default,
        deserialize_with = "optional_link",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoteType {
    Note,
}

/// An answer or reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    #[serde(rename = "type")]
    pub kind: NoteType,
    pub id: Url,
    #[serde(deserialize_with = "links", serialize_with = "single_link")]
    pub attributed_to: Vec<Url>,
    #[serde(default, deserialize_with = "links")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "links")]
    pub cc: Vec<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Url>,
    /// The thread or the parent answer; `None` for a top-level post (Mastodon).
    #[serde(
        default,
        deserialize_with = "optional_link",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_reply_to: Option<Url>,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_source",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<Source>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub tag: Vec<Tag>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub distinguished: bool,
    #[serde(
        default,
        deserialize_with = "language",
        skip_serializing_if = "Option::is_none"
    )]
    pub language: Option<LanguageTag>,
    #[serde(
        default,
        deserialize_with = "optional_link",
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<Url>,
    /// PieFed's accepted-answer flag.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub answer: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TombstoneType {
    Tombstone,
}

/// What a deleted object's address answers with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tombstone {
    #[serde(rename = "type")]
    pub kind: TombstoneType,
    pub id: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub former_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<DateTime<Utc>>,
}

/// The first link of a field that may be a URL, an object with an id, or a list.
fn optional_link<'de, D>(deserializer: D) -> Result<Option<Url>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(links(deserializer)?.into_iter().next())
}
