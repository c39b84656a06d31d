//! Who follows (is a member of) which community, and whether the follow was accepted.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::community_follows;
use super::types::FollowState;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = community_follows)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CommunityFollower {
    pub id: i64,
    pub community_id: i64,
    pub person_id: i64,
    pub state: FollowState,
    pub follow_ap_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Follows or updates the state of an existing follow; returns the row.
pub async fn upsert(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
    state: FollowState,
    now: NaiveDateTime,
) -> QueryResult<CommunityFollower> {
    on_conn!(conn, |c| {
        diesel::insert_into(community_follows::table)
            .values((
                community_follows::community_id.eq(community_id),
                community_follows::person_id.eq(person_id),
                community_follows::state.eq(state),
                community_follows::created_at.eq(now),
                community_follows::updated_at.eq(now),
            ))
            .on_conflict((
                community_follows::community_id,
                community_follows::person_id,
            ))
            .do_update()
            .set((
                community_follows::state.eq(state),
                community_follows::updated_at.eq(now),
            ))
            .returning(CommunityFollower::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn delete(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
) -> QueryResult<usize> {
    on_conn!(conn, |c| {
        diesel::delete(
            community_follows::table
                .filter(community_follows::community_id.eq(community_id))
                .filter(community_follows::person_id.eq(person_id)),
        )
        .execute(c)
        .await
    })
}

/// The follow state of `person_id` for each of `community_ids` that they follow.
pub async fn states_of(
    conn: &mut DbConn<'_>,
    person_id: i64,
    community_ids: &[i64],
) -> QueryResult<Vec<(i64, FollowState)>> {
    on_conn!(conn, |c| {
        community_follows::table
            .filter(community_follows::person_id.eq(person_id))
            .filter(super::id_in(community_follows::community_id, community_ids))
            .select((community_follows::community_id, community_follows::state))
            .load(c)
            .await
    })
}

/// One person's follow of one community, if any.
pub async fn read(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
) -> QueryResult<Option<CommunityFollower>> {
    on_conn!(conn, |c| {
        community_follows::table
            .filter(community_follows::community_id.eq(community_id))
            .filter(community_follows::person_id.eq(person_id))
            .select(CommunityFollower::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// Remembers the id of the `Follow` activity, which `Accept` and `Undo` refer to.
pub async fn set_follow_ap_id(
    conn: &mut DbConn<'_>,
    id: i64,
    follow_ap_id: &str,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::update(community_follows::table.find(id))
            .set(community_follows::follow_ap_id.eq(follow_ap_id))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Whether at least one local person has an accepted follow of the community.
pub async fn has_local_followers(conn: &mut DbConn<'_>, community_id: i64) -> QueryResult<bool> {
    use super::schema::persons;
    let count: i64 = on_conn!(conn, |c| {
        community_follows::table
            .inner_join(persons::table)
            .filter(community_follows::community_id.eq(community_id))
            .filter(community_follows::state.eq(FollowState::Accepted))
            .filter(persons::local.eq(true))
            .count()
            .get_result(c)
            .await
    })?;
    Ok(count > 0)
}

/// Pending follows by local people of remote communities, oldest change first.
pub async fn pending_remote(
    conn: &mut DbConn<'_>,
    limit: i64,
) -> QueryResult<Vec<CommunityFollower>> {
    use super::schema::{communities, persons};
    on_conn!(conn, |c| {
        community_follows::table
            .inner_join(persons::table)
            .inner_join(communities::table)
            .filter(community_follows::state.eq(FollowState::Pending))
            .filter(persons::local.eq(true))
            .filter(communities::local.eq(false))
            .order(community_follows::updated_at)
            .limit(limit)
            .select(CommunityFollower::as_select())
            .load(c)
            .await
    })
}

/// Marks a follow as asked again now, with the id of the new `Follow`.
pub async fn asked_again(
    conn: &mut DbConn<'_>,
    id: i64,
    follow_ap_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::update(community_follows::table.find(id))
            .set((
                community_follows::follow_ap_id.eq(follow_ap_id),
                community_follows::updated_at.eq(now),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Local people's pending follows of `community` become accepted (the group's Announce
/// reached us, so it counts us among its followers). Returns how many changed.
pub async fn accept_pending(
    conn: &mut DbConn<'_>,
    community_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use super::schema::persons;
    let local_people = persons::table
        .filter(persons::local.eq(true))
        .select(persons::id);
    on_conn!(conn, |c| {
        diesel::update(
            community_follows::table
                .filter(community_follows::community_id.eq(community_id))
                .filter(community_follows::state.eq(FollowState::Pending))
                .filter(community_follows::person_id.eq_any(local_people)),
        )
        .set((
            community_follows::state.eq(FollowState::Accepted),
            community_follows::updated_at.eq(now),
        ))
        .execute(c)
        .await
    })
}
