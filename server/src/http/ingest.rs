//! The v1 ingest API: jobs report their start and end.
//!
//! Both writes are idempotent: a start carrying an `id` that already exists answers the
//! stored execution with 200 (a fresh one answers 201); a complete repeating the stored
//! final status answers 200 and changes nothing; a different final status is 409.
//! Output above 64 KiB is replaced by `{"truncated":true,"original_bytes":N,"preview":…}`
//! and the execution gets `output_truncated: true` (announced by `X-Cronwatch-Output-Cap`).

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use app::db::executions::{Completion, NewExecution, Outcome, Report};
use app::db::output_caps::OUTPUT_CAP_BYTES;
use app::db::tokens::Scope;
use app::error::ApiError;
use app::model::{ExecutionStatus, Trigger};
use app::state::AppState;

use super::caller::Caller;
use super::extract::JsonBody;

pub const OUTPUT_CAP_HEADER: &str = "x-cronwatch-output-cap";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    job: String,
    id: Option<Uuid>,
    trigger: Option<Trigger>,
    started_at: Option<DateTime<Utc>>,
    host: Option<String>,
    scheduled_for: Option<DateTime<Utc>>,
    attempt: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    status: ExecutionStatus,
    output: Option<serde_json::Value>,
    error_message: Option<String>,
    exit_code: Option<i32>,
    duration_ms: Option<i64>,
    log_tail: Option<String>,
    completed_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/executions/start`
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Ingest)?;
    let new = NewExecution {
        job: body.job,
        id: body.id,
        trigger: body.trigger.unwrap_or(Trigger::Api),
        triggered_by: Some(who),
        started_at: body.started_at,
        host: body.host,
        scheduled_for: body.scheduled_for,
        run_key: None,
        attempt: body.attempt.unwrap_or(1),
    };
    let outcome = state.writer.submit(Report::Start(new)).await?;
    Ok(answer(outcome, StatusCode::CREATED))
}

/// `POST /api/v1/executions/{id}/complete`
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CompleteBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Ingest)?;
    let id = parse_execution_id(&id)?;
    let outcome = state
        .writer
        .submit(Report::Complete(id, completion(body)))
        .await?;
    Ok(answer(outcome, StatusCode::OK))
}

fn completion(body: CompleteBody) -> Completion {
    Completion {
        status: body.status,
        output: body.output,
        error_message: body.error_message,
        exit_code: body.exit_code,
        duration_ms: body.duration_ms,
        log_tail: body.log_tail,
        completed_at: body.completed_at,
    }
}

/// An execution id from the path: not a UUID → 404 (no such execution can exist).
pub fn parse_execution_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound(format!("execution {raw:?} not found")))
}

/// The JSON answer of a write: `created` for a new record, 200 for a retry; the
/// output cap is announced on every answer.
fn answer(outcome: Outcome, created: StatusCode) -> Response {
    let status = if outcome.changed {
        created
    } else {
        StatusCode::OK
    };
    let mut resp = (status, Json(outcome.execution)).into_response();
    cap_header(&mut resp);
    resp
}

/// Adds `X-Cronwatch-Output-Cap` to a response.
pub fn cap_header(resp: &mut Response) {
    resp.headers_mut().insert(
        HeaderName::from_static(OUTPUT_CAP_HEADER),
        HeaderValue::from(OUTPUT_CAP_BYTES),
    );
}
