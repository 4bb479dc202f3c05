//! The SSE stream: live delivery, and exact catch-up after `Last-Event-ID`.

use crate::common;

use common::spawn_app;
use common::sse::{connect, Msg, SseReader};
use sqlx::PgPool;

#[sqlx::test(migrations = "../migrations")]
async fn live_events_then_exact_replay(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let mut live = connect(&app, None).await;

    let started = app.start("sse-job").await;
    let m1 = live.next().await;
    assert_eq!(m1.event, "execution");
    assert_eq!(m1.data["kind"], "execution");
    assert_eq!(m1.data["data"]["id"], started["id"]);
    assert_eq!(m1.data["data"]["status"], "running");

    app.complete(started["id"].as_str().unwrap(), "completed")
        .await;
    let m2 = live.next().await;
    assert!(m2.id > m1.id);
    assert_eq!(m2.data["data"]["status"], "completed");
    drop(live);

    // While disconnected: three more changes.
    let e = app.start("sse-job").await;
    app.complete(e["id"].as_str().unwrap(), "failed").await;
    app.post(
        "/api/v1/batches/crawls",
        &app.ingest,
        &serde_json::json!({ "pending": 4 }),
    )
    .await;

    let mut resumed = connect(&app, Some(m2.id)).await;
    let missed: Vec<Msg> = vec![
        resumed.next().await,
        resumed.next().await,
        resumed.next().await,
    ];
    assert_eq!(missed[0].data["data"]["status"], "running");
    assert_eq!(missed[1].data["data"]["status"], "failed");
    assert_eq!(missed[2].event, "batch");
    assert!(missed.windows(2).all(|w| w[1].id > w[0].id));
    assert!(missed[0].id > m2.id);

    // Then live again, with no duplicate of what was replayed.
    let e = app.start("sse-job").await;
    let next = resumed.next().await;
    assert_eq!(next.data["data"]["id"], e["id"]);
    assert!(next.id > missed[2].id);
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_writers_are_delivered_in_order_without_gaps(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let mut live = connect(&app, None).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = app.client.clone();
        let url = app.url("/api/v1/executions/start");
        let token = app.ingest.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({ "job": format!("w{}", i % 8) }))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(live.next().await.id);
    }
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");
    // And a replay from the first id yields exactly the 39 after it.
    let mut replay = connect(&app, Some(ids[0])).await;
    for expected in &ids[1..] {
        assert_eq!(replay.next().await.id, *expected);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn stream_needs_a_read_token_and_a_numeric_last_event_id(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let r = app.get_raw("/api/v1/events", None).await;
    assert_eq!(r.status(), 401);
    let r = app.get_raw("/api/v1/events", Some(&app.ingest)).await;
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth(&app.read)
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[sqlx::test(migrations = "../migrations")]
async fn resuming_from_before_pruned_events_says_reset(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    for _ in 0..4 {
        app.start("old-and-new").await;
    }
    let seqs: Vec<i64> = sqlx::query_scalar("select seq from events order by seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(seqs.len(), 4);
    // The first two are past the retention and pruned.
    sqlx::query("update events set at = now() - interval '4 days' where seq <= $1")
        .bind(seqs[1])
        .execute(&pool)
        .await
        .unwrap();
    let pruned = app::db::events::prune(&pool, chrono::TimeDelta::hours(72), 1000)
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(
        app::db::events::pruned_through(&pool).await.unwrap(),
        seqs[1]
    );

    // From before the horizon: reset first, then what is still kept.
    let mut stale = connect(&app, Some(seqs[0])).await;
    let reset = stale.next().await;
    assert_eq!((reset.event.as_str(), reset.id), ("reset", seqs[1]));
    assert_eq!(reset.data["data"]["pruned_through"], seqs[1]);
    assert_eq!(stale.next().await.id, seqs[2]);
    assert_eq!(stale.next().await.id, seqs[3]);

    // From the horizon on, nothing was lost: no reset.
    let mut fine = connect(&app, Some(seqs[1])).await;
    let first = fine.next().await;
    assert_eq!((first.event.as_str(), first.id), ("execution", seqs[2]));
}

#[sqlx::test(migrations = "../migrations")]
async fn after_everything_is_pruned_a_fresh_start_is_not_stale(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.start("quiet").await;
    sqlx::query("update events set at = now() - interval '4 days'")
        .execute(&pool)
        .await
        .unwrap();
    app::db::events::prune(&pool, chrono::TimeDelta::hours(72), 1000)
        .await
        .unwrap();
    // A page loaded now starts from the latest number, which must not fall back to 0
    // (it would be told to reload, forever).
    let latest = app::db::events::latest_seq(&pool).await.unwrap();
    assert_eq!(
        latest,
        app::db::events::pruned_through(&pool).await.unwrap()
    );
    assert!(latest > 0);
    let mut page = connect_after(&app, latest).await;
    let e = app.start("quiet").await;
    let first = page.next().await;
    assert_eq!(first.event, "execution", "no reset");
    assert_eq!(first.data["data"]["id"], e["id"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn resuming_from_beyond_the_newest_event_says_reset(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.start("recreated").await;
    // A page left open while its database was recreated holds a higher number; without
    // a reset it would hear nothing until the new numbers passed it.
    for by_query in [false, true] {
        let newest = app::db::events::latest_seq(&pool).await.unwrap();
        let mut stream = if by_query {
            connect_after(&app, newest + 1000).await
        } else {
            connect(&app, Some(newest + 1000)).await
        };
        let reset = stream.next().await;
        assert_eq!((reset.event.as_str(), reset.id), ("reset", newest));
        let e = app.start("recreated").await;
        let next = stream.next().await;
        assert_eq!((next.event.as_str(), next.id), ("execution", newest + 1));
        assert_eq!(next.data["data"]["id"], e["id"]);
    }
    // Resuming from the newest itself is not stale.
    let newest = app::db::events::latest_seq(&pool).await.unwrap();
    let mut fine = connect(&app, Some(newest)).await;
    app.start("recreated").await;
    assert_eq!(fine.next().await.event, "execution", "no reset");
}

/// A fresh EventSource, which resumes with `?after=` (it cannot send Last-Event-ID).
async fn connect_after(app: &common::TestApp, after: i64) -> SseReader {
    let resp = app
        .get_raw(&format!("/api/v1/events?after={after}"), Some(&app.read))
        .await;
    assert_eq!(resp.status(), 200);
    SseReader::new(resp)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_revoked_token_loses_its_open_stream(pool: PgPool) {
    let app = common::spawn_app_with(pool.clone(), common::quick_recheck()).await;
    let watcher = app::db::tokens::create(&pool, "watcher", app::db::tokens::Scope::Read, None)
        .await
        .unwrap();
    let resp = app.get_raw("/api/v1/events", Some(&watcher)).await;
    let mut stream = SseReader::new(resp);
    app.start("watched").await;
    assert_eq!(stream.next().await.event, "execution");

    let mut tx = pool.begin().await.unwrap();
    app::db::tokens::revoke(&mut tx, "watcher").await.unwrap();
    tx.commit().await.unwrap();
    stream.until_end().await;
    // The other streams are untouched.
    let mut other = connect(&app, None).await;
    let e = app.start("watched").await;
    assert_eq!(other.next().await.data["data"]["id"], e["id"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_ended_session_is_told_signed_out(pool: PgPool) {
    let app = common::spawn_app_with(pool.clone(), common::quick_recheck()).await;
    app::db::users::create(
        &pool,
        "vera",
        "password-of-vera".into(),
        app::model::Role::Viewer,
    )
    .await
    .unwrap();
    let signed_in = app.sign_in("vera", "password-of-vera").await;
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()
                .filter(|v| v.starts_with("cronwatch_session="))
        })
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let open = |cookie: String| {
        let req = app
            .client
            .get(app.url("/api/v1/events"))
            .header("cookie", cookie);
        async move { req.send().await.unwrap() }
    };
    let resp = open(cookie.clone()).await;
    assert_eq!(resp.status(), 200);
    let mut page = SseReader::new(resp);
    app.start("watched").await;
    assert_eq!(page.next().await.event, "execution");

    // A new password ends every session of hers: the open stream says so and ends.
    let mut tx = pool.begin().await.unwrap();
    app::db::users::set_password(&mut tx, "vera", "another-password".into())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rest = page.until_end().await;
    assert_eq!(rest.last().map(|m| m.event.as_str()), Some("signed_out"));

    // Reconnecting with the dead cookie: told at once, not a 401 to retry forever.
    let resp = open(cookie).await;
    assert_eq!(resp.status(), 200);
    let told = SseReader::new(resp).until_end().await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].event, "signed_out");
    // (Without any cookie or token it stays a 401: see the test above.)
}

/// `cronwatch serve` on SIGTERM: an open stream is ended with a short `retry:` (the
/// client reconnects at once, to a restarted server or another replica) instead of
/// being cut when the process exits, and the server stops cleanly.
#[sqlx::test(migrations = "../migrations")]
async fn shutdown_ends_open_streams_with_a_quick_reconnect(pool: PgPool) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let token = app::db::tokens::create(&pool, "sse-shutdown", app::db::tokens::Scope::Read, None)
        .await
        .unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", common::url_of(&pool))
        .env("CRONWATCH_ADMIN_PASSWORD", "sse-shutdown-password")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server says where it listens")
            .unwrap();
        if let Some(addr) = line.strip_prefix("cronwatch listening on ") {
            break addr.trim().to_string();
        }
    };
    let resp = reqwest::Client::new()
        .get(format!("{base}/api/v1/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = SseReader::new(resp);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let msgs = stream.until_end().await;
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(stream.retry, Some(250), "told to reconnect soon");
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(rest.iter().any(|l| l == "cronwatch stopped"), "{rest:?}");
    assert!(server.wait().unwrap().success());
}
