//! Searching what the communities know: threads and their answers, local and federated,
//! ranked with accepted answers and solved threads first among equals.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::db::Db;
use crate::db::search::{self, GREATER_THAN, LESS_THAN, MATCH_END, MATCH_START, SearchFilter};
use crate::db::types::ThreadKind;
use crate::db::{instance, thread};
use crate::error::{AppError, AppResult};
use crate::service::auth::Session;
use crate::service::communities::resolve;
use crate::service::people::person_by_handle;
use crate::service::threads::{ThreadDetails, checked_tag, details, page_limit};
use crate::settings::Settings;

/// Longest query read. Longer input is refused rather than silently cut, so the person
/// knows; anything up to this is answered (only the first words count).
pub const QUERY_MAX_CHARS: usize = 10_000;

/// What to search for and where.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest<'a> {
    pub q: &'a str,
    /// A community handle (`name` or `name@domain`).
    pub community: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub solved: Option<bool>,
    /// `question` or `discussion`.
    pub kind: Option<&'a str>,
    /// A person's handle (`name`, `name@domain`, an optional leading `@`): only their
    /// threads and answers.
    pub author: Option<&'a str>,
    /// A domain: only threads from that instance.
    pub instance: Option<&'a str>,
    /// Published on or after: a date (`2026-11-01`, from its start, UTC) or an RFC 3339
    /// time.
    pub since: Option<&'a str>,
    /// Published on or before: a date (to its end, UTC) or an RFC 3339 time.
    pub until: Option<&'a str>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// One matching thread, with where it matched.
#[derive(Debug, Clone)]
pub struct SearchResult {
    pub thread: ThreadDetails,
    /// The answer that matched best, when an answer did.
    pub answer_id: Option<i64>,
    /// The text around the matched words, HTML-escaped, the words in `<mark>`.
    pub snippet_html: String,
    pub relevance: f64,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub results: Vec<SearchResult>,
    /// `offset` of the next page, when there is one.
    pub next_offset: Option<i64>,
    /// How many threads match in all, or at least, when `total_capped`.
    pub total: i64,
    /// An index reached the cap of [`search::CANDIDATES`] ranked matches: there may be
    /// more, so more than `total` threads may match.
    pub total_capped: bool,
}

/// Threads matching every word of `q`, most relevant first. Anonymous viewers do not see
/// `internal` communities' threads.
pub async fn search(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    request: SearchRequest<'_>,
) -> AppResult<SearchPage> {
    if request.q.chars().count() > QUERY_MAX_CHARS {
        return Err(AppError::bad_request(
            "query_too_long",
            format!("a search may be at most {QUERY_MAX_CHARS} characters"),
        ));
    }
    let limit = page_limit(request.limit)?;
    let offset = request.offset.unwrap_or(0);
    if !(0..=10_000).contains(&offset) {
        return Err(AppError::bad_request(
            "invalid_offset",
            "offset must be between 0 and 10000",
        ));
    }
    let tag = request.tag.map(checked_tag).transpose()?;
    let kind = request.kind.map(checked_kind).transpose()?;
    let published_since = request
        .since
        .map(|raw| time_bound(raw, "since"))
        .transpose()?;
    let published_before = request
        .until
        .map(|raw| time_bound(raw, "until"))
        .transpose()?;
    let published_before = match (request.until, published_before) {
        // A date means through its end; a time, up to and including it.
        (Some(raw), Some(at)) if is_date(raw) => Some(at + chrono::Duration::days(1)),
        (_, at) => at.map(|at| at + chrono::Duration::microseconds(1)),
    };
    if let (Some(since), Some(before)) = (published_since, published_before)
        && since >= before
    {
        return Err(AppError::bad_request(
            "invalid_date_range",
            "`since` must be before `until`",
        ));
    }
    let terms = search::query_terms(request.q);
    crate::db::off_the_runtime(async move {
        crate::with_conn!(db, |conn| {
            let community_id = match request.community {
                Some(handle) => Some(resolve(&mut conn, settings, viewer, handle).await?.id),
                None => None,
            };
            let author_id = match request.author {
                Some(handle) => Some(person_by_handle(&mut conn, settings, handle).await?.id),
                None => None,
            };
            let instance_id = match request.instance {
                Some(domain) => Some(instance_by_domain(&mut conn, domain).await?),
                None => None,
            };
            let mut filter = SearchFilter {
                include_internal: viewer.is_some(),
                community_id,
                tag,
                solved: request.solved,
                kind,
                author_id,
                instance_id,
                published_since,
                published_before,
                match_any: false,
                candidates: None,
                limit: limit + 1,
                offset,
            };
            let mut hits = search::search(&mut conn, &terms, &filter).await?;
            let (total, total_capped) = match hits.first() {
                Some(hit) => (hit.total, hit.total_capped),
                // Past the last page the count comes with no row; ask for the first one.
                None if offset > 0 => {
                    filter.offset = 0;
                    filter.limit = 1;
                    search::search(&mut conn, &terms, &filter)
                        .await?
                        .first()
                        .map_or((0, false), |hit| (hit.total, hit.total_capped))
                }
                None => (0, false),
            };
            let next_offset = (hits.len() as i64 > limit).then_some(offset + limit);
            hits.truncate(limit as usize);
            let results = with_details(&mut conn, viewer, hits).await?;
            Ok::<_, AppError>(SearchPage {
                results,
                next_offset,
                total,
                total_capped,
            })
        })
    })
    .await
}

