-- cronwatch schema. Forward-only: never edit a migration once it has landed.

-- Jobs: what runs. Unknown names reported by the ingest API are created as 'external'.
create table jobs (
    id bigint generated always as identity primary key,
    name text not null,
    display_name text not null,
    description text not null default '',
    kind text not null default 'external',
    schedule text,
    timezone text not null default 'UTC',
    enabled boolean not null default true,
    timeout_ms bigint,
    grace_ms bigint not null default 300000,
    estimated_duration_ms bigint,
    tags text[] not null default '{}',
    -- The Healthchecks-style ping credential; regenerable.
    ping_key uuid not null default gen_random_uuid(),
    -- Next expected start computed from the schedule (drives countdown and late detection).
    next_run_at timestamptz,
    -- Denormalised summary of the latest run, kept in the same transaction as each report.
    last_execution_id uuid,
    last_started_at timestamptz,
    last_status text,
    consecutive_failures integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint jobs_name_key unique (name),
    constraint jobs_ping_key_key unique (ping_key),
    constraint jobs_name_format check (name ~ '^[a-z0-9-]{1,64}$'),
    constraint jobs_kind_check check (kind in ('external', 'command', 'http')),
    constraint jobs_timeout_positive check (timeout_ms is null or timeout_ms > 0),
    constraint jobs_grace_nonnegative check (grace_ms >= 0)
);

create index jobs_next_run_at on jobs (next_run_at) where next_run_at is not null;

create table executions (
    id uuid primary key,
    job_id bigint not null references jobs (id) on delete cascade,
    status text not null,
    trigger text not null,
    triggered_by text,
    started_at timestamptz not null,
    completed_at timestamptz,
    duration_ms bigint,
    output jsonb,
    output_truncated boolean not null default false,
    error_message text,
    exit_code integer,
    log_tail text,
    attempt integer not null default 1,
    host text,
    scheduled_for timestamptz,
    -- Client-chosen run id (Healthchecks `rid`) pairing a start with its end.
    run_key text,
    constraint executions_status_check
        check (status in ('running', 'completed', 'failed', 'cancelled', 'timed_out')),
    constraint executions_trigger_check
        check (trigger in ('scheduled', 'manual', 'api', 'retry'))
);

-- Pairs a ping start with its end; most executions have no run key.
create unique index executions_run_key on executions (job_id, run_key) where run_key is not null;

-- Keyset pagination: newest first, id breaks ties.
create index executions_started on executions (started_at desc, id desc);
create index executions_job_started on executions (job_id, started_at desc, id desc);
-- Running executions are few: stuck detection and "running now" read only these.
create index executions_running on executions (started_at) where status = 'running';

-- Per job × hour × status counts, kept in the same transaction as every report.
-- The dashboard reads these, never the raw executions; they outlive retention.
create table execution_rollups (
    job_id bigint not null references jobs (id) on delete cascade,
    bucket timestamptz not null,
    status text not null,
    count bigint not null default 0,
    duration_sum_ms bigint not null default 0,
    duration_count bigint not null default 0,
    primary key (job_id, bucket, status)
);

create index execution_rollups_bucket on execution_rollups (bucket);

create table batch_queues (
    name text primary key,
    pending bigint not null default 0,
    processing bigint not null default 0,
    completed_today bigint not null default 0,
    failed_today bigint not null default 0,
    updated_at timestamptz not null default now(),
    constraint batch_queues_name_format check (name ~ '^[a-z0-9-]{1,64}$'),
    constraint batch_queues_counters_nonnegative
        check (pending >= 0 and processing >= 0 and completed_today >= 0 and failed_today >= 0)
);

create table users (
    id bigint generated always as identity primary key,
    username text not null,
    password_hash text not null,
    role text not null,
    created_at timestamptz not null default now(),
    constraint users_username_key unique (username),
    constraint users_role_check check (role in ('viewer', 'admin', 'super_admin'))
);

-- API tokens: only a SHA-256 of the secret is stored. `prefix` is the public part
-- used to find the row; the hash is then compared in constant time.
create table api_tokens (
    id bigint generated always as identity primary key,
    name text not null,
    prefix text not null,
    secret_hash bytea not null,
    scope text not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_tokens_prefix_key unique (prefix),
    constraint api_tokens_scope_check check (scope in ('ingest', 'read', 'admin'))
);

create table audit_events (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor text not null,
    action text not null,
    target text,
    source text,
    details jsonb not null default '{}'
);

create index audit_events_at on audit_events (at desc);

-- Change events, numbered in commit order: `seq` is assigned by cw_emit_events under
-- a transaction-level advisory lock held until commit, so a reader that has seen N
-- never later finds a smaller number. That makes Last-Event-ID resumption lossless.
create sequence events_seq;

create table events (
    seq bigint primary key,
    at timestamptz not null default now(),
    kind text not null,
    payload jsonb not null
);

create index events_at on events (at);
