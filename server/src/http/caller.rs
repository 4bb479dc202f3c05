//! Who is calling: an API token (header) or a signed-in person (session cookie).
//! Every API handler takes a [`Caller`] and starts with `caller.require(scope)?`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tower_sessions::Session;

use app::db::tokens::{Scope, TokenIdentity};
use app::error::ApiError;
use app::model::{Role, SessionUser};
use app::state::AppState;

use super::auth::SESSION_USER;
use super::extract::{authorize_token, presented_token};

/// The authenticated caller, not yet checked against what the endpoint needs.
pub enum Caller {
    Token(TokenIdentity),
    User(SessionUser),
    Anonymous,
}

impl Caller {
    /// The scope a signed-in role acts with: viewers read, admins may do everything.
    fn user_scope(role: Role) -> Scope {
        match role {
            Role::Viewer => Scope::Read,
            Role::Admin | Role::SuperAdmin => Scope::Admin,
        }
    }

    /// Checks that the caller may act with `needed`; answers who it is, for the audit.
    /// Anonymous → 401; known but not allowed → 403. Sessions never ingest.
    pub fn require(&self, needed: Scope) -> Result<String, ApiError> {
        let (scope, who) = match self {
            Caller::Token(t) => (t.scope, format!("token:{}", t.name)),
            Caller::User(u) if matches!(needed, Scope::Ingest | Scope::Agent) => {
                return Err(ApiError::Forbidden(format!("user {} cannot report executions or take runs; use a token", u.username)))
            }
            Caller::User(u) => (Self::user_scope(u.role), format!("user:{}", u.username)),
            Caller::Anonymous => {
                return Err(ApiError::Unauthorized(
                    "missing token: send `Authorization: Bearer <token>` or `X-Cron-Secret: <token>`, or sign in"
                        .into(),
                ))
            }
        };
        if !scope.allows(needed) {
            return Err(ApiError::Forbidden(format!(
                "{who} may not do this (needs {:?})",
                needed.as_str()
            )));
        }
        Ok(who)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if presented_token(&parts.headers).is_some() {
            return authorize_token(state, &parts.headers)
                .await
                .map(Caller::Token);
        }
        let Ok(session) = Session::from_request_parts(parts, state).await else {
            return Ok(Caller::Anonymous);
        };
        let user = session
            .get::<SessionUser>(SESSION_USER)
            .await
            .map_err(|e| ApiError::Internal(format!("session store: {e}")))?;
        Ok(user.map_or(Caller::Anonymous, Caller::User))
    }
}
