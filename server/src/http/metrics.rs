//! `GET /api/v1/metrics`: what the dashboard flags, in the OpenMetrics text format that
//! Prometheus scrapes, so that an existing Prometheus and Alertmanager can page someone
//! when a job fails, is late or is stuck, without anyone watching the tab.
//!
//! Everything is computed at each scrape from the reads the dashboard makes (jobs,
//! rollups, running executions) and by its rules (`app::health`): O(jobs), never
//! O(executions), and a metric never disagrees with the page. The one exception is
//! the report writer's counters, which are this replica's own.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Metric, Registry, Unit};

use app::db::{batches, jobs, stats, tokens::Scope};
use app::error::ApiError;
use app::health::{self, Record};
use app::model::{BatchQueue, ExecutionStatus, Job, JobStats, Stats, DASHBOARD_HOURS};
use app::state::AppState;
use app::writer::WriterTotals;

use super::caller::Caller;

/// What Prometheus asks for first; it also reads the plain text format, which this is
/// a superset of.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /api/v1/metrics` (read token or session).
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let pool = &state.pool;
    let (figures, stuck) = stats::compute_counting_stuck(pool, DASHBOARD_HOURS).await?;
    let snapshot = Snapshot {
        jobs: jobs::list(pool).await?,
        stats: figures,
        stuck: stuck.into_iter().collect(),
        running: stats::running_by_job(pool).await?.into_iter().collect(),
        batches: batches::list(pool).await?,
        notifications: crate::alerts::queue_state(pool).await?,
        writer: state.writer.totals(),
    };
    let body = render(&snapshot, Utc::now());
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], body).into_response())
}

/// The state the metrics describe, read at one scrape.
pub struct Snapshot {
    pub jobs: Vec<Job>,
    /// The dashboard's figures: per job over [`DASHBOARD_HOURS`], the stuck runs and
    /// the 7-day timeline.
    pub stats: Stats,
    /// Stuck runs per job name, every one of them (`stats.stuck` lists the oldest).
    pub stuck: HashMap<String, i64>,
    /// Running executions per job name, however old.
    pub running: HashMap<String, i64>,
    pub batches: Vec<BatchQueue>,
    /// The alert webhook's queue.
    pub notifications: crate::alerts::QueueState,
    /// This replica's report writer since it started.
    pub writer: WriterTotals,
}

/// `job_name`, not `job`: Prometheus gives every scraped sample its own `job` label
/// (the scrape job) and would rename ours to `exported_job` (kube-state-metrics names
/// its Kubernetes jobs so too).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobStatusLabel {
    job_name: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

/// Whole numbers (counts, flags).
type Count = Gauge;
/// Seconds, ratios.
type Real = Gauge<f64, AtomicU64>;
/// One of a batch queue's counters.
type QueueCount = fn(&BatchQueue) -> i64;

