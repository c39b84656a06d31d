//! Flood resistance: per-address and per-instance rate limits on the inbox and API.
//!
//! Each limit is set small, spent over real HTTP, and must then answer 429 `rate_limited`
//! with a `Retry-After` that is honest (waiting that long lets a request through again).
//! Refill is one request a second, so the checks allow for what refilled while the test ran.

use std::time::{Duration, Instant};

use federation_tests::{TestInstance, backends};
use lyceum::settings::Settings;
use serde_json::json;

/// Sends the requests `send` makes (given how many went through before) until one is
/// refused with 429, and checks the refusal came on time: not before `burst` requests went
/// through, nor later than the burst plus what refilled meanwhile at `per_second`.
async fn spend(
    burst: u32,
    per_second: u32,
    mut send: impl AsyncFnMut(u32) -> reqwest::Response,
) -> reqwest::Response {
    let started = Instant::now();
    let mut passed = 0;
    loop {
        let response = send(passed).await;
        if response.status() == 429 {
            let refilled = (started.elapsed().as_secs_f64() * f64::from(per_second)).ceil() as u32;
            assert!(
                passed >= burst,
                "refused after {passed} requests, within the burst of {burst}"
            );
            assert!(
                passed <= burst + refilled,
                "{passed} requests went through, more than the burst of {burst} and {refilled} refilled"
            );
            return response;
        }
        passed += 1;
        assert!(passed <= burst + 1_000, "never refused");
    }
}

/// A refusal by a rate limit: 429, the API error code, a Retry-After of whole seconds (at
/// least one) and a message naming `who` was limited. Returns the Retry-After.
async fn assert_rate_limited(response: reqwest::Response, who: &str) -> Duration {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1, "Retry-After: {retry_after}");
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(who), "{message:?} does not name {who:?}");
    Duration::from_secs(retry_after)
}

