//! How the dashboard's plain HTML forms are answered: back to the page on success, a
//! short page saying why on refusal. They work without the page's script, and are
//! checked by the same code as the API (same-origin POSTs only: see `auth::same_origin`).

use axum::http::header::{CONTENT_SECURITY_POLICY, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use html_escape::{encode_double_quoted_attribute, encode_text};

use app::error::ApiError;
use app::model::{job_row_anchor, ExecutionSummary};
use app::pages::dashboard::RUN_PARAM;
use app::validate::encode_query_value;

/// What the pages cronwatch serves outside the app may load and do: its style sheet,
/// and forms posted to itself.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'";

/// The dashboard at job `name`'s row, its executions listed; naming `run`, whose end a
/// toast then announces.
pub fn dashboard_at(name: &str, run: Option<&ExecutionSummary>) -> String {
    let run = run.map_or(String::new(), |r| format!("&{RUN_PARAM}={}", r.id));
    format!(
        "/monitoring?tab=crons&job={}{run}#{}",
        encode_query_value(name),
        job_row_anchor(name)
    )
}

/// A dashboard form's answer: back to the page at job `name`'s row, naming the run; or
/// the refusal page ("NAME was not run").
pub fn form_answer(
    name: &str,
    refused: &str,
    result: Result<ExecutionSummary, ApiError>,
) -> Response {
    match result {
        Ok(run) => Redirect::to(&dashboard_at(name, Some(&run))).into_response(),
        Err(e) => refusal_page(
            name,
            refused,
            &e,
            (&dashboard_at(name, None), "the dashboard"),
        ),
    }
}

/// A page of cronwatch's own (no app, no script) with `body` as its main content.
pub fn plain_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · cronwatch</title><link rel=\"stylesheet\" href=\"/pkg/cronwatch.css\">\
         </head><body>{body}</body></html>",
        encode_text(title)
    );
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    resp
}

/// The page a refused form post gets ("NAME was not run"), with the refusal's status
/// (and Retry-After), and the way back: `(url, "the dashboard")`.
pub fn refusal_page(name: &str, refused: &str, e: &ApiError, back: (&str, &str)) -> Response {
    let shown = match e {
        // Details of these are for the log, not the page.
        ApiError::Internal(_) | ApiError::Unavailable(_) => {
            tracing::warn!(error = %e, job = name, "dashboard form failed");
            "cronwatch could not do it; try again in a moment.".to_string()
        }
        e => e.to_string(),
    };
    let body = format!(
        "<main class=\"refusal\"><h1>{} {}</h1><p>{}</p>\
         <p><a href=\"{}\">Back to {}</a></p></main>",
        encode_text(name),
        encode_text(refused),
        encode_text(&shown),
        encode_double_quoted_attribute(back.0),
        encode_text(back.1)
    );
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = plain_page(status, "Refused", &body);
    if let ApiError::RateLimited {
        retry_after_secs, ..
    } = e
    {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    resp
}
