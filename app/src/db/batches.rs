//! Batch queues: counters that jobs report (absolute values; omitted ones are kept).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;

use crate::db::events;
use crate::error::ApiError;
use crate::model::{name_order, BatchQueue, ChangeEvent};
use crate::validate::is_valid_name;

/// Body of `POST /api/v1/batches/{name}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchReport {
    pub pending: Option<i64>,
    pub processing: Option<i64>,
    pub completed_today: Option<i64>,
    pub failed_today: Option<i64>,
}

struct Row {
    name: String,
    pending: i64,
    processing: i64,
    completed_today: i64,
    failed_today: i64,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn into_wire(self) -> BatchQueue {
        let finished = self.completed_today + self.failed_today;
        BatchQueue {
            success_rate: (finished > 0).then(|| self.completed_today as f64 / finished as f64),
            name: self.name,
            pending: self.pending,
            processing: self.processing,
            completed_today: self.completed_today,
            failed_today: self.failed_today,
            updated_at: self.updated_at,
        }
    }
}

/// Sets the reported counters of queue `name`, creating it on first report.
pub async fn report(pool: &PgPool, name: &str, r: BatchReport) -> Result<BatchQueue, ApiError> {
    if !is_valid_name(name) {
        return Err(ApiError::Invalid(format!(
            "batch name {name:?} is invalid: use 1 to 64 of a-z, 0-9 and '-'"
        )));
    }
    let fields = [r.pending, r.processing, r.completed_today, r.failed_today];
    if fields.iter().all(Option::is_none) {
        return Err(ApiError::Invalid(
            "report at least one of pending, processing, completed_today, failed_today".into(),
        ));
    }
    if fields.iter().flatten().any(|v| *v < 0) {
        return Err(ApiError::Invalid("counters must be >= 0".into()));
    }
    let mut tx = pool.begin().await?;
    let row = sqlx::query_as!(
        Row,
        "insert into batch_queues (name, pending, processing, completed_today, failed_today)
         values ($1::text, coalesce($2::bigint, 0), coalesce($3::bigint, 0), coalesce($4::bigint, 0), coalesce($5::bigint, 0))
         on conflict (name) do update set
           pending = coalesce($2, batch_queues.pending),
           processing = coalesce($3, batch_queues.processing),
           completed_today = coalesce($4, batch_queues.completed_today),
           failed_today = coalesce($5, batch_queues.failed_today),
           updated_at = now()
         returning name, pending, processing, completed_today, failed_today, updated_at",
        name,
        r.pending,
        r.processing,
        r.completed_today,
        r.failed_today,
    )
    .fetch_one(&mut *tx)
    .await?;
    let queue = row.into_wire();
    events::record(&mut tx, &ChangeEvent::Batch(queue.clone())).await?;
    tx.commit().await?;
    Ok(queue)
}

/// All batch queues, by name ([`name_order`]).
pub async fn list(pool: &PgPool) -> Result<Vec<BatchQueue>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        "select name, pending, processing, completed_today, failed_today, updated_at
         from batch_queues"
    )
    .fetch_all(pool)
    .await?;
    let mut queues: Vec<BatchQueue> = rows.into_iter().map(Row::into_wire).collect();
    queues.sort_by(|a, b| name_order(&a.name, &b.name));
    Ok(queues)
}
