//! Votes on threads and answers: one per person per object, +1 or -1 (0 removes it).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::{answer_votes, thread_votes};

/// Sets (or with `score == 0` removes) a person's vote on a thread.
pub async fn set_thread_vote(
    conn: &mut DbConn<'_>,
    thread_id: i64,
    person_id: i64,
    score: i64,
    ap_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        if score == 0 {
            diesel::delete(
                thread_votes::table
                    .filter(thread_votes::thread_id.eq(thread_id))
                    .filter(thread_votes::person_id.eq(person_id)),
            )
            .execute(c)
            .await
        } else {
            diesel::insert_into(thread_votes::table)
                .values((
                    thread_votes::thread_id.eq(thread_id),
                    thread_votes::person_id.eq(person_id),
                    thread_votes::score.eq(score),
                    thread_votes::ap_id.eq(ap_id),
                    thread_votes::created_at.eq(now),
                    thread_votes::updated_at.eq(now),
                ))
                .on_conflict((thread_votes::thread_id, thread_votes::person_id))
                .do_update()
                .set((
                    thread_votes::score.eq(score),
                    thread_votes::ap_id.eq(ap_id),
                    thread_votes::updated_at.eq(now),
                ))
                .execute(c)
                .await
        }
    })?;
    Ok(())
}

/// Sets (or with `score == 0` removes) a person's vote on an answer.
pub async fn set_answer_vote(
    conn: &mut DbConn<'_>,
    answer_id: i64,
    person_id: i64,
    score: i64,
    ap_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        if score == 0 {
            diesel::delete(
                answer_votes::table
                    .filter(answer_votes::answer_id.eq(answer_id))
                    .filter(answer_votes::person_id.eq(person_id)),
            )
            .execute(c)
            .await
        } else {
            diesel::insert_into(answer_votes::table)
                .values((
                    answer_votes::answer_id.eq(answer_id),
                    answer_votes::person_id.eq(person_id),
                    answer_votes::score.eq(score),
                    answer_votes::ap_id.eq(ap_id),
                    answer_votes::created_at.eq(now),
                    answer_votes::updated_at.eq(now),
                ))
                .on_conflict((answer_votes::answer_id, answer_votes::person_id))
                .do_update()
                .set((
                    answer_votes::score.eq(score),
                    answer_votes::ap_id.eq(ap_id),
                    answer_votes::updated_at.eq(now),
                ))
                .execute(c)
                .await
        }
    })?;
    Ok(())
}

/// A person's votes on the given threads.
pub async fn thread_votes_of(
    conn: &mut DbConn<'_>,
    person_id: i64,
    thread_ids: &[i64],
) -> QueryResult<Vec<(i64, i64)>> {
    on_conn!(conn, |c| {
        thread_votes::table
            .filter(thread_votes::person_id.eq(person_id))
            .filter(super::id_in(thread_votes::thread_id, thread_ids))
            .select((thread_votes::thread_id, thread_votes::score))
            .load(c)
            .await
    })
}

/// A person's votes on the given answers.
pub async fn answer_votes_of(
    conn: &mut DbConn<'_>,
    person_id: i64,
    answer_ids: &[i64],
) -> QueryResult<Vec<(i64, i64)>> {
    on_conn!(conn, |c| {
        answer_votes::table
            .filter(answer_votes::person_id.eq(person_id))
            .filter(super::id_in(answer_votes::answer_id, answer_ids))
            .select((answer_votes::answer_id, answer_votes::score))
            .load(c)
            .await
    })
}

/// A person's vote on a thread: its score and the id of the activity that carried it.
pub async fn thread_vote(
    conn: &mut DbConn<'_>,
    thread_id: i64,
    person_id: i64,
) -> QueryResult<Option<(i64, Option<String>)>> {
    on_conn!(conn, |c| {
        thread_votes::table
            .filter(thread_votes::thread_id.eq(thread_id))
            .filter(thread_votes::person_id.eq(person_id))
            .select((thread_votes::score, thread_votes::ap_id))
            .first(c)
            .await
            .optional()
    })
}

/// A person's vote on an answer: its score and the id of the activity that carried it.
pub async fn answer_vote(
    conn: &mut DbConn<'_>,
    answer_id: i64,
    person_id: i64,
) -> QueryResult<Option<(i64, Option<String>)>> {
    on_conn!(conn, |c| {
        answer_votes::table
            .filter(answer_votes::answer_id.eq(answer_id))
            .filter(answer_votes::person_id.eq(person_id))
            .select((answer_votes::score, answer_votes::ap_id))
            .first(c)
            .await
            .optional()
    })
}
