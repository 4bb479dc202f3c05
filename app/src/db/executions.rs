//! Executions: start, complete, read. Each write also moves the rollups, the job's
//! summary and records a change event, all in one transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::{events, jobs, rollups};
use crate::error::ApiError;
use crate::model::{ChangeEvent, Execution, ExecutionStatus, ExecutionSummary, Trigger};

/// Output larger than this (serialised JSON) is replaced by a truncation marker.
pub const OUTPUT_CAP_BYTES: usize = 64 * 1024;
/// The log tail keeps this many bytes from the end.
pub const LOG_TAIL_CAP_BYTES: usize = 16 * 1024;
/// Error messages keep this many bytes from the start.
pub const ERROR_CAP_BYTES: usize = 4 * 1024;

/// A validated start report.
#[derive(Clone, Debug)]
pub struct NewExecution {
    pub job: String,
    /// Client-chosen id: a retried start with the same id is a no-op.
    pub id: Option<Uuid>,
    pub trigger: Trigger,
    pub triggered_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub host: Option<String>,
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Healthchecks `rid`: pairs a ping start with its end.
    pub run_key: Option<String>,
    pub attempt: i32,
}

/// A validated completion report.
#[derive(Clone, Debug)]
pub struct Completion {
    pub status: ExecutionStatus,
    pub output: Option<serde_json::Value>,
    pub error_message: Option<String>,
    pub exit_code: Option<i32>,
    pub duration_ms: Option<i64>,
    pub log_tail: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// What a write did: `changed` is false when it was a retry that changed nothing.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub execution: Execution,
    pub changed: bool,
}

struct Row {
    id: Uuid,
    job: String,
    job_id: i64,
    status: String,
    trigger: String,
    triggered_by: Option<String>,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    exit_code: Option<i32>,
    error_message: Option<String>,
    attempt: i32,
    host: Option<String>,
    scheduled_for: Option<DateTime<Utc>>,
    output: Option<serde_json::Value>,
    output_truncated: bool,
    log_tail: Option<String>,
}

impl Row {
    fn status(&self) -> ExecutionStatus {
        ExecutionStatus::parse(&self.status).unwrap_or(ExecutionStatus::Failed)
    }

    fn into_wire(self) -> Execution {
        Execution {
            summary: ExecutionSummary {
                status: self.status(),
                id: self.id,
                job: self.job,
                trigger: Trigger::parse(&self.trigger).unwrap_or(Trigger::Api),
                triggered_by: self.triggered_by,
                started_at: self.started_at,
                completed_at: self.completed_at,
                duration_ms: self.duration_ms,
                exit_code: self.exit_code,
                error_message: self.error_message,
                attempt: self.attempt,
                host: self.host,
                scheduled_for: self.scheduled_for,
            },
            output: self.output,
            output_truncated: self.output_truncated,
            log_tail: self.log_tail,
        }
    }
}

