//! Moderator actions taken on one instance reach the others (issue #10): a removal and its
//! restore, a lock and its undo, each sent as Lemmy sends them (a Person actor, the group's
//! Announce) and applied by the receiving instance, which logs them under the remote
//! moderator's name.

use federation_tests::{TestInstance, backends, eventually, follow_remote, thread_by_ap_id};
use reqwest::Method;
use serde_json::{Value, json};

/// The answers of a thread view, flattened one level (tests here answer the thread only).
fn answers(thread: &Value) -> &Vec<Value> {
    thread["answers"].as_array().expect("answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_and_locks_on_one_instance_are_applied_on_the_other() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = beta.member("bob").await.expect("bob");
        alice.create_community("rust", "Rust help", "qa").await;
        let rust_on_beta = follow_remote(&bob, "rust", &alpha).await;

        let asked = alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "Which pool for diesel-async?", "body": "deadpool or bb8?"})),
            )
            .await;
        let alpha_thread = asked["id"].as_i64().expect("id");
        let ap_id = asked["ap_id"].as_str().expect("ap_id").to_owned();
        let beta_thread = thread_by_ap_id(&bob, &rust_on_beta, &ap_id).await["id"]
            .as_i64()
            .expect("id");
        bob.ok(
            Method::POST,
            &format!("/threads/{beta_thread}/answers"),
            Some(json!({"body": "Buy cheap watches at spam.example"})),
        )
        .await;
        let on_alpha = eventually(
            &alice,
            &format!("/threads/{alpha_thread}"),
            "bob's answer on alpha",
            |t| t["answer_count"] == 1,
        )
        .await;
        let alpha_answer = answers(&on_alpha)[0]["id"].as_i64().expect("answer id");

        // alice moderates `rust`: her removal reaches beta, hiding the answer there.
        alice
            .ok(
                Method::POST,
                &format!("/answers/{alpha_answer}/remove"),
                Some(json!({"reason": "Spam"})),
            )
            .await;
        let thread_path = format!("/threads/{beta_thread}");
        let seen = eventually(&bob, &thread_path, "the removal on beta", |t| {
            t["answer_count"] == 0 && answers(t).first().is_some_and(|a| a["removed"] == true)
        })
        .await;
        assert_eq!(
            answers(&seen)[0]["body"],
            "",
            "the text is withheld: {seen}"
        );
        let log = bob
            .ok(
                Method::GET,
                &format!("/modlog?community={rust_on_beta}"),
                None,
            )
            .await;
        let entry = &log["entries"][0];
        assert_eq!(entry["action"], "remove_answer", "{log}");
        assert_eq!(entry["moderator"], format!("alice@{}", alpha.domain()));
        assert_eq!(entry["reason"], "Spam");

        // The restore brings it back on beta.
        alice
            .ok(
                Method::POST,
                &format!("/answers/{alpha_answer}/restore"),
                Some(json!({})),
            )
            .await;
        eventually(&bob, &thread_path, "the restore on beta", |t| {
            t["answer_count"] == 1
                && answers(t).first().is_some_and(|a| {
                    a["removed"] == false && a["body"] == "Buy cheap watches at spam.example"
                })
        })
        .await;

        // A lock reaches beta, whose own members are then refused there too.
        alice
            .ok(Method::POST, &format!("/threads/{alpha_thread}/lock"), None)
            .await;
        eventually(&bob, &thread_path, "the lock on beta", |t| {
            t["locked"] == true
        })
        .await;
        let (status, refused) = bob
            .post(
                &format!("/threads/{beta_thread}/answers"),
                json!({"body": "One more thing"}),
            )
            .await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (409, Some("thread_locked")),
            "{refused}"
        );
        let (status, _) = alice
            .call(
                Method::DELETE,
                &format!("/threads/{alpha_thread}/lock"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        eventually(&bob, &thread_path, "the unlock on beta", |t| {
            t["locked"] == false
        })
        .await;

        // A removed thread is withheld on beta too.
        alice
            .ok(
                Method::POST,
                &format!("/threads/{alpha_thread}/remove"),
                Some(json!({"reason": "Duplicate"})),
            )
            .await;
        eventually(&bob, &thread_path, "the thread's removal on beta", |t| {
            t["removed"] == true && t["body"] == ""
        })
        .await;

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
    }
}
