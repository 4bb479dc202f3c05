//! Change events: recorded inside the writing transaction, numbered in commit order by
//! the sequencer (`cw_sequence_events`), read back for live streams and replays.

use sqlx::{PgConnection, PgPool};

use crate::model::ChangeEvent;

/// A change event with its sequence number (the SSE `id:`).
#[derive(Clone, Debug, PartialEq)]
pub struct Sequenced {
    pub seq: i64,
    pub event: ChangeEvent,
}

/// Records `event` in the caller's transaction. It becomes visible to streams once
/// the transaction commits and the sequencer numbers it.
pub async fn record(conn: &mut PgConnection, event: &ChangeEvent) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_value(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        "insert into events (kind, payload) values ($1, $2)",
        event.kind(),
        payload
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Numbers every committed, unnumbered event; returns how many it numbered.
/// Run after each write and on a timer as a backstop. Its commit need not wait for
/// the disk: a number lost in a crash is simply assigned again.
pub async fn sequence(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("set local synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query_scalar!("select cw_sequence_events() as \"n!\"")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// Whether events wait for a number (cheap: a partial index).
pub async fn has_unsequenced(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!("select exists (select 1 from events where seq is null) as \"e!\"")
        .fetch_one(pool)
        .await
}

/// Numbered events after `after`, oldest first, at most `limit`.
pub async fn since(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<Sequenced>, sqlx::Error> {
    let rows = sqlx::query!(
        "select seq as \"seq!\", payload from events where seq > $1 order by seq limit $2",
        after,
        limit
    )
    .fetch_all(pool)
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

/// The highest number assigned so far (0 when none).
pub async fn latest_seq(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!("select coalesce(max(seq), 0) as \"s!\" from events")
        .fetch_one(pool)
        .await
}

/// Deletes numbered events older than `keep`, at most `batch` at a time.
pub async fn prune(pool: &PgPool, keep: chrono::TimeDelta, batch: i64) -> Result<u64, sqlx::Error> {
    let cutoff = chrono::Utc::now() - keep;
    let done = sqlx::query!(
        "delete from events where id in (
           select id from events where at < $1 and seq is not null order by id limit $2)",
        cutoff,
        batch
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
