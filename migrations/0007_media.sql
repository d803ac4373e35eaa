-- Media files of the `directory` projection (WorkDrive E75 and its upload). A row appears when a
-- file id is reserved and is completed when its bytes are uploaded; only uploaded rows are served.
create table rm_directory.media (
    id           uuid primary key,
    org_id       uuid        not null,
    name         text        not null,
    mime         text        not null,
    module_code  bigint      not null,
    created_by   uuid,
    created_at   timestamptz not null,
    uploaded     boolean     not null default false,
    size         bigint,
    sha256       text,
    object_key   text,
    uploaded_at  timestamptz
);
create index media_org_idx on rm_directory.media (org_id, id);
