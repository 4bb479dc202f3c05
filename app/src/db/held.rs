//! A connection a busy loop keeps from one round to the next (the report writer, the
//! event pump): no checkout per round, so no test round trip (the pool pings before
//! lending) and one backend with its plans and caches warm. It goes back to the pool
//! after [`HOLD_WHEN_IDLE`] without work, so an idle loop holds nothing of a small
//! pool, and after any error, so a broken one is never used twice (the pool tests it
//! before lending it again).

use std::future::Future;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

/// How long a loop keeps its connection without work. Under load the writer's queue is
/// empty between most batches (every client waits on the batch being written), so it
/// must outlast those gaps by far.
pub const HOLD_WHEN_IDLE: Duration = Duration::from_millis(100);

pub struct HeldConnection {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
}

impl HeldConnection {
    /// Holds nothing until first asked.
    pub fn new(pool: PgPool) -> Self {
        Self { pool, conn: None }
    }

    /// Runs `work` on the held connection, taking one if none is held. An error, from
    /// the pool or from `work`, gives the connection back: it may be the connection that
    /// broke, and the pool tests a connection before lending it again.
    pub async fn with<T, E: From<sqlx::Error>>(
        &mut self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let out = match self.get().await {
            Ok(conn) => work(conn).await,
            Err(e) => Err(e.into()),
        };
        if out.is_err() {
            self.release();
        }
        out
    }

    /// The held connection, taking one from the pool if none is held.
    async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            none => none.insert(self.pool.acquire().await?),
        };
        Ok(&mut **conn)
    }

    /// Gives the connection back.
    fn release(&mut self) {
        self.conn = None;
    }

    /// Waits for `work`; if none comes within [`HOLD_WHEN_IDLE`], gives the connection
    /// back and goes on waiting for the same `work`.
    pub async fn until<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        match tokio::time::timeout(HOLD_WHEN_IDLE, &mut work).await {
            Ok(out) => out,
            Err(_) => {
                self.release();
                work.await
            }
        }
    }

    /// The pool, for work that must not use the held connection.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
