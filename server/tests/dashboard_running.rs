//! The monitoring page knows every running execution, not only each job's latest: a
//! run whose end was never reported is flagged stuck even after newer runs ended.

use crate::common;

use app::model::Role;
use chrono::Duration;
use common::{dashboard_data, signed_in, spawn_app};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "../migrations")]
async fn the_page_loads_every_running_execution_and_flags_an_old_one(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let put = app
        .put_job("nightly", &json!({ "estimated_duration_ms": 5000 }))
        .await;
    assert_eq!(put, 201);
    // Killed two hours ago without a word; the next run went fine.
    let zombie = app.start_ago("nightly", Duration::hours(2)).await;
    let next = app.start_ago("nightly", Duration::seconds(10)).await;
    app.complete(&next, "completed").await;
    let fresh = app.start_ago("backup", Duration::seconds(1)).await;

    let viewer = signed_in(&app, &pool, "vera", Role::Viewer).await;
    let data = dashboard_data(&app, &viewer).await;
    let running: Vec<(&str, &str)> = data["running"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["job"].as_str().unwrap()))
        .collect();
    assert_eq!(
        running,
        [(zombie.as_str(), "nightly"), (fresh.as_str(), "backup")],
        "oldest first, the ended run left out"
    );

    // The server's first render already flags it, on the job whose latest run is fine.
    let html = common::monitoring_html(&app, &viewer, &[]).await;
    let row = &html[html.find(r#"id="job-nightly""#).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("alert-stuck"), "{row}");
    assert!(
        row.contains("has not reported its end"),
        "the badge says why: {row}"
    );
    assert!(
        row.contains("/monitoring?tab=crons&amp;job=nightly&amp;status=running#executions"),
        "the badge lists the job's running executions: {row}"
    );
    let other = &html[html.find(r#"id="job-backup""#).unwrap()..];
    let other = &other[..other.find("</tr>").unwrap()];
    assert!(!other.contains("alert-stuck"), "{other}");
}
