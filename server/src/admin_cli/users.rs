//! `cronwatch user add|list|passwd|role|remove`. Every change that alters what a person
//! may do (password, role, removal) also ends their sessions.

use app::db::users;

use super::{audit_cli, new_password, role_of, table, when};
use crate::cli::RoleArg;

pub async fn passwd(pool: &sqlx::PgPool, name: &str, password_stdin: bool) -> anyhow::Result<()> {
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

pub async fn add(
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

pub async fn list(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let rows: Vec<[String; 4]> = users::list(pool)
        .await?
        .into_iter()
        .map(|u| {
            [
                u.username,
                u.role,
                when(Some(u.created_at)),
                u.sessions.to_string(),
            ]
        })
        .collect();
    print!("{}", table(["NAME", "ROLE", "CREATED", "SESSIONS"], &rows));
    Ok(())
}

pub async fn set_role(pool: &sqlx::PgPool, name: &str, role: RoleArg) -> anyhow::Result<()> {
    let role = role_of(role);
    let mut tx = pool.begin().await?;
    let (old, ended) = users::set_role(&mut tx, name, role).await?;
    if old == role {
        println!("{name} is already {}", role.as_str());
        return Ok(());
    }
    audit_cli(
        &mut tx,
        "user.role",
        name,
        serde_json::json!({ "from": old.as_str(), "to": role.as_str(), "sessions_ended": ended }),
    )
    .await?;
    tx.commit().await?;
    println!(
        "{name} is now {} (was {}); {ended} session(s) signed out",
        role.as_str(),
        old.as_str()
    );
    Ok(())
}

pub async fn remove(pool: &sqlx::PgPool, name: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let ended = users::remove(&mut tx, name).await?;
    audit_cli(
        &mut tx,
        "user.remove",
        name,
        serde_json::json!({ "sessions_ended": ended }),
    )
    .await?;
    tx.commit().await?;
    println!("removed user {name}; {ended} session(s) signed out");
    Ok(())
}
