//! `cronwatch user add` and `cronwatch token create`.

use std::io::Read;

use rand::distributions::{Alphanumeric, DistString};

use app::db::tokens::{self, Scope};
use app::db::users::{self, Role};

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

pub async fn user_add(
    pool: &sqlx::PgPool,
    name: &str,
    role: RoleArg,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let (password, generated) = if password_stdin {
        (read_stdin()?, false)
    } else {
        (random_password(), true)
    };
    users::create(pool, name, password.clone(), role_of(role)).await?;
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
    let token = tokens::create(pool, name, scope_of(scope), secret).await?;
    println!(
        "created {} token {name:?}; it is shown once, on the next line:",
        scope_of(scope).as_str()
    );
    println!("{token}");
    Ok(())
}

/// On first start (no users), creates `admin` as super_admin with
/// `CRONWATCH_ADMIN_PASSWORD` or a random password printed once.
pub async fn bootstrap_admin(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    if users::count(pool).await? > 0 {
        return Ok(());
    }
    let from_env = std::env::var("CRONWATCH_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = from_env.clone().unwrap_or_else(random_password);
    users::create(pool, "admin", password.clone(), Role::SuperAdmin).await?;
    if from_env.is_some() {
        println!("created super_admin `admin` with the password from CRONWATCH_ADMIN_PASSWORD");
    } else {
        println!("created super_admin `admin`; its password is shown once: {password}");
    }
    Ok(())
}
