//! Fires `http` and `command` jobs at their scheduled times. Every replica runs the loop; an
//! advisory lock lets one of them look at a time, and each due run is started under
//! a run key made of its scheduled time, so it is started once even if two looked.
//!
//! A run missed while no server was up is made up once, as soon as one is (not once
//! per missed time). A job still running when its next time comes is not started
//! again: it shows late until the running call ends, then the missed run is made up.
//!
//! It also starts the retries of failed runs ([`due_retries`]), kept in no queue: each
//! pass reads them off the jobs' latest runs, so a replica that dies loses none.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use app::db::planned_runs::{self, PlannedRun};
use app::db::{audit, sweeps};
use app::error::ApiError;
use app::http_call::DEFAULT_RETRY_BACKOFF_MS;
use app::model::Trigger;
use app::params::Params;
use app::state::AppState;

use super::{lock_runnable, start, values_for, RunSpec, Started};
use crate::locks;

/// Who the audit and the run say started a scheduled run.
pub const SCHEDULER: &str = "cronwatch:scheduler";
/// Who the run says started a retry.
pub const RETRY: &str = "cronwatch:retry";

/// The run of the time `at`, keyed by it: one run per job and scheduled time.
fn scheduled(at: DateTime<Utc>) -> RunSpec {
    RunSpec {
        trigger: Trigger::Scheduled,
        triggered_by: SCHEDULER.into(),
        scheduled_for: Some(at),
        run_key: Some(format!("scheduled:{}", at.to_rfc3339())),
        attempt: 1,
        // The job's defaults, filled in once its declaration is read.
        params: None,
    }
}

/// The retries due: of each `http` or `command` job whose latest run failed or timed out with
/// retries left, once its wait (`retry_backoff_ms`, doubled at each further attempt)
/// has passed since it ended. Keyed by the failed run, so it is retried once; a run
/// that starts meanwhile (its next time, Run now) becomes the latest and ends the
/// chain.
async fn due_retries(tx: &mut PgConnection) -> Result<Vec<(String, RunSpec)>, ApiError> {
    type Failed = (
        String,
        Uuid,
        i32,
        Option<DateTime<Utc>>,
        Option<Json<Params>>,
    );
    let due: Vec<Failed> = sqlx::query_as(
        "select j.name, e.id, e.attempt, e.scheduled_for, e.params
           from jobs j join executions e on e.id = j.last_execution_id
          where ((j.kind = 'http' and j.http is not null)
                 or (j.kind = 'command' and j.command is not null)) and j.enabled
            and e.status in ('failed', 'timed_out')
            and e.attempt <= coalesce((coalesce(j.http, j.command)->>'retries')::int, 0)
            and e.completed_at + make_interval(secs => coalesce(
                    (coalesce(j.http, j.command)->>'retry_backoff_ms')::bigint, $1)
                    * power(2, e.attempt - 1) / 1000.0)
                <= now()
          order by e.completed_at",
    )
    .bind(DEFAULT_RETRY_BACKOFF_MS)
    .fetch_all(&mut *tx)
    .await?;
    Ok(due
        .into_iter()
        .map(|(name, failed, attempt, scheduled_for, params)| {
            let spec = RunSpec {
                trigger: Trigger::Retry,
                triggered_by: RETRY.into(),
                scheduled_for,
                run_key: Some(format!("retry:{failed}")),
                attempt: attempt + 1,
                // What failed is tried again with the same values.
                params: params.map(|Json(p)| p),
            };
            (name, spec)
        })
        .collect())
}

