//! Sending queued notifications to the webhook: oldest first, one replica at a time,
//! retried with backoff, abandoned after a day.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use sqlx::PgPool;

use super::Webhook;
use crate::locks;

/// The first retry waits this long, each next one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: TimeDelta = TimeDelta::seconds(10);
const MAX_BACKOFF: TimeDelta = TimeDelta::minutes(10);
/// A notification the receiver has not taken after this long is abandoned, so that
/// the ones after it can go.
pub const DELIVERY_WINDOW: TimeDelta = TimeDelta::hours(24);

/// How long to wait after the `attempts`-th failed attempt.
fn backoff(attempts: i32) -> TimeDelta {
    let doublings = attempts.clamp(1, 16) - 1;
    (FIRST_BACKOFF * 2i32.pow(doublings as u32)).min(MAX_BACKOFF)
}

/// A notification not delivered yet.
#[derive(sqlx::FromRow)]
struct Waiting {
    id: i64,
    payload: Value,
    attempts: i32,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
}

/// What one round of delivery did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: usize,
    pub failed: usize,
    pub abandoned: usize,
}

/// Where the notification queue stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct QueueState {
    /// Not delivered yet: more than a few for long means the receiver is failing.
    pub waiting: i64,
    /// Given up after [`DELIVERY_WINDOW`] of failures (kept as long as their alert).
    pub abandoned: i64,
}

/// How many notifications wait, and how many were abandoned.
pub async fn queue_state(pool: &PgPool) -> Result<QueueState, sqlx::Error> {
    sqlx::query_as(
        "select count(*) filter (where delivered_at is null and abandoned_at is null) as waiting,
                count(abandoned_at) as abandoned
           from alert_notifications",
    )
    .fetch_one(pool)
    .await
}

/// Sends the waiting notifications, oldest first, until one fails or is not due yet at
/// `now`; a failed one is retried later, and abandoned once older than
/// [`DELIVERY_WINDOW`]. Does nothing while another replica delivers.
pub async fn deliver_due(
    pool: &PgPool,
    hook: &Webhook,
    now: DateTime<Utc>,
) -> Result<Delivery, sqlx::Error> {
    let mut done = Delivery::default();
    loop {
        let mut tx = pool.begin().await?;
        if !locks::try_lock(&mut tx, locks::ALERT_DELIVERY).await? {
            return Ok(done);
        }
        let next: Option<Waiting> = sqlx::query_as(
            "select id, payload, attempts, created_at, next_attempt_at
               from alert_notifications
              where delivered_at is null and abandoned_at is null
              order by id
              limit 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(Waiting {
            id,
            payload,
            attempts,
            created_at,
            next_attempt_at,
        }) = next
        else {
            return Ok(done);
        };
        if next_attempt_at > now {
            return Ok(done);
        }
        let attempts = attempts + 1;
        let failed = match hook.post(&payload).await {
            Ok(()) => {
                sqlx::query(
                    "update alert_notifications set delivered_at = $2, attempts = $3 where id = $1",
                )
                .bind(id)
                .bind(now)
                .bind(attempts)
                .execute(&mut *tx)
                .await?;
                done.delivered += 1;
                false
            }
            Err(error) if now - created_at >= DELIVERY_WINDOW => {
                tracing::warn!(%error, id, "alert notification abandoned after a day of failures");
                sqlx::query(
                    "update alert_notifications
                        set abandoned_at = $2, attempts = $3, last_error = $4
                      where id = $1",
                )
                .bind(id)
                .bind(now)
                .bind(attempts)
                .bind(&error)
                .execute(&mut *tx)
                .await?;
                done.abandoned += 1;
                false
            }
            Err(error) => {
                tracing::warn!(%error, id, attempts, "alert webhook failed; will retry");
                sqlx::query(
                    "update alert_notifications
                        set next_attempt_at = $2, attempts = $3, last_error = $4
                      where id = $1",
                )
                .bind(id)
                .bind(now + backoff(attempts))
                .bind(attempts)
                .bind(&error)
                .execute(&mut *tx)
                .await?;
                done.failed += 1;
                true
            }
        };
        tx.commit().await?;
        if failed {
            return Ok(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_ten_minutes() {
        assert_eq!(backoff(1), TimeDelta::seconds(10));
        assert_eq!(backoff(2), TimeDelta::seconds(20));
        assert_eq!(backoff(4), TimeDelta::seconds(80));
        assert_eq!(backoff(7), TimeDelta::minutes(10));
        assert_eq!(backoff(1000), TimeDelta::minutes(10));
    }
}
