-- The `content` projection (DESIGN §11): WorkDrive's intranet content, apart from the directory
-- so that its events never hold up (or park in) the directory's read model. Queries join it to
-- rm_directory.users to learn who the reader is.
create schema if not exists rm_content;
insert into projection_checkpoints (name) values ('content') on conflict (name) do nothing;

-- Who follows whom (`POST /api/users/{id}/follow`): the audience of `friends` items.
create table rm_content.follows (
    follower    uuid        not null,
    followee    uuid        not null,
    org_id      uuid        not null,
    created_at  timestamptz not null,
    primary key (follower, followee)
);
create index follows_followee_idx on rm_content.follows (followee, follower);

-- Who may see an item: one row per grant (domain::audience::Grant; kind 0 org, 1 user,
-- 2 security group, 3 location, 4 followers of, 5 team of). Shared by every content type.
create table rm_content.audience (
    item_id  uuid     not null,
    kind     smallint not null,
    ref      uuid     not null,
    primary key (item_id, kind, ref)
);
create index audience_grant_idx on rm_content.audience (kind, ref, item_id);

-- Categories per module code (E39); `category` is unique per org and module, case-insensitively.
create table rm_content.categories (
    id           uuid primary key,
    org_id       uuid        not null,
    module_code  smallint    not null,
    category     text        not null,
    color        text,
    created_by   uuid,
    created_at   timestamptz not null
);
create unique index categories_name_idx on rm_content.categories (org_id, module_code, lower(category));
create index categories_page_idx on rm_content.categories (org_id, module_code, created_at, id);

-- A reader's teams are found through the users who joined them as an additional team.
create index users_additional_teams_idx on rm_directory.users using gin (additional_teams);

-- The grants a reader holds (same kinds as rm_content.audience): what "may this reader see it"
-- asks of every content query, lists, counts and direct reads alike:
--   ($admin OR EXISTS (SELECT 1 FROM audience a WHERE a.item_id = x.id
--                      AND (a.kind, a.ref) IN (SELECT kind, ref FROM content_reader_grants($reader))))
-- In `public` because a rebuild swaps the rm_content schema (and would drop a function in it).
-- A team is a supervisor, the users reporting to them, and the users who joined it as an
-- additional team; "team of X" reaches everyone who shares one of X's teams.
create function public.content_reader_grants(reader uuid) returns table (kind smallint, ref uuid)
language sql stable as $$
    with me as (
        select id, org_id, reports_to, security_group, location, additional_teams, additional_locations
        from rm_directory.users where id = reader and not deleted
    ), teams as (
        select id as t from me
        union select reports_to from me where reports_to is not null
        union select (jsonb_array_elements_text(additional_teams))::uuid from me
    )
    select 0::smallint, org_id from me
    union all select 1::smallint, id from me
    union all select 2::smallint, security_group from me where security_group is not null
    union all select 3::smallint, location from me where location is not null
    union all select 3::smallint, (jsonb_array_elements_text(additional_locations))::uuid from me
    union all select 4::smallint, f.followee from rm_content.follows f where f.follower = reader
    union all select distinct 5::smallint, u.id from rm_directory.users u, me, teams
        where u.org_id = me.org_id and not u.deleted
          and (u.id = teams.t or u.reports_to = teams.t or u.additional_teams ? teams.t::text)
$$;
