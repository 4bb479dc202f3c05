//! The runs of `command` jobs, between their start and their end: queued with the run,
//! claimed by one `cronwatch agent` (`for update skip locked`, so two agents never take
//! the same run), held under a lease the agent renews while the command runs. The
//! agent reports the end through the ingest API; the sweeper ([`sweep`]) ends the runs
//! whose agent was lost, that no agent took in time, or that ran on past their
//! timeout.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use app::db::events;
use app::db::executions::{self, Completion, Report};
use app::error::ApiError;
use app::model::{ChangeEvent, CommandSpec, ExecutionStatus, Job};
use app::state::AppState;

use crate::agent::protocol::Claim;

/// How long a run waits for an agent when its job has no timeout (an hour); with one,
/// it waits as long as it may run.
pub const DEFAULT_QUEUE_MS: i64 = 3_600_000;
/// How long past its timeout a claimed run may go on before the sweeper ends it: its
/// agent kills it at the timeout and reports that first.
pub const OVERRUN_SLACK_MS: i64 = 30_000;

/// Queues the run `execution_id` of command job `job` (in the run's transaction).
pub async fn queue(
    tx: &mut PgConnection,
    job: &Job,
    command: &CommandSpec,
    execution_id: Uuid,
) -> Result<(), ApiError> {
    sqlx::query(
        "insert into agent_runs (execution_id, job_id, argv, agent_tags, timeout_ms)
         select $1, id, $2, $3, timeout_ms from jobs where name = $4",
    )
    .bind(execution_id)
    .bind(&command.argv)
    .bind(&command.agent_tags)
    .bind(&job.name)
    .execute(tx)
    .await?;
    Ok(())
}

/// Gives agent `agent` (with `tags`) the oldest waiting run it may take, held for
/// `lease_ms`; the run's host becomes the agent's name, announced by a change event.
pub async fn claim(
    pool: &PgPool,
    agent: &str,
    tags: &[String],
    lease_ms: i64,
) -> Result<Option<Claim>, ApiError> {
    let mut tx = pool.begin().await?;
    let claimed: Option<(Uuid, Vec<String>, Option<i64>)> = sqlx::query_as(
        "with next as (
           select r.execution_id from agent_runs r
             join executions e on e.id = r.execution_id and e.status = 'running'
            where r.agent is null and r.agent_tags <@ $2
            order by r.queued_at
            limit 1
              for update of r skip locked)
         update agent_runs r
            set agent = $1, claimed_at = now(),
                lease_expires_at = now() + make_interval(secs => $3 / 1000.0)
           from next where r.execution_id = next.execution_id
         returning r.execution_id, r.argv, r.timeout_ms",
    )
    .bind(agent)
    .bind(tags)
    .bind(lease_ms as f64)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((execution_id, argv, timeout_ms)) = claimed else {
        return Ok(None);
    };
    sqlx::query("update executions set host = $2 where id = $1")
        .bind(execution_id)
        .bind(agent)
        .execute(&mut *tx)
        .await?;
    let run = executions::read(&mut tx, execution_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("claimed run {execution_id} is gone")))?;
    // The run's host is news to the dashboard (its open details show where it runs).
    events::record(&mut tx, &ChangeEvent::Execution(run.summary.clone())).await?;
    tx.commit().await?;
    Ok(Some(Claim {
        execution_id,
        job: run.summary.job,
        argv,
        timeout_ms,
        attempt: run.summary.attempt,
        lease_ms,
        // Stored as the object `runner::values_for` made.
        params: match run.details.params {
            Some(serde_json::Value::Object(values)) => Some(values),
            _ => None,
        },
    }))
}

/// Renews agent `agent`'s leases on the runs `ids` for `lease_ms`; answers those of
/// `ids` it must stop: ended (cancelled, or by the sweeper), unknown, or not its own.
pub async fn renew(
    pool: &PgPool,
    agent: &str,
    ids: &[Uuid],
    lease_ms: i64,
) -> Result<Vec<Uuid>, ApiError> {
    Ok(sqlx::query_scalar(
        "with renewed as (
           update agent_runs r
              set lease_expires_at = now() + make_interval(secs => $3 / 1000.0)
             from executions e
            where r.execution_id = any($2) and r.agent = $1
              and e.id = r.execution_id and e.status = 'running'
           returning r.execution_id)
         select id from unnest($2::uuid[]) as id
          where id not in (select execution_id from renewed)",
    )
    .bind(agent)
    .bind(ids)
    .bind(lease_ms as f64)
    .fetch_all(pool)
    .await?)
}

/// A run the sweeper ends, and why.
#[derive(sqlx::FromRow)]
struct Overdue {
    id: Uuid,
    agent: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    agent_tags: Vec<String>,
    timeout_ms: Option<i64>,
}

impl Overdue {
    fn ending(&self) -> Completion {
        match (&self.agent, self.lease_expires_at) {
            (None, _) => {
                let waited = self.timeout_ms.unwrap_or(DEFAULT_QUEUE_MS);
                let tags = match self.agent_tags.as_slice() {
                    [] => String::new(),
                    tags => format!(" with the tags {}", tags.join(", ")),
                };
                let why = format!(
                    "no agent{tags} took the run within {} s: start one with `cronwatch agent`",
                    waited / 1000
                );
                Completion::by_cronwatch(ExecutionStatus::Failed, &why)
            }
            (Some(agent), Some(until)) if until < Utc::now() => {
                let why = format!(
                    "agent {agent} was lost: it stopped renewing its lease, which ran out at {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                Completion::by_cronwatch(ExecutionStatus::Failed, &why)
            }
            (Some(agent), _) => {
                let why = format!("agent {agent} did not stop the command at its timeout");
                Completion::by_cronwatch(ExecutionStatus::TimedOut, &why)
            }
        }
    }
}

/// Ends the command runs that will not end otherwise: those whose agent's lease ran
/// out, those no agent took while they could have run, and those past their timeout
/// (plus [`OVERRUN_SLACK_MS`]); then forgets the runs that have ended. Answers how many
/// it ended.
pub async fn sweep(state: &AppState) -> Result<usize, ApiError> {
    let overdue: Vec<Overdue> = sqlx::query_as(
        "select r.execution_id as id, r.agent, r.lease_expires_at, r.agent_tags, r.timeout_ms
               from agent_runs r join executions e on e.id = r.execution_id
              where e.status = 'running'
                and case when r.agent is null
                         then r.queued_at + make_interval(
                                secs => coalesce(r.timeout_ms, $1) / 1000.0) < now()
                         else r.lease_expires_at < now()
                              or r.claimed_at + make_interval(
                                   secs => (r.timeout_ms + $2) / 1000.0) < now()
                     end
              order by r.queued_at
              limit 500",
    )
    .bind(DEFAULT_QUEUE_MS)
    .bind(OVERRUN_SLACK_MS)
    .fetch_all(&state.pool)
    .await?;
    let mut ended = 0;
    for run in overdue {
        match state
            .writer
            .submit(Report::Complete(run.id, run.ending()))
            .await
        {
            Ok(_) => ended += 1,
            // Its agent reported its end meanwhile: that end stands.
            Err(ApiError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    sqlx::query(
        "delete from agent_runs r using executions e
          where e.id = r.execution_id and e.status <> 'running'",
    )
    .execute(&state.pool)
    .await?;
    Ok(ended)
}
