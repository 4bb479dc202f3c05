//! The read API: filters, keyset pagination, one execution, stats from rollups.

use crate::common;

use chrono::{Duration, Utc};
use common::{error_code, spawn_app};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "../migrations")]
async fn pagination_walks_every_row_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let t0 = Utc::now() - Duration::hours(2);
    for i in 0..120 {
        let job = if i % 3 == 0 { "alpha" } else { "beta" };
        let at = t0 + Duration::seconds(i / 2); // pairs share a start time: ties broken by id
        let (code, e) = app
            .post(
                "/api/v1/executions/start",
                &app.ingest,
                &json!({ "job": job, "started_at": at, "trigger": "scheduled" }),
            )
            .await;
        assert_eq!(code, 201, "{e}");
        if i % 4 == 0 {
            app.complete(e["id"].as_str().unwrap(), "failed").await;
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut last_key: Option<(String, String)> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/executions?cursor={c}"),
            None => "/api/v1/executions".to_string(),
        };
        let (code, page) = app.get(&path, &app.read).await;
        assert_eq!(code, 200, "{page}");
        pages += 1;
        for e in page["items"].as_array().unwrap() {
            let key = (
                e["started_at"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
            );
            if let Some(prev) = &last_key {
                let (pt, _) = prev;
                let t: chrono::DateTime<Utc> = key.0.parse().unwrap();
                let p: chrono::DateTime<Utc> = pt.parse().unwrap();
                assert!(t <= p, "newest first");
            }
            last_key = Some(key);
            assert!(
                seen.insert(e["id"].as_str().unwrap().to_string()),
                "row seen twice"
            );
        }
        cursor = page["next_cursor"].as_str().map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(pages, 3, "50 + 50 + 20");

    let (_, failed) = app.get("/api/v1/executions?status=failed", &app.read).await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 30);
    let (_, alpha) = app
        .get("/api/v1/executions?job=alpha&status=failed", &app.read)
        .await;
    assert!(alpha["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["job"] == "alpha" && e["status"] == "failed"));
    assert_eq!(alpha["items"].as_array().unwrap().len(), 10);
    let (_, manual) = app
        .get("/api/v1/executions?trigger=manual", &app.read)
        .await;
    assert_eq!(manual["items"].as_array().unwrap().len(), 0);
    let from = (t0 + Duration::seconds(50)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (code, recent) = app
        .get(&format!("/api/v1/executions?from={from}"), &app.read)
        .await;
    assert_eq!(code, 200, "{recent}");
    assert_eq!(recent["items"].as_array().unwrap().len(), 20);
}

#[sqlx::test(migrations = "../migrations")]
async fn time_windows_take_days_as_the_dashboard_does_or_times(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for at in [
        "2026-11-24T23:59:59Z",
        "2026-11-25T00:00:00Z",
        "2026-11-25T12:00:00Z",
        "2026-11-25T23:59:59.999Z",
        "2026-11-26T00:00:00Z",
    ] {
        let (code, e) = app
            .post(
                "/api/v1/executions/start",
                &app.ingest,
                &json!({ "job": "daily", "started_at": at }),
            )
            .await;
        assert_eq!(code, 201, "{e}");
    }
    let starts = |page: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["started_at"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    // A day as `from` starts at its midnight; as `to` it includes the whole day.
    let (code, day) = app
        .get(
            "/api/v1/executions?from=2026-11-25&to=2026-11-25",
            &app.read,
        )
        .await;
    assert_eq!(code, 200, "{day}");
    assert_eq!(
        starts(&day),
        [
            "2026-11-25T00:00:00Z",
            "2026-11-25T12:00:00Z",
            "2026-11-25T23:59:59.999Z"
        ]
    );
    // Times are taken as they are (`to` excluded), in any offset.
    let (code, window) = app
        .get(
            "/api/v1/executions?from=2026-11-25T13:00:00%2B01:00&to=2026-11-26T00:00:00Z",
            &app.read,
        )
        .await;
    assert_eq!(code, 200, "{window}");
    assert_eq!(
        starts(&window),
        ["2026-11-25T12:00:00Z", "2026-11-25T23:59:59.999Z"]
    );
    let (_, bad) = app
        .get("/api/v1/executions?from=26/11/2026", &app.read)
        .await;
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("such as 2026-11-26"),
        "{bad}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn stuck_lists_every_run_past_its_timeout_estimate_or_habit(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let start = |job: &'static str, ago: Duration| app.start_ago(job, ago);
    // A habit: three runs of about 2 s (completed), one failure of an hour (left out).
    for ms in [1_000, 2_000, 3_000] {
        let id = start("habitual", Duration::hours(2)).await;
        let (code, _) = app
            .post(
                &format!("/api/v1/executions/{id}/complete"),
                &app.ingest,
                &json!({ "status": "completed", "duration_ms": ms }),
            )
            .await;
        assert_eq!(code, 200);
    }
    let failed = start("habitual", Duration::hours(3)).await;
    app.post(
        &format!("/api/v1/executions/{failed}/complete"),
        &app.ingest,
        &json!({ "status": "failed", "duration_ms": 3_600_000 }),
    )
    .await;
    // 2 s usual: 62 s allowed. An older run that never reported its end counts too.
    let zombie = start("habitual", Duration::minutes(50)).await;
    let hung = start("habitual", Duration::minutes(2)).await;
    start("habitual", Duration::seconds(30)).await;
    // Two runs of habit are not enough to judge.
    for _ in 0..2 {
        let id = start("young", Duration::hours(1)).await;
        app.complete(&id, "completed").await;
    }
    start("young", Duration::hours(1)).await;
    // An estimate of 5 s allows 65 s.
    let put = app
        .put_job("estimated", &json!({ "estimated_duration_ms": 5000 }))
        .await;
    assert_eq!(put, 201);
    let late = start("estimated", Duration::minutes(3)).await;
    start("estimated", Duration::seconds(40)).await;

    let (code, s) = app.get("/api/v1/stats?hours=24", &app.read).await;
    assert_eq!(code, 200, "{s}");
    let stuck: Vec<(String, String, i64)> = s["stuck"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
                e["limit_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stuck,
        [
            (zombie, "habit".to_string(), 62_000),
            (late, "estimate".to_string(), 65_000),
            (hung, "habit".to_string(), 62_000),
        ],
        "oldest first"
    );
    // Only a timeout makes the sweeper end a run: these stay running.
    server::background::sweep_once(&app.state).await.unwrap();
    let (_, again) = app.get("/api/v1/stats?hours=24", &app.read).await;
    assert_eq!(again["stuck"], s["stuck"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_filters_are_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for (path, status) in [
        ("/api/v1/executions?status=exploded", 422),
        ("/api/v1/executions?trigger=cosmic", 422),
        ("/api/v1/executions?cursor=garbage", 400),
        ("/api/v1/executions?from=yesterday", 422),
        ("/api/v1/executions?to=2026-13-01", 422),
        ("/api/v1/executions?from=2026-11-26&to=2026-11-25", 422),
        (
            "/api/v1/executions?from=2026-11-26T10:00:00Z&to=2026-11-26T10:00:00Z",
            422,
        ),
        ("/api/v1/executions?colour=red", 400),
        ("/api/v1/stats?hours=0", 422),
        ("/api/v1/stats?hours=many", 400),
    ] {
        let (code, body) = app.get(path, &app.read).await;
        assert_eq!(code, status, "{path}: {body}");
        error_code(&body);
    }
    let (code, _) = app.get("/api/v1/executions", &app.ingest).await;
    assert_eq!(code, 403, "ingest tokens cannot read");
    let r = app.get_raw("/api/v1/executions", None).await;
    assert_eq!(r.status(), 401);
    let (code, _) = app
        .get(
            &format!("/api/v1/executions/{}", uuid::Uuid::new_v4()),
            &app.read,
        )
        .await;
    assert_eq!(code, 404);
    let (code, _) = app.get("/api/v1/nothing-here", &app.read).await;
    assert_eq!(code, 404);
}

#[sqlx::test(migrations = "../migrations")]
async fn stats_come_from_rollups(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for (job, status, ms) in [
        ("a", "completed", 100),
        ("a", "completed", 300),
        ("a", "failed", 50),
        ("b", "completed", 10),
    ] {
        let e = app.start(job).await;
        app.post(
            &format!("/api/v1/executions/{}/complete", e["id"].as_str().unwrap()),
            &app.ingest,
            &json!({ "status": status, "duration_ms": ms }),
        )
        .await;
    }
    app.start("b").await; // still running
                          // A stuck one: started long ago under a job with a 1 s timeout.
    let mut conn = pool.acquire().await.unwrap();
    app::db::jobs::ensure(&mut conn, "slow").await.unwrap();
    sqlx::query("update jobs set timeout_ms = 1000 where name = 'slow'")
        .execute(&pool)
        .await
        .unwrap();
    app.post(
        "/api/v1/executions/start",
        &app.ingest,
        &json!({ "job": "slow", "started_at": Utc::now() - Duration::minutes(5) }),
    )
    .await;

    let (code, s) = app.get("/api/v1/stats?hours=24", &app.read).await;
    assert_eq!(code, 200, "{s}");
    assert_eq!(s["total"], 6);
    assert_eq!(s["running_now"], 2);
    assert_eq!(s["failures"], 1);
    let a = s["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "a")
        .unwrap();
    assert_eq!(a["completed"], 2);
    assert_eq!(a["failed"], 1);
    assert!((a["success_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(a["avg_duration_ms"], 150.0);
    assert_eq!(s["stuck"].as_array().unwrap().len(), 1);
    assert_eq!(s["stuck"][0]["job"], "slow");
    assert_eq!(s["stuck"][0]["limit_ms"], 1000);
    assert_eq!(s["stuck"][0]["reason"], "timeout");
    let today: i64 = s["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(today, 6);
    // Per job, so the dashboard can filter the chart and rate each job over 7 days.
    let of_a: i64 = s["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["job"] == "a")
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(of_a, a["total"].as_i64().unwrap());
}

/// Filters that match few runs (a rare status or trigger, a job's few failures, a window
/// far back) find them by index instead of reading the history newer than them. Counted
/// by PostgreSQL's own statistics: the heap rows the page's statement read, as a
/// difference within one transaction, on the call after the statement's plan has been
/// cached as a generic one (PostgreSQL decides that from the sixth call on). Each page
/// is also held to the same selection written out in plain SQL.
#[sqlx::test(migrations = "../migrations")]
async fn rare_filters_read_few_rows_however_long_the_history(pool: PgPool) {
    use app::db::execution_list::{Cursor, ExecutionFilter};
    use app::model::{ExecutionStatus, Trigger};

    // 20,000 successful scheduled runs of two jobs over 20 days, a third job's 3 runs
    // far back, and a few of the rare kinds among them: alpha's 2 failures lie far
    // under beta's 500 of the last day.
    let now = Utc::now();
    let history = format!(
        "insert into jobs (name, display_name) values ('alpha', 'alpha'), ('beta', 'beta'), ('gamma', 'gamma');
         insert into executions (id, job_id, status, trigger, started_at, completed_at, duration_ms)
         select gen_random_uuid(), j.id, 'completed', 'scheduled',
                '{now}'::timestamptz - g * interval '86 seconds',
                '{now}'::timestamptz - g * interval '86 seconds' + interval '1 second', 1000
           from generate_series(1, 20000) g
           join jobs j on j.name = case when g % 2 = 0 then 'alpha' else 'beta' end;
         update executions set status = 'timed_out' where started_at in (select started_at from executions order by started_at offset 500 limit 6);
         update executions set status = 'cancelled' where started_at in (select started_at from executions order by started_at offset 9000 limit 6);
         update executions e set status = 'failed' from jobs j
          where j.id = e.job_id and j.name = 'beta' and e.started_at > '{now}'::timestamptz - interval '1 day';
         update executions e set status = 'failed' from jobs j
          where j.id = e.job_id and j.name = 'alpha'
            and e.started_at in (select started_at from executions order by started_at offset 100 limit 4);
         update executions set trigger = 'manual' where started_at in (select started_at from executions order by started_at offset 3000 limit 4);
         update executions set trigger = 'retry' where started_at in (select started_at from executions order by started_at offset 7000 limit 3);
         insert into executions (id, job_id, status, trigger, started_at)
         select gen_random_uuid(), j.id, 'running', 'api', '{now}'::timestamptz - g * interval '19 days'
           from generate_series(1, 3) g, jobs j where j.name = 'gamma';
         analyze executions; analyze jobs;",
        now = now.to_rfc3339()
    );
    sqlx::raw_sql(&history).execute(&pool).await.unwrap();
    let (from, to) = (now - Duration::days(16), now - Duration::days(15));
    let window = format!(
        "e.started_at >= '{}' and e.started_at < '{}'",
        from.to_rfc3339(),
        to.to_rfc3339()
    );
    let cases: Vec<(&str, ExecutionFilter, String)> = vec![
        ("no filter", ExecutionFilter::default(), "true".into()),
        (
            "status=timed_out",
            ExecutionFilter {
                status: Some(ExecutionStatus::TimedOut),
                ..Default::default()
            },
            "e.status = 'timed_out'".into(),
        ),
        (
            "status=cancelled",
            ExecutionFilter {
                status: Some(ExecutionStatus::Cancelled),
                ..Default::default()
            },
            "e.status = 'cancelled'".into(),
        ),
        (
            "job=alpha&status=failed",
            ExecutionFilter {
                job: Some("alpha".into()),
                status: Some(ExecutionStatus::Failed),
                ..Default::default()
            },
            "j.name = 'alpha' and e.status = 'failed'".into(),
        ),
        (
            "job=gamma (3 runs, 19 days back)",
            ExecutionFilter {
                job: Some("gamma".into()),
                ..Default::default()
            },
            "j.name = 'gamma'".into(),
        ),
        (
            "trigger=manual",
            ExecutionFilter {
                trigger: Some(Trigger::Manual),
                ..Default::default()
            },
            "e.trigger = 'manual'".into(),
        ),
        (
            "trigger=retry",
            ExecutionFilter {
                trigger: Some(Trigger::Retry),
                ..Default::default()
            },
            "e.trigger = 'retry'".into(),
        ),
        (
            "a day 15 days back",
            ExecutionFilter {
                from: Some(from),
                to: Some(to),
                ..Default::default()
            },
            window.clone(),
        ),
        (
            "job=beta, a day 15 days back",
            ExecutionFilter {
                job: Some("beta".into()),
                from: Some(from),
                to: Some(to),
                ..Default::default()
            },
            format!("j.name = 'beta' and {window}"),
        ),
    ];
    for (what, filter, sql) in cases {
        let mut tx = pool.begin().await.unwrap();
        let expected: Vec<uuid::Uuid> = sqlx::query_scalar(&format!(
            "select e.id from executions e join jobs j on j.id = e.job_id
              where {sql} order by e.started_at desc, e.id desc limit 51"
        ))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(!expected.is_empty(), "{what}: the data has such runs");
        let mut read = 0;
        for _ in 0..7 {
            let (first, rows) = page_and_rows_read(&mut tx, &filter).await;
            read = rows;
            let ids: Vec<_> = first.items.iter().map(|e| e.id).collect();
            assert_eq!(ids, expected[..ids.len()], "{what}: first page");
            assert_eq!(ids.len(), expected.len().min(50), "{what}: first page");
            // The second page reads by index too.
            if let Some(c) = first.next_cursor {
                let next = ExecutionFilter {
                    cursor: Some(Cursor::decode(&c).unwrap()),
                    ..filter.clone()
                };
                let (_, read_next) = page_and_rows_read(&mut tx, &next).await;
                assert!(
                    read_next <= 200,
                    "{what}: the second page read {read_next} runs"
                );
            }
        }
        // A page needs 51 rows; an index scan whose other filter drops a few is fine,
        // reading the history (up to 20,000) is not.
        assert!(read <= 200, "{what}: a page read {read} runs of 20,000");
        tx.rollback().await.unwrap();
    }
}

/// One page of `filter` on `tx`, and the heap rows of `executions` its statement read.
async fn page_and_rows_read(
    tx: &mut sqlx::PgConnection,
    filter: &app::db::execution_list::ExecutionFilter,
) -> (app::model::ExecutionPage, i64) {
    let before = executions_rows_read(&mut *tx).await;
    let page = app::db::execution_list::page(&mut *tx, filter)
        .await
        .unwrap();
    (page, executions_rows_read(tx).await - before)
}

/// The heap rows of `executions` read so far in `tx`'s transaction, by scans of any
/// kind: only a difference of two readings means anything.
async fn executions_rows_read(tx: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "select coalesce(seq_tup_read + idx_tup_fetch, 0)::bigint
           from pg_stat_xact_user_tables where relname = 'executions'",
    )
    .fetch_one(tx)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn stuck_lists_the_oldest_hundred_counts_them_all_and_reads_only_open_runs(pool: PgPool) {
    use app::db::stats::{self, STUCK_LISTED};

    // 20,000 finished runs of `fine` and 5 of its runs going on well within its hour;
    // 250 runs of `hung` started 1 to 5 hours ago against its minute; 30 old runs of
    // `quiet`, which has no limit of any kind.
    let now = Utc::now();
    let setup = format!(
        "insert into jobs (name, display_name, timeout_ms)
              values ('fine', 'fine', 3600000), ('hung', 'hung', 60000), ('quiet', 'quiet', null);
         insert into executions (id, job_id, status, trigger, started_at, completed_at, duration_ms)
         select gen_random_uuid(), j.id, 'completed', 'scheduled',
                '{now}'::timestamptz - g * interval '86 seconds',
                '{now}'::timestamptz - g * interval '86 seconds' + interval '1 second', 1000
           from generate_series(1, 20000) g, jobs j where j.name = 'fine';
         insert into executions (id, job_id, status, trigger, started_at)
         select gen_random_uuid(), j.id, 'running', 'api', '{now}'::timestamptz - g * interval '1 minute'
           from generate_series(1, 5) g, jobs j where j.name = 'fine';
         insert into executions (id, job_id, status, trigger, started_at)
         select gen_random_uuid(), j.id, 'running', 'api',
                '{now}'::timestamptz - interval '1 hour' - g * interval '1 minute'
           from generate_series(1, 250) g, jobs j where j.name = 'hung';
         insert into executions (id, job_id, status, trigger, started_at)
         select gen_random_uuid(), j.id, 'running', 'api', '{now}'::timestamptz - g * interval '1 day'
           from generate_series(1, 30) g, jobs j where j.name = 'quiet';
         analyze executions; analyze jobs;",
        now = now.to_rfc3339()
    );
    sqlx::raw_sql(&setup).execute(&pool).await.unwrap();
    let oldest_hung: Vec<String> = sqlx::query_scalar(
        "select e.id::text from executions e join jobs j on j.id = e.job_id
          where j.name = 'hung' order by e.started_at, e.id limit $1",
    )
    .bind(STUCK_LISTED)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(oldest_hung.len(), 100);

    let app = spawn_app(pool.clone()).await;
    let (code, s) = app.get("/api/v1/stats?hours=24", &app.read).await;
    assert_eq!(code, 200, "{s}");
    assert_eq!(s["stuck_total"], 250, "every stuck run is counted");
    let listed = s["stuck"].as_array().unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, oldest_hung, "the oldest hundred, oldest first");
    assert!(listed
        .iter()
        .all(|e| e["job"] == "hung" && e["reason"] == "timeout" && e["limit_ms"] == 60_000));
    assert_eq!(s["running_now"], 285);
    let m = crate::metrics::scrape(&app).await;
    for (job, n) in [("hung", 250.0), ("fine", 0.0), ("quiet", 0.0)] {
        let key = format!(r#"cronwatch_job_stuck_executions{{job_name="{job}"}}"#);
        assert_eq!(crate::metrics::value(&m, &key), n, "{job}");
    }

    // What judging them reads: the open runs (285), never the history. Called 7 times
    // so that PostgreSQL's generic plans are in use.
    let timeline = stats::timeline(&pool).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    for _ in 0..7 {
        let before = executions_rows_read(&mut tx).await;
        let stuck = stats::stuck(&mut *tx, &timeline, Utc::now()).await.unwrap();
        let read = executions_rows_read(&mut tx).await - before;
        assert_eq!(stuck.total(), 250);
        assert_eq!(stuck.by_job, [("hung".to_string(), 250)]);
        let ids: Vec<String> = stuck.oldest.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, oldest_hung);
        // Counting them and listing the oldest read each open run once.
        assert!(
            read <= 2 * 285,
            "judging 285 open runs read {read} of 20,285"
        );
    }
}
