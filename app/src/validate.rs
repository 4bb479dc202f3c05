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

#[cfg(test)]
mod tests {
    use super::is_valid_name;

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
