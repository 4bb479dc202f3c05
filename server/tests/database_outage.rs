//! The database going away and coming back. The server reaches PostgreSQL through a
//! relay on loopback that the test can cut (every open connection closed, new ones
//! closed at once, as when PostgreSQL restarts) and restore. While it is cut, writes
//! and reads answer 503 `unavailable` with `Retry-After` and change nothing, queued
//! reports are all answered at once (not one pool timeout after another), and
//! `/healthz` answers 503 before a probe gives up, and open event streams stay open;
//! once restored, the same requests succeed and events flow again without restarting
//! the server.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::watch;

use crate::common::sse::connect;
use crate::common::{
    error_code, quick_recheck, snapshot, spawn_app, spawn_app_with, status_json, TestApp,
};

/// A TCP relay to the test's PostgreSQL that can be cut and restored. Cut, it closes
/// every open connection and stops listening, so that new connections are refused, as
/// they are by a PostgreSQL that is down.
struct Relay {
    /// The test's own PostgreSQL, which pools through the relay copy their settings from.
    target: PgConnectOptions,
    port: u16,
    up: watch::Sender<bool>,
}

impl Relay {
    async fn start(pool: &PgPool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Self {
            port: listener.local_addr().unwrap().port(),
            target: (*pool.connect_options()).clone(),
            up: watch::channel(true).0,
        };
        relay.serve(listener);
        relay
    }

    /// Relays the connections `listener` accepts until the relay is cut.
    fn serve(&self, listener: TcpListener) {
        let (host, pg_port) = (self.target.get_host().to_string(), self.target.get_port());
        let mut up = self.up.subscribe();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = up.wait_for(|u| !*u) => return,
                };
                let Ok((client, _)) = accepted else { return };
                let cut = up.clone();
                tokio::spawn(relay_one(client, host.clone(), pg_port, cut));
            }
        });
    }

    fn cut(&self) {
        self.up.send_replace(false);
    }

    async fn restore(&self) {
        // The port was just closed by this process, so it is free to listen on again.
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.up.send_replace(true);
        self.serve(listener);
    }

    /// A pool like the server's, through this relay, that gives up waiting for a
    /// connection after `acquire_timeout`.
    async fn pool(&self, acquire_timeout: Duration) -> PgPool {
        PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(acquire_timeout)
            .connect_with(self.target.clone().host("127.0.0.1").port(self.port))
            .await
            .unwrap()
    }
}

/// What the relay connects to: PostgreSQL's Unix socket or its TCP port.
trait Upstream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Upstream for T {}

/// Copies one connection both ways until either side closes or the relay is cut.
async fn relay_one(
    mut client: TcpStream,
    host: String,
    pg_port: u16,
    mut up: watch::Receiver<bool>,
) {
    // PostgreSQL on a Unix socket (a DATABASE_URL with host=/path) or on TCP.
    let server: std::io::Result<Box<dyn Upstream>> = if host.starts_with('/') {
        UnixStream::connect(format!("{host}/.s.PGSQL.{pg_port}"))
            .await
            .map(|s| Box::new(s) as Box<dyn Upstream>)
    } else {
        TcpStream::connect((host.as_str(), pg_port))
            .await
            .map(|s| Box::new(s) as Box<dyn Upstream>)
    };
    let Ok(mut server) = server else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = up.wait_for(|u| !*u) => {}
    }
}

/// Starts `job` with a client-chosen id; answers status and body.
async fn start_with_id(
    app: &TestApp,
    job: &str,
    id: &str,
) -> (u16, serde_json::Value, Option<String>) {
    let resp = app
        .post_raw(
            "/api/v1/executions/start",
            Some(&app.ingest),
            json!({ "job": job, "id": id }).to_string(),
        )
        .await;
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = status_json(resp).await;
    (status, body, retry_after)
}

