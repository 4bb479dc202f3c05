//! Jobs and batch queues as the API and the dashboard show them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ExecutionStatus;

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
    /// How cronwatch calls it, for an `http` job. Server-side only: the page has no use
    /// for it yet, and its parsing would cost the WASM bundle 1.5 KB gzip (the browser
    /// skips the field in what it receives).
    #[cfg(feature = "ssr")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCall>,
    /// How an agent runs it, for a `command` job. Server-side only, as `http`; boxed,
    /// as job change events would otherwise all grow by its size.
    #[cfg(feature = "ssr")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Box<CommandSpec>>,
    /// The parameters a run may be given. Server-side only, as `http`.
    #[cfg(feature = "ssr")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<crate::params::ParamSpec>,
}

/// How cronwatch runs an `http` job: a POST to `url` (the body names the job and the
/// run), carrying the value of the server's environment variable `secret_env` in the
/// header `secret_header` (`X-Cron-Secret` by default), as the pingers it replaces did.
/// The secret itself is never stored: only the variable's name. A run that fails or
/// times out is run again up to `retries` times, after `retry_backoff_ms` (a minute by
/// default), doubled at each further attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_ms: Option<i64>,
}

/// How a `command` job runs: a `cronwatch agent` that has every one of `agent_tags`
/// claims the run and executes `argv` directly (no shell: `["sh", "-c", "…"]` for one),
/// killing it past the job's timeout. Retries as for [`HttpCall`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub argv: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_ms: Option<i64>,
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
            #[cfg(feature = "ssr")]
            http: None,
            #[cfg(feature = "ssr")]
            command: None,
            #[cfg(feature = "ssr")]
            params: vec![],
        }
    }
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
