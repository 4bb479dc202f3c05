//! Job definitions: `PUT /api/v1/jobs/{name}` (admin token) and `GET /api/v1/jobs`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use app::db::jobs::{self, JobDefinition};
use app::db::{audit, tokens::Scope};
use app::error::ApiError;
use app::state::AppState;

use super::caller::Caller;
use super::extract::JsonBody;

/// Creates (201) or replaces (200) a job definition; audited.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(def): JsonBody<JobDefinition>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let (job, created) = jobs::put(&state.pool, &name, def).await?;
    audit::record(
        &state.pool,
        &who,
        if created { "job.create" } else { "job.replace" },
        Some(&name),
        None,
        serde_json::to_value(&job).unwrap_or_default(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(job)).into_response())
}

/// All jobs with their latest-run summary.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(jobs::list(&state.pool).await?).into_response())
}
