//! Local accounts: the sign-in side of a local person (password, role, status).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::local_accounts;
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
}

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

pub async fn read_by_person(conn: &mut DbConn<'_>, person_id: i64) -> QueryResult<LocalAccount> {
    on_conn!(conn, |c| {
        local_accounts::table
            .filter(local_accounts::person_id.eq(person_id))
            .select(LocalAccount::as_select())
            .first(c)
            .await
    })
}
