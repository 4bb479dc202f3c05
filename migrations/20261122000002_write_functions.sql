-- The hot write paths as SQL functions: one round trip per report instead of ten, and
-- many reports per transaction when the server batches concurrent requests.
-- Inputs are validated by the server first (names, statuses, sizes); these functions
-- decide only what needs the current state: idempotent retries, conflicts, not found.
-- Every result is `{"code": created|unchanged|conflict|not_found, "message"?, "execution"?}`.

-- The execution as the API shows it (the `Execution` wire type).
create function cw_execution_json(e executions, job_name text) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', e.id, 'job', job_name, 'status', e.status, 'trigger', e.trigger,
        'triggered_by', e.triggered_by, 'started_at', e.started_at,
        'completed_at', e.completed_at, 'duration_ms', e.duration_ms,
        'exit_code', e.exit_code, 'error_message', e.error_message,
        'attempt', e.attempt, 'host', e.host, 'scheduled_for', e.scheduled_for,
        'output', e.output, 'output_truncated', e.output_truncated, 'log_tail', e.log_tail)
$$;

-- Records change events, numbered in commit order. Call it last in a transaction:
-- the lock it takes is held until commit, so numbers become visible in order. Any
-- replica's write path goes through here; NOTIFY wakes the other replicas' streams.
-- PL/pgSQL rather than SQL functions throughout: their plans are cached per session.
create function cw_emit_events(p_kinds text[], p_payloads jsonb[]) returns void
language plpgsql as $$
begin
    if coalesce(array_length(p_kinds, 1), 0) = 0 then
        return;
    end if;
    perform pg_advisory_xact_lock(7311001);
    insert into events (seq, kind, payload)
    select nextval('events_seq'), k, p
    from unnest(p_kinds, p_payloads) with ordinality as t(k, p, o)
    order by o;
    perform pg_notify('cronwatch_events', '');
end;
$$;

-- Adds `delta` runs of `status` (and a duration) to the hour bucket of `started_at`.
create function cw_bump_rollup(p_job bigint, p_started timestamptz, p_status text,
                               p_delta bigint, p_duration bigint) returns void
language plpgsql as $$
begin
    insert into execution_rollups (job_id, bucket, status, count, duration_sum_ms, duration_count)
    values (p_job, date_trunc('hour', p_started), p_status, p_delta,
            coalesce(p_duration * p_delta, 0), case when p_duration is null then 0 else p_delta end)
    on conflict (job_id, bucket, status) do update
    set count = execution_rollups.count + excluded.count,
        duration_sum_ms = execution_rollups.duration_sum_ms + excluded.duration_sum_ms,
        duration_count = execution_rollups.duration_count + excluded.duration_count;
end;
$$;

-- The id of job `p_name`, created as an external job on first report.
create function cw_ensure_job(p_name text) returns bigint
language plpgsql as $$
declare
    v_id bigint;
begin
    select id into v_id from jobs where name = p_name;
    if v_id is null then
        insert into jobs (name, display_name) values (p_name, p_name)
        on conflict (name) do nothing returning id into v_id;
        if v_id is null then
            select id into v_id from jobs where name = p_name;
        end if;
    end if;
    return v_id;
end;
$$;

-- A start report: {job, id?, trigger, triggered_by?, started_at?, host?, scheduled_for?,
-- run_key?, attempt}.
create function cw_start_execution(op jsonb) returns jsonb
language plpgsql set timezone = 'UTC' as $$
declare
    v_job bigint := cw_ensure_job(op->>'job');
    v_id uuid := coalesce((op->>'id')::uuid, gen_random_uuid());
    v_row executions;
    v_owner text;
