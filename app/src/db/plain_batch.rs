//! A plain batch of reports, the report writer's usual batch, sent as the typed arrays
//! `cw_apply_plain_reports` takes: no JSON to build here, none to parse there (see the
//! migration `plain_batches_as_arrays` for what that saves).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::executions::{stored_text, Report, ReportResult};

/// Under three reports the general path (its one-by-one path) costs less than the
/// plain path's fixed work.
const SMALLEST: usize = 3;

/// New starts, one field an array, in report order.
#[derive(Default)]
struct Starts {
    ord: Vec<i64>,
    id: Vec<Uuid>,
    job: Vec<String>,
    trigger: Vec<String>,
    triggered_by: Vec<Option<String>>,
    started_at: Vec<Option<DateTime<Utc>>>,
    host: Vec<Option<String>>,
    scheduled_for: Vec<Option<DateTime<Utc>>>,
    attempt: Vec<i32>,
}

/// Ends of running executions, one field an array, in report order.
#[derive(Default)]
struct Ends {
    ord: Vec<i64>,
    id: Vec<Uuid>,
    status: Vec<String>,
    output: Vec<Option<serde_json::Value>>,
    output_truncated: Vec<bool>,
    error_message: Vec<Option<String>>,
    exit_code: Vec<Option<i32>>,
    duration_ms: Vec<Option<i64>>,
    log_tail: Vec<Option<String>>,
    completed_at: Vec<Option<DateTime<Utc>>>,
}

/// A batch's starts and ends apart, each in report order (`ord` is a report's place).
pub(crate) struct PlainBatch {
    starts: Starts,
    ends: Ends,
}

impl PlainBatch {
    /// The batch as arrays, if it may be plain: at least [`SMALLEST`] reports, every
    /// execution named once, no start with a run key (pairing run keys is the general
    /// path's). Whether each start's id is free and each end's run still running, only
    /// the database can tell.
    pub(crate) fn of(reports: &[&Report]) -> Option<Self> {
        if reports.len() < SMALLEST {
            return None;
        }
        let mut named = HashSet::with_capacity(reports.len());
        let (mut starts, mut ends) = (Starts::default(), Ends::default());
        for (ord, report) in (1..).zip(reports) {
            match report {
                Report::Start(n) => {
                    let id = n.stored_id();
                    if n.run_key.is_some() || !named.insert(id) {
                        return None;
                    }
                    starts.ord.push(ord);
                    starts.id.push(id);
                    starts.job.push(n.job.clone());
                    starts.trigger.push(n.trigger.as_str().into());
                    starts.triggered_by.push(stored_text(&n.triggered_by));
                    starts.started_at.push(n.started_at);
                    starts.host.push(stored_text(&n.host));
                    starts.scheduled_for.push(n.scheduled_for);
                    starts.attempt.push(n.attempt);
                }
                Report::Complete(id, d) => {
                    if !named.insert(*id) {
                        return None;
                    }
                    let stored = d.stored();
                    ends.ord.push(ord);
                    ends.id.push(*id);
                    ends.status.push(d.status.as_str().into());
                    ends.output.push(stored.output);
                    ends.output_truncated.push(stored.output_truncated);
                    ends.error_message.push(stored.error_message);
                    ends.exit_code.push(d.exit_code);
                    ends.duration_ms.push(d.duration_ms);
                    ends.log_tail.push(stored.log_tail);
                    ends.completed_at.push(d.completed_at);
                }
            }
        }
        Some(Self { starts, ends })
    }

    /// Writes the batch, or writes nothing (but the external jobs its starts name) and
    /// answers `None` when it is not plain after all.
    pub(crate) async fn apply(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Option<Vec<ReportResult>>, sqlx::Error> {
        let (s, e) = (&self.starts, &self.ends);
        // `as _`: elements may be NULL, which the macro's types cannot say.
        let answer = sqlx::query_scalar!(
            "select cw_apply_plain_reports($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                                           $13, $14, $15, $16, $17, $18, $19)
                 as \"r: Json<Vec<ReportResult>>\"",
            &s.ord,
            &s.id,
            &s.job,
            &s.trigger,
            &s.triggered_by as _,
            &s.started_at as _,
            &s.host as _,
            &s.scheduled_for as _,
            &s.attempt,
            &e.ord,
            &e.id,
            &e.status,
            &e.output as _,
            &e.output_truncated,
            &e.error_message as _,
            &e.exit_code as _,
            &e.duration_ms as _,
            &e.log_tail as _,
            &e.completed_at as _,
        )
        .fetch_one(conn)
        .await?;
        Ok(answer.map(|Json(results)| results))
    }
}
