//! `cronwatch serve --demo`: the jobs of DESIGN.md's "Demo jobs" table and three batch
//! queues, alive within seconds: a week of history, live runs with some failures, one
//! stuck run, a failure streak, and batch counters that move.
//!
//! Most demo jobs are `http` jobs that really run: the scheduler calls them at their
//! times, admins can run them now, and the URL they call is this server's own demo
//! endpoint ([`endpoint`]), which takes a few seconds and answers as the job would.
//! The others are `external`, reported by a feeder through the real HTTP ingest API as
//! a newcomer's own scripts would ([`feed`]), which also sends the week of history.

mod endpoint;
mod feed;
mod outcome;

pub use endpoint::DemoEndpoint;
pub use feed::feed;

use std::net::SocketAddr;

use chrono::{DateTime, Utc};

use app::db::execution_list;
use app::db::executions::{self, Completion, Report};
use app::db::jobs::{self, JobDefinition};
use app::db::tokens::{self, Scope};
use app::model::{ExecutionStatus, HttpCall, JobKind, RUNNING_SHOWN};
use app::params::{ParamSpec, ParamType};
use app::schedule::Schedule;

/// One demo job, as DESIGN.md lists it.
pub struct DemoJob {
    pub name: &'static str,
    pub description: &'static str,
    pub schedule: &'static str,
    pub timezone: &'static str,
    pub estimated_ms: i64,
    /// Reported by a script on another host (`external`) rather than run by cronwatch.
    pub reported: bool,
}

pub static JOBS: [DemoJob; 9] = [
    DemoJob {
        name: "monitor-openai",
        description: "Checks the month's OpenAI spend and alerts above 80 % of budget",
        schedule: "0 9 * * *",
        timezone: "UTC",
        estimated_ms: 5_000,
        reported: false,
    },
    DemoJob {
        name: "check-alerts",
        description: "Detects critical alerts (budget, KB failures, stalled batch) and emails them",
        schedule: "0 * * * *",
        timezone: "UTC",
        estimated_ms: 2_000,
        reported: false,
    },
    DemoJob {
        name: "refresh-mv-metadata",
        description: "Refreshes the PostgreSQL materialised views behind the dashboards",
        schedule: "0 */6 * * *",
        timezone: "UTC",
        estimated_ms: 8_000,
        reported: false,
    },
    DemoJob {
        name: "reanalyze-kb-failures",
        description: "Re-runs quality analysis for knowledge-base documents that failed",
        schedule: "0 3 * * *",
        timezone: "UTC",
        estimated_ms: 20_000,
        reported: true,
    },
    DemoJob {
        name: "index-kb-progressive",
        description: "Indexes 2 knowledge-base documents per run (embeddings + chunks)",
        schedule: "*/5 * * * *",
        timezone: "UTC",
        estimated_ms: 45_000,
        reported: false,
    },
    DemoJob {
        name: "acquisition-weekly",
        description: "Crawls the configured web sources for new content",
        schedule: "0 10 * * 0",
        timezone: "UTC",
        estimated_ms: 30_000,
        reported: true,
    },
    DemoJob {
        name: "cleanup-executions",
        description: "Deletes executions older than the retention",
        schedule: "0 4 * * *",
        timezone: "UTC",
        estimated_ms: 1_000,
        reported: false,
    },
    DemoJob {
        name: "qa-quality-analysis",
        description:
            "Analyses 100 Q&A (negative feedback first, then confidence < 30 %, then newest)",
        schedule: "0 2,14 * * *",
        timezone: "America/Montreal",
        estimated_ms: 60_000,
        reported: false,
    },
    DemoJob {
        name: "followup-processor",
        description: "Sends follow-up emails for the 7:00, 12:00 and 16:00 slots, weekdays",
        schedule: "0 7,12,16 * * 1-5",
        timezone: "UTC",
        estimated_ms: 30_000,
        reported: false,
    },
];

/// The demo's batch queues.
pub const BATCHES: [&str; 3] = ["kb-indexation", "web-crawls", "quality-analysis"];

/// The job left running forever (the dashboard flags it stuck).
const STUCK_JOB: &str = "reanalyze-kb-failures";
/// The job whose last runs all failed (the dashboard flags the streak).
const FAILING_JOB: &str = "monitor-openai";
/// The job whose failed runs are tried again.
const RETRIED_JOB: &str = "index-kb-progressive";

