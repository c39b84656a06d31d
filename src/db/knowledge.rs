//! What the communities learned: solved questions with their accepted answers, questions
//! waiting for an answer, and who answers which tags best. Portable queries only.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::answer::Answer;
use super::schema::{answers, communities, tags, thread_tags, threads};
use super::thread::Thread;
use super::types::{ThreadKind, Visibility};

/// How knowledge lists are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KnowledgeSort {
    /// Highest score first.
    #[default]
    Votes,
    /// Newest first.
    Recent,
}

/// Which threads a knowledge list covers.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeScope {
    /// Include `internal` and `partners` communities (the viewer is a signed-in local
    /// member); otherwise only `public` ones.
    pub include_internal: bool,
    pub community_id: Option<i64>,
    /// A normalized tag name.
    pub tag: Option<String>,
}

/// Live threads of live communities within `scope`, as a boxed query on connection `$c`.
macro_rules! scoped_threads {
    ($scope:expr) => {{
        let scope: &KnowledgeScope = $scope;
        let mut visible = communities::table
            .filter(communities::deleted.eq(false))
            .select(communities::id)
            .into_boxed();
        if !scope.include_internal {
            visible = visible.filter(communities::visibility.eq(Visibility::Public));
        }
        if let Some(id) = scope.community_id {
            visible = visible.filter(communities::id.eq(id));
        }
        let mut query = threads::table
            .filter(threads::deleted.eq(false))
            .filter(threads::removed.eq(false))
            .filter(threads::community_id.eq_any(visible))
            .select(Thread::as_select())
            .into_boxed();
        if let Some(tag) = &scope.tag {
            query = query.filter(
                threads::id.eq_any(
                    thread_tags::table
                        .inner_join(tags::table)
                        .filter(tags::name.eq(tag.clone()))
                        .select(thread_tags::thread_id),
                ),
            );
        }
        query
    }};
}

/// Accepted answers that are neither deleted nor removed.
#[diesel::dsl::auto_type]
fn live_accepted() -> _ {
    answers::accepted
        .eq(true)
        .and(answers::deleted.eq(false))
        .and(answers::removed.eq(false))
}

