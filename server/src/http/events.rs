//! `GET /api/v1/events`: the Server-Sent-Events stream of change events.
//!
//! Every event carries `id: <seq>`. A client that reconnects with `Last-Event-ID: N`
//! first receives every stored event after N (replayed from Postgres), then the live
//! ones; the two are joined on `seq`, so nothing is missed or repeated. A client
//! without the header starts from now. A client resuming from before the oldest events
//! still kept (they are pruned after `event_retention_hours`) first receives a `reset`
//! event: what it holds is stale and must be read again (the page reloads); so does one
//! resuming from a number the database has never given (it was recreated). A browser
//! whose session has ended gets a `signed_out` event (the page reloads to sign-in).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use app::db::events::{self, Sequenced};
use app::db::tokens::Scope;
use app::error::ApiError;
use app::state::AppState;

use tower_sessions::SessionStore;

use super::auth::{has_session_cookie, SESSION_USER};
use super::caller::Caller;
use super::extract::{presented_token, query_params, QueryParams};
use super::session_activity::{since_renewed, stream_recheck, stream_renew_after, SESSION_RENEWED};
use super::session_store::PgSessionStore;

const REPLAY_BATCH: i64 = 1000;
/// How soon a browser reconnects after its stream was ended for a session renewal or
/// because this server is shutting down (the browser's default wait is seconds).
const RECONNECT_SOON: Duration = Duration::from_millis(250);

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    /// Where a fresh EventSource resumes (it cannot set Last-Event-ID itself the
    /// first time); the header wins on reconnects.
    after: Option<i64>,
}

/// What let a stream open, checked again every recheck interval: a revoked token or
/// an ended session must not keep receiving events on a connection opened before.
enum Credential {
    Token(String),
    Session(tower_sessions::session::Id),
}

/// Where a stream's credential stands at a recheck.
enum Standing {
    Valid,
    Ended,
    /// The session holds but was not renewed for half its idle window: the stream ends
    /// so that the browser's reconnect (a request) renews it and its cookie.
    NeedsRenewal,
}

impl Credential {
    async fn standing(&self, state: &AppState) -> Standing {
        match self {
            Credential::Token(t) => match state.tokens.verify(&state.pool, t).await {
                Ok(Some(identity)) if identity.scope.allows(Scope::Read) => Standing::Valid,
                Ok(_) => Standing::Ended,
                // The database is away (a verified token is cached only a few seconds):
                // the token was not revoked, so the stream stays.
                Err(_) => Standing::Valid,
            },
            Credential::Session(id) => {
                let store = PgSessionStore::new(state.pool.clone());
                match store.load(id).await {
                    Ok(Some(record)) if record.data.contains_key(SESSION_USER) => {
                        let renewed = record.data.get(SESSION_RENEWED).and_then(|v| v.as_i64());
                        if since_renewed(renewed) >= stream_renew_after(state.config.session_idle) {
                            Standing::NeedsRenewal
                        } else {
                            Standing::Valid
                        }
                    }
                    Ok(_) => Standing::Ended,
                    // The database is away: not a reason to cut a signed-in page off.
                    Err(_) => Standing::Valid,
                }
            }
        }
    }
}

/// A stream request made by a page of ours (browsers mark it; scripts cannot forge it
/// from a page) rather than by an API client.
fn from_our_page(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"same-origin")
}

pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    session: tower_sessions::Session,
    headers: HeaderMap,
    query: QueryParams<StreamQuery>,
) -> Result<Response, ApiError> {
    // (Anonymous means no token was presented: a bad one was refused already.)
    let page = has_session_cookie(&headers) || from_our_page(&headers);
    if matches!(caller, Caller::Anonymous) && page {
        // A page whose session ended (signed out elsewhere, new password, expired, or
        // its cookie lapsed while the computer slept): a 401 would only make its
        // EventSource retry forever, so it is told instead.
        let once = futures::stream::once(async { Ok::<_, Infallible>(signed_out()) });
        return Ok(Sse::new(once).into_response());
    }
    caller.require(Scope::Read)?;
    let q = query_params(query)?;
    let credential = match (&caller, presented_token(&headers), session.id()) {
        (Caller::Token(_), Some(t), _) => Some(Credential::Token(t.to_string())),
        (Caller::User(_), _, Some(id)) => Some(Credential::Session(id)),
        _ => None,
    };
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::BadRequest("Last-Event-ID must be a sequence number".into())
                })?,
        ),
        None => q.after.filter(|n| *n >= 0),
    };
    // Subscribe before reading the replay so that nothing falls between the two.
    let live = state.hub.subscribe();
    let mut after = resume.unwrap_or_else(|| state.hub.latest());
    let (tx, rx) = mpsc::channel::<Event>(256);
    let horizon = events::pruned_through(&state.pool).await?;
    // A number beyond every event recorded comes from another database (recreated, or
    // restored from a backup): resuming there would skip every event until the numbers
    // caught up, so the client starts again from the newest.
    let newest = events::latest_seq(&state.pool).await?;
    let restart = if after < horizon {
        Some(horizon)
    } else {
        (after > newest).then_some(newest)
    };
    if let Some(restart) = restart {
        let reset = Event::default()
            .id(restart.to_string())
            .event("reset")
            .data(
                serde_json::json!({ "kind": "reset", "data": { "pruned_through": horizon } })
                    .to_string(),
            );
        // The channel is new and empty: this cannot block.
        let _ = tx.send(reset).await;
        after = restart;
    }
    tokio::spawn(pump(state, live, after, tx, credential));
    let body = Sse::new(futures::StreamExt::map(
        ReceiverStream::new(rx),
        Ok::<_, Infallible>,
    ))
    .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    Ok(body.into_response())
}

/// Tells a page that its session has ended (it reloads, onto the sign-in page).
fn signed_out() -> Event {
    Event::default()
        .event("signed_out")
        .data(r#"{"kind":"signed_out","data":{}}"#)
}

fn to_sse(ev: &Sequenced) -> Event {
    Event::default()
        .id(ev.seq.to_string())
        .event(ev.event.kind())
        .data(serde_json::to_string(&ev.event).unwrap_or_default())
}

/// Feeds one client: replay after `last`, then live events; ends when the client leaves,
/// its credential no longer holds (a page is told `signed_out` first), or the server
/// shuts down.
async fn pump(
    state: AppState,
    mut live: broadcast::Receiver<std::sync::Arc<Sequenced>>,
    mut last: i64,
    tx: mpsc::Sender<Event>,
    credential: Option<Credential>,
) {
    if !replay(&state, &mut last, &tx).await {
        return;
    }
    let mut recheck = tokio::time::interval(stream_recheck(&state));
    recheck.tick().await; // the first tick is now: the credential was just checked
    loop {
        let received = tokio::select! {
            received = live.recv() => received,
            _ = recheck.tick() => {
                let Some(c) = &credential else { continue };
                match c.standing(&state).await {
                    Standing::Valid => {}
                    Standing::Ended => {
                        if matches!(c, Credential::Session(_)) {
                            let _ = tx.send(signed_out()).await;
                        }
                        return;
                    }
                    Standing::NeedsRenewal => {
                        let _ = tx.send(Event::default().retry(RECONNECT_SOON)).await;
                        return;
                    }
                }
                continue;
            }
            // Ending lets the server's graceful shutdown finish at once, and the client
            // resumes (Last-Event-ID) from another replica or the restarted server.
            _ = state.hub.closed() => {
                let _ = tx.send(Event::default().retry(RECONNECT_SOON)).await;
                return;
            }
        };
        match received {
            Ok(ev) if ev.seq > last => {
                last = ev.seq;
                if tx.send(to_sse(&ev)).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            // Fell behind the in-memory buffer: catch up from the table.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                if !replay(&state, &mut last, &tx).await {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Sends stored events after `last`; false when the client is gone or the database fails.
async fn replay(state: &AppState, last: &mut i64, tx: &mpsc::Sender<Event>) -> bool {
    loop {
        let batch = match events::since(&state.pool, *last, REPLAY_BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "event replay failed");
                return false;
            }
        };
        let n = batch.len() as i64;
        for ev in batch {
            *last = ev.seq;
            if tx.send(to_sse(&ev)).await.is_err() {
                return false;
            }
        }
        if n < REPLAY_BATCH {
            return true;
        }
    }
}