fn checked_kind(raw: &str) -> AppResult<ThreadKind> {
    raw.trim().parse::<ThreadKind>().map_err(|_| {
        AppError::bad_request(
            "invalid_kind",
            format!("kind must be `question` or `discussion`, not `{raw}`"),
        )
    })
}

fn is_date(raw: &str) -> bool {
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").is_ok()
}

/// A date (its start, UTC) or an RFC 3339 time, as the UTC time the database compares.
fn time_bound(raw: &str, name: &str) -> AppResult<NaiveDateTime> {
    let raw = raw.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN));
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|at| at.naive_utc())
        .map_err(|_| {
            AppError::bad_request(
                "invalid_date",
                format!(
                    "`{name}` must be a date like 2026-11-01 or an RFC 3339 time like \
                     2026-11-01T12:00:00Z, not `{raw}`"
                ),
            )
        })
}

/// The id of the instance at `domain` (`host` or `host:port`); 404 when it is unknown.
async fn instance_by_domain(conn: &mut crate::db::DbConn<'_>, domain: &str) -> AppResult<i64> {
    let normalized = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    instance::read_by_domain(conn, &normalized)
        .await?
        .map(|i| i.id)
        .ok_or_else(|| {
            AppError::not_found(
                "instance_not_found",
                format!("no instance `{domain}` is known here"),
            )
        })
}

/// Threads of the community named `community_handle` like `title` (any of its words),
/// solved ones first, at most [`SIMILAR_MAX`]: what the ask form shows while a question is
/// typed.
pub async fn similar(
    db: &Db,
    settings: &Settings,
    viewer: Option<&Session>,
    community_handle: &str,
    title: &str,
) -> AppResult<Vec<SearchResult>> {
    if title.chars().count() > QUERY_MAX_CHARS {
        return Err(AppError::bad_request(
            "query_too_long",
            format!("a title to compare may be at most {QUERY_MAX_CHARS} characters"),
        ));
    }
    let terms = search::query_terms(title);
    crate::db::off_the_runtime(async move {
        crate::with_conn!(db, |conn| {
            let community = resolve(&mut conn, settings, viewer, community_handle).await?;
            let filter = SearchFilter {
                include_internal: viewer.is_some(),
                community_id: Some(community.id),
                match_any: true,
                // Solved ones are picked from the best few, not from everything that shares a
                // single common word.
                limit: SIMILAR_MAX as i64 * 4,
                ..SearchFilter::default()
            };
            let hits = search::search(&mut conn, &terms, &filter).await?;
            let mut results = with_details(&mut conn, viewer, hits).await?;
            // Stable: relevance order is kept within solved and unsolved.
            results.sort_by_key(|r| r.thread.thread.accepted_answer_count == 0);
            results.truncate(SIMILAR_MAX);
            Ok::<_, AppError>(results)
        })
    })
    .await
}

/// Similar questions shown at most.
pub const SIMILAR_MAX: usize = 5;

