//! Full-text search over threads and answers: FTS5 on SQLite, tsvector on PostgreSQL (the
//! index tables and their triggers are in the `search` migrations). Besides pool setup and
//! migrations, the only dialect-specific SQL.

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text, Timestamp};
use diesel_async::RunQueryDsl;

use super::DbConn;
use super::types::ThreadKind;

/// Words taken from one query at most; more add nothing but cost.
pub const MAX_TERMS: usize = 16;
/// Longer "words" are noise (base64, hashes) and are cut to this many characters.
const MAX_TERM_CHARS: usize = 64;

/// Marks around matched words in snippets, from the private-use area so no stored text
/// carries them; the service turns them into `<mark>` after escaping the rest.
pub const MATCH_START: char = '\u{E000}';
pub const MATCH_END: char = '\u{E001}';
/// Stand-ins for `<` and `>` in PostgreSQL snippets: its headline parser would take
/// `Arc<Mutex<_>>` for markup and drop it.
pub const LESS_THAN: char = '\u{E002}';
pub const GREATER_THAN: char = '\u{E003}';

/// The search words in `query`: runs of letters and digits, lower-cased, at most
/// [`MAX_TERMS`]. Everything else (quotes, `*`, `+`, operators, emoji) only separates words,
/// so no input can change the shape of the full-text query.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let term: String = word
            .chars()
            .take(MAX_TERM_CHARS)
            .collect::<String>()
            .to_lowercase();
        if !terms.contains(&term) {
            terms.push(term);
        }
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// How many matches of each index (threads, answers) are ranked at most: the newest that
/// pass the filters. A word in 100,000 answers would otherwise have every one of them ranked,
/// grouped and sorted for a page of 20 (1-2 s at 1,000,000 answers); with the cap a search
/// costs about the same whatever its words, and results for a common word come from recent
/// matches. Adding words narrows the matches, so older threads are still found.
pub const CANDIDATES: i64 = 1_000;

/// English stop words, the list PostgreSQL's `english` configuration drops (its
/// `tsearch_data/english.stop`, from Snowball). SQLite's FTS5 has no stop words, so
/// any-word queries leave them out here: "the" alone is in nearly every answer.
const STOP_WORDS: &str = "\
    i me my myself we our ours ourselves you your yours yourself yourselves he him his \
    himself she her hers herself it its itself they them their theirs themselves what \
    which who whom this that these those am is are was were be been being have has had \
    having do does did doing a an the and but if or because as until while of at by for \
    with about against between into through during before after above below to from up \
    down in out on off over under again further then once here there when where why how \
    all any both each few more most other some such no nor not only own same so than too \
    very s t can will just don should now";

/// What a search is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Include threads of `internal` and `partners` communities (the viewer is a signed-in
    /// local member); otherwise only `public` ones.
    pub include_internal: bool,
    pub community_id: Option<i64>,
    /// A normalized tag name.
    pub tag: Option<String>,
    /// Only threads with (`true`) or without (`false`) an accepted answer.
    pub solved: Option<bool>,
    pub kind: Option<ThreadKind>,
    /// Only what this person wrote: their threads and their answers.
    pub author_id: Option<i64>,
    /// Only threads that come from this instance (their author's).
    pub instance_id: Option<i64>,
    /// Only threads published at or after this time.
    pub published_since: Option<NaiveDateTime>,
    /// Only threads published before this time.
    pub published_before: Option<NaiveDateTime>,
    /// Match threads with any of the terms rather than all (similar questions).
    pub match_any: bool,
    /// Matches ranked per index; `None` is [`CANDIDATES`].
    pub candidates: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// One matching thread: the best hit among its title, body, tags and live answers.
#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct SearchHit {
    #[diesel(sql_type = BigInt)]
    pub thread_id: i64,
    /// Set when the best hit is an answer.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub answer_id: Option<i64>,
    /// Higher is more relevant; comparable within one result list only.
    #[diesel(sql_type = Double)]
    pub relevance: f64,
    /// Plain text around the matched words, which are between [`MATCH_START`] and
    /// [`MATCH_END`]; `<` and `>` may come as [`LESS_THAN`] and [`GREATER_THAN`].
    #[diesel(sql_type = Text)]
    pub snippet: String,
    /// How many threads the ranked matches belong to (every page carries it).
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    /// Whether an index reached the cap ([`CANDIDATES`]): it may have more matches than
    /// were ranked, so more than `total` threads may match.
    #[diesel(sql_type = Bool)]
    pub total_capped: bool,
}

