//! `lyceum-bench`: repeatable measurements on this machine (not tests). Run in release:
//! `cargo build --release --bins && target/release/lyceum-bench all` prints the whole table.

mod library_queue;
mod load;
mod search;
mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use activitypub_federation::http_signatures::Keypair;
use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use lyceum::context::AppContext;
use lyceum::db::Db;
use lyceum::db::types::AccountRole;
use lyceum::federation::signing::{RsaImplementation, SigningKey};
use lyceum::settings::Settings;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "lyceum-bench",
    about = "Lyceum's benchmarks: each prints a table"
)]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Everything, one table: signing limits; fan-out to mock instances through a real
    /// `lyceum serve` and through activitypub_federation's queue; inbox; reads (with wrk);
    /// memory; search. Needs root (it names the mock instances in a private mount namespace
    /// and listens on their port 80), `wrk` and `unshare` on PATH, and the `lyceum` binary
    /// beside this one.
    All(suite::Options),
    /// GETs at a fixed rate (open loop), one JSON line of results: the load process that
    /// `all` starts for its fixed-rate reads.
    Load {
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "text/html")]
        accept: String,
        /// A `Cookie` header for every request (a signed-in reader).
        #[arg(long)]
        cookie: Option<String>,
        #[arg(long, default_value_t = 500)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// RSA-2048 signatures per second on one core: aws-lc-rs (ours) and RustCrypto `rsa`.
    Signing {
        /// Seconds per implementation.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Deliveries per second end to end through the real outbox and worker (claim, sign,
    /// POST, record) to mock inboxes on loopback, with each signer side by side.
    Delivery {
        /// Mock remote instances, each its own inbox on its own port.
        #[arg(long, default_value_t = 100)]
        inboxes: usize,
        /// Activities, each addressed to every inbox.
        #[arg(long, default_value_t = 10)]
        activities: usize,
        /// Deliveries in flight at once (`federation.delivery_concurrency`).
        #[arg(long, default_value_t = 64)]
        concurrency: u32,
        /// A PostgreSQL server URL (a scratch database is made on it and dropped); without
        /// it, a SQLite file in the temporary folder.
        #[arg(long, env = "LYCEUM_BENCH_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Search latency per query class through the real service, on a synthetic knowledge
    /// base loaded through the real tables (so the real triggers index it).
    Search(search::Options),
}

const IMPLEMENTATIONS: [(RsaImplementation, &str); 2] = [
    (RsaImplementation::AwsLc, "aws-lc-rs (ours)"),
    (RsaImplementation::RustCrypto, "RustCrypto rsa"),
];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Bench::All(options) = &cli.command
        && !suite::in_namespace()
    {
        let status = suite::run_in_namespace(options.inboxes)?;
        std::process::exit(status.code().unwrap_or(1));
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,lyceum=error".to_owned()),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Bench::All(options) => suite::run(options).await,
            Bench::Load {
                url,
                accept,
                cookie,
                rate,
                seconds,
            } => load::open_loop(url, accept, cookie, rate, seconds).await,
            Bench::Signing { seconds } => {
                signing(Duration::from_secs(seconds));
                Ok(())
            }
            Bench::Delivery {
                inboxes,
                activities,
                concurrency,
                database_url,
            } => delivery(inboxes, activities, concurrency, database_url).await,
            Bench::Search(options) => search::bench(options).await.map(|_| ()),
        }
    })
}