/// [`start_with_id`] once the database is back: the pool may still hold connections
/// the cut broke, and the first use of each finds out (that request answers 503).
async fn start_when_back(app: &TestApp, job: &str, id: &str) -> (u16, serde_json::Value) {
    let mut answer = start_with_id(app, job, id).await;
    for _ in 0..5 {
        if answer.0 != 503 {
            break;
        }
        answer = start_with_id(app, job, id).await;
    }
    (answer.0, answer.1)
}

#[sqlx::test(migrations = "../migrations")]
async fn an_outage_answers_503_changes_nothing_and_the_server_recovers(pool: PgPool) {
    let relay = Relay::start(&pool).await;
    let app = spawn_app(relay.pool(Duration::from_millis(500)).await).await;
    // One report while the database is there: the token is then known to the server.
    app.start("before-outage").await;
    app::db::users::create(
        &pool,
        "olga",
        "password-of-olga".into(),
        app::model::Role::Viewer,
    )
    .await
    .unwrap();
    let before = snapshot(&pool).await;

    relay.cut();
    // Reports queued together while the database is away are all refused at once.
    let began = Instant::now();
    let ids: Vec<String> = (0..16).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let answers = futures::future::join_all(
        ids.iter()
            .map(|id| start_with_id(&app, "during-outage", id)),
    )
    .await;
    let waited = began.elapsed();
    for (status, body, retry_after) in &answers {
        assert_eq!(*status, 503, "{body}");
        assert_eq!(error_code(body), "unavailable");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("try again"),
            "{body}"
        );
        assert_eq!(retry_after.as_deref(), Some("5"));
    }
    // One by one, 16 reports would take 16 pool timeouts (8 s); together they take a
    // few (the first report's batch, then the rest's).
    assert!(
        waited < Duration::from_secs(5),
        "16 queued reports took {waited:?} to be refused"
    );
    // Reads and a completion are refused the same way.
    let (status, body) = app.get("/api/v1/executions", &app.read).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (503, "unavailable"),
        "{body}"
    );
    let (status, body) = status_json(app.get_raw("/healthz", None).await).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (503, Some("database unavailable"))
    );
    // A person signing in is sent back to the form, which says what is wrong.
    let signing_in = app.sign_in("olga", "password-of-olga").await;
    assert_eq!(signing_in.status(), 303);
    let back = signing_in.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(back.starts_with("/login?error=unavailable"), "{back}");
    let form = app.get_raw(&back, None).await;
    assert_eq!(form.status(), 200);
    assert!(form
        .text()
        .await
        .unwrap()
        .contains("cronwatch cannot reach its database right now"));
    assert_eq!(
        snapshot(&pool).await,
        before,
        "an outage changed the database"
    );

    relay.restore().await;
    // The same reports, retried as their clients would, are written once each.
    for id in &ids {
        let answer = start_when_back(&app, "during-outage", id).await;
        assert_eq!(answer.0, 201, "{}", answer.1);
        let (again, ..) = start_with_id(&app, "during-outage", id).await;
        assert_eq!(again, 200);
    }
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from executions e join jobs j on j.id = e.job_id
         where j.name = 'during-outage'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored, 16);
    let (status, _) = status_json(app.get_raw("/healthz", None).await).await;
    assert_eq!(status, 200);
}

