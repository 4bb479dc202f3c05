//! The database's own rules on jobs, batch queues and executions: what the API refuses,
//! SQL written by hand (or a future bug) cannot store either. They live in domains, not
//! in table CHECK constraints, which PostgreSQL would rebuild and run on every update of
//! a job's summary (see the migration `rules_as_domains`).

use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// Runs `sql` and asserts that PostgreSQL refused it for breaking the rule `rule`.
async fn refused(pool: &PgPool, sql: &str, rule: &str) {
    let err = sqlx::query(sql)
        .execute(pool)
        .await
        .expect_err(&format!("{sql} was stored"));
    let db = err.as_database_error().expect("a database error");
    assert_eq!(db.code().as_deref(), Some("23514"), "{sql}: {db}");
    assert_eq!(db.constraint(), Some(rule), "{sql}: {db}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_refuses_what_the_api_refuses(pool: PgPool) {
    sqlx::query("insert into jobs (name, display_name) values ('nightly', 'Nightly')")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into executions (id, job_id, status, trigger, started_at)
         select gen_random_uuid(), id, 'running', 'api', now() from jobs",
    )
    .execute(&pool)
    .await
    .unwrap();
    let before = crate::common::snapshot(&pool).await;

    for (sql, rule) in [
        (
            "insert into jobs (name, display_name) values ('Nightly Backup', 'x')",
            "cw_name_format",
        ),
        (
            "insert into jobs (name, display_name) values ('', 'x')",
            "cw_name_format",
        ),
        ("update jobs set name = repeat('a', 65)", "cw_name_format"),
        ("update jobs set kind = 'cron'", "cw_job_kind_check"),
        ("update jobs set timeout_ms = 0", "cw_positive_ms_range"),
        (
            "update jobs set timeout_ms = 31622400001",
            "cw_positive_ms_range",
        ),
        (
            "update jobs set estimated_duration_ms = -5",
            "cw_positive_ms_range",
        ),
        ("update jobs set grace_ms = -1", "cw_nonnegative_ms_range"),
        (
            "update jobs set grace_ms = 31622400001",
            "cw_nonnegative_ms_range",
        ),
        (
            "insert into batch_queues (name) values ('KB indexation')",
            "cw_name_format",
        ),
        (
            "update executions set status = 'done'",
            "cw_execution_status_check",
        ),
        (
            "update executions set trigger = 'cron'",
            "cw_execution_trigger_check",
        ),
    ] {
        refused(&pool, sql, rule).await;
    }
    assert_eq!(
        crate::common::snapshot(&pool).await,
        before,
        "nothing changed"
    );

    // The edges of each rule are allowed, and nothing (null) is no value to check.
    sqlx::query(
        "update jobs set kind = 'http', timeout_ms = 31622400000, grace_ms = 0,
                         estimated_duration_ms = null, name = repeat('a', 64)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("update executions set status = 'timed_out', trigger = 'retry'")
        .execute(&pool)
        .await
        .unwrap();
}

/// A table CHECK constraint on `jobs` or `executions` would be rebuilt from its text and
/// run on every report's update of a job's summary or an execution; a rule on one of
/// their columns belongs in a domain.
#[sqlx::test(migrations = "../migrations")]
async fn reports_pay_for_no_table_check_constraints(pool: PgPool) {
    let checks: Vec<String> = sqlx::query_scalar(
        "select conrelid::regclass::text || '.' || conname from pg_constraint
          where contype = 'c' and conrelid in ('jobs'::regclass, 'executions'::regclass)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(checks, Vec::<String>::new());
}

/// The migration to domains on a database that already holds jobs and runs: nothing is
/// lost, no table is rewritten (`executions` can hold millions), and an estimate the
/// API never accepted (0 or less) becomes none.
#[sqlx::test(migrations = false)]
async fn moving_the_rules_to_domains_keeps_the_data_and_rewrites_no_table(pool: PgPool) {
    const DOMAINS: &str = "20261128000003";
    let all = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
    // The schema as it was: every migration before the domains one.
    let before = std::env::temp_dir().join(format!("cw-migrations-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&before).unwrap();
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < DOMAINS {
            std::fs::copy(&path, before.join(&name)).unwrap();
        }
    }
    let migrated = Migrator::new(before.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await;
    std::fs::remove_dir_all(&before).unwrap();
    migrated.unwrap();

    sqlx::query(
        "insert into jobs (name, display_name, estimated_duration_ms, timeout_ms, grace_ms)
         values ('nightly', 'Nightly', 0, 60000, 0), ('hourly', 'Hourly', 5000, null, 300000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into executions (id, job_id, status, trigger, started_at)
         select gen_random_uuid(), j.id, s, 'scheduled', now() - g * interval '1 minute'
           from jobs j, unnest(array['running', 'completed', 'failed']) s, generate_series(1, 100) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    let files = "select string_agg(relname || '=' || relfilenode, ',' order by relname)
                   from pg_class where relname in ('jobs', 'executions', 'batch_queues')";
    let files_before = text(&pool, files).await;
    let runs = "select md5(string_agg(e::text, '|' order by e.id)) from executions e";
    let runs_before = text(&pool, runs).await;

    Migrator::new(std::path::Path::new(all))
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();

    assert_eq!(
        text(&pool, files).await,
        files_before,
        "no table was rewritten"
    );
    assert_eq!(
        text(&pool, runs).await,
        runs_before,
        "every run is as it was"
    );
    let jobs: Vec<(String, Option<i64>, Option<i64>, i64)> = sqlx::query_as(
        "select name, estimated_duration_ms, timeout_ms, grace_ms from jobs order by name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        jobs,
        vec![
            ("hourly".into(), Some(5000), None, 300000),
            ("nightly".into(), None, Some(60000), 0),
        ]
    );
    let status_type = "select format_type(atttypid, atttypmod) from pg_attribute
                        where attrelid = 'executions'::regclass and attname = 'status'";
    assert_eq!(text(&pool, status_type).await, "cw_execution_status");
}

/// The one text value `sql` answers.
async fn text(pool: &PgPool, sql: &str) -> String {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}
