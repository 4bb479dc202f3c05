//! Opening the database for any command: the given URL, or the private PostgreSQL.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool};

use crate::cli::DbArgs;
use crate::embedded_pg::EmbeddedPostgres;

/// An open pool, and the private cluster behind it if we started one.
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects (starting the private cluster when no URL is set) and migrates.
    pub async fn open(args: &DbArgs, max_connections: u32) -> anyhow::Result<Self> {
        let (options, embedded) = match args.database_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => (PgConnectOptions::from_str(url)?, None),
            None => {
                let pg = EmbeddedPostgres::start(&args.data_dir).await?;
                (pg.connect_options(), Some(pg))
            }
        };
        // One connection first, for its own error: the pool would retry until its
        // timeout and then only say that it timed out.
        PgConnection::connect_with(&options)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect to the database {}@{}:{}/{}: {e}",
                    options.get_username(),
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or("")
                )
            })?
            .close()
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        app::db::migrate(&pool).await?;
        Ok(Self { pool, embedded })
    }

    /// Closes the pool and stops the private cluster if we started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(pg) = self.embedded {
            if let Err(e) = pg.stop() {
                tracing::warn!(error = %e, "could not stop the private PostgreSQL");
            }
        }
    }
}
