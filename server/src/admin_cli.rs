//! `cronwatch user add|passwd` and `cronwatch token create|list|revoke`. Each change is
//! recorded in the audit trail as done by `cli:<login>` from `cli`.

use std::io::Read;

use rand::distributions::{Alphanumeric, DistString};

use app::db::audit;
use app::db::tokens::{self, Scope, TokenInfo};
use app::db::users::{self, Role};
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

pub async fn user_passwd(
    pool: &sqlx::PgPool,
    name: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let (password, generated) = new_password(password_stdin)?;
    let mut tx = pool.begin().await?;
    let ended = users::set_password(&mut tx, name, password.clone()).await?;
    audit_cli(
        &mut tx,
        "user.password",
        name,
        serde_json::json!({ "sessions_ended": ended }),
    )
    .await?;
    tx.commit().await?;
    println!("new password set for {name}; {ended} session(s) signed out");
    if generated {
        println!("password (shown once):");
        println!("{password}");
    }
    Ok(())
}

pub async fn user_add(
    pool: &sqlx::PgPool,
    name: &str,
    role: RoleArg,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let (password, generated) = new_password(password_stdin)?;
    let mut tx = pool.begin().await?;
    users::create(&mut *tx, name, password.clone(), role_of(role)).await?;
    audit_cli(
        &mut tx,
        "user.create",
        name,
        serde_json::json!({ "role": role_of(role).as_str() }),
    )
    .await?;
    tx.commit().await?;
    println!("created user {name} ({})", role_of(role).as_str());
    if generated {
        println!("password (shown once):");
        println!("{password}");
    }
    Ok(())
}

pub async fn token_create(
    pool: &sqlx::PgPool,
    name: &str,
    scope: ScopeArg,
    secret_stdin: bool,
) -> anyhow::Result<()> {
    let secret = if secret_stdin {
        Some(read_stdin()?)
    } else {
        None
    };
    let mut tx = pool.begin().await?;
    let token = tokens::issue(&mut *tx, name, scope_of(scope), secret).await?;
    audit_cli(
        &mut tx,
        "token.create",
        name,
        serde_json::json!({ "id": token.id, "scope": scope_of(scope).as_str(), "imported": secret_stdin }),
    )
    .await?;
    tx.commit().await?;
    println!(
        "created {} token {name:?} (id {}); it is shown once, on the next line:",
        scope_of(scope).as_str(),
        token.id
    );
    println!("{}", token.secret);
    Ok(())
}

pub async fn token_list(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    print!("{}", token_table(&tokens::list(pool).await?));
    Ok(())
}

/// The `token list` table: one line per token, columns aligned.
fn token_table(list: &[TokenInfo]) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%SZ").to_string()
        })
    };
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|t| {
            [
                t.id.to_string(),
                t.name.clone(),
                t.scope.clone(),
                when(Some(t.created_at)),
                when(t.last_used_at),
                t.revoked_at.map_or("live".to_string(), |at| {
                    format!("revoked {}", when(Some(at)))
                }),
            ]
        })
        .collect();
    let header = ["ID", "NAME", "SCOPE", "CREATED", "LAST USED", "STATUS"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
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

pub async fn token_revoke(pool: &sqlx::PgPool, which: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let revoked = tokens::revoke(&mut tx, which).await?;
    let t = &revoked.token;
    if revoked.already {
        println!("token {} ({:?}) was already revoked", t.id, t.name);
        return Ok(());
    }
    audit_cli(
        &mut tx,
        "token.revoke",
        &t.name,
        serde_json::json!({ "id": t.id, "scope": t.scope }),
    )
    .await?;
    tx.commit().await?;
    println!("revoked token {} ({:?}, {})", t.id, t.name, t.scope);
    Ok(())
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
    if users::count(pool).await? > 0 {
        return Ok(());
    }
    let from_env = std::env::var("CRONWATCH_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = from_env.clone().unwrap_or_else(random_password);
    let mut tx = pool.begin().await?;
    match users::create(&mut *tx, "admin", password.clone(), Role::SuperAdmin).await {
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
