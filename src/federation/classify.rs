//! What an inbound ActivityPub document is to us, decided before anything acts on it: a
//! supported activity with what it points at parsed, an actor or object document, a type we
//! deliberately ignore, or a refusal with a stable code. Pure and synchronous, so the inbox
//! answers malformed input with a named 400 before any key or object is fetched, and the
//! corpus of real traffic (`fixtures/`) proves every server we federate with is read.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::protocol::actors::{Group, Instance, Person};
use super::protocol::objects::{Page, Tombstone};

/// Deepest embedding read. The grammar itself stops at two (Announce(Undo(Like))); the
/// limit is insurance against a future rule that recurses more freely.
pub const MAX_DEPTH: usize = 3;
/// Longest id or link taken. Real ids are well under 300 characters; anything near this is
/// an attempt to bloat our tables and logs.
pub const MAX_LINK_LEN: usize = 2048;
/// ActivityStreams type names are short words; a long one is garbage, not an unknown type.
const MAX_TYPE_LEN: usize = 64;
/// Refusal messages are sent back to the sender and logged: never echo a huge input.
const MAX_MESSAGE_LEN: usize = 300;

/// Why a document is refused: `code` is stable (it is the error code of the 400 answer),
/// `message` names the problem for the sender's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        let mut message: String = message.into();
        if message.len() > MAX_MESSAGE_LEN {
            let cut = (0..=MAX_MESSAGE_LEN)
                .rev()
                .find(|i| message.is_char_boundary(*i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push('…');
        }
        Refusal { code, message }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Refusal {}

/// What a document is to us.
#[derive(Debug, Clone)]
pub enum Inbound {
    Activity(Box<Activity>),
    Document(Document),
    /// Well formed, of a type we do not act on (yet): answered 2xx so senders do not retry.
    Ignored {
        kind: String,
        reason: &'static str,
    },
}

/// An activity of a kind we act on.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: Url,
    pub actor: Url,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub enum Action {
    Follow {
        object: Url,
    },
    /// `Accept` or `Reject` of a Follow.
    FollowAnswer {
        accepted: bool,
        follow: Answered,
    },
    Create(Object),
    Update(Object),
    /// With a `summary` (even empty) it is a moderator's removal, as Lemmy sends it; an
    /// author's own delete has none (spec §6.3).
    Delete {
        object: Url,
        moderator_reason: Option<String>,
    },
    /// Lemmy's and Mbin's thread lock.
    Lock {
        object: Url,
        reason: Option<String>,
    },
    /// A moderator bans `object` (a person) from `target` (a group; Lemmy's `Block`), with
    /// the reason (`summary`) and when it ends (`endTime`).
    Block {
        object: Url,
        target: Url,
        reason: Option<String>,
        expires: Option<chrono::NaiveDateTime>,
    },
    /// A report (`Flag`): `objects` are what it names (Mastodon lists the account first, then
    /// posts), `to` where it is addressed, `reason` Lemmy's `summary` or Mastodon's `content`.
    Flag {
        objects: Vec<Url>,
        to: Vec<Url>,
        reason: Option<String>,
    },
    /// `Add` (`added`) or `Remove` of `object` to or from the collection `target`: a group's
    /// moderators or its featured (pinned) threads.
    Collection {
        added: bool,
        object: Url,
        target: Url,
    },
    /// `Like` and PieFed's `EmojiReact` count +1, `Dislike` −1.
    Vote {
        score: i64,
        object: Url,
    },
    /// PieFed's accepted answer (spec §12).
    ChooseAnswer {
        object: Url,
    },
    /// Only Follow, Vote, ChooseAnswer, a moderator's Delete, Lock and Block are undone; other undos
    /// are `Inbound::Ignored`.
    Undo(Box<Activity>),
    /// An embedded activity relayed by a group, or an embedded object shared (the Mastodon
    /// compatibility Announce).
    Announce(Box<Inbound>),
    /// An Announce of an id only: a boost (Mbin, PeerTube), never group traffic we apply.
    Share(Url),
}

/// The Follow an Accept or Reject answers.
#[derive(Debug, Clone)]
pub enum Answered {
    /// Embedded: its `action` is always `Action::Follow`.
    Follow(Box<Activity>),
    /// By id only (Mitra); we cannot tell whose follow it was without a lookup.
    Link(Url),
}

/// The object of a Create or Update.
#[derive(Debug, Clone)]
pub enum Object {
    /// By id: fetched from its origin before use.
    Link(Url),
    Embedded(Document),
}

/// An actor or object we have a protocol type for.
#[derive(Debug, Clone)]
pub enum Document {
    Group(Box<Group>),
    /// Person, Service or Organization.
    Person(Box<Person>),
    /// An instance actor (`Application`).
    Instance(Box<Instance>),
    /// A thread or answer: Page, Article, Note, Question, Video or Event, all read as the
    /// `Page` that `receive` converts.
    Post(Box<Page>),
    Tombstone(Box<Tombstone>),
}

impl Document {
    pub fn id(&self) -> &Url {
        match self {
            Document::Group(g) => &g.id,
            Document::Person(p) => &p.id,
            Document::Instance(i) => &i.id,
            Document::Post(p) => &p.id,
            Document::Tombstone(t) => &t.id,
        }
    }
}

/// Classifies an inbound document (an inbox POST or a fetched object).
pub fn classify(value: &Value) -> Result<Inbound, Refusal> {
    classify_at(value, 0)
}

/// The post a fetched document is, `None` when it is some other well-formed thing.
pub fn post(value: &Value) -> Result<Option<Page>, Refusal> {
    Ok(match classify(value)? {
        Inbound::Document(Document::Post(page)) => Some(*page),
        _ => None,
    })
}

/// Object types read as posts (what Lemmy, NodeBB and PieFed accept as one).
const POST_KINDS: [&str; 6] = ["Page", "Article", "Note", "Question", "Video", "Event"];

fn classify_at(value: &Value, depth: usize) -> Result<Inbound, Refusal> {
    if depth > MAX_DEPTH {
        return Err(Refusal::new(
            "too_deep",
            format!("activities are embedded more than {MAX_DEPTH} levels deep"),
        ));
    }
    let kind = type_of(value, "the document")?;
    match kind {
        "Follow" | "Accept" | "Reject" | "Create" | "Update" | "Delete" | "Like" | "Dislike"
        | "EmojiReact" | "ChooseAnswer" | "Undo" | "Announce" | "Lock" | "Block" | "Flag"
        | "Add" | "Remove" => activity(value, kind, depth),
        "Move" | "Resolve" | "Warn" => {
            // Checked like any activity so garbage is still refused, then left alone.
            link_field(value, "id", kind)?;
            link_field(value, "actor", kind)?;
            Ok(ignored(kind, ignored_reason(kind)))
        }
        "Group" => parse::<Group>(value, kind).map(|g| Inbound::Document(Document::Group(g))),
        "Person" | "Service" | "Organization" => {
            parse::<Person>(value, kind).map(|p| Inbound::Document(Document::Person(p)))
        }
        "Application" => {
            parse::<Instance>(value, kind).map(|i| Inbound::Document(Document::Instance(i)))
        }
        "Tombstone" => {
            parse::<Tombstone>(value, kind).map(|t| Inbound::Document(Document::Tombstone(t)))
        }
        _ if POST_KINDS.contains(&kind) => {
            parse::<Page>(value, kind).map(|p| Inbound::Document(Document::Post(p)))
        }
        "Collection" | "OrderedCollection" | "CollectionPage" | "OrderedCollectionPage" => {
            Ok(ignored(
                kind,
                "collections are read where they are used, not received",
            ))
        }
        "ChatMessage" => Ok(ignored(kind, "private messages are not supported")),
        "Feed" => Ok(ignored(kind, "PieFed feeds are not followed")),
        _ if value.get("actor").is_some() => {
            link_field(value, "id", kind)?;
            link_field(value, "actor", kind)?;
            Ok(ignored(kind, "activity type not supported"))
        }
        _ => Ok(ignored(kind, "object type not supported")),
    }
}

/// A moderator's reason: `summary` as text (Lemmy), capped; `None` when absent or not text.
fn summary(value: &Value) -> Option<String> {
    value
        .get("summary")
        .and_then(Value::as_str)
        .map(|s| s.chars().take(1000).collect())
}

fn ignored_reason(kind: &str) -> &'static str {
    match kind {
        "Move" => "moves between communities are not followed",
        _ => "moderation activities of other instances are not applied",
    }
}

fn ignored(kind: &str, reason: &'static str) -> Inbound {
    Inbound::Ignored {
        kind: kind.to_owned(),
        reason,
    }
}

fn activity(value: &Value, kind: &str, depth: usize) -> Result<Inbound, Refusal> {
    let id = link_field(value, "id", kind)?;
    let actor = link_field(value, "actor", kind)?;
    let object = match value.get("object") {
        None | Some(Value::Null) => {
            return Err(Refusal::new(
                "missing_object",
                format!("the {kind} has no object"),
            ));
        }
        Some(object) => single(object),
    };
    let action = match kind {
        "Block" => Action::Block {
            object: object_link(object, kind)?,
            target: required_link(value, "target", kind)?,
            reason: summary(value).filter(|r| !r.is_empty()),
            expires: end_time(value)?,
        },
        "Flag" => {
            let objects = match object {
                Value::Array(items) => items
                    .iter()
                    .map(|item| object_link(item, kind))
                    .collect::<Result<Vec<_>, _>>()?,
                other => vec![object_link(other, kind)?],
            };
            if objects.is_empty() {
                return Err(Refusal::new("invalid_object", "the Flag names nothing"));
            }
            let to = match value.get("to").map(single) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| link(item, "an address of the Flag", "invalid_to"))
                    .collect::<Result<Vec<_>, _>>()?,
                Some(one) => vec![link(one, "the address of the Flag", "invalid_to")?],
            };
            let reason = summary(value)
                .or_else(|| {
                    value
                        .get("content")
                        .and_then(Value::as_str)
                        .map(|s| s.chars().take(1000).collect())
                })
                .filter(|r: &String| !r.trim().is_empty());
            Action::Flag {
                objects,
                to,
                reason,
            }
        }
        "Add" | "Remove" => Action::Collection {
            added: kind == "Add",
            object: object_link(object, kind)?,
            target: required_link(value, "target", kind)?,
        },
        "Follow" => Action::Follow {
            object: object_link(object, kind)?,
        },
        "Delete" => Action::Delete {
            object: object_link(object, kind)?,
            moderator_reason: summary(value),
        },
        "Lock" => Action::Lock {
            object: object_link(object, kind)?,
            reason: summary(value).filter(|r| !r.is_empty()),
        },
        "Like" | "EmojiReact" => Action::Vote {
            score: 1,
            object: object_link(object, kind)?,
        },
        "Dislike" => Action::Vote {
            score: -1,
            object: object_link(object, kind)?,
        },
        "ChooseAnswer" => Action::ChooseAnswer {
            object: object_link(object, kind)?,
        },
        "Create" | "Update" => {
            let object = match object {
                Value::Object(_) => match classify_at(object, depth + 1)? {
                    Inbound::Document(document @ Document::Post(_)) => Object::Embedded(document),
                    Inbound::Document(
                        document @ (Document::Group(_)
                        | Document::Person(_)
                        | Document::Instance(_)),
                    ) if kind == "Update" => Object::Embedded(document),
                    Inbound::Ignored {
                        kind: inner,
                        reason,
                    } => {
                        return Ok(ignored(&format!("{kind}({inner})"), reason));
                    }
                    other => {
                        return Err(wrong_object(kind, &describe(&other)));
                    }
                },
                other => Object::Link(object_link(other, kind)?),
            };
            if kind == "Create" {
                Action::Create(object)
            } else {
                Action::Update(object)
            }
        }
        "Accept" | "Reject" => {
            let follow = match object {
                Value::Object(_) => {
                    let inner = type_of(object, &format!("the object of the {kind}"))?;
                    if inner != "Follow" {
                        // NodeBB answers failures with a Reject of a partial activity;
                        // we asked for none of those, so there is nothing to read.
                        return Ok(ignored(
                            &format!("{kind}({inner})"),
                            "only answers to follows are read",
                        ));
                    }
                    match classify_at(object, depth + 1)? {
                        Inbound::Activity(follow) => Answered::Follow(follow),
                        other => return Err(wrong_object(kind, &describe(&other))),
                    }
                }
                other => Answered::Link(object_link(other, kind)?),
            };
            Action::FollowAnswer {
                accepted: kind == "Accept",
                follow,
            }
        }
        "Undo" => {
            let Value::Object(_) = object else {
                // Lemmy and Mastodon embed what they undo; an id alone names no vote.
                object_link(object, kind)?;
                return Ok(ignored(
                    "Undo",
                    "an undo of an activity given by id only cannot be matched",
                ));
            };
            let inner = type_of(object, "the object of the Undo")?;
            let moderator_delete = inner == "Delete" && object.get("summary").is_some();
            if !(moderator_delete
                || matches!(
                    inner,
                    "Follow"
                        | "Like"
                        | "Dislike"
                        | "EmojiReact"
                        | "ChooseAnswer"
                        | "Lock"
                        | "Block"
                ))
            {
                return Ok(ignored(
                    &format!("Undo({inner})"),
                    "only follows, votes, accepted answers, locks, bans and moderators' removals are undone",
                ));
            }
            match classify_at(object, depth + 1)? {
                Inbound::Activity(undone) => Action::Undo(undone),
                other => return Err(wrong_object(kind, &describe(&other))),
            }
        }
        "Announce" => match object {
            Value::Object(_) => {
                if type_of(object, "the object of the Announce")? == "Announce" {
                    return Err(Refusal::new(
                        "nested_announce",
                        "an Announce may wrap an activity or an object, not another Announce",
                    ));
                }
                Action::Announce(Box::new(classify_at(object, depth + 1)?))
            }
            other => Action::Share(object_link(other, kind)?),
        },
        _ => return Ok(ignored(kind, "activity type not supported")),
    };
    Ok(Inbound::Activity(Box::new(Activity { id, actor, action })))
}

