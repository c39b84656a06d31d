//! Cases 1–10, 16 and 20: what the inbox refuses, and what repeats or arrives out of order.
//!
//! Every case runs against a real instance, `alpha`, where alice asked a question in the
//! Q&A community `rust`; the attacker is a hand-made remote (`federation_tests::hostile`)
//! whose people sign with their own keys. Each refusal is checked three ways: the status,
//! the error code, and that nothing changed (the member count or the thread's answers).

use federation_tests::hostile::{
    FakeRemote, SIGNED_HEADERS, Signature, post_raw, post_signed, send,
};
use federation_tests::{Backend, Member, TestInstance, backends};
use reqwest::Method;
use serde_json::{Value, json};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// alpha with alice's question in `rust`, and a fresh hostile remote.
struct Scene {
    alpha: TestInstance,
    alice: Member,
    /// Alice's thread as the API shows it.
    thread: Value,
    remote: FakeRemote,
}

impl Scene {
    async fn start(backend: Backend) -> Scene {
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
        Scene {
            alpha,
            alice,
            thread,
            remote: FakeRemote::start().await,
        }
    }

    fn inbox(&self) -> String {
        self.alpha.url("/inbox")
    }

    fn group(&self) -> String {
        self.alpha.url("/c/rust")
    }

    fn thread_ap_id(&self) -> &str {
        self.thread["ap_id"].as_str().expect("ap_id")
    }

    /// mallory's Follow of `rust`, with the activity id `n` on the remote.
    fn follow(&self, n: &str) -> Vec<u8> {
        follow_by(&self.remote, "mallory", n, &self.group())
    }

    /// A Create of an answer to alice's question: `object` is the Note's id, `author` its
    /// `attributedTo`, `actor` the activity's actor and `id` the activity's id.
    fn answer(&self, id: &str, actor: &str, object: &str, author: &str, content: &str) -> Value {
        json!({
            "id": id, "type": "Create", "actor": actor, "to": [PUBLIC], "cc": [self.group()],
            "object": {"id": object, "type": "Note", "attributedTo": author,
                       "inReplyTo": self.thread_ap_id(), "content": content, "to": [PUBLIC]},
        })
    }

    /// The members of `rust`, alice included.
    async fn members(&self) -> i64 {
        let community = self.alice.ok(Method::GET, "/communities/rust", None).await;
        community["member_count"].as_i64().expect("member_count")
    }

    /// Alice's thread as the API shows it now.
    async fn thread_now(&self) -> Value {
        self.alice
            .ok(
                Method::GET,
                &format!("/threads/{}", self.thread["id"]),
                None,
            )
            .await
    }

