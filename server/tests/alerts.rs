//! Alerts open and resolve as the dashboard's flags come and go, once whatever the
//! number of replicas, and reach a webhook in order, retried until it answers.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use crate::common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use common::{spawn_app, TestApp};
use serde_json::{json, Value};
use server::alerts::{self, Delivery, Webhook};
use sqlx::PgPool;

/// A webhook receiver on loopback: keeps every body it is sent, as JSON, as bytes and
/// with its signature header, and answers `status`.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

#[derive(Clone)]
struct Received {
    body: Value,
    raw: Bytes,
    signature: Option<String>,
}

impl Receiver {
    /// The receiver and its URL.
    async fn start() -> (Self, String) {
        let me = Receiver::default();
        me.answer(200);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(take))
            .with_state(me.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (me, url)
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn bodies(&self) -> Vec<Value> {
        let received = self.received.lock().unwrap();
        received.iter().map(|r| r.body.clone()).collect()
    }

    /// The `event` of every body received, in order.
    fn events(&self) -> Vec<Value> {
        self.bodies().iter().map(|b| b["event"].clone()).collect()
    }
}

async fn take(State(r): State<Receiver>, headers: HeaderMap, raw: Bytes) -> StatusCode {
    assert_eq!(headers["content-type"], "application/json");
    let body = serde_json::from_slice(&raw).expect("a JSON body");
    let signature = headers
        .get(alerts::SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap().to_string());
    r.received.lock().unwrap().push(Received {
        body,
        raw,
        signature,
    });
    StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap()
}

async fn run(app: &TestApp, job: &str, status: &str) {
    let id = app.start(job).await["id"].as_str().unwrap().to_string();
    app.complete(&id, status).await;
}

/// `cronwatch_alert_notifications_waiting` and `_abandoned` as `/api/v1/metrics` says.
async fn queue_gauges(app: &TestApp) -> (f64, f64) {
    let m = crate::metrics::scrape(app).await;
    let v = |k: &str| crate::metrics::value(&m, k);
    (
        v("cronwatch_alert_notifications_waiting"),
        v("cronwatch_alert_notifications_abandoned"),
    )
}

/// Three alerts: `flaky` failing, ended; `nightly` late and `hung` stuck, open.
async fn three_alerts(app: &TestApp, pool: &PgPool) {
    for _ in 0..3 {
        run(app, "flaky", "failed").await;
    }
    alerts::evaluate(pool, Utc::now(), false).await.unwrap();
    run(app, "flaky", "completed").await;
    app.late_and_stuck_jobs().await;
    alerts::evaluate(pool, Utc::now(), false).await.unwrap();
}

/// `flaky` fails 3 times in a row at `t0` (answered) while the webhook's receiver
/// answers 500: the alert's opening was tried once and waits in the queue.
async fn opening_held_back(
    app: &TestApp,
    pool: &PgPool,
) -> (Receiver, Webhook, chrono::DateTime<Utc>) {
    let (receiver, url) = Receiver::start().await;
    let hook = Webhook::new(&url).unwrap();
    receiver.answer(500);
    for _ in 0..3 {
        run(app, "flaky", "failed").await;
    }
    let t0 = Utc::now();
    alerts::evaluate(pool, t0, true).await.unwrap();
    let sent = alerts::deliver_due(pool, &hook, t0).await.unwrap();
    assert_eq!(
        sent,
        Delivery {
            failed: 1,
            ..Delivery::default()
        }
    );
    (receiver, hook, t0)
}

/// What the queue delivers once the first retry's wait (10 s) after `t0` has passed.
async fn retried(pool: &PgPool, hook: &Webhook, t0: chrono::DateTime<Utc>) -> Delivery {
    alerts::deliver_due(pool, hook, t0 + Duration::seconds(11))
        .await
        .unwrap()
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failing_job_is_announced_when_it_opens_and_when_it_ends(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (receiver, url) = Receiver::start().await;
    let hook = Webhook::new(&url).unwrap();
    run(&app, "flaky", "completed").await;
    run(&app, "flaky", "failed").await;
    run(&app, "flaky", "failed").await;
    assert!(
        alerts::evaluate(&pool, Utc::now(), true)
            .await
            .unwrap()
            .is_empty(),
        "2 failures are not 3"
    );

    run(&app, "flaky", "failed").await;
    let opened = alerts::evaluate(&pool, Utc::now(), true).await.unwrap();
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(
        (opened[0].job.as_str(), opened[0].kind.as_str()),
        ("flaky", "failing")
    );
    assert_eq!(opened[0].resolved_at, None);
    assert!(
        alerts::evaluate(&pool, Utc::now(), true)
            .await
            .unwrap()
            .is_empty(),
        "opened once"
    );

    let sent = alerts::deliver_due(&pool, &hook, Utc::now()).await.unwrap();
    assert_eq!(
        sent,
        Delivery {
            delivered: 1,
            ..Delivery::default()
        }
    );
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["event"], "alert.opened");
    assert_eq!(bodies[0]["alert"]["job"], "flaky");
    assert_eq!(bodies[0]["alert"]["kind"], "failing");
    assert_eq!(bodies[0]["alert"]["detail"], "3 failures in a row");
    assert_eq!(
        bodies[0]["text"],
        "cronwatch: flaky is failing: 3 failures in a row"
    );
    let unsigned = receiver.received.lock().unwrap()[0].signature.clone();
    assert_eq!(unsigned, None, "no secret, no signature");

    // A fourth failure is the same incident.
    run(&app, "flaky", "failed").await;
    assert!(alerts::evaluate(&pool, Utc::now(), true)
        .await
        .unwrap()
        .is_empty());

    run(&app, "flaky", "completed").await;
    let resolved = alerts::evaluate(&pool, Utc::now(), true).await.unwrap();
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert!(resolved[0].resolved_at.is_some());
    assert_eq!(
        alerts::deliver_due(&pool, &hook, Utc::now())
            .await
            .unwrap()
            .delivered,
        1
    );
    assert_eq!(
        alerts::deliver_due(&pool, &hook, Utc::now()).await.unwrap(),
        Delivery::default()
    );
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1]["event"], "alert.resolved");
    assert_eq!(bodies[1]["alert"]["id"], bodies[0]["alert"]["id"]);
    assert!(
        bodies[1]["alert"]["resolved_at"].is_string(),
        "{}",
        bodies[1]
    );
    assert!(
        bodies[1]["text"]
            .as_str()
            .unwrap()
            .starts_with("cronwatch: flaky is no longer failing (after "),
        "{}",
        bodies[1]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn late_and_stuck_jobs_open_alerts_that_end_with_a_pause_and_an_end(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let hung = app.late_and_stuck_jobs().await;

    // Without a webhook alerts are still kept, and nothing is queued.
    let mut opened = alerts::evaluate(&pool, Utc::now(), false).await.unwrap();
    opened.sort_by(|a, b| a.job.cmp(&b.job));
    let kinds: Vec<(&str, &str)> = opened
        .iter()
        .map(|t| (t.job.as_str(), t.kind.as_str()))
        .collect();
    assert_eq!(kinds, [("hung", "stuck"), ("nightly", "late")]);
    assert!(
        opened[0].detail.contains("is still running"),
        "{}",
        opened[0].detail
    );
    assert!(
        opened[1].detail.starts_with("expected at "),
        "{}",
        opened[1].detail
    );
    assert_eq!(count(&pool, "alert_notifications").await, 0);
    // Once a webhook is set, those still open are announced, once.
    assert!(alerts::evaluate(&pool, Utc::now(), true)
        .await
        .unwrap()
        .is_empty());
    assert!(alerts::evaluate(&pool, Utc::now(), true)
        .await
        .unwrap()
        .is_empty());
    let queued: Vec<String> = sqlx::query_scalar(
        "select payload->>'text' from alert_notifications order by payload->'alert'->>'job'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(
        queued[0].starts_with("cronwatch: hung is stuck: a run started at "),
        "{queued:?}"
    );
    assert!(
        queued[1].starts_with("cronwatch: nightly is late: expected at "),
        "{queued:?}"
    );

    let code = app
        .admin_send(
            reqwest::Method::POST,
            "/api/v1/jobs/nightly/pause",
            &json!({}),
        )
        .await;
    assert_eq!(code, 200);
    let ended = alerts::evaluate(&pool, Utc::now(), false).await.unwrap();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(
        (ended[0].job.as_str(), ended[0].kind.as_str()),
        ("nightly", "late")
    );
    assert!(ended[0].resolved_at.is_some());

    app.complete(&hung, "cancelled").await;
    let ended = alerts::evaluate(&pool, Utc::now(), false).await.unwrap();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(
        (ended[0].job.as_str(), ended[0].kind.as_str()),
        ("hung", "stuck")
    );
    let open: i64 = sqlx::query_scalar("select count(*) from alerts where resolved_at is null")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((open, count(&pool, "alerts").await), (0, 2));

    // Ended alerts are kept as long as executions, then go.
    let kept = Duration::days(7);
    assert_eq!(alerts::prune(&pool, Utc::now(), kept).await.unwrap(), 0);
    assert_eq!(
        alerts::prune(&pool, Utc::now() + Duration::days(8), kept)
            .await
            .unwrap(),
        2
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_receiver_that_fails_gets_every_notification_in_order_once_it_answers(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (receiver, hook, t0) = opening_held_back(&app, &pool).await;
    run(&app, "flaky", "completed").await;
    alerts::evaluate(&pool, t0, true).await.unwrap();

    // Not due yet: the resolution does not overtake the opening that failed.
    assert_eq!(
        alerts::deliver_due(&pool, &hook, t0).await.unwrap(),
        Delivery::default()
    );
    assert_eq!(receiver.bodies().len(), 1);
    let error: String =
        sqlx::query_scalar("select last_error from alert_notifications order by id limit 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(error.contains("500"), "{error}");

    receiver.answer(204);
    // Prometheus sees the receiver failing.
    assert_eq!(queue_gauges(&app).await, (2.0, 0.0));
    assert_eq!(
        retried(&pool, &hook, t0).await,
        Delivery {
            delivered: 2,
            ..Delivery::default()
        }
    );
    assert_eq!(
        receiver.events(),
        ["alert.opened", "alert.opened", "alert.resolved"]
    );

    // A receiver gone for more than a day: what waited that long is abandoned, and
    // the queue moves on once it answers again.
    receiver.answer(503);
    for _ in 0..3 {
        run(&app, "flaky", "failed").await;
    }
    alerts::evaluate(&pool, t0, true).await.unwrap();
    run(&app, "flaky", "completed").await;
    alerts::evaluate(&pool, t0, true).await.unwrap();
    let later = t0 + alerts::DELIVERY_WINDOW + Duration::minutes(1);
    let sent = alerts::deliver_due(&pool, &hook, later).await.unwrap();
    assert_eq!(
        sent,
        Delivery {
            abandoned: 2,
            ..Delivery::default()
        }
    );
    receiver.answer(200);
    for _ in 0..3 {
        run(&app, "flaky", "failed").await;
    }
    alerts::evaluate(&pool, later, true).await.unwrap();
    let sent = alerts::deliver_due(&pool, &hook, later).await.unwrap();
    assert_eq!(
        sent,
        Delivery {
            delivered: 1,
            ..Delivery::default()
        }
    );
    let (delivered, abandoned): (i64, i64) =
        sqlx::query_as("select count(delivered_at), count(abandoned_at) from alert_notifications")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((delivered, abandoned), (3, 2));
    assert_eq!(queue_gauges(&app).await, (0.0, 2.0));
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_a_job_ends_its_alerts_and_still_sends_what_was_queued(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (receiver, hook, t0) = opening_held_back(&app, &pool).await;

    let deleted = app
        .admin_send(reqwest::Method::DELETE, "/api/v1/jobs/flaky", &json!({}))
        .await;
    assert_eq!(deleted, 200);
    assert_eq!(
        count(&pool, "alert_notifications").await,
        1,
        "the waiting opening outlives its job"
    );

    let ended = alerts::evaluate(&pool, t0, true).await.unwrap();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(
        (ended[0].job.as_str(), ended[0].kind.as_str()),
        ("flaky", "failing")
    );
    assert!(ended[0].resolved_at.is_some() && ended[0].job_deleted);
    assert!(
        alerts::evaluate(&pool, t0, true).await.unwrap().is_empty(),
        "ended once"
    );

    receiver.answer(200);
    assert_eq!(
        retried(&pool, &hook, t0).await,
        Delivery {
            delivered: 2,
            ..Delivery::default()
        }
    );
    let bodies = receiver.bodies();
    assert_eq!(
        receiver.events(),
        ["alert.opened", "alert.opened", "alert.resolved"]
    );
    assert_eq!(bodies[2]["alert"]["id"], bodies[1]["alert"]["id"]);
    assert_eq!(bodies[2]["alert"]["job_deleted"], true);
    assert_eq!(bodies[1]["alert"]["job_deleted"], false);
    assert!(
        bodies[2]["text"]
            .as_str()
            .unwrap()
            .starts_with("cronwatch: flaky is no longer failing: the job was deleted (after "),
        "{}",
        bodies[2]
    );

    // The ended alert is still listed under its job's name.
    let (_, listed) = app.get("/api/v1/alerts?job=flaky", &app.read).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert!(listed["items"][0]["resolved_at"].is_string(), "{listed}");

    // A new job of the same name is a new incident, not the old one's.
    for _ in 0..3 {
        run(&app, "flaky", "failed").await;
    }
    let opened = alerts::evaluate(&pool, t0, true).await.unwrap();
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0].resolved_at, None);
    assert_ne!(json!(opened[0].alert_id), bodies[1]["alert"]["id"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn replicas_evaluating_together_open_each_alert_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for _ in 0..3 {
        run(&app, "flaky", "failed").await;
    }
    let now = Utc::now();
    let (a, b, c, d) = tokio::join!(
        alerts::evaluate(&pool, now, true),
        alerts::evaluate(&pool, now, true),
        alerts::evaluate(&pool, now, true),
        alerts::evaluate(&pool, now, true),
    );
    let total: usize = [a, b, c, d].into_iter().map(|r| r.unwrap().len()).sum();
    assert_eq!(total, 1);
    assert_eq!(count(&pool, "alerts").await, 1);
    assert_eq!(count(&pool, "alert_notifications").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn serve_announces_to_the_webhook_it_is_given(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for _ in 0..3 {
        run(&app, "flaky", "failed").await;
    }
    let db = common::url_of(&pool);
    let (ok, _, err) = common::cli::run(
        &db,
        &["serve", "--alert-webhook", "ftp://example.com/x"],
        None,
    )
    .await;
    assert!(!ok && err.contains("http:// or https://"), "{err}");
    let (ok, _, err) =
        common::cli::run(&db, &["serve", "--public-url", "cron.example.com"], None).await;
    assert!(!ok && err.contains("--public-url"), "{err}");
    // A secret with nothing to sign is a mistake, said at start.
    let args = ["serve", "--alert-webhook-secret", "s3cret"];
    let (ok, _, err) = common::cli::run(&db, &args, None).await;
    assert!(!ok && err.contains("--alert-webhook"), "{err}");

    // The server evaluates at start, so the streak already there is announced at once.
    let (receiver, url) = Receiver::start().await;
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db)
        .env("CRONWATCH_ALERT_WEBHOOK", &url)
        .env("CRONWATCH_PUBLIC_URL", "https://cron.example.com")
        .env("CRONWATCH_ALERT_WEBHOOK_SECRET", "shared-secret")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while receiver.bodies().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = server.wait();
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["alert"]["kind"], "failing");
    assert_eq!(
        bodies[0]["url"],
        "https://cron.example.com/monitoring?tab=crons&job=flaky#job-flaky"
    );
    // Signed, so that the receiver can tell it comes from cronwatch.
    let first = receiver.received.lock().unwrap()[0].clone();
    assert_eq!(
        first.signature,
        Some(alerts::signature(b"shared-secret", &first.raw))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_api_lists_alerts_newest_first_by_job_and_state(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    three_alerts(&app, &pool).await;

    let (code, page) = app.get("/api/v1/alerts", &app.read).await;
    assert_eq!(code, 200, "{page}");
    let listed: Vec<(String, String, bool)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["job"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
                a["resolved_at"].is_null(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 3, "{page}");
    assert_eq!(
        listed[2],
        ("flaky".into(), "failing".into(), false),
        "oldest last"
    );
    assert!(page["next_cursor"].is_null());
    let (_, open) = app.get("/api/v1/alerts?open=true", &app.read).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 2, "{open}");
    let (_, ended) = app
        .get("/api/v1/alerts?open=false&job=flaky", &app.read)
        .await;
    assert_eq!(ended["items"].as_array().unwrap().len(), 1, "{ended}");
    assert_eq!(ended["items"][0]["detail"], "3 failures in a row");
    let (_, none) = app
        .get("/api/v1/alerts?job=nightly&open=false", &app.read)
        .await;
    assert_eq!(none["items"], json!([]));

    // 50 a page; the cursor walks every one once.
    sqlx::query(
        "insert into alerts (job_id, job_name, kind, detail, opened_at, resolved_at)
         select j.id, j.name, 'late', 'old', now() - make_interval(days => i), now()
           from jobs j, generate_series(1, 60) i where j.name = 'flaky'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (mut seen, mut path) = (
        std::collections::HashSet::new(),
        "/api/v1/alerts".to_string(),
    );
    let mut pages = 0;
    loop {
        let (code, page) = app.get(&path, &app.read).await;
        assert_eq!(code, 200, "{page}");
        pages += 1;
        for a in page["items"].as_array().unwrap() {
            assert!(seen.insert(a["id"].as_i64().unwrap()), "listed twice: {a}");
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/alerts?cursor={c}"),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (63, 2));

    // Refused: no token, an ingest token, a bad job name, a bad flag, a bad cursor.
    assert_eq!(app.get_raw("/api/v1/alerts", None).await.status(), 401);
    assert_eq!(app.get("/api/v1/alerts", &app.ingest).await.0, 403);
    assert_eq!(
        app.get("/api/v1/alerts?job=Not%20a%20name", &app.read)
            .await
            .0,
        422
    );
    assert_eq!(app.get("/api/v1/alerts?open=maybe", &app.read).await.0, 400);
    assert_eq!(app.get("/api/v1/alerts?cursor=-3", &app.read).await.0, 400);
    assert_eq!(app.get("/api/v1/alerts?sort=asc", &app.read).await.0, 400);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cli_lists_alerts_and_tests_the_webhook(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let db = common::url_of(&pool);
    three_alerts(&app, &pool).await;

    let (ok, out, err) = common::cli::run(&db, &["alerts", "list"], None).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("JOB "), "{out}");
    let flaky = out
        .lines()
        .find(|l| l.starts_with("flaky"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        flaky.contains("failing") && flaky.ends_with("3 failures in a row"),
        "{flaky}"
    );
    assert!(!flaky.contains(" - "), "it ended: {flaky}");
    let (ok, out, _) = common::cli::run(&db, &["alerts", "list", "--open"], None).await;
    assert!(ok);
    assert_eq!(
        out.lines().count(),
        3,
        "a header and the 2 open ones: {out}"
    );
    assert!(!out.contains("flaky"), "{out}");
    let (ok, out, _) = common::cli::run(&db, &["alerts", "list", "--job", "nightly"], None).await;
    assert!(ok && out.contains("late") && !out.contains("hung"), "{out}");
    let (ok, _, err) = common::cli::run(&db, &["alerts", "list", "--job", "Bad Name"], None).await;
    assert!(!ok && err.contains("invalid"), "{err}");

    // The test notification goes where serve's would, signed the same way.
    let (receiver, url) = Receiver::start().await;
    let test = |url: String| async move {
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_cronwatch"))
                .args(["alerts", "test"])
                .env("CRONWATCH_ALERT_WEBHOOK", url)
                .env("CRONWATCH_ALERT_WEBHOOK_SECRET", "shared-secret")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        (out.status.success(), String::from_utf8(out.stderr).unwrap())
    };
    let (ok, err) = test(url.clone()).await;
    assert!(ok, "{err}");
    let first = receiver.received.lock().unwrap()[0].clone();
    assert_eq!(first.body["event"], "alert.test");
    assert_eq!(
        first.signature,
        Some(alerts::signature(b"shared-secret", &first.raw))
    );
    receiver.answer(500);
    let (ok, err) = test(url).await;
    assert!(
        !ok && err.contains("was not taken") && err.contains("500"),
        "{err}"
    );
    let (ok, _, err) = common::cli::run(&db, &["alerts", "test"], None).await;
    assert!(!ok && err.contains("CRONWATCH_ALERT_WEBHOOK"), "{err}");
}
