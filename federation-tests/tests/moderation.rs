//! Moderator actions taken on one instance reach the others (issue #10): a removal and its
//! restore, a lock and its undo, a ban and its undo, moderator list changes and profile
//! edits, each sent as Lemmy sends them (a Person actor, the group's Announce) and applied
//! by the receiving instance, which logs them under the remote moderator's name; and a
//! report made on one instance reaches the community's moderators on the other.

use federation_tests::{
    Backend, Member, TestInstance, backends, eventually, follow_remote, thread_by_ap_id,
};
use reqwest::Method;
use serde_json::{Value, json};

/// The answers of a thread view, flattened one level (tests here answer the thread only).
fn answers(thread: &Value) -> &Vec<Value> {
    thread["answers"].as_array().expect("answers")
}

/// Two instances: alice's community `rust` on alpha, followed from beta by bob, with a
/// thread alice asked there, known on both.
struct Scene {
    alpha: TestInstance,
    beta: TestInstance,
    alice: Member,
    bob: Member,
    /// `rust@alpha…`, the community's handle on beta.
    rust_on_beta: String,
    alpha_thread: i64,
    beta_thread: i64,
}

async fn scene(backend: Backend) -> Scene {
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
    Scene {
        alpha,
        beta,
        alice,
        bob,
        rust_on_beta,
        alpha_thread,
        beta_thread,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_and_locks_on_one_instance_are_applied_on_the_other() {
    for backend in backends() {
        let Scene {
            alpha,
            beta,
            alice,
            bob,
            rust_on_beta,
            alpha_thread,
            beta_thread,
        } = scene(backend).await;
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
        assert_eq!(
            refusal(
                &bob,
                &format!("/threads/{beta_thread}/answers"),
                json!({"body": "One more thing"})
            )
            .await,
            (409, "thread_locked".to_owned())
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

/// Posts `body` to `path` as `member`, which is refused: the status and the error code.
async fn refusal(member: &Member, path: &str, body: Value) -> (u16, String) {
    let (status, answer) = member.post(path, body).await;
    let code = answer["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code)
}

/// The first entry of `community`'s mod log on `member`'s instance.
async fn latest_log_entry(member: &Member, community: &str) -> Value {
    let log = member
        .ok(Method::GET, &format!("/modlog?community={community}"), None)
        .await;
    log["entries"][0].clone()
}

/// Issue #10: "a banned person's new answers are refused everywhere the ban reached". Alpha's
/// moderator bans beta's member from alpha's community; beta applies the ban (Block announced
/// by the group) to its own member, logs it under alpha's moderator, and lifts it on Undo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_on_one_instance_is_applied_on_the_other() {
    for backend in backends() {
        let Scene {
            alpha,
            beta,
            alice,
            bob,
            rust_on_beta,
            beta_thread,
            ..
        } = scene(backend).await;

        let bob_on_alpha = format!("bob@{}", beta.domain());
        alice
            .ok(
                Method::POST,
                "/communities/rust/bans",
                Some(json!({"person": bob_on_alpha, "reason": "Spam links",
                            "expires": "2099-01-01T00:00:00Z"})),
            )
            .await;
        let log_path = format!("/modlog?community={rust_on_beta}");
        let log = eventually(&bob, &log_path, "the ban on beta", |log| {
            log["entries"][0]["action"] == "ban"
        })
        .await;
        let entry = &log["entries"][0];
        assert_eq!(
            entry["moderator"],
            format!("alice@{}", alpha.domain()),
            "{log}"
        );
        assert_eq!(entry["person"], "bob", "{log}");
        assert_eq!(entry["reason"], "Spam links", "{log}");

        // Refused on beta itself, with the code a local ban gives: answers, threads, votes.
        assert_eq!(
            refusal(
                &bob,
                &format!("/threads/{beta_thread}/answers"),
                json!({"body": "Buy cheap watches"})
            )
            .await,
            (403, "banned".to_owned())
        );
        assert_eq!(
            refusal(
                &bob,
                &format!("/communities/{rust_on_beta}/threads"),
                json!({"title": "Cheap watches", "body": "spam.example"})
            )
            .await,
            (403, "banned".to_owned())
        );
        assert_eq!(
            refusal(
                &bob,
                &format!("/threads/{beta_thread}/vote"),
                json!({"score": 1})
            )
            .await,
            (403, "banned".to_owned())
        );

        // Undo(Block) lifts it on beta too.
        let (status, _) = alice
            .call(
                Method::DELETE,
                &format!("/communities/rust/bans/{bob_on_alpha}"),
                None,
            )
            .await;
        assert_eq!(status, 204);
        eventually(&bob, &log_path, "the unban on beta", |log| {
            log["entries"][0]["action"] == "unban"
        })
        .await;
        let (status, answered) = bob
            .post(
                &format!("/threads/{beta_thread}/answers"),
                json!({"body": "bb8, with the diesel-async feature"}),
            )
            .await;
        assert_eq!(status, 201, "{answered}");

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
    }
}

/// A report made on beta about alpha's thread (sent as `Flag`) lands in alpha's queue; a
/// moderator change (`Add`/`Remove` on the moderators collection) and a profile edit (the
/// two `Update`s of the group) made on alpha reach beta's copy of the community.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_moderators_and_profile_edits_federate() {
    for backend in backends() {
        let Scene {
            alpha,
            beta,
            alice,
            bob,
            rust_on_beta,
            alpha_thread,
            beta_thread,
        } = scene(backend).await;
        let _carol = alpha.member("carol").await.expect("carol");

        // Flag: beta's report reaches alpha's moderators.
        bob.ok(
            Method::POST,
            "/reports",
            Some(json!({"thread_id": beta_thread, "reason": "Asked twice"})),
        )
        .await;
        let queue = eventually(&alice, "/reports", "bob's report on alpha", |q| {
            q.as_array().is_some_and(|r| !r.is_empty())
        })
        .await;
        let report = &queue[0];
        assert_eq!(
            report["queue"]["reporter"],
            format!("bob@{}", beta.domain()),
            "{queue}"
        );
        assert_eq!(report["thread_id"], alpha_thread, "{queue}");
        assert_eq!(report["reason"], "Asked twice", "{queue}");

        // Add / Remove on the moderators collection.
        let carol_handle = format!("carol@{}", alpha.domain());
        alice
            .ok(
                Method::POST,
                "/communities/rust/moderators",
                Some(json!({"username": "carol"})),
            )
            .await;
        let mods_path = format!("/communities/{rust_on_beta}/moderators");
        let has_carol = |mods: &Value| {
            mods.as_array()
                .is_some_and(|m| m.iter().any(|p| p["handle"] == carol_handle.as_str()))
        };
        eventually(&bob, &mods_path, "carol a moderator on beta", |m| {
            has_carol(m)
        })
        .await;
        let entry = latest_log_entry(&bob, &rust_on_beta).await;
        assert_eq!(entry["action"], "add_moderator", "{entry}");
        assert_eq!(entry["person"], carol_handle.as_str(), "{entry}");
        let (status, _) = alice
            .call(Method::DELETE, "/communities/rust/moderators/carol", None)
            .await;
        assert_eq!(status, 200);
        eventually(&bob, &mods_path, "carol no moderator on beta", |m| {
            m.is_array() && !has_carol(m)
        })
        .await;

        // Update(Group): the new title and description reach beta.
        alice
            .ok(
                Method::PATCH,
                "/communities/rust",
                Some(json!({"title": "Rust questions", "description": "Ask about **Rust**."})),
            )
            .await;
        eventually(
            &bob,
            &format!("/communities/{rust_on_beta}"),
            "the new title on beta",
            |c| c["title"] == "Rust questions",
        )
        .await;

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
    }
}

/// A pin on alpha (`Add` to the group's featured collection, announced) pins beta's copy of
/// the thread; the unpin (`Remove`) unpins it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_on_one_instance_are_applied_on_the_other() {
    for backend in backends() {
        let Scene {
            alpha,
            beta,
            alice,
            bob,
            rust_on_beta,
            alpha_thread,
            beta_thread,
        } = scene(backend).await;
        let pin = format!("/threads/{alpha_thread}/pin");
        let pinned = alice.ok(Method::POST, &pin, None).await;
        assert_eq!(pinned["pinned"], true, "{pinned}");
        let thread_path = format!("/threads/{beta_thread}");
        eventually(&bob, &thread_path, "the pin on beta", |t| {
            t["pinned"] == true
        })
        .await;
        let entry = latest_log_entry(&bob, &rust_on_beta).await;
        assert_eq!(entry["action"], "pin_thread", "{entry}");
        assert_eq!(entry["moderator"], format!("alice@{}", alpha.domain()));
        let (status, _) = alice.call(Method::DELETE, &pin, None).await;
        assert_eq!(status, 200);
        eventually(&bob, &thread_path, "the unpin on beta", |t| {
            t["pinned"] == false
        })
        .await;

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
    }
}
