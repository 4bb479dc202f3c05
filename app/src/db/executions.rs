//! Executions: start, complete, read. Each write also moves the rollups, the job's
//! summary and records a change event, all in one transaction.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::output_caps::{cap_head, cap_output, cap_tail, ERROR_CAP_BYTES, LOG_TAIL_CAP_BYTES};
use crate::db::plain_batch::PlainBatch;
use crate::error::ApiError;
use crate::model::{Execution, ExecutionDetails, ExecutionStatus, ExecutionSummary, Trigger};
use crate::validate::{is_valid_name, pg_json, pg_text};

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
    /// `output` is already the truncation marker of an output over the cap (output far
    /// over it is never parsed, see `output_caps::truncation_marker`).
    pub output_truncated: bool,
    pub error_message: Option<String>,
    pub exit_code: Option<i32>,
    pub duration_ms: Option<i64>,
    pub log_tail: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Completion {
    /// An end that cronwatch itself records for a run (its timeout passed, its demo
    /// worker stopped): a status and why, nothing reported by the run.
    pub fn by_cronwatch(status: ExecutionStatus, why: &str) -> Self {
        Completion {
            status,
            output: None,
            output_truncated: false,
            error_message: Some(why.into()),
            exit_code: None,
            duration_ms: None,
            log_tail: None,
            completed_at: None,
        }
    }
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
    params: Option<serde_json::Value>,
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
            details: ExecutionDetails {
                output: self.output,
                output_truncated: self.output_truncated,
                log_tail: self.log_tail,
                params: self.params,
            },
        }
    }
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        "select e.id, j.name as job, e.status, e.trigger, e.triggered_by, e.started_at,
                e.completed_at, e.duration_ms, e.exit_code, e.error_message, e.attempt, e.host,
                e.scheduled_for, e.output, e.output_truncated, e.log_tail, e.params
         from executions e join jobs j on j.id = e.job_id
         where e.id = $1",
        id
    )
    .fetch_optional(conn)
    .await
}

/// One execution with everything it reported.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Execution>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    read(&mut conn, id).await
}

/// [`get`], on the caller's connection (in its transaction).
pub async fn read(conn: &mut PgConnection, id: Uuid) -> Result<Option<Execution>, sqlx::Error> {
    Ok(fetch(conn, id).await?.map(Row::into_wire))
}

/// The longest run a report may claim (a year): durations are summed in the rollups.
pub const MAX_DURATION_MS: i64 = 366 * 24 * 3600 * 1000;

/// Reported times must lie between 2000 and a day from now (a clock somewhat ahead is
/// tolerated): a run dated years ahead would stay the job's latest run and outlive
/// every retention sweep.
fn check_time(what: &str, t: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    let earliest = DateTime::from_timestamp(946_684_800, 0).unwrap_or_default(); // 2000-01-01
    let latest = Utc::now() + chrono::TimeDelta::days(1);
    match t {
        Some(t) if t < earliest || t > latest => Err(ApiError::Invalid(format!(
            "{what} must lie between 2000-01-01 and a day from now"
        ))),
        _ => Ok(()),
    }
}

/// A client's run id (Healthchecks `rid`): 1 to 128 characters, none of them NUL.
pub fn check_run_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 128 || key.contains('\0') {
        return Err(ApiError::Invalid(
            "run id must be 1 to 128 characters, none of them NUL".into(),
        ));
    }
    Ok(())
}

/// One report, as the write functions in the database take it.
#[derive(Clone, Debug)]
pub enum Report {
    Start(NewExecution),
    Complete(Uuid, Completion),
}

impl Report {
    /// Checks what can be checked without the database.
    pub fn validate(&self) -> Result<(), ApiError> {
        match self {
            Report::Start(new) => {
                if !is_valid_name(&new.job) {
                    return Err(ApiError::Invalid(format!(
                        "job name {:?} is invalid: use 1 to 64 of a-z, 0-9 and '-'",
                        new.job
                    )));
                }
                if new.attempt < 1 {
                    return Err(ApiError::Invalid("attempt must be >= 1".into()));
                }
                if new.host.as_ref().is_some_and(|h| h.len() > 255) {
                    return Err(ApiError::Invalid("host is longer than 255 bytes".into()));
                }
                if let Some(key) = &new.run_key {
                    check_run_key(key)?;
                }
                check_time("started_at", new.started_at)?;
                check_time("scheduled_for", new.scheduled_for)?;
            }
            Report::Complete(_, done) => {
                if !done.status.is_final() {
                    return Err(ApiError::Invalid("status must be a final status".into()));
                }
                if done
                    .duration_ms
                    .is_some_and(|d| !(0..=MAX_DURATION_MS).contains(&d))
                {
                    return Err(ApiError::Invalid(
                        "duration must be between 0 and a year (in ms)".into(),
                    ));
                }
                check_time("completed_at", done.completed_at)?;
            }
        }
        Ok(())
    }

