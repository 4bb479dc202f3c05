//! Runs `http` and `command` jobs: at their scheduled times ([`scheduler`], one replica
//! at a time) and when an admin asks (`POST /api/v1/jobs/{name}/run`, see
//! `http::run_now`).
//!
//! A run is started in the database first (in the caller's transaction, with the job's
//! row locked, so two replicas or two clicks cannot start it twice). An `http` job's
//! call is then made in the background and its answer recorded as the run's end
//! through the report writer, like any report. A `command` job's run waits for a
//! `cronwatch agent` to claim it ([`agent_runs`]), which reports its end. A replica that stops ends the runs whose answer has not
//! come ([`end_calls_in_flight`]); one that dies leaves them running, and the sweeper
//! ends them as timed out a little after their timeout. An admin can cancel a run
//! ([`cancel`]): it ends as `cancelled` and the replica making its call drops it.

pub mod agent_runs;
mod call;
mod cancel;
pub mod scheduler;

pub use cancel::{cancel, stop_cancelled_calls};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use std::time::Duration;

use app::db::executions::{self, Completion, NewExecution, Outcome, Report};
use app::db::jobs;
use app::error::ApiError;
use app::model::{CommandSpec, ExecutionStatus, ExecutionSummary, HttpCall, Job, JobKind, Trigger};
use app::params::Params;
use app::state::AppState;

/// Why a run starts.
pub struct RunSpec {
    pub trigger: Trigger,
    /// Who asked (`user:NAME`, `token:NAME`) or `cronwatch:scheduler`.
    pub triggered_by: String,
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Makes a scheduled start idempotent: one run per job and scheduled time.
    pub run_key: Option<String>,
    /// 1, or the retry's number plus one.
    pub attempt: i32,
    /// The values of the job's parameters, checked ([`app::params::resolve`]); `None`
    /// for a job that declares none.
    pub params: Option<Params>,
}

impl RunSpec {
    /// A run someone asked for now (not keyed: each request is a run).
    pub fn asked(trigger: Trigger, by: impl Into<String>, params: Option<Params>) -> Self {
        RunSpec {
            trigger,
            triggered_by: by.into(),
            scheduled_for: None,
            run_key: None,
            attempt: 1,
            params,
        }
    }
}

/// The values a run of `job` gets from `given` ([`app::params::resolve`]: declared, of
/// their types, defaults filled in); 422 saying which does not fit.
pub fn values_for(job: &Job, given: &Params) -> Result<Option<Params>, ApiError> {
    app::params::resolve(&job.params, given).map_err(ApiError::Invalid)
}

/// How cronwatch runs a job.
pub enum How {
    /// It calls a URL.
    Call(HttpCall),
    /// An agent runs a command.
    Command(CommandSpec),
}

/// A run recorded as started, still to be carried out ([`Started::launch`]).
pub struct Started {
    pub job: Job,
    pub how: How,
    pub execution: ExecutionSummary,
    /// The values of its parameters, sent with an http job's call.
    pub params: Option<Params>,
}

/// Locks job `name`'s row and answers it, if cronwatch can run it now: as
/// [`lock_job`], and 409 naming the running execution if one is running.
pub async fn lock_runnable(tx: &mut PgConnection, name: &str) -> Result<(Job, How), ApiError> {
    let (job, how) = lock_job(&mut *tx, name).await?;
    if let Some(id) = running_run(&mut *tx, name).await? {
        return Err(ApiError::AlreadyRunning {
            message: format!("job {name:?} is already running: execution {id}"),
            execution_id: id,
        });
    }
    Ok((job, how))
}

/// How cronwatch runs `job`: 409 for a job that only reports (or one without its URL
/// or command).
pub fn how_to_run(job: &Job) -> Result<How, ApiError> {
    match (job.kind, &job.http, &job.command) {
        (JobKind::Http, Some(call), _) => Ok(How::Call(call.clone())),
        (JobKind::Command, _, Some(spec)) => Ok(How::Command(spec.as_ref().clone())),
        (kind, ..) => Err(ApiError::Conflict(format!(
            "job {:?} is of kind {:?}: it reports its own runs, cronwatch cannot start it \
             (only http and command jobs are run by cronwatch)",
            job.name,
            kind.as_str()
        ))),
    }
}

