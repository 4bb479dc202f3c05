-- The rules on single columns of jobs, batch queues and executions become domains
-- instead of table CHECK constraints. PostgreSQL runs every CHECK constraint of a table
-- on every UPDATE of one of its rows, and first rebuilds each from its stored text, for
-- each statement: a report that only moves a job's summary (last run, failure count)
-- paid for the seven rules on the job's definition, the name's regular expression among
-- them. A domain's rule runs only when a value is written to a column of that domain,
-- and is kept ready in PostgreSQL's type cache. Measured on 2 cores (pgbench, 4 rounds
-- of A/B): the report writer's one-by-one path (batches under 6) does 4-39 %, median
-- ~10 %, more calls a second. The job-name rule is now written once for jobs and batch
-- queues. The rules are those the tables had, and an estimated duration is now more
-- than nothing, as the API has always required: one of nothing or less, which only SQL
-- could have stored, is no estimate.
--
-- Each domain is made without its rule, the columns move to it, and then the rule is
-- added: a column moving to a domain with a rule rewrites its table, while adding a
-- rule to a domain in use only reads the rows to check them (executions can hold
-- millions). The one index rebuilt is that of running executions, whose condition
-- names `status`.

update jobs set estimated_duration_ms = null where estimated_duration_ms <= 0;

create domain cw_name as text;
create domain cw_job_kind as text;
create domain cw_positive_ms as bigint;
create domain cw_nonnegative_ms as bigint;
create domain cw_execution_status as text;
create domain cw_execution_trigger as text;

alter table jobs
    drop constraint jobs_name_format,
    drop constraint jobs_kind_check,
    drop constraint jobs_timeout_positive,
    drop constraint jobs_timeout_at_most_a_year,
    drop constraint jobs_grace_nonnegative,
    drop constraint jobs_grace_at_most_a_year,
    drop constraint jobs_estimate_at_most_a_year,
    alter column name type cw_name,
    alter column kind type cw_job_kind,
    alter column timeout_ms type cw_positive_ms,
    alter column grace_ms type cw_nonnegative_ms,
    alter column estimated_duration_ms type cw_positive_ms;

alter table batch_queues
    drop constraint batch_queues_name_format,
    alter column name type cw_name;

alter table executions
    drop constraint executions_status_check,
    drop constraint executions_trigger_check,
    alter column status type cw_execution_status,
    alter column trigger type cw_execution_trigger;

-- A slug: what a job or a batch queue is called in URLs and reports.
alter domain cw_name add constraint cw_name_format check (value ~ '^[a-z0-9-]{1,64}$');
alter domain cw_job_kind add constraint cw_job_kind_check
    check (value in ('external', 'command', 'http'));
-- Durations are at most a year (see 20261126000003_job_duration_bounds.sql); a timeout
-- and an estimate are more than nothing, a grace may be nothing.
alter domain cw_positive_ms add constraint cw_positive_ms_range
    check (value > 0 and value <= 31622400000);
alter domain cw_nonnegative_ms add constraint cw_nonnegative_ms_range
    check (value >= 0 and value <= 31622400000);
alter domain cw_execution_status add constraint cw_execution_status_check
    check (value in ('running', 'completed', 'failed', 'cancelled', 'timed_out'));
alter domain cw_execution_trigger add constraint cw_execution_trigger_check
    check (value in ('scheduled', 'manual', 'api', 'retry'));
