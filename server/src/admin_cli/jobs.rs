//! `cronwatch jobs list|ping-key`.

use app::db::jobs;
use app::model::Job;

use super::{audit_cli, table, when};

/// Prints every job, by name.
pub async fn list(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    print!("{}", job_table(&jobs::list(pool).await?));
    Ok(())
}

/// The `jobs list` table: one line per job.
fn job_table(list: &[Job]) -> String {
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|j| {
            let schedule = match &j.schedule {
                Some(s) if j.timezone == "UTC" => s.clone(),
                Some(s) => format!("{s} ({})", j.timezone),
                None => "-".into(),
            };
            [
                j.name.clone(),
                j.kind.as_str().to_string(),
                if j.enabled {
                    schedule
                } else {
                    format!("{schedule}, paused")
                },
                when(j.last_started_at),
                j.last_status.map_or("-", |s| s.as_str()).to_string(),
                when(j.next_run_at.filter(|_| j.enabled)),
            ]
        })
        .collect();
    table(
        ["NAME", "KIND", "SCHEDULE", "LAST RUN", "STATUS", "NEXT RUN"],
        &rows,
    )
}

/// Prints job `name`'s ping path, alone on the last line; with `regenerate`, a new key
/// first (audited).
pub async fn ping_key(pool: &sqlx::PgPool, name: &str, regenerate: bool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let key = jobs::ping_key(&mut tx, name, regenerate).await?;
    if regenerate {
        audit_cli(
            &mut tx,
            "job.ping_key.regenerate",
            name,
            serde_json::json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    let what = if regenerate {
        "new ping path"
    } else {
        "ping path"
    };
    println!(
        "job {name:?}: {what} on the next line; append /start, /fail, /log or an exit code, \
         and ?rid= to pair overlapping runs"
    );
    println!("/ping/{key}");
    Ok(())
}
