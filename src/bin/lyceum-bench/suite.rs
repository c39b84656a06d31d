//! `lyceum-bench all`: the whole table of issue #12 in one run, against a real `lyceum serve`
//! process per backend, with 1,000 mock instances served on loopback by this process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures_util::StreamExt;
use lyceum::db::Db;
use lyceum::db::types::{AccountRole, CommunityKind, TokenKind, Visibility};
use lyceum::federation::signing::{SigningKey, signed_post_headers};
use lyceum::settings::Settings;
use serde_json::{Value, json};

use crate::Scratch;
use crate::load::{self, LoadResult};

/// Set in the environment of the copy of this program that runs inside its own mount
/// namespace, where `/etc/hosts` names the mock instances.
const IN_NAMESPACE: &str = "LYCEUM_BENCH_IN_NAMESPACE";

#[derive(Debug, clap::Args)]
pub struct Options {
    /// A PostgreSQL server URL: every measurement also runs on a scratch database made
    /// there (and dropped after). Without it, SQLite only.
    #[arg(long, env = "LYCEUM_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Mock remote instances following the community.
    #[arg(long, default_value_t = 1000)]
    pub inboxes: usize,
    /// Threads posted for the fan-out, each announced to every instance.
    #[arg(long, default_value_t = 5)]
    pub activities: usize,
    /// Signed Create(Note) activities sent to the inbox.
    #[arg(long, default_value_t = 3000)]
    pub inbox_activities: usize,
    /// Seconds of wrk per page.
    #[arg(long, default_value_t = 15)]
    pub read_seconds: u64,
    /// Requests per second of the open-loop read run.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Seconds of the open-loop read run per page.
    #[arg(long, default_value_t = 10)]
    pub rate_seconds: u64,
    /// activitypub_federation's `queue_worker_count` (0: its default, no limit).
    #[arg(long, default_value_t = 0)]
    pub library_workers: usize,
    /// Answers in the search database; 0 leaves search out.
    #[arg(long, default_value_t = 1_000_000)]
    pub search_answers: usize,
    /// A search query class stops early after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub search_class_seconds: u64,
    /// Seconds per RSA implementation and operation for the limits.
    #[arg(long, default_value_t = 3)]
    pub signing_seconds: u64,
}

/// Host name of mock instance `n`; the hosts file maps it to its own loopback address.
fn mock_name(n: usize) -> String {
    format!("i{n:04}.bench.test")
}

fn mock_address(n: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(127, 1, (n / 250) as u8, (n % 250 + 1) as u8)
}

