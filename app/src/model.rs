//! Wire types shared by the server and the browser. Serde only; the server maps
//! database rows into these (see `db`), the browser decodes them from JSON and SSE.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where an execution stands. `running` is the only non-final state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 5] = [
        Self::Running,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::TimedOut,
    ];

    /// The spelling used in the database, URLs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        self != Self::Running
    }
}

/// Why an execution started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Scheduled,
    Manual,
    Api,
    Retry,
}

impl Trigger {
    pub const ALL: [Trigger; 4] = [Self::Scheduled, Self::Manual, Self::Api, Self::Retry];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Manual => "manual",
            Self::Api => "api",
            Self::Retry => "retry",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Who runs a job: it reports itself, an agent runs a command, or the server calls a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    #[default]
    External,
    Command,
    Http,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::External => "external",
            Self::Command => "command",
            Self::Http => "http",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::External, Self::Command, Self::Http]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One run of a job, as lists and events carry it (no output or log: those can be large).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionSummary {
    pub id: Uuid,
    pub job: String,
    pub status: ExecutionStatus,
    pub trigger: Trigger,
    pub triggered_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i32>,
    pub error_message: Option<String>,
    pub attempt: i32,
    pub host: Option<String>,
    pub scheduled_for: Option<DateTime<Utc>>,
}

#[cfg(test)]
impl BatchQueue {
    /// Queue `name` with one item pending, for tests.
    pub fn example(name: &str) -> Self {
        Self {
            name: name.into(),
            pending: 1,
            processing: 0,
            completed_today: 0,
            failed_today: 0,
            success_rate: None,
            updated_at: Utc::now(),
        }
    }
}

#[cfg(test)]
impl ExecutionSummary {
    /// An API-triggered execution of `job` started now, for tests.
    pub fn example(job: &str, status: ExecutionStatus) -> Self {
        Self {
            id: Uuid::new_v4(),
            job: job.into(),
            status,
            trigger: Trigger::Api,
            triggered_by: None,
            started_at: Utc::now(),
            completed_at: None,
            duration_ms: None,
            exit_code: None,
            error_message: None,
            attempt: 1,
            host: None,
            scheduled_for: None,
        }
    }
}

/// One run of a job with everything it reported: one flat JSON object on the API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    #[serde(flatten)]
    pub details: ExecutionDetails,
}

/// What a run reported beyond its summary. The browser receives it beside the summary
/// (not flattened), which keeps serde's buffering decoder out of the WASM bundle.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionDetails {
    pub output: Option<serde_json::Value>,
    /// True when the reported output exceeded the cap and was replaced (see the API docs).
    pub output_truncated: bool,
    pub log_tail: Option<String>,
}

/// A job definition plus the summary of its latest run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub kind: JobKind,
    pub schedule: Option<String>,
    pub timezone: String,
    pub enabled: bool,
    pub timeout_ms: Option<i64>,
    pub grace_ms: i64,
    pub estimated_duration_ms: Option<i64>,
    pub tags: Vec<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_execution_id: Option<Uuid>,
    pub last_started_at: Option<DateTime<Utc>>,
    pub last_status: Option<ExecutionStatus>,
    /// Duration of the latest run, once it has ended.
    #[serde(default)]
    pub last_duration_ms: Option<i64>,
    pub consecutive_failures: i32,
}

impl Job {
    /// A job as the server creates it on its first report: external, unscheduled.
    pub fn external(name: &str) -> Self {
        Job {
            name: name.to_string(),
            display_name: name.to_string(),
            description: String::new(),
            kind: JobKind::External,
            schedule: None,
            timezone: "UTC".into(),
            enabled: true,
            timeout_ms: None,
            grace_ms: 300_000,
            estimated_duration_ms: None,
            tags: vec![],
            next_run_at: None,
            last_execution_id: None,
            last_started_at: None,
            last_status: None,
            last_duration_ms: None,
            consecutive_failures: 0,
        }
    }
}

/// How lists of jobs and batch queues are ordered: by name, with numbers compared as
/// numbers, so that `shard-2` comes before `shard-10`.
pub fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    // Any tie is broken by the text, so the order never depends on how rows arrived.
    alphanumeric_sort::compare_str(a, b).then_with(|| a.cmp(b))
}

