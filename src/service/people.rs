//! Public profiles: who someone is, what they contributed, and the tags their accepted
//! answers show they know best.

use crate::db::knowledge::{self, KnowledgeScope};
use crate::db::person::{self, Person};
use crate::db::{DbConn, instance};
use crate::error::{AppError, AppResult};
use crate::service::auth::Session;
use crate::service::communities::handle_of;
use crate::settings::Settings;

/// Tags listed on a profile at most.
pub const EXPERTISE_MAX: i64 = 10;

/// A tag and how many of the person's answers in threads with it were accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct TagExpertise {
    pub tag: String,
    pub accepted_answers: i64,
}

/// A person as others see them; counts cover only what the viewer may see.
#[derive(Debug, Clone)]
pub struct Profile {
    pub person: Person,
    /// `name` for local persons, `name@domain` for remote ones.
    pub handle: String,
    pub threads: i64,
    pub answers: i64,
    pub accepted_answers: i64,
    /// Most accepted first, at most [`EXPERTISE_MAX`].
    pub expertise: Vec<TagExpertise>,
}

fn person_not_found(handle: &str) -> AppError {
    AppError::not_found(
        "person_not_found",
        format!("no person `{handle}` is known here"),
    )
}

/// The person with `handle`: `name` (local), `name@domain`, with an optional leading `@`;
/// 404 when nobody by that handle is known here.
pub(crate) async fn person_by_handle(
    conn: &mut DbConn<'_>,
    settings: &Settings,
    handle: &str,
) -> AppResult<Person> {
    let trimmed = handle.trim().trim_start_matches('@');
    let (name, domain) = match trimmed.split_once('@') {
        Some((name, domain)) => (name, domain.trim_end_matches('.')),
        None => (trimmed, settings.domain.as_str()),
    };
    person::read_by_name_and_domain(conn, &name.to_lowercase(), &domain.to_ascii_lowercase())
        .await?
        .ok_or_else(|| person_not_found(handle))
}

/// The profile of `handle`; deleted accounts are gone (404).
pub async fn profile(
    db: &crate::db::Db,
    settings: &Settings,
    viewer: Option<&Session>,
    handle: &str,
) -> AppResult<Profile> {
    crate::with_conn!(db, |conn| {
        let person = person_by_handle(&mut conn, settings, handle).await?;
        if person.deleted {
            return Err(person_not_found(handle));
        }
        let scope = KnowledgeScope {
            include_internal: viewer.is_some(),
            ..KnowledgeScope::default()
        };
        let (threads, answers, accepted_answers) =
            knowledge::contributions(&mut conn, &scope, person.id).await?;
        let expertise = knowledge::expertise(&mut conn, &scope, person.id, EXPERTISE_MAX)
            .await?
            .into_iter()
            .map(|(tag, accepted_answers)| TagExpertise {
                tag,
                accepted_answers,
            })
            .collect();
        let domains = instance::domains(&mut conn, &[person.instance_id]).await?;
        let domain = domains
            .get(&person.instance_id)
            .map_or(settings.domain.as_str(), String::as_str);
        let handle = handle_of(&person.name, person.local, domain);
        Ok::<_, AppError>(Profile {
            person,
            handle,
            threads,
            answers,
            accepted_answers,
            expertise,
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::testing::{TestApi, for_each_backend, test_settings};
    use serde_json::json;

    /// Issue #8: a profile shows the tags where the person's answers were accepted, the
    /// same counts the tag pages' experts show; internal communities count only for
    /// signed-in viewers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn profiles_show_expertise_that_matches_the_experts_per_tag() {
        for_each_backend(async |db| {
            let api = TestApi::new(db, test_settings()).await;
            let ann = api.signed_in_member("ann").await;
            let bob = api.signed_in_member("bob").await;
            for (name, visibility) in [("rust", "public"), ("staff", "internal")] {
                let made = api
                    .call("POST", "/api/v1/communities", Some(&ann), Some(json!({"name": name, "title": name, "kind": "qa", "visibility": visibility})))
                    .await;
                assert_eq!(made.status, 201, "{}", made.body);
            }
            // Bob's answers are accepted under [async, tokio], [async] and, internally,
            // [async]; his answer under [tokio] is not accepted.
            for (community, tags, accept) in [
                ("rust", vec!["async", "tokio"], true),
                ("rust", vec!["async"], true),
                ("staff", vec!["async"], true),
                ("rust", vec!["tokio"], false),
            ] {
                let asked = api
                    .call("POST", &format!("/api/v1/communities/{community}/threads"), Some(&ann), Some(json!({"title": "A question", "body": "Why?", "tags": tags})))
                    .await;
                let thread_id = asked.body["id"].as_i64().expect("thread id");
                let answered = api
                    .call("POST", &format!("/api/v1/threads/{thread_id}/answers"), Some(&bob), Some(json!({"body": "Because."})))
                    .await;
                let answer_id = answered.body["id"].as_i64().expect("answer id");
                if accept {
                    let accepted = api
                        .call("POST", &format!("/api/v1/answers/{answer_id}/accept"), Some(&ann), None)
                        .await;
                    assert_eq!(accepted.status, 200, "{}", accepted.body);
                }
            }

            let public = api.call("GET", "/api/v1/persons/bob", None, None).await;
            assert_eq!(public.status, 200, "{}", public.body);
            assert_eq!(public.body["handle"], "bob");
            assert_eq!(
                (&public.body["threads"], &public.body["answers"], &public.body["accepted_answers"]),
                (&json!(0), &json!(3), &json!(2)),
                "{}",
                public.body
            );
            assert_eq!(
                public.body["expertise"],
                json!([{"tag": "async", "accepted_answers": 2}, {"tag": "tokio", "accepted_answers": 1}])
            );
            // The same figures as the experts of each tag.
            for tag in ["async", "tokio"] {
                let experts = api.call("GET", &format!("/api/v1/tags/{tag}/experts"), None, None).await;
                let listed = experts.body.as_array().expect("experts").iter().find(|e| e["handle"] == "bob").expect("bob");
                let on_profile = public.body["expertise"].as_array().expect("expertise").iter().find(|e| e["tag"] == tag).expect("tag");
                assert_eq!(listed["accepted_answers"], on_profile["accepted_answers"], "{tag}");
            }
            // A signed-in member also sees the internal community's answer.
            let member = api.call("GET", "/api/v1/persons/%40bob", Some(&ann), None).await;
            assert_eq!(member.body["accepted_answers"], 3, "{}", member.body);
            assert_eq!(member.body["expertise"][0], json!({"tag": "async", "accepted_answers": 3}));
            let ann_profile = api.call("GET", &format!("/api/v1/persons/ann@{}", crate::testing::TEST_DOMAIN), None, None).await;
            assert_eq!((ann_profile.body["threads"].as_i64(), ann_profile.body["expertise"].as_array().map(Vec::len)), (Some(3), Some(0)));

            let missing = api.call("GET", "/api/v1/persons/nobody@elsewhere.example", None, None).await;
            assert_eq!((missing.status.as_u16(), missing.code()), (404, "person_not_found"));
        })
        .await;
    }
}
