//! Lyceum: a self-hosted server for learning communities that federate over ActivityPub.

pub mod api;
pub mod app;
pub mod content;
pub mod context;
pub mod db;
pub mod error;
pub mod federation;
pub mod listener;
pub mod metrics;
pub mod server;
pub mod service;
pub mod settings;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod web;

/// The software name in NodeInfo and the local instance row.
pub const SOFTWARE_NAME: &str = "lyceum";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
