-- SSO entries and quick links (WorkDrive E73–E74) of the `directory` projection. `level` is
-- admin (org-wide), location, department or user; the matching id column is set for the last three.
create table rm_directory.sso_entries (
    id                 uuid primary key,
    org_id             uuid        not null,
    level              text        not null,
    location_id        uuid,
    department_id      uuid,
    owner_user_id      uuid,
    sso_type           text        not null,
    name               text,
    authorization_uri  text,
    token_uri          text,
    refresh_uri        text,
    login_url          text,
    link               text,
    sort_order         int         not null,
    file_id            uuid,
    created_by         uuid        not null,
    created_at         timestamptz not null,
    updated_by         uuid,
    updated_at         timestamptz not null
);
create index sso_entries_org_level_idx on rm_directory.sso_entries (org_id, level, sort_order, created_at, id);
