//! Wiring and lifecycle: settings -> database -> router -> listener, and graceful shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::AppContext;
use crate::db::{self, Db};
use crate::listener::CappedListener;
use crate::settings::Settings;

/// Connects, applies pending migrations and makes sure the local instance row exists.
/// Every command that touches the database starts here.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            settings.redacted_database_url()
        )
    })?;
    let applied = db::migrations::run_pending(&db)
        .await
        .context("cannot apply database migrations")?;
    for version in &applied {
        tracing::info!(%version, "applied migration");
    }
    crate::service::instance::ensure_local_instance(&db, &settings.domain).await?;
    Ok(db)
}

/// A running server, as `serve` and tests start it.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    /// Where `/metrics` is served, when `metrics.bind` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub ctx: AppContext,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: TaskTracker,
}

impl RunningServer {
    /// Opens the database, binds `settings.bind` and starts serving.
    pub async fn start(settings: Settings) -> anyhow::Result<RunningServer> {
        let db = open_database(&settings).await?;
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let local_addr = listener.local_addr()?;
        let ctx = AppContext::new(db, settings);
        let shutdown = CancellationToken::new();
        // Background workers (delivery, maintenance) are spawned on this tracker with a
        // child of `shutdown`, so stopping waits for them.
        let workers = TaskTracker::new();
        let app = crate::server::app(ctx.clone()).await?;
        workers.spawn(crate::federation::delivery::run(
            ctx.clone(),
            shutdown.child_token(),
        ));
        workers.spawn(crate::federation::delivery::probe_dead_instances(
            ctx.clone(),
            shutdown.child_token(),
        ));
        workers.spawn(crate::federation::delivery::retry_pending_follows(
            ctx.clone(),
            shutdown.child_token(),
        ));
        workers.spawn(crate::federation::delivery::prune_finished(
            ctx.clone(),
            shutdown.child_token(),
        ));
        let metrics_addr = match ctx.settings.metrics.bind {
            Some(addr) => {
                let (bound, task) =
                    crate::metrics::serve(ctx.clone(), addr, shutdown.child_token()).await?;
                workers.spawn(async move {
                    let _ = task.await;
                });
                Some(bound)
            }
            None => None,
        };
        // `tap_io` is also what lets axum give handlers the client's address (`ConnectInfo`)
        // through a listener of our own.
        let listener = CappedListener::new(listener, ctx.settings.http.max_connections as usize)
            .tap_io(|stream| {
                // Responses go out as soon as they are written, not after a delayed ACK.
                if let Err(err) = stream.tcp().set_nodelay(true) {
                    tracing::debug!(error = %err, "cannot set TCP_NODELAY");
                }
            });
        let server = tokio::spawn(
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
        );
        Ok(RunningServer {
            local_addr,
            metrics_addr,
            ctx,
            shutdown,
            server,
            workers,
        })
    }

    /// Stops accepting connections, lets in-flight requests and workers finish within
    /// `grace`, then closes the database pool.
    pub async fn stop(self, grace: Duration) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.workers.close();
        let deadline = tokio::time::Instant::now() + grace;
        let mut server = self.server;
        let served = match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(joined) => joined
                .context("the HTTP server task failed")?
                .map_err(Into::into),
            Err(_) => {
                tracing::warn!(
                    ?grace,
                    "requests still running after the grace period; closing them"
                );
                server.abort();
                Ok(())
            }
        };
        if tokio::time::timeout_at(deadline, self.workers.wait())
            .await
            .is_err()
        {
            tracing::warn!("background workers did not stop within the grace period");
        }
        self.ctx.db.close();
        served
    }

    /// Resolves when the server task ends on its own (an I/O error on the listener).
    async fn wait_for_failure(&mut self) -> anyhow::Result<()> {
        (&mut self.server)
            .await
            .context("the HTTP server task failed")?
            .context("the HTTP server stopped")
    }
}

/// `lyceum serve`: runs until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let grace = Duration::from_secs(settings.http.shutdown_grace_secs);
    let public_url = settings.public_url();
    let mut running = RunningServer::start(settings).await?;
    tracing::info!(
        version = crate::VERSION,
        listen = %running.local_addr,
        database = %running.ctx.db.backend(),
        "Lyceum is running; open {public_url}/"
    );
    if let Some(metrics) = running.metrics_addr {
        tracing::info!("Prometheus metrics on http://{metrics}/metrics");
    }
    tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(%signal, "shutting down: finishing in-flight requests");
        }
        failed = running.wait_for_failure() => {
            failed?;
            anyhow::bail!("the HTTP server stopped unexpectedly");
        }
    }
    running.stop(grace).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGINT (Ctrl-C) or, on Unix, SIGTERM; returns the signal's name.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "SIGINT",
        () = terminate => "SIGTERM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TEST_DOMAIN, TestDatabase, postgres_test_url};

    fn settings_for(url: &str) -> Settings {
        let mut settings = Settings {
            domain: TEST_DOMAIN.to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Settings::default()
        };
        settings.database.url = url.to_owned();
        settings
    }

    /// Through a real socket on both backends: the server answers, and after `stop` the
    /// port is closed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_healthz_over_tcp_and_stops_gracefully() {
        let mut databases = vec![TestDatabase::sqlite().await];
        if let Some(admin) = postgres_test_url() {
            databases.push(TestDatabase::postgres(&admin).await);
        }
        for database in databases {
            let settings = settings_for(&database.url);
            let running = RunningServer::start(settings).await.expect("starts");
            let url = format!("http://{}/healthz", running.local_addr);
            let response = reqwest::get(&url).await.expect("GET /healthz");
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.expect("json");
            assert_eq!(body["database"], database.db.backend().to_string());
            running.stop(Duration::from_secs(5)).await.expect("stops");
            assert!(reqwest::get(&url).await.is_err(), "no longer listening");
            database.drop_database().await;
        }
    }
}
