//! Invite codes for `registration.mode = "invite"`: single- or multi-use, with expiry.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::invites;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = invites)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Invite {
    pub id: i64,
    pub code: String,
    pub created_by: Option<i64>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = invites)]
pub struct InviteInsertForm {
    pub code: String,
    pub created_by: Option<i64>,
    pub max_uses: Option<i64>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub async fn insert(conn: &mut DbConn<'_>, form: &InviteInsertForm) -> QueryResult<Invite> {
    on_conn!(conn, |c| {
        diesel::insert_into(invites::table)
            .values(form)
            .returning(Invite::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn read(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Invite> {
    on_conn!(conn, |c| {
        invites::table
            .find(id)
            .select(Invite::as_select())
            .first(c)
            .await
    })
}

/// Invites, newest first; only those `created_by` one account when given.
pub async fn list(conn: &mut DbConn<'_>, created_by: Option<i64>) -> QueryResult<Vec<Invite>> {
    on_conn!(conn, |c| {
        let mut query = invites::table
            .select(Invite::as_select())
            .order_by(invites::id.desc())
            .into_boxed();
        if let Some(account_id) = created_by {
            query = query.filter(invites::created_by.eq(account_id));
        }
        query.load(c).await
    })
}

/// Uses the invite once if it is live (not revoked, not expired, uses left), in one
/// statement so that concurrent sign-ups cannot overuse it. Returns its id when used.
pub async fn consume(
    conn: &mut DbConn<'_>,
    code: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    on_conn!(conn, |c| {
        diesel::update(
            invites::table
                .filter(invites::code.eq(code))
                .filter(invites::revoked_at.is_null())
                .filter(
                    invites::expires_at
                        .is_null()
                        .or(invites::expires_at.gt(now)),
                )
                .filter(
                    invites::max_uses
                        .is_null()
                        .or(invites::max_uses.gt(invites::uses.nullable())),
                ),
        )
        .set(invites::uses.eq(invites::uses + 1))
        .returning(invites::id)
        .get_result(c)
        .await
        .optional()
    })
}

pub async fn revoke(conn: &mut DbConn<'_>, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let updated = on_conn!(conn, |c| {
        diesel::update(
            invites::table
                .filter(invites::id.eq(id))
                .filter(invites::revoked_at.is_null()),
        )
        .set(invites::revoked_at.eq(now))
        .execute(c)
        .await
    })?;
    Ok(updated == 1)
}