/// The parameters a demo job declares: the Q&A analysis takes how many to look at, so
/// its run page has something to fill in.
fn params_of(job: &DemoJob) -> Vec<ParamSpec> {
    if job.name != "qa-quality-analysis" {
        return vec![];
    }
    vec![ParamSpec {
        name: "limit".into(),
        kind: ParamType::Integer,
        description: "how many Q&A to analyse".into(),
        default: Some(100.into()),
        ..ParamSpec::default()
    }]
}
/// Name of the feeder's API token (replaced at each start: its secret lives in memory).
const TOKEN_NAME: &str = "demo-feeder";

/// What [`install`] leaves for the feeder.
pub struct Installed {
    /// The feeder's ingest token.
    pub token: String,
    /// When the jobs were installed: the history ends here, and the scheduler fires the
    /// `http` jobs' times after it, so no time is run twice.
    pub at: DateTime<Utc>,
}

/// Creates (or resets) the demo jobs and the feeder's token. `base` is this server's
/// URL: the `http` jobs call its demo endpoint.
pub async fn install(pool: &sqlx::PgPool, base: &str) -> anyhow::Result<Installed> {
    let at = Utc::now();
    for j in &JOBS {
        let def = JobDefinition {
            display_name: Some(j.name.to_string()),
            description: j.description.to_string(),
            kind: if j.reported {
                JobKind::External
            } else {
                JobKind::Http
            },
            schedule: Some(j.schedule.to_string()),
            timezone: Some(j.timezone.to_string()),
            enabled: true,
            timeout_ms: None,
            grace_ms: None,
            estimated_duration_ms: Some(j.estimated_ms),
            tags: vec!["demo".into()],
            http: (!j.reported).then(|| HttpCall {
                url: endpoint::url(base, j.name),
                secret_env: Some(endpoint::SECRET_ENV.into()),
                // Its embedding requests time out now and then: tried again twice.
                retries: (j.name == RETRIED_JOB).then_some(2),
                retry_backoff_ms: (j.name == RETRIED_JOB).then_some(30_000),
                ..HttpCall::default()
            }),
            command: None,
            params: params_of(j),
        };
        let mut tx = pool.begin().await?;
        jobs::put(&mut tx, j.name, def).await?;
        // The times missed while no demo server was up are in the history the feeder
        // sends: the next expected start is the first one after now, not a missed one
        // that the scheduler would make up a second time.
        sqlx::query("update jobs set next_run_at = $2 where name = $1")
            .bind(j.name)
            .bind(schedule_of(j).and_then(|s| s.next_after(at)))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    end_runs_left_running(pool).await?;
    tokens::delete_named(pool, TOKEN_NAME).await?;
    let token = tokens::create(pool, TOKEN_NAME, Scope::Ingest, None).await?;
    Ok(Installed { token, at })
}

/// The host the demo's runs report from.
const DEMO_HOST: &str = "demo-worker-1";

/// Ends as `cancelled` the runs that an earlier demo server left running when it
/// stopped (its worker died with it), as an agent's lost runs end: otherwise each
/// restart would leave a few runs hanging, flagged stuck. The stuck job's run is left
/// as it is meant to be. (Two demo servers on one database would end each other's.)
async fn end_runs_left_running(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let left: Vec<Report> = execution_list::running(pool, RUNNING_SHOWN)
        .await?
        .into_iter()
        .filter(|e| e.host.as_deref() == Some(DEMO_HOST) && e.job != STUCK_JOB)
        .map(|e| {
            Report::Complete(
                e.id,
                Completion::by_cronwatch(
                    ExecutionStatus::Cancelled,
                    "the demo server stopped before this run ended",
                ),
            )
        })
        .collect();
    if !left.is_empty() {
        // A run that ended meanwhile answers a conflict, which changes nothing.
        executions::apply(
            &mut *pool.acquire().await?,
            &left.iter().collect::<Vec<_>>(),
        )
        .await?;
    }
    Ok(())
}

/// The URL this server answers on from the same machine.
pub fn loopback_url(mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

fn schedule_of(job: &DemoJob) -> Option<Schedule> {
    Schedule::parse(job.schedule, job.timezone).ok()
}
