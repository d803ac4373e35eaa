-- Posts and news (WorkDrive E11–E18, DESIGN §11) with their reactions and comments, in the
-- `content` projection. Who may see a post is in rm_content.audience (item_id = posts.id).
create table rm_content.posts (
    id             uuid primary key,
    org_id         uuid        not null,
    kind           text        not null,          -- 'post' | 'news'
    author         uuid        not null,
    post_text      text        not null,
    tags           text[]      not null,
    mentions       uuid[]      not null,
    file_ids       uuid[]      not null,
    location       jsonb,
    gif            text,
    links          text[]      not null,
    link_previews  jsonb       not null,
    permissions    jsonb       not null,          -- domain::audience::Audience
    tagged_users   uuid[]      not null,
    news_title     text,
    category       text,
    category_id    uuid,
    cover_image    uuid,
    posted_at      timestamptz not null,
    updated_at     timestamptz not null,
    reactions_count integer    not null default 0,
    comments_count integer     not null default 0
);
-- The feeds (E11, E15): a snapshot of one org's posts or news, recent first, ties broken by id.
create index posts_feed_idx on rm_content.posts (org_id, kind, posted_at desc, id desc);

create table rm_content.post_reactions (
    post_id     uuid        not null,
    user_id     uuid        not null,
    reaction    text        not null,
    created_at  timestamptz not null,
    primary key (post_id, user_id, reaction)
);
create index post_reactions_recent_idx on rm_content.post_reactions (post_id, created_at desc);

create table rm_content.post_comments (
    id          uuid primary key,
    post_id     uuid        not null,
    author      uuid        not null,
    text        text        not null,
    created_at  timestamptz not null
);
create index post_comments_page_idx on rm_content.post_comments (post_id, created_at, id);
