//! The executions list: filters and keyset pagination (newest first, 50 a page).

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::error::ApiError;
use crate::model::{ExecutionPage, ExecutionStatus, ExecutionSummary, Trigger};
use crate::validate::is_valid_name;

pub const PAGE_SIZE: i64 = 50;

/// Filters of `GET /api/v1/executions`; all optional.
#[derive(Clone, Debug, Default)]
pub struct ExecutionFilter {
    pub job: Option<String>,
    pub status: Option<ExecutionStatus>,
    pub trigger: Option<Trigger>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<Cursor>,
}

/// Position after the last row of a page: its start time and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub started_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// `MICROS_UUID`: opaque to clients, safe in URLs.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.started_at.timestamp_micros(),
            self.id.simple()
        )
    }

    pub fn decode(s: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::BadRequest(format!("invalid cursor {s:?}"));
        let (micros, id) = s.split_once('_').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(Cursor {
            started_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

/// The `job` filter, refused if no job can have that name.
pub fn job_filter(job: Option<String>) -> Result<Option<String>, ApiError> {
    match job {
        Some(j) if !is_valid_name(&j) => Err(ApiError::Invalid(format!(
            "job name {j:?} is invalid: use 1 to 64 of a-z, 0-9 and '-'"
        ))),
        job => Ok(job),
    }
}

/// The `status` filter, refused if unknown.
pub fn status_filter(status: Option<&str>) -> Result<Option<ExecutionStatus>, ApiError> {
    status
        .map(|s| {
            ExecutionStatus::parse(s)
                .ok_or_else(|| ApiError::Invalid(format!("unknown status {s:?}")))
        })
        .transpose()
}

/// The `trigger` filter, refused if unknown.
pub fn trigger_filter(trigger: Option<&str>) -> Result<Option<Trigger>, ApiError> {
    trigger
        .map(|t| {
            Trigger::parse(t).ok_or_else(|| ApiError::Invalid(format!("unknown trigger {t:?}")))
        })
        .transpose()
}

/// Which end of a time window a bound is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// `from`: runs that started at or after it.
    Start,
    /// `to`: runs that started before it.
    Finish,
}

/// A `from` or `to` bound: an RFC 3339 time, or a day `YYYY-MM-DD` (UTC) as the
/// dashboard's URLs carry it, which as `to` includes the whole day.
pub fn time_bound(value: Option<&str>, end: End) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let what = match end {
        End::Start => "from",
        End::Finish => "to",
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.to_utc()));
    }
    let day = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| match end {
            End::Start => Some(d),
            End::Finish => d.succ_opt(),
        })
        .and_then(|d| d.and_hms_opt(0, 0, 0));
    day.map(|t| Some(t.and_utc())).ok_or_else(|| {
        ApiError::Invalid(format!(
            "{what} {v:?} is neither a time such as 2026-11-26T09:00:00Z nor a day such as 2026-11-26"
        ))
    })
}

impl ExecutionFilter {
    /// The filter of a monitoring-page URL; bad values are refused with the reason. A
    /// window that ends before it starts shows nothing (the page stays usable).
    pub fn from_query(q: &crate::model::ExecutionQuery) -> Result<Self, ApiError> {
        Ok(ExecutionFilter {
            job: job_filter(q.job.clone())?,
            status: status_filter(q.status.as_deref())?,
            trigger: trigger_filter(q.trigger.as_deref())?,
            from: time_bound(q.from.as_deref(), End::Start)?,
            to: time_bound(q.to.as_deref(), End::Finish)?,
            cursor: q.cursor.as_deref().map(Cursor::decode).transpose()?,
        })
    }
}

/// An execution's summary columns, as the list queries select them.
#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    job: String,
    status: String,
    trigger: String,
    triggered_by: Option<String>,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    exit_code: Option<i32>,
    error_message: Option<String>,
    attempt: i32,
    host: Option<String>,
    scheduled_for: Option<DateTime<Utc>>,
}

impl From<SummaryRow> for ExecutionSummary {
    fn from(r: SummaryRow) -> Self {
        ExecutionSummary {
            id: r.id,
            job: r.job,
            status: ExecutionStatus::parse(&r.status).unwrap_or(ExecutionStatus::Failed),
            trigger: Trigger::parse(&r.trigger).unwrap_or(Trigger::Api),
            triggered_by: r.triggered_by,
            started_at: r.started_at,
            completed_at: r.completed_at,
            duration_ms: r.duration_ms,
            exit_code: r.exit_code,
            error_message: r.error_message,
            attempt: r.attempt,
            host: r.host,
            scheduled_for: r.scheduled_for,
        }
    }
}

