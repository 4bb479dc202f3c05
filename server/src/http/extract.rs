//! Request parsing shared by the handlers: JSON bodies with our error shape, and the
//! API-token check that every API handler starts with.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, Query, Request};
use axum::http::{HeaderMap, Uri};
use serde::de::DeserializeOwned;

use app::db::tokens::TokenIdentity;
use app::error::ApiError;
use app::state::AppState;

/// A raw body (a ping's log), refused in our JSON error shape: over the body limit →
/// 413 (axum's own rejection is plain text).
pub struct BodyBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(BodyBytes)
            .map_err(body_refusal)
    }
}

fn body_refusal(e: BytesRejection) -> ApiError {
    if e.status() != axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::BadRequest(format!("could not read the body: {e}"));
    }
    let (api_kib, ping_kib) = (super::BODY_LIMIT / 1024, super::PING_BODY_LIMIT / 1024);
    ApiError::PayloadTooLarge(format!(
        "the request body is too large: the API takes up to {api_kib} KiB, pings up to {ping_kib} KiB"
    ))
}

/// A JSON body. Accepted whatever the Content-Type (shell scripts often omit it);
/// unparsable → 400, well-formed but wrong shape → 422, over the body limit → 413.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let BodyBytes(bytes) = BodyBytes::from_request(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Query parameters as a handler receives them: parsed, or axum's rejection, so that
/// the handler checks the caller first and only then answers a bad query.
pub type QueryParams<T> = Result<Query<T>, QueryRejection>;

/// The parameters of a [`QueryParams`], or a 400 in our JSON error shape (axum's own
/// rejection is plain text).
pub fn query_params<T>(query: QueryParams<T>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// Parses a JSON body with the error classes described on [`JsonBody`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the body is empty; send a JSON object".into(),
        ));
    }
    let refusal = |e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Data => ApiError::Invalid(format!("invalid body: {e}")),
        _ => ApiError::BadRequest(format!("malformed JSON: {e}")),
    };
    // Every body is an object; serde would also read a struct from an array of its
    // fields in order, a form no caller should come to rely on.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(refusal)?;
        return Err(ApiError::Invalid("the body must be a JSON object".into()));
    }
    serde_json::from_slice(bytes).map_err(refusal)
}

/// Query parameters that look like a secret. Refused anywhere under /api: URLs end up
/// in logs and browser histories.
const SECRET_PARAMS: [&str; 8] = [
    "token",
    "secret",
    "cron_secret",
    "cronsecret",
    "api_key",
    "apikey",
    "access_token",
    "key",
];

/// Refuses a request that carries a secret in its query string.
pub fn refuse_secret_in_query(uri: &Uri) -> Result<(), ApiError> {
    let Some(q) = uri.query() else { return Ok(()) };
    let has_secret = q.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        SECRET_PARAMS.contains(&name.as_str())
    });
    if has_secret {
        return Err(ApiError::BadRequest(
            "secrets are never accepted in the URL: send the token in the \
             `Authorization: Bearer …` or `X-Cron-Secret` header"
                .into(),
        ));
    }
    Ok(())
}

/// The token presented in `Authorization: Bearer` or `X-Cron-Secret`, if any.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    headers.get("x-cron-secret")?.to_str().ok().map(str::trim)
}

/// Verifies the token in the headers. Missing or unknown → 401.
pub async fn authorize_token(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<TokenIdentity, ApiError> {
    let token = presented_token(headers)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "missing token: send `Authorization: Bearer <token>` or `X-Cron-Secret: <token>`"
                    .into(),
            )
        })?;
    state
        .tokens
        .verify(&state.pool, token)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("invalid or revoked token".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_query_are_refused() {
        let refused = |u: &str| refuse_secret_in_query(&u.parse().unwrap()).is_err();
        assert!(refused("/api/v1/jobs?token=abc"));
        assert!(refused("/api/v1/jobs?a=1&X-Cron-Secret=1&cron_secret=2"));
        assert!(refused("/api/v1/jobs?API_KEY=1"));
        assert!(!refused("/api/v1/executions?job=a&status=failed"));
        assert!(!refused("/api/v1/jobs"));
    }

    #[test]
    fn token_from_either_header() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(presented_token(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert("x-cron-secret", "xyz".parse().unwrap());
        assert_eq!(presented_token(&h), Some("xyz"));
        let mut h = HeaderMap::new();
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(presented_token(&h), None);
    }

    #[test]
    fn json_errors_are_classified() {
        #[derive(serde::Deserialize, Debug)]
        struct B {
            #[expect(dead_code, reason = "only deserialised")]
            a: u32,
        }
        assert_eq!(parse_json::<B>(b"{").unwrap_err().status_code(), 400);
        assert_eq!(parse_json::<B>(b"").unwrap_err().status_code(), 400);
        assert_eq!(
            parse_json::<B>(br#"{"a":"x"}"#).unwrap_err().status_code(),
            422
        );
        assert!(parse_json::<B>(br#" {"a":1}"#).is_ok());
        // Well-formed JSON that is not an object is refused, though serde would read
        // `[1]` as `B { a: 1 }`; JSON that is not well-formed is still malformed.
        for other in [&b"[1]"[..], b"1", b"null", b"\"a\""] {
            let e = parse_json::<B>(other).unwrap_err();
            assert_eq!(e.status_code(), 422, "{e}");
        }
        assert_eq!(parse_json::<B>(b"[1").unwrap_err().status_code(), 400);
    }
}
