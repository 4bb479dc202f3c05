//! Input rules shared by the API and the forms.

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
}
