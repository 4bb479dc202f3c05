//! Sign-in and sign-out, the session cookie, the page guard, and the same-origin rule
//! for state-changing requests made with a cookie.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use app::db::{audit, users};
use app::error::ApiError;
use app::model::SessionUser;
use app::state::AppState;
use app::validate::encode_query_value;

use super::extract::presented_token;
use super::session_activity::mark_renewed;
use super::session_store::PgSessionStore;

/// The session key under which the signed-in user is kept.
pub use app::model::SESSION_USER;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cronwatch_session";

/// Whether the request carries a session cookie (valid or not).
pub fn has_session_cookie(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| {
            c.trim_start()
                .strip_prefix(SESSION_COOKIE)
                .is_some_and(|rest| rest.starts_with('='))
        })
}
/// Pages that need a signed-in viewer (or more).
const PROTECTED_PAGES: [&str; 1] = ["/monitoring"];

/// The session layer: HttpOnly, SameSite=Lax, Secure over https, ending after
/// `session_idle` without use (12 h unless configured; see `session_activity`).
pub fn session_layer(state: &AppState) -> SessionManagerLayer<PgSessionStore> {
    let idle = CookieDuration::try_from(state.config.session_idle).unwrap_or(CookieDuration::MAX);
    SessionManagerLayer::new(PgSessionStore::new(state.pool.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(idle))
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Only local paths: never an open redirect to another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/monitoring",
    }
}

fn login_url(error: &str, next: &str) -> String {
    format!("/login?error={error}&next={}", encode_query_value(next))
}

/// `POST /auth/login` (form). Success: a new session id, then 303 to `next`.
/// Failure: 303 back to the form, which says why (a wrong password, or a database
/// that cannot be reached: a person at a form gets a sentence, not JSON). Too many
/// attempts: 429 with Retry-After.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = safe_next(form.next.as_deref()).to_string();
    match attempt_login(&state, addr, &session, form, &next).await {
        Err(e @ ApiError::Unavailable(_)) => {
            e.log_server_side();
            Ok(Redirect::to(&login_url("unavailable", &next)).into_response())
        }
        other => other,
    }
}

async fn attempt_login(
    state: &AppState,
    addr: SocketAddr,
    session: &Session,
    form: LoginForm,
    next: &str,
) -> Result<Response, ApiError> {
    let source = addr.ip().to_string();
    if let Err(wait) = state.login_throttle.attempt(&form.username, addr.ip()) {
        audit::record(
            &state.pool,
            &format!("anonymous@{source}"),
            "login.throttled",
            Some(&form.username),
            Some(&source),
            serde_json::json!({}),
        )
        .await?;
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            Html(format!("<p>Too many sign-in attempts. Try again in {wait} s.</p><p><a href=\"/login\">Back</a></p>")),
        )
            .into_response();
        resp.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return Ok(resp);
    }
    match users::authenticate(&state.pool, &form.username, form.password).await? {
        Some(user) => {
            // A fresh id at sign-in: a session id planted before cannot be ridden.
            session.cycle_id().await.map_err(session_error)?;
            session
                .insert(SESSION_USER, &user)
                .await
                .map_err(session_error)?;
            mark_renewed(session).await.map_err(session_error)?;
            audit::record(
                &state.pool,
                &format!("user:{}", user.username),
                "login",
                None,
                Some(&source),
                serde_json::json!({}),
            )
            .await?;
            Ok(Redirect::to(next).into_response())
        }
        None => {
            state.login_throttle.failed(&form.username);
            audit::record(
                &state.pool,
                &format!("anonymous@{source}"),
                "login.failed",
                Some(&form.username),
                Some(&source),
                serde_json::json!({}),
            )
            .await?;
            Ok(Redirect::to(&login_url("invalid", next)).into_response())
        }
    }
}

/// `POST /auth/logout`: the session is destroyed, then 303 to the sign-in page.
pub async fn logout(State(state): State<AppState>, session: Session) -> Result<Response, ApiError> {
    if let Ok(Some(user)) = session.get::<SessionUser>(SESSION_USER).await {
        audit::record(
            &state.pool,
            &format!("user:{}", user.username),
            "logout",
            None,
            None,
            serde_json::json!({}),
        )
        .await?;
    }
    session.delete().await.map_err(session_error)?;
    Ok(Redirect::to("/login").into_response())
}

fn session_error(e: tower_sessions::session::Error) -> ApiError {
    ApiError::Internal(format!("session store: {e}"))
}

/// Where the Leptos server functions answer. Every one of them needs a signed-in user:
/// anonymous calls are refused here, before their arguments are even read (each
/// function checks the role again).
pub const SERVER_FN_PREFIX: &str = "/sfn/";

/// Sends anonymous visitors of protected pages to the sign-in page, and answers 401 to
/// anonymous server-function calls.
pub async fn guard_pages(session: Session, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let server_fn = path.starts_with(SERVER_FN_PREFIX);
    let page = PROTECTED_PAGES
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if (server_fn || page) && !matches!(session.get::<SessionUser>(SESSION_USER).await, Ok(Some(_)))
    {
        if server_fn {
            return ApiError::Unauthorized("sign in first".into()).into_response();
        }
        // After signing in, the browser GETs `next`: a form's POST target cannot be it.
        let here = match *req.method() {
            Method::GET | Method::HEAD => req
                .uri()
                .path_and_query()
                .map_or(path.to_string(), |pq| pq.to_string()),
            _ => PROTECTED_PAGES[0].to_string(),
        };
        return Redirect::to(&format!("/login?next={}", encode_query_value(&here))).into_response();
    }
    next.run(req).await
}

/// Refuses a state-changing request that carries a cookie but comes from another
/// origin (CSRF). Requests authenticated by a token header carry no ambient authority.
pub async fn same_origin(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let headers = req.headers();
    if safe || !headers.contains_key(header::COOKIE) || presented_token(headers).is_some() {
        return next.run(req).await;
    }
    if origin_matches(headers) {
        next.run(req).await
    } else {
        ApiError::Forbidden("cross-origin request refused".into()).into_response()
    }
}

/// The Origin (or, failing that, the Referer) names the host this request was sent to.
fn origin_matches(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    source.is_some_and(|s| {
        let rest = s.split_once("://").map_or("", |(_, rest)| rest);
        rest.split('/').next() == Some(host)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_always_local() {
        assert_eq!(
            safe_next(Some("/monitoring?tab=crons")),
            "/monitoring?tab=crons"
        );
        assert_eq!(safe_next(Some("https://evil.example")), "/monitoring");
        assert_eq!(safe_next(Some("//evil.example")), "/monitoring");
        assert_eq!(safe_next(Some("/\\evil.example")), "/monitoring");
        assert_eq!(safe_next(None), "/monitoring");
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(!origin_matches(&h), "no origin, no referer");
        h.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(origin_matches(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!origin_matches(&h));
        h.remove(header::ORIGIN);
        h.insert(
            header::REFERER,
            "http://127.0.0.1:3000/login".parse().unwrap(),
        );
        assert!(origin_matches(&h));
    }
}
