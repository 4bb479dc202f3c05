//! Jobs: definitions, lookup by name, and the latest-run summary kept on each row.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::events;
use crate::db::executions::MAX_DURATION_MS;
use crate::error::ApiError;
use crate::model::{
    name_order, ChangeEvent, CommandSpec, ExecutionStatus, HttpCall, Job, JobKind, JobRemoval,
    DASHBOARD_HOURS,
};
use crate::params::ParamSpec;
use crate::schedule::Schedule;
use crate::validate::{is_valid_name, refuse_nul};

/// Body of `PUT /api/v1/jobs/{name}`: the whole definition (replaces what was there).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDefinition {
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub kind: JobKind,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub timeout_ms: Option<i64>,
    pub grace_ms: Option<i64>,
    pub estimated_duration_ms: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// How cronwatch calls it; required for (and only for) kind `http`.
    #[serde(default)]
    pub http: Option<HttpCall>,
    /// What an agent runs; required for (and only for) kind `command`.
    #[serde(default)]
    pub command: Option<CommandSpec>,
    /// The parameters a run may be given (only jobs cronwatch runs take any).
    #[serde(default)]
    pub params: Vec<ParamSpec>,
}

fn yes() -> bool {
    true
}

/// The grace a job gets when its definition gives none (5 minutes).
pub const DEFAULT_GRACE_MS: i64 = 300_000;

impl JobDefinition {
    /// Checks every field; returns the parsed schedule, if any.
    fn validate(&self) -> Result<Option<Schedule>, ApiError> {
        // At most a year, as for reported durations: a run's start plus its timeout
        // (or grace, or 3× estimate) must still be a date, or every read that asks
        // "is it stuck or late?" fails.
        let within = |v: Option<i64>, min: i64, what: &str| match v {
            Some(n) if !(min..=MAX_DURATION_MS).contains(&n) => Err(ApiError::Invalid(format!(
                "{what} must be between {min} and {MAX_DURATION_MS} (a year, in ms)"
            ))),
            _ => Ok(()),
        };
        within(self.timeout_ms, 1, "timeout_ms")?;
        within(self.estimated_duration_ms, 1, "estimated_duration_ms")?;
        within(self.grace_ms, 0, "grace_ms")?;
        if self
            .display_name
            .as_ref()
            .is_some_and(|d| d.chars().count() > 200)
        {
            return Err(ApiError::Invalid(
                "display_name is longer than 200 characters".into(),
            ));
        }
        for (what, text) in [
            ("display_name", self.display_name.as_deref().unwrap_or("")),
            ("description", &self.description),
        ] {
            refuse_nul(what, text).map_err(ApiError::Invalid)?;
        }
        if self.description.chars().count() > 2000 {
            return Err(ApiError::Invalid(
                "description is longer than 2000 characters".into(),
            ));
        }
        if self.tags.len() > 32 || self.tags.iter().any(|t| !is_valid_name(t)) {
            return Err(ApiError::Invalid(
                "tags: at most 32, each [a-z0-9-]{1,64}".into(),
            ));
        }
        // Each kind's own part, and only its own: a part of another kind is a mistake.
        for (part, given, kind) in [
            ("http", self.http.is_some(), JobKind::Http),
            ("command", self.command.is_some(), JobKind::Command),
        ] {
            if given && self.kind != kind {
                return Err(ApiError::Invalid(format!(
                    "{part} is for jobs of kind \"{part}\" (this one is {:?}): set kind = \"{part}\"",
                    self.kind.as_str()
                )));
            }
        }
        match (self.kind, &self.http, &self.command) {
            (JobKind::Http, None, _) => {
                return Err(ApiError::Invalid(
                    "an http job needs http.url: the URL cronwatch POSTs to".into(),
                ))
            }
            (JobKind::Http, Some(call), _) => {
                crate::http_call::check(call).map_err(ApiError::Invalid)?
            }
            (JobKind::Command, _, None) => {
                return Err(ApiError::Invalid(
                    "a command job needs command.argv: the program an agent runs".into(),
                ))
            }
            (JobKind::Command, _, Some(spec)) => {
                crate::command_spec::check(spec).map_err(ApiError::Invalid)?
            }
            (JobKind::External, ..) => {}
        }
        if !self.params.is_empty() && self.kind == JobKind::External {
            return Err(ApiError::Invalid(
                "params are for jobs cronwatch runs (kind \"http\" or \"command\"): an \
                 external job starts itself and is given none"
                    .into(),
            ));
        }
        crate::params::check_specs(&self.params, self.schedule.is_some())
            .map_err(ApiError::Invalid)?;
        let tz = self.timezone.as_deref().unwrap_or("UTC");
        match &self.schedule {
            Some(expr) => Schedule::parse(expr, tz)
                .map(Some)
                .map_err(ApiError::Invalid),
            None if self.timezone.is_some() => {
                // A zone alone is harmless but probably a mistake worth reporting.
                tz.parse::<chrono_tz::Tz>()
                    .map(|_| None)
                    .map_err(|_| ApiError::Invalid(format!("unknown time zone {tz:?}")))
            }
            None => Ok(None),
        }
    }

