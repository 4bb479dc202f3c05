-- How an agent runs a `command` job: {argv, agent_tags?, retries?, retry_backoff_ms?}.
-- Null for other kinds.
alter table jobs add column command jsonb;

-- The runs of command jobs waiting for an agent or held by one. A row is made with the
-- run (in its transaction) and taken by one agent (`for update skip locked`), which
-- renews its lease while the command runs; a run whose lease lapses ended with its
-- agent. What to run is copied in: a job redefined meanwhile does not change a run
-- already started. Rows of ended runs are deleted by the sweeper.
create table agent_runs (
    execution_id uuid primary key references executions (id) on delete cascade,
    job_id bigint not null references jobs (id) on delete cascade,
    argv text[] not null,
    agent_tags text[] not null default '{}',
    timeout_ms bigint,
    queued_at timestamptz not null default now(),
    agent text,
    claimed_at timestamptz,
    lease_expires_at timestamptz,
    constraint agent_runs_claimed_check
        check ((agent is null) = (claimed_at is null) and (agent is null) = (lease_expires_at is null))
);

-- What agents look for: the oldest runs no agent holds.
create index agent_runs_waiting on agent_runs (queued_at) where agent is null;
-- What the sweeper looks for: leases that lapsed.
create index agent_runs_leases on agent_runs (lease_expires_at) where agent is not null;
