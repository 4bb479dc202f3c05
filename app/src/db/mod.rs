//! The data layer: every SQL statement cronwatch runs lives under here, one module
//! per resource. Writes that change what the dashboard shows update the rollups and
//! record a change event in the same transaction.

pub mod audit;
pub mod batches;
pub mod events;
pub mod execution_list;
pub mod executions;
pub mod jobs;
pub mod output_caps;
pub mod pings;
pub mod planned_runs;
pub mod stats;
pub mod sweeps;
pub mod tokens;
pub mod users;

pub use sqlx::PgPool;

/// Applies the migrations embedded in the binary.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../migrations").run(pool).await
}
