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
    /// The request contradicts the current state (e.g. completing a finished run differently).
    #[error("{0}")]
    Conflict(String),
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
    /// Anything else. The text is logged, never sent to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status_code(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::PayloadTooLarge(_) => 413,
            Self::Invalid(_) => 422,
            Self::RateLimited { .. } => 429,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Invalid(_) => "invalid",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal",
        }
    }

    /// The body sent to the client; internal details are replaced by a generic text.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Self::Internal(_) => "internal server error".to_string(),
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
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
            ApiError::Internal(e.to_string())
        }
    }

    impl IntoResponse for ApiError {
        fn into_response(self) -> Response {
            if let ApiError::Internal(detail) = &self {
                tracing::error!(%detail, "request failed");
            }
            let status = StatusCode::from_u16(self.status_code())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (status, axum::Json(self.body())).into_response();
            if let ApiError::RateLimited {
                retry_after_secs, ..
            } = &self
            {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            resp
        }
    }
}