    /// The display name, time zone and grace this definition gives job `name`, with
    /// the defaults filled in: what is stored, and what a stored job is compared with.
    fn resolved(&self, name: &str) -> (String, String, i64) {
        (
            self.display_name
                .clone()
                .unwrap_or_else(|| name.to_string()),
            self.timezone.clone().unwrap_or_else(|| "UTC".into()),
            self.grace_ms.unwrap_or(DEFAULT_GRACE_MS),
        )
    }

    /// Whether `job` already holds exactly this definition.
    fn is_held_by(&self, job: &Job) -> bool {
        let (display_name, timezone, grace_ms) = self.resolved(&job.name);
        job.display_name == display_name
            && job.description == self.description
            && job.kind == self.kind
            && job.schedule == self.schedule
            && job.timezone == timezone
            && job.enabled == self.enabled
            && job.timeout_ms == self.timeout_ms
            && job.grace_ms == grace_ms
            && job.estimated_duration_ms == self.estimated_duration_ms
            && job.tags == self.tags
            && job.http == self.http
            && job.command.as_deref() == self.command.as_ref()
            && job.params == self.params
    }
}

impl From<&Job> for JobDefinition {
    /// The definition `job` holds now.
    fn from(job: &Job) -> Self {
        JobDefinition {
            display_name: Some(job.display_name.clone()),
            description: job.description.clone(),
            kind: job.kind,
            schedule: job.schedule.clone(),
            timezone: Some(job.timezone.clone()),
            enabled: job.enabled,
            timeout_ms: job.timeout_ms,
            grace_ms: Some(job.grace_ms),
            estimated_duration_ms: job.estimated_duration_ms,
            tags: job.tags.clone(),
            http: job.http.clone(),
            command: job.command.as_deref().cloned(),
            params: job.params.clone(),
        }
    }
}

/// What [`declare`] did to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Declared {
    Created,
    Replaced,
    /// It already had this definition: nothing was written, no event, no audit.
    Unchanged,
}

impl Declared {
    pub fn as_str(self) -> &'static str {
        match self {
            Declared::Created => "created",
            Declared::Replaced => "replaced",
            Declared::Unchanged => "unchanged",
        }
    }

    /// The audit trail's name for the change; none when nothing changed.
    pub fn audit_action(self) -> Option<&'static str> {
        match self {
            Declared::Created => Some("job.create"),
            Declared::Replaced => Some("job.replace"),
            Declared::Unchanged => None,
        }
    }
}

