//! Parameters and runs planned for later. A job declares its parameters; a run asked
//! for by an admin gets checked values (defaults filled in), which reach the URL an
//! http job calls, are kept with the run, and are given again to its retries. A run
//! planned for later (`at`) is started by the scheduler at its time with the values
//! given then, and can be listed and cancelled. Every refusal changes nothing.

use std::time::Duration;

use crate::common;
use crate::http_jobs::{http_job, spawn, url_job, Endpoint};

use chrono::{SecondsFormat, Utc};
use common::{error_code, snapshot, status_json, TestApp};
use serde_json::{json, Value};
use sqlx::PgPool;

use server::runner::scheduler::fire_due;

/// The parameters of the tests' `report` job.
fn report_params() -> Value {
    json!([
        { "name": "month", "description": "YYYY-MM", "required": true },
        { "name": "limit", "type": "integer", "default": 100 },
        { "name": "dry_run", "type": "boolean" },
        { "name": "mode", "choices": ["full", "quick"], "default": "full" }
    ])
}

/// `POST /api/v1/jobs/{name}/run` with `body` (raw) and `token`: status and answer.
async fn ask(app: &TestApp, name: &str, token: &str, body: &str) -> (u16, Value) {
    let resp = app
        .post_raw(
            &format!("/api/v1/jobs/{name}/run"),
            Some(token),
            body.to_string(),
        )
        .await;
    status_json(resp).await
}

