//! Change events: recorded inside the writing transaction, numbered in commit order,
//! read back for live streams and replays.

use sqlx::{PgConnection, PgPool};

use crate::model::ChangeEvent;

/// A change event with its sequence number (the SSE `id:`).
#[derive(Clone, Debug, PartialEq)]
pub struct Sequenced {
    pub seq: i64,
    pub event: ChangeEvent,
}

/// Records `event` in the caller's transaction, numbered in commit order. Call it
/// last before commit: it takes the lock that orders the numbers (see `cw_emit_events`).
pub async fn record(conn: &mut PgConnection, event: &ChangeEvent) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_value(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        "select cw_emit_events(array[$1::text], array[$2::jsonb])",
        event.kind(),
        payload
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Numbered events after `after`, oldest first, at most `limit`.
pub async fn since<'c>(
    db: impl sqlx::PgExecutor<'c>,
    after: i64,
    limit: i64,
) -> Result<Vec<Sequenced>, sqlx::Error> {
    let rows = sqlx::query!(
        "select seq, payload from events where seq > $1 order by seq limit $2",
        after,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            serde_json::from_value(r.payload)
                .ok()
                .map(|event| Sequenced { seq: r.seq, event })
        })
        .collect())
}

/// The highest number assigned so far (0 when none). Never below the pruning horizon:
/// after a quiet spell everything may be pruned, and a page starting from 0 would be
/// told to reload, again and again.
pub async fn latest_seq(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select greatest(coalesce(max(seq), 0), (select pruned_through from event_horizon))
             as "s!"
           from events"#
    )
    .fetch_one(pool)
    .await
}

/// Deletes numbered events older than `keep`, at most `batch` at a time, and moves the
/// horizon below which a resuming client can no longer be replayed everything.
pub async fn prune(pool: &PgPool, keep: chrono::TimeDelta, batch: i64) -> Result<u64, sqlx::Error> {
    let cutoff = chrono::Utc::now() - keep;
    let deleted = sqlx::query_scalar!(
        r#"with gone as (
             delete from events where seq in (
               select seq from events where at < $1 order by seq limit $2)
             returning seq)
           update event_horizon
              set pruned_through = greatest(pruned_through, (select coalesce(max(seq), 0) from gone))
           returning (select count(*) from gone) as "n!""#,
        cutoff,
        batch
    )
    .fetch_one(pool)
    .await?;
    Ok(deleted as u64)
}

/// The highest event number pruned so far (0 when none): a client resuming from before
/// it may have missed events.
pub async fn pruned_through(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!("select pruned_through from event_horizon")
        .fetch_one(pool)
        .await
}
