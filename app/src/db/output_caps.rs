//! Bounds on what a report stores: output, log tail and error message are capped so
//! that one chatty job cannot bloat the table, and the run itself is still recorded.

/// Output larger than this (serialised JSON) is replaced by a truncation marker.
pub const OUTPUT_CAP_BYTES: usize = 64 * 1024;
/// The log tail keeps this many bytes from the end.
pub const LOG_TAIL_CAP_BYTES: usize = 16 * 1024;
/// Error messages keep this many bytes from the start.
pub const ERROR_CAP_BYTES: usize = 4 * 1024;

/// Replaces output above [`OUTPUT_CAP_BYTES`] by a marker that keeps its size and a
/// preview, so that the run is still recorded (nothing acknowledged is lost).
pub fn cap_output(output: Option<serde_json::Value>) -> (Option<serde_json::Value>, bool) {
    let Some(value) = output else {
        return (None, false);
    };
    let text = value.to_string();
    if text.len() <= OUTPUT_CAP_BYTES {
        return (Some(value), false);
    }
    (Some(truncation_marker(&text)), true)
}

/// What stands for an output over the cap whose JSON text is `text`: its size and the
/// start of it.
pub fn truncation_marker(text: &str) -> serde_json::Value {
    serde_json::json!({
        "truncated": true,
        "original_bytes": text.len(),
        "preview": &text[..head_len(text, 4096)],
    })
}

/// Keeps at most `max` bytes from the start of `s`, on a character boundary.
pub fn cap_head(mut s: String, max: usize) -> String {
    s.truncate(head_len(&s, max));
    s
}

/// The length of the longest start of `s` of at most `max` bytes.
fn head_len(s: &str, max: usize) -> usize {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// Keeps at most `max` bytes from the end of `s`, on a character boundary.
pub fn cap_tail(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_respect_char_boundaries() {
        let s = "é".repeat(10); // 20 bytes
        assert_eq!(cap_head(s.clone(), 5), "éé");
        assert_eq!(cap_tail(s.clone(), 5), "éé");
        assert_eq!(cap_tail("abc".into(), 10), "abc");
    }

    #[test]
    fn output_over_cap_becomes_marker() {
        let big = serde_json::json!({ "x": "a".repeat(OUTPUT_CAP_BYTES) });
        let (out, truncated) = cap_output(Some(big));
        assert!(truncated);
        let out = out.unwrap();
        assert_eq!(out["truncated"], true);
        assert!(out["original_bytes"].as_u64().unwrap() > OUTPUT_CAP_BYTES as u64);
        let small = serde_json::json!({ "ok": 1 });
        assert_eq!(cap_output(Some(small.clone())), (Some(small), false));
    }
}
