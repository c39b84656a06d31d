//! A hand-made hostile remote: actors with their own keys served on loopback, inboxes that record what they are sent, and POSTs signed (or not) in every way a test needs to lie.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use activitypub_federation::http_signatures::generate_actor_keypair;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use lyceum::federation::signing::{SigningKey, digest_header, signed_post_headers};
use serde_json::{Value, json};
use url::Url;

/// The people the remote serves at `/u/{name}`, each with a key of their own.
pub const PEOPLE: [&str; 2] = ["mallory", "eve"];
/// The group the remote serves at `/c/evil`.
pub const GROUP: &str = "evil";

/// What the fake's inboxes were sent: (path, JSON body), in arrival order.
pub type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// One remote host on `http://localhost:<port>`: people (`/u/mallory`, `/u/eve`) and a
/// group (`/c/evil`) with their public keys, inboxes recording deliveries, and any
/// document a test chooses to serve.
pub struct FakeRemote {
    /// `http://localhost:<port>`, the host of every id this remote makes.
    pub base: String,
    keys: HashMap<String, SigningKey>,
    /// How many times an actor document was asked for (found or not).
    pub actor_fetches: Arc<AtomicUsize>,
    /// Everything POSTed to the remote's inboxes.
    pub received: Received,
    documents: Documents,
}

/// Documents served at a path, set by tests (`FakeRemote::serve`).
type Documents = Arc<Mutex<HashMap<String, Value>>>;

#[derive(Clone)]
struct Served {
    base: String,
    public_keys: Arc<Vec<(String, String)>>,
    fetches: Arc<AtomicUsize>,
    received: Received,
    documents: Documents,
}

async fn record(State(s): State<Served>, uri: Uri, body: axum::body::Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.received
        .lock()
        .expect("lock")
        .push((uri.path().to_owned(), value));
    StatusCode::ACCEPTED
}

async fn serve_person(State(s): State<Served>, Path(name): Path<String>) -> Response {
    actor_json(&s, "u", "Person", &name)
}

async fn serve_group(State(s): State<Served>, Path(name): Path<String>) -> Response {
    actor_json(&s, "c", "Group", &name)
}

async fn serve_document(State(s): State<Served>, uri: Uri) -> Response {
    match s.documents.lock().expect("lock").get(uri.path()) {
        Some(doc) => activity_json(doc),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn activity_json(body: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/activity+json")],
        body.to_string(),
    )
        .into_response()
}

fn actor_json(s: &Served, segment: &str, kind: &str, name: &str) -> Response {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    let Some((_, pem)) = s.public_keys.iter().find(|(n, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = format!("{}/{segment}/{name}", s.base);
    activity_json(&json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "type": kind,
        "id": id,
        "preferredUsername": name,
        "inbox": format!("{id}/inbox"),
        "endpoints": {"sharedInbox": format!("{}/inbox", s.base)},
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": pem},
    }))
}

/// A listener on a free loopback port and the `http://localhost:PORT` base URL it serves,
/// for the fake servers of the tests (instances in `federation.debug` accept `localhost`).
pub async fn loopback_listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let base = format!(
        "http://localhost:{}",
        listener.local_addr().expect("addr").port()
    );
    (listener, base)
}

impl FakeRemote {
    /// Starts the remote on a free loopback port.
    pub async fn start() -> FakeRemote {
        let (listener, base) = loopback_listener().await;
        let mut keys = HashMap::new();
        let mut public_keys = Vec::new();
        for name in PEOPLE.into_iter().chain([GROUP]) {
            let pair = generate_actor_keypair().expect("keys");
            let key = SigningKey::from_pkcs8_pem(&pair.private_key).expect("key");
            keys.insert(name.to_owned(), key);
            public_keys.push((name.to_owned(), pair.public_key));
        }
        let fetches = Arc::new(AtomicUsize::new(0));
        let received = Received::default();
        let documents = Documents::default();
        let served = Served {
            base: base.clone(),
            public_keys: Arc::new(public_keys),
            fetches: fetches.clone(),
            received: received.clone(),
            documents: documents.clone(),
        };
        let app = axum::Router::new()
            .route("/u/{name}", axum::routing::get(serve_person))
            .route("/c/{name}", axum::routing::get(serve_group))
            // Deliveries to the fake's actors are recorded for the tests to read.
            .route("/inbox", axum::routing::post(record))
            .route("/c/{name}/inbox", axum::routing::post(record))
            .route("/u/{name}/inbox", axum::routing::post(record))
            .fallback(axum::routing::get(serve_document))
            .with_state(served);
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeRemote {
            base,
            keys,
            actor_fetches: fetches,
            received,
            documents,
        }
    }

