//! Answers and replies: notes in a thread, to the thread or to another answer.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::answers;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = answers)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Answer {
    pub id: i64,
    pub ap_id: String,
    pub local: bool,
    pub thread_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: i64,
    pub depth: i64,
    pub body: String,
    pub body_html: String,
    pub accepted: bool,
    pub accepted_at: Option<NaiveDateTime>,
    pub score: i64,
    pub upvotes: i64,
    pub downvotes: i64,
    pub deleted: bool,
    pub removed: bool,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = answers)]
pub struct AnswerInsertForm {
    pub ap_id: String,
    pub local: bool,
    pub thread_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: i64,
    pub depth: i64,
    pub body: String,
    pub body_html: String,
    pub published: NaiveDateTime,
}

pub async fn insert(conn: &mut DbConn<'_>, form: &AnswerInsertForm) -> QueryResult<Answer> {
    on_conn!(conn, |c| {
        diesel::insert_into(answers::table)
            .values(form)
            .returning(Answer::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn read(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Answer> {
    on_conn!(conn, |c| {
        answers::table
            .find(id)
            .select(Answer::as_select())
            .first(c)
            .await
    })
}

/// Every answer of a thread (tombstones included, so replies keep their place), oldest first.
pub async fn list_for_thread(conn: &mut DbConn<'_>, thread_id: i64) -> QueryResult<Vec<Answer>> {
    load_rows!(
        conn,
        answers::table
            .filter(answers::thread_id.eq(thread_id))
            .order_by((answers::published.asc(), answers::id.asc()))
            .select(Answer::as_select())
    )
}

/// Ids of the accepted answers of each of `thread_ids`.
pub async fn accepted_ids(
    conn: &mut DbConn<'_>,
    thread_ids: &[i64],
) -> QueryResult<Vec<(i64, i64)>> {
    on_conn!(conn, |c| {
        answers::table
            .filter(super::id_in(answers::thread_id, thread_ids))
            .filter(answers::accepted.eq(true))
            .filter(answers::deleted.eq(false))
            .order_by(answers::id.asc())
            .select((answers::thread_id, answers::id))
            .load(c)
            .await
    })
}

pub async fn set_ap_id(conn: &mut DbConn<'_>, id: i64, ap_id: &str) -> QueryResult<Answer> {
    on_conn!(conn, |c| {
        diesel::update(answers::table.find(id))
            .set(answers::ap_id.eq(ap_id))
            .returning(Answer::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn update_body(
    conn: &mut DbConn<'_>,
    id: i64,
    body: &str,
    body_html: &str,
    now: NaiveDateTime,
) -> QueryResult<Answer> {
    on_conn!(conn, |c| {
        diesel::update(answers::table.find(id))
            .set((
                answers::body.eq(body),
                answers::body_html.eq(body_html),
                answers::updated.eq(Some(now)),
            ))
            .returning(Answer::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn set_accepted(
    conn: &mut DbConn<'_>,
    id: i64,
    accepted: bool,
    now: NaiveDateTime,
) -> QueryResult<Answer> {
    on_conn!(conn, |c| {
        diesel::update(answers::table.find(id))
            .set((
                answers::accepted.eq(accepted),
                answers::accepted_at.eq(accepted.then_some(now)),
            ))
            .returning(Answer::as_returning())
            .get_result(c)
            .await
    })
}

/// Soft delete: the tombstone keeps its place in the tree so replies below stay visible.
/// A deleted answer is no longer accepted.
pub async fn mark_deleted(
    conn: &mut DbConn<'_>,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<Answer> {
    on_conn!(conn, |c| {
        diesel::update(answers::table.find(id))
            .set((
                answers::deleted.eq(true),
                answers::accepted.eq(false),
                answers::accepted_at.eq(None::<NaiveDateTime>),
                answers::body.eq(""),
                answers::body_html.eq(""),
                answers::updated.eq(Some(now)),
            ))
            .returning(Answer::as_returning())
            .get_result(c)
            .await
    })
}

/// Recomputes the vote totals from the votes table (call with the thread locked).
pub async fn refresh_score(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Answer> {
    use super::schema::answer_votes;
    let (up, down): (i64, i64) = on_conn!(conn, |c| {
        let up = answer_votes::table
            .filter(answer_votes::answer_id.eq(id))
            .filter(answer_votes::score.gt(0))
            .count()
            .get_result::<i64>(c)
            .await?;
        let down = answer_votes::table
            .filter(answer_votes::answer_id.eq(id))
            .filter(answer_votes::score.lt(0))
            .count()
            .get_result::<i64>(c)
            .await?;
        Ok::<_, diesel::result::Error>((up, down))
    })?;
    on_conn!(conn, |c| {
        diesel::update(answers::table.find(id))
            .set((
                answers::upvotes.eq(up),
                answers::downvotes.eq(down),
                answers::score.eq(up - down),
            ))
            .returning(Answer::as_returning())
            .get_result(c)
            .await
    })
}

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
            answers::accepted.eq(false),
            answers::body.eq(""),
            answers::body_html.eq(""),
            answers::updated.eq(Some(now)),
        ))
        .execute(c)
        .await
    })
}

/// The answer with this ActivityPub id, local or remote.
pub async fn read_by_ap_id(conn: &mut DbConn<'_>, ap_id: &str) -> QueryResult<Option<Answer>> {
    on_conn!(conn, |c| {
        answers::table
            .filter(answers::ap_id.eq(ap_id))
            .select(Answer::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// A moderator's removal (or its undoing): the text and the accepted mark stay, hidden, so
/// both come back with a restore.
pub async fn set_removed(conn: &mut DbConn<'_>, id: i64, removed: bool) -> QueryResult<Answer> {
    on_conn!(conn, |c| {
        diesel::update(answers::table.find(id))
            .set(answers::removed.eq(removed))
            .returning(Answer::as_returning())
            .get_result(c)
            .await
    })
}
