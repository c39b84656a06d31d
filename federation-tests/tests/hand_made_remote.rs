//! A real instance against a hand-made remote (`federation_tests::hostile`): what the inbox
//! refuses beyond the security suite's cases (`tests/security/inbox.rs`), and the FEP-1b12
//! wire shapes followers get.

use std::sync::atomic::Ordering;

use federation_tests::hostile::{FakeRemote, post_raw};
use federation_tests::{TestInstance, backends};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_asks_for_draft_cavage_and_checks_answer_rights_mentions_and_blocks() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        alice.create_community("rust", "Rust", "qa").await;
        let thread = alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "Alice's question", "body": "Mine."})),
            )
            .await;
        let thread_ap_id = thread["ap_id"].as_str().expect("ap_id").to_owned();
        let remote = FakeRemote::start().await;
        let inbox = alpha.url("/inbox");
        let group = alpha.url("/c/rust");
        let json_type = ("content-type", "application/activity+json");
        let follow = |id: &str| json!({"id": remote.activity_id(id), "type": "Follow", "actor": remote.mallory(), "object": group});

        let body = follow("f1").to_string().into_bytes();
        // RFC 9421 is not verified yet: 401 so senders fall back to draft-cavage.
        let (status, err) = post_raw(
            &inbox,
            &[
                json_type,
                ("signature-input", "sig1=(\"@method\");created=1"),
                ("signature", "sig1=:AAAA:"),
            ],
            body.clone(),
        )
        .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (401, Some("signature_unsupported"))
        );

        // A media type that is not application/….
        let (status, _) = post_raw(&inbox, &[("content-type", "text/plain")], body.clone()).await;
        assert_eq!(status, 415);

        // Mallory answers alice's question (allowed), then tries to accept her own answer:
        // only the asker or a moderator may (spec §12).
        let answer_id = format!("{}/r/5", remote.base);
        let answer = json!({
            "id": remote.activity_id("c5"), "type": "Create", "actor": remote.mallory(),
            "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [group],
            "object": {"id": answer_id, "type": "Note", "attributedTo": remote.mallory(),
                       "inReplyTo": thread_ap_id, "content": "<p>Mine is right.</p>",
                       "to": ["https://www.w3.org/ns/activitystreams#Public"]},
        })
        .to_string()
        .into_bytes();
        let (status, err) = remote.send_as_mallory(&inbox, &answer).await;
        assert_eq!(status, 202, "{err}");
        let choose = json!({
            "id": remote.activity_id("choose"), "type": "ChooseAnswer", "actor": remote.mallory(),
            "object": answer_id, "audience": group,
            "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [group],
        })
        .to_string()
        .into_bytes();
        let (status, err) = remote.send_as_mallory(&inbox, &choose).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (403, Some("not_allowed"))
        );
        let view = alice
            .ok(Method::GET, &format!("/threads/{}", thread["id"]), None)
            .await;
        assert_eq!(view["solved"], false, "{view}");
        assert_eq!(view["answers"][0]["body"], "Mine is right.");

        // A Mastodon-style note mentioning the group becomes a thread with a derived title.
        let note = json!({
            "id": remote.activity_id("c3"), "type": "Create", "actor": remote.mallory(),
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [format!("{}/followers", remote.mallory()), group],
            "object": {"id": format!("{}/statuses/3", remote.mallory()), "type": "Note",
                       "attributedTo": remote.mallory(), "inReplyTo": null,
                       "to": ["https://www.w3.org/ns/activitystreams#Public"],
                       "cc": [format!("{}/followers", remote.mallory()), group],
                       "tag": [{"type": "Mention", "href": group, "name": "@rust@alpha"}],
                       "content": "<p><span class=\"h-card\"><a href=\"x\" class=\"u-url mention\">@<span>rust</span></a></span> Borrow checker and async closures?</p><p>Details &amp; more.</p>"},
        })
        .to_string()
        .into_bytes();
        let (status, err) = remote.send_as_mallory(&inbox, &note).await;
        assert_eq!(status, 202, "{err}");
        let list = alice
            .ok(Method::GET, "/communities/rust/threads?sort=new", None)
            .await;
        let made = &list["threads"][0];
        assert_eq!(
            made["title"], "Borrow checker and async closures?",
            "{list}"
        );
        assert_eq!(made["local"], false);
        assert_eq!(
            made["body"],
            "Borrow checker and async closures?\n\nDetails & more."
        );
        assert_eq!(
            made["author"],
            format!("mallory@{}", remote.base.trim_start_matches("http://"))
        );

        // An admin blocks the sender's domain: its activities get 403 before anything is
        // fetched, and nothing is fetched from it.
        let root = alpha.admin("root").await.expect("admin");
        let (status, body) = root
            .call(
                Method::PUT,
                "/admin/federation/blocks/localhost",
                Some(json!({"reason": "test"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let fetches_before = remote.actor_fetches.load(Ordering::SeqCst);
        let blocked = follow("f9").to_string().into_bytes();
        let (status, err) = remote.send_as_mallory(&inbox, &blocked).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (403, Some("domain_blocked"))
        );
        let (status, err) = alice
            .get(&format!("/resolve?q={}/u/eve", remote.base))
            .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (403, Some("url_refused")),
            "{err}"
        );
        assert_eq!(remote.actor_fetches.load(Ordering::SeqCst), fetches_before);
        let (status, _) = alice
            .call(
                Method::PUT,
                "/admin/federation/blocks/localhost",
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 403, "members do not block domains");
        let (status, _) = root
            .call(Method::DELETE, "/admin/federation/blocks/localhost", None)
            .await;
        assert_eq!(status, 204);

        alpha.stop().await.expect("alpha stops");
    }
}