/// Live threads matching every term (any, for [`SearchFilter::match_any`]), most relevant
/// first, among the newest [`CANDIDATES`] matches of each index. Accepted answers weigh
/// double, and solved threads and well-voted ones are lifted.
pub async fn search(
    conn: &mut DbConn<'_>,
    terms: &[String],
    filter: &SearchFilter,
) -> diesel::QueryResult<Vec<SearchHit>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let start = MATCH_START.to_string();
    let end = MATCH_END.to_string();
    let kind = filter.kind.map(|k| k.as_str());
    let candidates = filter.candidates.unwrap_or(CANDIDATES);
    // Both statements number their parameters the same way from ?4 / $4 on, so the
    // filters are bound once, in one order.
    macro_rules! bind_filters {
        ($query:expr) => {
            $query
                .bind::<Bool, _>(filter.include_internal)
                .bind::<Nullable<BigInt>, _>(filter.community_id)
                .bind::<Nullable<Bool>, _>(filter.solved)
                .bind::<Nullable<Text>, _>(filter.tag.as_deref())
                .bind::<Nullable<Text>, _>(kind)
                .bind::<Nullable<BigInt>, _>(filter.author_id)
                .bind::<Nullable<BigInt>, _>(filter.instance_id)
                .bind::<Nullable<Timestamp>, _>(filter.published_since)
                .bind::<Nullable<Timestamp>, _>(filter.published_before)
                .bind::<BigInt, _>(filter.limit)
                .bind::<BigInt, _>(filter.offset)
        };
    }
    match conn {
        DbConn::Sqlite(c) => {
            let words: Vec<&String> = if filter.match_any {
                terms
                    .iter()
                    .filter(|t| !STOP_WORDS.split_whitespace().any(|stop| stop == t.as_str()))
                    .collect()
            } else {
                terms.iter().collect()
            };
            if words.is_empty() {
                return Ok(Vec::new());
            }
            // Each term quoted: FTS5 reads it as a plain string, whatever it contains.
            let fts_query = words
                .iter()
                .map(|t| format!("\"{}\"", t.replace('"', "")))
                .collect::<Vec<_>>()
                .join(if filter.match_any { " OR " } else { " " });
            let query = diesel::sql_query(SQLITE_SEARCH)
                .bind::<Text, _>(&start)
                .bind::<Text, _>(&end)
                .bind::<Text, _>(&fts_query);
            bind_filters!(query)
                .bind::<BigInt, _>(candidates)
                .load(&mut **c)
                .await
        }
        DbConn::Postgres(c) => {
            let headline = format!(
                "StartSel={start}, StopSel={end}, MaxWords=35, MinWords=12, MaxFragments=2, \
                 FragmentDelimiter=\" … \""
            );
            // Any-word matching joins the words with `or`, which websearch_to_tsquery reads
            // as OR; all-word matching goes through plainto_tsquery, where a searched "or"
            // is only a word. Neither fails on its input, unlike to_tsquery.
            let tsquery = if filter.match_any {
                terms.join(" or ")
            } else {
                terms.join(" ")
            };
            let query = diesel::sql_query(POSTGRES_SEARCH)
                .bind::<Text, _>(tsquery)
                .bind::<Text, _>(headline)
                .bind::<Text, _>(format!("{LESS_THAN}{GREATER_THAN}"));
            bind_filters!(query)
                .bind::<Bool, _>(filter.match_any)
                .bind::<BigInt, _>(candidates)
                .load(&mut **c)
                .await
        }
    }
}

/// The conditions on a matching thread `t` of community `c`, in both index scans, so that
/// the newest matches that pass them are the ones ranked. ?4 to ?12 but ?9, the author, who
/// is a thread's or an answer's.
macro_rules! sqlite_thread_conditions {
    () => {
        "t.deleted = 0 AND t.removed = 0 AND c.deleted = 0
      AND (?4 OR c.visibility = 'public')
      AND (?5 IS NULL OR t.community_id = ?5)
      AND (?6 IS NULL OR (t.accepted_answer_count > 0) = ?6)
      AND (?7 IS NULL OR EXISTS (SELECT 1 FROM thread_tags tt JOIN tags g ON g.id = tt.tag_id
                                 WHERE tt.thread_id = t.id AND g.name = ?7))
      AND (?8 IS NULL OR t.kind = ?8)
      AND (?10 IS NULL OR EXISTS (SELECT 1 FROM persons p
                                  WHERE p.id = t.author_id AND p.instance_id = ?10))
      AND (?11 IS NULL OR t.published >= ?11)
      AND (?12 IS NULL OR t.published < ?12)"
    };
}

