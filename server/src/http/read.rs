//! The read API: executions (filtered, keyset-paginated), one execution, stats, batches.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use app::db::execution_list::{self, Cursor, ExecutionFilter};
use app::db::{batches, executions, stats, tokens::Scope};
use app::error::ApiError;
use app::state::AppState;

use super::caller::Caller;
use super::extract::{query_params, QueryParams};
use super::ingest::parse_execution_id;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    job: Option<String>,
    status: Option<String>,
    trigger: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    cursor: Option<String>,
}

impl ListQuery {
    fn into_filter(self) -> Result<ExecutionFilter, ApiError> {
        Ok(ExecutionFilter {
            job: execution_list::job_filter(self.job)?,
            status: execution_list::status_filter(self.status.as_deref())?,
            trigger: execution_list::trigger_filter(self.trigger.as_deref())?,
            from: self.from,
            to: self.to,
            cursor: self.cursor.as_deref().map(Cursor::decode).transpose()?,
        })
    }
}

/// `GET /api/v1/executions?job=&status=&trigger=&from=&to=&cursor=`
pub async fn list_executions(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let q = query_params(query)?;
    let filter = q.into_filter()?;
    Ok(Json(execution_list::page(&state.pool, &filter).await?).into_response())
}

/// `GET /api/v1/executions/{id}`
pub async fn get_execution(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let id = parse_execution_id(&id)?;
    let e = executions::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("execution {id} not found")))?;
    Ok(Json(e).into_response())
}

#[derive(Deserialize)]
pub struct StatsQuery {
    hours: Option<i64>,
}

/// `GET /api/v1/stats?hours=24` (1 to 720 hours).
pub async fn get_stats(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams<StatsQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let q = query_params(query)?;
    let hours = q.hours.unwrap_or(24);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::Invalid("hours must be between 1 and 720".into()));
    }
    Ok(Json(stats::compute(&state.pool, hours).await?).into_response())
}

/// `GET /api/v1/batches`
pub async fn list_batches(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(batches::list(&state.pool).await?).into_response())
}
