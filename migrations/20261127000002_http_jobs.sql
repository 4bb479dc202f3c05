-- How cronwatch calls an `http` job: {url, secret_env?, secret_header?} (the secret is
-- the value of a server environment variable, never stored). Null for other kinds.
alter table jobs add column http jsonb;
