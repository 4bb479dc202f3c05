//! Ping URLs on the dashboard: admins see each job's and can regenerate it through a
//! plain form; viewers never receive a key (it is a credential).

use crate::common;

use app::model::Role;
use common::{ping_key, signed_in, snapshot, spawn_app};
use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use sqlx::PgPool;

async fn ping_status(app: &common::TestApp, key: uuid::Uuid) -> u16 {
    app.client
        .get(app.url(&format!("/ping/{key}")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn regenerate(
    client: &reqwest::Client,
    app: &common::TestApp,
    job: &str,
    origin: &str,
) -> reqwest::Response {
    client
        .post(app.url(&format!("/monitoring/jobs/{job}/ping-key")))
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn admins_see_each_jobs_ping_url_and_viewers_see_none(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let nightly = ping_key(&pool, "nightly").await;
    let backup = ping_key(&pool, "backup").await;
    let admin = signed_in(&app, &pool, "adam", Role::Admin).await;
    let viewer = signed_in(&app, &pool, "vera", Role::Viewer).await;

    let html = common::monitoring_html(&app, &admin, &[]).await;
    for key in [nightly, backup] {
        let url = format!("{}/ping/{key}", app.base);
        assert!(html.contains(&url), "admin page lacks {url}");
    }
    assert!(html.contains("id=\"ping-url-nightly\""));
    assert!(html.contains("action=\"/monitoring/jobs/nightly/ping-key\""));

    // Behind a TLS proxy the URL is the one the browser used.
    let proxied = common::monitoring_html(
        &app,
        &admin,
        &[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "cron.example.com"),
        ],
    )
    .await;
    assert!(proxied.contains(&format!("https://cron.example.com/ping/{nightly}")));

    // Neither the viewer's page nor the data it hydrates from holds a key.
    let html = common::monitoring_html(&app, &viewer, &[]).await;
    for key in [nightly, backup] {
        assert!(!html.contains(&key.to_string()), "viewer page holds a key");
    }
    assert!(!html.contains("Ping URL"));
    let data = common::dashboard_data(&app, &viewer).await;
    assert_eq!(data["ping_urls"], serde_json::Value::Null, "{data}");
    assert_eq!(data["jobs"].as_array().unwrap().len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_regenerate_form_replaces_the_key_and_returns_to_it(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let old = ping_key(&pool, "nightly").await;
    let admin = signed_in(&app, &pool, "adam", Role::Admin).await;

    let resp = regenerate(&admin, &app, "nightly", &app.base).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/monitoring#ping-url-nightly");
    let new: uuid::Uuid = sqlx::query_scalar("select ping_key from jobs where name = 'nightly'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(new, old);
    assert_eq!(
        ping_status(&app, old).await,
        404,
        "the old URL stops at once"
    );
    assert_eq!(ping_status(&app, new).await, 200);
    // The page it returns to shows the new URL, not the old.
    let html = common::monitoring_html(&app, &admin, &[]).await;
    assert!(html.contains(&format!("/ping/{new}")));
    assert!(!html.contains(&old.to_string()));
    let actor: String = sqlx::query_scalar(
        "select actor from audit_events where action = 'job.ping_key.regenerate' and target = 'nightly'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(actor, "user:adam");
}

#[sqlx::test(migrations = "../migrations")]
async fn refused_regenerations_change_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "nightly").await;
    let admin = signed_in(&app, &pool, "adam", Role::Admin).await;
    let viewer = signed_in(&app, &pool, "vera", Role::Viewer).await;
    let anonymous = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let before = snapshot(&pool).await;

    let r = regenerate(&viewer, &app, "nightly", &app.base).await;
    assert_eq!(r.status(), 403, "a viewer");
    let r = regenerate(&anonymous, &app, "nightly", &app.base).await;
    assert_eq!(r.status(), 303, "anonymous is sent to sign in");
    assert_eq!(
        r.headers()[LOCATION],
        "/login?next=/monitoring",
        "signed in, the browser comes back to the page, not to the form's target"
    );
    let r = regenerate(&admin, &app, "nightly", "http://evil.example").await;
    assert_eq!(r.status(), 403, "another site's form");
    for job in ["no-such-job", "Not%20A%20Name"] {
        let r = regenerate(&admin, &app, job, &app.base).await;
        assert_eq!(r.status(), 404, "{job}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(common::error_code(&body), "not_found");
    }
    let r = admin
        .get(app.url("/monitoring/jobs/nightly/ping-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405, "a link cannot regenerate");

    assert_eq!(snapshot(&pool).await, before);
    assert_eq!(ping_status(&app, key).await, 200);
}