async fn fetch(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Option<Row>, sqlx::Error> {
    // Two spellings because `for update` cannot be a parameter.
    if lock {
        sqlx::query_as!(
            Row,
            "select e.id, j.name as job, e.job_id, e.status, e.trigger, e.triggered_by, e.started_at,
                    e.completed_at, e.duration_ms, e.exit_code, e.error_message, e.attempt, e.host,
                    e.scheduled_for, e.output, e.output_truncated, e.log_tail
             from executions e join jobs j on j.id = e.job_id
             where e.id = $1 for update of e",
            id
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            Row,
            "select e.id, j.name as job, e.job_id, e.status, e.trigger, e.triggered_by, e.started_at,
                    e.completed_at, e.duration_ms, e.exit_code, e.error_message, e.attempt, e.host,
                    e.scheduled_for, e.output, e.output_truncated, e.log_tail
             from executions e join jobs j on j.id = e.job_id
             where e.id = $1",
            id
        )
        .fetch_optional(conn)
        .await
    }
}

/// One execution, read on the caller's connection (inside its transaction).
pub(crate) async fn load(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Execution>, sqlx::Error> {
    Ok(fetch(conn, id, false).await?.map(Row::into_wire))
}

/// One execution with everything it reported.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Execution>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    Ok(fetch(&mut conn, id, false).await?.map(Row::into_wire))
}

/// Records the start of a run. Idempotent on `new.id` (and on `run_key` per job).
pub async fn start(pool: &PgPool, new: NewExecution) -> Result<Outcome, ApiError> {
    let mut tx = pool.begin().await?;
    let job_id = jobs::ensure(&mut tx, &new.job).await?;
    if let Some(existing) = find_existing(&mut tx, &new, job_id).await? {
        return Ok(Outcome {
            execution: existing.into_wire(),
            changed: false,
        });
    }
    let id = new.id.unwrap_or_else(Uuid::new_v4);
    let started_at = new.started_at.unwrap_or_else(Utc::now);
    let inserted = sqlx::query!(
        "insert into executions (id, job_id, status, trigger, triggered_by, started_at, host,
                                 scheduled_for, run_key, attempt)
         values ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9)
         on conflict do nothing",
        id,
        job_id,
        new.trigger.as_str(),
        new.triggered_by,
        started_at,
        new.host,
        new.scheduled_for,
        new.run_key,
        new.attempt,
    )
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // A concurrent retry of the same report won the insert: answer as it did.
        tx.rollback().await?;
        let mut conn = pool.acquire().await?;
        return match find_existing(&mut conn, &new, job_id).await? {
            Some(existing) => Ok(Outcome {
                execution: existing.into_wire(),
                changed: false,
            }),
            None => Err(ApiError::Conflict(format!("execution {id} already exists"))),
        };
    }
    rollups::bump(
        &mut tx,
        job_id,
        started_at,
        ExecutionStatus::Running,
        1,
        None,
    )
    .await?;
    jobs::note_start(&mut tx, job_id, id, started_at).await?;
    let execution = fetch(&mut tx, id, false)
        .await?
        .ok_or_else(|| ApiError::Internal("execution vanished inside its transaction".into()))?
        .into_wire();
    events::record(&mut tx, &ChangeEvent::Execution(execution.summary.clone())).await?;
    tx.commit().await?;
    Ok(Outcome {
        execution,
        changed: true,
    })
}

/// The execution a retried start refers to, if this is a retry. A reused id under
/// another job is a conflict.
async fn find_existing(
    conn: &mut PgConnection,
    new: &NewExecution,
    job_id: i64,
) -> Result<Option<Row>, ApiError> {
    if let Some(id) = new.id {
        if let Some(row) = fetch(conn, id, false).await? {
            if row.job_id != job_id {
                return Err(ApiError::Conflict(format!(
                    "execution {id} belongs to job {:?}",
                    row.job
                )));
            }
            return Ok(Some(row));
        }
    }
    if let Some(key) = &new.run_key {
        let id = sqlx::query_scalar!(
            "select id from executions where job_id = $1 and run_key = $2",
            job_id,
            key
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = id {
            return Ok(fetch(conn, id, false).await?);
        }
    }
    Ok(None)
}

/// Records how a run ended. A retry with the same final status is a no-op; a different
/// final status is a conflict — except that a run the sweeper marked `timed_out` may
/// still report its real end once, so that a slow job's result is not lost.
pub async fn complete(pool: &PgPool, id: Uuid, done: Completion) -> Result<Outcome, ApiError> {
    if !done.status.is_final() {
        return Err(ApiError::Invalid("status must be a final status".into()));
    }
    let mut tx = pool.begin().await?;
    let row = fetch(&mut tx, id, true)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("execution {id} not found")))?;
    let current = row.status();
    if current == done.status {
        return Ok(Outcome {
            execution: row.into_wire(),
            changed: false,
        });
    }
    let late_end =
        current == ExecutionStatus::TimedOut && !matches!(done.status, ExecutionStatus::TimedOut);
    if current.is_final() && !late_end {
        return Err(ApiError::Conflict(format!(
            "execution {id} already ended as {}",
            current.as_str()
        )));
    }
    let completed_at = done
        .completed_at
        .unwrap_or_else(Utc::now)
        .max(row.started_at);
    let duration_ms = done
        .duration_ms
        .unwrap_or_else(|| (completed_at - row.started_at).num_milliseconds());
    let (output, truncated) = cap_output(done.output);
    sqlx::query!(
        "update executions set status = $2, completed_at = $3, duration_ms = $4, output = $5,
                output_truncated = $6, error_message = $7, exit_code = $8,
                log_tail = coalesce($9, log_tail)
         where id = $1",
        id,
        done.status.as_str(),
        completed_at,
        duration_ms,
        output,
        truncated,
        done.error_message.map(|e| cap_head(e, ERROR_CAP_BYTES)),
        done.exit_code,
        done.log_tail.map(|t| cap_tail(t, LOG_TAIL_CAP_BYTES)),
    )
    .execute(&mut *tx)
    .await?;
    rollups::bump(&mut tx, row.job_id, row.started_at, current, -1, None).await?;
    rollups::bump(
        &mut tx,
        row.job_id,
        row.started_at,
        done.status,
        1,
        Some(duration_ms),
    )
    .await?;
    if !late_end {
        jobs::note_end(&mut tx, row.job_id, id, done.status).await?;
    }
    let execution = fetch(&mut tx, id, false)
        .await?
        .ok_or_else(|| ApiError::Internal("execution vanished inside its transaction".into()))?
        .into_wire();
    events::record(&mut tx, &ChangeEvent::Execution(execution.summary.clone())).await?;
    tx.commit().await?;
    Ok(Outcome {
        execution,
        changed: true,
    })
}

