//! Serde types mirroring the ActivityPub JSON we send and accept; never database rows.
//!
//! Outbound shapes follow the spec's field tables (what Lemmy, Mastodon, PieFed and NodeBB
//! parse); inbound shapes are lenient where real implementations differ (a value or a list,
//! an id or an embedded object) and ignore unknown fields.

pub mod actors;
pub mod objects;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use url::Url;

/// The JSON-LD context of everything we send: ActivityStreams, security keys, and the
/// extension terms Lemmy, Mastodon and PieFed use.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "lemmy": "https://join-lemmy.org/ns#",
            "toot": "http://joinmastodon.org/ns#",
            "pt": "https://joinpeertube.org/ns#",
            "sc": "http://schema.org/",
            "sensitive": "as:sensitive",
            "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
            "distinguished": "lemmy:distinguished",
            "moderators": {"@type": "@id", "@id": "lemmy:moderators"},
            "featured": {"@type": "@id", "@id": "toot:featured"},
            "discoverable": "toot:discoverable",
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "language": "sc:inLanguage",
            "identifier": "sc:identifier",
            "questionAnswer": "https://join.piefed.social/ns#questionAnswer",
            "answer": "https://join.piefed.social/ns#answer"
        }
    ])
}

/// An object sent on its own (not embedded): the context first, then its fields.
#[derive(Debug, Clone, Serialize)]
pub struct WithContext<T> {
    #[serde(rename = "@context")]
    pub context: Value,
    #[serde(flatten)]
    pub inner: T,
}

impl<T> WithContext<T> {
    pub fn new(inner: T) -> WithContext<T> {
        WithContext {
            context: context(),
            inner,
        }
    }
}

/// `{"content": "...", "mediaType": "text/markdown"}`: the Markdown a text was written in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub content: String,
    pub media_type: String,
}

impl Source {
    pub fn markdown(content: &str) -> Source {
        Source {
            content: content.to_owned(),
            media_type: "text/markdown".to_owned(),
        }
    }
}

/// `{"identifier": "en", "name": "English"}` (Lemmy's `LanguageTag`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageTag {
    pub identifier: String,
    #[serde(default)]
    pub name: String,
}

impl LanguageTag {
    /// Lyceum does not detect languages yet; content is marked undetermined.
    pub fn undetermined() -> LanguageTag {
        LanguageTag {
            identifier: "und".to_owned(),
            name: "Undetermined".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    pub id: String,
    pub owner: Url,
    pub public_key_pem: String,
}

impl PublicKey {
    /// The key of an actor, at `{id}#main-key` (what activitypub_federation signs with).
    pub fn main_key(owner: &Url, pem: &str) -> PublicKey {
        PublicKey {
            id: format!("{owner}#main-key"),
            owner: owner.clone(),
            public_key_pem: pem.to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_inbox: Option<Url>,
}

/// `{"type": "Image", "url": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: Url,
}

/// A `tag` entry: a Mention or Hashtag we understand, anything else kept as it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tag {
    Link(TagLink),
    Other(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagLink {
    #[serde(rename = "type")]
    pub kind: TagKind,
    pub href: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagKind {
    Mention,
    Hashtag,
}

/// Reads one value or a list of them (ActivityStreams allows both almost everywhere).
pub fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
        Null(()),
    }
    Ok(match OneOrMany::<T>::deserialize(deserializer)? {
        OneOrMany::Many(list) => list,
        OneOrMany::One(one) => vec![one],
        OneOrMany::Null(()) => Vec::new(),
    })
}

/// Reads a link that may be a bare URL or an object with `id` or `href` (and `url` for
/// PeerTube-style lists): the URLs found, in order.
pub fn links<'de, D>(deserializer: D) -> Result<Vec<Url>, D::Error>
where
    D: Deserializer<'de>,
{
    let values: Vec<Value> = one_or_many(deserializer)?;
    Ok(values
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Url::parse(s).ok(),
            Value::Object(o) => ["id", "href", "url"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str))
                .and_then(|s| Url::parse(s).ok()),
            _ => None,
        })
        .collect())
}

