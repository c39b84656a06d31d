//! Domains blocked by an admin: nothing is fetched from or delivered to them, and their
//! activities are refused.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::domain_blocks;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = domain_blocks)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct DomainBlock {
    pub id: i64,
    pub domain: String,
    pub reason: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Blocks `domain` (or updates the reason of an existing block).
pub async fn upsert(
    conn: &mut DbConn<'_>,
    domain: &str,
    reason: Option<&str>,
    created_by: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<DomainBlock> {
    on_conn!(conn, |c| {
        diesel::insert_into(domain_blocks::table)
            .values((
                domain_blocks::domain.eq(domain),
                domain_blocks::reason.eq(reason),
                domain_blocks::created_by.eq(created_by),
                domain_blocks::created_at.eq(now),
            ))
            .on_conflict(domain_blocks::domain)
            .do_update()
            .set(domain_blocks::reason.eq(reason))
            .returning(DomainBlock::as_returning())
            .get_result(c)
            .await
    })
}

/// Lifts a block; false when there was none.
pub async fn delete(conn: &mut DbConn<'_>, domain: &str) -> QueryResult<bool> {
    let removed = on_conn!(conn, |c| {
        diesel::delete(domain_blocks::table.filter(domain_blocks::domain.eq(domain)))
            .execute(c)
            .await
    })?;
    Ok(removed > 0)
}

pub async fn list(conn: &mut DbConn<'_>) -> QueryResult<Vec<DomainBlock>> {
    on_conn!(conn, |c| {
        domain_blocks::table
            .order(domain_blocks::domain)
            .select(DomainBlock::as_select())
            .load(c)
            .await
    })
}

/// Whether `authority` (a normalized `host` or `host:port`) is blocked, by an entry for it,
/// for its host on any port, or for a parent domain: blocking `example.com` also blocks
/// `social.example.com`.
pub async fn is_blocked(conn: &mut DbConn<'_>, authority: &str) -> QueryResult<bool> {
    let candidates = super::federation_policy::block_candidates(authority);
    Ok(!blocked_among(conn, &candidates).await?.is_empty())
}

/// Which of `domains` are blocked (exact entries; see
/// [`block_candidates`](super::federation_policy::block_candidates) for what covers what).
pub async fn blocked_among(conn: &mut DbConn<'_>, domains: &[String]) -> QueryResult<Vec<String>> {
    on_conn!(conn, |c| {
        domain_blocks::table
            .filter(super::text_in(domain_blocks::domain, domains))
            .select(domain_blocks::domain)
            .load(c)
            .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::for_each_backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_block_covers_the_domain_and_its_subdomains_only() {
        for_each_backend(async |db| {
            let now = crate::db::now();
            let checks = async {
                crate::with_conn!(&db, |conn| {
                    upsert(&mut conn, "spam.example", Some("spam"), None, now).await?;
                    upsert(&mut conn, "spam.example", Some("still spam"), None, now).await?;
                    let listed = list(&mut conn).await?;
                    let results = (
                        is_blocked(&mut conn, "spam.example").await?,
                        is_blocked(&mut conn, "social.spam.example").await?,
                        is_blocked(&mut conn, "notspam.example").await?,
                        is_blocked(&mut conn, "example").await?,
                    );
                    let removed = delete(&mut conn, "spam.example").await?;
                    let after = is_blocked(&mut conn, "spam.example").await?;
                    Ok::<_, crate::db::DbError>((listed, results, removed, after))
                })
            };
            let (listed, results, removed, after) = checks.await.expect("queries");
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].reason.as_deref(), Some("still spam"));
            assert_eq!(results, (true, true, false, false));
            assert!(removed && !after);
        })
        .await;
    }
}
