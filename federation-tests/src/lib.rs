//! Harness for end-to-end tests: start real Lyceum servers on loopback, each with its own
//! database, and drive them only through HTTP.

pub mod browser;
pub mod hostile;
pub mod peers;

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

impl Backend {
    /// Lower-case name, for file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
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
    /// `None` while the instance is down (see `go_down`).
    server: Option<RunningServer>,
    settings: Settings,
    database: TestDatabase,
}

impl TestInstance {
    /// Starts an instance called `name` on a fresh database of `backend`. Its domain is
    /// `localhost:<port>` with federation debug on, as in development.
    pub async fn start(name: &str, backend: Backend) -> anyhow::Result<TestInstance> {
        TestInstance::start_with(name, backend, |_| {}).await
    }

    /// Like `start`, with settings changed by `configure` first.
    pub async fn start_with(
        name: &str,
        backend: Backend,
        configure: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<TestInstance> {
        lyceum::testing::init_test_logging();
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
        // Scenarios read pages right after changing what they show.
        settings.http.anonymous_page_cache_secs = 0;
        configure(&mut settings);
        let server = RunningServer::start(settings.clone()).await?;
        Ok(TestInstance {
            name: name.to_owned(),
            base_url: format!("http://{domain}"),
            server: Some(server),
            settings,
            database,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Runs `sql` on the instance's database. Only for what no API can make happen in a
    /// test's time, such as an instance having been silent for days.
    pub async fn execute_sql(&self, sql: &str) -> usize {
        lyceum::testing::execute_sql(&self.database.db, sql).await
    }

    /// Stops the server gracefully and removes its database.
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some(server) = self.server {
            server.stop(Duration::from_secs(5)).await?;
        }
        self.database.drop_database().await;
        Ok(())
    }

    /// Stops the server but keeps its database and port: an outage. Others' deliveries to
    /// it fail until `come_back`.
    pub async fn go_down(&mut self) -> anyhow::Result<()> {
        let server = self
            .server
            .take()
            .ok_or_else(|| anyhow::anyhow!("{} is already down", self.name))?;
        server.stop(Duration::from_secs(5)).await
    }

    /// Starts the server again on the same port and database.
    pub async fn come_back(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.server.is_none(), "{} is already up", self.name);
        self.server = Some(RunningServer::start(self.settings.clone()).await?);
        Ok(())
    }

    fn running(&self) -> &RunningServer {
        self.server
            .as_ref()
            .unwrap_or_else(|| panic!("{} is down", self.name))
    }
}

pub use lyceum::testing::wait_until;

/// How long end-to-end checks wait for federation to settle.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Waits until `GET /api/v1{path}` on `member`'s instance satisfies `check`, and returns
/// that body; otherwise fails naming the instance, what it lacks and what it last said.
pub async fn eventually(
    member: &Member,
    path: &str,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    eventually_within(member, path, what, PATIENCE, check).await
}

/// `eventually` with a patience of `within`.
pub async fn eventually_within(
    member: &Member,
    path: &str,
    what: &str,
    within: Duration,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let last = std::sync::Mutex::new(serde_json::Value::Null);
    let reached = wait_until(within, || {
        let last = &last;
        let check = &check;
        async move {
            let (status, body) = member.get(path).await;
            let ok = status == 200 && check(&body);
            *last.lock().expect("lock") = body;
            ok
        }
    })
    .await;
    let last = last.into_inner().expect("lock");
    assert!(
        reached,
        "{what}: not seen on {} ({}) within {within:?}; GET /api/v1{path} last answered {last}",
        member.instance, member.base_url
    );
    last
}

/// `member` follows the community `handle` of `home` (resolved by handle) and waits until
/// the follow is accepted; returns its handle on `member`'s instance (`name@domain`).
pub async fn follow_remote(member: &Member, handle: &str, home: &TestInstance) -> String {
    let resolved = member
        .ok(
            reqwest::Method::GET,
            &format!("/resolve?q=!{handle}@{}", home.domain()),
            None,
        )
        .await;
    assert_eq!(resolved["type"], "community", "{resolved}");
    assert_eq!(resolved["local"], false);
    let remote_handle = resolved["handle"].as_str().expect("handle").to_owned();
    assert_eq!(remote_handle, format!("{handle}@{}", home.domain()));
    let (status, state) = member
        .post(
            &format!("/communities/{remote_handle}/follow"),
            serde_json::json!({}),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {state}");
    eventually(
        member,
        &format!("/communities/{remote_handle}"),
        "the follow is accepted",
        |c| c["follow_state"] == "accepted",
    )
    .await;
    remote_handle
}

/// The thread on `member`'s instance whose `ap_id` is `ap_id`, found through its community.
pub async fn thread_by_ap_id(member: &Member, community: &str, ap_id: &str) -> serde_json::Value {
    thread_by_ap_id_within(member, community, ap_id, PATIENCE).await
}

/// `thread_by_ap_id` with a patience of `within`.
pub async fn thread_by_ap_id_within(
    member: &Member,
    community: &str,
    ap_id: &str,
    within: Duration,
) -> serde_json::Value {
    let path = format!("/communities/{community}/threads?sort=new");
    let what = format!("thread {ap_id} in community {community}");
    let list = eventually_within(member, &path, &what, within, |body| {
        body["threads"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["ap_id"] == ap_id))
    })
    .await;
    list["threads"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["ap_id"] == ap_id))
        .cloned()
        .expect("found")
}

/// A signed-in member of an instance, driving it through the public API only.
pub struct Member {
    /// The name of the member's instance (`alpha`, ...), for failure messages.
    pub instance: String,
    pub base_url: String,
    pub token: String,
    client: reqwest::Client,
}

/// A password the API accepts, for test accounts.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestInstance {
    /// Signs up `username` through `POST /api/v1/accounts` and signs in.
    pub async fn member(&self, username: &str) -> anyhow::Result<Member> {
        let client = reqwest::Client::new();
        let created = client
            .post(self.url("/api/v1/accounts"))
            .json(&serde_json::json!({"username": username, "password": PASSWORD}))
            .send()
            .await?;
        anyhow::ensure!(
            created.status() == 201,
            "sign-up of {username} answered {}: {}",
            created.status(),
            created.text().await?
        );
        self.sign_in(username).await
    }

