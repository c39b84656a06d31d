//! Test support: run a test once per backend, each time on a fresh, migrated database.
//!
//! SQLite always (a temporary file, WAL as in production); PostgreSQL too when
//! `LYCEUM_TEST_DATABASE_URL` points at a server where the role may create databases. Each
//! run gets its own database, dropped afterwards, so tests need no global locks.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;

use crate::db::{Db, migrations};
use crate::settings::DatabaseSettings;

/// The environment variable naming the PostgreSQL server tests may create databases on.
pub const TEST_DATABASE_URL_ENV: &str = "LYCEUM_TEST_DATABASE_URL";
/// Domain of the local instance in database tests.
pub const TEST_DOMAIN: &str = "localhost:8541";
pub const TEST_PUBLIC_URL: &str = "http://localhost:8541";

static NEXT_DATABASE: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL server for tests, if configured.
pub fn postgres_test_url() -> Option<String> {
    std::env::var(TEST_DATABASE_URL_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// A fresh migrated database (no rows yet), removed by [`TestDatabase::drop_database`].
pub struct TestDatabase {
    pub db: Db,
    pub url: String,
    /// Taken when the database is removed.
    cleanup: Option<Cleanup>,
}

enum Cleanup {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    pub async fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary folder for a SQLite test database");
        let url = dir.path().join("lyceum.db").to_string_lossy().into_owned();
        let db = open(&url).await;
        TestDatabase {
            db,
            url,
            cleanup: Some(Cleanup::Sqlite(dir)),
        }
    }

    /// Creates a new database on the server `admin_url` points at.
    pub async fn postgres(admin_url: &str) -> TestDatabase {
        let name = format!(
            "lyceum_test_{}_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
        let mut admin = AsyncPgConnection::establish(admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("{TEST_DATABASE_URL_ENV} is set but PostgreSQL refused: {e}")
            });
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let mut url = url::Url::parse(admin_url).expect("LYCEUM_TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        let url = url.to_string();
        let db = open(&url).await;
        TestDatabase {
            db,
            url,
            cleanup: Some(Cleanup::Postgres {
                admin_url: admin_url.to_owned(),
                name,
            }),
        }
    }

    /// Closes the pool and removes the database.
    pub async fn drop_database(mut self) {
        self.db.close();
        match self.cleanup.take() {
            Some(Cleanup::Postgres { admin_url, name }) => {
                drop_postgres_database(&admin_url, &name).await;
            }
            Some(Cleanup::Sqlite(dir)) => drop(dir),
            None => {}
        }
    }
}

/// A test that panics before `drop_database` still removes its PostgreSQL database.
impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(Cleanup::Postgres { admin_url, name }) = self.cleanup.take() {
            self.db.close();
            // Drop cannot await, and may run inside a runtime: use a thread with its own.
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(drop_postgres_database(&admin_url, &name));
                }
            })
            .join();
        }
    }
}

async fn drop_postgres_database(admin_url: &str, name: &str) {
    // A connection still closing can make one attempt fail; a few tries settle it.
    let mut last_error = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let dropped = match AsyncPgConnection::establish(admin_url).await {
            Ok(mut admin) => {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        match dropped {
            Ok(()) => return,
            Err(e) => last_error = e,
        }
    }
    eprintln!("could not drop test database {name}: {last_error}");
}

async fn open(url: &str) -> Db {
    let settings = DatabaseSettings {
        url: url.to_owned(),
        pool_size: 4,
        ..DatabaseSettings::default()
    };
    let db = Db::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("test database {url}: {e}"));
    migrations::run_pending(&db)
        .await
        .expect("migrations apply");
    db
}

/// Runs `test` on a fresh SQLite database (with the local instance row for
/// [`TEST_DOMAIN`]), then on a fresh PostgreSQL database when
/// `LYCEUM_TEST_DATABASE_URL` is set. A failure on either backend fails the test, and the
/// database is removed either way.
pub async fn for_each_backend(mut test: impl AsyncFnMut(Db)) {
    let sqlite = TestDatabase::sqlite().await;
    run_and_clean(&mut test, sqlite, "SQLite").await;
    if let Some(admin_url) = postgres_test_url() {
        let pg = TestDatabase::postgres(&admin_url).await;
        run_and_clean(&mut test, pg, "PostgreSQL").await;
    }
}

