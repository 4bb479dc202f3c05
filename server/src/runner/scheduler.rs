//! Fires `http` jobs at their scheduled times. Every replica runs the loop; an
//! advisory lock lets one of them look at a time, and each due run is started under
//! a run key made of its scheduled time, so it is started once even if two looked.
//!
//! A run missed while no server was up is made up once, as soon as one is (not once
//! per missed time). A job still running when its next time comes is not started
//! again: it shows late until the running call ends, then the missed run is made up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use app::db::sweeps;
use app::error::ApiError;
use app::model::Trigger;
use app::state::AppState;

use super::{lock_runnable, start, RunSpec};
use crate::locks;

/// Who the audit and the run say started a scheduled run.
pub const SCHEDULER: &str = "cronwatch:scheduler";

/// Looks for due runs every `every`.
pub async fn run(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = fire_due(&state).await {
            tracing::warn!(error = %e, "scheduler pass failed");
        }
    }
}

/// Starts every due run of an `http` job, unless another replica is doing so; the
/// ids of the runs started. Their calls are made once the starts are committed.
pub async fn fire_due(state: &AppState) -> Result<Vec<Uuid>, ApiError> {
    let mut tx = state.pool.begin().await?;
    if !locks::try_lock(&mut tx, locks::SCHEDULER).await? {
        return Ok(vec![]);
    }
    let due: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "select name, next_run_at from jobs
          where kind = 'http' and http is not null and enabled and schedule is not null
            and next_run_at <= now()
            and not exists (select 1 from executions e
                             where e.job_id = jobs.id and e.status = 'running')
          order by next_run_at",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut started = Vec::new();
    for (name, at) in due {
        let (job, http) = match lock_runnable(&mut tx, &name).await {
            Ok(runnable) => runnable,
            // Started or redefined since the list was read: the next pass sees it.
            Err(
                ApiError::Conflict(_) | ApiError::AlreadyRunning { .. } | ApiError::NotFound(_),
            ) => continue,
            Err(e) => return Err(e),
        };
        let spec = RunSpec {
            trigger: Trigger::Scheduled,
            triggered_by: SCHEDULER.into(),
            scheduled_for: Some(at),
            run_key: Some(format!("scheduled:{}", at.to_rfc3339())),
        };
        started.extend(start(&mut tx, job, http, spec).await?);
    }
    tx.commit().await?;
    if !started.is_empty() {
        // Each job's expected start moves on now that its run has started.
        sweeps::advance_schedules(&state.pool).await?;
    }
    let ids = started.iter().map(|s| s.execution.id).collect();
    for run in started {
        run.call(state);
    }
    Ok(ids)
}
