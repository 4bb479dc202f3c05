//! The change events pushed to live pages (SSE) and replayed after a reconnect.

use serde::{Deserialize, Serialize};

use super::{BatchQueue, ExecutionSummary, Job, JobRemoval};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_event_is_tagged_by_kind() {
        let ev = ChangeEvent::Batch(BatchQueue::example("kb"));
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["kind"], "batch");
        assert_eq!(v["data"]["name"], "kb");
    }
}
