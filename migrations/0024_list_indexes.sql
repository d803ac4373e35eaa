-- Lists of live users, whole or by department or location, are read in (created_at, id) order
-- and counted. These partial indexes hold exactly the rows such a list shows, in its order, so a
-- page is an index range and a count or a deep page reads index entries without visiting rows.
-- They replace the (org_id, department) and (org_id, location) indexes, which every query of
-- theirs also restricted to live users and then had to sort. Those are found by definition, not
-- name: a rebuild's copy of the tables (`LIKE ... INCLUDING ALL`) names its indexes anew.
do $$
declare
    old regclass;
begin
    for old in
        select i.indexrelid::regclass from pg_index i
        where i.indrelid = 'rm_directory.users'::regclass and i.indpred is null and not i.indisunique
          and pg_get_indexdef(i.indexrelid) ~ 'USING btree \(org_id, (department|location)\)$'
    loop
        execute format('drop index %s', old);
    end loop;
end $$;
create index users_live_idx on rm_directory.users (org_id, created_at, id) where not deleted;
create index users_live_department_idx on rm_directory.users (org_id, department, created_at, id) where not deleted;
create index users_live_location_idx on rm_directory.users (org_id, location, created_at, id) where not deleted;

-- 0023 said its group indexes serve PortSIP and Publisher search. Until the queries changed with
-- this migration they could not: PortSIP's search was written `($2 IS NULL OR name ILIKE $2 ...)`,
-- which a generic plan cannot narrow with an index, and Publisher's also matched the number as
-- text, which no index covered. Publisher matches the number only for an all-digit term now;
-- this index answers that arm.
create index groups_number_trgm_idx on rm_directory.groups using gin ((number::text) gin_trgm_ops);

-- The number of live users per organization, kept by the directory projector as users are
-- created and deleted: WorkDrive's user list shows it on every page, and counting a million rows
-- took 140-270 ms.
create table rm_directory.org_user_counts (
    org_id uuid primary key,
    live   bigint not null check (live >= 0)
);
insert into rm_directory.org_user_counts (org_id, live)
select org_id, count(*) from rm_directory.users where org_id is not null and not deleted group by org_id;
