//! Sign-in, sessions, the page guard, roles through the session, CSRF, throttling.

use crate::common;

use common::{add_user, spawn_app, spawn_app_with};
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use sqlx::PgPool;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(
    app: &common::TestApp,
    client: &reqwest::Client,
    user: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/auth/login"))
        .header("origin", &app.base)
        .form(&[
            ("username", user),
            ("password", password),
            ("next", "/monitoring?tab=crons"),
        ])
        .send()
        .await
        .unwrap()
}

fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.starts_with("cronwatch_session=").then(|| v.to_string())
    })
}

/// An empty POST to `path` with `origin` as its Origin header.
async fn post_from(
    client: &reqwest::Client,
    app: &common::TestApp,
    path: &str,
    origin: &str,
) -> reqwest::Response {
    client
        .post(app.url(path))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn anonymous_visitors_are_sent_to_login(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = browser()
        .get(app.url("/monitoring?tab=crons&status=failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()[LOCATION],
        "/login?next=/monitoring%3Ftab%3Dcrons%26status%3Dfailed"
    );
    let login = browser().get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(login
        .text()
        .await
        .unwrap()
        .contains("action=\"/auth/login\""));
    // The server function behind the page refuses anonymous callers too.
    let r = post_from(&browser(), &app, "/sfn/whoami", &app.base).await;
    assert_eq!(r.status(), 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_password_fails_right_one_signs_in_with_a_new_session_id(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    let client = browser();

    let bad = sign_in(&app, &client, "vera", "not-her-password").await;
    assert_eq!(bad.status(), 303);
    assert_eq!(
        bad.headers()[LOCATION],
        "/login?error=invalid&next=/monitoring%3Ftab%3Dcrons"
    );
    let unknown = sign_in(&app, &client, "nobody", "whatever").await;
    assert_eq!(
        unknown.headers()[LOCATION],
        bad.headers()[LOCATION],
        "no hint that the user exists"
    );

    // Plant a session first (as an attacker could), then sign in: the id must change.
    let planted_id = "AAAAAAAAAAAAAAAAAAAAAA";
    let good = client
        .post(app.url("/auth/login"))
        .header("origin", &app.base)
        .header("cookie", format!("cronwatch_session={planted_id}"))
        .form(&[
            ("username", "vera"),
            ("password", "password-of-vera"),
            ("next", "/monitoring?tab=crons"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 303);
    assert_eq!(good.headers()[LOCATION], "/monitoring?tab=crons");
    let cookie = session_cookie(&good).expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains(planted_id));

    let page = client.get(app.url("/monitoring")).send().await.unwrap();
    assert_eq!(page.status(), 200, "a viewer sees the dashboard");
    let html = page.text().await.unwrap();
    assert!(html.contains("vera"), "the page knows who is signed in");

    let audit: Vec<String> = sqlx::query_scalar("select action from audit_events order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(audit, ["login.failed", "login.failed", "login"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn session_roles_are_checked_on_the_server(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    add_user(&pool, "adam", app::model::Role::Admin).await;
    let viewer = browser();
    sign_in(&app, &viewer, "vera", "password-of-vera").await;

    // Reads and the live stream work with the session cookie.
    assert_eq!(
        viewer
            .get(app.url("/api/v1/jobs"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let events = viewer.get(app.url("/api/v1/events")).send().await.unwrap();
    assert_eq!(events.status(), 200);
    drop(events);
    // A viewer may not change job definitions, and no session may ingest.
    let put = viewer
        .put(app.url("/api/v1/jobs/x"))
        .header("origin", &app.base)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    let admin = browser();
    sign_in(&app, &admin, "adam", "password-of-adam").await;
    let put = admin
        .put(app.url("/api/v1/jobs/x"))
        .header("origin", &app.base)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let ingest = admin
        .post(app.url("/api/v1/executions/start"))
        .header("origin", &app.base)
        .json(&serde_json::json!({ "job": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 403);
    let audit: String =
        sqlx::query_scalar("select actor from audit_events where action = 'job.create'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audit, "user:adam");
}

#[sqlx::test(migrations = "../migrations")]
async fn cross_origin_state_changes_are_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "adam", app::model::Role::Admin).await;
    let admin = browser();
    sign_in(&app, &admin, "adam", "password-of-adam").await;
    for origin in [Some("http://evil.example"), None] {
        let mut req = admin
            .put(app.url("/api/v1/jobs/csrf"))
            .json(&serde_json::json!({}));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 403, "origin {origin:?}");
    }
    let logout = post_from(&admin, &app, "/auth/logout", "http://evil.example").await;
    assert_eq!(logout.status(), 403);
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(jobs, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn logout_destroys_the_session(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    let client = browser();
    let signed_in = sign_in(&app, &client, "vera", "password-of-vera").await;
    let cookie = session_cookie(&signed_in).unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let out = post_from(&client, &app, "/auth/logout", &app.base).await;
    assert_eq!(out.status(), 303);
    // The old cookie, replayed, no longer opens anything.
    let replay = browser()
        .get(app.url("/monitoring"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn repeated_failures_are_throttled(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    let client = browser();
    for _ in 0..5 {
        assert_eq!(sign_in(&app, &client, "vera", "guess").await.status(), 303);
    }
    let throttled = sign_in(&app, &client, "vera", "password-of-vera").await;
    assert_eq!(throttled.status(), 429, "even the right password waits");
    let wait: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
}

/// Every registered server function, by path (`/sfn/…`).
fn server_functions() -> Vec<&'static str> {
    let mut paths: Vec<_> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .filter(|p| p.starts_with(server::http::auth::SERVER_FN_PREFIX))
        .collect();
    paths.sort();
    paths
}

#[sqlx::test(migrations = "../migrations")]
async fn every_server_function_refuses_anonymous_callers(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let paths = server_functions();
    assert!(
        paths.contains(&"/sfn/dashboard") && paths.len() >= 4,
        "the registry lists our functions: {paths:?}"
    );
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    let viewer = browser();
    sign_in(&app, &viewer, "vera", "password-of-vera").await;
    for path in paths {
        let anonymous = post_from(&browser(), &app, path, &app.base).await;
        assert_eq!(
            anonymous.status(),
            401,
            "{path} answered an anonymous caller"
        );
        let body: serde_json::Value = anonymous.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{path}");
        // None of today's functions changes anything, so a viewer may call each (what
        // changes state goes through the REST API, where roles are tested above).
        let as_viewer = post_from(&viewer, &app, path, &app.base).await;
        assert!(
            !matches!(as_viewer.status().as_u16(), 401 | 403),
            "{path} refused a viewer: {}",
            as_viewer.status()
        );
    }
    let me = post_from(&viewer, &app, "/sfn/whoami", &app.base).await;
    assert_eq!(me.status(), 200);
    assert!(me.text().await.unwrap().contains("vera"));
}

#[sqlx::test(migrations = "../migrations")]
async fn server_functions_answer_bad_arguments_with_4xx(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    let viewer = browser();
    sign_in(&app, &viewer, "vera", "password-of-vera").await;
    let call = |path: &str, body: Vec<u8>| {
        let req = viewer
            .post(app.url(path))
            .header("origin", &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    // Arguments server_fn cannot decode: the caller's mistake.
    for path in server_functions() {
        for body in [b"\xff\xfe".to_vec(), b"query=%zz".to_vec()] {
            let (code, text) = call(path, body).await;
            assert!(code == 200 || code == 400, "{path} answered {code}: {text}");
        }
    }
    let (code, _) = call("/sfn/execution", b"".to_vec()).await;
    assert_eq!(code, 400);
    // Decoded, then refused by our own rules, with their status and reason.
    let (code, text) = call("/sfn/executions", b"query[status]=bogus".to_vec()).await;
    assert_eq!(code, 422, "{text}");
    assert!(text.contains("unknown status"), "{text}");
    // The page's own load still answers, saying why its filter was refused.
    let (code, text) = call("/sfn/dashboard", b"query[status]=bogus".to_vec()).await;
    assert_eq!(code, 200, "{text}");
    let snapshot: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(snapshot["filter_error"], "unknown status \"bogus\"");
    assert_eq!(snapshot["executions"]["items"], serde_json::json!([]));
    let (code, _) = call("/sfn/executions", b"query[job]=a%00b".to_vec()).await;
    assert_eq!(code, 422);
    let missing = format!("id={}", uuid::Uuid::new_v4());
    let (code, text) = call("/sfn/execution", missing.into_bytes()).await;
    assert_eq!(code, 404, "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn cross_origin_server_function_calls_are_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "adam", app::model::Role::Admin).await;
    let admin = browser();
    sign_in(&app, &admin, "adam", "password-of-adam").await;
    let evil = post_from(&admin, &app, "/sfn/whoami", "http://evil.example").await;
    assert_eq!(evil.status(), 403);
    let same = post_from(&admin, &app, "/sfn/whoami", &app.base).await;
    assert_eq!(same.status(), 200);
}

#[sqlx::test(migrations = "../migrations")]
async fn cookies_are_secure_when_configured(pool: PgPool) {
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    for secure in [false, true] {
        let config = app::state::Config {
            secure_cookies: secure,
            ..Default::default()
        };
        let app = spawn_app_with(pool.clone(), config).await;
        let resp = sign_in(&app, &browser(), "vera", "password-of-vera").await;
        let cookie = session_cookie(&resp).expect("a session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert_eq!(cookie.contains("Secure"), secure, "{cookie}");
    }
}

/// `cronwatch user passwd NAME --password-stdin` (or generated without `stdin`).
async fn passwd(pool: &PgPool, name: &str, stdin: Option<&str>) -> (bool, String, String) {
    let mut args = vec!["user", "passwd", name];
    if stdin.is_some() {
        args.push("--password-stdin");
    }
    common::cli::run(&common::url_of(pool), &args, stdin).await
}

/// Whether `cookie` still opens the read API.
async fn session_works(app: &common::TestApp, cookie: &str) -> bool {
    let resp = browser()
        .get(app.url("/api/v1/jobs"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    match resp.status().as_u16() {
        200 => true,
        401 => false,
        other => panic!("unexpected {other}"),
    }
}

async fn signed_in_cookie(app: &common::TestApp, user: &str, password: &str) -> Option<String> {
    let resp = sign_in(app, &browser(), user, password).await;
    session_cookie(&resp).map(|c| c.split(';').next().unwrap().to_string())
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_password_signs_the_user_out_everywhere(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    add_user(&pool, "bob", app::model::Role::Viewer).await;
    let vera_laptop = signed_in_cookie(&app, "vera", "password-of-vera")
        .await
        .unwrap();
    let vera_phone = signed_in_cookie(&app, "vera", "password-of-vera")
        .await
        .unwrap();
    let bob = signed_in_cookie(&app, "bob", "password-of-bob")
        .await
        .unwrap();
    assert!(session_works(&app, &vera_laptop).await && session_works(&app, &bob).await);

    // Refused: an unknown user, a short password. Nothing changes.
    let before = common::snapshot(&pool).await;
    let sessions = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from sessions")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let n_before = sessions().await;
    let (ok, _, err) = passwd(&pool, "nobody", Some("a-long-new-password\n")).await;
    assert!(!ok);
    assert!(err.contains("no user is called"), "{err}");
    let (ok, _, err) = passwd(&pool, "vera", Some("short\n")).await;
    assert!(!ok);
    assert!(err.contains("at least 8"), "{err}");
    assert_eq!(common::snapshot(&pool).await, before);
    assert_eq!(sessions().await, n_before);
    assert!(session_works(&app, &vera_laptop).await);

    let (ok, out, err) = passwd(&pool, "vera", Some("a-long-new-password\n")).await;
    assert!(ok, "{err}");
    assert!(out.contains("2 session(s) signed out"), "{out}");
    assert!(!session_works(&app, &vera_laptop).await);
    assert!(!session_works(&app, &vera_phone).await);
    assert!(
        session_works(&app, &bob).await,
        "other users stay signed in"
    );
    assert!(signed_in_cookie(&app, "vera", "password-of-vera")
        .await
        .is_none());
    let vera_again = signed_in_cookie(&app, "vera", "a-long-new-password")
        .await
        .expect("the new password signs in");
    assert!(session_works(&app, &vera_again).await);

    // Without stdin a password is generated and shown once, on the last line.
    let (ok, out, err) = passwd(&pool, "bob", None).await;
    assert!(ok, "{err}");
    let generated = out.lines().last().unwrap();
    assert!(generated.len() >= 16, "{out}");
    assert!(!session_works(&app, &bob).await);
    assert!(signed_in_cookie(&app, "bob", generated).await.is_some());

    let audit: Vec<(String, String)> = sqlx::query_as(
        "select target, details->>'sessions_ended' from audit_events
         where action = 'user.password' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        [("vera".into(), "2".into()), ("bob".into(), "1".into())]
    );
}
