//! Executions: their status and trigger, and the summary and details of one run.

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
    /// The parameters cronwatch ran it with (defaults filled in), for a job that
    /// declares any.
    #[serde(default)]
    pub params: Option<serde_json::Value>,
}

/// A page of executions with the cursor of the next page, if any.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionPage {
    pub items: Vec<ExecutionSummary>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_their_spelling() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(ExecutionStatus::parse("done"), None);
    }
}
