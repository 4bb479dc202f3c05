-- Tokens of `cronwatch agent`s: they claim command runs and report them, nothing else.
alter table api_tokens drop constraint api_tokens_scope_check;
alter table api_tokens add constraint api_tokens_scope_check
    check (scope in ('ingest', 'read', 'admin', 'agent'));