/// The wire shapes a follower receives from a Lyceum group (spec §6.1, §6.3): the Accept
/// embedding the Follow as sent, `Announce(Create(Page))` plus the bare `Announce(Page)` for
/// Mastodon, and a member's activity announced with every field kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_sends_followers_the_fep_1b12_shapes() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let (remote, accept) = mallory_follows_rust(&alpha, &alice).await;
        let inbox = alpha.url("/inbox");
        let group = alpha.url("/c/rust");
        let public = "https://www.w3.org/ns/activitystreams#Public";
        assert_eq!(accept["actor"], group);
        assert_eq!(accept["to"], json!([remote.mallory()]));
        assert_eq!(
            accept["object"]["id"],
            remote.activity_id("follow"),
            "the Follow as sent"
        );
        assert_eq!(accept["object"]["actor"], remote.mallory());

        let asked = alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "A question", "body": "Body *text*"})),
            )
            .await;
        let page_id = asked["ap_id"].as_str().expect("ap_id").to_owned();
        let wrapped = remote
            .wait_for("Announce(Create(Page))", |path, b| {
                path == "/inbox" && b["type"] == "Announce" && b["object"]["type"] == "Create"
            })
            .await;
        assert_eq!(wrapped["actor"], group);
        assert_eq!(wrapped["to"], json!([group, public]));
        assert_eq!(wrapped["cc"], json!([format!("{group}/followers")]));
        let page = &wrapped["object"]["object"];
        assert_eq!(page["type"], "Page");
        assert_eq!(page["id"], page_id);
        assert_eq!(page["name"], "A question");
        assert_eq!(page["audience"], group);
        assert_eq!(page["source"]["content"], "Body *text*");
        assert!(
            page["tag"]
                .as_array()
                .expect("tags")
                .iter()
                .any(|t| t["type"] == "Mention" && t["href"] == group)
        );
        assert_eq!(wrapped["object"]["actor"], alpha.url("/u/alice"));
        let bare = remote
            .wait_for("Announce(Page)", |path, b| {
                path == "/inbox" && b["type"] == "Announce" && b["object"]["type"] == "Page"
            })
            .await;
        assert_eq!(bare["object"]["id"], page_id);
        assert_ne!(bare["id"], wrapped["id"]);

        // Mallory replies with a field nobody defines: the group's Announce keeps it.
        let reply = json!({
            "id": remote.activity_id("reply"), "type": "Create", "actor": remote.mallory(),
            "to": [public], "cc": [group], "x-unknown-extension": {"kept": true},
            "object": {"id": format!("{}/r/9", remote.base), "type": "Note",
                       "attributedTo": remote.mallory(), "inReplyTo": page_id,
                       "content": "<p>An answer</p>", "to": [public], "cc": [group]},
        });
        let body = reply.to_string().into_bytes();
        let (status, err) = remote.send_as_mallory(&inbox, &body).await;
        assert_eq!(status, 202, "{err}");
        let relayed = remote
            .wait_for("the announced reply", |path, b| {
                path == "/inbox"
                    && b["type"] == "Announce"
                    && b["object"]["id"] == remote.activity_id("reply")
            })
            .await;
        assert_eq!(
            relayed["object"]["x-unknown-extension"],
            json!({"kept": true})
        );
        assert_eq!(relayed["object"]["object"]["content"], "<p>An answer</p>");

        alpha.stop().await.expect("alpha stops");
    }
}

/// Alice makes the Q&A community `rust` on `alpha`; mallory, on a new fake remote, follows
/// it. Returns the remote and the Accept it received.
async fn mallory_follows_rust(
    alpha: &TestInstance,
    alice: &federation_tests::Member,
) -> (FakeRemote, Value) {
    alice.create_community("rust", "Rust", "qa").await;
    let remote = FakeRemote::start().await;
    let group = alpha.url("/c/rust");
    let follow = json!({"id": remote.activity_id("follow"), "type": "Follow",
                        "actor": remote.mallory(), "object": group, "to": [group]});
    let (status, _) = remote
        .send_as_mallory(&alpha.url("/inbox"), follow.to_string().as_bytes())
        .await;
    assert_eq!(status, 202);
    let accept = remote
        .wait_for("the Accept", |path, b| {
            path == "/u/mallory/inbox" && b["type"] == "Accept"
        })
        .await;
    (remote, accept)
}