/// Looks up the execution a ping end refers to: by `rid` if given, else the job's
/// latest running execution.
pub async fn find_for_ping_end(
    pool: &PgPool,
    job_id: i64,
    run_key: Option<&str>,
) -> Result<Option<Uuid>, sqlx::Error> {
    match run_key {
        Some(key) => {
            sqlx::query_scalar!(
                "select id from executions where job_id = $1 and run_key = $2",
                job_id,
                key
            )
            .fetch_optional(pool)
            .await
        }
        None => {
            sqlx::query_scalar!(
                "select id from executions where job_id = $1 and status = 'running'
                 order by started_at desc limit 1",
                job_id
            )
            .fetch_optional(pool)
            .await
        }
    }
}

/// Replaces output above [`OUTPUT_CAP_BYTES`] by a marker that keeps its size and a
/// preview, so that the run is still recorded (nothing acknowledged is lost).
pub fn cap_output(output: Option<serde_json::Value>) -> (Option<serde_json::Value>, bool) {
    let Some(value) = output else {
        return (None, false);
    };
    let text = value.to_string();
    if text.len() <= OUTPUT_CAP_BYTES {
        return (Some(value), false);
    }
    let preview = cap_head(text.clone(), 4096);
    let marker = serde_json::json!({
        "truncated": true,
        "original_bytes": text.len(),
        "preview": preview,
    });
    (Some(marker), true)
}

/// Keeps at most `max` bytes from the start of `s`, on a character boundary.
pub fn cap_head(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Keeps at most `max` bytes from the end of `s`, on a character boundary.
pub fn cap_tail(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_respect_char_boundaries() {
        let s = "é".repeat(10); // 20 bytes
        assert_eq!(cap_head(s.clone(), 5), "éé");
        assert_eq!(cap_tail(s.clone(), 5), "éé");
        assert_eq!(cap_tail("abc".into(), 10), "abc");
    }

    #[test]
    fn output_over_cap_becomes_marker() {
        let big = serde_json::json!({ "x": "a".repeat(OUTPUT_CAP_BYTES) });
        let (out, truncated) = cap_output(Some(big));
        assert!(truncated);
        let out = out.unwrap();
        assert_eq!(out["truncated"], true);
        assert!(out["original_bytes"].as_u64().unwrap() > OUTPUT_CAP_BYTES as u64);
        let small = serde_json::json!({ "ok": 1 });
        assert_eq!(cap_output(Some(small.clone())), (Some(small), false));
    }
}
