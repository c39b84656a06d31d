//! Local accounts: the sign-in side of a local person (password, role, status).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::person::Person;
use super::schema::{local_accounts, persons};
use super::types::{AccountRole, AccountStatus};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = local_accounts)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct LocalAccount {
    pub id: i64,
    pub person_id: i64,
    pub email: Option<String>,
    pub email_lower: Option<String>,
    pub password_hash: String,
    pub role: AccountRole,
    pub status: AccountStatus,
    pub application_answer: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub invite_id: Option<i64>,
    pub rejection_reason: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = local_accounts)]
pub struct LocalAccountInsertForm {
    pub person_id: i64,
    pub email: Option<String>,
    pub email_lower: Option<String>,
    pub password_hash: String,
    pub role: AccountRole,
    pub status: AccountStatus,
    pub application_answer: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub invite_id: Option<i64>,
}

/// An account with its person, as most reads need both.
pub type AccountRow = (LocalAccount, Person);

pub async fn insert(
    conn: &mut DbConn<'_>,
    form: &LocalAccountInsertForm,
) -> QueryResult<LocalAccount> {
    on_conn!(conn, |c| {
        diesel::insert_into(local_accounts::table)
            .values(form)
            .returning(LocalAccount::as_returning())
            .get_result(c)
            .await
    })
}

/// The account of the local person called `name_lower`.
pub async fn read_by_name(conn: &mut DbConn<'_>, name_lower: &str) -> QueryResult<AccountRow> {
    on_conn!(conn, |c| {
        local_accounts::table
            .inner_join(persons::table)
            .filter(persons::name_lower.eq(name_lower))
            .filter(persons::local.eq(true))
            .select((LocalAccount::as_select(), Person::as_select()))
            .first(c)
            .await
    })
}

pub async fn read_by_person(conn: &mut DbConn<'_>, person_id: i64) -> QueryResult<AccountRow> {
    on_conn!(conn, |c| {
        local_accounts::table
            .inner_join(persons::table)
            .filter(local_accounts::person_id.eq(person_id))
            .select((LocalAccount::as_select(), Person::as_select()))
            .first(c)
            .await
    })
}

/// Accounts, newest first, optionally only those in `status`.
pub async fn list(
    conn: &mut DbConn<'_>,
    status: Option<AccountStatus>,
    limit: i64,
) -> QueryResult<Vec<AccountRow>> {
    on_conn!(conn, |c| {
        let mut query = local_accounts::table
            .inner_join(persons::table)
            .select((LocalAccount::as_select(), Person::as_select()))
            .order_by(local_accounts::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(local_accounts::status.eq(status));
        }
        query.load(c).await
    })
}

/// Moves an account from `from` to `to`; returns false when it was not in `from`, so a
/// decision taken twice, or concurrently, has one effect.
pub async fn change_status(
    conn: &mut DbConn<'_>,
    account_id: i64,
    from: AccountStatus,
    to: AccountStatus,
    rejection_reason: Option<&str>,
) -> QueryResult<bool> {
    let now = super::now();
    let updated = on_conn!(conn, |c| {
        diesel::update(
            local_accounts::table
                .filter(local_accounts::id.eq(account_id))
                .filter(local_accounts::status.eq(from)),
        )
        .set((
            local_accounts::status.eq(to),
            local_accounts::rejection_reason.eq(rejection_reason),
            local_accounts::updated_at.eq(now),
        ))
        .execute(c)
        .await
    })?;
    Ok(updated == 1)
}

pub async fn set_role(
    conn: &mut DbConn<'_>,
    account_id: i64,
    role: AccountRole,
) -> QueryResult<()> {
    let now = super::now();
    on_conn!(conn, |c| {
        diesel::update(local_accounts::table.find(account_id))
            .set((
                local_accounts::role.eq(role),
                local_accounts::updated_at.eq(now),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

pub async fn set_password_hash(
    conn: &mut DbConn<'_>,
    account_id: i64,
    hash: &str,
) -> QueryResult<()> {
    let now = super::now();
    on_conn!(conn, |c| {
        diesel::update(local_accounts::table.find(account_id))
            .set((
                local_accounts::password_hash.eq(hash),
                local_accounts::updated_at.eq(now),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Active accounts with the admin role.
pub async fn count_active_admins(conn: &mut DbConn<'_>) -> QueryResult<i64> {
    on_conn!(conn, |c| {
        local_accounts::table
            .filter(local_accounts::role.eq(AccountRole::Admin))
            .filter(local_accounts::status.eq(AccountStatus::Active))
            .count()
            .get_result(c)
            .await
    })
}

/// Removes the sign-in side of an account; its tokens go with it.
pub async fn delete(conn: &mut DbConn<'_>, account_id: i64) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::delete(local_accounts::table.find(account_id))
            .execute(c)
            .await
    })?;
    Ok(())
}
