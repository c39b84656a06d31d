//! Tags: normalized names attached to threads, counted per community.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::{tags, thread_tags, threads};

/// Replaces a thread's tags with `names` (already normalized), creating unknown tags.
pub async fn set_thread_tags(
    conn: &mut DbConn<'_>,
    thread_id: i64,
    names: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::delete(thread_tags::table.filter(thread_tags::thread_id.eq(thread_id)))
            .execute(c)
            .await?;
        for name in names {
            diesel::insert_into(tags::table)
                .values((tags::name.eq(name), tags::created_at.eq(now)))
                .on_conflict_do_nothing()
                .execute(c)
                .await?;
            let tag_id: i64 = tags::table
                .filter(tags::name.eq(name))
                .select(tags::id)
                .first(c)
                .await?;
            diesel::insert_into(thread_tags::table)
                .values((
                    thread_tags::thread_id.eq(thread_id),
                    thread_tags::tag_id.eq(tag_id),
                ))
                .on_conflict_do_nothing()
                .execute(c)
                .await?;
        }
        Ok(())
    })
}

/// (thread id, tag name) for each of `thread_ids`, tags in name order.
pub async fn tags_of(conn: &mut DbConn<'_>, thread_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    on_conn!(conn, |c| {
        thread_tags::table
            .inner_join(tags::table)
            .filter(super::id_in(thread_tags::thread_id, thread_ids))
            .order_by(tags::name.asc())
            .select((thread_tags::thread_id, tags::name))
            .load(c)
            .await
    })
}

/// Tags used by a community's live threads, most used first.
pub async fn counts_in_community(
    conn: &mut DbConn<'_>,
    community_id: i64,
) -> QueryResult<Vec<(String, i64)>> {
    on_conn!(conn, |c| {
        thread_tags::table
            .inner_join(tags::table)
            .inner_join(threads::table)
            .filter(threads::community_id.eq(community_id))
            .filter(threads::deleted.eq(false))
            .filter(threads::removed.eq(false))
            .group_by(tags::name)
            .select((tags::name, diesel::dsl::count_star()))
            .order_by((diesel::dsl::count_star().desc(), tags::name.asc()))
            .load(c)
            .await
    })
}
