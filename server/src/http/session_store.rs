//! tower-sessions' store over our own `sessions` table.
//!
//! Why not tower-sessions-sqlx-store: it turns on sqlx's `time` feature, and with both
//! `time` and `chrono` enabled sqlx's compile-checked macros map `timestamptz` to
//! `time` types everywhere in the workspace. This store is the few plain queries
//! that crate would run, with runtime (unchecked) SQL so no macro is involved.

use async_trait::async_trait;
use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// The row of a record: id, JSON data, expiry as Unix seconds.
fn row_of(record: &Record) -> session_store::Result<(String, Vec<u8>, f64)> {
    let data =
        serde_json::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok((
        record.id.to_string(),
        data,
        record.expiry_date.unix_timestamp() as f64,
    ))
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A new id until one is free (a collision of 128 random bits is theoretical).
        loop {
            let (id, data, expiry) = row_of(record)?;
            let inserted = sqlx::query(
                "insert into sessions (id, data, expiry_date) values ($1, $2, to_timestamp($3))
                 on conflict (id) do nothing",
            )
            .bind(id)
            .bind(data)
            .bind(expiry)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (id, data, expiry) = row_of(record)?;
        sqlx::query(
            "insert into sessions (id, data, expiry_date) values ($1, $2, to_timestamp($3))
             on conflict (id) do update set data = excluded.data, expiry_date = excluded.expiry_date",
        )
        .bind(id)
            .bind(data)
            .bind(expiry)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<Vec<u8>> =
            sqlx::query_scalar("select data from sessions where id = $1 and expiry_date > now()")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        data.map(|d| {
            serde_json::from_slice(&d).map_err(|e| session_store::Error::Decode(e.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("delete from sessions where id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
