//! `POST /api/v1/batches/{name}`: a job reports the counters of a batch queue.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use app::db::batches::{self, BatchReport};
use app::db::tokens::Scope;
use app::error::ApiError;
use app::state::AppState;

use super::caller::Caller;
use super::extract::JsonBody;

pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<BatchReport>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Ingest)?;
    let queue = batches::report(&state.pool, &name, body).await?;
    Ok(Json(queue).into_response())
}
