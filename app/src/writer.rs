//! Group commit for reports. Concurrent start/complete requests are queued and written
//! together: one transaction (one WAL flush) for everything that arrived while the
//! previous batch was being written. Each caller still gets its own answer, and only
//! after its report is durable. Under light load a batch is a single report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::db::executions::{self, Outcome, Report};
use crate::db::held::HeldConnection;
use crate::error::ApiError;

/// Most reports written in one transaction.
const MAX_BATCH: usize = 256;
/// Batches written at the same time. One: with two on 2 cores, batches halved (4.0 to
/// 2.3 reports at 8 clients), each cost more (0.92 to 1.25 ms) and PostgreSQL's CPU per
/// report rose by half, for less throughput (15–20 % at 8 clients, 0–7 % at 32); and a
/// single writer can never deadlock with itself on a job's rows. Overlapping only the
/// commit (applying the next batch in an open transaction while the previous one's WAL
/// flush runs) was measured too, and lost on 2 cores: smaller batches and the extra
/// BEGIN/COMMIT cost 12–26 % more CPU per report and 7–15 % of the throughput, for no
/// better p99.
const WRITERS: usize = 1;

struct Pending {
    report: Report,
    reply: oneshot::Sender<Result<Outcome, ApiError>>,
}

/// The handle handlers submit reports through. Cheap to clone.
#[derive(Clone)]
pub struct ReportWriter {
    tx: mpsc::Sender<Pending>,
    counters: Arc<Counters>,
}

/// What this process's writer has done since it started.
#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    reports: AtomicU64,
    busy_micros: AtomicU64,
}

/// [`ReportWriter::totals`]: how well reports share transactions here. Reports over
/// batches is the mean batch; busy time over batches, what one costs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WriterTotals {
    /// Transactions written (a batch retried report by report counts once).
    pub batches: u64,
    /// Reports answered, refused ones included.
    pub reports: u64,
    /// Time spent writing batches, from taking them off the queue to their answers.
    pub busy_seconds: f64,
}

impl ReportWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(pool: PgPool) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let rx = Arc::new(Mutex::new(rx));
        let counters = Arc::new(Counters::default());
        for _ in 0..WRITERS {
            tokio::spawn(run(pool.clone(), rx.clone(), counters.clone()));
        }
        Self { tx, counters }
    }

    /// What the writer has done since this process started.
    pub fn totals(&self) -> WriterTotals {
        let c = &self.counters;
        WriterTotals {
            batches: c.batches.load(Ordering::Relaxed),
            reports: c.reports.load(Ordering::Relaxed),
            busy_seconds: c.busy_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// Validates `report`, queues it, and waits until it is committed (or refused).
    pub async fn submit(&self, report: Report) -> Result<Outcome, ApiError> {
        report.validate()?;
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { report, reply })
            .await
            .map_err(|_| ApiError::Unavailable("report writer stopped (shutting down)".into()))?;
        answer
            .await
            .map_err(|_| ApiError::Internal("report writer dropped a report".into()))?
    }
}

async fn run(pool: PgPool, rx: Arc<Mutex<mpsc::Receiver<Pending>>>, counters: Arc<Counters>) {
    // Kept from one batch to the next while reports keep coming (see `HeldConnection`).
    let mut conn = HeldConnection::new(pool);
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            let first = match rx.try_recv() {
                Ok(p) => p,
                Err(TryRecvError::Empty) => match conn.until(rx.recv()).await {
                    Some(p) => p,
                    None => return,
                },
                Err(TryRecvError::Disconnected) => return,
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
        }
        write(&mut conn, batch, &counters).await;
    }
}

/// Writes one batch. If the batch as a whole fails (one report hit an unexpected
/// error), every report is retried on its own so that only the bad one fails; if the
/// database is unavailable, every report is answered so at once.
async fn write(held: &mut HeldConnection, batch: Vec<Pending>, counters: &Counters) {
    let reports: Vec<&Report> = batch.iter().map(|p| &p.report).collect();
    let started = std::time::Instant::now();
    // On the held connection (an error gives it back).
    let results = match held
        .with(async |conn| executions::apply(conn, &reports).await)
        .await
    {
        Ok(results) => results,
        // Retrying one by one would only wait for the database once per report.
        Err(ApiError::Unavailable(detail)) => (0..batch.len())
            .map(|_| Err(ApiError::Unavailable(detail.clone())))
            .collect(),
        Err(e) if batch.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = %e, size = batch.len(), "report batch failed; retrying one by one");
            let mut one_by_one = Vec::with_capacity(batch.len());
            for r in &reports {
                one_by_one.push(apply_alone(held.pool(), r).await);
            }
            one_by_one
        }
    };
    let micros = started.elapsed().as_micros() as u64;
    tracing::debug!(size = batch.len(), micros, "report batch written");
    counters.batches.fetch_add(1, Ordering::Relaxed);
    counters
        .reports
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    counters.busy_micros.fetch_add(micros, Ordering::Relaxed);
    for (pending, result) in batch.into_iter().zip(results) {
        let _ = pending.reply.send(result);
    }
}

/// One report in a transaction of its own, on a connection of its own.
async fn apply_alone(pool: &PgPool, report: &Report) -> Result<Outcome, ApiError> {
    let mut conn = pool.acquire().await?;
    executions::apply(&mut conn, &[report])
        .await?
        .pop()
        .unwrap_or_else(|| Err(ApiError::Internal("no result".into())))
}