/// Writes one link as a bare string (Lemmy refuses a list for `attributedTo`), several as a
/// list.
pub fn single_link<S>(links: &[Url], serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
{
    match links {
        [one] => serializer.serialize_str(one.as_str()),
        many => many.serialize(serializer),
    }
}

/// Reads `source` as the usual `{content, mediaType}` object, or as a bare string (Pleroma),
/// whose media type is then unknown.
pub fn lenient_source<'de, D>(deserializer: D) -> Result<Option<Source>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(content)) => Some(Source {
            content,
            media_type: String::new(),
        }),
        Some(other @ Value::Object(_)) => serde_json::from_value(other).ok(),
        _ => None,
    })
}

/// Reads a flag that some servers send as `null` (Pleroma's `sensitive`) as false.
pub fn lenient_bool<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
}

/// Like `lenient_bool`, for flags that are true unless said otherwise (`discoverable`).
pub fn lenient_bool_or_true<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(true))
}

/// Reads a language given as one object, a list of them (the first is used), or a bare
/// code string.
pub fn language<'de, D>(deserializer: D) -> Result<Option<LanguageTag>, D::Error>
where
    D: Deserializer<'de>,
{
    let values: Vec<Value> = one_or_many(deserializer)?;
    Ok(values.into_iter().find_map(|v| match v {
        Value::String(code) => Some(LanguageTag {
            identifier: code,
            name: String::new(),
        }),
        other => serde_json::from_value(other).ok(),
    }))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Reads `../shared/fixtures` (or `LYCEUM_FIXTURES`): real JSON from other servers.

    use std::path::PathBuf;

    pub fn root() -> PathBuf {
        match std::env::var("LYCEUM_FIXTURES") {
            Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
        }
    }

    /// Every `.json` fixture below `root()`, sorted, as (relative path, parsed JSON).
    pub fn all() -> Vec<(String, serde_json::Value)> {
        let root = root();
        assert!(
            root.is_dir(),
            "fixtures not found at {}: set LYCEUM_FIXTURES to the shared fixtures folder",
            root.display()
        );
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("fixture folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&path).expect("fixture readable");
                    let rel = path
                        .strip_prefix(&root)
                        .expect("below root")
                        .to_string_lossy()
                        .into_owned();
                    match serde_json::from_str(&text) {
                        Ok(value) => found.push((rel, value)),
                        Err(e) => panic!("fixture {rel} is not JSON: {e}"),
                    }
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    /// Mbin's snapshots replace ids, dates and keys with `SCRUBBED_*` placeholders; this
    /// gives them real shapes (distinct URLs, a date, a key object) so they parse as what
    /// Mbin really sends.
    pub fn unscrub(value: &mut serde_json::Value) {
        unscrub_from(value, &mut 0);
    }

    fn unscrub_from(value: &mut serde_json::Value, counter: &mut usize) {
        use serde_json::Value;
        match value {
            Value::String(s) if s == "SCRUBBED_ID" => {
                *counter += 1;
                *s = format!("https://kbin.test/scrubbed/{counter}");
            }
            Value::String(s) if s == "SCRUBBED_DATE" => *s = "2024-01-01T00:00:00+00:00".into(),
            Value::Array(items) => items.iter_mut().for_each(|v| unscrub_from(v, counter)),
            Value::Object(map) => {
                if map.get("publicKey").and_then(Value::as_str) == Some("SCRUBBED_KEY") {
                    map.insert(
                        "publicKey".into(),
                        serde_json::json!({
                            "id": "https://kbin.test/scrubbed/key",
                            "owner": "https://kbin.test/scrubbed/owner",
                            "publicKeyPem": "SCRUBBED_KEY"
                        }),
                    );
                }
                map.values_mut().for_each(|v| unscrub_from(v, counter));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::actors::{Group, Instance, Person};
    use super::objects::{Note, Page, Tombstone};
    use serde_json::Value;
    use std::collections::BTreeMap;

    /// What a fixture's `type` is read as, or `None` for types Lyceum does not accept.
    fn parse_as(kind: &str, value: &Value) -> Option<Result<(), String>> {
        fn check<T: serde::de::DeserializeOwned>(value: &Value) -> Result<(), String> {
            serde_json::from_value::<T>(value.clone())
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Some(match kind {
            "Group" => check::<Group>(value),
            "Person" | "Service" | "Organization" => check::<Person>(value),
            "Application" => check::<Instance>(value),
            "Page" | "Article" | "Video" | "Event" => check::<Page>(value),
            "Note" => check::<Note>(value),
            "Tombstone" => check::<Tombstone>(value),
            _ => return None,
        })
    }

    /// Every fixture of a type we accept, alone or embedded as the object of a Create or
    /// Update, parses into our inbound types.
    #[test]
    fn every_supported_fixture_parses() {
        let mut outcomes: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
        for (path, mut value) in super::fixtures::all() {
            // Mbin's snapshots replace ids and dates with placeholders; give them real shapes.
            super::fixtures::unscrub(&mut value);
            let mut candidates = vec![(path.clone(), value.clone())];
            if let Some(object) = value.get("object").filter(|o| o.is_object())
                && matches!(value["type"].as_str(), Some("Create" | "Update"))
            {
                candidates.push((format!("{path} (object)"), object.clone()));
            }
            for (name, candidate) in candidates {
                let Some(kind) = candidate["type"].as_str() else {
                    continue;
                };
                let Some(result) = parse_as(kind, &candidate) else {
                    continue;
                };
                let entry = outcomes.entry(kind.to_owned()).or_default();
                match result {
                    Ok(()) => entry.0 += 1,
                    Err(e) => entry.1.push(format!("{name}: {e}")),
                }
            }
        }
        let failures: Vec<&String> = outcomes.values().flat_map(|(_, f)| f).collect();
        let summary: Vec<String> = outcomes
            .iter()
            .map(|(kind, (ok, failed))| format!("{kind}: {ok} parsed, {} failed", failed.len()))
            .collect();
        eprintln!("fixture table:\n{}", summary.join("\n"));
        assert!(
            failures.is_empty(),
            "fixtures that did not parse:\n{failures:#?}"
        );
        for kind in [
            "Group",
            "Person",
            "Page",
            "Note",
            "Application",
            "Tombstone",
        ] {
            assert!(
                outcomes.get(kind).is_some_and(|(ok, _)| *ok > 0),
                "no {kind} fixture was read: {summary:?}"
            );
        }
    }

    #[test]
    fn lenient_fields_accept_the_shapes_servers_send() {
        let note: Note = serde_json::from_value(serde_json::json!({
            "type": "Note",
            "id": "https://b.example/r/1",
            "attributedTo": [{"type": "Person", "id": "https://b.example/u/bob"}],
            "to": "https://www.w3.org/ns/activitystreams#Public",
            "inReplyTo": {"type": "Page", "id": "https://a.example/t/1"},
            "content": "<p>hi</p>",
            "language": "en",
            "context": {"type": "OrderedCollection", "id": "https://a.example/t/1/context"}
        }))
        .expect("parses");
        assert_eq!(note.attributed_to[0].as_str(), "https://b.example/u/bob");
        assert_eq!(note.to.len(), 1);
        assert_eq!(
            note.in_reply_to.as_ref().map(url::Url::as_str),
            Some("https://a.example/t/1")
        );
        assert_eq!(note.language.expect("language").identifier, "en");
        assert_eq!(
            note.context.expect("context").as_str(),
            "https://a.example/t/1/context"
        );
    }
}
