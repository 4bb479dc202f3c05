//! Dashboard figures, read from the rollups (O(jobs × hours)), never from raw executions,
//! except the running ones, which a partial index keeps cheap.

use chrono::{DateTime, Utc};
use sqlx::{Acquire, PgPool, Postgres};

use crate::health;

use crate::model::{
    name_order, ExecutionStatus, JobStats, NextRun, Stats, StuckExecution, TimelinePoint,
};

/// Figures over the last `hours` hours plus the 7-day timeline.
pub async fn compute(pool: &PgPool, hours: i64) -> Result<Stats, sqlx::Error> {
    Ok(compute_counting_stuck(pool, hours).await?.0)
}

/// [`compute`]'s figures, and how many stuck runs each job has ([`StuckRuns::by_job`]:
/// all of them, where [`Stats::stuck`] lists the oldest).
pub async fn compute_counting_stuck(
    pool: &PgPool,
    hours: i64,
) -> Result<(Stats, Vec<(String, i64)>), sqlx::Error> {
    let rows = sqlx::query!(
        // Summed by job id, and named after (see `timeline`).
        r#"select j.name as job, t.status as "status!", t.count as "count!",
                  t.dsum as "dsum!", t.dcount as "dcount!"
           from (select r.job_id, r.status, sum(r.count)::bigint as count,
                        sum(r.duration_sum_ms)::bigint as dsum, sum(r.duration_count)::bigint as dcount
                   from execution_rollups r
                  where r.bucket >= date_trunc('hour', now() - make_interval(hours => $1::int))
                  group by 1, 2) t
           join jobs j on j.id = t.job_id
           order by j.name"#,
        hours as i32
    )
    .fetch_all(pool)
    .await?;

    let mut jobs: Vec<JobStats> = Vec::new();
    let (mut dsum, mut dcount) = (Vec::<i64>::new(), Vec::<i64>::new());
    for r in rows {
        if jobs.last().map(|j| j.job != r.job).unwrap_or(true) {
            jobs.push(JobStats {
                job: r.job.clone(),
                total: 0,
                running: 0,
                completed: 0,
                failed: 0,
                cancelled: 0,
                timed_out: 0,
                success_rate: None,
                avg_duration_ms: None,
            });
            dsum.push(0);
            dcount.push(0);
        }
        let i = jobs.len() - 1;
        let j = &mut jobs[i];
        j.total += r.count;
        match ExecutionStatus::parse(&r.status) {
            Some(ExecutionStatus::Running) => j.running += r.count,
            Some(ExecutionStatus::Completed) => j.completed += r.count,
            Some(ExecutionStatus::Failed) => j.failed += r.count,
            Some(ExecutionStatus::Cancelled) => j.cancelled += r.count,
            Some(ExecutionStatus::TimedOut) => j.timed_out += r.count,
            None => {}
        }
        dsum[i] += r.dsum;
        dcount[i] += r.dcount;
    }
    for (i, j) in jobs.iter_mut().enumerate() {
        let finished = j.completed + j.failed + j.cancelled + j.timed_out;
        j.success_rate = (finished > 0).then(|| j.completed as f64 / finished as f64);
        j.avg_duration_ms = (dcount[i] > 0).then(|| dsum[i] as f64 / dcount[i] as f64);
    }
    jobs.sort_by(|a, b| name_order(&a.job, &b.job));
    let timeline = timeline(pool).await?;
    let stuck = stuck(pool, &timeline, Utc::now()).await?;
    let stuck_total = stuck.total();

    let stats = Stats {
        hours,
        total: jobs.iter().map(|j| j.total).sum(),
        failures: jobs.iter().map(|j| j.failed + j.timed_out).sum(),
        running_now: running_now(pool).await?,
        next_run: next_run(pool).await?,
        stuck: stuck.oldest,
        stuck_total,
        timeline,
        jobs,
    };
    Ok((stats, stuck.by_job))
}

async fn running_now(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!("select count(*) as \"n!\" from executions where status = 'running'")
        .fetch_one(pool)
        .await
}

async fn next_run(pool: &PgPool) -> Result<Option<NextRun>, sqlx::Error> {
    let row = sqlx::query!(
        "select name, next_run_at as \"at!\" from jobs
         where enabled and next_run_at > now() order by next_run_at limit 1"
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| NextRun {
        job: r.name,
        at: r.at,
    }))
}

/// How many executions of each job are running now, however long ago they started
/// (job name, count; jobs with none left out).
pub async fn running_by_job(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select j.name, count(*) as "n!"
           from executions e join jobs j on j.id = e.job_id
           where e.status = 'running'
           group by j.name"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.n)).collect())
}

/// At most this many stuck runs are listed in [`Stats::stuck`] (the oldest); all of them
/// are counted. A host that reports starts and never ends (a `rid` that never comes
/// back) can leave thousands running until the retention ends them, and every `/stats`
/// answer and dashboard page would carry them all.
pub const STUCK_LISTED: i64 = 100;

