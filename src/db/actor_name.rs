//! The one namespace shared by local persons and communities (`acct:name@domain`).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::local_actor_names;
use super::types::ActorKind;

/// Whether a local name belongs to a person or a community, if it is taken.
pub async fn kind_of(conn: &mut DbConn<'_>, name_lower: &str) -> QueryResult<Option<ActorKind>> {
    on_conn!(conn, |c| {
        local_actor_names::table
            .find(name_lower)
            .select(local_actor_names::kind)
            .first(c)
            .await
            .optional()
    })
}

/// Reserves a lower-case name in the one namespace local persons and communities share.
/// Returns `false` when the name is already taken.
pub async fn reserve_actor_name(
    conn: &mut DbConn<'_>,
    name_lower: &str,
    kind: ActorKind,
) -> QueryResult<bool> {
    let inserted = on_conn!(conn, |c| {
        diesel::insert_into(local_actor_names::table)
            .values((
                local_actor_names::name.eq(name_lower),
                local_actor_names::kind.eq(kind),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    Ok(inserted == 1)
}