    /// The bodies of the thread's answers, oldest first.
    async fn answers(&self) -> Vec<String> {
        let view = self.thread_now().await;
        view["answers"]
            .as_array()
            .expect("answers")
            .iter()
            .map(|a| a["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    async fn stop(self) {
        self.alpha.stop().await.expect("alpha stops");
    }
}

fn follow_by(remote: &FakeRemote, who: &str, n: &str, group: &str) -> Vec<u8> {
    json!({"id": remote.activity_id(n), "type": "Follow", "actor": remote.person(who), "object": group})
        .to_string()
        .into_bytes()
}

fn bytes(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// (status, error code) of an answer.
fn refusal(answer: &(u16, Value)) -> (u16, Option<&str>) {
    (answer.0, answer.1["error"]["code"].as_str())
}

const JSON_TYPE: (&str, &str) = ("content-type", "application/activity+json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_01_unsigned_inbox_post_is_refused_without_fetching_the_actor() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let answer = post_raw(&s.inbox(), &[JSON_TYPE], s.follow("f1")).await;
        assert_eq!(refusal(&answer), (401, Some("signature_required")));
        assert_eq!(s.remote.fetches(), 0, "the claimed actor is not fetched");
        assert_eq!(s.members().await, 1, "mallory did not join");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_02_a_body_changed_after_signing_is_refused() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let mallory = s.remote.mallory();
        // Signed (and digested) for one Follow, sent with another body.
        let answer = post_signed(
            &s.inbox(),
            s.remote.key("mallory"),
            &mallory,
            &s.follow("f1"),
            s.follow("f2"),
        )
        .await;
        assert_eq!(refusal(&answer), (401, Some("digest_invalid")));
        assert_eq!(s.members().await, 1, "mallory did not join");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_03_a_digest_left_out_of_the_signed_headers_is_refused() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let mallory = s.remote.mallory();
        // The Digest header is sent and matches, but the signature does not cover it: a
        // man in the middle could swap body and Digest together.
        let unsigned_digest: Vec<&str> = SIGNED_HEADERS
            .into_iter()
            .filter(|h| *h != "digest")
            .collect();
        let answer = Signature::new(s.remote.key("mallory"), &mallory)
            .covering(&unsigned_digest)
            .post(&s.inbox(), s.follow("f1"))
            .await;
        assert_eq!(refusal(&answer), (401, Some("signature_invalid")));
        assert_eq!(s.members().await, 1, "mallory did not join");
        // The same hand-made signature covering the Digest is accepted: the refusal above
        // is for the Digest alone.
        let answer = Signature::new(s.remote.key("mallory"), &mallory)
            .post(&s.inbox(), s.follow("f2"))
            .await;
        assert_eq!(answer.0, 202, "{}", answer.1);
        assert_eq!(s.members().await, 2, "mallory joined");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_04_a_request_signed_with_someone_elses_key_is_refused() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let (mallory, eve) = (s.remote.mallory(), s.remote.person("eve"));
        let body = s.follow("f1");
        // Eve's key, with a keyId claiming mallory's key.
        let answer = post_signed(
            &s.inbox(),
            s.remote.key("eve"),
            &mallory,
            &body,
            body.clone(),
        )
        .await;
        assert_eq!(refusal(&answer), (401, Some("signature_invalid")));
        // Eve's key under her own keyId, for an activity whose actor is mallory.
        let answer = post_signed(&s.inbox(), s.remote.key("eve"), &eve, &body, body.clone()).await;
        assert_eq!(refusal(&answer), (401, Some("signature_invalid")));
        assert_eq!(s.members().await, 1, "nobody joined");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_05_a_key_on_one_host_cannot_speak_for_another_host() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let x = &s.remote;
        let y = FakeRemote::start().await;
        let inbox = s.inbox();

        // X's mallory signs a Follow by Y's mallory (activity and actor on Y).
        let on_y = follow_by(&y, "mallory", "f1", &s.group());
        let answer = post_signed(&inbox, x.key("mallory"), &x.mallory(), &on_y, on_y.clone()).await;
        assert_eq!(refusal(&answer), (401, Some("signature_invalid")));
        assert_eq!(s.members().await, 1, "Y's mallory did not join");

        // X's mallory, properly signed, with an activity id on another host.
        let forged = json!({"id": y.activity_id("f2"), "type": "Follow",
                            "actor": x.mallory(), "object": s.group()});
        let answer = x.send_as_mallory(&inbox, &bytes(&forged)).await;
        assert_eq!(refusal(&answer), (400, Some("origin_mismatch")));
        assert_eq!(s.members().await, 1, "X's mallory did not join");

        // Y's eve answers; X's mallory then edits eve's answer, an object on Y.
        let eves = y.object_id("1");
        let created = s.answer(
            &y.activity_id("c1"),
            &y.person("eve"),
            &eves,
            &y.person("eve"),
            "<p>Eve's.</p>",
        );
        let answer = y.send_as("eve", &inbox, &bytes(&created)).await;
        assert_eq!(answer.0, 202, "{}", answer.1);
        let mut update = s.answer(
            &x.activity_id("u1"),
            &x.mallory(),
            &eves,
            &y.person("eve"),
            "<p>Mallory's now.</p>",
        );
        update["type"] = json!("Update");
        let answer = x.send_as_mallory(&inbox, &bytes(&update)).await;
        assert_eq!(refusal(&answer), (403, Some("origin_mismatch")));
        assert_eq!(s.answers().await, ["Eve's."]);
        s.stop().await;
    }
}

/// The window is `SIGNATURE_DATE_WINDOW` in `src/federation/inbox.rs`: the signed Date may
/// be at most one hour old (also the library's `EXPIRES_AFTER`) and at most one hour ahead
/// (as Mastodon; the library checked nothing ahead), and the signature must cover it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_06_a_signature_dated_outside_the_window_is_refused() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let mallory = s.remote.mallory();
        let eve = s.remote.person("eve");
        let signed = |who: &str, owner: &str, minutes: i64| {
            Signature::new(s.remote.key(who), owner).dated(chrono::Duration::minutes(minutes))
        };
        for (minutes, n) in [(-13 * 60, "f1"), (61, "f2"), (365 * 24 * 60, "f3")] {
            let answer = signed("mallory", &mallory, minutes)
                .post(&s.inbox(), s.follow(n))
                .await;
            assert_eq!(
                refusal(&answer),
                (401, Some("signature_out_of_window")),
                "dated {minutes} minutes from now"
            );
        }
        // A Date that is sent but not signed could be changed by whoever replays.
        let no_date: Vec<&str> = SIGNED_HEADERS
            .into_iter()
            .filter(|h| *h != "date")
            .collect();
        let answer = signed("mallory", &mallory, 0)
            .covering(&no_date)
            .post(&s.inbox(), s.follow("f4"))
            .await;
        assert_eq!(refusal(&answer), (401, Some("signature_date_unsigned")));
        assert_eq!(s.members().await, 1, "nothing refused had an effect");

        // Clocks five minutes apart either way are fine.
        let answer = signed("mallory", &mallory, -5)
            .post(&s.inbox(), s.follow("f5"))
            .await;
        assert_eq!(answer.0, 202, "{}", answer.1);
        let eves = follow_by(&s.remote, "eve", "f6", &s.group());
        let answer = signed("eve", &eve, 5).post(&s.inbox(), eves).await;
        assert_eq!(answer.0, 202, "{}", answer.1);
        assert_eq!(s.members().await, 3, "mallory and eve joined");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_07_a_replayed_request_has_one_effect() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let mallory = s.remote.mallory();
        let inbox = s.inbox();
        // Mallory joins, and the very same request (signature and all) is sent again.
        let follow = s.follow("f1");
        let captured = Signature::new(s.remote.key("mallory"), &mallory).headers(&inbox, &follow);
        for _ in 0..2 {
            let answer = send(&inbox, &captured, follow.clone()).await;
            assert_eq!(answer.0, 202, "{}", answer.1);
        }
        assert_eq!(s.members().await, 2, "mallory joined once");
        // She leaves; replaying her Follow within the signature's hour does not bring her
        // back, as the activity id was seen.
        let undo = json!({"id": s.remote.activity_id("undo-f1"), "type": "Undo", "actor": mallory,
                          "object": serde_json::from_slice::<Value>(&follow).expect("json")});
        let answer = s.remote.send_as_mallory(&inbox, &bytes(&undo)).await;
        assert_eq!(answer.0, 202, "{}", answer.1);
        assert_eq!(s.members().await, 1, "mallory left");
        let answer = send(&inbox, &captured, follow.clone()).await;
        assert_eq!(answer.0, 202, "a repeat is acknowledged: {}", answer.1);
        assert_eq!(s.members().await, 1, "the replay had no effect");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_08_a_create_of_an_object_from_another_host_is_refused() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let r = &s.remote;
        let inbox = s.inbox();
        // The Note's id is on another host than its actor.
        let elsewhere = s.answer(
            &r.activity_id("c1"),
            &r.mallory(),
            "http://localhost:1/r/1",
            &r.mallory(),
            "hi",
        );
        let answer = r.send_as_mallory(&inbox, &bytes(&elsewhere)).await;
        assert_eq!(refusal(&answer), (403, Some("origin_mismatch")));
        // The Note is on the actor's host, but attributed to alice on alpha.
        let alice = s.alpha.url("/u/alice");
        let misattributed = s.answer(
            &r.activity_id("c4"),
            &r.mallory(),
            &r.object_id("4"),
            &alice,
            "in alice's name",
        );
        let answer = r.send_as_mallory(&inbox, &bytes(&misattributed)).await;
        assert_eq!(refusal(&answer), (403, Some("origin_mismatch")));
        assert_eq!(
            s.answers().await,
            Vec::<String>::new(),
            "nothing was stored"
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_09_update_or_delete_of_someone_elses_object_is_refused() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let r = &s.remote;
        let inbox = s.inbox();
        let update = json!({
            "id": r.activity_id("u1"), "type": "Update", "actor": r.mallory(),
            "to": [PUBLIC], "cc": [s.group()],
            "object": {"id": s.thread_ap_id(), "type": "Page", "attributedTo": r.mallory(),
                       "name": "Hijacked", "content": "x", "to": [s.group(), PUBLIC]},
        });
        let answer = r.send_as_mallory(&inbox, &bytes(&update)).await;
        assert_eq!(refusal(&answer), (403, Some("origin_mismatch")));
        let delete = json!({
            "id": r.activity_id("d1"), "type": "Delete", "actor": r.mallory(),
            "to": [s.group(), PUBLIC], "cc": [s.group()], "object": s.thread_ap_id(),
        });
        let answer = r.send_as_mallory(&inbox, &bytes(&delete)).await;
        assert_eq!(refusal(&answer), (403, Some("not_allowed")));
        let kept = s.thread_now().await;
        assert_eq!(kept["title"], "Alice's question");
        assert_eq!(kept["body"], "Mine.");
        assert_eq!(kept["deleted"], false);
        s.stop().await;
    }
}

/// A group alice follows announces a reply into *alpha's* community: refused, since a
/// group only vouches for activities about its own content (spec §6.1 rule 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_10_a_group_announcing_another_groups_activity_is_refused() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let r = &s.remote;
        let evil = r.group();
        let resolved = s
            .alice
            .ok(Method::GET, &format!("/resolve?q={evil}"), None)
            .await;
        assert_eq!(resolved["type"], "community", "{resolved}");
        let handle = resolved["handle"].as_str().expect("handle").to_owned();
        s.alice
            .ok(Method::POST, &format!("/communities/{handle}/follow"), None)
            .await;
        let mut create = s.answer(
            &r.activity_id("c2"),
            &r.mallory(),
            &r.object_id("2"),
            &r.mallory(),
            "smuggled",
        );
        create["cc"] = json!([evil]);
        let announce = json!({
            "id": r.activity_id("a1"), "type": "Announce", "actor": evil,
            "to": [PUBLIC], "cc": [format!("{evil}/followers")], "object": create,
        });
        let answer = r.send_as("evil", &s.inbox(), &bytes(&announce)).await;
        assert_eq!(refusal(&answer), (403, Some("wrong_group")));
        assert_eq!(
            s.answers().await,
            Vec::<String>::new(),
            "nothing was smuggled in"
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_16_oversized_and_deeply_nested_bodies_are_refused() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let inbox = s.inbox();
        let limit = 1024 * 1024;
        let answer = post_raw(&inbox, &[JSON_TYPE], vec![b' '; limit + 1]).await;
        assert_eq!(refusal(&answer), (413, Some("payload_too_large")));
        // At the limit the size is fine and the JSON is what is wrong.
        let answer = post_raw(&inbox, &[JSON_TYPE], vec![b' '; limit]).await;
        assert_eq!(refusal(&answer), (400, Some("invalid_json")));
        let answer = post_raw(&inbox, &[JSON_TYPE], b"{not json".to_vec()).await;
        assert_eq!(refusal(&answer), (400, Some("invalid_json")));
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let deep = format!("{}{}{}", open.repeat(10_000), "0", close.repeat(10_000));
            let answer = post_raw(&inbox, &[JSON_TYPE], deep.into_bytes()).await;
            assert_eq!(refusal(&answer), (400, Some("invalid_json")), "{open}");
        }
        // The server did not fall over: a proper activity still has its effect.
        let answer = s.remote.send_as_mallory(&inbox, &s.follow("f1")).await;
        assert_eq!(answer.0, 202, "{}", answer.1);
        assert_eq!(s.members().await, 2, "mallory joined");
        s.stop().await;
    }
}

