//! The delivery worker as an operator runs it, through the real `lyceum serve` binary:
//! killed with SIGKILL in the middle of a fan-out and started again, and two processes
//! sharing one PostgreSQL database. Receivers are mock inboxes on loopback that count
//! every activity id they are sent.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lyceum::db::Db;
use lyceum::db::types::AccountRole;
use lyceum::settings::Settings;
use lyceum::testing::{TestDatabase, postgres_test_url, wait_until};
use serde_json::json;

/// How many times each inbox received each activity id.
type Seen = Arc<Mutex<HashMap<(usize, String), usize>>>;

/// `count` mock instances on distinct loopback ports, each answering 202 after `delay`.
async fn receivers(count: usize, delay: Duration) -> (Vec<String>, Seen) {
    let seen: Seen = Arc::default();
    let mut inboxes = Vec::new();
    for index in 0..count {
        let seen = seen.clone();
        let app = axum::Router::new().route(
            "/inbox",
            axum::routing::post(move |body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    let activity: serde_json::Value =
                        serde_json::from_slice(&body).expect("an activity");
                    let id = activity["id"].as_str().expect("an id").to_owned();
                    *seen.lock().expect("seen").entry((index, id)).or_default() += 1;
                    axum::http::StatusCode::ACCEPTED
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        inboxes.push(format!("http://localhost:{port}/inbox"));
    }
    (inboxes, seen)
}

/// `N` distinct free ports: every probe stays bound until all are picked, so the kernel
/// cannot hand the same port out twice.
fn free_ports<const N: usize>() -> [u16; N] {
    let probes: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind(("127.0.0.1", 0)).expect("free port"))
        .collect();
    std::array::from_fn(|i| probes[i].local_addr().expect("addr").port())
}

fn settings_for(domain: &str) -> Settings {
    let mut settings = Settings {
        domain: domain.to_owned(),
        ..Settings::default()
    };
    settings.federation.debug = true;
    settings
}

/// Makes the database belong to `domain`, with a member whose key signs, and stores
/// `activities` Likes (of distinct objects) each addressed to every inbox. Returns the ids.
async fn fan_out(db: &Db, domain: &str, inboxes: &[String], activities: usize) -> Vec<String> {
    let settings = settings_for(domain);
    lyceum::service::instance::ensure_local_instance(db, domain)
        .await
        .expect("local instance");
    let sender = format!("{}/u/sender", settings.public_url());
    lyceum::service::accounts::create_account(
        db,
        &settings.public_url(),
        lyceum::service::accounts::NewAccount::active(
            "sender",
            lyceum::testing::TEST_PASSWORD,
            AccountRole::Member,
        ),
    )
    .await
    .expect("the sender's account");
    let mut ids = Vec::new();
    for n in 0..activities {
        let id = lyceum::federation::outbox::new_activity_id(&settings, "like").expect("id");
        let like = json!({"id": id, "type": "Like", "actor": sender,
                          "object": format!("http://localhost:9/t/{n}")});
        let stored = async {
            lyceum::transaction!(db, |conn| {
                lyceum::federation::outbox::enqueue(&mut conn, &settings, &like, &sender, inboxes)
                    .await
            })
        };
        stored.await.expect("enqueued");
        ids.push(id);
    }
    ids
}

/// A `lyceum serve` process, killed with SIGKILL when dropped (also when a test fails),
/// with its log kept in a file so a failing test can show what the server said.
struct Server {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Server {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines the server logged, and how it ended if it did.
    fn report(&mut self) -> String {
        let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let ended = match self.child.try_wait() {
            Ok(Some(status)) => format!("exited with {status}"),
            _ => "still running".to_owned(),
        };
        format!(
            "server {ended}; its last log lines:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `lyceum serve` on `bind_port` for `domain`, with metrics on `metrics_port`.
fn serve(url: &str, domain: &str, bind_port: u16, metrics_port: u16) -> Server {
    let log = tempfile::NamedTempFile::new().expect("log file");
    let stderr = log.reopen().expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lyceum"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LYCEUM_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("LYCEUM_DATABASE__URL", url)
        .env("LYCEUM_DOMAIN", domain)
        .env("LYCEUM_BIND", format!("127.0.0.1:{bind_port}"))
        .env("LYCEUM_METRICS__BIND", format!("127.0.0.1:{metrics_port}"))
        .env("LYCEUM_FEDERATION__DEBUG", "true")
        .env("LYCEUM_LOG__FILTER", "warn")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map(|child| Server { child, log })
        .expect("lyceum serve starts")
}

async fn wait_healthy(server: &mut Server, port: u16) {
    let url = format!("http://127.0.0.1:{port}/healthz");
    let healthy = wait_until(Duration::from_secs(60), || async {
        reqwest::get(&url).await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(
        healthy,
        "lyceum serve on port {port} did not answer /healthz; {}",
        server.report()
    );
}

/// `lyceum_deliveries_total{outcome="delivered"}` from a process's `/metrics`.
async fn delivered_metric(metrics_port: u16) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains("lyceum_outbox_pending"), "{text}");
    text.lines()
        .find_map(|line| line.strip_prefix("lyceum_deliveries_total{outcome=\"delivered\"} "))
        .map_or(0, |value| {
            value.trim().parse::<f64>().expect("a number") as u64
        })
}

fn unique_and_total(seen: &Seen) -> (usize, usize) {
    let seen = seen.lock().expect("seen");
    (seen.len(), seen.values().sum())
}

async fn all_confirmed(db: &Db, expected: i64) -> bool {
    let status = lyceum::service::admin::delivery_status(db)
        .await
        .expect("status");
    let delivered: i64 = status.iter().map(|s| s.delivered).sum();
    let pending: i64 = status.iter().map(|s| s.pending).sum();
    delivered == expected && pending == 0
}

async fn databases() -> Vec<TestDatabase> {
    let mut list = vec![TestDatabase::sqlite().await];
    if let Some(admin) = postgres_test_url() {
        list.push(TestDatabase::postgres(&admin).await);
    }
    list
}

/// Issue #11 case 18 (and #6 "restart mid-fan-out delivers everything that was pending"):
/// 1,000 deliveries to 20 instances, SIGKILL once a fifth have arrived, start again: every
/// (activity, inbox) arrives, at most the deliveries in flight at the kill arrive twice,
/// and the outbox ends with all 1,000 confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_18_sigkill_mid_fan_out_then_restart_delivers_everything() {
    for database in databases().await {
        let (inboxes, seen) = receivers(20, Duration::from_millis(50)).await;
        let [port, first_metrics, metrics_port] = free_ports();
        let domain = format!("localhost:{port}");
        let ids = fan_out(&database.db, &domain, &inboxes, 50).await;
        let expected = ids.len() * inboxes.len();

        let mut first = serve(&database.url, &domain, port, first_metrics);
        let some_arrived = wait_until(Duration::from_secs(60), || async {
            unique_and_total(&seen).0 >= expected / 5
        })
        .await;
        assert!(
            some_arrived,
            "the first process delivered a fifth; {}",
            first.report()
        );
        first.kill();
        let (at_kill, _) = unique_and_total(&seen);
        assert!(
            at_kill < expected,
            "killed mid-fan-out ({at_kill} of {expected})"
        );

        let mut second = serve(&database.url, &domain, port, metrics_port);
        // On PostgreSQL the dead process's claims wait for their 30 s lease.
        let everything = wait_until(Duration::from_secs(120), || async {
            unique_and_total(&seen).0 == expected
        })
        .await;
        let (unique, total) = unique_and_total(&seen);
        assert!(
            everything,
            "{unique} of {expected} arrived after the restart; {}",
            second.report()
        );
        assert!(
            wait_until(Duration::from_secs(30), || all_confirmed(
                &database.db,
                expected as i64
            ))
            .await,
            "the outbox records every delivery as confirmed"
        );
        assert!(
            total - unique <= 64,
            "only deliveries in flight at the kill were sent twice: {} repeats",
            total - unique
        );
        assert!(delivered_metric(metrics_port).await as usize >= expected - at_kill);
        eprintln!(
            "{}: {at_kill} of {expected} arrived before SIGKILL; {} repeats after the restart",
            database.db.backend(),
            total - unique
        );
        second.kill();
        database.drop_database().await;
    }
}

/// Issue #6 "two processes on one PostgreSQL never send the same delivery twice in a
/// normal run": both claim with SKIP LOCKED; each does part of the work (their metrics
/// say how much) and every receiver sees each activity exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_share_deliveries_without_repeats() {
    let Some(admin) = postgres_test_url() else {
        return;
    };
    let database = TestDatabase::postgres(&admin).await;
    let (inboxes, seen) = receivers(20, Duration::from_millis(100)).await;
    let [port_a, port_b, metrics_a, metrics_b] = free_ports();
    let domain = format!("localhost:{port_a}");
    lyceum::service::instance::ensure_local_instance(&database.db, &domain)
        .await
        .expect("local instance");
    let mut a = serve(&database.url, &domain, port_a, metrics_a);
    let mut b = serve(&database.url, &domain, port_b, metrics_b);
    wait_healthy(&mut a, port_a).await;
    wait_healthy(&mut b, port_b).await;
    // Stored while both run: each finds the work on its next poll.
    let ids = fan_out(&database.db, &domain, &inboxes, 50).await;
    let expected = ids.len() * inboxes.len();
    let everything = wait_until(Duration::from_secs(120), || async {
        all_confirmed(&database.db, expected as i64).await
    })
    .await;
    let (unique, total) = unique_and_total(&seen);
    assert!(
        everything,
        "{unique} of {expected} confirmed; a: {}; b: {}",
        a.report(),
        b.report()
    );
    assert_eq!(
        (unique, total),
        (expected, expected),
        "no delivery sent twice; a: {}; b: {}",
        a.report(),
        b.report()
    );
    let (by_a, by_b) = (
        delivered_metric(metrics_a).await,
        delivered_metric(metrics_b).await,
    );
    assert_eq!(by_a + by_b, expected as u64, "a: {by_a}, b: {by_b}");
    assert!(
        by_a > 0 && by_b > 0,
        "both processes delivered: a {by_a}, b {by_b}"
    );
    eprintln!("two processes: a delivered {by_a}, b {by_b}, no repeats");
    for child in [&mut a, &mut b] {
        child.kill();
    }
    database.drop_database().await;
}
