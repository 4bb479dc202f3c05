//! Job declaration files: `cronwatch jobs sync [--dry-run] FILE` creates or replaces the
//! declared jobs all or none, rewrites nothing that already matches (a late job stays
//! late), keeps the jobs it does not name; `cronwatch serve --jobs FILE` syncs at start;
//! `cronwatch jobs export` writes such a file from the jobs there are.

use std::path::PathBuf;

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common;
use common::{spawn_app, url_of};

/// Writes `text` to a file of its own and answers its path.
fn declaration(text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("cw-jobs-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&path, text).unwrap();
    path
}

async fn sync(pool: &PgPool, file: &std::path::Path) -> (bool, String, String) {
    common::cli::run(
        &url_of(pool),
        &["jobs", "sync", file.to_str().unwrap()],
        None,
    )
    .await
}

/// `(job, action)` of every audit entry, oldest first.
async fn audited(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("select target, action from audit_events where actor like 'cli:%' order by id")
        .fetch_all(pool)
        .await
        .unwrap()
}

const BACKUP: &str = r#"
[jobs.nightly-backup]
display_name = "Nightly backup"
description = "Dumps the database"
schedule = "30 2 * * *"
timezone = "Europe/Paris"
timeout_ms = 3600000
estimated_duration_ms = 600000
tags = ["db"]

[jobs.queue-drain]
"#;

#[sqlx::test(migrations = "../migrations")]
async fn jobs_sync_declares_the_jobs_of_a_file(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.start("reported-only").await;
    let file = declaration(BACKUP);

    // A dry run says what would change, and changes nothing.
    let before = common::snapshot(&pool).await;
    let (ok, out, err) = common::cli::run(
        &url_of(&pool),
        &["jobs", "sync", "--dry-run", file.to_str().unwrap()],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("nightly-backup  created"), "{out}");
    assert!(out.ends_with("dry run: nothing was changed\n"), "{out}");
    assert_eq!(common::snapshot(&pool).await, before);

    let (ok, out, err) = sync(&pool, &file).await;
    assert!(ok, "{err}");
    assert!(out.contains("nightly-backup  created"), "{out}");
    assert!(out.contains("queue-drain     created"), "{out}");
    assert!(
        out.contains("left as they are (--prune deletes them): reported-only"),
        "a job the file does not name is kept, and said: {out}"
    );
    let (_, job) = app.get("/api/v1/jobs/nightly-backup", &app.read).await;
    for (field, want) in [
        ("display_name", json!("Nightly backup")),
        ("description", json!("Dumps the database")),
        ("schedule", json!("30 2 * * *")),
        ("timezone", json!("Europe/Paris")),
        ("timeout_ms", json!(3_600_000)),
        ("estimated_duration_ms", json!(600_000)),
        ("tags", json!(["db"])),
        ("kind", json!("external")),
    ] {
        assert_eq!(job[field], want, "{field}: {job}");
    }
    assert!(
        job["next_run_at"].is_string(),
        "a schedule gives an expected start"
    );
    let (code, _) = app.get("/api/v1/jobs/reported-only", &app.read).await;
    assert_eq!(code, 200);
    assert_eq!(
        audited(&pool).await,
        [
            ("nightly-backup".to_string(), "job.create".to_string()),
            ("queue-drain".to_string(), "job.create".to_string())
        ]
    );

    // Synced again (as at every start): nothing is rewritten, and a late job stays late.
    sqlx::query("update jobs set next_run_at = now() - interval '1 hour'")
        .execute(&pool)
        .await
        .unwrap();
    let before = common::snapshot(&pool).await;
    let (ok, out, err) = sync(&pool, &file).await;
    assert!(ok, "{err}");
    assert!(out.contains("nightly-backup  unchanged"), "{out}");
    assert_eq!(
        common::snapshot(&pool).await,
        before,
        "no write, no event, no audit"
    );

    // A new description replaces the job, and still does not excuse the missed run;
    // a new schedule gives a new expected start.
    std::fs::write(&file, BACKUP.replace("Dumps the", "Dumps all of the")).unwrap();
    let (ok, out, err) = sync(&pool, &file).await;
    assert!(ok, "{err}");
    assert!(out.contains("nightly-backup  replaced"), "{out}");
    assert!(out.contains("queue-drain     unchanged"), "{out}");
    let late = |job: Value| {
        chrono::DateTime::parse_from_rfc3339(job["next_run_at"].as_str().unwrap()).unwrap()
            < chrono::Utc::now()
    };
    let (_, job) = app.get("/api/v1/jobs/nightly-backup", &app.read).await;
    assert_eq!(job["description"], "Dumps all of the database");
    assert!(late(job), "still late");
    std::fs::write(&file, BACKUP.replace("30 2 * * *", "45 3 * * *")).unwrap();
    let (ok, _, err) = sync(&pool, &file).await;
    assert!(ok, "{err}");
    let (_, job) = app.get("/api/v1/jobs/nightly-backup", &app.read).await;
    assert!(!late(job), "a new schedule, a new expected start");
    let events = common::job_events(&pool, "nightly-backup").await;
    assert_eq!(events, 3, "created, replaced twice: open pages follow");
    std::fs::remove_file(&file).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_file_with_one_bad_job_changes_nothing(pool: PgPool) {
    spawn_app(pool.clone()).await;
    let before = common::snapshot(&pool).await;
    for (text, says) in [
        (
            "[jobs.a-fine-job]\n[jobs.bad-schedule]\nschedule = \"61 * * * *\"\n",
            "job \"bad-schedule\": invalid cron expression",
        ),
        (
            "[jobs.a-fine-job]\n[jobs.Bad_Name]\n",
            "job \"Bad_Name\": job name \"Bad_Name\" is invalid",
        ),
        (
            "[jobs.a-fine-job]\ntimeout = 5\n",
            "unknown field `timeout`, expected one of",
        ),
        (
            "[jobs.a-fine-job]\ntimezone = \"Mars/Olympus\"\nschedule = \"0 * * * *\"\n",
            "Mars/Olympus",
        ),
        ("[jobs.a-fine-job\n", "TOML parse error at line 1"),
        ("[jobz.a-fine-job]\n", "unknown field `jobz`"),
    ] {
        let file = declaration(text);
        let (ok, out, err) = sync(&pool, &file).await;
        assert!(!ok, "{text}: {out}");
        assert!(err.contains(says), "{text}: {err}");
        assert_eq!(
            err.lines().next().map(|l| l.starts_with("cronwatch: ")),
            Some(true)
        );
        assert_eq!(common::snapshot(&pool).await, before, "{text}");
        std::fs::remove_file(&file).unwrap();
    }
    let missing = std::env::temp_dir().join("cw-jobs-there-is-no-such-file.toml");
    let (ok, _, err) = sync(&pool, &missing).await;
    assert!(!ok);
    assert!(err.contains("cannot read"), "{err}");
}

/// Two syncs of one file at once (replicas starting together): one creates the jobs,
/// the other finds them unchanged; each change is audited once.
#[sqlx::test(migrations = "../migrations")]
async fn syncs_at_the_same_time_take_turns(pool: PgPool) {
    let file = declaration(BACKUP);
    let (a, b) = tokio::join!(sync(&pool, &file), sync(&pool, &file));
    assert!(a.0 && b.0, "{} {}", a.2, b.2);
    let created = [&a.1, &b.1]
        .iter()
        .filter(|out| out.contains("nightly-backup  created"))
        .count();
    let unchanged = [&a.1, &b.1]
        .iter()
        .filter(|out| out.contains("nightly-backup  unchanged"))
        .count();
    assert_eq!((created, unchanged), (1, 1), "{}\n{}", a.1, b.1);
    assert_eq!(audited(&pool).await.len(), 2, "one entry per job");
    std::fs::remove_file(&file).unwrap();
}

/// `cronwatch serve --jobs FILE` syncs the file before it serves; a bad file stops the
/// start with the reason.
#[sqlx::test(migrations = "../migrations")]
async fn serve_syncs_the_jobs_file_at_start(pool: PgPool) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let serve = |file: &PathBuf| {
        Command::new(env!("CARGO_BIN_EXE_cronwatch"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--jobs",
                file.to_str().unwrap(),
            ])
            .env("DATABASE_URL", url_of(&pool))
            .env("CRONWATCH_ADMIN_PASSWORD", "jobs-file-password")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let bad = declaration("[jobs.broken]\ngrace_ms = -1\n");
    let out = tokio::task::spawn_blocking({
        let child = serve(&bad);
        move || child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("job \"broken\": grace_ms must be between"),
        "{err}"
    );
    std::fs::remove_file(&bad).unwrap();

    let file = declaration(BACKUP);
    let mut server = serve(&file);
    let lines: Vec<String> = tokio::task::spawn_blocking({
        let stdout = server.stdout.take().unwrap();
        move || {
            BufReader::new(stdout)
                .lines()
                .map(|l| l.unwrap())
                .take_while(|l| !l.starts_with("cronwatch listening on "))
                .collect()
        }
    })
    .await
    .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        lines.iter().any(|l| l == "nightly-backup  created"),
        "{lines:?}"
    );
    let names: Vec<String> = sqlx::query_scalar("select name from jobs order by name")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(names, ["nightly-backup", "queue-drain"]);
    std::fs::remove_file(&file).unwrap();
}

/// `cronwatch jobs export` writes the jobs there are as a declaration file, defaults
/// left out; syncing it back changes nothing, odd text and all.
#[sqlx::test(migrations = "../migrations")]
async fn export_writes_a_file_that_syncs_back_unchanged(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let odd = json!({
        "display_name": "Say \"hi\" — ünïcode \\ [jobs.x]",
        "description": "line one\nline two\t# not a comment",
        "kind": "http",
        "schedule": "0 2,14 * * *",
        "timezone": "America/Montreal",
        "enabled": false,
        "timeout_ms": 600000,
        "grace_ms": 0,
        "estimated_duration_ms": 60000,
        "tags": ["a", "b-2"],
        "http": {
            "url": "https://example.com/api/cron/odd?a=1&b=%22x%22",
            "secret_env": "CRONWATCH_SECRET_ODD",
            "secret_header": "Authorization",
        },
    });
    assert_eq!(app.put_job("odd-one", &odd).await, 201);
    let command = json!({
        "kind": "command",
        "command": {
            "argv": ["sh", "-c", "pg_dump \"$DB\" | gzip > '/backups/a b.gz' # \\ ]"],
            "agent_tags": ["db-host"],
            "retries": 2,
            "retry_backoff_ms": 5000,
        },
        "params": [
            { "name": "db", "type": "string", "description": "which \"db\" # ]", "default": "app" },
            { "name": "ratio", "type": "number", "default": 0.5 },
            { "name": "full", "type": "boolean", "required": true },
            { "name": "mode", "type": "string", "choices": ["a b", "c"] }
        ],
    });
    assert_eq!(app.put_job("odd-command", &command).await, 201);
    app.start("reported-only").await;

    let (ok, exported, err) = common::cli::run(&url_of(&pool), &["jobs", "export"], None).await;
    assert!(ok, "{err}");
    assert!(
        exported.contains("\n[jobs.reported-only]\n"),
        "a job with only defaults is named alone: {exported}"
    );
    let file = declaration(&exported);
    let before = common::snapshot(&pool).await;
    let (ok, out, err) = sync(&pool, &file).await;
    assert!(ok, "{err}");
    assert!(out.contains("odd-one        unchanged"), "{out}");
    assert!(out.contains("odd-command    unchanged"), "{out}");
    assert!(out.contains("reported-only  unchanged"), "{out}");
    assert_eq!(common::snapshot(&pool).await, before);

    // Into an empty database, the file makes the same definitions.
    sqlx::query("delete from jobs")
        .execute(&pool)
        .await
        .unwrap();
    let (ok, _, err) = sync(&pool, &file).await;
    assert!(ok, "{err}");
    let (_, job) = app.get("/api/v1/jobs/odd-one", &app.read).await;
    for (field, want) in odd.as_object().unwrap() {
        assert_eq!(&job[field], want, "{field}");
    }
    let (_, job) = app.get("/api/v1/jobs/odd-command", &app.read).await;
    assert_eq!(job["kind"], command["kind"]);
    assert_eq!(job["command"], command["command"]);
    assert_eq!(job["params"], command["params"]);
    std::fs::remove_file(&file).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn jobs_sync_prune_deletes_what_the_file_no_longer_names(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let db = url_of(&pool);
    let (ok, _, err) = sync(&pool, &declaration(BACKUP)).await;
    assert!(ok, "{err}");
    // A job removed from the file, with history and a run still going.
    let id = app.start("old-cron").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.complete(&id, "completed").await;
    app.start("old-cron").await;
    let file = declaration("[jobs.nightly-backup]\nschedule = \"30 2 * * *\"\n");

    // Told, and nothing changed, on a dry run.
    let before = common::snapshot(&pool).await;
    let path = file.to_str().unwrap();
    let (ok, out, err) =
        common::cli::run(&db, &["jobs", "sync", "--prune", "--dry-run", path], None).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("old-cron        deleted with 2 execution(s)"),
        "{out}"
    );
    assert!(
        out.contains("queue-drain     deleted with 0 execution(s)"),
        "{out}"
    );
    assert!(out.ends_with("dry run: nothing was changed\n"), "{out}");
    assert_eq!(common::snapshot(&pool).await, before);

    let (ok, out, err) = common::cli::run(&db, &["jobs", "sync", "--prune", path], None).await;
    assert!(ok, "{err}");
    assert!(!out.contains("left as they are"), "{out}");
    let (_, jobs) = app.get("/api/v1/jobs", &app.read).await;
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nightly-backup"]);
    let left: i64 = sqlx::query_scalar("select count(*) from executions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "their history went with them");
    let audit = audited(&pool).await;
    assert!(
        audit.contains(&("old-cron".to_string(), "job.delete".to_string())),
        "{audit:?}"
    );
    assert!(
        audit.contains(&("queue-drain".to_string(), "job.delete".to_string())),
        "{audit:?}"
    );

    // A second prune finds nothing more to do.
    let (ok, out, _) = common::cli::run(&db, &["jobs", "sync", "--prune", path], None).await;
    assert!(ok);
    assert!(out.contains("nightly-backup  unchanged"), "{out}");
    assert!(!out.contains("deleted"), "{out}");
}
