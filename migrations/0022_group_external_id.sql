-- SCIM clients (Okta, Entra) send their own id for a group as `externalId` and look groups up by
-- it; the directory keeps it beside the group, set at creation.
alter table rm_directory.groups add column external_id text;
create index groups_org_external_id_idx on rm_directory.groups (org_id, external_id) where external_id is not null;
