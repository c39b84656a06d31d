//! Answers and replies: notes in a thread, to the thread or to another answer.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::answers;

/// Soft-deletes every answer by `author_id`, keeping tombstones so replies below them stay
/// in place. Returns how many answers changed.
pub async fn delete_all_by_author(
    conn: &mut DbConn<'_>,
    author_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    on_conn!(conn, |c| {
        diesel::update(
            answers::table
                .filter(answers::author_id.eq(author_id))
                .filter(answers::deleted.eq(false)),
        )
        .set((
            answers::deleted.eq(true),
            answers::body.eq(""),
            answers::body_html.eq(""),
            answers::updated.eq(Some(now)),
        ))
        .execute(c)
        .await
    })
}
