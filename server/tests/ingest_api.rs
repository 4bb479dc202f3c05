//! The v1 ingest API against a real server and database: the happy paths, every
//! refusal (with the database unchanged after it), idempotent retries, conflicts.

use crate::common;

use common::{error_code, snapshot, spawn_app};
use serde_json::json;
use sqlx::PgPool;

const START: &str = "/api/v1/executions/start";

#[sqlx::test(migrations = "../migrations")]
async fn start_then_complete_records_everything(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let started = app.start("nightly-report").await;
    assert_eq!(started["status"], "running");
    assert_eq!(started["job"], "nightly-report");
    assert_eq!(started["trigger"], "api");
    assert_eq!(started["triggered_by"], "token:ingest-test");
    let id = started["id"].as_str().unwrap();

    let (code, done) = app
        .post(
            &format!("/api/v1/executions/{id}/complete"),
            &app.ingest,
            &json!({ "status": "failed", "exit_code": 2, "error_message": "boom",
                     "output": { "rows": 3 }, "log_tail": "line 1\nline 2" }),
        )
        .await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["status"], "failed");
    assert_eq!(done["exit_code"], 2);
    assert_eq!(done["output"], json!({ "rows": 3 }));
    assert_eq!(done["log_tail"], "line 1\nline 2");
    assert!(done["duration_ms"].as_i64().unwrap() >= 0);

    // The job was created as external, and its summary follows the run.
    let (_, jobs) = app.get("/api/v1/jobs", &app.read).await;
    assert_eq!(jobs[0]["name"], "nightly-report");
    assert_eq!(jobs[0]["kind"], "external");
    assert_eq!(jobs[0]["last_status"], "failed");
    assert_eq!(jobs[0]["consecutive_failures"], 1);

    // Rollups moved in the same transactions: one failed, no running left.
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select status, count from execution_rollups order by status")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![("failed".to_string(), 1), ("running".to_string(), 0)]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn missing_wrong_and_misscoped_tokens_are_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let before = snapshot(&pool).await;
    let body = json!({ "job": "a" }).to_string();

    let resp = app.post_raw(START, None, body.clone()).await;
    assert_eq!(resp.status(), 401);
    let (_, b) = common::status_json(resp).await;
    assert_eq!(error_code(&b), "unauthorized");

    let resp = app
        .post_raw(START, Some("cw_not-a-real-token"), body.clone())
        .await;
    assert_eq!(resp.status(), 401);

    let resp = app.post_raw(START, Some(&app.read), body.clone()).await;
    assert_eq!(resp.status(), 403);
    let (_, b) = common::status_json(resp).await;
    assert_eq!(error_code(&b), "forbidden");

    // X-Cron-Secret works like Bearer (wrong secret: 401).
    let resp = app
        .client
        .post(app.url(START))
        .header("x-cron-secret", "nope")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Admin tokens may not be used in the query string, nor any other secret.
    let resp = app
        .client
        .post(app.url(&format!("{START}?token={}", app.ingest)))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let (_, b) = common::status_json(resp).await;
    assert!(
        b["error"]["message"].as_str().unwrap().contains("header"),
        "{b}"
    );

    assert_eq!(snapshot(&pool).await, before);

    // The right token in X-Cron-Secret is accepted.
    let resp = app
        .client
        .post(app.url(START))
        .header("x-cron-secret", &app.ingest)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_and_invalid_bodies_change_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let before = snapshot(&pool).await;
    for (body, status, code) in [
        ("{not json", 400, "bad_request"),
        ("", 400, "bad_request"),
        // The fields in order, as serde would read them, are still not an object.
        (
            r#"["a", null, null, null, null, null, null]"#,
            422,
            "invalid",
        ),
        ("null", 422, "invalid"),
        (r#"{"job": 5}"#, 422, "invalid"),
        (r#"{"nojob": "x"}"#, 422, "invalid"),
        (r#"{"job": "Bad Name!"}"#, 422, "invalid"),
        (r#"{"job": ""}"#, 422, "invalid"),
        (r#"{"job": "a", "attempt": 0}"#, 422, "invalid"),
        (r#"{"job": "a", "trigger": "whenever"}"#, 422, "invalid"),
        (
            r#"{"job": "a", "started_at": "2031-01-01T00:00:00Z"}"#,
            422,
            "invalid",
        ),
        (
            r#"{"job": "a", "started_at": "1999-12-31T23:59:59Z"}"#,
            422,
            "invalid",
        ),
        (
            r#"{"job": "a", "scheduled_for": "9999-01-01T00:00:00Z"}"#,
            422,
            "invalid",
        ),
    ] {
        let resp = app.post_raw(START, Some(&app.ingest), body).await;
        assert_eq!(resp.status().as_u16(), status, "body {body}");
        let (_, b) = common::status_json(resp).await;
        assert_eq!(error_code(&b), code, "body {body}");
    }
    let long = format!(r#"{{"job": "{}"}}"#, "a".repeat(65));
    assert_eq!(
        app.post_raw(START, Some(&app.ingest), long).await.status(),
        422
    );
    assert_eq!(snapshot(&pool).await, before);

    // A completion claiming more than a year, or a negative time, or a future end.
    let id = app.start("a").await["id"].as_str().unwrap().to_string();
    let before = snapshot(&pool).await;
    let path = format!("/api/v1/executions/{id}/complete");
    for body in [
        json!({ "status": "completed", "duration_ms": 366_i64 * 24 * 3600 * 1000 + 1 }),
        json!({ "status": "completed", "duration_ms": -1 }),
        json!({ "status": "completed", "completed_at": "2031-01-01T00:00:00Z" }),
    ] {
        let (code, b) = app.post(&path, &app.ingest, &body).await;
        assert_eq!((code, error_code(&b).as_str()), (422, "invalid"), "{body}");
    }
    assert_eq!(snapshot(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn start_and_complete_are_idempotent(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let id = uuid::Uuid::new_v4();
    let body = json!({ "job": "retry-me", "id": id });
    let (first, a) = app.post(START, &app.ingest, &body).await;
    assert_eq!(first, 201);
    let after_first = snapshot(&pool).await;
    let (second, b) = app.post(START, &app.ingest, &body).await;
    assert_eq!(second, 200, "a retried start answers the stored execution");
    assert_eq!(a, b);
    assert_eq!(snapshot(&pool).await, after_first);

    let path = format!("/api/v1/executions/{id}/complete");
    let done = json!({ "status": "completed", "exit_code": 0 });
    let (c1, x) = app.post(&path, &app.ingest, &done).await;
    assert_eq!(c1, 200);
    let after_complete = snapshot(&pool).await;
    let (c2, y) = app.post(&path, &app.ingest, &done).await;
    assert_eq!(c2, 200);
    assert_eq!(x, y);
    assert_eq!(snapshot(&pool).await, after_complete);

    // The same id under another job is a conflict.
    let (c3, e) = app
        .post(START, &app.ingest, &json!({ "job": "other", "id": id }))
        .await;
    assert_eq!(c3, 409);
    assert_eq!(error_code(&e), "conflict");
}

#[sqlx::test(migrations = "../migrations")]
async fn conflicting_complete_is_409_and_unknown_is_404(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let started = app.start("flip").await;
    let id = started["id"].as_str().unwrap().to_string();
    app.complete(&id, "completed").await;
    let before = snapshot(&pool).await;

    let path = format!("/api/v1/executions/{id}/complete");
    let (code, body) = app
        .post(&path, &app.ingest, &json!({ "status": "failed" }))
        .await;
    assert_eq!(code, 409);
    assert_eq!(error_code(&body), "conflict");

    let unknown = format!("/api/v1/executions/{}/complete", uuid::Uuid::new_v4());
    let (code, body) = app
        .post(&unknown, &app.ingest, &json!({ "status": "completed" }))
        .await;
    assert_eq!(code, 404);
    assert_eq!(error_code(&body), "not_found");
    let (code, _) = app
        .post(
            "/api/v1/executions/not-a-uuid/complete",
            &app.ingest,
            &json!({ "status": "completed" }),
        )
        .await;
    assert_eq!(code, 404);

    // "running" is not an end.
    let (code, _) = app
        .post(&path, &app.ingest, &json!({ "status": "running" }))
        .await;
    assert_eq!(code, 422);
    let (code, _) = app
        .post(
            &path,
            &app.ingest,
            &json!({ "status": "completed", "duration_ms": -1 }),
        )
        .await;
    assert_eq!(code, 422);
    assert_eq!(snapshot(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn oversized_output_is_truncated_and_oversized_body_is_413(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let ids: Vec<String> = futures::future::join_all((0..3).map(|_| app.start("big")))
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let path = |i: usize| format!("/api/v1/executions/{}/complete", ids[i]);

    // Over the completion limit (16 MiB): 413, nothing changes.
    let before = snapshot(&pool).await;
    let limit = server::http::COMPLETE_BODY_LIMIT;
    let huge = json!({ "status": "completed", "output": { "x": "a".repeat(limit) } }).to_string();
    let resp = app.post_raw(&path(0), Some(&app.ingest), huge).await;
    assert_eq!(resp.status(), 413);
    let (_, b) = common::status_json(resp).await;
    assert_eq!(error_code(&b), "payload_too_large");
    assert_eq!(snapshot(&pool).await, before);
    // Other calls keep the 1 MiB limit.
    let start = json!({ "job": "big", "host": "h".repeat(1_100_000) }).to_string();
    let resp = app.post_raw(START, Some(&app.ingest), start).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(snapshot(&pool).await, before);

    // Over the 64 KiB output cap: recorded, output replaced by a marker, flag set; so
    // is output of megabytes, which a job whose output grew must not lose its end to.
    for (i, size) in [(0, 100_000), (1, 3_000_000)] {
        let body =
            json!({ "status": "failed", "exit_code": 2, "output": { "x": "é".repeat(size) } });
        let text = body.to_string();
        let resp = app
            .post_raw(&path(i), Some(&app.ingest), text.clone())
            .await;
        assert_eq!(resp.status(), 200, "{size}");
        assert_eq!(resp.headers()["x-cronwatch-output-cap"], "65536");
        let (_, b) = common::status_json(resp).await;
        assert_eq!(
            (b["status"].as_str(), b["exit_code"].as_i64()),
            (Some("failed"), Some(2))
        );
        assert_eq!(b["output_truncated"], true, "{size}");
        assert_eq!(b["output"]["truncated"], true);
        let original = b["output"]["original_bytes"].as_u64().unwrap() as usize;
        assert_eq!(original, body["output"].to_string().len(), "{size}");
        let preview = b["output"]["preview"].as_str().unwrap();
        assert!(
            preview.starts_with("{\"x\":\"éé") && preview.len() <= 4096,
            "{size}"
        );
        // Stored as answered.
        let (_, stored) = app
            .get(&format!("/api/v1/executions/{}", ids[i]), &app.read)
            .await;
        assert_eq!(stored["output"], b["output"]);
        assert_eq!(stored["output_truncated"], true);
    }

    // Through the shell library's route too.
    let body = json!({ "executionId": ids[2], "status": "completed", "durationMs": 5,
                       "output": { "rows": vec![7; 1_000_000] } });
    let resp = app
        .post_raw(
            "/api/admin/cron-executions/complete",
            Some(&app.ingest),
            body.to_string(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (_, stored) = app
        .get(&format!("/api/v1/executions/{}", ids[2]), &app.read)
        .await;
    assert_eq!(
        (
            stored["status"].as_str(),
            stored["output_truncated"].as_bool()
        ),
        (Some("completed"), Some(true))
    );
    assert_eq!(
        stored["output"]["original_bytes"],
        body["output"].to_string().len()
    );
}

/// Many clients reporting at once to the same two jobs, so that the writer's batches mix
/// starts and ends of one job and share its summary and rollup rows. Every report is
/// answered only once it is durable (a complete sent after its start's answer always
/// finds the run: a writer that answered before its commit fails here), and every count
/// ends exact.
#[sqlx::test(migrations = "../migrations")]
async fn many_clients_reporting_at_once_keep_every_count_exact(pool: PgPool) {
    const CLIENTS: usize = 24;
    const ROUNDS: usize = 6;
    let app = spawn_app(pool.clone()).await;
    let clients = (0..CLIENTS).map(|c| {
        let app = &app;
        async move {
            for round in 0..ROUNDS {
                let job = ["shared-a", "shared-b"][(c + round) % 2];
                let started = app.start(job).await;
                let status = if (c + round) % 3 == 0 {
                    "failed"
                } else {
                    "completed"
                };
                let done = app.complete(started["id"].as_str().unwrap(), status).await;
                assert_eq!(done["status"], status);
            }
        }
    });
    futures::future::join_all(clients).await;

    let runs: Vec<(String, String, i64)> = sqlx::query_as(
        "select j.name, e.status, count(*) from executions e join jobs j on j.id = e.job_id
          group by 1, 2 order by 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        runs.iter().map(|r| r.2).sum::<i64>(),
        (CLIENTS * ROUNDS) as i64
    );
    assert!(runs.iter().all(|r| r.1 != "running"), "{runs:?}");
    // The hourly rollups, moved in the same transactions, agree with the runs.
    let rollups: Vec<(String, String, i64)> = sqlx::query_as(
        "select j.name, r.status, sum(r.count)::bigint from execution_rollups r
           join jobs j on j.id = r.job_id group by 1, 2 having sum(r.count) <> 0 order by 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rollups, runs);
    // Each job's summary names its latest run, with that run's status.
    let stale: i64 = sqlx::query_scalar(
        "select count(*) from jobs j join executions e on e.id = j.last_execution_id
          where e.status <> j.last_status
             or exists (select 1 from executions l where l.job_id = j.id
                         and l.started_at > e.started_at)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stale, 0);
    // One event per report, each run's start numbered before its end.
    let (events, runs_announced): (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct payload->'data'->>'id') from events
          where kind = 'execution'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(events, (2 * CLIENTS * ROUNDS) as i64);
    assert_eq!(runs_announced, (CLIENTS * ROUNDS) as i64);
    let out_of_order: i64 = sqlx::query_scalar(
        "select count(*) from events s join events f
             on f.payload->'data'->>'id' = s.payload->'data'->>'id'
          where s.kind = 'execution' and f.kind = 'execution'
            and s.payload->'data'->>'status' = 'running'
            and f.payload->'data'->>'status' <> 'running' and f.seq < s.seq",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(out_of_order, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn batch_counters(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (code, q) = app
        .post(
            "/api/v1/batches/kb-indexation",
            &app.ingest,
            &json!({ "pending": 10, "completed_today": 3, "failed_today": 1 }),
        )
        .await;
    assert_eq!(code, 200, "{q}");
    assert_eq!(q["pending"], 10);
    assert_eq!(q["success_rate"], 0.75);
    // Omitted counters are kept.
    let (_, q) = app
        .post(
            "/api/v1/batches/kb-indexation",
            &app.ingest,
            &json!({ "processing": 2 }),
        )
        .await;
    assert_eq!(q["pending"], 10);
    assert_eq!(q["processing"], 2);

    let before = snapshot(&pool).await;
    for (path, body, status) in [
        (
            "/api/v1/batches/kb-indexation",
            json!({ "pending": -1 }),
            422,
        ),
        ("/api/v1/batches/kb-indexation", json!({}), 422),
        ("/api/v1/batches/kb-indexation", json!({ "pendng": 1 }), 422),
        ("/api/v1/batches/Bad_Name", json!({ "pending": 1 }), 422),
    ] {
        let (code, b) = app.post(path, &app.ingest, &body).await;
        assert_eq!(code, status, "{body} → {b}");
    }
    let (code, _) = app
        .post(
            "/api/v1/batches/kb-indexation",
            &app.read,
            &json!({ "pending": 1 }),
        )
        .await;
    assert_eq!(code, 403);
    assert_eq!(snapshot(&pool).await, before);

    let (code, list) = app.get("/api/v1/batches", &app.read).await;
    assert_eq!(code, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn job_definitions(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let def = json!({
        "display_name": "QA quality analysis",
        "description": "Analyses 100 Q&A",
        "schedule": "0 2,14 * * *",
        "timezone": "America/Montreal",
        "timeout_ms": 600000,
        "estimated_duration_ms": 60000,
    });
    let put = |token: String, body: serde_json::Value, name: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .put(app.url(&format!("/api/v1/jobs/{name}")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            common::status_json(resp).await
        }
    };
    let (code, job) = put(app.admin.clone(), def.clone(), "qa-quality-analysis").await;
    assert_eq!(code, 201, "{job}");
    assert_eq!(job["timezone"], "America/Montreal");
    let next: chrono::DateTime<chrono::Utc> = job["next_run_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now());
    // 02:00 or 14:00 in Montreal is 06/07 or 18/19 UTC depending on daylight saving.
    assert!(
        [6, 7, 18, 19].contains(&chrono::Timelike::hour(&next)),
        "{next}"
    );

    assert_eq!(job["enabled"], true);
    // Paused: replacing answers 200, and the job is no longer expected to run.
    let mut paused = def.clone();
    paused["enabled"] = json!(false);
    let (code, job) = put(app.admin.clone(), paused, "qa-quality-analysis").await;
    assert_eq!(code, 200, "replacing answers 200");
    assert_eq!(job["enabled"], false, "{job}");

    let before = snapshot(&pool).await;
    let mut bad_cron = def.clone();
    bad_cron["schedule"] = json!("61 * * * *");
    let mut bad_tz = def.clone();
    bad_tz["timezone"] = json!("Mars/Olympus");
    let mut bad_timeout = def.clone();
    bad_timeout["timeout_ms"] = json!(0);
    // Above a year, start + timeout (or grace) may not be a date: reads would fail.
    let year_ms = app::db::executions::MAX_DURATION_MS;
    let mut huge_timeout = def.clone();
    huge_timeout["timeout_ms"] = json!(year_ms + 1);
    let mut huge_grace = def.clone();
    huge_grace["grace_ms"] = json!(i64::MAX);
    let mut huge_estimate = def.clone();
    huge_estimate["estimated_duration_ms"] = json!(year_ms + 1);
    for body in [
        bad_cron,
        bad_tz,
        bad_timeout,
        huge_timeout,
        huge_grace,
        huge_estimate,
    ] {
        let (code, b) = put(app.admin.clone(), body, "qa-quality-analysis").await;
        assert_eq!(code, 422, "{b}");
    }
    let (code, _) = put(app.admin.clone(), def.clone(), "Bad Name").await;
    assert_eq!(code, 422);
    let (code, _) = put(app.ingest.clone(), def.clone(), "qa-quality-analysis").await;
    assert_eq!(code, 403, "ingest tokens cannot define jobs");
    assert_eq!(snapshot(&pool).await, before);
    // The database holds the same bound (for rows written by anything but the API).
    let beyond = sqlx::query("update jobs set timeout_ms = $1 where name = 'qa-quality-analysis'")
        .bind(year_ms + 1)
        .execute(&pool)
        .await;
    assert!(beyond.is_err(), "a timeout above a year was stored");

    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit_events where action like 'job.%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audit, 2);
}

/// PostgreSQL cannot store U+0000. Reported text (logs, messages, output) keeps the
/// run, with U+FFFD in its place; names, run ids and settings are refused; nothing
/// answers 500.
#[sqlx::test(migrations = "../migrations")]
async fn nul_characters_are_replaced_in_reports_and_refused_elsewhere(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let nul = "a\u{0}b";
    let (code, started) = app
        .post(
            START,
            &app.ingest,
            &json!({ "job": "nul-job", "host": nul }),
        )
        .await;
    assert_eq!(code, 201, "{started}");
    assert_eq!(started["host"], "a\u{FFFD}b");
    let id = started["id"].as_str().unwrap();
    let (code, done) = app
        .post(
            &format!("/api/v1/executions/{id}/complete"),
            &app.ingest,
            &json!({ "status": "failed", "error_message": nul, "log_tail": nul,
                     "output": { nul: [nul, 1] } }),
        )
        .await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["error_message"], "a\u{FFFD}b");
    assert_eq!(done["log_tail"], "a\u{FFFD}b");
    assert_eq!(done["output"], json!({ "a\u{FFFD}b": ["a\u{FFFD}b", 1] }));
    // A retry of the same report is recognised as the same.
    let (code, again) = app
        .post(
            &format!("/api/v1/executions/{id}/complete"),
            &app.ingest,
            &json!({ "status": "failed", "error_message": nul }),
        )
        .await;
    assert_eq!(code, 200, "{again}");

    // A ping's log body is reported text too.
    let key: uuid::Uuid = sqlx::query_scalar("select ping_key from jobs where name = 'nul-job'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let r = app
        .client
        .post(app.url(&format!("/ping/{key}/fail")))
        .body(b"disk\x00full".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let before = snapshot(&pool).await;
    let (code, b) = app
        .post(START, &app.ingest, &json!({ "job": "a\u{0}b" }))
        .await;
    assert_eq!((code, error_code(&b).as_str()), (422, "invalid"), "{b}");
    let r = app
        .get_raw(&format!("/ping/{key}/start?rid=r%00"), None)
        .await;
    assert_eq!(r.status(), 422);
    let put = |body: serde_json::Value| {
        let (c, url, t) = (
            app.client.clone(),
            app.url("/api/v1/jobs/nul-job"),
            app.admin.clone(),
        );
        async move {
            c.put(url)
                .bearer_auth(t)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(put(json!({ "description": nul })).await, 422);
    assert_eq!(put(json!({ "display_name": nul })).await, 422);
    assert_eq!(
        put(json!({ "schedule": "0 9 * * *", "timezone": nul })).await,
        422
    );
    for path in [
        "/api/v1/jobs/a%00b",
        "/api/v1/jobs/a%00b/ping-key",
        "/api/v1/executions/a%00b",
    ] {
        let (code, b) = app.get(path, &app.admin).await;
        assert!([400, 404].contains(&code), "{path}: {code} {b}");
    }
    let r = app
        .client
        .delete(app.url("/api/v1/jobs/a%00b"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (code, _) = app.get("/api/v1/executions?job=a%00b", &app.read).await;
    assert_eq!(code, 422);
    assert_eq!(snapshot(&pool).await, before);

    // Signing in as such a name is an ordinary failure (recorded, as every failure is).
    let r = app.sign_in(nul, "whatever-it-is").await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?error=invalid"));
    let target: String =
        sqlx::query_scalar("select target from audit_events where action = 'login.failed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(target, "a\u{FFFD}b");
}
