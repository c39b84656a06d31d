//! Two real instances follow each other's communities and exchange threads, answers,
//! votes, accepted answers, edits and deletes, each side driven only through its HTTP API.

use std::time::Duration;

use federation_tests::{
    Backend, Member, TestInstance, backends, eventually, eventually_within, follow_remote,
    thread_by_ap_id, thread_by_ap_id_within,
};

/// A delivery that failed is retried after about 10 s, then 20 s (with jitter): enough
/// for an instance that was down for a few seconds to get everything.
const RESTART_PATIENCE: Duration = Duration::from_secs(90);
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_exchange_a_whole_question() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = beta.member("bob").await.expect("bob");

        // Each instance has a community; each member follows the other's.
        alice.create_community("rust", "Rust help", "qa").await;
        bob.create_community("ops", "Operations", "discussion")
            .await;
        let rust_on_beta = follow_remote(&bob, "rust", &alpha).await;
        let ops_on_alpha = follow_remote(&alice, "ops", &beta).await;
        let group = alice.ok(Method::GET, "/communities/rust", None).await;
        assert_eq!(group["member_count"], 2, "alice and bob: {group}");

        // A question on alpha reaches beta.
        let asked = alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "Is tokio::spawn inside a transaction safe?", "body": "I hold a **connection**.", "tags": ["tokio", "diesel"]})),
            )
            .await;
        let thread_ap_id = asked["ap_id"].as_str().expect("ap_id").to_owned();
        let on_beta = thread_by_ap_id(&bob, &rust_on_beta, &thread_ap_id).await;
        assert_eq!(on_beta["local"], false);
        assert_eq!(
            on_beta["title"],
            "Is tokio::spawn inside a transaction safe?"
        );
        assert_eq!(on_beta["body"], "I hold a **connection**.");
        assert_eq!(on_beta["kind"], "question");
        assert_eq!(on_beta["community"], rust_on_beta);
        assert_eq!(on_beta["author"], format!("alice@{}", alpha.domain()));
        let mut tags: Vec<&str> = on_beta["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        tags.sort();
        assert_eq!(tags, ["diesel", "tokio"]);
        let beta_thread_id = on_beta["id"].as_i64().expect("id");
        let alpha_thread_id = asked["id"].as_i64().expect("id");
        // Federated content is indexed as it arrives: beta's search finds alpha's thread.
        eventually(
            &bob,
            "/search?q=connection",
            "alpha's thread found by beta's search",
            |r| r["results"][0]["thread"]["id"] == beta_thread_id,
        )
        .await;
        // Narrowed to where it came from and who wrote it, it is still found on beta;
        // narrowed to beta itself, it is not.
        let alice_handle = format!("alice@{}", alpha.domain());
        for (filter, expected) in [
            (format!("instance={}", alpha.domain()), 1),
            (format!("author={alice_handle}"), 1),
            (format!("instance={}", beta.domain()), 0),
        ] {
            let (status, found) = bob.get(&format!("/search?q=connection&{filter}")).await;
            assert_eq!(status, 200, "{filter}: {found}");
            assert_eq!(
                found["total"], expected,
                "beta's search with {filter}: {found}"
            );
        }

        // Bob answers on beta; the answer reaches alpha through alpha's group.
        let answered = bob
            .ok(
                Method::POST,
                &format!("/threads/{beta_thread_id}/answers"),
                Some(json!({"body": "Only with `spawn_blocking`."})),
            )
            .await;
        let answer_ap_id = answered["ap_id"].as_str().expect("ap_id").to_owned();
        let thread_on_alpha = eventually(
            &alice,
            &format!("/threads/{alpha_thread_id}"),
            "the answer arrives",
            // The view reads the thread row and its answers in two statements, so for a
            // moment the answer may show before the count does.
            |t| {
                t["answer_count"] == 1
                    && t["answers"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x["ap_id"] == answer_ap_id))
            },
        )
        .await;
        let answer_on_alpha = &thread_on_alpha["answers"][0];
        assert_eq!(answer_on_alpha["local"], false);
        assert_eq!(answer_on_alpha["body"], "Only with `spawn_blocking`.");
        assert_eq!(answer_on_alpha["author"], format!("bob@{}", beta.domain()));
        assert_eq!(thread_on_alpha["answer_count"], 1);
        let alpha_answer_id = answer_on_alpha["id"].as_i64().expect("id");
        let beta_answer_id = answered["id"].as_i64().expect("id");

        // Votes cross both ways: bob's on the thread, alice's on the answer.
        bob.ok(
            Method::POST,
            &format!("/threads/{beta_thread_id}/vote"),
            Some(json!({"score": 1})),
        )
        .await;
        alice
            .ok(
                Method::POST,
                &format!("/answers/{alpha_answer_id}/vote"),
                Some(json!({"score": 1})),
            )
            .await;
        eventually(
            &alice,
            &format!("/threads/{alpha_thread_id}"),
            "bob's vote counts on alpha",
            |t| t["score"] == 1,
        )
        .await;
        eventually(
            &bob,
            &format!("/threads/{beta_thread_id}"),
            "alice's vote counts on beta",
            |t| t["answers"][0]["score"] == 1,
        )
        .await;

        // Alice accepts bob's answer: solved on both; undoing it clears both; accept again.
        alice
            .ok(
                Method::POST,
                &format!("/answers/{alpha_answer_id}/accept"),
                None,
            )
            .await;
        eventually(
            &bob,
            &format!("/threads/{beta_thread_id}"),
            "solved on beta",
            |t| t["solved"] == true && t["answers"][0]["accepted"] == true,
        )
        .await;
        alice
            .ok(
                Method::DELETE,
                &format!("/answers/{alpha_answer_id}/accept"),
                None,
            )
            .await;
        eventually(
            &bob,
            &format!("/threads/{beta_thread_id}"),
            "unsolved on beta",
            |t| t["solved"] == false,
        )
        .await;

        // Edits travel: the question's title from alpha, the answer's body from beta.
        alice
            .ok(
                Method::PATCH,
                &format!("/threads/{alpha_thread_id}"),
                Some(json!({"title": "Is tokio::spawn inside a diesel transaction safe?"})),
            )
            .await;
        eventually(
            &bob,
            &format!("/threads/{beta_thread_id}"),
            "the edited title arrives",
            |t| t["title"] == "Is tokio::spawn inside a diesel transaction safe?",
        )
        .await;
        bob.ok(
            Method::PATCH,
            &format!("/answers/{beta_answer_id}"),
            Some(json!({"body": "Only with `spawn_blocking`, and never across an await."})),
        )
        .await;
        eventually(
            &alice,
            &format!("/threads/{alpha_thread_id}"),
            "the edited answer arrives",
            |t| t["answers"][0]["body"] == "Only with `spawn_blocking`, and never across an await.",
        )
        .await;
        // The index follows the edit of beta's answer on alpha.
        let (_, found) = alice.get("/search?q=never%20across").await;
        assert_eq!(
            found["results"][0]["thread"]["id"], alpha_thread_id,
            "bob's edited answer found by alpha's search: {found}"
        );
        assert!(found["results"][0]["answer_id"].is_i64(), "{found}");

        // The other direction: a thread in beta's community from alice on alpha.
        let posted = alice
            .ok(
                Method::POST,
                &format!("/communities/{ops_on_alpha}/threads"),
                Some(
                    json!({"title": "Rotating TLS certificates without downtime", "body": "How?"}),
                ),
            )
            .await;
        assert_eq!(posted["local"], true);
        let ops_thread_ap_id = posted["ap_id"].as_str().expect("ap_id").to_owned();
        let ops_on_beta = thread_by_ap_id(&bob, "ops", &ops_thread_ap_id).await;
        assert_eq!(ops_on_beta["local"], false);
        assert_eq!(ops_on_beta["author"], format!("alice@{}", alpha.domain()));

        // Deletes leave tombstones on the other side.
        bob.ok(Method::DELETE, &format!("/answers/{beta_answer_id}"), None)
            .await;
        eventually(
            &alice,
            &format!("/threads/{alpha_thread_id}"),
            "the answer is deleted on alpha",
            |t| t["answers"][0]["deleted"] == true && t["answer_count"] == 0,
        )
        .await;
        alice
            .ok(Method::DELETE, &format!("/threads/{alpha_thread_id}"), None)
            .await;
        eventually(
            &bob,
            &format!("/threads/{beta_thread_id}"),
            "the thread is deleted on beta",
            |t| t["deleted"] == true,
        )
        .await;
        let (_, found) = bob.get("/search?q=connection").await;
        assert_eq!(
            found["results"],
            json!([]),
            "a thread deleted at its origin is not found on beta"
        );

        // Leaving a remote community.
        let (status, _) = bob
            .call(
                Method::DELETE,
                &format!("/communities/{rust_on_beta}/follow"),
                None,
            )
            .await;
        assert!((200..300).contains(&status));
        eventually(&alice, "/communities/rust", "bob left", |c| {
            c["member_count"] == 1
        })
        .await;
        // Beta has no follower left in alpha's community: a new question is not sent there.
        let root = alpha.admin("root").await.expect("admin");
        let before = root.deliveries_listed_for(beta.domain()).await;
        alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "After bob left", "body": "Only for alpha."})),
            )
            .await;
        assert_eq!(
            root.deliveries_listed_for(beta.domain()).await,
            before,
            "nothing more is queued for beta after its only follower left"
        );

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
    }
}

