//! The one error type of the API. Each case is something a caller can act on; it maps
//! to an HTTP status and the JSON body `{"error":{"code","message"}}` in one place.

use crate::model::{ErrorBody, ErrorDetail};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: unparsable JSON, wrong types, a secret in the query string.
    #[error("{0}")]
    BadRequest(String),
    /// No credential, or one that matches nothing.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid credential whose scope or role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method (the answer keeps `Allow`).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request contradicts the current state (e.g. completing a finished run differently).
    #[error("{0}")]
    Conflict(String),
    /// A run of the job is going on: the answer names it (`execution_id`), so that a
    /// script can follow it instead of starting another.
    #[error("{message}")]
    AlreadyRunning {
        message: String,
        execution_id: uuid::Uuid,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Well-formed but invalid values (bad job name, bad cron expression, …).
    #[error("{0}")]
    Invalid(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The database cannot be reached (down, restarting, or every connection busy
    /// for too long). Nothing was written; the same request may be sent again. The
    /// text is logged, never sent to the client.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else. The text is logged, never sent to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client is asked to wait (`Retry-After`) before repeating a request that
/// met an unavailable database.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

impl ApiError {
    pub fn status_code(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::Conflict(_) | Self::AlreadyRunning { .. } => 409,
            Self::PayloadTooLarge(_) => 413,
            Self::Invalid(_) => 422,
            Self::RateLimited { .. } => 429,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) | Self::AlreadyRunning { .. } => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Invalid(_) => "invalid",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The body sent to the client; internal details are replaced by a generic text.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Self::Internal(_) => "internal server error".to_string(),
            Self::Unavailable(_) => format!(
                "the database is unavailable; nothing was changed: try again in {UNAVAILABLE_RETRY_AFTER_SECS} s"
            ),
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
                #[cfg(feature = "ssr")]
                execution_id: match self {
                    Self::AlreadyRunning { execution_id, .. } => Some(*execution_id),
                    _ => None,
                },
            },
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::ApiError;
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};

    impl From<sqlx::Error> for ApiError {
        fn from(e: sqlx::Error) -> Self {
            if is_unavailable(&e) {
                ApiError::Unavailable(e.to_string())
            } else {
                ApiError::Internal(e.to_string())
            }
        }
    }

    /// Whether `e` says the database cannot be reached now rather than that the
    /// request went wrong: no connection within the pool's timeout, a dropped
    /// connection, or PostgreSQL refusing or ending sessions (shutdown, restart,
    /// recovery, too many connections).
    fn is_unavailable(e: &sqlx::Error) -> bool {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // Class 08: connection exception; 57P01–57P03: admin shutdown, crash
                // shutdown, cannot connect now; 53300: too many connections.
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
            }),
            _ => false,
        }
    }

    impl ApiError {
        /// Logs what the client is not told: an internal error's detail as an error,
        /// an unavailable database's as a warning. Refusals are the caller's business.
        pub fn log_server_side(&self) {
            match self {
                ApiError::Internal(detail) => tracing::error!(%detail, "request failed"),
                ApiError::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
                _ => {}
            }
        }
    }

    impl IntoResponse for ApiError {
        fn into_response(self) -> Response {
            self.log_server_side();
            let status = StatusCode::from_u16(self.status_code())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (status, axum::Json(self.body())).into_response();
            let retry_after = match &self {
                ApiError::RateLimited {
                    retry_after_secs, ..
                } => Some(*retry_after_secs),
                ApiError::Unavailable(_) => Some(super::UNAVAILABLE_RETRY_AFTER_SECS),
                _ => None,
            };
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
    }
}
