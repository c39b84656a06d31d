//! Cases 11–15, 17 and 19: what Lyceum refuses to fetch or keeps waiting for, and how failing receivers are retried.
//!
//! Each case is driven through `GET /api/v1/resolve` (a member asking the instance to fetch
//! a URL or handle) or through deliveries, against a fake remote served on loopback here.
//! Parts no instance can show over HTTP are tested in the crate, named after the case:
//! - case 13: `src/federation/config.rs`
//!   `case_13_the_client_connects_to_no_private_answer_and_follows_no_redirect` (a DNS
//!   answer that rebinds to loopback at connect time; redirects never followed by the
//!   client itself);
//! - case 14: `src/federation/url_guard.rs` `case_14_explicit_ports_are_refused_outside_debug`
//!   (deliveries to inboxes with explicit ports, which no fetch check covers).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use activitypub_federation::http_signatures::generate_actor_keypair;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use federation_tests::{Member, TestInstance, backends};
use lyceum::federation::signing::{SigningKey, signed_post_headers};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// One request the fake remote received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    body: Value,
}

type Respond = dyn Fn(&str, &Seen, &[Seen]) -> Response + Send + Sync;

#[derive(Clone)]
struct Served {
    base: String,
    respond: Arc<Respond>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A remote on `localhost:<port>` that answers each request with what `respond` makes of
/// it (given its own base URL, the request and every earlier request), and keeps them all.
struct Fake {
    base: String,
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn answer(
    State(s): State<Served>,
    method: axum::http::Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method: Method::from_bytes(method.as_str().as_bytes()).expect("method"),
        path: uri.path().to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let earlier = s.seen.lock().expect("lock").clone();
    s.seen.lock().expect("lock").push(seen.clone());
    (s.respond)(&s.base, &seen, &earlier)
}

impl Fake {
    async fn start(
        respond: impl Fn(&str, &Seen, &[Seen]) -> Response + Send + Sync + 'static,
    ) -> Fake {
        let (listener, base) = federation_tests::hostile::loopback_listener().await;
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let served = Served {
            base: base.clone(),
            respond: Arc::new(respond),
            seen: seen.clone(),
        };
        let app = axum::Router::new().fallback(answer).with_state(served);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake { base, port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authority(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// Requests for `path`.
    fn hits(&self, path: &str) -> usize {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.path == path)
            .count()
    }

    fn total(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }
}

/// The fake's one key pair (made once: RSA key generation is slow in test builds).
fn keypair() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let keys = generate_actor_keypair().expect("keys");
        (keys.public_key, keys.private_key)
    })
}

fn person(id: &str, base: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "type": "Person",
        "id": id,
        "preferredUsername": id.rsplit('/').next().unwrap_or("someone"),
        "inbox": format!("{id}/inbox"),
        "endpoints": {"sharedInbox": format!("{base}/inbox")},
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": keypair().0},
    })
}

fn served_as(content_type: &str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type.to_owned())], body).into_response()
}

fn activity_json(doc: &Value) -> Response {
    served_as("application/activity+json", doc.to_string())
}

/// `GET /api/v1/resolve?q=<q>`: the status and the error code (or the body's type).
async fn resolve(member: &Member, q: &str) -> (u16, Value) {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    member.get(&format!("/resolve?q={q}")).await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Case 11: an actor served as plain JSON, HTML or an image is refused (the Mastodon
/// GHSA-jhrq-qvrm-qr36 class of attack: a user upload served from the same host posing as
/// an actor), and nothing is stored; the same document as ActivityPub JSON is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_11_an_actor_not_served_as_activitypub_json_is_refused() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let fake = Fake::start(|base, seen, _| {
            let doc = person(&format!("{base}{}", seen.path), base).to_string();
            match seen.path.as_str() {
                "/u/json" => served_as("application/json", doc),
                "/u/html" => served_as("text/html; charset=utf-8", doc),
                "/u/image" => served_as("image/png", doc),
                "/u/untyped" => doc.into_response(),
                _ => served_as("application/activity+json", doc),
            }
        })
        .await;
        for path in ["/u/json", "/u/html", "/u/image", "/u/untyped"] {
            for attempt in 1..=2 {
                let (status, body) = resolve(&alice, &fake.url(path)).await;
                assert_eq!(
                    (status, code(&body)),
                    (502, "remote_not_activitypub"),
                    "{path}: {body}"
                );
                // Not stored: asking again fetches again.
                assert_eq!(fake.hits(path), attempt, "{path}");
            }
        }
        let (status, body) = resolve(&alice, &fake.url("/u/good")).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (200, Some("person")),
            "{body}"
        );
        let fetched = fake.hits("/u/good");
        let (status, _) = resolve(&alice, &fake.url("/u/good")).await;
        assert_eq!(status, 200);
        assert_eq!(fake.hits("/u/good"), fetched, "stored, not fetched again");
        alpha.stop().await.expect("alpha stops");
    }
}

