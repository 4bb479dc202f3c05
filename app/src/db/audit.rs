//! The audit trail: who did what, when, from where.

use sqlx::PgExecutor;

/// Appends one audit event. `actor` is `user:NAME`, `token:NAME` or `cli:LOGIN`. Give it
/// the transaction of the change it records, where there is one.
pub async fn record(
    db: impl PgExecutor<'_>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    source: Option<&str>,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into audit_events (actor, action, target, source, details) values ($1, $2, $3, $4, $5)",
        actor,
        action,
        target,
        source,
        details
    )
    .execute(db)
    .await?;
    Ok(())
}
