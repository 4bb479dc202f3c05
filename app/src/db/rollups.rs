//! Per job × hour × status counters, the only thing the dashboard's charts read.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;

use crate::model::ExecutionStatus;

/// The hour bucket an execution belongs to (by its start time).
pub fn bucket_of(started_at: DateTime<Utc>) -> DateTime<Utc> {
    started_at
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or(started_at)
}

/// Adds `delta` (±1) executions of `status` to the bucket of `started_at`, with an
/// optional duration to average.
pub async fn bump(
    conn: &mut PgConnection,
    job_id: i64,
    started_at: DateTime<Utc>,
    status: ExecutionStatus,
    delta: i64,
    duration_ms: Option<i64>,
) -> Result<(), sqlx::Error> {
    let (dsum, dcount) = match duration_ms {
        Some(d) => (d * delta, delta),
        None => (0, 0),
    };
    sqlx::query!(
        "insert into execution_rollups (job_id, bucket, status, count, duration_sum_ms, duration_count)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (job_id, bucket, status) do update
         set count = execution_rollups.count + excluded.count,
             duration_sum_ms = execution_rollups.duration_sum_ms + excluded.duration_sum_ms,
             duration_count = execution_rollups.duration_count + excluded.duration_count",
        job_id,
        bucket_of(started_at),
        status.as_str(),
        delta,
        dsum,
        dcount,
    )
    .execute(conn)
    .await?;
    Ok(())
}