/// Counters of a batch queue, as reported by the jobs that feed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchQueue {
    pub name: String,
    pub pending: i64,
    pub processing: i64,
    pub completed_today: i64,
    pub failed_today: i64,
    /// completed / (completed + failed) today, or null before anything finished.
    pub success_rate: Option<f64>,
    pub updated_at: DateTime<Utc>,
}

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
    pub jobs: Vec<JobStats>,
    pub stuck: Vec<StuckExecution>,
    pub timeline: Vec<TimelinePoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NextRun {
    pub job: String,
    pub at: DateTime<Utc>,
}

/// A change pushed to live clients. The SSE `event:` name is `kind`, the data is this JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum ChangeEvent {
    Execution(ExecutionSummary),
    Batch(BatchQueue),
    Job(Job),
    JobDeleted(JobRemoval),
}

impl ChangeEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Execution(_) => "execution",
            Self::Batch(_) => "batch",
            Self::Job(_) => "job",
            Self::JobDeleted(_) => "job_deleted",
        }
    }
}

/// The window of the dashboard's figures (executions, failures), in hours.
pub const DASHBOARD_HOURS: i64 = 24;

/// A job deleted with its whole history (`DELETE /api/v1/jobs/{name}`), and what it
/// counted for in the figures, so that a live page subtracts it without reloading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRemoval {
    pub name: String,
    /// Every execution deleted with it.
    pub executions: i64,
    /// Those still running.
    pub running: i64,
    /// Its runs and failures (failed or timed out) over the last `hours` hours.
    pub hours: i64,
    pub total: i64,
    pub failures: i64,
}

/// A role, from least to most powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Admin,
    SuperAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Admin => "admin",
            Self::SuperAdmin => "super_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Viewer, Self::Admin, Self::SuperAdmin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// The session key under which the signed-in [`SessionUser`] is stored.
pub const SESSION_USER: &str = "user";

/// The signed-in person, as the session stores it and the pages show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

/// A page of executions with the cursor of the next page, if any.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionPage {
    pub items: Vec<ExecutionSummary>,
    pub next_cursor: Option<String>,
}

/// The executions view of the monitoring page, as its URL carries it
/// (`/monitoring?status=failed&job=…&cursor=…`). Values are kept as text: the server
/// validates them, the browser only passes them on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionQuery {
    pub job: Option<String>,
    pub status: Option<String>,
    pub trigger: Option<String>,
    /// First day shown, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day shown, `YYYY-MM-DD` (UTC), inclusive.
    pub to: Option<String>,
    /// Keyset position of the page; none for the newest.
    pub cursor: Option<String>,
}

impl ExecutionQuery {
    /// From URL query pairs; empty values count as absent.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        let mut q = Self::default();
        for (k, v) in pairs {
            let v = (!v.is_empty()).then_some(v);
            match k {
                "job" => q.job = v,
                "status" => q.status = v,
                "trigger" => q.trigger = v,
                "from" => q.from = v,
                "to" => q.to = v,
                "cursor" => q.cursor = v,
                _ => {}
            }
        }
        q
    }

    /// `tab=crons&…`: the URL query of this view.
    pub fn to_query_string(&self) -> String {
        let mut out = vec!["tab=crons".to_string()];
        for (k, v) in [
            ("job", &self.job),
            ("status", &self.status),
            ("trigger", &self.trigger),
            ("from", &self.from),
            ("to", &self.to),
            ("cursor", &self.cursor),
        ] {
            if let Some(v) = v {
                out.push(format!("{k}={}", crate::validate::encode_query_value(v)));
            }
        }
        out.join("&")
    }

    /// Whether a live execution belongs in this view (only the newest page takes new rows).
    pub fn admits(&self, e: &ExecutionSummary) -> bool {
        let day = e.started_at.date_naive().to_string();
        self.cursor.is_none()
            && self.job.as_ref().is_none_or(|j| *j == e.job)
            && self.status.as_ref().is_none_or(|s| s == e.status.as_str())
            && self
                .trigger
                .as_ref()
                .is_none_or(|t| t == e.trigger.as_str())
            && self.from.as_ref().is_none_or(|f| day >= *f)
            && self.to.as_ref().is_none_or(|t| day <= *t)
    }
}