#[sqlx::test(migrations = "../migrations")]
async fn healthz_answers_before_a_probe_gives_up(pool: PgPool) {
    let relay = Relay::start(&pool).await;
    // A pool that would wait half a minute for a connection, as a busy server may.
    let app = spawn_app(relay.pool(Duration::from_secs(30)).await).await;
    assert_eq!(app.get_raw("/healthz", None).await.status(), 200);
    relay.cut();
    let began = Instant::now();
    let (status, body) = status_json(app.get_raw("/healthz", None).await).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        began.elapsed() < Duration::from_secs(15),
        "healthz took {:?}",
        began.elapsed()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn open_streams_stay_open_through_an_outage_and_carry_on(pool: PgPool) {
    let relay = Relay::start(&pool).await;
    // Streams re-check their token every 100 ms, so many checks fall in the outage.
    let pool_via_relay = relay.pool(Duration::from_millis(500)).await;
    let app = spawn_app_with(pool_via_relay, quick_recheck()).await;
    let mut stream = connect(&app, None).await;
    // The stream is live (past its first replay) once it has carried a report.
    let before = app.start("before-outage").await;
    assert_eq!(stream.next().await.data["data"]["id"], before["id"]);

    // Longer than a verified token is cached: the stream's re-checks then ask the
    // database, which does not answer. That is no reason to end the stream.
    relay.cut();
    tokio::time::sleep(app::db::tokens::TOKEN_CACHE_TTL + Duration::from_secs(1)).await;
    relay.restore().await;

    // The stream opened before the outage is still open, and a report written after it
    // reaches it: the server's LISTEN connection came back by itself.
    let id = uuid::Uuid::new_v4().to_string();
    let (status, body) = start_when_back(&app, "after-outage", &id).await;
    assert_eq!(status, 201, "{body}");
    let event = stream.next().await;
    assert_eq!(event.data["data"]["id"], id.as_str(), "{:?}", event);
}

/// Reports keep coming while the database goes away and comes back. The report writer
/// keeps one connection from batch to batch while it is busy, so the cut breaks it
/// mid-stream: it must not keep using it. Every report is answered (written, or 503),
/// nothing acknowledged is lost, and reports are written again once the database is
/// back, without restarting the server.
#[sqlx::test(migrations = "../migrations")]
async fn reports_streaming_through_an_outage_are_written_again_once_it_ends(pool: PgPool) {
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

    let relay = Relay::start(&pool).await;
    let app = spawn_app(relay.pool(Duration::from_millis(500)).await).await;
    app.start("streaming").await;
    // 0: before the cut, 1: cut, 2: restored.
    let phase = AtomicU8::new(0);
    let written_after = AtomicUsize::new(0);
    let stop = watch::channel(false).0;
    let client = || async {
        let mut answered = Vec::new();
        while !*stop.borrow() {
            let id = uuid::Uuid::new_v4().to_string();
            let (status, body, _) = start_with_id(&app, "streaming", &id).await;
            let during = phase.load(Ordering::SeqCst);
            if status == 201 && during == 2 {
                written_after.fetch_add(1, Ordering::SeqCst);
            }
            answered.push((id, status, body, during));
        }
        answered
    };
    let control = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        phase.store(1, Ordering::SeqCst);
        relay.cut();
        tokio::time::sleep(Duration::from_millis(700)).await;
        relay.restore().await;
        phase.store(2, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(15);
        while written_after.load(Ordering::SeqCst) < 8 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send_replace(true);
    };
    let (answers, ()) = tokio::join!(futures::future::join_all((0..8).map(|_| client())), control);
    let answers: Vec<_> = answers.into_iter().flatten().collect();

    let stored: std::collections::HashSet<String> = sqlx::query_scalar(
        "select e.id::text from executions e join jobs j on j.id = e.job_id
         where j.name = 'streaming'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let mut written = [0; 3];
    for (id, status, body, during) in &answers {
        match status {
            201 => {
                assert!(
                    stored.contains(id),
                    "run {id} was acknowledged but is not stored"
                );
                written[*during as usize] += 1;
            }
            503 => assert_eq!(error_code(body), "unavailable"),
            other => panic!("answered {other}: {body}"),
        }
    }
    assert!(written[0] > 0, "nothing was written before the cut");
    assert!(
        written[2] >= 8,
        "the writer did not write again once the database was back: {written:?}"
    );
    // Every run stored was sent, apart from the one started before the stream.
    let sent: std::collections::HashSet<&String> = answers.iter().map(|a| &a.0).collect();
    assert_eq!(stored.iter().filter(|id| !sent.contains(id)).count(), 1);
}
