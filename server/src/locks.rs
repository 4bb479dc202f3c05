//! PostgreSQL advisory locks, held until the transaction ends, by which replicas (and
//! command-line runs) take turns. Every key is here, so that no two uses share one;
//! each spells its name in ASCII.

use sqlx::PgConnection;

/// The replica that evaluates alerts ("cw-alrt").
pub const ALERT_EVALUATION: i64 = 0x63_77_2d_61_6c_72_74;
/// The replica that delivers alert notifications ("cw-hook").
pub const ALERT_DELIVERY: i64 = 0x63_77_2d_68_6f_6f_6b;
/// Syncs of a jobs file, one after the other ("cw-jobs").
pub const JOBS_SYNC: i64 = 0x63_77_2d_6a_6f_62_73;
/// The replica that fires scheduled `http` jobs ("cw-cron").
pub const SCHEDULER: i64 = 0x63_77_2d_63_72_6f_6e;
/// Run-now requests, whose limits are counted one request at a time ("cw-run").
pub const RUN_NOW: i64 = 0x63_77_2d_72_75_6e;

/// Takes lock `key` until the transaction ends, unless another holds it.
pub async fn try_lock(tx: &mut PgConnection, key: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
        .bind(key)
        .fetch_one(tx)
        .await
}

/// Takes lock `key` until the transaction ends, waiting for whoever holds it.
pub async fn lock(tx: &mut PgConnection, key: i64) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(tx)
        .await
        .map(|_| ())
}
