//! The administration commands: `cronwatch user …`, `token …`, `jobs …` and `audit`.
//! Each change is recorded in the audit trail, in the change's transaction, as done by
//! `cli:<login>` from `cli`.

pub mod alerts;
pub mod audit_trail;
pub mod job_file;
pub mod jobs;
pub mod tokens;
pub mod users;

use std::io::Read;

use rand::distributions::{Alphanumeric, DistString};

use app::db::audit;
use app::db::tokens::Scope;
use app::db::users::{self as user_db, Role};
use app::error::ApiError;

use crate::cli::{RoleArg, ScopeArg};

fn role_of(r: RoleArg) -> Role {
    match r {
        RoleArg::Viewer => Role::Viewer,
        RoleArg::Admin => Role::Admin,
        RoleArg::SuperAdmin => Role::SuperAdmin,
    }
}

fn scope_of(s: ScopeArg) -> Scope {
    match s {
        ScopeArg::Ingest => Scope::Ingest,
        ScopeArg::Read => Scope::Read,
        ScopeArg::Admin => Scope::Admin,
        ScopeArg::Agent => Scope::Agent,
    }
}

/// Reads stdin, without its trailing newline.
fn read_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

/// A random password for users created without one.
pub fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20)
}

/// The password to set: from stdin, or generated (then it must be shown).
fn new_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    Ok(if from_stdin {
        (read_stdin()?, false)
    } else {
        (random_password(), true)
    })
}

/// Records a change made from the command line, by the login that ran it.
async fn audit_cli(
    tx: &mut sqlx::PgConnection,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let login = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    audit::record(
        tx,
        &format!("cli:{login}"),
        action,
        Some(target),
        Some("cli"),
        details,
    )
    .await
}

/// On first start (no users), creates `admin` as super_admin with
/// `CRONWATCH_ADMIN_PASSWORD` or a random password printed once; audited.
pub async fn bootstrap_admin(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    if user_db::count(pool).await? > 0 {
        return Ok(());
    }
    let from_env = std::env::var("CRONWATCH_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = from_env.clone().unwrap_or_else(random_password);
    let mut tx = pool.begin().await?;
    match user_db::create(&mut *tx, "admin", password.clone(), Role::SuperAdmin).await {
        // Another replica starting at the same moment made it.
        Err(ApiError::Conflict(_)) => return Ok(()),
        other => other?,
    }
    audit::record(
        &mut *tx,
        "cronwatch",
        "user.create",
        Some("admin"),
        Some("first start"),
        serde_json::json!({ "role": Role::SuperAdmin.as_str() }),
    )
    .await?;
    tx.commit().await?;
    if from_env.is_some() {
        println!("created super_admin `admin` with the password from CRONWATCH_ADMIN_PASSWORD");
    } else {
        println!("created super_admin `admin`; its password is shown once: {password}");
    }
    Ok(())
}

/// A plain-text table: a header line, then one line per row, columns aligned.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let header = header.map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A time as the tables show it, or `-`.
fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or("-".to_string(), |t| {
        t.format("%Y-%m-%d %H:%M:%SZ").to_string()
    })
}
