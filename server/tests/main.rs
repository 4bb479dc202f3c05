//! Every integration test, in one test binary: each binary links the whole server in
//! release mode, so one binary instead of sixteen is minutes off every test run. Each
//! module is one area of behaviour; `common` is the harness they share.

mod common;

mod agents;
mod alerts;
mod audit_trail;
mod cli;
mod compat_api;
mod dashboard_empty_states;
mod dashboard_ping_urls;
mod dashboard_running;
mod database_outage;
mod demo;
mod embedded_postgres;
mod events_sse;
mod http_jobs;
mod ingest_api;
mod job_file;
mod jobs_api;
mod metrics;
mod odd_inputs;
mod ping_api;
mod ping_logs;
mod ping_runs;
mod read_api;
mod report_batches;
mod report_writer;
mod run_params;
mod run_wrapper;
mod schema_rules;
mod security_headers;
mod sessions;
mod sign_in;
mod sweeps;
mod users_cli;
