-- Browser sessions (tower-sessions records, see server/src/http/session_store.rs).
create table sessions (
    id text primary key not null,
    data bytea not null,
    expiry_date timestamptz not null
);

create index sessions_expiry on sessions (expiry_date);
