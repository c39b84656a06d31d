//! The delivery worker: claims due deliveries from the outbox tables, signs and POSTs
//! them, and records the outcome (delivered, retry later with backoff, or failed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::signing::{SigningKey, signed_post_headers};
use super::url_guard;
use crate::context::AppContext;
use crate::db::outbox::{self, AttemptOutcome, OutboxActivity, OutboxDelivery};
use crate::db::types::DeliveryState;
use crate::db::{community, instance, person};
use crate::error::{AppError, AppResult};

/// Deliveries taken per claim.
const BATCH: i64 = 32;
/// Deliveries in flight at once in this process.
const CONCURRENCY: usize = 8;
/// How long a claimed delivery is reserved before another worker may take it again.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// Retrying stops this long after the activity was made.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(2);
/// Look for due retries at least this often even when nothing wakes the worker.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How often pending follows of remote groups are checked for asking again.
const FOLLOW_RETRY_CHECK: Duration = Duration::from_secs(10);

/// Asks remote groups again for follows that stay pending, until `shutdown`.
pub async fn retry_pending_follows(ctx: AppContext, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(FOLLOW_RETRY_CHECK) => {}
        }
        match crate::service::remote::resend_pending_follows(&ctx.db, &ctx.settings).await {
            Ok(0) => {}
            Ok(asked) => tracing::info!(asked, "asked remote groups again for pending follows"),
            Err(err) => tracing::warn!(error = %err, "cannot retry pending follows"),
        }
    }
}

/// Runs until `shutdown` is cancelled.
pub async fn run(ctx: AppContext, shutdown: CancellationToken) {
    let client = match super::config::http_client(&ctx) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the HTTP client; deliveries stop");
            return;
        }
    };
    let worker = Worker {
        ctx,
        client,
        keys: Arc::new(Mutex::new(HashMap::new())),
    };
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let claimed = match worker.claim().await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim deliveries");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = super::outbox::woken() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
            continue;
        }
        futures_util::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |(delivery, activity)| {
                let worker = &worker;
                async move { worker.deliver(delivery, activity).await }
            })
            .await;
    }
}

struct Worker {
    ctx: AppContext,
    client: reqwest::Client,
    keys: Arc<Mutex<HashMap<String, Arc<SigningKey>>>>,
}

impl Worker {
    async fn claim(&self) -> AppResult<Vec<(OutboxDelivery, OutboxActivity)>> {
        let now = crate::db::now();
        crate::transaction!(&self.ctx.db, |conn| {
            outbox::claim_due(&mut conn, now, now + LEASE, BATCH)
                .await
                .map_err(AppError::from)
        })
    }

    /// The parsed private key of a local actor, cached per process.
    async fn key_of(&self, actor_ap_id: &str) -> AppResult<Arc<SigningKey>> {
        if let Some(key) = self.keys.lock().expect("key cache").get(actor_ap_id) {
            return Ok(key.clone());
        }
        let instance_actor = format!("{}/actor", self.ctx.public_url());
        let pem = crate::with_conn!(&self.ctx.db, |conn| {
            let pem = if actor_ap_id == instance_actor {
                instance::read_local(&mut conn).await?.private_key_pem
            } else if let Some(p) = person::read_by_ap_id(&mut conn, actor_ap_id).await? {
                p.private_key_pem
            } else {
                community::read_by_ap_id(&mut conn, actor_ap_id)
                    .await?
                    .and_then(|c| c.private_key_pem)
            };
            Ok::<_, AppError>(pem)
        })?
        .ok_or_else(|| AppError::internal(format!("{actor_ap_id} has no private key here")))?;
        let key = Arc::new(SigningKey::from_pkcs8_pem(&pem).map_err(AppError::internal)?);
        self.keys
            .lock()
            .expect("key cache")
            .insert(actor_ap_id.to_owned(), key.clone());
        Ok(key)
    }

    async fn deliver(&self, delivery: OutboxDelivery, activity: OutboxActivity) {
        let started = std::time::Instant::now();
        let outcome = self.attempt(&delivery, &activity).await;
        tracing::debug!(
            activity = %activity.ap_id,
            inbox = %delivery.inbox_url,
            state = outcome.state.as_str(),
            status = ?outcome.status,
            error = ?outcome.error,
            ms = started.elapsed().as_millis() as u64,
            "delivery attempt"
        );
        let now = crate::db::now();
        let recorded = async {
            crate::with_conn!(&self.ctx.db, |conn| {
                outbox::record_attempt(&mut conn, delivery.id, &outcome, now)
                    .await
                    .map_err(AppError::from)
            })
        }
        .await;
        if let Err(err) = recorded {
            // The lease runs out and the delivery is sent again: at least once.
            tracing::warn!(error = %err, delivery = delivery.id, "cannot record a delivery");
        }
    }