/// The running executions past what their job allows ([`health::stuck_limit`], with
/// the habit read from `timeline`), judged at `now`.
pub struct StuckRuns {
    /// The [`STUCK_LISTED`] oldest, oldest first.
    pub oldest: Vec<StuckExecution>,
    /// How many each job has (job name, count; jobs with none left out).
    pub by_job: Vec<(String, i64)>,
}

impl StuckRuns {
    pub fn total(&self) -> i64 {
        self.by_job.iter().map(|(_, n)| n).sum()
    }
}

/// The stuck runs at `now`. Every running execution is judged, not only a job's
/// latest: a run whose end was never reported counts too. Each job's limit is worked
/// out here, once, by the dashboard's rule; PostgreSQL then reads only running
/// executions (their partial index), so the cost follows how many runs are open,
/// never the history.
pub async fn stuck<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    timeline: &[TimelinePoint],
    now: DateTime<Utc>,
) -> Result<StuckRuns, sqlx::Error> {
    let mut conn = db.acquire().await?;
    let jobs = sqlx::query!("select id, name, timeout_ms, estimated_duration_ms from jobs")
        .fetch_all(&mut *conn)
        .await?;
    let (mut ids, mut names, mut cutoffs, mut limits, mut reasons) =
        (vec![], vec![], vec![], vec![], vec![]);
    let records = health::records(timeline);
    for j in jobs {
        let habit = health::typical_duration_ms(&records, &j.name);
        let Some((limit, why)) = health::stuck_limit(j.timeout_ms, j.estimated_duration_ms, habit)
        else {
            continue;
        };
        // A limit reaching before the calendar's start flags nothing.
        let Some(cutoff) = now.checked_sub_signed(limit) else {
            continue;
        };
        ids.push(j.id);
        names.push(j.name);
        cutoffs.push(cutoff);
        limits.push(limit.num_milliseconds());
        reasons.push(why.as_str());
    }
    // Each statement reads the open runs once, from their partial index, and judges
    // them against `l` in memory. Joined to `l` directly, PostgreSQL may scan the open
    // runs once per job instead.
    let by_job = sqlx::query!(
        r#"with open as materialized (
               select job_id, started_at from executions where status = 'running'
           )
           select l.name as "name!", count(*) as "n!"
             from open e
             join unnest($1::bigint[], $2::text[], $3::timestamptz[]) as l(job_id, name, cutoff)
                  on l.job_id = e.job_id and e.started_at < l.cutoff
            group by l.name"#,
        &ids,
        &names,
        &cutoffs,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.name, r.n))
    .collect();
    let oldest = sqlx::query!(
        r#"with open as materialized (
               select id, job_id, started_at from executions where status = 'running'
           )
           select e.id as "id!", l.name as "job!", e.started_at as "started_at!",
                  l.limit_ms as "limit_ms!", l.reason as "reason!"
             from open e
             join unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bigint[], $5::text[])
                  as l(job_id, name, cutoff, limit_ms, reason)
                  on l.job_id = e.job_id and e.started_at < l.cutoff
            order by e.started_at, e.id
            limit $6"#,
        &ids,
        &names,
        &cutoffs,
        &limits,
        &reasons as &[&str],
        STUCK_LISTED,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| StuckExecution {
        id: r.id,
        job: r.job,
        started_at: r.started_at,
        limit_ms: r.limit_ms,
        reason: r.reason,
    })
    .collect();
    Ok(StuckRuns { oldest, by_job })
}

/// Executions per job, UTC day and status over the last 7 days (today included).
pub async fn timeline(pool: &PgPool) -> Result<Vec<TimelinePoint>, sqlx::Error> {
    let rows = sqlx::query!(
        // Summed by job id, and named after: grouping the hours by name would sort
        // jobs × 168 × statuses rows by text (0.7 s at 2,000 jobs, against 0.3 s).
        r#"select j.name as job, t.day as "day!", t.status as "status!", t.count as "count!",
                  t.dsum as "dsum!", t.dcount as "dcount!"
           from (select r.job_id, (r.bucket at time zone 'UTC')::date as day, r.status,
                        sum(r.count)::bigint as count, sum(r.duration_sum_ms)::bigint as dsum,
                        sum(r.duration_count)::bigint as dcount
                   from execution_rollups r
                  where r.bucket >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - interval '6 days'
                  group by 1, 2, 3) t
           join jobs j on j.id = t.job_id
           order by 2, 1, 3"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(TimelinePoint {
                job: r.job,
                day: r.day,
                status: ExecutionStatus::parse(&r.status)?,
                count: r.count,
                timed: r.dcount,
                avg_duration_ms: (r.dcount > 0).then(|| r.dsum as f64 / r.dcount as f64),
            })
        })
        .filter(|p| p.count != 0)
        .collect())
}
