//! The web pages in a real browser (issue #9): headless Chromium through chromedriver,
//! axe-core's accessibility check, and full-page screenshots at 1280 and 375 px under
//! `<target>/browser-screenshots/`.

use federation_tests::browser::Browser;
use federation_tests::{TestInstance, backends};
use reqwest::Method;
use serde_json::json;

/// The object pages that exist today (`/c/{name}`, `/t/{id}`) render for a browser, name
/// what they show in the title and the `h1`, and pass axe-core with no serious or critical
/// violation at both widths. It asserts only what the template rewrite keeps: titles and
/// headings. Runs on both backends because the pages read through the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn community_and_thread_pages_render_accessibly() {
    let Some(mut browser) = Browser::start("community_and_thread_pages").await else {
        return;
    };
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let ada = alpha.member("ada").await.expect("ada");
        let grace = alpha.member("grace").await.expect("grace");
        ada.create_community("rust", "Rust in production", "qa")
            .await;
        let asked = ada
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({
                    "title": "How do I share a connection pool between axum handlers?",
                    "body": "I build the pool in `main`.\n\n- axum 0.8\n- diesel-async",
                    "tags": ["axum", "diesel"],
                })),
            )
            .await;
        let thread = asked["id"].as_i64().expect("the thread's id");
        grace
            .ok(
                Method::POST,
                &format!("/threads/{thread}/answers"),
                Some(json!({"body": "Put it in the router's **state** and clone it."})),
            )
            .await;

        let which = backend.name();
        browser.goto(&alpha.url("/c/rust")).await;
        let title = browser.title().await;
        assert!(
            title.contains("Rust in production"),
            "the community page's title names the community ({which}): {title:?}"
        );
        let heading = browser.text("h1").await;
        assert!(
            heading.contains("Rust in production"),
            "the community page's h1 names the community ({which}): {heading:?}"
        );
        browser
            .audit(&format!("community-{which}"), "the community page")
            .await;

        browser.goto(&alpha.url(&format!("/t/{thread}"))).await;
        let question = "How do I share a connection pool between axum handlers?";
        let title = browser.title().await;
        assert!(
            title.contains(question),
            "the thread page's title is the question ({which}): {title:?}"
        );
        let heading = browser.text("h1").await;
        assert!(
            heading.contains(question),
            "the thread page's h1 is the question ({which}): {heading:?}"
        );
        browser
            .audit(&format!("thread-{which}"), "the thread page")
            .await;

        alpha.stop().await.expect("alpha stops");
    }
    browser.close().await;
}