    /// `localhost:<port>`, as handles and domain blocks name it.
    pub fn domain(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The private key of `name` (one of `PEOPLE` or `GROUP`).
    pub fn key(&self, name: &str) -> &SigningKey {
        self.keys
            .get(name)
            .unwrap_or_else(|| panic!("the fake remote has no key for {name}"))
    }

    /// The id of the person `name`.
    pub fn person(&self, name: &str) -> String {
        format!("{}/u/{name}", self.base)
    }

    /// The id of mallory, the remote's usual sender.
    pub fn mallory(&self) -> String {
        self.person("mallory")
    }

    /// The id of the remote's group, `/c/evil`.
    pub fn group(&self) -> String {
        format!("{}/c/{GROUP}", self.base)
    }

    /// An activity id on this remote.
    pub fn activity_id(&self, n: &str) -> String {
        format!("{}/activities/{n}", self.base)
    }

    /// An object id on this remote.
    pub fn object_id(&self, n: &str) -> String {
        format!("{}/r/{n}", self.base)
    }

    /// How many times an actor document was asked for so far.
    pub fn fetches(&self) -> usize {
        self.actor_fetches.load(Ordering::SeqCst)
    }

    /// Serves `document` at `path` (GET, `application/activity+json`) from now on.
    pub fn serve(&self, path: &str, document: Value) {
        self.documents
            .lock()
            .expect("lock")
            .insert(path.to_owned(), document);
    }

    /// Waits until a delivery satisfying `check(path, body)` arrives; returns its body.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&str, &Value) -> bool) -> Value {
        let found = Mutex::new(None);
        let arrived = crate::wait_until(Duration::from_secs(30), || async {
            let received = self.received.lock().expect("lock");
            let hit = received
                .iter()
                .find(|(path, body)| check(path, body))
                .cloned();
            let ok = hit.is_some();
            *found.lock().expect("lock") = hit.map(|(_, body)| body);
            ok
        })
        .await;
        let received = self.received.lock().expect("lock").clone();
        assert!(arrived, "{what} never arrived; received: {received:?}");
        found.into_inner().expect("lock").expect("found")
    }

    /// Whether any delivery so far satisfies `check(path, body)`.
    pub fn has_received(&self, check: impl Fn(&str, &Value) -> bool) -> bool {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .any(|(path, body)| check(path, body))
    }

    /// POSTs `body` to `inbox`, properly signed by `name`'s key as `name`.
    pub async fn send_as(&self, name: &str, inbox: &str, body: &[u8]) -> (u16, Value) {
        let owner = if name == GROUP {
            self.group()
        } else {
            self.person(name)
        };
        post_signed(inbox, self.key(name), &owner, body, body.to_vec()).await
    }

    /// POSTs `body` to `inbox`, properly signed by mallory.
    pub async fn send_as_mallory(&self, inbox: &str, body: &[u8]) -> (u16, Value) {
        self.send_as("mallory", inbox, body).await
    }
}

/// POSTs `body` to `inbox`, signed as Lyceum signs its deliveries by `key` as `key_owner`,
/// with the Digest of `signed_body` (equal to `body` unless a test tampers with it).
/// Returns the status and the JSON answer (`null` when there is none).
pub async fn post_signed(
    inbox: &str,
    key: &SigningKey,
    key_owner: &str,
    signed_body: &[u8],
    body: Vec<u8>,
) -> (u16, Value) {
    let url = Url::parse(inbox).expect("inbox url");
    let headers = signed_post_headers(key, key_owner, &url, signed_body).expect("signs");
    let headers: Vec<(&str, String)> = headers.into_iter().filter(|(n, _)| *n != "host").collect();
    send(inbox, &headers, body).await
}

