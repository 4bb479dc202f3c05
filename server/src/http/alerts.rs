//! `GET /api/v1/alerts`: the incidents (stuck, late, failing), open and ended, newest
//! first, 50 a page: what happened overnight, for a script or a chat bot.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use app::db::execution_list::job_filter;
use app::db::tokens::Scope;
use app::error::ApiError;
use app::state::AppState;

use super::caller::Caller;
use super::extract::{id_cursor, query_params, QueryParams};
use crate::alerts::{self, AlertFilter};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    job: Option<String>,
    /// `true`: only those still open; `false`: only those that ended.
    open: Option<bool>,
    cursor: Option<String>,
}

/// `GET /api/v1/alerts?job=&open=&cursor=` (read token or session).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams<AlertQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let q = query_params(query)?;
    let filter = AlertFilter {
        job: job_filter(q.job)?,
        open: q.open,
        before: id_cursor(q.cursor)?,
    };
    Ok(Json(alerts::page(&state.pool, &filter).await?).into_response())
}
