//! Page-shaped views of service results, shared by the templates that list them.

use chrono::{Datelike, NaiveDateTime, Timelike};

use crate::db::types::ThreadKind;
use crate::service::threads::ThreadDetails;

/// A thread as lists show it (community page, home, and later search and tags).
#[derive(Debug, Clone)]
pub struct ThreadSummary {
    pub id: i64,
    pub title: String,
    pub community: String,
    pub author: String,
    pub score: i64,
    pub answer_count: i64,
    pub is_question: bool,
    pub solved: bool,
    pub locked: bool,
    pub deleted: bool,
    pub local: bool,
    pub tags: Vec<String>,
    pub published: NaiveDateTime,
}

impl From<&ThreadDetails> for ThreadSummary {
    fn from(d: &ThreadDetails) -> ThreadSummary {
        let t = &d.thread;
        let is_question = t.kind == ThreadKind::Question;
        ThreadSummary {
            id: t.id,
            title: t.title.clone(),
            community: d.community_handle.clone(),
            author: d.author_handle.clone(),
            score: t.score,
            answer_count: t.answer_count,
            is_question,
            solved: is_question && t.accepted_answer_count > 0,
            locked: t.locked,
            deleted: t.deleted || t.removed,
            local: t.local,
            tags: d.tags.clone(),
            published: t.published,
        }
    }
}

impl ThreadSummary {
    pub fn answers_label(&self) -> String {
        plural(self.answer_count, "answer", "answers")
    }

    pub fn date(&self) -> String {
        date(&self.published)
    }

    pub fn datetime(&self) -> String {
        datetime(&self.published)
    }
}

/// `3 answers`, `1 answer`.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

// Written from the fields rather than with `format("%Y-%m-%d")`: chrono parses the format
// string on every call, and a thread page formats two times per answer.

/// A day as people read it: `2026-11-29`.
pub fn date(at: &NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day())
}

/// The machine-readable form for `<time datetime>` (times are stored in UTC).
pub fn datetime(at: &NaiveDateTime) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(at),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Where a person's page is: ours for local people (`name`), theirs (the actor id) for
/// remote ones when it is known.
pub fn person_url(handle: &str, ap_id: Option<&str>) -> Option<String> {
    match (handle.contains('@'), ap_id) {
        (false, _) => Some(format!("/u/{handle}")),
        (true, Some(ap_id)) => Some(ap_id.to_owned()),
        (true, None) => None,
    }
}

/// The query string of a page address read into `T`; a malformed one is a 400 page.
pub fn query<T: serde::de::DeserializeOwned>(
    uri: &axum::http::Uri,
) -> Result<T, crate::error::AppError> {
    axum::extract::Query::try_from_uri(uri)
        .map(|axum::extract::Query(q)| q)
        .map_err(|_| {
            crate::error::AppError::bad_request(
                "invalid_query",
                "the address has a malformed query",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_chrono_formats_them() {
        for at in [
            "2026-11-29T00:00:00",
            "0999-01-02T03:04:05.123456",
            "2026-12-31T23:59:59.999999",
        ] {
            let at: NaiveDateTime = at.parse().expect("a time");
            assert_eq!(date(&at), at.format("%Y-%m-%d").to_string());
            assert_eq!(datetime(&at), at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
    }
}
