//! The command line against a real database: migrate, user add, token create, list
//! and revoke (also against a running server), jobs pause, resume, delete and ping-key,
//! and the clear error when no PostgreSQL can be found.

use std::process::Command;

use serde_json::json;
use sqlx::PgPool;

use crate::common;
use common::cli::cronwatch;
use common::{spawn_app, url_of};

/// Runs the CLI off the async runtime.
async fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    common::cli::run(url, args, None).await
}

/// `(id, revoked)` of every token, by id.
async fn token_states(pool: &PgPool) -> Vec<(i64, bool)> {
    sqlx::query_as("select id, revoked_at is not null from api_tokens order by id")
        .fetch_all(pool)
        .await
        .unwrap()
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
async fn jobs_ping_key_prints_a_path_that_pings_and_regenerates_it(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.start("nightly").await;
    let url = url_of(&pool);
    let last_line = |out: &str| out.lines().last().unwrap_or_default().to_string();

    let (ok, out, err) = cli(&url, &["jobs", "ping-key", "nightly"]).await;
    assert!(ok, "{err}");
    let path = last_line(&out);
    assert_eq!(
        path,
        format!("/ping/{}", common::ping_key(&pool, "nightly").await)
    );
    assert_eq!(
        app.get_raw(&path, None).await.status(),
        200,
        "the path pings"
    );

    let audited = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from audit_events where action = 'job.ping_key.regenerate'
               and target = 'nightly' and actor like 'cli:%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(audited().await, 0, "reading changes nothing");
    let (ok, out, err) = cli(&url, &["jobs", "ping-key", "nightly", "--regenerate"]).await;
    assert!(ok, "{err}");
    let new_path = last_line(&out);
    assert_ne!(new_path, path);
    assert_eq!(
        app.get_raw(&path, None).await.status(),
        404,
        "the old path is dead"
    );
    assert_eq!(app.get_raw(&new_path, None).await.status(), 200);
    assert_eq!(audited().await, 1);

    // An unknown job: one clear line, nothing changed.
    let before = common::snapshot(&pool).await;
    let (ok, _, err) = cli(&url, &["jobs", "ping-key", "nope", "--regenerate"]).await;
    assert!(!ok);
    assert!(err.contains("no job is called \"nope\""), "{err}");
    assert_eq!(common::snapshot(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn jobs_pause_and_resume(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    assert_eq!(
        app.put_job("backup", &json!({ "schedule": "0 3 * * *" }))
            .await,
        201
    );
    let url = url_of(&pool);
    let (ok, out, err) = cli(&url, &["jobs", "pause", "backup"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "job \"backup\" paused\n");
    let (ok, out, _) = cli(&url, &["jobs", "pause", "backup"]).await;
    assert!(ok);
    assert_eq!(out, "job \"backup\" was already paused\n");
    let (ok, out, err) = cli(&url, &["jobs", "resume", "backup"]).await;
    assert!(ok, "{err}");
    assert!(
        out.starts_with("job \"backup\" resumed\nnext expected run: 20"),
        "{out}"
    );
    let trail: Vec<(String, String)> = sqlx::query_as(
        "select action, actor from audit_events where target = 'backup' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let actions: Vec<&str> = trail.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["job.create", "job.pause", "job.resume"]);
    assert!(trail[1].1.starts_with("cli:"), "{trail:?}");

    let before = common::snapshot(&pool).await;
    let (ok, _, err) = cli(&url, &["jobs", "pause", "nope"]).await;
    assert!(!ok);
    assert_eq!(err, "cronwatch: no job is called \"nope\"\n");
    assert_eq!(common::snapshot(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn jobs_delete_asks_for_yes_then_takes_the_history(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let run = app.start("typo-job").await;
    app.complete(run["id"].as_str().unwrap(), "completed").await;
    app.start("typo-job").await;
    app.start("kept").await;
    let url = url_of(&pool);

    let before = common::snapshot(&pool).await;
    let (ok, out, err) = cli(&url, &["jobs", "delete", "typo-job"]).await;
    assert!(!ok, "{out}");
    assert_eq!(
        err,
        "cronwatch: job \"typo-job\" has 2 execution(s), 1 of them running; add --yes to \
         delete it with its whole history\n"
    );
    assert_eq!(
        common::snapshot(&pool).await,
        before,
        "without --yes nothing goes"
    );
    let (ok, _, err) = cli(&url, &["jobs", "delete", "no-such-job", "--yes"]).await;
    assert!(!ok);
    assert_eq!(err, "cronwatch: no job is called \"no-such-job\"\n");
    assert_eq!(common::snapshot(&pool).await, before);

    let (ok, out, err) = cli(&url, &["jobs", "delete", "typo-job", "--yes"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "deleted job \"typo-job\" and 2 execution(s), 1 of them running\n"
    );
    let left: Vec<String> = sqlx::query_scalar(
        "select j.name from executions e join jobs j on j.id = e.job_id order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(left, ["kept"]);
    let (ok, out, _) = cli(&url, &["audit", "--action", "job.delete"]).await;
    assert!(ok);
    assert!(out.contains("typo-job"), "{out}");
    let gone: i64 = sqlx::query_scalar("select count(*) from events where kind = 'job_deleted'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(gone, 1, "open pages drop it");
}

#[sqlx::test(migrations = "../migrations")]
async fn jobs_list_shows_schedule_last_run_and_next_run(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let url = url_of(&pool);
    let (ok, out, err) = cli(&url, &["jobs", "list"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "no job yet, a header: {out}");
    for (name, def) in [
        (
            "backup",
            json!({ "schedule": "0 3 * * *", "timezone": "Europe/Paris" }),
        ),
        ("paused", json!({ "schedule": "@hourly", "enabled": false })),
    ] {
        assert_eq!(app.put_job(name, &def).await, 201);
    }
    let run = app.start("reported").await;
    app.complete(run["id"].as_str().unwrap(), "failed").await;
    // What the dashboard flags, the list says: a run far past its estimate (left
    // behind by a newer one that ended), and three failures in a row.
    assert_eq!(
        app.put_job("hung", &json!({ "estimated_duration_ms": 1000 }))
            .await,
        201
    );
    app.start_ago("hung", chrono::Duration::hours(2)).await;
    let newer = app.start_ago("hung", chrono::Duration::seconds(5)).await;
    app.complete(&newer, "failed").await;
    for _ in 0..2 {
        let run = app.start("hung").await;
        app.complete(run["id"].as_str().unwrap(), "failed").await;
    }

    let (ok, out, err) = cli(&url, &["jobs", "list"]).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    let cells = |i: usize| {
        lines[i]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        cells(0),
        ["NAME", "KIND", "SCHEDULE", "LAST RUN", "STATUS", "NEXT RUN", "ALERTS"]
    );
    let backup = cells(1);
    assert_eq!(
        backup[..5],
        ["backup", "external", "0 3 * * * (Europe/Paris)", "-", "-"]
    );
    assert!(backup[5].ends_with(":00:00Z"), "{out}");
    assert_eq!(backup[6], "-");
    let hung = cells(2);
    assert_eq!(hung[..3], ["hung", "external", "-"]);
    assert_eq!(hung[4..], ["failed", "-", "stuck, 3 failures in a row"]);
    assert_eq!(
        cells(3),
        ["paused", "external", "@hourly, paused", "-", "-", "-", "-"],
        "a paused job has no next run"
    );
    let reported = cells(4);
    assert_eq!(reported[..3], ["reported", "external", "-"]);
    assert_eq!(reported[4..], ["failed", "-", "-"]);
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

#[sqlx::test(migrations = "../migrations")]
async fn tokens_are_listed_without_secrets_and_revoked_by_id_while_rotating(pool: PgPool) {
    let url = url_of(&pool);
    // Rotation: two live tokens share a name.
    let (ok, old_out, _) = cli(&url, &["token", "create", "ci", "--scope", "read"]).await;
    assert!(ok);
    let (ok, new_out, _) = cli(&url, &["token", "create", "ci", "--scope", "read"]).await;
    assert!(ok);
    let (old, new) = (
        old_out.lines().last().unwrap().to_string(),
        new_out.lines().last().unwrap().to_string(),
    );
    let ids: Vec<i64> = token_states(&pool).await.iter().map(|t| t.0).collect();
    let [old_id, new_id] = ids[..] else {
        panic!("two tokens expected: {ids:?}")
    };
    assert!(
        old_out.contains(&format!("(id {old_id})")) && new_out.contains(&format!("(id {new_id})")),
        "creation names the id to revoke by: {old_out}"
    );

    let (ok, list, _) = cli(&url, &["token", "list"]).await;
    assert!(ok);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("LAST USED"),
        "{list}"
    );
    for (line, id) in lines[1..].iter().zip([old_id, new_id]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells[..3],
            [id.to_string().as_str(), "ci", "read"],
            "{list}"
        );
        assert!(line.ends_with("live"), "{list}");
    }
    assert!(
        !list.contains(&old) && !list.contains(&new),
        "no secret is shown"
    );

    // A name two live tokens share is refused: nothing is revoked.
    let (ok, _, err) = cli(&url, &["token", "revoke", "ci"]).await;
    assert!(!ok);
    assert!(
        err.contains("2 live tokens") && err.contains(&old_id.to_string()),
        "{err}"
    );
    assert_eq!(
        token_states(&pool).await,
        [(old_id, false), (new_id, false)]
    );
    let (ok, _, err) = cli(&url, &["token", "revoke", "nobody"]).await;
    assert!(!ok);
    assert!(err.contains("no live token"), "{err}");
    let (ok, _, err) = cli(&url, &["token", "revoke", "999999"]).await;
    assert!(!ok, "{err}");
    assert_eq!(
        token_states(&pool).await,
        [(old_id, false), (new_id, false)]
    );

    let (ok, out, _) = cli(&url, &["token", "revoke", &old_id.to_string()]).await;
    assert!(ok);
    assert!(out.contains(&format!("revoked token {old_id}")), "{out}");
    assert_eq!(token_states(&pool).await, [(old_id, true), (new_id, false)]);
    assert!(app::db::tokens::verify(&pool, &old)
        .await
        .unwrap()
        .is_none());
    assert!(app::db::tokens::verify(&pool, &new)
        .await
        .unwrap()
        .is_some());
    // Again: nothing to do, and it says so.
    let (ok, out, _) = cli(&url, &["token", "revoke", &old_id.to_string()]).await;
    assert!(ok);
    assert!(out.contains("already revoked"), "{out}");
    // Now the name is unambiguous among live tokens.
    let (ok, _, _) = cli(&url, &["token", "revoke", "ci"]).await;
    assert!(ok);
    assert_eq!(token_states(&pool).await, [(old_id, true), (new_id, true)]);
    let (_, list, _) = cli(&url, &["token", "list"]).await;
    assert_eq!(list.matches(" revoked 20").count(), 2, "{list}");

    let audit: Vec<(String, String, String)> = sqlx::query_as(
        "select actor, action, target from audit_events where source = 'cli' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(
        actions,
        [
            "token.create",
            "token.create",
            "token.revoke",
            "token.revoke"
        ],
        "refused and repeated revocations are not recorded"
    );
    assert!(audit
        .iter()
        .all(|(actor, _, target)| actor.starts_with("cli:") && target == "ci"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_revoked_token_stops_working_on_a_running_server_at_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    // The listener empties the cache once it has (re)connected: let that happen first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sqlx::query_scalar::<_, i64>(
        "select count(*) from pg_stat_activity
         where datname = current_database() and state = 'idle'
           and query ilike '%listen%cronwatch_tokens%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener never connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let start = serde_json::json!({ "job": "nightly" });
    // Its LISTEN has returned, but clearing right after may still be under way: report
    // until the token stays cached (it is trusted for a while).
    loop {
        let (status, _) = app
            .post("/api/v1/executions/start", &app.ingest, &start)
            .await;
        assert_eq!(status, 201);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if !app.state.tokens.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the token is never cached"
        );
    }
    let last_used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_used_at from api_tokens where name = 'ingest-test'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(last_used.is_some(), "use is recorded, for rotation");

    let (ok, _, err) = cli(&url_of(&pool), &["token", "revoke", "ingest-test"]).await;
    assert!(ok, "{err}");
    // Entries only leave the cache when a revocation is announced (never by age), so
    // this wait proves the announcement, however slow the machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !app.state.tokens.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "revocation never announced"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, body) = app
        .post("/api/v1/executions/start", &app.ingest, &start)
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = app.get("/api/v1/jobs", &app.read).await;
    assert_eq!(status, 200, "other tokens keep working");
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

#[sqlx::test(migrations = "../migrations")]
async fn the_first_super_admin_is_created_once_and_audited(pool: PgPool) {
    // Two replicas starting together, then a restart.
    let (a, b) = tokio::join!(
        server::admin_cli::bootstrap_admin(&pool),
        server::admin_cli::bootstrap_admin(&pool)
    );
    a.unwrap();
    b.unwrap();
    server::admin_cli::bootstrap_admin(&pool).await.unwrap();
    let users: Vec<(String, String)> = sqlx::query_as("select username, role from users")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(users, [("admin".into(), "super_admin".into())]);
    let audit: Vec<(String, String, String)> =
        sqlx::query_as("select actor, action, target from audit_events")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [("cronwatch".into(), "user.create".into(), "admin".into())]
    );
}

#[tokio::test]
async fn an_unreachable_database_is_named_in_one_clear_line() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://cw:secret-password@127.0.0.1:{port}/nowhere");
    let began = std::time::Instant::now();
    let (ok, _, stderr) = cli(&url, &["token", "list"]).await;
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "cannot connect to the database cw@127.0.0.1:{port}/nowhere"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(
        !stderr.contains("secret-password"),
        "the password is never shown: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    // Not after the pool's 10 s of retries.
    assert!(
        began.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        began.elapsed()
    );
}
