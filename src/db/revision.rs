//! Edit history: the versions of threads and answers that edits replaced.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::{answer_revisions, thread_revisions};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = thread_revisions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ThreadRevision {
    pub id: i64,
    pub thread_id: i64,
    pub editor_id: i64,
    pub title: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = answer_revisions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AnswerRevision {
    pub id: i64,
    pub answer_id: i64,
    pub editor_id: i64,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// Keeps the version an edit is about to replace.
pub async fn save_thread_version(
    conn: &mut DbConn<'_>,
    thread_id: i64,
    editor_id: i64,
    title: &str,
    body: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::insert_into(thread_revisions::table)
            .values((
                thread_revisions::thread_id.eq(thread_id),
                thread_revisions::editor_id.eq(editor_id),
                thread_revisions::title.eq(title),
                thread_revisions::body.eq(body),
                thread_revisions::created_at.eq(now),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

pub async fn save_answer_version(
    conn: &mut DbConn<'_>,
    answer_id: i64,
    editor_id: i64,
    body: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::insert_into(answer_revisions::table)
            .values((
                answer_revisions::answer_id.eq(answer_id),
                answer_revisions::editor_id.eq(editor_id),
                answer_revisions::body.eq(body),
                answer_revisions::created_at.eq(now),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Earlier versions of a thread, oldest first.
pub async fn thread_history(
    conn: &mut DbConn<'_>,
    thread_id: i64,
) -> QueryResult<Vec<ThreadRevision>> {
    on_conn!(conn, |c| {
        thread_revisions::table
            .filter(thread_revisions::thread_id.eq(thread_id))
            .order_by(thread_revisions::id.asc())
            .select(ThreadRevision::as_select())
            .load(c)
            .await
    })
}

pub async fn answer_history(
    conn: &mut DbConn<'_>,
    answer_id: i64,
) -> QueryResult<Vec<AnswerRevision>> {
    on_conn!(conn, |c| {
        answer_revisions::table
            .filter(answer_revisions::answer_id.eq(answer_id))
            .order_by(answer_revisions::id.asc())
            .select(AnswerRevision::as_select())
            .load(c)
            .await
    })
}