/// Three instances: alice on alpha has a Q&A community `rust`, followed by bob from beta and
/// carol from gamma (their handles for it in `rust_on_beta`, `rust_on_gamma`).
struct Trio {
    alpha: TestInstance,
    beta: TestInstance,
    gamma: TestInstance,
    alice: Member,
    bob: Member,
    carol: Member,
    rust_on_beta: String,
    rust_on_gamma: String,
}

impl Trio {
    async fn start(backend: Backend) -> Trio {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let gamma = TestInstance::start("gamma", backend).await.expect("gamma");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = beta.member("bob").await.expect("bob");
        let carol = gamma.member("carol").await.expect("carol");
        alice.create_community("rust", "Rust help", "qa").await;
        let rust_on_beta = follow_remote(&bob, "rust", &alpha).await;
        let rust_on_gamma = follow_remote(&carol, "rust", &alpha).await;
        Trio {
            alpha,
            beta,
            gamma,
            alice,
            bob,
            carol,
            rust_on_beta,
            rust_on_gamma,
        }
    }
}

/// FEP-1b12 relaying: what beta's member posts into alpha's community reaches gamma through
/// alpha's Announce (gamma fetches the thread from beta, its origin), gamma's answer reaches
/// beta the same way, and votes from two instances add up on all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_relays_members_activity_to_every_follower_instance() {
    for backend in backends() {
        let Trio {
            alpha,
            beta,
            gamma,
            alice,
            bob,
            carol,
            rust_on_beta,
            rust_on_gamma,
        } = Trio::start(backend).await;

        let posted = bob
            .ok(
                Method::POST,
                &format!("/communities/{rust_on_beta}/threads"),
                Some(
                    json!({"title": "Why does my future not run?", "body": "It is never awaited."}),
                ),
            )
            .await;
        let ap_id = posted["ap_id"].as_str().expect("ap_id").to_owned();
        let on_gamma = thread_by_ap_id(&carol, &rust_on_gamma, &ap_id).await;
        assert_eq!(on_gamma["author"], format!("bob@{}", beta.domain()));
        assert_eq!(on_gamma["body"], "It is never awaited.");
        let on_alpha = thread_by_ap_id(&alice, "rust", &ap_id).await;
        let gamma_id = on_gamma["id"].as_i64().expect("id");
        let alpha_id = on_alpha["id"].as_i64().expect("id");
        let beta_id = posted["id"].as_i64().expect("id");

        let answered = carol
            .ok(
                Method::POST,
                &format!("/threads/{gamma_id}/answers"),
                Some(json!({"body": "Futures are lazy: `.await` it."})),
            )
            .await;
        let answer_ap_id = answered["ap_id"].as_str().expect("ap_id").to_owned();
        let has_answer = |t: &Value| {
            t["answers"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["ap_id"] == answer_ap_id))
        };
        eventually(
            &bob,
            &format!("/threads/{beta_id}"),
            "carol's answer reaches beta",
            has_answer,
        )
        .await;
        eventually(
            &alice,
            &format!("/threads/{alpha_id}"),
            "carol's answer reaches alpha",
            has_answer,
        )
        .await;
        let everywhere = [
            (&alice, alpha_id, "alpha"),
            (&bob, beta_id, "beta"),
            (&carol, gamma_id, "gamma"),
        ];

        // A nested discussion under carol's answer: bob (beta) replies to it, and carol
        // (gamma) replies to bob; both sit in place on all three instances.
        let on_beta = bob
            .ok(Method::GET, &format!("/threads/{beta_id}"), None)
            .await;
        let carol_answer_on_beta = on_beta["answers"][0]["id"].as_i64().expect("answer id");
        let bob_reply = bob
            .ok(
                Method::POST,
                &format!("/threads/{beta_id}/answers"),
                Some(json!({"body": "Even inside `select!`?", "parent_id": carol_answer_on_beta})),
            )
            .await;
        let bob_reply_ap_id = bob_reply["ap_id"].as_str().expect("ap_id").to_owned();
        let on_gamma = eventually(
            &carol,
            &format!("/threads/{gamma_id}"),
            "bob's reply under carol's answer",
            |t| t["answers"][0]["children"][0]["ap_id"] == bob_reply_ap_id.as_str(),
        )
        .await;
        let bob_reply_on_gamma = on_gamma["answers"][0]["children"][0]["id"]
            .as_i64()
            .expect("reply id");
        let carol_reply = carol
            .ok(
                Method::POST,
                &format!("/threads/{gamma_id}/answers"),
                Some(json!({"body": "Yes: each branch is a future.", "parent_id": bob_reply_on_gamma})),
            )
            .await;
        let carol_reply_ap_id = carol_reply["ap_id"].as_str().expect("ap_id").to_owned();
        for (member, id, name) in everywhere {
            eventually(
                member,
                &format!("/threads/{id}"),
                &format!("answer, reply and reply to the reply nested on {name}"),
                |t| {
                    let reply = &t["answers"][0]["children"][0];
                    t["answers"][0]["ap_id"] == answer_ap_id.as_str()
                        && reply["ap_id"] == bob_reply_ap_id.as_str()
                        && reply["children"][0]["ap_id"] == carol_reply_ap_id.as_str()
                },
            )
            .await;
        }

        // alice (alpha) and carol (gamma) upvote bob's question: 2 on every instance.
        alice
            .ok(
                Method::POST,
                &format!("/threads/{alpha_id}/vote"),
                Some(json!({"score": 1})),
            )
            .await;
        carol
            .ok(
                Method::POST,
                &format!("/threads/{gamma_id}/vote"),
                Some(json!({"score": 1})),
            )
            .await;
        for (member, id, name) in everywhere {
            eventually(
                member,
                &format!("/threads/{id}"),
                &format!("score 2 on {name}"),
                |t| t["score"] == 2,
            )
            .await;
        }

        // bob (beta) accepts carol's (gamma) answer: his ChooseAnswer goes to alpha's group,
        // which announces it to gamma. Solved on all three; undone on all three.
        let on_beta = bob
            .ok(Method::GET, &format!("/threads/{beta_id}"), None)
            .await;
        let answer_on_beta = on_beta["answers"][0]["id"].as_i64().expect("answer id");
        bob.ok(
            Method::POST,
            &format!("/answers/{answer_on_beta}/accept"),
            None,
        )
        .await;
        for (member, id, name) in everywhere {
            eventually(
                member,
                &format!("/threads/{id}"),
                &format!("bob's question solved by carol's answer on {name}"),
                |t| t["solved"] == true && t["answers"][0]["accepted"] == true,
            )
            .await;
        }
        bob.ok(
            Method::DELETE,
            &format!("/answers/{answer_on_beta}/accept"),
            None,
        )
        .await;
        for (member, id, name) in everywhere {
            eventually(
                member,
                &format!("/threads/{id}"),
                &format!("bob's question unsolved again on {name}"),
                |t| t["solved"] == false && t["answers"][0]["accepted"] == false,
            )
            .await;
        }

        // bob edits his question; carol edits her answer.
        bob.ok(
            Method::PATCH,
            &format!("/threads/{beta_id}"),
            Some(json!({"body": "It is never awaited, not even by `join!`."})),
        )
        .await;
        let on_gamma = carol
            .ok(Method::GET, &format!("/threads/{gamma_id}"), None)
            .await;
        let answer_on_gamma = on_gamma["answers"][0]["id"].as_i64().expect("answer id");
        carol
            .ok(
                Method::PATCH,
                &format!("/answers/{answer_on_gamma}"),
                Some(json!({"body": "Futures are lazy: poll them with `.await`."})),
            )
            .await;
        for (member, id, name) in everywhere {
            eventually(
                member,
                &format!("/threads/{id}"),
                &format!("both edits on {name}"),
                |t| {
                    t["body"] == "It is never awaited, not even by `join!`."
                        && t["answers"][0]["body"] == "Futures are lazy: poll them with `.await`."
                },
            )
            .await;
        }

        // carol deletes her answer, then bob his question: tombstones on all three.
        carol
            .ok(Method::DELETE, &format!("/answers/{answer_on_gamma}"), None)
            .await;
        for (member, id, name) in everywhere {
            eventually(
                member,
                &format!("/threads/{id}"),
                &format!("carol's answer deleted on {name}, the replies below it kept"),
                |t| {
                    t["answers"][0]["deleted"] == true
                        && t["answer_count"] == 2
                        && t["answers"][0]["children"][0]["ap_id"] == bob_reply_ap_id.as_str()
                },
            )
            .await;
        }
        bob.ok(Method::DELETE, &format!("/threads/{beta_id}"), None)
            .await;
        for (member, id, name) in everywhere {
            eventually(
                member,
                &format!("/threads/{id}"),
                &format!("bob's question deleted on {name}"),
                |t| t["deleted"] == true,
            )
            .await;
        }

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
        gamma.stop().await.expect("gamma stops");
    }
}

