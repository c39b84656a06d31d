//! The `lyceum` binary as an operator uses it: configuration errors, migrate, create-user,
//! serve and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lyceum::testing::{TestDatabase, postgres_test_url};

fn lyceum(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lyceum"));
    cmd.current_dir(dir);
    // Start from a clean slate: no inherited configuration variables.
    for (key, _) in std::env::vars() {
        if key.starts_with("LYCEUM_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Database URLs to run the binary against: a SQLite file always, PostgreSQL when configured.
async fn databases(dir: &std::path::Path) -> Vec<(String, Option<TestDatabase>)> {
    let mut list = vec![(dir.join("data/cli.db").to_string_lossy().into_owned(), None)];
    if let Some(admin) = postgres_test_url() {
        let pg = TestDatabase::postgres(&admin).await;
        // Empty, as an operator's new database is: the binary migrates it.
        lyceum::db::migrations::revert_all(&pg.db)
            .await
            .expect("revert");
        list.push((pg.url.clone(), Some(pg)));
    }
    list
}

#[test]
fn invalid_bind_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = lyceum(dir.path())
        .env("LYCEUM_BIND", "not-an-address")
        .arg("serve")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let all = text(&output);
    assert!(
        all.contains("`bind`") && all.contains("LYCEUM_BIND"),
        "{all}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn unknown_key_in_config_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("lyceum.toml");
    std::fs::write(
        &config,
        "domain = \"localhost:9\"\n[http]\nbody_limit = 5\n",
    )
    .expect("write");
    let output = lyceum(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let all = text(&output);
    assert!(
        all.contains("http.body_limit") && all.contains("lyceum.toml"),
        "{all}"
    );
}

#[test]
fn check_config_prints_effective_values_without_the_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = lyceum(dir.path())
        .env(
            "LYCEUM_DATABASE__URL",
            "postgres://lyceum:hunter2@db.internal/lyceum",
        )
        .env("LYCEUM_REGISTRATION__MODE", "invite")
        .arg("check-config")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output));
    let all = text(&output);
    assert!(all.contains("mode = \"invite\""), "{all}");
    assert!(
        all.contains("REDACTED") && !all.contains("hunter2"),
        "{all}"
    );
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["check-config", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create-user", "--help"],
    ] {
        let output = lyceum(dir.path()).args(&args).output().expect("runs");
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        assert!(text(&output).contains("Usage"), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_create_user_on_each_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let password = dir.path().join("password");
    std::fs::write(&password, "a long enough password\n").expect("write");
    for (url, database) in databases(dir.path()).await {
        let run = |args: &[&str]| {
            lyceum(dir.path())
                .env("LYCEUM_DATABASE__URL", &url)
                .env("LYCEUM_LOG__FILTER", "warn")
                .args(args)
                .output()
                .expect("runs")
        };
        let first = run(&["migrate"]);
        assert!(first.status.success(), "{}", text(&first));
        assert!(text(&first).contains("applied"), "{}", text(&first));
        let again = run(&["migrate"]);
        assert!(text(&again).contains("up to date"), "{}", text(&again));

        let pw = password.to_string_lossy().into_owned();
        let created = run(&[
            "admin",
            "create-user",
            "root",
            "--password-file",
            &pw,
            "--admin",
        ]);
        assert!(created.status.success(), "{}", text(&created));
        assert!(
            text(&created).contains("created admin `root`"),
            "{}",
            text(&created)
        );
        assert!(
            text(&created).contains("http://localhost:8080/u/root"),
            "{}",
            text(&created)
        );

        let taken = run(&["admin", "create-user", "root", "--password-file", &pw]);
        assert_eq!(taken.status.code(), Some(1));
        assert!(text(&taken).contains("already taken"), "{}", text(&taken));

        let bad = run(&["admin", "create-user", "Root!", "--password-file", &pw]);
        assert!(!bad.status.success());
        assert!(text(&bad).contains("username"), "{}", text(&bad));

        if let Some(database) = database {
            database.drop_database().await;
        }
    }
}

/// `serve` with no configuration file: answers /healthz, stops on SIGTERM with exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (url, database) in databases(dir.path()).await {
        let port = {
            let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("free port");
            probe.local_addr().expect("addr").port()
        };
        let mut child = lyceum(dir.path())
            .env("LYCEUM_DATABASE__URL", &url)
            .env("LYCEUM_BIND", format!("127.0.0.1:{port}"))
            .env("LYCEUM_DOMAIN", format!("localhost:{port}"))
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let health = format!("http://127.0.0.1:{port}/healthz");
        let started = Instant::now();
        let mut healthy = false;
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = reqwest::get(&health).await {
                healthy = r.status() == 200;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(healthy, "serve answered /healthz with 200");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = child.wait().expect("exits");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"))
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            exit.success(),
            "clean exit after SIGTERM: {exit:?}\n{stdout}"
        );
        assert!(
            stdout.contains(&format!("open http://localhost:{port}/")),
            "{stdout}"
        );
        assert!(stdout.contains("SIGTERM"), "{stdout}");
        if let Some(database) = database {
            database.drop_database().await;
        }
    }
}
