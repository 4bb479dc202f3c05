//! The pages' Content-Security-Policy. Scripts run only from our origin or inline with
//! this response's nonce (leptos_axum makes one per render and puts it on its hydration
//! and streaming scripts), so markup injected past our escaping could not run a script;
//! pages connect only to our origin, and no other site may frame them (clickjacking).

use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::http::HeaderValue;
use leptos::prelude::use_context;

/// The policy for a page rendered with `nonce`. `wasm-unsafe-eval` lets the browser
/// compile our WASM; styles may be inline because echarts styles its tooltips so.
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the policy on the response being rendered (call it from the shell).
pub fn set_on_response() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    // The nonce is URL-safe base64: always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&policy(&nonce)) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}
