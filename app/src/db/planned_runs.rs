//! Runs planned for a later time (`POST /api/v1/jobs/{name}/run` with `at`): kept
//! until the scheduler starts them (see `server::runner::scheduler`) or an admin
//! cancels them. Their parameters are checked when they are planned, and the run gets
//! them as they were then.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::ApiError;
use crate::params::Params;

/// Most runs one job may have planned, and how far ahead one may be.
pub const MAX_PER_JOB: i64 = 100;
pub const MAX_AHEAD_DAYS: i64 = 366;

/// A planned run, as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedRun {
    pub id: Uuid,
    pub job: String,
    pub run_at: DateTime<Utc>,
    /// The values its run gets, for a job that declares parameters.
    pub params: Option<Params>,
    /// `user:NAME` or `token:NAME`: the run says it started it.
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
}

struct Row {
    id: Uuid,
    job: String,
    run_at: DateTime<Utc>,
    params: Option<serde_json::Value>,
    requested_by: String,
    created_at: DateTime<Utc>,
}

impl Row {
    fn into_wire(self) -> PlannedRun {
        PlannedRun {
            id: self.id,
            job: self.job,
            run_at: self.run_at,
            params: match self.params {
                Some(serde_json::Value::Object(map)) => Some(map),
                _ => None,
            },
            requested_by: self.requested_by,
            created_at: self.created_at,
        }
    }
}

/// Plans a run of job `job` (its row locked by the caller) at `run_at` with `params`,
/// asked for by `by`: 422 for a time past or over [`MAX_AHEAD_DAYS`] ahead, 409 when the
/// job has [`MAX_PER_JOB`] planned already.
pub async fn plan(
    tx: &mut PgConnection,
    job: &str,
    run_at: DateTime<Utc>,
    params: Option<&Params>,
    by: &str,
) -> Result<PlannedRun, ApiError> {
    let now = Utc::now();
    if run_at <= now {
        return Err(ApiError::Invalid(format!(
            "at ({}) is not in the future: leave it out to run the job now",
            run_at.to_rfc3339()
        )));
    }
    if run_at > now + Duration::days(MAX_AHEAD_DAYS) {
        return Err(ApiError::Invalid(format!(
            "at is more than {MAX_AHEAD_DAYS} days ahead"
        )));
    }
    let planned = sqlx::query_scalar!(
        r#"select count(*) as "n!" from planned_runs p join jobs j on j.id = p.job_id
            where j.name = $1"#,
        job
    )
    .fetch_one(&mut *tx)
    .await?;
    if planned >= MAX_PER_JOB {
        return Err(ApiError::Conflict(format!(
            "job {job:?} has {planned} runs planned already, the most it may have: cancel some first"
        )));
    }
    let row = sqlx::query_as!(
        Row,
        "insert into planned_runs (job_id, run_at, params, requested_by)
         select id, $2, $3, $4 from jobs where name = $1
         returning id, $1::text as \"job!\", run_at, params, requested_by, created_at",
        job,
        run_at,
        params.map(|p| serde_json::Value::Object(p.clone())),
        by
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(row.into_wire())
}

/// The runs planned, soonest first: of job `job` only, if given. At most
/// `MAX_PER_JOB` per job, so the list stays bounded by the jobs.
pub async fn list(pool: &PgPool, job: Option<&str>) -> Result<Vec<PlannedRun>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        "select p.id, j.name as job, p.run_at, p.params, p.requested_by, p.created_at
           from planned_runs p join jobs j on j.id = p.job_id
          where $1::text is null or j.name = $1
          order by p.run_at, p.id",
        job
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Row::into_wire).collect())
}

/// The planned runs whose time has come, soonest first, locked for the caller's
/// transaction (another replica's pass skips them). A paused job's wait until it is
/// resumed: a pause means nothing of it should run.
pub async fn due(tx: &mut PgConnection) -> Result<Vec<PlannedRun>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        "select p.id, j.name as job, p.run_at, p.params, p.requested_by, p.created_at
           from planned_runs p join jobs j on j.id = p.job_id
          where p.run_at <= now() and j.enabled
          order by p.run_at, p.id
            for update of p skip locked",
    )
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(Row::into_wire).collect())
}

/// Deletes planned run `id` (cancelled, or started): what it was, or 404.
pub async fn remove(tx: &mut PgConnection, id: Uuid) -> Result<PlannedRun, ApiError> {
    sqlx::query_as!(
        Row,
        "with gone as (delete from planned_runs where id = $1 returning *)
         select gone.id as \"id!\", j.name as job, gone.run_at as \"run_at!\", gone.params,
                gone.requested_by as \"requested_by!\", gone.created_at as \"created_at!\"
           from gone join jobs j on j.id = gone.job_id",
        id
    )
    .fetch_optional(tx)
    .await?
    .map(Row::into_wire)
    .ok_or_else(|| ApiError::NotFound(format!("no run {id} is planned")))
}

/// Planned run `id`, or 404 (started, cancelled, or never planned).
pub async fn get(pool: &PgPool, id: Uuid) -> Result<PlannedRun, ApiError> {
    sqlx::query_as!(
        Row,
        "select p.id, j.name as job, p.run_at, p.params, p.requested_by, p.created_at
           from planned_runs p join jobs j on j.id = p.job_id
          where p.id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .map(Row::into_wire)
    .ok_or_else(|| ApiError::NotFound(format!("no run {id} is planned")))
}
