//! Sign-in credentials: API bearer tokens and web session cookies, stored as hashes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::local_account::LocalAccount;
use super::person::Person;
use super::schema::{auth_tokens, local_accounts, persons};
use super::types::TokenKind;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = auth_tokens)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AuthToken {
    pub id: i64,
    pub account_id: i64,
    pub token_hash: String,
    pub kind: TokenKind,
    pub label: Option<String>,
    pub csrf_token: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = auth_tokens)]
pub struct AuthTokenInsertForm {
    pub account_id: i64,
    pub token_hash: String,
    pub kind: TokenKind,
    pub label: Option<String>,
    pub csrf_token: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub async fn insert(conn: &mut DbConn<'_>, form: &AuthTokenInsertForm) -> QueryResult<AuthToken> {
    on_conn!(conn, |c| {
        diesel::insert_into(auth_tokens::table)
            .values(form)
            .returning(AuthToken::as_returning())
            .get_result(c)
            .await
    })
}

/// The live (not revoked, not expired) token with this hash and kind, with its account.
pub async fn read_live(
    conn: &mut DbConn<'_>,
    token_hash: &str,
    kind: TokenKind,
    now: NaiveDateTime,
) -> QueryResult<Option<(AuthToken, LocalAccount, Person)>> {
    on_conn!(conn, |c| {
        auth_tokens::table
            .inner_join(local_accounts::table.inner_join(persons::table))
            .filter(auth_tokens::token_hash.eq(token_hash))
            .filter(auth_tokens::kind.eq(kind))
            .filter(auth_tokens::revoked_at.is_null())
            .filter(auth_tokens::expires_at.gt(now))
            .select((
                AuthToken::as_select(),
                LocalAccount::as_select(),
                Person::as_select(),
            ))
            .first(c)
            .await
            .optional()
    })
}

pub async fn touch(conn: &mut DbConn<'_>, token_id: i64, now: NaiveDateTime) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::update(auth_tokens::table.find(token_id))
            .set(auth_tokens::last_used_at.eq(now))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// The account's live tokens and sessions, newest first.
pub async fn list_live(
    conn: &mut DbConn<'_>,
    account_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<AuthToken>> {
    on_conn!(conn, |c| {
        auth_tokens::table
            .filter(auth_tokens::account_id.eq(account_id))
            .filter(auth_tokens::revoked_at.is_null())
            .filter(auth_tokens::expires_at.gt(now))
            .order_by(auth_tokens::id.desc())
            .select(AuthToken::as_select())
            .load(c)
            .await
    })
}

/// Revokes one of the account's tokens; false when there was no such live token.
pub async fn revoke(
    conn: &mut DbConn<'_>,
    account_id: i64,
    token_id: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = on_conn!(conn, |c| {
        diesel::update(
            auth_tokens::table
                .filter(auth_tokens::id.eq(token_id))
                .filter(auth_tokens::account_id.eq(account_id))
                .filter(auth_tokens::revoked_at.is_null()),
        )
        .set(auth_tokens::revoked_at.eq(now))
        .execute(c)
        .await
    })?;
    Ok(updated == 1)
}

/// Revokes every live token of the account except `keep` (when given).
pub async fn revoke_all(
    conn: &mut DbConn<'_>,
    account_id: i64,
    keep: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    on_conn!(conn, |c| {
        diesel::update(
            auth_tokens::table
                .filter(auth_tokens::account_id.eq(account_id))
                .filter(auth_tokens::revoked_at.is_null())
                .filter(auth_tokens::id.ne(keep.unwrap_or(-1))),
        )
        .set(auth_tokens::revoked_at.eq(now))
        .execute(c)
        .await
    })
}
