//! `cronwatch serve --demo`: the jobs of DESIGN.md's "Demo jobs" table, three batch
//! queues, and a feeder that reports runs through the real HTTP ingest API (as a
//! newcomer's own scripts would), so the dashboard is alive within seconds: a week of
//! history, live runs with some failures, one stuck run, a failure streak, and batch
//! counters that move.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use app::db::execution_list;
use app::db::executions::{self, Completion, Report};
use app::db::jobs::{self, JobDefinition};
use app::db::tokens::{self, Scope};
use app::model::{ExecutionStatus, JobKind, RUNNING_SHOWN};
use app::schedule::Schedule;

/// One demo job, as DESIGN.md lists it.
pub struct DemoJob {
    pub name: &'static str,
    pub description: &'static str,
    pub schedule: &'static str,
    pub timezone: &'static str,
    pub estimated_ms: i64,
}

pub static JOBS: [DemoJob; 9] = [
    DemoJob {
        name: "monitor-openai",
        description: "Checks the month's OpenAI spend and alerts above 80 % of budget",
        schedule: "0 9 * * *",
        timezone: "UTC",
        estimated_ms: 5_000,
    },
    DemoJob {
        name: "check-alerts",
        description: "Detects critical alerts (budget, KB failures, stalled batch) and emails them",
        schedule: "0 * * * *",
        timezone: "UTC",
        estimated_ms: 2_000,
    },
    DemoJob {
        name: "refresh-mv-metadata",
        description: "Refreshes the PostgreSQL materialised views behind the dashboards",
        schedule: "0 */6 * * *",
        timezone: "UTC",
        estimated_ms: 8_000,
    },
    DemoJob {
        name: "reanalyze-kb-failures",
        description: "Re-runs quality analysis for knowledge-base documents that failed",
        schedule: "0 3 * * *",
        timezone: "UTC",
        estimated_ms: 20_000,
    },
    DemoJob {
        name: "index-kb-progressive",
        description: "Indexes 2 knowledge-base documents per run (embeddings + chunks)",
        schedule: "*/5 * * * *",
        timezone: "UTC",
        estimated_ms: 45_000,
    },
    DemoJob {
        name: "acquisition-weekly",
        description: "Crawls the configured web sources for new content",
        schedule: "0 10 * * 0",
        timezone: "UTC",
        estimated_ms: 30_000,
    },
    DemoJob {
        name: "cleanup-executions",
        description: "Deletes executions older than the retention",
        schedule: "0 4 * * *",
        timezone: "UTC",
        estimated_ms: 1_000,
    },
    DemoJob {
        name: "qa-quality-analysis",
        description:
            "Analyses 100 Q&A (negative feedback first, then confidence < 30 %, then newest)",
        schedule: "0 2,14 * * *",
        timezone: "America/Montreal",
        estimated_ms: 60_000,
    },
    DemoJob {
        name: "followup-processor",
        description: "Sends follow-up emails for the 7:00, 12:00 and 16:00 slots, weekdays",
        schedule: "0 7,12,16 * * 1-5",
        timezone: "UTC",
        estimated_ms: 30_000,
    },
];

/// The demo's batch queues.
pub const BATCHES: [&str; 3] = ["kb-indexation", "web-crawls", "quality-analysis"];

/// The job left running forever (the dashboard flags it stuck).
const STUCK_JOB: &str = "reanalyze-kb-failures";
/// The job whose last runs all failed (the dashboard flags the streak).
const FAILING_JOB: &str = "monitor-openai";
/// Name of the feeder's API token (replaced at each start: its secret lives in memory).
const TOKEN_NAME: &str = "demo-feeder";

