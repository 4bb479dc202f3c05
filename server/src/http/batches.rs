//! `POST /api/v1/batches/{name}`: a job reports the counters of a batch queue.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use app::db::batches::{self, BatchReport};
use app::db::tokens::Scope;
use app::error::ApiError;
use app::state::AppState;

use super::extract::{authorize, JsonBody};

pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<BatchReport>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Scope::Ingest).await?;
    let queue = batches::report(&state.pool, &name, body).await?;
    Ok(Json(queue).into_response())
}
