//! Communities: ActivityPub `Group`s, local or remote, where threads are posted.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::{communities, community_follows, instances, threads};
use super::types::{CommunityKind, FollowState, Visibility};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = communities)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Community {
    pub id: i64,
    pub ap_id: String,
    pub local: bool,
    pub instance_id: i64,
    pub name: String,
    pub name_lower: String,
    pub title: String,
    pub description: Option<String>,
    pub description_html: Option<String>,
    pub rules: Option<String>,
    pub kind: CommunityKind,
    pub visibility: Visibility,
    pub posting_restricted_to_mods: bool,
    pub inbox_url: String,
    pub shared_inbox_url: Option<String>,
    pub followers_url: Option<String>,
    pub moderators_url: Option<String>,
    pub featured_url: Option<String>,
    pub public_key_pem: String,
    pub private_key_pem: Option<String>,
    pub deleted: bool,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
    pub last_refreshed_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = communities)]
pub struct CommunityInsertForm {
    pub ap_id: String,
    pub local: bool,
    pub instance_id: i64,
    pub name: String,
    pub name_lower: String,
    pub title: String,
    pub description: Option<String>,
    pub description_html: Option<String>,
    pub rules: Option<String>,
    pub kind: CommunityKind,
    pub visibility: Visibility,
    pub posting_restricted_to_mods: bool,
    pub inbox_url: String,
    pub shared_inbox_url: Option<String>,
    pub followers_url: Option<String>,
    pub moderators_url: Option<String>,
    pub featured_url: Option<String>,
    pub public_key_pem: String,
    pub private_key_pem: Option<String>,
    pub published: NaiveDateTime,
    pub last_refreshed_at: NaiveDateTime,
}

/// Fields moderators edit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = communities)]
pub struct CommunityUpdateForm {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub description_html: Option<Option<String>>,
    pub rules: Option<Option<String>>,
    pub kind: Option<CommunityKind>,
    pub visibility: Option<Visibility>,
    pub posting_restricted_to_mods: Option<bool>,
    pub updated: Option<NaiveDateTime>,
}

