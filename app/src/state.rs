//! Server state shared by every handler and server function.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch, Notify};

use crate::db::events::Sequenced;
use crate::db::tokens::TokenCache;
use crate::throttle::LoginThrottle;
use crate::writer::ReportWriter;

/// Settings read once at start-up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Mark cookies `Secure` (set when served over https).
    pub secure_cookies: bool,
    /// Executions older than this many days are deleted by the retention sweep.
    pub retention_days: i64,
    /// How long change events are kept for `Last-Event-ID` replays, in hours.
    pub event_retention_hours: i64,
    /// How often an open event stream checks that its token or session still holds.
    pub stream_recheck: std::time::Duration,
    /// A signed-in person is signed out after this long without using cronwatch (an
    /// open dashboard counts as use).
    pub session_idle: std::time::Duration,
    /// The secrets `http` jobs may send (`CRONWATCH_SECRET_*`).
    pub job_secrets: crate::http_call::JobSecrets,
    /// Sign-in attempts one client address may make at once (see `throttle`).
    pub sign_ins_per_address: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            retention_days: 7,
            event_retention_hours: 72,
            stream_recheck: std::time::Duration::from_secs(15),
            session_idle: std::time::Duration::from_secs(12 * 3600),
            job_secrets: Default::default(),
            sign_ins_per_address: crate::throttle::SIGN_INS_PER_ADDRESS,
        }
    }
}

/// In-process fan-out of numbered change events to live streams, plus the doorbell
/// that tells this replica's event pump that new events were committed, and the word
/// that this replica is shutting down (its streams end so that clients reconnect).
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<HubInner>,
}

struct HubInner {
    tx: broadcast::Sender<Arc<Sequenced>>,
    doorbell: Notify,
    latest: AtomicI64,
    closing: watch::Sender<bool>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new()
    }
}

impl EventHub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self {
            inner: Arc::new(HubInner {
                tx,
                doorbell: Notify::new(),
                latest: AtomicI64::new(0),
                closing: watch::Sender::new(false),
            }),
        }
    }

    /// Wakes the event pump (rings coalesce until it looks).
    pub fn ring(&self) {
        self.inner.doorbell.notify_one();
    }

    /// Waits for [`EventHub::ring`].
    pub async fn rung(&self) {
        self.inner.doorbell.notified().await;
    }

    /// Hands a numbered event to every live stream of this replica.
    pub fn publish(&self, ev: Sequenced) {
        self.inner.latest.fetch_max(ev.seq, Ordering::SeqCst);
        let _ = self.inner.tx.send(Arc::new(ev));
    }

    /// The highest sequence number published here.
    pub fn latest(&self) -> i64 {
        self.inner.latest.load(Ordering::SeqCst)
    }

    pub fn set_latest(&self, seq: i64) {
        self.inner.latest.fetch_max(seq, Ordering::SeqCst);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Sequenced>> {
        self.inner.tx.subscribe()
    }

    /// Tells every live stream of this replica to end (the server is shutting down).
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Resolves once [`EventHub::close`] has been called (at once if it has).
    pub async fn closed(&self) {
        let mut closing = self.inner.closing.subscribe();
        let _ = closing.wait_for(|c| *c).await;
    }
}

/// The `http` job calls this replica is making, by run id: at shutdown those still
/// waiting for an answer are ended rather than left running, and a cancelled run's call
/// is stopped (its connection dropped).
#[derive(Clone, Default)]
pub struct CallsInFlight {
    calls: Arc<std::sync::Mutex<std::collections::HashMap<uuid::Uuid, Arc<Notify>>>>,
}

impl CallsInFlight {
    /// Registers run `id`'s call; the answer is told when to stop ([`Self::stop`]).
    pub fn begin(&self, id: uuid::Uuid) -> Arc<Notify> {
        self.lock().entry(id).or_default().clone()
    }

    pub fn end(&self, id: uuid::Uuid) {
        self.lock().remove(&id);
    }

    /// Tells run `id`'s call to stop, if this replica is making it (a stop told before
    /// the call waits for it is kept).
    pub fn stop(&self, id: uuid::Uuid) -> bool {
        self.lock().get(&id).map(|n| n.notify_one()).is_some()
    }

    pub fn ids(&self) -> Vec<uuid::Uuid> {
        self.lock().keys().copied().collect()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<uuid::Uuid, Arc<Notify>>> {
        // A map of ids cannot be left half-changed by a panic elsewhere.
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything a request handler needs, behind one shared reference: axum clones the
/// state for every extractor and every layer of every request, and a clone of the
/// fields themselves (the Leptos options alone hold six `Arc<str>`) showed up in the
/// ingest profile.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Shares `shared` with every handler, layer and task that clones the state.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What `leptos_axum` reads from the state to render pages and serve server functions.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// Where the site's assets are and how the shell is rendered.
    pub leptos_options: LeptosOptions,
    /// The one stateful dependency.
    pub pool: PgPool,
    /// Live change events of this replica.
    pub hub: EventHub,
    /// Group-commits ingest reports.
    pub writer: ReportWriter,
    /// Recently verified API tokens.
    pub tokens: TokenCache,
    /// Sign-in attempts per account and address.
    pub login_throttle: LoginThrottle,
    pub config: Config,
    /// The `http` job calls under way here.
    pub calls: CallsInFlight,
}
