//! Healthchecks-style pings: `/ping/{key}[/start|/fail|/log|/{exit_code}]`, GET or
//! POST, the body being the log. The job's ping key is the credential (unknown → 404).
//! `?rid=` pairs a start with its end. Without it, as in Healthchecks, a job has one
//! open run: an end closes it (or records an instant run if none is open), and a new
//! start ends it as failed first, since its own end will never come. Runs that overlap
//! need `rid`. `/log` adds its body to the run's log and changes nothing else.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use app::db::executions::{self, Completion, NewExecution};
use app::db::jobs::{self, JobRow};
use app::db::pings;
use app::error::ApiError;
use app::model::{ExecutionStatus, Trigger};
use app::state::AppState;

use super::extract::{query_params, PingLog, QueryParams};

#[derive(Deserialize)]
pub struct PingQuery {
    rid: Option<String>,
}

/// What a ping says.
#[derive(Debug, PartialEq, Eq)]
enum Signal {
    Start,
    Success,
    Fail(Option<i32>),
    /// A log line for the run, with no change of state.
    Log,
}

fn parse_action(action: Option<&str>) -> Result<Signal, ApiError> {
    match action {
        None => Ok(Signal::Success),
        Some("start") => Ok(Signal::Start),
        Some("fail") => Ok(Signal::Fail(None)),
        Some("log") => Ok(Signal::Log),
        Some(code) => match code.parse::<u8>() {
            Ok(0) => Ok(Signal::Success),
            Ok(n) => Ok(Signal::Fail(Some(i32::from(n)))),
            Err(_) => Err(ApiError::NotFound(format!(
                "unknown ping action {code:?}: use start, fail, log or an exit code 0-255"
            ))),
        },
    }
}

/// `/ping/{key}`
pub async fn ping(
    State(state): State<AppState>,
    Path(key): Path<String>,
    query: QueryParams<PingQuery>,
    PingLog(log): PingLog,
) -> Result<Response, ApiError> {
    handle(state, &key, None, query_params(query)?, log).await
}

/// `/ping/{key}/{action}`
pub async fn ping_action(
    State(state): State<AppState>,
    Path((key, action)): Path<(String, String)>,
    query: QueryParams<PingQuery>,
    PingLog(log): PingLog,
) -> Result<Response, ApiError> {
    handle(state, &key, Some(&action), query_params(query)?, log).await
}

async fn handle(
    state: AppState,
    key: &str,
    action: Option<&str>,
    q: PingQuery,
    log: Option<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound("no job has this ping key".into());
    let key = Uuid::parse_str(key).map_err(|_| not_found())?;
    let job = jobs::find_by_ping_key(&state.pool, key)
        .await?
        .ok_or_else(not_found)?;
    let signal = parse_action(action)?;
    if let Some(rid) = &q.rid {
        executions::check_run_key(rid)?;
    }
    let (status, exit_code) = match signal {
        Signal::Start => {
            pings::ping_start(&state.pool, new_execution(&job, q.rid), log).await?;
            return Ok("OK".into_response());
        }
        Signal::Log => {
            let log = log.unwrap_or_default();
            if !pings::append_log(&state.pool, job.id, q.rid.as_deref(), log).await? {
                return Err(ApiError::NotFound(
                    "no run of this job is open to add a log to: send /start first \
                     (with the same rid, if you use one)"
                        .into(),
                ));
            }
            return Ok("OK".into_response());
        }
        Signal::Success => (ExecutionStatus::Completed, Some(0)),
        Signal::Fail(code) => (ExecutionStatus::Failed, code),
    };
    let done = Completion {
        status,
        output: None,
        output_truncated: false,
        error_message: None,
        exit_code,
        duration_ms: None,
        log_tail: log,
        completed_at: None,
    };
    pings::ping_end(&state.pool, job.id, new_execution(&job, q.rid), done).await?;
    Ok("OK".into_response())
}

fn new_execution(job: &JobRow, rid: Option<String>) -> NewExecution {
    NewExecution {
        job: job.name.clone(),
        id: None,
        trigger: Trigger::Api,
        triggered_by: Some(pings::PING_TRIGGERED_BY.into()),
        started_at: None,
        host: None,
        scheduled_for: None,
        run_key: rid,
        attempt: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions() {
        assert_eq!(parse_action(None).unwrap(), Signal::Success);
        assert_eq!(parse_action(Some("start")).unwrap(), Signal::Start);
        assert_eq!(parse_action(Some("fail")).unwrap(), Signal::Fail(None));
        assert_eq!(parse_action(Some("0")).unwrap(), Signal::Success);
        assert_eq!(parse_action(Some("3")).unwrap(), Signal::Fail(Some(3)));
        assert!(parse_action(Some("256")).is_err());
        assert_eq!(parse_action(Some("log")).unwrap(), Signal::Log);
        assert!(parse_action(Some("logs")).is_err());
    }
}