/// Creates (or resets) the demo jobs and the feeder's token; returns the token.
pub async fn install(pool: &sqlx::PgPool) -> anyhow::Result<String> {
    for j in &JOBS {
        let def = JobDefinition {
            display_name: Some(j.name.to_string()),
            description: j.description.to_string(),
            kind: JobKind::External,
            schedule: Some(j.schedule.to_string()),
            timezone: Some(j.timezone.to_string()),
            enabled: true,
            timeout_ms: None,
            grace_ms: None,
            estimated_duration_ms: Some(j.estimated_ms),
            tags: vec!["demo".into()],
            http: None,
        };
        let mut tx = pool.begin().await?;
        jobs::put(&mut tx, j.name, def).await?;
        tx.commit().await?;
    }
    end_runs_left_running(pool).await?;
    tokens::delete_named(pool, TOKEN_NAME).await?;
    Ok(tokens::create(pool, TOKEN_NAME, Scope::Ingest, None).await?)
}

/// The host the demo's runs report from.
const DEMO_HOST: &str = "demo-worker-1";

/// Ends as `cancelled` the runs that an earlier demo server left running when it
/// stopped (its worker died with it), as an agent's lost runs end: otherwise each
/// restart would leave a few runs hanging, flagged stuck. The stuck job's run is left
/// as it is meant to be. (Two demo servers on one database would end each other's.)
async fn end_runs_left_running(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let left: Vec<Report> = execution_list::running(pool, RUNNING_SHOWN)
        .await?
        .into_iter()
        .filter(|e| e.host.as_deref() == Some(DEMO_HOST) && e.job != STUCK_JOB)
        .map(|e| {
            Report::Complete(
                e.id,
                Completion::by_cronwatch(
                    ExecutionStatus::Cancelled,
                    "the demo server stopped before this run ended",
                ),
            )
        })
        .collect();
    if !left.is_empty() {
        // A run that ended meanwhile answers a conflict, which changes nothing.
        executions::apply(pool, &left.iter().collect::<Vec<_>>()).await?;
    }
    Ok(())
}

/// The URL this server answers on from the same machine.
pub fn loopback_url(mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

/// Reports a week of history while running forever: scheduled runs at their times
/// (from the moment the history ends), an extra run every few seconds, and batch
/// counters every two seconds.
pub async fn feed(base: String, token: String) {
    let api = Api {
        http: reqwest::Client::new(),
        base,
        token,
    };
    // The server is listening already, but give its accept loop a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Utc::now();
    tokio::spawn({
        let api = api.clone();
        async move {
            if let Err(e) = backfill(&api, started).await {
                tracing::warn!(error = %e, "demo history incomplete");
            }
        }
    });
    let mut batches = BATCHES.map(Batch::new);
    let mut next_fire: Vec<Option<DateTime<Utc>>> = JOBS
        .iter()
        .map(|j| schedule_of(j).and_then(|s| s.next_after(started)))
        .collect();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut seconds: u64 = 0;
    loop {
        tick.tick().await;
        seconds += 1;
        let now = Utc::now();
        for (i, job) in JOBS.iter().enumerate() {
            if next_fire[i].is_some_and(|at| at <= now) {
                let at = next_fire[i].take().unwrap_or(now);
                next_fire[i] = schedule_of(job).and_then(|s| s.next_after(now));
                tokio::spawn(live_run(api.clone(), job, "scheduled", Some(at)));
            }
        }
        if seconds.is_multiple_of(3) {
            let job = &JOBS[rand::thread_rng().gen_range(0..JOBS.len())];
            if job.name != STUCK_JOB && job.name != FAILING_JOB {
                tokio::spawn(live_run(api.clone(), job, "api", None));
            }
        }
        if seconds.is_multiple_of(2) {
            for b in batches.iter_mut() {
                b.step();
                if let Err(e) = api
                    .post(&format!("/api/v1/batches/{}", b.name), &b.report())
                    .await
                {
                    tracing::debug!(error = %e, "demo batch report failed");
                }
            }
        }
    }
}

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "{path}: {status} {answer}");
        Ok(answer)
    }

    async fn start(&self, body: Value) -> anyhow::Result<()> {
        self.post("/api/v1/executions/start", &body).await.map(drop)
    }

    async fn complete(&self, id: Uuid, body: Value) -> anyhow::Result<()> {
        self.post(&format!("/api/v1/executions/{id}/complete"), &body)
            .await
            .map(drop)
    }
}

