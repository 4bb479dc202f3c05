//! `cronwatch agent`: claims the runs of `command` jobs from the server and executes
//! them on this host.
//!
//! It asks for a run with a long poll (`POST /api/v1/agent/claim`), so a run starts
//! here within moments of being due, with no busy polling. While commands run it
//! renews their leases (`POST /api/v1/agent/heartbeat`, three times per lease); each
//! heartbeat is a long poll too, answered as soon as a run must stop (an admin
//! cancelled it), so the command is killed within moments. If the
//! agent dies, its leases lapse and the server ends its runs as failed. Each command
//! is killed past its job's timeout, and its end is reported through the ingest API
//! like any run's, with the exit code and the last 16 KiB of its output.
//!
//! SIGTERM or SIGINT stops the agent: it takes no more runs, stops its commands and
//! reports them cancelled before it exits.

mod process;
pub mod protocol;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::cli::AgentArgs;
use crate::wrap::Reporter;
use process::{Finished, Stop};
use protocol::{Claim, ClaimRequest, Heartbeat, HeartbeatAnswer};

/// How long one claim waits on the server for a run.
const CLAIM_WAIT_MS: i64 = 25_000;
/// The shortest time between two heartbeats.
const HEARTBEAT_GAP: Duration = Duration::from_millis(200);
/// How soon a failed heartbeat is tried again (sooner if the lease is short).
const HEARTBEAT_RETRY: Duration = Duration::from_secs(2);

/// Runs the agent until SIGTERM or SIGINT; the exit code (2 when it cannot work at
/// all: no token, a refused token, a bad name).
pub async fn run(args: AgentArgs) -> i32 {
    let refused = |why: String| {
        eprintln!("cronwatch agent: {why}");
        2
    };
    let reporter = match Reporter::from_env_any_job() {
        Ok(r) => r,
        Err(why) => return refused(why),
    };
    let name = args.name.unwrap_or_else(host_name);
    if !app::validate::is_valid_name(&name) {
        return refused(format!(
            "the agent name {name:?} is invalid: use 1 to 64 of a-z, 0-9 and '-' (--name)"
        ));
    }
    if let Err(why) = app::command_spec::check_tags("--tags", &args.tags) {
        return refused(why);
    }
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return refused("cannot listen for stop signals".into());
    };
    let agent = Arc::new(Agent {
        reporter,
        name,
        tags: args.tags,
        lease_ms: args.lease.as_millis() as i64,
        max_runs: usize::from(args.max_runs),
        runs: Mutex::default(),
        slot_freed: Notify::new(),
        runs_changed: Notify::new(),
    });
    let stopping = async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    };
    agent.work_until(stopping).await
}

/// This host's name as an agent name: lower case, other characters as '-'.
fn host_name() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "agent".into());
    let name: String = host
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64)
        .collect();
    if name.is_empty() {
        "agent".into()
    } else {
        name
    }
}

struct Agent {
    reporter: Reporter,
    name: String,
    tags: Vec<String>,
    lease_ms: i64,
    max_runs: usize,
    /// The runs executing here, each with the way to stop it.
    runs: Mutex<HashMap<Uuid, watch::Sender<Option<Stop>>>>,
    slot_freed: Notify,
    /// A run started here: the heartbeat waiting on the server asks again with it.
    runs_changed: Notify,
}

/// Why a claim failed.
enum ClaimError {
    /// Refused for good (bad token, bad name): asking again cannot help.
    Refused(String),
    /// The server is unreachable or failing: ask again later.
    Unavailable(String),
}

