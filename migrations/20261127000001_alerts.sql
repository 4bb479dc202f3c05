-- What the dashboard flags (stuck, late, N failures in a row), as incidents with a
-- start and an end, so that each is announced once when it opens and once when it
-- ends, whichever replica sees it first.
create table alerts (
    id bigserial primary key,
    job_id bigint not null references jobs (id) on delete cascade,
    kind text not null check (kind in ('stuck', 'late', 'failing')),
    detail text not null,
    opened_at timestamptz not null,
    resolved_at timestamptz
);

-- At most one open alert of each kind per job.
create unique index alerts_open on alerts (job_id, kind) where resolved_at is null;

-- Notifications waiting for the webhook, sent oldest first: one that fails holds back
-- the later ones, so a receiver never hears that an alert ended before it began.
create table alert_notifications (
    id bigserial primary key,
    alert_id bigint not null references alerts (id) on delete cascade,
    payload jsonb not null,
    created_at timestamptz not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error text,
    delivered_at timestamptz,
    -- Set when the receiver never took it within the delivery window.
    abandoned_at timestamptz
);

create index alert_notifications_waiting on alert_notifications (id)
    where delivered_at is null and abandoned_at is null;