fn schedule_of(job: &DemoJob) -> Option<Schedule> {
    Schedule::parse(job.schedule, job.timezone).ok()
}

/// How one run ends.
struct Ending {
    status: &'static str,
    duration_ms: i64,
    exit_code: i32,
    error: Option<String>,
    output: Value,
}

/// A plausible ending for a run of `job`; `roll` in [0, 1) picks failures.
fn ending(job: &DemoJob, roll: f64, jitter: f64, at: DateTime<Utc>) -> Ending {
    let duration_ms = ((job.estimated_ms as f64) * (0.6 + jitter)).round() as i64;
    let (status, exit_code, error) = if roll < 0.08 {
        ("failed", 1, Some(failure_message(job.name)))
    } else if roll < 0.10 {
        (
            "timed_out",
            124,
            Some(format!("killed after {} s", duration_ms / 1000)),
        )
    } else {
        ("completed", 0, None)
    };
    let output = match job.name {
        "qa-quality-analysis" => json!({
            "status": if status == "completed" { "success" } else { "error" },
            "trigger": "cron",
            "analyzed_count": 100,
            "problematic_found": (jitter * 17.0) as i64,
            "errors": if status == "completed" { json!([]) } else { json!([error.clone()]) },
            "timestamp": at.to_rfc3339(),
        }),
        "index-kb-progressive" => json!({"documents": 2, "chunks": 40 + (jitter * 30.0) as i64}),
        "check-alerts" => json!({"critical": (roll * 10.0) as i64 % 2, "emailed": 0}),
        _ => json!({"ok": status == "completed"}),
    };
    Ending {
        status,
        duration_ms,
        exit_code,
        error,
        output,
    }
}

fn failure_message(job: &str) -> String {
    match job {
        "monitor-openai" => "OpenAI usage API answered 429 Too Many Requests".into(),
        "index-kb-progressive" => "embedding request timed out after 30 s (document 4821)".into(),
        "refresh-mv-metadata" => {
            "could not obtain lock on materialized view \"mv_kb_stats\"".into()
        }
        "followup-processor" => "SMTP 451 4.7.1 try again later".into(),
        _ => "exited with status 1".into(),
    }
}

/// A week of runs at their scheduled times. Ids are derived from job and time, so a
/// second `--demo` start re-sends the same history and changes nothing.
async fn backfill(api: &Api, now: DateTime<Utc>) -> anyhow::Result<()> {
    // Each job replays its runs in order (its failure streak depends on it); the jobs
    // catch up side by side, like a fleet of crons.
    let replays = JOBS.iter().enumerate().map(|(j, job)| {
        let api = api.clone();
        async move {
            let Some(schedule) = schedule_of(job) else {
                return Ok(());
            };
            let mut at = now - TimeDelta::days(7);
            let mut times = Vec::new();
            while let Some(next) = schedule.next_after(at).filter(|t| *t < now) {
                times.push(next);
                at = next;
            }
            let last = times.len().saturating_sub(1);
            for (n, t) in times.into_iter().enumerate() {
                history_run(api.clone(), j, t, last - n).await?;
            }
            anyhow::Ok(())
        }
    });
    futures::future::try_join_all(replays).await.map(drop)
}

