//! Lyceum against ActivityPub software written by others, over real HTTP on loopback: a
//! Fedify actor (TypeScript) and fediverse-pasture's verify_actor (Python), from
//! `../shared/peers`.

use federation_tests::peers::{FedifyPeer, PastureVerifier};
use federation_tests::{PATIENCE, TestInstance, backends, eventually, thread_by_ap_id, wait_until};
use reqwest::Method;
use serde_json::{Value, json};

/// Waits until the peer has received an activity matching `check`; otherwise fails with
/// `what` and everything the peer did receive.
async fn peer_received(peer: &FedifyPeer, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let found = std::sync::Mutex::new(None);
    let reached = wait_until(PATIENCE, || async {
        let hit = peer.received().await.into_iter().find(|r| check(r));
        let seen = hit.is_some();
        *found.lock().expect("lock") = hit;
        seen
    })
    .await;
    if !reached {
        let received: Vec<String> = peer
            .received()
            .await
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} (object {})",
                    r["status"],
                    r["activity"]["type"],
                    r["activity"]["id"],
                    r["activity"]["object"]["id"].as_str().unwrap_or_default()
                )
            })
            .collect();
        panic!(
            "the Fedify peer {} never received {what}; it received:\n{}\nits log:\n{}",
            peer.actor,
            received.join("\n"),
            peer.log()
        );
    }
    found.into_inner().expect("lock").expect("found")
}

/// The id of an embedded object or link, as a string.
fn id_of(value: &Value) -> &str {
    value
        .as_str()
        .or_else(|| value["id"].as_str())
        .unwrap_or_default()
}

/// Issue #7 item 3: a Fedify actor follows a Lyceum community and receives what it
/// announces with signatures Fedify verifies; what it posts becomes threads and answers
/// that the group announces back; its Like counts; each side fetches the other's actor
/// with signed requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fedify_actor_takes_part_in_a_community() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let ann = alpha.member("ann").await.expect("ann");
        ann.create_community("rust", "Rust help", "qa").await;
        let group = alpha.url("/c/rust");
        let carol = FedifyPeer::start("carol").await;
        let carol_handle = format!("carol@{}", carol.base_url.trim_start_matches("http://"));

        // The follow: Fedify's signed Follow is verified, our Accept is verified by Fedify.
        carol.control("follow", json!({"target": group})).await;
        let accept = peer_received(&carol, "the group's Accept of its Follow", |r| {
            r["activity"]["type"] == "Accept" && r["activity"]["actor"] == group.as_str()
        })
        .await;
        assert_eq!(accept["status"], 202, "Fedify refused our Accept: {accept}");
        assert_eq!(accept["activity"]["object"]["type"], "Follow");
        assert_eq!(id_of(&accept["activity"]["object"]["actor"]), carol.actor);
        eventually(
            &ann,
            "/communities/rust",
            "carol counted as a member of rust",
            |c| c["member_count"] == 2,
        )
        .await;

        // Lyceum fetched carol's actor (to verify her Follow) with a signed request.
        let carol_path = carol.actor.trim_start_matches(&carol.base_url).to_owned();
        let fetches = carol.fetches();
        let signed = fetches.iter().find(|f| {
            f.path == carol_path
                && f.signature
                    .as_deref()
                    .is_some_and(|s| s.contains(&format!("keyId=\"{}", alpha.base_url)))
        });
        assert!(
            signed.is_some(),
            "alpha did not fetch {} with a signature of its own; fetches seen: {fetches:?}",
            carol.actor
        );

        // A question on alpha reaches carol, announced by the group and signed.
        let question = ann
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "Why does this borrow outlive the loop?",
                            "body": "A `Vec<&str>` filled inside a `for`.", "kind": "question"})),
            )
            .await;
        let question_ap_id = question["ap_id"].as_str().expect("ap_id").to_owned();
        let announce = peer_received(&carol, "the Announce of ann's question", |r| {
            r["activity"]["type"] == "Announce"
                && r["activity"]["object"]["type"] == "Create"
                && id_of(&r["activity"]["object"]["object"]) == question_ap_id
        })
        .await;
        assert_eq!(announce["status"], 202, "Fedify refused: {announce}");
        assert_eq!(announce["activity"]["actor"], group.as_str());
        let signature = announce["signature"].as_str().unwrap_or_default();
        assert!(
            signature.contains(&format!("keyId=\"{group}#main-key\"")),
            "the Announce is signed with the group's key: {signature}"
        );

        // carol mentions the group in a Note: a new thread, announced back to followers.
        let note = carol
            .control(
                "note",
                json!({"to": group,
                       "content": format!("<p><a href=\"{group}\">@rust</a> Is async drop stable yet?</p>")}),
            )
            .await;
        let note_id = note["note"].as_str().expect("note id").to_owned();
        let from_note = thread_by_ap_id(&ann, "rust", &note_id).await;
        assert_eq!(from_note["author"], carol_handle.as_str(), "{from_note}");
        assert_eq!(from_note["local"], false);
        assert!(
            from_note["title"]
                .as_str()
                .is_some_and(|t| t.contains("Is async drop stable yet?")),
            "{from_note}"
        );
        let relayed = peer_received(&carol, "the group's Announce of carol's own Note", |r| {
            r["activity"]["type"] == "Announce"
                && id_of(&r["activity"]["object"]["object"]) == note_id
        })
        .await;
        assert_eq!(relayed["status"], 202, "{relayed}");

        // A Page with a name, as Lemmy-style software posts: the name is the title.
        let page = carol
            .control(
                "note",
                json!({"to": group, "type": "Page", "name": "Pinning a future",
                       "content": "<p>When do I need <code>Box::pin</code>?</p>"}),
            )
            .await;
        let page_id = page["note"].as_str().expect("page id").to_owned();
        let from_page = thread_by_ap_id(&ann, "rust", &page_id).await;
        assert_eq!(from_page["title"], "Pinning a future", "{from_page}");

        // A reply to ann's question is an answer.
        let reply = carol
            .control(
                "note",
                json!({"to": group, "inReplyTo": question_ap_id,
                       "content": "<p>Collect owned <code>String</code>s instead.</p>"}),
            )
            .await;
        let reply_id = reply["note"].as_str().expect("reply id").to_owned();
        let question_path = format!("/threads/{}", question["id"]);
        let answered = eventually(&ann, &question_path, "carol's reply as an answer", |t| {
            t["answers"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["ap_id"] == reply_id.as_str()))
        })
        .await;
        assert_eq!(answered["answers"][0]["author"], carol_handle.as_str());

        // Her Like counts.
        carol
            .control("like", json!({"object": question_ap_id, "to": group}))
            .await;
        eventually(&ann, &question_path, "carol's Like in the score", |t| {
            t["score"] == 1
        })
        .await;

        // Fedify fetches the group with a signed request and reads it as a Group.
        let looked_up = carol.control("lookup", json!({"target": group})).await;
        assert_eq!(looked_up["type"], "Group", "{looked_up}");
        assert_eq!(looked_up["id"], group.as_str());

        // Unfollowing: no longer a member, and the next question is not sent to carol.
        carol.control("unfollow", json!({"target": group})).await;
        eventually(&ann, "/communities/rust", "carol no longer a member", |c| {
            c["member_count"] == 1
        })
        .await;
        let root = alpha.admin("root").await.expect("admin");
        let carol_domain = carol.base_url.trim_start_matches("http://").to_owned();
        let before = root.deliveries_listed_for(&carol_domain).await;
        assert!(before > 0, "deliveries to carol were listed before");
        ann.ok(
            Method::POST,
            "/communities/rust/threads",
            Some(json!({"title": "After carol left", "body": "Not for her.", "kind": "question"})),
        )
        .await;
        assert_eq!(
            root.deliveries_listed_for(&carol_domain).await,
            before,
            "nothing is queued for carol's instance after she left"
        );

        alpha.stop().await.expect("stop");
    }
}

