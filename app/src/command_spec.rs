//! The rules of a `command` job's command ([`CommandSpec`]) and of the agents that
//! claim its runs.

use crate::http_call::check_retries;
use crate::model::CommandSpec;
use crate::validate::is_valid_name;

/// Most arguments of one command, and the longest argument (the kernel's own limits
/// are far above; these keep a definition readable and its row small).
const MAX_ARGS: usize = 256;
const MAX_ARG_LEN: usize = 8192;
/// Most tags an agent may have, or a command may ask for.
pub const MAX_AGENT_TAGS: usize = 32;

/// Checks a command; the error says what to fix.
pub fn check(spec: &CommandSpec) -> Result<(), String> {
    match spec.argv.first() {
        None => {
            return Err(
                "command.argv is empty: give the program and its arguments, e.g. \
                 [\"sh\", \"-c\", \"pg_dump app > /backups/app.sql\"]"
                    .into(),
            )
        }
        Some(program) if program.trim().is_empty() => {
            return Err("command.argv[0], the program, is blank".into())
        }
        Some(_) => {}
    }
    if spec.argv.len() > MAX_ARGS {
        return Err(format!("command.argv has more than {MAX_ARGS} items"));
    }
    for (i, arg) in spec.argv.iter().enumerate() {
        if arg.len() > MAX_ARG_LEN {
            return Err(format!(
                "command.argv[{i}] is longer than {MAX_ARG_LEN} bytes"
            ));
        }
        if arg.contains('\0') {
            // No program can receive it: the kernel ends each argument at the first NUL.
            return Err(format!("command.argv[{i}] contains a NUL character"));
        }
    }
    check_tags("command.agent_tags", &spec.agent_tags)?;
    check_retries("command", spec.retries, spec.retry_backoff_ms)
}

/// Checks a list of agent tags (a command's, or an agent's own).
pub fn check_tags(what: &str, tags: &[String]) -> Result<(), String> {
    if tags.len() > MAX_AGENT_TAGS || tags.iter().any(|t| !is_valid_name(t)) {
        return Err(format!(
            "{what}: at most {MAX_AGENT_TAGS}, each [a-z0-9-]{{1,64}}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(argv: &[&str]) -> CommandSpec {
        CommandSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            ..CommandSpec::default()
        }
    }

    #[test]
    fn a_command_needs_a_program_and_clean_arguments() {
        assert!(check(&spec(&["sh", "-c", "echo hi"])).is_ok());
        assert!(check(&spec(&[])).unwrap_err().contains("empty"));
        assert!(check(&spec(&["  "])).unwrap_err().contains("blank"));
        assert!(check(&spec(&["echo", "a\0b"]))
            .unwrap_err()
            .contains("argv[1]"));
        let long = "x".repeat(MAX_ARG_LEN + 1);
        assert!(check(&spec(&["echo", &long]))
            .unwrap_err()
            .contains("longer"));
        let many = vec!["x"; MAX_ARGS + 1];
        assert!(check(&spec(&many)).unwrap_err().contains("more than"));
    }

    #[test]
    fn tags_and_retries_are_bounded() {
        let mut s = spec(&["true"]);
        s.agent_tags = vec!["gpu".into(), "eu-west".into()];
        assert!(check(&s).is_ok());
        s.agent_tags = vec!["GPU".into()];
        assert!(check(&s).unwrap_err().contains("command.agent_tags"));
        s.agent_tags = vec![];
        s.retries = Some(11);
        assert!(check(&s).unwrap_err().contains("command.retries"));
        s.retries = Some(2);
        s.retry_backoff_ms = Some(10);
        assert!(check(&s).unwrap_err().contains("command.retry_backoff_ms"));
    }
}
