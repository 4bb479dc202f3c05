//! `cronwatch alerts list|test`.

use crate::alerts::{self, AlertFilter, Webhook};
use crate::cli::AlertArgs;

use super::{table, when};

/// Prints the newest alerts (one page), open ones with `-` as their end.
pub async fn list(pool: &sqlx::PgPool, open: bool, job: Option<String>) -> anyhow::Result<()> {
    let job = app::db::execution_list::job_filter(job)?;
    let filter = AlertFilter {
        job,
        open: open.then_some(true),
        before: None,
    };
    let rows: Vec<[String; 5]> = alerts::page(pool, &filter)
        .await?
        .items
        .into_iter()
        .map(|a| {
            [
                a.job,
                a.kind,
                when(Some(a.opened_at)),
                when(a.resolved_at),
                a.detail,
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("no alerts");
    } else {
        print!(
            "{}",
            table(["JOB", "KIND", "OPENED", "ENDED", "DETAIL"], &rows)
        );
    }
    Ok(())
}

/// Sends a test notification through the webhook `args` configure.
pub async fn test(args: &AlertArgs) -> anyhow::Result<()> {
    let hook: Webhook = args.webhook().ok_or_else(|| {
        anyhow::anyhow!("no webhook: give --alert-webhook URL or set CRONWATCH_ALERT_WEBHOOK")
    })?;
    hook.send_test()
        .await
        .map_err(|e| anyhow::anyhow!("the test notification was not taken: {e}"))?;
    println!("the test notification was taken (2xx)");
    Ok(())
}
