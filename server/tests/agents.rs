//! `command` jobs and `cronwatch agent`: an agent (the real binary) claims their runs,
//! runs the command, and reports its end with the exit code, the output's tail and
//! its last JSON line; Cancel and the job's timeout kill the command; a stopped agent
//! reports its runs cancelled; a lost agent's runs end as failed; two agents never
//! take the same run; bad requests and definitions change nothing.

use std::time::Duration;

use crate::common;

use common::{error_code, snapshot, spawn_app, status_json, TestApp};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::process::{Child, Command};

/// Declares command job `name` running `argv`, with `extra` definition fields.
async fn command_job(app: &TestApp, name: &str, argv: &[&str], extra: Value) {
    let mut def = json!({ "kind": "command", "command": { "argv": argv } });
    for (k, v) in extra.as_object().unwrap() {
        match k.as_str() {
            "agent_tags" | "retries" | "retry_backoff_ms" => def["command"][k] = v.clone(),
            _ => def[k] = v.clone(),
        }
    }
    assert_eq!(app.put_job(name, &def).await, 201, "{def}");
}

/// `cronwatch agent --name NAME [ARGS]` reporting to `app` with its ingest token.
fn agent(app: &TestApp, name: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["agent", "--name", name])
        .args(args)
        .env("CRONWATCH_URL", &app.base)
        .env("CRONWATCH_TOKEN", &app.agent)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// An admin's Run now of `name`: the run it started.
async fn run_now(app: &TestApp, name: &str) -> String {
    let (status, run) = app
        .post(&format!("/api/v1/jobs/{name}/run"), &app.admin, &json!({}))
        .await;
    assert_eq!(status, 202, "{run}");
    run["id"].as_str().unwrap().to_string()
}

