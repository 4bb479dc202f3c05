-- The server sends plain batches (its report writer's usual batch) as typed arrays,
-- one a field, to a function of their own; `cw_apply_reports` keeps taking JSON from
-- every other caller and hands its plain batches to the same function. Measured on a
-- batch of 4 starts: parsing the JSON and gathering it into arrays took 16 % of the
-- database's time for the batch (546 → 463 µs with synchronous_commit off, 730 → 612 µs
-- with it on), and the server no longer builds a JSON tree for each report.

-- A plain batch: new starts (fresh ids, no run key: the general path pairs run keys)
-- and ends of running executions, each execution named once. Each field is an array
-- in report order, starts' and ends' apart; `*_ord` gives each report's place in the
-- batch. NULL when the batch is not plain after all (a start's id is taken, an end's
-- execution is unknown, named twice or not running): nothing is written then but the
-- external jobs its starts name, and the caller takes the general path.
create function cw_apply_plain_reports(
    s_ord bigint[], s_id uuid[], s_job text[], s_trigger text[], s_triggered_by text[],
    s_started timestamptz[], s_host text[], s_scheduled timestamptz[], s_attempt integer[],
    c_ord bigint[], c_id uuid[], c_status text[], c_output jsonb[], c_truncated boolean[],
    c_error text[], c_exit integer[], c_duration bigint[], c_tail text[],
    c_completed timestamptz[]) returns json
language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
declare
    v_now timestamptz := now();
    v_ok boolean;
    s_job_id bigint[];
    v_results json;
    v_payloads json[];
