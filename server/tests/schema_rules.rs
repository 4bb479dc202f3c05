//! The database's own rules on jobs, batch queues and executions: what the API refuses,
//! SQL written by hand (or a future bug) cannot store either. They live in domains, not
//! in table CHECK constraints, which PostgreSQL would rebuild and run on every update of
//! a job's summary (see the migration `rules_as_domains`).

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
