//! `cw_apply_reports` (its fast path for plain batches, its general set-based path) must
//! answer and write exactly what applying the same reports one by one in order does
//! (`cw_apply_reports_in_order`, the reference).
//! Random batches over a growing history: retries, run keys, unknown ids, ids of
//! another job, late ends of timed-out runs, failure streaks, and batches that repeat
//! an execution (which take the in-order path themselves).
//! The server's own way in (`executions::apply`, which sends plain batches as typed
//! arrays) must write and answer the same as its reports applied one by one.
//! And the plans those paths keep per connection must stay on indexes however the
//! tables have grown since they were made.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use app::db::executions::{self, Completion, NewExecution, Report};
use app::model::{ExecutionStatus, Trigger};

const JOBS: [&str; 3] = ["alpha", "beta", "gamma"];
const STATUSES: [&str; 4] = ["completed", "failed", "timed_out", "cancelled"];

struct Gen {
    rng: StdRng,
    /// Ids of executions started so far (committed), with their job.
    known: Vec<(Uuid, &'static str)>,
    t0: DateTime<Utc>,
}

impl Gen {
    fn at(&mut self, max_minutes: i64) -> DateTime<Utc> {
        self.t0 + Duration::minutes(self.rng.gen_range(0..max_minutes))
    }

    fn start(&mut self) -> Value {
        let job = JOBS[self.rng.gen_range(0..JOBS.len())];
        let roll = self.rng.gen_range(0..10);
        let id = if roll < 2 && !self.known.is_empty() {
            // a retried start, sometimes naming another job than the stored one
            self.known[self.rng.gen_range(0..self.known.len())].0
        } else {
            Uuid::from_u128(self.rng.gen())
        };
        let run_key = (roll == 9).then(|| format!("rid-{}", self.rng.gen_range(0..3)));
        json!({
            "op": "start", "job": job, "id": id, "trigger": "api", "triggered_by": "token:t",
            "started_at": self.at(180), "host": null, "scheduled_for": null,
            "run_key": run_key, "attempt": 1,
        })
    }

    fn complete(&mut self, in_batch: &[Uuid]) -> Value {
        let roll = self.rng.gen_range(0..20);
        let id = if roll == 0 || self.known.is_empty() {
            Uuid::from_u128(self.rng.gen())
        } else if roll == 1 && !in_batch.is_empty() {
            in_batch[self.rng.gen_range(0..in_batch.len())]
        } else {
            self.known[self.rng.gen_range(0..self.known.len())].0
        };
        let status = STATUSES[self.rng.gen_range(0..STATUSES.len())];
        let duration = self.rng.gen_bool(0.5).then(|| self.rng.gen_range(0..9000));
        let mut op = json!({
            "op": "complete", "id": id, "status": status, "output_truncated": false,
            "error_message": (status == "failed").then_some("boom"),
            "exit_code": (status == "failed").then_some(2), "duration_ms": duration,
            "log_tail": self.rng.gen_bool(0.3).then_some("last lines"),
            "completed_at": self.t0 + Duration::hours(4),
        });
        // The server leaves the key out when there is no output.
        if self.rng.gen_bool(0.7) {
            op["output"] = json!({ "n": self.rng.gen_range(0..100) });
        }
        op
    }