/// Issue #9's scenario, through the forms as a person would use them: two people sign up,
/// one creates a Q&A community and asks with tags (the ask form suggests the earlier
/// question as a similar one), the other answers, the first accepts, and the solved question
/// is found through search, the knowledge base, its tag page and the answerer's profile.
/// Every page on the way is pictured at 1280 and 375 px (names carry the backend) and
/// passes axe-core with no serious or critical violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_sign_up_ask_answer_accept_and_find_it_again() {
    let Some(mut browser) = Browser::start("scenario").await else {
        return;
    };
    for backend in backends() {
        let which = backend.name();
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        // An admin made by the operator's CLI path, to picture the admin page at the end.
        alpha.admin("root").await.expect("root");

        // Ada signs up: the form signs her in and sends her home.
        browser.goto(&alpha.url("/signup")).await;
        browser
            .audit(&format!("signup-{which}"), "the sign-up page")
            .await;
        browser.fill("Username", "ada").await;
        browser.fill("Password", "ada's long passphrase").await;
        browser.click_button("Sign up").await;
        browser
            .wait_for_text("header", "ada", "Ada's name in the header")
            .await;

        // She creates the Q&A community.
        browser.goto(&alpha.url("/communities/new")).await;
        browser
            .audit(&format!("community-new-{which}"), "the new community form")
            .await;
        browser.fill("Name", "rust").await;
        browser.fill("Title", "Rust in production").await;
        browser
            .fill("description", "Running Rust services at work.")
            .await;
        browser.click_button("Create community").await;
        browser
            .wait_for_text("h1", "Rust in production", "the new community's page")
            .await;
        assert_eq!(browser.current_url().await.path(), "/c/rust", "({which})");

        // She asks a first question with tags.
        browser.click_link("Ask a question").await;
        let question = "How do I share a connection pool between axum handlers?";
        browser.fill("Title", question).await;
        browser
            .fill(
                "Details",
                "I build a diesel-async pool in `main`. How do handlers reach it?",
            )
            .await;
        browser.fill("tags", "axum, diesel").await;
        browser.click_button("Post your question").await;
        browser
            .wait_for_text("h1", question, "the new thread's page")
            .await;
        let thread_path = browser.current_url().await.path().to_owned();
        assert!(
            thread_path.starts_with("/t/"),
            "asking leads to the thread ({which}): {thread_path}"
        );
        let tags = browser.text(".tag-cloud").await;
        assert!(
            tags.contains("axum") && tags.contains("diesel"),
            "the thread shows its tags ({which}): {tags:?}"
        );

        // Asking again about the same thing, the form points at the earlier question while
        // the title is typed.
        browser.goto(&alpha.url("/c/rust")).await;
        browser.click_link("Ask a question").await;
        browser
            .fill("Title", "Sharing a connection pool in axum")
            .await;
        browser
            .wait_for_text(
                "#similar",
                question,
                "the similar questions under the title",
            )
            .await;
        browser
            .audit(&format!("ask-{which}"), "the ask form with suggestions")
            .await;
        browser.click_button("Sign out").await;
        // The click returns before the old page is gone: wait for the signed-out header,
        // or the next page may be asked for with the old session.
        browser
            .wait_for_text("header", "Sign in", "the signed-out header")
            .await;

        // Grace signs up and answers.
        browser.goto(&alpha.url("/signup")).await;
        browser.fill("Username", "grace").await;
        browser.fill("Password", "grace's long passphrase").await;
        browser.click_button("Sign up").await;
        browser
            .wait_for_text("header", "grace", "Grace's name in the header")
            .await;
        browser.goto(&alpha.url(&thread_path)).await;
        let answer = "Put the pool in the router's state; every handler extracts it with State.";
        browser.fill("answer-body", answer).await;
        browser.click_button("Post your answer").await;
        browser
            .wait_for_text(".answers-section", "router's state", "Grace's answer")
            .await;
        assert!(
            browser.text("#answers-heading").await.contains("1 answer"),
            "the heading counts the answer ({which})"
        );
        browser.click_button("Sign out").await;
        // The click returns before the old page is gone: wait for the signed-out header,
        // or the next page may be asked for with the old session.
        browser
            .wait_for_text("header", "Sign in", "the signed-out header")
            .await;

        // Ada signs in and accepts it.
        browser.goto(&alpha.url("/login")).await;
        browser
            .audit(&format!("login-{which}"), "the sign-in page")
            .await;
        browser.fill("Username", "ada").await;
        browser.fill("Password", "ada's long passphrase").await;
        browser.click_button("Sign in").await;
        browser
            .wait_for_text("header", "ada", "Ada signed in again")
            .await;
        browser.goto(&alpha.url(&thread_path)).await;
        browser.click_button("✓ Accept this answer").await;
        browser
            .wait_for_text(".answers-section", "Accepted answer", "the accepted badge")
            .await;
        browser
            .wait_for_text(".badges", "Solved", "the thread's solved badge")
            .await;
        browser
            .audit(&format!("thread-{which}"), "the solved thread")
            .await;

        // The community lists it as solved; the home page shows it among recent solutions.
        browser.goto(&alpha.url("/c/rust")).await;
        browser
            .wait_for_text("main", question, "the community's thread list")
            .await;
        browser
            .audit(&format!("community-{which}"), "the community page")
            .await;
        browser.goto(&alpha.url("/")).await;
        browser
            .wait_for_text("main", question, "the home page's solved questions")
            .await;
        browser
            .audit(&format!("home-{which}"), "the home page")
            .await;

        // Found through the header's search box.
        browser.fill("site-search", "connection pool").await;
        browser.click_button("Search").await;
        browser
            .wait_for_text("main", question, "the search results")
            .await;
        assert!(
            browser.current_url().await.path() == "/search",
            "the header's search box leads to /search ({which})"
        );
        browser
            .audit(&format!("search-{which}"), "the search results")
            .await;

        // And through the knowledge base, its tag and the answerer's profile.
        browser.goto(&alpha.url("/kb")).await;
        browser
            .wait_for_text("main", question, "the knowledge base")
            .await;
        browser
            .audit(&format!("kb-{which}"), "the knowledge base")
            .await;
        browser.goto(&alpha.url("/tags")).await;
        browser.wait_for_text("main", "axum", "the tag list").await;
        browser
            .audit(&format!("tags-{which}"), "the tag list")
            .await;
        browser.click_link("axum").await;
        browser
            .wait_for_text("main", question, "the tag's solved questions")
            .await;
        browser
            .wait_for_text("main", "grace", "the tag's experts")
            .await;
        browser.audit(&format!("tag-{which}"), "the tag page").await;
        browser.click_link("grace").await;
        browser
            .wait_for_text("h1", "grace", "Grace's profile")
            .await;
        browser
            .wait_for_text("main", "axum", "Grace's expertise")
            .await;
        browser
            .audit(&format!("profile-{which}"), "a profile")
            .await;
        browser.goto(&alpha.url("/unanswered")).await;
        browser
            .audit(&format!("unanswered-{which}"), "the unanswered questions")
            .await;

        // Ada's own pages.
        browser.goto(&alpha.url("/settings")).await;
        browser
            .wait_for_text("h1", "Settings", "the settings page")
            .await;
        browser
            .audit(&format!("settings-{which}"), "the settings page")
            .await;
        browser.goto(&alpha.url("/communities/follow")).await;
        browser
            .audit(&format!("follow-{which}"), "the follow form")
            .await;
        browser.goto(&alpha.url("/t/999999")).await;
        browser
            .wait_for_text("h1", "not found", "the 404 page")
            .await;
        browser
            .audit(&format!("not-found-{which}"), "the 404 page")
            .await;
        browser.click_button("Sign out").await;
        // The click returns before the old page is gone: wait for the signed-out header,
        // or the next page may be asked for with the old session.
        browser
            .wait_for_text("header", "Sign in", "the signed-out header")
            .await;

        // The admin's page.
        browser.goto(&alpha.url("/login")).await;
        browser.fill("Username", "root").await;
        browser.fill("Password", federation_tests::PASSWORD).await;
        browser.click_button("Sign in").await;
        // As after signing out: the next page must not be asked for before the session.
        browser
            .wait_for_text("header", "Sign out", "the signed-in header")
            .await;
        browser.goto(&alpha.url("/admin")).await;
        browser.wait_for_text("h1", "Admin", "the admin page").await;
        browser
            .audit(&format!("admin-{which}"), "the admin page")
            .await;

        // Staff moderate every community: root locks the solved thread from its page; the
        // moderation page and the public mod log show it.
        browser.goto(&alpha.url(&thread_path)).await;
        browser.click_button("Lock").await;
        browser
            .wait_for_text(".badges", "Locked", "the locked badge")
            .await;
        browser.goto(&alpha.url("/mod")).await;
        browser
            .wait_for_text("h1", "Moderation", "the moderation page")
            .await;
        browser
            .audit(&format!("mod-{which}"), "the moderation page")
            .await;
        browser.goto(&alpha.url("/modlog")).await;
        browser
            .wait_for_text("main", "locked a thread", "the mod log")
            .await;
        browser
            .audit(&format!("modlog-{which}"), "the mod log")
            .await;
        browser.click_button("Sign out").await;

        alpha.stop().await.expect("alpha stops");
    }
    browser.close().await;
}

