//! One claimed run's command: started in its own process group (so that a kill
//! reaches whatever it started), its output's tail kept, and killed when its timeout
//! passes or it is stopped: SIGTERM to the group, SIGKILL if it has not exited
//! [`KILL_GRACE`] later.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::protocol::Claim;
use crate::wrap::{exit_code, spawn_failure_code, tee, Tail};

/// How long a command has to exit after SIGTERM before it is killed outright.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How long the output is still read after the command exits: a process it left
/// running in the background may hold its output open for good.
const DRAIN: Duration = Duration::from_secs(1);

/// Why a command is stopped before it ends by itself.
#[derive(Clone, Debug)]
pub enum Stop {
    /// The run has ended on the server (an admin cancelled it, or it was swept).
    Ended,
    /// The agent is stopping (the signal's name).
    AgentStopping(String),
}

/// How a run ended, as its completion report says.
pub struct Finished {
    pub status: &'static str,
    pub exit_code: Option<i32>,
    pub error_message: Option<String>,
    pub log_tail: String,
    pub duration_ms: i64,
}

impl Finished {
    /// The body of `POST /api/v1/executions/{id}/complete`. A last line of output
    /// that is a JSON object becomes the run's output, as an http job's answer does.
    pub fn report(&self) -> Value {
        let output = self
            .log_tail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| serde_json::from_str::<Value>(l).ok())
            .filter(Value::is_object);
        let mut body = json!({
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "log_tail": self.log_tail,
            "error_message": self.error_message,
        });
        if let Some(output) = output {
            body["output"] = output;
        }
        body
    }
}

/// Runs `claim`'s command to its end, its timeout, or a stop.
pub async fn execute(claim: &Claim, mut stop: watch::Receiver<Option<Stop>>) -> Finished {
    let clock = Instant::now();
    let mut command = Command::new(&claim.argv[0]);
    command
        .args(&claim.argv[1..])
        .env("CRONWATCH_EXECUTION_ID", claim.execution_id.to_string())
        .env("CRONWATCH_JOB", &claim.job)
        .env("CRONWATCH_ATTEMPT", claim.attempt.to_string())
        // The agent's credential is not the command's to use.
        .env_remove("CRONWATCH_TOKEN");
    // Parameters by environment, never spliced into argv: a value cannot become an
    // option or a second command. All of them as one JSON object too.
    if let Some(params) = &claim.params {
        command.env(
            "CRONWATCH_PARAMS",
            serde_json::Value::Object(params.clone()).to_string(),
        );
        for (name, value) in params {
            let var = format!("CRONWATCH_PARAM_{}", name.to_ascii_uppercase());
            command.env(var, app::params::as_text(value));
        }
    }
    let mut child = match command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return Finished {
                status: "failed",
                exit_code: Some(spawn_failure_code(&e)),
                error_message: Some(format!("could not start {:?}: {e}", claim.argv[0])),
                log_tail: String::new(),
                duration_ms: clock.elapsed().as_millis() as i64,
            }
        }
    };
    let tail = Tail::default();
    let readers = [
        tokio::spawn(tee(
            child.stdout.take().expect("piped"),
            tokio::io::sink(),
            tail.clone(),
        )),
        tokio::spawn(tee(
            child.stderr.take().expect("piped"),
            tokio::io::sink(),
            tail.clone(),
        )),
    ];
    let timeout = claim.timeout_ms.map(|ms| Duration::from_millis(ms as u64));
    let timed_out = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let stopped = async {
        match stop.wait_for(Option::is_some).await {
            Ok(why) => why.clone(),
            // The agent dropped its handle: it is going away.
            Err(_) => Some(Stop::AgentStopping("the agent ended".into())),
        }
    };
    // `None`: it ended by itself; otherwise why it was killed.
    let (status, killed) = tokio::select! {
        status = child.wait() => (status, None),
        () = timed_out => (kill(&mut child).await, Some(Killed::Timeout)),
        why = stopped => (kill(&mut child).await, why.map(Killed::Stopped)),
    };
    for reader in readers {
        if tokio::time::timeout(DRAIN, reader).await.is_err() {
            tracing::debug!("output still open after the command ended; tail as read so far");
        }
    }
    let code = exit_code(status);
    let (status, error_message) = match killed {
        None if code == 0 => ("completed", None),
        None => ("failed", Some(format!("exited with code {code}"))),
        Some(Killed::Timeout) => (
            "timed_out",
            Some(format!(
                "killed after its timeout of {} s",
                timeout.unwrap_or_default().as_secs_f64()
            )),
        ),
        Some(Killed::Stopped(Stop::Ended)) => (
            "cancelled",
            Some("stopped: the run had ended on the server (cancelled)".into()),
        ),
        Some(Killed::Stopped(Stop::AgentStopping(signal))) => (
            "cancelled",
            Some(format!(
                "the agent was stopped ({signal}) while the command ran"
            )),
        ),
    };
    Finished {
        status,
        exit_code: Some(code),
        error_message,
        log_tail: tail.text(),
        duration_ms: clock.elapsed().as_millis() as i64,
    }
}

enum Killed {
    Timeout,
    Stopped(Stop),
}

/// Stops the command's process group: SIGTERM, then SIGKILL after [`KILL_GRACE`].
async fn kill(child: &mut Child) -> std::io::Result<std::process::ExitStatus> {
    let group = child.id().map(|pid| Pid::from_raw(pid as i32));
    if let Some(group) = group {
        // An error means the group is gone already: its exit status is next.
        let _ = killpg(group, Signal::SIGTERM);
    }
    match tokio::time::timeout(KILL_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            if let Some(group) = group {
                let _ = killpg(group, Signal::SIGKILL);
            }
            child.wait().await
        }
    }
}