/// One page of executions matching `f`.
///
/// The SQL names only the filters that are set: a statement that tests each filter
/// against null gets, once PostgreSQL has cached it as a generic plan, no index
/// condition on the time window, and reads every run newer than the window to find it.
/// A status or trigger goes in as a literal (from a closed set, never the caller's
/// text), so that the planner can use the partial indexes of runs that ended badly or
/// were started by hand; those filters match few rows and would otherwise read the whole
/// history (migration `20261129000001`).
pub async fn page(
    db: impl PgExecutor<'_>,
    f: &ExecutionFilter,
) -> Result<ExecutionPage, sqlx::Error> {
    let mut q = QueryBuilder::<Postgres>::new(
        "select e.id, j.name as job, e.status, e.trigger, e.triggered_by, e.started_at, \
                e.completed_at, e.duration_ms, e.exit_code, e.error_message, e.attempt, e.host, \
                e.scheduled_for \
           from executions e join jobs j on j.id = e.job_id \
          where true",
    );
    if let Some(job) = &f.job {
        // By id, so that the job's own index gives its runs in order: a join on the
        // name left the planner free to walk every job's runs for a rare job's few.
        q.push(" and e.job_id = (select id from jobs where name = ")
            .push_bind(job)
            .push(")");
    }
    if let Some(status) = f.status {
        q.push(format_args!(" and e.status = '{}'", status.as_str()));
    }
    if let Some(trigger) = f.trigger {
        q.push(format_args!(" and e.trigger = '{}'", trigger.as_str()));
    }
    if let Some(from) = f.from {
        q.push(" and e.started_at >= ").push_bind(from);
    }
    if let Some(to) = f.to {
        q.push(" and e.started_at < ").push_bind(to);
    }
    if let Some(c) = f.cursor {
        q.push(" and (e.started_at, e.id) < (")
            .push_bind(c.started_at)
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
    q.push(" order by e.started_at desc, e.id desc limit ")
        .push_bind(PAGE_SIZE + 1);
    let rows: Vec<SummaryRow> = q.build_query_as().fetch_all(db).await?;
    let mut items: Vec<ExecutionSummary> = rows.into_iter().map(Into::into).collect();
    let next_cursor = if items.len() as i64 > PAGE_SIZE {
        items.truncate(PAGE_SIZE as usize);
        items.last().map(|l| {
            Cursor {
                started_at: l.started_at,
                id: l.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(ExecutionPage { items, next_cursor })
}

/// The running executions, oldest first, at most `limit`: the dashboard flags any of
/// them that hangs, not only a job's latest run.
pub async fn running(pool: &PgPool, limit: i64) -> Result<Vec<ExecutionSummary>, sqlx::Error> {
    let rows = sqlx::query_as!(
        SummaryRow,
        r#"select e.id, j.name as job, e.status, e.trigger, e.triggered_by, e.started_at,
                  e.completed_at, e.duration_ms, e.exit_code, e.error_message, e.attempt, e.host,
                  e.scheduled_for
           from executions e join jobs j on j.id = e.job_id
           where e.status = 'running'
           order by e.started_at
           limit $1"#,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            started_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("nope").is_err());
        assert!(Cursor::decode("12_notauuid").is_err());
    }

    #[test]
    fn time_bounds_take_a_time_or_a_whole_day() {
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        assert_eq!(time_bound(None, End::Start).unwrap(), None);
        assert_eq!(
            time_bound(Some("2026-11-26T09:30:00+02:00"), End::Start).unwrap(),
            at("2026-11-26T07:30:00Z")
        );
        assert_eq!(
            time_bound(Some("2026-11-26T09:30:00Z"), End::Finish).unwrap(),
            at("2026-11-26T09:30:00Z"),
            "a time is taken as it is"
        );
        assert_eq!(
            time_bound(Some("2026-11-26"), End::Start).unwrap(),
            at("2026-11-26T00:00:00Z")
        );
        assert_eq!(
            time_bound(Some("2026-11-26"), End::Finish).unwrap(),
            at("2026-11-27T00:00:00Z"),
            "a day as `to` includes all of it"
        );
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-11-26T25:00:00Z",
            "",
            "+262143-12-31",
        ] {
            let e = time_bound(Some(bad), End::Start).unwrap_err();
            assert!(matches!(e, ApiError::Invalid(_)), "{bad}: {e:?}");
        }
        assert!(
            time_bound(Some("+262142-12-31"), End::Finish).is_err(),
            "no day after the last"
        );
    }
}