async fn run_and_clean(test: &mut impl AsyncFnMut(Db), database: TestDatabase, backend: &str) {
    let outcome = AssertUnwindSafe(async {
        crate::service::instance::ensure_local_instance(&database.db, TEST_DOMAIN)
            .await
            .expect("local instance row");
        test(database.db.clone()).await
    })
    .catch_unwind()
    .await;
    database.drop_database().await;
    if let Err(panic) = outcome {
        eprintln!("test failed on {backend}");
        std::panic::resume_unwind(panic);
    }
}

/// Settings for an in-process test server on [`TEST_DOMAIN`].
pub fn test_settings() -> crate::settings::Settings {
    let mut settings = crate::settings::Settings {
        domain: TEST_DOMAIN.to_owned(),
        ..crate::settings::Settings::default()
    };
    // Tests sign in, call the API and post to inboxes often from one address; the rate
    // limits have their own tests.
    settings.rate_limit.auth_burst = 10_000;
    settings.rate_limit.api_burst = 100_000;
    settings.rate_limit.inbox_burst = 100_000;
    settings.rate_limit.instance_burst = 100_000;
    // Tests read a page right after changing what it shows; the kept anonymous pages have
    // their own tests (`web::tests`), which turn them on.
    settings.http.anonymous_page_cache_secs = 0;
    settings
}

/// The whole HTTP application over a test database, called without a socket.
pub struct TestApi {
    pub db: Db,
    pub settings: crate::settings::Settings,
    router: axum::Router,
}

/// A response as tests look at it.
#[derive(Debug)]
pub struct TestResponse {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: serde_json::Value,
}

impl TestResponse {
    /// The `error.code` of an API error body ("" when there is none).
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl TestApi {
    pub async fn new(db: Db, settings: crate::settings::Settings) -> TestApi {
        init_test_logging();
        let ctx = crate::context::AppContext::new(db.clone(), settings.clone());
        // Rate limits key on the client address, which a socket-less call does not have.
        let router = crate::server::app(ctx)
            .await
            .expect("the application starts")
            .layer(axum::Extension(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([127, 0, 0, 1], 40_000)),
            )));
        TestApi {
            db,
            settings,
            router,
        }
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> TestResponse {
        let mut request = axum::http::Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(json) => request
                .header("content-type", "application/json")
                .body(axum::body::Body::from(json.to_string())),
            None => request.body(axum::body::Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }

    pub async fn send(&self, request: axum::http::Request<axum::body::Body>) -> TestResponse {
        let (status, headers, bytes) = self.send_for_bytes(request).await;
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            })
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// Sends a request and keeps the body as it came (compressed, binary).
    pub async fn send_for_bytes(
        &self,
        request: axum::http::Request<axum::body::Body>,
    ) -> (
        axum::http::StatusCode,
        axum::http::HeaderMap,
        axum::body::Bytes,
    ) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router always answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, bytes)
    }

    /// Creates an active account directly through the service (as `admin create-user` does).
    pub async fn create_user(&self, name: &str, role: crate::db::types::AccountRole) -> i64 {
        crate::service::accounts::create_account(
            &self.db,
            &self.settings.public_url(),
            crate::service::accounts::NewAccount::active(name, TEST_PASSWORD, role),
        )
        .await
        .expect("test user")
        .person
        .id
    }

    /// Makes an active member called `name` and signs them in: the bearer token.
    pub async fn signed_in_member(&self, name: &str) -> String {
        self.create_user(name, crate::db::types::AccountRole::Member)
            .await;
        self.login(name).await
    }

    /// Signs in with [`TEST_PASSWORD`] and returns the bearer token.
    pub async fn login(&self, name: &str) -> String {
        let response = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(serde_json::json!({"username": name, "password": TEST_PASSWORD})),
            )
            .await;
        assert_eq!(response.status, 200, "login {name}: {:?}", response.body);
        response.body["token"].as_str().expect("token").to_owned()
    }
}

