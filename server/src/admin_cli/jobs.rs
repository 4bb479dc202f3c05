//! `cronwatch jobs list|pause|resume|delete|ping-key`.

use chrono::{DateTime, Utc};

use app::db::{execution_list, jobs, stats};
use app::health;
use app::model::{ExecutionSummary, Job, TimelinePoint, RUNNING_SHOWN};

use super::{audit_cli, table, when};

/// Prints every job, by name, with the alerts the dashboard would show for it now.
pub async fn list(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let list = jobs::list(pool).await?;
    let timeline = stats::timeline(pool).await?;
    let running = execution_list::running(pool, RUNNING_SHOWN).await?;
    print!("{}", job_table(&list, &timeline, &running, Utc::now()));
    Ok(())
}

/// The `jobs list` table: one line per job.
fn job_table(
    list: &[Job],
    timeline: &[TimelinePoint],
    running: &[ExecutionSummary],
    now: DateTime<Utc>,
) -> String {
    let records = health::records(timeline);
    let rows: Vec<[String; 7]> = list
        .iter()
        .map(|j| {
            let schedule = match &j.schedule {
                Some(s) if j.timezone == "UTC" => s.clone(),
                Some(s) => format!("{s} ({})", j.timezone),
                None => "-".into(),
            };
            let alerts: Vec<String> = health::alerts(
                j,
                health::typical_duration_ms(&records, &j.name),
                health::running_since(j, running),
                now,
            )
            .into_iter()
            .map(|a| a.label())
            .collect();
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
                if alerts.is_empty() {
                    "-".into()
                } else {
                    alerts.join(", ")
                },
            ]
        })
        .collect();
    table(
        [
            "NAME", "KIND", "SCHEDULE", "LAST RUN", "STATUS", "NEXT RUN", "ALERTS",
        ],
        &rows,
    )
}

/// Pauses (`enabled` false) or resumes job `name`; audited when it changes.
pub async fn set_enabled(pool: &sqlx::PgPool, name: &str, enabled: bool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let (job, declared) = jobs::set_enabled(&mut tx, name, enabled).await?;
    let (action, state) = if enabled {
        ("job.resume", "resumed")
    } else {
        ("job.pause", "paused")
    };
    let unchanged = declared == jobs::Declared::Unchanged;
    if !unchanged {
        audit_cli(&mut tx, action, name, serde_json::json!({})).await?;
    }
    tx.commit().await?;
    if unchanged {
        println!("job {name:?} was already {state}");
    } else {
        println!("job {name:?} {state}");
    }
    if let Some(next) = job.next_run_at.filter(|_| job.enabled) {
        println!("next expected run: {}", when(Some(next)));
    }
    Ok(())
}

/// Deletes job `name` with its whole history; audited. Without `yes` it only says what
/// would go, changes nothing and fails, so that a mistyped name costs nothing.
pub async fn delete(pool: &sqlx::PgPool, name: &str, yes: bool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let removal = jobs::delete(&mut tx, name).await?;
    let what = format!(
        "{} execution(s), {} of them running",
        removal.executions, removal.running
    );
    if !yes {
        tx.rollback().await?;
        anyhow::bail!("job {name:?} has {what}; add --yes to delete it with its whole history");
    }
    let details = serde_json::json!({ "executions": removal.executions });
    audit_cli(&mut tx, "job.delete", name, details).await?;
    tx.commit().await?;
    println!("deleted job {name:?} and {what}");
    Ok(())
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
