-- SCIM 2.0 (DESIGN §12). `meta.version` is a weak ETag of the resource's stream version, which
-- the read model did not keep: the directory projection records it for user and group streams.
create table rm_directory.stream_versions (
    stream_id  uuid primary key,
    version    int  not null
);

-- Okta looks a user up by `userName` (case-insensitively) before every create.
create index users_org_login_lower_idx on rm_directory.users (org_id, lower(login));
