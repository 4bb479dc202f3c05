//! The routes of the shell library that cronwatch replaces, with its camelCase bodies
//! and answers unchanged, so that existing scripts only need a new base URL.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use app::db::executions::{Completion, NewExecution, Report};
use app::db::tokens::Scope;
use app::error::ApiError;
use app::model::{ExecutionStatus, Trigger};
use app::state::AppState;

use super::caller::Caller;
use super::extract::JsonBody;
use super::ingest::{cap_header, read_output};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBody {
    cron_name: String,
    trigger_type: Option<Trigger>,
    /// Not sent by the original library; lets a retrying client make start idempotent.
    execution_id: Option<Uuid>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartAnswer {
    execution_id: Uuid,
    cron_name: String,
    /// JavaScript's `toISOString()` format, as the original sent it.
    started_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteBody {
    execution_id: Uuid,
    status: ExecutionStatus,
    duration_ms: Option<i64>,
    output: Option<Box<RawValue>>,
    error_message: Option<String>,
    exit_code: Option<i32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteAnswer {
    success: bool,
    execution_id: Uuid,
    status: ExecutionStatus,
}

/// `POST /api/admin/cron-executions/start`
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Ingest)?;
    let outcome = state
        .writer
        .submit(Report::Start(NewExecution {
            job: body.cron_name,
            id: body.execution_id,
            trigger: body.trigger_type.unwrap_or(Trigger::Scheduled),
            triggered_by: Some(who),
            started_at: None,
            host: None,
            scheduled_for: None,
            run_key: None,
            attempt: 1,
        }))
        .await?;
    let e = outcome.execution.summary;
    let mut resp = Json(StartAnswer {
        execution_id: e.id,
        cron_name: e.job,
        started_at: e.started_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    })
    .into_response();
    cap_header(&mut resp);
    Ok(resp)
}

/// `POST /api/admin/cron-executions/complete`
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CompleteBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Ingest)?;
    let (output, output_truncated) = read_output(body.output)?;
    let outcome = state
        .writer
        .submit(Report::Complete(
            body.execution_id,
            Completion {
                status: body.status,
                output,
                output_truncated,
                error_message: body.error_message,
                exit_code: body.exit_code,
                duration_ms: body.duration_ms,
                log_tail: None,
                completed_at: None,
            },
        ))
        .await?;
    let mut resp = Json(CompleteAnswer {
        success: true,
        execution_id: outcome.execution.summary.id,
        status: outcome.execution.summary.status,
    })
    .into_response();
    cap_header(&mut resp);
    Ok(resp)
}
