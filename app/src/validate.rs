//! Input rules shared by the API and the forms.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What stays readable in a query value: unreserved characters and `/` (so that a
/// `next=/monitoring…` parameter reads as a path).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes `s` for use as one URL query value.
pub fn encode_query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Job and batch names: `[a-z0-9-]{1,64}` (same rule as the database constraint).
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// PostgreSQL's text and jsonb cannot hold U+0000; reported free text (logs, error
/// messages, output) may. It is stored as U+FFFD, so the run is still recorded.
pub fn pg_text(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    }
}

/// [`pg_text`] for every string and key of a JSON value.
pub fn pg_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => *s = pg_text(std::mem::take(s)),
        Value::Array(items) => items.iter_mut().for_each(pg_json),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (pg_text(k), v))
                    .collect();
            }
            map.values_mut().for_each(pg_json);
        }
        _ => {}
    }
}

/// Text settings (names, descriptions) are refused rather than altered.
pub fn refuse_nul(what: &str, s: &str) -> Result<(), String> {
    if s.contains('\0') {
        Err(format!("{what} may not contain NUL (U+0000) characters"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid_name;

    #[test]
    fn nul_characters_become_replacement_characters() {
        assert_eq!(super::pg_text("a\0b\0".into()), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(super::pg_text("plain".into()), "plain");
        let mut v = serde_json::json!({"k\0": ["x\0", 1, {"n": "\0"}], "ok": "y"});
        super::pg_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"k\u{FFFD}": ["x\u{FFFD}", 1, {"n": "\u{FFFD}"}], "ok": "y"})
        );
        assert!(super::refuse_nul("description", "a\0").is_err());
        assert!(super::refuse_nul("description", "a").is_ok());
    }

    #[test]
    fn names() {
        assert!(is_valid_name("monitor-openai"));
        assert!(is_valid_name("a"));
        assert!(is_valid_name(&"x".repeat(64)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"x".repeat(65)));
        assert!(!is_valid_name("Monitor"));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name("a_b"));
        assert!(!is_valid_name("é"));
    }

    #[test]
    fn query_values() {
        assert_eq!(
            super::encode_query_value("/monitoring?tab=crons&x=1"),
            "/monitoring%3Ftab%3Dcrons%26x%3D1"
        );
        assert_eq!(
            super::encode_query_value("monitor-openai"),
            "monitor-openai"
        );
    }
}