    async fn attempt(
        &self,
        delivery: &OutboxDelivery,
        activity: &OutboxActivity,
    ) -> AttemptOutcome {
        let now = crate::db::now();
        let final_failure = |status: Option<i64>, error: String| AttemptOutcome {
            state: DeliveryState::Failed,
            next_attempt_at: now,
            status,
            error: Some(error),
        };
        let inbox = match Url::parse(&delivery.inbox_url) {
            Ok(url) => url,
            Err(err) => return final_failure(None, format!("invalid inbox URL: {err}")),
        };
        if let Err(refusal) = url_guard::check_url(&inbox, self.ctx.settings.federation.debug) {
            return final_failure(None, format!("inbox URL refused: {refusal}"));
        }
        let host = inbox.host_str().unwrap_or_default();
        if let Ok(true) = crate::service::admin::is_domain_blocked(&self.ctx.db, host).await {
            return final_failure(None, "the domain is blocked".to_owned());
        }
        let key = match self.key_of(&activity.actor_ap_id).await {
            Ok(key) => key,
            Err(err) => return final_failure(None, format!("cannot sign: {}", err.message)),
        };
        let body = activity.payload.as_bytes().to_vec();
        let headers = match signed_post_headers(&key, &activity.actor_ap_id, &inbox, &body) {
            Ok(headers) => headers,
            Err(err) => return final_failure(None, format!("cannot sign: {err}")),
        };
        let mut request = self.client.post(inbox.clone()).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let retry = |status: Option<i64>, error: String, retry_after: Option<Duration>| {
            retry_or_give_up(
                delivery,
                activity.created_at,
                now,
                status,
                error,
                retry_after,
            )
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let code = Some(i64::from(status.as_u16()));
                if status.is_success() {
                    AttemptOutcome {
                        state: DeliveryState::Delivered,
                        next_attempt_at: now,
                        status: code,
                        error: None,
                    }
                } else if status.is_client_error()
                    && status != reqwest::StatusCode::REQUEST_TIMEOUT
                    && status != reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    let text = short_body(response).await;
                    final_failure(code, format!("refused with {status}: {text}"))
                } else {
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = short_body(response).await;
                    retry(code, format!("answered {status}: {text}"), retry_after)
                }
            }
            Err(err) => retry(None, format!("request failed: {err}"), None),
        }
    }
}

/// At most the first kilobyte of an error response, for the record.
async fn short_body(mut response: reqwest::Response) -> String {
    let mut text = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        text.extend_from_slice(&chunk);
        if text.len() >= 1024 {
            break;
        }
    }
    text.truncate(1024);
    String::from_utf8_lossy(&text).into_owned()
}

/// Exponential backoff from 10 s (doubling, at most 6 h, ±20 % jitter); failed once the
/// activity is two days old.
fn retry_or_give_up(
    delivery: &OutboxDelivery,
    created_at: NaiveDateTime,
    now: NaiveDateTime,
    status: Option<i64>,
    error: String,
    retry_after: Option<Duration>,
) -> AttemptOutcome {
    if now - created_at > GIVE_UP_AFTER {
        return AttemptOutcome {
            state: DeliveryState::Failed,
            next_attempt_at: now,
            status,
            error: Some(format!("gave up after two days; last: {error}")),
        };
    }
    let exponent = delivery.attempts.clamp(0, 20) as u32;
    let base = (10u64 << exponent.min(12)).min(6 * 3600);
    let mut jitter = [0u8; 1];
    let _ = getrandom::fill(&mut jitter);
    let factor = 0.8 + f64::from(jitter[0]) / 255.0 * 0.4;
    let mut delay = Duration::from_secs_f64(base as f64 * factor);
    if let Some(asked) = retry_after {
        delay = delay.max(asked.min(Duration::from_secs(6 * 3600)));
    }
    AttemptOutcome {
        state: DeliveryState::Pending,
        next_attempt_at: now
            + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(10)),
        status,
        error: Some(error),
    }
}
