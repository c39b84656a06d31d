//! The delivery worker: claims due deliveries from the outbox tables, signs and POSTs
//! them, and records the outcome (delivered, retry later with backoff, or failed).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;

use super::signing::{RsaImplementation, SigningKey, signed_post_headers};
use super::url_guard;
use crate::context::AppContext;
use crate::db::federation_policy::DomainStanding;
use crate::db::outbox::{self, AttemptOutcome, OutboxActivity, OutboxDelivery};
use crate::db::types::DeliveryState;
use crate::db::{community, instance, person};
use crate::error::{AppError, AppResult};

/// Deliveries taken per claim.
const BATCH: i64 = 32;
/// How long a claimed delivery is reserved before another worker may take it again.
const LEASE: chrono::Duration = chrono::Duration::seconds(30);
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

/// How often finished outbox rows and old received ids are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Received activity ids are remembered this long; senders stop retrying after two days.
const RECEIVED_RETENTION: chrono::Duration = chrono::Duration::days(30);

/// Prunes delivered outbox rows older than `federation.delivered_retention_days` and old
/// received activity ids, at start and then hourly, until `shutdown`.
pub async fn prune_finished(ctx: AppContext, shutdown: CancellationToken) {
    loop {
        match prune_once(&ctx).await {
            Ok((0, 0, 0)) => {}
            Ok((deliveries, activities, received)) => tracing::info!(
                deliveries,
                activities,
                received,
                "pruned finished outbox rows and old received activity ids"
            ),
            Err(err) => tracing::warn!(error = %err, "cannot prune the outbox"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PRUNE_INTERVAL) => {}
        }
    }
}

/// One pruning pass: (deliveries, activities, received ids) deleted.
pub async fn prune_once(ctx: &AppContext) -> AppResult<(usize, usize, usize)> {
    let now = crate::db::now();
    let days = i64::from(ctx.settings.federation.delivered_retention_days);
    let cutoff = now - chrono::Duration::days(days);
    crate::db::off_the_runtime(async move {
        crate::with_conn!(&ctx.db, |conn| {
            let (deliveries, activities) = outbox::prune_delivered(&mut conn, cutoff).await?;
            let received = crate::db::received_activity::prune_received_before(
                &mut conn,
                now - RECEIVED_RETENTION,
            )
            .await?;
            Ok::<_, AppError>((deliveries, activities, received))
        })
    })
    .await
}

/// How often dead instances are probed.
const DEAD_PROBE_INTERVAL: Duration = Duration::from_secs(600);

/// Probes dead instances' NodeInfo every ten minutes, until `shutdown`.
pub async fn probe_dead_instances(ctx: AppContext, shutdown: CancellationToken) {
    let Ok(client) = super::config::http_client(&ctx) else {
        return;
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(DEAD_PROBE_INTERVAL) => {}
        }
        match probe_once(&ctx, &client).await {
            Ok(0) => {}
            Ok(revived) => tracing::info!(revived, "dead instances answered their probe"),
            Err(err) => tracing::warn!(error = %err, "cannot probe dead instances"),
        }
    }
}

/// Asks each dead instance for `/.well-known/nodeinfo`; a 2xx revives it. Returns how
/// many were revived.
pub async fn probe_once(ctx: &AppContext, client: &reqwest::Client) -> AppResult<usize> {
    let dead = crate::with_conn!(&ctx.db, |conn| outbox::dead_domains(&mut conn)
        .await
        .map_err(AppError::from))?;
    let scheme = if ctx.settings.federation.debug {
        "http"
    } else {
        "https"
    };
    let mut revived = 0;
    for domain in dead {
        let Ok(url) = Url::parse(&format!("{scheme}://{domain}/.well-known/nodeinfo")) else {
            continue;
        };
        if url_guard::check_url(&url, ctx.settings.federation.debug).is_err() {
            continue;
        }
        let answered = client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if answered {
            let back = crate::with_conn!(&ctx.db, |conn| outbox::revive(&mut conn, &domain)
                .await
                .map_err(AppError::from))?;
            revived += usize::from(back);
        }
    }
    if revived > 0 {
        super::outbox::wake();
    }
    Ok(revived)
}

/// Runs until `shutdown` is cancelled. Each claimed delivery runs as its own task, bounded
/// overall and per instance; instances at their bound are left out of the next claim, so
/// a slow or failing instance never holds up deliveries to the others.
pub async fn run(ctx: AppContext, shutdown: CancellationToken) {
    run_with(ctx, shutdown, RsaImplementation::AwsLc).await;
}

