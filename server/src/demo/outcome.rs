//! How a demo run ends: mostly well, sometimes failed or timed out, with the output and
//! error message the real job would give. Shared by the feeder's reported runs and the
//! endpoint that the `http` demo jobs call.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::DemoJob;

/// How one run ends.
pub struct Ending {
    pub status: &'static str,
    pub duration_ms: i64,
    pub exit_code: i32,
    pub error: Option<String>,
    pub output: Value,
}

/// A plausible ending for a run of `job`; `roll` in [0, 1) picks failures.
pub fn ending(job: &DemoJob, roll: f64, jitter: f64, at: DateTime<Utc>) -> Ending {
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

pub fn failure_message(job: &str) -> String {
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

/// How long a live run takes: its duration scaled down to a few seconds, enough to be
/// seen running.
pub fn shown(end: &Ending) -> Duration {
    Duration::from_millis((end.duration_ms / 10).clamp(1_000, 8_000) as u64)
}
