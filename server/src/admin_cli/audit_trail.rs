//! `cronwatch audit`: the audit trail, newest first.

use app::db::audit::{self, AuditFilter};

use super::{table, when};

/// Prints the newest `filter.limit` entries matching `filter`, newest first (as
/// `git log` does), and says when older ones were left out.
pub async fn list(pool: &sqlx::PgPool, filter: AuditFilter) -> anyhow::Result<()> {
    let page = audit::page(pool, &filter).await?;
    let rows: Vec<[String; 6]> = page
        .items
        .iter()
        .map(|e| {
            [
                when(Some(e.at)),
                printable(&e.actor),
                printable(&e.action),
                printable(e.target.as_deref().unwrap_or("-")),
                printable(e.source.as_deref().unwrap_or("-")),
                e.details.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            ["AT", "ACTOR", "ACTION", "TARGET", "SOURCE", "DETAILS"],
            &rows
        )
    );
    if page.next_cursor.is_some() {
        println!("(older entries not shown: raise --limit)");
    }
    Ok(())
}

/// `s` with control characters escaped: a failed sign-in records the name as typed,
/// and a terminal must not run escape sequences someone typed there.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("ann"), "ann");
        assert_eq!(printable("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(printable("zoë"), "zoë");
    }
}
