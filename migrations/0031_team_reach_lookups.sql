-- The team part of `content_reader_grants` (0013) as three index lookups per team instead of one
-- OR over the org's users (issue #16: the feed in an org of many users).
--
-- 0013 asked `u.id = t OR u.reports_to = t OR u.additional_teams ? t` of the org's users. Postgres
-- answers that with a BitmapOr, whose `reports_to` arm cannot use `users_org_reports_to_idx`
-- (org_id, reports_to) by its leading column and so reads that whole index: 6–14 ms per call at
-- 1,000,000 users in one org (EXPLAIN ANALYZE, scratch Postgres 15, jit off). Every feed page
-- calls the function twice (page and count). Here each team is looked up by the primary key, by
-- (org_id, reports_to), and by the GIN index on additional_teams: 3.4–5.3 ms at the same size.
--
-- `OFFSET 0` keeps the lateral subquery a subquery: flattened, the planner, which expects ~100
-- teams (jsonb_array_elements' default estimate) where a reader has two or three, prefers one
-- hash join over a sequential scan of the users to a nested loop of index scans. It also keeps
-- the org check outside, where no arm can trade its own index for one on org_id: with the org
-- inside, statistics taken while the org was small (a bulk load that autovacuum has not yet
-- analyzed) made the additional-teams arm scan the org's 57,000 users by `org_id` instead of
-- probing the GIN index (285 ms, auto_explain in the write benchmark's feed step).
--
-- The answer is the same set as 0013's; only how it is found changed.
create or replace function public.content_reader_grants(reader uuid) returns table (kind smallint, ref uuid)
language sql stable as $$
    with me as (
        select id, org_id, reports_to, security_group, location, additional_teams, additional_locations
        from rm_directory.users where id = reader and not deleted
    ), teams as (
        select org_id, id as t from me
        union select org_id, reports_to from me where reports_to is not null
        union select org_id, (jsonb_array_elements_text(additional_teams))::uuid from me
    )
    select 0::smallint, org_id from me
    union all select 1::smallint, id from me
    union all select 2::smallint, security_group from me where security_group is not null
    union all select 3::smallint, location from me where location is not null
    union all select 3::smallint, (jsonb_array_elements_text(additional_locations))::uuid from me
    union all select 4::smallint, f.followee from rm_content.follows f where f.follower = reader
    union all select distinct 5::smallint, m.id from teams cross join lateral (
        select u.id, u.org_id from rm_directory.users u where u.id = teams.t and not u.deleted
        union all select u.id, u.org_id from rm_directory.users u
            where u.org_id = teams.org_id and u.reports_to = teams.t and not u.deleted
        union all select u.id, u.org_id from rm_directory.users u where u.additional_teams ? teams.t::text and not u.deleted
        offset 0
    ) m
    where m.org_id = teams.org_id
$$;