/// Update before Create: the Update stores the post, and the older Create that follows
/// changes nothing (remote posts only move to newer `updated` times, as Lemmy does).
/// Delete before Create: the Delete of an object we do not have is remembered, and the
/// Create arriving later is ignored, as Mastodon does (`delete_arrived_first?`); Lemmy
/// would show the deleted post for good. Five copies of one signed Create at once: one
/// answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_20_out_of_order_and_repeated_arrivals_end_in_one_correct_state() {
    for backend in backends() {
        let s = Scene::start(backend).await;
        let r = &s.remote;
        let inbox = s.inbox();
        let mallory = r.mallory();

        let edited = r.object_id("edited");
        let mut create = s.answer(
            &r.activity_id("c1"),
            &mallory,
            &edited,
            &mallory,
            "<p>First.</p>",
        );
        create["object"]["published"] = json!("2026-01-01T00:00:00Z");
        let mut update = s.answer(
            &r.activity_id("u1"),
            &mallory,
            &edited,
            &mallory,
            "<p>Edited.</p>",
        );
        update["type"] = json!("Update");
        update["object"]["published"] = json!("2026-01-01T00:00:00Z");
        update["object"]["updated"] = json!("2026-01-02T00:00:00Z");
        for activity in [&update, &create] {
            let answer = r.send_as_mallory(&inbox, &bytes(activity)).await;
            assert_eq!(answer.0, 202, "{}", answer.1);
        }
        assert_eq!(s.answers().await, ["Edited."]);

        let gone = r.object_id("gone");
        let delete = json!({"id": r.activity_id("d1"), "type": "Delete", "actor": mallory,
                            "to": [PUBLIC], "cc": [s.group()], "object": gone});
        let create = s.answer(
            &r.activity_id("c2"),
            &mallory,
            &gone,
            &mallory,
            "<p>Regretted.</p>",
        );
        for activity in [&delete, &create] {
            let answer = r.send_as_mallory(&inbox, &bytes(activity)).await;
            assert_eq!(answer.0, 202, "{}", answer.1);
        }
        assert_eq!(
            s.answers().await,
            ["Edited."],
            "the deleted answer never appears"
        );

        let body = bytes(&s.answer(
            &r.activity_id("c3"),
            &mallory,
            &r.object_id("once"),
            &mallory,
            "<p>Once.</p>",
        ));
        let headers = Signature::new(r.key("mallory"), &mallory).headers(&inbox, &body);
        let copies = (0..5).map(|_| {
            let (inbox, headers, body) = (inbox.clone(), headers.clone(), body.clone());
            async move { send(&inbox, &headers, body).await }
        });
        let answers = futures_join_all(copies).await;
        for answer in &answers {
            assert_eq!(answer.0, 202, "{answers:?}");
        }
        assert_eq!(s.answers().await, ["Edited.", "Once."]);
        let view = s.thread_now().await;
        assert_eq!(view["answer_count"], 2, "{view}");
        s.stop().await;
    }
}

/// Runs the futures at once on the runtime's workers; their outputs in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(task.await.expect("task"));
    }
    outputs
}
