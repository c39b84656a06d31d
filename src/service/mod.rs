//! The rules of the product: every write from the API, the web UI, the CLI or the inbox
//! goes through these functions, which check permissions and write in one transaction.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod communities;
pub mod federation_policy;
pub mod instance;
pub mod instance_moderation;
pub mod knowledge;
pub mod moderation;
pub mod people;
pub mod remote;
pub mod search;
pub mod threads;
