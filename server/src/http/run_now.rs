//! `POST /api/v1/jobs/{name}/run`: an admin runs an `http` job now. Answers 202 with
//! the started run at once; the call is made in the background and its end arrives
//! like any other (live pages see it flip). Refused while the job is running (409,
//! naming the run) and beyond 1 run a job per 30 s or 10 runs a minute in all (429):
//! counted from the runs recorded, so the limits hold across replicas and restarts.
//! Audited as `job.run`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sqlx::PgConnection;

use app::db::{audit, tokens::Scope};
use app::error::ApiError;
use app::model::Trigger;
use app::state::AppState;

use super::caller::Caller;
use crate::runner::{self, RunSpec};

/// Seconds between two manual runs of one job.
const PER_JOB_SECS: i64 = 30;
/// Manual runs in all per minute.
const PER_MINUTE: i64 = 10;
/// Serialises the limit checks of concurrent requests (on every replica).
const RUN_NOW_LOCK: i64 = 0x63_77_2d_72_75_6e; // "cw-run"

pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let mut tx = state.pool.begin().await?;
    let (job, http) = runner::lock_runnable(&mut tx, &name).await?;
    check_limits(&mut tx, &name).await?;
    let spec = RunSpec {
        trigger: Trigger::Manual,
        triggered_by: who.clone(),
        scheduled_for: None,
        run_key: None,
    };
    let started = runner::start(&mut tx, job, http, spec)
        .await?
        .ok_or_else(|| ApiError::Internal("a run without a run key was a repeat".into()))?;
    let execution = started.execution.clone();
    let details = serde_json::json!({ "execution_id": execution.id });
    audit::record(&mut *tx, &who, "job.run", Some(&name), None, details).await?;
    tx.commit().await?;
    started.call(&state);
    Ok((StatusCode::ACCEPTED, Json(execution)).into_response())
}

/// 429 with the seconds to wait, if a manual run now would exceed a limit.
async fn check_limits(tx: &mut PgConnection, name: &str) -> Result<(), ApiError> {
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(RUN_NOW_LOCK)
        .execute(&mut *tx)
        .await?;
    // Seconds until the job's latest manual run and the minute's oldest fall out of
    // their windows (null when under the limit).
    let (job_wait, all_wait): (Option<f64>, Option<f64>) = sqlx::query_as(
        "select
           (select extract(epoch from max(e.started_at) + make_interval(secs => $2) - now())
              from executions e join jobs j on j.id = e.job_id
             where j.name = $1 and e.trigger = 'manual' and j.kind = 'http'
               and e.started_at > now() - make_interval(secs => $2))::float8,
           (select extract(epoch from min(started_at) + interval '1 minute' - now())
              from (select e.started_at from executions e join jobs j on j.id = e.job_id
                     where e.trigger = 'manual' and j.kind = 'http'
                       and e.started_at > now() - interval '1 minute'
                     order by e.started_at desc limit $3) recent
            having count(*) >= $3)::float8",
    )
    .bind(name)
    .bind(PER_JOB_SECS as f64)
    .bind(PER_MINUTE)
    .fetch_one(&mut *tx)
    .await?;
    let wait = |secs: f64| secs.ceil().max(1.0) as u64;
    if let Some(secs) = job_wait {
        return Err(ApiError::RateLimited {
            message: format!(
                "job {name:?} was run by hand less than {PER_JOB_SECS} s ago: try again in {} s",
                wait(secs)
            ),
            retry_after_secs: wait(secs),
        });
    }
    if let Some(secs) = all_wait {
        return Err(ApiError::RateLimited {
            message: format!(
                "{PER_MINUTE} jobs were run by hand in the last minute: try again in {} s",
                wait(secs)
            ),
            retry_after_secs: wait(secs),
        });
    }
    Ok(())
}
