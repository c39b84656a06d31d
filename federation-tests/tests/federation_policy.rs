//! The federation policy between real instances (issue #10): a `partners` community is
//! read and followed from a partner instance, and allowlist mode (set up from a shared CSV
//! list) federates with partners only. That `partners` and `internal` content reaches
//! nobody else is the security suite's case 22 (`security/authorization.rs`). All instances share the host `localhost`, so partner
//! entries name `localhost:PORT`.

use federation_tests::{TestInstance, backends, eventually, follow_remote, thread_by_ap_id};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_communities_reach_partners() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let root = alpha.admin("root").await.expect("alpha admin");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = beta.member("bob").await.expect("bob");
        root.ok(
            Method::PUT,
            &format!("/admin/federation/allows/{}", beta.domain()),
            Some(json!({"comment": "Beta Corp"})),
        )
        .await;
        alice
            .ok(
                Method::POST,
                "/communities",
                Some(json!({"name": "acme", "title": "Acme", "kind": "qa", "visibility": "partners"})),
            )
            .await;
        // Beta is a partner: it reads and follows `acme`, gets its threads, and answers.
        let acme_on_beta = follow_remote(&bob, "acme", &alpha).await;
        let shared = alice
            .ok(
                Method::POST,
                "/communities/acme/threads",
                Some(json!({"title": "Partner-only rollout notes", "body": "For partners."})),
            )
            .await;
        let shared_ap_id = shared["ap_id"].as_str().expect("ap_id");
        let beta_thread = thread_by_ap_id(&bob, &acme_on_beta, shared_ap_id).await;
        bob.ok(
            Method::POST,
            &format!("/threads/{}/answers", beta_thread["id"]),
            Some(json!({"body": "Thanks, applied on our side."})),
        )
        .await;
        eventually(
            &alice,
            &format!("/threads/{}", shared["id"]),
            "bob's answer reaches alpha",
            |t| t["answer_count"] == 1,
        )
        .await;

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlist_mode_from_a_shared_csv_federates_with_partners_only() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let gamma = TestInstance::start("gamma", backend).await.expect("gamma");
        let root = alpha.admin("root").await.expect("alpha admin");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = beta.member("bob").await.expect("bob");
        let carol = gamma.member("carol").await.expect("carol");
        alice.create_community("rust", "Rust help", "qa").await;

        // A partner organization shares its list as Mastodon-format CSV.
        let csv = format!(
            "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
             {},noop,false,false,\"Beta Corp, since 2026\",false\n\
             sp*m.example,noop,false,false,,true\n",
            beta.domain()
        );
        let (status, report) = root
            .call_text(
                Method::POST,
                "/admin/federation/import/allows",
                "text/csv",
                Some(&csv),
            )
            .await;
        assert_eq!(status, 200, "{report}");
        let report: Value = serde_json::from_str(&report).expect("report JSON");
        assert_eq!(report["imported"], json!([beta.domain()]), "{report}");
        assert_eq!(report["skipped"][0]["line"], 3, "{report}");
        let (status, exported) = root
            .call_text(Method::GET, "/admin/federation/export/allows", "", None)
            .await;
        assert_eq!(status, 200);
        assert!(
            exported.contains(&format!(
                "{},noop,false,false,\"Beta Corp, since 2026\",false",
                beta.domain()
            )),
            "{exported}"
        );
        let policy = root
            .ok(
                Method::PUT,
                "/admin/federation/policy",
                Some(json!({"mode": "allowlist"})),
            )
            .await;
        assert_eq!(policy["mode"], "allowlist");
        assert_eq!(policy["partner_domains"], 1);

        // The partner federates as before; the other instance is refused with 403.
        follow_remote(&bob, "rust", &alpha).await;
        let (status, body) = carol
            .get(&format!("/resolve?q=!rust@{}", alpha.domain()))
            .await;
        assert!(
            status >= 400,
            "gamma resolved a community in allowlist mode: {body}"
        );
        let refused = reqwest::Client::new()
            .post(alpha.url("/inbox"))
            .header("content-type", "application/activity+json")
            // The policy refuses before any signature is checked, so a made-up one will do.
            .header(
                "signature",
                format!(
                    "keyId=\"http://{}/actor#main-key\",headers=\"(request-target) host date\",signature=\"AAAA\"",
                    gamma.domain()
                ),
            )
            .body(
                json!({
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": format!("http://{}/activities/follow/1", gamma.domain()),
                    "type": "Follow",
                    "actor": format!("http://{}/u/carol", gamma.domain()),
                    "object": format!("http://{}/c/rust", alpha.domain())
                })
                .to_string(),
            )
            .send()
            .await
            .expect("alpha answers");
        assert_eq!(refused.status().as_u16(), 403);
        let error: Value = refused.json().await.expect("error JSON");
        assert_eq!(error["error"]["code"], "domain_not_allowed", "{error}");

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
        gamma.stop().await.expect("gamma stops");
    }
}
