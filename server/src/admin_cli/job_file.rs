//! Job declaration files, for `cronwatch jobs sync FILE` and `cronwatch serve --jobs
//! FILE`: a TOML table per job, `[jobs.NAME]`, with the fields of `PUT
//! /api/v1/jobs/NAME`. Jobs kept in a repository next to the crontab that runs them;
//! `cronwatch jobs export` writes the first such file from the jobs there are.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use app::db::jobs::{self, JobDefinition, DEFAULT_GRACE_MS};
use app::model::{Job, JobKind};

use super::{audit_cli, table};

/// What a declaration file holds.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct JobFile {
    /// By name; a map sorts them, so jobs are written (and locked) in one order.
    #[serde(default)]
    jobs: BTreeMap<String, JobDefinition>,
}

/// The advisory lock that serialises syncs ("cw-jobs" in ASCII).
const SYNC_LOCK: i64 = 0x63_77_2d_6a_6f_62_73;

/// Creates or replaces every job the file at `path` declares, in one transaction: a
/// file with one bad job changes nothing. Jobs that already match are not rewritten
/// (no event, no audit, a late job stays late). Jobs the file does not name are left
/// as they are, and listed. Prints what it did to each job; with `dry_run`, what it
/// would do, and then changes nothing (a check for a repository's CI).
pub async fn sync(pool: &sqlx::PgPool, path: &Path, dry_run: bool) -> anyhow::Result<()> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
    let file: JobFile = toml::from_str(&text).with_context(|| format!("{shown} is not valid"))?;
    let mut tx = pool.begin().await?;
    // Replicas started together sync one after the other: the later ones find every
    // job unchanged instead of each recording it as created.
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(SYNC_LOCK)
        .execute(&mut *tx)
        .await?;
    let mut rows = Vec::with_capacity(file.jobs.len());
    for (name, def) in file.jobs {
        let (job, declared) = jobs::declare(&mut tx, &name, def)
            .await
            .with_context(|| format!("{shown}: job {name:?}"))?;
        if let Some(action) = declared.audit_action() {
            let details = serde_json::json!({ "file": shown.to_string(), "job": job });
            audit_cli(&mut tx, action, &name, details).await?;
        }
        rows.push([name, declared.as_str().to_string()]);
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    let undeclared: Vec<String> = jobs::list(pool)
        .await?
        .into_iter()
        .map(|j| j.name)
        .filter(|n| !rows.iter().any(|[declared, _]| declared == n))
        .collect();
    if rows.is_empty() {
        println!("{shown} declares no jobs");
    } else {
        print!("{}", table(["JOB", "CHANGE"], &rows));
    }
    if !undeclared.is_empty() {
        println!(
            "not in {shown}, left as they are: {}",
            undeclared.join(", ")
        );
    }
    if dry_run {
        println!("dry run: nothing was changed");
    }
    Ok(())
}

/// Prints every job's definition as a declaration file: syncing it back changes
/// nothing. Only what differs from the defaults is written.
pub async fn export(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let declared: toml::Table = jobs::list(pool)
        .await?
        .iter()
        .map(|job| (job.name.clone(), toml::Value::Table(declaration_of(job))))
        .collect();
    let file = toml::Table::from_iter([("jobs".to_string(), toml::Value::Table(declared))]);
    println!("# Sync with `cronwatch jobs sync FILE` or `cronwatch serve --jobs FILE`.");
    print!("{}", toml::to_string(&file)?);
    Ok(())
}

/// `job`'s definition, without the fields that hold their default.
fn declaration_of(job: &Job) -> toml::Table {
    let mut t = toml::Table::new();
    let mut put = |key: &str, value: toml::Value| {
        t.insert(key.to_string(), value);
    };
    if job.display_name != job.name {
        put("display_name", job.display_name.clone().into());
    }
    if !job.description.is_empty() {
        put("description", job.description.clone().into());
    }
    if job.kind != JobKind::External {
        put("kind", job.kind.as_str().into());
    }
    if let Some(schedule) = &job.schedule {
        put("schedule", schedule.clone().into());
    }
    if job.timezone != "UTC" {
        put("timezone", job.timezone.clone().into());
    }
    if !job.enabled {
        put("enabled", false.into());
    }
    if let Some(ms) = job.timeout_ms {
        put("timeout_ms", ms.into());
    }
    if job.grace_ms != DEFAULT_GRACE_MS {
        put("grace_ms", job.grace_ms.into());
    }
    if let Some(ms) = job.estimated_duration_ms {
        put("estimated_duration_ms", ms.into());
    }
    if !job.tags.is_empty() {
        put("tags", job.tags.clone().into());
    }
    t
}
