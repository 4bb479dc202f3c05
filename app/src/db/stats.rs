//! Dashboard figures, read from the rollups (O(jobs × hours)), never from raw executions,
//! except the running ones, which a partial index keeps cheap.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::health;

use crate::model::{
    name_order, ExecutionStatus, JobStats, NextRun, Stats, StuckExecution, TimelinePoint,
};

/// Figures over the last `hours` hours plus the 7-day timeline.
pub async fn compute(pool: &PgPool, hours: i64) -> Result<Stats, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select j.name as job, r.status, sum(r.count)::bigint as "count!",
                  sum(r.duration_sum_ms)::bigint as "dsum!", sum(r.duration_count)::bigint as "dcount!"
           from execution_rollups r join jobs j on j.id = r.job_id
           where r.bucket >= date_trunc('hour', now() - make_interval(hours => $1::int))
           group by j.name, r.status
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

    Ok(Stats {
        hours,
        total: jobs.iter().map(|j| j.total).sum(),
        failures: jobs.iter().map(|j| j.failed + j.timed_out).sum(),
        running_now: running_now(pool).await?,
        next_run: next_run(pool).await?,
        stuck: stuck(pool, &timeline).await?,
        timeline,
        jobs,
    })
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

/// Running executions past what their job allows ([`health::stuck_limit`], with the
/// habit read from `timeline`), oldest first. Every running execution is judged, not
/// only a job's latest: a run whose end was never reported shows here.
async fn stuck(
    pool: &PgPool,
    timeline: &[TimelinePoint],
) -> Result<Vec<StuckExecution>, sqlx::Error> {
    let running = sqlx::query!(
        "select e.id, j.name as job, e.started_at, j.timeout_ms, j.estimated_duration_ms
           from executions e join jobs j on j.id = e.job_id
          where e.status = 'running'
          order by e.started_at"
    )
    .fetch_all(pool)
    .await?;
    let now = chrono::Utc::now();
    let mut habits: HashMap<String, Option<i64>> = HashMap::new();
    Ok(running
        .into_iter()
        .filter_map(|r| {
            let habit = *habits
                .entry(r.job.clone())
                .or_insert_with(|| health::typical_duration_ms(timeline, &r.job));
            let (limit, why) = health::stuck_limit(r.timeout_ms, r.estimated_duration_ms, habit)?;
            (now - r.started_at > limit).then(|| StuckExecution {
                id: r.id,
                job: r.job,
                started_at: r.started_at,
                limit_ms: limit.num_milliseconds(),
                reason: why.as_str().into(),
            })
        })
        .collect())
}

/// Executions per job, UTC day and status over the last 7 days (today included).
pub async fn timeline(pool: &PgPool) -> Result<Vec<TimelinePoint>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select j.name as job, (r.bucket at time zone 'UTC')::date as "day!", r.status,
                  sum(r.count)::bigint as "count!",
                  sum(r.duration_sum_ms)::bigint as "dsum!", sum(r.duration_count)::bigint as "dcount!"
           from execution_rollups r join jobs j on j.id = r.job_id
           where r.bucket >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - interval '6 days'
           group by 1, 2, 3 order by 2, 1, 3"#
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