/// bm25 is lower-is-better (negative); the boosts multiply it, so a boost makes it lower.
/// ?1 and ?2 mark matches, ?3 is the FTS5 query, ?4 to ?14 are the filters, ?15 the matches
/// ranked per index. Each index is walked newest first (FTS5 hands out rowids in order) and
/// stops at ?15; snippets are made for the page only.
const SQLITE_SEARCH: &str = concat!(
    "
WITH thread_hits AS MATERIALIZED (
    SELECT t.id AS thread_id, NULL AS answer_id, bm25(thread_search, 8.0, 1.0, 8.0) AS rank
    FROM thread_search
    JOIN threads t ON t.id = thread_search.rowid
    JOIN communities c ON c.id = t.community_id
    WHERE thread_search MATCH ?3 AND (?9 IS NULL OR t.author_id = ?9)
      AND ",
    sqlite_thread_conditions!(),
    "
    ORDER BY thread_search.rowid DESC LIMIT ?15
),
answer_hits AS MATERIALIZED (
    SELECT a.thread_id, a.id AS answer_id,
           bm25(answer_search) * (CASE WHEN a.accepted THEN 2.0 ELSE 1.0 END) AS rank
    FROM answer_search
    JOIN answers a ON a.id = answer_search.rowid
    JOIN threads t ON t.id = a.thread_id
    JOIN communities c ON c.id = t.community_id
    WHERE answer_search MATCH ?3 AND a.deleted = 0 AND a.removed = 0
      AND (?9 IS NULL OR a.author_id = ?9)
      AND ",
    sqlite_thread_conditions!(),
    "
    ORDER BY answer_search.rowid DESC LIMIT ?15
),
best AS (
    -- SQLite takes the bare columns from the row that has the minimum.
    SELECT thread_id, answer_id, min(rank) AS rank
    FROM (SELECT * FROM thread_hits UNION ALL SELECT * FROM answer_hits)
    GROUP BY thread_id
),
page AS (
    SELECT t.id AS thread_id, best.answer_id AS answer_id,
           -(best.rank * (1.0 + (CASE WHEN t.accepted_answer_count > 0 THEN 0.5 ELSE 0.0 END)
                              + min(max(t.score, 0), 50) / 100.0)) AS relevance,
           count(*) OVER () AS total
    FROM best JOIN threads t ON t.id = best.thread_id
    ORDER BY relevance DESC, t.id
    LIMIT ?13 OFFSET ?14
)
SELECT page.thread_id, page.answer_id, page.relevance, page.total,
       (SELECT count(*) FROM thread_hits) >= ?15
           OR (SELECT count(*) FROM answer_hits) >= ?15 AS total_capped,
       coalesce(CASE WHEN page.answer_id IS NULL
           THEN (SELECT snippet(thread_search, -1, ?1, ?2, '…', 24) FROM thread_search
                 WHERE thread_search MATCH ?3 AND thread_search.rowid = page.thread_id)
           ELSE (SELECT snippet(answer_search, 0, ?1, ?2, '…', 24) FROM answer_search
                 WHERE answer_search MATCH ?3 AND answer_search.rowid = page.answer_id)
           END, '') AS snippet
FROM page
ORDER BY page.relevance DESC, page.thread_id"
);

/// The conditions of [`sqlite_thread_conditions`], in PostgreSQL's numbering.
macro_rules! postgres_thread_conditions {
    () => {
        "NOT t.deleted AND NOT t.removed AND NOT c.deleted
      AND ($4 OR c.visibility = 'public')
      AND ($5::BIGINT IS NULL OR t.community_id = $5)
      AND ($6::BOOLEAN IS NULL OR (t.accepted_answer_count > 0) = $6)
      AND ($7::TEXT IS NULL OR EXISTS (SELECT 1 FROM thread_tags tt JOIN tags g ON g.id = tt.tag_id
                                       WHERE tt.thread_id = t.id AND g.name = $7))
      AND ($8::TEXT IS NULL OR t.kind = $8)
      AND ($10::BIGINT IS NULL OR EXISTS (SELECT 1 FROM persons p
                                          WHERE p.id = t.author_id AND p.instance_id = $10))
      AND ($11::TIMESTAMP IS NULL OR t.published >= $11)
      AND ($12::TIMESTAMP IS NULL OR t.published < $12)"
    };
}

