//! The federation policy between real instances (issue #10): a `partners` community is
//! read and followed from a partner instance and refused to others, an `internal` one
//! never appears outside its instance, and allowlist mode (set up from a shared CSV list)
//! federates with partners only. All instances share the host `localhost`, so partner
//! entries name `localhost:PORT`.

use federation_tests::{TestInstance, backends, eventually, follow_remote, thread_by_ap_id};
use reqwest::Method;
use serde_json::{Value, json};

/// Anonymous ActivityPub GET of `path` on `instance`: the status.
async fn fetch_anonymously(instance: &TestInstance, path: &str) -> u16 {
    reqwest::Client::new()
        .get(instance.url(path))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("the instance answers")
        .status()
        .as_u16()
}

async fn nodeinfo_posts(instance: &TestInstance) -> i64 {
    let body: Value = reqwest::get(instance.url("/nodeinfo/2.1"))
        .await
        .expect("nodeinfo answers")
        .json()
        .await
        .expect("nodeinfo JSON");
    body["usage"]["localPosts"].as_i64().expect("localPosts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_communities_reach_partners_only_and_internal_ones_stay_home() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let gamma = TestInstance::start("gamma", backend).await.expect("gamma");
        let root = alpha.admin("root").await.expect("alpha admin");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = beta.member("bob").await.expect("bob");
        let carol = gamma.member("carol").await.expect("carol");
        root.ok(
            Method::PUT,
            &format!("/admin/federation/allows/{}", beta.domain()),
            Some(json!({"comment": "Beta Corp"})),
        )
        .await;
        for (name, visibility) in [("acme", "partners"), ("staff", "internal")] {
            alice
                .ok(
                    Method::POST,
                    "/communities",
                    Some(json!({"name": name, "title": name, "kind": "qa", "visibility": visibility})),
                )
                .await;
        }
        let secret = alice
            .ok(
                Method::POST,
                "/communities/staff/threads",
                Some(json!({"title": "Salary bands zebra", "body": "Internal only."})),
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

        // Gamma is not: alpha refuses its signed fetches, so it cannot resolve or follow.
        let (status, body) = carol
            .get(&format!("/resolve?q=!acme@{}", alpha.domain()))
            .await;
        assert!(status >= 400, "gamma resolved a partners community: {body}");
        // Nor can anyone read it without signing, through the API or as ActivityPub.
        assert_eq!(fetch_anonymously(&alpha, "/c/acme").await, 401);
        assert_eq!(
            fetch_anonymously(&alpha, &format!("/t/{}", shared["id"])).await,
            401
        );

        // `internal`: nobody outside alpha finds it, by resolve, WebFinger, fetch or search,
        // and NodeInfo does not count its posts (nor the partners one's).
        for member in [&bob, &carol] {
            let (status, body) = member
                .get(&format!("/resolve?q=!staff@{}", alpha.domain()))
                .await;
            assert!(status >= 400, "the internal community was resolved: {body}");
        }
        let webfinger = reqwest::get(alpha.url(&format!(
            "/.well-known/webfinger?resource=acct:staff@{}",
            alpha.domain()
        )))
        .await
        .expect("webfinger answers");
        assert_eq!(webfinger.status().as_u16(), 404);
        assert_eq!(fetch_anonymously(&alpha, "/c/staff").await, 404);
        assert_eq!(
            fetch_anonymously(&alpha, &format!("/t/{}", secret["id"])).await,
            404
        );
        let found: Value = reqwest::get(alpha.url("/api/v1/search?q=zebra"))
            .await
            .expect("search answers")
            .json()
            .await
            .expect("search JSON");
        assert_eq!(
            found["results"].as_array().map(Vec::len),
            Some(0),
            "anonymous search found the internal thread: {found}"
        );
        assert_eq!(nodeinfo_posts(&alpha).await, 0);
        let (_, signed_in) = alice.get("/search?q=zebra").await;
        assert_eq!(
            signed_in["results"].as_array().map(Vec::len),
            Some(1),
            "alpha's members do find it: {signed_in}"
        );

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
        gamma.stop().await.expect("gamma stops");
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
