//! Wire types shared by the server and the browser. Serde only; the server maps
//! database rows into these (see `db`), the browser decodes them from JSON and SSE.
//! One module per subject; everything is re-exported here, as `crate::model::…`.

mod dashboard;
mod event;
mod execution;
mod job;
mod session;
mod stats;

pub use dashboard::*;
pub use event::*;
pub use execution::*;
pub use job::*;
pub use session::*;
pub use stats::*;

use serde::{Deserialize, Serialize};

/// How lists of jobs and batch queues are ordered: by name, with numbers compared as
/// numbers, so that `shard-2` comes before `shard-10`.
pub fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    // Any tie is broken by the text, so the order never depends on how rows arrived.
    alphanumeric_sort::compare_str(a, b).then_with(|| a.cmp(b))
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
    /// The run a 409 refers to (the one going on). Server-side only: the page never
    /// reads it (the browser skips the field).
    #[cfg(feature = "ssr")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<uuid::Uuid>,
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
}
