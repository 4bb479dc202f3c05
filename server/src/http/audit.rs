//! `GET /api/v1/audit`: the audit trail, for admins (it holds sign-in addresses and
//! who changed what), newest first, 50 a page.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use app::db::audit::{self, AuditFilter};
use app::db::tokens::Scope;
use app::error::ApiError;
use app::state::AppState;

use super::caller::Caller;
use super::extract::{id_cursor, query_params, QueryParams};

/// Entries a page holds.
pub const PAGE_SIZE: i64 = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    cursor: Option<String>,
}

impl AuditQuery {
    fn into_filter(self) -> Result<AuditFilter, ApiError> {
        let before = id_cursor(self.cursor)?;
        Ok(AuditFilter {
            actor: text_filter("actor", self.actor)?,
            action: text_filter("action", self.action)?,
            target: text_filter("target", self.target)?,
            before,
            limit: PAGE_SIZE,
        })
    }
}

/// A filter value as given; empty means no filter. NUL cannot be stored in text, so
/// no entry can hold one.
fn text_filter(what: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.contains('\0') || v.chars().count() > 200 => Err(ApiError::Invalid(format!(
            "{what} must be at most 200 characters, without NUL"
        ))),
        v => Ok(v),
    }
}

/// `GET /api/v1/audit?actor=&action=&target=&cursor=` (admin token or session).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams<AuditQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let filter = query_params(query)?.into_filter()?;
    Ok(Json(audit::page(&state.pool, &filter).await?).into_response())
}
