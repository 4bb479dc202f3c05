//! Pings without `rid`: a job has one open run. A new start ends the open one as failed
//! (its end will never come), a quick retry of the same start changes nothing, and
//! such pings never touch runs reported another way.

use crate::common;

use common::{ping_key, snapshot, spawn_app, TestApp};
use serde_json::Value;
use sqlx::PgPool;

async fn ping(app: &TestApp, path: &str) {
    let r = app.client.post(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.text().await.unwrap(), "OK");
}

/// Moves the job's running runs an hour into the past, their rollup counts with them,
/// as if the next start came an hour later.
async fn age_open_runs(pool: &PgPool, job: &str) {
    sqlx::query(
        "with open as (select e.job_id, e.started_at from executions e join jobs j on j.id = e.job_id
                        where j.name = $1 and e.status = 'running')
         select cw_bump_rollup(job_id, started_at, 'running', -1, null),
                cw_bump_rollup(job_id, started_at - interval '1 hour', 'running', 1, null)
           from open",
    )
    .bind(job)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "update executions e set started_at = started_at - interval '1 hour' from jobs j
          where j.id = e.job_id and j.name = $1 and e.status = 'running'",
    )
    .bind(job)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "update jobs set last_started_at = last_started_at - interval '1 hour' where name = $1",
    )
    .bind(job)
    .execute(pool)
    .await
    .unwrap();
}

/// The job's runs, oldest first: (status, duration_ms, error_message).
async fn runs(pool: &PgPool, job: &str) -> Vec<(String, Option<i64>, Option<String>)> {
    sqlx::query_as(
        "select e.status, e.duration_ms, e.error_message from executions e
           join jobs j on j.id = e.job_id where j.name = $1 order by e.started_at, e.id",
    )
    .bind(job)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Asserts that the rollups hold exactly what the executions add up to.
async fn assert_rollups_match(pool: &PgPool) {
    let query = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (i64, String, i64, i64, i64)>(sql)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    let from_rows = query(
        "select job_id, status, count(*)::bigint, coalesce(sum(duration_ms), 0)::bigint,
                count(duration_ms)::bigint
           from executions group by 1, 2 order by 1, 2",
    )
    .await;
    let rolled = query(
        "select job_id, status, sum(count)::bigint, sum(duration_sum_ms)::bigint,
                sum(duration_count)::bigint
           from execution_rollups group by 1, 2 having sum(count) <> 0 order by 1, 2",
    )
    .await;
    assert_eq!(rolled, from_rows);
}

async fn job_summary(app: &TestApp, job: &str) -> Value {
    let (code, body) = app.get(&format!("/api/v1/jobs/{job}"), &app.read).await;
    assert_eq!(code, 200, "{body}");
    body
}

#[sqlx::test(migrations = "../migrations")]
async fn a_start_ends_the_open_run_as_failed(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "nightly").await;
    let start = format!("/ping/{key}/start");

    // Three nights the script crashes after its start ping; the fourth it succeeds.
    for _ in 0..3 {
        ping(&app, &start).await;
        age_open_runs(&pool, "nightly").await;
    }
    ping(&app, &start).await;
    let closed = (
        "failed".to_string(),
        None,
        Some("no end was reported before the job started again".to_string()),
    );
    assert_eq!(
        runs(&pool, "nightly").await,
        [
            closed.clone(),
            closed.clone(),
            closed.clone(),
            ("running".into(), None, None)
        ]
    );
    let job = job_summary(&app, "nightly").await;
    assert_eq!(job["consecutive_failures"], 3, "{job}");
    assert_eq!(job["last_status"], "running", "{job}");
    let (_, stats) = app.get("/api/v1/stats?hours=24", &app.read).await;
    assert_eq!(stats["running_now"], 1, "{stats}");
    assert_rollups_match(&pool).await;

    // Each closed run was announced live, before the start that closed it.
    let statuses: Vec<String> = sqlx::query_scalar(
        "select payload->'data'->>'status' from events where kind = 'execution' order by seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        statuses,
        ["running", "failed", "running", "failed", "running", "failed", "running"]
    );

    ping(&app, &format!("/ping/{key}")).await;
    let after = runs(&pool, "nightly").await;
    assert_eq!(after[3].0, "completed");
    assert!(after[3].1.is_some(), "a real end has its duration");
    assert_eq!(
        job_summary(&app, "nightly").await["consecutive_failures"],
        0
    );
    assert_rollups_match(&pool).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retried_start_is_the_same_run(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "often").await;
    let start = format!("/ping/{key}/start");
    ping(&app, &start).await;
    let before = snapshot(&pool).await;
    // curl --retry sends the start again within seconds: nothing changes.
    ping(&app, &start).await;
    ping(&app, &start).await;
    assert_eq!(snapshot(&pool).await, before);
    ping(&app, &format!("/ping/{key}/1")).await;
    assert_eq!(runs(&pool, "often").await.len(), 1);
    assert_eq!(runs(&pool, "often").await[0].0, "failed");
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_starts_open_one_run(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "burst").await;
    let start = format!("/ping/{key}/start");
    let all = (0..8).map(|_| ping(&app, &start));
    futures::future::join_all(all).await;
    assert_eq!(runs(&pool, "burst").await.len(), 1);
    assert_rollups_match(&pool).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_reported_otherwise_are_left_alone(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "mixed").await;
    // A run started through the API and one paired by rid stay open through a
    // rid-less end (an instant run of its own)...
    let api_run = app.start("mixed").await;
    ping(&app, &format!("/ping/{key}/start?rid=r1")).await;
    ping(&app, &format!("/ping/{key}")).await;
    age_open_runs(&pool, "mixed").await;
    // ...and through a rid-less start and end, which pair with each other.
    ping(&app, &format!("/ping/{key}/start")).await;
    ping(&app, &format!("/ping/{key}")).await;
    let statuses: Vec<String> = runs(&pool, "mixed")
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(statuses, ["running", "running", "completed", "completed"]);
    let (_, api_now) = app
        .get(
            &format!("/api/v1/executions/{}", api_run["id"].as_str().unwrap()),
            &app.read,
        )
        .await;
    assert_eq!(api_now["status"], "running");
    assert_eq!(job_summary(&app, "mixed").await["consecutive_failures"], 0);
    assert_rollups_match(&pool).await;
}
