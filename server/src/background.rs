//! Long-running tasks of every replica: the event fan-out and the sweeper.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use sqlx::postgres::PgListener;
use sqlx::PgConnection;

use app::db::held::HeldConnection;
use app::db::{events, sweeps, tokens};
use app::error::ApiError;
use app::state::AppState;

/// The channel `cw_emit_events` notifies after recording events.
const EVENTS_CHANNEL: &str = "cronwatch_events";
/// Runs timed out per transaction by the sweeper.
const STUCK_CHUNK: i64 = 500;

/// Starts handing committed events to this replica's live streams, from the newest
/// event recorded now. That number is read before the pump runs, and before anything is
/// served: read later, it could pass events committed meanwhile, which no stream that
/// opened "from now" would then receive.
pub async fn spawn_event_pump(state: AppState) -> Result<tokio::task::JoinHandle<()>, sqlx::Error> {
    state.hub.set_latest(events::latest_seq(&state.pool).await?);
    Ok(tokio::spawn(run_event_pump(state)))
}

/// Every transaction that records events sends a NOTIFY (see `cw_emit_events`); a
/// listener task turns those into doorbell rings, which coalesce, and this task
/// fetches what is new.
async fn run_event_pump(state: AppState) {
    tokio::spawn(listen(state.clone()));
    // Under load the bell rings after every batch of reports: the pump keeps its
    // connection while it does (see `HeldConnection`).
    let mut conn = HeldConnection::new(state.pool.clone());
    loop {
        conn.until(state.hub.rung()).await;
        let published = conn.with(async |c| publish_new(&state, c).await).await;
        if let Err(e) = published {
            tracing::warn!(error = %e, "could not read new events; retrying");
            tokio::time::sleep(Duration::from_millis(200)).await;
            state.hub.ring();
        }
    }
}

/// Rings the hub on every event NOTIFY, and after each (re)connection: notifications
/// sent while the listener was down are lost, so the pump must look at the table then.
/// A token revocation empties the token cache (also after a reconnection, for the same
/// reason).
async fn listen(state: AppState) {
    let mut backoff = Duration::from_millis(100);
    while !state.pool.is_closed() {
        match PgListener::connect_with(&state.pool).await {
            Ok(mut listener) => match listener
                .listen_all([EVENTS_CHANNEL, tokens::TOKENS_CHANNEL])
                .await
            {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    state.tokens.clear();
                    state.hub.ring();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(n)) if n.channel() == tokens::TOKENS_CHANNEL => {
                                state.tokens.clear()
                            }
                            Ok(Some(_)) => state.hub.ring(),
                            // The connection dropped and is re-established by the next
                            // call: look at what may have been missed meanwhile.
                            Ok(None) => {
                                state.tokens.clear();
                                state.hub.ring()
                            }
                            // A closed pool means the server is shutting down.
                            Err(_) if state.pool.is_closed() => return,
                            Err(e) => {
                                tracing::warn!(error = %e, "event listener failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not LISTEN"),
            },
            Err(e) => tracing::warn!(error = %e, "event listener cannot connect"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Publishes everything after what this replica last published.
async fn publish_new(state: &AppState, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    loop {
        let batch = events::since(&mut *conn, state.hub.latest(), 500).await?;
        let n = batch.len();
        for ev in batch {
            state.hub.publish(ev);
        }
        if n < 500 {
            return Ok(());
        }
    }
}

/// Every `every`: stuck and abandoned runs become `timed_out`, command runs whose agent
/// was lost end, expected starts move forward, old executions and events go.
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
pub async fn sweep_once(state: &AppState) -> Result<(), ApiError> {
    // One cutoff for both: every run the deletion takes has been ended first.
    let now = Utc::now();
    let retention = TimeDelta::days(state.config.retention_days);
    let timed_out = sweeps::end_overdue_runs(&state.pool, retention, now, STUCK_CHUNK).await?;
    if !timed_out.is_empty() {
        tracing::info!(count = timed_out.len(), "executions timed out");
    }
    let lost = crate::runner::agent_runs::sweep(state).await?;
    if lost > 0 {
        tracing::info!(
            count = lost,
            "command runs ended by the sweeper (agent lost, none took it, or overran)"
        );
    }
    sweeps::advance_schedules(&state.pool).await?;
    let deleted = sweeps::delete_expired(&state.pool, retention, now, 1000).await?;
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
