//! Background sweeps: runs past their timeout become `timed_out`; executions older
//! than the retention are deleted in bounded batches (rollups are kept).

use chrono::{TimeDelta, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::executions::{Completion, Report};
use crate::db::{events, executions, jobs, stats};
use crate::error::ApiError;
use crate::model::{ChangeEvent, ExecutionStatus};
use crate::schedule::Schedule;

/// Marks every running execution past its job's timeout as `timed_out`; returns their
/// ids. It is a completion like any other (`cw_apply_reports` moves the rollups, the
/// job's failure count and records the event); a run that ended meanwhile answers a
/// conflict and is left as it ended. At most `chunk` runs go in one transaction, so a
/// burst (thousands of runs reaching their timeout together) never becomes one huge
/// write.
pub async fn time_out_stuck(pool: &PgPool, chunk: i64) -> Result<Vec<Uuid>, ApiError> {
    let mut timed_out = Vec::new();
    loop {
        let stuck = stats::past_timeout(pool, chunk).await?;
        let full = stuck.len() as i64 == chunk;
        let reports: Vec<Report> = stuck
            .into_iter()
            .map(|id| {
                Report::Complete(
                    id,
                    Completion::by_cronwatch(ExecutionStatus::TimedOut, "ran past its timeout"),
                )
            })
            .collect();
        if reports.is_empty() {
            return Ok(timed_out);
        }
        let changed_before = timed_out.len();
        let results = executions::apply(pool, &reports.iter().collect::<Vec<_>>()).await?;
        timed_out.extend(
            results
                .into_iter()
                .filter_map(|r| r.ok().filter(|o| o.changed).map(|o| o.execution.summary.id)),
        );
        // A pass that changed nothing would only find the same runs again.
        if !full || timed_out.len() == changed_before {
            return Ok(timed_out);
        }
    }
}

/// Deletes executions that started more than `retention` ago, `batch` rows per
/// statement so that no statement holds locks for long; returns how many went.
/// Rollups keep the deleted runs' counts, except `running`: a run deleted before it
/// ended is taken out of its hour's running count, or it would run there forever.
pub async fn delete_expired(
    pool: &PgPool,
    retention: TimeDelta,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let cutoff = Utc::now() - retention;
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
