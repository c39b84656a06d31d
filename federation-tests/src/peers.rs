//! Independent ActivityPub implementations from `../shared/peers`, started on loopback for
//! interoperability tests: a Fedify actor and fediverse-pasture's verify_actor.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::wait_until;

/// The folder holding the peers' `setup.sh` scripts: `LYCEUM_PEERS`, or `../shared/peers`
/// beside the repository.
fn peers_dir() -> PathBuf {
    match std::env::var("LYCEUM_PEERS") {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers"),
    }
}

/// The command that starts peer `name` (`fedify` or `pasture`): the environment variable
/// `.ci/run` sets (`LYCEUM_FEDIFY_PEER`, `LYCEUM_PASTURE_PEER`), or else what the peer's
/// `setup.sh` prints (it installs the peer the first time, which needs the network).
fn peer_command(name: &str) -> Vec<String> {
    let variable = format!("LYCEUM_{}_PEER", name.to_uppercase());
    let line = match std::env::var(&variable) {
        Ok(line) if !line.trim().is_empty() => line,
        _ => {
            let script = peers_dir().join(name).join("setup.sh");
            let output = Command::new("bash")
                .arg(&script)
                .stderr(Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                output.status.success(),
                "{} failed ({}); install the peer or set {variable} to the command it prints",
                script.display(),
                output.status
            );
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        }
    };
    line.split_whitespace().map(str::to_owned).collect()
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a free port");
    probe.local_addr().expect("its address").port()
}

/// A child process killed when dropped, with its output in a file a failing test can show.
struct PeerProcess {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl PeerProcess {
    fn spawn(mut command: Command, dir: tempfile::TempDir) -> PeerProcess {
        let log = dir.path().join("peer.log");
        let out = std::fs::File::create(&log).expect("peer log");
        let err = out.try_clone().expect("peer log");
        let child = command
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        PeerProcess {
            child,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET the Fedify peer served, with the signature headers it came with.
#[derive(Debug, Clone)]
pub struct ServedFetch {
    pub path: String,
    /// The draft-cavage `Signature` header.
    pub signature: Option<String>,
    /// The RFC 9421 `Signature-Input` header.
    pub signature_input: Option<String>,
}

/// A Fedify actor (`http://localhost:<port>/users/<name>`) that accepts every Follow,
/// verifies the signature of everything it receives, and is driven through its control API.
pub struct FedifyPeer {
    pub base_url: String,
    pub actor: String,
    process: PeerProcess,
    client: reqwest::Client,
}

impl FedifyPeer {
    pub async fn start(name: &str) -> FedifyPeer {
        let mut command = peer_command("fedify");
        assert!(command.len() >= 2, "unexpected peer command {command:?}");
        // `node --import <recorder> peer.mjs`: the recorder reports the GETs the peer serves.
        let recorder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/record-fetches.mjs");
        command.insert(1, format!("--import={}", recorder.display()));
        let port = free_port();
        let dir = tempfile::tempdir().expect("peer folder");
        let mut cmd = Command::new(&command[0]);
        cmd.args(&command[1..])
            .arg(port.to_string())
            .arg(name)
            // activitypub_federation refuses IP-literal hosts.
            .env("PEER_HOST", "localhost")
            // Keys of this run only, not beside the installed peer.
            .env("PEER_KEYFILE", dir.path().join("keys.json"));
        let process = PeerProcess::spawn(cmd, dir);
        let base_url = format!("http://localhost:{port}");
        let peer = FedifyPeer {
            actor: format!("{base_url}/users/{name}"),
            base_url,
            process,
            client: reqwest::Client::new(),
        };
        let up = wait_until(Duration::from_secs(60), || async {
            peer.client
                .get(format!("{}/_peer/followers", peer.base_url))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        assert!(up, "the Fedify peer did not start:\n{}", peer.process.log());
        peer
    }

    /// Calls the peer's control API; panics with the peer's log when it refuses.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/_peer/{path}", self.base_url))
            .json(&body)
            .send()
            .await
            .expect("the peer answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status == 200,
            "the Fedify peer refused {path}: {status} {body}\n{}",
            self.log()
        );
        body
    }

    /// Every inbox POST the peer got: `{path, status, signature, activity}`, where `status`
    /// is what Fedify answered (202 verified, 401 bad or missing signature).
    pub async fn received(&self) -> Vec<Value> {
        self.client
            .get(format!("{}/_peer/received", self.base_url))
            .send()
            .await
            .expect("the peer answers")
            .json()
            .await
            .expect("a JSON list")
    }

    /// Actors whose Follow the peer accepted.
    pub async fn followers(&self) -> Value {
        self.client
            .get(format!("{}/_peer/followers", self.base_url))
            .send()
            .await
            .expect("the peer answers")
            .json()
            .await
            .expect("JSON")
    }

    /// The GETs the peer served (its actor, its keys...).
    pub fn fetches(&self) -> Vec<ServedFetch> {
        self.log()
            .lines()
            .filter_map(|line| line.strip_prefix("[peer-fetch] "))
            .filter_map(|json| serde_json::from_str::<Value>(json).ok())
            .map(|f| ServedFetch {
                path: f["path"].as_str().unwrap_or_default().to_owned(),
                signature: f["signature"].as_str().map(str::to_owned),
                signature_input: f["signatureInput"].as_str().map(str::to_owned),
            })
            .collect()
    }

    /// The peer's output so far, for failure messages.
    pub fn log(&self) -> String {
        let log = self.process.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

/// fediverse-pasture's verify_actor app on loopback: fetches an actor, checks WebFinger,
/// and posts to its inbox as six test actors, signed and unsigned.
pub struct PastureVerifier {
    base_url: String,
    process: PeerProcess,
}

impl PastureVerifier {
    pub async fn start() -> PastureVerifier {
        // `setup.sh` prints `<venv python> <its launcher>`; our launcher puts the test actors
        // on `localhost` (see `peers/verify_actor_localhost.py`).
        let python = peer_command("pasture").remove(0);
        let launcher =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/verify_actor_localhost.py");
        let port = free_port();
        let dir = tempfile::tempdir().expect("verifier folder");
        let mut cmd = Command::new(python);
        // It writes its test actors' keys and a JSON-LD cache into the working folder.
        cmd.arg(launcher)
            .arg(port.to_string())
            .current_dir(dir.path());
        let process = PeerProcess::spawn(cmd, dir);
        let verifier = PastureVerifier {
            base_url: format!("http://127.0.0.1:{port}"),
            process,
        };
        let up = wait_until(Duration::from_secs(60), || async {
            reqwest::get(&verifier.base_url).await.is_ok()
        })
        .await;
        assert!(up, "verify_actor did not start:\n{}", verifier.log());
        verifier
    }

    /// The verdict on `actor_uri`, as JSON.
    pub async fn verify(&self, actor_uri: &str) -> Value {
        let mut url = url::Url::parse(&self.base_url).expect("the verifier's URL");
        url.query_pairs_mut().append_pair("actor_uri", actor_uri);
        let response = reqwest::Client::new()
            .get(url)
            .header("accept", "application/json")
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .expect("verify_actor answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status == 200,
            "verify_actor answered {status}: {text}\n{}",
            self.log()
        );
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("verify_actor's verdict is not JSON ({e}): {text}"))
    }

    pub fn log(&self) -> String {
        let log = self.process.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}