/// A Create from an actor of `host` (nothing listens there, so nothing is fetched for
/// long) with a `Signature` header naming that actor's key: what a flood of activities
/// claiming to come from `host` looks like before any signature is checked.
fn claimed_activity(
    client: &reqwest::Client,
    inbox: &str,
    host: &str,
    n: u32,
) -> reqwest::RequestBuilder {
    let actor = format!("http://{host}/u/flooder");
    let body = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("http://{host}/activities/{n}"),
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": format!("http://{host}/notes/{n}"),
            "type": "Note",
            "attributedTo": actor,
            "content": "flood",
        },
    });
    client
        .post(inbox)
        .header("content-type", "application/activity+json")
        .header(
            "signature",
            format!(
                r#"keyId="{actor}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="Zmxvb2Q=""#
            ),
        )
        .body(body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_requests_beyond_the_per_address_limit_get_429_on_every_route() {
    const BURST: u32 = 6;
    for backend in backends() {
        let alpha = TestInstance::start_with("alpha", backend, |s: &mut Settings| {
            s.rate_limit.api_burst = BURST;
            s.rate_limit.api_per_second = 1;
        })
        .await
        .expect("alpha starts");
        let client = reqwest::Client::new();
        // Reads, writes, refused and unknown requests all spend the same budget.
        let routes = [
            (reqwest::Method::GET, "/api/v1/search?q=flood"),
            (reqwest::Method::GET, "/api/v1/me"),
            (reqwest::Method::POST, "/api/v1/communities"),
            (reqwest::Method::GET, "/api/v1/communities/nowhere"),
            (reqwest::Method::GET, "/api/v1/no/such/endpoint"),
            (reqwest::Method::GET, "/api/v1/openapi.json"),
        ];
        let refused = spend(BURST, 1, async |n| {
            let (method, path) = routes[n as usize % routes.len()].clone();
            let response = client
                .request(method, alpha.url(path))
                .json(&json!({}))
                .send()
                .await
                .expect("alpha answers");
            assert_ne!(response.status(), 500, "{path}");
            response
        })
        .await;
        let retry_after = assert_rate_limited(refused, "address").await;

        // Outside the API nothing is limited by it.
        let health = client
            .get(alpha.url("/healthz"))
            .send()
            .await
            .expect("health");
        assert_eq!(health.status(), 200);

        // After Retry-After, requests go through again.
        tokio::time::sleep(retry_after).await;
        let again = client
            .get(alpha.url("/api/v1/search?q=flood"))
            .send()
            .await
            .expect("alpha answers");
        assert_eq!(again.status(), 200, "after Retry-After");
        alpha.stop().await.expect("alpha stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbox_posts_beyond_one_instances_limit_get_429_while_other_instances_go_on() {
    const BURST: u32 = 4;
    for backend in backends() {
        // All test traffic comes from 127.0.0.1: the per-address limit must stay out of the way.
        let alpha = TestInstance::start_with("alpha", backend, |s: &mut Settings| {
            s.rate_limit.instance_burst = BURST;
            s.rate_limit.instance_per_second = 1;
            s.rate_limit.inbox_burst = 1_000;
        })
        .await
        .expect("alpha starts");
        let client = reqwest::Client::new();
        // Ports where nothing listens: distinct instances whose actors cannot be fetched.
        let (flooder, other) = ("localhost:9", "localhost:7");
        let inboxes = [
            alpha.url("/inbox"),
            alpha.url("/c/nowhere/inbox"),
            alpha.url("/u/nobody/inbox"),
        ];
        let refused = spend(BURST, 1, async |n| {
            let inbox = &inboxes[n as usize % inboxes.len()];
            let response = claimed_activity(&client, inbox, flooder, n)
                .send()
                .await
                .expect("alpha answers");
            assert!(
                response.status().is_client_error(),
                "an unverifiable activity is refused: {}",
                response.status()
            );
            response
        })
        .await;
        assert_rate_limited(refused, "instance").await;

        // Another instance, from the same address, is not held back by the first one.
        let response = claimed_activity(&client, &inboxes[0], other, 0)
            .send()
            .await
            .expect("alpha answers");
        assert_ne!(response.status(), 429, "another instance is accepted");
        assert!(response.status().is_client_error(), "{}", response.status());
        // Nor is an unsigned POST, which counts against the address instead.
        let unsigned = client
            .post(&inboxes[0])
            .header("content-type", "application/activity+json")
            .body("{}")
            .send()
            .await
            .expect("alpha answers");
        assert_eq!(unsigned.status(), 400);
        alpha.stop().await.expect("alpha stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbox_posts_beyond_the_per_address_limit_get_429_whatever_instance_they_claim() {
    const BURST: u32 = 5;
    for backend in backends() {
        let alpha = TestInstance::start_with("alpha", backend, |s: &mut Settings| {
            s.rate_limit.inbox_burst = BURST;
            s.rate_limit.inbox_per_second = 1;
        })
        .await
        .expect("alpha starts");
        let client = reqwest::Client::new();
        // A fresh made-up instance for every request, on every inbox, unsigned ones between.
        let refused = spend(BURST, 1, async |n| {
            let request = match n % 3 {
                0 => client
                    .post(alpha.url("/inbox"))
                    .header("content-type", "application/activity+json")
                    .body("{}"),
                1 => claimed_activity(
                    &client,
                    &alpha.url("/c/nowhere/inbox"),
                    &format!("localhost:{}", 1 + n),
                    n,
                ),
                _ => claimed_activity(
                    &client,
                    &alpha.url("/u/nobody/inbox"),
                    &format!("localhost:{}", 1 + n),
                    n,
                ),
            };
            request.send().await.expect("alpha answers")
        })
        .await;
        assert_rate_limited(refused, "address").await;

        // The API has a budget of its own.
        let api = client
            .get(alpha.url("/api/v1/search?q=flood"))
            .send()
            .await
            .expect("alpha answers");
        assert_eq!(api.status(), 200);
        alpha.stop().await.expect("alpha stops");
    }
}
