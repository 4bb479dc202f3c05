//! The command line against a real database: migrate, user add, token create, and the
//! clear error when no PostgreSQL can be found.

use std::io::Write;
use std::process::{Command, Stdio};

use sqlx::PgPool;

mod common;
use common::url_of;

fn cronwatch(url: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
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
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[sqlx::test(migrations = false)]
async fn migrate_creates_the_schema(pool: PgPool) {
    let url = url_of(&pool);
    let out = tokio::task::spawn_blocking(move || cronwatch(&url, &["migrate"], None))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_schema = 'public'
         and table_name in ('jobs', 'executions', 'execution_rollups', 'batch_queues', 'users',
                            'api_tokens', 'audit_events', 'events')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(tables, 8);
}

#[sqlx::test(migrations = "../migrations")]
async fn user_add_hashes_the_password_and_refuses_duplicates(pool: PgPool) {
    let url = url_of(&pool);
    let u = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        cronwatch(
            &u,
            &[
                "user",
                "add",
                "alice",
                "--role",
                "admin",
                "--password-stdin",
            ],
            Some("correct horse battery\n"),
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (role, hash): (String, String) =
        sqlx::query_as("select role, password_hash from users where username = 'alice'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(role, "admin");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    let u = url.clone();
    let dup = tokio::task::spawn_blocking(move || {
        cronwatch(
            &u,
            &[
                "user",
                "add",
                "alice",
                "--role",
                "viewer",
                "--password-stdin",
            ],
            Some("another password"),
        )
    })
    .await
    .unwrap();
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let u = url.clone();
    let short = tokio::task::spawn_blocking(move || {
        cronwatch(
            &u,
            &["user", "add", "bob", "--role", "viewer", "--password-stdin"],
            Some("short"),
        )
    })
    .await
    .unwrap();
    assert_eq!(short.status.code(), Some(1));
    let bad_role = tokio::task::spawn_blocking(move || {
        cronwatch(&url, &["user", "add", "bob", "--role", "god"], None)
    })
    .await
    .unwrap();
    assert!(!bad_role.status.success());
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "refused commands change nothing");
}

#[sqlx::test(migrations = "../migrations")]
async fn token_create_prints_the_token_alone_on_the_last_line(pool: PgPool) {
    let url = url_of(&pool);
    let u = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        cronwatch(&u, &["token", "create", "ci", "--scope", "read"], None)
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap();
    assert!(token.starts_with("cw_") && !token.contains(' '), "{stdout}");
    let identity = app::db::tokens::verify(&pool, token)
        .await
        .unwrap()
        .expect("the printed token works");
    assert_eq!(identity.scope, app::db::tokens::Scope::Read);
    let stored: Vec<u8> = sqlx::query_scalar("select secret_hash from api_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(stored, token.as_bytes(), "only a hash is stored");

    // An existing shell-library secret can be imported from stdin.
    let out = tokio::task::spawn_blocking(move || {
        cronwatch(
            &url,
            &[
                "token",
                "create",
                "legacy",
                "--scope",
                "ingest",
                "--secret-stdin",
            ],
            Some("my-old-cron-secret-value\n"),
        )
    })
    .await
    .unwrap();
    assert!(out.status.success());
    assert!(app::db::tokens::verify(&pool, "my-old-cron-secret-value")
        .await
        .unwrap()
        .is_some());
}

#[test]
fn no_postgres_installation_and_no_url_is_one_clear_error() {
    let empty = std::env::temp_dir().join(format!("cw-no-pg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(empty.join("data"))
        .env_remove("DATABASE_URL")
        .env("CRONWATCH_PG_BIN_DIR", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no PostgreSQL installation found") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&empty);
}
