//! `POST /api/v1/jobs/{name}/run`: an admin runs an `http` job now. Answers 202 with
//! the started run at once; the call is made in the background and its end arrives
//! like any other (live pages see it flip). Refused while the job is running (409,
//! naming the run) and beyond 1 run a job per 30 s or 10 runs a minute in all (429):
//! counted from the runs recorded, so the limits hold across replicas and restarts.
//! Audited as `job.run`. The dashboard's Run now button posts the same as a form.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use html_escape::{encode_double_quoted_attribute, encode_text};
use sqlx::PgConnection;

use app::db::{audit, tokens::Scope};
use app::error::ApiError;
use app::model::{job_row_anchor, ExecutionSummary, Trigger};
use app::pages::dashboard::RUN_PARAM;
use app::state::AppState;
use app::validate::encode_query_value;

use super::caller::Caller;
use crate::locks;
use crate::runner::{self, RunSpec};

/// Seconds between two manual runs of one job.
const PER_JOB_SECS: i64 = 30;
/// Manual runs in all per minute.
const PER_MINUTE: i64 = 10;

pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let execution = start(&state, &caller, &name).await?;
    Ok((StatusCode::ACCEPTED, Json(execution)).into_response())
}

/// `POST /monitoring/jobs/{name}/run`: the dashboard's Run now button, a plain form.
/// Back to the page at the job's row, its executions listed, where the run shows live
/// (and a toast says when it has ended);
/// a refusal is a short page saying why, with the way back.
pub async fn run_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Response {
    form_answer(&name, "was not run", start(&state, &caller, &name).await)
}

/// A dashboard form's answer: back to the page at job `name`'s row, its executions
/// listed, naming the run (a toast says when it has ended); or the refusal page.
pub fn form_answer(
    name: &str,
    refused: &str,
    result: Result<ExecutionSummary, ApiError>,
) -> Response {
    let back = |run: Option<&ExecutionSummary>| {
        let run = run.map_or(String::new(), |r| format!("&{RUN_PARAM}={}", r.id));
        format!(
            "/monitoring?tab=crons&job={}{run}#{}",
            encode_query_value(name),
            job_row_anchor(name)
        )
    };
    match result {
        Ok(run) => Redirect::to(&back(Some(&run))).into_response(),
        Err(e) => refusal_page(name, refused, &e, &back(None)),
    }
}

/// Starts a run of job `name` for an admin, audited, and has its call made.
async fn start(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<ExecutionSummary, ApiError> {
    let who = caller.require(Scope::Admin)?;
    let mut tx = state.pool.begin().await?;
    let (job, how) = runner::lock_runnable(&mut tx, name).await?;
    check_limits(&mut tx, name).await?;
    let spec = RunSpec {
        trigger: Trigger::Manual,
        triggered_by: who.clone(),
        scheduled_for: None,
        run_key: None,
        attempt: 1,
    };
    let started = runner::start(&mut tx, job, how, spec)
        .await?
        .ok_or_else(|| ApiError::Internal("a run without a run key was a repeat".into()))?;
    let execution = started.execution.clone();
    let details = serde_json::json!({ "execution_id": execution.id });
    audit::record(&mut *tx, &who, "job.run", Some(name), None, details).await?;
    tx.commit().await?;
    started.launch(state);
    Ok(execution)
}

/// The page a refused form post gets ("NAME was not run"), with the refusal's status
/// (and Retry-After).
fn refusal_page(name: &str, refused: &str, e: &ApiError, back: &str) -> Response {
    let shown = match e {
        // Details of these are for the log, not the page.
        ApiError::Internal(_) | ApiError::Unavailable(_) => {
            tracing::warn!(error = %e, job = name, "dashboard form failed");
            "cronwatch could not do it; try again in a moment.".to_string()
        }
        e => e.to_string(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Refused · cronwatch</title><link rel=\"stylesheet\" href=\"/pkg/cronwatch.css\">\
         </head><body><main class=\"refusal\"><h1>{} {}</h1><p>{}</p>\
         <p><a href=\"{}\">Back to the dashboard</a></p></main></body></html>",
        encode_text(name),
        encode_text(refused),
        encode_text(&shown),
        encode_double_quoted_attribute(back)
    );
    let mut resp = (
        StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Html(html),
    )
        .into_response();
    // Nothing on it runs or loads but the style sheet.
    resp.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'"),
    );
    if let ApiError::RateLimited {
        retry_after_secs, ..
    } = e
    {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    resp
}

/// 429 with the seconds to wait, if a manual run now would exceed a limit.
async fn check_limits(tx: &mut PgConnection, name: &str) -> Result<(), ApiError> {
    // Requests on every replica count one at a time.
    locks::lock(&mut *tx, locks::RUN_NOW).await?;
    // Seconds until the job's latest manual run and the minute's oldest fall out of
    // their windows (null when under the limit).
    let (job_wait, all_wait): (Option<f64>, Option<f64>) = sqlx::query_as(
        "select
           (select extract(epoch from max(e.started_at) + make_interval(secs => $2) - now())
              from executions e join jobs j on j.id = e.job_id
             where j.name = $1 and e.trigger = 'manual' and j.kind = 'http'
               and e.started_at > now() - make_interval(secs => $2))::float8,
           (select extract(epoch from min(started_at) + interval '1 minute' - now())
              from (select e.started_at from executions e join jobs j on j.id = e.job_id
                     where e.trigger = 'manual' and j.kind = 'http'
                       and e.started_at > now() - interval '1 minute'
                     order by e.started_at desc limit $3) recent
            having count(*) >= $3)::float8",
    )
    .bind(name)
    .bind(PER_JOB_SECS as f64)
    .bind(PER_MINUTE)
    .fetch_one(&mut *tx)
    .await?;
    let refusal = match (job_wait, all_wait) {
        (Some(secs), _) => Some((
            secs,
            format!("job {name:?} was run by hand less than {PER_JOB_SECS} s ago"),
        )),
        (None, Some(secs)) => Some((
            secs,
            format!("{PER_MINUTE} jobs were run by hand in the last minute"),
        )),
        (None, None) => None,
    };
    if let Some((secs, why)) = refusal {
        let wait = secs.ceil().max(1.0) as u64;
        return Err(ApiError::RateLimited {
            message: format!("{why}: try again in {wait} s"),
            retry_after_secs: wait,
        });
    }
    Ok(())
}
