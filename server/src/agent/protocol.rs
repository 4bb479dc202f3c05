//! What `cronwatch agent` and the server say to each other: the bodies of
//! `POST /api/v1/agent/claim` and `POST /api/v1/agent/heartbeat`. An agent reports a
//! run's end through the ingest API (`POST /api/v1/executions/{id}/complete`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Shortest and longest lease an agent may ask for, and the one it gets by default.
pub const LEASE_MS: std::ops::RangeInclusive<i64> = 2_000..=300_000;
pub const DEFAULT_LEASE_MS: i64 = 30_000;
/// Longest wait for a run that a claim may ask for, and the default.
pub const MAX_WAIT_MS: i64 = 60_000;
pub const DEFAULT_WAIT_MS: i64 = 25_000;

/// `POST /api/v1/agent/claim`: the oldest waiting run this agent may take, if one comes
/// within `wait_ms`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The agent's name, shown as the run's host: `[a-z0-9-]{1,64}`.
    pub agent: String,
    /// The agent's tags: it takes runs whose command asks for no tag it lacks.
    #[serde(default)]
    pub tags: Vec<String>,
    /// How long the run is held without a heartbeat before it counts as lost.
    pub lease_ms: Option<i64>,
    /// How long to wait for a run before answering 204.
    pub wait_ms: Option<i64>,
}

/// The answer to a claim that got a run: what to execute, and for how long at most.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub execution_id: Uuid,
    pub job: String,
    pub argv: Vec<String>,
    /// Kill the command after this long (the job's timeout), if set.
    pub timeout_ms: Option<i64>,
    pub attempt: i32,
    /// Renew the lease (heartbeat) well within this.
    pub lease_ms: i64,
    /// The values of the job's parameters, for a job that declares any: the command
    /// gets each as `CRONWATCH_PARAM_<NAME>`, and all as `CRONWATCH_PARAMS` (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<app::params::Params>,
}

/// `POST /api/v1/agent/heartbeat`: the runs this agent is executing; their leases are
/// renewed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub agent: String,
    pub executions: Vec<Uuid>,
    pub lease_ms: Option<i64>,
    /// How long the answer may wait for one of the runs to end (a long poll), so that
    /// a cancelled command is killed at once rather than at the next heartbeat. At
    /// most half the lease: the next heartbeat must renew it in time. 0 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<i64>,
}

/// The answer: of the runs named, those to stop now (cancelled, ended by the sweeper,
/// or no longer this agent's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatAnswer {
    pub stop: Vec<Uuid>,
}
