//! `cronwatch serve --demo`: DESIGN.md's demo jobs, most of which really run (the
//! scheduler and Run now call the server's own demo endpoint with its secret), and a
//! feeder that reports through the real ingest API a week of history, the other jobs'
//! live runs, a stuck run, a failure streak and moving batch counters. A second start
//! re-sends the same history without duplicates.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app::db::tokens::{self, Scope};
use app::model::{BatchQueue, ExecutionStatus, Job, JobKind};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sqlx::PgPool;

use crate::common;
use common::url_of;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn start_demo(url: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", url)
        .env("CRONWATCH_ADMIN_PASSWORD", "demo-test-password")
        .stdout(Stdio::piped())
        .spawn()
        .expect("cronwatch starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(addr) = line.strip_prefix("cronwatch listening on ") {
            break addr.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

/// Polls `check` every 250 ms until it holds (or fails after three minutes: the week of
/// history takes 10–30 s here; a slow machine must not fail the test).
async fn eventually<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(what: &str, check: F) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn scheduled_runs(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from executions where trigger = 'scheduled'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn demo_jobs_history_and_live_feed(pool: PgPool) {
    let url = url_of(&pool);
    let server = start_demo(&url);
    let read = app::db::tokens::create(&pool, "test-read", app::db::tokens::Scope::Read, None)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", server.base))
            .bearer_auth(&read)
            .send()
    };

    // The jobs as DESIGN.md lists them.
    let jobs: Vec<Job> = get("/api/v1/jobs").await.unwrap().json().await.unwrap();
    assert_eq!(jobs.len(), 9);
    let qa = jobs
        .iter()
        .find(|j| j.name == "qa-quality-analysis")
        .unwrap();
    assert_eq!(qa.schedule.as_deref(), Some("0 2,14 * * *"));
    assert_eq!(qa.timezone, "America/Montreal");
    assert_eq!(qa.estimated_duration_ms, Some(60_000));
    // It takes how many Q&A to analyse, 100 unless told.
    assert_eq!(
        (qa.params[0].name.as_str(), qa.params[0].default.clone()),
        ("limit", Some(100.into()))
    );
    let kb = jobs
        .iter()
        .find(|j| j.name == "index-kb-progressive")
        .unwrap();
    assert_eq!(kb.schedule.as_deref(), Some("*/5 * * * *"));
    assert!(kb
        .description
        .starts_with("Indexes 2 knowledge-base documents"));
    assert!(jobs.iter().all(|j| j.next_run_at.is_some()));
    // Two report their runs; the others are called by cronwatch, at the demo endpoint.
    let reported: Vec<&str> = jobs
        .iter()
        .filter(|j| j.kind == JobKind::External)
        .map(|j| j.name.as_str())
        .collect();
    assert_eq!(reported.len(), 2, "{reported:?}");
    assert!(reported.contains(&"reanalyze-kb-failures"), "the stuck one");
    for job in jobs.iter().filter(|j| j.kind == JobKind::Http) {
        let call = job.http.as_ref().expect("an http job has its call");
        assert_eq!(call.url, format!("{}/demo/jobs/{}", server.base, job.name));
        assert_eq!(call.secret_env.as_deref(), Some("CRONWATCH_SECRET_DEMO"));
    }

    // A week of history arrives through the API (every 5 minutes for one job alone).
    eventually("a week of history", || async {
        scheduled_runs(&pool).await > 2000
    })
    .await;
    eventually("the stuck run and the failure streak", || async {
        let jobs: Vec<Job> = get("/api/v1/jobs").await.unwrap().json().await.unwrap();
        let now = chrono::Utc::now();
        let alerts = |name: &str| {
            let job = jobs.iter().find(|j| j.name == name).unwrap();
            let since = app::health::running_since(job, &[]);
            app::health::alerts(job, None, since, now)
        };
        alerts("reanalyze-kb-failures").contains(&app::health::Alert::Stuck)
            && alerts("monitor-openai")
                .iter()
                .any(|a| matches!(a, app::health::Alert::Failing(n) if *n >= 3))
    })
    .await;
    let failures: i64 =
        sqlx::query_scalar("select count(*) from executions where status = 'failed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(failures > 10, "some runs fail: {failures}");

    // Live: runs started now, and batch counters that move.
    eventually("a live run ends", || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from executions where trigger = 'api' and status <> 'running'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
            > 0
    })
    .await;
    let batches = || async {
        get("/api/v1/batches")
            .await
            .unwrap()
            .json::<Vec<BatchQueue>>()
            .await
            .unwrap()
    };
    eventually("three batch queues", || async {
        batches().await.len() == 3
    })
    .await;
    let before = batches().await;
    eventually("batch counters move", || async {
        batches().await != before
    })
    .await;

    really_run(&pool, &server.base).await;
    let stats: app::model::Stats = get("/api/v1/stats?hours=168")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats
        .timeline
        .iter()
        .any(|p| p.status == ExecutionStatus::Completed));

    // A second start re-sends the same history: nothing doubles. Wait for the whole
    // history first (it keeps arriving after the first 2000 on a busy machine): no new
    // scheduled run for two seconds.
    eventually("the whole week of history", || async {
        let before = scheduled_runs(&pool).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        scheduled_runs(&pool).await == before
    })
    .await;
    let history = scheduled_runs(&pool).await;
    drop(server);
    let again = start_demo(&url);
    eventually("the second start is up", || async {
        reqwest::get(format!("{}/healthz", again.base))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = scheduled_runs(&pool).await;
    assert!(
        after - history < 5,
        "history re-sent without duplicates: {history} then {after}"
    );
}

/// The demo's `http` jobs really run: the feeder's extra runs, a scheduled run (made
/// due by hand) and an admin's Run now each call the demo endpoint, which answers as the
/// job would after a second or more. Without the secret the endpoint refuses.
async fn really_run(pool: &PgPool, base: &str) {
    let ended_by = |who: &'static str, job: &'static str| async move {
        sqlx::query_as::<_, (String, Option<serde_json::Value>, Option<i64>)>(
            "select e.status, e.output, e.duration_ms from executions e
               join jobs j on j.id = e.job_id
              where e.triggered_by = $1 and ($2 = '' or j.name = $2) and e.status <> 'running'
              limit 1",
        )
        .bind(who)
        .bind(job)
        .fetch_optional(pool)
        .await
        .unwrap()
    };
    let answered = |run: Option<(String, Option<serde_json::Value>, Option<i64>)>| {
        run.is_some_and(|(status, output, ms)| {
            ["completed", "failed"].contains(&status.as_str())
                && output.is_some()
                && ms.is_some_and(|ms| ms >= 1_000)
        })
    };
    eventually("the feeder's run of an http job is answered", || async {
        answered(ended_by("cronwatch:demo", "").await)
    })
    .await;

    sqlx::query("update jobs set next_run_at = now() where name = 'check-alerts'")
        .execute(pool)
        .await
        .unwrap();
    eventually(
        "the scheduler's run of check-alerts is answered",
        || async { answered(ended_by("cronwatch:scheduler", "check-alerts").await) },
    )
    .await;

    // An admin's Run now (refused while the feeder's own run of the job is under way).
    let admin = tokens::create(pool, "test-admin", Scope::Admin, None)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    eventually("an admin's Run now is accepted", || async {
        let resp = http
            .post(format!("{base}/api/v1/jobs/cleanup-executions/run"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        match resp.status().as_u16() {
            202 => true,
            409 => false,
            other => panic!("run now answered {other}"),
        }
    })
    .await;
    eventually("the admin's run is answered", || async {
        answered(ended_by("token:test-admin", "cleanup-executions").await)
    })
    .await;

    for secret in [None, Some("guess")] {
        let mut call = http.post(format!("{base}/demo/jobs/check-alerts"));
        if let Some(s) = secret {
            call = call.header("x-cron-secret", s);
        }
        let resp = call.send().await.unwrap();
        assert_eq!(resp.status(), 401, "secret {secret:?}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_restarted_demo_ends_the_runs_its_last_server_left_running(pool: PgPool) {
    let base = "http://127.0.0.1:9";
    server::demo::install(&pool, base).await.unwrap();
    let app = common::spawn_app(pool.clone()).await;
    let start = |job: &'static str, host: &'static str| {
        let app = &app;
        async move {
            let body = serde_json::json!({ "job": job, "host": host });
            let (code, e) = app
                .post("/api/v1/executions/start", &app.ingest, &body)
                .await;
            assert_eq!(code, 201, "{e}");
            e["id"].as_str().unwrap().to_string()
        }
    };
    // What a stopped demo leaves: a live run cut short, and its deliberately stuck run;
    // beside them, a real worker's run.
    let orphan = start("check-alerts", "demo-worker-1").await;
    let stuck = start("reanalyze-kb-failures", "demo-worker-1").await;
    let real = start("check-alerts", "db-host").await;

    server::demo::install(&pool, base).await.unwrap();
    let status = |id: String| {
        let app = &app;
        async move {
            let (_, e) = app
                .get(&format!("/api/v1/executions/{id}"), &app.read)
                .await;
            (
                e["status"].as_str().unwrap().to_string(),
                e["error_message"].clone(),
            )
        }
    };
    let (ended, why) = status(orphan).await;
    assert_eq!(ended, "cancelled");
    assert!(
        why.as_str().unwrap().contains("demo server stopped"),
        "{why}"
    );
    assert_eq!(status(stuck).await.0, "running", "meant to hang");
    assert_eq!(status(real).await.0, "running", "not the demo's");
}
