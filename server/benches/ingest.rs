//! Ingest and stats benchmark (`cargo bench -p server --bench ingest`).
//!
//! Starts the release `cronwatch` binary over a fresh database, then:
//! 1. start+complete pairs over HTTP on loopback with 8 and 32 concurrent clients
//!    (durable: synchronous_commit on; each client reports its own job, as separate
//!    crons do), next to `pgbench` one-row-insert TPS in the same database and run
//!    (the target), and, for scale, pgbench doing the writes of one start event with
//!    one transaction per event;
//! 2. the server's peak RSS under that load;
//! 3. `GET /api/v1/stats`, `/metrics` and filtered `/executions` latency with 1M
//!    executions loaded, and the server-rendered dashboard's;
//! 4. the design's ceiling: the writer's SQL function alone, a full batch per call, one
//!    call at a time (what the clients could reach if HTTP, server and client were free).
//!
//! Needs DATABASE_URL (a role that may create databases) and pgbench on PATH or
//! under /usr/lib/postgresql/*/bin. BENCH_SERVER_BIN runs another `cronwatch` binary.
//! Prints a table; asserts nothing (not a test).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use serde_json::json;

const SECONDS: u64 = 10;

fn main() {
    let admin_url = std::env::var("DATABASE_URL").expect("set DATABASE_URL");
    let db = format!("cronwatch_bench_{}", std::process::id());
    psql(&admin_url, &format!("create database {db}"));
    // Loopback without TLS, for cronwatch and pgbench alike: encryption on 127.0.0.1
    // would only measure rustls and OpenSSL.
    let url = format!(
        "{}/{db}?sslmode=disable",
        admin_url.rsplit_once('/').unwrap().0
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = std::panic::catch_unwind(|| run(&rt, &url));
    psql(
        &admin_url,
        &format!("drop database if exists {db} with (force)"),
    );
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn run(rt: &tokio::runtime::Runtime, url: &str) {
    // BENCH_SERVER_BIN compares another build (say, the previous commit's) on the same
    // machine and minute as this one.
    let bin_override = std::env::var("BENCH_SERVER_BIN").ok();
    let bin = bin_override
        .as_deref()
        .unwrap_or(env!("CARGO_BIN_EXE_cronwatch"));
    let mut server = Stopped(
        Command::new(bin)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", url)
            .env("CRONWATCH_ADMIN_PASSWORD", "bench-password")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(a) = line.strip_prefix("cronwatch listening on ") {
            break a.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let out = Command::new(bin)
        .args(["token", "create", "bench", "--scope", "admin"])
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    psql(url, "create table pgbench_one_row (id bigserial primary key, v int not null, at timestamptz not null default now())");
    // pgbench's events go to a table of the same shape, not to the server's live feed.
    psql(url, "insert into jobs (name, display_name) select 'pgbench-' || i, 'pgbench' from generate_series(0, 31) i");
    psql(
        url,
        "create table pgbench_events (like events including all)",
    );

    // The settings that move every figure below, cronwatch's and pgbench's alike (seen
    // on one machine: autovacuum off, so dead rows pile up from run to run).
    println!(
        "PostgreSQL {}",
        psql(
            url,
            "select string_agg(name || '=' || current_setting(name), ', ' order by name)
               from pg_settings where name in ('autovacuum', 'fsync', 'synchronous_commit',
                 'wal_sync_method', 'shared_buffers', 'server_version')"
        )
    );
    println!(
        "{:<10} {:>12} {:>12} {:>9} {:>9} {:>14} {:>8}",
        "clients", "events/s", "pairs/s", "p50 ms", "p99 ms", "pgbench tps", "ratio"
    );
    let mut pg_one_row = Vec::new();
    for clients in [8usize, 32] {
        let pg_tps = pgbench(url, clients, ONE_ROW);
        pg_one_row.push(pg_tps);
        let same_tps = pgbench(url, clients, SAME_WRITES);
        let writer_before = rt.block_on(writer_totals(&base, &token));
        let cpu_before = cpu_split(server.0.id());
        let (events, lat) = rt.block_on(load(&base, &token, clients));
        let cpu = cpu_split(server.0.id()).minus(&cpu_before);
        let writer = rt.block_on(writer_totals(&base, &token));
        let eps = events as f64 / SECONDS as f64;
        println!(
            "{:<10} {:>12.0} {:>12.0} {:>9.2} {:>9.2} {:>14.0} {:>8.2}",
            clients,
            eps,
            eps / 2.0,
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            pg_tps,
            eps / pg_tps
        );
        println!(
            "{:<10} pgbench doing one start event's writes, a transaction each: {:.0} tps (cronwatch {:.2}x that)",
            "",
            same_tps,
            eps / same_tps
        );
        // A build from before the writer's counters (BENCH_SERVER_BIN) has no such line.
        if let (Some(before), Some(after)) = (writer_before, writer) {
            let batches = after[0] - before[0];
            println!(
                "{:<10} writer: {:.1} reports a transaction, {:.2} ms a transaction (its busy share {:.0} %)",
                "",
                (after[1] - before[1]) / batches,
                (after[2] - before[2]) * 1000.0 / batches,
                (after[2] - before[2]) * 100.0 / SECONDS as f64
            );
        }
        let per = |ticks: u64| ticks as f64 * 10_000.0 / events as f64; // 100 ticks/s → µs
        println!(
            "{:<10} CPU µs per event: server {:.0}, postgres {:.0}, bench client {:.0}",
            "",
            per(cpu.server),
            per(cpu.postgres),
            per(cpu.client)
        );
    }
    println!(
        "server peak RSS: {:.1} MB",
        peak_rss_kb(server.0.id()) as f64 / 1024.0
    );

    // BENCH_INGEST_ONLY=1 skips the 1M rows (for quick before/after runs of the write path).
    if std::env::var_os("BENCH_INGEST_ONLY").is_none() {
        million(rt, bin, url, &base, &token, server.0.id());
    }
    // Last: its runs stay running, which would weigh on the stats measured above.
    // The ceiling of the design with HTTP, server and client for free: the database
    // work alone of a full batch (one per client: every client waits on its report),
    // one batch at a time as the single writer does. Starts only, the cheaper half.
    for (clients, pg_tps) in [8usize, 32].into_iter().zip(pg_one_row) {
        let batches = pgbench(url, 1, &apply_starts(clients));
        let ceiling = batches * clients as f64;
        println!(
            "{:<10} ceiling: cw_apply_plain_reports alone, {clients} starts a call, one call at a time: {ceiling:.0} reports/s ({:.2}x pgbench one-row)",
            clients,
            ceiling / pg_tps
        );
    }
}

/// The server under test, stopped however the run ends: one left running after a
/// panic would keep the bench's output pipe open and its database in use.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

/// Stats and page latency with 1M executions loaded, and the server's RSS after them.
fn million(
    rt: &tokio::runtime::Runtime,
    bin: &str,
    url: &str,
    base: &str,
    token: &str,
    server: u32,
) {
    // The pgbench reference script leaves its starts running (tens of thousands): they
    // are the reference's residue, not the 1M-execution history measured here, and
    // counting them would dominate `running_now`.
    psql(
        url,
        "delete from executions where job_id in (select id from jobs where name like 'pgbench-%')",
    );
    load_million(url);
    let percentiles = |what: &str, lat: &[f64]| {
        println!(
            "{what} over 1M executions: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
            pct(lat, 0.5),
            pct(lat, 0.95),
            pct(lat, 0.99)
        )
    };
    // The executions list with filters that match few of the rows (none are timed out
    // or manual) or an old window: each must read by index, not the history.
    let day = (chrono::Utc::now() - chrono::Duration::days(5)).format("%Y-%m-%d");
    for path in [
        "/api/v1/stats?hours=24".to_string(),
        "/api/v1/metrics".to_string(),
        "/api/v1/executions?status=timed_out".to_string(),
        "/api/v1/executions?trigger=manual".to_string(),
        "/api/v1/executions?job=load-3&status=failed".to_string(),
        format!("/api/v1/executions?from={day}&to={day}"),
    ] {
        percentiles(
            &format!("GET {path}"),
            &rt.block_on(read_latency(base, &path, token, 200)),
        );
    }
    let viewer = rt.block_on(signed_in_viewer(bin, url, base));
    let lat = rt.block_on(page_latency(&viewer, base, 200));
    percentiles("SSR GET /monitoring", &lat);
    println!(
        "server peak RSS after stats and pages: {:.1} MB",
        peak_rss_kb(server) as f64 / 1024.0
    );
    many_jobs(rt, url, base, token, &viewer);
}

/// The dashboard's reads with 2,000 jobs, each with 7 days of hourly rollups (every
/// reader of the 7-day timeline is O(jobs × hours), and must stay so, not jobs²).
fn many_jobs(
    rt: &tokio::runtime::Runtime,
    url: &str,
    base: &str,
    token: &str,
    viewer: &reqwest::Client,
) {
    psql(
        url,
        "insert into jobs (name, display_name, schedule, next_run_at, estimated_duration_ms)
         select 'many-' || g, 'Many ' || g, '*/5 * * * *', date_trunc('hour', now()) + interval '1 hour', 2000
           from generate_series(1, 2000) g;
         insert into execution_rollups (job_id, bucket, status, count, duration_sum_ms, duration_count)
         select j.id, date_trunc('hour', now()) - h * interval '1 hour', s.status, s.n, 2000 * s.n, s.n
           from jobs j, generate_series(0, 167) h, (values ('completed', 11), ('failed', 1)) s(status, n)
          where j.name like 'many-%';
         analyze",
    );
    let percentiles = |what: &str, lat: &[f64]| {
        println!(
            "{what} with 2,000 more jobs: p50 {:.1} ms, p95 {:.1} ms",
            pct(lat, 0.5),
            pct(lat, 0.95)
        )
    };
    for path in ["/api/v1/stats?hours=24", "/api/v1/metrics"] {
        percentiles(
            &format!("GET {path}"),
            &rt.block_on(read_latency(base, path, token, 20)),
        );
    }
    percentiles(
        "SSR GET /monitoring",
        &rt.block_on(page_latency(viewer, base, 20)),
    );
}

/// `clients` loops of start+complete for SECONDS; returns (requests, latencies in ms).
async fn load(base: &str, token: &str, clients: usize) -> (usize, Vec<f64>) {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let complete = Bytes::from(
        json!({ "status": "completed", "exit_code": 0, "output": { "analyzed_count": 100 } })
            .to_string(),
    );
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut conn = Connection::open(base, token).await;
        let start = Bytes::from(json!({ "job": format!("bench-{clients}-{c}") }).to_string());
        let complete = complete.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let (status, body) = conn.post("/api/v1/executions/start", start.clone()).await;
                assert_eq!(status, 201, "{body:?}");
                let started: Started = serde_json::from_slice(&body).unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                let t = Instant::now();
                let path = format!("/api/v1/executions/{}/complete", started.id);
                let (status, body) = conn.post(&path, complete.clone()).await;
                assert_eq!(status, 200, "{body:?}");
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (all.len(), all)
}

/// What the bench reads of a start's answer.
#[derive(serde::Deserialize)]
struct Started {
    id: String,
}

/// One load client's own HTTP/1.1 connection, kept for the whole run as each pgbench
/// client keeps its own. hyper's bare connection rather than reqwest's pooled client:
/// the load generator shares the machine's two cores with the server and PostgreSQL,
/// and reqwest took 59–67 µs of CPU per event of them, this 31–34.
struct Connection {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: HeaderValue,
    authorization: HeaderValue,
}

impl Connection {
    async fn open(base: &str, token: &str) -> Self {
        let host = base.strip_prefix("http://").expect("an http:// base");
        let stream = tokio::net::TcpStream::connect(host).await.unwrap();
        // As reqwest does: a request leaves at once, not after Nagle's delay.
        stream.set_nodelay(true).unwrap();
        let (send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Self {
            send,
            host: HeaderValue::from_str(host).unwrap(),
            authorization: HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        }
    }

    /// POSTs the JSON `body` to `path`; the answer's status and body.
    async fn post(&mut self, path: &str, body: Bytes) -> (u16, Bytes) {
        let request = hyper::Request::post(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .unwrap();
        self.send.ready().await.unwrap();
        let response = self.send.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    }
}

/// The server's report-writer counters from its metrics: batches, reports, busy
/// seconds; none from a build that does not count them.
async fn writer_totals(base: &str, token: &str) -> Option<[f64; 3]> {
    let text = reqwest::Client::new()
        .get(format!("{base}/api/v1/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sample = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
    };
    Some([
        sample("cronwatch_report_batches_total")?,
        sample("cronwatch_reports_written_total")?,
        sample("cronwatch_report_batches_busy_seconds_total")?,
    ])
}

/// `n` GETs of `path` one after another (after 10 to warm up); latencies in ms, sorted.
async fn read_latency(base: &str, path: &str, token: &str, n: usize) -> Vec<f64> {
    let client = reqwest::Client::new();
    let mut lat = Vec::new();
    for i in 0..n + 10 {
        let t = Instant::now();
        let r = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        if i >= 10 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    lat
}

/// A client signed in as a new viewer.
async fn signed_in_viewer(bin: &str, url: &str, base: &str) -> reqwest::Client {
    let mut add = Command::new(bin)
        .args([
            "user",
            "add",
            "bench-viewer",
            "--role",
            "viewer",
            "--password-stdin",
        ])
        .env("DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin
        .take()
        .unwrap()
        .write_all(b"bench-viewer-password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .post(format!("{base}/auth/login"))
        .header("origin", base)
        .form(&[
            ("username", "bench-viewer"),
            ("password", "bench-viewer-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["location"], "/monitoring");
    client
}

/// Server-side render time of the dashboard for `client`, a signed-in viewer: the whole
/// page, with its snapshot (KPIs, chart, jobs, 50 executions, batches) resolved on the
/// server.
async fn page_latency(client: &reqwest::Client, base: &str, n: usize) -> Vec<f64> {
    let mut lat = Vec::new();
    for i in 0..n + 10 {
        let t = Instant::now();
        let r = client
            .get(format!("{base}/monitoring"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        if i >= 10 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        assert!(
            body.contains("data-kpi=\"total\""),
            "the dashboard was rendered"
        );
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    lat
}

/// 1M executions over 7 days for the 9 demo-sized jobs, with their rollups.
fn load_million(url: &str) {
    let t = Instant::now();
    psql(url, "insert into jobs (name, display_name) select 'load-' || g, 'load ' || g from generate_series(1, 9) g on conflict do nothing");
    psql(
        url,
        "insert into executions (id, job_id, status, trigger, started_at, completed_at, duration_ms)
         select gen_random_uuid(), j.id,
                case when g % 10 = 0 then 'failed' else 'completed' end, 'scheduled',
                now() - (g * interval '604 milliseconds'), now() - (g * interval '604 milliseconds') + interval '2 seconds', 2000
         from generate_series(1, 1000000) g
         join jobs j on j.name = 'load-' || (1 + g % 9)",
    );
    psql(
        url,
        "insert into execution_rollups (job_id, bucket, status, count, duration_sum_ms, duration_count)
         select job_id, date_trunc('hour', started_at), status, count(*), sum(duration_ms), count(duration_ms)
         from executions where job_id in (select id from jobs where name like 'load-%') group by 1, 2, 3
         on conflict (job_id, bucket, status) do update set count = execution_rollups.count + excluded.count",
    );
    psql(url, "vacuum analyze");
    println!("loaded 1M executions in {:.1} s", t.elapsed().as_secs_f64());
}

/// The target's reference: one-row inserts, one transaction each.
const ONE_ROW: &str = "insert into pgbench_one_row (v) values (1);\n";

/// For scale: what one start event writes (execution row, rollup upsert, job summary,
/// change event), by pgbench, one transaction per event, each client on its own job.
const SAME_WRITES: &str = "begin;
insert into executions (id, job_id, status, trigger, started_at)
  select gen_random_uuid(), id, 'running', 'api', now() from jobs where name = 'pgbench-' || :client_id;
insert into execution_rollups as r (job_id, bucket, status, count)
  select id, date_trunc('hour', now(), 'UTC'), 'running', 1 from jobs where name = 'pgbench-' || :client_id
  on conflict (job_id, bucket, status) do update set count = r.count + 1;
update jobs set last_started_at = now(), last_status = 'running' where name = 'pgbench-' || :client_id;
insert into pgbench_events (seq, kind, payload) values (nextval('events_seq'), 'execution', '{}');
commit;
";

/// One call of the report writer's SQL function with `n` new starts, as the server's
/// writer sends them (typed arrays).
fn apply_starts(n: usize) -> String {
    let nulls = |t: &str| format!("array_fill(null::{t}, array[{n}])");
    format!(
        "select cw_apply_plain_reports(\
         (select array_agg(i::bigint) from generate_series(1, {n}) i), \
         (select array_agg(gen_random_uuid()) from generate_series(1, {n})), \
         array_fill('pgbench-0'::text, array[{n}]), array_fill('api'::text, array[{n}]), \
         {}, {}, {}, {}, array_fill(1, array[{n}]), \
         null, null, null, null, null, null, null, null, null, null);\n",
        nulls("text"),
        nulls("timestamptz"),
        nulls("text"),
        nulls("timestamptz"),
    )
}

fn pgbench(url: &str, clients: usize, sql: &str) -> f64 {
    let script = std::env::temp_dir().join(format!("cronwatch-pgbench-{}.sql", std::process::id()));
    std::fs::write(&script, sql).unwrap();
    let bin = pg_tool("pgbench");
    let out = Command::new(bin)
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
            "-T",
            &SECONDS.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| {
            panic!(
                "pgbench output: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn pg_tool(name: &str) -> String {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| name.to_string())
}

/// Runs `sql`; what it printed, unaligned and without headers.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        .output()
        .expect("psql on PATH");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (clock ticks) of the server, of all postgres processes, and of this process.
struct Cpu {
    server: u64,
    /// Per postgres process, so that processes that come and go do not skew the sum.
    postgres: std::collections::HashMap<String, u64>,
    client: u64,
}

struct CpuDelta {
    server: u64,
    postgres: u64,
    client: u64,
}

impl Cpu {
    fn minus(&self, o: &Cpu) -> CpuDelta {
        let postgres = self
            .postgres
            .iter()
            .map(|(pid, t)| t - o.postgres.get(pid).copied().unwrap_or(0))
            .sum();
        CpuDelta {
            server: self.server - o.server,
            postgres,
            client: self.client - o.client,
        }
    }
}

fn ticks(stat: &str) -> Option<(String, u64)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((
        comm,
        f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    ))
}

fn cpu_split(server: u32) -> Cpu {
    let read = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| ticks(&s))
    };
    let mut postgres = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.chars().all(|c| c.is_ascii_digit()) {
            if let Some((comm, t)) = read(&name) {
                if comm == "postgres" {
                    postgres.insert(name, t);
                }
            }
        }
    }
    Cpu {
        server: read(&server.to_string()).map_or(0, |x| x.1),
        postgres,
        client: read("self").map_or(0, |x| x.1),
    }
}
