-- Job durations (timeout, grace, estimate) are at most a year, as reported durations
-- are: a run's start plus any of them must still be a timestamp, or every read that
-- asks whether a run is stuck or late fails. The API refuses larger values; values
-- stored before it did are brought down to a year first.
update jobs set
    timeout_ms = least(timeout_ms, 31622400000),
    grace_ms = least(grace_ms, 31622400000),
    estimated_duration_ms = least(estimated_duration_ms, 31622400000)
where timeout_ms > 31622400000 or grace_ms > 31622400000 or estimated_duration_ms > 31622400000;

alter table jobs
    add constraint jobs_timeout_at_most_a_year check (timeout_ms <= 31622400000),
    add constraint jobs_grace_at_most_a_year check (grace_ms <= 31622400000),
    add constraint jobs_estimate_at_most_a_year check (estimated_duration_ms <= 31622400000);
