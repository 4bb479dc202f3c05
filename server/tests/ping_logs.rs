//! `/ping/{key}/log`: a log line for the open run, no change of state; and an end
//! ping's body following what the run logged so far.

use crate::common;

use common::{error_code, ping_key, snapshot, spawn_app, TestApp};
use serde_json::Value;
use sqlx::PgPool;

async fn ping(app: &TestApp, path: &str, body: &str) -> (u16, String) {
    let r = app
        .client
        .post(app.url(path))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The job's one run, with its log tail.
async fn only_run(app: &TestApp, job: &str) -> Value {
    let mut all = runs(app, job).await;
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

/// The job's runs, newest first, with their log tails.
async fn runs(app: &TestApp, job: &str) -> Vec<Value> {
    let (_, page) = app
        .get(&format!("/api/v1/executions?job={job}"), &app.read)
        .await;
    let mut full = Vec::new();
    for e in page["items"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        full.push(
            app.get(&format!("/api/v1/executions/{id}"), &app.read)
                .await
                .1,
        );
    }
    full
}

#[sqlx::test(migrations = "../migrations")]
async fn logs_add_to_the_open_run_and_the_end_keeps_them(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "backup").await;
    // The start's body begins the run's log; a retried start does not log it twice.
    for _ in 0..2 {
        let start = ping(&app, &format!("/ping/{key}/start"), "backup of db1").await;
        assert_eq!(start.0, 200);
    }
    assert_eq!(
        ping(&app, &format!("/ping/{key}/log"), "dumped 3 tables").await,
        (200, "OK".into())
    );
    assert_eq!(
        ping(&app, &format!("/ping/{key}/log"), "warning: disk 91%\n")
            .await
            .0,
        200
    );

    // A log changes no state: the run is still running, and still the job's last run.
    let open = only_run(&app, "backup").await;
    assert_eq!(open["status"], "running");
    assert_eq!(
        open["log_tail"],
        "backup of db1\ndumped 3 tables\nwarning: disk 91%\n"
    );
    let (_, job) = app.get("/api/v1/jobs/backup", &app.read).await;
    assert_eq!(job["last_status"], "running", "{job}");

    // The end's body follows the logs instead of replacing them.
    assert_eq!(ping(&app, &format!("/ping/{key}"), "done").await.0, 200);
    let ended = only_run(&app, "backup").await;
    assert_eq!(ended["status"], "completed");
    assert_eq!(
        ended["log_tail"],
        "backup of db1\ndumped 3 tables\nwarning: disk 91%\ndone"
    );

    // With the run ended, a log has no run to go to: 404, and nothing changes.
    let before = snapshot(&pool).await;
    let r = app
        .client
        .post(app.url(&format!("/ping/{key}/log")))
        .body("late")
        .send()
        .await
        .unwrap();
    let (status, body) = common::status_json(r).await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/start"),
        "{body}"
    );
    assert_eq!(snapshot(&pool).await, before);
    assert_eq!(runs(&app, "backup").await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn logs_with_rid_go_to_that_run(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "shards").await;
    for rid in ["a", "b"] {
        let body = format!("{rid}: begin");
        // Sent twice: a retried start with its rid changes nothing.
        for _ in 0..2 {
            let start = ping(&app, &format!("/ping/{key}/start?rid={rid}"), &body).await;
            assert_eq!(start.0, 200);
        }
    }
    assert_eq!(
        ping(&app, &format!("/ping/{key}/log?rid=b"), "b: half way")
            .await
            .0,
        200
    );
    assert_eq!(
        ping(&app, &format!("/ping/{key}/fail?rid=b"), "b: gave up")
            .await
            .0,
        200
    );
    // A retried end (curl --retry after a lost answer) neither changes nor logs again.
    let before = snapshot(&pool).await;
    assert_eq!(
        ping(&app, &format!("/ping/{key}/fail?rid=b"), "b: gave up")
            .await
            .0,
        200
    );
    assert_eq!(snapshot(&pool).await, before);
    // A log names its run by rid even after that run ended.
    assert_eq!(
        ping(&app, &format!("/ping/{key}/log?rid=b"), "b: cleaned up")
            .await
            .0,
        200
    );
    assert_eq!(ping(&app, &format!("/ping/{key}?rid=a"), "").await.0, 200);

    let all = runs(&app, "shards").await;
    let by_status = |s: &str| all.iter().find(|e| e["status"] == s).unwrap().clone();
    assert_eq!(
        by_status("failed")["log_tail"],
        "b: begin\nb: half way\nb: gave up\nb: cleaned up"
    );
    assert_eq!(by_status("completed")["log_tail"], "a: begin");

    // An unknown rid, or one in the wrong form, changes nothing.
    let before = snapshot(&pool).await;
    let (status, body) = ping(&app, &format!("/ping/{key}/log?rid=zzz"), "x").await;
    assert_eq!(status, 404, "{body}");
    let long = "r".repeat(129);
    let (status, body) = ping(&app, &format!("/ping/{key}/log?rid={long}"), "x").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(snapshot(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_keeps_the_last_16_kib_of_its_logs(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "chatty").await;
    assert_eq!(ping(&app, &format!("/ping/{key}/start"), "").await.0, 200);
    // Five 8 KiB logs, each line naming its log, with a NUL PostgreSQL cannot store.
    for i in 0..5 {
        let line = format!("log {i} \0 {}\n", "é".repeat(4090));
        assert_eq!(ping(&app, &format!("/ping/{key}/log"), &line).await.0, 200);
    }
    let run = &runs(&app, "chatty").await[0];
    let tail = run["log_tail"].as_str().unwrap();
    assert!(
        tail.len() <= 16 * 1024 && tail.len() > 16 * 1024 - 4,
        "{}",
        tail.len()
    );
    assert!(tail.ends_with("é\n"));
    assert!(tail.contains("log 4 \u{FFFD} "), "the newest log is kept");
    assert!(!tail.contains("log 2 "), "the oldest logs are gone");
    assert_eq!(run["status"], "running");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_large_log_still_reports_the_end(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "verbose").await;
    // 3 MiB of log, as `curl --data-binary @job.log` sends a big one: the run is
    // recorded, with the end of its log.
    let mut log: String = (0..60_000)
        .map(|i| format!("line {i:07} {}\n", "-".repeat(40)))
        .collect();
    log.push_str("exit 3: disk full\n");
    assert!(log.len() > 3 << 20);
    assert_eq!(
        ping(&app, &format!("/ping/{key}/3"), &log).await,
        (200, "OK".into())
    );
    let run = &runs(&app, "verbose").await[0];
    assert_eq!(
        (run["status"].as_str(), run["exit_code"].as_i64()),
        (Some("failed"), Some(3))
    );
    let tail = run["log_tail"].as_str().unwrap();
    assert!(
        tail.len() <= 16 * 1024 && tail.len() > 16 * 1024 - 64,
        "{}",
        tail.len()
    );
    assert!(log.ends_with(tail));
    assert!(tail.ends_with("exit 3: disk full\n"));
}
