//! Job definitions: `GET /api/v1/jobs` and `/jobs/{name}` (read), `PUT` and `DELETE
//! /api/v1/jobs/{name}`, `POST …/pause` and `…/resume`, and the ping key at
//! `/jobs/{name}/ping-key` (admin; changes are audited in the same transaction), which
//! the dashboard's form also regenerates.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use app::db::jobs::{self, Declared, JobDefinition};
use app::db::{audit, tokens::Scope};
use app::error::ApiError;
use app::state::AppState;

use super::caller::Caller;
use super::extract::JsonBody;

/// Creates (201) or replaces (200) a job definition; audited. Sending the definition a
/// job already holds answers 200 and writes nothing (no event, no audit), so tools that
/// apply their whole configuration every time leave no noise.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(def): JsonBody<JobDefinition>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let mut tx = state.pool.begin().await?;
    let (job, declared) = jobs::declare(&mut tx, &name, def).await?;
    if let Some(action) = declared.audit_action() {
        let details = serde_json::to_value(&job).unwrap_or_default();
        audit::record(&mut *tx, &who, action, Some(&name), None, details).await?;
    }
    tx.commit().await?;
    let status = if declared == Declared::Created {
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

/// One job with its latest-run summary; 404 if there is none.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(jobs::get(&mut conn, &name).await?).into_response())
}

/// Deletes a job and its whole history (e.g. one a typo in a report created); audited.
/// Answers what went, with the counts live pages subtract.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let mut tx = state.pool.begin().await?;
    let removal = jobs::delete(&mut tx, &name).await?;
    audit::record(
        &mut *tx,
        &who,
        "job.delete",
        Some(&name),
        None,
        serde_json::json!({ "executions": removal.executions }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(removal).into_response())
}

/// `POST /api/v1/jobs/{name}/pause`: no run is expected until resumed (a maintenance
/// window raises no "late"); reports are still recorded. Audited when it changes.
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_enabled(&state, caller, &name, false).await
}

/// `POST /api/v1/jobs/{name}/resume`: expected again, from its next scheduled time.
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_enabled(&state, caller, &name, true).await
}

/// Pauses or resumes a job for an admin; answers the job (200 also when it already was).
async fn set_enabled(
    state: &AppState,
    caller: Caller,
    name: &str,
    enabled: bool,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let mut tx = state.pool.begin().await?;
    let (job, declared) = jobs::set_enabled(&mut tx, name, enabled).await?;
    if declared != Declared::Unchanged {
        let action = if enabled { "job.resume" } else { "job.pause" };
        audit::record(
            &mut *tx,
            &who,
            action,
            Some(name),
            None,
            serde_json::json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(job).into_response())
}

/// The job's ping credential, as the URL path a pinger calls.
#[derive(serde::Serialize)]
struct PingKey {
    job: String,
    ping_key: uuid::Uuid,
    ping_path: String,
}

impl PingKey {
    fn new(job: String, ping_key: uuid::Uuid) -> Self {
        let ping_path = format!("/ping/{ping_key}");
        Self {
            job,
            ping_key,
            ping_path,
        }
    }
}

/// `GET /api/v1/jobs/{name}/ping-key`: the key is a credential, so admins only.
pub async fn get_ping_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let mut conn = state.pool.acquire().await?;
    let key = jobs::ping_key(&mut conn, &name, false).await?;
    Ok(Json(PingKey::new(name, key)).into_response())
}

/// `POST /api/v1/jobs/{name}/ping-key`: a new key (after a leak); the old one answers
/// 404 from then on. Audited.
pub async fn regenerate_ping_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let key = regenerate(&state, &who, &name).await?;
    Ok(Json(PingKey::new(name, key)).into_response())
}

/// `POST /monitoring/jobs/{name}/ping-key`: the dashboard's Regenerate button, a plain
/// form (the browser needs no code for it). Back to the page, at the job's new ping
/// URL, which the browser opens and highlights.
pub async fn regenerate_ping_key_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    regenerate(&state, &who, &name).await?;
    Ok(Redirect::to(&format!(
        "/monitoring#{}",
        app::model::ping_url_anchor(&name)
    ))
    .into_response())
}

/// Replaces job `name`'s ping key, audited as `who`, in one transaction.
async fn regenerate(state: &AppState, who: &str, name: &str) -> Result<uuid::Uuid, ApiError> {
    let mut tx = state.pool.begin().await?;
    let key = jobs::ping_key(&mut tx, name, true).await?;
    audit::record(
        &mut *tx,
        who,
        "job.ping_key.regenerate",
        Some(name),
        None,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(key)
}
