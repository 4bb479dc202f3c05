//! Reading the audit trail: `GET /api/v1/audit` (admins only) and `cronwatch audit`.

use crate::common;

use common::{add_user, error_code, snapshot, spawn_app, url_of};
use serde_json::{json, Value};
use sqlx::PgPool;

/// The `action`s of a page, in its order.
fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn admins_read_who_did_what_newest_first_and_filtered(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "adam", app::model::Role::Admin).await;
    let put = |job: &'static str| {
        let app = &app;
        async move {
            let r = app
                .client
                .put(app.url(&format!("/api/v1/jobs/{job}")))
                .bearer_auth(&app.admin)
                .json(&json!({ "description": "nightly" }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    };
    put("nightly").await;
    put("backup").await;
    let failed = app.sign_in("adam", "not-his-password").await;
    assert_eq!(failed.status(), 303);
    let r = app
        .client
        .post(app.url("/api/v1/jobs/nightly/ping-key"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let (code, page) = app.get("/api/v1/audit", &app.admin).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        actions(&page),
        [
            "job.ping_key.regenerate",
            "login.failed",
            "job.create",
            "job.create"
        ]
    );
    let newest = &page["items"][0];
    assert_eq!(newest["actor"], "token:admin-test");
    assert_eq!(newest["target"], "nightly");
    assert!(newest["at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .is_ok());
    let login = &page["items"][1];
    assert_eq!(login["target"], "adam");
    assert_eq!(login["source"], "127.0.0.1", "{login}");
    assert_eq!(page["next_cursor"], Value::Null);

    // An action finds those under it; actor and target are exact.
    let (_, jobs) = app.get("/api/v1/audit?action=job", &app.admin).await;
    assert_eq!(
        actions(&jobs),
        ["job.ping_key.regenerate", "job.create", "job.create"]
    );
    let (_, ping) = app
        .get("/api/v1/audit?action=job.ping_key", &app.admin)
        .await;
    assert_eq!(actions(&ping), ["job.ping_key.regenerate"]);
    let (_, none) = app.get("/api/v1/audit?action=jo", &app.admin).await;
    assert_eq!(
        actions(&none),
        Vec::<String>::new(),
        "a prefix is not an action"
    );
    let (_, backup) = app
        .get(
            "/api/v1/audit?target=backup&actor=token:admin-test",
            &app.admin,
        )
        .await;
    assert_eq!(actions(&backup), ["job.create"]);
    let (_, other) = app.get("/api/v1/audit?actor=token:admin", &app.admin).await;
    assert_eq!(actions(&other), Vec::<String>::new());
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_walk_the_whole_trail_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for i in 0..120 {
        app::db::audit::record(
            &pool,
            "cli:test",
            "test.step",
            Some(&format!("t{i}")),
            None,
            json!({ "i": i }),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/audit".to_string();
    let mut pages = 0;
    loop {
        let (code, page) = app.get(&path, &app.admin).await;
        assert_eq!(code, 200, "{page}");
        pages += 1;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["details"]["i"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audit?cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3, "50 + 50 + 20");
    assert_eq!(
        seen,
        (0..120).rev().collect::<Vec<i64>>(),
        "newest first, each once"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_read_it_and_bad_queries_are_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    add_user(&pool, "vera", app::model::Role::Viewer).await;
    add_user(&pool, "adam", app::model::Role::Admin).await;
    let cookie = |resp: reqwest::Response| {
        resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let viewer = cookie(app.sign_in("vera", "password-of-vera").await);
    let admin = cookie(app.sign_in("adam", "password-of-adam").await);
    let before = snapshot(&pool).await;

    for token in [&app.read, &app.ingest] {
        let (code, body) = app.get("/api/v1/audit", token).await;
        assert_eq!(code, 403, "{body}");
        error_code(&body);
    }
    let anonymous = app.get_raw("/api/v1/audit", None).await;
    assert_eq!(anonymous.status(), 401);
    let as_session = |cookie: String| {
        app.client
            .get(app.url("/api/v1/audit"))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(as_session(viewer).await.unwrap().status(), 403, "a viewer");
    let by_admin = as_session(admin).await.unwrap();
    assert_eq!(by_admin.status(), 200, "an admin's session");
    let page: Value = by_admin.json().await.unwrap();
    assert_eq!(actions(&page)[..2], ["login", "login"]);

    for (path, status) in [
        ("/api/v1/audit?cursor=abc", 400),
        ("/api/v1/audit?cursor=-1", 400),
        ("/api/v1/audit?limit=5", 400),
        ("/api/v1/audit?actor=a%00b", 422),
    ] {
        let (code, body) = app.get(path, &app.admin).await;
        assert_eq!(code, status, "{path}: {body}");
        error_code(&body);
    }
    let long = format!("/api/v1/audit?target={}", "x".repeat(201));
    assert_eq!(app.get(&long, &app.admin).await.0, 422);
    assert_eq!(snapshot(&pool).await, before, "reading changes nothing");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_cli_prints_the_trail_with_typed_names_escaped(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let url = url_of(&pool);
    let (ok, _, err) = common::cli::run(
        &url,
        &["token", "create", "deploy", "--scope", "ingest"],
        None,
    )
    .await;
    assert!(ok, "{err}");
    // Someone typed an escape sequence as a user name at the sign-in form.
    let typed = "evil\u{1b}[2J";
    let failed = app.sign_in(typed, "whatever-password").await;
    assert_eq!(failed.status(), 303);

    let (ok, out, err) = common::cli::run(&url, &["audit"], None).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("AT") && lines[0].contains("DETAILS"),
        "{out}"
    );
    assert!(
        lines[1].contains("login.failed") && lines[1].contains("evil\\u{1b}[2J"),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "no raw escape reaches the terminal"
    );
    assert!(
        lines[2].contains("token.create")
            && lines[2].contains("deploy")
            && lines[2].contains(" cli "),
        "{out}"
    );

    let (ok, out, _) =
        common::cli::run(&url, &["audit", "--action", "token", "--limit", "1"], None).await;
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("token.create"));
    assert!(!out.contains("older entries"), "{out}");
    let (ok, out, _) = common::cli::run(&url, &["audit", "--limit", "1"], None).await;
    assert!(ok);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.contains("login.failed") && out.ends_with("(older entries not shown: raise --limit)\n"),
        "{out}"
    );

    let (ok, _, err) = common::cli::run(&url, &["audit", "--limit", "0"], None).await;
    assert!(!ok);
    assert!(err.contains("--limit"), "{err}");
}