/// Claims a run for agent `agent` over HTTP as an agent would, waiting `wait_ms`.
async fn claim(app: &TestApp, agent: &str, tags: &[&str], wait_ms: i64) -> (u16, Value) {
    let body = json!({ "agent": agent, "tags": tags, "lease_ms": 2000, "wait_ms": wait_ms });
    let resp = app
        .post_raw("/api/v1/agent/claim", Some(&app.agent), body.to_string())
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn heartbeat(app: &TestApp, agent: &str, ids: &[&str]) -> Value {
    let body = json!({ "agent": agent, "executions": ids, "lease_ms": 2000 });
    let (status, answer) = app.post("/api/v1/agent/heartbeat", &app.agent, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// A request of the agent protocol that can be left to wait in a task of its own.
fn agent_post(
    app: &TestApp,
    path: &str,
    body: Value,
) -> impl std::future::Future<Output = (u16, Value)> + Send + 'static {
    let request = reqwest::Client::new()
        .post(app.url(path))
        .bearer_auth(&app.agent)
        .json(&body);
    async move {
        let resp = request.send().await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    }
}

/// Whether process `pid` is gone (or a zombie no one has reaped yet: it runs no more).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

/// Reads the pid a command wrote to `file`, waiting up to 10 s for it.
async fn pid_in(file: &std::path::Path) -> i32 {
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the command never wrote its pid to {file:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_agent_runs_command_jobs_and_reports_their_end(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let script = "echo hi; echo '{\"rows\": 3}'; exit 3";
    command_job(&app, "backup", &["sh", "-c", script], json!({})).await;
    let env = "echo \"$CRONWATCH_JOB attempt=$CRONWATCH_ATTEMPT token=${CRONWATCH_TOKEN:-none} \
               id=$CRONWATCH_EXECUTION_ID\"";
    command_job(&app, "report", &["sh", "-c", env], json!({})).await;
    command_job(&app, "missing", &["/nonexistent/program"], json!({})).await;
    let _agent = agent(&app, "box-1", &[]);

    // A failing command: its code, tail, JSON last line and the agent as its host.
    let id = run_now(&app, "backup").await;
    let done = app.ended(&id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["exit_code"], 3);
    assert_eq!(done["error_message"], "exited with code 3");
    assert!(
        done["log_tail"].as_str().unwrap().starts_with("hi\n"),
        "{done}"
    );
    assert_eq!(done["output"], json!({ "rows": 3 }));
    assert_eq!(done["host"], "box-1");
    assert_eq!(done["trigger"], "manual");
    assert!(done["duration_ms"].as_i64().unwrap() >= 0);

    // The command learns its run, not the agent's token.
    let id = run_now(&app, "report").await;
    let done = app.ended(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["log_tail"],
        format!("report attempt=1 token=none id={id}\n")
    );

    // A program that is not there fails as a shell would say.
    let id = run_now(&app, "missing").await;
    let done = app.ended(&id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["exit_code"], 127);
    assert!(done["error_message"]
        .as_str()
        .unwrap()
        .contains("could not start \"/nonexistent/program\""));

    // The scheduler fires a due command job; the agent runs it.
    command_job(
        &app,
        "nightly",
        &["echo", "scheduled"],
        json!({ "schedule": "0 3 * * *" }),
    )
    .await;
    sqlx::query("update jobs set next_run_at = now() - interval '1 second' where name = 'nightly'")
        .execute(&pool)
        .await
        .unwrap();
    let started = server::runner::scheduler::fire_due(&app.state)
        .await
        .unwrap();
    assert_eq!(started.len(), 1);
    let done = app.ended(&started[0].to_string()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["trigger"], "scheduled");
    assert_eq!(done["log_tail"], "scheduled\n");

    // A failed run is retried after its wait, with the next attempt number.
    command_job(
        &app,
        "flaky",
        &["sh", "-c", "echo attempt $CRONWATCH_ATTEMPT; exit 1"],
        json!({ "retries": 1, "retry_backoff_ms": 1000 }),
    )
    .await;
    let first = run_now(&app, "flaky").await;
    assert_eq!(app.ended(&first).await["status"], "failed");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let retried = server::runner::scheduler::fire_due(&app.state)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    let done = app.ended(&retried[0].to_string()).await;
    assert_eq!(done["trigger"], "retry");
    assert_eq!(done["attempt"], 2);
    assert_eq!(done["log_tail"], "attempt 2\n");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(server::runner::scheduler::fire_due(&app.state)
        .await
        .unwrap()
        .is_empty());

    // An admin's dashboard offers Run now for command jobs too, and the form runs one.
    let admin = common::signed_in(&app, &pool, "ann", app::model::Role::Admin).await;
    let html = common::monitoring_html(&app, &admin, &[]).await;
    assert!(
        html.contains("action=\"/monitoring/jobs/nightly/run\""),
        "{html}"
    );
    let resp = app.post_form(&admin, "/monitoring/jobs/nightly/run").await;
    assert_eq!(resp.status(), 303);
    let id: uuid::Uuid = sqlx::query_scalar(
        "select e.id from executions e join jobs j on j.id = e.job_id
          where j.name = 'nightly' and e.triggered_by = 'user:ann'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(app.ended(&id.to_string()).await["status"], "completed");

    // Ended runs leave the queue at the next sweep.
    server::background::sweep_once(&app.state).await.unwrap();
    let queued: i64 = sqlx::query_scalar("select count(*) from agent_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn cancel_timeout_and_a_stopping_agent_kill_the_command(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let dir = std::env::temp_dir().join(format!("cronwatch-agent-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = |n: &str| dir.join(n);
    // The shell starts sleep in the background and waits: a kill must reach the group.
    let sleeper = |file: &std::path::Path| {
        format!(
            "echo started; sleep 30 & echo $! > {}; wait",
            file.display()
        )
    };
    let (a, b, c, d) = (pidfile("a"), pidfile("b"), pidfile("c"), pidfile("d"));
    command_job(&app, "long", &["sh", "-c", &sleeper(&a)], json!({})).await;
    command_job(&app, "other", &["sh", "-c", &sleeper(&d)], json!({})).await;
    command_job(
        &app,
        "slow",
        &["sh", "-c", &sleeper(&b)],
        json!({ "timeout_ms": 1000 }),
    )
    .await;
    command_job(&app, "stopped", &["sh", "-c", &sleeper(&c)], json!({})).await;
    // A two-minute lease: heartbeats every 40 s, so only a heartbeat that waits on the
    // server for an end can kill a cancelled command within the 15 s allowed below.
    let mut agent_1 = agent(&app, "box-1", &["--lease", "120s"]);

    // Cancel: the run ends as cancelled at once, the agent kills the command within
    // moments, and its own report does not overwrite the cancel. "other" starts while
    // the agent's heartbeat for "long" waits on the server: it is asked again with
    // both, so cancelling the newer run reaches the agent too.
    let long = run_now(&app, "long").await;
    let long_pid = pid_in(&a).await;
    let other = run_now(&app, "other").await;
    let other_pid = pid_in(&d).await;
    for (id, pid) in [(&other, other_pid), (&long, long_pid)] {
        let (status, body) = app.cancel(id).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "cancelled");
        let mut waited = 0;
        while !gone(pid) && waited < 150 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        assert!(gone(pid), "the cancelled command still runs");
        if id == &other {
            assert!(!gone(long_pid), "cancelling one run stopped another");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in [&other, &long] {
        let done = app.ended(id).await;
        assert_eq!(done["status"], "cancelled");
        assert_eq!(done["error_message"], "cancelled by token:admin-test");
    }

    // Timeout: killed once its timeout passes, ended as timed out with its tail.
    let clock = std::time::Instant::now();
    let id = run_now(&app, "slow").await;
    let pid = pid_in(&b).await;
    let done = app.ended(&id).await;
    assert_eq!(done["status"], "timed_out", "{done}");
    assert_eq!(done["error_message"], "killed after its timeout of 1 s");
    assert_eq!(done["log_tail"], "started\n");
    assert!(clock.elapsed() < Duration::from_secs(15));
    assert!(gone(pid));

    // A stopped agent stops its commands and reports them cancelled before it exits.
    let id = run_now(&app, "stopped").await;
    let pid = pid_in(&c).await;
    let agent_pid = nix::unistd::Pid::from_raw(agent_1.id().unwrap() as i32);
    nix::sys::signal::kill(agent_pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(15), agent_1.wait())
        .await
        .expect("the agent did not exit")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(gone(pid));
    let done = app.ended(&id).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(
        done["error_message"],
        "the agent was stopped (SIGTERM) while the command ran"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn claims_are_exclusive_and_a_lost_agents_runs_end_as_failed(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    command_job(&app, "raw", &["true"], json!({})).await;
    let id = run_now(&app, "raw").await;

    // Two agents ask at once: one gets the run.
    let (one, two) = tokio::join!(claim(&app, "a1", &[], 0), claim(&app, "a2", &[], 0));
    let (holder, claimed) = match (one, two) {
        ((200, c), (204, _)) => ("a1", c),
        ((204, _), (200, c)) => ("a2", c),
        other => panic!("one claim should get the run: {other:?}"),
    };
    assert_eq!(
        claimed,
        json!({ "execution_id": id, "job": "raw", "argv": ["true"], "timeout_ms": null,
                "attempt": 1, "lease_ms": 2000 })
    );
    let (_, run) = app
        .get(&format!("/api/v1/executions/{id}"), &app.read)
        .await;
    assert_eq!(run["host"], holder);
    // The claim is news: the run, still running, now on its agent.
    let (kind, news) = common::last_event(&pool).await;
    assert_eq!(kind, "execution");
    assert_eq!(
        (
            &news["data"]["id"],
            &news["data"]["status"],
            &news["data"]["host"]
        ),
        (&json!(id), &json!("running"), &json!(holder))
    );
    assert_eq!(claim(&app, "a3", &[], 0).await.0, 204);

    // Heartbeats: the holder's renews; another agent is told to stop it.
    assert_eq!(heartbeat(&app, holder, &[&id]).await, json!({ "stop": [] }));
    assert_eq!(heartbeat(&app, "a3", &[&id]).await, json!({ "stop": [id] }));

    // The holder falls silent: past its lease, the sweeper ends the run as failed.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    server::background::sweep_once(&app.state).await.unwrap();
    let done = app.ended(&id).await;
    assert_eq!(done["status"], "failed");
    let why = done["error_message"].as_str().unwrap();
    assert!(
        why.starts_with(&format!(
            "agent {holder} was lost: it stopped renewing its lease"
        )),
        "{why}"
    );
    assert_eq!(
        heartbeat(&app, holder, &[&id]).await,
        json!({ "stop": [id] })
    );

    // Tags: a run that asks for gpu goes only to an agent that has it.
    command_job(&app, "train", &["true"], json!({ "agent_tags": ["gpu"] })).await;
    let id = run_now(&app, "train").await;
    assert_eq!(claim(&app, "cpu-box", &["linux"], 0).await.0, 204);
    let (status, claimed) = claim(&app, "gpu-box", &["linux", "gpu"], 0).await;
    assert_eq!(
        (status, claimed["execution_id"].as_str()),
        (200, Some(id.as_str()))
    );

    // A heartbeat may wait for one of its runs to end: it answers at its wait's end if
    // none did, and at once when one is cancelled meanwhile.
    let beat = |wait_ms: i64| {
        let body = json!({ "agent": "gpu-box", "executions": [id],
                           "lease_ms": 60000, "wait_ms": wait_ms });
        agent_post(&app, "/api/v1/agent/heartbeat", body)
    };
    let clock = std::time::Instant::now();
    assert_eq!(beat(300).await, (200, json!({ "stop": [] })));
    assert!(clock.elapsed() >= Duration::from_millis(300));
    let waiting = tokio::spawn(beat(30000));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = app.cancel(&id).await;
    assert_eq!(status, 200);
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting heartbeat was not woken by the cancel")
        .unwrap();
    assert_eq!(answer, (200, json!({ "stop": [id] })));

    // A waiting claim gets a run started while it waits.
    command_job(&app, "later", &["true"], json!({})).await;
    let body = json!({ "agent": "a4", "wait_ms": 10000 });
    let waiting = tokio::spawn(agent_post(&app, "/api/v1/agent/claim", body));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = run_now(&app, "later").await;
    let (status, claimed) = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting claim was not woken by the new run")
        .unwrap();
    assert_eq!(
        (status, claimed["execution_id"].as_str()),
        (200, Some(id.as_str()))
    );

    // A run no agent takes fails once it has waited as long as it may run.
    command_job(
        &app,
        "orphan",
        &["true"],
        json!({ "timeout_ms": 1000, "agent_tags": ["arm"] }),
    )
    .await;
    let id = run_now(&app, "orphan").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    server::background::sweep_once(&app.state).await.unwrap();
    let done = app.ended(&id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(
        done["error_message"],
        "no agent with the tags arm took the run within 1 s: start one with `cronwatch agent`"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_agent_requests_and_command_definitions_change_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    command_job(&app, "queued", &["true"], json!({})).await;
    run_now(&app, "queued").await;
    let before = snapshot(&pool).await;

    let ok = json!({ "agent": "a1", "wait_ms": 0 }).to_string();
    const CLAIM: &str = "/api/v1/agent/claim";
    const BEAT: &str = "/api/v1/agent/heartbeat";
    let (agent, read, ingest) = (
        Some(app.agent.as_str()),
        Some(app.read.as_str()),
        Some(app.ingest.as_str()),
    );
    let body = |v: Value| v.to_string();
    let refused: [(&str, Option<&str>, String, u16); 14] = [
        (CLAIM, None, ok.clone(), 401),
        (CLAIM, Some("wrong"), ok.clone(), 401),
        (CLAIM, read, ok.clone(), 403),
        // A cron script's token reports runs; it cannot take them.
        (CLAIM, ingest, ok.clone(), 403),
        (CLAIM, agent, "{\"agent\":".into(), 400),
        (
            CLAIM,
            agent,
            body(json!({ "agent": "Box 1", "wait_ms": 0 })),
            422,
        ),
        (
            CLAIM,
            agent,
            body(json!({ "agent": "a1", "lease_ms": 100 })),
            422,
        ),
        (
            CLAIM,
            agent,
            body(json!({ "agent": "a1", "wait_ms": 600000 })),
            422,
        ),
        (
            CLAIM,
            agent,
            body(json!({ "agent": "a1", "tags": ["GPU"] })),
            422,
        ),
        (
            CLAIM,
            agent,
            body(json!({ "agent": "a1", "host": "x" })),
            422,
        ),
        (
            BEAT,
            read,
            body(json!({ "agent": "a1", "executions": [] })),
            403,
        ),
        (
            BEAT,
            agent,
            body(json!({ "agent": "a1", "executions": ["nope"] })),
            422,
        ),
        // A wait past half the lease would let the lease lapse before the next beat.
        (
            BEAT,
            agent,
            body(json!({ "agent": "a1", "executions": [], "wait_ms": 15001 })),
            422,
        ),
        (
            BEAT,
            agent,
            body(json!({ "agent": "a1", "executions": [], "wait_ms": -1 })),
            422,
        ),
    ];
    for (path, token, body, want) in refused {
        let (status, answer) = status_json(app.post_raw(path, token, body.clone()).await).await;
        assert_eq!(status, want, "{path} {body}: {answer}");
        assert!(!error_code(&answer).is_empty(), "{answer}");
        assert_eq!(
            snapshot(&pool).await,
            before,
            "{path} {body} changed something"
        );
    }
    let ids: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let (status, _) = app
        .post(
            "/api/v1/agent/heartbeat",
            &app.agent,
            &json!({ "agent": "a1", "executions": ids }),
        )
        .await;
    assert_eq!(status, 422);

    let definitions = [
        (
            json!({ "kind": "command" }),
            "a command job needs command.argv",
        ),
        (
            json!({ "kind": "command", "command": { "argv": [] } }),
            "command.argv is empty",
        ),
        (
            json!({ "kind": "command", "command": { "argv": ["sh", "a\u{0}b"] } }),
            "NUL",
        ),
        (
            json!({ "kind": "command", "command": { "argv": ["true"], "retries": 11 } }),
            "command.retries",
        ),
        (
            json!({ "kind": "command", "command": { "argv": ["true"], "agent_tags": ["Big"] } }),
            "agent_tags",
        ),
        (
            json!({ "kind": "command", "command": { "argv": ["true"], "shell": true } }),
            "unknown field",
        ),
        (
            json!({ "kind": "http", "command": { "argv": ["true"] } }),
            "command is for jobs of kind \"command\"",
        ),
        (
            json!({ "kind": "command", "command": { "argv": ["true"] }, "http": { "url": "https://example.com" } }),
            "http is for jobs of kind \"http\"",
        ),
    ];
    for (def, says) in definitions {
        app.refused_definition("bad", &def, says).await;
    }
    assert_eq!(snapshot(&pool).await, before);

    // The agent refuses to start without what it needs, and says why.
    // (tokio's Command: the server answering the agent runs on this test's thread.)
    let no_token = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["agent", "--name", "a1"])
        .env("CRONWATCH_URL", &app.base)
        .env_remove("CRONWATCH_TOKEN")
        .output()
        .await
        .unwrap();
    assert_eq!(no_token.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("CRONWATCH_TOKEN is not set"));
    let ingest_token = Command::new(env!("CARGO_BIN_EXE_cronwatch"))
        .args(["agent", "--name", "a1"])
        .env("CRONWATCH_URL", &app.base)
        .env("CRONWATCH_TOKEN", &app.ingest)
        .output()
        .await
        .unwrap();
    assert_eq!(ingest_token.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&ingest_token.stderr).contains("403"));
    assert_eq!(snapshot(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_command_gets_its_parameters_in_its_environment_never_in_its_argv(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let marker = std::env::temp_dir().join(format!("cronwatch-param-{}", uuid::Uuid::new_v4()));
    let script = "printf '%s|%s|%s\\n' \"$CRONWATCH_PARAM_TARGET\" \"$CRONWATCH_PARAM_COUNT\" \
                  \"$CRONWATCH_PARAMS\"";
    let params = json!([
        { "name": "target", "required": true },
        { "name": "count", "type": "integer", "default": 2 }
    ]);
    command_job(
        &app,
        "sync",
        &["sh", "-c", script],
        json!({ "params": params }),
    )
    .await;
    let _agent = agent(&app, "box-p", &[]);

    // A value that a shell would run stays a value: the command prints it as given.
    let hostile = format!("$(touch {m}); touch {m}", m = marker.display());
    let body = json!({ "params": { "target": hostile } });
    let (status, run) = app.post("/api/v1/jobs/sync/run", &app.admin, &body).await;
    assert_eq!(status, 202, "{run}");
    let done = app.ended(run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let all = json!({ "target": hostile, "count": 2 });
    assert_eq!(done["log_tail"], format!("{hostile}|2|{all}\n"));
    assert_eq!(done["params"], all);
    assert!(!marker.exists(), "the value was never run");
    // Manual runs of command jobs are limited as those of http jobs are.
    let again = json!({ "params": { "target": "x" } });
    let (status, refused) = app.post("/api/v1/jobs/sync/run", &app.admin, &again).await;
    assert_eq!(status, 429, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("less than 30 s ago"),
        "{refused}"
    );

    // What a claim carries (raw, as an agent sees it): the values beside the argv. The
    // job asks for a tag the running agent lacks, so the raw claim takes it.
    let extra = json!({ "params": params, "agent_tags": ["raw"] });
    command_job(&app, "tagged", &["true"], extra).await;
    let body = json!({ "params": { "target": "b" } });
    let (status, run) = app.post("/api/v1/jobs/tagged/run", &app.admin, &body).await;
    assert_eq!(status, 202, "{run}");
    let (status, claim) = claim(&app, "box-raw", &["raw"], 5000).await;
    assert_eq!(status, 200, "{claim}");
    assert_eq!(claim["execution_id"], run["id"]);
    assert_eq!(claim["params"], json!({ "target": "b", "count": 2 }));
}
