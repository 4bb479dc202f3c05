//! `POST /api/v1/jobs/{name}/run`: an admin runs an `http` or `command` job now, or
//! plans a run for later. The body is optional: `{"params": {…}, "at": "RFC 3339"}`.
//!
//! Now: answers 202 with the started run at once; the call is made (or the command
//! queued for an agent) in the background and its end arrives like any other. Refused
//! while the job is running (409, naming the run) and beyond 1 run a job per 30 s or 10
//! runs a minute in all (429): counted from the runs recorded, so the limits hold
//! across replicas and restarts. Audited as `job.run`.
//!
//! Later (`at`): answers 201 with the planned run (see `app::db::planned_runs`), which
//! the scheduler starts at its time; audited as `job.plan`. Either way the parameters
//! are checked against the job's declaration first (422 saying what to fix).

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;

use app::db::planned_runs::{self, PlannedRun};
use app::db::{audit, tokens::Scope};
use app::error::ApiError;
use app::model::{ExecutionSummary, Trigger};
use app::params::Params;
use app::state::AppState;

use super::caller::Caller;
use super::extract::OptionalJson;
use crate::locks;
use crate::runner::{self, RunSpec};

/// Seconds between two manual runs of one job.
const PER_JOB_SECS: i64 = 30;
/// Manual runs in all per minute.
const PER_MINUTE: i64 = 10;

/// Body of `POST /api/v1/jobs/{name}/run`; none runs the job now with its defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Values of the parameters the job declares.
    #[serde(default)]
    pub params: Params,
    /// When to run it, if not now.
    pub at: Option<DateTime<Utc>>,
}

/// What a run request did.
pub enum Asked {
    Ran(ExecutionSummary),
    Planned(PlannedRun),
}

pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: OptionalJson,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let request: RunRequest = body.parse()?;
    Ok(match ask(&state, &who, &name, request).await? {
        Asked::Ran(execution) => (StatusCode::ACCEPTED, Json(execution)).into_response(),
        Asked::Planned(plan) => {
            let at = format!("/api/v1/planned-runs/{}", plan.id);
            (StatusCode::CREATED, [(LOCATION, at)], Json(plan)).into_response()
        }
    })
}

/// Runs job `name` for admin `who` now, or plans its run, as `request` says; audited.
pub async fn ask(
    state: &AppState,
    who: &str,
    name: &str,
    request: RunRequest,
) -> Result<Asked, ApiError> {
    let mut tx = state.pool.begin().await?;
    let Some(at) = request.at else {
        let (job, how) = runner::lock_runnable(&mut tx, name).await?;
        let values = runner::values_for(&job, &request.params)?;
        check_limits(&mut tx, name).await?;
        let spec = RunSpec::asked(Trigger::Manual, who, values.clone());
        let started = runner::start(&mut tx, job, how, spec)
            .await?
            .ok_or_else(|| ApiError::Internal("a run without a run key was a repeat".into()))?;
        let execution = started.execution.clone();
        let details = serde_json::json!({ "execution_id": execution.id, "params": values });
        audit::record(&mut *tx, who, "job.run", Some(name), None, details).await?;
        tx.commit().await?;
        started.launch(state);
        return Ok(Asked::Ran(execution));
    };
    // Planning while the job runs is fine: the plan waits for its time (and its turn).
    let (job, _) = runner::lock_job(&mut tx, name).await?;
    let values = runner::values_for(&job, &request.params)?;
    let plan = planned_runs::plan(&mut tx, name, at, values.as_ref(), who).await?;
    let details = serde_json::json!({
        "planned_run_id": plan.id, "run_at": plan.run_at, "params": values
    });
    audit::record(&mut *tx, who, "job.plan", Some(name), None, details).await?;
    tx.commit().await?;
    Ok(Asked::Planned(plan))
}

/// 429 with the seconds to wait, if a manual run now would exceed a limit.
async fn check_limits(tx: &mut PgConnection, name: &str) -> Result<(), ApiError> {
    // Requests on every replica count one at a time.
    locks::lock(&mut *tx, locks::RUN_NOW).await?;
    // Seconds until the job's latest manual run and the minute's oldest fall out of
    // their windows (null when under the limit).
    let (job_wait, all_wait): (Option<f64>, Option<f64>) = sqlx::query_as(
        "select
           (select extract(epoch from max(e.started_at) + make_interval(secs => $2) - now())
              from executions e join jobs j on j.id = e.job_id
             where j.name = $1 and e.trigger = 'manual' and j.kind <> 'external'
               and e.started_at > now() - make_interval(secs => $2))::float8,
           (select extract(epoch from min(started_at) + interval '1 minute' - now())
              from (select e.started_at from executions e join jobs j on j.id = e.job_id
                     where e.trigger = 'manual' and j.kind <> 'external'
                       and e.started_at > now() - interval '1 minute'
                     order by e.started_at desc limit $3) recent
            having count(*) >= $3)::float8",
    )
    .bind(name)
    .bind(PER_JOB_SECS as f64)
    .bind(PER_MINUTE)
    .fetch_one(&mut *tx)
    .await?;
    let refusal = match (job_wait, all_wait) {
        (Some(secs), _) => Some((
            secs,
            format!("job {name:?} was run by hand less than {PER_JOB_SECS} s ago"),
        )),
        (None, Some(secs)) => Some((
            secs,
            format!("{PER_MINUTE} jobs were run by hand in the last minute"),
        )),
        (None, None) => None,
    };
    if let Some((secs, why)) = refusal {
        let wait = secs.ceil().max(1.0) as u64;
        return Err(ApiError::RateLimited {
            message: format!("{why}: try again in {wait} s"),
            retry_after_secs: wait,
        });
    }
    Ok(())
}
