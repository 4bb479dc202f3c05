//! One job by name (`GET /api/v1/jobs/{name}`) and deleting a job with its history
//! (`DELETE`, admin only, audited, announced to live pages), what replacing one keeps,
//! and pausing and resuming one.

use crate::common;

use common::{error_code, snapshot, spawn_app, status_json, TestApp};
use serde_json::{json, Value};
use sqlx::PgPool;

async fn delete(app: &TestApp, name: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = app.client.delete(app.url(&format!("/api/v1/jobs/{name}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    status_json(req.send().await.unwrap()).await
}

/// The text `field` of each item of a JSON array, in order.
fn field_of_each<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    let items = list.as_array().unwrap().iter();
    items.map(|item| item[field].as_str().unwrap()).collect()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn one_job_is_read_by_name(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let id = app.start("nightly-backup").await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let (code, job) = app.get("/api/v1/jobs/nightly-backup", &app.read).await;
    assert_eq!(code, 200, "{job}");
    assert_eq!(job["name"], "nightly-backup");
    assert_eq!(job["kind"], "external");
    assert_eq!(job["last_execution_id"], id.as_str());
    assert_eq!(job["last_status"], "running");

    let (code, body) = app.get("/api/v1/jobs/no-such-job", &app.read).await;
    assert_eq!(
        (code, error_code(&body).as_str()),
        (404, "not_found"),
        "{body}"
    );
    let (code, _) = app.get("/api/v1/jobs/nightly-backup", &app.ingest).await;
    assert_eq!(code, 403, "ingest tokens do not read");
    let (code, _) = app.get("/api/v1/jobs/nightly-backup", "cw_wrong").await;
    assert_eq!(code, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn jobs_and_queues_are_listed_with_numbers_in_names_in_numeric_order(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for job in ["shard-10", "shard-2", "backup", "shard-1"] {
        app.start(job).await;
    }
    let (code, jobs) = app.get("/api/v1/jobs", &app.read).await;
    assert_eq!(code, 200, "{jobs}");
    let names = field_of_each(&jobs, "name");
    assert_eq!(names, ["backup", "shard-1", "shard-2", "shard-10"]);
    let (_, stats) = app.get("/api/v1/stats?hours=24", &app.read).await;
    assert_eq!(field_of_each(&stats["jobs"], "job"), names);

    for queue in ["crawl-10", "crawl-9"] {
        let (code, _) = app
            .post(
                &format!("/api/v1/batches/{queue}"),
                &app.ingest,
                &json!({ "pending": 1 }),
            )
            .await;
        assert_eq!(code, 200);
    }
    let (_, queues) = app.get("/api/v1/batches", &app.read).await;
    assert_eq!(field_of_each(&queues, "name"), ["crawl-9", "crawl-10"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_a_job_takes_its_history_and_nothing_else(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    // A typo'd job: one failed run, one still running. And a job that stays.
    let failed = app.start("monitr-openai").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.complete(&failed, "failed").await;
    let running = app.start("monitr-openai").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let kept = app.start("monitor-openai").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.complete(&kept, "completed").await;

    // Refused: nobody, the wrong scopes, an unknown job. Nothing changes.
    let before = snapshot(&pool).await;
    assert_eq!(delete(&app, "monitr-openai", None).await.0, 401);
    assert_eq!(delete(&app, "monitr-openai", Some("cw_wrong")).await.0, 401);
    assert_eq!(delete(&app, "monitr-openai", Some(&app.read)).await.0, 403);
    assert_eq!(
        delete(&app, "monitr-openai", Some(&app.ingest)).await.0,
        403
    );
    let (code, body) = delete(&app, "no-such-job", Some(&app.admin)).await;
    assert_eq!(
        (code, error_code(&body).as_str()),
        (404, "not_found"),
        "{body}"
    );
    assert_eq!(snapshot(&pool).await, before);

    let (code, removal) = delete(&app, "monitr-openai", Some(&app.admin)).await;
    assert_eq!(code, 200, "{removal}");
    assert_eq!(
        removal,
        json!({"name": "monitr-openai", "executions": 2, "running": 1, "hours": 24,
               "total": 2, "failures": 1})
    );
    let (code, _) = app.get("/api/v1/jobs/monitr-openai", &app.read).await;
    assert_eq!(code, 404);
    assert_eq!(count(&pool, "select count(*) from executions").await, 1);
    assert_eq!(
        count(
            &pool,
            "select count(*) from execution_rollups r where not exists
               (select 1 from jobs j where j.id = r.job_id and j.name = 'monitor-openai')"
        )
        .await,
        0,
        "only the kept job's rollup cells are left"
    );
    let (_, stats) = app.get("/api/v1/stats?hours=24", &app.read).await;
    assert_eq!(
        (stats["total"].as_i64(), stats["running_now"].as_i64()),
        (Some(1), Some(0))
    );
    let (_, kept_job) = app.get("/api/v1/jobs/monitor-openai", &app.read).await;
    assert_eq!(kept_job["last_status"], "completed");

    // Live pages hear of it, with the counts to subtract.
    let (kind, payload) = common::last_event(&pool).await;
    assert_eq!(kind, "job_deleted");
    assert_eq!(payload, json!({"kind": "job_deleted", "data": removal}));
    let audit: (String, String, Value) = sqlx::query_as(
        "select actor, target, details from audit_events where action = 'job.delete'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        (
            "token:admin-test".into(),
            "monitr-openai".into(),
            json!({"executions": 2})
        )
    );

    // The deleted run's completion is unknown now; a new report re-creates the job afresh.
    let (code, _) = app
        .post(
            &format!("/api/v1/executions/{running}/complete"),
            &app.ingest,
            &json!({"status": "completed"}),
        )
        .await;
    assert_eq!(code, 404);
    app.start("monitr-openai").await;
    let (_, job) = app.get("/api/v1/jobs/monitr-openai", &app.read).await;
    assert_eq!(job["consecutive_failures"], 0);
    // And deleting twice: the second finds nothing.
    assert_eq!(delete(&app, "monitr-openai", Some(&app.admin)).await.0, 200);
    assert_eq!(delete(&app, "monitr-openai", Some(&app.admin)).await.0, 404);
}

/// Replacing a job keeps its expected start while its schedule, zone and pause stay as
/// they were: editing a description must not excuse a missed run.
#[sqlx::test(migrations = "../migrations")]
async fn replacing_a_job_keeps_a_missed_run_missed_until_its_schedule_changes(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let next_run = || async {
        let (_, job) = app.get("/api/v1/jobs/hourly", &app.read).await;
        let at = job["next_run_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>();
        at.unwrap()
    };
    let hourly = json!({ "schedule": "0 * * * *", "description": "first" });
    assert_eq!(app.put_job("hourly", &hourly).await, 201);
    sqlx::query("update jobs set next_run_at = now() - interval '2 hours'")
        .execute(&pool)
        .await
        .unwrap();
    let missed = next_run().await;

    // The same definition again: 200, and nothing is written (no event, no audit).
    let before = snapshot(&pool).await;
    assert_eq!(app.put_job("hourly", &hourly).await, 200);
    assert_eq!(snapshot(&pool).await, before);

    let described =
        json!({ "schedule": "0 * * * *", "description": "second", "timeout_ms": 60000 });
    assert_eq!(app.put_job("hourly", &described).await, 200);
    assert_eq!(next_run().await, missed, "still late");

    let moved = json!({ "schedule": "30 * * * *", "description": "second" });
    assert_eq!(app.put_job("hourly", &moved).await, 200);
    assert!(
        next_run().await > chrono::Utc::now(),
        "a new schedule, a new start"
    );

    // Paused and resumed: expected from now on, not late for the time it was paused.
    sqlx::query("update jobs set next_run_at = now() - interval '2 hours'")
        .execute(&pool)
        .await
        .unwrap();
    let paused = json!({ "schedule": "30 * * * *", "enabled": false });
    assert_eq!(app.put_job("hourly", &paused).await, 200);
    assert_eq!(app.put_job("hourly", &moved).await, 200);
    assert!(next_run().await > chrono::Utc::now());
}

/// `POST /api/v1/jobs/{name}/pause` and `/resume`: admins only; a paused job keeps its
/// definition and is expected again from its next scheduled time once resumed.
#[sqlx::test(migrations = "../migrations")]
async fn pausing_and_resuming_a_job(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let nightly = json!({ "schedule": "0 3 * * *", "timeout_ms": 60000, "tags": ["db"] });
    assert_eq!(app.put_job("nightly", &nightly).await, 201);
    let post = |path: String, token: Option<String>| {
        let app = &app;
        async move {
            let mut req = app.client.post(app.url(&path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            status_json(req.send().await.unwrap()).await
        }
    };

    let before = snapshot(&pool).await;
    for (path, token, status) in [
        ("/api/v1/jobs/nightly/pause", None, 401),
        ("/api/v1/jobs/nightly/pause", Some(app.read.clone()), 403),
        ("/api/v1/jobs/nightly/pause", Some(app.ingest.clone()), 403),
        (
            "/api/v1/jobs/no-such-job/pause",
            Some(app.admin.clone()),
            404,
        ),
        ("/api/v1/jobs/Bad_Name/resume", Some(app.admin.clone()), 404),
    ] {
        let (code, body) = post(path.to_string(), token).await;
        assert_eq!(code, status, "{path}: {body}");
        assert!(!error_code(&body).is_empty(), "{body}");
    }
    assert_eq!(snapshot(&pool).await, before, "refused: nothing changed");

    let viewer = common::signed_in(&app, &pool, "viewer", app::model::Role::Viewer).await;
    let next_run_cell = || async {
        let html = common::monitoring_html(&app, &viewer, &[]).await;
        let row = &html[html.find(r#"id="job-nightly""#).unwrap()..];
        let cell = &row[row.find(r#"data-field="next-run">"#).unwrap()..];
        cell[..cell.find("</td>").unwrap()].to_string()
    };
    assert!(
        next_run_cell().await.contains("<time"),
        "expected at a time"
    );

    let (code, job) = post("/api/v1/jobs/nightly/pause".into(), Some(app.admin.clone())).await;
    assert_eq!(code, 200, "{job}");
    assert_eq!(job["enabled"], false);
    let cell = next_run_cell().await;
    assert!(cell.contains("paused") && !cell.contains("<time"), "{cell}");
    for field in ["schedule", "timeout_ms", "tags"] {
        assert_eq!(job[field], nightly[field], "the rest is kept: {field}");
    }
    let paused = snapshot(&pool).await;
    let (code, job) = post("/api/v1/jobs/nightly/pause".into(), Some(app.admin.clone())).await;
    assert_eq!((code, &job["enabled"]), (200, &json!(false)));
    assert_eq!(
        snapshot(&pool).await,
        paused,
        "pausing a paused job writes nothing"
    );

    // Its expected start went stale while paused; resumed, it is expected afresh.
    sqlx::query("update jobs set next_run_at = now() - interval '3 days'")
        .execute(&pool)
        .await
        .unwrap();
    let (code, job) = post(
        "/api/v1/jobs/nightly/resume".into(),
        Some(app.admin.clone()),
    )
    .await;
    assert_eq!(code, 200, "{job}");
    assert_eq!(job["enabled"], true);
    let next: chrono::DateTime<chrono::Utc> = job["next_run_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now(), "{job}");

    let trail: Vec<String> = sqlx::query_scalar(
        "select action from audit_events where target = 'nightly' and action like 'job.%' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(trail, ["job.create", "job.pause", "job.resume"]);
    let events = common::job_events(&pool, "nightly").await;
    assert_eq!(events, 3, "defined, paused, resumed: open pages follow");
}
