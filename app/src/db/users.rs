//! Users and their argon2id password hashes. Hashing runs on the blocking pool: it
//! takes tens of milliseconds by design and must not stall the async runtime.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::error::ApiError;
pub use crate::model::Role;
use crate::model::SessionUser;
use crate::validate::is_valid_name;

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

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < 8 {
        return Err(ApiError::Invalid(
            "password must have at least 8 characters".into(),
        ));
    }
    Ok(())
}

/// Creates a user. Names follow the job-name rule; passwords need 8+ characters.
pub async fn create(
    db: impl sqlx::PgExecutor<'_>,
    username: &str,
    password: String,
    role: Role,
) -> Result<(), ApiError> {
    if !is_valid_name(username) {
        return Err(ApiError::Invalid(
            "user name: 1 to 64 of a-z, 0-9 and '-'".into(),
        ));
    }
    check_password(&password)?;
    let hash = hash_password(password).await?;
    sqlx::query!(
        "insert into users (username, password_hash, role) values ($1, $2, $3)",
        username,
        hash.0,
        role.as_str()
    )
    .execute(db)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.constraint() == Some("users_username_key") => {
            ApiError::Conflict(format!("user {username:?} already exists"))
        }
        other => other.into(),
    })?;
    Ok(())
}

/// Gives `username` a new password and ends every session they have, so a leaked or
/// forgotten password stops working everywhere at once. Answers how many sessions ended.
/// Runs in the caller's transaction, so that the change and its audit record commit
/// together.
pub async fn set_password(
    tx: &mut PgConnection,
    username: &str,
    password: String,
) -> Result<u64, ApiError> {
    if !is_valid_name(username) {
        return Err(no_such_user(username));
    }
    check_password(&password)?;
    let hash = hash_password(password).await?;
    let id = sqlx::query_scalar!(
        "update users set password_hash = $2 where username = $1 returning id",
        username,
        hash.0
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| no_such_user(username))?;
    end_sessions(tx, id).await
}

/// The answer for a name that names no user.
fn no_such_user(username: &str) -> ApiError {
    ApiError::NotFound(format!("no user is called {username:?}"))
}

/// Ends every session of user `id` (sign-out everywhere); answers how many ended.
async fn end_sessions(tx: &mut PgConnection, id: i64) -> Result<u64, ApiError> {
    // Sessions are tower-sessions records as JSON; the signed-in user sits under
    // data.<SESSION_USER> as a `SessionUser`.
    let ended = sqlx::query!(
        "delete from sessions
         where convert_from(data, 'UTF8')::jsonb -> 'data' -> $2::text ->> 'id' = $1::bigint::text",
        id,
        crate::model::SESSION_USER
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(ended)
}

/// A user as `cronwatch user list` shows them.
pub struct UserInfo {
    pub username: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    /// Sessions signed in now (not expired).
    pub sessions: i64,
}

/// Every user, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<UserInfo>, sqlx::Error> {
    sqlx::query_as!(
        UserInfo,
        "select u.username, u.role, u.created_at,
                (select count(*) from sessions s
                  where s.expiry_date > now()
                    and convert_from(s.data, 'UTF8')::jsonb -> 'data' -> $1::text ->> 'id' = u.id::text)
                  as \"sessions!\"
         from users u order by u.username",
        crate::model::SESSION_USER
    )
    .fetch_all(pool)
    .await
}

/// The user called `username`, locked for the change the caller's transaction makes,
/// with their current role. Refuses (409) a change that would leave no super_admin
/// when `keeps_super_admin` is false: someone must be able to administer cronwatch.
async fn lock_for_change(
    tx: &mut PgConnection,
    username: &str,
    keeps_super_admin: bool,
) -> Result<(i64, Role), ApiError> {
    if !is_valid_name(username) {
        return Err(no_such_user(username));
    }
    // Every super_admin row is locked too, so two demotions at once cannot each see
    // the other as the one that remains.
    let admins = sqlx::query_scalar!(
        "select username from users where role = 'super_admin' order by id for update"
    )
    .fetch_all(&mut *tx)
    .await?;
    let row = sqlx::query!(
        "select id, role from users where username = $1 for update",
        username
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| no_such_user(username))?;
    let role = Role::parse(&row.role).unwrap_or(Role::Viewer);
    if role == Role::SuperAdmin && !keeps_super_admin && admins.len() <= 1 {
        return Err(ApiError::Conflict(format!(
            "{username} is the only super_admin: make another user super_admin first"
        )));
    }
    Ok((row.id, role))
}

/// Gives `username` a new role and ends their sessions (each held the old role).
/// Answers the previous role and how many sessions ended; the same role changes nothing.
pub async fn set_role(
    tx: &mut PgConnection,
    username: &str,
    role: Role,
) -> Result<(Role, u64), ApiError> {
    let (id, old) = lock_for_change(tx, username, role == Role::SuperAdmin).await?;
    if old == role {
        return Ok((old, 0));
    }
    sqlx::query!(
        "update users set role = $2 where id = $1",
        id,
        role.as_str()
    )
    .execute(&mut *tx)
    .await?;
    Ok((old, end_sessions(tx, id).await?))
}

/// Removes `username` and ends their sessions; answers how many. Audit records keep
/// the name (they name people as text, not by reference).
pub async fn remove(tx: &mut PgConnection, username: &str) -> Result<u64, ApiError> {
    let (id, _) = lock_for_change(tx, username, false).await?;
    sqlx::query!("delete from users where id = $1", id)
        .execute(&mut *tx)
        .await?;
    end_sessions(tx, id).await
}

pub async fn count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!("select count(*) as \"n!\" from users")
        .fetch_one(pool)
        .await
}

/// A hash of a password nobody has, checked when the user does not exist so that a
/// wrong user name takes as long as a wrong password (no user enumeration by timing).
static DUMMY_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

async fn dummy_hash() -> String {
    DUMMY_HASH
        .get_or_init(|| async {
            let unguessable = uuid::Uuid::new_v4().to_string();
            hash_password(unguessable)
                .await
                .map(|h| h.0)
                .unwrap_or_default()
        })
        .await
        .clone()
}

/// The user `username` if `password` is theirs.
pub async fn authenticate(
    pool: &PgPool,
    username: &str,
    password: String,
) -> Result<Option<SessionUser>, sqlx::Error> {
    // A name no user can have (e.g. with a NUL, which PostgreSQL refuses) is simply
    // unknown: same answer, same time.
    let row = if is_valid_name(username) {
        sqlx::query!(
            "select id, username, password_hash, role from users where username = $1",
            username
        )
        .fetch_optional(pool)
        .await?
    } else {
        None
    };
    let stored = match &row {
        Some(r) => r.password_hash.clone(),
        None => dummy_hash().await,
    };
    let ok = verify_password(password, stored).await;
    Ok(row.filter(|_| ok).and_then(|r| {
        Some(SessionUser {
            id: r.id,
            username: r.username,
            role: Role::parse(&r.role)?,
        })
    }))
}
