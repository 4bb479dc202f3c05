//! `cronwatch token create|list|revoke`.

use app::db::tokens::{self, TokenInfo};

use super::{audit_cli, read_stdin, scope_of, table, when};
use crate::cli::ScopeArg;

pub async fn create(
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

pub async fn list(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    print!("{}", token_table(&tokens::list(pool).await?));
    Ok(())
}

/// The `token list` table: one line per token.
fn token_table(list: &[TokenInfo]) -> String {
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
    table(
        ["ID", "NAME", "SCOPE", "CREATED", "LAST USED", "STATUS"],
        &rows,
    )
}

pub async fn revoke(pool: &sqlx::PgPool, which: &str) -> anyhow::Result<()> {
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
