//! Request parsing shared by the handlers: JSON bodies with our error shape, and the
//! API-token check that every API handler starts with.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, Query, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, Uri};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use app::db::output_caps::{cap_tail, LOG_TAIL_CAP_BYTES};
use app::db::tokens::TokenIdentity;
use app::error::ApiError;
use app::state::AppState;

/// A raw request body, refused in our JSON error shape: over the body limit → 413
/// (axum's own rejection is plain text).
struct BodyBytes(Bytes);

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
    too_large()
}

fn too_large() -> ApiError {
    let api_kib = super::BODY_LIMIT / 1024;
    let (complete_mib, ping_mib) = (
        super::COMPLETE_BODY_LIMIT >> 20,
        super::PING_BODY_LIMIT >> 20,
    );
    ApiError::PayloadTooLarge(format!(
        "the request body is too large: the API takes up to {api_kib} KiB, completions up to \
         {complete_mib} MiB and pings up to {ping_mib} MiB"
    ))
}

/// A ping's body: the end of the log it carries, at most [`LOG_TAIL_CAP_BYTES`] (all
/// a run keeps), or `None` when empty. The body is read through, never held whole;
/// above [`super::PING_BODY_LIMIT`] → 413.
pub struct PingLog(pub Option<String>);

impl<S: Send + Sync> FromRequest<S> for PingLog {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        // A few bytes over the cap, as the cut may fall inside a character.
        const KEEP: usize = LOG_TAIL_CAP_BYTES + 4;
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|n| n > super::PING_BODY_LIMIT) {
            return Err(too_large());
        }
        let mut body = req.into_body().into_data_stream();
        let (mut kept, mut total) = (Vec::new(), 0usize);
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
            total += chunk.len();
            if total > super::PING_BODY_LIMIT {
                return Err(too_large());
            }
            kept.extend_from_slice(&chunk);
            if kept.len() > 2 * KEEP {
                kept.drain(..kept.len() - KEEP);
            }
        }
        let end = &kept[kept.len().saturating_sub(KEEP)..];
        let log = String::from_utf8_lossy(end).into_owned();
        Ok(PingLog(
            (!log.is_empty()).then(|| cap_tail(log, LOG_TAIL_CAP_BYTES)),
        ))
    }
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

/// A JSON body that may be left out (an empty body is `T::default()`), read whole but
/// parsed by the handler ([`OptionalJson::parse`]) once it has checked the caller: a
/// stranger learns nothing from how a body is refused. Errors as [`JsonBody`].
pub struct OptionalJson(Bytes);

impl<S: Send + Sync> FromRequest<S> for OptionalJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let BodyBytes(bytes) = BodyBytes::from_request(req, state).await?;
        Ok(OptionalJson(bytes))
    }
}

impl OptionalJson {
    pub fn parse<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        parse_json(&self.0)
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

/// A page cursor that is a positive row id (the last one of the previous page).
pub fn id_cursor(cursor: Option<String>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            c.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| ApiError::BadRequest(format!("invalid cursor {c:?}")))
        })
        .transpose()
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

    async fn ping_log(
        body: axum::body::Body,
        declared: Option<usize>,
    ) -> Result<PingLog, ApiError> {
        let mut req = Request::new(body);
        if let Some(n) = declared {
            req.headers_mut().insert(CONTENT_LENGTH, n.into());
        }
        PingLog::from_request(req, &()).await
    }

    #[tokio::test]
    async fn ping_logs_keep_their_end_and_stop_runaway_uploads() {
        use axum::body::Body;
        let status = |r: Result<PingLog, ApiError>| r.err().map(|e| e.status_code());
        assert_eq!(ping_log(Body::empty(), None).await.unwrap().0, None);
        // Streamed in chunks, with no length declared: only the end is held.
        let chunks = (0..100).map(|i| Ok::<_, std::io::Error>(format!("{i:03}é").repeat(4000)));
        let log = ping_log(Body::from_stream(futures::stream::iter(chunks)), None)
            .await
            .unwrap()
            .0
            .unwrap();
        assert!(log.len() <= LOG_TAIL_CAP_BYTES && log.len() > LOG_TAIL_CAP_BYTES - 8);
        assert!(log.ends_with("099é") && !log.contains("098"));
        // Over the limit: refused whether declared up front or found while reading.
        let limit = super::super::PING_BODY_LIMIT;
        assert_eq!(
            status(ping_log(Body::empty(), Some(limit + 1)).await),
            Some(413)
        );
        let chunks = (0..=limit >> 16).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1 << 16]));
        let streamed = Body::from_stream(futures::stream::iter(chunks));
        assert_eq!(status(ping_log(streamed, None).await), Some(413));
        let exact = Body::from(vec![b'y'; limit]);
        assert_eq!(
            ping_log(exact, Some(limit)).await.unwrap().0.unwrap().len(),
            LOG_TAIL_CAP_BYTES
        );
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
