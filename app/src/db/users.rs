//! Users and their argon2id password hashes. Hashing runs on the blocking pool: it
//! takes tens of milliseconds by design and must not stall the async runtime.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use sqlx::PgPool;

use crate::error::ApiError;
use crate::validate::is_valid_name;

/// A role, from least to most powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Admin,
    SuperAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Admin => "admin",
            Self::SuperAdmin => "super_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Viewer, Self::Admin, Self::SuperAdmin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A password hash. Deliberately not `Serialize`: it never leaves the server.
pub struct PasswordHashString(String);

/// Hashes `password` with argon2id on the blocking pool.
pub async fn hash_password(password: String) -> Result<PasswordHashString, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHashString(h.to_string()))
            .map_err(|e| ApiError::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Checks `password` against a stored hash on the blocking pool.
pub async fn verify_password(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Creates a user. Names follow the job-name rule; passwords need 8+ characters.
pub async fn create(
    pool: &PgPool,
    username: &str,
    password: String,
    role: Role,
) -> Result<(), ApiError> {
    if !is_valid_name(username) {
        return Err(ApiError::Invalid(
            "user name: 1 to 64 of a-z, 0-9 and '-'".into(),
        ));
    }
    if password.chars().count() < 8 {
        return Err(ApiError::Invalid(
            "password must have at least 8 characters".into(),
        ));
    }
    let hash = hash_password(password).await?;
    sqlx::query!(
        "insert into users (username, password_hash, role) values ($1, $2, $3)",
        username,
        hash.0,
        role.as_str()
    )
    .execute(pool)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.constraint() == Some("users_username_key") => {
            ApiError::Conflict(format!("user {username:?} already exists"))
        }
        other => other.into(),
    })?;
    Ok(())
}

pub async fn count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!("select count(*) as \"n!\" from users")
        .fetch_one(pool)
        .await
}