/// A one-element list stands for its element (ActivityStreams allows both).
fn single(value: &Value) -> &Value {
    match value {
        Value::Array(items) if items.len() == 1 => items.first().unwrap_or(value),
        _ => value,
    }
}

fn describe(inbound: &Inbound) -> String {
    match inbound {
        Inbound::Activity(a) => format!("an activity ({})", action_name(&a.action)),
        Inbound::Document(Document::Group(_)) => "a Group".into(),
        Inbound::Document(Document::Person(_)) => "a Person".into(),
        Inbound::Document(Document::Instance(_)) => "an Application".into(),
        Inbound::Document(Document::Post(p)) => format!("a {:?}", p.kind),
        Inbound::Document(Document::Tombstone(_)) => "a Tombstone".into(),
        Inbound::Ignored { kind, .. } => format!("a {kind}"),
    }
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Follow { .. } => "Follow",
        Action::FollowAnswer { accepted: true, .. } => "Accept",
        Action::FollowAnswer {
            accepted: false, ..
        } => "Reject",
        Action::Create(_) => "Create",
        Action::Update(_) => "Update",
        Action::Delete { .. } => "Delete",
        Action::Lock { .. } => "Lock",
        Action::Block { .. } => "Block",
        Action::Flag { .. } => "Flag",
        Action::Collection { added: true, .. } => "Add",
        Action::Collection { added: false, .. } => "Remove",
        Action::Vote { .. } => "vote",
        Action::ChooseAnswer { .. } => "ChooseAnswer",
        Action::Undo(_) => "Undo",
        Action::Announce(_) | Action::Share(_) => "Announce",
    }
}

