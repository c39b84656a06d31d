//! Outgoing activities and their deliveries, one row per (activity, remote inbox).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::{outbox_activities, outbox_deliveries};
use super::types::DeliveryState;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = outbox_activities)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct OutboxActivity {
    pub id: i64,
    pub ap_id: String,
    /// The actor whose key signs every delivery of this activity.
    pub actor_ap_id: String,
    pub kind: String,
    /// The activity JSON exactly as it is sent.
    pub payload: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = outbox_deliveries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct OutboxDelivery {
    pub id: i64,
    pub activity_id: i64,
    pub instance_id: i64,
    pub inbox_url: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: NaiveDateTime,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// What the activity is about (an object, or an actor's vote or follow of one); a
    /// delivery waits while an earlier one with the same key to the same inbox is pending.
    pub ordering_key: Option<String>,
    /// While a worker is sending it: until when it is reserved.
    pub claimed_until: Option<NaiveDateTime>,
}

pub async fn insert_activity(
    conn: &mut DbConn<'_>,
    ap_id: &str,
    actor_ap_id: &str,
    kind: &str,
    payload: &str,
    now: NaiveDateTime,
) -> QueryResult<OutboxActivity> {
    on_conn!(conn, |c| {
        diesel::insert_into(outbox_activities::table)
            .values((
                outbox_activities::ap_id.eq(ap_id),
                outbox_activities::actor_ap_id.eq(actor_ap_id),
                outbox_activities::kind.eq(kind),
                outbox_activities::payload.eq(payload),
                outbox_activities::created_at.eq(now),
            ))
            .returning(OutboxActivity::as_returning())
            .get_result(c)
            .await
    })
}

/// Adds a delivery: pending, or held while an earlier one with the same ordering key to
/// the same inbox is unfinished. A second one to the same inbox for the same activity is
/// ignored.
pub async fn insert_delivery(
    conn: &mut DbConn<'_>,
    activity_id: i64,
    instance_id: i64,
    inbox_url: &str,
    ordering_key: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let waits = match ordering_key {
        None => false,
        Some(key) => on_conn!(conn, |c| {
            diesel::select(diesel::dsl::exists(
                outbox_deliveries::table
                    .filter(outbox_deliveries::inbox_url.eq(inbox_url))
                    .filter(outbox_deliveries::ordering_key.eq(key))
                    // Spelled as the partial index `outbox_deliveries_order` is, so SQLite
                    // can use it without looking at bound values (which it may not: see
                    // `.cargo/config.toml`).
                    .filter(super::fixed_sql::<diesel::sql_types::Bool>(
                        "state IN ('pending', 'held')",
                    )),
            ))
            .get_result::<bool>(c)
            .await
        })?,
    };
    let state = if waits {
        DeliveryState::Held
    } else {
        DeliveryState::Pending
    };
    on_conn!(conn, |c| {
        diesel::insert_into(outbox_deliveries::table)
            .values((
                outbox_deliveries::activity_id.eq(activity_id),
                outbox_deliveries::ordering_key.eq(ordering_key),
                outbox_deliveries::instance_id.eq(instance_id),
                outbox_deliveries::inbox_url.eq(inbox_url),
                outbox_deliveries::state.eq(state),
                outbox_deliveries::attempts.eq(0i64),
                outbox_deliveries::next_attempt_at.eq(now),
                outbox_deliveries::created_at.eq(now),
                outbox_deliveries::updated_at.eq(now),
            ))
            .on_conflict((outbox_deliveries::activity_id, outbox_deliveries::inbox_url))
            .do_nothing()
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Takes up to `limit` due deliveries and pushes their `next_attempt_at` to `lease_until`,
/// so neither this process nor another takes them again while they are being sent; a
/// process that dies mid-send leaves them to be taken again when the lease runs out.
/// Run inside a transaction: on PostgreSQL the rows are locked with `SKIP LOCKED`, so
/// several processes claim disjoint sets.
/// Instances in `busy` (at their concurrency limit in this process) are skipped, so their
/// backlog does not take the places of other instances' deliveries. Held deliveries (an
/// earlier one about the same object to the same inbox is unfinished) are not taken.
pub async fn claim_due(
    conn: &mut DbConn<'_>,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
    busy: &[i64],
) -> QueryResult<Vec<(OutboxDelivery, OutboxActivity)>> {
    use super::schema::instances;
    // Dead instances' deliveries wait (kept, not attempted) until the instance is revived.
    let alive = instances::table
        .filter(instances::dead_since.is_null())
        .select(instances::id);
    let due = outbox_deliveries::table
        .filter(outbox_deliveries::state.eq(DeliveryState::Pending))
        .filter(outbox_deliveries::next_attempt_at.le(now))
        .filter(super::id_not_in(outbox_deliveries::instance_id, busy))
        .filter(outbox_deliveries::instance_id.eq_any(alive))
        .order((outbox_deliveries::next_attempt_at, outbox_deliveries::id))
        .limit(limit)
        .select(outbox_deliveries::id);
    let ids: Vec<i64> = match conn {
        DbConn::Sqlite(c) => due.load(&mut **c).await?,
        DbConn::Postgres(c) => {
            // The only plan that stays cheap when many deliveries are due is the ordered
            // scan of `outbox_deliveries_due` that stops at the limit. PostgreSQL's choice
            // rests on statistics, and a fan-out adds thousands of due rows faster than
            // autovacuum analyzes them: with the table's last statistics saying it is
            // nearly empty, it read and sorted every due row on each claim (10-360 ms
            // each, 200 deliveries/s instead of 500, seen with auto_explain). Sorting is
            // made the costliest choice for this transaction only.
            diesel::sql_query("SET LOCAL enable_sort = off")
                .execute(&mut **c)
                .await?;
            due.for_update().skip_locked().load(&mut **c).await?
        }
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    on_conn!(conn, |c| {
        super::keep_prepared(
            diesel::update(
                outbox_deliveries::table.filter(super::id_in(outbox_deliveries::id, &ids)),
            )
            .set((
                outbox_deliveries::next_attempt_at.eq(lease_until),
                outbox_deliveries::claimed_until.eq(Some(lease_until)),
            )),
        )
        .execute(c)
        .await?;
        outbox_deliveries::table
            .inner_join(outbox_activities::table)
            .filter(super::id_in(outbox_deliveries::id, &ids))
            .order(outbox_deliveries::id)
            .select((OutboxDelivery::as_select(), OutboxActivity::as_select()))
            .load(c)
            .await
    })
}

/// Gives claimed deliveries back: due again at `now`.
pub async fn release(conn: &mut DbConn<'_>, ids: &[i64], now: NaiveDateTime) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::update(outbox_deliveries::table.filter(super::id_in(outbox_deliveries::id, ids)))
            .set((
                outbox_deliveries::next_attempt_at.eq(now),
                outbox_deliveries::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// After a delivery with `ordering_key` to `inbox_url` finished: the first held one with
/// the same key to the same inbox becomes pending, due now.
pub async fn release_next_held(
    conn: &mut DbConn<'_>,
    inbox_url: &str,
    ordering_key: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let next: Option<i64> = on_conn!(conn, |c| {
        outbox_deliveries::table
            .filter(outbox_deliveries::state.eq(DeliveryState::Held))
            .filter(outbox_deliveries::inbox_url.eq(inbox_url))
            .filter(outbox_deliveries::ordering_key.eq(ordering_key))
            .order(outbox_deliveries::id)
            .select(outbox_deliveries::id)
            .first(c)
            .await
            .optional()
    })?;
    if let Some(id) = next {
        on_conn!(conn, |c| {
            super::keep_prepared(
                diesel::update(
                    outbox_deliveries::table
                        .find(id)
                        .filter(outbox_deliveries::state.eq(DeliveryState::Held)),
                )
                .set((
                    outbox_deliveries::state.eq(DeliveryState::Pending),
                    outbox_deliveries::next_attempt_at.eq(now),
                )),
            )
            .execute(c)
            .await
        })?;
    }
    Ok(())
}

/// True for a delivery that no earlier unfinished delivery to its inbox with its ordering
/// key precedes.
const NO_EARLIER_UNFINISHED: &str = "(SELECT earlier.id FROM outbox_deliveries AS earlier \
     WHERE earlier.inbox_url = outbox_deliveries.inbox_url \
     AND earlier.ordering_key = outbox_deliveries.ordering_key \
     AND earlier.id < outbox_deliveries.id \
     AND earlier.state IN ('pending', 'held') \
     LIMIT 1) IS NULL";

/// Releases held deliveries that nothing unfinished precedes any more (possible when a
/// delivery was stored while its predecessor finished in a concurrent transaction).
/// Touches held rows only, with one index lookup each. Returns how many were released.
pub async fn release_orphaned_held(
    conn: &mut DbConn<'_>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    // "No earlier unfinished delivery" is asked as a scalar subquery that finds none, not
    // as NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti-join whose plan rests on
    // statistics, and with the statistics of before a fan-out (no held rows) it compared
    // every held row with every unfinished one: 8.9 s for one sweep during the benchmark's
    // fan-out, with the claim loop waiting on it. A scalar subquery stays a lookup in
    // `outbox_deliveries_order` per held row (16 ms for 5,000 held rows) on both backends.
    on_conn!(conn, |c| {
        diesel::update(
            outbox_deliveries::table.filter(outbox_deliveries::state.eq(DeliveryState::Held).and(
                super::fixed_sql::<diesel::sql_types::Bool>(NO_EARLIER_UNFINISHED),
            )),
        )
        .set((
            outbox_deliveries::state.eq(DeliveryState::Pending),
            outbox_deliveries::next_attempt_at.eq(now),
        ))
        .execute(c)
        .await
    })
}

/// Makes every claimed, unconfirmed delivery due now: for a process starting on SQLite,
/// where no other process can be sending them, so a crash costs no lease wait.
pub async fn release_all_claims(conn: &mut DbConn<'_>, now: NaiveDateTime) -> QueryResult<usize> {
    on_conn!(conn, |c| {
        diesel::update(
            outbox_deliveries::table
                .filter(outbox_deliveries::state.eq(DeliveryState::Pending))
                .filter(outbox_deliveries::claimed_until.is_not_null()),
        )
        .set((
            outbox_deliveries::next_attempt_at.eq(now),
            outbox_deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(c)
        .await
    })
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub state: DeliveryState,
    /// When to try again (pending only).
    pub next_attempt_at: NaiveDateTime,
    pub status: Option<i64>,
    pub error: Option<String>,
}

pub async fn record_attempt(
    conn: &mut DbConn<'_>,
    id: i64,
    outcome: &AttemptOutcome,
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        // One per delivery: kept prepared (`keep_prepared`).
        super::keep_prepared(diesel::update(outbox_deliveries::table.find(id)).set((
            outbox_deliveries::state.eq(outcome.state),
            outbox_deliveries::attempts.eq(outbox_deliveries::attempts + 1i64),
            outbox_deliveries::next_attempt_at.eq(outcome.next_attempt_at),
            outbox_deliveries::last_attempt_at.eq(Some(now)),
            outbox_deliveries::last_status.eq(outcome.status),
            outbox_deliveries::last_error.eq(outcome.error.as_deref()),
            outbox_deliveries::claimed_until.eq(None::<NaiveDateTime>),
            outbox_deliveries::updated_at.eq(now),
        )))
        .execute(c)
        .await
    })?;
    Ok(())
}

/// Deliveries of activities whose id is one of `ap_ids`, for tests and the admin view.
pub async fn deliveries_of(
    conn: &mut DbConn<'_>,
    activity_ap_id: &str,
) -> QueryResult<Vec<OutboxDelivery>> {
    on_conn!(conn, |c| {
        outbox_deliveries::table
            .inner_join(outbox_activities::table)
            .filter(outbox_activities::ap_id.eq(activity_ap_id))
            .select(OutboxDelivery::as_select())
            .order(outbox_deliveries::id)
            .load(c)
            .await
    })
}

/// Every stored activity, newest first, for tests and diagnostics.
pub async fn recent_activities(
    conn: &mut DbConn<'_>,
    limit: i64,
) -> QueryResult<Vec<OutboxActivity>> {
    on_conn!(conn, |c| {
        outbox_activities::table
            .order(outbox_activities::id.desc())
            .limit(limit)
            .select(OutboxActivity::as_select())
            .load(c)
            .await
    })
}

/// Deliveries per remote instance and state, with the instance's health.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InstanceDeliveries {
    pub domain: String,
    pub pending: i64,
    /// Pending deliveries a worker is sending right now (claimed, lease not run out).
    pub in_flight: i64,
    pub delivered: i64,
    pub failed: i64,
    pub last_success_at: Option<NaiveDateTime>,
    pub dead_since: Option<NaiveDateTime>,
    /// Why it is behind: the error of the latest failed attempt among its pending
    /// deliveries (waiting for a retry).
    pub last_error: Option<String>,
}

/// Counts per instance that has deliveries, busiest (most pending) first.
pub async fn per_instance(
    conn: &mut DbConn<'_>,
    now: NaiveDateTime,
) -> QueryResult<Vec<InstanceDeliveries>> {
    use super::schema::instances;
    let in_flight: Vec<(i64, i64)> = on_conn!(conn, |c| {
        outbox_deliveries::table
            .filter(outbox_deliveries::state.eq(DeliveryState::Pending))
            .filter(outbox_deliveries::claimed_until.gt(now))
            .group_by(outbox_deliveries::instance_id)
            .select((outbox_deliveries::instance_id, diesel::dsl::count_star()))
            .load(c)
            .await
    })?;
    let counts: Vec<(i64, DeliveryState, i64)> = on_conn!(conn, |c| {
        outbox_deliveries::table
            .group_by((outbox_deliveries::instance_id, outbox_deliveries::state))
            .select((
                outbox_deliveries::instance_id,
                outbox_deliveries::state,
                diesel::dsl::count_star(),
            ))
            .load(c)
            .await
    })?;
    // Only instances with deliveries waiting for a retry have a reason to show; one small
    // lookup each, as few instances are behind at a time.
    let latest_failures: Vec<(i64, Option<NaiveDateTime>)> = on_conn!(conn, |c| {
        outbox_deliveries::table
            .filter(outbox_deliveries::state.eq(DeliveryState::Pending))
            .filter(outbox_deliveries::last_error.is_not_null())
            .group_by(outbox_deliveries::instance_id)
            .select((
                outbox_deliveries::instance_id,
                diesel::dsl::max(outbox_deliveries::last_attempt_at),
            ))
            .load(c)
            .await
    })?;
    let mut last_errors = std::collections::HashMap::new();
    for (instance_id, at) in latest_failures {
        let Some(at) = at else { continue };
        let error: Option<Option<String>> = on_conn!(conn, |c| {
            outbox_deliveries::table
                .filter(outbox_deliveries::instance_id.eq(instance_id))
                .filter(outbox_deliveries::state.eq(DeliveryState::Pending))
                .filter(outbox_deliveries::last_attempt_at.eq(at))
                .filter(outbox_deliveries::last_error.is_not_null())
                .select(outbox_deliveries::last_error)
                .first(c)
                .await
                .optional()
        })?;
        if let Some(Some(error)) = error {
            last_errors.insert(instance_id, error);
        }
    }
    let ids: Vec<i64> = counts.iter().map(|(id, _, _)| *id).collect();
    let rows: Vec<(i64, String, Option<NaiveDateTime>, Option<NaiveDateTime>)> =
        on_conn!(conn, |c| {
            instances::table
                .filter(super::id_in(instances::id, &ids))
                .select((
                    instances::id,
                    instances::domain,
                    instances::last_success_at,
                    instances::dead_since,
                ))
                .load(c)
                .await
        })?;
    let mut out: Vec<InstanceDeliveries> = rows
        .into_iter()
        .map(|(id, domain, last_success_at, dead_since)| {
            let count = |state: DeliveryState| {
                counts
                    .iter()
                    .filter(|(i, s, _)| *i == id && *s == state)
                    .map(|(_, _, n)| *n)
                    .sum()
            };
            InstanceDeliveries {
                domain,
                pending: count(DeliveryState::Pending) + count(DeliveryState::Held),
                in_flight: in_flight
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map_or(0, |(_, n)| *n),
                delivered: count(DeliveryState::Delivered),
                failed: count(DeliveryState::Failed),
                last_success_at,
                dead_since,
                last_error: last_errors.remove(&id),
            }
        })
        .collect();
    out.sort_by(|a, b| b.pending.cmp(&a.pending).then(a.domain.cmp(&b.domain)));
    Ok(out)
}

/// Notes a successful delivery to the instance: it is alive. Within a minute of the last
/// note nothing is written, so a busy instance does not cost a row write per delivery.
pub async fn instance_answered(
    conn: &mut DbConn<'_>,
    instance_id: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    use super::schema::instances;
    let recently = now - chrono::Duration::seconds(60);
    on_conn!(conn, |c| {
        super::keep_prepared(
            diesel::update(
                instances::table.find(instance_id).filter(
                    instances::last_success_at
                        .is_null()
                        .or(instances::last_success_at.lt(recently))
                        .or(instances::dead_since.is_not_null()),
                ),
            )
            .set((
                instances::last_success_at.eq(Some(now)),
                instances::dead_since.eq(None::<NaiveDateTime>),
            )),
        )
        .execute(c)
        .await
    })?;
    Ok(())
}

/// Marks the instance dead if it has had no successful delivery since `cutoff` (counting
/// from when we first knew it). Returns whether it was marked now.
pub async fn mark_dead_if_silent(
    conn: &mut DbConn<'_>,
    instance_id: i64,
    cutoff: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    use super::schema::instances;
    let marked = on_conn!(conn, |c| {
        diesel::update(
            instances::table
                .filter(instances::id.eq(instance_id))
                .filter(instances::local.eq(false))
                .filter(instances::dead_since.is_null())
                .filter(
                    instances::last_success_at
                        .lt(cutoff)
                        .or(instances::last_success_at
                            .is_null()
                            .and(instances::created_at.lt(cutoff))),
                ),
        )
        .set(instances::dead_since.eq(Some(now)))
        .execute(c)
        .await
    })?;
    Ok(marked > 0)
}

/// Revives the instance with this domain: it answered. Its deliveries parked while it was
/// dead ([`park_dead_backlog`]) are due now. Returns whether it was dead.
pub async fn revive(conn: &mut DbConn<'_>, domain: &str) -> QueryResult<bool> {
    use super::schema::instances;
    // Asked for every received activity, and the sender is almost never dead: a read
    // first, since even an update of no row takes SQLite's one write lock.
    let dead = instances::table
        .filter(instances::domain.eq(domain))
        .filter(instances::dead_since.is_not_null());
    let is_dead: bool = on_conn!(conn, |c| {
        diesel::select(diesel::dsl::exists(dead))
            .get_result(c)
            .await
    })?;
    if !is_dead {
        return Ok(false);
    }
    let revived = on_conn!(conn, |c| {
        diesel::update(
            instances::table
                .filter(instances::domain.eq(domain))
                .filter(instances::dead_since.is_not_null()),
        )
        .set(instances::dead_since.eq(None::<NaiveDateTime>))
        .execute(c)
        .await
    })?;
    if revived > 0 {
        retry_backlog_now(conn, domain, super::now()).await?;
    }
    Ok(revived > 0)
}

/// Moves the due deliveries of dead instances to `until`. The claim walks the due
/// deliveries oldest first and passes over a dead instance's, which stay due (new ones keep
/// being queued for it), so without this every claim would walk a dead instance's whole
/// backlog. Deliveries being sent are not due (their lease is in the future) and are left
/// to their outcome. A revival makes the parked ones due again ([`retry_backlog_now`]);
/// if nothing does, they come due at `until` and are parked again while the instance is
/// still dead. Returns how many were moved. Runs every few seconds and there is usually no
/// dead instance, so the dead are read first: then nothing else is, and otherwise each
/// one's pending deliveries are found through `outbox_deliveries_instance`, not by walking
/// every due delivery.
pub async fn park_dead_backlog(
    conn: &mut DbConn<'_>,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<usize> {
    use super::schema::instances;
    let dead: Vec<i64> = on_conn!(conn, |c| {
        instances::table
            .filter(instances::dead_since.is_not_null())
            .select(instances::id)
            .load(c)
            .await
    })?;
    if dead.is_empty() {
        return Ok(0);
    }
    on_conn!(conn, |c| {
        diesel::update(
            outbox_deliveries::table
                .filter(super::id_in(outbox_deliveries::instance_id, &dead))
                .filter(outbox_deliveries::state.eq(DeliveryState::Pending))
                .filter(outbox_deliveries::next_attempt_at.le(now)),
        )
        .set(outbox_deliveries::next_attempt_at.eq(until))
        .execute(c)
        .await
    })
}

/// Makes the deliveries to `domain` that wait (for a retry, or parked while it was dead)
/// due `now`: it just showed it is reachable, so its backlog need not sit out the rest of
/// its backoff. Returns how many.
pub async fn retry_backlog_now(
    conn: &mut DbConn<'_>,
    domain: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use super::schema::instances;
    on_conn!(conn, |c| {
        diesel::update(
            outbox_deliveries::table
                .filter(
                    outbox_deliveries::instance_id.eq_any(
                        instances::table
                            .filter(instances::domain.eq(domain))
                            .select(instances::id),
                    ),
                )
                .filter(outbox_deliveries::state.eq(DeliveryState::Pending))
                .filter(outbox_deliveries::next_attempt_at.gt(now))
                .filter(
                    outbox_deliveries::claimed_until
                        .is_null()
                        .or(outbox_deliveries::claimed_until.le(now)),
                ),
        )
        .set(outbox_deliveries::next_attempt_at.eq(now))
        .execute(c)
        .await
    })
}

/// Domains of the instances marked dead.
pub async fn dead_domains(conn: &mut DbConn<'_>) -> QueryResult<Vec<String>> {
    use super::schema::instances;
    on_conn!(conn, |c| {
        instances::table
            .filter(instances::dead_since.is_not_null())
            .select(instances::domain)
            .load(c)
            .await
    })
}

/// Deliveries waiting to be sent (due, held or not yet due), over all instances: the
/// queue depth.
pub async fn pending_count(conn: &mut DbConn<'_>) -> QueryResult<i64> {
    on_conn!(conn, |c| {
        outbox_deliveries::table
            .filter(outbox_deliveries::state.eq_any([DeliveryState::Pending, DeliveryState::Held]))
            .count()
            .get_result(c)
            .await
    })
}

/// Deletes deliveries confirmed before `cutoff`, then activities made before it that have
/// no delivery left; failed and pending ones stay for the admin. Returns both counts.
pub async fn prune_delivered(
    conn: &mut DbConn<'_>,
    cutoff: NaiveDateTime,
) -> QueryResult<(usize, usize)> {
    on_conn!(conn, |c| {
        let deliveries = diesel::delete(
            outbox_deliveries::table
                .filter(outbox_deliveries::state.eq(DeliveryState::Delivered))
                .filter(outbox_deliveries::updated_at.lt(cutoff)),
        )
        .execute(c)
        .await?;
        let still_owed = outbox_deliveries::table.select(outbox_deliveries::activity_id);
        let activities = diesel::delete(
            outbox_activities::table
                .filter(outbox_activities::created_at.lt(cutoff))
                .filter(outbox_activities::id.ne_all(still_owed)),
        )
        .execute(c)
        .await?;
        Ok((deliveries, activities))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::for_each_backend;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    struct PgPlanLine {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }

    #[derive(QueryableByName)]
    struct SqlitePlanLine {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// The held-delivery sweep is planned as one lookup per held row, never as a join,
    /// whatever the statistics say: here they were taken of an empty table, as they were
    /// right before a fan-out when PostgreSQL's anti-join compared every held row with
    /// every unfinished one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_held_sweep_looks_up_each_held_row_by_index() {
        for_each_backend(async |db| {
            let sweep = format!(
                "UPDATE outbox_deliveries SET state = 'pending' \
                 WHERE state = 'held' AND {NO_EARLIER_UNFINISHED}"
            );
            let plan = async {
                crate::with_conn!(&db, |conn| {
                    let lines: Vec<String> = match &mut conn {
                        DbConn::Postgres(c) => {
                            diesel::sql_query("ANALYZE outbox_deliveries")
                                .execute(&mut **c)
                                .await?;
                            diesel::sql_query(format!("EXPLAIN {sweep}"))
                                .load::<PgPlanLine>(&mut **c)
                                .await?
                                .into_iter()
                                .map(|l| l.line)
                                .collect()
                        }
                        DbConn::Sqlite(c) => {
                            diesel::sql_query("ANALYZE outbox_deliveries")
                                .execute(&mut **c)
                                .await?;
                            diesel::sql_query(format!("EXPLAIN QUERY PLAN {sweep}"))
                                .load::<SqlitePlanLine>(&mut **c)
                                .await?
                                .into_iter()
                                .map(|l| l.detail)
                                .collect()
                        }
                    };
                    Ok::<_, crate::db::DbError>(lines.join("\n"))
                })
            };
            let plan = plan.await.expect("explain");
            assert!(!plan.contains("Join"), "{plan}");
            // PostgreSQL runs it as a correlated subplan (whose scan may be of the table
            // while it is this small); SQLite names the index it searches.
            assert!(
                plan.contains("SubPlan") || plan.contains("USING INDEX outbox_deliveries_order"),
                "{plan}"
            );
        })
        .await;
    }

    /// A dead instance's due deliveries leave the claim's way (a fresh one and one waiting
    /// for its retry alike), a live instance's stay, and the revival makes them due again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_instances_backlog_is_parked_and_due_again_when_it_revives() {
        for_each_backend(async |db| {
            let now = super::super::now();
            let until = now + chrono::Duration::minutes(10);
            let queries = async {
                crate::with_conn!(&db, |conn| {
                    let live =
                        super::super::instance::ensure_remote(&mut conn, "live.example", now)
                            .await?;
                    let dead =
                        super::super::instance::ensure_remote(&mut conn, "dead.example", now)
                            .await?;
                    let activity = insert_activity(
                        &mut conn,
                        "https://local.example/a/1",
                        "https://local.example/u/ann",
                        "Create",
                        "{}",
                        now,
                    )
                    .await?;
                    for (instance, inbox) in [
                        (&live, "https://live.example/inbox"),
                        (&dead, "https://dead.example/inbox"),
                        (&dead, "https://dead.example/u/bob/inbox"),
                    ] {
                        insert_delivery(&mut conn, activity.id, instance.id, inbox, None, now)
                            .await?;
                    }
                    // One of the dead instance's deliveries failed once and waits for its retry.
                    let retried = AttemptOutcome {
                        state: DeliveryState::Pending,
                        next_attempt_at: now,
                        status: Some(503),
                        error: None,
                    };
                    let first = deliveries_of(&mut conn, &activity.ap_id).await?;
                    record_attempt(&mut conn, first[2].id, &retried, now).await?;
                    assert!(
                        mark_dead_if_silent(
                            &mut conn,
                            dead.id,
                            now + chrono::Duration::days(1),
                            now
                        )
                        .await?
                    );

                    let parked = park_dead_backlog(&mut conn, now, until).await?;
                    let after_park = deliveries_of(&mut conn, &activity.ap_id).await?;
                    let claimed =
                        claim_due(&mut conn, now, now + chrono::Duration::minutes(1), 10, &[])
                            .await?;
                    // A live instance and an unknown one are not revived.
                    assert!(!revive(&mut conn, "live.example").await?);
                    assert!(!revive(&mut conn, "unknown.example").await?);
                    let revived = revive(&mut conn, "dead.example").await?;
                    let after_revival = deliveries_of(&mut conn, &activity.ap_id).await?;
                    let parked_again =
                        park_dead_backlog(&mut conn, super::super::now(), until).await?;
                    Ok::<_, crate::db::DbError>((
                        live.id,
                        parked,
                        after_park,
                        claimed,
                        revived,
                        after_revival,
                        parked_again,
                    ))
                })
            };
            let (live_id, parked, after_park, claimed, revived, after_revival, parked_again) =
                queries.await.expect("queries");
            assert_eq!(parked, 2);
            let next: Vec<(i64, NaiveDateTime)> = after_park
                .iter()
                .map(|d| (d.instance_id, d.next_attempt_at))
                .collect();
            assert_eq!(
                next[0],
                (live_id, now),
                "the live instance's delivery is untouched"
            );
            assert!(next[1..].iter().all(|(_, at)| *at == until), "{next:?}");
            assert_eq!(
                claimed
                    .iter()
                    .map(|(d, _)| d.instance_id)
                    .collect::<Vec<_>>(),
                [live_id]
            );
            assert!(revived);
            assert!(
                after_revival[1..]
                    .iter()
                    .all(|d| d.next_attempt_at < until && d.claimed_until.is_none()),
                "{after_revival:?}"
            );
            assert_eq!(parked_again, 0, "alive again: nothing to park");
        })
        .await;
    }
}