/// Case 12: a document whose `id` is on another host than the URL it was finally fetched
/// from (directly, or after a redirect) is refused, and the claimed id is not fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_12_a_document_whose_id_is_on_another_host_is_refused() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let fake = Fake::start(|base, seen, _| {
            // The same server is also `127.0.0.1:<port>`: another host by name.
            let other = base.replace("localhost", "127.0.0.1");
            match seen.path.as_str() {
                "/u/elsewhere" => activity_json(&person(&format!("{other}/u/claimed"), base)),
                "/r/moved" => (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("{other}/u/moved"))],
                )
                    .into_response(),
                // Fetched from 127.0.0.1 after the redirect, claiming to be on localhost.
                "/u/moved" => activity_json(&person(&format!("{base}/u/moved"), base)),
                path => activity_json(&person(&format!("{base}{path}"), base)),
            }
        })
        .await;
        // A redirect to another host cannot show a mismatch after it here: the only other
        // loopback host is an address literal, which the library refuses as a redirect
        // target before fetching it (403), so the document there is never trusted either.
        for (path, attempt, refusal) in [
            ("/u/elsewhere", 1, (502, "remote_id_mismatch")),
            ("/u/elsewhere", 2, (502, "remote_id_mismatch")),
            ("/r/moved", 1, (403, "url_refused")),
            ("/r/moved", 2, (403, "url_refused")),
        ] {
            let (status, body) = resolve(&alice, &fake.url(path)).await;
            assert_eq!((status, code(&body)), refusal, "{path}: {body}");
            assert_eq!(
                fake.hits(path),
                attempt,
                "{path}: not stored, fetched again"
            );
        }
        assert_eq!(fake.hits("/u/claimed"), 0, "the claimed id is not trusted");
        assert_eq!(
            fake.hits("/u/moved"),
            0,
            "the redirect target is not fetched"
        );
        let (status, body) = resolve(&alice, &fake.url("/u/same")).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (200, Some("person")),
            "{body}"
        );
        alpha.stop().await.expect("alpha stops");
    }
}

/// Case 13: outside `federation.debug`, private, loopback, link-local, CGNAT and mapped
/// addresses, and names whose DNS answer is one, are refused before any connection; a
/// redirect's target goes through the same checks as the first URL (shown in debug mode,
/// where the fake is reachable, with the target's domain blocked). The client's own
/// guards (DNS answers at connect time, redirects) are tested in `src/federation/config.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_13_private_addresses_and_redirects_to_them_are_refused() {
    for backend in backends() {
        let production = TestInstance::start_with("prod", backend, |s| {
            s.federation.debug = false;
        })
        .await
        .expect("production instance");
        let bob = production.member("bob").await.expect("bob");
        for q in [
            "https://127.0.0.1/u/a",
            "https://127.1.2.3/u/a",
            "https://10.0.0.1/u/a",
            "https://172.16.0.1/u/a",
            "https://172.31.255.254/u/a",
            "https://192.168.1.1/u/a",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/u/a",
            "https://[::1]/u/a",
            "https://[fc00::1]/u/a",
            "https://[fd12:3456::1]/u/a",
            "https://[::ffff:127.0.0.1]/u/a",
            "https://[::ffff:a9fe:a9fe]/u/a",
            "https://2130706433/u/a",
            // Names whose DNS answer is loopback.
            "https://localhost/u/a",
            "https://localhost./u/a",
            "https://vm/u/a",
            "!rust@10.0.0.1",
            "@someone@localhost",
        ] {
            let started = Instant::now();
            let (status, body) = resolve(&bob, q).await;
            assert_eq!((status, code(&body)), (403, "url_refused"), "{q}: {body}");
            // Refused before connecting: a connection attempt to an unrouted address
            // would wait for the 5 s connect timeout.
            assert!(started.elapsed() < Duration::from_secs(3), "{q}");
        }
        production.stop().await.expect("production stops");

        // A redirect's target passes the same URL checks as the first URL: a target on a
        // blocked domain is refused and never requested, where an open one is followed.
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let root = alpha.admin("root").await.expect("admin");
        let target = Fake::start(|base, seen, _| {
            activity_json(&person(&format!("{base}{}", seen.path), base))
        })
        .await;
        let target_base = target.base.clone();
        let first = Fake::start(move |_, seen, _| {
            let to = format!("{target_base}/u{}", seen.path.trim_start_matches("/r"));
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        })
        .await;
        let (status, body) = resolve(&alice, &first.url("/r/open")).await;
        assert_eq!(
            (status, body["type"].as_str()),
            (200, Some("person")),
            "{body}"
        );
        assert!(target.hits("/u/open") >= 1);
        root.ok(
            Method::PUT,
            &format!("/admin/federation/blocks/{}", target.authority()),
            Some(json!({"reason": "case 13"})),
        )
        .await;
        let (status, body) = resolve(&alice, &first.url("/r/internal")).await;
        assert_eq!((status, code(&body)), (403, "url_refused"), "{body}");
        assert_eq!(first.hits("/r/internal"), 1);
        assert_eq!(
            target.hits("/u/internal"),
            0,
            "the refused target is not requested"
        );
        alpha.stop().await.expect("alpha stops");
    }
}

