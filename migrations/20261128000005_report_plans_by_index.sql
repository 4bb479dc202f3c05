-- The report functions keep their plans for the life of a connection (generic plans,
-- made at the first call). On a new install that first call meets empty tables, and
-- the planner, costing a scan of a few pages against an index lookup, chose to scan:
-- `executions` was then read in full for every batch, however large it grew, until an
-- ANALYZE happened to invalidate the plans (never, with autovacuum off). Every read in
-- these functions is by key, so an index is the right path at any size; forbidding
-- scans here makes the plans the same whatever the tables held when they were made.
-- Set on the entry points only: a setting holds in the functions they call.
alter function cw_apply_reports(jsonb) set enable_seqscan = off;
alter function cw_apply_reports_general(jsonb) set enable_seqscan = off;
alter function cw_apply_reports_in_order(jsonb) set enable_seqscan = off;
alter function cw_ping_start(jsonb, interval) set enable_seqscan = off;
