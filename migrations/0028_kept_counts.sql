-- More counts kept by the directory projector, as `org_user_counts` (0024) is: the lists that show
-- a total on every page counted their rows on every request, which at 1,000,000 users and 100,000
-- groups in one org took longer than the page itself (issue #16): WorkDrive's users list filtered
-- by a department of 50,000 (8.7 ms p50, 31.9 ms p99) and PortSIP's and Publisher's group lists
-- (a count over 100,000 groups, 11 ms p50).

-- Live users per department and per location, keyed by the unit's id (department and location
-- ids never collide: each is its own stream's uuid). Exactly `count(*)` of the live users whose
-- `department` or `location` is the unit, whether or not the unit still exists.
create table rm_directory.unit_user_counts (
    org_id  uuid   not null,
    unit_id uuid   not null,
    live    bigint not null check (live >= 0),
    primary key (org_id, unit_id)
);
insert into rm_directory.unit_user_counts (org_id, unit_id, live)
select u.org_id, v.unit, count(*)
from rm_directory.users u, lateral (values (u.department), (u.location)) as v(unit)
where u.org_id is not null and not u.deleted and v.unit is not null
group by u.org_id, v.unit;

-- Groups per organization (a deleted group's row is deleted).
create table rm_directory.org_group_counts (
    org_id uuid   primary key,
    live   bigint not null check (live >= 0)
);
insert into rm_directory.org_group_counts (org_id, live)
select org_id, count(*) from rm_directory.groups group by org_id;
