//! Threads (questions and discussions) in communities.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::schema::{tags, thread_tags, threads};
use super::types::ThreadKind;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = threads)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Thread {
    pub id: i64,
    pub ap_id: String,
    pub local: bool,
    pub community_id: i64,
    pub author_id: i64,
    pub kind: ThreadKind,
    pub title: String,
    pub body: String,
    pub body_html: String,
    pub locked: bool,
    pub deleted: bool,
    pub removed: bool,
    pub score: i64,
    pub upvotes: i64,
    pub downvotes: i64,
    pub answer_count: i64,
    pub accepted_answer_count: i64,
    pub last_activity_at: NaiveDateTime,
    pub published: NaiveDateTime,
    pub updated: Option<NaiveDateTime>,
    /// Pinned by a moderator: in the community's featured collection.
    pub pinned: bool,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = threads)]
pub struct ThreadInsertForm {
    pub ap_id: String,
    pub local: bool,
    pub community_id: i64,
    pub author_id: i64,
    pub kind: ThreadKind,
    pub title: String,
    pub body: String,
    pub body_html: String,
    pub last_activity_at: NaiveDateTime,
    pub published: NaiveDateTime,
}

/// How a thread list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadSort {
    /// Newest first.
    New,
    /// Latest answer (or the thread itself) first.
    Active,
    /// Highest score first.
    Top,
    /// Questions without any answer, newest first.
    Unanswered,
}

/// Where a page of threads continues: the sort value and id of the last thread shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadCursor {
    Time(NaiveDateTime, i64),
    Score(i64, i64),
}

#[derive(Debug, Clone)]
pub struct ThreadQuery<'a> {
    pub community_id: i64,
    pub sort: ThreadSort,
    pub tag: Option<&'a str>,
    pub after: Option<ThreadCursor>,
    pub limit: i64,
}

pub async fn insert(conn: &mut DbConn<'_>, form: &ThreadInsertForm) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        diesel::insert_into(threads::table)
            .values(form)
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn read(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        threads::table
            .find(id)
            .select(Thread::as_select())
            .first(c)
            .await
    })
}

/// The threads with `ids`, in no particular order; missing ids are left out.
pub async fn read_many(conn: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<Vec<Thread>> {
    on_conn!(conn, |c| {
        threads::table
            .filter(super::id_in(threads::id, ids))
            .select(Thread::as_select())
            .load(c)
            .await
    })
}

/// Reads a thread and takes its row lock for the rest of the transaction (a no-op write:
/// `FOR UPDATE` does not exist in SQLite, whose write transactions are serialized anyway).
/// Counters derived from child rows are then recomputed without lost updates.
pub async fn read_for_update(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        // Every answer takes it: kept prepared (`keep_prepared`).
        super::keep_prepared(
            diesel::update(threads::table.find(id))
                .set(threads::score.eq(threads::score))
                .returning(Thread::as_returning()),
        )
        .get_result(c)
        .await
    })
}

