//! The HTTP surface: the API routes, the SSE stream, pings, health, and the site.

pub mod agents;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod batches;
pub mod caller;
pub mod cancel;
pub mod compat;
pub mod events;
pub mod extract;
pub mod forms;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod ping;
pub mod planned;
pub mod read;
pub mod run_now;
pub mod run_page;
pub mod session_activity;
pub mod session_store;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CACHE_CONTROL, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use app::error::ApiError;
use app::state::AppState;

/// Largest request body accepted (413 above). Output above 64 KiB is truncated, see `ingest`.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Largest completion accepted: output over the cap is kept as a marker (`ingest`),
/// so a job whose output grew large is still recorded as ended, up to this.
pub const COMPLETE_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The largest ping body (its log). Only its end is kept (a run keeps the last 16 KiB
/// of its log) and it is read through without being held, so a job whose log grew
/// large still reports its end; the limit only stops a runaway upload.
pub const PING_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api", api_routes())
        .merge(ping_routes())
        .route("/healthz", get(healthz))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route(
            "/monitoring/jobs/{name}/ping-key",
            post(jobs::regenerate_ping_key_form),
        )
        .route(
            "/monitoring/jobs/{name}/run",
            get(run_page::page).post(run_page::run_form),
        )
        .route(
            "/monitoring/planned-runs/{id}/cancel",
            post(run_page::cancel_plan_form),
        )
        .route("/monitoring/jobs/{name}/cancel", post(cancel::cancel_form))
        .merge(site_routes(&state))
        .layer(middleware::from_fn(auth::guard_pages))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session_activity::renew,
        ))
        .layer(auth::session_layer(&state))
        .layer(middleware::from_fn(auth::same_origin))
        // Every answer: no MIME sniffing (a log tail stays text), no framing by other
        // sites (pages also say so in their CSP, see `app::csp`), and no URLs with their
        // filters sent to other sites in `Referer`.
        .layer(SetResponseHeaderLayer::if_not_present(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(middleware::from_fn(no_store_unless_asset))
        .with_state(state)
}

/// Pages and API answers are one person's (an admin's page holds ping keys) and change
/// by the second: neither a shared proxy nor the browser's disk keeps them, so the Back
/// button after signing out shows nothing. The site's files may be cached.
async fn no_store_unless_asset(req: Request, next: Next) -> Response {
    let asset = ["/pkg/", "/assets/"]
        .iter()
        .any(|p| req.uri().path().starts_with(p));
    let mut resp = next.run(req).await;
    if !asset {
        resp.headers_mut()
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    resp
}

fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/executions/start", post(ingest::start))
        .route(
            "/v1/executions/{id}/complete",
            post(ingest::complete).layer(DefaultBodyLimit::max(COMPLETE_BODY_LIMIT)),
        )
        .route("/v1/executions", get(read::list_executions))
        .route("/v1/executions/{id}", get(read::get_execution))
        .route("/v1/executions/{id}/cancel", post(cancel::cancel))
        .route("/v1/batches/{name}", post(batches::report))
        .route("/v1/batches", get(read::list_batches))
        .route("/v1/jobs", get(jobs::list))
        .route(
            "/v1/jobs/{name}",
            get(jobs::get).put(jobs::put).delete(jobs::delete),
        )
        .route("/v1/jobs/{name}/pause", post(jobs::pause))
        .route("/v1/jobs/{name}/resume", post(jobs::resume))
        .route("/v1/jobs/{name}/run", post(run_now::run))
        .route("/v1/planned-runs", get(planned::list))
        .route(
            "/v1/planned-runs/{id}",
            get(planned::get).delete(planned::cancel),
        )
        .route(
            "/v1/jobs/{name}/ping-key",
            get(jobs::get_ping_key).post(jobs::regenerate_ping_key),
        )
        .route("/v1/agent/claim", post(agents::claim))
        .route("/v1/agent/heartbeat", post(agents::heartbeat))
        .route("/v1/stats", get(read::get_stats))
        .route("/v1/metrics", get(metrics::metrics))
        .route("/v1/audit", get(audit::list))
        .route("/v1/alerts", get(alerts::list))
        .route("/v1/events", get(events::stream))
        .route("/admin/cron-executions/start", post(compat::start))
        .route(
            "/admin/cron-executions/complete",
            post(compat::complete).layer(DefaultBodyLimit::max(COMPLETE_BODY_LIMIT)),
        )
        .fallback(api_not_found)
        .layer(middleware::from_fn(method_not_allowed_as_json))
        .layer(middleware::from_fn(no_secrets_in_query))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

fn ping_routes() -> Router<AppState> {
    let pings = Router::new()
        .route("/{key}", get(ping::ping).post(ping::ping))
        .route(
            "/{key}/{action}",
            get(ping::ping_action).post(ping::ping_action),
        )
        .fallback(ping_not_found)
        .layer(middleware::from_fn(method_not_allowed_as_json));
    // A nested router's fallback does not see `/ping` and `/ping/` themselves.
    Router::new()
        .nest("/ping", pings)
        .route("/ping", any(ping_not_found))
        .route("/ping/", any(ping_not_found))
}

async fn ping_not_found() -> ApiError {
    ApiError::NotFound("no such ping route: use /ping/{key}[/start|/fail|/{exit_code}]".into())
}

fn site_routes(state: &AppState) -> Router<AppState> {
    let routes = generate_route_list(app::App);
    let site_root = state.leptos_options.site_root.to_string();
    Router::new()
        .leptos_routes(state, routes, {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        .nest_service(
            "/pkg",
            ServeDir::new(format!("{site_root}/pkg")).precompressed_gzip(),
        )
        .nest_service(
            "/assets",
            ServeDir::new(format!("{site_root}/assets")).precompressed_gzip(),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(middleware::from_fn(server_fn_bad_arguments))
        .layer(CompressionLayer::new())
}

/// server_fn answers 500 to arguments it cannot decode, before our code runs; that is
/// the caller's mistake, so it becomes 400 (the body, `Args|…`, stays as it was).
async fn server_fn_bad_arguments(req: Request, next: Next) -> Response {
    let is_server_fn = req.uri().path().starts_with(auth::SERVER_FN_PREFIX);
    let resp = next.run(req).await;
    if !is_server_fn || resp.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Error bodies are one short line; anything larger is left as the 500 it was.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (parts.status, "internal server error").into_response();
    };
    let decoding = ["Args|", "MissingArg|", "Deserialization|"];
    if decoding.iter().any(|p| bytes.starts_with(p.as_bytes())) {
        parts.status = axum::http::StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn no_secrets_in_query(req: Request, next: Next) -> Response {
    match extract::refuse_secret_in_query(req.uri()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// axum answers a known route called with another method by an empty 405; API
/// callers get our JSON error instead. axum adds the `Allow` header after this layer
/// has run (it is not yet there to quote), so the message points to it.
async fn method_not_allowed_as_json(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let resp = next.run(req).await;
    if resp.status() != axum::http::StatusCode::METHOD_NOT_ALLOWED {
        return resp;
    }
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed here; the Allow header lists the methods that are"
    ))
    .into_response()
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound("no such API route".into())
}

/// How long `/healthz` waits for the database: less than the pool's acquire timeout,
/// because probes (load balancers, orchestrators) give up after a few seconds and
/// would then see no answer at all instead of 503.
const HEALTH_DB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /healthz`: 200 when the database answers, 503 when it does not within
/// [`HEALTH_DB_TIMEOUT`].
async fn healthz(State(state): State<AppState>) -> Response {
    let probe = sqlx::query_scalar::<_, i32>("select 1").fetch_one(&state.pool);
    match tokio::time::timeout(HEALTH_DB_TIMEOUT, probe)
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    {
        Ok(_) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "database unavailable" })),
            )
                .into_response()
        }
    }
}
