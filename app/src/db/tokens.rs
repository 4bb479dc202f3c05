//! API tokens. Only a SHA-256 of the token is stored; the first 16 hex digits of that
//! hash find the row and the whole hash is then compared in constant time. Tokens are
//! 256-bit random values, so a fast hash is the right tool (argon2 is for passwords).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// What a token may do. `admin` may do everything; the others only their own thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Ingest,
    Read,
    Admin,
    /// A `cronwatch agent`: claims command runs and reports them (ingest), nothing
    /// else. Kept apart from ingest so that a cron script's token cannot take runs.
    Agent,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Read => "read",
            Self::Admin => "admin",
            Self::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ingest, Self::Read, Self::Admin, Self::Agent]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed || (self == Scope::Agent && needed == Scope::Ingest)
    }
}

/// A verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenIdentity {
    pub id: i64,
    pub name: String,
    pub scope: Scope,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn prefix_of(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..8])
}

/// A token just made: its id (for `token revoke`) and its plaintext (shown once).
pub struct NewToken {
    pub id: i64,
    pub secret: String,
}

/// Creates a token and returns its plaintext (shown once, never stored).
/// `secret` imports an existing one (e.g. the shell library's `CRON_SECRET`).
pub async fn create(
    db: impl sqlx::PgExecutor<'_>,
    name: &str,
    scope: Scope,
    secret: Option<String>,
) -> Result<String, ApiError> {
    issue(db, name, scope, secret).await.map(|t| t.secret)
}

/// [`create`], answering the new token's id as well.
pub async fn issue(
    db: impl sqlx::PgExecutor<'_>,
    name: &str,
    scope: Scope,
    secret: Option<String>,
) -> Result<NewToken, ApiError> {
    if name.trim().is_empty() || name.len() > 100 {
        return Err(ApiError::Invalid(
            "token name must be 1 to 100 characters".into(),
        ));
    }
    let token = match secret {
        Some(s) if s.len() < 16 => {
            return Err(ApiError::Invalid(
                "an imported secret must be at least 16 characters".into(),
            ))
        }
        Some(s) => s,
        None => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            format!("cw_{}", hex::encode(bytes))
        }
    };
    let hash = digest(&token);
    let id = sqlx::query_scalar!(
        "insert into api_tokens (name, prefix, secret_hash, scope) values ($1, $2, $3, $4)
         returning id",
        name,
        prefix_of(&hash),
        &hash[..],
        scope.as_str()
    )
    .fetch_one(db)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.constraint() == Some("api_tokens_prefix_key") => {
            ApiError::Conflict("this secret is already a token".into())
        }
        other => other.into(),
    })?;
    Ok(NewToken { id, secret: token })
}

/// A token as `cronwatch token list` shows it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every token, oldest first, revoked ones included (they show when they stopped).
pub async fn list(pool: &PgPool) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as!(
        TokenInfo,
        "select id, name, scope, created_at, last_used_at, revoked_at
         from api_tokens order by id"
    )
    .fetch_all(pool)
    .await
}

/// What `revoke` did.
#[derive(Debug)]
pub struct Revoked {
    pub token: TokenInfo,
    /// It had been revoked before; nothing changed.
    pub already: bool,
}

/// Revokes one token, named by its id or by a name that only one live token has (while
/// rotating, the old and the new token share a name: the id says which one goes).
/// Every replica drops its cached verifications at commit (NOTIFY), so the token stops
/// working at once rather than after [`TOKEN_CACHE_TTL`].
/// Runs in the caller's transaction, so that the revocation and its audit record commit
/// together.
pub async fn revoke(tx: &mut PgConnection, which: &str) -> Result<Revoked, ApiError> {
    let by_id = which.parse::<i64>().ok();
    let matches = sqlx::query_as!(
        TokenInfo,
        "select id, name, scope, created_at, last_used_at, revoked_at from api_tokens
         where id = $1 or (name = $2 and revoked_at is null)
         order by id for update",
        by_id,
        which
    )
    .fetch_all(&mut *tx)
    .await?;
    let token = match matches.as_slice() {
        [] => {
            return Err(ApiError::NotFound(format!(
                "no live token is called {which:?}"
            )))
        }
        [one] => one.clone(),
        many => {
            let ids: Vec<String> = many.iter().map(|t| t.id.to_string()).collect();
            return Err(ApiError::Conflict(format!(
                "{} live tokens are called {which:?} (ids {}); revoke one by its id",
                many.len(),
                ids.join(", ")
            )));
        }
    };
    if token.revoked_at.is_some() {
        return Ok(Revoked {
            token,
            already: true,
        });
    }
    let revoked_at = sqlx::query_scalar!(
        "update api_tokens set revoked_at = now() where id = $1 returning revoked_at as \"r!\"",
        token.id
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "select pg_notify($1, $2)",
        TOKENS_CHANNEL,
        token.id.to_string()
    )
    .execute(&mut *tx)
    .await?;
    Ok(Revoked {
        token: TokenInfo {
            revoked_at: Some(revoked_at),
            ..token
        },
        already: false,
    })
}

