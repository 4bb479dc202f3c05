-- Healthchecks pings without a run id (`/ping/{key}/start`, later `/ping/{key}`): as in
-- Healthchecks, a job has at most one such open run. A new start while one is open
-- means the open one will never report its end (the script crashed, or its end ping
-- was lost): it ends as failed. Before this, it stayed `running` until retention,
-- counted in "running now", and a job crashing every night raised no alert.
--
-- The closed run gets no duration: it is unknown, and the time until the next start
-- would distort the job's averages. A start within `p_same_run` of the open run's start
-- is the client retrying the same request (curl --retry) and changes nothing.
create function cw_ping_start(op jsonb, p_same_run interval) returns jsonb
language plpgsql set timezone = 'UTC' as $$
declare
    v_job bigint := cw_ensure_job(op->>'job');
    v_open executions;
    v_closed executions[];
    v_result jsonb;
    v_kinds text[] := '{}';
    v_payloads jsonb[] := '{}';
begin
    -- One rid-less start of a job at a time, or two could both find no open run. Only
    -- this function takes the lock, so it cannot deadlock with the report writers.
    perform pg_advisory_xact_lock(7311002, (v_job % 2147483647)::int);

    select * into v_open from executions
     where job_id = v_job and status = 'running' and run_key is null and triggered_by = 'ping'
     order by started_at desc limit 1;
    if found and v_open.started_at > now() - p_same_run then
        return jsonb_build_object('code', 'unchanged',
                                  'execution', cw_execution_json(v_open, op->>'job'));
    end if;

    -- Locked in id order, as every writer locks executions.
    with closed as (
        update executions e set
            status = 'failed', completed_at = greatest(now(), e.started_at), duration_ms = null,
            error_message = 'no end was reported before the job started again'
         where e.id in (select x.id from executions x
                         where x.job_id = v_job and x.status = 'running'
                           and x.run_key is null and x.triggered_by = 'ping'
                         order by x.id for update)
        returning e
    )
    select array_agg(c.e order by (c.e).started_at) into v_closed from closed c;

    if v_closed is not null then
        perform cw_bump_rollup(v_job, c.started_at, 'running', -1, null),
                cw_bump_rollup(v_job, c.started_at, 'failed', 1, null)
           from unnest(v_closed) c;
        update jobs set
            consecutive_failures = consecutive_failures + cardinality(v_closed),
            last_status = case when last_execution_id = any (select c.id from unnest(v_closed) c)
                               then 'failed' else last_status end
         where id = v_job;
        select array_agg('execution'::text), array_agg(jsonb_build_object('kind', 'execution',
                   'data', cw_execution_json(c, op->>'job') - 'output' - 'log_tail' - 'output_truncated')
                   order by c.started_at)
          into v_kinds, v_payloads
          from unnest(v_closed) c;
    end if;

    v_result := cw_start_execution(op);
    if v_result->>'code' = 'created' then
        v_kinds := v_kinds || 'execution'::text;
        v_payloads := v_payloads || jsonb_build_object('kind', 'execution',
            'data', (v_result->'execution') - 'output' - 'log_tail' - 'output_truncated');
    end if;
    -- Last: the event lock is held until commit.
    perform cw_emit_events(v_kinds, v_payloads);
    return v_result;
end;
$$;
