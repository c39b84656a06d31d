//! Case 22: authorization. Every write endpoint refuses a plain member acting on someone
//! else's objects (API and web forms), and `internal` and `partners` content never leaks
//! to anonymous readers or other instances.

use std::collections::BTreeSet;

use federation_tests::{Member, TestInstance, backends};
use reqwest::Method;
use serde_json::{Value, json};

use crate::content::{WebSession, alpha_with_instant_queue};

/// Write operations that act on no one else's object: the caller's own account, session,
/// membership or vote, or something open to every member by design. Every other write
/// operation of the OpenAPI document must be a row of the table below.
const NOT_OBJECT_SCOPED: &[(&str, &str, &str)] = &[
    ("POST", "/accounts", "sign-up"),
    ("PATCH", "/me", "the caller's own profile"),
    ("DELETE", "/me", "the caller's own account"),
    ("POST", "/me/password", "the caller's own password"),
    ("POST", "/auth/login", "signing in"),
    ("POST", "/auth/session", "signing in"),
    ("POST", "/auth/logout", "the caller's own session"),
    ("POST", "/communities", "a new community"),
    (
        "POST",
        "/communities/{handle}/follow",
        "the caller's own membership",
    ),
    (
        "DELETE",
        "/communities/{handle}/follow",
        "the caller's own membership",
    ),
    (
        "POST",
        "/communities/{handle}/threads",
        "open to every member",
    ),
    ("POST", "/threads/{id}/answers", "open to every member"),
    ("POST", "/threads/{id}/vote", "the caller's own vote"),
    ("POST", "/answers/{id}/vote", "the caller's own vote"),
    ("POST", "/reports", "open to every member"),
];

/// One write operation tried on alice's (or the admin's) objects: the OpenAPI path it
/// instantiates, and the status and error code a plain member must get.
struct Attempt {
    method: Method,
    template: &'static str,
    path: String,
    body: Option<Value>,
    status: u16,
    code: &'static str,
}

fn attempt(
    method: Method,
    template: &'static str,
    path: String,
    body: Option<Value>,
    (status, code): (u16, &'static str),
) -> Attempt {
    Attempt {
        method,
        template,
        path,
        body,
        status,
        code,
    }
}

/// The non-GET operations of the instance's OpenAPI document, as (METHOD, path template).
async fn documented_writes(instance: &TestInstance) -> BTreeSet<(String, String)> {
    let document: Value = reqwest::get(instance.url("/api/v1/openapi.json"))
        .await
        .expect("openapi answers")
        .json()
        .await
        .expect("openapi JSON");
    let mut writes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                writes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    writes
}

/// What alice and the admin can see of their objects; a refused write changes none of it.
async fn snapshot(alice: &Member, root: &Member, ids: &Ids) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        format!("/threads/{}", ids.thread),
        format!("/answers/{}", ids.answer),
        "/communities/rust".to_owned(),
        "/communities/rust/moderators".to_owned(),
        "/communities/rust/bans".to_owned(),
        "/reports".to_owned(),
        "/me".to_owned(),
    ] {
        seen.push(alice.ok(Method::GET, &path, None).await);
    }
    for path in [
        "/admin/accounts",
        "/admin/invites",
        "/admin/federation/blocks",
        "/admin/federation/policy",
        "/admin/federation/allows",
        "/admin/bans",
    ] {
        seen.push(root.ok(Method::GET, path, None).await);
    }
    // Alice's token still works and is still listed (its last use is not compared).
    let tokens = alice.ok(Method::GET, "/auth/tokens", None).await;
    let ids: Vec<Value> = tokens
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    seen.push(Value::Array(ids));
    seen
}

/// The objects the attempts aim at.
struct Ids {
    thread: i64,
    answer: i64,
    report: i64,
    invite: i64,
    alice: i64,
    bob: i64,
    alice_token: i64,
}

