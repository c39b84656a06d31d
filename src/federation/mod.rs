//! ActivityPub federation: the JSON we exchange (`protocol`), and the HTTP endpoints that
//! serve actors, objects, WebFinger and NodeInfo (`http`).

pub mod convert;
pub mod http;
pub mod protocol;
pub mod url_guard;

/// The public addressing collection.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
/// The media type of ActivityPub JSON.
pub const ACTIVITY_JSON: &str = "application/activity+json";
