//! Cancelling a run cronwatch started: the run ends as `cancelled` (audited). For an
//! `http` job, the replica making its call drops it, closing the connection, which is
//! all a caller can do to stop a URL's work; another replica learns of it through the
//! change events. For a `command` job, the heartbeat its agent holds open on any
//! replica is answered at the cancel's change event, and the agent kills the command.

use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use app::db::audit;
use app::db::executions::{self, Completion, Report};
use app::error::ApiError;
use app::model::{ChangeEvent, ExecutionStatus, ExecutionSummary, JobKind};
use app::state::AppState;

/// Ends running execution `id` of an `http` or `command` job as cancelled by `who`: 404 for no such
/// run, 409 for one that has ended or that its job reports itself (cronwatch did not
/// start it and cannot stop it).
pub async fn cancel(state: &AppState, who: &str, id: Uuid) -> Result<ExecutionSummary, ApiError> {
    let mut tx = state.pool.begin().await?;
    let run: Option<(String, String, String)> = sqlx::query_as(
        "select j.name, j.kind, e.status from executions e join jobs j on j.id = e.job_id
          where e.id = $1 for update of e",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (job, kind, status) =
        run.ok_or_else(|| ApiError::NotFound(format!("execution {id} not found")))?;
    if JobKind::parse(&kind) == Some(JobKind::External) {
        return Err(ApiError::Conflict(format!(
            "execution {id} is a run of {job:?}, which reports its own runs: cronwatch did not \
             start it and cannot stop it"
        )));
    }
    if status != ExecutionStatus::Running.as_str() {
        return Err(ApiError::Conflict(format!(
            "execution {id} already ended as {status}"
        )));
    }
    let why = format!("cancelled by {who}");
    let report = Report::Complete(
        id,
        Completion::by_cronwatch(ExecutionStatus::Cancelled, &why),
    );
    let ended = executions::apply_one(&mut *tx, report)
        .await?
        .execution
        .summary;
    let details = serde_json::json!({ "execution_id": id });
    audit::record(&mut *tx, who, "execution.cancel", Some(&job), None, details).await?;
    tx.commit().await?;
    state.calls.stop(id);
    Ok(ended)
}

/// Stops this replica's calls of runs cancelled anywhere, as their change events arrive.
/// (A stop missed because the stream lagged leaves that call to end at its timeout; its
/// answer is then refused, the run having ended.)
pub async fn stop_cancelled_calls(state: AppState) {
    let mut events = state.hub.subscribe();
    loop {
        match events.recv().await {
            Ok(ev) => {
                if let ChangeEvent::Execution(e) = &ev.event {
                    if e.status == ExecutionStatus::Cancelled {
                        state.calls.stop(e.id);
                    }
                }
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
