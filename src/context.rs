//! The state every request handler and background worker shares: database and settings.

use std::sync::Arc;

use crate::db::Db;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppContext {
    pub db: Db,
    pub settings: Arc<Settings>,
}

impl AppContext {
    pub fn new(db: Db, settings: Settings) -> AppContext {
        AppContext {
            db,
            settings: Arc::new(settings),
        }
    }

    /// `http(s)://domain`, the prefix of every local ActivityPub id and page URL.
    pub fn public_url(&self) -> String {
        self.settings.public_url()
    }
}
