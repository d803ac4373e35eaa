-- "Team of X" without listing the team (issue #16: the WorkDrive feed of a member of a large team).
--
-- A reader holds the grant "team of X" (kind 5) for every X who shares a team with them, and 0031
-- listed all of them: a member of a 50,000-user department (their supervisor's team) held 50,000
-- grants, found on every content read (about 46 ms per call at 1,000,000 users, and a feed page
-- calls it twice). Only the X who gave some item the audience "my team" can ever match an
-- audience row, and those are usually few: this migration records them (`team_authors`, per org)
-- and the function now lists the reader's teammates among them only. It walks whichever side is
-- smaller: the org's team authors, each checked against the reader's teams by primary key, or
-- the reader's teammates, each checked against `team_authors`. Its cost follows the smaller of
-- the two instead of the team.
--
-- `team_authors` is insert-only, like `post_audience_sigs`: an author whose team items are all
-- gone stays listed, which costs a probe, never a wrong answer (audience rows decide what is seen).
-- It is keyed by the item's org, which the projector knows when it writes the audience, so it
-- does not depend on the directory projection having seen the author yet.
create table rm_content.team_authors (
    org_id  uuid not null,
    author  uuid not null,
    primary key (org_id, author)
);

-- The items that exist now (the projector keeps the table from here on). An item's org is in its
-- own row; every content table with an audience is listed.
insert into rm_content.team_authors (org_id, author)
select distinct i.org_id, a.ref
from rm_content.audience a
join (select id, org_id from rm_content.posts
      union all select id, org_id from rm_content.calendar_events
      union all select id, org_id from rm_content.videos
      union all select id, org_id from rm_content.photos
      union all select id, org_id from rm_content.kb_documents
      union all select id, org_id from rm_content.faq_kbs
      union all select id, org_id from rm_content.courses
      union all select id, org_id from rm_content.enforcement_templates
      union all select id, org_id from rm_content.conversations) i on i.id = a.item_id
where a.kind = 5
on conflict do nothing;

-- A user's teams, each once: themselves, their supervisor, the teams they joined (none once
-- deleted). Two users are teammates when their teams meet.
create function public.content_teams(u uuid) returns uuid[]
language sql stable as $$
    select array(select distinct t from unnest(array[id, reports_to]
                     || array(select (jsonb_array_elements_text(additional_teams))::uuid)) as t(t)
                 where t is not null)
    from rm_directory.users where id = u and not deleted
$$;

-- Everyone of `org` whose teams meet `teams`, once per team they share: for each team, its owner
-- by primary key, the users reporting to it by (org_id, reports_to), and those who joined it by
-- the GIN index (0031 says why each is a lookup of its own, and why the org is checked outside
-- them). Not de-duplicated, so that a caller that needs only the first rows gets them without the
-- whole team being read first.
create function public.content_teammates(org uuid, teams uuid[]) returns setof uuid
language sql stable as $$
    select m.id from unnest(teams) as t(t) cross join lateral (
        select u.id, u.org_id from rm_directory.users u where u.id = t.t and not u.deleted
        union all select u.id, u.org_id from rm_directory.users u
            where u.org_id = org and u.reports_to = t.t and not u.deleted
        union all select u.id, u.org_id from rm_directory.users u where u.additional_teams ? t.t::text and not u.deleted
        offset 0
    ) m
    where m.org_id = org
$$;

-- The reader's teammates in `org` who are team authors there, walking the smaller side: the
-- org's team authors are counted up to `probe_limit`, then the teammates listed up to one more
-- than that count. A shorter list is the whole team, kept and checked against `team_authors`;
-- a full one means the authors are fewer, and each is checked against `teams` instead. Either
-- way the team is read at most once and never past the authors' number.
create function public.content_team_authors_reached(org uuid, teams uuid[]) returns setof uuid
language plpgsql stable as $$
declare
    -- Past this many team authors the team is listed whatever its size: probing that many
    -- authors would cost more than all but the largest teams.
    probe_limit constant integer := 5000;
    authors integer;
    mates uuid[];
begin
    if teams is null or cardinality(teams) = 0 then
        return;
    end if;
    select count(*) into authors from (
        select 1 from rm_content.team_authors a where a.org_id = org limit probe_limit) x;
    if authors < probe_limit then
        -- A teammate in two of the teams appears twice, which only leans towards the authors.
        mates := array(select m from public.content_teammates(org, teams) m limit authors + 1);
        if cardinality(mates) > authors then
            return query
                select a.author from rm_content.team_authors a
                join rm_directory.users u on u.id = a.author
                where a.org_id = org and u.org_id = org and not u.deleted
                  and (u.id = any(teams) or u.reports_to = any(teams)
                       or u.additional_teams ?| teams::text[]);
        else
            return query
                select distinct m from unnest(mates) m
                where exists (select 1 from rm_content.team_authors a where a.org_id = org and a.author = m);
        end if;
        return;
    end if;
    return query
        select distinct m from public.content_teammates(org, teams) m
        where exists (select 1 from rm_content.team_authors a where a.org_id = org and a.author = m);
end
$$;

-- The reader's grants as 0031 found them, but for "team of X": only the X above. Every consumer
-- asks whether a grant meets an audience row, and a kind-5 row's X is a team author.
create or replace function public.content_reader_grants(reader uuid) returns table (kind smallint, ref uuid)
language sql stable as $$
    with me as (
        select id, org_id, security_group, location, additional_locations, public.content_teams(id) as teams
        from rm_directory.users where id = reader and not deleted
    )
    select 0::smallint, org_id from me
    union all select 1::smallint, id from me
    union all select 2::smallint, security_group from me where security_group is not null
    union all select 3::smallint, location from me where location is not null
    union all select 3::smallint, (jsonb_array_elements_text(additional_locations))::uuid from me
    union all select 4::smallint, f.followee from rm_content.follows f where f.follower = reader
    union all select 5::smallint, x from me, public.content_team_authors_reached(me.org_id, me.teams) x
$$;

-- Everyone the reader shares a team with, authors or not (the photo library's "team" scope).
create function public.content_teammates_of(reader uuid) returns setof uuid
language sql stable as $$
    select m from rm_directory.users u, public.content_teammates(u.org_id, public.content_teams(u.id)) m
    where u.id = reader and not u.deleted
$$;

-- Every content read of a member probes this index once per team of theirs. With GIN's default
-- fast update, each user written since the last vacuum sits in a pending list that every probe
-- reads through: 50,000 pending entries (what a bulk load leaves before autovacuum comes) made a
-- probe for a key no one holds 1.3 ms instead of a few µs (scratch Postgres, one million users).
-- Most users join no team, so writing straight into the index costs their inserts nothing
-- measurable (5,000 inserts took as long either way).
alter index rm_directory.users_additional_teams_idx set (fastupdate = off);
-- What is pending now goes into the index at once rather than at the next vacuum.
select gin_clean_pending_list('rm_directory.users_additional_teams_idx'::regclass);
