//! The monitoring page ("Crons & Batches"). Only signed-in viewers (or more) reach it:
//! the server redirects others to /login, and its server functions answer 401.
//! It renders a snapshot on the server, then stays current through one EventSource.

use leptos::prelude::*;

use crate::model::{
    DashboardSnapshot, ExecutionDetails, ExecutionPage, ExecutionQuery, ExecutionSummary,
    SessionUser,
};
use crate::pages::dashboard::Dashboard;

/// The signed-in user of this request, or 401.
#[cfg(feature = "ssr")]
pub async fn require_user() -> Result<SessionUser, ServerFnError> {
    use tower_sessions::Session;
    let session: Session = leptos_axum::extract().await?;
    let user = session
        .get::<SessionUser>(crate::model::SESSION_USER)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    user.ok_or_else(|| {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(axum::http::StatusCode::UNAUTHORIZED);
        }
        ServerFnError::new("not signed in")
    })
}

/// A refusal as a server-function error, answered with its own status (422 for a bad
/// filter, 404 for an unknown execution); internal errors are logged, not described.
#[cfg(feature = "ssr")]
fn refuse(e: impl Into<crate::error::ApiError>) -> ServerFnError {
    let e = e.into();
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(
            axum::http::StatusCode::from_u16(e.status_code())
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
    e.log_server_side();
    ServerFnError::new(e.body().error.message)
}

/// Who is signed in.
#[server(prefix = "/sfn", endpoint = "whoami")]
pub async fn whoami() -> Result<SessionUser, ServerFnError> {
    require_user().await
}

/// The page's data at load, its executions filtered as the URL says (viewer or above).
#[server(prefix = "/sfn", endpoint = "dashboard")]
pub async fn load_dashboard(query: ExecutionQuery) -> Result<DashboardSnapshot, ServerFnError> {
    use crate::db::{batches, events, execution_list, jobs, stats};
    let user = require_user().await?;
    let state = expect_context::<crate::state::AppState>();
    let pool = &state.pool;
    let fail = |e: sqlx::Error| refuse(e);
    // Read the resume point first: anything after it is replayed, never lost.
    let last_event_id = events::latest_seq(pool).await.map_err(fail)?;
    // A URL whose filter is refused still opens the page, saying why.
    let (executions, filter_error) = match execution_list::ExecutionFilter::from_query(&query) {
        Ok(f) => (execution_list::page(pool, &f).await.map_err(fail)?, None),
        Err(e) => (ExecutionPage::default(), Some(e.body().error.message)),
    };
    Ok(DashboardSnapshot {
        stats: stats::compute(pool, crate::model::DASHBOARD_HOURS)
            .await
            .map_err(fail)?,
        jobs: jobs::list(pool).await.map_err(fail)?,
        batches: batches::list(pool).await.map_err(fail)?,
        executions,
        last_event_id,
        ping_urls: if user.role >= crate::model::Role::Admin {
            Some(crate::model::PingUrls {
                base: base_url(state.config.secure_cookies).await,
                keys: jobs::ping_keys(pool).await.map_err(fail)?,
            })
        } else {
            None
        },
        filter_error,
        running: execution_list::running(pool, crate::model::RUNNING_SHOWN)
            .await
            .map_err(fail)?,
    })
}

/// cronwatch's address as the browser reached it (through a proxy, as the proxy says),
/// so that a ping URL can be pasted into a crontab as shown; empty if unknown.
#[cfg(feature = "ssr")]
async fn base_url(secure_cookies: bool) -> String {
    let headers: axum::http::HeaderMap = leptos_axum::extract().await.unwrap_or_default();
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = match first("x-forwarded-proto") {
        Some(p @ ("http" | "https")) => p,
        _ if secure_cookies => "https",
        _ => "http",
    };
    first("x-forwarded-host")
        .or_else(|| first("host"))
        .map(|host| format!("{scheme}://{host}"))
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
fn filter_of(
    q: &ExecutionQuery,
) -> Result<crate::db::execution_list::ExecutionFilter, ServerFnError> {
    crate::db::execution_list::ExecutionFilter::from_query(q).map_err(refuse)
}

/// One page of executions (viewer or above).
#[server(prefix = "/sfn", endpoint = "executions")]
pub async fn list_executions(query: ExecutionQuery) -> Result<ExecutionPage, ServerFnError> {
    require_user().await?;
    let state = expect_context::<crate::state::AppState>();
    crate::db::execution_list::page(&state.pool, &filter_of(&query)?)
        .await
        .map_err(refuse)
}

/// One execution with its output and log (viewer or above).
#[server(prefix = "/sfn", endpoint = "execution")]
pub async fn execution_detail(
    id: uuid::Uuid,
) -> Result<(ExecutionSummary, ExecutionDetails), ServerFnError> {
    require_user().await?;
    let state = expect_context::<crate::state::AppState>();
    crate::db::executions::get(&state.pool, id)
        .await
        .map_err(refuse)?
        .map(|e| (e.summary, e.details))
        .ok_or_else(|| {
            refuse(crate::error::ApiError::NotFound(
                "execution not found".into(),
            ))
        })
}

/// The executions view named by a URL query.
pub fn query_of(map: &leptos_router::params::ParamsMap) -> ExecutionQuery {
    ExecutionQuery::from_pairs(map.into_iter().map(|(k, v)| (k.as_ref(), v.to_string())))
}

#[component]
pub fn MonitoringPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    // The URL at load picks the executions shown; later changes are the table's business.
    let query = leptos_router::hooks::use_query_map();
    let initial = query.with_untracked(query_of);
    let snapshot = Resource::new(|| (), move |_| load_dashboard(initial.clone()));
    view! {
        <main class="monitoring">
            <header class="topbar">
                <h1>"Crons & Batches"</h1>
                <Suspense fallback=|| ()>
                    {move || me.get().and_then(|r| r.ok()).map(|u| view! {
                        <span class="who">{u.username.clone()} " · " {u.role.as_str()}</span>
                    })}
                </Suspense>
                <form method="post" action="/auth/logout"><button type="submit">"Sign out"</button></form>
            </header>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || snapshot.get().map(|r| match r {
                    Ok(s) => view! { <Dashboard initial=s/> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </main>
    }
}
