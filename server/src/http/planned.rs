//! Planned runs on the API: `GET /api/v1/planned-runs[?job=NAME]` and
//! `GET /api/v1/planned-runs/{id}` (read), `DELETE /api/v1/planned-runs/{id}` (admin,
//! audited as `job.plan.cancel`). They are made by `POST /api/v1/jobs/{name}/run` with
//! `at` (see `run_now`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

use app::db::execution_list::job_filter;
use app::db::{planned_runs, tokens::Scope};
use app::error::ApiError;
use app::state::AppState;

use super::caller::Caller;
use super::extract::{query_params, QueryParams};
use super::run_page::cancel_plan;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedQuery {
    job: Option<String>,
}

/// The runs planned, soonest first, of every job or of `job`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams<PlannedQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let job = job_filter(query_params(query)?.job)?;
    Ok(Json(planned_runs::list(&state.pool, job.as_deref()).await?).into_response())
}

/// One planned run; 404 once it has started or been cancelled.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(planned_runs::get(&state.pool, plan_id(&id)?).await?).into_response())
}

/// Cancels a planned run: answers what it was.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    Ok(Json(cancel_plan(&state, &who, plan_id(&id)?).await?).into_response())
}

/// A planned run's id from the path; one that cannot be an id names no plan (404).
pub fn plan_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound(format!("no run {raw:?} is planned")))
}
