//! Moderation rows: reports in the moderators' queue, community bans, and the mod log.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::{community_bans, mod_log, reports};
use super::types::{ModAction, ReportStatus};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = reports)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Report {
    pub id: i64,
    pub ap_id: String,
    pub reporter_id: i64,
    pub community_id: i64,
    pub thread_id: i64,
    pub answer_id: Option<i64>,
    pub reason: String,
    pub status: ReportStatus,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<NaiveDateTime>,
    pub published: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = reports)]
pub struct NewReport<'a> {
    pub ap_id: &'a str,
    pub reporter_id: i64,
    pub community_id: i64,
    pub thread_id: i64,
    pub answer_id: Option<i64>,
    pub reason: &'a str,
    pub status: ReportStatus,
    pub published: NaiveDateTime,
}

pub async fn insert_report(conn: &mut DbConn<'_>, new: &NewReport<'_>) -> QueryResult<Report> {
    on_conn!(conn, |c| {
        diesel::insert_into(reports::table)
            .values(new)
            .returning(Report::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn report(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Option<Report>> {
    on_conn!(conn, |c| {
        reports::table
            .find(id)
            .select(Report::as_select())
            .first(c)
            .await
            .optional()
    })
}

pub async fn report_by_ap_id(conn: &mut DbConn<'_>, ap_id: &str) -> QueryResult<Option<Report>> {
    on_conn!(conn, |c| {
        reports::table
            .filter(reports::ap_id.eq(ap_id))
            .select(Report::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// The reporter's open report of this thread or answer, if any: reporting twice is one report.
pub async fn open_report_by(
    conn: &mut DbConn<'_>,
    reporter_id: i64,
    thread_id: i64,
    answer_id: Option<i64>,
) -> QueryResult<Option<Report>> {
    on_conn!(conn, |c| {
        let mut query = reports::table
            .filter(reports::reporter_id.eq(reporter_id))
            .filter(reports::thread_id.eq(thread_id))
            .filter(reports::status.eq(ReportStatus::Open))
            .select(Report::as_select())
            .into_boxed();
        query = match answer_id {
            Some(answer) => query.filter(reports::answer_id.eq(answer)),
            None => query.filter(reports::answer_id.is_null()),
        };
        query.first(c).await.optional()
    })
}

/// Reports with `status`, newest first; `communities` limits them to those (a moderator's),
/// `None` is every community (an admin's view).
pub async fn list_reports(
    conn: &mut DbConn<'_>,
    status: ReportStatus,
    communities: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<Report>> {
    on_conn!(conn, |c| {
        let mut query = reports::table
            .filter(reports::status.eq(status))
            .order(reports::id.desc())
            .limit(limit)
            .select(Report::as_select())
            .into_boxed();
        if let Some(ids) = communities {
            query = query.filter(super::id_in(reports::community_id, ids));
        }
        query.load(c).await
    })
}

/// Closes an open report; `None` when it was no longer open (someone else was quicker).
pub async fn close_report(
    conn: &mut DbConn<'_>,
    id: i64,
    status: ReportStatus,
    by: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<Report>> {
    on_conn!(conn, |c| {
        diesel::update(
            reports::table
                .find(id)
                .filter(reports::status.eq(ReportStatus::Open)),
        )
        .set((
            reports::status.eq(status),
            reports::resolved_by.eq(by),
            reports::resolved_at.eq(now),
        ))
        .returning(Report::as_returning())
        .get_result(c)
        .await
        .optional()
    })
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = community_bans)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CommunityBan {
    pub community_id: i64,
    pub person_id: i64,
    pub reason: String,
    pub expires_at: Option<NaiveDateTime>,
    pub banned_by: Option<i64>,
    pub published: NaiveDateTime,
}

/// Bans a person from a community, or changes the reason and expiry of their ban.
pub async fn upsert_ban(conn: &mut DbConn<'_>, ban: &CommunityBan) -> QueryResult<CommunityBan> {
    on_conn!(conn, |c| {
        diesel::insert_into(community_bans::table)
            .values(ban)
            .on_conflict((community_bans::community_id, community_bans::person_id))
            .do_update()
            .set((
                community_bans::reason.eq(&ban.reason),
                community_bans::expires_at.eq(ban.expires_at),
                community_bans::banned_by.eq(ban.banned_by),
                community_bans::published.eq(ban.published),
            ))
            .returning(CommunityBan::as_returning())
            .get_result(c)
            .await
    })
}

/// Lifts a ban; false when there was none.
pub async fn delete_ban(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
) -> QueryResult<bool> {
    let removed = on_conn!(conn, |c| {
        diesel::delete(
            community_bans::table
                .filter(community_bans::community_id.eq(community_id))
                .filter(community_bans::person_id.eq(person_id)),
        )
        .execute(c)
        .await
    })?;
    Ok(removed > 0)
}

/// The person's ban from the community if it is in force at `now` (an expired ban is none).
pub async fn ban_in_force(
    conn: &mut DbConn<'_>,
    community_id: i64,
    person_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<CommunityBan>> {
    on_conn!(conn, |c| {
        community_bans::table
            .filter(community_bans::community_id.eq(community_id))
            .filter(community_bans::person_id.eq(person_id))
            .filter(
                community_bans::expires_at
                    .is_null()
                    .or(community_bans::expires_at.gt(now)),
            )
            .select(CommunityBan::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// Bans in force in these communities (`None`: all), newest first.
pub async fn bans_in_force(
    conn: &mut DbConn<'_>,
    communities: Option<&[i64]>,
    now: NaiveDateTime,
) -> QueryResult<Vec<CommunityBan>> {
    on_conn!(conn, |c| {
        let mut query = community_bans::table
            .filter(
                community_bans::expires_at
                    .is_null()
                    .or(community_bans::expires_at.gt(now)),
            )
            .order(community_bans::published.desc())
            .select(CommunityBan::as_select())
            .into_boxed();
        if let Some(ids) = communities {
            query = query.filter(super::id_in(community_bans::community_id, ids));
        }
        query.load(c).await
    })
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mod_log)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ModLogEntry {
    pub id: i64,
    pub community_id: Option<i64>,
    pub moderator_id: Option<i64>,
    pub action: ModAction,
    pub person_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub answer_id: Option<i64>,
    pub reason: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub published: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mod_log)]
pub struct NewModLogEntry {
    pub community_id: Option<i64>,
    pub moderator_id: Option<i64>,
    pub action: ModAction,
    pub person_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub answer_id: Option<i64>,
    pub reason: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub published: NaiveDateTime,
}

pub async fn log(conn: &mut DbConn<'_>, entry: &NewModLogEntry) -> QueryResult<ModLogEntry> {
    on_conn!(conn, |c| {
        diesel::insert_into(mod_log::table)
            .values(entry)
            .returning(ModLogEntry::as_returning())
            .get_result(c)
            .await
    })
}

/// Log entries, newest first, before the entry `before` (a cursor) when given. `communities`
/// limits them to those; `None` is every entry, instance-wide ones included.
pub async fn list_log(
    conn: &mut DbConn<'_>,
    communities: Option<&[i64]>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<ModLogEntry>> {
    on_conn!(conn, |c| {
        let mut query = mod_log::table
            .order(mod_log::id.desc())
            .limit(limit)
            .select(ModLogEntry::as_select())
            .into_boxed();
        if let Some(ids) = communities {
            query = query.filter(super::id_in(mod_log::community_id, ids));
        }
        if let Some(before) = before {
            query = query.filter(mod_log::id.lt(before));
        }
        query.load(c).await
    })
}
