//! Sliding sessions: a signed-in person stays signed in while they use cronwatch and is
//! signed out after `Config::session_idle` without use. Every request that carries the
//! session counts as use, and so does an open dashboard: its event stream is closed for
//! the browser to reopen at once (see `events`) well before the cookie would lapse, and
//! that reconnect is a request like any other.
//!
//! tower-sessions re-saves a session, and re-sends its cookie with a fresh Max-Age, only
//! when the session's data changed. Recording when it was last renewed is that change;
//! doing it at most every `idle / 48` (15 min of 12 h) costs one write per person per
//! quarter of an hour, not one per request.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::Session;

use app::model::SessionUser;
use app::state::AppState;

use super::auth::{has_session_cookie, SESSION_USER};

/// The session key holding when it was last renewed (Unix milliseconds).
pub const SESSION_RENEWED: &str = "renewed_ms";

/// A request renews its session when the last renewal is older than this.
pub fn renew_after(idle: Duration) -> Duration {
    idle / 48
}

/// An open stream is closed (and reopened by the browser, which renews the session)
/// when the last renewal is older than this: half the window, so a missed recheck or
/// two cannot let the cookie lapse under an open page.
pub fn stream_renew_after(idle: Duration) -> Duration {
    idle / 2
}

/// How often an open stream re-checks its credential: the configured interval, but
/// often enough to renew within the idle window however short it is set.
pub fn stream_recheck(state: &AppState) -> Duration {
    state
        .config
        .stream_recheck
        .min(stream_renew_after(state.config.session_idle) / 4)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// How long ago a session with this stored renewal time was last renewed (a session
/// that never was counts as long ago).
pub fn since_renewed(renewed_ms: Option<i64>) -> Duration {
    let age = now_ms().saturating_sub(renewed_ms.unwrap_or(0));
    Duration::from_millis(age.max(0) as u64)
}

/// Records now as the session's last renewal.
pub async fn mark_renewed(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.insert(SESSION_RENEWED, now_ms()).await
}

/// Middleware: a signed-in request renews its session when the last renewal is older
/// than [`renew_after`]. Static files are not use (and need no session read).
pub async fn renew(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let is_static = ["/pkg/", "/assets/"].iter().any(|p| path.starts_with(p));
    if !is_static && has_session_cookie(req.headers()) {
        if let Err(e) = renew_if_due(&session, renew_after(state.config.session_idle)).await {
            // The request itself may still succeed; it will be renewed by the next one.
            tracing::warn!(error = %e, "could not renew a session");
        }
    }
    next.run(req).await
}

async fn renew_if_due(
    session: &Session,
    after: Duration,
) -> Result<(), tower_sessions::session::Error> {
    if session.get::<SessionUser>(SESSION_USER).await?.is_none() {
        return Ok(());
    }
    let renewed = session.get::<i64>(SESSION_RENEWED).await?;
    if since_renewed(renewed) >= after {
        mark_renewed(session).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_thresholds_follow_the_idle_window() {
        let idle = Duration::from_secs(12 * 3600);
        assert_eq!(renew_after(idle), Duration::from_secs(15 * 60));
        assert_eq!(stream_renew_after(idle), Duration::from_secs(6 * 3600));
        assert!(since_renewed(None) > idle, "never renewed is long ago");
        assert!(since_renewed(Some(now_ms())) < Duration::from_secs(1));
        // A clock that went back never gives a negative age.
        assert_eq!(since_renewed(Some(now_ms() + 60_000)), Duration::ZERO);
    }
}
