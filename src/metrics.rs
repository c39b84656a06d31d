//! Prometheus metrics: the names Lyceum records, and the `/metrics` listener on `metrics.bind`.

use std::net::SocketAddr;
use std::sync::OnceLock;

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::context::AppContext;
use crate::error::AppError;

/// Deliveries attempted, by `outcome`: `delivered`, `retry` or `failed`.
pub const DELIVERIES: &str = "lyceum_deliveries_total";
/// Seconds from the start of a delivery attempt to its answer (or error).
pub const DELIVERY_SECONDS: &str = "lyceum_delivery_duration_seconds";
/// Deliveries this process is sending right now.
pub const DELIVERIES_IN_FLIGHT: &str = "lyceum_deliveries_in_flight";
/// Pending deliveries in the outbox (all processes), read at scrape time.
pub const OUTBOX_PENDING: &str = "lyceum_outbox_pending";

/// The process-wide recorder; installed once, on the first server that asks for metrics.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DELIVERY_SECONDS.to_owned()), &buckets)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    metrics::describe_counter!(DELIVERIES, "Delivery attempts by outcome");
                    metrics::describe_histogram!(
                        DELIVERY_SECONDS,
                        metrics::Unit::Seconds,
                        "Time for one delivery attempt"
                    );
                    metrics::describe_gauge!(DELIVERIES_IN_FLIGHT, "Deliveries being sent now");
                    metrics::describe_gauge!(OUTBOX_PENDING, "Deliveries waiting in the outbox");
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot install the metrics recorder");
                    None
                }
            }
        })
        .as_ref()
}

async fn outbox_pending(ctx: &AppContext) -> Result<i64, AppError> {
    crate::with_conn!(&ctx.db, |conn| crate::db::outbox::pending_count(&mut conn)
        .await
        .map_err(AppError::from))
}

/// Binds `addr` and serves `GET /metrics` until `shutdown`; returns the bound address.
pub async fn serve(
    ctx: AppContext,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let handle = handle().context("the metrics recorder is not available")?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    let local = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let ctx = ctx.clone();
            async move {
                // Queue depth is a database fact shared by all processes: read it now.
                if let Ok(pending) = outbox_pending(&ctx).await {
                    metrics::gauge!(OUTBOX_PENDING).set(pending as f64);
                }
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    );
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(err) = served {
            tracing::warn!(error = %err, "the metrics listener stopped");
        }
    });
    Ok((local, task))
}