/// [`run`], signing with the given RSA implementation (the benchmark compares them).
pub async fn run_with(ctx: AppContext, shutdown: CancellationToken, rsa: RsaImplementation) {
    let client = match super::config::http_client(&ctx) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the HTTP client; deliveries stop");
            return;
        }
    };
    if ctx.db.backend() == crate::db::Backend::Sqlite {
        // One process per SQLite file: claims left in the table are a crashed process's
        // unconfirmed sends. On PostgreSQL another process may be sending them, so they
        // wait for their lease to run out.
        let released: AppResult<usize> = async {
            crate::with_conn!(&ctx.db, |conn| {
                outbox::release_all_claims(&mut conn, crate::db::now())
                    .await
                    .map_err(AppError::from)
            })
        }
        .await;
        match released {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "deliveries unconfirmed before a stop are sent again"),
            Err(err) => tracing::warn!(error = %err, "cannot release earlier claims"),
        }
    }
    // A finished delivery frees a place: claim again at once rather than at the next poll.
    let finished = Arc::new(tokio::sync::Notify::new());
    let (recorder, attempts) = mpsc::unbounded_channel();
    let recording = tokio::spawn(record_outcomes(ctx.clone(), attempts, finished.clone()));
    let worker = Arc::new(Worker {
        ctx,
        client,
        rsa,
        recorder,
        keys: Mutex::new(HashMap::new()),
    });
    let concurrency = worker.ctx.settings.federation.delivery_concurrency as usize;
    let per_instance = worker.ctx.settings.federation.delivery_per_instance as usize;
    let overall = Arc::new(Semaphore::new(concurrency));
    // Deliveries in flight per instance, counted when they are handed to a task.
    let in_flight_per_instance: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    let in_flight = TaskTracker::new();
    let mut swept = std::time::Instant::now();
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        if swept.elapsed() >= HELD_SWEEP {
            swept = std::time::Instant::now();
            if let Err(err) = worker.release_orphaned_held().await {
                tracing::warn!(error = %err, "cannot release held deliveries");
            }
            if let Err(err) = worker.park_dead_backlog().await {
                tracing::warn!(error = %err, "cannot park deliveries to dead instances");
            }
        }
        let busy: Vec<i64> = in_flight_per_instance
            .lock()
            .expect("in-flight counts")
            .iter()
            .filter(|(_, n)| **n >= per_instance)
            .map(|(id, _)| *id)
            .collect();
        let room = overall.available_permits().min(BATCH as usize) as i64;
        let claimed = if room == 0 {
            Vec::new()
        } else {
            match worker.claim(room, &busy).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot claim deliveries");
                    Vec::new()
                }
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = super::outbox::woken() => {}
                () = finished.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
            continue;
        }
        // The federation policy of the whole batch in one lookup. Should it fail, each
        // delivery goes as if the policy allowed it, as a lookup per delivery did.
        let authorities: Vec<Option<String>> = claimed
            .iter()
            .map(|(d, _)| {
                Url::parse(&d.inbox_url)
                    .ok()
                    .map(|url| super::actor::authority(&url))
            })
            .collect();
        let asked: Vec<String> = authorities.iter().flatten().cloned().collect();
        let standings = crate::service::federation_policy::standings(&worker.ctx.db, &asked)
            .await
            .inspect_err(|err| tracing::warn!(error = %err, "cannot read the federation policy"))
            .ok();
        let mut over_bound = Vec::new();
        for ((delivery, activity), authority) in claimed.into_iter().zip(authorities) {
            let standing = standings
                .as_ref()
                .zip(authority)
                .map(|(standings, authority)| standings.of(&authority));
            let Ok(permit) = overall.clone().try_acquire_owned() else {
                over_bound.push(delivery.id);
                continue;
            };
            {
                let mut counts = in_flight_per_instance.lock().expect("in-flight counts");
                let count = counts.entry(delivery.instance_id).or_default();
                if *count >= per_instance {
                    over_bound.push(delivery.id);
                    continue;
                }
                *count += 1;
            }
            let worker = worker.clone();
            let counts = in_flight_per_instance.clone();
            let finished = finished.clone();
            in_flight.spawn(async move {
                let instance_id = delivery.instance_id;
                metrics::gauge!(crate::metrics::DELIVERIES_IN_FLIGHT).increment(1.0);
                // The place overall is freed once the outcome is written, so sent but
                // unrecorded deliveries (sent again after a crash) stay within the bound.
                worker.deliver(delivery, activity, standing, permit).await;
                metrics::gauge!(crate::metrics::DELIVERIES_IN_FLIGHT).decrement(1.0);
                let mut counts = counts.lock().expect("in-flight counts");
                if let Some(count) = counts.get_mut(&instance_id) {
                    *count -= 1;
                    if *count == 0 {
                        counts.remove(&instance_id);
                    }
                }
                drop(counts);
                finished.notify_one();
            });
        }
        if !over_bound.is_empty() {
            // Claimed in one batch beyond the instance's bound: give them back at once.
            if let Err(err) = worker.release(&over_bound).await {
                tracing::warn!(error = %err, "cannot release claimed deliveries");
            }
        }
    }
    // Deliveries in flight finish (or their lease runs out and they are sent again), and
    // their outcomes are written before the worker returns.
    in_flight.close();
    in_flight.wait().await;
    drop(worker);
    let _ = recording.await;
}

/// How often held deliveries whose predecessor finished unseen are looked for, and dead
/// instances' due deliveries parked.
const HELD_SWEEP: Duration = Duration::from_secs(10);

/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 256;
/// Attempts to write one batch of outcomes before leaving them to their lease.
const RECORD_TRIES: u64 = 5;

/// One attempt's outcome, on its way to the database.
struct Attempted {
    delivery_id: i64,
    instance_id: i64,
    inbox_url: String,
    ordering_key: Option<String>,
    outcome: AttemptOutcome,
    at: NaiveDateTime,
    /// The delivery's place in `delivery_concurrency`, given back once written.
    _place: OwnedSemaphorePermit,
}

