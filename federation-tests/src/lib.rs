//! Harness for end-to-end tests: start real Lyceum servers on loopback, each with its own
//! database, and drive them only through HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use lyceum::app::RunningServer;
use lyceum::settings::Settings;
use lyceum::testing::{TestDatabase, postgres_test_url};

/// Which database a test instance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends this run covers: SQLite always, PostgreSQL when `LYCEUM_TEST_DATABASE_URL`
/// is set (CI sets it).
pub fn backends() -> Vec<Backend> {
    let mut list = vec![Backend::Sqlite];
    if postgres_test_url().is_some() {
        list.push(Backend::Postgres);
    }
    list
}

/// One running instance: a real server on `127.0.0.1:<free port>`.
pub struct TestInstance {
    pub name: String,
    pub base_url: String,
    server: RunningServer,
    database: TestDatabase,
}

impl TestInstance {
    /// Starts an instance called `name` on a fresh database of `backend`. Its domain is
    /// `localhost:<port>` with federation debug on, as in development.
    pub async fn start(name: &str, backend: Backend) -> anyhow::Result<TestInstance> {
        // The port must be known before the domain is, so reserve one first.
        let port = {
            let probe = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            probe.local_addr()?.port()
        };
        let database = match backend {
            Backend::Sqlite => TestDatabase::sqlite().await,
            Backend::Postgres => {
                let admin = postgres_test_url()
                    .ok_or_else(|| anyhow::anyhow!("LYCEUM_TEST_DATABASE_URL is not set"))?;
                TestDatabase::postgres(&admin).await
            }
        };
        let domain = format!("localhost:{port}");
        let mut settings = Settings {
            domain: domain.clone(),
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            ..Settings::default()
        };
        settings.database.url = database.url.clone();
        settings.federation.debug = true;
        let server = RunningServer::start(settings).await?;
        Ok(TestInstance {
            name: name.to_owned(),
            base_url: format!("http://{domain}"),
            server,
            database,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server gracefully and removes its database.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.stop(Duration::from_secs(5)).await?;
        self.database.drop_database().await;
        Ok(())
    }
}

/// Polls `condition` until it returns true or `timeout` passes; tests use this instead of
/// sleeping for a guessed time.
pub async fn wait_until<F, Fut>(timeout: Duration, mut condition: F) -> bool
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
