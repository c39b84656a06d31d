//! Threads (questions and discussions) in communities.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::threads;

/// Soft-deletes every thread by `author_id`, keeping tombstones (ids stay valid) without
/// their text. Returns how many threads changed.
pub async fn delete_all_by_author(
    conn: &mut DbConn<'_>,
    author_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    on_conn!(conn, |c| {
        diesel::update(
            threads::table
                .filter(threads::author_id.eq(author_id))
                .filter(threads::deleted.eq(false)),
        )
        .set((
            threads::deleted.eq(true),
            threads::title.eq("[deleted]"),
            threads::body.eq(""),
            threads::body_html.eq(""),
            threads::updated.eq(Some(now)),
        ))
        .execute(c)
        .await
    })
}
