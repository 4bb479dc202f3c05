//! The shell library's routes, driven with the real `curl` exactly as its scripts do.

use crate::common;

use std::process::Command;

use common::{snapshot, spawn_app};
use sqlx::PgPool;

fn curl(url: &str, secret: &str, body: &str) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            url,
            "-H",
            "Content-Type: application/json",
        ])
        .args(["-H", &format!("X-Cron-Secret: {secret}"), "-d", body])
        .args(["-w", "\n%{http_code}"])
        .output()
        .expect("curl runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let (json, code) = text.rsplit_once('\n').unwrap();
    (
        code.parse().unwrap(),
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn shell_library_flow_works_unchanged(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    // The library's existing secret is imported as a token, so scripts keep it.
    let secret = "legacy-cron-secret-0123456789";
    app::db::tokens::create(
        &pool,
        "legacy",
        app::db::tokens::Scope::Ingest,
        Some(secret.into()),
    )
    .await
    .unwrap();
    let base = app.base.clone();

    let (code, start) = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            curl(
                &format!("{base}/api/admin/cron-executions/start"),
                secret,
                r#"{"cronName":"monitor-openai","triggerType":"scheduled"}"#,
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 200, "{start}");
    let keys: Vec<&String> = start.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["cronName", "executionId", "startedAt"]);
    assert_eq!(start["cronName"], "monitor-openai");
    let started_at = start["startedAt"].as_str().unwrap();
    // JavaScript's toISOString(): 2026-11-22T08:00:00.123Z
    assert_eq!(started_at.len(), 24, "{started_at}");
    assert!(started_at.ends_with('Z'));
    let id = start["executionId"].as_str().unwrap().to_string();

    let body = format!(
        r#"{{"executionId":"{id}","status":"completed","durationMs":1398,"output":{{}},"errorMessage":null,"exitCode":0}}"#
    );
    let (code, done) = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            curl(
                &format!("{base}/api/admin/cron-executions/complete"),
                secret,
                &body,
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["success"], true);

    let (_, e) = app
        .get(&format!("/api/v1/executions/{id}"), &app.read)
        .await;
    assert_eq!(e["job"], "monitor-openai");
    assert_eq!(e["trigger"], "scheduled");
    assert_eq!(e["status"], "completed");
    assert_eq!(e["duration_ms"], 1398);
    assert_eq!(e["exit_code"], 0);
    assert_eq!(e["output"], serde_json::json!({}));

    // A bad secret changes nothing.
    let before = snapshot(&pool).await;
    let (code, err) = tokio::task::spawn_blocking(move || {
        curl(
            &format!("{base}/api/admin/cron-executions/start"),
            "wrong-secret-xxxxxxxx",
            r#"{"cronName":"monitor-openai","triggerType":"scheduled"}"#,
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 401);
    assert_eq!(err["error"]["code"], "unauthorized");
    assert_eq!(snapshot(&pool).await, before);
}
