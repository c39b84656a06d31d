//! The state every request handler and background worker shares: database, settings and
//! the pages kept for visitors without a cookie.

use std::sync::Arc;

use crate::db::Db;
use crate::settings::Settings;
use crate::web::page_cache::AnonymousPageCache;

#[derive(Clone)]
pub struct AppContext {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Per context rather than global, so servers in one process (tests) keep their own.
    pub anonymous_pages: AnonymousPageCache,
}

impl AppContext {
    pub fn new(db: Db, settings: Settings) -> AppContext {
        AppContext {
            db,
            anonymous_pages: AnonymousPageCache::new(settings.http.anonymous_page_cache_secs),
            settings: Arc::new(settings),
        }
    }

    /// `http(s)://domain`, the prefix of every local ActivityPub id and page URL.
    pub fn public_url(&self) -> String {
        self.settings.public_url()
    }
}
