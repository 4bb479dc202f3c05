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

/// One entry of the audit trail, as `GET /api/v1/audit` and `cronwatch audit` show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `user:NAME`, `token:NAME` or `cli:LOGIN`.
    pub actor: String,
    /// What was done, dotted: `job.create`, `token.revoke`, `login.failed`, …
    pub action: String,
    /// What it was done to (a job, token or user name), if anything.
    pub target: Option<String>,
    /// Where from: the client's address for sign-ins, `cli` for the command line.
    pub source: Option<String>,
    pub details: serde_json::Value,
}

/// Which entries to read; all filters optional.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Exactly this actor (`user:ann`).
    pub actor: Option<String>,
    /// This action and those under it: `token` finds `token.create` and `token.revoke`.
    pub action: Option<String>,
    /// Exactly this target.
    pub target: Option<String>,
    /// Only entries older than this id (the previous page's `next_cursor`).
    pub before: Option<i64>,
    /// At most this many (the API asks for 50).
    pub limit: i64,
}

/// A page of the trail, newest first, with the cursor of the next (older) page.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// The entries matching `f`, newest first.
pub async fn page(db: impl PgExecutor<'_>, f: &AuditFilter) -> Result<AuditPage, sqlx::Error> {
    let mut items = sqlx::query_as!(
        AuditEvent,
        "select id, at, actor, action, target, source, details from audit_events
          where ($1::text is null or actor = $1)
            and ($2::text is null or action = $2 or starts_with(action, $2 || '.'))
            and ($3::text is null or target = $3)
            and ($4::bigint is null or id < $4)
          order by id desc
          limit $5",
        f.actor,
        f.action,
        f.target,
        f.before,
        f.limit + 1,
    )
    .fetch_all(db)
    .await?;
    let more = items.len() as i64 > f.limit;
    items.truncate(f.limit.max(0) as usize);
    let next_cursor = more
        .then(|| items.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(AuditPage { items, next_cursor })
}
