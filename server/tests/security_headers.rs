//! Security headers: every answer forbids MIME sniffing and framing, and all but the
//! site's files forbid caching; pages carry a Content-Security-Policy whose
//! per-response nonce is on every inline script they hold.

use crate::common::spawn_app;
use sqlx::PgPool;

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is set"))
        .to_str()
        .unwrap()
}

/// The policy's script nonce, and the page's body.
async fn page_nonce(app: &crate::common::TestApp, path: &str) -> (String, String) {
    let resp = app.get_raw(path, None).await;
    assert_eq!(resp.status(), 200, "{path}");
    let csp = header(&resp, "content-security-policy").to_string();
    for directive in [
        "default-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("a nonce in {csp}"))
        .to_string();
    assert!(nonce.len() >= 16, "a nonce of 128 bits: {nonce}");
    assert!(
        !csp.contains("script-src 'self' 'unsafe-inline'"),
        "inline scripts need the nonce: {csp}"
    );
    (nonce, resp.text().await.unwrap())
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_carry_a_nonce_policy_that_covers_their_inline_scripts(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (first, body) = page_nonce(&app, "/login").await;
    let inline: Vec<&str> = body
        .split("<script")
        .skip(1)
        .map(|s| &s[..s.find('>').unwrap()])
        .filter(|attrs| !attrs.contains("src="))
        .collect();
    assert!(!inline.is_empty(), "the hydration script is inline");
    for attrs in inline {
        assert!(
            attrs.contains(&format!("nonce=\"{first}\"")),
            "inline script without this response's nonce: <script{attrs}>"
        );
    }
    let (second, _) = page_nonce(&app, "/").await;
    assert_ne!(first, second, "a new nonce for every response");
    // A page that does not exist is rendered by the same shell.
    let missing = app.get_raw("/no-such-page", None).await;
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("content-security-policy"));
}

#[sqlx::test(migrations = "../migrations")]
async fn every_answer_forbids_sniffing_and_framing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let answers = [
        app.get_raw("/login", None).await,
        app.get_raw("/healthz", None).await,
        // Refused (no token), and accepted.
        app.get_raw("/api/v1/jobs", None).await,
        app.get_raw("/api/v1/jobs", Some(&app.read)).await,
        app.get_raw("/pkg/cronwatch.css", None).await,
    ];
    for resp in &answers {
        assert_eq!(
            header(resp, "x-content-type-options"),
            "nosniff",
            "{}",
            resp.url()
        );
        assert_eq!(header(resp, "x-frame-options"), "DENY", "{}", resp.url());
        assert_eq!(
            header(resp, "referrer-policy"),
            "same-origin",
            "{}",
            resp.url()
        );
    }
    assert_eq!(answers[2].status(), 401);
    assert_eq!(answers[3].status(), 200);
    // Pages and answers are kept by no cache; the site's files may be.
    for resp in &answers[..4] {
        assert_eq!(header(resp, "cache-control"), "no-store", "{}", resp.url());
    }
    assert!(!answers[4].headers().contains_key("cache-control"));
}
