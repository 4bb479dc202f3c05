//! `GET /api/v1/events`: the Server-Sent-Events stream of change events.
//!
//! Every event carries `id: <seq>`. A client that reconnects with `Last-Event-ID: N`
//! first receives every stored event after N (replayed from Postgres), then the live
//! ones; the two are joined on `seq`, so nothing is missed or repeated. A client
//! without the header starts from now. A client resuming from before the oldest events
//! still kept (they are pruned after `event_retention_hours`) first receives a `reset`
//! event: what it holds is stale and must be read again (the page reloads).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use app::db::events::{self, Sequenced};
use app::db::tokens::Scope;
use app::error::ApiError;
use app::state::AppState;

use super::caller::Caller;

const REPLAY_BATCH: i64 = 1000;

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    /// Where a fresh EventSource resumes (it cannot set Last-Event-ID itself the
    /// first time); the header wins on reconnects.
    after: Option<i64>,
}

pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Read)?;
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
    if after < horizon {
        let reset = Event::default()
            .id(horizon.to_string())
            .event("reset")
            .data(
                serde_json::json!({ "kind": "reset", "data": { "pruned_through": horizon } })
                    .to_string(),
            );
        // The channel is new and empty: this cannot block.
        let _ = tx.send(reset).await;
        after = horizon;
    }
    tokio::spawn(pump(state, live, after, tx));
    let body = Sse::new(futures::StreamExt::map(
        ReceiverStream::new(rx),
        Ok::<_, Infallible>,
    ))
    .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    Ok(body.into_response())
}

fn to_sse(ev: &Sequenced) -> Event {
    Event::default()
        .id(ev.seq.to_string())
        .event(ev.event.kind())
        .data(serde_json::to_string(&ev.event).unwrap_or_default())
}

/// Feeds one client: replay after `last`, then live events; ends when the client leaves.
async fn pump(
    state: AppState,
    mut live: broadcast::Receiver<std::sync::Arc<Sequenced>>,
    mut last: i64,
    tx: mpsc::Sender<Event>,
) {
    if !replay(&state, &mut last, &tx).await {
        return;
    }
    loop {
        match live.recv().await {
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