/// POSTs `body` to `inbox` with exactly `headers` (no signature unless one is among them).
pub async fn post_raw(inbox: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let headers: Vec<(&str, String)> = headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
    send(inbox, &headers, body).await
}

/// POSTs `body` to `inbox` with `headers` as made by `Signature::headers`: sending the same
/// twice replays one signed request byte for byte.
pub async fn send(inbox: &str, headers: &[(&str, String)], body: Vec<u8>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(inbox).body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("inbox answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A draft-cavage signature built by hand, for what Lyceum's own signer never does:
/// another date, another list of signed headers, a Digest of another body.
pub struct Signature<'a> {
    pub key: &'a SigningKey,
    /// The actor whose `#main-key` the `keyId` names.
    pub key_owner: String,
    /// Added to the current time for the `Date` header (negative: in the past).
    pub date_offset: chrono::Duration,
    /// The headers the signature covers, in order, lower case; `(request-target)` included.
    pub covered: Vec<&'static str>,
    /// The body the `Digest` header is computed over; `None` for the body sent.
    pub digest_of: Option<Vec<u8>>,
}

/// What Lyceum signs (spec §8): `(request-target) host date digest content-type`.
pub const SIGNED_HEADERS: [&str; 5] =
    ["(request-target)", "host", "date", "digest", "content-type"];

impl<'a> Signature<'a> {
    /// A proper signature by `key` as `key_owner`, dated now, covering `SIGNED_HEADERS`.
    pub fn new(key: &'a SigningKey, key_owner: &str) -> Signature<'a> {
        Signature {
            key,
            key_owner: key_owner.to_owned(),
            date_offset: chrono::Duration::zero(),
            covered: SIGNED_HEADERS.to_vec(),
            digest_of: None,
        }
    }

    /// Dated `offset` from now.
    pub fn dated(mut self, offset: chrono::Duration) -> Signature<'a> {
        self.date_offset = offset;
        self
    }

    /// Covering exactly `headers`.
    pub fn covering(mut self, headers: &[&'static str]) -> Signature<'a> {
        self.covered = headers.to_vec();
        self
    }

    /// The headers of a POST of `body` to `inbox` signed so (Host is left to the client;
    /// it is signed with the value the client sends).
    pub fn headers(&self, inbox: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let url = Url::parse(inbox).expect("inbox url");
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().expect("host")),
            None => url.host_str().expect("host").to_owned(),
        };
        let date = (chrono::Utc::now() + self.date_offset)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let digest = digest_header(self.digest_of.as_deref().unwrap_or(body));
        let target = match url.query() {
            Some(q) => format!("post {}?{q}", url.path()),
            None => format!("post {}", url.path()),
        };
        let value_of = |name: &str| match name {
            "(request-target)" => target.clone(),
            "host" => host.clone(),
            "date" => date.clone(),
            "digest" => digest.clone(),
            "content-type" => "application/activity+json".to_owned(),
            other => panic!("the harness does not sign {other}"),
        };
        let signing_string = self
            .covered
            .iter()
            .map(|name| format!("{name}: {}", value_of(name)))
            .collect::<Vec<_>>()
            .join("\n");
        let signature = self.key.sign(signing_string.as_bytes()).expect("signs");
        let header = format!(
            r#"keyId="{}#main-key",algorithm="rsa-sha256",headers="{}",signature="{signature}""#,
            self.key_owner,
            self.covered.join(" ")
        );
        vec![
            ("date", date),
            ("digest", digest),
            ("content-type", "application/activity+json".to_owned()),
            ("signature", header),
        ]
    }

    /// POSTs `body` to `inbox` signed so.
    pub async fn post(&self, inbox: &str, body: Vec<u8>) -> (u16, Value) {
        let headers = self.headers(inbox, &body);
        send(inbox, &headers, body).await
    }
}