/// Signatures per second of `implementation` on this thread over `period`.
fn signs_per_second(implementation: RsaImplementation, pem: &str, period: Duration) -> f64 {
    let key = SigningKey::from_pkcs8_pem_with(pem, implementation).expect("the key parses");
    // A draft-cavage signing string is about this long.
    let message = "(request-target): post /inbox\nhost: remote.example\ndate: Sun, 29 Nov 2026 \
                   12:00:00 GMT\ndigest: SHA-256=RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=\n\
                   content-type: application/activity+json";
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < period {
        key.sign(message.as_bytes()).expect("signs");
        count += 1;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// Verifications per second on this thread over `period`, each parsing the public key PEM
/// as an inbox does: with aws-lc-rs as Lyceum verifies, or with RustCrypto as
/// activitypub_federation does.
fn verifies_per_second(implementation: RsaImplementation, pair: &Keypair, period: Duration) -> f64 {
    let message = b"(request-target): post /inbox\nhost: lyceum.example\ndate: Sun, 29 Nov 2026 \
                    12:00:00 GMT";
    let key = SigningKey::from_pkcs8_pem(&pair.private_key).expect("the key parses");
    let signature = key.sign(message).expect("signs");
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < period {
        let valid = match implementation {
            RsaImplementation::AwsLc => lyceum::federation::signing::verify_rsa_sha256(
                &pair.public_key,
                message,
                &signature,
            ),
            RsaImplementation::RustCrypto => {
                use base64::Engine;
                use rsa::pkcs8::DecodePublicKey;
                use sha2::Digest;
                let public = rsa::RsaPublicKey::from_public_key_pem(&pair.public_key)
                    .expect("the key parses");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&signature)
                    .expect("base64");
                public
                    .verify(
                        rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                        &sha2::Sha256::digest(message),
                        &bytes,
                    )
                    .is_ok()
            }
        };
        assert!(valid, "the signature verifies");
        count += 1;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// RSA-2048 sign and verify rates on one core with both implementations.
fn limits(pair: &Keypair, period: Duration) -> suite::Limits {
    suite::Limits {
        sign_ours: signs_per_second(RsaImplementation::AwsLc, &pair.private_key, period),
        sign_rustcrypto: signs_per_second(RsaImplementation::RustCrypto, &pair.private_key, period),
        verify_ours: verifies_per_second(RsaImplementation::AwsLc, pair, period),
        verify_rustcrypto: verifies_per_second(RsaImplementation::RustCrypto, pair, period),
    }
}

/// About the size of a real note: most of a kilobyte of text.
fn note_content() -> String {
    "<p>".to_owned() + &"Answers accumulate into knowledge. ".repeat(20) + "</p>"
}

fn signing(period: Duration) {
    let pair = activitypub_federation::http_signatures::generate_actor_keypair()
        .expect("a fresh RSA-2048 key");
    println!("RSA-2048 PKCS#1 v1.5 SHA-256 signing, one core, {period:?} each");
    println!("{:<20} {:>12}", "signer", "signs/s");
    let mut rates = Vec::new();
    for (implementation, name) in IMPLEMENTATIONS {
        let rate = signs_per_second(implementation, &pair.private_key, period);
        println!("{name:<20} {rate:>12.0}");
        rates.push(rate);
    }
    println!("ratio ours / RustCrypto: {:.2}", rates[0] / rates[1]);
}

/// Mock instances answering 202 at once; returns their inbox URLs and a shared hit count.
async fn mock_inboxes(count: usize) -> anyhow::Result<(Vec<String>, Arc<AtomicUsize>)> {
    let hits = Arc::new(AtomicUsize::new(0));
    let mut inboxes = Vec::with_capacity(count);
    for _ in 0..count {
        let counted = hits.clone();
        let app = axum::Router::new().route(
            "/inbox",
            axum::routing::post(move |_body: axum::body::Bytes| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::Relaxed);
                    axum::http::StatusCode::ACCEPTED
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        inboxes.push(format!("http://localhost:{port}/inbox"));
    }
    Ok((inboxes, hits))
}

/// A scratch database for one run, removed by `drop`.
enum Scratch {
    Sqlite(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Scratch {
    async fn create(admin: Option<&str>, run: usize) -> anyhow::Result<(Scratch, String)> {
        use diesel_async::RunQueryDsl;
        let tag = format!("lyceum_bench_{}_{run}", std::process::id());
        match admin {
            None => {
                let dir = std::env::temp_dir().join(&tag);
                std::fs::create_dir_all(&dir)?;
                let url = dir.join("bench.db").to_string_lossy().into_owned();
                Ok((Scratch::Sqlite(dir), url))
            }
            Some(admin) => {
                let mut conn = AsyncPgConnection::establish(admin)
                    .await
                    .context("cannot connect to the PostgreSQL server")?;
                diesel::sql_query(format!("CREATE DATABASE \"{tag}\""))
                    .execute(&mut conn)
                    .await?;
                let mut url = url::Url::parse(admin)?;
                url.set_path(&tag);
                Ok((
                    Scratch::Postgres {
                        admin: admin.to_owned(),
                        name: tag,
                    },
                    url.to_string(),
                ))
            }
        }
    }

    async fn drop(self) -> anyhow::Result<()> {
        use diesel_async::RunQueryDsl;
        match self {
            Scratch::Sqlite(dir) => std::fs::remove_dir_all(dir)?,
            Scratch::Postgres { admin, name } => {
                let mut conn = AsyncPgConnection::establish(&admin).await?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Stores `activities` Create(Note) activities, each addressed to every inbox.
async fn fill_outbox(
    db: &Db,
    settings: &Settings,
    inboxes: &[String],
    activities: usize,
) -> anyhow::Result<()> {
    let public_url = settings.public_url();
    lyceum::service::accounts::create_account(
        db,
        &public_url,
        lyceum::service::accounts::NewAccount::active(
            "sender",
            "a benchmark password",
            AccountRole::Member,
        ),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let actor = format!("{public_url}/u/sender");
    let content = note_content();
    for n in 0..activities {
        let id = lyceum::federation::outbox::new_activity_id(settings, "create")?;
        let activity = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id, "type": "Create", "actor": actor,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {"id": format!("{public_url}/r/{n}"), "type": "Note",
                       "attributedTo": actor, "content": content},
        });
        let stored = async {
            lyceum::transaction!(db, |conn| {
                lyceum::federation::outbox::enqueue(&mut conn, settings, &activity, &actor, inboxes)
                    .await
            })
        };
        stored.await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    }
    Ok(())
}

/// Deliveries not finished yet (due, held, or being sent).
pub(crate) async fn pending(db: &Db) -> anyhow::Result<i64> {
    let count = async {
        lyceum::with_conn!(db, |conn| lyceum::db::outbox::pending_count(&mut conn)
            .await
            .map_err(lyceum::error::AppError::from))
    };
    count.await.map_err(|e| anyhow::anyhow!("{}", e.message))
}

async fn delivery(
    inboxes: usize,
    activities: usize,
    concurrency: u32,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    let (urls, hits) = mock_inboxes(inboxes).await?;
    let expected = inboxes * activities;
    let backend = if database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let pair = activitypub_federation::http_signatures::generate_actor_keypair()
        .expect("a fresh RSA-2048 key");
    println!(
        "delivery: {activities} activities x {inboxes} mock inboxes = {expected} deliveries, \
         {backend}, concurrency {concurrency}, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<20} {:>10} {:>9} {:>13} {:>16} {:>10}",
        "signer", "delivered", "seconds", "deliveries/s", "signs/s (1 core)", "of limit"
    );
    for (run, (implementation, name)) in IMPLEMENTATIONS.into_iter().enumerate() {
        let (scratch, url) = Scratch::create(database_url.as_deref(), run).await?;
        let mut settings = Settings {
            domain: "localhost:1".to_owned(),
            ..Settings::default()
        };
        settings.database.url = url;
        settings.federation.debug = true;
        settings.federation.delivery_concurrency = concurrency;
        let db = lyceum::app::open_database(&settings).await?;
        fill_outbox(&db, &settings, &urls, activities).await?;
        hits.store(0, Ordering::Relaxed);
        let ctx = AppContext::new(db.clone(), settings);
        let stop = CancellationToken::new();
        let started = Instant::now();
        let worker = tokio::spawn(lyceum::federation::delivery::run_with(
            ctx,
            stop.clone(),
            implementation,
        ));
        while pending(&db).await? > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        stop.cancel();
        worker.await?;
        let delivered = hits.load(Ordering::Relaxed);
        let rate = delivered as f64 / seconds;
        // The signing limit of this machine: one core's rate times the cores.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let signs = signs_per_second(implementation, &pair.private_key, Duration::from_secs(1));
        println!(
            "{name:<20} {delivered:>10} {seconds:>9.2} {rate:>13.0} {signs:>16.0} {:>9.0}%",
            100.0 * rate / (signs * cores)
        );
        anyhow::ensure!(
            delivered >= expected,
            "only {delivered} of {expected} deliveries arrived"
        );
        db.close();
        scratch.drop().await?;
    }
    Ok(())
}
