-- The executions list walks `executions_started` (newest first) and keeps the rows that
-- match its filters. That is quick while matches are common, but a filter that matches
-- few rows (`status=timed_out`, `trigger=manual`) read the whole history: 40-150 ms
-- over 1M executions, and growing with them. These partial indexes hold only the rows
-- such filters look for, which are few by nature (runs that ended badly, runs started
-- by hand or by a retry), so they cost writes little: a successful scheduled run never
-- enters them. The list names the filtered value in its SQL text so that the planner
-- can prove a partial index applies (see `app::db::execution_list`).
create index executions_ended_badly on executions (status, started_at desc, id desc)
    where status in ('failed', 'timed_out', 'cancelled');
create index executions_job_ended_badly on executions (job_id, status, started_at desc, id desc)
    where status in ('failed', 'timed_out', 'cancelled');
create index executions_by_hand on executions (trigger, started_at desc, id desc)
    where trigger in ('manual', 'retry');
