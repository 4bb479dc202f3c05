//! Alerts as incidents, and their announcement to a webhook.
//!
//! Every few seconds one replica (an advisory lock decides which) compares what the
//! dashboard flags now (`app::health::alerts`: stuck, late, N failures in a row) with
//! the alerts still open, opens the new ones and resolves those that went away. With a
//! webhook configured, each opening and each resolution is queued in the same
//! transaction and POSTed as JSON, oldest first, retried with backoff for a day: a
//! receiver hears of every incident once it answers, and never of an end before its
//! beginning. The JSON carries a `text` line, so Slack, Mattermost or a chat bridge show
//! it as it comes.

mod delivery;
mod webhook;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};

use app::db::{execution_list, jobs, stats};
use app::health::{self, Alert};
use app::model::{Job, RUNNING_SHOWN};

use crate::locks;

pub use delivery::{deliver_due, queue_state, Delivery, QueueState, DELIVERY_WINDOW};
pub use webhook::{http_url, signature, webhook_secret, Webhook, SIGNATURE_HEADER};

/// An alert that opened or resolved at one evaluation.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Transition {
    pub alert_id: i64,
    pub job: String,
    pub kind: String,
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    /// Set when this transition is the alert's end.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The alert ends because its job was deleted.
    pub job_deleted: bool,
}

impl Transition {
    /// The JSON the webhook receives.
    pub fn payload(&self) -> Value {
        let (event, text) = match self.resolved_at {
            None => (
                "alert.opened",
                format!("cronwatch: {} is {}: {}", self.job, self.kind, self.detail),
            ),
            Some(end) => (
                "alert.resolved",
                format!(
                    "cronwatch: {} is no longer {}{} (after {})",
                    self.job,
                    self.kind,
                    if self.job_deleted {
                        ": the job was deleted"
                    } else {
                        ""
                    },
                    humantime::format_duration((end - self.opened_at).to_std().unwrap_or_default())
                ),
            ),
        };
        json!({
            "text": text,
            "event": event,
            "alert": {
                "id": self.alert_id,
                "job": self.job,
                "kind": self.kind,
                "detail": self.detail,
                "opened_at": self.opened_at,
                "resolved_at": self.resolved_at,
                "job_deleted": self.job_deleted,
            },
        })
    }
}

/// What the alert says, beyond its kind.
fn detail(alert: Alert, job: &Job, running_since: Option<DateTime<Utc>>) -> String {
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    match alert {
        Alert::Stuck => match running_since {
            Some(t) => format!(
                "a run started at {} is still running, past what the job allows",
                at(t)
            ),
            None => "a run is past what the job allows".into(),
        },
        Alert::Late => match job.next_run_at {
            Some(t) => format!("expected at {} and not started within its grace", at(t)),
            None => "not started when expected".into(),
        },
        Alert::Failing(_) => alert.label(),
    }
}

