//! `GET /api/v1/metrics`: the dashboard's flags in the OpenMetrics text Prometheus
//! scrapes, computed by the dashboard's rules, behind a read token or a session.

use std::collections::HashMap;

use crate::common;

use chrono::{Duration, Utc};
use common::{error_code, spawn_app, status_json};
use serde_json::json;
use sqlx::PgPool;

/// Each sample line as `name{labels}` → value; the metadata lines (`# TYPE`, …) aside.
pub fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("no value: {l}"));
            (
                key.to_string(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("not a number: {l}")),
            )
        })
        .collect()
}

/// The one value of sample `key`, which must be there.
pub fn value(all: &HashMap<String, f64>, key: &str) -> f64 {
    *all.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {all:#?}"))
}

/// The samples `/api/v1/metrics` answers now, read with the read token.
pub async fn scrape(app: &common::TestApp) -> HashMap<String, f64> {
    let resp = app.get_raw("/api/v1/metrics", Some(&app.read)).await;
    assert_eq!(resp.status(), 200);
    samples(&resp.text().await.unwrap())
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_say_what_the_dashboard_flags(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;

    app.late_and_stuck_jobs().await;
    // Failing: three failures in a row after a success.
    for status in ["completed", "failed", "failed", "failed"] {
        let id = app.start("flaky").await["id"].as_str().unwrap().to_string();
        app.complete(&id, status).await;
    }
    // Healthy: one run that took 1.5 s, then paused.
    let (code, e) = app
        .post(
            "/api/v1/executions/start",
            &app.ingest,
            &json!({ "job": "steady", "started_at": Utc::now() - Duration::minutes(5) }),
        )
        .await;
    assert_eq!(code, 201, "{e}");
    let (code, _) = app
        .post(
            &format!("/api/v1/executions/{}/complete", e["id"].as_str().unwrap()),
            &app.ingest,
            &json!({ "status": "completed", "duration_ms": 1500 }),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        app.put_job(
            "steady",
            &json!({ "schedule": "*/5 * * * *", "enabled": false })
        )
        .await,
        200
    );
    let (code, _) = app
        .post(
            "/api/v1/batches/kb-indexation",
            &app.ingest,
            &json!({ "pending": 7, "failed_today": 2 }),
        )
        .await;
    assert_eq!(code, 200);

    let resp = app.get_raw("/api/v1/metrics", Some(&app.read)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        resp.headers()
    );
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE cronwatch_job_late gauge"), "{text}");
    assert!(
        text.contains("# UNIT cronwatch_job_last_duration_seconds seconds"),
        "{text}"
    );
    let m = samples(&text);
    let v = |key: &str| value(&m, key);

    assert_eq!(v(r#"cronwatch_job_late{job_name="nightly"}"#), 1.0);
    for job in ["hung", "flaky", "steady"] {
        assert_eq!(
            v(&format!(r#"cronwatch_job_late{{job_name="{job}"}}"#)),
            0.0,
            "{job}"
        );
    }
    for (key, want) in [
        (r#"cronwatch_job_stuck_executions{job_name="hung"}"#, 1.0),
        (r#"cronwatch_job_running_executions{job_name="hung"}"#, 1.0),
        (r#"cronwatch_job_stuck_executions{job_name="flaky"}"#, 0.0),
        (r#"cronwatch_job_running_executions{job_name="flaky"}"#, 0.0),
        (
            r#"cronwatch_job_consecutive_failures{job_name="flaky"}"#,
            3.0,
        ),
        (
            r#"cronwatch_job_last_status{job_name="flaky",status="failed"}"#,
            1.0,
        ),
        (
            r#"cronwatch_job_last_status{job_name="flaky",status="completed"}"#,
            0.0,
        ),
        (
            r#"cronwatch_job_executions_24h{job_name="flaky",status="failed"}"#,
            3.0,
        ),
        (
            r#"cronwatch_job_executions_24h{job_name="flaky",status="completed"}"#,
            1.0,
        ),
        (
            r#"cronwatch_job_executions_24h{job_name="flaky",status="timed_out"}"#,
            0.0,
        ),
        (r#"cronwatch_job_success_7d_ratios{job_name="flaky"}"#, 0.25),
    ] {
        assert_eq!(v(key), want, "{key}");
    }
    // A job that never ran has no latest status, start or success rate, but its counts.
    assert!(!m
        .keys()
        .any(|k| k.starts_with("cronwatch_job_last_status{job_name=\"nightly\"")));
    assert!(!m.contains_key(r#"cronwatch_job_success_7d_ratios{job_name="nightly"}"#));
    assert_eq!(
        v(r#"cronwatch_job_executions_24h{job_name="nightly",status="completed"}"#),
        0.0
    );
    assert!(
        v(r#"cronwatch_job_next_run_timestamp_seconds{job_name="nightly"}"#)
            < Utc::now().timestamp() as f64
    );

    // The paused job: not expected, so no next run, and its latest run's figures.
    assert_eq!(v(r#"cronwatch_job_enabled{job_name="steady"}"#), 0.0);
    assert_eq!(v(r#"cronwatch_job_enabled{job_name="nightly"}"#), 1.0);
    assert!(!m.contains_key(r#"cronwatch_job_next_run_timestamp_seconds{job_name="steady"}"#));
    assert_eq!(
        v(r#"cronwatch_job_last_duration_seconds{job_name="steady"}"#),
        1.5
    );
    let started = v(r#"cronwatch_job_last_start_timestamp_seconds{job_name="steady"}"#);
    let expected = (Utc::now() - Duration::minutes(5)).timestamp() as f64;
    assert!((started - expected).abs() < 60.0, "{started} vs {expected}");

    assert_eq!(v(r#"cronwatch_batch_pending{queue="kb-indexation"}"#), 7.0);
    assert_eq!(
        v(r#"cronwatch_batch_failed_today{queue="kb-indexation"}"#),
        2.0
    );
    let reported = v(r#"cronwatch_batch_last_report_timestamp_seconds{queue="kb-indexation"}"#);
    assert!((reported - Utc::now().timestamp() as f64).abs() < 60.0);
    assert_eq!(
        v(&format!(
            r#"cronwatch_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );

    // Once the failing job succeeds, its flag goes.
    let id = app.start("flaky").await["id"].as_str().unwrap().to_string();
    app.complete(&id, "completed").await;
    let m = scrape(&app).await;
    assert_eq!(
        value(
            &m,
            r#"cronwatch_job_consecutive_failures{job_name="flaky"}"#
        ),
        0.0
    );
    assert_eq!(
        value(
            &m,
            r#"cronwatch_job_last_status{job_name="flaky",status="completed"}"#
        ),
        1.0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_need_a_read_token_in_a_header(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.start("a-job").await;

    let (code, body) = status_json(app.get_raw("/api/v1/metrics", None).await).await;
    assert_eq!(
        (code, error_code(&body).as_str()),
        (401, "unauthorized"),
        "{body}"
    );
    let (code, body) = status_json(app.get_raw("/api/v1/metrics", Some("cw_wrong")).await).await;
    assert_eq!(code, 401, "{body}");
    // An ingest token reports; it does not read.
    let (code, body) = status_json(app.get_raw("/api/v1/metrics", Some(&app.ingest)).await).await;
    assert_eq!(
        (code, error_code(&body).as_str()),
        (403, "forbidden"),
        "{body}"
    );
    let path = format!("/api/v1/metrics?token={}", app.read);
    let (code, body) = status_json(app.get_raw(&path, None).await).await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("header"),
        "{body}"
    );

    // Admin tokens read too, and a job with no run yet still has its counts.
    let resp = app.get_raw("/api/v1/metrics", Some(&app.admin)).await;
    assert_eq!(resp.status(), 200);
    let m = samples(&resp.text().await.unwrap());
    assert_eq!(
        value(&m, r#"cronwatch_job_running_executions{job_name="a-job"}"#),
        1.0
    );
}

/// The writer's own counters: every report it answered (refusals too) and the
/// transactions they shared. Reports sent one at a time each get a transaction;
/// reports sent together may share one.
#[sqlx::test(migrations = "../migrations")]
async fn the_report_writer_counts_reports_and_the_batches_they_shared(pool: PgPool) {
    let app = spawn_app(pool).await;
    let writer = |m: &HashMap<String, f64>| {
        (
            value(m, "cronwatch_report_batches_total"),
            value(m, "cronwatch_reports_written_total"),
            value(m, "cronwatch_report_batches_busy_seconds_total"),
        )
    };
    let (batches0, reports0, busy0) = writer(&scrape(&app).await);

    for _ in 0..3 {
        app.start("counted").await;
    }
    // Refused in the writer's transaction (no such run): answered, so counted.
    let (code, _) = app
        .post(
            &format!("/api/v1/executions/{}/complete", uuid::Uuid::now_v7()),
            &app.ingest,
            &json!({ "status": "completed" }),
        )
        .await;
    assert_eq!(code, 404);
    // Refused before the writer (an invalid name): never queued, not counted.
    let (code, _) = app
        .post(
            "/api/v1/executions/start",
            &app.ingest,
            &json!({ "job": "Not A Name" }),
        )
        .await;
    assert_eq!(code, 422);
    let (batches1, reports1, busy1) = writer(&scrape(&app).await);
    assert_eq!((batches1 - batches0, reports1 - reports0), (4.0, 4.0));
    assert!(busy1 > busy0, "{busy0} -> {busy1}");

    let together = (0..20).map(|_| app.start("together"));
    futures::future::join_all(together).await;
    let (batches2, reports2, _) = writer(&scrape(&app).await);
    assert_eq!(reports2 - reports1, 20.0);
    let shared = batches2 - batches1;
    assert!((1.0..=20.0).contains(&shared), "{shared} batches");
}