/// A plain member (bob) tries every object-scoped write operation of the API on alice's
/// objects and the admin's settings, then the web forms: each is refused and nothing
/// changes. The table is checked against the OpenAPI document, so a new endpoint cannot be
/// forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_22a_no_write_reaches_other_peoples_objects() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let root = alpha.admin("root").await.expect("admin");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = alpha.member("bob").await.expect("bob");
        let carol = alpha.member("carol").await.expect("carol");
        alpha.member("dave").await.expect("dave");
        alice.create_community("rust", "Rust", "qa").await;
        let thread = alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "Alice's question", "body": "Hers."})),
            )
            .await;
        let answer = carol
            .ok(
                Method::POST,
                &format!("/threads/{}/answers", thread["id"]),
                Some(json!({"body": "Carol's answer."})),
            )
            .await;
        alice
            .ok(
                Method::POST,
                &format!("/answers/{}/accept", answer["id"]),
                None,
            )
            .await;
        let report = carol
            .ok(
                Method::POST,
                "/reports",
                Some(json!({"thread_id": thread["id"], "reason": "Spam?"})),
            )
            .await;
        alice
            .ok(
                Method::POST,
                "/communities/rust/bans",
                Some(json!({"person": "dave", "reason": "Trolling"})),
            )
            .await;
        let invite = root
            .ok(Method::POST, "/admin/invites", Some(json!({})))
            .await;
        let tokens = alice.ok(Method::GET, "/auth/tokens", None).await;
        let id_of = |v: &Value| v["id"].as_i64().expect("id");
        let ids = Ids {
            thread: id_of(&thread),
            answer: id_of(&answer),
            report: id_of(&report),
            invite: id_of(&invite),
            alice: id_of(&alice.ok(Method::GET, "/me", None).await),
            bob: id_of(&bob.ok(Method::GET, "/me", None).await),
            alice_token: id_of(&tokens[0]),
        };
        let (t, a) = (ids.thread, ids.answer);
        let reason = || Some(json!({"reason": "because"}));
        let not_author = (403, "not_author");
        let moderator = (403, "moderator_required");
        let admin = (403, "admin_required");
        use Method as M;
        #[rustfmt::skip]
        let attempts = vec![
            attempt(M::PATCH, "/threads/{id}", format!("/threads/{t}"), Some(json!({"title": "Hijacked"})), not_author),
            attempt(M::DELETE, "/threads/{id}", format!("/threads/{t}"), None, (403, "not_allowed")),
            attempt(M::PATCH, "/answers/{id}", format!("/answers/{a}"), Some(json!({"body": "Hijacked"})), not_author),
            attempt(M::DELETE, "/answers/{id}", format!("/answers/{a}"), None, (403, "not_allowed")),
            attempt(M::POST, "/answers/{id}/accept", format!("/answers/{a}/accept"), None, (403, "not_allowed")),
            attempt(M::DELETE, "/answers/{id}/accept", format!("/answers/{a}/accept"), None, (403, "not_allowed")),
            attempt(M::POST, "/threads/{id}/lock", format!("/threads/{t}/lock"), None, moderator),
            attempt(M::DELETE, "/threads/{id}/lock", format!("/threads/{t}/lock"), None, moderator),
            attempt(M::POST, "/threads/{id}/pin", format!("/threads/{t}/pin"), None, moderator),
            attempt(M::DELETE, "/threads/{id}/pin", format!("/threads/{t}/pin"), None, moderator),
            attempt(M::POST, "/threads/{id}/remove", format!("/threads/{t}/remove"), reason(), moderator),
            attempt(M::POST, "/threads/{id}/restore", format!("/threads/{t}/restore"), reason(), moderator),
            attempt(M::POST, "/answers/{id}/remove", format!("/answers/{a}/remove"), reason(), moderator),
            attempt(M::POST, "/answers/{id}/restore", format!("/answers/{a}/restore"), reason(), moderator),
            attempt(M::PATCH, "/communities/{handle}", "/communities/rust".into(), Some(json!({"title": "Hijacked"})), moderator),
            attempt(M::POST, "/communities/{handle}/moderators", "/communities/rust/moderators".into(), Some(json!({"username": "bob"})), moderator),
            attempt(M::DELETE, "/communities/{handle}/moderators/{username}", "/communities/rust/moderators/alice".into(), None, moderator),
            attempt(M::POST, "/communities/{handle}/bans", "/communities/rust/bans".into(), Some(json!({"person": "carol", "reason": "x"})), moderator),
            attempt(M::DELETE, "/communities/{handle}/bans/{person}", "/communities/rust/bans/dave".into(), None, moderator),
            attempt(M::POST, "/reports/{id}/resolve", format!("/reports/{}/resolve", ids.report), None, moderator),
            attempt(M::POST, "/reports/{id}/dismiss", format!("/reports/{}/dismiss", ids.report), None, moderator),
            attempt(M::DELETE, "/auth/tokens/{id}", format!("/auth/tokens/{}", ids.alice_token), None, (404, "token_not_found")),
            attempt(M::POST, "/admin/accounts/{id}/approve", format!("/admin/accounts/{}/approve", ids.alice), None, admin),
            attempt(M::POST, "/admin/accounts/{id}/reject", format!("/admin/accounts/{}/reject", ids.alice), Some(json!({})), admin),
            attempt(M::POST, "/admin/accounts/{id}/suspend", format!("/admin/accounts/{}/suspend", ids.alice), None, admin),
            attempt(M::POST, "/admin/accounts/{id}/unsuspend", format!("/admin/accounts/{}/unsuspend", ids.alice), None, admin),
            attempt(M::PUT, "/admin/accounts/{id}/role", format!("/admin/accounts/{}/role", ids.bob), Some(json!({"role": "admin"})), admin),
            attempt(M::POST, "/admin/invites", "/admin/invites".into(), Some(json!({})), moderator),
            attempt(M::DELETE, "/admin/invites/{id}", format!("/admin/invites/{}", ids.invite), None, moderator),
            attempt(M::PUT, "/admin/federation/blocks/{domain}", "/admin/federation/blocks/evil.example".into(), Some(json!({})), admin),
            attempt(M::DELETE, "/admin/federation/blocks/{domain}", "/admin/federation/blocks/evil.example".into(), None, admin),
            attempt(M::PUT, "/admin/federation/policy", "/admin/federation/policy".into(), Some(json!({"mode": "allowlist"})), admin),
            attempt(M::PUT, "/admin/federation/allows/{domain}", "/admin/federation/allows/evil.example".into(), Some(json!({})), admin),
            attempt(M::DELETE, "/admin/federation/allows/{domain}", "/admin/federation/allows/evil.example".into(), None, admin),
            attempt(M::POST, "/admin/federation/import/{list}", "/admin/federation/import/blocks".into(), None, admin),
            attempt(M::PUT, "/admin/bans/{person}", "/admin/bans/alice".into(), Some(json!({"reason": "x"})), admin),
            attempt(M::DELETE, "/admin/bans/{person}", "/admin/bans/alice".into(), None, admin),
            attempt(M::POST, "/admin/threads/{id}/purge", format!("/admin/threads/{t}/purge"), reason(), admin),
            attempt(M::POST, "/admin/answers/{id}/purge", format!("/admin/answers/{a}/purge"), reason(), admin),
        ];

        // The table and the OpenAPI document name the same operations.
        let documented = documented_writes(&alpha).await;
        let mut listed = BTreeSet::new();
        for a in &attempts {
            listed.insert((a.method.to_string(), a.template.to_owned()));
        }
        for (method, template, _) in NOT_OBJECT_SCOPED {
            assert!(
                listed.insert(((*method).to_owned(), (*template).to_owned())),
                "{method} {template} is listed twice"
            );
        }
        let missing: Vec<_> = documented.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "write operations without an authorization check here: {missing:?}"
        );
        let stale: Vec<_> = listed.difference(&documented).collect();
        assert!(
            stale.is_empty(),
            "listed operations the API does not document: {stale:?}"
        );

        // Bob's web session works (his vote counts), so the refusals below are not CSRF ones.
        let web = WebSession::sign_in(&alpha, "bob").await;
        let (status, page) = web.form(&format!("/t/{t}/vote"), &[("score", "1")]).await;
        assert_eq!(status, 303, "bob votes through the web form: {page}");

        let before = snapshot(&alice, &root, &ids).await;
        let mut wrong = Vec::new();
        for a in &attempts {
            let (status, body) = bob.call(a.method.clone(), &a.path, a.body.clone()).await;
            if (status, body["error"]["code"].as_str()) != (a.status, Some(a.code)) {
                wrong.push(format!("{} {} answered {status}: {body}", a.method, a.path));
            }
        }
        assert!(wrong.is_empty(), "as a plain member:\n{}", wrong.join("\n"));
        assert_eq!(
            snapshot(&alice, &root, &ids).await,
            before,
            "a refused API call changed something"
        );

        // The same through the web forms, with bob's own valid CSRF token.
        let reason_form: &[(&str, &str)] = &[("reason", "because"), ("next", "/")];
        #[rustfmt::skip]
        let forms: Vec<(String, &[(&str, &str)])> = vec![
            (format!("/t/{t}/edit"), &[("title", "Hijacked"), ("body", "x"), ("tags", "")]),
            (format!("/t/{t}/delete"), &[]),
            (format!("/t/{t}/lock"), &[("locked", "true")]),
            (format!("/t/{t}/pin"), &[("pinned", "true")]),
            (format!("/r/{a}/edit"), &[("body", "Hijacked")]),
            (format!("/r/{a}/delete"), &[]),
            (format!("/r/{a}/accept"), &[]),
            (format!("/r/{a}/unaccept"), &[]),
            (format!("/t/{t}/remove"), reason_form),
            (format!("/t/{t}/restore"), reason_form),
            (format!("/t/{t}/purge"), reason_form),
            (format!("/r/{a}/remove"), reason_form),
            (format!("/r/{a}/restore"), reason_form),
            (format!("/r/{a}/purge"), reason_form),
            (format!("/mod/reports/{}/resolve", ids.report), reason_form),
            (format!("/mod/reports/{}/dismiss", ids.report), reason_form),
            ("/mod/bans".to_owned(), &[("community", "rust"), ("person", "carol"), ("reason", "x")]),
            ("/mod/bans/lift".to_owned(), &[("community", "rust"), ("person", "dave")]),
            (format!("/settings/tokens/{}/revoke", ids.alice_token), &[]),
            (format!("/admin/accounts/{}/role", ids.bob), &[("role", "admin")]),
            (format!("/admin/accounts/{}/suspend", ids.alice), &[("reason", "x")]),
            ("/admin/invites".to_owned(), &[("max_uses", "1"), ("expires_in_days", "1")]),
            (format!("/admin/invites/{}/revoke", ids.invite), &[]),
            ("/admin/domains".to_owned(), &[("domain", "evil.example"), ("reason", "x")]),
            ("/admin/federation/mode".to_owned(), &[("mode", "allowlist")]),
            ("/admin/partners".to_owned(), &[("domain", "evil.example"), ("comment", "x")]),
            ("/admin/bans".to_owned(), &[("person", "alice"), ("reason", "x"), ("until", "")]),
        ];
        for (path, fields) in &forms {
            let (status, page) = web.form(path, fields).await;
            assert!(
                (status == 403 || status == 404) && !page.contains("CSRF"),
                "POST {path} as a plain member answered {status}: {page}"
            );
        }
        assert_eq!(
            snapshot(&alice, &root, &ids).await,
            before,
            "a refused form changed something"
        );
        alpha.stop().await.expect("alpha stops");
    }
}

