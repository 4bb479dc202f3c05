//! Sliding sessions: used sessions stay, idle ones end, an open dashboard counts as
//! use, and a page whose cookie lapsed is told so instead of retrying forever.

use crate::common;

use std::time::Duration;

use common::spawn_app_with;
use common::sse::SseReader;
use reqwest::header::SET_COOKIE;
use sqlx::PgPool;

fn idle(window: Duration) -> app::state::Config {
    app::state::Config {
        session_idle: window,
        ..Default::default()
    }
}

/// Signs `name` in (creating them as a viewer) and answers the `Set-Cookie` header.
async fn sign_in(app: &common::TestApp, pool: &PgPool, name: &str) -> String {
    let password = format!("password-of-{name}");
    app::db::users::create(pool, name, password.clone(), app::model::Role::Viewer)
        .await
        .unwrap();
    let resp = app.sign_in(name, &password).await;
    assert_eq!(resp.status(), 303);
    session_set_cookie(&resp).expect("a session cookie")
}

fn session_set_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.starts_with("cronwatch_session=").then(|| v.to_string())
    })
}

/// The `name=value` part of a `Set-Cookie` header, as a browser sends it back. The
/// tests keep sending it after its Max-Age: the server must refuse on its own.
fn cookie_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// GET /api/v1/jobs with `cookie`: the status and the `Set-Cookie` it renewed, if any.
async fn use_session(app: &common::TestApp, cookie: &str) -> (u16, Option<String>) {
    let resp = app
        .client
        .get(app.url("/api/v1/jobs"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), session_set_cookie(&resp))
}

#[sqlx::test(migrations = "../migrations")]
async fn a_session_lasts_while_used_and_ends_when_idle(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), idle(Duration::from_secs(2))).await;
    let set_cookie = sign_in(&app, &pool, "vera").await;
    assert!(set_cookie.contains("Max-Age=2"), "{set_cookie}");
    let cookie = cookie_of(&set_cookie);
    // Used every half second for twice the window: still signed in, and renewed.
    let mut renewed = 0;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, set) = use_session(&app, &cookie).await;
        assert_eq!(status, 200, "a used session stays");
        if let Some(set) = set {
            assert_eq!(cookie_of(&set), cookie, "renewal keeps the session id");
            assert!(set.contains("Max-Age=2"), "{set}");
            renewed += 1;
        }
    }
    assert!(renewed > 0, "the cookie was renewed");
    // Then left alone for longer than the window: signed out.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(use_session(&app, &cookie).await.0, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_session_is_written_at_most_every_48th_of_its_window(pool: PgPool) {
    // 96 s: renewed at most every 2 s.
    let app = spawn_app_with(pool.clone(), idle(Duration::from_secs(96))).await;
    let cookie = cookie_of(&sign_in(&app, &pool, "vera").await);
    for _ in 0..10 {
        let (status, set) = use_session(&app, &cookie).await;
        assert_eq!(status, 200);
        assert_eq!(set, None, "just signed in: nothing to renew or write");
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, set) = use_session(&app, &cookie).await;
    assert!(set.is_some_and(|s| s.contains("Max-Age=96")), "renewed");
    let (_, set) = use_session(&app, &cookie).await;
    assert_eq!(set, None, "and not again at once");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_open_dashboard_keeps_its_session(pool: PgPool) {
    // 4 s: the stream is renewed every 2 s, re-checked every 0.5 s, which leaves the
    // session 1.5 s or more whenever this loop stops.
    let app = spawn_app_with(pool.clone(), idle(Duration::from_secs(4))).await;
    let page = cookie_of(&sign_in(&app, &pool, "vera").await);
    let idle_tab = cookie_of(&sign_in(&app, &pool, "bob").await);
    // The page's stream, reopened whenever the server ends it, as EventSource does,
    // for over two windows; nothing else is sent with its cookie.
    let mut seen = 0;
    let (mut reconnects, mut last) = (0, None::<i64>);
    let until = tokio::time::Instant::now() + Duration::from_secs(9);
    while tokio::time::Instant::now() < until {
        let mut req = app
            .client
            .get(app.url("/api/v1/events"))
            .header("cookie", &page);
        if let Some(id) = last {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        app.start("watched").await;
        let mut stream = SseReader::new(resp);
        let msgs = stream.until_end().await;
        assert!(msgs.iter().all(|m| m.event == "execution"), "{msgs:?}");
        seen += msgs.len();
        last = msgs.last().map(|m| m.id).or(last);
        assert_eq!(
            stream.retry,
            Some(250),
            "ended for renewal, to reconnect soon"
        );
        reconnects += 1;
    }
    assert!(reconnects >= 3, "renewed about every 2 s: {reconnects}");
    assert_eq!(
        seen, reconnects,
        "every run arrived once across the reconnects"
    );
    assert_eq!(
        use_session(&app, &page).await.0,
        200,
        "the page's session holds"
    );
    assert_eq!(
        use_session(&app, &idle_tab).await.0,
        401,
        "an idle one ended"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_page_whose_cookie_lapsed_is_told_signed_out(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), idle(Duration::from_secs(2))).await;
    // No cookie at all (the browser dropped it), from one of our pages.
    let resp = app
        .client
        .get(app.url("/api/v1/events"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let told = SseReader::new(resp).until_end().await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].event, "signed_out");
    // An API client without credentials still gets its 401; with a token, its stream.
    let resp = app.get_raw("/api/v1/events", None).await;
    assert_eq!(resp.status(), 401);
    let resp = app
        .client
        .get(app.url("/api/v1/events"))
        .header("sec-fetch-site", "same-origin")
        .bearer_auth(&app.read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = SseReader::new(resp);
    let e = app.start("watched").await;
    assert_eq!(stream.next().await.data["data"]["id"], e["id"]);
}
