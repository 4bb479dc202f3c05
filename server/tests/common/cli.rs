//! Running the real `cronwatch` binary against a test's database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `cronwatch ARGS` with `DATABASE_URL=url`, feeding it `stdin` (blocking).
pub fn cronwatch(url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(args)
        .env("DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// [`cronwatch`] off the async runtime; answers whether it succeeded, its stdout and
/// its stderr.
pub async fn run(url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let url = url.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.map(str::to_string);
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cronwatch(&url, &args, stdin.as_deref())
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}