begin
    -- A retry (same id, or same run key for the job) answers the stored execution.
    select * into v_row from executions where id = v_id;
    if not found and op->>'run_key' is not null then
        select * into v_row from executions where job_id = v_job and run_key = op->>'run_key';
    end if;
    if found then
        if v_row.job_id <> v_job then
            select name into v_owner from jobs where id = v_row.job_id;
            return jsonb_build_object('code', 'conflict',
                'message', format('execution %s belongs to job %s', v_row.id, v_owner));
        end if;
        return jsonb_build_object('code', 'unchanged', 'execution', cw_execution_json(v_row, op->>'job'));
    end if;

    insert into executions (id, job_id, status, trigger, triggered_by, started_at, host,
                            scheduled_for, run_key, attempt)
    values (v_id, v_job, 'running', op->>'trigger', op->>'triggered_by',
            coalesce((op->>'started_at')::timestamptz, now()), op->>'host',
            (op->>'scheduled_for')::timestamptz, op->>'run_key', coalesce((op->>'attempt')::int, 1))
    on conflict do nothing
    returning * into v_row;
    if not found then
        -- A concurrent copy of this report won the race: answer as it did.
        select * into v_row from executions where id = v_id;
        if found and v_row.job_id = v_job then
            return jsonb_build_object('code', 'unchanged', 'execution', cw_execution_json(v_row, op->>'job'));
        end if;
        return jsonb_build_object('code', 'conflict', 'message', format('execution %s already exists', v_id));
    end if;

    perform cw_bump_rollup(v_job, v_row.started_at, 'running', 1, null);
    update jobs set last_execution_id = v_row.id, last_started_at = v_row.started_at,
                    last_status = 'running'
     where id = v_job and (last_started_at is null or last_started_at <= v_row.started_at);
    return jsonb_build_object('code', 'created', 'execution', cw_execution_json(v_row, op->>'job'));
end;
$$;

-- A completion report: {id, status, output?, output_truncated, error_message?,
-- exit_code?, duration_ms?, log_tail?, completed_at?}. A run the sweeper marked
-- timed_out may still report its real end once, so a slow job's result is not lost.
create function cw_complete_execution(op jsonb) returns jsonb
language plpgsql set timezone = 'UTC' as $$
declare
    v_id uuid := (op->>'id')::uuid;
    v_status text := op->>'status';
    v_row executions;
    v_job_name text;
    v_late_end boolean;
    v_completed timestamptz;
    v_duration bigint;
begin
    select * into v_row from executions where id = v_id for update;
    if not found then
        return jsonb_build_object('code', 'not_found', 'message', format('execution %s not found', v_id));
    end if;
    select name into v_job_name from jobs where id = v_row.job_id;
    if v_row.status = v_status then
        return jsonb_build_object('code', 'unchanged', 'execution', cw_execution_json(v_row, v_job_name));
    end if;
    v_late_end := v_row.status = 'timed_out';
    if v_row.status <> 'running' and not v_late_end then
        return jsonb_build_object('code', 'conflict',
            'message', format('execution %s already ended as %s', v_id, v_row.status));
    end if;

    v_completed := greatest(coalesce((op->>'completed_at')::timestamptz, now()), v_row.started_at);
    v_duration := coalesce((op->>'duration_ms')::bigint,
                           (extract(epoch from v_completed - v_row.started_at) * 1000)::bigint);
    update executions set
        status = v_status, completed_at = v_completed, duration_ms = v_duration,
        output = op->'output', output_truncated = coalesce((op->>'output_truncated')::boolean, false),
        error_message = op->>'error_message', exit_code = (op->>'exit_code')::int,
        log_tail = coalesce(op->>'log_tail', log_tail)
     where id = v_id
    returning * into v_row;
    perform cw_bump_rollup(v_row.job_id, v_row.started_at, case when v_late_end then 'timed_out' else 'running' end, -1, null);
    perform cw_bump_rollup(v_row.job_id, v_row.started_at, v_status, 1, v_duration);
    if not v_late_end then
        update jobs set
            consecutive_failures = case when v_status in ('failed', 'timed_out')
                                        then consecutive_failures + 1 else 0 end,
            last_status = case when last_execution_id = v_id then v_status else last_status end
         where id = v_row.job_id;
    end if;
    return jsonb_build_object('code', 'created', 'execution', cw_execution_json(v_row, v_job_name));
end;
$$;

-- Applies a batch of reports in order: [{"op":"start",…} | {"op":"complete",…}], then
-- records one change event per report that changed something.
create function cw_apply_reports(ops jsonb) returns jsonb
language plpgsql as $$
declare
    v_op jsonb;
    v_result jsonb;
    v_out jsonb[] := '{}';
    v_kinds text[] := '{}';
    v_payloads jsonb[] := '{}';
begin
    for v_op in select value from jsonb_array_elements(ops) loop
        if v_op->>'op' = 'start' then
            v_result := cw_start_execution(v_op);
        else
            v_result := cw_complete_execution(v_op);
        end if;
        v_out := v_out || v_result;
        if v_result->>'code' = 'created' then
            v_kinds := v_kinds || 'execution'::text;
            v_payloads := v_payloads || jsonb_build_object('kind', 'execution',
                'data', (v_result->'execution') - 'output' - 'log_tail' - 'output_truncated');
        end if;
    end loop;
    perform cw_emit_events(v_kinds, v_payloads);
    return to_jsonb(v_out);
end;
$$;
