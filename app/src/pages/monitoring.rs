//! The monitoring page. The server lets only signed-in viewers (or more) reach it;
//! the dashboard itself lands with the dashboard issue.

use leptos::prelude::*;

use crate::model::SessionUser;

/// Who is signed in (checked on the server; anonymous callers get 401).
#[server(prefix = "/sfn", endpoint = "whoami")]
pub async fn whoami() -> Result<SessionUser, ServerFnError> {
    use tower_sessions::Session;
    let session: Session = leptos_axum::extract().await?;
    let user = session
        .get::<SessionUser>("user")
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    match user {
        Some(u) => Ok(u),
        None => {
            if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
                resp.set_status(axum::http::StatusCode::UNAUTHORIZED);
            }
            Err(ServerFnError::new("not signed in"))
        }
    }
}

#[component]
pub fn MonitoringPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
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
        </main>
    }
}
