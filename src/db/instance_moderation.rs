//! Instance-wide moderation rows: people an admin banned from the whole instance, and
//! content purged for good.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::answer::Answer;
use super::schema::{answers, instance_bans, threads};
use super::thread::Thread;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = instance_bans)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct InstanceBan {
    pub person_id: i64,
    pub reason: String,
    pub expires_at: Option<NaiveDateTime>,
    pub banned_by: Option<i64>,
    pub published: NaiveDateTime,
}

/// Bans (or bans again, with the new reason and expiry).
pub async fn upsert_ban(conn: &mut DbConn<'_>, ban: &InstanceBan) -> QueryResult<InstanceBan> {
    on_conn!(conn, |c| {
        diesel::insert_into(instance_bans::table)
            .values(ban)
            .on_conflict(instance_bans::person_id)
            .do_update()
            .set(ban)
            .returning(InstanceBan::as_returning())
            .get_result(c)
            .await
    })
}

/// Lifts a ban; false when there was none.
pub async fn delete_ban(conn: &mut DbConn<'_>, person_id: i64) -> QueryResult<bool> {
    let removed = on_conn!(conn, |c| {
        diesel::delete(instance_bans::table.find(person_id))
            .execute(c)
            .await
    })?;
    Ok(removed > 0)
}

/// The person's instance ban if it is in force at `now`.
pub async fn ban_in_force(
    conn: &mut DbConn<'_>,
    person_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<InstanceBan>> {
    on_conn!(conn, |c| {
        instance_bans::table
            .find(person_id)
            .filter(
                instance_bans::expires_at
                    .is_null()
                    .or(instance_bans::expires_at.gt(now)),
            )
            .select(InstanceBan::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// Bans in force, newest first.
pub async fn bans_in_force(
    conn: &mut DbConn<'_>,
    now: NaiveDateTime,
) -> QueryResult<Vec<InstanceBan>> {
    on_conn!(conn, |c| {
        instance_bans::table
            .filter(
                instance_bans::expires_at
                    .is_null()
                    .or(instance_bans::expires_at.gt(now)),
            )
            .order(instance_bans::published.desc())
            .select(InstanceBan::as_select())
            .load(c)
            .await
    })
}

/// What `person_id` wrote that is neither deleted nor removed: threads, then answers.
pub async fn live_posts_by(
    conn: &mut DbConn<'_>,
    person_id: i64,
) -> QueryResult<(Vec<Thread>, Vec<Answer>)> {
    on_conn!(conn, |c| {
        let found_threads = threads::table
            .filter(threads::author_id.eq(person_id))
            .filter(threads::deleted.eq(false))
            .filter(threads::removed.eq(false))
            .select(Thread::as_select())
            .load(c)
            .await?;
        let found_answers = answers::table
            .filter(answers::author_id.eq(person_id))
            .filter(answers::deleted.eq(false))
            .filter(answers::removed.eq(false))
            .select(Answer::as_select())
            .load(c)
            .await?;
        Ok((found_threads, found_answers))
    })
}

/// Deletes a thread for good; its answers, votes, tags, revisions and reports go with it
/// (the foreign keys cascade), and the search index follows.
pub async fn purge_thread(conn: &mut DbConn<'_>, id: i64) -> QueryResult<bool> {
    let removed = on_conn!(conn, |c| {
        diesel::delete(threads::table.find(id)).execute(c).await
    })?;
    Ok(removed > 0)
}

/// Deletes an answer for good, with its replies, votes and revisions.
pub async fn purge_answer(conn: &mut DbConn<'_>, id: i64) -> QueryResult<bool> {
    let removed = on_conn!(conn, |c| {
        diesel::delete(answers::table.find(id)).execute(c).await
    })?;
    Ok(removed > 0)
}