/// An RFC 3339 time `secs` from now.
fn in_secs(secs: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn audit_details(pool: &PgPool, action: &str) -> Vec<Value> {
    sqlx::query_scalar("select details from audit_events where action = $1 order by id")
        .bind(action)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn declared_parameters_are_checked_and_reach_the_call_and_its_retries(pool: PgPool) {
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    let definition = json!({ "http": { "url": format!("{base}/fails-once"), "retries": 1,
                                       "retry_backoff_ms": 1000 },
                             "params": report_params() });
    http_job(&app, "report", definition.clone()).await;
    let (_, job) = app.get("/api/v1/jobs/report", &app.read).await;
    let mut shown = report_params();
    for spec in shown.as_array_mut().unwrap() {
        // Strings are the default type, which the API always states.
        spec.as_object_mut()
            .unwrap()
            .entry("type")
            .or_insert(json!("string"));
    }
    assert_eq!(job["params"], shown);

    // Declarations that cannot work are refused, each saying what to fix.
    let before = snapshot(&pool).await;
    let bad_definitions = [
        (
            json!({ "params": [{ "name": "x" }] }),
            "are for jobs cronwatch runs",
        ),
        (
            json!({ "kind": "http", "http": { "url": base }, "schedule": "0 * * * *",
                 "params": [{ "name": "month", "required": true }] }),
            "give it a default",
        ),
        (
            json!({ "kind": "http", "http": { "url": base },
                 "params": [{ "name": "Month" }] }),
            "is invalid",
        ),
        (
            json!({ "kind": "http", "http": { "url": base },
                 "params": [{ "name": "n", "type": "integer", "default": "ten" }] }),
            "\"ten\" is not an integer",
        ),
        (
            json!({ "kind": "http", "http": { "url": base },
                 "params": [{ "name": "n", "type": "date" }] }),
            "invalid body",
        ),
    ];
    for (def, says) in bad_definitions {
        app.refused_definition("other", &def, says).await;
    }

    // Runs asked with values that do not fit are refused before anything starts.
    let refusals = [
        ("", 422, "params.month is required"),
        (
            "{\"params\": {\"month\": \"2026-10\", \"limit\": \"ten\"}}",
            422,
            "is not an integer",
        ),
        (
            "{\"params\": {\"month\": \"2026-10\", \"mode\": \"slow\"}}",
            422,
            "not one of full, quick",
        ),
        (
            "{\"params\": {\"month\": \"2026-10\", \"size\": 1}}",
            422,
            "declares no parameter \"size\"",
        ),
        (
            "{\"param\": {\"month\": \"2026-10\"}}",
            422,
            "unknown field",
        ),
        ("{\"params\": [\"2026-10\"]}", 422, "invalid body"),
        ("{\"params\": {\"month\": ", 400, "malformed JSON"),
    ];
    for (body, status, says) in refusals {
        let (got, answer) = ask(&app, "report", &app.admin, body).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    // The caller is checked first: a reader learns nothing from how a body is refused.
    let (got, answer) = ask(&app, "report", &app.read, "{\"params\": {").await;
    assert_eq!((got, error_code(&answer).as_str()), (403, "forbidden"));
    assert_eq!(snapshot(&pool).await, before, "refusals change nothing");
    assert!(endpoint.calls().is_empty());

    // A fitting run: the call carries the values with the defaults filled in; the run
    // keeps them; the audit says who gave which.
    let body = json!({ "params": { "month": "2026-10", "dry_run": true } }).to_string();
    let (status, run) = ask(&app, "report", &app.admin, &body).await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().unwrap();
    let first = app.ended(id).await;
    assert_eq!(first["status"], "failed", "fails-once fails its first call");
    let want = json!({ "month": "2026-10", "limit": 100, "dry_run": true, "mode": "full" });
    assert_eq!(first["params"], want);
    let calls = endpoint.calls();
    assert_eq!(calls[0].body["params"], want);
    assert_eq!(calls[0].body["attempt"], 1);
    assert_eq!(
        audit_details(&pool, "job.run").await,
        vec![json!({ "execution_id": id, "params": want })]
    );

    // Its retry is given the same values.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while endpoint.calls().len() < 2 && std::time::Instant::now() < until {
        fire_due(&app.state).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = endpoint.calls();
    assert_eq!(calls.len(), 2, "one retry");
    assert_eq!(
        (
            calls[1].body["attempt"].clone(),
            calls[1].body["params"].clone()
        ),
        (json!(2), want.clone())
    );
    let retry: String = sqlx::query_scalar(
        "select id::text from executions where attempt = 2 and params = $1::jsonb",
    )
    .bind(&want)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(app.ended(&retry).await["status"], "completed");

    // A job without parameters is called with an empty object, and refuses values.
    url_job(&app, "plain", &format!("{base}/ok")).await;
    let (status, answer) = ask(&app, "plain", &app.admin, "{\"params\": {\"x\": 1}}").await;
    assert_eq!(status, 422, "{answer}");
    let (status, run) = ask(&app, "plain", &app.admin, "").await;
    assert_eq!(status, 202, "{run}");
    let plain = app.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(plain["params"], Value::Null);
    assert_eq!(endpoint.calls()[2].body["params"], json!({}));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_planned_for_later_starts_at_its_time_with_its_values(pool: PgPool) {
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    let url = format!("{base}/ok");
    http_job(
        &app,
        "report",
        json!({ "http": { "url": url }, "params": report_params() }),
    )
    .await;
    assert_eq!(app.put_job("reported", &json!({})).await, 201);

    // Refusals first: none plans anything.
    let before = snapshot(&pool).await;
    let month = json!({ "month": "2026-11" });
    let refusals = [
        (
            "report",
            json!({ "params": month, "at": in_secs(-60) }),
            422,
            "not in the future",
        ),
        (
            "report",
            json!({ "params": month, "at": in_secs(400 * 86_400) }),
            422,
            "366 days",
        ),
        (
            "report",
            json!({ "params": month, "at": "tomorrow" }),
            422,
            "invalid body",
        ),
        (
            "report",
            json!({ "at": in_secs(60) }),
            422,
            "params.month is required",
        ),
        (
            "reported",
            json!({ "at": in_secs(60) }),
            409,
            "reports its own runs",
        ),
        (
            "nothing",
            json!({ "at": in_secs(60) }),
            404,
            "no job is called",
        ),
    ];
    for (job, body, status, says) in refusals {
        let (got, answer) = ask(&app, job, &app.admin, &body.to_string()).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    let body = json!({ "params": month, "at": in_secs(60) }).to_string();
    assert_eq!(ask(&app, "report", &app.read, &body).await.0, 403);
    assert_eq!(snapshot(&pool).await, before, "refusals change nothing");

    // Planned: 201 with where it lives; listed; readable; nothing runs before its time.
    let run_at = in_secs(2);
    let body = json!({ "params": month, "at": run_at }).to_string();
    let resp = app
        .post_raw("/api/v1/jobs/report/run", Some(&app.admin), body)
        .await;
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let (status, plan) = status_json(resp).await;
    assert_eq!(status, 201, "{plan}");
    let want = json!({ "month": "2026-11", "limit": 100, "mode": "full" });
    assert_eq!(plan["params"], want);
    assert_eq!(plan["requested_by"], "token:admin-test");
    assert_eq!(
        location,
        format!("/api/v1/planned-runs/{}", plan["id"].as_str().unwrap())
    );
    assert_eq!(app.get(&location, &app.read).await, (200, plan.clone()));
    let (status, listed) = app.get("/api/v1/planned-runs?job=report", &app.read).await;
    assert_eq!((status, listed), (200, json!([plan.clone()])));
    assert!(fire_due(&app.state).await.unwrap().is_empty(), "not yet");

    // A second plan, cancelled: gone, audited, and cancelling again is 404.
    let later = json!({ "params": month, "at": in_secs(3600) }).to_string();
    let (_, other) = ask(&app, "report", &app.admin, &later).await;
    let other_url = format!("/api/v1/planned-runs/{}", other["id"].as_str().unwrap());
    assert_eq!(
        app.admin_send(reqwest::Method::DELETE, &other_url, &json!(null))
            .await,
        200
    );
    assert_eq!(
        app.admin_send(reqwest::Method::DELETE, &other_url, &json!(null))
            .await,
        404
    );
    assert_eq!(app.get(&other_url, &app.read).await.0, 404);
    assert_eq!(
        app.get("/api/v1/planned-runs/not-an-id", &app.read).await.0,
        404
    );
    assert_eq!(
        app.get("/api/v1/planned-runs?job=Bad!", &app.read).await.0,
        422
    );
    let resp = app
        .client
        .delete(app.url(&location))
        .bearer_auth(&app.read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "readers cannot cancel");
    assert_eq!(audit_details(&pool, "job.plan").await.len(), 2);
    assert_eq!(
        audit_details(&pool, "job.plan.cancel").await[0]["planned_run_id"],
        other["id"]
    );

    // At its time the scheduler starts it once, as asked by whoever planned it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let started = fire_due(&app.state).await.unwrap();
    assert_eq!(started.len(), 1);
    assert!(
        fire_due(&app.state).await.unwrap().is_empty(),
        "started once"
    );
    let run = app.ended(&started[0].to_string()).await;
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["triggered_by"], "token:admin-test");
    assert_eq!(run["params"], want);
    let scheduled_for =
        chrono::DateTime::parse_from_rfc3339(run["scheduled_for"].as_str().unwrap()).unwrap();
    let planned_for = chrono::DateTime::parse_from_rfc3339(&run_at).unwrap();
    assert_eq!(scheduled_for, planned_for);
    assert_eq!(endpoint.calls()[0].body["params"], want);
    assert_eq!(
        app.get("/api/v1/planned-runs", &app.read).await,
        (200, json!([]))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_planned_run_waits_while_its_job_runs_or_is_paused_and_is_dropped_with_it(pool: PgPool) {
    let app = spawn(&pool).await;
    let (_endpoint, base) = Endpoint::start().await;
    url_job(&app, "slow", &format!("{base}/slow")).await;
    url_job(&app, "doomed", &format!("{base}/ok")).await;
    let (status, running) = ask(&app, "slow", &app.admin, "").await;
    assert_eq!(status, 202, "{running}");
    // Planning while it runs is fine; its time comes while the call (3 s) is under way.
    let body = json!({ "at": in_secs(1) }).to_string();
    assert_eq!(ask(&app, "slow", &app.admin, &body).await.0, 201);
    assert_eq!(ask(&app, "doomed", &app.admin, &body).await.0, 201);
    // A paused job's plan waits for it to be resumed.
    url_job(&app, "paused", &format!("{base}/ok")).await;
    assert_eq!(ask(&app, "paused", &app.admin, &body).await.0, 201);
    let pause = app
        .admin_send(
            reqwest::Method::POST,
            "/api/v1/jobs/paused/pause",
            &json!({}),
        )
        .await;
    assert_eq!(pause, 200);
    // The job becomes one that reports itself: its plan cannot be carried out.
    assert_eq!(app.put_job("doomed", &json!({})).await, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        fire_due(&app.state).await.unwrap().is_empty(),
        "slow is still running"
    );
    let (_, plans) = app.get("/api/v1/planned-runs", &app.read).await;
    let mut jobs: Vec<&str> = plans
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["job"].as_str().unwrap())
        .collect();
    jobs.sort();
    assert_eq!(
        jobs,
        ["paused", "slow"],
        "doomed's plan is dropped, the others wait"
    );
    let dropped = audit_details(&pool, "job.plan.drop").await;
    assert!(
        dropped[0]["why"]
            .as_str()
            .unwrap()
            .contains("reports its own runs"),
        "{dropped:?}"
    );
    app.ended(running["id"].as_str().unwrap()).await;
    let started = fire_due(&app.state).await.unwrap();
    assert_eq!(started.len(), 1, "started once the run under way has ended");
    let resume = app
        .admin_send(
            reqwest::Method::POST,
            "/api/v1/jobs/paused/resume",
            &json!({}),
        )
        .await;
    assert_eq!(resume, 200);
    let started = fire_due(&app.state).await.unwrap();
    assert_eq!(started.len(), 1, "started once its job is resumed");
    let run = app.ended(&started[0].to_string()).await;
    assert_eq!(run["job"], "paused");
    assert_eq!(
        app.get("/api/v1/planned-runs", &app.read).await,
        (200, json!([]))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_planned_runs_values_are_checked_again_when_it_starts(pool: PgPool) {
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    let limit = json!([{ "name": "limit", "type": "integer", "default": 100 }]);
    for job in ["drifted", "grown"] {
        let def = json!({ "http": { "url": format!("{base}/ok") }, "params": limit });
        http_job(&app, job, def).await;
        let body = json!({ "at": in_secs(1), "params": { "limit": 5 } }).to_string();
        assert_eq!(ask(&app, job, &app.admin, &body).await.0, 201);
    }
    // Redefined before their time: "limit" is now a word, or a new parameter came.
    let words = json!([{ "name": "limit", "choices": ["all", "some"] }]);
    let def = json!({ "kind": "http", "http": { "url": format!("{base}/ok") }, "params": words });
    assert_eq!(app.put_job("drifted", &def).await, 200);
    let mut more = limit.clone();
    more.as_array_mut()
        .unwrap()
        .push(json!({ "name": "mode", "default": "fast" }));
    let def = json!({ "kind": "http", "http": { "url": format!("{base}/ok") }, "params": more });
    assert_eq!(app.put_job("grown", &def).await, 200);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = fire_due(&app.state).await.unwrap();
    assert_eq!(
        started.len(),
        1,
        "only the plan whose values still fit starts"
    );
    let run = app.ended(&started[0].to_string()).await;
    let want = json!({ "limit": 5, "mode": "fast" });
    assert_eq!((&run["job"], &run["params"]), (&json!("grown"), &want));
    assert_eq!(endpoint.calls()[0].body["params"], want);
    let dropped = audit_details(&pool, "job.plan.drop").await;
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    let why = dropped[0]["why"].as_str().unwrap();
    assert!(
        why.starts_with("its values no longer fit the job's parameters: ") && why.contains("limit"),
        "{why}"
    );
    assert_eq!(
        app.get("/api/v1/planned-runs", &app.read).await,
        (200, json!([]))
    );
}

/// A form post of signed-in `browser` from the site's own pages.
async fn post_fields(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    browser
        .post(app.url(path))
        .header("origin", &app.base)
        .form(fields)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_run_page_offers_each_parameter_and_a_time_to_admins_only(pool: PgPool) {
    use app::model::Role;
    let app = spawn(&pool).await;
    let (endpoint, base) = Endpoint::start().await;
    let mut params = report_params();
    params[0]["description"] = json!("<b>YYYY-MM</b>");
    let definition = json!({ "http": { "url": format!("{base}/ok") }, "params": params,
                             "description": "<script>alert(1)</script>",
                             "timezone": "America/Montreal" });
    http_job(&app, "report", definition).await;
    let page_path = "/monitoring/jobs/report/run";

    // Signed out: to the sign-in page and back. A viewer: refused.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = anonymous.get(app.url(page_path)).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/login?next=/monitoring/jobs/report/run"
    );
    let viewer = common::signed_in(&app, &pool, "vic", Role::Viewer).await;
    let resp = viewer.get(app.url(page_path)).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("report cannot be run from here"));

    // An admin's page: a field per parameter as its type says, the time in the job's
    // zone, everything typed by people escaped, and nothing loaded but the style sheet.
    let admin = common::signed_in(&app, &pool, "ann", Role::Admin).await;
    let resp = admin.get(app.url(page_path)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-security-policy"],
        "default-src 'none'; style-src 'self'; form-action 'self'"
    );
    let page = resp.text().await.unwrap();
    for part in [
        "<input type=\"text\" name=\"param.month\" placeholder=\"\" required>",
        "<input type=\"number\" step=\"1\" name=\"param.limit\" placeholder=\"100\">",
        "<select name=\"param.dry_run\"><option value=\"\">(none)</option><option>true</option><option>false</option></select>",
        "<select name=\"param.mode\"><option value=\"\">default: full</option><option>full</option><option>quick</option></select>",
        "<input type=\"datetime-local\" name=\"at\"",
        "In America/Montreal.",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&lt;b&gt;YYYY-MM&lt;/b&gt;",
        "<h2 id=\"planned\">Planned runs</h2><p class=\"muted\">None.</p>",
    ] {
        assert!(page.contains(part), "{part} in {page}");
    }
    assert!(
        !page.contains("<script>") && !page.contains("<b>"),
        "{page}"
    );

    // A job that reports itself has no run page.
    assert_eq!(app.put_job("reported", &json!({})).await, 201);
    let resp = admin
        .get(app.url("/monitoring/jobs/reported/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);

    // Refused forms change nothing: a bad value (back to the form), the dashboard's
    // button giving no value for a required one (also back to the form), a viewer, a
    // post from another site, a time that does not exist.
    let before = snapshot(&pool).await;
    let resp = app.post_form(&admin, page_path).await;
    assert_eq!(resp.status(), 422);
    let refusal = resp.text().await.unwrap();
    assert!(
        refusal.contains("params.month is required")
            && refusal.contains("href=\"/monitoring/jobs/report/run\">Back to the form"),
        "{refusal}"
    );
    let resp = post_fields(
        &app,
        &admin,
        page_path,
        &[
            ("param.month", "2026-12"),
            ("param.limit", "ten"),
            ("at", ""),
        ],
    )
    .await;
    assert_eq!(resp.status(), 422);
    let refusal = resp.text().await.unwrap();
    assert!(
        refusal.contains("limit: \"ten\" is not an integer"),
        "{refusal}"
    );
    assert!(
        refusal.contains("href=\"/monitoring/jobs/report/run\">Back to the form"),
        "{refusal}"
    );
    let spring_forward = [("param.month", "2026-12"), ("at", "2027-03-14T02:30")];
    assert_eq!(
        post_fields(&app, &admin, page_path, &spring_forward)
            .await
            .status(),
        422
    );
    let unknown = [("param.month", "2026-12"), ("param.size", "1"), ("at", "")];
    assert_eq!(
        post_fields(&app, &admin, page_path, &unknown)
            .await
            .status(),
        422
    );
    let fields = [("param.month", "2026-12"), ("at", "")];
    assert_eq!(
        post_fields(&app, &viewer, page_path, &fields)
            .await
            .status(),
        403
    );
    let cross = admin
        .post(app.url(page_path))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403, "no Origin: refused");
    assert_eq!(snapshot(&pool).await, before);

    // Now: back to the dashboard at the run, which got the typed values and defaults.
    let resp = post_fields(
        &app,
        &admin,
        page_path,
        &[
            ("param.month", "2026-12"),
            ("param.limit", ""),
            ("param.dry_run", "true"),
            ("at", ""),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let back = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        back.starts_with("/monitoring?tab=crons&job=report&run="),
        "{back}"
    );
    let id = back
        .split("run=")
        .nth(1)
        .unwrap()
        .split('#')
        .next()
        .unwrap();
    let run = app.ended(id).await;
    let want = json!({ "month": "2026-12", "limit": 100, "dry_run": true, "mode": "full" });
    assert_eq!(
        (run["params"].clone(), run["triggered_by"].clone()),
        (want.clone(), json!("user:ann"))
    );
    assert_eq!(endpoint.calls()[0].body["params"], want);

    // Later: planned in the job's zone, listed on the page with its Cancel button.
    let tomorrow = (Utc::now() + chrono::Duration::days(1))
        .with_timezone(&chrono_tz::America::Montreal)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let fields = [
        ("param.month", "2027-01"),
        ("param.mode", "quick"),
        ("at", tomorrow.as_str()),
    ];
    let resp = post_fields(&app, &admin, page_path, &fields).await;
    assert_eq!(resp.status(), 303);
    let (_, plans) = app.get("/api/v1/planned-runs", &app.read).await;
    let plan = &plans[0];
    let plan_id = plan["id"].as_str().unwrap();
    assert_eq!(
        resp.headers()["location"],
        format!("/monitoring/jobs/report/run#plan-{plan_id}").as_str()
    );
    let run_at = chrono::DateTime::parse_from_rfc3339(plan["run_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        run_at
            .with_timezone(&chrono_tz::America::Montreal)
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        tomorrow
    );
    assert_eq!(
        plan["params"],
        json!({ "month": "2027-01", "limit": 100, "mode": "quick" })
    );
    assert_eq!(plan["requested_by"], "user:ann");
    let page = admin
        .get(app.url(page_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cancel = format!("action=\"/monitoring/planned-runs/{plan_id}/cancel\"");
    assert!(
        page.contains(&format!("<tr id=\"plan-{plan_id}\">")) && page.contains(&cancel),
        "{page}"
    );

    // Its Cancel button: admins only; then it is gone.
    let cancel_path = format!("/monitoring/planned-runs/{plan_id}/cancel");
    assert_eq!(
        post_fields(&app, &viewer, &cancel_path, &[]).await.status(),
        403
    );
    let resp = post_fields(&app, &admin, &cancel_path, &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/monitoring/jobs/report/run#planned"
    );
    assert_eq!(
        app.get("/api/v1/planned-runs", &app.read).await,
        (200, json!([]))
    );
    assert_eq!(
        post_fields(&app, &admin, &cancel_path, &[]).await.status(),
        404
    );
}