/// Opens the alerts the dashboard shows at `now` that are not open yet and resolves the
/// open ones it no longer shows; with `announce`, queues a notification for each, and
/// for every open alert never announced (it opened while no webhook was set). Does
/// nothing while another replica evaluates. Returns the transitions.
pub async fn evaluate(
    pool: &PgPool,
    now: DateTime<Utc>,
    announce: bool,
) -> Result<Vec<Transition>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !locks::try_lock(&mut tx, locks::ALERT_EVALUATION).await? {
        return Ok(vec![]);
    }
    // Read once the lock is held: what the previous evaluator wrote is committed.
    let jobs = jobs::list(pool).await?;
    let timeline = stats::timeline(pool).await?;
    let running = execution_list::running(pool, RUNNING_SHOWN).await?;
    // As they stand; an alert whose job was deleted has lost the link to it.
    let open: Vec<Transition> = sqlx::query_as(
        "select id as alert_id, job_name as job, kind, detail, opened_at, resolved_at,
                job_id is null as job_deleted
           from alerts
          where resolved_at is null
          order by id",
    )
    .fetch_all(&mut *tx)
    .await?;

    let records = health::records(&timeline);
    let mut shown: Vec<(&str, &'static str, String)> = Vec::new();
    for job in &jobs {
        let since = health::running_since(job, &running);
        let typical = health::typical_duration_ms(&records, &job.name);
        for alert in health::alerts(job, typical, since, now) {
            shown.push((&job.name, alert.kind(), detail(alert, job, since)));
        }
    }

    let mut changes = Vec::new();
    for (job, kind, detail) in &shown {
        if open
            .iter()
            .any(|o| o.job == *job && o.kind == *kind && !o.job_deleted)
        {
            continue;
        }
        let id: Option<i64> = sqlx::query_scalar(
            "insert into alerts (job_id, job_name, kind, detail, opened_at)
             select id, name, $2, $3, $4 from jobs where name = $1
             on conflict do nothing
             returning id",
        )
        .bind(job)
        .bind(kind)
        .bind(detail)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(alert_id) = id {
            changes.push(Transition {
                alert_id,
                job: job.to_string(),
                kind: kind.to_string(),
                detail: detail.clone(),
                opened_at: now,
                resolved_at: None,
                job_deleted: false,
            });
        }
    }
    let mut still_open = Vec::new();
    for mut t in open {
        // A deleted job's alert ends, whatever a new job of the same name shows.
        if !t.job_deleted && shown.iter().any(|s| s.0 == t.job && s.1 == t.kind) {
            still_open.push(t);
            continue;
        }
        sqlx::query("update alerts set resolved_at = $2 where id = $1")
            .bind(t.alert_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        t.resolved_at = Some(now);
        changes.push(t);
    }
    if announce {
        for t in &changes {
            queue(&mut tx, t, now).await?;
        }
        // Alerts that opened while no webhook was set are announced once one is.
        let ids: Vec<i64> = still_open.iter().map(|t| t.alert_id).collect();
        let announced: Vec<i64> = sqlx::query_scalar(
            "select distinct alert_id from alert_notifications where alert_id = any($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        for t in still_open
            .iter()
            .filter(|t| !announced.contains(&t.alert_id))
        {
            queue(&mut tx, t, now).await?;
        }
    }
    tx.commit().await?;
    for t in &changes {
        match t.resolved_at {
            None => {
                tracing::info!(job = %t.job, kind = %t.kind, detail = %t.detail, "alert opened")
            }
            Some(_) => tracing::info!(job = %t.job, kind = %t.kind, "alert resolved"),
        }
    }
    Ok(changes)
}

async fn queue(
    tx: &mut PgConnection,
    t: &Transition,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into alert_notifications (alert_id, payload, created_at, next_attempt_at)
         values ($1, $2, $3, $3)",
    )
    .bind(t.alert_id)
    .bind(t.payload())
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Which alerts `GET /api/v1/alerts` lists.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub job: Option<String>,
    /// Only open ones (`true`) or only ended ones (`false`).
    pub open: Option<bool>,
    /// Only those with a smaller id (the previous page's last).
    pub before: Option<i64>,
}

/// An alert as the API shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct AlertRecord {
    pub id: i64,
    pub job: String,
    pub kind: String,
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A page of alerts, newest first; `next_cursor` is there when older ones follow.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AlertPage {
    pub items: Vec<AlertRecord>,
    pub next_cursor: Option<String>,
}

/// Alerts a page holds.
pub const PAGE_SIZE: usize = 50;

/// The page of alerts `filter` selects.
pub async fn page(pool: &PgPool, filter: &AlertFilter) -> Result<AlertPage, sqlx::Error> {
    let mut items: Vec<AlertRecord> = sqlx::query_as(
        "select id, job_name as job, kind, detail, opened_at, resolved_at
           from alerts
          where ($1::text is null or job_name = $1)
            and ($2::boolean is null or (resolved_at is null) = $2)
            and ($3::bigint is null or id < $3)
          order by id desc
          limit $4",
    )
    .bind(&filter.job)
    .bind(filter.open)
    .bind(filter.before)
    .bind(PAGE_SIZE as i64 + 1)
    .fetch_all(pool)
    .await?;
    let more = items.len() > PAGE_SIZE;
    items.truncate(PAGE_SIZE);
    let next_cursor = more
        .then(|| items.last().map(|a| a.id.to_string()))
        .flatten();
    Ok(AlertPage { items, next_cursor })
}

/// Deletes the alerts that ended more than `kept` before `now`, with their
/// notifications; returns how many.
pub async fn prune(pool: &PgPool, now: DateTime<Utc>, kept: TimeDelta) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("delete from alerts where resolved_at < $1")
        .bind(now - kept)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Every `every`: evaluates alerts, then delivers what waits (with a webhook); alerts
/// that ended more than `kept` ago go.
pub async fn run(pool: PgPool, hook: Option<Webhook>, every: Duration, kept: TimeDelta) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = evaluate(&pool, Utc::now(), hook.is_some()).await {
            tracing::warn!(error = %e, "could not evaluate alerts");
        }
        if let Err(e) = prune(&pool, Utc::now(), kept).await {
            tracing::warn!(error = %e, "could not delete old alerts");
        }
        if let Some(hook) = &hook {
            if let Err(e) = deliver_due(&pool, hook, Utc::now()).await {
                tracing::warn!(error = %e, "could not deliver alert notifications");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolution_says_how_long_the_alert_lasted() {
        let opened_at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let t = Transition {
            alert_id: 7,
            job: "nightly".into(),
            kind: "late".into(),
            detail: "expected at …".into(),
            opened_at,
            resolved_at: Some(opened_at + TimeDelta::minutes(90)),
            job_deleted: false,
        };
        let p = t.payload();
        assert_eq!(p["event"], "alert.resolved");
        assert_eq!(
            p["text"],
            "cronwatch: nightly is no longer late (after 1h 30m)"
        );
        assert_eq!(p["alert"]["id"], 7);
        assert_eq!(p["alert"]["job_deleted"], false);

        let gone = Transition {
            job_deleted: true,
            ..t
        }
        .payload();
        assert_eq!(
            gone["text"],
            "cronwatch: nightly is no longer late: the job was deleted (after 1h 30m)"
        );
        assert_eq!(gone["alert"]["job_deleted"], true);
    }
}
