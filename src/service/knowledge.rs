//! The knowledge base: solved questions with their accepted answers, tags with counts, the
//! people whose answers were accepted most per tag, and the questions still waiting.

use std::collections::HashMap;

use crate::db::Db;
use crate::db::knowledge::{self, KnowledgeScope, KnowledgeSort};
use crate::error::{AppError, AppResult};
use crate::service::auth::Session;
use crate::service::communities::resolve;
use crate::service::threads::{
    AnswerNode, ThreadDetails, answer_tree, authors, checked_tag, details, page_limit,
};
use crate::settings::Settings;

/// Which part of the knowledge base, and which page of it.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeRequest<'a> {
    /// A community handle; the whole instance (what it holds, local and federated) if none.
    pub community: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub sort: KnowledgeSort,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A solved thread and its accepted answers.
#[derive(Debug, Clone)]
pub struct KnowledgeEntry {
    pub thread: ThreadDetails,
    pub accepted: Vec<AnswerNode>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_offset: Option<i64>,
}

/// A tag with how many live threads carry it and how many of those are solved.
#[derive(Debug, Clone, PartialEq)]
pub struct TagCount {
    pub tag: String,
    pub threads: i64,
    pub solved: i64,
}

/// Someone whose answers were accepted, and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct Expert {
    pub handle: String,
    pub accepted_answers: i64,
}

/// Experts listed per tag at most.
pub const EXPERTS_MAX: i64 = 10;
/// Tags listed at most.
pub const TAGS_MAX: i64 = 200;

struct Checked {
    scope: KnowledgeScope,
    limit: i64,
    offset: i64,
}

impl Checked {
    /// Cuts `rows`, read with one more than the page's limit, to the page; returns the
    /// next page's offset when there is one.
    fn cut_to_page<T>(&self, rows: &mut Vec<T>) -> Option<i64> {
        let next_offset = (rows.len() as i64 > self.limit).then_some(self.offset + self.limit);
        rows.truncate(self.limit as usize);
        next_offset
    }
}

async fn check(
    conn: &mut crate::db::DbConn<'_>,
    settings: &Settings,
    viewer: Option<&Session>,
    request: &KnowledgeRequest<'_>,
) -> AppResult<Checked> {
    let limit = page_limit(request.limit)?;
    let offset = request.offset.unwrap_or(0);
    if !(0..=100_000).contains(&offset) {
        return Err(AppError::bad_request(
            "invalid_offset",
            "offset must be between 0 and 100000",
        ));
    }
    let tag = request.tag.map(checked_tag).transpose()?;
    let community_id = match request.community {
        Some(handle) => Some(resolve(conn, settings, viewer, handle).await?.id),
        None => None,
    };
    Ok(Checked {
        scope: KnowledgeScope {
            include_internal: viewer.is_some(),
            community_id,
            tag,
        },
        limit,
        offset,
    })
}

/// Solved threads with their accepted answers, by votes or recency.
pub async fn solved(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    request: KnowledgeRequest<'_>,
) -> AppResult<Page<KnowledgeEntry>> {
    crate::db::off_the_runtime(async move {
        crate::with_conn!(db, |conn| {
            let checked = check(&mut conn, settings, viewer, &request).await?;
            let mut rows = knowledge::solved_threads(
                &mut conn,
                &checked.scope,
                request.sort,
                checked.limit + 1,
                checked.offset,
            )
            .await?;
            let next_offset = checked.cut_to_page(&mut rows);
            let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
            let accepted = knowledge::accepted_answers(&mut conn, &ids).await?;
            let nodes = answer_tree(&mut conn, viewer, accepted).await?;
            let mut by_thread: HashMap<i64, Vec<AnswerNode>> = HashMap::new();
            for node in nodes {
                by_thread
                    .entry(node.answer.thread_id)
                    .or_default()
                    .push(node);
            }
            let items = details(&mut conn, viewer, rows)
                .await?
                .into_iter()
                .map(|thread| KnowledgeEntry {
                    accepted: by_thread.remove(&thread.thread.id).unwrap_or_default(),
                    thread,
                })
                .collect();
            Ok::<_, AppError>(Page { items, next_offset })
        })
    })
    .await
}

