//! The v1 ingest API: jobs report their start and end.
//!
//! Both writes are idempotent: a start carrying an `id` that already exists answers the
//! stored execution with 200 (a fresh one answers 201); a complete repeating the stored
//! final status answers 200 and changes nothing; a different final status is 409.
//! Output above 64 KiB is replaced by `{"truncated":true,"original_bytes":N,"preview":…}`
//! and the execution gets `output_truncated: true` (announced by `X-Cronwatch-Output-Cap`);
//! completions may be larger than other bodies, so that such output is never refused.

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use uuid::Uuid;

use app::db::executions::{Completion, NewExecution, Outcome, Report};
use app::db::output_caps::{truncation_marker, OUTPUT_CAP_BYTES};
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
    output: Option<Box<RawValue>>,
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
        .submit(Report::Complete(id, completion(body)?))
        .await?;
    Ok(answer(outcome, StatusCode::OK))
}

fn completion(body: CompleteBody) -> Result<Completion, ApiError> {
    let (output, output_truncated) = read_output(body.output)?;
    Ok(Completion {
        status: body.status,
        output,
        output_truncated,
        error_message: body.error_message,
        exit_code: body.exit_code,
        duration_ms: body.duration_ms,
        log_tail: body.log_tail,
        completed_at: body.completed_at,
    })
}

/// A completion's output, read from its raw JSON text. Output larger than an API body
/// (it may come in a completion of up to [`super::COMPLETE_BODY_LIMIT`]) is surely over
/// the cap: it becomes its truncation marker without ever being parsed into a tree.
/// Smaller output is parsed and capped as it is stored (see `output_caps`).
pub fn read_output(raw: Option<Box<RawValue>>) -> Result<(Option<Value>, bool), ApiError> {
    let Some(raw) = raw else {
        return Ok((None, false));
    };
    if raw.get().len() > super::BODY_LIMIT {
        return Ok((Some(truncation_marker(raw.get())), true));
    }
    let value = serde_json::from_str(raw.get())
        .map_err(|e| ApiError::Invalid(format!("invalid output: {e}")))?;
    Ok((Some(value), false))
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
