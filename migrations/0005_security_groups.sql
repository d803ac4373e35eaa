-- Security groups of the `directory` projection (WorkDrive E70–E72). Membership is the user's
-- `security_group` column (rm_directory.users); `kind` is administrators | users | custom, and
-- members of the org's `administrators` group are its admins.
create table rm_directory.security_groups (
    id          uuid primary key,
    org_id      uuid        not null,
    name        text        not null,
    kind        text        not null,
    created_by  uuid,
    created_at  timestamptz not null,
    updated_at  timestamptz not null
);
create index security_groups_org_idx on rm_directory.security_groups (org_id, created_at, id);
create index users_security_group_idx on rm_directory.users (security_group) where security_group is not null;
