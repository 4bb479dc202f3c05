//! `http` jobs, which cronwatch runs itself: their definitions are checked, an admin
//! runs one now (`POST /api/v1/jobs/{name}/run`: 202 at once, 409 while running, 429
//! past the limits, audited), the scheduler fires due runs once across replicas, and
//! each call's answer (or its absence) becomes the run's end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::{error_code, snapshot, spawn_app_with, status_json, TestApp};
use serde_json::{json, Value};
use sqlx::PgPool;

use app::http_call::JobSecrets;
use app::state::Config;

/// The secret the tests' server knows, and its value.
const SECRET_VAR: &str = "CRONWATCH_SECRET_CRON";
const SECRET: &str = "s3cret-value";

/// An endpoint on loopback that jobs call: keeps what each call sent, and answers
/// by path: `/ok` JSON, `/down` 503 with text, `/fails` 502 (`/fails-once` only on
/// its first call), `/refused` 422 with a JSON reason,
/// `/slow` after 3 s (`/slower` 30 s), `/moved` a redirect.
#[derive(Clone, Default)]
pub(crate) struct Endpoint {
    calls: Arc<Mutex<Vec<Call>>>,
}

#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Endpoint {
    /// The endpoint and its base URL.
    pub(crate) async fn start() -> (Self, String) {
        let me = Endpoint::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .route("/{path}", axum::routing::post(answer))
            .with_state(me.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (me, base)
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

async fn answer(
    State(e): State<Endpoint>,
    Path(path): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    e.calls.lock().unwrap().push(Call {
        path: path.clone(),
        headers,
        body,
    });
    match path.as_str() {
        "ok" => axum::Json(json!({ "analyzed_count": 100, "errors": [] })).into_response(),
        "down" => (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response(),
        "fails" => (StatusCode::BAD_GATEWAY, "upstream down").into_response(),
        // Fails on its first call only.
        "fails-once" if e.calls().iter().filter(|c| c.path == "fails-once").count() == 1 => {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        "fails-once" => axum::Json(json!({ "ok": true })).into_response(),
        "refused" => {
            let why = json!({ "error": { "code": 7, "message": "invoice 42 is locked" } });
            (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(why)).into_response()
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "finally".into_response()
        }
        "slower" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late".into_response()
        }
        "moved" => axum::response::Redirect::to("http://example.com/elsewhere").into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A server that knows [`SECRET_VAR`] (and nothing else of the environment).
pub(crate) async fn spawn(pool: &PgPool) -> TestApp {
    let config = Config {
        job_secrets: JobSecrets::from_pairs([(SECRET_VAR.to_string(), SECRET.to_string())]),
        ..Config::default()
    };
    spawn_app_with(pool.clone(), config).await
}

/// A server, the test endpoint, and http job `slow` calling the endpoint's `path`
/// (the cancel tests' setup).
async fn with_slow_job(pool: &PgPool, path: &str) -> (TestApp, Endpoint) {
    let app = spawn(pool).await;
    let (endpoint, base) = Endpoint::start().await;
    http_job(
        &app,
        "slow",
        json!({ "http": { "url": format!("{base}/{path}") } }),
    )
    .await;
    (app, endpoint)
}

/// Declares `def` (with its `http` call) as http job `name`; asserts it is created.
pub(crate) async fn http_job(app: &TestApp, name: &str, mut def: Value) {
    def["kind"] = json!("http");
    assert_eq!(app.put_job(name, &def).await, 201, "{def}");
}

/// Defines `name` as an http job that calls `url` and nothing more.
pub(crate) async fn url_job(app: &TestApp, name: &str, url: &str) {
    http_job(app, name, json!({ "http": { "url": url } })).await;
}

/// `POST /api/v1/jobs/{name}/run` with `token` (if any): status, body, Retry-After.
async fn run_now(app: &TestApp, name: &str, token: Option<&str>) -> (u16, Value, Option<u64>) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/jobs/{name}/run")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let (status, body) = status_json(resp).await;
    (status, body, retry_after)
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn http_job_definitions_are_checked_and_never_hold_a_secret(pool: PgPool) {
    let app = spawn(&pool).await;
    let before = snapshot(&pool).await;
    let url = "https://example.com/api/cron/x";
    let refused = [
        json!({ "kind": "http" }),
        json!({ "kind": "external", "http": { "url": url } }),
        json!({ "kind": "http", "http": { "url": "ftp://example.com/x" } }),
        json!({ "kind": "http", "http": { "url": "/api/cron/x" } }),
        json!({ "kind": "http", "http": { "url": url, "secret_env": "DATABASE_URL" } }),
        json!({ "kind": "http", "http": { "url": url, "secret_header": "X-Token" } }),
        json!({ "kind": "http", "http": { "url": url, "secret_env": SECRET_VAR,
                                          "secret_header": "Host" } }),
        json!({ "kind": "http", "http": { "url": url, "method": "GET" } }),
        json!({ "kind": "http", "http": { "url": url, "retries": 11 } }),
        json!({ "kind": "http", "http": { "url": url, "retries": 1, "retry_backoff_ms": 10 } }),
    ];
    for def in refused {
        let path = "/api/v1/jobs/bad-http";
        let resp = app
            .client
            .put(app.url(path))
            .bearer_auth(&app.admin)
            .json(&def)
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(resp).await;
        assert!(
            matches!(status, 400 | 422),
            "{def} answered {status}: {body}"
        );
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(snapshot(&pool).await, before, "refusals changed nothing");

    let def = json!({ "kind": "http", "schedule": "0 9 * * *",
                      "http": { "url": url, "secret_env": SECRET_VAR } });
    assert_eq!(app.put_job("monitor-openai", &def).await, 201);
    let (_, job) = app.get("/api/v1/jobs/monitor-openai", &app.read).await;
    assert_eq!(job["http"], json!({ "url": url, "secret_env": SECRET_VAR }));
    assert!(
        !job.to_string().contains(SECRET),
        "the value is never shown"
    );
    // The same definition again writes nothing.
    let audited = count(&pool, "select count(*) from audit_events").await;
    assert_eq!(app.put_job("monitor-openai", &def).await, 200);
    assert_eq!(
        count(&pool, "select count(*) from audit_events").await,
        audited
    );
    let stored: String =
        sqlx::query_scalar("select http::text from jobs where name = 'monitor-openai'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!stored.contains(SECRET), "{stored}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_runs_a_job_now_and_its_answer_is_recorded(pool: PgPool) {
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    let extra = json!({ "http": { "url": format!("{base}/ok"), "secret_env": SECRET_VAR },
                        "description": "Analyses 100 Q&A", "estimated_duration_ms": 60000 });
    http_job(&app, "qa-quality-analysis", extra).await;

    let (status, run, _) = run_now(&app, "qa-quality-analysis", Some(&app.admin)).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["job"], "qa-quality-analysis");
    assert_eq!(run["status"], "running");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["triggered_by"], "token:admin-test");
    let id = run["id"].as_str().unwrap();

    let done = app.ended(id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["output"],
        json!({ "analyzed_count": 100, "errors": [] })
    );
    assert!(done["duration_ms"].as_i64().unwrap() >= 0);
    let calls = endpoint.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "ok");
    assert_eq!(calls[0].headers["x-cron-secret"], SECRET);
    assert_eq!(calls[0].headers["x-cronwatch-execution"], id);
    assert_eq!(calls[0].body["job"], "qa-quality-analysis");
    assert_eq!(calls[0].body["execution_id"], id);
    assert_eq!(calls[0].body["trigger"], "manual");

    let (actor, action, target, details): (String, String, String, Value) = sqlx::query_as(
        "select actor, action, target, details from audit_events where action = 'job.run'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (actor.as_str(), action.as_str(), target.as_str()),
        ("token:admin-test", "job.run", "qa-quality-analysis")
    );
    assert_eq!(details["execution_id"], id);

    // A second run of the same job within 30 s is refused, saying when to come back.
    let before = snapshot(&pool).await;
    let (status, body, retry_after) = run_now(&app, "qa-quality-analysis", Some(&app.admin)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (429, "rate_limited"),
        "{body}"
    );
    assert!(matches!(retry_after, Some(1..=30)), "{retry_after:?}");
    assert_eq!(snapshot(&pool).await, before);
    assert_eq!(endpoint.calls().len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_timeouts_and_missing_secrets_end_the_run_as_such(pool: PgPool) {
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    // A port nothing listens on: bound, then let go.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/x", l.local_addr().unwrap())
    };
    let cases = [
        (
            "down",
            json!({ "url": format!("{base}/down") }),
            json!({}),
            "failed",
            "HTTP 503 Service Unavailable",
        ),
        (
            "refused",
            json!({ "url": format!("{base}/refused") }),
            json!({}),
            "failed",
            "the URL answered HTTP 422 Unprocessable Entity: invoice 42 is locked",
        ),
        (
            "slow",
            json!({ "url": format!("{base}/slow") }),
            json!({ "timeout_ms": 300 }),
            "timed_out",
            "no answer within 300 ms",
        ),
        (
            "closed",
            json!({ "url": closed }),
            json!({}),
            "failed",
            "could not call",
        ),
        (
            "moved",
            json!({ "url": format!("{base}/moved") }),
            json!({}),
            "failed",
            "redirects are not followed",
        ),
        (
            "no-secret",
            json!({ "url": format!("{base}/ok"), "secret_env": "CRONWATCH_SECRET_NONE" }),
            json!({}),
            "failed",
            "no environment variable CRONWATCH_SECRET_NONE",
        ),
    ];
    for (name, http, extra, status, error) in cases {
        let mut extra = extra;
        extra["http"] = http;
        http_job(&app, name, extra).await;
        let (code, run, _) = run_now(&app, name, Some(&app.admin)).await;
        assert_eq!(code, 202, "{run}");
        let done = app.ended(run["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], status, "{name}: {done}");
        let message = done["error_message"].as_str().unwrap();
        assert!(message.contains(error), "{name}: {message}");
    }
    let (_, down) = app.get("/api/v1/jobs/down", &app.read).await;
    assert_eq!(down["last_status"], "failed");
    let logs: Vec<Option<String>> = sqlx::query_scalar(
        "select e.log_tail from executions e join jobs j on j.id = e.job_id where j.name = 'down'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(logs, [Some("down for maintenance".to_string())]);
    let paths: Vec<String> = endpoint.calls().into_iter().map(|c| c.path).collect();
    assert!(
        !paths.contains(&"ok".to_string()),
        "no call without its secret: {paths:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn run_now_is_refused_when_it_must_be_and_changes_nothing(pool: PgPool) {
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    url_job(&app, "slow", &format!("{base}/slow")).await;
    app.start("reports-only").await;

    let before = snapshot(&pool).await;
    let refusals = [
        ("slow", None, 401),
        ("slow", Some(app.read.as_str()), 403),
        ("slow", Some(app.ingest.as_str()), 403),
        ("no-such-job", Some(app.admin.as_str()), 404),
        ("reports-only", Some(app.admin.as_str()), 409),
        ("Bad Name", Some(app.admin.as_str()), 404),
    ];
    for (job, token, want) in refusals {
        let (status, body, _) = run_now(&app, job, token).await;
        assert_eq!(status, want, "{job}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    assert_eq!(snapshot(&pool).await, before, "refusals changed nothing");

    // While a run is going, another is refused with its id.
    let (status, run, _) = run_now(&app, "slow", Some(&app.admin)).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap();
    let (status, body, _) = run_now(&app, "slow", Some(&app.admin)).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(id),
        "{body}"
    );
    assert_eq!(body["error"]["execution_id"], id, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(app.ended(id).await["status"], "completed");
    assert_eq!(endpoint.calls().len(), 1);

    // Ten runs a minute in all: the eleventh job waits.
    for n in 1..=9 {
        url_job(&app, &format!("quick-{n}"), &format!("{base}/ok")).await;
        let (status, body, _) = run_now(&app, &format!("quick-{n}"), Some(&app.admin)).await;
        assert_eq!(status, 202, "run {n}: {body}");
    }
    url_job(&app, "quick-10", &format!("{base}/ok")).await;
    let (status, body, retry_after) = run_now(&app, "quick-10", Some(&app.admin)).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10 jobs"),
        "{body}"
    );
    assert!(matches!(retry_after, Some(1..=60)), "{retry_after:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_scheduler_fires_each_due_run_once_and_moves_on(pool: PgPool) {
    let app = spawn(&pool).await;
    let other = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    // Once a year, made due by hand below: no new time falls due while the test runs
    // (an every-minute schedule did, across a minute boundary).
    let once_a_year = json!({ "schedule": "0 0 1 1 *",
                               "http": { "url": format!("{base}/ok"), "secret_env": SECRET_VAR } });
    http_job(&app, "refresh-mv-metadata", once_a_year.clone()).await;
    let mut paused = once_a_year.clone();
    paused["enabled"] = json!(false);
    http_job(&app, "paused", paused).await;
    // An external job that is due is only expected, never run.
    app.put_job("external", &json!({ "schedule": "0 0 1 1 *" }))
        .await;
    let due_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("update jobs set next_run_at = date_trunc('minute', now()) - interval '5 minutes' returning next_run_at")
            .fetch_all(&pool)
            .await
            .unwrap()[0];

    // Two replicas look at once: one run.
    let (a, b) = tokio::join!(
        server::runner::scheduler::fire_due(&app.state),
        server::runner::scheduler::fire_due(&other.state)
    );
    let fired: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    let id = fired[0].to_string();
    let done = app.ended(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["job"], "refresh-mv-metadata");
    assert_eq!(done["trigger"], "scheduled");
    assert_eq!(done["triggered_by"], "cronwatch:scheduler");
    assert_eq!(
        done["scheduled_for"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        due_at
    );
    assert_eq!(endpoint.calls().len(), 1);
    assert_eq!(endpoint.calls()[0].headers["x-cron-secret"], SECRET);
    assert_eq!(
        endpoint.calls()[0].body["scheduled_for"],
        done["scheduled_for"]
    );

    // Its expected start moved on; nothing more is due.
    let (_, job) = app.get("/api/v1/jobs/refresh-mv-metadata", &app.read).await;
    let next: chrono::DateTime<chrono::Utc> = job["next_run_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now(), "{job}");
    assert!(server::runner::scheduler::fire_due(&app.state)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        count(&pool, "select count(*) from executions").await,
        1,
        "the paused and the external job were not run"
    );

    // A job still running when its time comes is not started twice.
    http_job(
        &app,
        "slow",
        json!({ "schedule": "0 0 1 1 *",
                                       "http": { "url": format!("{base}/slow") } }),
    )
    .await;
    let (_, run, _) = run_now(&app, "slow", Some(&app.admin)).await;
    sqlx::query("update jobs set next_run_at = now() - interval '1 minute' where name = 'slow'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(server::runner::scheduler::fire_due(&app.state)
        .await
        .unwrap()
        .is_empty());
    // Once it has ended, the missed run is made up.
    app.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(
        server::runner::scheduler::fire_due(&app.state)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// `cronwatch serve` schedules http jobs, sending the secret from its environment; when
/// it is stopped mid-call, it ends the run as failed, saying why, before it exits.
#[sqlx::test(migrations = "../migrations")]
async fn serve_fires_due_http_jobs_with_secrets_from_its_environment(pool: PgPool) {
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    let def = json!({ "schedule": "0 9 * * *",
                      "http": { "url": format!("{base}/slower"), "secret_env": "CRONWATCH_SECRET_SERVE",
                                "secret_header": "Authorization" } });
    http_job(&app, "monitor-openai", def).await;
    sqlx::query("update jobs set next_run_at = now() - interval '1 minute'")
        .execute(&pool)
        .await
        .unwrap();

    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", common::url_of(&pool))
        .env("CRONWATCH_SECRET_SERVE", "Bearer from-the-environment")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while endpoint.calls().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = server.wait();
    let calls = endpoint.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].headers["authorization"],
        "Bearer from-the-environment"
    );
    assert_eq!(calls[0].body["trigger"], "scheduled");
    let (status, why): (String, String) =
        sqlx::query_as("select status, error_message from executions")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(
        why.contains("cronwatch stopped before the URL answered"),
        "{why}"
    );
}

/// A run whose replica died mid-call is ended by the sweeper once its call would have
/// given up (the default minute, and some), even with no timeout set; a reporting job's
/// run without a timeout is left running.
#[sqlx::test(migrations = "../migrations")]
async fn a_call_whose_replica_died_is_ended_by_the_sweeper(pool: PgPool) {
    let app = spawn(&pool).await;
    let url = "http://127.0.0.1:9/never-called";
    http_job(&app, "orphaned", json!({ "http": { "url": url } })).await;
    // As a replica would leave it: the start recorded, no call made since.
    let mut tx = pool.begin().await.unwrap();
    let (job, http) = server::runner::lock_runnable(&mut tx, "orphaned")
        .await
        .unwrap();
    let spec = server::runner::RunSpec::asked(app::model::Trigger::Manual, "user:ann", None);
    let orphan = server::runner::start(&mut tx, job, http, spec)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let external = app
        .start_ago("reports-only", chrono::Duration::minutes(5))
        .await;

    server::background::sweep_once(&app.state).await.unwrap();
    let id = orphan.execution.id.to_string();
    let (_, run) = app
        .get(&format!("/api/v1/executions/{id}"), &app.read)
        .await;
    assert_eq!(
        run["status"], "running",
        "within its minute it is left alone"
    );

    sqlx::query("update executions set started_at = now() - interval '91 seconds' where id = $1")
        .bind(orphan.execution.id)
        .execute(&pool)
        .await
        .unwrap();
    server::background::sweep_once(&app.state).await.unwrap();
    let (_, run) = app
        .get(&format!("/api/v1/executions/{id}"), &app.read)
        .await;
    assert_eq!(run["status"], "timed_out", "{run}");
    let (_, other) = app
        .get(&format!("/api/v1/executions/{external}"), &app.read)
        .await;
    assert_eq!(other["status"], "running", "{other}");
}

/// The dashboard's Run now: admins get the button on jobs cronwatch calls (only those);
/// the form starts the run and comes back to the job's row; a refusal is a page that
/// says why, its text escaped; viewers get neither button nor run.
#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_form_runs_a_job_for_admins_only(pool: PgPool) {
    use app::model::Role;
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    let def = json!({ "http": { "url": format!("{base}/ok") }, "estimated_duration_ms": 5000 });
    http_job(&app, "monitor-openai", def).await;
    app.start("reports-only").await;

    let admin = common::signed_in(&app, &pool, "ann", Role::Admin).await;
    let html = common::monitoring_html(&app, &admin, &[]).await;
    assert!(
        html.contains("action=\"/monitoring/jobs/monitor-openai/run\""),
        "{html}"
    );
    assert!(
        html.contains("It usually takes 5.0 s."),
        "the estimate is shown"
    );
    assert!(
        !html.contains("/monitoring/jobs/reports-only/run"),
        "reporting jobs have none"
    );

    let resp = app
        .post_form(&admin, "/monitoring/jobs/monitor-openai/run")
        .await;
    assert_eq!(resp.status(), 303);
    let (id, by): (uuid::Uuid, String) =
        sqlx::query_as("select id, triggered_by from executions where trigger = 'manual'")
            .fetch_one(&pool)
            .await
            .unwrap();
    // Back at the job's row, naming the run for the toast that says when it ends.
    let back = format!("/monitoring?tab=crons&job=monitor-openai&run={id}#job-monitor-openai");
    assert_eq!(resp.headers()[reqwest::header::LOCATION], back.as_str());
    assert_eq!(by, "user:ann");
    assert_eq!(app.ended(&id.to_string()).await["status"], "completed");
    assert_eq!(endpoint.calls().len(), 1);
    // Ended before the page is loaded: the page says so at once.
    let html = admin
        .get(app.url(back.split('#').next().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("The run of monitor-openai completed in"),
        "{html}"
    );
    let other = format!(
        "/monitoring?tab=crons&job=monitor-openai&run={}",
        uuid::Uuid::new_v4()
    );
    let html = admin.get(app.url(&other)).send().await.unwrap();
    assert!(
        !html.text().await.unwrap().contains("The run of"),
        "another run: no toast"
    );

    // Refusals come back as a page with the reason, and the status.
    let resp = app
        .post_form(&admin, "/monitoring/jobs/monitor-openai/run")
        .await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let page = resp.text().await.unwrap();
    assert!(page.contains("monitor-openai was not run"), "{page}");
    assert!(page.contains("try again in"), "{page}");
    assert!(
        page.contains("href=\"/monitoring?tab=crons&amp;job=monitor-openai#job-monitor-openai\""),
        "{page}"
    );
    let resp = app
        .post_form(
            &admin,
            "/monitoring/jobs/%3Cscript%3Ealert(1)%3C%2Fscript%3E/run",
        )
        .await;
    assert_eq!(resp.status(), 404);
    let resp_csp = resp
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string());
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; was not run"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");
    assert_eq!(
        resp_csp.as_deref(),
        Some("default-src 'none'; style-src 'self'; form-action 'self'")
    );

    let viewer = common::signed_in(&app, &pool, "vic", Role::Viewer).await;
    let html = common::monitoring_html(&app, &viewer, &[]).await;
    assert!(!html.contains("/run\""), "no button for viewers");
    let before = snapshot(&pool).await;
    assert_eq!(
        app.post_form(&viewer, "/monitoring/jobs/monitor-openai/run")
            .await
            .status(),
        403
    );
    // From another site, not even an admin's browser starts a run.
    let resp = admin
        .post(app.url("/monitoring/jobs/monitor-openai/run"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(snapshot(&pool).await, before);
    assert_eq!(endpoint.calls().len(), 1);
}

/// A replica that stops ends the calls still waiting for their answer as failed,
/// saying so, instead of leaving them running until the sweeper's timeout.
#[sqlx::test(migrations = "../migrations")]
async fn stopping_ends_the_calls_still_waiting(pool: PgPool) {
    let app = spawn(&pool).await;
    let (_, base) = Endpoint::start().await;
    url_job(&app, "quick", &format!("{base}/ok")).await;
    url_job(&app, "slow", &format!("{base}/slow")).await;
    let (_, quick, _) = run_now(&app, "quick", Some(&app.admin)).await;
    let (_, slow, _) = run_now(&app, "slow", Some(&app.admin)).await;

    let wait = Duration::from_millis(500);
    let ended = server::runner::end_calls_in_flight(&app.state, wait).await;
    assert_eq!(ended, 1);
    let quick = ended_run(&app, &quick).await;
    assert_eq!(quick["status"], "completed", "answered in time: {quick}");
    let slow = ended_run(&app, &slow).await;
    assert_eq!(slow["status"], "failed", "{slow}");
    let why = slow["error_message"].as_str().unwrap();
    assert!(
        why.contains("cronwatch stopped before the URL answered"),
        "{why}"
    );
    assert!(app.state.calls.ids().is_empty());
}

async fn ended_run(app: &TestApp, run: &Value) -> Value {
    app.ended(run["id"].as_str().unwrap()).await
}

/// Waits up to `secs` for `state` to have no call under way.
async fn calls_end(state: &app::state::AppState, secs: u64) -> bool {
    for _ in 0..secs * 20 {
        if state.calls.ids().is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Waits until `endpoint` has been called `n` times.
async fn called(endpoint: &Endpoint, n: usize) {
    for _ in 0..200 {
        if endpoint.calls().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the endpoint was not called {n} times");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_cancels_a_run_and_its_call_is_dropped(pool: PgPool) {
    let (app, endpoint) = with_slow_job(&pool, "slower").await;
    let (code, run, _) = run_now(&app, "slow", Some(&app.admin)).await;
    assert_eq!(code, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    called(&endpoint, 1).await;
    let reported = app.start("reports-only").await;

    let cancel = |id: String, token: Option<&'static str>| {
        let app = &app;
        async move {
            let token = token.map(|t| match t {
                "admin" => app.admin.clone(),
                "read" => app.read.clone(),
                _ => app.ingest.clone(),
            });
            let mut req = app
                .client
                .post(app.url(&format!("/api/v1/executions/{id}/cancel")));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            status_json(req.send().await.unwrap()).await
        }
    };
    let before = snapshot(&pool).await;
    let refusals = [
        (id.clone(), None, 401, "unauthorized"),
        (id.clone(), Some("read"), 403, "forbidden"),
        (id.clone(), Some("ingest"), 403, "forbidden"),
        ("not-a-uuid".to_string(), Some("admin"), 404, "not_found"),
        (
            uuid::Uuid::new_v4().to_string(),
            Some("admin"),
            404,
            "not_found",
        ),
        (
            reported["id"].as_str().unwrap().to_string(),
            Some("admin"),
            409,
            "conflict",
        ),
    ];
    for (target, token, status, code) in refusals {
        let (got, body) = cancel(target.clone(), token).await;
        assert_eq!(
            (got, error_code(&body).as_str()),
            (status, code),
            "{target} {token:?}: {body}"
        );
    }
    assert_eq!(snapshot(&pool).await, before, "refusals changed nothing");
    assert!(
        !app.state.calls.ids().is_empty(),
        "the call is still under way"
    );

    let (status, done) = cancel(id.clone(), Some("admin")).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "cancelled");
    assert_eq!(done["error_message"], "cancelled by token:admin-test");
    // The call is dropped at once, not left to its 30 s answer.
    assert!(calls_end(&app.state, 5).await, "the call was dropped");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, now) = app
        .get(&format!("/api/v1/executions/{id}"), &app.read)
        .await;
    assert_eq!(now["status"], "cancelled", "{now}");
    let audited = count(
        &pool,
        "select count(*) from audit_events where action = 'execution.cancel'",
    )
    .await;
    assert_eq!(audited, 1);

    let before = snapshot(&pool).await;
    let (status, body) = cancel(id.clone(), Some("admin")).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already ended as cancelled"),
        "{body}"
    );
    assert_eq!(snapshot(&pool).await, before);
    // The job is no longer running: its row says how its last run ended.
    let (_, job) = app.get("/api/v1/jobs/slow", &app.read).await;
    assert_eq!(job["last_status"], "cancelled", "{job}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_cancelled_through_another_replica_is_dropped_there(pool: PgPool) {
    use server::runner::{self, RunSpec};
    let (app, endpoint) = with_slow_job(&pool, "slower").await;
    // A second replica over the same database makes the call.
    let other = server::serve::state(pool.clone(), Config::default());
    server::background::spawn_event_pump(other.clone())
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let (job, how) = runner::lock_runnable(&mut tx, "slow").await.unwrap();
    let spec = RunSpec::asked(app::model::Trigger::Api, "test", None);
    let started = runner::start(&mut tx, job, how, spec)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let id = started.execution.id;
    started.launch(&other);
    called(&endpoint, 1).await;
    assert_eq!(other.calls.ids(), [id]);

    let (status, done) = app.cancel(&id.to_string()).await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("cancelled")),
        "{done}"
    );
    assert!(
        calls_end(&other, 10).await,
        "the other replica dropped its call"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_form_cancels_the_run_under_way_for_admins_only(pool: PgPool) {
    use app::model::Role;
    let (app, endpoint) = with_slow_job(&pool, "slower").await;
    let admin = common::signed_in(&app, &pool, "ann", Role::Admin).await;
    let html = common::monitoring_html(&app, &admin, &[]).await;
    assert!(
        html.contains("action=\"/monitoring/jobs/slow/cancel\""),
        "{html}"
    );

    // Nothing under way: refused, saying so.
    let before = snapshot(&pool).await;
    let resp = app.post_form(&admin, "/monitoring/jobs/slow/cancel").await;
    assert_eq!(resp.status(), 409);
    let page = resp.text().await.unwrap();
    assert!(page.contains("slow was not cancelled"), "{page}");
    assert!(page.contains("has no run under way"), "{page}");
    assert_eq!(
        app.post_form(&admin, "/monitoring/jobs/nope/cancel")
            .await
            .status(),
        404
    );
    assert_eq!(snapshot(&pool).await, before);

    assert_eq!(
        app.post_form(&admin, "/monitoring/jobs/slow/run")
            .await
            .status(),
        303
    );
    called(&endpoint, 1).await;
    let id: uuid::Uuid = sqlx::query_scalar("select id from executions")
        .fetch_one(&pool)
        .await
        .unwrap();

    // Neither a viewer nor another site cancels it.
    let viewer = common::signed_in(&app, &pool, "vic", Role::Viewer).await;
    let before = snapshot(&pool).await;
    assert_eq!(
        app.post_form(&viewer, "/monitoring/jobs/slow/cancel")
            .await
            .status(),
        403
    );
    let resp = admin
        .post(app.url("/monitoring/jobs/slow/cancel"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(snapshot(&pool).await, before);

    let resp = app.post_form(&admin, "/monitoring/jobs/slow/cancel").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()[reqwest::header::LOCATION],
        format!("/monitoring?tab=crons&job=slow&run={id}#job-slow").as_str()
    );
    let (_, run) = app
        .get(&format!("/api/v1/executions/{id}"), &app.read)
        .await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(run["error_message"], "cancelled by user:ann");
    assert!(calls_end(&app.state, 5).await, "the call was dropped");
}

#[sqlx::test(migrations = "../migrations")]
async fn failed_runs_are_retried_with_a_growing_wait_then_given_up(pool: PgPool) {
    use server::runner::scheduler;
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    let retried = |path: &str, retries: i32| {
        json!({ "http": { "url": format!("{base}/{path}"), "retries": retries,
                          "retry_backoff_ms": 1000 } })
    };
    http_job(&app, "always-fails", retried("fails", 2)).await;
    http_job(&app, "fails-once", retried("fails-once", 3)).await;
    url_job(&app, "no-retries", &format!("{base}/fails")).await;
    for name in ["always-fails", "fails-once", "no-retries"] {
        let (code, run, _) = run_now(&app, name, Some(&app.admin)).await;
        assert_eq!(code, 202, "{run}");
        app.ended(run["id"].as_str().unwrap()).await;
    }
    // The scheduler's passes for 9 s: waits of 1 s then 2 s give the two retries, and a
    // third retry would have come 4 s after the last.
    let until = std::time::Instant::now() + Duration::from_secs(9);
    while std::time::Instant::now() < until {
        scheduler::fire_due(&app.state).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let runs = |job: &'static str| {
        let pool = &pool;
        async move {
            sqlx::query_as::<
                _,
                (
                    String,
                    String,
                    i32,
                    String,
                    chrono::DateTime<chrono::Utc>,
                    Option<chrono::DateTime<chrono::Utc>>,
                ),
            >(
                "select e.trigger, e.status, e.attempt, coalesce(e.triggered_by, ''),
                        e.started_at, e.completed_at
                   from executions e join jobs j on j.id = e.job_id
                  where j.name = $1 order by e.started_at",
            )
            .bind(job)
            .fetch_all(pool)
            .await
            .unwrap()
        }
    };
    let failing = runs("always-fails").await;
    let shape: Vec<(&str, &str, i32)> = failing
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2))
        .collect();
    assert_eq!(
        shape,
        [
            ("manual", "failed", 1),
            ("retry", "failed", 2),
            ("retry", "failed", 3)
        ],
        "two retries, then given up"
    );
    assert_eq!(failing[1].3, "cronwatch:retry");
    let wait =
        |before: usize| (failing[before + 1].4 - failing[before].5.unwrap()).num_milliseconds();
    assert!(wait(0) >= 1000, "first wait {} ms", wait(0));
    assert!(wait(1) >= 2000, "second wait doubled: {} ms", wait(1));

    let recovered = runs("fails-once").await;
    let shape: Vec<(&str, &str, i32)> = recovered
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2))
        .collect();
    assert_eq!(
        shape,
        [("manual", "failed", 1), ("retry", "completed", 2)],
        "a retry that succeeds ends the chain"
    );
    assert_eq!(runs("no-retries").await.len(), 1, "no retries unless asked");
    let calls = |path: &str| endpoint.calls().iter().filter(|c| c.path == path).count();
    assert_eq!((calls("fails"), calls("fails-once")), (4, 2));
}