/// Issue #6: deliveries to an instance marked dead are kept but not attempted, and the
/// first activity it sends us revives it and releases them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instance_is_revived_by_an_activity_it_sends() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let admin = alpha.admin("root").await.expect("admin");
        let (remote, _) = mallory_follows_rust(&alpha, &alice).await;
        let inbox = alpha.url("/inbox");

        // Days of silence cannot pass in a test: mark the remote dead as the worker would.
        let domain = remote.base.trim_start_matches("http://").to_owned();
        let marked = alpha
            .execute_sql(&format!(
                "UPDATE instances SET dead_since = '2026-01-01 00:00:00' WHERE domain = '{domain}'"
            ))
            .await;
        assert_eq!(marked, 1);
        let asked = alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "Held back", "body": "until the remote answers"})),
            )
            .await;
        let page_id = asked["ap_id"].as_str().expect("ap_id").to_owned();
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let announced =
            |b: &Value| b["type"] == "Announce" && b["object"]["object"]["id"] == page_id;
        assert!(
            !remote
                .received
                .lock()
                .expect("lock")
                .iter()
                .any(|(_, b)| announced(b)),
            "nothing is sent to a dead instance"
        );
        let status_of = |rows: &Value| {
            rows.as_array()
                .expect("rows")
                .iter()
                .find(|r| r["domain"] == domain)
                .cloned()
                .expect("the remote is listed")
        };
        let rows = admin
            .ok(Method::GET, "/admin/federation/instances", None)
            .await;
        let row = status_of(&rows);
        assert!(!row["dead_since"].is_null(), "{row}");
        assert!(
            row["pending"].as_i64() >= Some(1),
            "kept, not dropped: {row}"
        );

        // Mallory likes the question: an activity from the dead instance revives it.
        let like = json!({"id": remote.activity_id("like"), "type": "Like",
                          "actor": remote.mallory(), "object": page_id});
        let (status, err) = remote
            .send_as_mallory(&inbox, like.to_string().as_bytes())
            .await;
        assert_eq!(status, 202, "{err}");
        remote
            .wait_for("the held-back Announce", |path, b| {
                path == "/inbox" && announced(b)
            })
            .await;
        let rows = admin
            .ok(Method::GET, "/admin/federation/instances", None)
            .await;
        assert!(status_of(&rows)["dead_since"].is_null(), "revived");
        alpha.stop().await.expect("alpha stops");
    }
}

/// Two activities carrying the same new post, received at the same moment (a group's
/// backlog sent in parallel after an outage: the answer's parent fetched while its own
/// Create arrives), are both accepted and store the post once. On PostgreSQL the second
/// insert met the first's unique key and was answered 409, which senders take as a
/// permanent refusal (CI, 2026-12-01).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_post_arriving_twice_at_once_is_accepted_and_stored_once() {
    const POSTS: usize = 12;
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let alice = alpha.member("alice").await.expect("alice");
        let (remote, _) = mallory_follows_rust(&alpha, &alice).await;
        let inbox = alpha.url("/inbox");
        let group = alpha.url("/c/rust");
        let public = "https://www.w3.org/ns/activitystreams#Public";
        let asked = alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "Alice's question", "body": "Why?"})),
            )
            .await;
        let question = asked["ap_id"].as_str().expect("ap_id").to_owned();
        let create = |activity: String, object: Value| {
            json!({"id": activity, "type": "Create", "actor": remote.mallory(),
                   "to": [public], "cc": [group], "object": object})
            .to_string()
            .into_bytes()
        };
        for n in 0..POSTS {
            // A new thread (a note mentioning the group) and a new answer, each sent twice.
            let thread = json!({"id": remote.object_id(&format!("t{n}")), "type": "Page",
                                "attributedTo": remote.mallory(), "name": format!("Thread {n}"),
                                "audience": group, "content": "<p>Same thread.</p>",
                                "to": [public], "cc": [group]});
            let answer = json!({"id": remote.object_id(&format!("a{n}")), "type": "Note",
                                "attributedTo": remote.mallory(), "inReplyTo": question,
                                "content": format!("<p>Answer {n}.</p>"),
                                "to": [public], "cc": [group]});
            for (kind, object) in [("thread", thread), ("answer", answer)] {
                let first = create(remote.activity_id(&format!("{kind}{n}-1")), object.clone());
                let second = create(remote.activity_id(&format!("{kind}{n}-2")), object);
                let (one, two) = tokio::join!(
                    remote.send_as_mallory(&inbox, &first),
                    remote.send_as_mallory(&inbox, &second)
                );
                assert_eq!(
                    (one.0, two.0),
                    (202, 202),
                    "{kind} {n}: {} {}",
                    one.1,
                    two.1
                );
            }
        }
        let view = alice
            .ok(Method::GET, &format!("/threads/{}", asked["id"]), None)
            .await;
        assert_eq!(
            view["answers"].as_array().map(Vec::len),
            Some(POSTS),
            "each answer stored once: {view}"
        );
        let list = alice
            .ok(Method::GET, "/communities/rust/threads?limit=50", None)
            .await;
        assert_eq!(
            list["threads"].as_array().map(Vec::len),
            Some(POSTS + 1),
            "each thread stored once: {list}"
        );

        alpha.stop().await.expect("alpha stops");
    }
}
