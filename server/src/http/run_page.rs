//! The dashboard's run form, for admins: `GET /monitoring/jobs/{name}/run` is a page of
//! its own (plain HTML, no script: it costs the live page nothing) with a field for
//! each parameter the job declares and an optional time, and the runs planned for the
//! job with a button to cancel each. It posts to `POST /monitoring/jobs/{name}/run`,
//! which the Run now button of the dashboard also posts to (with no field: now, with
//! the defaults). Everything goes through the same code as the API (`run_now::ask`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use uuid::Uuid;

use app::db::planned_runs::{self, PlannedRun};
use app::db::{audit, jobs, tokens::Scope};
use app::error::ApiError;
use app::model::Job;
use app::params::{self, ParamSpec, ParamType, Params};
use app::state::AppState;
use app::validate::encode_query_value;

use super::caller::Caller;
use super::forms::{dashboard_at, form_answer, plain_page, refusal_page};
use super::planned::plan_id;
use super::run_now::{ask, Asked, RunRequest};
use crate::runner;

/// The form field of parameter `name` is `param.NAME`; the time is `at`.
const PARAM_FIELD: &str = "param.";
const AT_FIELD: &str = "at";

/// The run page of job `name`.
pub fn page_url(name: &str) -> String {
    format!("/monitoring/jobs/{}/run", encode_query_value(name))
}

/// `GET /monitoring/jobs/{name}/run`: the form, for admins.
pub async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Response {
    let shown = async {
        caller.require(Scope::Admin)?;
        let mut conn = state.pool.acquire().await?;
        let job = jobs::get(&mut conn, &name).await?;
        drop(conn);
        // A job cronwatch cannot start gets no form that can only fail.
        runner::how_to_run(&job)?;
        let plans = planned_runs::list(&state.pool, Some(&name)).await?;
        Ok::<_, ApiError>((job, plans))
    };
    match shown.await {
        Ok((job, plans)) => plain_page(StatusCode::OK, &job.display_name, &render(&job, &plans)),
        Err(e) => refusal_page(
            &name,
            "cannot be run from here",
            &e,
            (&dashboard_at(&name, None), "the dashboard"),
        ),
    }
}

/// `POST /monitoring/jobs/{name}/run`: runs the job now, or plans it, with the form's
/// values. Back to the dashboard at the run, or to this page listing the plan.
pub async fn run_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    // The page's form always sends `at`; the dashboard's button sends nothing.
    let from_page = fields.iter().any(|(k, _)| k == AT_FIELD);
    let result = async {
        let who = caller.require(Scope::Admin)?;
        let request = if fields.is_empty() {
            RunRequest::default()
        } else {
            let mut conn = state.pool.acquire().await?;
            let job = jobs::get(&mut conn, &name).await?;
            read_form(&job, &fields).map_err(ApiError::Invalid)?
        };
        ask(&state, &who, &name, request).await
    };
    match (result.await, from_page) {
        (Ok(Asked::Planned(plan)), _) => {
            Redirect::to(&format!("{}#plan-{}", page_url(&name), plan.id)).into_response()
        }
        (Ok(Asked::Ran(run)), _) => form_answer(&name, "was not run", Ok(run)),
        // Values to fix (the dashboard's button gives none): the form is where to.
        (Err(e @ ApiError::Invalid(_)), _) | (Err(e), true) => {
            refusal_page(&name, "was not run", &e, (&page_url(&name), "the form"))
        }
        (Err(e), false) => form_answer(&name, "was not run", Err(e)),
    }
}

/// `POST /monitoring/planned-runs/{id}/cancel`: cancels a planned run (audited as
/// `job.plan.cancel`); back to its job's run page.
pub async fn cancel_plan_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let who = caller.require(Scope::Admin)?;
        cancel_plan(&state, &who, plan_id(&id)?).await
    };
    match result.await {
        Ok(plan) => Redirect::to(&format!("{}#planned", page_url(&plan.job))).into_response(),
        Err(e) => refusal_page(
            "the planned run",
            "was not cancelled",
            &e,
            ("/monitoring", "the dashboard"),
        ),
    }
}

/// Deletes planned run `id` for `who`, audited: what it was, or 404.
pub async fn cancel_plan(state: &AppState, who: &str, id: Uuid) -> Result<PlannedRun, ApiError> {
    let mut tx = state.pool.begin().await?;
    let plan = planned_runs::remove(&mut tx, id).await?;
    let details = serde_json::json!({ "planned_run_id": id, "run_at": plan.run_at });
    audit::record(
        &mut *tx,
        who,
        "job.plan.cancel",
        Some(&plan.job),
        None,
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(plan)
}

/// The request a posted form makes: each `param.NAME` typed as its declaration says (an
/// empty field takes the default), `at` read in the job's time zone.
fn read_form(job: &Job, fields: &[(String, String)]) -> Result<RunRequest, String> {
    let mut given = Params::new();
    let mut at = None;
    for (key, value) in fields {
        if key == AT_FIELD {
            at = read_time(value, &job.timezone)?;
        } else if let Some(name) = key.strip_prefix(PARAM_FIELD) {
            let spec = job
                .params
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| format!("this job declares no parameter {name:?}"))?;
            if let Some(v) = params::from_text(spec, value)? {
                given.insert(name.to_string(), v);
            }
        } else {
            return Err(format!("unexpected field {key:?}"));
        }
    }
    Ok(RunRequest { params: given, at })
}

