//! The URL the `http` demo jobs call: `POST /demo/jobs/{name}` on the demo server
//! itself. It takes a few seconds, like the job it stands for, then answers as that job
//! would: 200 with its output, or now and then 500 with an error. It checks the secret
//! that cronwatch sends, as a real cron endpoint does; the secret is made at each start
//! and only lives in this process's memory (`CRONWATCH_SECRET_DEMO` for the jobs).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use rand::Rng;
use serde_json::json;
use subtle::ConstantTimeEq;

use app::error::ApiError;
use app::http_call::DEFAULT_SECRET_HEADER;

use super::outcome::{ending, shown};
use super::JOBS;

/// The variable name the demo jobs give for their secret.
pub const SECRET_ENV: &str = "CRONWATCH_SECRET_DEMO";

/// The URL demo job `name` calls on the server at `base`.
pub fn url(base: &str, name: &str) -> String {
    format!("{base}/demo/jobs/{name}")
}

/// The demo endpoint and the secret it expects.
#[derive(Clone)]
pub struct DemoEndpoint {
    secret: Arc<str>,
}

impl DemoEndpoint {
    /// An endpoint with a new random secret.
    pub fn new() -> Self {
        let bytes: [u8; 24] = rand::thread_rng().gen();
        Self {
            secret: hex::encode(bytes).into(),
        }
    }

    /// The secret as the server's job secrets hold it (name, value).
    pub fn secret_pair(&self) -> (String, String) {
        (SECRET_ENV.to_string(), self.secret.to_string())
    }

    /// The route, to merge into the server's router.
    pub fn router(self) -> Router {
        Router::new()
            .route("/demo/jobs/{name}", post(run_job))
            .with_state(self)
    }
}

impl Default for DemoEndpoint {
    fn default() -> Self {
        Self::new()
    }
}

async fn run_job(
    State(endpoint): State<DemoEndpoint>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let given = headers
        .get(DEFAULT_SECRET_HEADER)
        .map_or(&[][..], |v| v.as_bytes());
    if !bool::from(given.ct_eq(endpoint.secret.as_bytes())) {
        return Err(ApiError::Unauthorized(format!(
            "the demo jobs' secret is expected in {DEFAULT_SECRET_HEADER}"
        )));
    }
    let job = JOBS
        .iter()
        .find(|j| j.name == name && !j.reported)
        .ok_or_else(|| ApiError::NotFound(format!("no demo job {name:?} is called here")))?;
    let end = {
        let mut rng = rand::thread_rng();
        ending(job, rng.gen(), rng.gen(), Utc::now())
    };
    tokio::time::sleep(shown(&end)).await;
    Ok(if end.status == "completed" {
        Json(end.output).into_response()
    } else {
        let error = end.error.unwrap_or_default();
        let body = json!({ "error": error, "result": end.output });
        (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    })
}