/// The harness itself, on a page made for it: filling by label and id, clicking by text and
/// waiting for text work; axe-core reports critical violations where they are; the dark
/// colour scheme can be asked for; a screenshot covers the whole page, not only the viewport.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_harness_finds_fills_and_reports() {
    let Some(mut browser) = Browser::start("harness").await else {
        return;
    };
    // No server needed: the page is its own URL. A picture without alt text and a field
    // without a label are critical for axe-core; the tall block makes the page longer than
    // any viewport.
    let page = r#"<!doctype html><html lang="en"><head><title>Harness</title>
        <style>@media (prefers-color-scheme: dark) { body { background: rgb(0, 0, 0) } }</style>
        </head><body>
        <main><h1>Harness</h1>
        <form onsubmit="event.preventDefault();
            document.getElementById('said').textContent =
                document.getElementById('name').value + ' / ' + this.elements.topic.value;">
          <label for="name">Your name</label> <input id="name">
          <label>Topic <textarea name="topic"></textarea></label>
          <input>
          <button type="submit">Send it</button>
        </form>
        <output id="said"></output>
        <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
        <div style="height: 3000px"></div>
        <p id="end">end</p></main></body></html>"#;
    browser
        .goto(&format!("data:text/html;charset=utf-8,{}", encode(page)))
        .await;
    browser.fill("Your name", "Ada").await;
    browser.fill("topic", "pools").await;
    browser.click_button("Send it").await;
    browser
        .wait_for_text("#said", "Ada / pools", "the form's echo")
        .await;
    browser.fill("name", "Grace").await;
    browser.click_button("send it").await;
    browser
        .wait_for_text("#said", "Grace / pools", "the form's second echo")
        .await;

    if let Some(violations) = browser.axe_violations("the harness page").await {
        for rule in ["image-alt", "label"] {
            let found = violations.iter().find(|v| v.id == rule);
            let found = found.unwrap_or_else(|| panic!("axe-core reports {rule}: {violations:?}"));
            assert!(found.blocks(), "{rule} is serious or critical: {found:?}");
            assert!(!found.targets.is_empty(), "{rule} names its elements");
        }
    }

    let background = "return getComputedStyle(document.body).backgroundColor;";
    browser.prefer_color_scheme("dark").await;
    let dark = browser.client().execute(background, vec![]).await;
    assert_eq!(
        dark.expect("a colour"),
        "rgb(0, 0, 0)",
        "the dark theme applies"
    );
    browser.prefer_color_scheme("light").await;
    let light = browser.client().execute(background, vec![]).await;
    assert_ne!(
        light.expect("a colour"),
        "rgb(0, 0, 0)",
        "the light theme is back"
    );

    browser.set_width(375).await;
    let shot = browser.screenshot("tall").await;
    let png = std::fs::read(&shot).expect("the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().expect("width"));
    let height = u32::from_be_bytes(png[20..24].try_into().expect("height"));
    assert_eq!(width, 375, "the screenshot is as wide as the viewport");
    assert!(
        height > 3000,
        "the screenshot covers the whole page: {height} px"
    );
    browser.close().await;
}

/// Percent-encodes what a `data:` URL cannot carry as it is.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
