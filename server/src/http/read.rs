//! The read API: executions (filtered, keyset-paginated), one execution, stats, batches.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use app::db::execution_list::{self, time_bound, Cursor, End, ExecutionFilter};
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
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

impl ListQuery {
    /// The filter, with a window that ends before it starts refused: a script asking
    /// for it has its bounds the wrong way round.
    fn into_filter(self) -> Result<ExecutionFilter, ApiError> {
        let from = time_bound(self.from.as_deref(), End::Start)?;
        let to = time_bound(self.to.as_deref(), End::Finish)?;
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                return Err(ApiError::Invalid(format!(
                    "from ({f}) must be before to ({t})"
                )));
            }
        }
        Ok(ExecutionFilter {
            job: execution_list::job_filter(self.job)?,
            status: execution_list::status_filter(self.status.as_deref())?,
            trigger: execution_list::trigger_filter(self.trigger.as_deref())?,
            from,
            to,
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
