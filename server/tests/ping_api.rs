//! Healthchecks-style pings: the ping key is the credential; `rid` pairs start and end.

use crate::common;

use common::{error_code, ping_key, snapshot, spawn_app};
use sqlx::PgPool;

#[sqlx::test(migrations = "../migrations")]
async fn start_and_end_pair_by_rid(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "backup").await;
    let c = &app.client;
    assert_eq!(
        c.get(app.url(&format!("/ping/{key}/start?rid=r1")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(app.url(&format!("/ping/{key}/start?rid=r2")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // r1 fails with exit code 3 and a log body; r2 succeeds.
    let r = c
        .post(app.url(&format!("/ping/{key}/3?rid=r1")))
        .body("disk full\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "OK");
    assert_eq!(
        c.post(app.url(&format!("/ping/{key}?rid=r2")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let (_, page) = app.get("/api/v1/executions?job=backup", &app.read).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let failed = items.iter().find(|e| e["status"] == "failed").unwrap();
    assert_eq!(failed["exit_code"], 3);
    let (_, full) = app
        .get(
            &format!("/api/v1/executions/{}", failed["id"].as_str().unwrap()),
            &app.read,
        )
        .await;
    assert_eq!(full["log_tail"], "disk full\n");
    assert!(items.iter().any(|e| e["status"] == "completed"));

    // A retried end with the same rid changes nothing.
    let before = snapshot(&pool).await;
    assert_eq!(
        c.post(app.url(&format!("/ping/{key}/3?rid=r1")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(snapshot(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn end_without_start_and_without_rid(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "pinger").await;
    // No start: an instant run is recorded.
    assert_eq!(
        app.get_raw(&format!("/ping/{key}"), None).await.status(),
        200
    );
    // start then fail without rid: the latest running execution is closed.
    app.client
        .post(app.url(&format!("/ping/{key}/start")))
        .send()
        .await
        .unwrap();
    app.client
        .post(app.url(&format!("/ping/{key}/fail")))
        .send()
        .await
        .unwrap();
    let (_, page) = app.get("/api/v1/executions?job=pinger", &app.read).await;
    let statuses: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses.contains(&"completed") && statuses.contains(&"failed"),
        "{statuses:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_keys_and_actions_are_404(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let key = ping_key(&pool, "known").await;
    let before = snapshot(&pool).await;
    for path in [
        format!("/ping/{}", uuid::Uuid::new_v4()),
        "/ping/not-a-uuid".to_string(),
        format!("/ping/{key}/256"),
        format!("/ping/{key}/explode"),
        format!("/ping/{key}/start/extra"),
        "/ping".to_string(),
        "/ping/".to_string(),
    ] {
        let r = app.get_raw(&path, None).await;
        assert_eq!(r.status(), 404, "{path}");
        let (_, b) = common::status_json(r).await;
        assert_eq!(error_code(&b), "not_found", "{path}");
    }
    // A log over the ping body limit (16 MiB, against runaway uploads) is refused in
    // the same JSON shape.
    let big = "x".repeat(server::http::PING_BODY_LIMIT + 1);
    for path in [format!("/ping/{key}"), format!("/ping/{key}/start")] {
        let r = app
            .client
            .post(app.url(&path))
            .body(big.clone())
            .send()
            .await
            .unwrap();
        let (status, b) = common::status_json(r).await;
        assert_eq!(
            (status, error_code(&b).as_str()),
            (413, "payload_too_large"),
            "{path}: {b}"
        );
    }
    assert_eq!(snapshot(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn admins_read_and_regenerate_a_jobs_ping_key(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let stored = ping_key(&pool, "backup").await;
    let path = "/api/v1/jobs/backup/ping-key";

    let (code, body) = app.get(path, &app.admin).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["job"], "backup");
    assert_eq!(body["ping_key"], stored.to_string());
    let ping_path = body["ping_path"].as_str().unwrap().to_string();
    assert_eq!(ping_path, format!("/ping/{stored}"));
    let ping = |p: String| {
        let c = app.client.clone();
        let url = app.url(&p);
        async move { c.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        ping(ping_path.clone()).await,
        200,
        "the answered path works"
    );

    // Refused: a credential is not for readers or reporters; unknown jobs are 404.
    let before = snapshot(&pool).await;
    for token in [&app.read, &app.ingest] {
        assert_eq!(app.get(path, token).await.0, 403);
        assert_eq!(app.post(path, token, &serde_json::json!({})).await.0, 403);
    }
    let anonymous = app.client.post(app.url(path)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let (code, _) = app
        .post(
            "/api/v1/jobs/nope/ping-key",
            &app.admin,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(code, 404);
    assert_eq!(
        app.get("/api/v1/jobs/nope/ping-key", &app.admin).await.0,
        404
    );
    assert_eq!(snapshot(&pool).await, before);

    let (code, body) = app.post(path, &app.admin, &serde_json::json!({})).await;
    assert_eq!(code, 200, "{body}");
    let fresh = body["ping_path"].as_str().unwrap().to_string();
    assert_ne!(fresh, ping_path);
    assert_eq!(ping(ping_path).await, 404, "the old key stops working");
    assert_eq!(ping(fresh).await, 200);
    let audit: Vec<(String, String)> =
        sqlx::query_as("select actor, action from audit_events order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [("token:admin-test".into(), "job.ping_key.regenerate".into())]
    );
}
