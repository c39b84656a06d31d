//! Authorized fetch: with `federation.require_signed_fetch` an instance serves ActivityPub
//! JSON only to signed requests, and still federates with an instance that signs its
//! fetches with its instance actor.

use federation_tests::{TestInstance, backends, wait_until};
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_fetch_refuses_anonymous_json_and_still_federates() {
    for backend in backends() {
        let alpha = TestInstance::start_with("alpha", backend, |s| {
            s.federation.require_signed_fetch = true;
        })
        .await
        .expect("alpha");
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = beta.member("bob").await.expect("bob");
        alice.create_community("rust", "Rust help", "qa").await;

        let client = reqwest::Client::new();
        let get = |path: &str, accept: &'static str| {
            client.get(alpha.url(path)).header("accept", accept).send()
        };
        let anonymous = get("/c/rust", "application/activity+json")
            .await
            .expect("GET");
        assert_eq!(anonymous.status(), 401);
        let body: serde_json::Value = anonymous.json().await.expect("json");
        assert_eq!(body["error"]["code"], "signature_required");
        assert_eq!(
            get("/c/rust", "text/html").await.expect("GET").status(),
            200
        );
        assert_eq!(
            get("/actor", "application/activity+json")
                .await
                .expect("GET")
                .status(),
            200
        );
        let forged = client
            .get(alpha.url("/c/rust"))
            .header("accept", "application/activity+json")
            .header(
                "signature",
                format!(
                    r#"keyId="{}/actor#main-key",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA""#,
                    beta.base_url
                ),
            )
            .header("date", "Sun, 29 Nov 2026 12:00:00 GMT")
            .send()
            .await
            .expect("GET");
        assert_eq!(forged.status(), 401, "a signature that does not verify");

        // Beta signs its fetches with its instance actor: it resolves and follows.
        let resolved = bob
            .ok(
                Method::GET,
                &format!("/resolve?q=!rust@{}", alpha.domain()),
                None,
            )
            .await;
        let handle = resolved["handle"].as_str().expect("handle").to_owned();
        bob.ok(Method::POST, &format!("/communities/{handle}/follow"), None)
            .await;
        let accepted = wait_until(std::time::Duration::from_secs(30), || async {
            let (_, c) = bob.get(&format!("/communities/{handle}")).await;
            c["follow_state"] == "accepted"
        })
        .await;
        assert!(accepted, "the follow is accepted");

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
    }
}