/// Every mock instance must have a host name without a port (activitypub_federation
/// refuses explicit ports outside its debug mode, and its debug mode does not queue), so
/// each listens on port 80 of its own loopback address under a name that only this run
/// knows: the suite starts itself again under `unshare --mount` with a private
/// `/etc/hosts` that lists them. The server processes it starts inherit that view.
pub fn run_in_namespace(inboxes: usize) -> anyhow::Result<std::process::ExitStatus> {
    ensure!(inboxes <= 60_000, "at most 60,000 mock inboxes");
    let hosts = std::env::temp_dir().join(format!("lyceum-bench-hosts-{}", std::process::id()));
    let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    text.push_str("\n127.0.0.1 sender.bench.test\n");
    for n in 0..inboxes {
        text.push_str(&format!("{} {}\n", mock_address(n), mock_name(n)));
    }
    std::fs::write(&hosts, text)?;
    let status = Command::new("unshare")
        .args(["--mount", "--fork", "--", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/hosts && shift && exec "$@""#)
        .arg("sh")
        .arg(&hosts)
        .arg(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env(IN_NAMESPACE, "1")
        .env("DANGER_FEDERATION_ALLOW_LOCAL_IP", "1")
        .status()
        .context("cannot run unshare (util-linux) to give the mock instances names");
    let _ = std::fs::remove_file(&hosts);
    status
}

pub fn in_namespace() -> bool {
    std::env::var_os(IN_NAMESPACE).is_some()
}

/// The mock remote instances: each answers 202 on `/inbox` and serves one actor,
/// `/u/follower`, whose key is the suite's.
pub struct MockInstances {
    count: usize,
    /// Every POST to any inbox.
    pub deliveries: Arc<AtomicUsize>,
    /// POSTs whose body is an `Accept` (of the followers' Follows).
    pub accepts: Arc<AtomicUsize>,
}

impl MockInstances {
    pub async fn start(count: usize, public_key_pem: &str) -> anyhow::Result<MockInstances> {
        let deliveries = Arc::new(AtomicUsize::new(0));
        let accepts = Arc::new(AtomicUsize::new(0));
        for n in 0..count {
            let (delivered, accepted) = (deliveries.clone(), accepts.clone());
            let actor = Arc::new(
                serde_json::to_vec(&follower_actor(n, public_key_pem)).expect("serializes"),
            );
            let app = axum::Router::new()
                .route(
                    "/inbox",
                    axum::routing::post(move |body: axum::body::Bytes| {
                        let (delivered, accepted) = (delivered.clone(), accepted.clone());
                        async move {
                            if is_accept(&body) {
                                accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            delivered.fetch_add(1, Ordering::Relaxed);
                            axum::http::StatusCode::ACCEPTED
                        }
                    }),
                )
                .route(
                    "/u/follower",
                    axum::routing::get(move || {
                        let actor = actor.clone();
                        async move {
                            (
                                [("content-type", "application/activity+json")],
                                actor.as_ref().clone(),
                            )
                        }
                    }),
                );
            let listener = tokio::net::TcpListener::bind((mock_address(n), 80))
                .await
                .with_context(|| format!("cannot listen on {}:80", mock_address(n)))?;
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        Ok(MockInstances {
            count,
            deliveries,
            accepts,
        })
    }

    pub fn inbox_urls(&self) -> Vec<String> {
        (0..self.count)
            .map(|n| format!("http://{}/inbox", mock_name(n)))
            .collect()
    }

    /// Waits until the inboxes have counted `expected` deliveries since the counter was
    /// last reset.
    pub async fn wait_for_deliveries(
        &self,
        expected: usize,
        limit: Duration,
    ) -> anyhow::Result<()> {
        wait_for(&self.deliveries, expected, limit, "deliveries").await
    }
}

async fn wait_for(
    counter: &AtomicUsize,
    expected: usize,
    limit: Duration,
    what: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    while counter.load(Ordering::Relaxed) < expected {
        if started.elapsed() > limit {
            bail!(
                "only {} of {expected} {what} arrived in {limit:?}",
                counter.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Whether a delivery is an `Accept`: nothing else the server sends here holds the word.
fn is_accept(body: &[u8]) -> bool {
    body.windows(8).any(|w| w == b"\"Accept\"")
}

fn actor_id(n: usize) -> String {
    format!("http://{}/u/follower", mock_name(n))
}

fn follower_actor(n: usize, public_key_pem: &str) -> Value {
    let id = actor_id(n);
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id, "type": "Person", "preferredUsername": "follower",
        "inbox": format!("http://{}/inbox", mock_name(n)),
        "outbox": format!("http://{}/outbox", mock_name(n)),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_key_pem},
    })
}

/// A `lyceum serve` process on a scratch database, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(database_url: &str, port: u16, log: &Path) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?.with_file_name("lyceum");
        ensure!(
            exe.exists(),
            "{} is missing: build both binaries (cargo build --release --bins)",
            exe.display()
        );
        let mut command = Command::new(&exe);
        command
            .arg("serve")
            .env_remove("DANGER_FEDERATION_ALLOW_LOCAL_IP")
            .env_remove(IN_NAMESPACE)
            .env("LYCEUM_DATABASE__URL", database_url)
            .env("LYCEUM_DOMAIN", format!("localhost:{port}"))
            .env("LYCEUM_BIND", format!("127.0.0.1:{port}"))
            .env("LYCEUM_FEDERATION__DEBUG", "true")
            .env("LYCEUM_LOG__FILTER", "warn");
        // The limits protect a server from one client; here one client is the whole load.
        for key in [
            "API_BURST",
            "API_PER_SECOND",
            "INBOX_BURST",
            "INBOX_PER_SECOND",
            "INSTANCE_BURST",
            "INSTANCE_PER_SECOND",
        ] {
            command.env(format!("LYCEUM_RATE_LIMIT__{key}"), "1000000");
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        Ok(Server {
            child,
            port,
            log: log.to_owned(),
        })
    }

    fn base(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    async fn wait_healthy(&mut self, client: &reqwest::Client) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("lyceum serve exited with {status}: {}", self.log_tail());
            }
            let url = format!("{}/healthz", self.base());
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("lyceum serve did not become healthy: {}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// (resident now, highest resident so far) in MB, from `/proc`.
    fn memory_mb(&self) -> anyhow::Result<(f64, f64)> {
        let [now, peak, _] = self.status_numbers()?;
        Ok((now / 1024.0, peak / 1024.0))
    }

    /// `VmRSS` and `VmHWM` (kB) and `Threads` from `/proc/PID/status`.
    fn status_numbers(&self) -> anyhow::Result<[f64; 3]> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc/PID/status"))?;
            Ok(line
                .split_whitespace()
                .nth(1)
                .context("no value")?
                .parse()?)
        };
        Ok([field("VmRSS:")?, field("VmHWM:")?, field("Threads:")?])
    }

    /// Prints the memory after `phase` to stderr, so a missed peak names the phase that
    /// made it; the thread count is there because each thread may hold a malloc arena.
    fn report_memory(&self, backend: &str, phase: &str) {
        if let Ok([now, peak, threads]) = self.status_numbers() {
            eprintln!(
                "{backend}: after {phase}: {:.1} MB resident, peak {:.1} MB, {threads} threads",
                now / 1024.0,
                peak / 1024.0
            );
        }
    }

    /// User plus system CPU seconds the process has used.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')').context("odd /proc/PID/stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields[11].parse()?;
        let stime: f64 = fields[12].parse()?;
        Ok((utime + stime) / clock_ticks())
    }
}

/// Clock ticks per second of `/proc/PID/stat`, asked of `getconf` once.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Words for answers and notes: about the length of a real answer.
fn answer_body(n: usize) -> String {
    format!(
        "Answer {n}: check the **connection pool** size first, then the query plan. \
         `EXPLAIN ANALYZE` shows where the time goes; an index on the column in the \
         `WHERE` clause usually fixes it.\n\n- measure before\n- change one thing\n- measure \
         after\n\nSee [the manual](https://www.postgresql.org/docs/current/using-explain.html)."
    )
}

/// What the seeded database holds, for the phases that use it.
struct Seeded {
    token: String,
    /// A session of `benchreader`, a member: what a signed-in browser's cookie holds.
    reader_session: String,
    thread_with_answers: i64,
    inbox_thread_ap_id: String,
    inbox_thread_id: i64,
    quiet_ap_id: String,
}

async fn seed(db: &Db, settings: &Settings) -> anyhow::Result<Seeded> {
    use lyceum::service;
    let fail = |e: lyceum::error::AppError| anyhow::anyhow!("{}: {}", e.code, e.message);
    let public_url = settings.public_url();
    service::instance::ensure_local_instance(db, &settings.domain).await?;
    // An account signed in once: its token's secret.
    let signed_in = async |name: &str, role: AccountRole, kind: TokenKind| {
        let password = "a benchmark password";
        service::accounts::create_account(
            db,
            &public_url,
            service::accounts::NewAccount::active(name, password, role),
        )
        .await
        .map_err(fail)?;
        let issued = service::auth::login(db, &settings.auth, name, password, kind, None)
            .await
            .map_err(fail)?;
        anyhow::Ok(issued.secret)
    };
    let token = signed_in("benchadmin", AccountRole::Admin, TokenKind::Api).await?;
    let reader_session = signed_in("benchreader", AccountRole::Member, TokenKind::Session).await?;
    let session = service::auth::authenticate(db, &token, TokenKind::Api)
        .await
        .map_err(fail)?;
    let community = |name: &str, title: &str| service::communities::NewCommunity {
        name: name.to_owned(),
        title: title.to_owned(),
        description: Some("Where the benchmark asks and answers.".into()),
        rules: None,
        kind: CommunityKind::Qa,
        visibility: Visibility::Public,
        posting_restricted_to_mods: false,
    };
    service::communities::create(
        db,
        settings,
        &session,
        community("bench", "Benchmark questions"),
    )
    .await
    .map_err(fail)?;
    let quiet =
        service::communities::create(db, settings, &session, community("quiet", "Inbox target"))
            .await
            .map_err(fail)?;
    let thread = |title: String| service::threads::NewThread {
        title,
        body: "How do I find out why this query is slow? It takes seconds on a small table.".into(),
        kind: None,
        tags: vec!["postgresql".into(), "performance".into()],
    };
    let mut thread_with_answers = 0;
    for n in 0..30 {
        let created = service::threads::create_thread(
            db,
            settings,
            &session,
            "bench",
            thread(format!("Why is my query slow, case {n}?")),
        )
        .await
        .map_err(fail)?;
        thread_with_answers = created.thread.id;
    }
    for n in 0..100 {
        service::threads::create_answer(
            db,
            settings,
            &session,
            thread_with_answers,
            &answer_body(n),
            None,
        )
        .await
        .map_err(fail)?;
    }
    let inbox_thread = service::threads::create_thread(
        db,
        settings,
        &session,
        "quiet",
        thread("Remote answers arrive here".into()),
    )
    .await
    .map_err(fail)?;
    Ok(Seeded {
        token,
        reader_session,
        thread_with_answers,
        inbox_thread_ap_id: inbox_thread.thread.ap_id,
        inbox_thread_id: inbox_thread.thread.id,
        quiet_ap_id: quiet.community.ap_id,
    })
}

/// One signed POST, prepared ahead so that signing is not part of what is timed.
struct SignedPost {
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn sign_post(
    key: &SigningKey,
    actor: &str,
    url: &str,
    activity: &Value,
) -> anyhow::Result<SignedPost> {
    let body = serde_json::to_vec(activity)?;
    let headers = signed_post_headers(key, actor, &url::Url::parse(url)?, &body)?;
    Ok(SignedPost {
        url: url.to_owned(),
        headers,
        body,
    })
}

/// Sends the posts `concurrency` at a time; returns how many were answered 2xx and the
/// first refusal.
async fn send_all(
    client: &reqwest::Client,
    posts: Vec<SignedPost>,
    concurrency: usize,
) -> (usize, Option<String>) {
    let results: Vec<Result<(), String>> = futures_util::stream::iter(posts)
        .map(|post| async move {
            let mut request = client.post(&post.url).body(post.body);
            for (name, value) in post.headers {
                request = request.header(name, value);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => {
                    let status = r.status();
                    Err(format!("{status}: {}", r.text().await.unwrap_or_default()))
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let first = results.into_iter().find_map(Result::err);
    (accepted, first)
}

/// What one backend measured.
pub struct BackendFigures {
    pub backend: String,
    pub fan_out_per_second: f64,
    /// What the mock inboxes received during the fan-out.
    pub fan_out_deliveries: usize,
    pub inbox_per_second: f64,
    pub cpu_ms_per_activity: f64,
    /// (what, wrk at fixed concurrency, open loop at a fixed rate)
    pub reads: Vec<(&'static str, LoadResult, LoadResult)>,
    pub idle_rss_mb: f64,
    /// Through the follows, the reads at fixed concurrency, the fan-out and the inbox.
    pub peak_rss_mb: f64,
    /// Also through the open-loop reads, which outrun the HTML pages.
    pub overload_peak_rss_mb: f64,
    pub search: Option<crate::search::Summary>,
}

async fn measure_backend(
    options: &Options,
    mocks: &MockInstances,
    key: &SigningKey,
    admin_url: Option<&str>,
) -> anyhow::Result<BackendFigures> {
    let (scratch, url) = Scratch::create(admin_url, 1).await?;
    let result = measure_on(options, mocks, key, &url).await;
    scratch.drop().await?;
    result
}

async fn measure_on(
    options: &Options,
    mocks: &MockInstances,
    key: &SigningKey,
    database_url: &str,
) -> anyhow::Result<BackendFigures> {
    let port = free_port()?;
    let mut settings = Settings {
        domain: format!("localhost:{port}"),
        ..Settings::default()
    };
    settings.database.url = database_url.to_owned();
    settings.federation.debug = true;
    let db = lyceum::app::open_database(&settings).await?;
    let backend = db.backend().to_string();
    eprintln!("{backend}: seeding");
    let seeded = seed(&db, &settings).await?;

    let log = std::env::temp_dir().join(format!("lyceum-bench-serve-{}.log", std::process::id()));
    let mut server = Server::start(database_url, port, &log)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .build()?;
    server.wait_healthy(&client).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (idle_rss_mb, _) = server.memory_mb()?;
    let base = server.base();

    // Followers: each mock instance follows `bench` with a signed Follow, as a remote
    // server would; the group fetches the actor and answers Accept.
    eprintln!(
        "{backend}: {} instances follow the community",
        options.inboxes
    );
    let group = format!("{base}/c/bench");
    let follows = (0..options.inboxes)
        .map(|n| {
            let actor = actor_id(n);
            let follow = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("http://{}/follows/1", mock_name(n)),
                "type": "Follow", "actor": actor, "object": group,
            });
            sign_post(key, &actor, &format!("{group}/inbox"), &follow)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    mocks.accepts.store(0, Ordering::Relaxed);
    let (followed, refusal) = send_all(&client, follows, 16).await;
    ensure!(
        followed == options.inboxes,
        "{followed} of {} follows accepted; first refusal: {refusal:?}",
        options.inboxes
    );
    wait_for(
        &mocks.accepts,
        options.inboxes,
        Duration::from_secs(300),
        "Accepts",
    )
    .await?;

    server.report_memory(&backend, "the follows");
    // Reads at fixed concurrency, before the fan-out adds threads.
    // Visitors without cookies may be served a page kept for a second
    // (`http.anonymous_page_cache_secs`); a signed-in member's page is rendered for each
    // request, so the signed-in rows measure the render itself.
    let thread_path = format!("/t/{}", seeded.thread_with_answers);
    let member = Some(format!("lyceum_session={}", seeded.reader_session));
    let mut pages = Vec::new();
    for (what, path, accept, cookie) in [
        (
            "thread view (100 answers)",
            thread_path.clone(),
            "text/html",
            None,
        ),
        (
            "thread view (100 answers), signed in",
            thread_path,
            "text/html",
            member.clone(),
        ),
        (
            "community thread list",
            "/c/bench".to_owned(),
            "text/html",
            None,
        ),
        (
            "community thread list, signed in",
            "/c/bench".to_owned(),
            "text/html",
            member,
        ),
        (
            "Group actor JSON",
            "/c/bench".to_owned(),
            "application/activity+json",
            None,
        ),
    ] {
        let url = format!("{base}{path}");
        let mut check = client.get(&url).header("accept", accept);
        if let Some(cookie) = &cookie {
            check = check.header("cookie", cookie);
        }
        let check = check.send().await?;
        ensure!(
            check.status().is_success(),
            "{url} answers {}",
            check.status()
        );
        let body = check.text().await?;
        // A session the server did not take would measure the anonymous page instead.
        ensure!(
            cookie.is_none() || body.contains("/logout"),
            "{url} did not show the page of a signed-in member"
        );
        eprintln!("{backend}: reading {what}");
        let page = load::Page {
            url: &url,
            accept,
            cookie: cookie.as_deref(),
        };
        let wrk = load::wrk(&page, 32, options.read_seconds)?;
        pages.push((what, url, accept, cookie, wrk));
    }

    server.report_memory(&backend, "the reads");
    // Fan-out: threads posted through the API; each is announced to every follower.
    eprintln!(
        "{backend}: fan-out of {} threads to {} inboxes",
        options.activities, options.inboxes
    );
    mocks.deliveries.store(0, Ordering::Relaxed);
    let started = Instant::now();
    for n in 0..options.activities {
        let response = client
            .post(format!("{base}/api/v1/communities/bench/threads"))
            .bearer_auth(&seeded.token)
            .json(&json!({"title": format!("Fan-out question {n}"), "body": crate::note_content()}))
            .send()
            .await?;
        ensure!(
            response.status().is_success(),
            "posting a thread: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    // Each thread reaches every follower twice (the Announce of its Create, and the Announce
    // of the bare Page that Mastodon shows), so the phase ends when the outbox is empty, not
    // at threads x inboxes: what is left would otherwise be sent during the inbox phase.
    let expected = options.inboxes * options.activities;
    mocks
        .wait_for_deliveries(expected, Duration::from_secs(900))
        .await?;
    let drained_by = Instant::now() + Duration::from_secs(900);
    loop {
        let queued = crate::pending(&db).await?;
        if queued == 0 {
            break;
        }
        ensure!(
            Instant::now() < drained_by,
            "{queued} deliveries still queued after the fan-out"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fan_out_deliveries = mocks.deliveries.load(Ordering::Relaxed);
    let fan_out_per_second = fan_out_deliveries as f64 / started.elapsed().as_secs_f64();

    server.report_memory(&backend, "the fan-out");
    // Inbox: replies from one remote actor whose key the server has cached since its
    // Follow, into a community without followers (so nothing is relayed).
    eprintln!(
        "{backend}: inbox, {} signed Create(Note)",
        options.inbox_activities
    );
    let sender = actor_id(0);
    let content = crate::note_content();
    let posts = (0..options.inbox_activities)
        .map(|n| {
            let note = format!("http://{}/notes/{n}", mock_name(0));
            let create = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{note}/create"), "type": "Create", "actor": sender,
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "cc": [seeded.quiet_ap_id],
                "object": {
                    "id": note, "type": "Note", "attributedTo": sender,
                    "inReplyTo": seeded.inbox_thread_ap_id,
                    "to": ["https://www.w3.org/ns/activitystreams#Public"],
                    "content": content, "mediaType": "text/html",
                    "published": chrono::Utc::now().to_rfc3339(),
                },
            });
            sign_post(key, &sender, &format!("{base}/inbox"), &create)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cpu_before = server.cpu_seconds()?;
    let started = Instant::now();
    let (accepted, refusal) = send_all(&client, posts, 32).await;
    ensure!(
        accepted == options.inbox_activities,
        "{accepted} of {} inbox activities accepted; first refusal: {refusal:?}",
        options.inbox_activities
    );
    // Accepted should mean stored; wait in case the server finishes any later.
    let stored_by = Instant::now() + Duration::from_secs(120);
    loop {
        let stored = answer_count(&db, seeded.inbox_thread_id).await?;
        if stored >= options.inbox_activities as i64 {
            break;
        }
        ensure!(
            Instant::now() < stored_by,
            "{stored} of {} answers stored",
            options.inbox_activities
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds()? - cpu_before;
    let inbox_per_second = options.inbox_activities as f64 / seconds;
    let cpu_ms_per_activity = 1000.0 * cpu / options.inbox_activities as f64;

    server.report_memory(&backend, "the inbox");
    let (_, peak_rss_mb) = server.memory_mb()?;

    // The open-loop runs come last: past a page's capacity, requests pile up (each on its
    // own connection) until they time out, and what they take is a peak of its own.
    let mut reads = Vec::new();
    for (what, url, accept, cookie, wrk) in pages {
        eprintln!("{backend}: {what} at {}/s", options.rate);
        let page = load::Page {
            url: &url,
            accept,
            cookie: cookie.as_deref(),
        };
        let fixed = load::fixed_rate(&page, options.rate, options.rate_seconds)?;
        reads.push((what, wrk, fixed));
    }
    let (_, overload_peak_rss_mb) = server.memory_mb()?;
    drop(server);
    db.close();
    let _ = std::fs::remove_file(&log);
    Ok(BackendFigures {
        backend,
        fan_out_per_second,
        fan_out_deliveries,
        inbox_per_second,
        cpu_ms_per_activity,
        reads,
        idle_rss_mb,
        peak_rss_mb,
        overload_peak_rss_mb,
        search: None,
    })
}

async fn answer_count(db: &Db, thread_id: i64) -> anyhow::Result<i64> {
    let thread = async {
        lyceum::with_conn!(db, |conn| lyceum::db::thread::read(&mut conn, thread_id)
            .await
            .map_err(lyceum::error::AppError::from))
    };
    Ok(thread
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?
        .answer_count)
}

/// RSA-2048 operations per second on one core.
pub struct Limits {
    pub sign_ours: f64,
    pub sign_rustcrypto: f64,
    pub verify_ours: f64,
    pub verify_rustcrypto: f64,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    ensure!(
        in_namespace(),
        "`all` runs inside its own mount namespace; start it as `lyceum-bench all`"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pair = activitypub_federation::http_signatures::generate_actor_keypair()?;
    let key = SigningKey::from_pkcs8_pem(&pair.private_key)?;
    eprintln!("limits: RSA-2048 on one core");
    let limits = crate::limits(&pair, Duration::from_secs(options.signing_seconds));

    eprintln!("starting {} mock instances", options.inboxes);
    let mocks = MockInstances::start(options.inboxes, &pair.public_key).await?;
    eprintln!(
        "fan-out through activitypub_federation's queue ({} workers)",
        options.library_workers
    );
    let library = crate::library_queue::deliveries_per_second(
        &mocks,
        options.activities,
        options.library_workers,
        &pair.private_key,
        &pair.public_key,
    )
    .await?;

    let mut backends = vec![None];
    if let Some(url) = &options.database_url {
        backends.push(Some(url.as_str()));
    }
    let mut figures = Vec::new();
    for admin in backends {
        let mut measured = measure_backend(&options, &mocks, &key, admin).await?;
        if options.search_answers > 0 {
            eprintln!(
                "{}: search on {} answers",
                measured.backend, options.search_answers
            );
            measured.search = Some(
                crate::search::bench(crate::search::Options {
                    answers: options.search_answers,
                    queries: 300,
                    class_seconds: options.search_class_seconds,
                    database_url: admin.map(str::to_owned),
                    keep: false,
                    existing: None,
                })
                .await?,
            );
        }
        figures.push(measured);
    }
    print_table(&options, cores, &limits, library, &figures);
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().next().and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or("?".into(), |kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0));
    format!(
        "{} cores, {cpu}, {memory}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "missed" }
}

fn print_table(
    options: &Options,
    cores: usize,
    limits: &Limits,
    library: f64,
    figures: &[BackendFigures],
) {
    let columns: Vec<&str> = figures.iter().map(|f| f.backend.as_str()).collect();
    println!(
        "\n## lyceum-bench all, {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("Machine: {}.", machine());
    println!(
        "Fan-out: {} activities x {} mock instances; inbox: {} signed Create(Note); reads: \
         wrk -t2 -c32 -d{}s, then {} requests/s for {} s (open loop).\n",
        options.activities,
        options.inboxes,
        options.inbox_activities,
        options.read_seconds,
        options.rate,
        options.rate_seconds
    );
    println!("| RSA-2048, one core | aws-lc-rs (Lyceum) | RustCrypto rsa | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| signs/s | {:.0} | {:.0} | {:.1}x |",
        limits.sign_ours,
        limits.sign_rustcrypto,
        limits.sign_ours / limits.sign_rustcrypto
    );
    println!(
        "| verifies/s (key parsed each time) | {:.0} | {:.0} | {:.1}x |\n",
        limits.verify_ours,
        limits.verify_rustcrypto,
        limits.verify_ours / limits.verify_rustcrypto
    );
    let signing_limit = limits.sign_ours * cores as f64;
    println!(
        "| measurement | {} | target (issue #12) |",
        columns.join(" | ")
    );
    println!("|---|{}---|", "---|".repeat(columns.len()));
    let row = |name: &str, cells: Vec<String>, target: &str| {
        println!("| {name} | {} | {target} |", cells.join(" | "));
    };
    row(
        "fan-out, deliveries/s",
        figures
            .iter()
            .map(|f| {
                format!(
                    "{:.0} ({} deliveries; {:.0} % of signing limit; {:.1}x library) {}",
                    f.fan_out_per_second,
                    f.fan_out_deliveries,
                    100.0 * f.fan_out_per_second / signing_limit,
                    f.fan_out_per_second / library,
                    met(f.fan_out_per_second >= 2000.0 && f.fan_out_per_second >= 3.0 * library)
                )
            })
            .collect(),
        "≥ 2,000 and ≥ 3x library",
    );
    row(
        "fan-out, activitypub_federation queue",
        figures
            .iter()
            .map(|_| {
                format!(
                    "{library:.0} ({} workers, in memory)",
                    if options.library_workers == 0 {
                        "unlimited".to_owned()
                    } else {
                        options.library_workers.to_string()
                    }
                )
            })
            .collect(),
        "",
    );
    row(
        "inbox, Create(Note)/s",
        figures
            .iter()
            .map(|f| {
                let target = f.backend != "SQLite" || f.inbox_per_second >= 1000.0;
                format!(
                    "{:.0} {}",
                    f.inbox_per_second,
                    if f.backend == "SQLite" {
                        met(target)
                    } else {
                        ""
                    }
                )
            })
            .collect(),
        "≥ 1,000 on SQLite",
    );
    row(
        "inbox, server CPU per activity",
        figures
            .iter()
            .map(|f| format!("{:.2} ms", f.cpu_ms_per_activity))
            .collect(),
        "",
    );
    for (index, (what, _, _)) in figures[0].reads.iter().enumerate() {
        let target = match *what {
            "thread view (100 answers)" | "thread view (100 answers), signed in" => Some(4000.0),
            "Group actor JSON" => Some(5000.0),
            _ => None,
        };
        row(
            &format!("{what}: requests/s, p50 / p99 ms"),
            figures
                .iter()
                .map(|f| {
                    let wrk = &f.reads[index].1;
                    format!(
                        "{:.0}, {:.1} / {:.1}{}{}",
                        wrk.requests_per_second,
                        wrk.p50_ms,
                        wrk.p99_ms,
                        if wrk.errors > 0 {
                            format!(", {} errors", wrk.errors)
                        } else {
                            String::new()
                        },
                        target.map_or(String::new(), |t| format!(
                            " {}",
                            met(wrk.requests_per_second >= t)
                        ))
                    )
                })
                .collect(),
            &target.map_or(String::new(), |t| format!("≥ {t:.0}/s")),
        );
        row(
            &format!("{what} at {}/s: p50 / p99 ms", options.rate),
            figures
                .iter()
                .map(|f| {
                    let fixed = &f.reads[index].2;
                    format!(
                        "{:.1} / {:.1}{} {}",
                        fixed.p50_ms,
                        fixed.p99_ms,
                        if fixed.errors > 0 {
                            format!(", {} errors", fixed.errors)
                        } else {
                            String::new()
                        },
                        met(fixed.p99_ms <= 25.0 && fixed.errors == 0)
                    )
                })
                .collect(),
            "p99 ≤ 25 ms",
        );
    }
    row(
        "RSS idle after start",
        figures
            .iter()
            .map(|f| format!("{:.1} MB {}", f.idle_rss_mb, met(f.idle_rss_mb <= 30.0)))
            .collect(),
        "≤ 30 MB",
    );
    row(
        "RSS peak (follows, wrk reads, fan-out, inbox)",
        figures
            .iter()
            .map(|f| format!("{:.1} MB {}", f.peak_rss_mb, met(f.peak_rss_mb <= 100.0)))
            .collect(),
        "≤ 100 MB",
    );
    row(
        &format!(
            "RSS peak, also through the {}/s open-loop reads",
            options.rate
        ),
        figures
            .iter()
            .map(|f| format!("{:.1} MB", f.overload_peak_rss_mb))
            .collect(),
        "",
    );
    if figures.iter().any(|f| f.search.is_some()) {
        row(
            &format!(
                "search, {} answers: p50 / p95 ms (all classes)",
                options.search_answers
            ),
            figures
                .iter()
                .map(|f| {
                    f.search.as_ref().map_or("not run".to_owned(), |s| {
                        format!(
                            "{:.0} / {:.0} {} (slowest class: {}, p95 {:.0})",
                            s.p50_ms,
                            s.p95_ms,
                            met(s.p95_ms <= 50.0),
                            s.slowest_class,
                            s.slowest_p95_ms
                        )
                    })
                })
                .collect(),
            "p95 ≤ 50 ms",
        );
    }
}
