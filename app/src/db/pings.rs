//! Healthchecks-style pings in the database: a ping start (without `rid`, one open run
//! per job), a ping end, and a log added to a run.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::executions::{self, outcome_of, Completion, NewExecution, Outcome, Report};
use crate::db::output_caps::{cap_tail, LOG_TAIL_CAP_BYTES};
use crate::error::ApiError;
use crate::validate::pg_text;

/// A rid-less ping start this soon after the open rid-less run's start is the client
/// retrying the same request (`curl --retry`), not a new run: cron's finest schedule
/// is a minute, so two real runs are further apart.
pub const PING_SAME_RUN_SECS: f64 = 30.0;

/// `triggered_by` of the runs that pings start (`cw_ping_start` reads it too).
pub const PING_TRIGGERED_BY: &str = "ping";

/// Applies a ping start in one transaction. With `rid`, it is a start like any other
/// (a retry finds its run). Without, `cw_ping_start`: the job's open rid-less ping run,
/// which will now never hear its end, ends as failed (no duration) and the new run
/// starts; a retry within [`PING_SAME_RUN_SECS`] answers the open run unchanged. The
/// ping's body becomes the new run's log.
pub async fn ping_start(
    pool: &PgPool,
    new: NewExecution,
    log: Option<String>,
) -> Result<Outcome, ApiError> {
    debug_assert!(new.id.is_none());
    let by_rid = new.run_key.is_some();
    let report = Report::Start(new);
    report.validate()?;
    let mut tx = pool.begin().await?;
    let outcome = if by_rid {
        executions::apply_one(&mut *tx, report).await?
    } else {
        outcome_of(
            sqlx::query_scalar!(
                "select cw_ping_start($1, make_interval(secs => $2)) as \"r!\"",
                report.to_op(),
                PING_SAME_RUN_SECS
            )
            .fetch_one(&mut *tx)
            .await?,
        )?
    };
    // A retried start changed nothing, and must not log twice.
    if let Some(log) = log.filter(|_| outcome.changed) {
        set_log(&mut tx, outcome.execution.summary.id, pg_text(log)).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// The run a ping refers to, locked until the caller's transaction ends.
struct PingedRun {
    id: Uuid,
    log_tail: Option<String>,
}

/// Finds and locks the run a ping refers to: by `rid` if given, else the job's latest
/// running execution started by a ping without `rid` (as in Healthchecks, an end pairs
/// with a start of the same `rid`, none included).
async fn lock_pinged_run(
    conn: &mut PgConnection,
    job_id: i64,
    run_key: Option<&str>,
) -> Result<Option<PingedRun>, sqlx::Error> {
    match run_key {
        Some(key) => {
            sqlx::query_as!(
                PingedRun,
                "select id, log_tail from executions
                  where job_id = $1 and run_key = $2
                    for update",
                job_id,
                key
            )
            .fetch_optional(conn)
            .await
        }
        None => {
            sqlx::query_as!(
                PingedRun,
                "select id, log_tail from executions
                  where job_id = $1 and status = 'running' and run_key is null
                    and triggered_by = $2
                  order by started_at desc limit 1
                    for update",
                job_id,
                PING_TRIGGERED_BY
            )
            .fetch_optional(conn)
            .await
        }
    }
}

/// Applies a ping end (success, fail or exit code) in one transaction: it ends the run
/// the ping refers to, or records an instant run (`instant`, which carries the `rid`)
/// when there is none. The ping's body follows what the run has logged so far (with
/// `/log`), rather than replacing it.
pub async fn ping_end(
    pool: &PgPool,
    job_id: i64,
    instant: NewExecution,
    mut done: Completion,
) -> Result<Outcome, ApiError> {
    let mut tx = pool.begin().await?;
    let id = match lock_pinged_run(&mut tx, job_id, instant.run_key.as_deref()).await? {
        // A retried end does not log twice: a completion leaves an ended run as it is.
        Some(run) => {
            done.log_tail = done.log_tail.map(|more| joined(run.log_tail, more));
            run.id
        }
        None => {
            executions::apply_one(&mut *tx, Report::Start(instant))
                .await?
                .execution
                .summary
                .id
        }
    };
    let outcome = executions::apply_one(&mut *tx, Report::Complete(id, done)).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Adds `log` (a `/log` ping's body) to the log of the run the ping refers to, keeping
/// its last [`LOG_TAIL_CAP_BYTES`]; nothing else changes. `false` when there is no such
/// run: no start was reported with this `rid`, or, without `rid`, no ping run is open.
pub async fn append_log(
    pool: &PgPool,
    job_id: i64,
    run_key: Option<&str>,
    log: String,
) -> Result<bool, ApiError> {
    let mut tx = pool.begin().await?;
    let Some(run) = lock_pinged_run(&mut tx, job_id, run_key).await? else {
        return Ok(false);
    };
    if !log.is_empty() {
        set_log(&mut tx, run.id, joined(run.log_tail, pg_text(log))).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Sets a run's log to the last [`LOG_TAIL_CAP_BYTES`] of `log`.
async fn set_log(conn: &mut PgConnection, id: Uuid, log: String) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update executions set log_tail = $2 where id = $1",
        id,
        cap_tail(log, LOG_TAIL_CAP_BYTES)
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// What a run has logged so far, then `more` on a line of its own.
fn joined(so_far: Option<String>, more: String) -> String {
    match so_far {
        Some(mut log) if !log.is_empty() => {
            if !log.ends_with('\n') {
                log.push('\n');
            }
            log.push_str(&more);
            log
        }
        _ => more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_join_on_their_own_lines() {
        assert_eq!(joined(None, "b".into()), "b");
        assert_eq!(joined(Some(String::new()), "b".into()), "b");
        assert_eq!(joined(Some("a".into()), "b".into()), "a\nb");
        assert_eq!(joined(Some("a\n".into()), "b\n".into()), "a\nb\n");
    }
}
