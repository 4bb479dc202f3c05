//! Background sweeps: runs past their timeout become `timed_out`; executions older
//! than the retention are deleted in bounded batches (rollups are kept).

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::executions::{Completion, Report};
use crate::db::{events, executions, jobs};
use crate::error::ApiError;
use crate::http_call::{DEFAULT_TIMEOUT_MS, HTTP_SWEEP_SLACK_MS};
use crate::model::{ChangeEvent, ExecutionStatus};
use crate::schedule::Schedule;

/// Ends as `timed_out` every running execution past its job's timeout, and every one
/// that started before the retention's cutoff (`now - retention`): its end, never
/// reported, would otherwise vanish with the row, and an open page would show it
/// running until reloaded. Returns the ids it ended.
///
/// It is a completion like any other (`cw_apply_reports` moves the rollups, the job's
/// summary and failure count, and records the event); a run that ended meanwhile
/// answers a conflict and is left as it ended. At most `chunk` runs go in one
/// transaction, so a burst (thousands of runs reaching their timeout together) never
/// becomes one huge write.
pub async fn end_overdue_runs(
    pool: &PgPool,
    retention: TimeDelta,
    now: DateTime<Utc>,
    chunk: i64,
) -> Result<Vec<Uuid>, ApiError> {
    let abandoned = format!(
        "no end was reported within the retention ({} days)",
        retention.num_days()
    );
    let mut ended = Vec::new();
    loop {
        let reports: Vec<Report> = overdue(pool, now - retention, chunk)
            .await?
            .into_iter()
            .map(|(id, past_retention)| {
                let why = if past_retention {
                    abandoned.as_str()
                } else {
                    "ran past its timeout"
                };
                Report::Complete(id, Completion::by_cronwatch(ExecutionStatus::TimedOut, why))
            })
            .collect();
        if reports.is_empty() {
            return Ok(ended);
        }
        let full = reports.len() as i64 == chunk;
        let changed_before = ended.len();
        let results = executions::apply(
            &mut *pool.acquire().await?,
            &reports.iter().collect::<Vec<_>>(),
        )
        .await?;
        ended.extend(
            results
                .into_iter()
                .filter_map(|r| r.ok().filter(|o| o.changed).map(|o| o.execution.summary.id)),
        );
        // A pass that changed nothing would only find the same runs again.
        if !full || ended.len() == changed_before {
            return Ok(ended);
        }
    }
}

/// Running executions past their job's timeout or started before `cutoff`, oldest
/// first, each with whether it is past the cutoff. An `http` job's run always has a
/// timeout (the call's), so one whose replica died mid-call is ended too, a little
/// after its call would have given up by itself. A `command` job's run is timed from
/// when an agent took it, so those are left to the agent and its sweep
/// (`runner::agent_runs` in the server).
async fn overdue(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, bool)>, sqlx::Error> {
    Ok(sqlx::query!(
        "select e.id, e.started_at < $1 as \"past_retention!\"
           from executions e join jobs j on j.id = e.job_id
          where e.status = 'running'
            and (e.started_at < $1
                 or (j.timeout_ms is not null and j.kind <> 'command'
                     and e.started_at + make_interval(secs => j.timeout_ms / 1000.0) < now())
                 or (j.kind = 'http'
                     and e.started_at + make_interval(
                           secs => (coalesce(j.timeout_ms, $3) + $4) / 1000.0) < now()))
          order by e.started_at
          limit $2",
        cutoff,
        limit,
        DEFAULT_TIMEOUT_MS,
        HTTP_SWEEP_SLACK_MS
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.id, r.past_retention))
    .collect())
}

/// Deletes executions that started more than `retention` before `now`, `batch` rows
/// per statement so that no statement holds locks for long; returns how many went.
/// Rollups keep the deleted runs' counts. [`end_overdue_runs`] has ended the runs still
/// open by then; one reported in between (dated before the cutoff) is taken out of
/// its hour's running count here, or it would run there forever.
pub async fn delete_expired(
    pool: &PgPool,
    retention: TimeDelta,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let cutoff = now - retention;
    let mut total = 0;
    loop {
        let n = sqlx::query_scalar!(
            "with gone as (
               delete from executions where id in (
                 select id from executions where started_at < $1 limit $2)
               returning job_id, started_at, status),
             unfinished as (
               insert into execution_rollups as r (job_id, bucket, status, count)
               select job_id, date_trunc('hour', started_at, 'UTC'), 'running', -count(*)
                 from gone where status = 'running'
                group by 1, 2
                order by 1, 2
               on conflict (job_id, bucket, status) do update set count = r.count + excluded.count)
             select count(*) as \"n!\" from gone",
            cutoff,
            batch
        )
        .fetch_one(pool)
        .await? as u64;
        total += n;
        if n < batch as u64 {
            return Ok(total);
        }
    }
}

/// Moves each scheduled job's expected start forward once a run has started for it
/// (or when it has none yet). A job whose expected start passes with no run keeps it:
/// that is what "late" means, until the next start arrives. Returns how many moved.
pub async fn advance_schedules(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let due = sqlx::query!(
        "select id, name, schedule as \"schedule!\", timezone, next_run_at, last_started_at
         from jobs
         where schedule is not null and enabled
           and (next_run_at is null
                or (next_run_at <= now()
                    and last_started_at >= next_run_at - make_interval(secs => $1)))",
        crate::health::EARLY_START_TOLERANCE_SECS as f64
    )
    .fetch_all(pool)
    .await?;
    let mut moved = 0;
    for job in due {
        let Ok(schedule) = Schedule::parse(&job.schedule, &job.timezone) else {
            continue;
        };
        let from = job
            .last_started_at
            .map_or(Utc::now(), |s| s.max(Utc::now()));
        let next = schedule.next_after(from);
        let mut tx = pool.begin().await?;
        let updated = sqlx::query!(
            "update jobs set next_run_at = $2 where id = $1 and next_run_at is not distinct from $3",
            job.id,
            next,
            job.next_run_at
        )
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 1 {
            if let Some(row) = jobs::find_by_name(&mut tx, &job.name).await? {
                events::record(&mut tx, &ChangeEvent::Job(row.into_wire())).await?;
            }
            moved += 1;
        }
        tx.commit().await?;
    }
    Ok(moved)
}

/// Deletes browser sessions past their expiry.
pub async fn delete_expired_sessions(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("delete from sessions where expiry_date < now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