/// Locks job `name`'s row and answers it with how cronwatch runs it: 404 for no such
/// job, 409 for a job that only reports (or one without its URL or command).
pub async fn lock_job(tx: &mut PgConnection, name: &str) -> Result<(Job, How), ApiError> {
    // Locked before it is read: a definition replaced meanwhile is seen whole.
    sqlx::query("select 1 from jobs where name = $1 for update")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let job = jobs::get(&mut *tx, name).await?;
    let how = how_to_run(&job)?;
    Ok((job, how))
}

/// The latest run of job `name` still running, if any.
pub async fn running_run(db: &mut PgConnection, name: &str) -> Result<Option<Uuid>, ApiError> {
    Ok(sqlx::query_scalar(
        "select e.id from executions e join jobs j on j.id = e.job_id
          where j.name = $1 and e.status = 'running'
          order by e.started_at desc limit 1",
    )
    .bind(name)
    .fetch_optional(db)
    .await?)
}

/// Records the start of a run of `job` (locked by [`lock_runnable`]) in the caller's
/// transaction. `None` when a run with the same `run_key` exists already.
pub async fn start(
    tx: &mut PgConnection,
    job: Job,
    how: How,
    spec: RunSpec,
) -> Result<Option<Started>, ApiError> {
    // A call is made from here; a command runs on the agent that claims it.
    let host = match how {
        How::Call(_) => nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok()),
        How::Command(_) => None,
    };
    let report = Report::Start(NewExecution {
        job: job.name.clone(),
        id: None,
        trigger: spec.trigger,
        triggered_by: Some(spec.triggered_by),
        started_at: None,
        host,
        scheduled_for: spec.scheduled_for,
        run_key: spec.run_key,
        attempt: spec.attempt,
    });
    let Outcome { execution, changed } = executions::apply_one(&mut *tx, report).await?;
    if !changed {
        return Ok(None);
    }
    if let Some(params) = &spec.params {
        // Before the run is queued: the agent that claims it reads them from here.
        sqlx::query("update executions set params = $2 where id = $1")
            .bind(execution.summary.id)
            .bind(sqlx::types::Json(params))
            .execute(&mut *tx)
            .await?;
    }
    if let How::Command(command) = &how {
        agent_runs::queue(&mut *tx, &job, command, execution.summary.id).await?;
    }
    Ok(Some(Started {
        job,
        how,
        execution: execution.summary,
        params: spec.params,
    }))
}

impl Started {
    /// Carries the run out once its start is committed: makes an http job's call in
    /// the background and records its answer as the run's end. A command's run waits
    /// for an agent, which reports its end itself.
    pub fn launch(self, state: &AppState) {
        let How::Call(http) = self.how else {
            return;
        };
        let state = state.clone();
        let id = self.execution.id;
        let stop = state.calls.begin(id);
        tokio::spawn(async move {
            let call = call::call(
                &self.job,
                &http,
                &self.execution,
                self.params.as_ref(),
                &state.config.job_secrets,
            );
            let done = tokio::select! {
                done = call => done,
                // Cancelled: its end is recorded; dropping the call closes the connection.
                () = stop.notified() => {
                    state.calls.end(id);
                    return;
                }
            };
            match state.writer.submit(Report::Complete(id, done)).await {
                Ok(_) => {}
                // The sweeper ended it first (its timeout passed): that end stands.
                Err(ApiError::Conflict(_)) => {
                    tracing::info!(%id, "http run had already been ended")
                }
                Err(e) => tracing::warn!(%id, error = %e, "could not record an http run's end"),
            }
            state.calls.end(id);
        });
    }
}

/// At shutdown: waits up to `wait` for the calls under way to be answered, then ends
/// those still waiting as failed (not left running until the sweeper's timeout). The
/// URL may still carry the call out: the run says so. Answers how many were ended.
pub async fn end_calls_in_flight(state: &AppState, wait: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + wait;
    while !state.calls.ids().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ended = 0;
    for id in state.calls.ids() {
        let why = "cronwatch stopped before the URL answered (the call was made and may still be \
                   carried out)";
        let done = Completion::by_cronwatch(ExecutionStatus::Failed, why);
        match state.writer.submit(Report::Complete(id, done)).await {
            Ok(_) => ended += 1,
            Err(e) => tracing::warn!(%id, error = %e, "could not end an http run at shutdown"),
        }
        state.calls.end(id);
    }
    ended
}
