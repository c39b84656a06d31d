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