/// Case 14: outside `federation.debug`, only https on its default port is fetched; and a
/// domain written with a trailing dot or in upper case is the same domain to the block
/// list, for fetches by URL and by handle and for activities arriving in the inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_14_schemes_ports_and_domain_spellings_are_checked() {
    for backend in backends() {
        let production = TestInstance::start_with("prod", backend, |s| {
            s.federation.debug = false;
        })
        .await
        .expect("production instance");
        let bob = production.member("bob").await.expect("bob");
        // The message names the reason: without network every name would also fail its
        // DNS check, with the same code.
        for (q, reason) in [
            ("http://social.example/u/a", "http"),
            ("https://social.example:8443/u/a", "port"),
            ("https://social.example:80/u/a", "port"),
            // WebFinger's own check refuses the handle's host:port as a domain.
            ("!rust@social.example:8443", "domain"),
        ] {
            let (status, body) = resolve(&bob, q).await;
            assert_eq!((status, code(&body)), (403, "url_refused"), "{q}: {body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.to_lowercase().contains(reason), "{q}: {body}");
        }
        for q in ["ftp://social.example/u/a", "file:///etc/passwd"] {
            let (status, body) = resolve(&bob, q).await;
            assert_eq!((status, code(&body)), (400, "invalid_query"), "{q}: {body}");
        }
        production.stop().await.expect("production stops");

        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let root = alpha.admin("root").await.expect("admin");
        let fake = Fake::start(|base, seen, _| {
            activity_json(&person(&format!("{base}{}", seen.path), base))
        })
        .await;
        let port = fake.port;
        // The admin types the domain oddly; it is stored normalized.
        root.ok(
            Method::PUT,
            &format!("/admin/federation/blocks/LocalHost.:{port}"),
            Some(json!({"reason": "case 14"})),
        )
        .await;
        let blocks = root.ok(Method::GET, "/admin/federation/blocks", None).await;
        assert!(
            blocks
                .to_string()
                .contains(&format!("\"localhost:{port}\"")),
            "{blocks}"
        );
        for q in [
            format!("http://LOCALHOST.:{port}/u/a"),
            format!("http://localhost.:{port}/u/a"),
            format!("http://LocalHost:{port}/u/a"),
            format!("@a@LOCALHOST.:{port}"),
            format!("!a@localhost.:{port}"),
        ] {
            let (status, body) = resolve(&alice, &q).await;
            assert_eq!((status, code(&body)), (403, "url_refused"), "{q}: {body}");
        }
        // An activity from an actor on the blocked domain, spelled with a trailing dot.
        let actor = format!("http://LOCALHOST.:{port}/u/m");
        let follow = json!({
            "id": format!("http://localhost.:{port}/activities/f"), "type": "Follow",
            "actor": actor, "object": alpha.url("/u/alice"),
        })
        .to_string()
        .into_bytes();
        let (status, body) = post_signed(&alpha.url("/inbox"), &actor, &follow).await;
        assert_eq!((status, code(&body)), (403, "domain_blocked"), "{body}");
        assert_eq!(fake.total(), 0, "nothing fetched from the blocked domain");
        alpha.stop().await.expect("alpha stops");
    }
}

