-- The feed's count without one audience per author (issue #16: the feed of a member of a large
-- team).
--
-- 0021 counts posts per distinct audience (`sig`) and sums, for a reader, the audiences that share
-- a grant with them. An audience always holds its author (`Audience::grants`), so two authors never
-- share one: a public post of each of 1,000 authors made 1,000 "public" audiences, and a reader's
-- count probed `post_audience_counts` once for each. At 1,000,000 users (`scripts/bench --scale`)
-- the member of a 51,000-user team shared 2,046 audiences, and the count took 5-8 ms of the
-- feed's 12, nearly all of it those probes.
--
-- The author's own grant is now left out of the signature: an audience is what it grants to
-- others, and all public posts of an org are one audience however many wrote them. What the author
-- grants themselves is counted apart, per author (`post_author_sigs`): a reader's total is the sum
-- over the audiences sharing a grant with them, plus their own posts whose audience shares none
-- (posts for themselves alone, for their followers, for others named), minus what is newer than
-- the page's time. Nothing is counted twice: a post of theirs whose audience shares a grant with
-- them is in the first sum only.
create table rm_content.post_author_sigs (
    org_id     uuid     not null,
    post_kind  text     not null,
    author     uuid     not null,
    sig        uuid     not null,
    n          integer  not null,
    primary key (org_id, post_kind, author, sig)
);

-- An item's audience signature: its grants but the author's own, sorted, as one md5. An audience
-- that grants nothing to others (only the author) is the md5 of the empty string.
create function public.content_audience_sig(kinds smallint[], refs uuid[], author uuid) returns uuid
language sql immutable as $$
    select md5(coalesce(string_agg(g.k::text || ':' || g.r::text, ',' order by g.k, g.r), ''))::uuid
    from unnest(kinds, refs) as g(k, r)
    where not (g.k = 1 and g.r = author)
$$;

-- The posts that exist now, counted again under the new signatures (the projector keeps the three
-- tables from here on). The old signatures' grant lists go too: each named an author.
truncate rm_content.post_audience_counts, rm_content.post_audience_sigs;

create temporary table post_sigs as
select g.post_id, g.org_id, g.post_kind, p.author, content_audience_sig(array_agg(g.kind), array_agg(g.ref), p.author) as sig
from rm_content.post_grants g join rm_content.posts p on p.id = g.post_id
group by g.post_id, g.org_id, g.post_kind, p.author;

insert into rm_content.post_audience_counts (org_id, post_kind, sig, n)
select org_id, post_kind, sig, count(*) from post_sigs group by org_id, post_kind, sig;

insert into rm_content.post_author_sigs (org_id, post_kind, author, sig, n)
select org_id, post_kind, author, sig, count(*) from post_sigs group by org_id, post_kind, author, sig;

insert into rm_content.post_audience_sigs (sig, kind, ref)
select distinct s.sig, g.kind, g.ref
from post_sigs s join rm_content.post_grants g on g.post_id = s.post_id
where not (g.kind = 1 and g.ref = s.author);

drop table post_sigs;
