//! The `cronwatch` server: HTTP API, live events, background sweeps, the runner of
//! `http` jobs, the private PostgreSQL, and the command-line tools. `main.rs` only dispatches.

pub mod admin_cli;
pub mod agent;
pub mod alerts;
pub mod background;
pub mod cli;
pub mod database;
pub mod demo;
pub mod embedded_pg;
pub mod http;
pub mod locks;
pub mod runner;
pub mod serve;
pub mod wrap;
