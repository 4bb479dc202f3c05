//! The agents' side of `command` jobs (agent-scoped tokens):
//! `POST /api/v1/agent/claim` hands the oldest waiting run an agent may take, waiting
//! up to `wait_ms` for one (204 if none came); `POST /api/v1/agent/heartbeat` renews
//! the leases of the runs an agent executes and names those it must stop, waiting up
//! to its `wait_ms` for one to end so that a cancel reaches the agent at once. Types in
//! `agent::protocol`; the queue in `runner::agent_runs`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use app::command_spec::check_tags;
use app::db::events::Sequenced;
use app::db::tokens::Scope;
use app::error::ApiError;
use app::model::{ChangeEvent, ExecutionStatus};
use app::state::AppState;
use app::validate::is_valid_name;

use super::caller::Caller;
use super::extract::JsonBody;
use crate::agent::protocol::{
    ClaimRequest, Heartbeat, HeartbeatAnswer, DEFAULT_LEASE_MS, DEFAULT_WAIT_MS, LEASE_MS,
    MAX_WAIT_MS,
};
use crate::runner::agent_runs;

/// Most runs one heartbeat may name.
const MAX_HEARTBEAT_RUNS: usize = 1000;
/// A waiting claim looks again this often even when no event woke it: a run's start
/// event can be missed (a lagging stream), never the run itself.
const RECHECK: Duration = Duration::from_secs(2);
/// The shortest time between two looks of one waiting claim: reports starting by the
/// thousand each second must not each cost every waiting agent a query.
const MIN_GAP: Duration = Duration::from_millis(100);

pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<ClaimRequest>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Agent)?;
    check_agent(&req.agent)?;
    check_tags("tags", &req.tags).map_err(ApiError::Invalid)?;
    let lease_ms = lease(req.lease_ms)?;
    let wait_ms = req.wait_ms.unwrap_or(DEFAULT_WAIT_MS);
    if !(0..=MAX_WAIT_MS).contains(&wait_ms) {
        return Err(ApiError::Invalid(format!(
            "wait_ms must be 0 to {MAX_WAIT_MS}, not {wait_ms}"
        )));
    }
    // Subscribed before the first look: a run started in between still wakes us.
    let mut events = state.hub.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms as u64);
    loop {
        let looked = tokio::time::Instant::now();
        if let Some(run) = agent_runs::claim(&state.pool, &req.agent, &req.tags, lease_ms).await? {
            return Ok(Json(run).into_response());
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        tokio::select! {
            _ = tokio::time::timeout(left.min(RECHECK), a_run_starts(&mut events)) => {}
            // Shutting down: the agent asks again, of this replica's successor.
            () = state.hub.closed() => return Ok(StatusCode::NO_CONTENT.into_response()),
        }
        tokio::time::sleep_until((looked + MIN_GAP).min(deadline)).await;
    }
}

pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(beat): JsonBody<Heartbeat>,
) -> Result<Json<HeartbeatAnswer>, ApiError> {
    caller.require(Scope::Agent)?;
    check_agent(&beat.agent)?;
    if beat.executions.len() > MAX_HEARTBEAT_RUNS {
        return Err(ApiError::Invalid(format!(
            "executions: at most {MAX_HEARTBEAT_RUNS} per heartbeat"
        )));
    }
    let lease_ms = lease(beat.lease_ms)?;
    let wait_ms = beat.wait_ms.unwrap_or(0);
    if !(0..=lease_ms / 2).contains(&wait_ms) {
        return Err(ApiError::Invalid(format!(
            "wait_ms must be 0 to half the lease ({} ms), not {wait_ms}",
            lease_ms / 2
        )));
    }
    // Subscribed before the first renewal: a run ending in between still wakes us.
    let mut events = state.hub.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms as u64);
    loop {
        let stop = agent_runs::renew(&state.pool, &beat.agent, &beat.executions, lease_ms).await?;
        if !stop.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(Json(HeartbeatAnswer { stop }));
        }
        // No periodic look while waiting: a missed wake-up costs one heartbeat's delay,
        // which is what a heartbeat without a wait has anyway.
        tokio::select! {
            () = one_may_end(&mut events, &beat.executions) => {}
            () = tokio::time::sleep_until(deadline) => {}
            () = state.hub.closed() => return Ok(Json(HeartbeatAnswer { stop })),
        }
    }
}

fn check_agent(name: &str) -> Result<(), ApiError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::Invalid(format!(
            "agent name {name:?} is invalid: use 1 to 64 of a-z, 0-9 and '-'"
        )))
    }
}

fn lease(asked: Option<i64>) -> Result<i64, ApiError> {
    let ms = asked.unwrap_or(DEFAULT_LEASE_MS);
    if LEASE_MS.contains(&ms) {
        Ok(ms)
    } else {
        Err(ApiError::Invalid(format!(
            "lease_ms must be {} to {}, not {ms}",
            LEASE_MS.start(),
            LEASE_MS.end()
        )))
    }
}

/// Resolves when one of the runs `ids` may have ended: its end (a cancel, a sweep, a
/// report), a deleted job (its runs go with it), or a gap in the stream.
async fn one_may_end(events: &mut broadcast::Receiver<std::sync::Arc<Sequenced>>, ids: &[Uuid]) {
    loop {
        match events.recv().await {
            Ok(ev) => match &ev.event {
                ChangeEvent::Execution(e) if e.status.is_final() && ids.contains(&e.id) => return,
                ChangeEvent::JobDeleted(_) => return,
                _ => {}
            },
            Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// Resolves when a run may have started: a start event of a run with no host yet (a
/// command run's, or a report's), or a gap in the stream.
async fn a_run_starts(events: &mut broadcast::Receiver<std::sync::Arc<Sequenced>>) {
    loop {
        match events.recv().await {
            Ok(ev) => {
                if let ChangeEvent::Execution(e) = &ev.event {
                    if e.status == ExecutionStatus::Running && e.host.is_none() {
                        return;
                    }
                }
            }
            Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => std::future::pending().await,
        }
    }
}
