//! Healthchecks-style pings in the database: a ping start without `rid` (one open run
//! per job), and the run a ping end closes.

use sqlx::PgPool;
use uuid::Uuid;

use crate::db::executions::{outcome_of, NewExecution, Outcome, Report};
use crate::error::ApiError;

/// A rid-less ping start this soon after the open rid-less run's start is the client
/// retrying the same request (`curl --retry`), not a new run: cron's finest schedule
/// is a minute, so two real runs are further apart.
pub const PING_SAME_RUN_SECS: f64 = 30.0;

/// `triggered_by` of the runs that pings start (`cw_ping_start` reads it too).
pub const PING_TRIGGERED_BY: &str = "ping";

/// Applies a ping start without `rid` (`cw_ping_start`): the job's open rid-less ping
/// run, which will now never hear its end, ends as failed (no duration) and the new run
/// starts, in one transaction; a retry within [`PING_SAME_RUN_SECS`] answers the open
/// run unchanged.
pub async fn ping_start(pool: &PgPool, new: NewExecution) -> Result<Outcome, ApiError> {
    debug_assert!(new.run_key.is_none() && new.id.is_none());
    let report = Report::Start(new);
    report.validate()?;
    let out = sqlx::query_scalar!(
        "select cw_ping_start($1, make_interval(secs => $2)) as \"r!\"",
        report.to_op(),
        PING_SAME_RUN_SECS
    )
    .fetch_one(pool)
    .await?;
    outcome_of(out)
}

/// Looks up the execution a ping end refers to: by `rid` if given, else the job's
/// latest running execution started by a ping without `rid` (as in Healthchecks, an end
/// pairs with a start of the same `rid`, none included).
pub async fn find_for_ping_end(
    pool: &PgPool,
    job_id: i64,
    run_key: Option<&str>,
) -> Result<Option<Uuid>, sqlx::Error> {
    match run_key {
        Some(key) => {
            sqlx::query_scalar!(
                "select id from executions where job_id = $1 and run_key = $2",
                job_id,
                key
            )
            .fetch_optional(pool)
            .await
        }
        None => {
            sqlx::query_scalar!(
                "select id from executions
                  where job_id = $1 and status = 'running' and run_key is null
                    and triggered_by = $2
                  order by started_at desc limit 1",
                job_id,
                PING_TRIGGERED_BY
            )
            .fetch_optional(pool)
            .await
        }
    }
}