    /// The JSON the SQL functions read (see [`Stored`] for what is changed on the way).
    pub(crate) fn to_op(&self) -> serde_json::Value {
        match self {
            Report::Start(n) => serde_json::json!({
                "op": "start", "job": n.job, "id": n.stored_id(),
                "trigger": n.trigger.as_str(),
                "triggered_by": stored_text(&n.triggered_by), "started_at": n.started_at,
                "host": stored_text(&n.host), "scheduled_for": n.scheduled_for,
                "run_key": n.run_key, "attempt": n.attempt,
            }),
            Report::Complete(id, d) => {
                let Stored {
                    output,
                    output_truncated,
                    error_message,
                    log_tail,
                } = d.stored();
                let mut op = serde_json::json!({
                    "op": "complete", "id": id, "status": d.status.as_str(),
                    "output_truncated": output_truncated, "error_message": error_message,
                    "exit_code": d.exit_code, "duration_ms": d.duration_ms,
                    "log_tail": log_tail, "completed_at": d.completed_at,
                });
                // No output is no key: SQL NULL on both write paths, never a JSON `null`.
                if let Some(output) = output {
                    op["output"] = output;
                }
                op
            }
        }
    }
}

impl NewExecution {
    /// The id the start is written with. Ids the server chooses are time-ordered
    /// (UUIDv7): new rows append to the primary-key index instead of touching a random
    /// leaf page each.
    pub(crate) fn stored_id(&self) -> Uuid {
        self.id.unwrap_or_else(Uuid::now_v7)
    }
}

/// Reported text as it is stored: PostgreSQL cannot store NUL characters.
pub(crate) fn stored_text(s: &Option<String>) -> Option<String> {
    s.clone().map(pg_text)
}

/// A completion's reported text and output as they are stored: capped, and with no NUL
/// characters.
pub(crate) struct Stored {
    pub output: Option<serde_json::Value>,
    pub output_truncated: bool,
    pub error_message: Option<String>,
    pub log_tail: Option<String>,
}

impl Completion {
    pub(crate) fn stored(&self) -> Stored {
        let (output, truncated) = cap_output(self.output.clone().map(|mut v| {
            pg_json(&mut v);
            v
        }));
        Stored {
            output,
            output_truncated: truncated || self.output_truncated,
            error_message: stored_text(&self.error_message).map(|e| cap_head(e, ERROR_CAP_BYTES)),
            log_tail: stored_text(&self.log_tail).map(|t| cap_tail(t, LOG_TAIL_CAP_BYTES)),
        }
    }
}

/// What `cw_apply_reports` answers for each report.
#[derive(serde::Deserialize)]
pub(crate) struct ReportResult {
    code: String,
    message: Option<String>,
    execution: Option<Execution>,
}

impl ReportResult {
    fn into_outcome(self) -> Result<Outcome, ApiError> {
        let message = self.message.unwrap_or_default();
        match (self.code.as_str(), self.execution) {
            ("created", Some(execution)) => Ok(Outcome {
                execution,
                changed: true,
            }),
            ("unchanged", Some(execution)) => Ok(Outcome {
                execution,
                changed: false,
            }),
            ("conflict", _) => Err(ApiError::Conflict(message)),
            ("not_found", _) => Err(ApiError::NotFound(message)),
            (code, _) => Err(ApiError::Internal(format!(
                "unexpected report result {code:?}"
            ))),
        }
    }
}

/// Applies validated reports in order, in the caller's transaction if `conn` is in
/// one. An `Err` means the whole batch failed (nothing was written); per-report
/// refusals are in the `Ok` vector.
///
/// A plain batch goes to the database as typed arrays ([`PlainBatch`]); one that turns
/// out not to be plain then takes the general path. Outside a transaction that is two:
/// the first may have created the external jobs the batch names, and nothing else.
pub async fn apply(
    conn: &mut PgConnection,
    reports: &[&Report],
) -> Result<Vec<Result<Outcome, ApiError>>, ApiError> {
    let plain = match PlainBatch::of(reports) {
        Some(batch) => batch.apply(&mut *conn).await?,
        None => None,
    };
    let results = match plain {
        Some(results) => results,
        None => apply_as_json(&mut *conn, reports).await?,
    };
    if results.len() != reports.len() {
        return Err(ApiError::Internal(
            "report results do not match the reports".into(),
        ));
    }
    Ok(results
        .into_iter()
        .map(ReportResult::into_outcome)
        .collect())
}

/// `cw_apply_reports`, which takes any batch.
async fn apply_as_json<'c>(
    db: impl sqlx::PgExecutor<'c>,
    reports: &[&Report],
) -> Result<Vec<ReportResult>, sqlx::Error> {
    let ops = serde_json::Value::Array(reports.iter().map(|r| r.to_op()).collect());
    // Read straight from the result's text into the answers, with no JSON tree between.
    let Json(results) = sqlx::query_scalar!(
        "select cw_apply_reports($1) as \"r!: Json<Vec<ReportResult>>\"",
        ops
    )
    .fetch_one(db)
    .await?;
    Ok(results)
}

/// Validates and applies one report on its own (in the caller's transaction, if given).
pub async fn apply_one<'c>(
    db: impl sqlx::PgExecutor<'c>,
    report: Report,
) -> Result<Outcome, ApiError> {
    report.validate()?;
    apply_as_json(db, &[&report])
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("no result".into()))?
        .into_outcome()
}

/// Reads one result of a report-writing SQL function (`cw_ping_start`).
pub(crate) fn outcome_of(result: serde_json::Value) -> Result<Outcome, ApiError> {
    serde_json::from_value::<ReportResult>(result)
        .map_err(|e| ApiError::Internal(format!("bad report result: {e}")))?
        .into_outcome()
}
