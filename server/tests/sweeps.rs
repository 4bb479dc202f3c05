//! Sweeps: a stuck execution becomes timed_out (with an event); retention ends the runs
//! that never reported their end, then deletes exactly what is older than the retention
//! and keeps the rollups.

use crate::common;

use chrono::{Duration, Utc};
use common::spawn_app;
use serde_json::json;
use sqlx::PgPool;

/// Declares job `name` with a one-minute timeout.
async fn with_one_minute_timeout(app: &common::TestApp, name: &str) {
    let put = app
        .client
        .put(app.url(&format!("/api/v1/jobs/{name}")))
        .bearer_auth(&app.admin)
        .json(&json!({ "timeout_ms": 60000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
}

#[sqlx::test(migrations = "../migrations")]
async fn stuck_execution_times_out(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    with_one_minute_timeout(&app, "slow-job").await;
    let (_, stuck) = app
        .post(
            "/api/v1/executions/start",
            &app.ingest,
            &json!({ "job": "slow-job", "started_at": Utc::now() - Duration::minutes(2) }),
        )
        .await;
    let (_, fresh) = app
        .post(
            "/api/v1/executions/start",
            &app.ingest,
            &json!({ "job": "slow-job" }),
        )
        .await;

    server::background::sweep_once(&app.state).await.unwrap();

    let (_, s) = app
        .get(
            &format!("/api/v1/executions/{}", stuck["id"].as_str().unwrap()),
            &app.read,
        )
        .await;
    assert_eq!(s["status"], "timed_out");
    assert!(s["duration_ms"].as_i64().unwrap() >= 120_000);
    let (_, f) = app
        .get(
            &format!("/api/v1/executions/{}", fresh["id"].as_str().unwrap()),
            &app.read,
        )
        .await;
    assert_eq!(
        f["status"], "running",
        "a run within its timeout is left alone"
    );

    let events: i64 = sqlx::query_scalar(
        "select count(*) from events where payload->'data'->>'status' = 'timed_out'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(events, 1);
    let (_, stats) = app.get("/api/v1/stats", &app.read).await;
    assert_eq!(stats["jobs"][0]["timed_out"], 1);
    assert_eq!(stats["jobs"][0]["running"], 1);

    // A late real end of a timed-out run is still recorded (its result is not lost).
    let (code, late) = app
        .post(
            &format!(
                "/api/v1/executions/{}/complete",
                stuck["id"].as_str().unwrap()
            ),
            &app.ingest,
            &json!({ "status": "completed" }),
        )
        .await;
    assert_eq!(code, 200, "{late}");
    assert_eq!(late["status"], "completed");
}

#[sqlx::test(migrations = "../migrations")]
async fn retention_deletes_only_older_executions(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let mut ids = Vec::new();
    for days in [10, 8, 6, 1, 0] {
        let at = Utc::now() - Duration::days(days) - Duration::minutes(1);
        let (code, e) = app
            .post(
                "/api/v1/executions/start",
                &app.ingest,
                &json!({ "job": "old-and-new", "started_at": at }),
            )
            .await;
        assert_eq!(code, 201, "{e}");
        ids.push(e["id"].as_str().unwrap().to_string());
    }
    // The 10-day-old run ended; the 8-day-old one never reported its end.
    let (code, _) = app
        .post(
            &format!("/api/v1/executions/{}/complete", ids[0]),
            &app.ingest,
            &json!({ "status": "completed", "duration_ms": 1000 }),
        )
        .await;
    assert_eq!(code, 200);
    let counts = || {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (i64, i64)>(
                "select coalesce(sum(count) filter (where status <> 'running'), 0)::bigint,
                        coalesce(sum(count) filter (where status = 'running'), 0)::bigint
                   from execution_rollups",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (ended_before, running_before) = counts().await;
    assert_eq!((ended_before, running_before), (1, 4));
    server::background::sweep_once(&app.state).await.unwrap();
    let left: Vec<chrono::DateTime<Utc>> =
        sqlx::query_scalar("select started_at from executions order by started_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        left.len(),
        3,
        "the 10- and 8-day-old runs go, the rest stay"
    );
    assert!(left.iter().all(|t| *t > Utc::now() - Duration::days(7)));
    assert_eq!(
        counts().await,
        (2, 3),
        "aggregates outlive raw rows; the unfinished run was ended (timed out) before it went"
    );
}

/// A run whose end never came, past the retention, is ended as `timed_out` (with its
/// event, so an open page stops showing it running) before its row is deleted; its
/// job's summary says how it ended.
#[sqlx::test(migrations = "../migrations")]
async fn an_abandoned_run_is_ended_before_it_is_deleted(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let id = app.start_ago("forgotten", Duration::days(8)).await;
    let (_, before) = app.get("/api/v1/jobs", &app.read).await;
    assert_eq!(before[0]["last_status"], "running", "{before}");

    server::background::sweep_once(&app.state).await.unwrap();

    let ended: Vec<serde_json::Value> = sqlx::query_scalar(
        "select payload->'data' from events where kind = 'execution' order by seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let last = ended.last().unwrap();
    assert_eq!(last["id"], id.as_str());
    assert_eq!(last["status"], "timed_out", "{last}");
    assert_eq!(
        last["error_message"],
        "no end was reported within the retention (7 days)"
    );
    let (code, _) = app
        .get(&format!("/api/v1/executions/{id}"), &app.read)
        .await;
    assert_eq!(code, 404, "then deleted with the rest");
    let (_, jobs) = app.get("/api/v1/jobs", &app.read).await;
    assert_eq!(jobs[0]["last_status"], "timed_out", "{jobs}");
    let running: i64 = sqlx::query_scalar(
        "select coalesce(sum(count), 0)::bigint from execution_rollups where status = 'running'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(running, 0);

    // Nothing is left to end: the next pass records no other event.
    server::background::sweep_once(&app.state).await.unwrap();
    let events: i64 = sqlx::query_scalar("select count(*) from events where kind = 'execution'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events as usize, ended.len());
}

#[sqlx::test(migrations = "../migrations")]
async fn expected_start_moves_forward_only_after_a_run(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for name in ["on-time", "missed"] {
        let r = app
            .client
            .put(app.url(&format!("/api/v1/jobs/{name}")))
            .bearer_auth(&app.admin)
            .json(&json!({ "schedule": "* * * * *", "grace_ms": 1000 }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    // Both were expected ten minutes ago; only "on-time" started since.
    sqlx::query("update jobs set next_run_at = now() - interval '10 minutes'")
        .execute(&pool)
        .await
        .unwrap();
    app.post(
        "/api/v1/executions/start",
        &app.ingest,
        &json!({ "job": "on-time", "started_at": Utc::now() - Duration::minutes(10) + Duration::seconds(1) }),
    )
    .await;
    server::background::sweep_once(&app.state).await.unwrap();
    let next = |name: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, chrono::DateTime<Utc>>(
                "select next_run_at from jobs where name = $1",
            )
            .bind(name)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert!(
        next("on-time").await > Utc::now(),
        "satisfied: moved to the next minute"
    );
    assert!(
        next("missed").await < Utc::now() - Duration::minutes(9),
        "missed: stays late"
    );
    let job_events = common::job_events(&pool, "on-time").await;
    assert_eq!(
        job_events, 2,
        "one for the definition, one for the new expected start"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_burst_of_stuck_runs_times_out_in_bounded_transactions(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    with_one_minute_timeout(&app, "burst").await;
    for _ in 0..7 {
        let (status, _) = app
            .post(
                "/api/v1/executions/start",
                &app.ingest,
                &json!({ "job": "burst", "started_at": Utc::now() - Duration::minutes(5) }),
            )
            .await;
        assert_eq!(status, 201);
    }
    // Three a transaction: three passes, every run once.
    let mut ids = overdue(&pool, 3).await;
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 7);
    let running: i64 =
        sqlx::query_scalar("select count(*) from executions where status = 'running'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(running, 0);
    let (_, stats) = app.get("/api/v1/stats?hours=24", &app.read).await;
    let job = stats["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "burst")
        .unwrap()
        .clone();
    assert_eq!(job["timed_out"], 7, "{job}");
    assert_eq!(job["running"], 0, "{job}");
    assert!(overdue(&pool, 3).await.is_empty());
}

/// Ends the overdue runs under a 7-day retention, `chunk` a transaction.
async fn overdue(pool: &PgPool, chunk: i64) -> Vec<uuid::Uuid> {
    app::db::sweeps::end_overdue_runs(pool, Duration::days(7), Utc::now(), chunk)
        .await
        .unwrap()
}

/// `cronwatch serve --retention-days 2`: the server's own sweeper deletes the run from
/// three days ago and keeps yesterday's.
#[sqlx::test(migrations = "../migrations")]
async fn the_server_keeps_the_retention_it_is_given(pool: PgPool) {
    use app::db::executions::{apply_one, NewExecution, Report};
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut ids = Vec::new();
    for days in [3, 1] {
        let outcome = apply_one(
            &pool,
            Report::Start(NewExecution {
                job: "kept-two-days".into(),
                id: None,
                trigger: app::model::Trigger::Api,
                triggered_by: None,
                started_at: Some(Utc::now() - Duration::days(days)),
                host: None,
                scheduled_for: None,
                run_key: None,
                attempt: 1,
            }),
        )
        .await
        .unwrap();
        ids.push(outcome.execution.summary.id);
    }
    let mut server = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["serve", "--bind", "127.0.0.1:0", "--retention-days", "2"])
        .env("DATABASE_URL", common::url_of(&pool))
        .env("CRONWATCH_ADMIN_PASSWORD", "retention-password")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    assert!(lines
        .by_ref()
        .map(|l| l.unwrap())
        .any(|l| l.starts_with("cronwatch listening on ")));
    // The first sweep runs at start; give a slow machine a minute.
    let mut left = Vec::new();
    for _ in 0..600 {
        left = sqlx::query_scalar::<_, uuid::Uuid>("select id from executions")
            .fetch_all(&pool)
            .await
            .unwrap();
        if left.len() < 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(left, vec![ids[1]], "only yesterday's run is kept");
}
