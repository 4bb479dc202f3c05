//! `cronwatch serve`: open the database, start the background tasks, serve HTTP, and
//! shut everything down cleanly on SIGINT/SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;

use app::db::tokens::TokenCache;
use app::state::{AppState, Config, EventHub, Shared};
use app::throttle::LoginThrottle;
use app::writer::ReportWriter;

use crate::cli::ServeArgs;
use crate::database::Database;
use crate::{admin_cli, alerts, background, demo, http, runner};

/// Where the built site (WASM, CSS, echarts) lives: `CRONWATCH_SITE_ROOT`, else
/// `site/` beside the binary's target folder (`target/site` for a cargo build).
fn site_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CRONWATCH_SITE_ROOT") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|target| target.join("site")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("target/site"))
}

/// The Leptos options the shell needs: the WASM bundle is `/pkg/cronwatch.{js,wasm}`.
pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("cronwatch")
        .site_root(site_root().to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .build()
}

/// Builds the state over `pool` that the router and the background tasks share, and
/// starts the tasks that live as long as it: the report writer, and the listener that
/// stops cancelled runs' calls.
pub fn state(pool: sqlx::PgPool, config: Config) -> AppState {
    let hub = EventHub::new();
    let state = AppState::new(Shared {
        leptos_options: leptos_options(),
        writer: ReportWriter::spawn(pool.clone()),
        tokens: TokenCache::default(),
        login_throttle: LoginThrottle::new(config.sign_ins_per_address),
        calls: Default::default(),
        pool,
        hub,
        config,
    });
    tokio::spawn(runner::stop_cancelled_calls(state.clone()));
    state
}

pub async fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let pool_size = std::env::var("CRONWATCH_DB_POOL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let database = Database::open(&args.db, pool_size).await?;
    admin_cli::bootstrap_admin(&database.pool).await?;
    if let Some(file) = &args.jobs {
        let options = admin_cli::job_file::SyncOptions::default();
        admin_cli::job_file::sync(&database.pool, file, options).await?;
    }
    // The demo's `http` jobs call this server's demo endpoint with its secret.
    let demo = args.demo.then(demo::DemoEndpoint::new);
    let secrets = std::env::vars().chain(demo.as_ref().map(demo::DemoEndpoint::secret_pair));
    let config = Config {
        secure_cookies: args.secure_cookies,
        session_idle: args.session_idle,
        retention_days: args.retention_days,
        sign_ins_per_address: args.sign_ins_per_address,
        job_secrets: app::http_call::JobSecrets::from_pairs(secrets),
        ..Config::default()
    };
    let state = state(database.pool.clone(), config);
    let hub = state.hub.clone();
    let for_shutdown = state.clone();
    let pump = background::spawn_event_pump(state.clone()).await?;
    let sweeper = tokio::spawn(background::run_sweeper(
        state.clone(),
        Duration::from_secs(10),
    ));
    let scheduler = tokio::spawn(runner::scheduler::run(
        state.clone(),
        Duration::from_secs(1),
    ));
    let alerts = tokio::spawn(alerts::run(
        database.pool.clone(),
        args.alerts.webhook(),
        Duration::from_secs(10),
        chrono::TimeDelta::days(args.retention_days),
    ));

    let listener = TcpListener::bind(&args.bind).await?;
    let addr = listener.local_addr()?;
    let feeder = if demo.is_some() {
        let base = demo::loopback_url(addr);
        let installed = demo::install(&database.pool, &base).await?;
        Some(tokio::spawn(demo::feed(state.clone(), base, installed)))
    } else {
        None
    };
    println!("cronwatch listening on http://{addr}");
    let mut router = http::router(state);
    if let Some(endpoint) = demo {
        router = router.merge(endpoint.router());
    }
    // Connect info gives sign-in throttling the client's address.
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // On the signal, live streams are told to end (see `http::events`), so the graceful
    // shutdown waits only for requests in flight.
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        hub.close();
    });
    tokio::select! {
        r = server => r?,
        // A request that does not finish (a client that stopped reading) gets 3 s.
        _ = async { shutdown_signal().await; tokio::time::sleep(Duration::from_secs(3)).await } => {}
    }
    scheduler.abort();
    runner::end_calls_in_flight(&for_shutdown, Duration::from_secs(5)).await;
    pump.abort();
    sweeper.abort();
    alerts.abort();
    if let Some(f) = feeder {
        f.abort();
    }
    database.close().await;
    println!("cronwatch stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