/// The threads of `hits` with what their JSON shows, in the order of `hits`.
async fn with_details(
    conn: &mut crate::db::DbConn<'_>,
    viewer: Option<&Session>,
    hits: Vec<search::SearchHit>,
) -> AppResult<Vec<SearchResult>> {
    let ids: Vec<i64> = hits.iter().map(|h| h.thread_id).collect();
    let mut by_id: HashMap<i64, thread::Thread> = thread::read_many(conn, &ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let ordered: Vec<thread::Thread> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    let threads = details(conn, viewer, ordered).await?;
    let mut hits: HashMap<i64, search::SearchHit> =
        hits.into_iter().map(|h| (h.thread_id, h)).collect();
    Ok(threads
        .into_iter()
        .filter_map(|thread| {
            let hit = hits.remove(&thread.thread.id)?;
            Some(SearchResult {
                thread,
                answer_id: hit.answer_id,
                snippet_html: snippet_html(&hit.snippet),
                relevance: hit.relevance,
            })
        })
        .collect())
}

/// Escapes `snippet` for HTML, then turns the match marks into `<mark>` elements: stored
/// text can never open an element of its own.
pub fn snippet_html(snippet: &str) -> String {
    let mut html = String::with_capacity(snippet.len() + 16);
    for c in snippet.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' | LESS_THAN => html.push_str("&lt;"),
            '>' | GREATER_THAN => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            MATCH_START => html.push_str("<mark>"),
            MATCH_END => html.push_str("</mark>"),
            other => html.push(other),
        }
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestApi, for_each_backend, test_settings};
    use serde_json::json;

    #[test]
    fn snippets_escape_stored_text_and_mark_matches() {
        let raw = format!("use <script>&{MATCH_START}tokio{MATCH_END}\"'");
        assert_eq!(
            snippet_html(&raw),
            "use &lt;script&gt;&amp;<mark>tokio</mark>&quot;&#39;"
        );
    }

    /// Issue #8 "Done when", local half: a word only in an accepted answer finds its
    /// thread; `solved` filters; a deleted thread is not found; hostile queries answer 200.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn search_finds_threads_by_answers_and_filters_them() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let ann = api.signed_in_member("ann").await;
            let bob = api.signed_in_member("bob").await;
            let created = api
                .call("POST", "/api/v1/communities", Some(&ann), Some(json!({"name": "rust", "title": "Rust", "kind": "qa"}))).await;
            assert_eq!(created.status, 201, "{}", created.body);
            let ask = |title: &str, body: &str, tags: Vec<&str>| {
                json!({"title": title, "body": body, "tags": tags})
            };
            let solved = api
                .call("POST", "/api/v1/communities/rust/threads", Some(&ann), Some(ask("Sharing state between tasks", "How do I share a map?", vec!["async"]))).await;
            let solved_id = solved.body["id"].as_i64().expect("id");
            let answer = api
                .call("POST", &format!("/api/v1/threads/{solved_id}/answers"), Some(&bob), Some(json!({"body": "Wrap it in an Arc<Mutex<_>> or use dashmap."}))).await;
            let answer_id = answer.body["id"].as_i64().expect("answer id");
            let accepted = api
                .call("POST", &format!("/api/v1/answers/{answer_id}/accept"), Some(&ann), Some(json!({}))).await;
            assert_eq!(accepted.status, 200, "{}", accepted.body);
            let open = api
                .call("POST", "/api/v1/communities/rust/threads", Some(&bob), Some(ask(
                        "Dashmap or RwLock?",
                        "Which is faster for reads of a HashMap<String, u64>?",
                        vec![],
                    ))).await;
            let open_id = open.body["id"].as_i64().expect("id");
            let gone = api
                .call("POST", "/api/v1/communities/rust/threads", Some(&bob), Some(ask("Dashmap shards", "Deleted soon.", vec![]))).await;
            let gone_id = gone.body["id"].as_i64().expect("id");
            let deleted = api
                .call("DELETE", &format!("/api/v1/threads/{gone_id}"), Some(&bob), None).await;
            assert!(deleted.status.is_success(), "{}", deleted.body);

            let ids = |body: &serde_json::Value| -> Vec<i64> {
                body["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .map(|r| r["thread"]["id"].as_i64().expect("id"))
                    .collect()
            };
            // Only the accepted answer says "dashmap" for the first thread; the deleted one
            // is absent.
            let found = api.call("GET", "/api/v1/search?q=dashmap", None, None).await;
            assert_eq!(found.status, 200, "{}", found.body);
            let mut found_ids = ids(&found.body);
            found_ids.sort();
            assert_eq!(found_ids, [solved_id, open_id], "{}", found.body);
            let by_answer = found.body["results"]
                .as_array()
                .expect("results")
                .iter()
                .find(|r| r["thread"]["id"] == solved_id)
                .expect("the solved thread");
            assert_eq!(by_answer["answer_id"], answer_id);
            assert!(
                by_answer["snippet_html"]
                    .as_str()
                    .is_some_and(|s| s.contains("<mark>dashmap</mark>")
                        && s.contains("Arc&lt;Mutex&lt;_&gt;&gt;")),
                "{by_answer}"
            );
            let only_solved = api.call("GET", "/api/v1/search?q=dashmap&solved=true", None, None).await;
            assert_eq!(ids(&only_solved.body), [solved_id]);
            let unsolved = api.call("GET", "/api/v1/search?q=dashmap&solved=false", None, None).await;
            assert_eq!(ids(&unsolved.body), [open_id]);
            let tagged = api.call("GET", "/api/v1/search?q=map&tag=async", None, None).await;
            assert_eq!(ids(&tagged.body), [solved_id]);
            // Words inside angle brackets are words, not markup.
            let generic = api.call("GET", "/api/v1/search?q=string%20u64", None, None).await;
            assert_eq!(ids(&generic.body), [open_id], "{}", generic.body);
            assert!(
                generic.body["results"][0]["snippet_html"]
                    .as_str()
                    .is_some_and(|s| s.contains("HashMap&lt;<mark>String</mark>")),
                "{}",
                generic.body
            );
            // Stemming: "sharing" finds "share".
            let stemmed = api.call("GET", "/api/v1/search?q=shares&community=rust", None, None).await;
            assert_eq!(ids(&stemmed.body), [solved_id]);
            let paged = api.call("GET", "/api/v1/search?q=dashmap&limit=1", None, None).await;
            assert_eq!(ids(&paged.body).len(), 1);
            assert_eq!(paged.body["next_offset"], 1);
            let rest = api
                .call("GET", "/api/v1/search?q=dashmap&limit=1&offset=1", None, None)
                .await;
            assert_eq!(ids(&rest.body).len(), 1);
            assert_ne!(ids(&rest.body), ids(&paged.body));
            assert_eq!(rest.body["next_offset"], serde_json::Value::Null);

            // Equal matches: the solved thread ranks first.
            let mut twins = Vec::new();
            for (token, author) in [(&bob, "bob"), (&ann, "ann")] {
                let made = api
                    .call(
                        "POST",
                        "/api/v1/communities/rust/threads",
                        Some(token),
                        Some(ask("Pinning futures", &format!("When to pin? ({author})"), vec![])),
                    )
                    .await;
                twins.push(made.body["id"].as_i64().expect("id"));
            }
            let reply = api
                .call(
                    "POST",
                    &format!("/api/v1/threads/{}/answers", twins[1]),
                    Some(&bob),
                    Some(json!({"body": "Only for self-referential types."})),
                )
                .await;
            let reply_id = reply.body["id"].as_i64().expect("id");
            api.call("POST", &format!("/api/v1/answers/{reply_id}/accept"), Some(&ann), None)
                .await;
            let ranked = api.call("GET", "/api/v1/search?q=pinning", None, None).await;
            assert_eq!(ids(&ranked.body), [twins[1], twins[0]], "{}", ranked.body);

            // Similar questions: any word of the title, solved first, in the community.
            let similar = api
                .call(
                    "GET",
                    "/api/v1/communities/rust/similar?title=Is%20dashmap%20faster%20than%20a%20map",
                    None,
                    None,
                )
                .await;
            assert_eq!(similar.status, 200, "{}", similar.body);
            let similar_ids: Vec<i64> = similar.body["threads"]
                .as_array()
                .expect("threads")
                .iter()
                .map(|t| t["id"].as_i64().expect("id"))
                .collect();
            assert_eq!(similar_ids.first(), Some(&solved_id), "{}", similar.body);
            assert!(similar_ids.contains(&open_id), "{}", similar.body);
            assert!(!similar_ids.contains(&gone_id));

            let long = "c%2B%2B%20".repeat(2_500);
            for hostile in [
                "c%2B%2B",
                "%22unbalanced",
                "*",
                "%F0%9F%A6%80",
                "NEAR(a%20b)",
                "a%20OR%20b%20NOT",
                "",
                long.as_str(),
            ] {
                let answered = api.call("GET", &format!("/api/v1/search?q={hostile}"), None, None).await;
                assert_eq!(answered.status, 200, "{hostile}: {}", answered.body);
            }
            let too_long = "x".repeat(QUERY_MAX_CHARS + 1);
            let refused = api.call("GET", &format!("/api/v1/search?q={too_long}"), None, None).await;
            assert_eq!(
                (refused.status.as_u16(), refused.code()),
                (400, "query_too_long")
            );
        })
        .await;
    }

    /// Filters by kind, author (their threads and their answers), origin instance and
    /// publication date; the total counts every page; bad filters get named errors.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn search_filters_by_kind_author_instance_and_date() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let ann = api.signed_in_member("ann").await;
            let bob = api.signed_in_member("bob").await;
            api.call("POST", "/api/v1/communities", Some(&ann), Some(json!({"name": "rust", "title": "Rust", "kind": "qa"}))).await;
            let question = api
                .call("POST", "/api/v1/communities/rust/threads", Some(&ann), Some(json!({"title": "Lifetime of a borrow", "body": "Why?", "kind": "question"}))).await;
            let question_id = question.body["id"].as_i64().expect("id");
            let discussion = api
                .call("POST", "/api/v1/communities/rust/threads", Some(&bob), Some(json!({"title": "Lifetime elision rules", "body": "Let us talk.", "kind": "discussion"}))).await;
            let discussion_id = discussion.body["id"].as_i64().expect("id");
            let other = api
                .call("POST", "/api/v1/communities/rust/threads", Some(&ann), Some(json!({"title": "Traits", "body": "Objects.", "kind": "question"}))).await;
            let other_id = other.body["id"].as_i64().expect("id");
            // Bob's answer under ann's other question mentions the word; ann's own text there
            // does not.
            api.call("POST", &format!("/api/v1/threads/{other_id}/answers"), Some(&bob), Some(json!({"body": "A lifetime bound on the trait object."}))).await;

            let found = async |query: &str| -> (Vec<i64>, i64) {
                let response = api.call("GET", &format!("/api/v1/search?q=lifetime{query}"), None, None).await;
                assert_eq!(response.status, 200, "{query}: {}", response.body);
                let mut ids: Vec<i64> = response.body["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .map(|r| r["thread"]["id"].as_i64().expect("id"))
                    .collect();
                ids.sort();
                (ids, response.body["total"].as_i64().expect("total"))
            };
            let all = vec![question_id, discussion_id, other_id];
            assert_eq!(found("").await, (all.clone(), 3));
            assert_eq!(found("&kind=discussion").await, (vec![discussion_id], 1));
            assert_eq!(found("&kind=question").await, (vec![question_id, other_id], 2));
            // Bob wrote the discussion and the answer under "Traits"; ann only her question.
            assert_eq!(found("&author=bob").await, (vec![discussion_id, other_id], 2));
            assert_eq!(found("&author=%40ann").await, (vec![question_id], 1));
            let here = crate::testing::TEST_DOMAIN;
            assert_eq!(found(&format!("&instance={here}")).await, (all.clone(), 3));
            assert_eq!(found(&format!("&author=ann%40{here}")).await, (vec![question_id], 1));
            let today = chrono::Utc::now().date_naive();
            let tomorrow = today + chrono::Duration::days(1);
            let yesterday = today - chrono::Duration::days(1);
            assert_eq!(found(&format!("&since={today}&until={today}")).await, (all.clone(), 3));
            assert_eq!(found(&format!("&since={tomorrow}")).await, (vec![], 0));
            assert_eq!(found(&format!("&until={yesterday}")).await, (vec![], 0));
            assert_eq!(found(&format!("&since={yesterday}T00:00:00Z")).await.1, 3);
            // The total holds on every page, and past the last one.
            let first = api.call("GET", "/api/v1/search?q=lifetime&limit=1", None, None).await;
            assert_eq!((first.body["total"].as_i64(), first.body["next_offset"].as_i64()), (Some(3), Some(1)));
            let past = api.call("GET", "/api/v1/search?q=lifetime&offset=10", None, None).await;
            assert_eq!(past.body["results"].as_array().map(Vec::len), Some(0));
            assert_eq!(past.body["total"], 3);

            for (query, status, code) in [
                ("&kind=poll", 400, "invalid_kind"),
                ("&since=2026-13-01", 400, "invalid_date"),
                ("&until=yesterday", 400, "invalid_date"),
                (&*format!("&since={tomorrow}&until={yesterday}"), 400, "invalid_date_range"),
                ("&author=nobody", 404, "person_not_found"),
                ("&instance=unknown.example", 404, "instance_not_found"),
            ] {
                let refused = api.call("GET", &format!("/api/v1/search?q=lifetime{query}"), None, None).await;
                assert_eq!((refused.status.as_u16(), refused.code()), (status, code), "{query}: {}", refused.body);
            }
        })
        .await;
    }

    /// The threads `filter` finds for `words`, straight from the index queries, in id
    /// order, and whether the total was capped.
    async fn ranked(db: &Db, words: &str, filter: SearchFilter) -> AppResult<(Vec<i64>, bool)> {
        let terms = search::query_terms(words);
        let hits = crate::with_conn!(db, |conn| search::search(&mut conn, &terms, &filter)
            .await
            .map_err(AppError::from)?);
        let mut ids: Vec<i64> = hits.iter().map(|h| h.thread_id).collect();
        ids.sort();
        Ok((ids, hits.first().is_some_and(|h| h.total_capped)))
    }

    /// Each index ranks only its newest matches, chosen after the filters so a narrow
    /// search still finds its own; the total then says it is a lower bound. Any-word
    /// matching ignores stop words on both backends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn search_ranks_the_newest_matches_that_pass_the_filters() {
        for_each_backend(async |db| {
            let api = TestApi::new(db.clone(), test_settings()).await;
            let ann = api.signed_in_member("ann").await;
            let mut community = HashMap::new();
            for name in ["rust", "go"] {
                let made = api
                    .call(
                        "POST",
                        "/api/v1/communities",
                        Some(&ann),
                        Some(json!({"name": name, "title": name, "kind": "qa"})),
                    )
                    .await;
                assert_eq!(made.status, 201, "{}", made.body);
                community.insert(name, made.body["id"].as_i64().expect("id"));
            }
            let mut threads = Vec::new();
            for (name, title) in [
                ("rust", "Zeppelin one"),
                ("rust", "Zeppelin two"),
                ("rust", "Zeppelin three"),
                ("go", "Zeppelin four"),
                ("go", "Zeppelin five"),
                ("rust", "How the compiler works"),
            ] {
                let made = api
                    .call(
                        "POST",
                        &format!("/api/v1/communities/{name}/threads"),
                        Some(&ann),
                        Some(json!({"title": title, "body": "Plain words."})),
                    )
                    .await;
                assert_eq!(made.status, 201, "{}", made.body);
                threads.push(made.body["id"].as_i64().expect("id"));
            }
            let answered = api
                .call(
                    "POST",
                    &format!("/api/v1/threads/{}/answers", threads[0]),
                    Some(&ann),
                    Some(json!({"body": "A zeppelin answer."})),
                )
                .await;
            assert_eq!(answered.status, 201, "{}", answered.body);

            let capped = |community_id: Option<i64>| SearchFilter {
                community_id,
                candidates: Some(2),
                limit: 20,
                ..SearchFilter::default()
            };
            // The two newest thread matches (both in go), and the one answer match.
            let mut expected = vec![threads[0], threads[3], threads[4]];
            expected.sort();
            assert_eq!(
                ranked(&db, "zeppelin", capped(None)).await.expect("search"),
                (expected, true)
            );
            // In rust: its two newest, not nothing because go's are newer.
            let mut expected = vec![threads[0], threads[1], threads[2]];
            expected.sort();
            assert_eq!(
                ranked(&db, "zeppelin", capped(Some(community["rust"])))
                    .await
                    .expect("search"),
                (expected, true)
            );
            let everything = SearchFilter {
                limit: 20,
                ..SearchFilter::default()
            };
            assert_eq!(
                ranked(&db, "zeppelin", everything.clone())
                    .await
                    .expect("search"),
                (threads[..5].to_vec(), false)
            );

            // The totals as the API tells them.
            let all = api
                .call("GET", "/api/v1/search?q=zeppelin", None, None)
                .await;
            assert_eq!(
                (
                    all.body["total"].as_i64(),
                    all.body["total_capped"].as_bool()
                ),
                (Some(5), Some(false)),
                "{}",
                all.body
            );

            // "How", "is" and "the" are stop words: only "weather" is looked for.
            let any = SearchFilter {
                match_any: true,
                ..everything
            };
            assert_eq!(
                ranked(&db, "How is the weather", any.clone())
                    .await
                    .expect("search"),
                (vec![], false)
            );
            assert_eq!(
                ranked(&db, "How the compiler", any).await.expect("search"),
                (vec![threads[5]], false)
            );
        })
        .await;
    }
}
