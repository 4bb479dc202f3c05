-- How far the event log has been pruned: a client resuming from an older event id has
-- missed events that can no longer be replayed, and is told to reload instead.
create table event_horizon (
    only_row boolean primary key default true check (only_row),
    pruned_through bigint not null default 0
);
insert into event_horizon default values;