/// Issue #7 item 4: fediverse-pasture's verify_actor against a Lyceum Group and Person.
/// Every test actor can fetch ours; the four that sign (with keys fetched unsigned or
/// signed, with or without `preferredUsername`) are accepted, the two unsigned posts are
/// refused; WebFinger names the same actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasture_verify_actor_passes_for_a_group_and_a_person() {
    let verifier = PastureVerifier::start().await;
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let ann = alpha.member("ann").await.expect("ann");
        ann.create_community("rust", "Rust help", "qa").await;
        for actor in [alpha.url("/c/rust"), alpha.url("/u/ann")] {
            let verdict = verifier.verify(&actor).await;
            let result = &verdict["result"];
            let mut wrong = Vec::new();
            for (name, signed) in [
                ("alice", false),
                ("bob", true),
                ("claire", true),
                ("dean", false),
                ("emily", true),
                ("frank", true),
            ] {
                if result[name]["get_actor"] != true {
                    wrong.push(format!("{name} could not fetch the actor"));
                }
                if result[name]["post_inbox"] != signed {
                    wrong.push(if signed {
                        format!("{name}'s signed post was refused")
                    } else {
                        format!("{name}'s unsigned post was accepted")
                    });
                }
            }
            if result["webfinger"] != true {
                wrong.push("WebFinger does not name the actor".to_owned());
            }
            let steps = verdict["messages"].as_str().unwrap_or_default();
            assert!(
                wrong.is_empty(),
                "verify_actor on {actor} ({backend:?}): {wrong:?}\nresult: {result}\nsteps: {steps}"
            );
        }
        alpha.stop().await.expect("stop");
    }
}