/// [`put`], unless job `name` already has this definition (a declaration file synced
/// at every start rewrites nothing that did not change).
pub async fn declare(
    tx: &mut PgConnection,
    name: &str,
    def: JobDefinition,
) -> Result<(Job, Declared), ApiError> {
    if let Some(row) = find_by_name(&mut *tx, name).await? {
        let job = row.into_wire();
        if def.is_held_by(&job) {
            return Ok((job, Declared::Unchanged));
        }
    }
    let (job, created) = put(tx, name, def).await?;
    Ok((
        job,
        if created {
            Declared::Created
        } else {
            Declared::Replaced
        },
    ))
}

/// Locks job `name`'s row for the caller's transaction; its id, or 404.
async fn lock(tx: &mut PgConnection, name: &str) -> Result<i64, ApiError> {
    if !is_valid_name(name) {
        return Err(not_found(name));
    }
    sqlx::query_scalar!("select id from jobs where name = $1 for update", name)
        .fetch_optional(tx)
        .await?
        .ok_or_else(|| not_found(name))
}

/// Pauses (`enabled` false: no run is expected, so it is never late) or resumes job
/// `name`, keeping the rest of its definition; resumed, it is expected at its next
/// scheduled time from now. Unchanged if it already was so. 404 for no such job.
pub async fn set_enabled(
    tx: &mut PgConnection,
    name: &str,
    enabled: bool,
) -> Result<(Job, Declared), ApiError> {
    // Locked first: a definition replaced meanwhile is not written back over.
    lock(&mut *tx, name).await?;
    let mut def = JobDefinition::from(&get(&mut *tx, name).await?);
    def.enabled = enabled;
    declare(tx, name, def).await
}

/// The columns every read of a job selects, mapped by [`JobRow::into_wire`].
pub struct JobRow {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub kind: String,
    pub schedule: Option<String>,
    pub timezone: String,
    pub enabled: bool,
    pub timeout_ms: Option<i64>,
    pub grace_ms: i64,
    pub estimated_duration_ms: Option<i64>,
    pub tags: Vec<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_execution_id: Option<Uuid>,
    pub last_started_at: Option<DateTime<Utc>>,
    pub last_status: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub consecutive_failures: i32,
    pub ping_key: Uuid,
    pub http: Option<serde_json::Value>,
    pub command: Option<serde_json::Value>,
    pub params: Option<serde_json::Value>,
}

impl JobRow {
    pub fn into_wire(self) -> Job {
        Job {
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            kind: JobKind::parse(&self.kind).unwrap_or_default(),
            schedule: self.schedule,
            timezone: self.timezone,
            enabled: self.enabled,
            timeout_ms: self.timeout_ms,
            grace_ms: self.grace_ms,
            estimated_duration_ms: self.estimated_duration_ms,
            tags: self.tags,
            next_run_at: self.next_run_at,
            last_execution_id: self.last_execution_id,
            last_started_at: self.last_started_at,
            last_status: self.last_status.as_deref().and_then(ExecutionStatus::parse),
            last_duration_ms: self.last_duration_ms,
            consecutive_failures: self.consecutive_failures,
            http: self.http.and_then(|v| serde_json::from_value(v).ok()),
            command: self.command.and_then(|v| serde_json::from_value(v).ok()),
            params: self
                .params
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
        }
    }
}

/// Finds a job by name, for update.
pub async fn find_by_name(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as!(
        JobRow,
        "select id, name, display_name, description, kind, schedule, timezone, enabled,
                timeout_ms, grace_ms, estimated_duration_ms, tags, next_run_at,
                last_execution_id, last_started_at, last_status, consecutive_failures, ping_key, http, command, params,
                (select e.duration_ms from executions e where e.id = jobs.last_execution_id)
                    as last_duration_ms
         from jobs where name = $1",
        name
    )
    .fetch_optional(conn)
    .await
}

/// Finds a job by its ping key (the Healthchecks-style credential).
pub async fn find_by_ping_key(pool: &PgPool, key: Uuid) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as!(
        JobRow,
        "select id, name, display_name, description, kind, schedule, timezone, enabled,
                timeout_ms, grace_ms, estimated_duration_ms, tags, next_run_at,
                last_execution_id, last_started_at, last_status, consecutive_failures, ping_key, http, command, params,
                (select e.duration_ms from executions e where e.id = jobs.last_execution_id)
                    as last_duration_ms
         from jobs where ping_key = $1",
        key
    )
    .fetch_optional(pool)
    .await
}

