//! The toast that tells a person when the run they started (or cancelled) from the
//! dashboard has ended.

use leptos::prelude::*;

use super::format::duration;
use super::state::Live;
use crate::model::{ExecutionStatus, ExecutionSummary};

/// The URL parameter naming the run that Run now started or Cancel run ended (both
/// lead back to the page with `run=ID`).
pub const RUN_PARAM: &str = "run";

/// Says how run `run` ended, once it has, until dismissed. The run is read from the
/// executions table, which the forms lead back to filtered on its job and which follows
/// the live stream; a run that ended before the page loaded is told at once. The area
/// is always there, so screen readers announce what appears in it.
#[component]
pub fn RunToast(live: Live, run: Option<String>) -> impl IntoView {
    let dismissed = RwSignal::new(false);
    let ended = move || {
        let run = run.as_deref().filter(|_| !dismissed.get())?;
        live.executions.with(|rows| {
            rows.iter()
                .find(|e| e.status != ExecutionStatus::Running && e.id.to_string() == run)
                .map(|e| (e.status, ended_text(e)))
        })
    };
    view! {
        <div class="toast-area" role="status">
            {move || ended().map(|(status, text)| view! {
                <div class=format!("toast status-{}", status.as_str())>
                    <span>{text}</span>
                    <button type="button" aria-label="Dismiss" on:click=move |_| dismissed.set(true)>"×"</button>
                </div>
            })}
        </div>
    }
}

/// "The run of JOB completed in 4.2 s." (or how it failed).
pub fn ended_text(e: &ExecutionSummary) -> String {
    let took = duration(e.duration_ms);
    let job = &e.job;
    match (e.status, &e.error_message) {
        (ExecutionStatus::Completed, _) => format!("The run of {job} completed in {took}."),
        (status, Some(why)) => {
            format!(
                "The run of {job} ended {} after {took}: {why}",
                status.as_str()
            )
        }
        (status, None) => format!("The run of {job} ended {} after {took}.", status.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toast_says_how_the_run_ended() {
        let mut run = ExecutionSummary::example("qa-quality-analysis", ExecutionStatus::Completed);
        run.duration_ms = Some(4_210);
        assert_eq!(
            ended_text(&run),
            "The run of qa-quality-analysis completed in 4.2 s."
        );
        run.status = ExecutionStatus::Failed;
        run.error_message = Some("the URL answered HTTP 503 Service Unavailable".into());
        assert_eq!(
            ended_text(&run),
            "The run of qa-quality-analysis ended failed after 4.2 s: the URL answered HTTP 503 \
             Service Unavailable"
        );
        run.status = ExecutionStatus::TimedOut;
        run.error_message = None;
        assert_eq!(
            ended_text(&run),
            "The run of qa-quality-analysis ended timed_out after 4.2 s."
        );
    }
}