pub async fn insert(conn: &mut DbConn<'_>, form: &CommunityInsertForm) -> QueryResult<Community> {
    on_conn!(conn, |c| {
        diesel::insert_into(communities::table)
            .values(form)
            .returning(Community::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn update(
    conn: &mut DbConn<'_>,
    id: i64,
    form: &CommunityUpdateForm,
) -> QueryResult<Community> {
    on_conn!(conn, |c| {
        diesel::update(communities::table.find(id))
            .set(form)
            .returning(Community::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn read(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Community> {
    on_conn!(conn, |c| {
        communities::table
            .find(id)
            .select(Community::as_select())
            .first(c)
            .await
    })
}

/// The community called `name_lower` on the instance with `domain`, with that domain.
pub async fn read_by_name(
    conn: &mut DbConn<'_>,
    name_lower: &str,
    domain: &str,
) -> QueryResult<Option<Community>> {
    on_conn!(conn, |c| {
        communities::table
            .inner_join(instances::table)
            .filter(communities::name_lower.eq(name_lower))
            .filter(instances::domain.eq(domain))
            .filter(communities::deleted.eq(false))
            .select(Community::as_select())
            .first(c)
            .await
            .optional()
    })
}

pub async fn read_many(conn: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<Vec<Community>> {
    on_conn!(conn, |c| {
        communities::table
            .filter(super::id_in(communities::id, ids))
            .select(Community::as_select())
            .load(c)
            .await
    })
}

/// Communities by title: only `public` ones unless `include_internal` (a signed-in member).
pub async fn list(
    conn: &mut DbConn<'_>,
    include_internal: bool,
    limit: i64,
) -> QueryResult<Vec<Community>> {
    on_conn!(conn, |c| {
        let mut query = communities::table
            .filter(communities::deleted.eq(false))
            .select(Community::as_select())
            .order_by((communities::title.asc(), communities::id.asc()))
            .limit(limit)
            .into_boxed();
        if !include_internal {
            query = query.filter(communities::visibility.eq(Visibility::Public));
        }
        query.load(c).await
    })
}

/// Accepted followers (members) per community.
pub async fn member_counts(conn: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    on_conn!(conn, |c| {
        community_follows::table
            .filter(super::id_in(community_follows::community_id, ids))
            .filter(community_follows::state.eq(FollowState::Accepted))
            .group_by(community_follows::community_id)
            .select((community_follows::community_id, diesel::dsl::count_star()))
            .load(c)
            .await
    })
}

/// Threads that are not deleted, per community.
pub async fn thread_counts(conn: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    on_conn!(conn, |c| {
        threads::table
            .filter(super::id_in(threads::community_id, ids))
            .filter(threads::deleted.eq(false))
            .filter(threads::removed.eq(false))
            .group_by(threads::community_id)
            .select((threads::community_id, diesel::dsl::count_star()))
            .load(c)
            .await
    })
}

/// The community with this ActivityPub id, local or remote.
pub async fn read_by_ap_id(conn: &mut DbConn<'_>, ap_id: &str) -> QueryResult<Option<Community>> {
    on_conn!(conn, |c| {
        communities::table
            .filter(communities::ap_id.eq(ap_id))
            .select(Community::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// A remote `Group` as fetched; `None` fields keep what is stored.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = communities)]
pub struct RemoteCommunityForm {
    pub ap_id: String,
    pub local: bool,
    pub instance_id: i64,
    pub name: String,
    pub name_lower: String,
    pub title: String,
    pub description: Option<String>,
    pub description_html: Option<String>,
    pub kind: CommunityKind,
    pub visibility: Visibility,
    pub posting_restricted_to_mods: bool,
    pub inbox_url: String,
    pub shared_inbox_url: Option<String>,
    pub followers_url: Option<String>,
    pub moderators_url: Option<String>,
    pub featured_url: Option<String>,
    pub public_key_pem: String,
    pub deleted: bool,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
    pub last_refreshed_at: NaiveDateTime,
}

/// Inserts or refreshes a remote community by `ap_id`.
pub async fn upsert_remote(
    conn: &mut DbConn<'_>,
    form: &RemoteCommunityForm,
) -> QueryResult<Community> {
    on_conn!(conn, |c| {
        diesel::insert_into(communities::table)
            .values(form)
            .on_conflict(communities::ap_id)
            .do_update()
            .set(form)
            .returning(Community::as_returning())
            .get_result(c)
            .await
    })
}

/// Inboxes of the remote followers of a community (shared inbox when they have one),
/// each once, with the domain of the follower's instance.
pub async fn remote_follower_inboxes(
    conn: &mut DbConn<'_>,
    community_id: i64,
) -> QueryResult<Vec<String>> {
    use super::schema::persons;
    let rows: Vec<(String, Option<String>)> = on_conn!(conn, |c| {
        community_follows::table
            .inner_join(persons::table)
            .filter(community_follows::community_id.eq(community_id))
            .filter(community_follows::state.eq(FollowState::Accepted))
            .filter(persons::local.eq(false))
            .select((persons::inbox_url, persons::shared_inbox_url))
            .load(c)
            .await
    })?;
    let mut inboxes: Vec<String> = rows
        .into_iter()
        .map(|(inbox, shared)| shared.unwrap_or(inbox))
        .collect();
    inboxes.sort();
    inboxes.dedup();
    Ok(inboxes)
}

/// The ids of every community whose visibility is `visibility`.
pub async fn ids_with_visibility(
    conn: &mut DbConn<'_>,
    visibility: super::types::Visibility,
) -> QueryResult<Vec<i64>> {
    on_conn!(conn, |c| {
        communities::table
            .filter(communities::visibility.eq(visibility))
            .select(communities::id)
            .load(c)
            .await
    })
}