/// Sets the thread's id-derived address once the row (and so its id) exists.
pub async fn set_ap_id(conn: &mut DbConn<'_>, id: i64, ap_id: &str) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        diesel::update(threads::table.find(id))
            .set(threads::ap_id.eq(ap_id))
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn update_text(
    conn: &mut DbConn<'_>,
    id: i64,
    title: &str,
    body: &str,
    body_html: &str,
    now: NaiveDateTime,
) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        diesel::update(threads::table.find(id))
            .set((
                threads::title.eq(title),
                threads::body.eq(body),
                threads::body_html.eq(body_html),
                threads::updated.eq(Some(now)),
            ))
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn set_locked(conn: &mut DbConn<'_>, id: i64, locked: bool) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        diesel::update(threads::table.find(id))
            .set(threads::locked.eq(locked))
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn set_pinned(conn: &mut DbConn<'_>, id: i64, pinned: bool) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        diesel::update(threads::table.find(id))
            .set(threads::pinned.eq(pinned))
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}

/// The community's pinned threads (not deleted or removed), newest first.
pub async fn pinned_in(conn: &mut DbConn<'_>, community_id: i64) -> QueryResult<Vec<Thread>> {
    on_conn!(conn, |c| {
        threads::table
            .filter(threads::community_id.eq(community_id))
            .filter(threads::pinned.eq(true))
            .filter(threads::deleted.eq(false))
            .filter(threads::removed.eq(false))
            .order(threads::published.desc())
            .limit(50)
            .select(Thread::as_select())
            .load(c)
            .await
    })
}

/// Soft delete: the row stays as a tombstone (its id and address stay valid), the text goes.
pub async fn mark_deleted(
    conn: &mut DbConn<'_>,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        diesel::update(threads::table.find(id))
            .set((
                threads::deleted.eq(true),
                threads::title.eq("[deleted]"),
                threads::body.eq(""),
                threads::body_html.eq(""),
                threads::updated.eq(Some(now)),
            ))
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}

/// Recomputes the vote totals from the votes table (call with the thread locked).
pub async fn refresh_score(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Thread> {
    use super::schema::thread_votes;
    let (up, down): (i64, i64) = on_conn!(conn, |c| {
        let up = thread_votes::table
            .filter(thread_votes::thread_id.eq(id))
            .filter(thread_votes::score.gt(0))
            .count()
            .get_result::<i64>(c)
            .await?;
        let down = thread_votes::table
            .filter(thread_votes::thread_id.eq(id))
            .filter(thread_votes::score.lt(0))
            .count()
            .get_result::<i64>(c)
            .await?;
        Ok::<_, diesel::result::Error>((up, down))
    })?;
    on_conn!(conn, |c| {
        diesel::update(threads::table.find(id))
            .set((
                threads::upvotes.eq(up),
                threads::downvotes.eq(down),
                threads::score.eq(up - down),
            ))
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}

/// Recomputes answer counts from the answers table (call with the thread locked); the
/// latest answer moves the thread up in the `active` sort.
pub async fn refresh_answer_counts(conn: &mut DbConn<'_>, id: i64) -> QueryResult<Thread> {
    use super::schema::answers;
    let (count, accepted, latest): (i64, i64, Option<NaiveDateTime>) = on_conn!(conn, |c| {
        // One pass over the thread's live answers (index-only through
        // `answers_thread_live`), however many answers the thread has.
        answers::table
            .filter(answers::thread_id.eq(id))
            .filter(answers::deleted.eq(false))
            .filter(answers::removed.eq(false))
            .select((
                diesel::dsl::count_star(),
                super::fixed_sql::<diesel::sql_types::BigInt>(
                    "COALESCE(SUM(CASE WHEN accepted THEN 1 ELSE 0 END), 0)",
                ),
                diesel::dsl::max(answers::published),
            ))
            .get_result::<(i64, i64, Option<NaiveDateTime>)>(c)
            .await
    })?;
    on_conn!(conn, |c| {
        let thread = threads::table
            .find(id)
            .select(Thread::as_select())
            .first(c)
            .await?;
        let last_activity = latest.map_or(thread.published, |l| l.max(thread.published));
        diesel::update(threads::table.find(id))
            .set((
                threads::answer_count.eq(count),
                threads::accepted_answer_count.eq(accepted),
                threads::last_activity_at.eq(last_activity),
            ))
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}

/// Counts one new live answer published at `published` into `locked`, the thread row as
/// [`read_for_update`] returned it. What [`refresh_answer_counts`] would compute, without
/// reading the thread's answers: a recount reads all of them (on PostgreSQL from the heap
/// too, for rows not yet all-visible), and it runs with the row locked, so on a busy thread
/// it made every new answer wait for the previous one's recount.
pub async fn count_new_answer(
    conn: &mut DbConn<'_>,
    locked: &Thread,
    published: NaiveDateTime,
) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        // One per answer, local or received: kept prepared (`keep_prepared`).
        super::keep_prepared(
            diesel::update(threads::table.find(locked.id))
                .set((
                    threads::answer_count.eq(threads::answer_count + 1),
                    threads::last_activity_at.eq(locked.last_activity_at.max(published)),
                ))
                .returning(Thread::as_returning()),
        )
        .get_result(c)
        .await
    })
}

/// One page of a community's live (not deleted or removed) threads.
pub async fn list(conn: &mut DbConn<'_>, q: &ThreadQuery<'_>) -> QueryResult<Vec<Thread>> {
    load_rows!(conn, {
        let mut query = threads::table
            .filter(threads::community_id.eq(q.community_id))
            .filter(threads::deleted.eq(false))
            .filter(threads::removed.eq(false))
            .select(Thread::as_select())
            .limit(q.limit)
            .into_boxed();
        if let Some(tag) = q.tag {
            query = query.filter(
                threads::id.eq_any(
                    thread_tags::table
                        .inner_join(tags::table)
                        .filter(tags::name.eq(tag.to_owned()))
                        .select(thread_tags::thread_id),
                ),
            );
        }
        query = match q.sort {
            ThreadSort::New | ThreadSort::Unanswered => {
                query.order_by((threads::published.desc(), threads::id.desc()))
            }
            ThreadSort::Active => {
                query.order_by((threads::last_activity_at.desc(), threads::id.desc()))
            }
            ThreadSort::Top => query.order_by((threads::score.desc(), threads::id.desc())),
        };
        if q.sort == ThreadSort::Unanswered {
            query = query
                .filter(threads::kind.eq(ThreadKind::Question))
                .filter(threads::answer_count.eq(0));
        }
        query = match (q.sort, q.after) {
            (ThreadSort::New | ThreadSort::Unanswered, Some(ThreadCursor::Time(t, id))) => query
                .filter(
                    threads::published
                        .lt(t)
                        .or(threads::published.eq(t).and(threads::id.lt(id))),
                ),
            (ThreadSort::Active, Some(ThreadCursor::Time(t, id))) => query.filter(
                threads::last_activity_at
                    .lt(t)
                    .or(threads::last_activity_at.eq(t).and(threads::id.lt(id))),
            ),
            (ThreadSort::Top, Some(ThreadCursor::Score(s, id))) => query.filter(
                threads::score
                    .lt(s)
                    .or(threads::score.eq(s).and(threads::id.lt(id))),
            ),
            _ => query,
        };
        query
    })
}

/// Soft-deletes every thread by `author_id`, keeping tombstones (ids stay valid) without
/// their text. Returns how many threads changed.
pub async fn delete_all_by_author(
    conn: &mut DbConn<'_>,
    author_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    on_conn!(conn, |c| {
        diesel::update(
            threads::table
                .filter(threads::author_id.eq(author_id))
                .filter(threads::deleted.eq(false)),
        )
        .set((
            threads::deleted.eq(true),
            threads::title.eq("[deleted]"),
            threads::body.eq(""),
            threads::body_html.eq(""),
            threads::updated.eq(Some(now)),
        ))
        .execute(c)
        .await
    })
}

/// The thread with this ActivityPub id, local or remote.
pub async fn read_by_ap_id(conn: &mut DbConn<'_>, ap_id: &str) -> QueryResult<Option<Thread>> {
    on_conn!(conn, |c| {
        threads::table
            .filter(threads::ap_id.eq(ap_id))
            .select(Thread::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// A moderator's removal (or its undoing): the text stays, hidden, so it can come back.
pub async fn set_removed(conn: &mut DbConn<'_>, id: i64, removed: bool) -> QueryResult<Thread> {
    on_conn!(conn, |c| {
        diesel::update(threads::table.find(id))
            .set(threads::removed.eq(removed))
            .returning(Thread::as_returning())
            .get_result(c)
            .await
    })
}