impl Agent {
    /// Claims and runs commands until `stopping` resolves (with the signal's name);
    /// then stops the commands and reports them. The exit code.
    async fn work_until(
        self: Arc<Self>,
        stopping: impl std::future::Future<Output = &'static str>,
    ) -> i32 {
        tracing::info!(agent = %self.name, tags = ?self.tags, "agent started");
        let heartbeats = tokio::spawn(self.clone().heartbeats());
        let mut tasks = JoinSet::new();
        tokio::pin!(stopping);
        let mut backoff = Duration::from_secs(1);
        let (code, why) = loop {
            let claimed = tokio::select! {
                why = &mut stopping => break (0, why.to_string()),
                claimed = self.claim_when_free() => claimed,
            };
            match claimed {
                Ok(Some(claim)) => {
                    backoff = Duration::from_secs(1);
                    let (tx, rx) = watch::channel(None);
                    self.lock_runs().insert(claim.execution_id, tx);
                    self.runs_changed.notify_waiters();
                    tasks.spawn(self.clone().execute(claim, rx));
                }
                Ok(None) => backoff = Duration::from_secs(1),
                Err(ClaimError::Refused(why)) => {
                    eprintln!("cronwatch agent: the server refused this agent: {why}");
                    break (2, "its claims were refused".to_string());
                }
                Err(ClaimError::Unavailable(why)) => {
                    tracing::warn!(error = %why, retry_in = ?backoff, "cannot claim runs");
                    tokio::select! {
                        why = &mut stopping => break (0, why.to_string()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        };
        tracing::info!(agent = %self.name, "agent stopping: {why}");
        for stop in self.lock_runs().values() {
            let _ = stop.send(Some(Stop::AgentStopping(why.clone())));
        }
        while tasks.join_next().await.is_some() {}
        heartbeats.abort();
        code
    }

    fn lock_runs(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<Option<Stop>>>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free slot, then asks the server for a run.
    async fn claim_when_free(&self) -> Result<Option<Claim>, ClaimError> {
        loop {
            let freed = self.slot_freed.notified();
            if self.lock_runs().len() < self.max_runs {
                break;
            }
            freed.await;
        }
        let body = ClaimRequest {
            agent: self.name.clone(),
            tags: self.tags.clone(),
            lease_ms: Some(self.lease_ms),
            wait_ms: Some(CLAIM_WAIT_MS),
        };
        let resp = self
            .reporter
            .client
            .post(format!("{}/api/v1/agent/claim", self.reporter.base))
            .bearer_auth(&self.reporter.token)
            .timeout(Duration::from_millis(CLAIM_WAIT_MS as u64) + Duration::from_secs(10))
            .json(&body)
            .send()
            .await
            .map_err(|e| ClaimError::Unavailable(e.to_string()))?;
        match resp.status() {
            StatusCode::OK => resp
                .json::<Claim>()
                .await
                .map(Some)
                .map_err(|e| ClaimError::Unavailable(format!("unreadable claim: {e}"))),
            StatusCode::NO_CONTENT => Ok(None),
            s if s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS => Err(
                ClaimError::Refused(format!("{s} {}", resp.text().await.unwrap_or_default())),
            ),
            s => Err(ClaimError::Unavailable(format!("server answered {s}"))),
        }
    }

    /// Renews the leases of the runs executing here, three times per lease, and stops
    /// those the server says have ended. Each heartbeat waits on the server for one of
    /// them to end, so a cancel is answered within moments; it is asked again at once
    /// when a run starts here, so that the new run is watched too.
    async fn heartbeats(self: Arc<Self>) {
        let every = Duration::from_millis(self.lease_ms as u64 / 3);
        let mut asked: Option<Instant> = None;
        loop {
            // However soon the server answers (a run that ended and is still listed
            // here) or runs start here, heartbeats stay a few per second at most.
            if let Some(at) = asked {
                tokio::time::sleep_until((at + HEARTBEAT_GAP).into()).await;
            }
            let started_here = self.runs_changed.notified();
            tokio::pin!(started_here);
            // Registered before the look at the runs: a claim in between is not missed.
            started_here.as_mut().enable();
            let executions: Vec<Uuid> = self.lock_runs().keys().copied().collect();
            if executions.is_empty() {
                started_here.await;
                continue;
            }
            asked = Some(Instant::now());
            let beat = Heartbeat {
                agent: self.name.clone(),
                executions,
                lease_ms: Some(self.lease_ms),
                wait_ms: Some(every.as_millis() as i64),
            };
            let answer = tokio::select! {
                answer = self.send(&beat, every) => answer,
                () = &mut started_here => continue,
            };
            match answer {
                Ok(answer) => {
                    let runs = self.lock_runs();
                    for id in answer.stop {
                        if let Some(stop) = runs.get(&id) {
                            let _ = stop.send(Some(Stop::Ended));
                        }
                    }
                }
                // The lease may lapse: the server then ends the run, and says so at the
                // next heartbeat that gets through.
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed");
                    tokio::time::sleep(HEARTBEAT_RETRY.min(every)).await;
                }
            }
        }
    }

    /// One heartbeat, which the server may hold for up to `wait`.
    async fn send(&self, beat: &Heartbeat, wait: Duration) -> reqwest::Result<HeartbeatAnswer> {
        self.reporter
            .client
            .post(format!("{}/api/v1/agent/heartbeat", self.reporter.base))
            .bearer_auth(&self.reporter.token)
            .timeout(wait + Duration::from_secs(10))
            .json(beat)
            .send()
            .await?
            .error_for_status()?
            .json::<HeartbeatAnswer>()
            .await
    }

    /// Executes one claimed run and reports its end.
    async fn execute(self: Arc<Self>, claim: Claim, stop: watch::Receiver<Option<Stop>>) {
        let id = claim.execution_id;
        tracing::info!(%id, job = %claim.job, argv = ?claim.argv, "running");
        let finished: Finished = process::execute(&claim, stop).await;
        tracing::info!(%id, job = %claim.job, status = finished.status, code = ?finished.exit_code, "ended");
        let deadline = Instant::now() + self.reporter.budget;
        let path = format!("/api/v1/executions/{id}/complete");
        if let Err(e) = self.reporter.post(&path, finished.report(), deadline).await {
            // A 409 when the run had already ended (cancelled, or its lease lapsed).
            tracing::warn!(%id, error = %e, "could not report the end of a run");
        }
        self.lock_runs().remove(&id);
        self.slot_freed.notify_one();
    }
}