/// A remote person `name` of `domain` (`https://{domain}/u/{name}`), stored as if fetched.
pub async fn remote_person(db: &Db, domain: &str, name: &str) -> crate::db::person::Person {
    let now = crate::db::now();
    let result = async {
        crate::transaction!(db, |conn| {
            let instance = crate::db::instance::ensure_remote(&mut conn, domain, now).await?;
            crate::db::person::upsert_remote(
                &mut conn,
                &crate::db::person::RemotePersonForm {
                    ap_id: format!("https://{domain}/u/{name}"),
                    local: false,
                    instance_id: instance.id,
                    name: name.to_owned(),
                    name_lower: name.to_owned(),
                    display_name: None,
                    bio_html: None,
                    avatar_url: None,
                    inbox_url: format!("https://{domain}/u/{name}/inbox"),
                    shared_inbox_url: None,
                    public_key_pem: "unused".to_owned(),
                    bot: false,
                    deleted: false,
                    published: now,
                    updated: None,
                    last_refreshed_at: now,
                },
            )
            .await
            .map_err(crate::error::AppError::from)
        })
    };
    result.await.expect("remote person")
}

/// Sends Lyceum's logs (debug and up) to the running test's captured output, shown when
/// it fails. Once per process; later calls do nothing.
pub fn init_test_logging() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("lyceum=debug")
        .try_init();
}

/// The password [`TestApi::create_user`] gives every account.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// Runs one SQL statement written to work on both backends, for states the API cannot
/// reach (an expired token, content made before its service exists). Returns rows changed.
pub async fn execute_sql(db: &Db, sql: &str) -> usize {
    use diesel_async::RunQueryDsl;
    let run = async {
        crate::with_conn!(db, |conn| Ok::<_, crate::db::DbError>(crate::on_conn!(
            &mut conn,
            |c| diesel::sql_query(sql).execute(c).await?
        )))
    };
    run.await
        .unwrap_or_else(|e| panic!("test SQL failed: {e}\n{sql}"))
}

/// What [`hold_thread_row_then`] does to the thread before it commits.
#[derive(Debug, Clone, Copy)]
pub enum HeldThreadChange {
    Lock,
    Delete,
}

/// Locks thread `thread_id`'s row in a transaction, sends on `held` once it has it, waits
/// 400 ms (long enough for a racing write to pass its first checks and insert on
/// PostgreSQL, or to wait for the write lock on SQLite), then makes `change` and commits:
/// a moderator or author racing a write that must be refused on the locked row.
pub async fn hold_thread_row_then(
    db: &Db,
    thread_id: i64,
    held: tokio::sync::oneshot::Sender<()>,
    change: HeldThreadChange,
) {
    use crate::db::thread;
    let changed = async {
        crate::transaction!(db, |conn| {
            thread::read_for_update(&mut conn, thread_id).await?;
            let _ = held.send(());
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            match change {
                HeldThreadChange::Lock => thread::set_locked(&mut conn, thread_id, true).await?,
                HeldThreadChange::Delete => {
                    thread::mark_deleted(&mut conn, thread_id, crate::db::now()).await?
                }
            };
            Ok::<_, crate::error::AppError>(())
        })
    };
    changed
        .await
        .expect("the thread row is held, changed and committed");
}

/// Polls `condition` until it returns true or `timeout` passes; tests use this instead of
/// sleeping for a guessed time.
pub async fn wait_until<F, Fut>(timeout: std::time::Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test that fails before `drop_database` must not leave its database behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_test_databases_are_dropped_even_without_drop_database() {
        let Some(admin) = postgres_test_url() else {
            eprintln!("{TEST_DATABASE_URL_ENV} is not set: nothing to check");
            return;
        };
        let database = TestDatabase::postgres(&admin).await;
        let name = url::Url::parse(&database.url)
            .expect("url")
            .path()
            .trim_start_matches('/')
            .to_owned();
        drop(database);
        let mut conn = AsyncPgConnection::establish(&admin).await.expect("admin");
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let left: Count =
            diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
                .bind::<diesel::sql_types::Text, _>(&name)
                .get_result(&mut conn)
                .await
                .expect("query");
        assert_eq!(left.n, 0, "{name} was left behind");
    }
}