/// Starts the planned runs whose time has come, each once (keyed by the plan) and
/// deleting its plan, with the values and the name of whoever planned it. One whose job
/// is running waits for the next pass. One whose job can no longer be run (deleted
/// plans go with their job; this is one redefined as `external`), or whose values no
/// longer fit the parameters the job now declares, is dropped, audited.
async fn start_planned(tx: &mut PgConnection) -> Result<Vec<Started>, ApiError> {
    let mut started = Vec::new();
    for plan in planned_runs::due(&mut *tx).await? {
        let (job, how) = match lock_runnable(&mut *tx, &plan.job).await {
            Ok(runnable) => runnable,
            Err(ApiError::AlreadyRunning { .. }) => continue,
            Err(ApiError::Conflict(why) | ApiError::NotFound(why)) => {
                drop_plan(&mut *tx, &plan, why).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        // Checked again: the job may have been redefined since it was planned.
        let given = plan.params.clone().unwrap_or_default();
        let values = match values_for(&job, &given) {
            Ok(values) => values,
            Err(ApiError::Invalid(why)) => {
                let why = format!("its values no longer fit the job's parameters: {why}");
                drop_plan(&mut *tx, &plan, why).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        planned_runs::remove(&mut *tx, plan.id).await?;
        let spec = RunSpec {
            trigger: Trigger::Manual,
            triggered_by: plan.requested_by,
            scheduled_for: Some(plan.run_at),
            run_key: Some(format!("planned:{}", plan.id)),
            attempt: 1,
            params: values,
        };
        started.extend(start(&mut *tx, job, how, spec).await?);
    }
    Ok(started)
}

/// Deletes a plan that will never start, saying why in the audit trail.
async fn drop_plan(tx: &mut PgConnection, plan: &PlannedRun, why: String) -> Result<(), ApiError> {
    planned_runs::remove(&mut *tx, plan.id).await?;
    let details = serde_json::json!({ "planned_run_id": plan.id, "why": why });
    audit::record(
        tx,
        SCHEDULER,
        "job.plan.drop",
        Some(&plan.job),
        None,
        details,
    )
    .await?;
    Ok(())
}

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

/// Starts every due run of an `http` or `command` job (at its time, or a retry), unless another
/// replica is doing so; the ids of the runs started. Their calls are made once the starts are committed.
pub async fn fire_due(state: &AppState) -> Result<Vec<Uuid>, ApiError> {
    let mut tx = state.pool.begin().await?;
    if !locks::try_lock(&mut tx, locks::SCHEDULER).await? {
        return Ok(vec![]);
    }
    let mut due: Vec<(String, RunSpec)> = sqlx::query_as::<_, (String, DateTime<Utc>)>(
        "select name, next_run_at from jobs
          where ((kind = 'http' and http is not null) or (kind = 'command' and command is not null))
            and enabled and schedule is not null
            and next_run_at <= now()
            and not exists (select 1 from executions e
                             where e.job_id = jobs.id and e.status = 'running')
          order by next_run_at",
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(name, at)| (name, scheduled(at)))
    .collect();
    due.extend(due_retries(&mut tx).await?);
    let mut started = Vec::new();
    for (name, mut spec) in due {
        let (job, how) = match lock_runnable(&mut tx, &name).await {
            Ok(runnable) => runnable,
            // Started or redefined since the list was read: the next pass sees it.
            Err(
                ApiError::Conflict(_) | ApiError::AlreadyRunning { .. } | ApiError::NotFound(_),
            ) => continue,
            Err(e) => return Err(e),
        };
        if spec.trigger == Trigger::Scheduled {
            // A scheduled job's required parameters all have defaults (checked when it
            // was defined), so this holds.
            match values_for(&job, &Params::new()) {
                Ok(values) => spec.params = values,
                Err(e) => {
                    tracing::warn!(job = name, error = %e, "scheduled run not started");
                    continue;
                }
            }
        }
        started.extend(start(&mut tx, job, how, spec).await?);
    }
    started.extend(start_planned(&mut tx).await?);
    tx.commit().await?;
    if !started.is_empty() {
        // Each job's expected start moves on now that its run has started.
        sweeps::advance_schedules(&state.pool).await?;
    }
    let ids = started.iter().map(|s| s.execution.id).collect();
    for run in started {
        run.launch(state);
    }
    Ok(ids)
}