/// Words that appear only in the `internal` and `partners` communities' content.
const SECRETS: &[&str] = &["zebra", "quokka", "ocelot", "narwhal", "hushhush"];

/// The body of an unauthenticated GET with `accept`: the status and the text.
async fn anonymous_get(instance: &TestInstance, path: &str, accept: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(instance.url(path))
        .header("accept", accept)
        .send()
        .await
        .expect("the instance answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// What `text` (what `who` got from `path`) names of the secrets, as a finding.
fn secret_in(text: &str, who: &str, path: &str) -> Option<String> {
    let lower = text.to_lowercase();
    // A word the request itself names (a search, a tag) is echoed, not leaked.
    SECRETS
        .iter()
        .filter(|secret| !path.contains(*secret))
        .find(|secret| lower.contains(*secret))
        .map(|secret| format!("{who} sees {secret:?} at {path}: {text}"))
}

/// Fails when `text` names anything secret.
fn assert_no_secret(text: &str, who: &str, path: &str) {
    if let Some(leak) = secret_in(text, who, path) {
        panic!("{leak}");
    }
}

/// One restricted community: a solved question with a tag (the knowledge base, tags and
/// experts), an unanswered one, a pinned thread (the featured collection) and a removal
/// (the mod log). Returns the ids of the solved question and its answer.
async fn restricted_community(
    alice: &Member,
    amy: &Member,
    name: &str,
    visibility: &str,
    word: &str,
    answer_word: &str,
) -> (i64, i64) {
    alice
        .ok(
            Method::POST,
            "/communities",
            Some(
                json!({"name": name, "title": format!("{name} {word}"), "kind": "qa",
                        "visibility": visibility, "description": word}),
            ),
        )
        .await;
    let solved = alice
        .ok(
            Method::POST,
            &format!("/communities/{name}/threads"),
            Some(
                json!({"title": format!("Secret {word} question"), "body": format!("About {word}."),
                        "tags": ["hushhush"]}),
            ),
        )
        .await;
    let id = solved["id"].as_i64().expect("id");
    alice
        .ok(
            Method::PATCH,
            &format!("/threads/{id}"),
            Some(json!({"body": format!("More about {word}.")})),
        )
        .await;
    let answer = amy
        .ok(
            Method::POST,
            &format!("/threads/{id}/answers"),
            Some(json!({"body": format!("Use the {answer_word}.")})),
        )
        .await;
    let answer_id = answer["id"].as_i64().expect("id");
    alice
        .ok(Method::POST, &format!("/answers/{answer_id}/accept"), None)
        .await;
    alice
        .ok(Method::POST, &format!("/threads/{id}/pin"), None)
        .await;
    let pending = alice
        .ok(
            Method::POST,
            &format!("/communities/{name}/threads"),
            Some(json!({"title": format!("Pending {word} question"), "body": word, "tags": ["hushhush"]})),
        )
        .await;
    let removed = amy
        .ok(
            Method::POST,
            &format!("/threads/{}/answers", pending["id"]),
            Some(json!({"body": format!("Off-topic {answer_word}")})),
        )
        .await;
    alice
        .ok(
            Method::POST,
            &format!("/answers/{}/remove", removed["id"]),
            Some(json!({"reason": format!("{word} rule")})),
        )
        .await;
    (id, answer_id)
}

/// `internal` and `partners` content is seen by nobody outside: not anonymously through
/// the API, the pages, ActivityPub objects and collections, WebFinger or NodeInfo, and not
/// by a non-partner instance's signed fetches; `internal` not even by a partner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_22b_internal_and_partners_content_never_leaks() {
    for backend in backends() {
        let alpha = alpha_with_instant_queue(backend).await;
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let gamma = TestInstance::start("gamma", backend).await.expect("gamma");
        let root = alpha.admin("root").await.expect("alpha admin");
        let alice = alpha.member("alice").await.expect("alice");
        let amy = alpha.member("amy").await.expect("amy");
        let bob = beta.member("bob").await.expect("bob");
        let carol = gamma.member("carol").await.expect("carol");
        root.ok(
            Method::PUT,
            &format!("/admin/federation/allows/{}", beta.domain()),
            Some(json!({"comment": "Beta Corp"})),
        )
        .await;
        let internal =
            restricted_community(&alice, &amy, "staff", "internal", "zebra", "ocelot").await;
        let partners =
            restricted_community(&alice, &amy, "acme", "partners", "quokka", "narwhal").await;
        // One public thread and answer: NodeInfo counts them, and only them.
        alice.create_community("open", "Open", "qa").await;
        let public = alice
            .ok(
                Method::POST,
                "/communities/open/threads",
                Some(json!({"title": "A public question", "body": "Anyone may read."})),
            )
            .await;
        amy.ok(
            Method::POST,
            &format!("/threads/{}/answers", public["id"]),
            Some(json!({"body": "A public answer."})),
        )
        .await;

        // Alpha's own members do see it all: the checks below can fail.
        for word in SECRETS {
            if *word == "hushhush" {
                continue;
            }
            let (_, found) = amy.get(&format!("/search?q={word}")).await;
            assert!(
                found["results"].as_array().is_some_and(|r| !r.is_empty()),
                "alpha's members find {word}: {found}"
            );
        }

        let mut api_paths = vec![
            "/communities".to_owned(),
            "/kb".to_owned(),
            "/unanswered".to_owned(),
            "/tags".to_owned(),
            "/tags/hushhush/experts".to_owned(),
            "/persons/alice".to_owned(),
            "/persons/amy".to_owned(),
            "/modlog".to_owned(),
        ];
        let mut pages = vec![
            "/".to_owned(),
            "/kb".to_owned(),
            "/unanswered".to_owned(),
            "/tags".to_owned(),
            "/tags/hushhush".to_owned(),
            "/u/alice".to_owned(),
            "/u/amy".to_owned(),
            "/modlog".to_owned(),
        ];
        let mut objects = vec!["/u/alice".to_owned(), "/u/amy".to_owned()];
        for word in SECRETS {
            api_paths.push(format!("/search?q={word}"));
            pages.push(format!("/search?q={word}"));
        }
        for (name, (thread, answer)) in [("staff", internal), ("acme", partners)] {
            for path in [
                "",
                "/threads",
                "/tags",
                "/moderators",
                "/bans",
                "/similar?q=secret+question",
            ] {
                api_paths.push(format!("/communities/{name}{path}"));
            }
            api_paths.push(format!("/modlog?community={name}"));
            api_paths.push(format!("/kb?community={name}"));
            for path in [
                format!("/threads/{thread}"),
                format!("/threads/{thread}/revisions"),
                format!("/answers/{answer}"),
                format!("/answers/{answer}/revisions"),
            ] {
                api_paths.push(path);
            }
            pages.push(format!("/c/{name}"));
            pages.push(format!("/t/{thread}"));
            pages.push(format!("/t/{thread}/revisions"));
            pages.push(format!("/r/{answer}"));
            for path in ["", "/followers", "/moderators", "/featured", "/outbox"] {
                objects.push(format!("/c/{name}{path}"));
            }
            for path in [
                format!("/t/{thread}"),
                format!("/t/{thread}/context"),
                format!("/t/{thread}/replies"),
                format!("/r/{answer}"),
                format!("/r/{answer}/replies"),
            ] {
                objects.push(path);
            }
        }
        let mut leaks = Vec::new();
        for path in &api_paths {
            let (_, text) =
                anonymous_get(&alpha, &format!("/api/v1{path}"), "application/json").await;
            leaks.extend(secret_in(&text, "an anonymous API client", path));
        }
        for path in &pages {
            let (_, text) = anonymous_get(&alpha, path, "text/html").await;
            leaks.extend(secret_in(&text, "an anonymous visitor", path));
        }
        for path in &objects {
            let (status, text) = anonymous_get(&alpha, path, "application/activity+json").await;
            leaks.extend(secret_in(&text, "an unsigned ActivityPub fetch", path));
            // Partners' objects need a partner's signature; internal ones are not there.
            if !path.starts_with("/u/") && status != 401 && status != 404 {
                leaks.push(format!(
                    "an unsigned fetch of {path} answered {status}: {text}"
                ));
            }
        }
        assert!(leaks.is_empty(), "{}", leaks.join("\n"));

        // WebFinger knows no `internal` community. (A `partners` one answers: partners
        // find it by WebFinger, which is unsigned; the answer holds only its address.)
        let (status, text) = anonymous_get(
            &alpha,
            &format!(
                "/.well-known/webfinger?resource=acct:staff@{}",
                alpha.domain()
            ),
            "application/jrd+json",
        )
        .await;
        assert_eq!(status, 404, "{text}");
        // NodeInfo counts the public thread and answer only.
        for version in ["2.0", "2.1"] {
            let (_, text) =
                anonymous_get(&alpha, &format!("/nodeinfo/{version}"), "application/json").await;
            let info: Value = serde_json::from_str(&text).expect("nodeinfo JSON");
            assert_eq!(info["usage"]["localPosts"], 1, "{text}");
            assert_eq!(info["usage"]["localComments"], 1, "{text}");
        }

        // Another instance's signed fetches: gamma (no partner) gets nothing; beta (a
        // partner) gets the `partners` community but nothing `internal`.
        let urls = |(thread, answer): (i64, i64), name: &str| {
            vec![
                format!("!{name}@{}", alpha.domain()),
                alpha.url(&format!("/c/{name}")),
                alpha.url(&format!("/t/{thread}")),
                alpha.url(&format!("/r/{answer}")),
            ]
        };
        for (who, member, name, ids) in [
            ("gamma", &carol, "staff", internal),
            ("gamma", &carol, "acme", partners),
            ("beta, a partner,", &bob, "staff", internal),
        ] {
            for url in urls(ids, name) {
                let q: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
                let (status, body) = member.get(&format!("/resolve?q={q}")).await;
                assert!(status >= 400, "{who} resolved {url}: {body}");
                assert_no_secret(&body.to_string(), who, &url);
            }
        }
        let q: String = url::form_urlencoded::byte_serialize(
            alpha.url(&format!("/t/{}", partners.0)).as_bytes(),
        )
        .collect();
        let (status, body) = bob.get(&format!("/resolve?q={q}")).await;
        assert_eq!(status, 200, "the partner reads the partners thread: {body}");

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
        gamma.stop().await.expect("gamma stops");
    }
}