/// Questions without an answer for `knowledge.unanswered_after_hours`, oldest first.
pub async fn unanswered(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    request: KnowledgeRequest<'_>,
) -> AppResult<Page<ThreadDetails>> {
    let older_than = crate::db::now()
        - chrono::Duration::hours(i64::from(settings.knowledge.unanswered_after_hours));
    crate::db::off_the_runtime(async move {
        crate::with_conn!(db, |conn| {
            let checked = check(&mut conn, settings, viewer, &request).await?;
            let mut rows = knowledge::unanswered(
                &mut conn,
                &checked.scope,
                older_than,
                checked.limit + 1,
                checked.offset,
            )
            .await?;
            let next_offset = checked.cut_to_page(&mut rows);
            let items = details(&mut conn, viewer, rows).await?;
            Ok::<_, AppError>(Page { items, next_offset })
        })
    })
    .await
}

/// Tags with their thread and solved counts, most used first.
pub async fn tags(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    community: Option<&str>,
) -> AppResult<Vec<TagCount>> {
    let request = KnowledgeRequest {
        community,
        ..KnowledgeRequest::default()
    };
    crate::db::off_the_runtime(async move {
        crate::with_conn!(db, |conn| {
            let checked = check(&mut conn, settings, viewer, &request).await?;
            let counts = knowledge::tag_counts(&mut conn, &checked.scope, TAGS_MAX).await?;
            Ok::<_, AppError>(
                counts
                    .into_iter()
                    .map(|(tag, threads, solved)| TagCount {
                        tag,
                        threads,
                        solved,
                    })
                    .collect(),
            )
        })
    })
    .await
}