/// The text search query, written out wherever it is used rather than computed once in a
/// CTE: the planner then knows it, so it estimates how many rows match (a CTE made it guess
/// 5,001 for a word in 100,000 answers, and plan nested loops over all of them).
macro_rules! postgres_tsquery {
    () => {
        "(CASE WHEN $15 THEN websearch_to_tsquery('english', $1)
               ELSE plainto_tsquery('english', $1) END)"
    };
}

/// $1 is the query text, $2 and $3 shape the headline, $4 to $14 are the filters, $15 is
/// any-word matching, $16 the matches ranked per index. Each index is read newest first up
/// to $16 (the planner walks the primary key backwards for a common word, and sorts the
/// few matches of a rare one); headlines are made for the page only.
const POSTGRES_SEARCH: &str = concat!(
    "
WITH thread_hits AS MATERIALIZED (
    SELECT s.thread_id, NULL::BIGINT AS answer_id,
           ts_rank_cd(s.document, ",
    postgres_tsquery!(),
    ")::float8 AS rank
    FROM thread_search s
    JOIN threads t ON t.id = s.thread_id
    JOIN communities c ON c.id = t.community_id
    WHERE s.document @@ ",
    postgres_tsquery!(),
    "
      AND ($9::BIGINT IS NULL OR t.author_id = $9)
      AND ",
    postgres_thread_conditions!(),
    "
    ORDER BY s.thread_id DESC LIMIT $16
),
answer_hits AS MATERIALIZED (
    SELECT a.thread_id, a.id AS answer_id,
           ts_rank_cd(s.document, ",
    postgres_tsquery!(),
    ")::float8 * (CASE WHEN a.accepted THEN 2.0 ELSE 1.0 END) AS rank
    FROM answer_search s
    JOIN answers a ON a.id = s.answer_id
    JOIN threads t ON t.id = a.thread_id
    JOIN communities c ON c.id = t.community_id
    WHERE s.document @@ ",
    postgres_tsquery!(),
    " AND NOT a.deleted AND NOT a.removed
      AND ($9::BIGINT IS NULL OR a.author_id = $9)
      AND ",
    postgres_thread_conditions!(),
    "
    ORDER BY s.answer_id DESC LIMIT $16
),
best AS (
    SELECT DISTINCT ON (thread_id) thread_id, answer_id, rank
    FROM (SELECT * FROM thread_hits UNION ALL SELECT * FROM answer_hits) hits
    ORDER BY thread_id, rank DESC
),
page AS (
    SELECT t.id AS thread_id, best.answer_id,
           best.rank * (1.0 + (CASE WHEN t.accepted_answer_count > 0 THEN 0.5 ELSE 0.0 END)
                            + LEAST(GREATEST(t.score, 0), 50) / 100.0) AS relevance,
           count(*) OVER () AS total
    FROM best JOIN threads t ON t.id = best.thread_id
    ORDER BY relevance DESC, t.id
    LIMIT $13 OFFSET $14
)
SELECT page.thread_id, page.answer_id, page.relevance::float8 AS relevance,
       ts_headline('english', translate(coalesce(a.body, t.body), '<>', $3), ",
    postgres_tsquery!(),
    ", $2) AS snippet,
       page.total,
       (SELECT count(*) FROM thread_hits) >= $16
           OR (SELECT count(*) FROM answer_hits) >= $16 AS total_capped
FROM page
JOIN threads t ON t.id = page.thread_id
LEFT JOIN answers a ON a.id = page.answer_id
ORDER BY page.relevance DESC, page.thread_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_words_only_whatever_the_input() {
        assert_eq!(query_terms("C++ lifetimes"), ["c", "lifetimes"]);
        assert_eq!(
            query_terms("\"unbalanced *wild OR -not"),
            ["unbalanced", "wild", "or", "not"]
        );
        assert!(query_terms("🦀 *** \" () :").is_empty());
        assert_eq!(query_terms("Tokio tokio TOKIO"), ["tokio"]);
        let long = "x".repeat(10_000);
        assert_eq!(query_terms(&long), ["x".repeat(MAX_TERM_CHARS)]);
        let many: String = (0..100).map(|n| format!("w{n} ")).collect();
        assert_eq!(query_terms(&many).len(), MAX_TERMS);
        assert_eq!(query_terms("Straße café"), ["straße", "café"]);
    }
}
