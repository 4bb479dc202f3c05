//! `POST /api/v1/executions/{id}/cancel`: an admin cancels a run that cronwatch started
//! (an `http` job's). Answers 200 with the run, ended as `cancelled`; 409 for a run that
//! has ended or that its job reports itself; audited as `execution.cancel`. The
//! dashboard's Cancel run button posts a form naming the job instead.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;

use app::db::jobs;
use app::db::tokens::Scope;
use app::error::ApiError;
use app::model::ExecutionSummary;
use app::state::AppState;

use super::caller::Caller;
use super::forms::form_answer;
use super::ingest::parse_execution_id;
use crate::runner;

pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExecutionSummary>, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let id = parse_execution_id(&id)?;
    Ok(Json(runner::cancel(&state, &who, id).await?))
}

/// `POST /monitoring/jobs/{name}/cancel`: the dashboard's Cancel run button, a plain
/// form on the job's row: cancels the job's run under way and leads back to the row
/// (where the toast says it has ended); a refusal is a short page saying why.
pub async fn cancel_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Response {
    let result = async {
        let who = caller.require(Scope::Admin)?;
        let mut conn = state.pool.acquire().await?;
        let Some(id) = runner::running_run(&mut conn, &name).await? else {
            jobs::get(&mut conn, &name).await?; // 404 for no such job
            return Err(ApiError::Conflict(format!(
                "job {name:?} has no run under way"
            )));
        };
        drop(conn);
        runner::cancel(&state, &who, id).await
    };
    form_answer(&name, "was not cancelled", result.await)
}
