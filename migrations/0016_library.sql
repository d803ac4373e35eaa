-- The intranet's library (WorkDrive E23–E38): videos, photos, knowledge-base documents and FAQs.
-- Who may see an item is rm_content.audience (migration 0013), keyed by the item's id; the
-- author is kept in `author` for "my items", follow and team filters.
create table rm_content.videos (
    id                 uuid primary key,
    org_id             uuid        not null,
    author             uuid        not null,
    title              text        not null,
    description        text,
    source             smallint    not null,
    video_file_id      uuid,
    thumbnail_file_id  uuid,
    meta               jsonb,
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    updated_by         uuid        not null
);
create index videos_page_idx on rm_content.videos (org_id, created_at desc, id desc);

create table rm_content.photos (
    id           uuid primary key,
    org_id       uuid        not null,
    author       uuid        not null,
    title        text,
    description  text,
    file_id      uuid        not null,
    -- permissions.taggedUsers, for the tagged_photos filter.
    tagged       uuid[]      not null,
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    updated_by   uuid        not null
);
create index photos_page_idx on rm_content.photos (org_id, created_at desc, id desc);

-- What documents and FAQs share (domain::library::KbHead).
create table rm_content.kb_documents (
    id           uuid primary key,
    org_id       uuid        not null,
    author       uuid        not null,
    name         text        not null,
    owners       uuid[]      not null,
    expiry       timestamptz,
    tags         text[]      not null,
    category_id  uuid,
    published    boolean     not null,
    doc_url      text,
    link         text,
    doc_id       uuid,
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    updated_by   uuid        not null
);
create index kb_documents_page_idx on rm_content.kb_documents (org_id, created_at desc, id desc);

create table rm_content.faq_kbs (
    id           uuid primary key,
    org_id       uuid        not null,
    author       uuid        not null,
    name         text        not null,
    owners       uuid[]      not null,
    expiry       timestamptz,
    tags         text[]      not null,
    category_id  uuid,
    published    boolean     not null,
    -- The FAQ's permissions as the domain keeps them (E36/E37 answer them back).
    audience     jsonb       not null,
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    updated_by   uuid        not null
);
create index faq_kbs_page_idx on rm_content.faq_kbs (org_id, created_at desc, id desc);

-- E35 pages over rows: newest FAQ first, its rows in their order. No foreign key: a rebuild
-- copies tables without them; the projector deletes a FAQ's rows with it.
create table rm_content.faq_rows (
    id           uuid        not null,
    kb_id        uuid        not null,
    position     integer     not null,
    question     text        not null,
    answer       text        not null,
    description  text,
    primary key (kb_id, id)
);

-- Courses (E43, E44): seen by the whole org; `categories` are COURSE category ids.
create table rm_content.courses (
    id           uuid primary key,
    org_id       uuid        not null,
    author       uuid        not null,
    title        text        not null,
    description  text,
    categories   uuid[]      not null,
    ord          integer     not null,
    total_time   integer     not null,
    due_date     timestamptz,
    status       text        not null,
    file_id      uuid,
    form         jsonb,
    tasks        jsonb       not null,
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    updated_by   uuid        not null
);
create index courses_page_idx on rm_content.courses (org_id, created_at, id);

-- Enforcement templates (E40); `reminders` as the domain keeps them.
create table rm_content.enforcement_templates (
    id            uuid primary key,
    org_id        uuid        not null,
    author        uuid        not null,
    title         text        not null,
    system_event  text,
    kind          text,
    sub_kind      text,
    reminders     jsonb       not null,
    created_at    timestamptz not null,
    updated_at    timestamptz not null,
    updated_by    uuid        not null
);
create index enforcement_templates_page_idx on rm_content.enforcement_templates (org_id, created_at, id);