/// The people (local and remote) whose answers in threads tagged `tag` were accepted
/// most, with their counts.
pub async fn experts(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    tag: &str,
    community: Option<&str>,
) -> AppResult<Vec<Expert>> {
    let request = KnowledgeRequest {
        community,
        tag: Some(tag),
        ..KnowledgeRequest::default()
    };
    crate::db::off_the_runtime(async move {
        crate::with_conn!(db, |conn| {
            let checked = check(&mut conn, settings, viewer, &request).await?;
            let counts = knowledge::experts(&mut conn, &checked.scope, EXPERTS_MAX).await?;
            let ids: Vec<i64> = counts.iter().map(|(id, _)| *id).collect();
            let people = authors(&mut conn, &ids).await?;
            Ok::<_, AppError>(
                counts
                    .into_iter()
                    .filter_map(|(id, accepted_answers)| {
                        // Deleted accounts keep their answers but are not put forward.
                        let (handle, deleted) = people.get(&id)?;
                        (!deleted).then(|| Expert {
                            handle: handle.clone(),
                            accepted_answers,
                        })
                    })
                    .collect(),
            )
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use crate::db::types::AccountRole;
    use crate::testing::{TestApi, for_each_backend, test_settings};
    use serde_json::{Value, json};

    fn thread_ids(list: &Value) -> Vec<i64> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|t| t["id"].as_i64().or(t["thread"]["id"].as_i64()).expect("id"))
            .collect()
    }

    /// Issue #8: the knowledge base lists solved threads with their accepted answers by
    /// votes or recency and per tag; tag counts; experts per tag match the accepted
    /// answers; the unanswered queue holds questions only, after the configured age.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn knowledge_base_tags_experts_and_unanswered_queue() {
        for_each_backend(async |db| {
            let mut settings = test_settings();
            settings.knowledge.unanswered_after_hours = 0;
            let api = TestApi::new(db, settings).await;
            for name in ["ann", "bob", "cat"] {
                api.create_user(name, AccountRole::Member).await;
            }
            let (ann, bob, cat) = (
                api.login("ann").await,
                api.login("bob").await,
                api.login("cat").await,
            );
            let made = api
                .call(
                    "POST",
                    "/api/v1/communities",
                    Some(&ann),
                    Some(json!({"name": "rust", "title": "Rust", "kind": "qa"})),
                )
                .await;
            assert_eq!(made.status, 201, "{}", made.body);
            let ask = async |who: &str, title: &str, kind: &str, tags: &[&str]| -> i64 {
                let made = api
                    .call(
                        "POST",
                        "/api/v1/communities/rust/threads",
                        Some(who),
                        Some(
                            json!({"title": title, "body": "Details.", "kind": kind, "tags": tags}),
                        ),
                    )
                    .await;
                assert_eq!(made.status, 201, "{}", made.body);
                made.body["id"].as_i64().expect("id")
            };
            let answer = async |who: &str, thread: i64, body: &str| -> i64 {
                let made = api
                    .call(
                        "POST",
                        &format!("/api/v1/threads/{thread}/answers"),
                        Some(who),
                        Some(json!({"body": body})),
                    )
                    .await;
                assert_eq!(made.status, 201, "{}", made.body);
                made.body["id"].as_i64().expect("id")
            };
            let accept = async |who: &str, answer: i64| {
                let done = api
                    .call(
                        "POST",
                        &format!("/api/v1/answers/{answer}/accept"),
                        Some(who),
                        None,
                    )
                    .await;
                assert_eq!(done.status, 200, "{}", done.body);
            };
            let t1 = ask(&ann, "Spawning tasks", "question", &["async"]).await;
            let a1 = answer(&bob, t1, "Use tokio::spawn.").await;
            accept(&ann, a1).await;
            let t2 = ask(&ann, "Select loops", "question", &["async", "tokio"]).await;
            answer(&cat, t2, "Use a channel.").await;
            let a3 = answer(&bob, t2, "Use tokio::select!.").await;
            accept(&ann, a3).await;
            let t3 = ask(&cat, "Runtime flavours", "question", &["tokio"]).await;
            let a4 = answer(&bob, t3, "current_thread for tests.").await;
            accept(&cat, a4).await;
            let t4 = ask(&bob, "Cancelling a task", "question", &["async"]).await;
            ask(&cat, "Favourite crates", "discussion", &["async"]).await;
            let voted = api
                .call(
                    "POST",
                    &format!("/api/v1/threads/{t3}/vote"),
                    Some(&ann),
                    Some(json!({"score": 1})),
                )
                .await;
            assert_eq!(voted.status, 200, "{}", voted.body);

            let kb = api.call("GET", "/api/v1/kb", None, None).await;
            assert_eq!(kb.status, 200, "{}", kb.body);
            assert_eq!(thread_ids(&kb.body["items"]), [t3, t2, t1], "by votes");
            let first = &kb.body["items"][0];
            assert_eq!(first["accepted_answers"][0]["id"], a4, "{first}");
            assert_eq!(first["accepted_answers"].as_array().map(Vec::len), Some(1));
            let recent = api
                .call("GET", "/api/v1/kb?sort=recent&community=rust", None, None)
                .await;
            assert_eq!(thread_ids(&recent.body["items"]), [t3, t2, t1]);
            let tokio = api
                .call("GET", "/api/v1/kb?tag=tokio&sort=recent", None, None)
                .await;
            assert_eq!(thread_ids(&tokio.body["items"]), [t3, t2]);
            let paged = api.call("GET", "/api/v1/kb?limit=2", None, None).await;
            assert_eq!(thread_ids(&paged.body["items"]), [t3, t2]);
            assert_eq!(paged.body["next_offset"], 2);

            let tags = api.call("GET", "/api/v1/tags", None, None).await;
            assert_eq!(
                tags.body,
                json!([{"tag": "async", "threads": 4, "solved": 2},
                       {"tag": "tokio", "threads": 2, "solved": 2}])
            );
            let experts = api
                .call("GET", "/api/v1/tags/async/experts", None, None)
                .await;
            assert_eq!(
                experts.body,
                json!([{"handle": "bob", "accepted_answers": 2}])
            );
            let experts = api
                .call(
                    "GET",
                    "/api/v1/tags/Tokio/experts?community=rust",
                    None,
                    None,
                )
                .await;
            assert_eq!(
                experts.body,
                json!([{"handle": "bob", "accepted_answers": 2}])
            );
            let bad = api
                .call("GET", "/api/v1/tags/%20/experts", None, None)
                .await;
            assert_eq!((bad.status.as_u16(), bad.code()), (400, "invalid_tag"));

            let queue = api.call("GET", "/api/v1/unanswered", None, None).await;
            assert_eq!(thread_ids(&queue.body["threads"]), [t4], "{}", queue.body);
            let missing = api
                .call("GET", "/api/v1/kb?community=nope", None, None)
                .await;
            assert_eq!(missing.status, 404);
        })
        .await;
    }

    /// With the default age, a question asked just now is not in the queue yet.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fresh_question_waits_before_joining_the_unanswered_queue() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            api.create_user("ann", AccountRole::Member).await;
            let ann = api.login("ann").await;
            api.call(
                "POST",
                "/api/v1/communities",
                Some(&ann),
                Some(json!({"name": "rust", "title": "Rust", "kind": "qa"})),
            )
            .await;
            let asked = api
                .call(
                    "POST",
                    "/api/v1/communities/rust/threads",
                    Some(&ann),
                    Some(json!({"title": "Just asked", "body": "Now."})),
                )
                .await;
            assert_eq!(asked.status, 201);
            let queue = api.call("GET", "/api/v1/unanswered", None, None).await;
            assert_eq!(queue.body["threads"], json!([]));
        })
        .await;
    }
}
