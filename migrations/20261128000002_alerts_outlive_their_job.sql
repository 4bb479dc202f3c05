-- An alert outlives its job. Deleting a job used to delete its alerts and, with them,
-- the notifications still waiting for the webhook: a receiver told that a job was stuck
-- never heard that this ended. Now the alert keeps its job's name, loses only the link,
-- and the next evaluation ends it ("the job was deleted") and announces that; what was
-- queued is still sent.
alter table alerts add column job_name text;
update alerts a set job_name = j.name from jobs j where j.id = a.job_id;
alter table alerts
    alter column job_name set not null,
    alter column job_id drop not null,
    drop constraint alerts_job_id_fkey,
    add constraint alerts_job_id_fkey foreign key (job_id) references jobs (id) on delete set null;
