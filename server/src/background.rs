//! Long-running tasks of every replica: the event fan-out and the sweeper.

use std::time::Duration;

use chrono::TimeDelta;
use sqlx::postgres::PgListener;

use app::db::{events, sweeps};
use app::state::AppState;

/// Hands committed events to this replica's live streams. Woken by local writes (the
/// hub's doorbell) and by every replica's NOTIFY; after a reconnect it catches up
/// from the table, so nothing is lost while the listener was down.
pub async fn run_event_pump(state: AppState) {
    let mut backoff = Duration::from_millis(100);
    if let Ok(latest) = events::latest_seq(&state.pool).await {
        state.hub.set_latest(latest);
    }
    loop {
        if let Err(e) = pump_until_error(&state).await {
            tracing::warn!(error = %e, "event pump lost its connection; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

async fn pump_until_error(state: &AppState) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(&state.pool).await?;
    listener.listen("cronwatch_events").await?;
    publish_new(state).await?;
    loop {
        tokio::select! {
            _ = state.hub.rung() => publish_new(state).await?,
            n = listener.recv() => { n?; publish_new(state).await?; }
        }
    }
}

/// Publishes everything after what this replica last published.
async fn publish_new(state: &AppState) -> Result<(), sqlx::Error> {
    loop {
        let batch = events::since(&state.pool, state.hub.latest(), 500).await?;
        let n = batch.len();
        for ev in batch {
            state.hub.publish(ev);
        }
        if n < 500 {
            return Ok(());
        }
    }
}

/// Every `every`: stuck runs become `timed_out`, expected starts move forward, old
/// executions and events go.
pub async fn run_sweeper(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = sweep_once(&state).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

/// One pass of every sweep.
pub async fn sweep_once(state: &AppState) -> Result<(), sqlx::Error> {
    let timed_out = sweeps::time_out_stuck(&state.pool).await?;
    if !timed_out.is_empty() {
        tracing::info!(count = timed_out.len(), "executions timed out");
        state.hub.ring();
    }
    if sweeps::advance_schedules(&state.pool).await? > 0 {
        state.hub.ring();
    }
    let retention = TimeDelta::days(state.config.retention_days);
    let deleted = sweeps::delete_expired(&state.pool, retention, 1000).await?;
    if deleted > 0 {
        tracing::info!(deleted, "executions past retention deleted");
    }
    events::prune(
        &state.pool,
        TimeDelta::hours(state.config.event_retention_hours),
        5000,
    )
    .await?;
    Ok(())
}
