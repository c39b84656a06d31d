//! Community moderators: the creator first, then whoever moderators add.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::person::Person;
use super::schema::{community_moderators, persons};

pub async fn add(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::insert_into(community_moderators::table)
            .values((
                community_moderators::community_id.eq(community_id),
                community_moderators::person_id.eq(person_id),
                community_moderators::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    Ok(())
}

pub async fn remove(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
) -> QueryResult<usize> {
    on_conn!(conn, |c| {
        diesel::delete(
            community_moderators::table
                .filter(community_moderators::community_id.eq(community_id))
                .filter(community_moderators::person_id.eq(person_id)),
        )
        .execute(c)
        .await
    })
}

pub async fn is_moderator(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
) -> QueryResult<bool> {
    on_conn!(conn, |c| {
        diesel::select(diesel::dsl::exists(
            community_moderators::table
                .filter(community_moderators::community_id.eq(community_id))
                .filter(community_moderators::person_id.eq(person_id)),
        ))
        .get_result(c)
        .await
    })
}

/// Which of `community_ids` the person moderates.
pub async fn moderated_among(
    conn: &mut DbConn<'_>,
    person_id: i64,
    community_ids: &[i64],
) -> QueryResult<Vec<i64>> {
    on_conn!(conn, |c| {
        community_moderators::table
            .filter(community_moderators::person_id.eq(person_id))
            .filter(super::id_in(
                community_moderators::community_id,
                community_ids,
            ))
            .select(community_moderators::community_id)
            .load(c)
            .await
    })
}

/// The moderators of a community, longest-serving first.
pub async fn list(conn: &mut DbConn<'_>, community_id: i64) -> QueryResult<Vec<Person>> {
    on_conn!(conn, |c| {
        community_moderators::table
            .inner_join(persons::table)
            .filter(community_moderators::community_id.eq(community_id))
            .order_by(community_moderators::created_at.asc())
            .select(Person::as_select())
            .load(c)
            .await
    })
}

/// Every community the person moderates.
pub async fn moderated_by(conn: &mut DbConn<'_>, person_id: i64) -> QueryResult<Vec<i64>> {
    on_conn!(conn, |c| {
        community_moderators::table
            .filter(community_moderators::person_id.eq(person_id))
            .select(community_moderators::community_id)
            .load(c)
            .await
    })
}
