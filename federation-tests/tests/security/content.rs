//! Case 21: stored XSS. Hostile HTML and Markdown in every field people write (titles,
//! bodies, display names, community titles, descriptions, rules, bios, report reasons) and
//! in what a hostile remote sends (`content`, `name`, `summary`, actor names) renders inert
//! in the web pages and in the API's `*_html` fields, while the text itself is still shown.

use federation_tests::{Member, PASSWORD, TestInstance, backends};
use reqwest::Method;
use serde_json::{Value, json};

/// What attackers write: script elements, event handlers, script URLs in every spelling,
/// frames, styles, forms, attribute breakouts and parser-confusion (mutation) tricks.
/// Each fits a display name (50 characters).
pub(crate) const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<iframe src=\"https://evil.example/\"></iframe>",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "<style>body{display:none}</style>",
    "[d](data:text/html,<script>alert(1)</script>)",
    "<form action=\"https://evil.example/\"><input>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\" java&#9;script:alert(1)\">x</a>",
    "<object data=\"x.swf\"></object><embed src=x>",
    "<meta http-equiv=\"refresh\" content=\"0;url=x\">",
    "<base href=\"https://evil.example/\">",
    "<details open ontoggle=alert(1)>",
    "<math><style><img src=x onerror=alert(1)>",
    "<p style=\"background:url(x)\">styled</p>",
    "![i](javascript:alert(1))",
    "<button formaction=javascript:alert(1)>b",
];

/// Elements that run code, load other documents or restyle the page.
const DANGEROUS_ELEMENTS: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "style",
    "base", "noscript", "template", "portal",
];

/// Attributes whose value is a URL a browser may follow or load.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "poster",
    "background",
    "srcset",
    "cite",
    "lowsrc",
];

/// The attributes of one start tag, lower-cased names with their raw values; and how many
/// bytes of `rest` (the text after the tag name) the tag used.
fn attributes(rest: &str) -> (Vec<(String, String)>, usize) {
    let bytes = rest.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return (found, i);
        }
        if bytes[i] == b'>' {
            return (found, i + 1);
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"=>/".contains(&bytes[i]) {
            i += 1;
        }
        let name = rest[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let end = rest[i + 1..]
                    .find(char::from(quote))
                    .map_or(bytes.len(), |e| i + 1 + e);
                value = rest[(i + 1).min(end)..end].to_owned();
                i = (end + 1).min(bytes.len());
            } else {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = rest[start..i].to_owned();
            }
        }
        if !name.is_empty() {
            found.push((name, value));
        }
    }
}

/// `value` as a browser reads it: character references decoded, then the whitespace and
/// control characters browsers skip in a URL scheme removed, lower-cased.
fn as_browser_reads(value: &str) -> String {
    let mut decoded = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        decoded.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').unwrap_or(rest.len());
        let entity = rest[1..end].to_ascii_lowercase();
        let ch = if let Some(hex) = entity.strip_prefix("#x") {
            u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
        } else if let Some(dec) = entity.strip_prefix('#') {
            dec.parse().ok().and_then(char::from_u32)
        } else {
            match entity.as_str() {
                "colon" => Some(':'),
                "tab" => Some('\t'),
                "newline" => Some('\n'),
                "amp" => Some('&'),
                _ => None,
            }
        };
        match ch {
            Some(ch) => {
                decoded.push(ch);
                rest = &rest[(end + 1).min(rest.len())..];
            }
            None => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_lowercase()
}

/// Every executable form in `html` (a whole page or a fragment): dangerous elements, event
/// handler and style attributes, script and data URLs, forms and buttons posting elsewhere,
/// refreshes. The page's own script (`/static/…`) is the one script allowed.
fn executable_forms(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let (attrs, used) = attributes(&rest[name_end..]);
        let tag = &rest[..(name_end + used).min(rest.len())];
        let attr = |wanted: &str| {
            attrs
                .iter()
                .find(|(n, _)| n == wanted)
                .map(|(_, v)| v.as_str())
        };
        let own_script = name == "script" && attr("src").is_some_and(|s| s.starts_with("/static/"));
        if DANGEROUS_ELEMENTS.contains(&name.as_str()) && !own_script {
            found.push(format!("<{tag}"));
        }
        if name == "meta" && attr("http-equiv").is_some() {
            found.push(format!("<{tag}"));
        }
        if name == "form" && attr("action").is_some_and(|a| !a.starts_with('/')) {
            found.push(format!("<{tag}"));
        }
        for (attribute, value) in &attrs {
            let url = as_browser_reads(value);
            // `data:,` is empty (the page's own "no favicon" link).
            let bad_url = URL_ATTRIBUTES.contains(&attribute.as_str())
                && url != "data:,"
                && ["javascript:", "vbscript:", "data:"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme));
            if attribute.starts_with("on") || attribute == "style" || bad_url {
                found.push(format!("<{tag}"));
            }
        }
        rest = &rest[(name_end + used).min(rest.len())..];
    }
    found
}

