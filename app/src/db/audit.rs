//! The audit trail: who did what, when, from where.

use sqlx::PgPool;

/// Appends one audit event. `actor` is `user:NAME` or `token:NAME`.
pub async fn record(
    pool: &PgPool,
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
    .execute(pool)
    .await?;
    Ok(())
}