/// The id of job `name`, creating it as an `external` job on first report.
pub async fn ensure(conn: &mut PgConnection, name: &str) -> Result<i64, ApiError> {
    if !is_valid_name(name) {
        return Err(ApiError::Invalid(format!(
            "job name {name:?} is invalid: use 1 to 64 of a-z, 0-9 and '-'"
        )));
    }
    if let Some(id) = sqlx::query_scalar!("select id from jobs where name = $1", name)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(id);
    }
    let inserted = sqlx::query_scalar!(
        "insert into jobs (name, display_name) values ($1::text, $1)
         on conflict (name) do nothing returning id",
        name
    )
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        // Lost a race with a concurrent first report: the row exists now.
        None => Ok(
            sqlx::query_scalar!("select id from jobs where name = $1", name)
                .fetch_one(&mut *conn)
                .await?,
        ),
    }
}

/// All jobs, by name ([`name_order`]).
pub async fn list(pool: &PgPool) -> Result<Vec<Job>, sqlx::Error> {
    let rows = sqlx::query_as!(
        JobRow,
        "select id, name, display_name, description, kind, schedule, timezone, enabled,
                timeout_ms, grace_ms, estimated_duration_ms, tags, next_run_at,
                last_execution_id, last_started_at, last_status, consecutive_failures, ping_key, http, command, params,
                (select e.duration_ms from executions e where e.id = jobs.last_execution_id)
                    as last_duration_ms
         from jobs"
    )
    .fetch_all(pool)
    .await?;
    let mut jobs: Vec<Job> = rows.into_iter().map(JobRow::into_wire).collect();
    jobs.sort_by(|a, b| name_order(&a.name, &b.name));
    Ok(jobs)
}

/// Creates or replaces job `name`; returns it and whether it was new. Runs in the
/// caller's transaction (with its audit record); records the change event, so the
/// caller commits right after.
pub async fn put(
    tx: &mut PgConnection,
    name: &str,
    def: JobDefinition,
) -> Result<(Job, bool), ApiError> {
    if !is_valid_name(name) {
        return Err(ApiError::Invalid(format!(
            "job name {name:?} is invalid: use 1 to 64 of a-z, 0-9 and '-'"
        )));
    }
    let schedule = def.validate()?;
    let next_run_at = schedule.as_ref().and_then(|s| s.next_after(Utc::now()));
    let (display_name, timezone, grace_ms) = def.resolved(name);
    // The expected start is kept while the schedule, zone and pause stay as they were:
    // editing a description must not excuse a run that is late.
    let row = sqlx::query!(
        "insert into jobs (name, display_name, description, kind, schedule, timezone, enabled,
                           timeout_ms, grace_ms, estimated_duration_ms, tags, next_run_at, http, command,
                           params)
         values ($1::text, $2, $3, $4::text, $5, $6, $7, $8::bigint, $9::bigint, $10::bigint, $11, $12, $13,
                 $14, $15)
         on conflict (name) do update set
           display_name = excluded.display_name, description = excluded.description,
           kind = excluded.kind, schedule = excluded.schedule, timezone = excluded.timezone,
           enabled = excluded.enabled, timeout_ms = excluded.timeout_ms,
           grace_ms = excluded.grace_ms, estimated_duration_ms = excluded.estimated_duration_ms,
           tags = excluded.tags, http = excluded.http, command = excluded.command,
           params = excluded.params, updated_at = now(),
           next_run_at = case when jobs.schedule is not distinct from excluded.schedule
                                   and jobs.timezone = excluded.timezone
                                   and jobs.enabled = excluded.enabled
                              then jobs.next_run_at else excluded.next_run_at end
         returning (xmax = 0) as \"created!\"",
        name,
        display_name,
        def.description,
        def.kind.as_str(),
        def.schedule,
        timezone,
        def.enabled,
        def.timeout_ms,
        grace_ms,
        def.estimated_duration_ms,
        &def.tags,
        next_run_at,
        def.http
            .as_ref()
            .map(|c| serde_json::to_value(c).unwrap_or_default()),
        def.command
            .as_ref()
            .map(|c| serde_json::to_value(c).unwrap_or_default()),
        (!def.params.is_empty()).then(|| serde_json::to_value(&def.params).unwrap_or_default()),
    )
    .fetch_one(&mut *tx)
    .await?;
    let job = find_by_name(&mut *tx, name)
        .await?
        .ok_or_else(|| ApiError::Internal("job vanished inside its transaction".into()))?
        .into_wire();
    events::record(&mut *tx, &ChangeEvent::Job(job.clone())).await?;
    Ok((job, row.created))
}

