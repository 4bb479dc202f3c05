//! The newcomer's path: `cronwatch serve` with no DATABASE_URL starts a private
//! PostgreSQL in the data folder (as the `postgres` user when we are root), answers
//! /healthz, stops it on SIGTERM, and finds its data again on the next start.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

struct Server {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

fn start_server(data_dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("CRONWATCH_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .spawn()
        .expect("cronwatch starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let base = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        seen.push(line.clone());
        if let Some(addr) = line.strip_prefix("cronwatch listening on ") {
            break addr.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base,
        stdout: seen,
    }
}

fn stop_server(mut s: Server) {
    kill(Pid::from_raw(s.child.id() as i32), Signal::SIGTERM).unwrap();
    let status = s.child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

fn cli(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn private_postgres_serves_and_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("cw-embedded-{}", uuid::Uuid::new_v4().simple()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let first = start_server(&dir);
    assert!(
        dir.join("pg/PG_VERSION").exists(),
        "the cluster lives in the data dir"
    );
    assert!(
        first
            .stdout
            .iter()
            .any(|l| l.contains("super_admin `admin`")),
        "{:?}",
        first.stdout
    );
    let health = http
        .get(format!("{}/healthz", first.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // The CLI reaches the same private database while the server runs.
    let out = cli(&dir, &["token", "create", "ops", "--scope", "admin"]);
    let token = out.lines().last().unwrap().to_string();
    assert!(token.starts_with("cw_"), "{out}");
    let put = http
        .put(format!("{}/api/v1/jobs/survivor", first.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "schedule": "0 9 * * *" }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    stop_server(first);
    assert!(
        !dir.join("pg/postmaster.pid").exists(),
        "PostgreSQL stopped with the server"
    );

    let second = start_server(&dir);
    assert!(
        !second
            .stdout
            .iter()
            .any(|l| l.contains("super_admin `admin`")),
        "admin is created once"
    );
    let jobs: serde_json::Value = http
        .get(format!("{}/api/v1/jobs", second.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs[0]["name"], "survivor");
    stop_server(second);
    let _ = std::fs::remove_dir_all(&dir);
}
