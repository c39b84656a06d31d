//! Persons: local members and remote people, each an ActivityPub `Person` actor.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::persons;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = persons)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Person {
    pub id: i64,
    pub ap_id: String,
    pub local: bool,
    pub instance_id: i64,
    pub name: String,
    pub name_lower: String,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub bio_html: Option<String>,
    pub avatar_url: Option<String>,
    pub inbox_url: String,
    pub shared_inbox_url: Option<String>,
    pub public_key_pem: String,
    pub private_key_pem: Option<String>,
    pub bot: bool,
    pub deleted: bool,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
    pub last_refreshed_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = persons)]
pub struct PersonInsertForm {
    pub ap_id: String,
    pub local: bool,
    pub instance_id: i64,
    pub name: String,
    pub name_lower: String,
    pub display_name: Option<String>,
    pub inbox_url: String,
    pub shared_inbox_url: Option<String>,
    pub public_key_pem: String,
    pub private_key_pem: Option<String>,
    pub published: NaiveDateTime,
    pub last_refreshed_at: NaiveDateTime,
}

/// Inserts a person.
pub async fn insert(conn: &mut DbConn<'_>, form: &PersonInsertForm) -> QueryResult<Person> {
    on_conn!(conn, |c| {
        diesel::insert_into(persons::table)
            .values(form)
            .returning(Person::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn read(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Person> {
    on_conn!(conn, |c| {
        persons::table
            .find(id)
            .select(Person::as_select())
            .first(c)
            .await
    })
}

/// A local person by name, deleted ones included.
pub async fn read_local_by_name(
    conn: &mut DbConn<'_>,
    name_lower: &str,
) -> QueryResult<Option<Person>> {
    on_conn!(conn, |c| {
        persons::table
            .filter(persons::local.eq(true))
            .filter(persons::name_lower.eq(name_lower))
            .select(Person::as_select())
            .first(c)
            .await
            .optional()
    })
}

pub async fn read_many(conn: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<Vec<Person>> {
    on_conn!(conn, |c| {
        persons::table
            .filter(super::id_in(persons::id, ids))
            .select(Person::as_select())
            .load(c)
            .await
    })
}

/// Profile fields a member edits; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = persons)]
pub struct PersonProfileForm {
    pub display_name: Option<Option<String>>,
    pub bio: Option<Option<String>>,
    pub bio_html: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub updated: Option<NaiveDateTime>,
}

pub async fn update_profile(
    conn: &mut DbConn<'_>,
    id: i64,
    form: &PersonProfileForm,
) -> QueryResult<Person> {
    on_conn!(conn, |c| {
        diesel::update(persons::table.find(id))
            .set(form)
            .returning(Person::as_returning())
            .get_result(c)
            .await
    })
}

/// Marks a person deleted and clears what they wrote about themselves. The name stays
/// reserved, so nobody can later sign up as them.
pub async fn mark_deleted(conn: &mut DbConn<'_>, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    on_conn!(conn, |c| {
        diesel::update(persons::table.find(id))
            .set((
                persons::deleted.eq(true),
                persons::display_name.eq(None::<String>),
                persons::bio.eq(None::<String>),
                persons::bio_html.eq(None::<String>),
                persons::avatar_url.eq(None::<String>),
                persons::updated.eq(Some(now)),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// The person with this ActivityPub id, local or remote.
pub async fn read_by_ap_id(conn: &mut DbConn<'_>, ap_id: &str) -> QueryResult<Option<Person>> {
    on_conn!(conn, |c| {
        persons::table
            .filter(persons::ap_id.eq(ap_id))
            .select(Person::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// A remote actor's profile as fetched; `None` fields keep what is stored.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = persons)]
pub struct RemotePersonForm {
    pub ap_id: String,
    pub local: bool,
    pub instance_id: i64,
    pub name: String,
    pub name_lower: String,
    pub display_name: Option<String>,
    pub bio_html: Option<String>,
    pub avatar_url: Option<String>,
    pub inbox_url: String,
    pub shared_inbox_url: Option<String>,
    pub public_key_pem: String,
    pub bot: bool,
    pub deleted: bool,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
    pub last_refreshed_at: NaiveDateTime,
}

/// Inserts or refreshes a remote person by `ap_id`.
pub async fn upsert_remote(conn: &mut DbConn<'_>, form: &RemotePersonForm) -> QueryResult<Person> {
    on_conn!(conn, |c| {
        diesel::insert_into(persons::table)
            .values(form)
            .on_conflict(persons::ap_id)
            .do_update()
            .set(form)
            .returning(Person::as_returning())
            .get_result(c)
            .await
    })
}

/// The person called `name_lower` on the instance with `domain`.
pub async fn read_by_name_and_domain(
    conn: &mut DbConn<'_>,
    name_lower: &str,
    domain: &str,
) -> QueryResult<Option<Person>> {
    use super::schema::instances;
    on_conn!(conn, |c| {
        persons::table
            .inner_join(instances::table)
            .filter(persons::name_lower.eq(name_lower))
            .filter(instances::domain.eq(domain))
            .select(Person::as_select())
            .first(c)
            .await
            .optional()
    })
}
