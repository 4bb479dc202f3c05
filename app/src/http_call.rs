//! The rules of an `http` job's call ([`HttpCall`]) and the secrets it may send.
//!
//! A secret is named, never stored: the job names an environment variable of the
//! server, read once at start-up. Only variables under [`SECRET_ENV_PREFIX`] can be
//! named, so that an admin token cannot have the server send its own credentials
//! (`DATABASE_URL`, the first admin's password) to a URL of its choosing.

use std::collections::HashMap;

use axum::http::{HeaderName, Uri};

use crate::model::HttpCall;

/// Environment variables a job may name as its secret start with this.
pub const SECRET_ENV_PREFIX: &str = "CRONWATCH_SECRET_";
/// The header the secret goes in unless the job names another: the one the shell
/// library and the pingers cronwatch replaces send.
pub const DEFAULT_SECRET_HEADER: &str = "x-cron-secret";
/// How long a call may take when the job sets no timeout (a minute).
pub const DEFAULT_TIMEOUT_MS: i64 = 60_000;
/// How long after its timeout the sweeper ends a call's run itself (its replica died):
/// a live replica's own timeout comes first.
pub const HTTP_SWEEP_SLACK_MS: i64 = 30_000;
/// Most retries of one failed run.
pub const MAX_RETRIES: i32 = 10;
/// The wait before a first retry when the job gives none (a minute).
pub const DEFAULT_RETRY_BACKOFF_MS: i64 = 60_000;
/// Shortest and longest first wait accepted (a second, a day).
const RETRY_BACKOFF_MS: std::ops::RangeInclusive<i64> = 1_000..=86_400_000;
/// Longest URL accepted.
const MAX_URL_LEN: usize = 2048;
/// Headers the HTTP client sets itself (or that would change how the body is read).
const RESERVED_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
];

/// Checks a call's URL, secret variable and header; the error says what to fix.
pub fn check(call: &HttpCall) -> Result<(), String> {
    if call.url.len() > MAX_URL_LEN {
        return Err(format!("http.url is longer than {MAX_URL_LEN} characters"));
    }
    let uri: Uri = call
        .url
        .parse()
        .map_err(|e| format!("http.url {:?} is not a URL: {e}", call.url))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!(
            "http.url {:?} must be an absolute http:// or https:// URL",
            call.url
        ));
    }
    if let Some(var) = &call.secret_env {
        let rest = var.strip_prefix(SECRET_ENV_PREFIX).unwrap_or_default();
        let well_formed = !rest.is_empty()
            && var.len() <= 128
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            return Err(format!(
                "http.secret_env {var:?} must name an environment variable of the server \
                 starting with {SECRET_ENV_PREFIX} (A-Z, 0-9, _), e.g. \
                 {SECRET_ENV_PREFIX}CRON: only those can be sent"
            ));
        }
    }
    check_retries("http", call.retries, call.retry_backoff_ms)?;
    if let Some(header) = &call.secret_header {
        if call.secret_env.is_none() {
            return Err("http.secret_header needs http.secret_env: the secret it carries".into());
        }
        let name = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| format!("http.secret_header {header:?} is not a header name"))?;
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(format!(
                "http.secret_header cannot be {header:?}: cronwatch sets it itself"
            ));
        }
    }
    Ok(())
}

/// Checks a retry policy (of an http call or a command); `what` is where its fields
/// sit in the definition, for the error.
pub fn check_retries(
    what: &str,
    retries: Option<i32>,
    backoff_ms: Option<i64>,
) -> Result<(), String> {
    if let Some(n) = retries {
        if !(0..=MAX_RETRIES).contains(&n) {
            return Err(format!(
                "{what}.retries must be 0 to {MAX_RETRIES}, not {n}"
            ));
        }
    }
    if let Some(ms) = backoff_ms {
        if !RETRY_BACKOFF_MS.contains(&ms) {
            return Err(format!(
                "{what}.retry_backoff_ms must be {} to {} (a second to a day), not {ms}",
                RETRY_BACKOFF_MS.start(),
                RETRY_BACKOFF_MS.end()
            ));
        }
    }
    Ok(())
}

/// The `CRONWATCH_SECRET_*` variables of the server's environment, read at start-up.
/// Values never appear in `Debug` output or logs.
#[derive(Clone, Default)]
pub struct JobSecrets(HashMap<String, String>);

impl JobSecrets {
    /// The secrets among `pairs` (name, value), such as `std::env::vars()`; others are
    /// ignored.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(
            pairs
                .into_iter()
                .filter(|(k, _)| k.starts_with(SECRET_ENV_PREFIX))
                .collect(),
        )
    }

    pub fn get(&self, var: &str) -> Option<&str> {
        self.0.get(var).map(String::as_str)
    }
}

impl std::fmt::Debug for JobSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_tuple("JobSecrets").field(&names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(url: &str, env: Option<&str>, header: Option<&str>) -> HttpCall {
        HttpCall {
            url: url.into(),
            secret_env: env.map(Into::into),
            secret_header: header.map(Into::into),
            ..HttpCall::default()
        }
    }

    #[test]
    fn retries_are_bounded() {
        let with = |retries, retry_backoff_ms| HttpCall {
            retries,
            retry_backoff_ms,
            ..call("https://e.com/x", None, None)
        };
        assert!(check(&with(Some(3), Some(1_000))).is_ok());
        assert!(check(&with(Some(10), Some(86_400_000))).is_ok());
        assert!(check(&with(Some(0), None)).is_ok());
        for bad in [
            with(Some(11), None),
            with(Some(-1), None),
            with(Some(2), Some(999)),
            with(None, Some(86_400_001)),
        ] {
            assert!(check(&bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn good_calls_pass() {
        assert!(check(&call("https://example.com/api/cron/x?a=1", None, None)).is_ok());
        let env = Some("CRONWATCH_SECRET_CRON");
        assert!(check(&call("http://127.0.0.1:8080/run", env, None)).is_ok());
        assert!(check(&call("http://h/run", env, Some("Authorization"))).is_ok());
    }

    #[test]
    fn bad_calls_say_why() {
        let bad = [
            call("/relative", None, None),
            call("ftp://example.com/x", None, None),
            call("not a url", None, None),
            call(&format!("https://e.com/{}", "a".repeat(3000)), None, None),
            call("https://e.com", Some("DATABASE_URL"), None),
            call("https://e.com", Some("CRONWATCH_SECRET_"), None),
            call("https://e.com", Some("CRONWATCH_SECRET_lower"), None),
            call("https://e.com", None, Some("X-Token")),
            call(
                "https://e.com",
                Some("CRONWATCH_SECRET_A"),
                Some("bad header"),
            ),
            call("https://e.com", Some("CRONWATCH_SECRET_A"), Some("Host")),
        ];
        for c in bad {
            assert!(check(&c).is_err(), "{c:?} passed");
        }
    }

    #[test]
    fn only_prefixed_variables_are_kept_and_values_never_shown() {
        let s = JobSecrets::from_pairs([
            ("CRONWATCH_SECRET_A".to_string(), "hunter2".to_string()),
            ("DATABASE_URL".to_string(), "postgres://x".to_string()),
        ]);
        assert_eq!(s.get("CRONWATCH_SECRET_A"), Some("hunter2"));
        assert_eq!(s.get("DATABASE_URL"), None);
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
