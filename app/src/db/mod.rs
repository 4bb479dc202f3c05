//! The data layer: every SQL statement cronwatch runs lives under here, one module
//! per resource. Writes that change what the dashboard shows update the rollups and
//! record a change event in the same transaction.
//!
//! Some columns are of domains that carry their rules (`cw_name`, `cw_job_kind`, …, see
//! the migration `rules_as_domains`). sqlx's `query!` knows no Rust type for a domain,
//! so a value written straight into one is given its base type in the SQL (`$1::text`);
//! PostgreSQL still applies the domain's rule as it stores it.

pub mod audit;
pub mod batches;
pub mod events;
pub mod execution_list;
pub mod executions;
pub mod held;
pub mod jobs;
pub mod output_caps;
pub mod pings;
pub mod plain_batch;
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