/// Job `name` as the API shows it; 404 if there is none (or the name is impossible).
pub async fn get(conn: &mut PgConnection, name: &str) -> Result<Job, ApiError> {
    if !is_valid_name(name) {
        return Err(not_found(name));
    }
    Ok(find_by_name(conn, name)
        .await?
        .ok_or_else(|| not_found(name))?
        .into_wire())
}

/// The answer for a job name that names no job.
pub fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("no job is called {name:?}"))
}

/// Job `name`'s ping key, or with `regenerate` a new one (the old one stops working
/// at commit). The key is the credential of `/ping/{key}`: admins only.
pub async fn ping_key(
    conn: &mut PgConnection,
    name: &str,
    regenerate: bool,
) -> Result<Uuid, ApiError> {
    if !is_valid_name(name) {
        return Err(not_found(name));
    }
    let key = if regenerate {
        sqlx::query_scalar!(
            "update jobs set ping_key = gen_random_uuid(), updated_at = now()
             where name = $1 returning ping_key",
            name
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_scalar!("select ping_key from jobs where name = $1", name)
            .fetch_optional(conn)
            .await?
    };
    key.ok_or_else(|| not_found(name))
}

/// Every job's ping key, by job name: what the dashboard shows admins.
pub async fn ping_keys(pool: &PgPool) -> Result<Vec<(String, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!("select name, ping_key from jobs")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.ping_key)).collect())
}

/// Deletes job `name` with all its executions and rollups, in the caller's transaction;
/// records the change event, so the caller commits right after. Reports that later
/// name the job create it afresh; those for its deleted executions get 404. Its alerts
/// stay, unlinked: the next evaluation ends the open ones and announces that.
pub async fn delete(tx: &mut PgConnection, name: &str) -> Result<JobRemoval, ApiError> {
    let id = lock(&mut *tx, name).await?;
    // What it counted for, as `stats::compute` counts: runs and failures from the
    // rollups of the window, running ones from the executions.
    let counts = sqlx::query!(
        r#"select
             (select count(*) from executions where job_id = $1) as "executions!",
             (select count(*) from executions where job_id = $1 and status = 'running') as "running!",
             coalesce(sum(count), 0)::bigint as "total!",
             coalesce(sum(count) filter (where status in ('failed', 'timed_out')), 0)::bigint
               as "failures!"
           from execution_rollups
           where job_id = $1 and bucket >= date_trunc('hour', now() - make_interval(hours => $2::int))"#,
        id,
        DASHBOARD_HOURS as i32
    )
    .fetch_one(&mut *tx)
    .await?;
    // Executions and rollups go with it (on delete cascade).
    sqlx::query!("delete from jobs where id = $1", id)
        .execute(&mut *tx)
        .await?;
    let removal = JobRemoval {
        name: name.to_string(),
        executions: counts.executions,
        running: counts.running,
        hours: DASHBOARD_HOURS,
        total: counts.total,
        failures: counts.failures,
    };
    events::record(&mut *tx, &ChangeEvent::JobDeleted(removal.clone())).await?;
    Ok(removal)
}