/// Issue #7 "restart": gamma is down while alpha posts three questions and beta answers
/// them; alpha's deliveries to gamma fail and wait; when gamma is back it receives all
/// of it, every answer under its question. The first activity gamma sends after its
/// return makes alpha send the backlog at once rather than when each backoff runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_was_down_receives_everything_when_it_returns() {
    for backend in backends() {
        let Trio {
            alpha,
            beta,
            mut gamma,
            alice,
            bob,
            carol,
            rust_on_beta,
            rust_on_gamma,
        } = Trio::start(backend).await;
        let root = alpha.admin("root").await.expect("admin");
        gamma.go_down().await.expect("gamma goes down");
        let mut questions = Vec::new();
        let mut questions_on_alpha = Vec::new();
        for n in 1..=3 {
            let posted = alice
                .ok(
                    Method::POST,
                    "/communities/rust/threads",
                    Some(json!({"title": format!("Question {n} while gamma is down"),
                                "body": format!("Body {n}.")})),
                )
                .await;
            let ap_id = posted["ap_id"].as_str().expect("ap_id").to_owned();
            questions_on_alpha.push(posted["id"].as_i64().expect("id"));
            let on_beta = thread_by_ap_id(&bob, &rust_on_beta, &ap_id).await;
            let answer = bob
                .ok(
                    Method::POST,
                    &format!("/threads/{}/answers", on_beta["id"]),
                    Some(json!({"body": format!("Answer {n} from beta.")})),
                )
                .await;
            let answer_ap_id = answer["ap_id"].as_str().expect("ap_id").to_owned();
            questions.push((ap_id, answer_ap_id));
        }
        // Alpha has tried gamma, failed, and keeps the deliveries for later.
        let gamma_row = eventually(
            &root,
            "/admin/federation/instances",
            "alpha holding its deliveries to gamma, refused while it is down, for a retry",
            |rows| {
                rows.as_array().is_some_and(|rows| {
                    rows.iter().any(|r| {
                        r["domain"] == gamma.domain()
                            && r["pending"].as_i64().unwrap_or(0) >= 6
                            && r["last_error"]
                                .as_str()
                                .is_some_and(|e| e.to_lowercase().contains("connection refused"))
                    })
                })
            },
        )
        .await;
        let alpha_saw = gamma_row
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["domain"] == gamma.domain()))
            .map(|r| r["last_error"].clone());
        eprintln!("alpha's reason for retrying gamma: {alpha_saw:?}");

        gamma.come_back().await.expect("gamma comes back");
        // carol's first act after the outage reaches alpha: alpha sees gamma is reachable
        // again and sends its backlog now instead of after the rest of its backoff.
        let first =
            thread_by_ap_id_within(&carol, &rust_on_gamma, &questions[0].0, RESTART_PATIENCE).await;
        carol
            .ok(
                Method::POST,
                &format!("/threads/{}/vote", first["id"]),
                Some(json!({"score": 1})),
            )
            .await;
        eventually_within(
            &root,
            "/admin/federation/instances",
            "alpha's queue for gamma delivered, nothing failed",
            RESTART_PATIENCE,
            |rows| {
                rows.as_array().is_some_and(|rows| {
                    rows.iter().any(|r| {
                        r["domain"] == gamma.domain() && r["pending"] == 0 && r["failed"] == 0
                    })
                })
            },
        )
        .await;
        for (question, answer) in &questions {
            let on_gamma = thread_by_ap_id(&carol, &rust_on_gamma, question).await;
            eventually(
                &carol,
                &format!("/threads/{}", on_gamma["id"]),
                &format!("beta's answer {answer} on gamma after its restart"),
                |t| {
                    t["answers"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x["ap_id"] == answer.as_str()))
                },
            )
            .await;
        }
        let voted = alice
            .ok(
                Method::GET,
                &format!("/threads/{}", questions_on_alpha[0]),
                None,
            )
            .await;
        assert_eq!(
            voted["score"], 1,
            "carol's vote from gamma counted on alpha"
        );

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
        gamma.stop().await.expect("gamma stops");
    }
}