/// The NOTIFY channel on which revocations are announced to every replica.
pub const TOKENS_CHANNEL: &str = "cronwatch_tokens";

/// Deletes every token called `name` (a service replacing its own token).
pub async fn delete_named(pool: &PgPool, name: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!("delete from api_tokens where name = $1", name)
        .execute(pool)
        .await?
        .rows_affected())
}

/// The identity of `presented`, or `None` if it matches no live token.
pub async fn verify(pool: &PgPool, presented: &str) -> Result<Option<TokenIdentity>, sqlx::Error> {
    verify_hash(pool, &digest(presented)).await
}

async fn verify_hash(pool: &PgPool, hash: &[u8; 32]) -> Result<Option<TokenIdentity>, sqlx::Error> {
    let row = sqlx::query!(
        "select id, name, secret_hash, scope from api_tokens
         where prefix = $1 and revoked_at is null",
        prefix_of(hash)
    )
    .fetch_optional(pool)
    .await?;
    let identity = row.and_then(|r| {
        let same: bool = r.secret_hash.as_slice().ct_eq(&hash[..]).into();
        let scope = Scope::parse(&r.scope)?;
        same.then_some(TokenIdentity {
            id: r.id,
            name: r.name,
            scope,
        })
    });
    if let Some(identity) = &identity {
        // For rotation: shows whether an old token is still in use. Written at most
        // once a minute per token (and only on cache misses), so it costs the hot path
        // nothing.
        sqlx::query!(
            "update api_tokens set last_used_at = now() where id = $1
             and (last_used_at is null or last_used_at < now() - interval '1 minute')",
            identity.id
        )
        .execute(pool)
        .await?;
    }
    Ok(identity)
}

/// How long a verified token is trusted without asking the database again; also how
/// long a revoked token may keep working on a replica that had just seen it.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);

/// Recently verified tokens, keyed by their SHA-256, so that a busy ingest path does
/// not look every request's token up. Failed lookups are never cached.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], (TokenIdentity, Instant)>>,
}

impl TokenCache {
    /// Whether no verification is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.lock().map_or(true, |m| m.is_empty())
    }

    /// Forgets every verification, so the next request of each token asks the
    /// database (after a revocation, or when revocations may have been missed).
    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }

    pub async fn verify(
        &self,
        pool: &PgPool,
        presented: &str,
    ) -> Result<Option<TokenIdentity>, sqlx::Error> {
        let hash = digest(presented);
        if let Some((identity, at)) = self.entries.lock().ok().and_then(|m| m.get(&hash).cloned()) {
            if at.elapsed() < TOKEN_CACHE_TTL {
                return Ok(Some(identity));
            }
        }
        let found = verify_hash(pool, &hash).await?;
        if let (Some(identity), Ok(mut map)) = (&found, self.entries.lock()) {
            if map.len() >= 10_000 {
                map.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
            }
            map.insert(hash, (identity.clone(), Instant::now()));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_everything_others_only_themselves() {
        assert!(Scope::Admin.allows(Scope::Ingest));
        assert!(Scope::Admin.allows(Scope::Read));
        assert!(Scope::Read.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Ingest));
        assert!(!Scope::Ingest.allows(Scope::Read));
        assert!(!Scope::Ingest.allows(Scope::Admin));
        // An agent reports what it runs; only it (or an admin) takes runs.
        assert!(Scope::Agent.allows(Scope::Ingest));
        assert!(!Scope::Agent.allows(Scope::Read));
        assert!(!Scope::Ingest.allows(Scope::Agent));
        assert!(Scope::Admin.allows(Scope::Agent));
    }

    #[test]
    fn prefix_is_derived_from_the_hash() {
        let h = digest("cw_x");
        assert_eq!(prefix_of(&h).len(), 16);
        assert_ne!(prefix_of(&digest("cw_y")), prefix_of(&h));
    }
}
