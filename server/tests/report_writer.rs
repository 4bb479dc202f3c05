//! The report writer's hold on its connection: kept from batch to batch while reports
//! come, given back to the pool once it has been idle, taken again for the next report.

use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use app::db::executions::{NewExecution, Report};
use app::model::Trigger;
use app::writer::ReportWriter;

fn start(job: &str) -> Report {
    Report::Start(NewExecution {
        job: job.into(),
        id: None,
        trigger: Trigger::Api,
        triggered_by: None,
        started_at: None,
        host: None,
        scheduled_for: None,
        run_key: None,
        attempt: 1,
    })
}

/// Waits (up to 10 s) until the pool lends its one connection; how long that took.
async fn until_lent(pool: &PgPool) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if pool.try_acquire().is_some() {
            return Some(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[sqlx::test(migrations = "../migrations")]
async fn an_idle_writer_gives_its_connection_back_and_takes_one_again(pool: PgPool) {
    // A pool of one: while the writer holds the connection, nobody else gets it.
    let one = PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let writer = ReportWriter::spawn(one.clone());
    for round in 0..2 {
        let outcome = writer.submit(start("held")).await.unwrap();
        assert!(outcome.changed, "round {round}");
        assert!(
            until_lent(&one).await.is_some(),
            "round {round}: the writer kept the pool's only connection while idle"
        );
    }
    let runs: i64 = sqlx::query_scalar("select count(*) from executions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(runs, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_batch_leaves_the_writer_writing(pool: PgPool) {
    let writer = ReportWriter::spawn(pool.clone());
    // Completing a run that does not exist is refused (404) inside the writer's
    // transaction; the next report is written as usual.
    let missing = Report::Complete(
        uuid::Uuid::now_v7(),
        app::db::executions::Completion::by_cronwatch(app::model::ExecutionStatus::Failed, "x"),
    );
    let refused = writer.submit(missing).await;
    assert!(
        matches!(refused, Err(app::error::ApiError::NotFound(_))),
        "{refused:?}"
    );
    let outcome = writer.submit(start("after-refusal")).await.unwrap();
    assert!(outcome.changed);
}