/// POSTs `body` to `inbox`, signed with the fake's key as `actor`.
async fn post_signed(inbox: &str, actor: &str, body: &[u8]) -> (u16, Value) {
    let key = SigningKey::from_pkcs8_pem(&keypair().1).expect("key");
    let url = url::Url::parse(inbox).expect("inbox url");
    let headers = signed_post_headers(&key, actor, &url, body).expect("signs");
    let mut request = reqwest::Client::new().post(inbox).body(body.to_vec());
    for (name, value) in headers {
        if name != "host" {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.expect("inbox answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// How many replies the fake's chain has: more than the fetch limit (100 per request).
const CHAIN: usize = 150;

/// Case 15: a reply whose parent is a reply whose parent is a reply... (each unknown, so
/// each fetched) stops at the fetch limit: the request fails, at most 100 fetches are
/// made (the library's limit; unknown ancestors stop after 32, `MAX_ANCESTOR_FETCHES` in
/// `receive.rs`, because the nested stores overflowed the stack before 100), the end of the
/// chain is never reached and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_15_a_recursive_fetch_chain_stops_at_the_fetch_limit() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let fake = Fake::start(|base, seen, _| {
            let path = seen.path.as_str();
            if path == "/u/m" {
                return activity_json(&person(&format!("{base}/u/m"), base));
            }
            if path == "/c/deep" {
                return activity_json(&json!({
                    "type": "Group", "id": format!("{base}/c/deep"), "preferredUsername": "deep",
                    "inbox": format!("{base}/c/deep/inbox"), "followers": format!("{base}/c/deep/followers"),
                    "publicKey": {"id": format!("{base}/c/deep#main-key"), "owner": format!("{base}/c/deep"),
                                  "publicKeyPem": keypair().0},
                }));
            }
            let Some(n) = path
                .strip_prefix("/n/")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let mut doc = json!({
                "id": format!("{base}/n/{n}"), "attributedTo": format!("{base}/u/m"),
                "to": [PUBLIC], "cc": [format!("{base}/c/deep")],
                "audience": format!("{base}/c/deep"),
            });
            if n < CHAIN {
                doc["type"] = json!("Note");
                doc["content"] = json!(format!("<p>reply {n}</p>"));
                doc["inReplyTo"] = json!(format!("{base}/n/{}", n + 1));
            } else {
                doc["type"] = json!("Page");
                doc["name"] = json!("The root of the chain");
                doc["content"] = json!("<p>root</p>");
            }
            activity_json(&doc)
        })
        .await;
        for attempt in 1..=2 {
            let (status, body) = resolve(&alice, &fake.url("/n/0")).await;
            assert_eq!(
                (status, code(&body)),
                (422, "fetch_limit_reached"),
                "{body}"
            );
            // Nothing stored: the same query fetches again.
            assert_eq!(fake.hits("/n/0"), attempt);
        }
        let replies = fake.hits("/n/0")
            + (1..=CHAIN)
                .map(|n| fake.hits(&format!("/n/{n}")))
                .sum::<usize>();
        assert!(
            fake.total() <= 2 * 100,
            "at most the fetch limit per request: {} requests",
            fake.total()
        );
        assert!(
            replies >= 2 * 30,
            "the chain was followed up to the ancestor limit: {replies}"
        );
        assert_eq!(
            fake.hits(&format!("/n/{CHAIN}")),
            0,
            "the root is never reached"
        );
        assert_eq!(fake.hits("/c/deep"), 0);
        alpha.stop().await.expect("alpha stops");
    }
}

/// What the raw server does after the response headers.
#[derive(Clone, Copy)]
enum Body {
    /// Writes 64 KiB chunks as fast as the reader takes them, forever.
    Endless,
    /// Writes one byte every 200 ms, forever.
    Drip,
}

/// A hand-written HTTP/1.1 server on loopback (axum would buffer and pace nothing): answers
/// every request with ActivityPub JSON headers and `body`. Counts the bytes written and
/// notes when the reader hung up.
struct RawServer {
    base: String,
    written: Arc<AtomicUsize>,
    hung_up: Arc<AtomicBool>,
}

