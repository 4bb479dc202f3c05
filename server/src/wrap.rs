//! `cronwatch run JOB -- CMD ARGS…`: runs a command as a reported execution.
//!
//! The command starts at once, whatever the server does: the start report goes out
//! beside it. Its stdout and stderr pass through unchanged while the last 16 KiB are
//! kept for the report. Reports retry with backoff for a bounded time
//! (`CRONWATCH_REPORT_TIMEOUT`, 30 s by default) and never change the exit code,
//! which is the command's own (128 + signal if a signal ended it).
//!
//! Stopping the wrapper stops the command, and its end is still reported (as
//! `cancelled` unless it then exits 0): a killed wrapper must not leave a run that
//! shows as running forever. SIGTERM (`kill`, a supervisor, `docker stop`) is passed on
//! to the command. SIGINT and SIGHUP come from the terminal, which sends them to the
//! command too, so they are not sent twice: the wrapper only outlives them to report.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::signal::unix;
use uuid::Uuid;

/// How much of a command's output is kept for its report: its last 16 KiB.
pub(crate) const TAIL_BYTES: usize = 16 * 1024;

/// Where and how to report (also the agent's way to the server).
pub struct Reporter {
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) client: reqwest::Client,
    pub(crate) budget: Duration,
}

impl Reporter {
    /// The reporter that `CRONWATCH_URL` and `CRONWATCH_TOKEN` describe for `job`, or why
    /// no report could ever be accepted: these are refused for good, so waiting out the
    /// retry budget on them would only delay the cron.
    pub fn from_env(job: &str) -> Result<Self, String> {
        if !app::validate::is_valid_name(job) {
            return Err(format!(
                "the job name {job:?} is invalid: use 1 to 64 of a-z, 0-9 and '-'"
            ));
        }
        Self::from_env_any_job()
    }

    /// The reporter that `CRONWATCH_URL` and `CRONWATCH_TOKEN` describe.
    pub fn from_env_any_job() -> Result<Self, String> {
        let budget = std::env::var("CRONWATCH_REPORT_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(30);
        let base = std::env::var("CRONWATCH_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:3000".into())
            .trim_end_matches('/')
            .to_string();
        if !reqwest::Url::parse(&base).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            return Err(format!(
                "CRONWATCH_URL {base:?} is not an http:// or https:// URL"
            ));
        }
        let token = std::env::var("CRONWATCH_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or("CRONWATCH_TOKEN is not set")?;
        Ok(Self {
            base,
            token,
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| format!("no HTTP client: {e}"))?,
            budget: Duration::from_secs(budget),
        })
    }