begin
    if cardinality(s_id) > 0 then
        -- A start whose id is taken is a retry or a conflict: the general path answers.
        if exists (select 1 from executions e where e.id = any (s_id)) then
            return null;
        end if;
        -- Jobs reported for the first time are created as external jobs.
        select array_agg(j.id order by t.k) into s_job_id
          from unnest(s_job) with ordinality as t(name, k) join jobs j on j.name = t.name;
        if coalesce(cardinality(s_job_id), 0) <> cardinality(s_job) then
            insert into jobs (name, display_name)
            select distinct t.name, t.name from unnest(s_job) as t(name) order by 1
            on conflict (name) do nothing;
            select array_agg(j.id order by t.k) into s_job_id
              from unnest(s_job) with ordinality as t(name, k) join jobs j on j.name = t.name;
        end if;
    end if;

    if cardinality(c_id) > 0 then
        -- Ends lock their executions in id order, as every writer does. Each must be
        -- running: an unknown id, a repeated or conflicting end and the late end of a
        -- timed-out run are the general path's.
        select count(*) = cardinality(c_id) and bool_and(l.status = 'running') into v_ok
          from (select e.status from executions e where e.id = any (c_id)
                 order by e.id for update) as l;
        if not coalesce(v_ok, false) then
            return null;
        end if;
    end if;

    -- The writes, and each report's answer and change event in report order.
    with s as (
        select * from unnest(s_ord, s_id, s_job_id, s_job, s_trigger, s_triggered_by,
                             s_started, s_host, s_scheduled, s_attempt)
               as s(ord, id, job_id, job, trigger, triggered_by, started_at, host,
                    scheduled_for, attempt)
    ), ins as (
        insert into executions as e (id, job_id, status, trigger, triggered_by, started_at,
                                     host, scheduled_for, attempt)
        select s.id, s.job_id, 'running', s.trigger, s.triggered_by,
               coalesce(s.started_at, v_now), s.host, s.scheduled_for, s.attempt
          from s order by s.id
        returning e
    ), c as (
        select * from unnest(c_ord, c_id, c_status, c_output, c_truncated, c_error, c_exit,
                             c_duration, c_tail, c_completed)
               as c(ord, id, status, output, output_truncated, error_message, exit_code,
                    duration_ms, log_tail, completed_at)
    ), upd as (
        update executions e set
            status = c.status,
            completed_at = greatest(coalesce(c.completed_at, v_now), e.started_at),
            duration_ms = coalesce(c.duration_ms, (extract(epoch from
                greatest(coalesce(c.completed_at, v_now), e.started_at) - e.started_at) * 1000)::bigint),
            output = c.output,
            output_truncated = c.output_truncated,
            error_message = c.error_message,
            exit_code = c.exit_code,
            log_tail = coalesce(c.log_tail, e.log_tail)
          from c
         where e.id = c.id
        returning e, c.ord
    ), done as (
        -- Every report's execution as written, with its report's place and job name.
        select s.ord, s.job, i.e from ins i join s on s.id = (i.e).id
        union all
        select u.ord, j.name, u.e from upd u join jobs j on j.id = (u.e).job_id
    ), roll as (
        -- +1 running per start; per end −1 running and +1 its status with its duration.
        insert into execution_rollups as r (job_id, bucket, status, count, duration_sum_ms,
                                            duration_count)
        select d.job_id, d.bucket, d.status, sum(d.delta), sum(d.dsum), sum(d.dcount)
          from (select (x.e).job_id, date_trunc('hour', (x.e).started_at, 'UTC') as bucket,
                       'running' as status, -1 as delta, 0::bigint as dsum, 0 as dcount
                  from done x where (x.e).status <> 'running'
                union all
                select (x.e).job_id, date_trunc('hour', (x.e).started_at, 'UTC'), (x.e).status,
                       1, coalesce((x.e).duration_ms, 0), ((x.e).duration_ms is not null)::int
                  from done x) d
         group by 1, 2, 3
        having sum(d.delta) <> 0 or sum(d.dsum) <> 0 or sum(d.dcount) <> 0
         order by 1, 2, 3
        on conflict (job_id, bucket, status) do update
        set count = r.count + excluded.count,
            duration_sum_ms = r.duration_sum_ms + excluded.duration_sum_ms,
            duration_count = r.duration_count + excluded.duration_count
    ), summary as (
        -- Per job: its latest new start (the later report wins a tie), and its ends in
        -- report order (the failure streak, and the last status when they end the job's
        -- last run).
        select x.job_id,
               (array_agg((x.e).id order by (x.e).started_at desc, x.ord desc)
                  filter (where x.start))[1] as start_id,
               max((x.e).started_at) filter (where x.start) as start_at,
               bool_or(not x.failed) filter (where not x.start) as had_ok,
               count(*) filter (where not x.start and x.failed
                                  and x.ord > coalesce(x.last_ok, 0)) as fails_after_ok,
               jsonb_object_agg((x.e).id::text, (x.e).status) filter (where not x.start)
                   as statuses
          from (select d.ord, d.e, (d.e).job_id, (d.e).status = 'running' as start,
                       (d.e).status in ('failed', 'timed_out') as failed,
                       max(d.ord) filter (where (d.e).status not in ('running', 'failed', 'timed_out'))
                           over (partition by (d.e).job_id) as last_ok
                  from done d) x
         group by x.job_id
    ), jobs_moved as (
        update jobs j set
            last_execution_id = case when x.start_id is not null and (j.last_started_at is null
                                          or j.last_started_at <= x.start_at)
                                     then x.start_id else j.last_execution_id end,
            last_started_at = case when x.start_id is not null and (j.last_started_at is null
                                        or j.last_started_at <= x.start_at)
                                   then x.start_at else j.last_started_at end,
            last_status = case when x.start_id is not null and (j.last_started_at is null
                                    or j.last_started_at <= x.start_at) then 'running'
                               else coalesce(x.statuses ->> j.last_execution_id::text, j.last_status) end,
            consecutive_failures = case when x.statuses is null then j.consecutive_failures
                                        when x.had_ok then x.fails_after_ok
                                        else j.consecutive_failures + x.fails_after_ok end
          from summary x
         where j.id = x.job_id
    )
    select ('[' || string_agg('{"code":"created","execution":' || left(d.summary, -1)
                                  || ',"output":' || coalesce(d.output::text, 'null')
                                  || ',"output_truncated":' || d.output_truncated
                                  || ',"log_tail":' || coalesce(to_json(d.log_tail)::text, 'null')
                                  || '}}', ',' order by d.ord) || ']')::json,
           array_agg(('{"kind":"execution","data":' || d.summary || '}')::json order by d.ord)
      into v_results, v_payloads
      from (select x.ord, (x.e).output, (x.e).output_truncated, (x.e).log_tail,
                   row_to_json(row((x.e).id, x.job, (x.e).status, (x.e).trigger,
                                   (x.e).triggered_by, (x.e).started_at, (x.e).completed_at,
                                   (x.e).duration_ms, (x.e).exit_code, (x.e).error_message,
                                   (x.e).attempt, (x.e).host, (x.e).scheduled_for
                                  )::cw_execution_summary)::text as summary
              from done x) d;

    -- Last, as in cw_emit_events (written out here: a call costs as much as its body).
    perform pg_advisory_xact_lock(7311001);
    insert into events (seq, kind, payload)
    select nextval('events_seq'), 'execution', p
      from unnest(v_payloads) with ordinality as t(p, o)
     order by o;
    perform pg_notify('cronwatch_events', '');
    return v_results;