impl RawServer {
    async fn start(body: Body) -> RawServer {
        let (listener, base) = federation_tests::hostile::loopback_listener().await;
        let written = Arc::new(AtomicUsize::new(0));
        let hung_up = Arc::new(AtomicBool::new(false));
        let (w, h) = (written.clone(), hung_up.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (w, h) = (w.clone(), h.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|win| win == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/activity+json\r\n\
                                transfer-encoding: chunked\r\n\r\n";
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let (chunk, pause) = match body {
                        Body::Endless => (vec![b' '; 64 * 1024], Duration::ZERO),
                        Body::Drip => (vec![b' '], Duration::from_millis(200)),
                    };
                    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                    framed.extend_from_slice(&chunk);
                    framed.extend_from_slice(b"\r\n");
                    loop {
                        if socket.write_all(&framed).await.is_err() {
                            h.store(true, Ordering::SeqCst);
                            return;
                        }
                        w.fetch_add(chunk.len(), Ordering::SeqCst);
                        if !pause.is_zero() {
                            tokio::time::sleep(pause).await;
                        }
                    }
                });
            }
        });
        RawServer {
            base,
            written,
            hung_up,
        }
    }
}

/// Case 17: a remote answer over the size limit (1 MiB) is cut off as soon as it passes
/// it, and one dripping slowly is cut off by the 10 s request timeout; the connection is
/// dropped either way, and a big document is not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_17_oversized_and_dripping_answers_are_cut_off() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");

        // A whole actor, valid but 2 MiB: refused, not stored.
        let fake = Fake::start(|base, seen, _| {
            let mut doc = person(&format!("{base}{}", seen.path), base);
            doc["summary"] = json!("x".repeat(2 * 1024 * 1024));
            activity_json(&doc)
        })
        .await;
        for attempt in 1..=2 {
            let (status, body) = resolve(&alice, &fake.url("/u/big")).await;
            assert_eq!(
                (status, code(&body)),
                (502, "remote_response_too_large"),
                "{body}"
            );
            assert_eq!(fake.hits("/u/big"), attempt, "not stored");
        }

        // An endless answer: cut off at the limit, long before the timeout.
        let endless = RawServer::start(Body::Endless).await;
        let started = Instant::now();
        let (status, body) = resolve(&alice, &format!("{}/u/endless", endless.base)).await;
        assert_eq!(
            (status, code(&body)),
            (502, "remote_response_too_large"),
            "{body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let hung_up = federation_tests::wait_until(Duration::from_secs(5), || async {
            endless.hung_up.load(Ordering::SeqCst)
        })
        .await;
        assert!(hung_up, "the connection is dropped");
        // The limit plus what socket buffers hold.
        let written = endless.written.load(Ordering::SeqCst);
        assert!(written < 32 * 1024 * 1024, "{written} bytes were taken");

        // A drip: one byte every 200 ms, cut off by the request timeout.
        let drip = RawServer::start(Body::Drip).await;
        let started = Instant::now();
        let (status, body) = resolve(&alice, &format!("{}/u/drip", drip.base)).await;
        let took = started.elapsed();
        assert_eq!((status, code(&body)), (502, "remote_unreachable"), "{body}");
        assert!(
            took >= Duration::from_secs(9) && took < Duration::from_secs(15),
            "cut off by the 10 s timeout: {took:?}"
        );
        let hung_up = federation_tests::wait_until(Duration::from_secs(5), || async {
            drip.hung_up.load(Ordering::SeqCst)
        })
        .await;
        assert!(hung_up, "the connection is dropped");
        alpha.stop().await.expect("alpha stops");
    }
}

/// The status the case-19 receiver gives an activity, from the marker in its thread's
/// title (`answers 500`, `refuses 404`, `busy 503`...) and how often it came before.
fn receiver_status(title: &str, arrivals_before: usize) -> StatusCode {
    let number = title
        .split_whitespace()
        .find_map(|w| w.parse::<u16>().ok())
        .unwrap_or(202);
    let status = StatusCode::from_u16(number).expect("status");
    if title.contains("busy") && arrivals_before > 0 {
        StatusCode::ACCEPTED
    } else {
        status
    }
}

