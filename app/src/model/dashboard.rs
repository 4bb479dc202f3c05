//! What the monitoring page loads and carries in its URL.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BatchQueue, ExecutionPage, ExecutionSummary, Job, Stats};

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

/// The id of job `name`'s row on the monitoring page: the list of jobs that need
/// attention, and alert notifications, link to it.
pub fn job_row_anchor(name: &str) -> String {
    format!("job-{name}")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExecutionStatus;

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
}
