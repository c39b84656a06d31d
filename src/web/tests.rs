//! Router-level tests of the pages: a small cookie-keeping browser drives the forms on
//! both backends.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use crate::db::types::AccountRole;
use crate::settings::RegistrationMode;
use crate::testing::{
    TEST_PASSWORD, TestApi, TestResponse, execute_sql, for_each_backend, test_settings,
};

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// Keeps cookies like a browser and reads the CSRF token from the last page it saw.
pub(crate) struct Browser<'a> {
    api: &'a TestApi,
    cookies: HashMap<String, String>,
    csrf: String,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(api: &'a TestApi) -> Self {
        Browser {
            api,
            cookies: HashMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &TestResponse) {
        for value in response.headers.get_all("set-cookie") {
            let cookie =
                cookie::Cookie::parse(value.to_str().expect("ascii").to_owned()).expect("cookie");
            if cookie.value().is_empty() || cookie.max_age() == Some(cookie::time::Duration::ZERO) {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        if let Some(html) = response.body.as_str()
            && let Some(token) = hidden_value(html, "csrf_token")
        {
            self.csrf = token;
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> TestResponse {
        let request = Request::get(path)
            .header("accept", HTML)
            .header("cookie", self.cookie_header())
            .body(Body::empty())
            .expect("request");
        let response = self.api.send(request).await;
        self.keep(&response);
        response
    }

    /// Posts a form as a page would, with the CSRF token of the last page seen.
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly `fields`.
    pub(crate) async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let request = Request::post(path)
            .header("accept", HTML)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", self.cookie_header())
            .body(Body::from(body))
            .expect("request");
        let response = self.api.send(request).await;
        self.keep(&response);
        response
    }

    pub(crate) async fn sign_in(&mut self, name: &str) {
        self.get("/login").await;
        let response = self
            .post("/login", &[("username", name), ("password", TEST_PASSWORD)])
            .await;
        assert_eq!(response.status, 303, "sign in {name}: {}", text(&response));
        // The next page carries the session's CSRF token.
        self.get("/").await;
    }
}

pub(crate) fn text(response: &TestResponse) -> &str {
    response.body.as_str().unwrap_or_default()
}

pub(crate) fn location(response: &TestResponse) -> &str {
    response.headers["location"].to_str().expect("ascii")
}

/// The `value` of the first input named `name`.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// alice (who made `rust` and asked a tagged question) and bob, who answered it.
async fn forum(api: &TestApi) -> (i64, i64) {
    api.create_user("alice", AccountRole::Member).await;
    api.create_user("bob", AccountRole::Member).await;
    let alice = api.login("alice").await;
    let bob = api.login("bob").await;
    let created = api
        .call(
            "POST",
            "/api/v1/communities",
            Some(&alice),
            Some(json!({
                "name": "rust", "title": "Rust help", "kind": "qa",
                "description": "Ask **here**.", "rules": "Be kind."
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let thread = api
        .call(
            "POST",
            "/api/v1/communities/rust/threads",
            Some(&alice),
            Some(json!({"title": "How do I share a pool?", "body": "With *axum*.", "tags": ["axum", "databases"]})),
        )
        .await;
    let thread = thread.body["id"].as_i64().expect("thread");
    let answer = api
        .call(
            "POST",
            &format!("/api/v1/threads/{thread}/answers"),
            Some(&bob),
            Some(json!({"body": "Use `Arc`."})),
        )
        .await;
    (thread, answer.body["id"].as_i64().expect("answer"))
}

fn assert_layout(html: &str) {
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("href=\"#main\""), "skip link");
    assert!(html.contains("<main id=\"main\""));
    assert!(html.contains("<footer"));
    assert!(html.contains("/static/app."), "stylesheet link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_the_layout() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let (thread, answer) = forum(&api).await;
        let mut anonymous = Browser::new(&api);
        for (path, expected) in [
            (
                "/".to_owned(),
                vec!["Rust help", "Communities", "Recently solved"],
            ),
            (
                "/c/rust".to_owned(),
                vec![
                    "Rust help",
                    "How do I share a pool?",
                    "Moderators",
                    "alice",
                    "Be kind.",
                    "<strong>here</strong>",
                    "Local",
                ],
            ),
            (
                format!("/t/{thread}"),
                vec![
                    "How do I share a pool?",
                    "<em>axum</em>",
                    "<code>Arc</code>",
                    "databases",
                    "Sign in to answer",
                ],
            ),
            (
                "/u/alice".to_owned(),
                vec!["alice", "@alice@localhost:8541"],
            ),
            (
                "/login".to_owned(),
                vec!["<label for=\"username\">", "<label for=\"password\">"],
            ),
            (
                "/signup".to_owned(),
                vec!["<label for=\"username\">", "Sign up"],
            ),
        ] {
            let page = anonymous.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", text(&page));
            assert!(
                page.headers["content-type"]
                    .to_str()
                    .expect("ascii")
                    .starts_with("text/html"),
                "{path}"
            );
            let html = text(&page);
            assert_layout(html);
            for needle in expected {
                assert!(html.contains(needle), "{path} lacks {needle}:\n{html}");
            }
            assert!(html.contains(">Sign in<"), "{path}: header offers sign-in");
        }
        let answer_page = anonymous.get(&format!("/r/{answer}")).await;
        assert_eq!(answer_page.status, 303);
        assert_eq!(location(&answer_page), format!("/t/{thread}#r{answer}"));

        // Signed in: the header names the viewer and the forms appear.
        let mut bob = Browser::new(&api);
        bob.sign_in("bob").await;
        let home = bob.get("/").await;
        assert!(text(&home).contains(">Sign out</button>"));
        assert!(text(&home).contains("href=\"/u/bob\""));
        let community = bob.get("/c/rust").await;
        assert!(
            text(&community).contains(">Join</button>"),
            "{}",
            text(&community)
        );
        assert!(text(&community).contains("/ask?community=rust"));
        let page = bob.get(&format!("/t/{thread}")).await;
        let html = text(&page);
        assert!(html.contains("<label for=\"answer-body\">"), "{html}");
        assert!(
            html.contains("▲ Upvote"),
            "bob may vote on alice's question"
        );
        assert!(
            !html.contains("Accept this answer"),
            "only the asker accepts"
        );
        let ask = bob.get("/ask?community=rust").await;
        assert_eq!(ask.status, 200);
        let html = text(&ask);
        for needle in [
            "<label for=\"title\">",
            "<label for=\"body\">",
            "<label for=\"tags\">",
            "data-similar-url=\"/api/v1/communities/rust/similar\"",
            "aria-live=\"polite\"",
            "Markdown",
        ] {
            assert!(html.contains(needle), "ask page lacks {needle}");
        }
        let choose = bob.get("/ask").await;
        assert!(text(&choose).contains("<option value=\"rust\">"));
        assert_eq!(bob.get("/communities/new").await.status, 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn community_threads_sort_and_filter_by_tag() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        forum(&api).await;
        let alice = api.login("alice").await;
        api.call(
            "POST",
            "/api/v1/communities/rust/threads",
            Some(&alice),
            Some(json!({"title": "Lifetimes in traits", "tags": ["lifetimes"]})),
        )
        .await;
        let mut browser = Browser::new(&api);
        let all = browser.get("/c/rust").await;
        assert!(text(&all).contains("Lifetimes in traits") && text(&all).contains("share a pool"));
        let tagged = browser.get("/c/rust?tag=lifetimes").await;
        let html = text(&tagged);
        assert!(html.contains("Lifetimes in traits"), "{html}");
        assert!(!html.contains("share a pool"), "filtered out");
        assert!(html.contains("Show all threads"));
        let unanswered = browser.get("/c/rust?sort=unanswered").await;
        let html = text(&unanswered);
        assert!(html.contains("Lifetimes in traits") && !html.contains("share a pool"));
        assert!(html.contains("href=\"/c/rust?sort=unanswered\" aria-current=\"page\""));
        assert_eq!(browser.get("/c/rust?tag=%3Cbad%3E").await.status, 400);
        let missing = browser.get("/c/nothing").await;
        assert_eq!(missing.status, 404);
        assert_layout(text(&missing));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_in_ask_answer_and_accept_through_forms() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let mut carol = Browser::new(&api);
        let form = carol.get("/signup").await;
        assert!(
            carol.cookies.contains_key("lyceum_csrf"),
            "pre-session token"
        );
        assert!(text(&form).contains("name=\"csrf_token\""));
        let signed_up = carol
            .post(
                "/signup",
                &[
                    ("username", "carol"),
                    ("password", TEST_PASSWORD),
                    ("email", ""),
                ],
            )
            .await;
        assert_eq!(signed_up.status, 303, "{}", text(&signed_up));
        assert!(
            carol.cookies.contains_key("lyceum_session"),
            "signed in at once"
        );
        let home = carol.get("/").await;
        assert!(text(&home).contains(">Sign out</button>"));

        // Out and in again.
        let out = carol.post("/logout", &[]).await;
        assert_eq!(out.status, 303);
        assert!(!carol.cookies.contains_key("lyceum_session"));
        assert!(text(&carol.get("/").await).contains(">Sign in<"));
        let wrong = {
            carol.get("/login").await;
            carol
                .post(
                    "/login",
                    &[("username", "carol"), ("password", "not the password")],
                )
                .await
        };
        assert_eq!(wrong.status, 401);
        let html = text(&wrong);
        assert!(
            html.contains("role=\"alert\"") && html.contains("The username or password is wrong.")
        );
        assert!(html.contains("value=\"carol\""), "the name is kept");
        let back = carol
            .post(
                "/login",
                &[
                    ("username", "carol"),
                    ("password", TEST_PASSWORD),
                    ("next", "/ask?community=sci"),
                ],
            )
            .await;
        assert_eq!(back.status, 303);
        assert_eq!(location(&back), "/ask?community=sci");
        carol.get("/").await;

        // A community, then a question in it.
        carol.get("/communities/new").await;
        let created = carol
            .post(
                "/communities/new",
                &[
                    ("name", "sci"),
                    ("title", "Questions"),
                    ("kind", "qa"),
                    ("visibility", "public"),
                    ("description", ""),
                    ("rules", ""),
                ],
            )
            .await;
        assert_eq!(created.status, 303, "{}", text(&created));
        assert_eq!(location(&created), "/c/sci");
        carol.get("/ask?community=sci").await;
        let empty = carol
            .post(
                "/ask",
                &[
                    ("community", "sci"),
                    ("title", "ab"),
                    ("body", "kept body"),
                    ("tags", "x"),
                ],
            )
            .await;
        assert_eq!(empty.status, 422);
        let html = text(&empty);
        assert!(html.contains("id=\"title-error\""), "{html}");
        assert!(html.contains("kept body"), "the draft is kept");
        let asked = carol
            .post(
                "/ask",
                &[
                    ("community", "sci"),
                    ("title", "Why is the sky blue?"),
                    ("body", "Rayleigh?"),
                    ("tags", "physics, light"),
                    ("kind", "question"),
                ],
            )
            .await;
        assert_eq!(asked.status, 303, "{}", text(&asked));
        let thread_path = location(&asked).to_owned();
        let thread_id: i64 = thread_path.trim_start_matches("/t/").parse().expect("id");
        let page = carol.get(&thread_path).await;
        let html = text(&page);
        assert!(
            html.contains("Why is the sky blue?")
                && html.contains("physics")
                && html.contains("light")
        );

        // dave answers through the form; carol accepts.
        api.create_user("dave", AccountRole::Member).await;
        let mut dave = Browser::new(&api);
        dave.sign_in("dave").await;
        dave.get(&thread_path).await;
        let blank = dave
            .post(&format!("/t/{thread_id}/answers"), &[("body", "  ")])
            .await;
        assert_eq!(blank.status, 422);
        assert!(text(&blank).contains("id=\"answer-error\""));
        let answered = dave
            .post(
                &format!("/t/{thread_id}/answers"),
                &[("body", "Scattering: **short** waves.")],
            )
            .await;
        assert_eq!(answered.status, 303, "{}", text(&answered));
        let answer_anchor = location(&answered).to_owned();
        let answer_id: i64 = answer_anchor
            .rsplit("#r")
            .next()
            .expect("anchor")
            .parse()
            .expect("id");
        let voted = dave
            .post(&format!("/t/{thread_id}/vote"), &[("score", "1")])
            .await;
        assert_eq!(voted.status, 303);
        let replied = dave
            .post(
                &format!("/t/{thread_id}/answers"),
                &[
                    ("body", "And a reply."),
                    ("parent_id", &answer_id.to_string()),
                ],
            )
            .await;
        assert_eq!(replied.status, 303);

        let page = carol.get(&thread_path).await;
        let html = text(&page);
        assert!(html.contains("Score 1"), "dave's vote counts");
        assert!(html.contains("<strong>short</strong>"));
        assert!(html.contains("And a reply."));
        assert_eq!(
            html.matches("Accept this answer").count(),
            1,
            "the asker may accept the answer, not the reply below it"
        );
        let accepted = carol.post(&format!("/r/{answer_id}/accept"), &[]).await;
        assert_eq!(accepted.status, 303, "{}", text(&accepted));
        assert_eq!(location(&accepted), format!("/t/{thread_id}#r{answer_id}"));
        let page = carol.get(&thread_path).await;
        let html = text(&page);
        assert!(html.contains("badge solved\">Solved<"), "{html}");
        assert!(html.contains("Accepted answer"));
        assert!(html.contains(">Unaccept</button>"));
        let home = carol.get("/").await;
        assert!(
            text(&home).contains("Why is the sky blue?"),
            "recently solved"
        );

        // dave joins and leaves the community.
        dave.get("/c/sci").await;
        assert_eq!(dave.post("/c/sci/join", &[]).await.status, 303);
        assert!(text(&dave.get("/c/sci").await).contains(">Leave</button>"));
        assert_eq!(dave.post("/c/sci/leave", &[]).await.status, 303);
        assert!(text(&dave.get("/c/sci").await).contains(">Join</button>"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_without_the_right_csrf_token_are_refused() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let (thread, _) = forum(&api).await;
        let mut bob = Browser::new(&api);
        bob.sign_in("bob").await;
        let path = format!("/t/{thread}/answers");
        for fields in [
            vec![("body", "no token")],
            vec![("csrf_token", "0123"), ("body", "wrong token")],
            vec![("csrf_token", ""), ("body", "empty token")],
        ] {
            let refused = bob.post_raw(&path, &fields).await;
            assert_eq!(refused.status, 403, "{fields:?}");
            let html = text(&refused);
            assert_layout(html);
            assert!(html.contains("Form expired"), "{html}");
        }
        let refused = bob.post_raw("/logout", &[]).await;
        assert_eq!(refused.status, 403);
        // The session's token is not a pre-session token, nor the other way round.
        let mut visitor = Browser::new(&api);
        visitor.get("/login").await;
        let stolen = bob.csrf.clone();
        let refused = visitor
            .post_raw(
                "/login",
                &[
                    ("csrf_token", &stolen),
                    ("username", "bob"),
                    ("password", TEST_PASSWORD),
                ],
            )
            .await;
        assert_eq!(refused.status, 403);
        // Without any cookie there is nothing to match.
        let mut bare = Browser::new(&api);
        let refused = bare
            .post_raw(
                "/signup",
                &[
                    ("csrf_token", ""),
                    ("username", "eve"),
                    ("password", TEST_PASSWORD),
                ],
            )
            .await;
        assert_eq!(refused.status, 403);
        let page = bob.get(&format!("/t/{thread}")).await;
        assert!(!text(&page).contains("no token") && !text(&page).contains("wrong token"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_escaped() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        api.create_user("mallory", AccountRole::Member).await;
        let token = api.login("mallory").await;
        api.call(
            "POST",
            "/api/v1/communities",
            Some(&token),
            Some(json!({"name": "xss", "title": "<script>alert('c')</script>", "kind": "qa",
                        "description": "<script>alert('d')</script><img src=x onerror=alert(1)>"})),
        )
        .await;
        let thread = api
            .call(
                "POST",
                "/api/v1/communities/xss/threads",
                Some(&token),
                Some(json!({"title": "<script>alert('t')</script>\"><b>", "body": "<script>alert('b')</script><a href=\"javascript:alert(1)\">x</a>"})),
            )
            .await;
        assert_eq!(thread.status, 201, "{:?}", thread.body);
        let id = thread.body["id"].as_i64().expect("id");
        let mut browser = Browser::new(&api);
        for path in ["/".to_owned(), "/c/xss".to_owned(), format!("/t/{id}")] {
            let page = browser.get(&path).await;
            assert_eq!(page.status, 200, "{path}");
            let html = text(&page);
            assert!(!html.contains("<script>alert"), "{path}: {html}");
            assert!(!html.contains("onerror"), "{path}");
            assert!(!html.contains("javascript:"), "{path}");
            assert!(!html.contains("\"><b>"), "{path}: attribute break-out");
        }
        let page = browser.get(&format!("/t/{id}")).await;
        assert!(text(&page).contains("&#60;script&#62;alert("), "{}", text(&page));
        let csp = page.headers["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("script-src 'self'"), "{csp}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_assets_have_hashed_names_and_long_caching() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let mut browser = Browser::new(&api);
        let home = browser.get("/").await;
        let html = text(&home);
        let css = &super::assets::STYLESHEET.url;
        let js = &super::assets::SCRIPT.url;
        assert!(html.contains(&format!("href=\"{css}\"")), "{html}");
        assert!(html.contains(&format!("src=\"{js}\"")));
        for (url, kind) in [(css, "text/css"), (js, "text/javascript")] {
            let asset = browser.get(url).await;
            assert_eq!(asset.status, 200, "{url}");
            assert_eq!(
                asset.headers["cache-control"],
                "public, max-age=31536000, immutable"
            );
            assert!(
                asset.headers["content-type"]
                    .to_str()
                    .expect("ascii")
                    .starts_with(kind)
            );
        }
        assert!(text(&browser.get(css).await).contains("prefers-color-scheme: dark"));
        let stale = browser.get("/static/app.000000000000.css").await;
        assert_eq!(stale.status, 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_are_404_pages_for_browsers_and_json_for_clients() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let mut browser = Browser::new(&api);
        let page = browser.get("/no/such/page").await;
        assert_eq!(page.status, 404);
        let html = text(&page);
        assert_layout(html);
        assert!(html.contains("Page not found"));
        let missing_thread = browser.get("/t/999999").await;
        assert_eq!(missing_thread.status, 404);
        assert!(text(&missing_thread).contains("No thread has this id."));
        let json = api.call("GET", "/no/such/page", None, None).await;
        assert_eq!((json.status.as_u16(), json.code()), (404, "not_found"));
        // Signed-in-only pages send visitors to sign in and back.
        let ask = browser.get("/ask?community=rust").await;
        assert_eq!(ask.status, 303);
        assert_eq!(location(&ask), "/login?next=%2Fask%3Fcommunity%3Drust");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_follows_the_registration_mode() {
    for_each_backend(async |db| {
        let mut settings = test_settings();
        settings.registration.mode = RegistrationMode::Approval;
        let api = TestApi::new(db.clone(), settings).await;
        let mut visitor = Browser::new(&api);
        let form = visitor.get("/signup").await;
        let question = &api.settings.registration.application_question;
        assert!(text(&form).contains(question.as_str()));
        let missing = visitor
            .post(
                "/signup",
                &[("username", "erin"), ("password", TEST_PASSWORD)],
            )
            .await;
        assert_eq!(missing.status, 422);
        assert!(text(&missing).contains("id=\"application_answer-error\""));
        let short = visitor
            .post(
                "/signup",
                &[
                    ("username", "erin"),
                    ("password", "short"),
                    ("application_answer", "hi"),
                ],
            )
            .await;
        assert!(text(&short).contains("id=\"password-error\""));
        assert!(
            !text(&short).contains("value=\"short\""),
            "passwords are not echoed"
        );
        let applied = visitor
            .post(
                "/signup",
                &[
                    ("username", "erin"),
                    ("password", TEST_PASSWORD),
                    ("application_answer", "To learn."),
                ],
            )
            .await;
        assert_eq!(applied.status, 200);
        assert!(text(&applied).contains("Application received"));
        assert!(
            !visitor.cookies.contains_key("lyceum_session"),
            "pending accounts wait"
        );

        for (mode, needle) in [
            (RegistrationMode::Invite, "<label for=\"invite_code\">"),
            (RegistrationMode::Closed, "does not take sign-ups"),
        ] {
            let mut settings = test_settings();
            settings.registration.mode = mode;
            let api = TestApi::new(db.clone(), settings).await;
            let mut visitor = Browser::new(&api);
            let form = visitor.get("/signup?invite=abc").await;
            assert!(text(&form).contains(needle), "{mode:?}");
            if mode == RegistrationMode::Invite {
                assert!(
                    text(&form).contains("value=\"abc\""),
                    "the invite link fills the code"
                );
                let refused = visitor
                    .post(
                        "/signup",
                        &[
                            ("username", "frank"),
                            ("password", TEST_PASSWORD),
                            ("invite_code", "nope"),
                        ],
                    )
                    .await;
                assert_eq!(refused.status, 422);
                assert!(text(&refused).contains("id=\"invite_code-error\""));
            } else {
                assert!(
                    !text(&form).contains("Sign up</a>"),
                    "no sign-up link when closed"
                );
                let refused = visitor
                    .post(
                        "/signup",
                        &[("username", "frank"), ("password", TEST_PASSWORD)],
                    )
                    .await;
                assert_eq!(refused.status, 403);
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_content_names_its_origin() {
    for_each_backend(async |db| {
        let api = TestApi::new(db.clone(), test_settings()).await;
        let statements = [
            "INSERT INTO instances (domain, local, created_at, updated_at) VALUES ('far.example', FALSE, '2026-01-01 00:00:00', '2026-01-01 00:00:00')".to_owned(),
            "INSERT INTO communities (ap_id, local, instance_id, name, name_lower, title, kind, visibility, inbox_url, public_key_pem, published, last_refreshed_at)
             SELECT 'https://far.example/c/ops', FALSE, id, 'ops', 'ops', 'Far ops', 'qa', 'public', 'https://far.example/c/ops/inbox', 'key', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM instances WHERE domain = 'far.example'".to_owned(),
            "INSERT INTO persons (ap_id, local, instance_id, name, name_lower, inbox_url, public_key_pem, published, last_refreshed_at)
             SELECT 'https://far.example/u/zed', FALSE, id, 'zed', 'zed', 'https://far.example/u/zed/inbox', 'key', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM instances WHERE domain = 'far.example'".to_owned(),
            "INSERT INTO threads (ap_id, local, community_id, author_id, kind, title, body, body_html, last_activity_at, published)
             SELECT 'https://far.example/post/9', FALSE, c.id, p.id, 'question', 'Remote question', 'x', '<p>Far body</p>', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM communities c, persons p WHERE c.name = 'ops' AND p.name = 'zed'".to_owned(),
        ];
        for sql in statements {
            assert_eq!(execute_sql(&db, &sql).await, 1, "{sql}");
        }
        let mut browser = Browser::new(&api);
        let page = browser.get("/c/ops@far.example").await;
        assert_eq!(page.status, 200, "{}", text(&page));
        let html = text(&page);
        assert!(html.contains("Far ops") && html.contains("Remote question"));
        assert!(html.contains("badge remote") && html.contains("href=\"https://far.example/c/ops\""));
        let listed = html
            .split("href=\"/t/")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("thread link")
            .to_owned();
        let page = browser.get(&format!("/t/{listed}")).await;
        let html = text(&page);
        assert!(html.contains("Far body"));
        assert!(html.contains("From far.example") && html.contains("href=\"https://far.example/post/9\""));
        assert!(html.contains("zed@far.example"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_attempts_share_the_api_rate_limit_and_get_a_page() {
    for_each_backend(async |db| {
        let mut settings = test_settings();
        settings.rate_limit.auth_burst = 2;
        let api = TestApi::new(db, settings).await;
        let mut visitor = Browser::new(&api);
        visitor.get("/login").await;
        let wrong = [("username", "nobody"), ("password", "not the password")];
        assert_eq!(visitor.post("/login", &wrong).await.status, 401);
        let through_api = api
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "nobody", "password": "not the password"})),
            )
            .await;
        assert_eq!(through_api.status, 401);
        let limited = visitor.post("/login", &wrong).await;
        assert_eq!(limited.status, 429, "the API attempt used the same budget");
        assert!(limited.headers.contains_key("retry-after"));
        let html = text(&limited);
        assert_layout(html);
        assert!(html.contains("Too many attempts"), "{html}");
        // Reading pages is not limited.
        assert_eq!(visitor.get("/login").await.status, 200);
    })
    .await;
}

/// `forum` with bob's answer accepted by alice.
async fn solved_forum(api: &TestApi) -> (i64, i64) {
    let (thread, answer) = forum(api).await;
    let alice = api.login("alice").await;
    let accepted = api
        .call(
            "POST",
            &format!("/api/v1/answers/{answer}/accept"),
            Some(&alice),
            None,
        )
        .await;
    assert!(accepted.status.is_success(), "{:?}", accepted.body);
    (thread, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_pages_show_solved_questions_tags_experts_and_profiles() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let (thread, answer) = solved_forum(&api).await;
        let mut anonymous = Browser::new(&api);
        let title = "How do I share a pool?";
        for (path, expected) in [
            (
                "/kb".to_owned(),
                vec![
                    "Knowledge base",
                    title,
                    "<code>Arc</code>",
                    "Accepted answer by <a href=\"/u/bob\">bob</a>",
                    "href=\"/unanswered\"",
                    "href=\"/tags/axum\"",
                ],
            ),
            (
                "/kb?sort=recent&tag=axum&community=rust".to_owned(),
                vec![title, "aria-current=\"page\">Recent<", "Show all"],
            ),
            (
                "/kb?tag=nothing-here".to_owned(),
                vec!["No solved questions"],
            ),
            (
                "/unanswered".to_owned(),
                vec!["Unanswered questions", "Every question has an answer."],
            ),
            (
                "/tags".to_owned(),
                vec![
                    "<a class=\"tag\" href=\"/tags/axum\">axum</a>",
                    "databases",
                    "<th scope=\"col\">Solved</th>",
                ],
            ),
            (
                "/tags/axum".to_owned(),
                vec![
                    "Tag <span class=\"tag\">axum</span>",
                    title,
                    "Experts",
                    "<a href=\"/u/bob\">bob</a> <span class=\"meta\">1 accepted answer</span>",
                ],
            ),
            (
                "/u/bob".to_owned(),
                vec![
                    "Contributions",
                    "<dt>Answers</dt><dd>1</dd>",
                    "<dt>Accepted answers</dt><dd>1</dd>",
                    "href=\"/tags/axum\"",
                ],
            ),
            (
                "/u/alice".to_owned(),
                vec!["<dt>Threads</dt><dd>1</dd>", "No accepted answers"],
            ),
            (
                "/search?q=Arc".to_owned(),
                vec![
                    "1 result<",
                    &format!("href=\"/t/{thread}#r{answer}\""),
                    "<mark>",
                    "Solved",
                    "href=\"/c/rust\"",
                ],
            ),
            (
                "/search".to_owned(),
                vec![
                    "<label for=\"search-q\">",
                    "<label for=\"search-community\">",
                    "<label for=\"search-tag\">",
                    "<label for=\"search-solved\">",
                    "<label for=\"search-kind\">",
                ],
            ),
            (
                "/search?q=Arc&solved=unsolved".to_owned(),
                vec!["0 results", "value=\"unsolved\" selected"],
            ),
        ] {
            let page = anonymous.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", text(&page));
            let html = text(&page);
            assert_layout(html);
            for needle in expected {
                assert!(html.contains(needle), "{path} lacks {needle}:\n{html}");
            }
        }
        // The header's search box and knowledge base link lead to these pages.
        let home = text(&anonymous.get("/").await).to_owned();
        assert!(home.contains("action=\"/search\""));
        assert!(home.contains("href=\"/kb\""));
        let searched = anonymous.get("/search?q=pool").await;
        assert!(text(&searched).contains(title));
        assert!(
            text(&searched).contains("value=\"pool\""),
            "the header box keeps the query"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_escape_hostile_queries_and_show_refusals() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        solved_forum(&api).await;
        let mut browser = Browser::new(&api);
        for q in [
            "<script>alert(1)</script>",
            "c++",
            "\"quoted\" 'single'",
            "\"><img src=x onerror=alert(1)>",
        ] {
            let path = format!("/search?q={}", super::page::url_encode(q));
            let page = browser.get(&path).await;
            assert_eq!(page.status, 200, "{q}: {}", text(&page));
            let html = text(&page);
            assert!(!html.contains("<script>alert"), "{q}: {html}");
            assert!(!html.contains("<img src=x"), "{q}: {html}");
            assert!(!html.contains("\"><img"), "{q}: attribute break-out");
        }
        let page = browser.get("/search?q=%3Cscript%3E").await;
        assert!(text(&page).contains("&#60;script&#62;"), "{}", text(&page));

        // Refusals are told on the page, next to the form.
        let long = "a".repeat(10_001);
        let page = browser.get(&format!("/search?q={long}")).await;
        assert_eq!(page.status, 400);
        assert!(text(&page).contains("role=\"alert\""), "{}", text(&page));
        assert!(text(&page).contains("at most 10000 characters"));
        assert!(text(&page).contains("<label for=\"search-q\">"));
        let page = browser.get("/search?q=pool&community=nowhere").await;
        assert_eq!(page.status, 404);
        assert!(text(&page).contains("role=\"alert\""));
        let page = browser.get("/search?q=pool&offset=lots").await;
        assert_eq!(page.status, 400, "a malformed query is a 400 page");
        assert_layout(text(&page));
        let page = browser.get("/kb?community=nowhere").await;
        assert_eq!(page.status, 404);
        assert_layout(text(&page));
    })
    .await;
}

/// Where `needle` first stands in `html`; the test fails when it is missing.
fn position(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("lacks {needle}:\n{html}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_edit_through_forms_and_the_history_shows_every_version() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let (thread, answer) = forum(&api).await;
        let thread_path = format!("/t/{thread}");
        let mut alice = Browser::new(&api);
        alice.sign_in("alice").await;
        let page = alice.get(&thread_path).await;
        let html = text(&page);
        assert!(
            html.contains(&format!("href=\"/t/{thread}/edit\"")),
            "{html}"
        );
        assert!(html.contains(&format!("href=\"/t/{thread}/delete\"")));
        assert!(
            !html.contains(&format!("href=\"/r/{answer}/edit\"")),
            "only bob edits his answer"
        );
        assert!(
            !html.contains(&format!("href=\"/t/{thread}/revisions\"")),
            "nothing edited yet"
        );

        let form = alice.get(&format!("/t/{thread}/edit")).await;
        assert_eq!(form.status, 200, "{}", text(&form));
        let html = text(&form);
        assert_layout(html);
        for needle in [
            "<label for=\"title\">",
            "<label for=\"body\">",
            "<label for=\"tags\">",
            "value=\"How do I share a pool?\"",
            "With *axum*.",
            "value=\"axum, databases\"",
            "Markdown",
        ] {
            assert!(html.contains(needle), "edit form lacks {needle}:\n{html}");
        }
        let edit = format!("/t/{thread}/edit");
        let refused = alice
            .post(
                &edit,
                &[("title", "ab"), ("body", "kept draft"), ("tags", "axum")],
            )
            .await;
        assert_eq!(refused.status, 422);
        let html = text(&refused);
        assert!(html.contains("id=\"title-error\""), "{html}");
        assert!(html.contains("kept draft"), "the draft is kept");
        let hostile = "*Hostile* middle <script>alert(1)</script><img src=x onerror=alert(1)>";
        for (title, body) in [
            ("How do I share a pool, safely?", hostile),
            ("How do I share a database pool?", "With **axum** state."),
        ] {
            let saved = alice
                .post(&edit, &[("title", title), ("body", body), ("tags", "axum")])
                .await;
            assert_eq!(saved.status, 303, "{}", text(&saved));
            assert_eq!(location(&saved), thread_path);
        }
        let page = alice.get(&thread_path).await;
        let html = text(&page);
        assert!(html.contains("How do I share a database pool?"));
        assert!(html.contains("<strong>axum</strong>"));
        assert!(
            !html.contains("href=\"/c/rust?tag=databases\""),
            "tag removed"
        );
        assert!(html.contains(&format!("href=\"/t/{thread}/revisions\">edited</a>")));

        let history = alice.get(&format!("/t/{thread}/revisions")).await;
        assert_eq!(history.status, 200);
        let html = text(&history);
        assert_layout(html);
        let current = position(html, "Current version");
        let middle = position(html, "Version 2");
        let original = position(html, "Original");
        assert!(current < middle && middle < original, "newest first");
        assert!(position(html, "<strong>axum</strong>") < middle);
        assert!(position(html, "<em>Hostile</em>") > middle);
        assert!(position(html, "<em>axum</em>") > original);
        assert!(html.contains("How do I share a pool, safely?"));
        assert!(html.contains("<h3>How do I share a pool?</h3>"));
        assert!(html.contains("<a href=\"/u/alice\">alice</a>"));
        assert_eq!(html.matches("<time datetime=\"").count(), 3);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("onerror"), "{html}");

        // bob edits his answer the same way.
        let mut bob = Browser::new(&api);
        bob.sign_in("bob").await;
        let page = bob.get(&thread_path).await;
        assert!(text(&page).contains(&format!("href=\"/r/{answer}/edit\"")));
        let form = bob.get(&format!("/r/{answer}/edit")).await;
        assert_eq!(form.status, 200);
        assert!(text(&form).contains("<label for=\"body\">"));
        assert!(text(&form).contains("Use `Arc`."));
        let edit = format!("/r/{answer}/edit");
        let blank = bob.post(&edit, &[("body", "  ")]).await;
        assert_eq!(blank.status, 422);
        assert!(text(&blank).contains("id=\"body-error\""));
        let saved = bob
            .post(&edit, &[("body", "Use **`Arc`** around it.")])
            .await;
        assert_eq!(saved.status, 303, "{}", text(&saved));
        assert_eq!(location(&saved), format!("/t/{thread}#r{answer}"));
        let page = bob.get(&thread_path).await;
        let html = text(&page);
        assert!(html.contains("<strong><code>Arc</code></strong>"), "{html}");
        assert!(html.contains(&format!("href=\"/r/{answer}/revisions\">edited</a>")));
        let history = bob.get(&format!("/r/{answer}/revisions")).await;
        assert_eq!(history.status, 200);
        let html = text(&history);
        assert!(position(html, "Current version") < position(html, "Original"));
        assert!(position(html, "<strong><code>Arc</code></strong>") < position(html, "Original"));
        assert!(position(html, "<p>Use <code>Arc</code>.</p>") > position(html, "Original"));
        assert!(html.contains("<a href=\"/u/bob\">bob</a>"));
        assert!(html.contains(&format!("href=\"/t/{thread}#r{answer}\"")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_see_no_edit_or_delete_controls_and_are_refused() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let (thread, answer) = forum(&api).await;
        api.create_user("carol", AccountRole::Member).await;
        let mut carol = Browser::new(&api);
        carol.sign_in("carol").await;
        let page = carol.get(&format!("/t/{thread}")).await;
        let html = text(&page);
        for path in [
            format!("/t/{thread}/edit"),
            format!("/t/{thread}/delete"),
            format!("/r/{answer}/edit"),
            format!("/r/{answer}/delete"),
        ] {
            assert!(!html.contains(&format!("href=\"{path}\"")), "{path}");
            let refused = carol.get(&path).await;
            assert_eq!(refused.status, 403, "GET {path}");
            assert!(text(&refused).contains("Not allowed"), "{path}");
        }
        assert!(!html.contains(">Lock</button>"));
        for (path, fields) in [
            (
                format!("/t/{thread}/edit"),
                vec![("title", "Taken over"), ("body", "x"), ("tags", "")],
            ),
            (format!("/r/{answer}/edit"), vec![("body", "Taken over")]),
            (format!("/t/{thread}/delete"), vec![]),
            (format!("/r/{answer}/delete"), vec![]),
            (format!("/t/{thread}/lock"), vec![("locked", "true")]),
        ] {
            let refused = carol.post(&path, &fields).await;
            assert_eq!(refused.status, 403, "POST {path}");
            assert_layout(text(&refused));
            assert!(text(&refused).contains("Not allowed"), "{path}");
        }
        // A visitor is sent to sign in first.
        let mut visitor = Browser::new(&api);
        let form = visitor.get(&format!("/t/{thread}/edit")).await;
        assert_eq!(form.status, 303);
        assert!(location(&form).starts_with("/login?next="));

        // Forms without the right token are refused, even from the author.
        let mut alice = Browser::new(&api);
        alice.sign_in("alice").await;
        let mut bob = Browser::new(&api);
        bob.sign_in("bob").await;
        for (by_alice, path, fields) in [
            (
                true,
                format!("/t/{thread}/edit"),
                vec![("title", "No token here"), ("body", "")],
            ),
            (
                true,
                format!("/t/{thread}/delete"),
                vec![("csrf_token", "0123")],
            ),
            (true, format!("/t/{thread}/lock"), vec![("locked", "true")]),
            (
                false,
                format!("/r/{answer}/edit"),
                vec![("body", "No token here")],
            ),
            (
                false,
                format!("/r/{answer}/delete"),
                vec![("csrf_token", "")],
            ),
        ] {
            let who = if by_alice { &mut alice } else { &mut bob };
            let refused = who.post_raw(&path, &fields).await;
            assert_eq!(refused.status, 403, "{path}");
            assert!(text(&refused).contains("Form expired"), "{path}");
        }
        let page = carol.get(&format!("/t/{thread}")).await;
        let html = text(&page);
        assert!(html.contains("How do I share a pool?") && html.contains("<code>Arc</code>"));
        assert!(!html.contains("Taken over") && !html.contains("No token here"));
        assert!(!html.contains("badge\">Locked<"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_asks_for_confirmation_and_hides_the_text() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let (thread, answer) = forum(&api).await;
        let mut bob = Browser::new(&api);
        bob.sign_in("bob").await;
        let page = bob.get(&format!("/t/{thread}")).await;
        assert!(text(&page).contains(&format!("href=\"/r/{answer}/delete\"")));
        let confirm = bob.get(&format!("/r/{answer}/delete")).await;
        assert_eq!(confirm.status, 200);
        let html = text(&confirm);
        assert_layout(html);
        assert!(html.contains("Delete this answer?"), "{html}");
        assert!(html.contains(&format!("action=\"/r/{answer}/delete\"")));
        assert!(html.contains(">Delete</button>"));
        assert!(html.contains(&format!("href=\"/t/{thread}#r{answer}\">Cancel</a>")));
        let deleted = bob.post(&format!("/r/{answer}/delete"), &[]).await;
        assert_eq!(deleted.status, 303, "{}", text(&deleted));
        assert_eq!(location(&deleted), format!("/t/{thread}#r{answer}"));
        let page = bob.get(&format!("/t/{thread}")).await;
        let html = text(&page);
        assert!(html.contains("This answer was deleted."));
        assert!(!html.contains("<code>Arc</code>"));
        assert!(!html.contains(&format!("href=\"/r/{answer}/delete\"")));
        assert_eq!(bob.get(&format!("/r/{answer}/delete")).await.status, 409);

        // alice edits, then deletes her thread; the old versions go with it.
        let mut alice = Browser::new(&api);
        alice.sign_in("alice").await;
        alice.get(&format!("/t/{thread}/edit")).await;
        let saved = alice
            .post(
                &format!("/t/{thread}/edit"),
                &[
                    ("title", "How do I share a pool?"),
                    ("body", "Second *words*."),
                    ("tags", ""),
                ],
            )
            .await;
        assert_eq!(saved.status, 303);
        let confirm = alice.get(&format!("/t/{thread}/delete")).await;
        assert_eq!(confirm.status, 200);
        let html = text(&confirm);
        assert!(html.contains("Delete this thread?"));
        assert!(html.contains("How do I share a pool?"));
        assert!(html.contains(&format!("href=\"/t/{thread}\">Cancel</a>")));
        let deleted = alice.post(&format!("/t/{thread}/delete"), &[]).await;
        assert_eq!(deleted.status, 303);
        assert_eq!(location(&deleted), format!("/t/{thread}"));
        let page = alice.get(&format!("/t/{thread}")).await;
        let html = text(&page);
        assert!(html.contains("This thread was deleted."));
        assert!(!html.contains("<em>words</em>"));
        assert!(!html.contains(&format!("href=\"/t/{thread}/edit\"")));
        assert!(!html.contains(&format!("href=\"/t/{thread}/revisions\"")));
        let history = alice.get(&format!("/t/{thread}/revisions")).await;
        assert_eq!(history.status, 200);
        let html = text(&history);
        assert!(html.contains("This thread was deleted"));
        assert!(!html.contains("<em>axum</em>") && !html.contains("<em>words</em>"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_lock_and_unlock_threads() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        forum(&api).await;
        api.create_user("root", AccountRole::Admin).await;
        // bob asks; alice moderates `rust`, which she made.
        let bob_token = api.login("bob").await;
        let asked = api
            .call(
                "POST",
                "/api/v1/communities/rust/threads",
                Some(&bob_token),
                Some(json!({"title": "Bob's own question", "body": "Mine."})),
            )
            .await;
        let thread = asked.body["id"].as_i64().expect("thread");
        let thread_path = format!("/t/{thread}");
        let lock = format!("/t/{thread}/lock");
        let mut bob = Browser::new(&api);
        bob.sign_in("bob").await;
        let html = text(&bob.get(&thread_path).await).to_owned();
        assert!(!html.contains(">Lock</button>"), "bob does not moderate");
        assert!(html.contains(&format!("href=\"/t/{thread}/edit\"")));
        assert_eq!(bob.post(&lock, &[("locked", "true")]).await.status, 403);

        let mut root = Browser::new(&api);
        root.sign_in("root").await;
        assert!(
            text(&root.get(&thread_path).await).contains(">Lock</button>"),
            "admins moderate"
        );

        let mut alice = Browser::new(&api);
        alice.sign_in("alice").await;
        assert!(text(&alice.get(&thread_path).await).contains(">Lock</button>"));
        assert_eq!(alice.post(&lock, &[("locked", "maybe")]).await.status, 400);
        let locked = alice.post(&lock, &[("locked", "true")]).await;
        assert_eq!(locked.status, 303, "{}", text(&locked));
        assert_eq!(location(&locked), thread_path);
        let html = text(&alice.get(&thread_path).await).to_owned();
        assert!(html.contains("<span class=\"badge\">Locked</span>"));
        assert!(html.contains(">Unlock</button>") && !html.contains(">Lock</button>"));

        // Locked: bob's edit link goes, and an edit already under way keeps its draft.
        let page = bob.get(&thread_path).await;
        assert!(!text(&page).contains(&format!("href=\"/t/{thread}/edit\"")));
        assert_eq!(bob.get(&format!("/t/{thread}/edit")).await.status, 409);
        let refused = bob
            .post(
                &format!("/t/{thread}/edit"),
                &[
                    ("title", "Bob's own question"),
                    ("body", "Late draft"),
                    ("tags", ""),
                ],
            )
            .await;
        assert_eq!(refused.status, 409);
        assert!(text(&refused).contains("role=\"alert\""));
        assert!(text(&refused).contains("Late draft"));

        let unlocked = alice.post(&lock, &[("locked", "false")]).await;
        assert_eq!(unlocked.status, 303);
        let html = text(&alice.get(&thread_path).await).to_owned();
        assert!(!html.contains("<span class=\"badge\">Locked</span>"));
        assert!(html.contains(">Lock</button>"));
        assert!(text(&bob.get(&thread_path).await).contains(&format!("href=\"/t/{thread}/edit\"")));

        // Pinning sits beside locking, for the same people.
        let pin = format!("/t/{thread}/pin");
        assert_eq!(bob.post(&pin, &[("pinned", "true")]).await.status, 403);
        assert_eq!(alice.post(&pin, &[("pinned", "maybe")]).await.status, 400);
        assert_eq!(alice.post(&pin, &[("pinned", "true")]).await.status, 303);
        let html = text(&alice.get(&thread_path).await).to_owned();
        assert!(
            html.contains("<span class=\"badge\">Pinned</span>")
                && html.contains(">Unpin</button>")
        );
        assert_eq!(alice.post(&pin, &[("pinned", "false")]).await.status, 303);
        assert!(text(&alice.get(&thread_path).await).contains(">Pin</button>"));
    })
    .await;
}

/// Issue #10 through the pages (#9's moderation page): a member reports an answer from the
/// thread page; its community's moderator sees it on `/mod`, removes the answer from there
/// (the thread page then says so), bans its author with a date (their answer form post gets
/// the 403 page naming the ban), lifts the ban, restores the answer and resolves the report;
/// `/modlog` shows the actions to anyone, and `/mod` is refused to members who moderate
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_handle_reports_removals_and_bans_through_the_pages() {
    for_each_backend(async |db| {
        let api = TestApi::new(db, test_settings()).await;
        let (thread, answer) = forum(&api).await;
        api.create_user("carl", AccountRole::Member).await;

        let mut carl = Browser::new(&api);
        carl.sign_in("carl").await;
        let page = carl.get(&format!("/t/{thread}")).await;
        let html = text(&page);
        assert!(
            html.contains(&format!("action=\"/r/{answer}/report\"")),
            "a report form"
        );
        assert!(
            !html.contains(&format!("action=\"/r/{answer}/remove\"")),
            "no remove for members"
        );
        let sent = carl
            .post(
                &format!("/r/{answer}/report"),
                &[("reason", "Copied from <b>elsewhere</b>")],
            )
            .await;
        assert_eq!(sent.status, 200, "{}", text(&sent));
        assert!(text(&sent).contains("Report sent"));
        let refused = carl.get("/mod").await;
        assert_eq!(refused.status, 403, "carl moderates nothing");

        // alice made `rust`, so she moderates it.
        let mut alice = Browser::new(&api);
        alice.sign_in("alice").await;
        let queue = alice.get("/mod").await;
        assert_eq!(queue.status, 200);
        let html = text(&queue);
        assert_layout(html);
        assert!(
            html.contains("Copied from &#60;b&#62;elsewhere&#60;/b&#62;"),
            "the reason, escaped: {html}"
        );
        assert!(html.contains("reported by carl"), "{html}");
        let report_id = html
            .split("action=\"/mod/reports/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("a resolve form")
            .to_owned();
        let removed = alice
            .post(
                &format!("/r/{answer}/remove"),
                &[("reason", "Plagiarism"), ("next", "/mod")],
            )
            .await;
        assert_eq!((removed.status.as_u16(), location(&removed)), (303, "/mod"));
        let shown = alice.get(&format!("/t/{thread}")).await;
        assert!(text(&shown).contains("This answer was removed by a moderator."));
        assert!(
            !text(&shown).contains("Use <code>Arc</code>"),
            "the text is hidden"
        );
        assert!(text(&shown).contains(&format!("action=\"/r/{answer}/restore\"")));
        let queue = alice.get("/mod").await;
        assert!(
            text(&queue).contains(&format!("action=\"/r/{answer}/restore\"")),
            "listed as removed"
        );

        // A ban until a date; bob's answer is refused with the reason.
        let banned = alice
            .post(
                "/mod/bans",
                &[
                    ("community", "rust"),
                    ("person", "bob"),
                    ("reason", "Plagiarism"),
                    ("until", "2999-12-31"),
                ],
            )
            .await;
        assert_eq!(banned.status, 303, "{}", text(&banned));
        let mut bob = Browser::new(&api);
        bob.sign_in("bob").await;
        bob.get(&format!("/t/{thread}")).await;
        let answer_form = bob
            .post(&format!("/t/{thread}/answers"), &[("body", "Again")])
            .await;
        assert_eq!(answer_form.status, 403);
        assert!(
            text(&answer_form).contains("banned from this community until 2999-12-31"),
            "{}",
            text(&answer_form)
        );
        let bad_date = {
            alice.get("/mod").await;
            alice
                .post(
                    "/mod/bans",
                    &[
                        ("community", "rust"),
                        ("person", "bob"),
                        ("reason", "x"),
                        ("until", "soon"),
                    ],
                )
                .await
        };
        assert_eq!(bad_date.status, 422);
        alice.get("/mod").await;
        let lifted = alice
            .post(
                "/mod/bans/lift",
                &[("community", "rust"), ("person", "bob")],
            )
            .await;
        assert_eq!(lifted.status, 303);
        alice.get("/mod").await;
        let restored = alice.post(&format!("/r/{answer}/restore"), &[]).await;
        assert_eq!(location(&restored), format!("/t/{thread}#r{answer}"));
        alice.get("/mod").await;
        let resolved = alice
            .post(&format!("/mod/reports/{report_id}/resolve"), &[])
            .await;
        assert_eq!(resolved.status, 303);
        let queue = alice.get("/mod?done=resolved").await;
        assert!(text(&queue).contains("No open reports."));

        // The log, for anyone.
        let log = Browser::new(&api).get("/modlog?community=rust").await;
        assert_eq!(log.status, 200);
        let html = text(&log);
        for action in [
            "removed an answer",
            "banned",
            "lifted the ban on",
            "restored an answer",
            "resolved a report",
        ] {
            assert!(html.contains(action), "{action} in the log: {html}");
        }
        assert!(html.contains("Plagiarism"));
        let anonymous = Browser::new(&api).get("/mod").await;
        assert_eq!(anonymous.status, 303, "to the sign-in page");
        assert!(location(&anonymous).starts_with("/login"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_without_cookies_share_a_kept_page_and_no_one_else_does() {
    for_each_backend(async |db| {
        let mut settings = test_settings();
        // An hour, so what is kept stays kept however slow the machine is.
        settings.http.anonymous_page_cache_secs = 3600;
        let api = TestApi::new(db.clone(), settings).await;
        let (thread, _) = forum(&api).await;
        let path = format!("/t/{thread}");
        let first = Browser::new(&api).get(&path).await;
        assert_eq!(first.status, 200, "{}", text(&first));
        assert!(text(&first).contains("<code>Arc</code>"));
        // Browsers accept gzip: theirs is kept compressed, under its own key.
        let gzipped = async || {
            let request = Request::get(&path)
                .header("accept", HTML)
                .header("accept-encoding", "gzip, deflate, br, zstd")
                .body(Body::empty())
                .expect("request");
            let (status, headers, bytes) = api.send_for_bytes(request).await;
            assert_eq!(status, 200);
            assert_eq!(headers["content-encoding"], "gzip");
            let vary = headers.get_all("vary").iter();
            assert!(
                vary.filter_map(|v| v.to_str().ok())
                    .any(|v| v.contains("accept-encoding"))
            );
            let mut html = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut html)
                .expect("gzip");
            (bytes, html)
        };
        let (first_gzip, first_html) = gzipped().await;
        assert!(first_html.contains("<code>Arc</code>"), "{first_html}");

        let bob = api.login("bob").await;
        // bob answers, through the API of `api` (either server: they share the database).
        let answer = async |api: &TestApi, body: &str| {
            let answered = api
                .call(
                    "POST",
                    &format!("/api/v1/threads/{thread}/answers"),
                    Some(&bob),
                    Some(json!({ "body": body })),
                )
                .await;
            assert_eq!(answered.status, 201, "{:?}", answered.body);
        };
        answer(&api, "Or a `OnceLock`.").await;

        // Another visitor without cookies is served the page as it was kept, headers too.
        let kept = Browser::new(&api).get(&path).await;
        assert_eq!(kept.status, 200);
        assert_eq!(text(&kept), text(&first));
        assert!(!text(&kept).contains("OnceLock"));
        // Both responses came from the kept copy, so it must carry the page's headers.
        for name in ["content-security-policy", "x-content-type-options"] {
            assert!(
                kept.headers.get(name).is_some(),
                "{name}: {:?}",
                kept.headers
            );
        }
        // Every value of the header, joined: the page has two `Vary` lines.
        let header = |name: &str| {
            kept.headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert!(
            header("content-type").starts_with("text/html"),
            "{:?}",
            kept.headers
        );
        let vary = header("vary").to_ascii_lowercase();
        assert!(
            vary.contains("accept-encoding") && vary.contains("cookie"),
            "{vary}"
        );
        let (kept_gzip, kept_html) = gzipped().await;
        assert_eq!(kept_gzip, first_gzip);
        assert!(!kept_html.contains("OnceLock"));
        // The address is the key: another query is another page.
        let other_query = Browser::new(&api).get(&format!("{path}?from=list")).await;
        assert!(text(&other_query).contains("OnceLock"));

        // A member always gets the page rendered for them.
        let mut alice = Browser::new(&api);
        alice.sign_in("alice").await;
        let own = alice.get(&path).await;
        assert!(text(&own).contains("OnceLock"), "{}", text(&own));

        // So does a visitor who started signing in: their forms carry their own token.
        let mut starting = Browser::new(&api);
        starting.get("/login").await;
        assert!(starting.cookies.contains_key("lyceum_csrf"));
        let theirs = starting.get(&path).await;
        assert!(text(&theirs).contains("OnceLock"));

        // Error pages are not kept: a community that did not exist is there once made.
        let missing = Browser::new(&api).get("/c/later").await;
        assert_eq!(missing.status, 404);
        let alice_token = api.login("alice").await;
        let created = api
            .call(
                "POST",
                "/api/v1/communities",
                Some(&alice_token),
                Some(json!({"name": "later", "title": "Made later", "kind": "qa"})),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let found = Browser::new(&api).get("/c/later").await;
        assert_eq!(found.status, 200, "{}", text(&found));

        // With a period of one second, a kept page is rendered again after it.
        let mut settings = test_settings();
        settings.http.anonymous_page_cache_secs = 1;
        let short = TestApi::new(db, settings).await;
        let before = Browser::new(&short).get(&path).await;
        assert!(text(&before).contains("OnceLock"));
        answer(&short, "Or a `LazyLock`.").await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let after = Browser::new(&short).get(&path).await;
        assert!(text(&after).contains("LazyLock"), "{}", text(&after));
    })
    .await;
}
