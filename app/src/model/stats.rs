//! The figures of `GET /api/v1/stats`, which the dashboard's cards and chart show.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ExecutionStatus;

/// Per-job figures over the stats window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    pub job: String,
    pub total: i64,
    pub running: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub timed_out: i64,
    /// completed / finished, or null when nothing finished in the window.
    pub success_rate: Option<f64>,
    pub avg_duration_ms: Option<f64>,
}

impl JobStats {
    /// Its runs now in `status`.
    pub fn count(&self, status: ExecutionStatus) -> i64 {
        match status {
            ExecutionStatus::Running => self.running,
            ExecutionStatus::Completed => self.completed,
            ExecutionStatus::Failed => self.failed,
            ExecutionStatus::Cancelled => self.cancelled,
            ExecutionStatus::TimedOut => self.timed_out,
        }
    }
}

/// One job × day × status cell of the 7-day timeline (per job, so the chart can be
/// filtered by job and each job's 7-day success rate read off it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    pub job: String,
    pub day: chrono::NaiveDate,
    pub status: ExecutionStatus,
    pub count: i64,
    /// How many of these runs have a duration (the weight of the average): a run whose
    /// end was never reported has none.
    pub timed: i64,
    pub avg_duration_ms: Option<f64>,
}

/// A running execution past what its job allows (the dashboard's *stuck*, see
/// `health::stuck_after`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StuckExecution {
    pub id: Uuid,
    pub job: String,
    pub started_at: DateTime<Utc>,
    /// How long the job allows a run, in ms.
    pub limit_ms: i64,
    /// Where that limit comes from: `timeout` (the run is about to be timed out),
    /// `estimate` (3× the estimated duration) or `habit` (3× what its completed runs
    /// took on average over 7 days); the last two are at least a minute more.
    pub reason: String,
}

/// Answer of `GET /api/v1/stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub hours: i64,
    pub total: i64,
    pub running_now: i64,
    pub failures: i64,
    pub next_run: Option<NextRun>,
    /// Per job over `hours`. The dashboard does not show these (its rows read the 7-day
    /// records of `health::records`): the browser skips them, for its bundle's budget.
    #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
    pub jobs: Vec<JobStats>,
    /// The oldest stuck runs, at most `db::stats::STUCK_LISTED` (100), oldest first.
    /// The dashboard judges stuck runs itself, from its running list
    /// (`health::alerts`): the browser skips these two, as `jobs`.
    #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
    pub stuck: Vec<StuckExecution>,
    /// How many runs are stuck in all (`stuck` may list fewer).
    #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
    pub stuck_total: i64,
    pub timeline: Vec<TimelinePoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NextRun {
    pub job: String,
    pub at: DateTime<Utc>,
}

/// The window of the dashboard's figures (executions, failures), in hours.
pub const DASHBOARD_HOURS: i64 = 24;