fn wrong_object(kind: &str, found: &str) -> Refusal {
    Refusal::new(
        "wrong_object_type",
        format!("the object of a {kind} cannot be {found}"),
    )
}

/// The `type` of a document: one short string.
fn type_of<'a>(value: &'a Value, what: &str) -> Result<&'a str, Refusal> {
    let Value::Object(map) = value else {
        return Err(Refusal::new(
            "not_an_object",
            format!("{what} is {}, not a JSON object", json_kind(value)),
        ));
    };
    match map.get("type") {
        None | Some(Value::Null) => {
            Err(Refusal::new("missing_type", format!("{what} has no type")))
        }
        Some(Value::String(kind)) if !kind.is_empty() && kind.len() <= MAX_TYPE_LEN => {
            Ok(kind.as_str())
        }
        Some(Value::String(kind)) => Err(Refusal::new(
            "invalid_type",
            format!(
                "the type of {what} is {} characters long; a type name is 1 to {MAX_TYPE_LEN}",
                kind.chars().count()
            ),
        )),
        Some(other) => Err(Refusal::new(
            "invalid_type",
            format!("the type of {what} is {}, not a string", json_kind(other)),
        )),
    }
}

/// A required link field (`id`, `actor`) of an activity of type `kind`.
pub fn link_field(value: &Value, field: &'static str, kind: &str) -> Result<Url, Refusal> {
    let (missing, invalid) = match field {
        "id" => ("missing_id", "invalid_id"),
        _ => ("missing_actor", "invalid_actor"),
    };
    let what = format!("the {field} of the {kind}");
    match value.get(field).map(single) {
        None | Some(Value::Null) => Err(Refusal::new(missing, format!("{what} is missing"))),
        Some(found) => link(found, &what, invalid),
    }
}

