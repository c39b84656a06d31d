//! ActivityPub federation: the JSON we exchange (`protocol`), the endpoints that serve
//! actors and objects (`http`), the inboxes and what received activities mean (`inbox`,
//! `classify`, `receive`), what we send (`activities`, `outbox`, `delivery`, `signing`), and how we
//! fetch safely (`config`, `url_guard`, `resolve`).

pub mod activities;
pub mod actor;
pub mod classify;
pub mod config;
pub mod convert;
pub mod delivery;
pub mod http;
pub mod inbox;
pub mod outbox;
pub mod protocol;
pub mod receive;
pub mod resolve;
pub mod signed_fetch;
pub mod signing;
pub mod url_guard;

/// The public addressing collection.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
/// The media type of ActivityPub JSON.
pub const ACTIVITY_JSON: &str = "application/activity+json";
