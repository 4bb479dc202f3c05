//! Test harness: a real server on a loopback port over a fresh database per test.

pub mod cli;
pub mod sse;

use std::net::SocketAddr;

use app::db::tokens::{self, Scope};
use app::state::{AppState, Config};
use serde_json::Value;
use sqlx::PgPool;

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub ingest: String,
    pub read: String,
    pub admin: String,
    pub agent: String,
}

/// Starts the router and the event pump on 127.0.0.1:0 over `pool`, with one token
/// of each scope.
pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, Config::default()).await
}

/// Settings under which open event streams re-check their credential every 100 ms,
/// so that tests see a revoked token or an outage take effect at once.
pub fn quick_recheck() -> Config {
    Config {
        stream_recheck: std::time::Duration::from_millis(100),
        ..Config::default()
    }
}

/// [`spawn_app`] with other settings.
pub async fn spawn_app_with(pool: PgPool, config: Config) -> TestApp {
    let state = server::serve::state(pool.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    server::background::spawn_event_pump(state.clone())
        .await
        .unwrap();
    let router =
        server::http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    TestApp {
        base: format!("http://{addr}"),
        state,
        client: reqwest::Client::new(),
        ingest: tokens::create(&pool, "ingest-test", Scope::Ingest, None)
            .await
            .unwrap(),
        read: tokens::create(&pool, "read-test", Scope::Read, None)
            .await
            .unwrap(),
        admin: tokens::create(&pool, "admin-test", Scope::Admin, None)
            .await
            .unwrap(),
        agent: tokens::create(&pool, "agent-test", Scope::Agent, None)
            .await
            .unwrap(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs raw `body` with `token` as a Bearer token (if any).
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let resp = self.post_raw(path, Some(token), body.to_string()).await;
        status_json(resp).await
    }

    /// Cancels run `id` with the admin token: status and answer.
    pub async fn cancel(&self, id: &str) -> (u16, Value) {
        let path = format!("/api/v1/executions/{id}/cancel");
        self.post(&path, &self.admin, &serde_json::json!({})).await
    }

    /// GETs `path` with `token` as a Bearer token (if any).
    pub async fn get_raw(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        status_json(self.get_raw(path, Some(token)).await).await
    }

    /// POSTs an empty dashboard form to `path` from `browser`, as the site's own page
    /// does (same origin).
    pub async fn post_form(&self, browser: &reqwest::Client, path: &str) -> reqwest::Response {
        browser
            .post(self.url(path))
            .header("origin", &self.base)
            .send()
            .await
            .unwrap()
    }

    /// Execution `id` once it has ended (waits up to 20 s).
    pub async fn ended(&self, id: &str) -> Value {
        for _ in 0..200 {
            let (_, e) = self
                .get(&format!("/api/v1/executions/{id}"), &self.read)
                .await;
            if e["status"] != "running" {
                return e;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("execution {id} never ended");
    }

    pub async fn start(&self, job: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/executions/start",
                &self.ingest,
                &serde_json::json!({ "job": job }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Sends `body` to `path` with the admin token (allowed everywhere); the answer's
    /// status.
    pub async fn admin_send(&self, method: reqwest::Method, path: &str, body: &Value) -> u16 {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.admin)
            .json(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Creates or replaces job `name` with the admin token; the answer's status.
    /// Asserts that defining job `name` as `def` is refused (422) with a message that
    /// contains `says`.
    pub async fn refused_definition(&self, name: &str, def: &Value, says: &str) {
        let resp = self
            .client
            .put(self.url(&format!("/api/v1/jobs/{name}")))
            .bearer_auth(&self.admin)
            .json(def)
            .send()
            .await
            .unwrap();
        let (status, answer) = status_json(resp).await;
        assert_eq!(status, 422, "{def}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{def}: {answer}");
    }

    pub async fn put_job(&self, name: &str, body: &Value) -> u16 {
        let path = format!("/api/v1/jobs/{name}");
        self.admin_send(reqwest::Method::PUT, &path, body).await
    }

    /// Starts a run of `job` that began `ago` before now; its id.
    pub async fn start_ago(&self, job: &str, ago: chrono::Duration) -> String {
        let (status, body) = self
            .post(
                "/api/v1/executions/start",
                &self.ingest,
                &serde_json::json!({ "job": job, "started_at": chrono::Utc::now() - ago }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Posts the sign-in form as a browser on our own origin would; the answer is not
    /// followed (303 with the session cookie on success).
    pub async fn sign_in(&self, user: &str, password: &str) -> reqwest::Response {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(self.url("/auth/login"))
            .header("origin", &self.base)
            .form(&[("username", user), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Two jobs the dashboard flags: `nightly`, scheduled and late (its expected start
    /// passed two hours ago with no start), and `hung`, stuck (running for two hours with
    /// a one-minute timeout; no sweeper runs in tests). Returns the id of hung's run.
    pub async fn late_and_stuck_jobs(&self) -> String {
        let schedule = serde_json::json!({ "schedule": "0 3 * * *" });
        assert_eq!(self.put_job("nightly", &schedule).await, 201);
        sqlx::query(
            "update jobs set next_run_at = now() - interval '2 hours' where name = 'nightly'",
        )
        .execute(&self.state.pool)
        .await
        .unwrap();
        let timeout = serde_json::json!({ "timeout_ms": 60_000 });
        assert_eq!(self.put_job("hung", &timeout).await, 201);
        self.start_ago("hung", chrono::Duration::hours(2)).await
    }

    pub async fn complete(&self, id: &str, status: &str) -> Value {
        let (code, body) = self
            .post(
                &format!("/api/v1/executions/{id}/complete"),
                &self.ingest,
                &serde_json::json!({ "status": status }),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        body
    }
}

pub async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// Asserts the `{"error":{"code","message"}}` shape and returns the code.
pub fn error_code(body: &Value) -> String {
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!msg.is_empty(), "error without message: {body}");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A digest of every table a request could change: compare before and after a refused request.
/// A token's `last_used_at` is left out: when a valid token was last presented is access
/// bookkeeping (as a last-login time is), recorded even when the request is then refused
/// for its scope or its body, so that an operator rotating tokens sees who still sends it.
pub async fn snapshot(pool: &PgPool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for table in [
        "jobs",
        "executions",
        "execution_rollups",
        "batch_queues",
        "events",
        "api_tokens",
        "audit_events",
        "users",
        "agent_runs",
        "planned_runs",
    ] {
        let digest: Option<String> = sqlx::query_scalar(&format!(
            "select md5(coalesce(string_agg(r::text, '|' order by r::text), ''))
             from (select to_jsonb(t) - 'last_used_at' as r from {table} t) rows"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        out.push((table.to_string(), digest.unwrap_or_default()));
    }
    out
}

/// The newest change event: its kind and payload.
pub async fn last_event(pool: &PgPool) -> (String, Value) {
    sqlx::query_as("select kind, payload from events order by seq desc limit 1")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// How many change events announced job `name`'s definition (what open pages follow).
pub async fn job_events(pool: &PgPool, name: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from events where kind = 'job' and payload->'data'->>'name' = $1",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Job `job` (created if new) and its ping key.
pub async fn ping_key(pool: &PgPool, job: &str) -> uuid::Uuid {
    let mut conn = pool.acquire().await.unwrap();
    app::db::jobs::ensure(&mut conn, job).await.unwrap();
    sqlx::query_scalar("select ping_key from jobs where name = $1")
        .bind(job)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The URL of the test's own database (same server as DATABASE_URL, other name), for
/// the `cronwatch` binary run as a child process.
pub fn url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').unwrap();
    format!(
        "{server}/{}",
        pool.connect_options().get_database().unwrap()
    )
}

/// Creates user `name` with `role` and the password `password-of-<name>`.
pub async fn add_user(pool: &PgPool, name: &str, role: app::model::Role) {
    app::db::users::create(pool, name, format!("password-of-{name}"), role)
        .await
        .unwrap();
}

/// A browser (cookie store, redirects not followed) signed in as a new user `name` with
/// `role` (password `password-of-<name>`).
pub async fn signed_in(
    app: &TestApp,
    pool: &PgPool,
    name: &str,
    role: app::model::Role,
) -> reqwest::Client {
    add_user(pool, name, role).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .post(app.url("/auth/login"))
        .header("origin", &app.base)
        .form(&[
            ("username", name),
            ("password", &format!("password-of-{name}")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[reqwest::header::LOCATION], "/monitoring");
    client
}

/// What the monitoring page loads (its server function), as signed-in `browser` sees it.
pub async fn dashboard_data(app: &TestApp, browser: &reqwest::Client) -> Value {
    let resp = browser
        .post(app.url("/sfn/dashboard"))
        .header("origin", &app.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query[tab]=crons")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The monitoring page's HTML as signed-in `browser` gets it, with extra request
/// `headers`.
pub async fn monitoring_html(
    app: &TestApp,
    browser: &reqwest::Client,
    headers: &[(&str, &str)],
) -> String {
    let mut req = browser.get(app.url("/monitoring"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}
