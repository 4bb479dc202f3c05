//! The feeder: reports the week of history, the `external` demo jobs' live runs and the
//! batch counters through the real HTTP ingest API, and starts extra runs of the `http`
//! jobs, so that something changes every few seconds.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use app::error::ApiError;
use app::model::Trigger;
use app::params::Params;
use app::state::AppState;

use super::outcome::{ending, failure_message, shown, Ending};
use super::{schedule_of, DemoJob, Installed, BATCHES, DEMO_HOST, FAILING_JOB, JOBS, STUCK_JOB};
use crate::runner::{self, RunSpec};

/// Sends the history, then runs forever: the `external` jobs' runs at their times, an
/// extra run of some job every three seconds, and batch counters every two seconds.
/// (The scheduler runs the `http` jobs at their times.)
pub async fn feed(state: AppState, base: String, installed: Installed) {
    let api = Api {
        http: reqwest::Client::new(),
        base,
        token: installed.token,
    };
    // The server is listening already, but give its accept loop a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::spawn({
        let api = api.clone();
        async move {
            if let Err(e) = backfill(&api, installed.at).await {
                tracing::warn!(error = %e, "demo history incomplete");
            }
        }
    });
    let mut batches = BATCHES.map(Batch::new);
    let mut next_fire: Vec<Option<DateTime<Utc>>> = JOBS
        .iter()
        .map(|j| {
            j.reported
                .then(|| schedule_of(j)?.next_after(installed.at))
                .flatten()
        })
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
            if job.name == STUCK_JOB || job.name == FAILING_JOB {
                // left alone: their alerts are part of the demo
            } else if job.reported {
                tokio::spawn(live_run(api.clone(), job, "api", None));
            } else if let Err(e) = start_run(&state, job).await {
                tracing::debug!(error = %e, job = job.name, "demo run not started");
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

/// Who the feeder's runs of `http` jobs say started them.
const FEEDER: &str = "cronwatch:demo";

/// Starts a run of `http` job `job` as an API client would (not a person: the manual
/// runs' limits stay the visitor's), unless it is running already.
async fn start_run(state: &AppState, job: &DemoJob) -> Result<(), ApiError> {
    let mut tx = state.pool.begin().await?;
    let (job, how) = runner::lock_runnable(&mut tx, job.name).await?;
    // With the job's defaults, as a scheduled run gets.
    let values = runner::values_for(&job, &Params::new())?;
    let spec = RunSpec::asked(Trigger::Api, FEEDER, values);
    let started = runner::start(&mut tx, job, how, spec).await?;
    tx.commit().await?;
    if let Some(run) = started {
        run.launch(state);
    }
    Ok(())
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
    tokio::time::sleep(shown(&end)).await;
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