/// The title of the thread a delivered Announce is about.
fn title_of(activity: &Value) -> String {
    let object = &activity["object"];
    let page = if object["type"] == "Create" {
        &object["object"]
    } else {
        object
    };
    page["name"].as_str().unwrap_or_default().to_owned()
}

/// Case 19: a receiver that answers 500 forever for one activity does not delay later ones
/// to it; a 4xx (400, 404, 410) is final and not sent again; 408, 429 and 503 are retried
/// (the receiver takes the second attempt). Retries come after the first backoff step
/// (10 s ± 20 %), so this case takes about 15 s per backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_19_failing_receivers_are_retried_only_when_it_can_help() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let root = alpha.admin("root").await.expect("admin");
        alice.create_community("rust", "Rust", "qa").await;
        let fake = Fake::start(|base, seen, earlier| {
            if seen.method == Method::GET {
                return activity_json(&person(&format!("{base}{}", seen.path), base));
            }
            let id = &seen.body["id"];
            let before = earlier.iter().filter(|e| &e.body["id"] == id).count();
            receiver_status(&title_of(&seen.body), before).into_response()
        })
        .await;
        let arrivals = || {
            let mut by_id: HashMap<String, (String, usize)> = HashMap::new();
            for seen in fake.seen.lock().expect("lock").iter() {
                if seen.method == Method::POST && seen.body["type"] == "Announce" {
                    let id = seen.body["id"].as_str().unwrap_or_default().to_owned();
                    by_id.entry(id).or_insert((title_of(&seen.body), 0)).1 += 1;
                }
            }
            by_id.into_values().collect::<Vec<_>>()
        };
        let mallory = fake.url("/u/mallory");
        let follow = json!({"id": fake.url("/activities/follow"), "type": "Follow",
                            "actor": mallory, "object": alpha.url("/c/rust"), "to": [alpha.url("/c/rust")]})
        .to_string()
        .into_bytes();
        let (status, body) = post_signed(&alpha.url("/inbox"), &mallory, &follow).await;
        assert_eq!(status, 202, "{body}");
        let post = |title: &'static str| {
            let alice = &alice;
            async move {
                alice
                    .ok(
                        Method::POST,
                        "/communities/rust/threads",
                        Some(json!({"title": title, "body": "case 19"})),
                    )
                    .await
            }
        };

        post("It answers 500 forever").await;
        let first = federation_tests::wait_until(Duration::from_secs(20), || async {
            arrivals().iter().any(|(t, _)| t.contains("500"))
        })
        .await;
        assert!(first, "the first attempt was made: {:?}", arrivals());
        for title in [
            "It refuses 400",
            "It refuses 404",
            "It refuses 410",
            "It is busy 408",
            "It is busy 429",
            "It is busy 503",
        ] {
            post(title).await;
        }
        let posted = Instant::now();
        post("It takes 202 at once").await;
        let prompt = federation_tests::wait_until(Duration::from_secs(5), || async {
            arrivals().iter().any(|(t, _)| t.contains("at once"))
        })
        .await;
        assert!(prompt, "a later activity is not held up: {:?}", arrivals());
        assert!(posted.elapsed() < Duration::from_secs(5));

        // Every busy answer is retried and taken; the 500 keeps being retried.
        let retried = federation_tests::wait_until(Duration::from_secs(30), || async {
            let seen = arrivals();
            ["408", "429", "503", "500"]
                .iter()
                .all(|n| seen.iter().any(|(t, count)| t.contains(n) && *count >= 2))
        })
        .await;
        assert!(retried, "retried: {:?}", arrivals());
        // Retries of the 4xx would have been due at the same time (± jitter).
        tokio::time::sleep(Duration::from_secs(4)).await;
        let seen = arrivals();
        let refused: Vec<_> = seen.iter().filter(|(t, _)| t.contains("refuses")).collect();
        assert!(refused.len() >= 3, "{seen:?}");
        assert!(refused.iter().all(|(_, count)| *count == 1), "{seen:?}");

        let rows = root
            .ok(Method::GET, "/admin/federation/instances", None)
            .await;
        let row = rows
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["domain"] == fake.authority())
            .cloned()
            .expect("the receiver is listed");
        assert_eq!(row["failed"].as_u64(), Some(refused.len() as u64), "{row}");
        assert!(row["pending"].as_u64() >= Some(1), "the 500 is kept: {row}");
        alpha.stop().await.expect("alpha stops");
    }
}