/// Solved questions and discussions (an accepted answer), `limit` from `offset`.
pub async fn solved_threads(
    conn: &mut DbConn<'_>,
    scope: &KnowledgeScope,
    sort: KnowledgeSort,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<Thread>> {
    on_conn!(conn, |c| {
        let query = scoped_threads!(scope)
            .filter(threads::accepted_answer_count.gt(0))
            .limit(limit)
            .offset(offset);
        let query = match sort {
            KnowledgeSort::Votes => query.order_by((threads::score.desc(), threads::id.desc())),
            KnowledgeSort::Recent => {
                query.order_by((threads::published.desc(), threads::id.desc()))
            }
        };
        query.load(c).await
    })
}

/// Questions without any live answer, published before `older_than`, oldest first: the
/// queue for people who help.
pub async fn unanswered(
    conn: &mut DbConn<'_>,
    scope: &KnowledgeScope,
    older_than: NaiveDateTime,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<Thread>> {
    on_conn!(conn, |c| {
        scoped_threads!(scope)
            .filter(threads::kind.eq(ThreadKind::Question))
            .filter(threads::answer_count.eq(0))
            .filter(threads::locked.eq(false))
            .filter(threads::published.le(older_than))
            .order_by((threads::published.asc(), threads::id.asc()))
            .limit(limit)
            .offset(offset)
            .load(c)
            .await
    })
}

/// The live accepted answers of `thread_ids`.
pub async fn accepted_answers(
    conn: &mut DbConn<'_>,
    thread_ids: &[i64],
) -> QueryResult<Vec<Answer>> {
    on_conn!(conn, |c| {
        answers::table
            .filter(super::id_in(answers::thread_id, thread_ids))
            .filter(live_accepted())
            .order_by((
                answers::thread_id.asc(),
                answers::accepted_at.asc(),
                answers::id.asc(),
            ))
            .select(Answer::as_select())
            .load(c)
            .await
    })
}

/// (person id, accepted answers) in threads tagged `tag` within `scope`, most first.
pub async fn experts(
    conn: &mut DbConn<'_>,
    scope: &KnowledgeScope,
    limit: i64,
) -> QueryResult<Vec<(i64, i64)>> {
    on_conn!(conn, |c| {
        let in_scope = scoped_threads!(scope).select(threads::id);
        answers::table
            .filter(live_accepted())
            .filter(answers::thread_id.eq_any(in_scope))
            .group_by(answers::author_id)
            .select((answers::author_id, diesel::dsl::count_star()))
            .order_by((diesel::dsl::count_star().desc(), answers::author_id.asc()))
            .limit(limit)
            .load(c)
            .await
    })
}

/// (tag, accepted answers) of `person_id` in threads within `scope`, most first: what that
/// person is an expert in.
pub async fn expertise(
    conn: &mut DbConn<'_>,
    scope: &KnowledgeScope,
    person_id: i64,
    limit: i64,
) -> QueryResult<Vec<(String, i64)>> {
    on_conn!(conn, |c| {
        let in_scope = scoped_threads!(scope).select(threads::id);
        // Counted per accepted answer, as `experts` counts them.
        answers::table
            .inner_join(thread_tags::table.on(thread_tags::thread_id.eq(answers::thread_id)))
            .inner_join(tags::table.on(tags::id.eq(thread_tags::tag_id)))
            .filter(answers::author_id.eq(person_id))
            .filter(live_accepted())
            .filter(answers::thread_id.eq_any(in_scope))
            .group_by(tags::name)
            .select((tags::name, diesel::dsl::count_star()))
            .order_by((diesel::dsl::count_star().desc(), tags::name.asc()))
            .limit(limit)
            .load(c)
            .await
    })
}

/// What `person_id` contributed within `scope`: (threads, answers, accepted answers), live
/// ones only.
pub async fn contributions(
    conn: &mut DbConn<'_>,
    scope: &KnowledgeScope,
    person_id: i64,
) -> QueryResult<(i64, i64, i64)> {
    let threads_started: i64 = on_conn!(conn, |c| {
        scoped_threads!(scope)
            .filter(threads::author_id.eq(person_id))
            .count()
            .get_result(c)
            .await
    })?;
    let answered: Vec<(bool, i64)> = on_conn!(conn, |c| {
        let in_scope = scoped_threads!(scope).select(threads::id);
        answers::table
            .filter(answers::author_id.eq(person_id))
            .filter(answers::deleted.eq(false))
            .filter(answers::removed.eq(false))
            .filter(answers::thread_id.eq_any(in_scope))
            .group_by(answers::accepted)
            .select((answers::accepted, diesel::dsl::count_star()))
            .load(c)
            .await
    })?;
    let answers_written = answered.iter().map(|(_, n)| n).sum();
    let accepted = answered
        .iter()
        .find(|(accepted, _)| *accepted)
        .map_or(0, |(_, n)| *n);
    Ok((threads_started, answers_written, accepted))
}

/// (tag, live threads, solved threads) within `scope`, most used first.
pub async fn tag_counts(
    conn: &mut DbConn<'_>,
    scope: &KnowledgeScope,
    limit: i64,
) -> QueryResult<Vec<(String, i64, i64)>> {
    let counted: Vec<(String, i64)> = on_conn!(conn, |c| {
        let in_scope = scoped_threads!(scope).select(threads::id);
        thread_tags::table
            .inner_join(tags::table)
            .filter(thread_tags::thread_id.eq_any(in_scope))
            .group_by(tags::name)
            .select((tags::name, diesel::dsl::count_star()))
            .order_by((diesel::dsl::count_star().desc(), tags::name.asc()))
            .limit(limit)
            .load(c)
            .await
    })?;
    let names: Vec<String> = counted.iter().map(|(name, _)| name.clone()).collect();
    let solved: Vec<(String, i64)> = on_conn!(conn, |c| {
        let in_scope = scoped_threads!(scope)
            .filter(threads::accepted_answer_count.gt(0))
            .select(threads::id);
        thread_tags::table
            .inner_join(tags::table)
            .filter(thread_tags::thread_id.eq_any(in_scope))
            .filter(tags::name.eq_any(&names))
            .group_by(tags::name)
            .select((tags::name, diesel::dsl::count_star()))
            .load(c)
            .await
    })?;
    Ok(counted
        .into_iter()
        .map(|(name, threads)| {
            let solved = solved
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, count)| *count);
            (name, threads, solved)
        })
        .collect())
}