/// One past run of `job` scheduled at `at`, `from_last` runs before its latest.
async fn history_run(
    api: Api,
    job: usize,
    at: DateTime<Utc>,
    from_last: usize,
) -> anyhow::Result<()> {
    let job = &JOBS[job];
    let id = run_id(job, at);
    let bytes = id.as_bytes();
    let roll = f64::from(bytes[0]) / 256.0;
    let jitter = f64::from(bytes[1]) / 256.0;
    let started = at + TimeDelta::milliseconds(i64::from(bytes[2]) * 4);
    api.start(json!({
        "job": job.name, "id": id, "trigger": "scheduled",
        "started_at": started, "scheduled_for": at, "host": DEMO_HOST,
    }))
    .await?;
    if job.name == STUCK_JOB && from_last == 0 {
        return Ok(()); // never ends: the stuck run
    }
    let mut end = ending(job, roll, jitter, at);
    if job.name == FAILING_JOB && from_last < 3 {
        end = Ending {
            status: "failed",
            exit_code: 1,
            error: Some(failure_message(job.name)),
            ..end
        };
    }
    api.complete(id, completion(&end, started)).await
}

/// The id of `job`'s run scheduled at `at`, the same on every start.
fn run_id(job: &DemoJob, at: DateTime<Utc>) -> Uuid {
    let key = format!("cronwatch-demo/{}/{}", job.name, at.timestamp());
    Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes())
}

fn completion(end: &Ending, started: DateTime<Utc>) -> Value {
    json!({
        "status": end.status,
        "duration_ms": end.duration_ms,
        "completed_at": started + TimeDelta::milliseconds(end.duration_ms),
        "exit_code": end.exit_code,
        "error_message": end.error,
        "output": end.output,
        "log_tail": format!("starting\n…\n{}\n", end.error.as_deref().unwrap_or("done")),
    })
}

/// A run now, lasting its estimate scaled down to a few seconds, so it is seen running.
async fn live_run(
    api: Api,
    job: &'static DemoJob,
    trigger: &'static str,
    scheduled: Option<DateTime<Utc>>,
) {
    let (roll, jitter) = {
        let mut rng = rand::thread_rng();
        (rng.gen::<f64>(), rng.gen::<f64>())
    };
    // A scheduled run has the id the history would give it: a restart never doubles it.
    let id = scheduled.map_or_else(Uuid::new_v4, |at| run_id(job, at));
    let started = Utc::now();
    let start = json!({
        "job": job.name, "id": id, "trigger": trigger,
        "started_at": started, "scheduled_for": scheduled, "host": DEMO_HOST,
    });
    if let Err(e) = api.start(start).await {
        tracing::debug!(error = %e, "demo start failed");
        return;
    }
    let end = ending(job, roll, jitter, started);
    let shown_ms = (end.duration_ms / 10).clamp(1_000, 8_000);
    tokio::time::sleep(Duration::from_millis(shown_ms as u64)).await;
    let body = json!({
        "status": end.status, "duration_ms": end.duration_ms, "exit_code": end.exit_code,
        "error_message": end.error, "output": end.output,
    });
    if let Err(e) = api.complete(id, body).await {
        tracing::debug!(error = %e, "demo completion failed");
    }
}

/// A batch queue's counters, moved a little at each step.
struct Batch {
    name: &'static str,
    pending: i64,
    processing: i64,
    completed_today: i64,
    failed_today: i64,
}

impl Batch {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            pending: 60,
            processing: 0,
            completed_today: 0,
            failed_today: 0,
        }
    }

    fn step(&mut self) {
        let mut rng = rand::thread_rng();
        let done = rng.gen_range(0..=self.processing);
        let failed = (0..done).filter(|_| rng.gen_bool(0.05)).count() as i64;
        self.completed_today += done - failed;
        self.failed_today += failed;
        self.processing -= done;
        let taken = rng.gen_range(1..=3).min(self.pending);
        self.pending -= taken;
        self.processing += taken;
        if self.pending == 0 && self.processing == 0 {
            self.pending = rng.gen_range(30..80); // a new batch arrives
        }
    }

    fn report(&self) -> Value {
        json!({
            "pending": self.pending, "processing": self.processing,
            "completed_today": self.completed_today, "failed_today": self.failed_today,
        })
    }
}