/// Everything the monitoring page shows at load; `last_event_id` is where its live
/// stream resumes, so nothing between the snapshot and the stream is missed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardSnapshot {
    pub stats: Stats,
    pub jobs: Vec<Job>,
    pub batches: Vec<BatchQueue>,
    pub executions: ExecutionPage,
    pub last_event_id: i64,
    /// Each job's ping URL, for admins only (a ping key is a credential); `None` for
    /// viewers.
    pub ping_urls: Option<PingUrls>,
    /// Why the URL's executions filter was refused (an old bookmark, a typo): the page
    /// still loads, with no executions listed and this said above the table.
    pub filter_error: Option<String>,
    /// The running executions, oldest first (at most [`RUNNING_SHOWN`]): a run whose
    /// end was never reported is flagged even after a newer run of its job ended.
    pub running: Vec<ExecutionSummary>,
}

/// How many running executions the dashboard is sent at load. The oldest come first,
/// and they are the ones that can be stuck.
pub const RUNNING_SHOWN: i64 = 500;

/// Where each job's Healthchecks-style pings go, as an admin copies them into a
/// crontab line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PingUrls {
    /// cronwatch's address as this browser reached it (`https://host:port`); empty
    /// when the request did not say, and then the URLs are paths.
    pub base: String,
    /// Job name and its ping key.
    pub keys: Vec<(String, Uuid)>,
}

/// The id of the element showing job `name`'s ping URL: the dashboard links to it
/// after a new key, and the browser opens the details around it.
pub fn ping_url_anchor(name: &str) -> String {
    format!("ping-url-{name}")
}

impl PingUrls {
    /// Job `name`'s ping URL, if its key was known when the page loaded.
    pub fn url_of(&self, name: &str) -> Option<String> {
        self.keys
            .iter()
            .find(|(job, _)| job == name)
            .map(|(_, key)| format!("{}/ping/{key}", self.base))
    }
}

/// The JSON shape of every API error: `{"error":{"code":"…","message":"…"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_order_numbers_as_numbers() {
        let mut names = ["job-10", "job-2", "beta", "job-02", "alpha", "job-1"];
        names.sort_by(|a, b| name_order(a, b));
        assert_eq!(
            names,
            ["alpha", "beta", "job-1", "job-2", "job-02", "job-10"]
        );
    }

    #[test]
    fn statuses_round_trip_their_spelling() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(ExecutionStatus::parse("done"), None);
    }

    #[test]
    fn execution_query_round_trips_through_the_url() {
        let q = ExecutionQuery {
            job: Some("monitor-openai".into()),
            status: Some("failed".into()),
            from: Some("2026-11-01".into()),
            ..Default::default()
        };
        let text = q.to_query_string();
        assert_eq!(
            text,
            "tab=crons&job=monitor-openai&status=failed&from=2026-11-01"
        );
        let pairs: Vec<(String, String)> = text
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        assert_eq!(
            ExecutionQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.clone()))),
            q
        );
    }

    #[test]
    fn only_matching_executions_enter_a_filtered_view() {
        let e = ExecutionSummary::example("a", ExecutionStatus::Failed);
        assert!(ExecutionQuery::default().admits(&e));
        let failed = ExecutionQuery {
            status: Some("failed".into()),
            ..Default::default()
        };
        assert!(failed.admits(&e));
        let other_job = ExecutionQuery {
            job: Some("b".into()),
            ..Default::default()
        };
        assert!(!other_job.admits(&e));
        let older_page = ExecutionQuery {
            cursor: Some("1_x".into()),
            ..Default::default()
        };
        assert!(
            !older_page.admits(&e),
            "new rows only enter the newest page"
        );
    }

    #[test]
    fn change_event_is_tagged_by_kind() {
        let ev = ChangeEvent::Batch(BatchQueue::example("kb"));
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["kind"], "batch");
        assert_eq!(v["data"]["name"], "kb");
    }
}