/// A required link field other than `id` and `actor` (`target` of a Block, Add or Remove).
fn required_link(value: &Value, field: &'static str, kind: &str) -> Result<Url, Refusal> {
    let what = format!("the {field} of the {kind}");
    match value.get(field).map(single) {
        None | Some(Value::Null) => {
            Err(Refusal::new("missing_target", format!("{what} is missing")))
        }
        Some(found) => link(found, &what, "invalid_target"),
    }
}

/// When a ban ends (`endTime`, RFC 3339), `None` for a ban without end.
fn end_time(value: &Value) -> Result<Option<chrono::NaiveDateTime>, Refusal> {
    match value.get("endTime") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.naive_utc()))
            .map_err(|e| {
                Refusal::new(
                    "invalid_end_time",
                    format!("the endTime is not an RFC 3339 time: {e}"),
                )
            }),
        Some(other) => Err(Refusal::new(
            "invalid_end_time",
            format!("the endTime is {}, not a time", json_kind(other)),
        )),
    }
}

fn object_link(object: &Value, kind: &str) -> Result<Url, Refusal> {
    link(
        object,
        &format!("the object of the {kind}"),
        "invalid_object",
    )
}

/// A link given as a URL string or an object with an `id`.
fn link(value: &Value, what: &str, invalid: &'static str) -> Result<Url, Refusal> {
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Object(map) => match map.get("id") {
            Some(Value::String(s)) => s.as_str(),
            _ => {
                return Err(Refusal::new(
                    invalid,
                    format!("{what} is an object without id"),
                ));
            }
        },
        other => {
            return Err(Refusal::new(
                invalid,
                format!("{what} is {}, not a link", json_kind(other)),
            ));
        }
    };
    if text.len() > MAX_LINK_LEN {
        return Err(Refusal::new(
            "link_too_long",
            format!(
                "{what} is {} bytes long; at most {MAX_LINK_LEN} are accepted",
                text.len()
            ),
        ));
    }
    let url =
        Url::parse(text).map_err(|e| Refusal::new(invalid, format!("{what} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Refusal::new(
            invalid,
            format!("{what} is not an http(s) URL"),
        ));
    }
    Ok(url)
}

