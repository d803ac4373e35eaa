-- The posts/news feed at scale (issue #13: p99 < 20 ms at 100,000 posts in one org). Both tables
-- are derived by the content projector from rm_content.posts and rm_content.audience, in the same
-- transaction as the post's own rows (projections::content::feed).

-- One row per (post, grant) with the post's sort keys: a member's page is one short index scan per
-- grant they hold (each stopping after offset + per_page rows), merged, instead of a visibility
-- test over every post of the org before the LIMIT.
create table rm_content.post_grants (
    post_id          uuid        not null,
    kind             smallint    not null,       -- the grant (as rm_content.audience)
    ref              uuid        not null,
    org_id           uuid        not null,
    post_kind        text        not null,       -- 'post' | 'news'
    posted_at        timestamptz not null,
    reactions_count  integer     not null,
    comments_count   integer     not null,
    primary key (post_id, kind, ref)
);
create index post_grants_recent_idx on rm_content.post_grants
    (org_id, post_kind, kind, ref, posted_at desc, post_id desc);
create index post_grants_reacted_idx on rm_content.post_grants
    (org_id, post_kind, kind, ref, reactions_count desc, posted_at desc, post_id desc);
create index post_grants_commented_idx on rm_content.post_grants
    (org_id, post_kind, kind, ref, comments_count desc, posted_at desc, post_id desc);

-- The feed's `meta` count, kept exact without counting posts: posts are counted per distinct
-- audience (`sig`, an md5 of the sorted grant list), and an audience's grants are listed once.
-- A reader's total is the sum over the audiences that share a grant with theirs (each post has one
-- audience, so nothing is counted twice), minus their visible posts newer than the snapshot.
create table rm_content.post_audience_counts (
    org_id     uuid     not null,
    post_kind  text     not null,
    sig        uuid     not null,
    n          integer  not null,
    primary key (org_id, post_kind, sig)
);
create table rm_content.post_audience_sigs (
    sig   uuid      not null,
    kind  smallint  not null,
    ref   uuid      not null,
    primary key (sig, kind, ref)
);
create index post_audience_sigs_grant_idx on rm_content.post_audience_sigs (kind, ref, sig);

-- An org admin sees every post: their pages in orders b and c walk these.
create index posts_reacted_idx on rm_content.posts (org_id, kind, reactions_count desc, posted_at desc, id desc);
create index posts_commented_idx on rm_content.posts (org_id, kind, comments_count desc, posted_at desc, id desc);

-- Posts that exist when this migration runs (the projector keeps both tables from now on).
insert into rm_content.post_grants (post_id, kind, ref, org_id, post_kind, posted_at, reactions_count, comments_count)
select p.id, a.kind, a.ref, p.org_id, p.kind, p.posted_at, p.reactions_count, p.comments_count
from rm_content.posts p join rm_content.audience a on a.item_id = p.id;

with s as (
    select post_id, org_id, post_kind,
           md5(string_agg(kind::text || ':' || ref::text, ',' order by kind, ref))::uuid as sig
    from rm_content.post_grants group by post_id, org_id, post_kind
)
insert into rm_content.post_audience_counts (org_id, post_kind, sig, n)
select org_id, post_kind, sig, count(*) from s group by org_id, post_kind, sig;

insert into rm_content.post_audience_sigs (sig, kind, ref)
select distinct s.sig, g.kind, g.ref
from (select post_id, md5(string_agg(kind::text || ':' || ref::text, ',' order by kind, ref))::uuid as sig
      from rm_content.post_grants group by post_id) s
join rm_content.post_grants g on g.post_id = s.post_id;