/// Writes attempt outcomes as they come, as many per transaction as are waiting, until
/// every sender is gone. Per delivery this saves a commit, which is what limits fan-out.
async fn record_outcomes(
    ctx: AppContext,
    mut attempts: mpsc::UnboundedReceiver<Attempted>,
    finished: Arc<tokio::sync::Notify>,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while attempts.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let mut tries = 1;
        while let Err(err) = record_batch(&ctx, &batch).await {
            if tries == RECORD_TRIES {
                // Their leases run out and they are sent again: at least once.
                tracing::warn!(error = %err, count = batch.len(), "cannot record deliveries");
                break;
            }
            // A deadlock or a lost connection rolls the whole batch back; writing it again
            // soon is far cheaper than sending every delivery in it again after the lease.
            tracing::info!(error = %err, count = batch.len(), "recording deliveries again");
            tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            tries += 1;
        }
        // Gives their places back.
        batch.clear();
        finished.notify_one();
    }
}

async fn record_batch(ctx: &AppContext, batch: &[Attempted]) -> AppResult<()> {
    let days = i64::from(ctx.settings.federation.dead_after_days);
    let now = crate::db::now();
    let cutoff = now - chrono::Duration::days(days);
    let marked_dead: Vec<String> = crate::transaction!(&ctx.db, |conn| {
        // Instances are written in id order: processes sharing a PostgreSQL database record
        // outcomes for the same instances at once, and a common lock order cannot deadlock.
        let mut answered = BTreeSet::new();
        let mut silent = BTreeMap::new();
        for attempt in batch {
            outbox::record_attempt(&mut conn, attempt.delivery_id, &attempt.outcome, attempt.at)
                .await?;
            let outcome = &attempt.outcome;
            if let (Some(key), false) = (
                &attempt.ordering_key,
                outcome.state == DeliveryState::Pending,
            ) {
                // Finished: the next delivery about the same object to this inbox may go.
                outbox::release_next_held(&mut conn, &attempt.inbox_url, key, now).await?;
            }
            if outcome.state == DeliveryState::Delivered {
                answered.insert(attempt.instance_id);
            } else if outcome.status.is_none_or(|s| !(400..500).contains(&s)) {
                // No answer or a server error: silent for too long means dead.
                silent.insert(attempt.instance_id, attempt.inbox_url.clone());
            }
        }
        for instance_id in &answered {
            outbox::instance_answered(&mut conn, *instance_id, now).await?;
        }
        let mut marked = Vec::new();
        for (instance_id, inbox) in silent {
            if !answered.contains(&instance_id)
                && outbox::mark_dead_if_silent(&mut conn, instance_id, cutoff, now).await?
            {
                marked.push(inbox);
            }
        }
        Ok::<_, AppError>(marked)
    })?;
    for inbox in marked_dead {
        tracing::warn!(
            %inbox,
            days,
            "instance marked dead; its deliveries wait until it answers"
        );
    }
    Ok(())
}

struct Worker {
    ctx: AppContext,
    client: reqwest::Client,
    rsa: RsaImplementation,
    recorder: mpsc::UnboundedSender<Attempted>,
    keys: Mutex<HashMap<String, Arc<SigningKey>>>,
}

impl Worker {
    /// Moves dead instances' due deliveries out of the claim's way until the next probe.
    async fn park_dead_backlog(&self) -> AppResult<()> {
        let now = crate::db::now();
        let until =
            now + chrono::Duration::from_std(DEAD_PROBE_INTERVAL).map_err(AppError::internal)?;
        let parked = crate::with_conn!(&self.ctx.db, |conn| {
            outbox::park_dead_backlog(&mut conn, now, until)
                .await
                .map_err(AppError::from)
        })?;
        if parked > 0 {
            tracing::debug!(
                parked,
                "deliveries to dead instances parked until the next probe"
            );
        }
        Ok(())
    }

    async fn release_orphaned_held(&self) -> AppResult<()> {
        let now = crate::db::now();
        let released = crate::with_conn!(&self.ctx.db, |conn| {
            outbox::release_orphaned_held(&mut conn, now)
                .await
                .map_err(AppError::from)
        })?;
        if released > 0 {
            tracing::info!(released, "held deliveries released");
        }
        Ok(())
    }

    /// Makes claimed deliveries due again now.
    async fn release(&self, ids: &[i64]) -> AppResult<()> {
        let now = crate::db::now();
        crate::with_conn!(&self.ctx.db, |conn| outbox::release(&mut conn, ids, now)
            .await
            .map_err(AppError::from))
    }