fn parse<T: DeserializeOwned>(value: &Value, kind: &str) -> Result<Box<T>, Refusal> {
    serde_json::from_value::<T>(value.clone())
        .map(Box::new)
        .map_err(|e| {
            Refusal::new(
                "unparsable_object",
                format!("the {kind} cannot be read: {e}"),
            )
        })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::panic::catch_unwind;

    use serde_json::{Value, json};

    use super::*;
    use crate::federation::inbox::InboxActivity;
    use crate::federation::protocol::fixtures;

    /// Fixture folders of the implementations Lyceum must read (issue #7); a folder belongs
    /// to one when it is named after it (`mbin-outbox-snapshots`, `piefed-repo`).
    const SUPPORTED: [&str; 9] = [
        "lemmy",
        "mastodon",
        "piefed",
        "mbin",
        "nodebb",
        "discourse",
        "friendica",
        "lotide",
        "pleroma",
    ];

    /// Types a supported implementation's fixture may never be refused for.
    const SUPPORTED_TYPES: [&str; 12] = [
        "Follow", "Create", "Update", "Delete", "Like", "Dislike", "Undo", "Announce", "Page",
        "Note", "Group", "Person",
    ];

    /// Fewest accepted documents per supported implementation: the corpus cannot shrink to
    /// nothing (an empty or wrong folder) and still pass.
    const MIN_ACCEPTED: [(&str, usize); 9] = [
        ("lemmy", 25),
        ("mastodon", 8),
        ("piefed", 6),
        ("mbin", 60),
        ("nodebb", 3),
        ("discourse", 3),
        ("friendica", 14),
        ("lotide", 10),
        ("pleroma", 5),
    ];

    fn implementation(path: &str) -> &str {
        path.split('/').next().unwrap_or(path)
    }

    fn supported_implementation(folder: &str) -> Option<&'static str> {
        SUPPORTED.iter().copied().find(|name| {
            folder == *name
                || folder
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('-'))
        })
    }

    fn type_str(value: &Value) -> Option<&str> {
        value.get("type").and_then(Value::as_str)
    }

    /// Whether the document's type, or for Announce and Undo the wrapped type, is one a
    /// supported implementation must have read.
    fn of_supported_type(value: &Value) -> bool {
        let outer = type_str(value);
        let wrapped = match outer {
            Some("Announce" | "Undo") => value.get("object").and_then(type_str),
            _ => None,
        };
        [outer, wrapped]
            .into_iter()
            .flatten()
            .any(|t| SUPPORTED_TYPES.contains(&t))
    }

    /// Ignored, also when a group announces something ignored.
    fn is_ignored(inbound: &Inbound) -> bool {
        match (inbound, action_of(inbound)) {
            (Inbound::Ignored { .. }, _) => true,
            (_, Some(Action::Announce(inner))) => is_ignored(inner),
            _ => false,
        }
    }

    fn action_of(inbound: &Inbound) -> Option<&Action> {
        match inbound {
            Inbound::Activity(activity) => Some(&activity.action),
            _ => None,
        }
    }

    fn accepted_action(value: &Value) -> Action {
        match classify(value) {
            Ok(Inbound::Activity(activity)) => activity.action,
            other => panic!("not an activity: {other:?}"),
        }
    }

    #[derive(Default)]
    struct Row {
        accepted: usize,
        ignored: usize,
        refused: Vec<(String, Refusal)>,
    }

    #[test]
    fn every_fixture_is_accepted_or_refused_with_a_reason() {
        let corpus = fixtures::all();
        let mut table: BTreeMap<String, Row> = BTreeMap::new();
        let mut must_read = Vec::new();
        let mut panicked = Vec::new();
        for (path, mut value) in corpus.iter().cloned() {
            fixtures::unscrub(&mut value);
            let row = table.entry(implementation(&path).to_owned()).or_default();
            let outcome = match catch_unwind(|| classify(&value)) {
                Ok(outcome) => outcome,
                Err(_) => {
                    panicked.push(path);
                    continue;
                }
            };
            match outcome {
                Ok(inbound) if is_ignored(&inbound) => row.ignored += 1,
                Ok(_) => row.accepted += 1,
                Err(refusal) => {
                    if supported_implementation(implementation(&path)).is_some()
                        && of_supported_type(&value)
                    {
                        must_read.push(format!("{path}: {refusal}"));
                    }
                    row.refused.push((path.clone(), refusal));
                    continue;
                }
            }
            // What the classifier takes, the inbox takes too (it also needs id and actor).
            if value.get("actor").is_some()
                && let Err(refusal) = InboxActivity::from_value(value.clone())
            {
                must_read.push(format!("{path}: the inbox refuses it: {refusal}"));
            }
        }

        let mut printed = format!(
            "{:<24} {:>5} {:>8} {:>7} {:>7}\n",
            "implementation", "files", "accepted", "ignored", "refused"
        );
        for (folder, row) in &table {
            printed.push_str(&format!(
                "{:<24} {:>5} {:>8} {:>7} {:>7}\n",
                folder,
                row.accepted + row.ignored + row.refused.len(),
                row.accepted,
                row.ignored,
                row.refused.len()
            ));
        }
        printed.push_str("refused:\n");
        for (path, refusal) in table.values().flat_map(|row| &row.refused) {
            printed.push_str(&format!("  {path}: {refusal}\n"));
        }
        eprintln!("fixture corpus ({} files):\n{printed}", corpus.len());

        assert!(panicked.is_empty(), "classifying panicked on {panicked:#?}");
        assert!(
            must_read.is_empty(),
            "fixtures of supported implementations and types were refused:\n{}",
            must_read.join("\n")
        );
        for (name, min) in MIN_ACCEPTED {
            let accepted: usize = table
                .iter()
                .filter(|(folder, _)| supported_implementation(folder) == Some(name))
                .map(|(_, row)| row.accepted)
                .sum();
            assert!(
                accepted >= min,
                "only {accepted} {name} fixtures accepted, expected at least {min}:\n{printed}"
            );
        }
    }

    /// Every field of every fixture, top level and one level down, replaced by hostile
    /// values: refused or accepted, never a panic.
    #[test]
    fn mangled_fixtures_never_panic() {
        let long = "x".repeat(10_000);
        let hostile = [
            Value::Null,
            json!(42),
            json!([]),
            json!([1, [2, [3]], {"id": 4}]),
            json!({}),
            Value::String(long.clone()),
            json!({"id": long, "type": long}),
        ];
        let mut tried = 0;
        for (path, mut value) in fixtures::all() {
            fixtures::unscrub(&mut value);
            let mut variants = Vec::new();
            let Value::Object(map) = &value else { continue };
            for (key, field) in map {
                for bad in &hostile {
                    let mut v = value.clone();
                    v[key.as_str()] = bad.clone();
                    variants.push(v);
                }
                if let Value::Object(inner) = field {
                    for inner_key in inner.keys() {
                        for bad in &hostile {
                            let mut v = value.clone();
                            v[key.as_str()][inner_key.as_str()] = bad.clone();
                            variants.push(v);
                        }
                    }
                }
            }
            for variant in variants {
                tried += 1;
                if catch_unwind(|| classify(&variant)).is_err() {
                    panic!("classifying a mangled {path} panicked: {variant}");
                }
            }
        }
        assert!(tried > 1000, "only {tried} variants tried");
    }

    fn code(value: &Value) -> &'static str {
        match classify(value) {
            Ok(inbound) => panic!("accepted: {inbound:?}"),
            Err(refusal) => refusal.code,
        }
    }

    fn like(object: Value) -> Value {
        json!({
            "id": "https://a.example/like/1", "type": "Like",
            "actor": "https://a.example/u/ann", "object": object
        })
    }

    fn note(content: &str) -> Value {
        json!({
            "id": "https://a.example/note/1", "type": "Note",
            "attributedTo": "https://a.example/u/ann",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "content": content
        })
    }

    #[test]
    fn announce_chains_are_refused_at_the_second_announce() {
        let mut chain = like(json!("https://a.example/post/1"));
        for i in 0..200 {
            chain = json!({
                "id": format!("https://g.example/announce/{i}"), "type": "Announce",
                "actor": "https://g.example/c/g", "object": chain
            });
        }
        assert_eq!(code(&chain), "nested_announce");
        // Built from the inside out, the guard also holds when entered deep.
        assert_eq!(
            classify_at(&like(json!("https://a.example/p")), MAX_DEPTH + 1)
                .expect_err("too deep")
                .code,
            "too_deep"
        );
        let single = json!({
            "id": "https://g.example/announce/x", "type": "Announce",
            "actor": "https://g.example/c/g", "object": like(json!("https://a.example/p"))
        });
        let Action::Announce(inner) = accepted_action(&single) else {
            panic!("not an Announce");
        };
        assert!(matches!(
            action_of(&inner),
            Some(Action::Vote { score: 1, .. })
        ));
    }

    #[test]
    fn objects_of_the_wrong_shape_are_refused() {
        assert_eq!(code(&like(json!(42))), "invalid_object");
        assert_eq!(code(&like(json!(true))), "invalid_object");
        assert_eq!(code(&like(Value::Null)), "missing_object");
        assert_eq!(
            code(&like(json!(["https://a.example/1", "https://a.example/2"]))),
            "invalid_object"
        );
        assert_eq!(code(&like(json!([]))), "invalid_object");
        assert_eq!(code(&like(json!({"type": "Note"}))), "invalid_object");
        assert_eq!(code(&like(json!("not a url"))), "invalid_object");
        assert_eq!(code(&like(json!("ftp://a.example/x"))), "invalid_object");
        let mut no_object = like(Value::Null);
        no_object.as_object_mut().map(|m| m.remove("object"));
        assert_eq!(code(&no_object), "missing_object");
        // A one-element list stands for its element.
        assert!(classify(&like(json!(["https://a.example/1"]))).is_ok());

        let create = |object: Value| {
            json!({"id": "https://a.example/c/1", "type": "Create",
                   "actor": "https://a.example/u/ann", "object": object})
        };
        assert_eq!(code(&create(json!(7))), "invalid_object");
        assert_eq!(
            code(&create(like(json!("https://a.example/p")))),
            "wrong_object_type"
        );
        assert_eq!(
            code(&create(
                json!({"type": "Tombstone", "id": "https://a.example/n/1"})
            )),
            "wrong_object_type"
        );
        assert_eq!(
            code(&create(json!({"id": "https://a.example/n/1"}))),
            "missing_type"
        );
        let mut anonymous = note("hi");
        anonymous.as_object_mut().map(|m| m.remove("attributedTo"));
        let refusal = classify(&create(anonymous)).expect_err("no author");
        assert_eq!(refusal.code, "unparsable_object");
        assert!(refusal.message.contains("attributedTo"), "{refusal}");
    }

    #[test]
    fn documents_without_type_id_or_actor_are_refused() {
        assert_eq!(code(&json!([1, 2])), "not_an_object");
        assert_eq!(code(&json!(3)), "not_an_object");
        assert_eq!(code(&json!({"id": "https://a.example/x"})), "missing_type");
        assert_eq!(code(&json!({"type": ["Create"]})), "invalid_type");
        assert_eq!(code(&json!({"type": ""})), "invalid_type");
        let mut no_id = like(json!("https://a.example/p"));
        no_id["id"] = Value::Null;
        assert_eq!(code(&no_id), "missing_id");
        let mut no_actor = like(json!("https://a.example/p"));
        no_actor.as_object_mut().map(|m| m.remove("actor"));
        assert_eq!(code(&no_actor), "missing_actor");
        no_actor["actor"] = json!({"type": "Person"});
        assert_eq!(code(&no_actor), "invalid_actor");
        // Ignored types are still checked for a sender.
        assert_eq!(
            code(&json!({"type": "Flag", "id": "https://a.example/f", "object": []})),
            "missing_actor"
        );
    }

    #[test]
    fn ten_thousand_character_strings_are_refused_where_they_cannot_be_meant() {
        let long = "a".repeat(10_000);
        let long_url = format!("https://a.example/{long}");
        assert_eq!(code(&json!({"type": long})), "invalid_type");
        let mut long_id = like(json!("https://a.example/p"));
        long_id["id"] = json!(long_url);
        assert_eq!(code(&long_id), "link_too_long");
        assert_eq!(code(&like(json!(long_url))), "link_too_long");
        assert_eq!(code(&like(json!(long))), "link_too_long");
        // serde quotes the offending value; the answer and the log do not repeat all of it.
        let mut flagged = note("hi");
        flagged["sensitive"] = json!(long);
        let refusal = classify(&flagged).expect_err("not a boolean");
        assert_eq!(refusal.code, "unparsable_object");
        assert!(refusal.message.len() < 400, "{}", refusal.message.len());
        // A long body is a long answer, not an attack.
        let create = json!({"id": "https://a.example/c/1", "type": "Create",
                            "actor": "https://a.example/u/ann", "object": note(&long)});
        assert!(matches!(
            accepted_action(&create),
            Action::Create(Object::Embedded(Document::Post(_)))
        ));
    }

    /// Spec §6.3: a Delete with `summary` is a moderator's removal (undoable), one without
    /// is the author's own (not undoable: its text is gone); Lock and its Undo are read.
    #[test]
    fn moderators_removals_and_locks_are_told_from_authors_deletes() {
        let activity = |kind: &str, extra: Value| {
            let mut value = json!({"id": format!("https://a.example/{kind}/1"), "type": kind,
                                   "actor": "https://a.example/u/mod", "object": "https://a.example/t/1"});
            if let (Value::Object(map), Value::Object(more)) = (&mut value, extra) {
                map.extend(more);
            }
            value
        };
        let undo = |object: Value| {
            json!({"id": "https://a.example/undo/1", "type": "Undo",
                   "actor": "https://a.example/u/mod", "object": object})
        };
        assert!(matches!(
            accepted_action(&activity("Delete", json!({"summary": "Spam"}))),
            Action::Delete { moderator_reason: Some(reason), .. } if reason == "Spam"
        ));
        assert!(matches!(
            accepted_action(&activity("Delete", json!({}))),
            Action::Delete {
                moderator_reason: None,
                ..
            }
        ));
        assert!(matches!(
            accepted_action(&activity("Lock", json!({"summary": "Answered"}))),
            Action::Lock { reason: Some(reason), .. } if reason == "Answered"
        ));
        assert!(matches!(
            accepted_action(&undo(activity("Lock", json!({})))),
            Action::Undo(undone) if matches!(undone.action, Action::Lock { .. })
        ));
        assert!(matches!(
            accepted_action(&undo(activity("Delete", json!({"summary": ""})))),
            Action::Undo(undone)
                if matches!(&undone.action, Action::Delete { moderator_reason: Some(r), .. } if r.is_empty())
        ));
        assert!(matches!(
            classify(&undo(activity("Delete", json!({})))),
            Ok(Inbound::Ignored { .. })
        ));
        assert_eq!(
            code(&activity("Lock", json!({"object": Value::Null}))),
            "missing_object"
        );
    }

    #[test]
    fn undo_and_accept_read_only_what_they_can_mean() {
        let undo = |object: Value| {
            json!({"id": "https://a.example/undo/1", "type": "Undo",
                   "actor": "https://a.example/u/ann", "object": object})
        };
        assert!(matches!(
            accepted_action(&undo(like(json!("https://b.example/p")))),
            Action::Undo(undone) if matches!(undone.action, Action::Vote { score: 1, .. })
        ));
        assert!(matches!(
            classify(&undo(json!("https://a.example/like/1"))),
            Ok(Inbound::Ignored { .. })
        ));
        assert!(matches!(
            classify(&undo(json!({"type": "Move", "object": 5}))),
            Ok(Inbound::Ignored { .. })
        ));
        let mut bad_like = like(json!(5));
        assert_eq!(code(&undo(bad_like.clone())), "invalid_object");
        bad_like["object"] = json!("https://b.example/p");
        bad_like["type"] = Value::Null;
        assert_eq!(code(&undo(bad_like)), "missing_type");

        // NodeBB answers errors with a Reject of a partial activity: tolerated.
        let reject = json!({"id": "https://n.example/reject/1", "type": "Reject",
                            "actor": "https://n.example/uid/1",
                            "object": {"type": "Create", "object": "https://a.example/x"}});
        assert!(matches!(classify(&reject), Ok(Inbound::Ignored { .. })));
    }

    /// Lemmy's ban as it sends it (`fixtures/lemmy/activities/block`), announced by the
    /// group, and its Undo; a ban without target or with a garbled end is refused by name.
    #[test]
    fn lemmy_bans_are_read_with_reason_and_end() {
        let block = json!({
            "actor": "https://enterprise.lemmy.ml/u/lemmy_beta",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": "https://ds9.lemmy.ml/u/lemmy_alpha",
            "cc": ["https://enterprise.lemmy.ml/c/main"],
            "audience": "https://enterprise.lemmy.ml/c/main",
            "target": "https://enterprise.lemmy.ml/c/main",
            "type": "Block",
            "removeData": true,
            "summary": "spam post",
            "endTime": "2021-11-01T12:23:50.151874Z",
            "id": "https://enterprise.lemmy.ml/activities/block/5d42fffb"
        });
        let announce = json!({
            "id": "https://enterprise.lemmy.ml/activities/announce/1", "type": "Announce",
            "actor": "https://enterprise.lemmy.ml/c/main",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["https://enterprise.lemmy.ml/c/main/followers"],
            "object": block
        });
        let Action::Announce(inner) = accepted_action(&announce) else {
            panic!("not an Announce");
        };
        match action_of(&inner) {
            Some(Action::Block {
                object,
                target,
                reason,
                expires,
            }) => {
                assert_eq!(object.as_str(), "https://ds9.lemmy.ml/u/lemmy_alpha");
                assert_eq!(target.as_str(), "https://enterprise.lemmy.ml/c/main");
                assert_eq!(reason.as_deref(), Some("spam post"));
                assert_eq!(
                    expires.map(|t| t.to_string()).as_deref(),
                    Some("2021-11-01 12:23:50.151874")
                );
            }
            other => panic!("not a Block: {other:?}"),
        }
        let undo = json!({
            "id": "https://enterprise.lemmy.ml/activities/undo/1", "type": "Undo",
            "actor": "https://enterprise.lemmy.ml/u/lemmy_beta",
            "to": [], "cc": [], "object": block
        });
        assert!(matches!(
            accepted_action(&undo),
            Action::Undo(undone) if matches!(undone.action, Action::Block { expires: Some(_), .. })
        ));
        let mut no_end = block.clone();
        no_end.as_object_mut().map(|m| m.remove("endTime"));
        assert!(matches!(
            accepted_action(&no_end),
            Action::Block { expires: None, .. }
        ));
        let mut garbled = block.clone();
        garbled["endTime"] = json!("next tuesday");
        assert_eq!(code(&garbled), "invalid_end_time");
        let mut untargeted = block;
        untargeted.as_object_mut().map(|m| m.remove("target"));
        assert_eq!(code(&untargeted), "missing_target");
    }

    #[test]
    fn reports_and_collection_changes_are_read() {
        let mastodon = fixture_value("mastodon/activities/flag.json");
        match accepted_action(&mastodon) {
            Action::Flag {
                objects,
                to,
                reason,
            } => {
                assert_eq!(objects.len(), 3);
                assert_eq!(to.len(), 1);
                assert_eq!(
                    reason.as_deref(),
                    Some("Please take a look at this user and their posts")
                );
            }
            other => panic!("not a Flag: {other:?}"),
        }
        let lemmy = fixture_value("lemmy/activities/community/report_page.json");
        assert!(matches!(
            accepted_action(&lemmy),
            Action::Flag { objects, reason: Some(r), .. } if objects.len() == 1 && r == "report this post"
        ));
        let mut empty = lemmy.clone();
        empty["object"] = json!([]);
        assert_eq!(code(&empty), "invalid_object");
        let add = fixture_value("lemmy/activities/community/add_mod.json");
        assert!(matches!(
            accepted_action(&add),
            Action::Collection { added: true, target, .. } if target.as_str().ends_with("/moderators")
        ));
        let remove = fixture_value("lemmy/activities/community/remove_featured_post.json");
        assert!(matches!(
            accepted_action(&remove),
            Action::Collection { added: false, target, .. } if target.as_str().ends_with("/featured")
        ));
    }

    fn fixture_value(path: &str) -> Value {
        let mut value: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures::root().join(path)).expect("fixture"),
        )
        .expect("json");
        fixtures::unscrub(&mut value);
        value
    }

    #[test]
    fn the_inbox_refuses_with_the_classifier_code() {
        let refusal = InboxActivity::from_value(like(json!(42))).expect_err("refused");
        assert_eq!(refusal.code, "invalid_object");
        let refusal = InboxActivity::from_value(note("hi")).expect_err("no actor");
        assert_eq!(refusal.code, "missing_actor");
        let accepted = InboxActivity::from_value(like(json!("https://b.example/p"))).expect("ok");
        assert!(matches!(accepted.inbound, Inbound::Activity(_)));
    }
}