/// Fails when `html` holds anything executable; `what` names the page or field.
pub(crate) fn assert_inert(html: &str, what: &str) {
    let found = executable_forms(html);
    assert!(
        found.is_empty(),
        "{what} carries executable markup: {found:?}"
    );
}

/// Checks every `*_html` string anywhere in an API answer.
pub(crate) fn assert_json_inert(value: &Value, what: &str) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match field {
                    Value::String(html) if key.ends_with("_html") => {
                        assert_inert(html, &format!("{what}: {key}"));
                    }
                    _ => assert_json_inert(field, what),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| assert_json_inert(v, what)),
        _ => {}
    }
}

/// The text of a page as a reader sees it (character references decoded), so that a title
/// can be looked for as it was typed.
fn shown_text(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// A browser on one instance: the session cookie (when signed in) and the CSRF token its
/// forms carry.
pub(crate) struct WebSession {
    base_url: String,
    client: reqwest::Client,
    cookie: String,
    pub(crate) csrf: String,
}

impl WebSession {
    /// Signs `username` in as the web UI does (`POST /api/v1/auth/session`).
    pub(crate) async fn sign_in(instance: &TestInstance, username: &str) -> WebSession {
        let client = reqwest::Client::new();
        let response = client
            .post(instance.url("/api/v1/auth/session"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .expect("the instance answers");
        assert_eq!(response.status().as_u16(), 200, "{username} signs in");
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("lyceum_session="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let body: Value = response.json().await.expect("session JSON");
        WebSession {
            base_url: instance.base_url.clone(),
            client,
            cookie,
            csrf: body["csrf_token"].as_str().expect("csrf_token").to_owned(),
        }
    }

    /// A visitor who is not signed in.
    pub(crate) fn anonymous(instance: &TestInstance) -> WebSession {
        WebSession {
            base_url: instance.base_url.clone(),
            client: reqwest::Client::new(),
            cookie: String::new(),
            csrf: String::new(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .header("accept", "text/html");
        if self.cookie.is_empty() {
            request
        } else {
            request.header("cookie", &self.cookie)
        }
    }

    /// GETs a page: its status and HTML.
    pub(crate) async fn page(&self, path: &str) -> (u16, String) {
        let response = self
            .request(Method::GET, path)
            .send()
            .await
            .expect("the page answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Posts a form with `fields` and this session's CSRF token, as the page's forms do;
    /// redirects are not followed. Returns the status and the body.
    pub(crate) async fn form(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut encoded = url::form_urlencoded::Serializer::new(String::new());
        encoded.append_pair("csrf_token", &self.csrf);
        for (name, value) in fields {
            encoded.append_pair(name, value);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut request = client
            .post(format!("{}{path}", self.base_url))
            .header("accept", "text/html")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encoded.finish());
        if !self.cookie.is_empty() {
            request = request.header("cookie", &self.cookie);
        }
        let response = request.send().await.expect("the form answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}

/// Loads `path` in `session`, expects 200, checks the page is inert and shows every text
/// of `shown` as typed; returns the page.
async fn check_page(session: &WebSession, path: &str, shown: &[&str]) -> String {
    let (status, html) = session.page(path).await;
    assert_eq!(status, 200, "GET {path}: {html}");
    assert_inert(&html, path);
    let text = shown_text(&html);
    for expected in shown {
        assert!(
            text.contains(expected),
            "{path} does not show {expected:?} as text"
        );
    }
    html
}

/// Checks an API answer is inert and returns it.
async fn check_api(member: &Member, path: &str) -> Value {
    let body = member.ok(Method::GET, path, None).await;
    assert_json_inert(&body, path);
    body
}

/// An instance `alpha` whose questions join the unanswered queue at once.
pub(crate) async fn alpha_with_instant_queue(backend: federation_tests::Backend) -> TestInstance {
    TestInstance::start_with("alpha", backend, |s| {
        s.knowledge.unanswered_after_hours = 0;
    })
    .await
    .expect("alpha")
}

/// Hostile text typed by local members, in every field, rendered on every page that shows
/// it and in every API `*_html` field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_21a_hostile_local_text_renders_inert() {
    for backend in backends() {
        let alpha = alpha_with_instant_queue(backend).await;
        let alice = alpha.member("alice").await.expect("alice");
        let bob = alpha.member("bob").await.expect("bob");
        let all = PAYLOADS.join("\n\n");
        let community_title = "\"><script>alert(1)</script> & <b>Rust</b>";
        alice
            .ok(
                Method::POST,
                "/communities",
                Some(
                    json!({"name": "xss", "title": community_title, "kind": "qa",
                            "description": all, "rules": all}),
                ),
            )
            .await;
        let display_name = "<img src=x onerror=alert(1)>";
        alice
            .ok(
                Method::PATCH,
                "/me",
                Some(json!({"display_name": display_name, "bio": all})),
            )
            .await;
        bob.ok(
            Method::PATCH,
            "/me",
            Some(json!({"display_name": "\"><svg onload=alert(1)>"})),
        )
        .await;

        // One question per payload, titled and written with it, answered with it by bob.
        let mut threads = Vec::new();
        for (i, payload) in PAYLOADS.iter().enumerate() {
            let thread = alice
                .ok(
                    Method::POST,
                    "/communities/xss/threads",
                    Some(json!({"title": payload, "body": format!("Question {i}.\n\n{payload}")})),
                )
                .await;
            assert_eq!(thread["title"], *payload, "titles are kept as typed");
            let id = thread["id"].as_i64().expect("id");
            threads.push(id);
            // The last stays unanswered (for the unanswered queue); every other one is
            // answered, and every second answer accepted (for the knowledge base).
            if i + 1 == PAYLOADS.len() {
                continue;
            }
            let answer = bob
                .ok(
                    Method::POST,
                    &format!("/threads/{id}/answers"),
                    Some(json!({"body": format!("Answer {i}.\n\n{payload}")})),
                )
                .await;
            if i % 2 == 0 {
                alice
                    .ok(
                        Method::POST,
                        &format!("/answers/{}/accept", answer["id"]),
                        None,
                    )
                    .await;
            }
        }
        // An edit (for the revisions page) and a report (for the moderation queue).
        let first = threads[0];
        alice
            .ok(
                Method::PATCH,
                &format!("/threads/{first}"),
                Some(json!({"title": PAYLOADS[6], "body": all})),
            )
            .await;
        bob.ok(
            Method::POST,
            "/reports",
            Some(json!({"thread_id": threads[1], "reason": PAYLOADS[7]})),
        )
        .await;

        let web = WebSession::sign_in(&alpha, "alice").await;
        for (i, id) in threads.iter().enumerate() {
            let title = if i == 0 { PAYLOADS[6] } else { PAYLOADS[i] };
            check_page(&web, &format!("/t/{id}"), &[title]).await;
            check_api(&alice, &format!("/threads/{id}")).await;
        }
        check_page(&web, &format!("/t/{first}/edit"), &[PAYLOADS[6]]).await;
        check_page(&web, &format!("/t/{first}/revisions"), &[]).await;
        check_page(&web, "/c/xss", &[community_title, PAYLOADS[1], PAYLOADS[3]]).await;
        check_page(&web, "/u/alice", &[display_name]).await;
        check_page(&web, "/u/bob", &["\"><svg onload=alert(1)>"]).await;
        check_page(&web, "/settings", &[display_name]).await;
        check_page(&web, "/", &[]).await;
        check_page(&web, "/kb", &[PAYLOADS[2]]).await;
        check_page(&web, "/unanswered", &[PAYLOADS[PAYLOADS.len() - 1]]).await;
        check_page(&web, "/mod", &[PAYLOADS[7]]).await;
        check_page(&web, "/search?q=alert", &[]).await;
        // The query itself is shown back: reflected, not only stored.
        let query = "\"><script>alert(1)</script>";
        let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
        check_page(&web, &format!("/search?q={encoded}"), &[query]).await;
        let anonymous = WebSession::anonymous(&alpha);
        check_page(&anonymous, &format!("/t/{}", threads[2]), &[PAYLOADS[2]]).await;
        check_page(&anonymous, "/c/xss", &[community_title]).await;

        for path in [
            "/communities/xss",
            "/communities/xss/threads",
            "/me",
            "/persons/alice",
            "/search?q=alert",
            "/kb",
            "/unanswered",
            "/reports",
        ] {
            check_api(&alice, path).await;
        }
        check_api(&alice, &format!("/threads/{first}/revisions")).await;
        alpha.stop().await.expect("alpha stops");
    }
}

/// The checker itself finds what it is meant to find: each test above can fail.
#[test]
fn case_21_the_checker_finds_executable_markup() {
    for payload in PAYLOADS {
        // Raw HTML payloads are executable as typed (Markdown ones only once rendered).
        let markup = payload.trim_start_matches(['"', '\'', '>']);
        if markup.starts_with('<') {
            assert!(
                !executable_forms(markup).is_empty(),
                "{payload:?} was not recognised"
            );
        }
    }
    for bad in [
        "<a href=\"javascript:alert(1)\">x</a>",
        "<img src=x onerror=alert(1)>",
        "<a href='&#x6A;avascript&colon;alert(1)'>x</a>",
        "<form action=\"https://evil.example/\">",
        "<p style=\"color:red\">",
        "<details open ontoggle=alert(1)>",
        "<script src=\"https://evil.example/x.js\"></script>",
        "<img src=\"data:image/svg+xml,x\">",
    ] {
        assert!(
            !executable_forms(bad).is_empty(),
            "{bad} was not recognised"
        );
    }
    for fine in [
        "<script src=\"/static/app.js\" defer></script>",
        "<a href=\"https://ok.example\" rel=\"nofollow\">javascript: is text</a>",
        "<form method=\"post\" action=\"/t/1/vote\"><input name=\"x\" value=\"&#34; onerror=1\"></form>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ] {
        assert!(executable_forms(fine).is_empty(), "{fine} was flagged");
    }
}

/// A hand-made hostile remote: it serves the actor documents it is given (all sharing one
/// key) and takes whatever is delivered to it.
struct HostileRemote {
    base: String,
    key: lyceum::federation::signing::SigningKey,
}

impl HostileRemote {
    /// Starts the remote; `actors` maps a path (`/u/mallory`) to its JSON without the
    /// fields every actor has (`id`, `inbox`, `publicKey`), which are added here.
    async fn start(actors: Vec<(&str, Value)>) -> HostileRemote {
        let (listener, base) = federation_tests::hostile::loopback_listener().await;
        let keys = activitypub_federation::http_signatures::generate_actor_keypair().expect("keys");
        let mut documents = std::collections::HashMap::new();
        for (path, mut actor) in actors {
            let id = format!("{base}{path}");
            actor["@context"] = json!([
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1"
            ]);
            actor["id"] = json!(id);
            actor["inbox"] = json!(format!("{id}/inbox"));
            actor["publicKey"] = json!({"id": format!("{id}#main-key"), "owner": id,
                                        "publicKeyPem": keys.public_key});
            documents.insert(path.to_owned(), actor.to_string());
        }
        let documents = std::sync::Arc::new(documents);
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let documents = documents.clone();
            async move {
                use axum::response::IntoResponse;
                match documents.get(uri.path()) {
                    Some(body) => (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/activity+json",
                        )],
                        body.clone(),
                    )
                        .into_response(),
                    // Deliveries (an Accept, an Announce) are taken and forgotten.
                    None => axum::http::StatusCode::ACCEPTED.into_response(),
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        HostileRemote {
            base,
            key: lyceum::federation::signing::SigningKey::from_pkcs8_pem(&keys.private_key)
                .expect("key"),
        }
    }

    fn domain(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Delivers `activity` to `inbox`, signed by its `actor`; expects 2xx.
    async fn deliver(&self, inbox: &str, activity: Value) {
        let body = activity.to_string().into_bytes();
        let actor = activity["actor"].as_str().expect("actor");
        let url = url::Url::parse(inbox).expect("inbox url");
        let headers =
            lyceum::federation::signing::signed_post_headers(&self.key, actor, &url, &body)
                .expect("signs");
        let mut request = reqwest::Client::new().post(inbox).body(body);
        for (name, value) in headers {
            if name != "host" {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.expect("the inbox answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert!(
            (200..300).contains(&status),
            "{} refused: {status} {text}",
            activity["id"]
        );
    }
}

/// What a hostile remote sends: hostile `content` (HTML, and Markdown `source`), `name`
/// (titles) and `summary`, and actors whose `name`, `summary` and `preferredUsername` are
/// hostile, rendered inert on the pages and in the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_21b_hostile_remote_content_renders_inert() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        alice.create_community("rust", "Rust", "qa").await;
        let all_html = PAYLOADS.join("<br>");
        let all_markdown = PAYLOADS.join("\n\n");
        let username = "\"><img src=x onerror=alert(1)>";
        let remote = HostileRemote::start(vec![
            (
                "/u/mallory",
                json!({"type": "Person", "preferredUsername": "mallory",
                                  "name": "<script>alert(1)</script>", "summary": all_html}),
            ),
            (
                "/u/x",
                json!({"type": "Person", "preferredUsername": username,
                            "name": "<svg onload=alert(1)>", "summary": "<iframe src=x></iframe>"}),
            ),
            (
                "/c/evil",
                json!({"type": "Group", "preferredUsername": "evil",
                               "name": "\"><script>alert(1)</script>", "summary": all_html,
                               "source": {"content": all_markdown, "mediaType": "text/markdown"}}),
            ),
        ])
        .await;
        let base = remote.base.clone();
        let group = alpha.url("/c/rust");
        let public = "https://www.w3.org/ns/activitystreams#Public";
        let page = |n: u32, name: &str, extra: Value| {
            let mut object = json!({"id": format!("{base}/p/{n}"), "type": "Page",
                "attributedTo": format!("{base}/u/mallory"), "name": name, "audience": group,
                "to": [group, public]});
            for (k, v) in extra.as_object().expect("fields") {
                object[k] = v.clone();
            }
            json!({"id": format!("{base}/activities/{n}"), "type": "Create",
                   "actor": format!("{base}/u/mallory"), "to": [group, public], "object": object})
        };
        let html_title = "\"><script>alert(1)</script>";
        let markdown_title = "<img src=x onerror=alert(1)>";
        let inbox = alpha.url("/inbox");
        remote
            .deliver(
                &inbox,
                page(
                    1,
                    html_title,
                    json!({"content": all_html, "mediaType": "text/html"}),
                ),
            )
            .await;
        remote
            .deliver(
                &inbox,
                page(
                    2,
                    markdown_title,
                    json!({"content": "<p>x</p>",
                "source": {"content": all_markdown, "mediaType": "text/markdown"}}),
                ),
            )
            .await;
        let first = federation_tests::thread_by_ap_id(&alice, "rust", &format!("{base}/p/1")).await;
        let second =
            federation_tests::thread_by_ap_id(&alice, "rust", &format!("{base}/p/2")).await;
        remote
            .deliver(&inbox, json!({"id": format!("{base}/activities/3"), "type": "Create",
                "actor": format!("{base}/u/x"), "to": [public], "cc": [group],
                "object": {"id": format!("{base}/n/3"), "type": "Note", "attributedTo": format!("{base}/u/x"),
                           "inReplyTo": format!("{base}/p/1"), "content": all_html, "to": [public]}}))
            .await;
        federation_tests::eventually(
            &alice,
            &format!("/threads/{}", first["id"]),
            "the hostile reply",
            |t| t["answer_count"] == 1,
        )
        .await;
        let resolved = alice
            .ok(Method::GET, &format!("/resolve?q={base}/c/evil"), None)
            .await;
        assert_eq!(resolved["type"], "community", "{resolved}");

        let web = WebSession::sign_in(&alpha, "alice").await;
        let domain = remote.domain();
        let handle = format!("{username}@{domain}");
        check_page(&web, &format!("/t/{}", first["id"]), &[html_title, &handle]).await;
        check_page(&web, &format!("/t/{}", second["id"]), &[markdown_title]).await;
        check_page(&web, "/c/rust", &[html_title, markdown_title]).await;
        check_page(
            &web,
            &format!("/c/evil@{domain}"),
            &["\"><script>alert(1)</script>"],
        )
        .await;
        check_page(&web, "/search?q=alert", &[]).await;
        check_page(&web, "/", &[]).await;
        for path in [
            format!("/threads/{}", first["id"]),
            format!("/threads/{}", second["id"]),
            format!("/communities/evil@{domain}"),
            format!("/persons/mallory@{domain}"),
            "/communities/rust/threads".to_owned(),
            "/search?q=alert".to_owned(),
        ] {
            check_api(&alice, &path).await;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(handle.as_bytes()).collect();
        let (status, person) = alice.get(&format!("/persons/{encoded}")).await;
        if status == 200 {
            assert_json_inert(&person, "the hostile-named person");
        }
        alpha.stop().await.expect("alpha stops");
    }
}
