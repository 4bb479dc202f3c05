-- Parameters a job declares ([{name, type, description?, required?, default?, choices?}]),
-- null when it declares none; and the values a run got (defaults filled in), null for
-- runs of jobs without parameters and for reported runs.
alter table jobs add column params jsonb;
alter table executions add column params jsonb;

-- Runs an admin asked for at a later time. The scheduler starts each once its time has
-- come (and the job is not running), with the parameters given then, and deletes the
-- row in the same transaction; the run's start is keyed by the plan's id, so it is
-- started once. Deleting the row before then cancels the plan.
create table planned_runs (
    id uuid primary key default gen_random_uuid(),
    job_id bigint not null references jobs (id) on delete cascade,
    run_at timestamptz not null,
    params jsonb,
    requested_by text not null,
    created_at timestamptz not null default now()
);

-- What the scheduler looks for, and what a job's page lists.
create index planned_runs_due on planned_runs (run_at);
create index planned_runs_job on planned_runs (job_id, run_at);
