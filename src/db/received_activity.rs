//! Ids of activities already received, so that a repeat has no effect.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::received_activities;

/// Records `ap_id`; false when it was already recorded (a repeat).
pub async fn insert_new(
    conn: &mut DbConn<'_>,
    ap_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let inserted = on_conn!(conn, |c| {
        diesel::insert_into(received_activities::table)
            .values((
                received_activities::ap_id.eq(ap_id),
                received_activities::received_at.eq(now),
            ))
            .on_conflict(received_activities::ap_id)
            .do_nothing()
            .execute(c)
            .await
    })?;
    Ok(inserted == 1)
}

/// Forgets `ap_id` again, when applying the activity failed and the sender may retry.
pub async fn forget(conn: &mut DbConn<'_>, ap_id: &str) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::delete(received_activities::table.filter(received_activities::ap_id.eq(ap_id)))
            .execute(c)
            .await
    })?;
    Ok(())
}

pub async fn exists(conn: &mut DbConn<'_>, ap_id: &str) -> QueryResult<bool> {
    let found: i64 = on_conn!(conn, |c| {
        received_activities::table
            .filter(received_activities::ap_id.eq(ap_id))
            .count()
            .get_result(c)
            .await
    })?;
    Ok(found > 0)
}

/// Forgets ids received before `cutoff`; senders stop retrying long before.
pub async fn prune_received_before(
    conn: &mut DbConn<'_>,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    on_conn!(conn, |c| {
        diesel::delete(
            received_activities::table.filter(received_activities::received_at.lt(cutoff)),
        )
        .execute(c)
        .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::for_each_backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_activity_id_is_new_once() {
        for_each_backend(async |db| {
            let now = crate::db::now();
            let id = "https://remote.example/activities/like/1";
            let outcome = async {
                crate::with_conn!(&db, |conn| {
                    let first = insert_new(&mut conn, id, now).await?;
                    let second = insert_new(&mut conn, id, now).await?;
                    let known = exists(&mut conn, id).await?;
                    Ok::<_, crate::db::DbError>((first, second, known))
                })
            };
            let (first, second, known) = outcome.await.expect("queries");
            assert!(first && !second && known);
        })
        .await;
    }
}