/// Registers a new family of gauges under `name` (the unit, if any, is appended to it).
fn family<L, M>(r: &mut Registry, name: &str, help: &str, unit: Option<Unit>) -> Family<L, M>
where
    Family<L, M>: Metric + Default + Clone,
{
    let f = Family::<L, M>::default();
    match unit {
        Some(unit) => r.register_with_unit(name, help, unit, f.clone()),
        None => r.register(name, help, f.clone()),
    }
    f
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The OpenMetrics text of `s` at `now` (which decides *late*).
pub fn render(s: &Snapshot, now: DateTime<Utc>) -> String {
    let mut r = Registry::with_prefix("cronwatch");
    r.register(
        "build",
        "The cronwatch version answering",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    let enabled: Family<JobLabel, Count> =
        family(&mut r, "job_enabled", "1 unless the job is paused", None);
    let late: Family<JobLabel, Count> = family(
        &mut r,
        "job_late",
        "1 when the job's expected start plus grace has passed with no start (the dashboard's late)",
        None,
    );
    let stuck: Family<JobLabel, Count> = family(
        &mut r,
        "job_stuck_executions",
        "Running executions past what the job allows (its timeout, else 3x its estimate, else 3x its usual duration)",
        None,
    );
    let running: Family<JobLabel, Count> = family(
        &mut r,
        "job_running_executions",
        "Executions running now",
        None,
    );
    let failures: Family<JobLabel, Count> = family(
        &mut r,
        "job_consecutive_failures",
        "Latest runs in a row that failed or timed out (the dashboard flags 3 and more)",
        None,
    );
    let last_status: Family<JobStatusLabel, Count> = family(
        &mut r,
        "job_last_status",
        "1 for the status of the job's latest run, 0 for the others; absent before its first run",
        None,
    );
    let last_start: Family<JobLabel, Real> = family(
        &mut r,
        "job_last_start_timestamp",
        "When the job's latest run started (Unix time)",
        Some(Unit::Seconds),
    );
    let last_duration: Family<JobLabel, Real> = family(
        &mut r,
        "job_last_duration",
        "How long the job's latest run took, once it ended",
        Some(Unit::Seconds),
    );
    let next_run: Family<JobLabel, Real> = family(
        &mut r,
        "job_next_run_timestamp",
        "When the job is next expected to start (Unix time); absent when unscheduled or paused",
        Some(Unit::Seconds),
    );
    let recent: Family<JobStatusLabel, Count> = family(
        &mut r,
        "job_executions_24h",
        "Executions started in the last 24 hours, by their status now",
        None,
    );
    let success: Family<JobLabel, Real> = family(
        &mut r,
        "job_success_7d",
        "Completed over finished runs in the last 7 days; absent when none finished",
        Some(Unit::Ratios),
    );

    let records = health::records(&s.stats.timeline);
    let figures_by_job: HashMap<&str, &JobStats> =
        s.stats.jobs.iter().map(|f| (f.job.as_str(), f)).collect();
    for j in &s.jobs {
        let job = JobLabel {
            job_name: j.name.clone(),
        };
        let with = |status: ExecutionStatus| JobStatusLabel {
            job_name: j.name.clone(),
            status: status.as_str(),
        };
        enabled.get_or_create(&job).set(j.enabled.into());
        late.get_or_create(&job).set(health::is_late(j, now).into());
        stuck
            .get_or_create(&job)
            .set(s.stuck.get(&j.name).copied().unwrap_or(0));
        running
            .get_or_create(&job)
            .set(s.running.get(&j.name).copied().unwrap_or(0));
        failures
            .get_or_create(&job)
            .set(j.consecutive_failures.into());
        if let Some(latest) = j.last_status {
            for status in ExecutionStatus::ALL {
                last_status
                    .get_or_create(&with(status))
                    .set((status == latest).into());
            }
        }
        if let Some(t) = j.last_started_at {
            last_start.get_or_create(&job).set(seconds(t));
        }
        if let Some(ms) = j.last_duration_ms {
            last_duration.get_or_create(&job).set(ms as f64 / 1000.0);
        }
        if let Some(t) = j.next_run_at.filter(|_| j.enabled) {
            next_run.get_or_create(&job).set(seconds(t));
        }
        let figures = figures_by_job.get(j.name.as_str());
        for status in ExecutionStatus::ALL {
            let n = figures.map_or(0, |f| f.count(status));
            recent.get_or_create(&with(status)).set(n);
        }
        if let Some(rate) = records.get(j.name.as_str()).and_then(Record::success_rate) {
            success.get_or_create(&job).set(rate);
        }
    }

    let queue_counts: [(&str, &str, QueueCount); 4] = [
        (
            "batch_pending",
            "Items waiting, as the queue last reported",
            |q| q.pending,
        ),
        (
            "batch_processing",
            "Items in progress, as the queue last reported",
            |q| q.processing,
        ),
        (
            "batch_completed_today",
            "Items completed today, as the queue last reported",
            |q| q.completed_today,
        ),
        (
            "batch_failed_today",
            "Items failed today, as the queue last reported",
            |q| q.failed_today,
        ),
    ];
    for (name, help, value) in queue_counts {
        let f: Family<QueueLabel, Count> = family(&mut r, name, help, None);
        for q in &s.batches {
            f.get_or_create(&QueueLabel {
                queue: q.name.clone(),
            })
            .set(value(q));
        }
    }
    let reported: Family<QueueLabel, Real> = family(
        &mut r,
        "batch_last_report_timestamp",
        "When the queue last reported its counters (Unix time)",
        Some(Unit::Seconds),
    );
    for q in &s.batches {
        reported
            .get_or_create(&QueueLabel {
                queue: q.name.clone(),
            })
            .set(seconds(q.updated_at));
    }

    let waiting: Count = Gauge::default();
    waiting.set(s.notifications.waiting);
    r.register(
        "alert_notifications_waiting",
        "Alert notifications the webhook has not taken yet (a receiver that fails holds them back)",
        waiting,
    );
    let abandoned: Count = Gauge::default();
    abandoned.set(s.notifications.abandoned);
    r.register(
        "alert_notifications_abandoned",
        "Alert notifications given up after a day of failed deliveries",
        abandoned,
    );

    // The writer's counters are this replica's since it started (every other figure
    // is the database's): a restart sets them back to 0, as Prometheus expects of a
    // counter.
    let batches: Counter = Counter::default();
    batches.inc_by(s.writer.batches);
    r.register(
        "report_batches",
        "Transactions this replica's writer has written reports in (group commit: one for all reports that arrived meanwhile)",
        batches,
    );
    let reports: Counter = Counter::default();
    reports.inc_by(s.writer.reports);
    r.register(
        "reports_written",
        "Start and end reports this replica's writer has answered, refused ones included; over report_batches, the mean batch",
        reports,
    );
    let busy: Counter<f64, AtomicU64> = Counter::default();
    busy.inc_by(s.writer.busy_seconds);
    r.register_with_unit(
        "report_batches_busy",
        "Time this replica's writer has spent writing batches, commit included; over report_batches, what one costs",
        Unit::Seconds,
        busy,
    );

    let mut out = String::new();
    encode(&mut out, &r).expect("writing to a String cannot fail");
    out
}