    /// POSTs `body` until it is accepted, refused for good (4xx), or the budget is spent.
    pub(crate) async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
        deadline: Instant,
    ) -> Result<(), String> {
        let mut wait = Duration::from_millis(200);
        loop {
            let req = self
                .client
                .post(format!("{}{}", self.base, path))
                .bearer_auth(&self.token)
                .json(&body);
            let err = match req.send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().is_client_error() && r.status() != 429 => {
                    return Err(format!(
                        "{} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ))
                }
                Ok(r) => format!("server answered {}", r.status()),
                Err(e) => e.to_string(),
            };
            if Instant::now() + wait > deadline {
                return Err(err);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

/// Runs the command, reports it, and returns the exit code to exit with.
pub async fn run(job: String, command: Vec<String>) -> i32 {
    let reporter = match Reporter::from_env(&job) {
        Ok(r) => Arc::new(r),
        Err(why) => {
            eprintln!("cronwatch: not reporting {job}: {why}; the command runs all the same");
            return execute(&command).await.code;
        }
    };
    let id = Uuid::new_v4();
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok());
    let started = chrono::Utc::now();
    let start_report = {
        let reporter = reporter.clone();
        let body =
            json!({ "job": job, "id": id, "trigger": "api", "started_at": started, "host": host });
        let deadline = Instant::now() + reporter.budget;
        tokio::spawn(async move {
            reporter
                .post("/api/v1/executions/start", body, deadline)
                .await
        })
    };
    let clock = Instant::now();
    let ended = execute(&command).await;
    let duration_ms = clock.elapsed().as_millis() as i64;
    let code = ended.code;

    let deadline = Instant::now() + reporter.budget;
    let started_ok = match start_report.await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            eprintln!("cronwatch: could not report the start of {job}: {e}");
            false
        }
        Err(_) => false,
    };
    if started_ok {
        let status = match (code, ended.stopped_by) {
            (0, _) => "completed",
            (_, Some(_)) => "cancelled",
            _ => "failed",
        };
        let error_message = match (ended.spawn_error, ended.stopped_by) {
            (Some(e), _) => Some(e),
            (None, Some(sig)) => Some(format!("stopped by {sig}; exited with code {code}")),
            (None, None) => (code != 0).then(|| format!("exited with code {code}")),
        };
        let body = json!({
            "status": status,
            "exit_code": code,
            "duration_ms": duration_ms,
            "log_tail": ended.tail,
            "error_message": error_message,
        });
        if let Err(e) = reporter
            .post(&format!("/api/v1/executions/{id}/complete"), body, deadline)
            .await
        {
            eprintln!("cronwatch: could not report the end of {job}: {e}");
        }
    }
    code
}

/// How the command ended.
struct Ended {
    code: i32,
    /// The last [`TAIL_BYTES`] of its stdout and stderr.
    tail: String,
    /// Why it could not start at all.
    spawn_error: Option<String>,
    /// The first stop signal the wrapper received while the command ran.
    stopped_by: Option<Signal>,
}

/// Spawns the command with its output teed, passing stop signals on, and waits for it.
async fn execute(command: &[String]) -> Ended {
    // Listening before the spawn: a signal that arrives in between is passed on too.
    let mut stops = match StopSignals::listen() {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("cannot listen for stop signals: {e}");
            eprintln!("cronwatch: {msg}");
            return Ended {
                code: 1,
                tail: String::new(),
                spawn_error: Some(msg),
                stopped_by: None,
            };
        }
    };
    let mut child = match tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("could not start {:?}: {e}", command[0]);
            eprintln!("cronwatch: {msg}");
            return Ended {
                code: spawn_failure_code(&e),
                tail: String::new(),
                spawn_error: Some(msg),
                stopped_by: None,
            };
        }
    };
    let tail = Tail::default();
    let out = tokio::spawn(tee(
        child.stdout.take().expect("piped"),
        tokio::io::stdout(),
        tail.clone(),
    ));
    let err = tokio::spawn(tee(
        child.stderr.take().expect("piped"),
        tokio::io::stderr(),
        tail.clone(),
    ));
    let mut stopped_by = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            sig = stops.next() => {
                stopped_by.get_or_insert(sig);
                if let (Signal::SIGTERM, Some(pid)) = (sig, child.id()) {
                    // An error means it is gone already: its exit status is next.
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), sig);
                }
            }
        }
    };
    let _ = out.await;
    let _ = err.await;
    Ended {
        code: exit_code(status),
        tail: tail.text(),
        spawn_error: None,
        stopped_by,
    }
}

/// What a shell answers for a program it could not start: 126 for a file it may not
/// execute, 127 for one it cannot find.
pub(crate) fn spawn_failure_code(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        126
    } else {
        127
    }
}

/// The code to report for an ended process: its own, or 128 + the signal that ended it
/// (as a shell shows it).
pub(crate) fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    match status {
        Ok(s) => s.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            128 + s.signal().unwrap_or(0)
        }),
        Err(_) => 1,
    }
}

/// The last [`TAIL_BYTES`] of a command's output, shared by the tasks copying its
/// stdout and stderr.
#[derive(Clone, Default)]
pub(crate) struct Tail(Arc<Mutex<VecDeque<u8>>>);

impl Tail {
    fn push(&self, bytes: &[u8]) {
        if let Ok(mut t) = self.0.lock() {
            t.extend(bytes);
            let excess = t.len().saturating_sub(TAIL_BYTES);
            t.drain(..excess);
        }
    }

    /// The tail as text (bytes that are not UTF-8 replaced).
    pub(crate) fn text(&self) -> String {
        let bytes: Vec<u8> = self
            .0
            .lock()
            .map(|t| t.iter().copied().collect())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The signals that ask a process to stop, caught so they reach the command instead.
struct StopSignals {
    term: unix::Signal,
    int: unix::Signal,
    hup: unix::Signal,
}

impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        Ok(Self {
            term: unix::signal(unix::SignalKind::terminate())?,
            int: unix::signal(unix::SignalKind::interrupt())?,
            hup: unix::signal(unix::SignalKind::hangup())?,
        })
    }

    /// The next one received.
    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::SIGTERM,
            _ = self.int.recv() => Signal::SIGINT,
            _ = self.hup.recv() => Signal::SIGHUP,
        }
    }
}

/// Copies `from` to `to`, keeping the last [`TAIL_BYTES`] in `tail`.
pub(crate) async fn tee(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    tail: Tail,
) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let _ = to.write_all(&buf[..n]).await;
        let _ = to.flush().await;
        tail.push(&buf[..n]);
    }
}
