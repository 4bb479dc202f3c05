//! The call of an `http` job and how its answer becomes the run's end.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use app::db::executions::Completion;
use app::http_call::{JobSecrets, DEFAULT_SECRET_HEADER, DEFAULT_TIMEOUT_MS};
use app::model::{ExecutionStatus, ExecutionSummary, HttpCall, Job};
use app::params::Params;

/// The most of an answer's body that is read (and kept, as output or log).
const BODY_CAP: usize = 1024 * 1024;

/// One client for every call: connections are reused. Redirects are not followed, so a
/// secret header is never carried to another host.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cronwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds")
    })
}

/// POSTs the run to the job's URL and turns the answer into its end: a 2xx answer
/// completes it, anything else fails it, no answer within the job's timeout times it
/// out. A JSON answer becomes the run's output, any other its log.
pub async fn call(
    job: &Job,
    http: &HttpCall,
    run: &ExecutionSummary,
    params: Option<&Params>,
    secrets: &JobSecrets,
) -> Completion {
    let began = Instant::now();
    let timeout = Duration::from_millis(job.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS) as u64);
    let mut request = client()
        .post(&http.url)
        .timeout(timeout)
        .header("x-cronwatch-execution", run.id.to_string())
        .json(&serde_json::json!({
            "job": job.name,
            "execution_id": run.id,
            "trigger": run.trigger,
            "triggered_by": run.triggered_by,
            "scheduled_for": run.scheduled_for,
            "started_at": run.started_at,
            "attempt": run.attempt,
            // An object always: `{}` for a job that declares no parameters.
            "params": params.cloned().unwrap_or_default(),
        }));
    if let Some(var) = &http.secret_env {
        let Some(secret) = secrets.get(var) else {
            return ended(
                ExecutionStatus::Failed,
                format!(
                    "not called: the server has no environment variable {var} (set it where \
                     `cronwatch serve` runs, then restart it)"
                ),
                began,
            );
        };
        let header = http
            .secret_header
            .as_deref()
            .unwrap_or(DEFAULT_SECRET_HEADER);
        request = request.header(header, secret);
    }
    let answer = async {
        let mut resp = request.send().await?;
        let status = resp.status();
        let json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            let room = BODY_CAP - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() == BODY_CAP {
                break;
            }
        }
        Ok::<_, reqwest::Error>((status, json, body))
    };
    match answer.await {
        Ok((status, json, body)) => {
            let output = json
                .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
                .flatten();
            let log = (output.is_none() && !body.is_empty())
                .then(|| String::from_utf8_lossy(&body).into_owned());
            let error = (!status.is_success()).then(|| {
                let redirect = if status.is_redirection() {
                    " (redirects are not followed: give the job the final URL)"
                } else {
                    ""
                };
                let why = output.as_ref().and_then(reason);
                let why = why.map_or(String::new(), |w| format!(": {w}"));
                format!("the URL answered HTTP {status}{redirect}{why}")
            });
            Completion {
                status: if status.is_success() {
                    ExecutionStatus::Completed
                } else {
                    ExecutionStatus::Failed
                },
                output,
                output_truncated: false,
                error_message: error,
                exit_code: None,
                duration_ms: Some(elapsed_ms(began)),
                log_tail: log,
                completed_at: None,
            }
        }
        Err(e) if e.is_timeout() => ended(
            ExecutionStatus::TimedOut,
            format!(
                "no answer within {} ms (the job's timeout)",
                timeout.as_millis()
            ),
            began,
        ),
        Err(e) => ended(
            ExecutionStatus::Failed,
            format!("could not call {}: {}", http.url, error_chain(&e)),
            began,
        ),
    }
}

/// The most of a failed answer's own reason that goes into the run's error message
/// (the whole answer is its output).
const REASON_CAP: usize = 300;

/// The reason a JSON error answer gives, in the shapes endpoints commonly use:
/// `{"error": "…"}`, `{"error": {"message": "…"}}` or `{"message": "…"}`.
fn reason(answer: &serde_json::Value) -> Option<String> {
    let text = [
        answer.get("error"),
        answer.get("error").and_then(|e| e.get("message")),
        answer.get("message"),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str())
    .map(str::trim)
    .filter(|t| !t.is_empty())?;
    let mut cut = text.len().min(REASON_CAP);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(if cut < text.len() {
        format!("{}…", &text[..cut])
    } else {
        text.to_string()
    })
}

/// An end with no answer to keep.
fn ended(status: ExecutionStatus, why: String, began: Instant) -> Completion {
    Completion {
        duration_ms: Some(elapsed_ms(began)),
        ..Completion::by_cronwatch(status, &why)
    }
}

fn elapsed_ms(began: Instant) -> i64 {
    i64::try_from(began.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// `e` with its causes ("error sending request: connection refused"), which reqwest's
/// own message leaves out.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::reason;
    use serde_json::json;

    #[test]
    fn a_failed_answer_gives_its_reason_in_the_common_shapes() {
        assert_eq!(reason(&json!({"error": "quota"})).as_deref(), Some("quota"));
        let nested = json!({"error": {"code": 7, "message": "db down"}});
        assert_eq!(reason(&nested).as_deref(), Some("db down"));
        assert_eq!(
            reason(&json!({"message": " busy "})).as_deref(),
            Some("busy")
        );
        assert_eq!(reason(&json!({"error": true, "detail": "x"})), None);
        assert_eq!(reason(&json!({"error": ""})), None);
        assert_eq!(reason(&json!([1, 2])), None);
        let long = "é".repeat(400);
        let cut = reason(&json!({ "error": long })).unwrap();
        assert!(
            cut.ends_with('…') && cut.len() <= 300 + '…'.len_utf8(),
            "{}",
            cut.len()
        );
    }
}
