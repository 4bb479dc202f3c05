//! `cronwatch jobs ping-key`.

use app::db::jobs;

use super::audit_cli;

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
