//! No value in any field of any write endpoint makes the server fail: every answer is
//! a success or a clear 4xx, never a 5xx (which would also mean a client retrying).

use crate::common;

use common::{spawn_app, TestApp};
use serde_json::{json, Value};
use sqlx::PgPool;

/// Values that have broken servers before: empty, NUL, huge, out of range, wrong type,
/// dates at the edges, markup.
fn odd_values() -> Vec<Value> {
    vec![
        json!(""),
        json!("\u{0}"),
        json!("a\u{0}b"),
        json!("x".repeat(100_000)),
        json!("é😀"),
        json!("-1"),
        json!(null),
        json!(true),
        json!(1),
        json!(-1),
        json!(i64::from(i32::MAX) + 1),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1.5),
        json!(1e300),
        json!([]),
        json!(["a\u{0}"]),
        json!({}),
        json!({"a\u{0}": "\u{0}"}),
        json!("9999-12-31T23:59:59Z"),
        json!("0001-01-01T00:00:00Z"),
        json!("2026-13-45T99:00:00Z"),
        json!("<script>alert(1)</script>"),
    ]
}

/// Every field of `base`, and one absent field each, set to every odd value.
async fn probe(
    app: &TestApp,
    method: reqwest::Method,
    path: impl Fn() -> String,
    base: Value,
    fields: &[&str],
) -> Vec<String> {
    let mut failures = Vec::new();
    for field in fields {
        for value in odd_values() {
            let mut body = base.clone();
            body[*field] = value.clone();
            let p = path();
            let code = app.admin_send(method.clone(), &p, &body).await;
            let shown: String = value.to_string().chars().take(40).collect();
            if code >= 500 {
                failures.push(format!("{method} {p} {field}={shown}: {code}"));
            }
            // What is accepted must not break what reads it later.
            if (200..300).contains(&code) {
                for read in [
                    "/api/v1/stats?hours=24",
                    "/api/v1/jobs",
                    "/api/v1/executions",
                    "/api/v1/batches",
                ] {
                    let (after, _) = app.get(read, &app.read).await;
                    if after >= 500 {
                        failures.push(format!(
                            "{method} {p} {field}={shown} was accepted, then GET {read}: {after}"
                        ));
                    }
                }
            }
        }
    }
    failures
}