end;
$$;

-- JSON batches: the plain ones go to `cw_apply_plain_reports`, the rest to the general
-- path.
create or replace function cw_apply_reports(ops jsonb) returns json
language plpgsql
set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
declare
    v_plain boolean;
    s_ord bigint[]; s_id uuid[]; s_job text[]; s_trigger text[]; s_triggered_by text[];
    s_started timestamptz[]; s_host text[]; s_scheduled timestamptz[]; s_attempt integer[];
    c_ord bigint[]; c_id uuid[]; c_status text[]; c_output jsonb[]; c_truncated boolean[];
    c_error text[]; c_exit integer[]; c_duration bigint[]; c_tail text[];
    c_completed timestamptz[];
    v_results json;
begin
    -- Under three reports, the one-by-one path costs less than the plain path's fixed
    -- work.
    if jsonb_array_length(ops) < 3 then
        return cw_apply_reports_general(ops)::json;
    end if;

    -- One pass over the reports: typed arrays, and whether the batch is plain (every
    -- report names its own execution, no start carries a run key).
    select count(distinct r.id) = count(*) and count(r.id) = count(*)
               and bool_and(r.run_key is null or r.op <> 'start'),
           array_agg(r.ord) filter (where r.op = 'start'),
           array_agg(r.id) filter (where r.op = 'start'),
           array_agg(r.job) filter (where r.op = 'start'),
           array_agg(r.trigger) filter (where r.op = 'start'),
           array_agg(r.triggered_by) filter (where r.op = 'start'),
           array_agg(r.started_at) filter (where r.op = 'start'),
           array_agg(r.host) filter (where r.op = 'start'),
           array_agg(r.scheduled_for) filter (where r.op = 'start'),
           array_agg(coalesce(r.attempt, 1)) filter (where r.op = 'start'),
           array_agg(r.ord) filter (where r.op = 'complete'),
           array_agg(r.id) filter (where r.op = 'complete'),
           array_agg(r.status) filter (where r.op = 'complete'),
           array_agg(r.output) filter (where r.op = 'complete'),
           array_agg(coalesce(r.output_truncated, false)) filter (where r.op = 'complete'),
           array_agg(r.error_message) filter (where r.op = 'complete'),
           array_agg(r.exit_code) filter (where r.op = 'complete'),
           array_agg(r.duration_ms) filter (where r.op = 'complete'),
           array_agg(r.log_tail) filter (where r.op = 'complete'),
           array_agg(r.completed_at) filter (where r.op = 'complete')
      into v_plain, s_ord, s_id, s_job, s_trigger, s_triggered_by, s_started, s_host,
           s_scheduled, s_attempt, c_ord, c_id, c_status, c_output, c_truncated, c_error,
           c_exit, c_duration, c_tail, c_completed
      from rows from (jsonb_to_recordset(ops) as (
               op text, job text, id uuid, trigger text, triggered_by text,
               started_at timestamptz, host text, scheduled_for timestamptz, run_key text,
               attempt integer, status text, output jsonb, output_truncated boolean,
               error_message text, exit_code integer, duration_ms bigint, log_tail text,
               completed_at timestamptz))
           with ordinality as r(op, job, id, trigger, triggered_by, started_at, host,
                                scheduled_for, run_key, attempt, status, output,
                                output_truncated, error_message, exit_code, duration_ms,
                                log_tail, completed_at, ord);
    if not coalesce(v_plain, false) then
        return cw_apply_reports_general(ops)::json;
    end if;

    v_results := cw_apply_plain_reports(s_ord, s_id, s_job, s_trigger, s_triggered_by,
                                        s_started, s_host, s_scheduled, s_attempt,
                                        c_ord, c_id, c_status, c_output, c_truncated,
                                        c_error, c_exit, c_duration, c_tail, c_completed);
    return coalesce(v_results, cw_apply_reports_general(ops)::json);
end;
$$;