    async fn claim(
        &self,
        limit: i64,
        busy: &[i64],
    ) -> AppResult<Vec<(OutboxDelivery, OutboxActivity)>> {
        let now = crate::db::now();
        crate::transaction!(&self.ctx.db, |conn| {
            outbox::claim_due(&mut conn, now, now + LEASE, limit, busy)
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
        let key =
            Arc::new(SigningKey::from_pkcs8_pem_with(&pem, self.rsa).map_err(AppError::internal)?);
        self.keys
            .lock()
            .expect("key cache")
            .insert(actor_ap_id.to_owned(), key.clone());
        Ok(key)
    }

    async fn deliver(
        &self,
        delivery: OutboxDelivery,
        activity: OutboxActivity,
        standing: Option<DomainStanding>,
        permit: OwnedSemaphorePermit,
    ) {
        let started = std::time::Instant::now();
        let outcome = self.attempt(&delivery, &activity, standing).await;
        metrics::histogram!(crate::metrics::DELIVERY_SECONDS).record(started.elapsed());
        let label = match outcome.state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending | DeliveryState::Held => "retry",
            DeliveryState::Failed => "failed",
        };
        metrics::counter!(crate::metrics::DELIVERIES, "outcome" => label).increment(1);
        tracing::debug!(
            activity = %activity.ap_id,
            inbox = %delivery.inbox_url,
            state = outcome.state.as_str(),
            status = ?outcome.status,
            error = ?outcome.error,
            ms = started.elapsed().as_millis() as u64,
            "delivery attempt"
        );
        // Recorded in batches by `record_outcomes`: one transaction for many deliveries.
        let attempted = Attempted {
            delivery_id: delivery.id,
            instance_id: delivery.instance_id,
            inbox_url: delivery.inbox_url,
            ordering_key: delivery.ordering_key,
            outcome,
            at: crate::db::now(),
            _place: permit,
        };
        if self.recorder.send(attempted).is_err() {
            tracing::warn!(
                delivery = delivery.id,
                "the recorder stopped; sent again later"
            );
        }
    }

    /// Sends one delivery; `standing` is its domain's, read with its batch (None: unknown,
    /// and it goes).
    async fn attempt(
        &self,
        delivery: &OutboxDelivery,
        activity: &OutboxActivity,
        standing: Option<DomainStanding>,
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
        if let Some(standing) = standing
            && !standing.federates()
        {
            return final_failure(
                None,
                format!("the federation policy refuses the domain ({standing:?})"),
            );
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
            Err(err) => retry(None, format!("request failed: {}", error_chain(&err)), None),
        }
    }
}

/// At most the first kilobyte of an error response, for the record.
/// An error with its causes: reqwest's own message leaves out why (refused, timed out,
/// name not found), which is what an operator needs to see.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::AccountRole;
    use crate::testing::{TestApi, for_each_backend, test_settings};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A mock inbox: answers `status` (with `Retry-After: 1` for 503), after `gate` opens
    /// when there is one; counts requests.
    async fn mock_inbox(
        status: u16,
        gate: Option<Arc<tokio::sync::Notify>>,
    ) -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let app = axum::Router::new()
            .route(
                "/.well-known/nodeinfo",
                axum::routing::get(|| async { "{}" }),
            )
            .route(
                "/inbox",
                axum::routing::post(move || {
                    let hits = counted.clone();
                    let gate = gate.clone();
                    async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        if let Some(gate) = gate {
                            gate.notified().await;
                        }
                        let code = axum::http::StatusCode::from_u16(status).expect("status");
                        (code, [(axum::http::header::RETRY_AFTER, "1")], "")
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://localhost:{port}/inbox"), hits)
    }

    /// Enqueues `n` Likes of distinct objects (so no ordering ties them) to `inbox`.
    async fn enqueue_to(ctx: &AppContext, actor: &str, inbox: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let like = json!({"type": "Like", "actor": actor, "object": format!("x{i}")});
            ids.push(enqueue_json(ctx, like, inbox).await);
        }
        ids
    }

    async fn deliveries(ctx: &AppContext, activity: &str) -> Vec<OutboxDelivery> {
        let rows = async {
            crate::with_conn!(&ctx.db, |conn| outbox::deliveries_of(&mut conn, activity)
                .await
                .map_err(AppError::from))
        };
        rows.await.expect("rows")
    }

    /// Every delivery to `inbox`.
    async fn deliveries_to(ctx: &AppContext, inbox: &str) -> Vec<OutboxDelivery> {
        use crate::db::schema::outbox_deliveries;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let rows = async {
            crate::with_conn!(&ctx.db, |conn| crate::on_conn!(&mut conn, |c| {
                outbox_deliveries::table
                    .filter(outbox_deliveries::inbox_url.eq(inbox))
                    .select(OutboxDelivery::as_select())
                    .load(c)
                    .await
            })
            .map_err(AppError::from))
        };
        rows.await.expect("rows")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_inbox_on_a_private_address_is_failed_without_a_request() {
        for_each_backend(async |db| {
            let (mut ctx, actor) = sender(&db).await;
            // Production rules: https only, public addresses only.
            let mut settings = (*ctx.settings).clone();
            settings.federation.debug = false;
            ctx = AppContext::new(db.clone(), settings);
            let private = enqueue_to(&ctx, &actor, "https://10.1.2.3/inbox", 1).await;
            let loopback = enqueue_to(&ctx, &actor, "https://127.0.0.1:8443/inbox", 1).await;
            let stop = CancellationToken::new();
            let worker = tokio::spawn(run(ctx.clone(), stop.clone()));
            let settled = crate::testing::wait_until(Duration::from_secs(20), || async {
                deliveries(&ctx, &private[0]).await[0].state == DeliveryState::Failed
                    && deliveries(&ctx, &loopback[0]).await[0].state == DeliveryState::Failed
            })
            .await;
            assert!(settled);
            for id in [&private[0], &loopback[0]] {
                let row = &deliveries(&ctx, id).await[0];
                assert_eq!(row.last_status, None, "{row:?}");
                assert!(
                    row.last_error
                        .as_deref()
                        .is_some_and(|e| e.starts_with("inbox URL refused")),
                    "{row:?}"
                );
            }
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(20), worker).await;
        })
        .await;
    }

    async fn sender(db: &crate::db::Db) -> (AppContext, String) {
        let mut settings = test_settings();
        // The mock inboxes are plain http on localhost.
        settings.federation.debug = true;
        let api = TestApi::new(db.clone(), settings.clone()).await;
        api.create_user("sender", AccountRole::Member).await;
        let ctx = AppContext::new(db.clone(), settings);
        let actor = format!("{}/u/sender", ctx.public_url());
        (ctx, actor)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_instance_that_never_answers_does_not_hold_up_another() {
        for_each_backend(async |db| {
            let (ctx, actor) = sender(&db).await;
            let gate = Arc::new(tokio::sync::Notify::new());
            let (slow, slow_hits) = mock_inbox(202, Some(gate.clone())).await;
            let (fast, fast_hits) = mock_inbox(202, None).await;
            enqueue_to(&ctx, &actor, &slow, 3 * BATCH as usize).await;
            let fast_ids = enqueue_to(&ctx, &actor, &fast, 1).await;
            let stop = CancellationToken::new();
            let worker = tokio::spawn(run(ctx.clone(), stop.clone()));
            let reached = crate::testing::wait_until(Duration::from_secs(30), || async {
                fast_hits.load(Ordering::SeqCst) == 1
            })
            .await;
            assert!(reached, "the fast instance got its delivery");
            let rows = deliveries(&ctx, &fast_ids[0]).await;
            assert!(
                crate::testing::wait_until(Duration::from_secs(10), || async {
                    deliveries(&ctx, &fast_ids[0]).await[0].state == DeliveryState::Delivered
                })
                .await,
                "{rows:?}"
            );
            let status = crate::service::admin::delivery_status(&ctx.db)
                .await
                .expect("status");
            let slow_row = status
                .iter()
                .find(|s| slow.contains(&s.domain))
                .expect("the slow instance is listed");
            assert!(
                (1..=8).contains(&slow_row.in_flight),
                "claimed and unanswered deliveries show as in flight: {slow_row:?}"
            );
            assert!(
                slow_hits.load(Ordering::SeqCst) <= 8,
                "at most delivery_per_instance (8) requests at once to one instance"
            );
            // The silent receiver is cut off by the 10 s request timeout and retried later.
            let slow_ids = {
                let status = deliveries_to(&ctx, &slow).await;
                status.into_iter().map(|d| d.id).collect::<Vec<_>>()
            };
            assert!(!slow_ids.is_empty());
            let cut_off = crate::testing::wait_until(Duration::from_secs(30), || async {
                deliveries_to(&ctx, &slow).await.iter().any(|d| {
                    d.attempts >= 1
                        && d.state == DeliveryState::Pending
                        && d.last_error
                            .as_deref()
                            .is_some_and(|e| e.contains("request failed"))
                })
            })
            .await;
            assert!(cut_off, "{:?}", deliveries_to(&ctx, &slow).await.first());
            gate.notify_waiters();
            stop.cancel();
            gate.notify_waiters();
            let _ = tokio::time::timeout(Duration::from_secs(20), worker).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_final_4xx_is_not_retried_and_a_503_is_retried_later() {
        for_each_backend(async |db| {
            let (ctx, actor) = sender(&db).await;
            let (refusing, refusing_hits) = mock_inbox(400, None).await;
            let (busy, _) = mock_inbox(503, None).await;
            let (throttling, _) = mock_inbox(429, None).await;
            let (timing_out, _) = mock_inbox(408, None).await;
            let refused = enqueue_to(&ctx, &actor, &refusing, 1).await;
            let retried = enqueue_to(&ctx, &actor, &busy, 1).await;
            let throttled = enqueue_to(&ctx, &actor, &throttling, 1).await;
            let timed_out = enqueue_to(&ctx, &actor, &timing_out, 1).await;
            let stop = CancellationToken::new();
            let worker = tokio::spawn(run(ctx.clone(), stop.clone()));
            let settled = crate::testing::wait_until(Duration::from_secs(30), || async {
                let a = deliveries(&ctx, &refused[0]).await;
                let mut others = true;
                for id in [&retried[0], &throttled[0], &timed_out[0]] {
                    others &= deliveries(&ctx, id).await[0].attempts >= 1;
                }
                a[0].attempts == 1 && others
            })
            .await;
            assert!(settled);
            let a = &deliveries(&ctx, &refused[0]).await[0];
            assert_eq!(a.state, DeliveryState::Failed, "{a:?}");
            assert_eq!(a.last_status, Some(400));
            for (id, status) in [
                (&retried[0], 503),
                (&throttled[0], 429),
                (&timed_out[0], 408),
            ] {
                let b = &deliveries(&ctx, id).await[0];
                assert_eq!(b.state, DeliveryState::Pending, "{b:?}");
                assert_eq!(b.last_status, Some(status));
                // Backoff of at least ~8 s (10 s less jitter), and Retry-After: 1 honoured.
                let wait = b.next_attempt_at - b.last_attempt_at.expect("attempted");
                assert!(wait >= chrono::Duration::seconds(7), "{b:?}");
            }
            // The 400 is never sent again, however long the worker runs.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert_eq!(refusing_hits.load(Ordering::SeqCst), 1);
            let status = crate::service::admin::delivery_status(&ctx.db)
                .await
                .expect("status");
            let of = |inbox: &str| {
                let domain = inbox
                    .trim_start_matches("http://")
                    .trim_end_matches("/inbox");
                status
                    .iter()
                    .find(|s| s.domain == domain)
                    .cloned()
                    .expect("listed")
            };
            assert_eq!((of(&refusing).failed, of(&refusing).pending), (1, 0));
            assert_eq!((of(&busy).failed, of(&busy).pending), (0, 1));
            assert!(of(&busy).last_success_at.is_none());
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(20), worker).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_instance_is_marked_dead_paused_and_revived_by_its_probe() {
        for_each_backend(async |db| {
            let (ctx, actor) = sender(&db).await;
            let (busy, hits) = mock_inbox(503, None).await;
            let ids = enqueue_to(&ctx, &actor, &busy, 1).await;
            // We have known the instance for five days without a single success.
            let past = (crate::db::now() - chrono::Duration::days(5)).format("%Y-%m-%d %H:%M:%S");
            crate::testing::execute_sql(
                &db,
                &format!("UPDATE instances SET created_at = '{past}' WHERE NOT local"),
            )
            .await;
            let stop = CancellationToken::new();
            let worker = tokio::spawn(run(ctx.clone(), stop.clone()));
            let dead = crate::testing::wait_until(Duration::from_secs(30), || async {
                let status = crate::service::admin::delivery_status(&ctx.db)
                    .await
                    .expect("status");
                status.iter().any(|s| s.dead_since.is_some())
            })
            .await;
            assert!(
                dead,
                "marked dead after a failure with no success in 3 days"
            );
            // Due again, but paused: the row is kept and not attempted.
            crate::testing::execute_sql(
                &db,
                "UPDATE outbox_deliveries SET next_attempt_at = '2000-01-01 00:00:00'",
            )
            .await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert_eq!(hits.load(Ordering::SeqCst), 1);
            assert_eq!(
                deliveries(&ctx, &ids[0]).await[0].state,
                DeliveryState::Pending
            );
            // The NodeInfo probe answers: revived, and the kept delivery is attempted again.
            let client = super::super::config::http_client(&ctx).expect("client");
            assert_eq!(probe_once(&ctx, &client).await.expect("probe"), 1);
            let retried = crate::testing::wait_until(Duration::from_secs(30), || async {
                hits.load(Ordering::SeqCst) >= 2
            })
            .await;
            assert!(retried, "delivery resumed after the revival");
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(20), worker).await;
        })
        .await;
    }

    /// Enqueues `activity` (its id made fresh) to `inbox`; returns the id.
    async fn enqueue_json(
        ctx: &AppContext,
        mut activity: serde_json::Value,
        inbox: &str,
    ) -> String {
        let kind = activity["type"].as_str().expect("type").to_owned();
        let id = super::super::outbox::new_activity_id(&ctx.settings, &kind).expect("id");
        activity["id"] = json!(id);
        let actor = activity["actor"].as_str().expect("actor").to_owned();
        let settings = ctx.settings.clone();
        let stored = async {
            crate::transaction!(&ctx.db, |conn| {
                super::super::outbox::enqueue(
                    &mut conn,
                    &settings,
                    &activity,
                    &actor,
                    &[inbox.to_owned()],
                )
                .await
            })
        };
        stored.await.expect("enqueued");
        id
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_update_waits_for_its_create_and_nothing_else_does() {
        for_each_backend(async |db| {
            let (ctx, actor) = sender(&db).await;
            // The inbox refuses Creates with 503 until told otherwise, and logs what it took.
            let refuse_creates = Arc::new(std::sync::atomic::AtomicBool::new(true));
            let taken: Arc<Mutex<Vec<String>>> = Arc::default();
            let (refuse, log) = (refuse_creates.clone(), taken.clone());
            let app = axum::Router::new().route(
                "/inbox",
                axum::routing::post(move |body: axum::body::Bytes| {
                    let (refuse, log) = (refuse.clone(), log.clone());
                    async move {
                        let activity: serde_json::Value =
                            serde_json::from_slice(&body).expect("json");
                        if activity["type"] == "Create" && refuse.load(Ordering::SeqCst) {
                            return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                        }
                        let id = activity["id"].as_str().expect("id").to_owned();
                        log.lock().expect("log").push(id);
                        axum::http::StatusCode::ACCEPTED
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .expect("bind");
            let inbox = format!(
                "http://localhost:{}/inbox",
                listener.local_addr().expect("addr").port()
            );
            tokio::spawn(async move { axum::serve(listener, app).await });

            let note = |kind: &str| {
                json!({"type": kind, "actor": actor,
                       "object": {"id": "http://localhost:9/r/1", "type": "Note"}})
            };
            let create = enqueue_json(&ctx, note("Create"), &inbox).await;
            let update = enqueue_json(&ctx, note("Update"), &inbox).await;
            let like = enqueue_json(
                &ctx,
                json!({"type": "Like", "actor": actor, "object": "http://localhost:9/t/2"}),
                &inbox,
            )
            .await;
            let stop = CancellationToken::new();
            let worker = tokio::spawn(run(ctx.clone(), stop.clone()));
            let state_of = |id: String| {
                let ctx = ctx.clone();
                async move { deliveries(&ctx, &id).await[0].clone() }
            };
            assert!(
                crate::testing::wait_until(Duration::from_secs(30), || async {
                    state_of(like.clone()).await.state == DeliveryState::Delivered
                        && state_of(create.clone()).await.attempts >= 1
                })
                .await,
                "the unrelated Like went out while the Create was being retried"
            );
            // The Update about the same Note has not been tried while its Create is pending.
            let waiting = state_of(update.clone()).await;
            assert_eq!((waiting.state, waiting.attempts), (DeliveryState::Held, 0));
            assert!(!taken.lock().expect("log").contains(&update));

            // The receiver recovers; the Create's retry is due now; then the Update follows.
            refuse_creates.store(false, Ordering::SeqCst);
            crate::testing::execute_sql(
                &db,
                "UPDATE outbox_deliveries SET next_attempt_at = '2000-01-01 00:00:00' \
                 WHERE state = 'pending'",
            )
            .await;
            super::super::outbox::wake();
            assert!(
                crate::testing::wait_until(Duration::from_secs(30), || async {
                    state_of(update.clone()).await.state == DeliveryState::Delivered
                })
                .await
            );
            let order = taken.lock().expect("log").clone();
            let at = |id: &str| order.iter().position(|x| x == id).expect("received");
            assert!(at(&create) < at(&update), "{order:?}");
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(20), worker).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_held_delivery_whose_predecessor_finished_unseen_is_released() {
        for_each_backend(async |db| {
            let (ctx, actor) = sender(&db).await;
            let inbox = "http://localhost:9/inbox";
            let note = |kind: &str| {
                json!({"type": kind, "actor": actor,
                       "object": {"id": "http://localhost:9/r/1", "type": "Note"}})
            };
            let create = enqueue_json(&ctx, note("Create"), inbox).await;
            let update = enqueue_json(&ctx, note("Update"), inbox).await;
            let delete = enqueue_json(&ctx, note("Delete"), inbox).await;
            let state = |id: String| {
                let ctx = ctx.clone();
                async move { deliveries(&ctx, &id).await[0].state }
            };
            assert_eq!(state(update.clone()).await, DeliveryState::Held);
            // The Create finishes in a transaction that did not see the Update arrive.
            crate::testing::execute_sql(
                &db,
                &format!(
                    "UPDATE outbox_deliveries SET state = 'delivered' WHERE activity_id = \
                     (SELECT id FROM outbox_activities WHERE ap_id = '{create}')"
                ),
            )
            .await;
            let released: AppResult<usize> = async {
                crate::with_conn!(&ctx.db, |conn| {
                    outbox::release_orphaned_held(&mut conn, crate::db::now())
                        .await
                        .map_err(AppError::from)
                })
            }
            .await;
            assert_eq!(released.expect("sweep"), 1, "only the first in line");
            assert_eq!(state(update).await, DeliveryState::Pending);
            assert_eq!(state(delete).await, DeliveryState::Held);
        })
        .await;
    }

    /// An instance that shows it is reachable gets its backlog at once: deliveries waiting
    /// out a backoff become due; claimed ones and first attempts are left alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reachable_instance_gets_its_backlog_now() {
        for_each_backend(async |db| {
            let (ctx, actor) = sender(&db).await;
            let waiting = enqueue_to(&ctx, &actor, "http://localhost:20999/inbox", 2).await;
            let other = enqueue_to(&ctx, &actor, "http://localhost:20998/inbox", 1).await;
            crate::testing::execute_sql(
                &db,
                "UPDATE outbox_deliveries SET attempts = 1, \
                 next_attempt_at = '2999-01-01 00:00:00'",
            )
            .await;
            let now = crate::db::now();
            let retried = async {
                crate::with_conn!(&ctx.db, |conn| {
                    outbox::retry_backlog_now(&mut conn, "localhost:20999", now)
                        .await
                        .map_err(AppError::from)
                })
            };
            assert_eq!(retried.await.expect("retried"), 2);
            for id in &waiting {
                assert!(deliveries(&ctx, id).await[0].next_attempt_at <= now);
            }
            assert!(deliveries(&ctx, &other[0]).await[0].next_attempt_at > now);
        })
        .await;
    }

    /// Two processes on one PostgreSQL database record outcomes for the same instances at
    /// the same moment. Each batch must commit: a batch lost to a deadlock is sent again
    /// once its lease runs out, which is how the two-process test once saw repeats.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_outcome_batches_for_the_same_instances_all_commit() {
        for_each_backend(async |db| {
            let (ctx, actor) = sender(&db).await;
            let inboxes: Vec<String> = (0..12)
                .map(|n| format!("http://localhost:{}/inbox", 20_000 + n))
                .collect();
            let places = Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
            for round in 0..6 {
                // Instances not answered within the minute are written by every batch.
                crate::testing::execute_sql(&db, "UPDATE instances SET last_success_at = NULL")
                    .await;
                let mut batches = [Vec::new(), Vec::new()];
                for (n, inbox) in inboxes.iter().enumerate() {
                    for batch in &mut batches {
                        let like = json!({"type": "Like", "actor": actor,
                                          "object": format!("r{round}-{n}-{}", batch.len())});
                        let id = enqueue_json(&ctx, like, inbox).await;
                        let row = deliveries(&ctx, &id).await.remove(0);
                        batch.push(Attempted {
                            delivery_id: row.id,
                            instance_id: row.instance_id,
                            inbox_url: row.inbox_url,
                            ordering_key: row.ordering_key,
                            outcome: AttemptOutcome {
                                state: DeliveryState::Delivered,
                                next_attempt_at: row.next_attempt_at,
                                status: Some(202),
                                error: None,
                            },
                            at: crate::db::now(),
                            _place: places.clone().try_acquire_owned().expect("place"),
                        });
                    }
                }
                // Opposite orders, as two workers finishing in different orders would have.
                batches[1].reverse();
                let (first, second) = tokio::join!(
                    record_batch(&ctx, &batches[0]),
                    record_batch(&ctx, &batches[1])
                );
                first.expect("first batch recorded");
                second.expect("second batch recorded");
            }
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delivered_rows_are_pruned_after_retention_and_failures_kept() {
        for_each_backend(async |db| {
            let (ctx, actor) = sender(&db).await;
            let ids = enqueue_to(&ctx, &actor, "http://localhost:9/inbox", 3).await;
            let old = (crate::db::now() - chrono::Duration::days(8)).format("%Y-%m-%d %H:%M:%S");
            let recent = (crate::db::now() - chrono::Duration::days(6)).format("%Y-%m-%d %H:%M:%S");
            let set = |id: &str, state: &str, when: &str| {
                format!(
                    "UPDATE outbox_deliveries SET state = '{state}', updated_at = '{when}' \
                     WHERE activity_id = (SELECT id FROM outbox_activities WHERE ap_id = '{id}')"
                )
            };
            crate::testing::execute_sql(&db, &set(&ids[0], "delivered", &old.to_string())).await;
            crate::testing::execute_sql(&db, &set(&ids[1], "delivered", &recent.to_string())).await;
            crate::testing::execute_sql(&db, &set(&ids[2], "failed", &old.to_string())).await;
            crate::testing::execute_sql(
                &db,
                &format!("UPDATE outbox_activities SET created_at = '{old}'"),
            )
            .await;
            let (deliveries_pruned, activities_pruned, _) = prune_once(&ctx).await.expect("prune");
            assert_eq!((deliveries_pruned, activities_pruned), (1, 1));
            assert!(
                deliveries(&ctx, &ids[0]).await.is_empty(),
                "old delivered: gone"
            );
            assert_eq!(
                deliveries(&ctx, &ids[1]).await.len(),
                1,
                "recent delivered: kept"
            );
            assert_eq!(
                deliveries(&ctx, &ids[2]).await[0].state,
                DeliveryState::Failed,
                "failures are kept for the admin"
            );
        })
        .await;
    }

    #[test]
    fn ordering_keys_follow_the_object_and_see_through_wrappers() {
        use super::super::outbox::ordering_key;
        let note = json!({"id": "https://a/r/1", "type": "Note"});
        let create = json!({"type": "Create", "actor": "https://a/u/x", "object": note});
        let update = json!({"type": "Update", "actor": "https://a/u/x", "object": note});
        let delete = json!({"type": "Delete", "actor": "https://a/u/x", "object": "https://a/r/1"});
        let announce = json!({"type": "Announce", "actor": "https://a/c/g", "object": create});
        let bare_page = json!({"type": "Announce", "actor": "https://a/c/g",
                               "object": {"id": "https://a/r/1", "type": "Page"}});
        for activity in [&create, &update, &delete, &announce, &bare_page] {
            assert_eq!(
                ordering_key(activity).as_deref(),
                Some("https://a/r/1"),
                "{activity}"
            );
        }
        let like = json!({"type": "Like", "actor": "https://a/u/x", "object": "https://a/r/1"});
        let undo = json!({"type": "Undo", "actor": "https://a/u/x", "object": like});
        let other_voter =
            json!({"type": "Like", "actor": "https://a/u/y", "object": "https://a/r/1"});
        assert_eq!(ordering_key(&like), ordering_key(&undo));
        assert_ne!(ordering_key(&like), ordering_key(&other_voter));
        assert_ne!(ordering_key(&like), ordering_key(&create));
        let follow = json!({"type": "Follow", "actor": "https://b/u/z", "object": "https://a/c/g"});
        let accept = json!({"type": "Accept", "actor": "https://a/c/g", "object": follow});
        assert_eq!(ordering_key(&follow), ordering_key(&accept));
        assert_eq!(ordering_key(&json!({"type": "Create"})), None);
    }

    #[test]
    fn backoff_grows_and_stops_after_two_days() {
        let now = crate::db::now();
        let mut delivery = OutboxDelivery {
            id: 1,
            activity_id: 1,
            instance_id: 1,
            inbox_url: String::new(),
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            created_at: now,
            updated_at: now,
            ordering_key: None,
            claimed_until: None,
        };
        let first = retry_or_give_up(&delivery, now, now, None, String::new(), None);
        delivery.attempts = 5;
        let later = retry_or_give_up(&delivery, now, now, None, String::new(), None);
        assert!(first.next_attempt_at - now <= chrono::Duration::seconds(12));
        assert!(later.next_attempt_at - now >= chrono::Duration::seconds(250));
        let asked = retry_or_give_up(
            &delivery,
            now,
            now,
            None,
            String::new(),
            Some(Duration::from_secs(3600)),
        );
        assert!(asked.next_attempt_at - now >= chrono::Duration::seconds(3600));
        let old = now - chrono::Duration::days(3);
        let given_up = retry_or_give_up(&delivery, old, now, Some(503), "x".into(), None);
        assert_eq!(given_up.state, DeliveryState::Failed);
    }
}