/// An admin's domain block stops traffic both ways: nothing more is sent to the blocked
/// instance, and what it sends is refused (its own outbox records the 403 as failed).
/// Test instances all live on `localhost`, so the block names that host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_block_stops_traffic_both_ways() {
    for backend in backends() {
        let alpha = TestInstance::start("alpha", backend).await.expect("alpha");
        let beta = TestInstance::start("beta", backend).await.expect("beta");
        let alice = alpha.member("alice").await.expect("alice");
        let bob = beta.member("bob").await.expect("bob");
        let alpha_admin = alpha.admin("root").await.expect("alpha admin");
        let beta_admin = beta.admin("root").await.expect("beta admin");
        alice.create_community("rust", "Rust help", "qa").await;
        let rust_on_beta = follow_remote(&bob, "rust", &alpha).await;
        let before = alpha_admin.deliveries_listed_for(beta.domain()).await;

        let (status, body) = alpha_admin
            .call(
                Method::PUT,
                "/admin/federation/blocks/localhost",
                Some(json!({"reason": "partner left"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");

        // Alpha to beta: the new question is not even queued for beta.
        alice
            .ok(
                Method::POST,
                "/communities/rust/threads",
                Some(json!({"title": "Blocked from beta?", "body": "It should be."})),
            )
            .await;
        // Beta to alpha: bob's question into alpha's community is refused with 403.
        bob.ok(
            Method::POST,
            &format!("/communities/{rust_on_beta}/threads"),
            Some(json!({"title": "From beta", "body": "Refused at alpha's door."})),
        )
        .await;
        let refused = eventually(
            &beta_admin,
            "/admin/federation/instances",
            "beta records alpha's refusal as a failed delivery",
            |rows| {
                rows.as_array().is_some_and(|rows| {
                    rows.iter()
                        .any(|r| r["domain"] == alpha.domain() && r["failed"] == 1)
                })
            },
        )
        .await;
        assert!(
            refused
                .as_array()
                .expect("rows")
                .iter()
                .any(|r| r["domain"] == alpha.domain() && r["pending"] == 0),
            "a 403 is final, not retried: {refused}"
        );
        assert_eq!(
            alpha_admin.deliveries_listed_for(beta.domain()).await,
            before,
            "alpha queued nothing for beta after the block"
        );
        let (_, on_alpha) = alice.get("/communities/rust/threads?sort=new").await;
        let titles: Vec<&str> = on_alpha["threads"]
            .as_array()
            .expect("threads")
            .iter()
            .filter_map(|t| t["title"].as_str())
            .collect();
        assert_eq!(
            titles,
            ["Blocked from beta?"],
            "bob's thread never reached alpha"
        );
        let (_, on_beta) = bob
            .get(&format!("/communities/{rust_on_beta}/threads?sort=new"))
            .await;
        assert!(
            on_beta["threads"]
                .as_array()
                .expect("threads")
                .iter()
                .all(|t| t["title"] != "Blocked from beta?"),
            "alpha's question never reached beta: {on_beta}"
        );

        alpha.stop().await.expect("alpha stops");
        beta.stop().await.expect("beta stops");
    }
}