    /// Signs in through `POST /api/v1/auth/login`.
    pub async fn sign_in(&self, username: &str) -> anyhow::Result<Member> {
        let client = reqwest::Client::new();
        let login: serde_json::Value = client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"username": username, "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = login["token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no token in {login}"))?
            .to_owned();
        Ok(Member {
            instance: self.name.clone(),
            base_url: self.base_url.clone(),
            token,
            client,
        })
    }

    /// Creates an admin account as an operator does with `lyceum admin create-user --admin`
    /// (the same service call), then signs in through the API.
    pub async fn admin(&self, username: &str) -> anyhow::Result<Member> {
        lyceum::service::accounts::create_account(
            &self.running().ctx.db,
            &self.running().ctx.public_url(),
            lyceum::service::accounts::NewAccount::active(
                username,
                PASSWORD,
                lyceum::db::types::AccountRole::Admin,
            ),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.sign_in(username).await
    }

    /// This instance's domain, as handles name it.
    pub fn domain(&self) -> &str {
        self.base_url.trim_start_matches("http://")
    }
}

impl Member {
    /// Calls the API (`path` below `/api/v1`); returns the status and the JSON body
    /// (`null` when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base_url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Calls the API with a text body of `content_type` (or none); returns the status and
    /// the body as text, for endpoints that take or give CSV.
    pub async fn call_text(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base_url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", content_type)
                .body(body.to_owned());
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// How many deliveries to `domain` the admin API lists (pending, delivered and failed:
    /// every stored delivery once). The member must be staff.
    pub async fn deliveries_listed_for(&self, domain: &str) -> i64 {
        let rows = self
            .ok(reqwest::Method::GET, "/admin/federation/instances", None)
            .await;
        rows.as_array()
            .expect("a list of instances")
            .iter()
            .filter(|r| r["domain"] == domain)
            .map(|r| {
                ["pending", "delivered", "failed"]
                    .iter()
                    .map(|k| r[k].as_i64().unwrap_or(0))
                    .sum::<i64>()
            })
            .sum()
    }

    /// Creates a public community on the member's instance (`kind`: `qa` or `discussion`).
    pub async fn create_community(&self, name: &str, title: &str, kind: &str) -> serde_json::Value {
        self.ok(
            reqwest::Method::POST,
            "/communities",
            Some(serde_json::json!({"name": name, "title": title, "kind": kind})),
        )
        .await
    }

    /// Asserts a 2xx answer and returns the body.
    pub async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let (status, body) = self.call(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path} answered {status}: {body}"
        );
        body
    }
}