#[sqlx::test(migrations = "../migrations")]
async fn no_field_value_makes_a_write_endpoint_fail(pool: PgPool) {
    use reqwest::Method;
    let app = spawn_app(pool.clone()).await;
    let running = || async {
        app.start("odd-job").await["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut failures = Vec::new();
    failures.extend(
        probe(
            &app,
            Method::POST,
            || "/api/v1/executions/start".into(),
            json!({"job": "odd-job"}),
            &[
                "job",
                "id",
                "trigger",
                "triggered_by",
                "started_at",
                "host",
                "scheduled_for",
                "attempt",
                "run_key",
            ],
        )
        .await,
    );
    // A fresh running execution for each completion probe.
    let mut ids = Vec::new();
    for _ in 0..(8 * odd_values().len()) {
        ids.push(running().await);
    }
    let next = std::sync::Mutex::new(ids.into_iter());
    failures.extend(
        probe(
            &app,
            Method::POST,
            || {
                let id = next.lock().unwrap().next().unwrap();
                format!("/api/v1/executions/{id}/complete")
            },
            json!({"status": "failed"}),
            &[
                "status",
                "output",
                "error_message",
                "exit_code",
                "duration_ms",
                "log_tail",
                "completed_at",
                "output_truncated",
            ],
        )
        .await,
    );
    failures.extend(
        probe(
            &app,
            Method::POST,
            || "/api/admin/cron-executions/start".into(),
            json!({"cronName": "odd-job", "triggerType": "scheduled"}),
            &["cronName", "triggerType"],
        )
        .await,
    );
    let id = running().await;
    failures.extend(
        probe(
            &app,
            Method::POST,
            || "/api/admin/cron-executions/complete".into(),
            json!({"executionId": id, "status": "completed", "durationMs": 1, "output": {},
                   "errorMessage": null, "exitCode": 0}),
            &[
                "executionId",
                "status",
                "durationMs",
                "output",
                "errorMessage",
                "exitCode",
            ],
        )
        .await,
    );
    failures.extend(
        probe(
            &app,
            Method::POST,
            || "/api/v1/batches/odd-queue".into(),
            json!({"pending": 1}),
            &["pending", "processing", "completed_today", "failed_today"],
        )
        .await,
    );
    // A run in progress, so that reads work out whether it is stuck or late under
    // each job setting.
    running().await;
    failures.extend(
        probe(
            &app,
            Method::PUT,
            || "/api/v1/jobs/odd-job".into(),
            json!({"schedule": "0 9 * * *"}),
            &[
                "display_name",
                "description",
                "kind",
                "schedule",
                "timezone",
                "enabled",
                "timeout_ms",
                "grace_ms",
                "estimated_duration_ms",
                "tags",
            ],
        )
        .await,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // And the server still works.
    assert_eq!(app.get("/api/v1/stats?hours=24", &app.read).await.0, 200);
}

#[sqlx::test(migrations = "../migrations")]
async fn no_query_value_makes_a_read_endpoint_fail(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.start("odd-job").await;
    let mut failures = Vec::new();
    let texts: Vec<String> = odd_values()
        .into_iter()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        // URLs have a length limit of their own (the client refuses 100 kB ones).
        .map(|t| t.chars().take(4000).collect())
        .collect();
    let params = [
        ("/api/v1/executions", "job"),
        ("/api/v1/executions", "status"),
        ("/api/v1/executions", "trigger"),
        ("/api/v1/executions", "from"),
        ("/api/v1/executions", "to"),
        ("/api/v1/executions", "cursor"),
        ("/api/v1/stats", "hours"),
        ("/api/v1/events", "after"),
    ];
    let (_, key) = app.get("/api/v1/jobs/odd-job/ping-key", &app.admin).await;
    let ping = key["ping_path"].as_str().unwrap().to_string();
    let mut urls = Vec::new();
    for text in &texts {
        for (path, param) in params.into_iter().chain([(ping.as_str(), "rid")]) {
            urls.push(reqwest::Url::parse_with_params(&app.url(path), [(param, text)]).unwrap());
        }
        for path in [
            format!("/api/v1/executions/{text}"),
            format!("/api/v1/jobs/{text}"),
            format!("/api/v1/jobs/{text}/ping-key"),
        ] {
            urls.push(reqwest::Url::parse(&app.url(&path)).unwrap());
        }
    }
    for url in urls {
        // Admin: allowed everywhere, so only the value can be refused.
        let resp = app
            .client
            .get(url.clone())
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        let shown: String = url.as_str().chars().take(100).collect();
        let status = resp.status();
        if status.is_server_error() {
            failures.push(format!("GET {shown}: {status}"));
        }
        // A refusal says why in the API's one error shape, never as plain text.
        if status.is_client_error() {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if body["error"]["code"].as_str().is_none_or(str::is_empty) {
                failures.push(format!("GET {shown}: {status} without a JSON error"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_method_is_refused_in_json_with_allow(pool: PgPool) {
    use reqwest::Method;
    let app = spawn_app(pool.clone()).await;
    app.start("odd-job").await;
    let (_, key) = app.get("/api/v1/jobs/odd-job/ping-key", &app.admin).await;
    let ping = key["ping_path"].as_str().unwrap().to_string();
    let before = common::snapshot(&pool).await;
    for (method, path, allow) in [
        (Method::GET, "/api/v1/executions/start".to_string(), "POST"),
        (Method::DELETE, "/api/v1/executions".to_string(), "GET,HEAD"),
        (
            Method::PATCH,
            "/api/v1/jobs/odd-job".to_string(),
            "GET,HEAD,PUT,DELETE",
        ),
        (
            Method::GET,
            "/api/admin/cron-executions/complete".to_string(),
            "POST",
        ),
        (Method::PUT, ping, "GET,HEAD,POST"),
    ] {
        let resp = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        let allowed = resp.headers()["allow"].to_str().unwrap().replace(' ', "");
        assert_eq!(allowed, allow, "{method} {path}");
        let (_, body) = common::status_json(resp).await;
        assert_eq!(common::error_code(&body), "method_not_allowed", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{method} is not allowed here"))
                && message.contains("Allow header"),
            "{body}"
        );
    }
    assert_eq!(common::snapshot(&pool).await, before);
}