/// A `datetime-local` field's value (`2026-11-28T03:00`, seconds optional) as a time
/// in zone `tz`; empty is none (now). A time the clocks skip is refused; one they pass
/// twice is the first.
fn read_time(value: &str, tz: &str) -> Result<Option<DateTime<Utc>>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| format!("at: {value:?} is not a date and time (YYYY-MM-DDTHH:MM)"))?;
    let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| format!("at: {value} does not exist in {tz} (the clocks skip it)"))
}

/// The page's main content.
fn render(job: &Job, plans: &[PlannedRun]) -> String {
    let name = &job.name;
    let mut html = format!(
        "<main class=\"run-page\"><p><a href=\"{back}\">← Back to the dashboard</a></p>\
         <h1>Run {title}</h1>{description}\
         <form method=\"post\" action=\"{action}\" class=\"run-form\">",
        back = attr(&dashboard_at(name, None)),
        title = text(&job.display_name),
        description = if job.description.is_empty() {
            String::new()
        } else {
            format!("<p>{}</p>", text(&job.description))
        },
        action = attr(&page_url(name)),
    );
    if job.params.is_empty() {
        html.push_str("<p class=\"muted\">This job declares no parameters.</p>");
    }
    for spec in &job.params {
        html.push_str(&param_field(spec));
    }
    html.push_str(&format!(
        "<label>When <input type=\"datetime-local\" name=\"{AT_FIELD}\" step=\"1\">\
         <small>In {zone}. Leave it empty to run the job now.</small></label>\
         <button type=\"submit\">Run</button></form>",
        zone = text(&job.timezone)
    ));
    html.push_str(&planned_list(job, plans));
    html.push_str("</main>");
    html
}

/// One parameter's field: a list for choices and booleans, a number or text box else.
fn param_field(spec: &ParamSpec) -> String {
    let field = format!("{PARAM_FIELD}{}", spec.name);
    let default = spec.default.as_ref().map(params::as_text);
    // A value must be given: the browser asks for one before posting.
    let required = if spec.required && default.is_none() {
        " required"
    } else {
        ""
    };
    let options = |values: Vec<String>| {
        let first = match &default {
            Some(d) => format!("default: {}", text(d)),
            None if spec.required => "(choose one)".to_string(),
            None => "(none)".to_string(),
        };
        let mut html = format!("<option value=\"\">{first}</option>");
        for v in values {
            html.push_str(&format!("<option>{}</option>", text(&v)));
        }
        html
    };
    let input = match spec.kind {
        ParamType::Boolean => format!(
            "<select name=\"{}\"{required}>{}</select>",
            attr(&field),
            options(vec!["true".into(), "false".into()])
        ),
        ParamType::String if !spec.choices.is_empty() => format!(
            "<select name=\"{}\"{required}>{}</select>",
            attr(&field),
            options(spec.choices.clone())
        ),
        kind => {
            let kind_attr = match kind {
                ParamType::Integer => "type=\"number\" step=\"1\"",
                ParamType::Number => "type=\"number\" step=\"any\"",
                _ => "type=\"text\"",
            };
            format!(
                "<input {kind_attr} name=\"{}\" placeholder=\"{}\"{required}>",
                attr(&field),
                attr(default.as_deref().unwrap_or("")),
            )
        }
    };
    format!(
        "<label><span><code>{}</code> <span class=\"muted\">{}{}</span></span>{input}{}</label>",
        text(&spec.name),
        spec.kind.as_str(),
        if spec.required { ", required" } else { "" },
        if spec.description.is_empty() {
            String::new()
        } else {
            format!("<small>{}</small>", text(&spec.description))
        }
    )
}

/// The job's planned runs, each with its Cancel button.
fn planned_list(job: &Job, plans: &[PlannedRun]) -> String {
    let mut html = "<h2 id=\"planned\">Planned runs</h2>".to_string();
    if plans.is_empty() {
        html.push_str("<p class=\"muted\">None.</p>");
        return html;
    }
    let zone: chrono_tz::Tz = job.timezone.parse().unwrap_or(chrono_tz::UTC);
    html.push_str(
        "<table class=\"planned\"><thead><tr><th>When</th><th>Parameters</th>\
         <th>Asked by</th><th></th></tr></thead><tbody>",
    );
    for plan in plans {
        let values = plan
            .params
            .as_ref()
            .map(|p| serde_json::Value::Object(p.clone()).to_string())
            .unwrap_or_default();
        html.push_str(&format!(
            "<tr id=\"plan-{id}\"><td>{when}</td><td><code>{values}</code></td><td>{by}</td>\
             <td><form method=\"post\" action=\"/monitoring/planned-runs/{id}/cancel\">\
             <button type=\"submit\" class=\"secondary\">Cancel</button></form></td></tr>",
            id = plan.id,
            when = plan
                .run_at
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S %Z"),
            values = text(&values),
            by = text(&plan.requested_by),
        ));
    }
    html.push_str("</tbody></table>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_read_in_the_jobs_zone() {
        let at = read_time("2026-07-01T09:30", "America/Montreal")
            .unwrap()
            .unwrap();
        assert_eq!(at.to_rfc3339(), "2026-07-01T13:30:00+00:00");
        assert_eq!(read_time(" ", "UTC"), Ok(None));
        assert!(read_time("2026-03-08T02:30", "America/Montreal")
            .unwrap_err()
            .contains("skip"));
        assert!(read_time("tomorrow", "UTC")
            .unwrap_err()
            .contains("not a date"));
    }
}