    fn batch(&mut self, size: usize) -> Vec<Value> {
        let mut ops: Vec<Value> = Vec::new();
        for _ in 0..size {
            let ids: Vec<Uuid> = ops
                .iter()
                .filter_map(|o| o["id"].as_str()?.parse().ok())
                .collect();
            ops.push(if self.rng.gen_bool(0.5) {
                self.start()
            } else {
                self.complete(&ids)
            });
        }
        ops
    }
}

/// Whether a batch touches each execution once (the set-based path applies to it from
/// six reports on).
fn distinct(ops: &[Value]) -> bool {
    let ids: HashSet<&str> = ops.iter().filter_map(|o| o["id"].as_str()).collect();
    let keys: HashSet<(&str, &str)> = ops
        .iter()
        .filter_map(|o| Some((o["job"].as_str()?, o["run_key"].as_str()?)))
        .collect();
    let keyed = ops.iter().filter(|o| o["run_key"].is_string()).count();
    ids.len() == ops.len() && keys.len() == keyed
}

/// Applies `ops` with `function` in a transaction that is rolled back; answers the
/// results and every table the reports write, keyed by names rather than by ids that
/// sequences hand out.
async fn apply_and_look(pool: &PgPool, function: &str, ops: &[Value]) -> Value {
    let mut tx = pool.begin().await.unwrap();
    let first_event = latest_event(&mut tx).await;
    let results: Value = sqlx::query_scalar(&format!("select {function}($1)"))
        .bind(Value::Array(ops.to_vec()))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let state = look(&mut tx, first_event).await;
    tx.rollback().await.unwrap();
    json!({ "results": results, "state": state })
}

/// The newest event's number.
async fn latest_event(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar("select coalesce(max(seq), 0) from events")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Every table reports write, keyed by names rather than by ids that sequences hand
/// out; of the events, those after `first_event`.
async fn look(conn: &mut PgConnection, first_event: i64) -> Value {
    sqlx::query_scalar(
        "select jsonb_build_object(
           'executions', (select jsonb_agg(to_jsonb(e) - 'job_id' || jsonb_build_object('job', j.name)
                                           order by e.id)
                            from executions e join jobs j on j.id = e.job_id),
           'rollups', (select jsonb_agg(jsonb_build_array(j.name, r.bucket, r.status, r.count,
                                                         r.duration_sum_ms, r.duration_count)
                                        order by j.name, r.bucket, r.status)
                         from execution_rollups r join jobs j on j.id = r.job_id
                        where (r.count, r.duration_sum_ms, r.duration_count) <> (0, 0, 0)),
           'jobs', (select jsonb_agg(jsonb_build_array(name, last_execution_id, last_started_at,
                                                      last_status, consecutive_failures)
                                     order by name) from jobs),
           'events', (select jsonb_agg(jsonb_build_array(kind, payload) order by seq)
                        from events where seq > $1))",
    )
    .bind(first_event)
    .fetch_one(conn)
    .await
    .unwrap()
}

/// Applies `ops` as the writer does, in the caller's transaction or its own.
async fn apply_reports(db: impl sqlx::PgExecutor<'_>, ops: &[Value]) {
    sqlx::query("select cw_apply_reports($1)")
        .bind(Value::Array(ops.to_vec()))
        .execute(db)
        .await
        .unwrap();
}

/// `cw_apply_reports` answers and writes what the one-by-one reference does for `ops`.
async fn assert_matches_in_order(pool: &PgPool, ops: &[Value], what: &str) {
    let reference = apply_and_look(pool, "cw_apply_reports_in_order", ops).await;
    let candidate = apply_and_look(pool, "cw_apply_reports", ops).await;
    assert_eq!(
        candidate,
        reference,
        "{what}: batch {}",
        Value::Array(ops.to_vec())
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn set_based_batches_match_reports_applied_in_order(pool: PgPool) {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(2026),
        known: Vec::new(),
        t0: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
    };
    let mut set_based = 0;
    for round in 0..80 {
        let size = g.rng.gen_range(1..24);
        let ops = g.batch(size);
        if ops.len() >= 6 && distinct(&ops) {
            set_based += 1;
        }
        assert_matches_in_order(&pool, &ops, &format!("round {round}")).await;

        // Grow the history: commit a batch (by whichever path) and remember what it started.
        let size = g.rng.gen_range(4..16);
        let base = g.batch(size);
        apply_reports(&pool, &base).await;
        for op in &base {
            if op["op"] == "start" {
                let id: Uuid = op["id"].as_str().unwrap().parse().unwrap();
                let job = JOBS.iter().find(|j| **j == op["job"]).unwrap();
                g.known.push((id, job));
            }
        }
    }
    assert!(
        set_based >= 20,
        "only {set_based} batches took the set-based path"
    );
    let history: i64 = sqlx::query_scalar("select count(*) from executions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(history > 100, "history too small: {history}");
}

/// Whether the fast path answered `ops` alone (applied in a transaction that is rolled
/// back): the general path was never called.
async fn takes_fast_path(pool: &PgPool, ops: &[Value]) -> bool {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set local track_functions = 'pl'")
        .execute(&mut *tx)
        .await
        .unwrap();
    apply_reports(&mut *tx, ops).await;
    let general: Option<i64> = sqlx::query_scalar(
        "select pg_stat_get_xact_function_calls('cw_apply_reports_general'::regproc)",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    general.unwrap_or(0) == 0
}

/// The batches the writer nearly always gets (new starts, ends of running executions,
/// each execution once) take the fast path, which must answer and write what the
/// one-by-one reference does: backdated starts, starts and ends of one job in one batch,
/// new jobs, failure streaks broken and grown, every final status.
#[sqlx::test(migrations = "../migrations")]
async fn plain_batches_take_the_fast_path_and_match_reports_applied_in_order(pool: PgPool) {
    let mut rng = StdRng::seed_from_u64(11);
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let jobs = ["alpha", "beta", "gamma", "delta"];
    let mut running: Vec<Uuid> = Vec::new();
    let mut fast = 0;
    for round in 0..60 {
        let mut ops = Vec::new();
        let size = rng.gen_range(3..20);
        let mut ended = HashSet::new();
        for _ in 0..size {
            if rng.gen_bool(0.5) && !running.is_empty() {
                let id = running[rng.gen_range(0..running.len())];
                if !ended.insert(id) {
                    continue;
                }
                let status = STATUSES[rng.gen_range(0..STATUSES.len())];
                let mut op = json!({
                    "op": "complete", "id": id, "status": status, "output_truncated": false,
                    "error_message": (status == "failed").then_some("boom \"quoted\"\n"),
                    "exit_code": (status == "failed").then_some(2),
                    "duration_ms": rng.gen_bool(0.5).then(|| rng.gen_range(0..9000)),
                    "log_tail": rng.gen_bool(0.3).then_some("last\tlines \u{e9}"),
                    // Times are given: the two paths run in transactions of their own, with
                    // their own now().
                    "completed_at": t0 + Duration::hours(5),
                });
                if rng.gen_bool(0.7) {
                    op["output"] = json!({ "n": rng.gen_range(0..100), "s": "a\"b" });
                }
                ops.push(op);
            } else {
                // A job seen for the first time now and then, and starts dated in any
                // order (a backdated one must not become its job's last run).
                let job = if rng.gen_bool(0.1) {
                    format!("new-{round}-{}", ops.len())
                } else {
                    jobs[rng.gen_range(0..jobs.len())].to_string()
                };
                ops.push(json!({
                    "op": "start", "job": job, "id": Uuid::from_u128(rng.gen()),
                    "trigger": "api", "triggered_by": rng.gen_bool(0.5).then_some("token:t"),
                    "started_at": t0 + Duration::minutes(rng.gen_range(0..240)),
                    "host": rng.gen_bool(0.3).then_some("web-1"),
                    "scheduled_for": null, "run_key": null, "attempt": rng.gen_range(1..3),
                }));
            }
        }
        if ops.len() < 3 {
            continue;
        }
        assert!(
            takes_fast_path(&pool, &ops).await,
            "round {round}: a plain batch took the general path"
        );
        fast += 1;
        assert_matches_in_order(&pool, &ops, &format!("round {round}")).await;

        // Commit it, so that later rounds end what this one started.
        apply_reports(&pool, &ops).await;
        running.retain(|id| !ended.contains(id));
        running.extend(
            ops.iter()
                .filter(|o| o["op"] == "start")
                .map(|o| o["id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        );
    }
    assert!(fast >= 40, "only {fast} plain batches");

    // Not plain: a retried start, an end of a finished run, an unknown id. Each goes
    // the general path, and answers as the reference does.
    let finished: Uuid = sqlx::query_scalar(
        "select id from executions where status <> 'running' order by id limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let fresh = |job: &str| {
        json!({ "op": "start", "job": job, "id": Uuid::new_v4(), "trigger": "api", "attempt": 1,
                "started_at": t0 })
    };
    for odd in [
        json!({ "op": "start", "job": "alpha", "id": running[0], "trigger": "api", "attempt": 1 }),
        json!({ "op": "complete", "id": finished, "status": "failed", "output_truncated": false,
                "completed_at": t0 + Duration::hours(5) }),
        json!({ "op": "complete", "id": Uuid::new_v4(), "status": "completed", "output_truncated": false }),
    ] {
        let ops = vec![fresh("alpha"), fresh("beta"), odd];
        assert!(!takes_fast_path(&pool, &ops).await, "{ops:?}");
        assert_matches_in_order(&pool, &ops, "not plain").await;
    }
}

/// Applies `reports` with the server's `executions::apply` (a batch) or `apply_one` (one
/// by one, the reference) in a transaction that is rolled back. Answers what it answered
/// and wrote, and how many times the plain and the general path were called.
async fn apply_as_server(pool: &PgPool, reports: &[Report], batch: bool) -> (Value, [i64; 2]) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set local track_functions = 'pl'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let first_event = latest_event(&mut tx).await;
    let outcomes = if batch {
        executions::apply(&mut tx, &reports.iter().collect::<Vec<_>>())
            .await
            .unwrap()
    } else {
        let mut outcomes = Vec::new();
        for r in reports {
            outcomes.push(executions::apply_one(&mut *tx, r.clone()).await);
        }
        outcomes
    };
    let answers: Vec<Value> = outcomes
        .into_iter()
        .map(|o| match o {
            Ok(o) => json!({ "changed": o.changed, "execution": o.execution }),
            Err(e) => json!({ "refused": e.to_string() }),
        })
        .collect();
    let state = look(&mut tx, first_event).await;
    let calls: (Option<i64>, Option<i64>) = sqlx::query_as(
        "select pg_stat_get_xact_function_calls('cw_apply_plain_reports'::regproc),
                pg_stat_get_xact_function_calls('cw_apply_reports_general'::regproc)",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    (
        json!({ "answers": answers, "state": state }),
        [calls.0.unwrap_or(0), calls.1.unwrap_or(0)],
    )
}

/// The server sends a plain batch as typed arrays, one a field: each field must arrive
/// as its report applied alone (through the JSON path) gives it: text with NUL
/// characters replaced, output over the cap replaced, times, hosts, attempts and exit
/// codes in their places. A batch that proves not plain in the database (a start's id
/// is taken) is then written by the general path, as if the arrays had never been sent.
#[sqlx::test(migrations = "../migrations")]
async fn batches_sent_as_arrays_write_and_answer_as_reports_applied_one_by_one(pool: PgPool) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let start = |job: &str, n: u128, minutes: i64| NewExecution {
        job: job.into(),
        id: Some(Uuid::from_u128(n)),
        trigger: Trigger::Api,
        triggered_by: None,
        started_at: Some(t0 + Duration::minutes(minutes)),
        host: None,
        scheduled_for: None,
        run_key: None,
        attempt: 1,
    };
    let end = |status| Completion {
        completed_at: Some(t0 + Duration::hours(2)),
        ..Completion::by_cronwatch(status, "")
    };
    // Three running executions to end.
    let mut seed = pool.acquire().await.unwrap();
    for n in 1..=3 {
        executions::apply_one(&mut *seed, Report::Start(start("alpha", n, n as i64)))
            .await
            .unwrap();
    }
    drop(seed);

    let reports = vec![
        Report::Complete(
            Uuid::from_u128(1),
            Completion {
                error_message: Some("exit\0 2 \"quoted\"".into()),
                exit_code: Some(2),
                duration_ms: Some(1398),
                log_tail: Some("last\tlines \u{e9}\0".into()),
                output: Some(json!({ "k\0": ["a\0b", 1, null], "n": 2.5 })),
                ..end(ExecutionStatus::Failed)
            },
        ),
        Report::Start(NewExecution {
            triggered_by: Some("token:ci\0".into()),
            host: Some("web-1".into()),
            scheduled_for: Some(t0),
            trigger: Trigger::Scheduled,
            attempt: 2,
            ..start("beta", 10, 30)
        }),
        Report::Complete(
            Uuid::from_u128(2),
            Completion {
                output: Some(json!({ "big": "x".repeat(70_000) })),
                ..end(ExecutionStatus::Completed)
            },
        ),
        // A job reported for the first time, and a start dated before its job's last.
        Report::Start(start("gamma-new", 11, 5)),
        Report::Start(start("alpha", 12, 0)),
        Report::Complete(Uuid::from_u128(3), end(ExecutionStatus::TimedOut)),
    ];
    let (reference, _) = apply_as_server(&pool, &reports, false).await;
    let (batch, [plain, general]) = apply_as_server(&pool, &reports, true).await;
    assert_eq!((plain, general), (1, 0), "the plain path writes the batch");
    assert_eq!(batch, reference);
    // The cases above were met: NUL characters replaced, the big output replaced.
    let written = reference["state"]["executions"].to_string();
    assert!(written.contains('\u{fffd}'), "{written}");
    assert!(written.contains("\"output_truncated\":true"), "{written}");

    // Not plain after all: a start whose id is taken (a retry). The arrays are sent,
    // then the general path writes the batch.
    let mut reports = reports;
    reports.push(Report::Start(start("alpha", 1, 1)));
    let (reference, _) = apply_as_server(&pool, &reports, false).await;
    let (batch, [plain, general]) = apply_as_server(&pool, &reports, true).await;
    assert_eq!(
        (plain, general),
        (1, 1),
        "the general path writes the batch"
    );
    assert_eq!(batch, reference);
}

/// The tables a report reads by key: a scan of any of them grows with the history.
const KEYED_TABLES: [&str; 3] = ["executions", "execution_rollups", "events"];

/// The report functions keep one plan per connection (`force_generic_plan`), made at
/// their first call, as the event pump keeps its prepared query. On a new install that
/// first call meets empty tables. With no ANALYZE since (autovacuum is off here), the
/// same plans must still reach rows by index once the history is large; a plan that
/// scanned would make every report slower as the history grows.
#[sqlx::test(migrations = "../migrations")]
async fn plans_made_on_empty_tables_still_use_indexes_once_the_history_is_large(pool: PgPool) {
    for table in KEYED_TABLES.iter().chain(&["jobs"]) {
        sqlx::query(&format!(
            "alter table {table} set (autovacuum_enabled = off)"
        ))
        .execute(&pool)
        .await
        .unwrap();
    }
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let start = |job: &str, id: Uuid| {
        json!({ "op": "start", "job": job, "id": id, "trigger": "api", "attempt": 1,
                "started_at": t0 })
    };
    let end = |id: Uuid| {
        json!({ "op": "complete", "id": id, "status": "failed", "output_truncated": false,
                "exit_code": 1, "duration_ms": 5, "completed_at": t0 + Duration::minutes(1) })
    };
    // Every path of the function, a ping start, and the pump's query, as long-lived
    // connections meet them: a plain batch of starts and one of their ends (fast path),
    // a batch with a retried start (set-based), and a lone report (in order).
    let round = async |conn: &mut sqlx::PgConnection| {
        let ids: Vec<Uuid> = (0..8).map(|_| Uuid::new_v4()).collect();
        let jobs = ["alpha", "beta"];
        let batches = [
            ids.iter()
                .enumerate()
                .map(|(i, id)| start(jobs[i % 2], *id))
                .collect::<Vec<_>>(),
            ids[..4].iter().map(|id| end(*id)).collect(),
            ids[4..]
                .iter()
                .map(|id| end(*id))
                .chain([start("alpha", ids[0])])
                .chain((0..4).map(|_| start("beta", Uuid::new_v4())))
                .collect(),
            vec![start("gamma", Uuid::new_v4())],
        ];
        for ops in batches {
            apply_reports(&mut *conn, &ops).await;
        }
        // A rid-less ping start (ends the job's open ping run, as the last round left one).
        let ping = json!({ "op": "start", "job": "delta", "trigger": "scheduled",
                           "triggered_by": "ping", "attempt": 1, "started_at": t0 });
        sqlx::query("select cw_ping_start($1, interval '1 second')")
            .bind(ping)
            .execute(&mut *conn)
            .await
            .unwrap();
        app::db::events::since(&mut *conn, 0, 500).await.unwrap();
    };
    let mut conn = pool.acquire().await.unwrap();
    // Past the five custom plans after which a prepared statement may go generic.
    for _ in 0..6 {
        round(&mut conn).await;
    }

    // Months of history (200k runs, a year of hourly rollups), written past those plans.
    sqlx::query(
        "with j as (select id from jobs where name = 'alpha')
         insert into executions (id, job_id, status, trigger, started_at, completed_at, duration_ms)
         select gen_random_uuid(), j.id, 'completed', 'api', $1 - n * interval '1 minute',
                $1 - n * interval '1 minute' + interval '1 second', 1000
           from j, generate_series(1, 200000) n",
    )
    .bind(t0)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "with j as (select id from jobs where name = 'alpha')
         insert into execution_rollups (job_id, bucket, status, count)
         select j.id, date_trunc('hour', $1) - n * interval '1 hour', s, 1
           from j, generate_series(1, 9000) n, unnest(array['completed', 'failed']) s",
    )
    .bind(t0)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into events (seq, kind, payload)
         select nextval('events_seq'), 'execution', '{}' from generate_series(1, 200000)",
    )
    .execute(&pool)
    .await
    .unwrap();

    // Counted inside one transaction, as differences: the counts a backend has not yet
    // reported (at most once a second) include its earlier transactions'.
    let mut tx = sqlx::Acquire::begin(&mut *conn).await.unwrap();
    let before = scans(&mut tx).await;
    round(&mut tx).await;
    let after = scans(&mut tx).await;
    tx.rollback().await.unwrap();
    for (table, (seq, idx)) in &after {
        let (seq_before, idx_before) = before[table];
        assert_eq!(
            seq - seq_before,
            0,
            "{table} was scanned in full: {before:?} → {after:?}"
        );
        assert!(
            idx > &idx_before,
            "{table} was not read by index: {before:?} → {after:?}"
        );
    }
}

/// Full scans and index scans of each of [`KEYED_TABLES`] counted by this backend.
async fn scans(conn: &mut sqlx::PgConnection) -> BTreeMap<String, (i64, i64)> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "select relname::text, seq_scan, coalesce(idx_scan, 0)
           from pg_stat_xact_user_tables where relname = any($1)",
    )
    .bind(KEYED_TABLES)
    .fetch_all(conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), KEYED_TABLES.len(), "{rows:?}");
    rows.into_iter()
        .map(|(t, seq, idx)| (t, (seq, idx)))
        .collect()
}
