//! `cronwatch user list|role|remove`: changes take effect at once (the user's sessions
//! end), are audited, and never leave cronwatch without a super_admin.

use crate::common;

use common::{cli, spawn_app, url_of};
use sqlx::PgPool;

async fn add(url: &str, name: &str, role: &str) {
    let password = format!("password-of-{name}\n");
    let (ok, _, err) = cli::run(
        url,
        &["user", "add", name, "--role", role, "--password-stdin"],
        Some(&password),
    )
    .await;
    assert!(ok, "{err}");
}

/// A session cookie of `name` (password `password-of-NAME`), if the sign-in succeeds.
async fn session_of(app: &common::TestApp, name: &str) -> Option<String> {
    let resp = app.sign_in(name, &format!("password-of-{name}")).await;
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    if location.starts_with("/login") {
        return None;
    }
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| v.to_str().ok()?.strip_prefix("cronwatch_session="))
        .map(|v| format!("cronwatch_session={}", v.split(';').next().unwrap()))
}

/// PUT /api/v1/jobs/NAME as the person behind `cookie`: 201/200 for admins, 403 for
/// viewers, 401 once the session is gone.
async fn put_job(app: &common::TestApp, cookie: &str, job: &str) -> u16 {
    app.client
        .put(app.url(&format!("/api/v1/jobs/{job}")))
        .header("cookie", cookie)
        .header("origin", &app.base)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn role_of(pool: &PgPool, name: &str) -> Option<String> {
    sqlx::query_scalar("select role from users where username = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// `(action, target, details)` of the audit records made from the command line.
async fn cli_audit(pool: &PgPool) -> Vec<(String, String, serde_json::Value)> {
    sqlx::query_as(
        "select action, target, details from audit_events where actor like 'cli:%' order by id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn users_are_listed_with_their_role_and_open_sessions(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let url = url_of(&pool);
    add(&url, "vera", "viewer").await;
    add(&url, "ada", "admin").await;
    session_of(&app, "vera").await.unwrap();
    session_of(&app, "vera").await.unwrap();
    let (ok, out, err) = cli::run(&url, &["user", "list"], None).await;
    assert!(ok, "{err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["NAME", "ROLE", "CREATED", "SESSIONS"]);
    assert_eq!(lines[1][..2], ["ada", "admin"]);
    assert_eq!(lines[1].last(), Some(&"0"));
    assert_eq!(lines[2][..2], ["vera", "viewer"]);
    assert_eq!(lines[2].last(), Some(&"2"), "two sign-ins, two sessions");
    assert!(!out.contains("argon2"), "never a hash");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_role_applies_at_once_and_signs_the_user_out(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let url = url_of(&pool);
    add(&url, "vera", "viewer").await;
    let before = session_of(&app, "vera").await.unwrap();
    assert_eq!(put_job(&app, &before, "nightly").await, 403);

    let (ok, out, err) = cli::run(&url, &["user", "role", "vera", "admin"], None).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("vera is now admin (was viewer); 1 session(s) signed out"),
        "{out}"
    );
    // Her open session held "viewer": it is gone rather than left with the old role.
    assert_eq!(put_job(&app, &before, "nightly").await, 401);
    let after = session_of(&app, "vera").await.unwrap();
    assert_eq!(put_job(&app, &after, "nightly").await, 201);

    // The same role again changes nothing and records nothing.
    let (ok, out, _) = cli::run(&url, &["user", "role", "vera", "admin"], None).await;
    assert!(ok);
    assert!(out.contains("already admin"), "{out}");
    assert_eq!(
        put_job(&app, &after, "nightly").await,
        200,
        "still signed in"
    );
    let audit = cli_audit(&pool).await;
    let roles: Vec<_> = audit.iter().filter(|a| a.0 == "user.role").collect();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].1, "vera");
    assert_eq!(roles[0].2["from"], "viewer");
    assert_eq!(roles[0].2["to"], "admin");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_last_super_admin_is_neither_demoted_nor_removed(pool: PgPool) {
    let url = url_of(&pool);
    add(&url, "root", "super_admin").await;
    let audited = cli_audit(&pool).await.len();
    for args in [
        &["user", "role", "root", "admin"][..],
        &["user", "remove", "root"][..],
    ] {
        let (ok, _, err) = cli::run(&url, args, None).await;
        assert!(!ok, "{args:?}");
        assert!(err.contains("only super_admin"), "{err}");
    }
    assert_eq!(role_of(&pool, "root").await.as_deref(), Some("super_admin"));
    assert_eq!(cli_audit(&pool).await.len(), audited, "nothing recorded");

    // With a second one, either may go.
    add(&url, "sam", "super_admin").await;
    let (ok, _, err) = cli::run(&url, &["user", "role", "root", "viewer"], None).await;
    assert!(ok, "{err}");
    assert_eq!(role_of(&pool, "root").await.as_deref(), Some("viewer"));
    let (ok, _, err) = cli::run(&url, &["user", "remove", "sam"], None).await;
    assert!(!ok, "sam is now the only one");
    assert!(err.contains("only super_admin"), "{err}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_removed_user_is_signed_out_and_cannot_sign_in(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let url = url_of(&pool);
    add(&url, "ada", "admin").await;
    add(&url, "bob", "viewer").await;
    let ada = session_of(&app, "ada").await.unwrap();
    let bob = session_of(&app, "bob").await.unwrap();
    let (ok, out, err) = cli::run(&url, &["user", "remove", "ada"], None).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("removed user ada; 1 session(s) signed out"),
        "{out}"
    );
    assert_eq!(put_job(&app, &ada, "nightly").await, 401);
    assert_eq!(
        session_of(&app, "ada").await,
        None,
        "her password no longer opens"
    );
    assert_eq!(role_of(&pool, "ada").await, None);
    assert_eq!(
        put_job(&app, &bob, "nightly").await,
        403,
        "bob is untouched"
    );
    let audit = cli_audit(&pool).await;
    assert!(audit.iter().any(|a| a.0 == "user.remove" && a.1 == "ada"));

    // Unknown and impossible names: one clear error, nothing changed.
    for name in ["nobody", "Not A Name"] {
        let (ok, _, err) = cli::run(&url, &["user", "remove", name], None).await;
        assert!(!ok);
        assert!(err.contains("no user is called"), "{err}");
        let (ok, _, err) = cli::run(&url, &["user", "role", name, "viewer"], None).await;
        assert!(!ok);
        assert!(err.contains("no user is called"), "{err}");
    }
    assert_eq!(cli_audit(&pool).await.len(), audit.len());
}
