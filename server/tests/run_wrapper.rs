//! `cronwatch run`: the real binary wrapping a real command, reporting to a real server.

use crate::common;

use std::process::Command;

use common::spawn_app;
use sqlx::PgPool;

fn cronwatch_run(url: &str, token: &str, job: &str, script: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["run", job, "--", "sh", "-c", script])
        .env("CRONWATCH_URL", url)
        .env("CRONWATCH_TOKEN", token)
        .env("CRONWATCH_REPORT_TIMEOUT", "2")
        .output()
        .expect("cronwatch runs")
}

#[sqlx::test(migrations = "../migrations")]
async fn failing_command_is_reported_and_its_code_passed_through(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (base, token) = (app.base.clone(), app.ingest.clone());
    let out = tokio::task::spawn_blocking(move || {
        cronwatch_run(&base, &token, "wrapped", "echo hi; echo oops >&2; exit 3")
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi\n",
        "stdout passes through"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops"));

    let (_, page) = app.get("/api/v1/executions?job=wrapped", &app.read).await;
    let e = &page["items"][0];
    assert_eq!(e["status"], "failed");
    assert_eq!(e["exit_code"], 3);
    let (_, full) = app
        .get(
            &format!("/api/v1/executions/{}", e["id"].as_str().unwrap()),
            &app.read,
        )
        .await;
    let tail = full["log_tail"].as_str().unwrap();
    assert!(tail.contains("hi") && tail.contains("oops"), "{tail}");
    assert!(full["host"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn successful_command_is_completed(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (base, token) = (app.base.clone(), app.ingest.clone());
    let out = tokio::task::spawn_blocking(move || cronwatch_run(&base, &token, "ok-job", "true"))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (_, page) = app.get("/api/v1/executions?job=ok-job", &app.read).await;
    assert_eq!(page["items"][0]["status"], "completed");
    assert_eq!(page["items"][0]["exit_code"], 0);
}

#[test]
fn server_down_still_runs_the_command() {
    // Nothing listens on this port: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let marker = std::env::temp_dir().join(format!("cronwatch-run-{}", uuid::Uuid::new_v4()));
    let script = format!("echo hi; touch {}; exit 3", marker.display());
    let out = cronwatch_run(
        &format!("http://127.0.0.1:{port}"),
        "cw_x",
        "offline",
        &script,
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(marker.exists(), "the command ran");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not report"));
    let _ = std::fs::remove_file(marker);
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_token_the_command_still_runs_and_the_wrapper_says_what_is_missing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_cronwatch"))
            .args(["run", "untokened", "--", "sh", "-c", "echo hi; exit 4"])
            .env("CRONWATCH_URL", base)
            .env_remove("CRONWATCH_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not reporting untokened: CRONWATCH_TOKEN is not set"),
        "{stderr}"
    );
    let (_, page) = app.get("/api/v1/executions?job=untokened", &app.read).await;
    assert_eq!(page["items"], serde_json::json!([]), "nothing recorded");
}

/// Settings no server could ever accept are said at once, not retried for the whole
/// report budget (here 10 minutes, against a port where nothing listens).
#[test]
fn settings_no_server_accepts_are_said_at_once_and_the_command_still_runs() {
    for (job, url, token, says) in [
        (
            "Bad Name",
            "http://127.0.0.1:1",
            "t",
            "the job name \"Bad Name\" is invalid",
        ),
        (
            "fine",
            "127.0.0.1:3000",
            "t",
            "CRONWATCH_URL \"127.0.0.1:3000\" is not an http",
        ),
        (
            "fine",
            "not a url",
            "t",
            "is not an http:// or https:// URL",
        ),
        (
            "fine",
            "http://127.0.0.1:1",
            "",
            "CRONWATCH_TOKEN is not set",
        ),
    ] {
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
            .args(["run", job, "--", "sh", "-c", "echo ran; exit 5"])
            .env("CRONWATCH_URL", url)
            .env("CRONWATCH_TOKEN", token)
            .env("CRONWATCH_REPORT_TIMEOUT", "600")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{job} {url}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{job} {url}: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "{job} {url} waited out the report budget"
        );
    }
}

#[test]
fn a_program_that_cannot_run_exits_as_a_shell_would() {
    // Not found: 127; found but not executable (a plain file): 126.
    let not_executable = std::env::temp_dir().join(format!("cw-not-exec-{}", std::process::id()));
    std::fs::write(&not_executable, "echo never\n").unwrap();
    for (program, code) in [
        ("/nonexistent/program", 127),
        (not_executable.to_str().unwrap(), 126),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
            .args(["run", "x", "--", program])
            .env("CRONWATCH_URL", "http://127.0.0.1:9")
            .env("CRONWATCH_REPORT_TIMEOUT", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{program}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("could not start"), "{stderr}");
    }
    std::fs::remove_file(not_executable).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_stopped_wrapper_stops_the_command_and_reports_it_cancelled(pool: PgPool) {
    use std::io::{BufRead, BufReader, Read};
    let app = spawn_app(pool.clone()).await;
    let (base, token) = (app.base.clone(), app.ingest.clone());
    let (code, rest) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
            .args(["run", "long-job", "--", "sh", "-c"])
            // Gives up after ~20 s, so a wrapper that never passes the signal on fails
            // this test instead of hanging it.
            .arg(
                "trap 'echo got-term; exit 143' TERM; echo ready; i=0; \
                 while [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; echo no-term; exit 9",
            )
            .env("CRONWATCH_URL", &base)
            .env("CRONWATCH_TOKEN", &token)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        // Only the wrapper is signalled, as `kill` or a supervisor would do.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        (child.wait().unwrap().code(), rest)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(143), "the command's own exit code");
    assert_eq!(rest, "got-term\n", "the command received the signal");

    let (_, page) = app.get("/api/v1/executions?job=long-job", &app.read).await;
    let e = &page["items"][0];
    assert_eq!(e["status"], "cancelled", "{e}");
    assert_eq!(e["exit_code"], 143);
    let (_, full) = app
        .get(
            &format!("/api/v1/executions/{}", e["id"].as_str().unwrap()),
            &app.read,
        )
        .await;
    assert!(full["log_tail"].as_str().unwrap().contains("got-term"));
    assert!(
        full["error_message"].as_str().unwrap().contains("SIGTERM"),
        "{full}"
    );
}
