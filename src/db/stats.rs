//! Instance-wide counts for NodeInfo.

use chrono::TimeDelta;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{answers, communities, local_accounts, persons, threads};
use super::types::{AccountStatus, Visibility};
use super::{Db, DbError};

/// What NodeInfo reports about this instance's own people and content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalUsage {
    /// Active local accounts.
    pub users: i64,
    /// Local people who wrote a thread or answer in the last 30 days.
    pub active_month: i64,
    /// The same over 180 days.
    pub active_half_year: i64,
    /// Local threads and answers that are not deleted, in `public` communities only: what
    /// `internal` and `partners` communities hold is not told to the world.
    pub local_threads: i64,
    pub local_answers: i64,
}

pub async fn local_usage(db: &Db) -> Result<LocalUsage, DbError> {
    let now = super::now();
    let month = now - TimeDelta::days(30);
    let half_year = now - TimeDelta::days(180);
    crate::with_conn!(db, |conn| {
        Ok(on_conn!(&mut conn, |c| {
            let users = local_accounts::table
                .filter(local_accounts::status.eq(AccountStatus::Active))
                .count()
                .get_result::<i64>(c)
                .await?;
            let public = || {
                communities::table
                    .filter(communities::visibility.eq(Visibility::Public))
                    .select(communities::id)
            };
            let local_threads = threads::table
                .filter(threads::local.eq(true))
                .filter(threads::community_id.eq_any(public()))
                .filter(threads::deleted.eq(false))
                .count()
                .get_result::<i64>(c)
                .await?;
            let local_answers = answers::table
                .inner_join(threads::table)
                .filter(answers::local.eq(true))
                .filter(threads::community_id.eq_any(public()))
                .filter(answers::deleted.eq(false))
                .count()
                .get_result::<i64>(c)
                .await?;
            let mut active = [0i64; 2];
            for (slot, since) in [month, half_year].into_iter().enumerate() {
                let mut authors: Vec<i64> = threads::table
                    .inner_join(persons::table)
                    .filter(persons::local.eq(true))
                    .filter(threads::published.ge(since))
                    .select(threads::author_id)
                    .distinct()
                    .load(c)
                    .await?;
                authors.extend(
                    answers::table
                        .inner_join(persons::table)
                        .filter(persons::local.eq(true))
                        .filter(answers::published.ge(since))
                        .select(answers::author_id)
                        .distinct()
                        .load::<i64>(c)
                        .await?,
                );
                authors.sort_unstable();
                authors.dedup();
                active[slot] = authors.len() as i64;
            }
            LocalUsage {
                users,
                active_month: active[0],
                active_half_year: active[1],
                local_threads,
                local_answers,
            }
        }))
    })
}
