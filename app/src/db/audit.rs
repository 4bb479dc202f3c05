//! The audit trail: who did what, when, from where.

use sqlx::PgExecutor;

use crate::validate::{pg_json, pg_text};

/// Appends one audit event. `actor` is `user:NAME`, `token:NAME` or `cli:LOGIN`. Give it
/// the transaction of the change it records, where there is one.
pub async fn record(
    db: impl PgExecutor<'_>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    source: Option<&str>,
    mut details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    // A failed sign-in records the name as typed, whatever it holds.
    let text = |s: Option<&str>| s.map(|s| pg_text(s.to_string()));
    pg_json(&mut details);
    sqlx::query!(
        "insert into audit_events (actor, action, target, source, details) values ($1, $2, $3, $4, $5)",
        pg_text(actor.to_string()),
        action,
        text(target),
        text(source),
        details
    )
    .execute(db)
    .await?;
    Ok(())
}
