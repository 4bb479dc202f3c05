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
use crate::locks;

/// What a declaration file holds.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct JobFile {
    /// By name; a map sorts them, so jobs are written (and locked) in one order.
    #[serde(default)]
    jobs: BTreeMap<String, JobDefinition>,
}

/// How `sync` treats what it finds.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncOptions {
    /// Print what would change, and change nothing (a check for a repository's CI).
    pub dry_run: bool,
    /// Delete, with their history, the jobs the file does not name: the file is the
    /// whole list (a cron removed from it no longer shows, nor alerts, as late).
    pub prune: bool,
}

/// Creates or replaces every job the file at `path` declares, in one transaction: a
/// file with one bad job changes nothing. Jobs that already match are not rewritten
/// (no event, no audit, a late job stays late). Jobs the file does not name are left
/// as they are, and listed, unless `prune`. Prints what it did to each job.
pub async fn sync(pool: &sqlx::PgPool, path: &Path, options: SyncOptions) -> anyhow::Result<()> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
    let file: JobFile = toml::from_str(&text).with_context(|| format!("{shown} is not valid"))?;
    let mut tx = pool.begin().await?;
    // Replicas started together sync one after the other: the later ones find every
    // job unchanged instead of each recording it as created.
    locks::lock(&mut tx, locks::JOBS_SYNC).await?;
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
    let declared: Vec<String> = rows.iter().map(|[name, _]| name.clone()).collect();
    let undeclared: Vec<String> =
        sqlx::query_scalar("select name from jobs where not (name = any($1)) order by name")
            .bind(&declared)
            .fetch_all(&mut *tx)
            .await?;
    if options.prune {
        for name in &undeclared {
            let removal = jobs::delete(&mut tx, name).await?;
            let details = serde_json::json!({
                "file": shown.to_string(),
                "executions": removal.executions,
            });
            audit_cli(&mut tx, "job.delete", name, details).await?;
            let change = format!("deleted with {} execution(s)", removal.executions);
            rows.push([name.clone(), change]);
        }
    }
    if options.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    if rows.is_empty() {
        println!("{shown} declares no jobs");
    } else {
        print!("{}", table(["JOB", "CHANGE"], &rows));
    }
    if !undeclared.is_empty() && !options.prune {
        println!(
            "not in {shown}, left as they are (--prune deletes them): {}",
            undeclared.join(", ")
        );
    }
    if options.dry_run {
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
    if let Some(http) = &job.http {
        // A table of strings: it serialises whatever its fields.
        if let Ok(toml::Value::Table(call)) = toml::Value::try_from(http) {
            put("http", toml::Value::Table(call));
        }
    }
    if let Some(command) = &job.command {
        if let Ok(toml::Value::Table(spec)) = toml::Value::try_from(command) {
            put("command", toml::Value::Table(spec));
        }
    }
    if !job.params.is_empty() {
        // An array of tables (`[[jobs.NAME.params]]`); defaults are never null.
        if let Ok(params) = toml::Value::try_from(&job.params) {
            put("params", params);
        }
    }
    t
}
