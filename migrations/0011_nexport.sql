-- NexPort AdminApi (spec/nexport-admin.md): person fields on users, the directory tree's closure,
-- role grants, subscriptions and custom profile fields, all in the `directory` projection; and the
-- command-side login throttle.

alter table rm_directory.users
    add column middle_name    text,
    add column title_prefix   text,
    add column nickname       text,
    add column address_line1  text,
    add column address_line2  text,
    add column city           text,
    add column state          text,
    add column country        text,
    add column postal_code    text;

-- Every (ancestor, descendant) pair of the org/group tree, itself included at depth 0, so "does a
-- grant on any ancestor cover this node" is one indexed lookup however deep the tree is. Parents
-- are fixed at creation, so rows are only ever added (and dropped with their node).
create table rm_directory.node_closure (
    ancestor_id    uuid not null,
    descendant_id  uuid not null,
    depth          int  not null,
    primary key (descendant_id, ancestor_id)
);
create index node_closure_ancestor_idx on rm_directory.node_closure (ancestor_id, depth);

create table rm_directory.role_grants (
    id          uuid primary key,
    org_id      uuid        not null,
    user_id     uuid        not null,
    node_id     uuid        not null,
    node_kind   text        not null,
    role        text        not null,
    granted_by  uuid,
    created_at  timestamptz not null
);
create index role_grants_user_node_idx on rm_directory.role_grants (user_id, node_id, role);
create index role_grants_node_idx on rm_directory.role_grants (node_id);

create table rm_directory.subscriptions (
    id               uuid primary key,
    org_id           uuid        not null,
    user_id          uuid        not null,
    disabled         boolean     not null default false,
    status           text        not null,
    status_set_at    timestamptz,
    expires_at       timestamptz,
    expired          boolean     not null default false,
    created_by       uuid,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    unique (org_id, user_id)
);
create index subscriptions_user_idx on rm_directory.subscriptions (user_id);
-- The expiry worker's scan: subscriptions whose date has come but that are not yet expired.
create index subscriptions_due_idx on rm_directory.subscriptions (expires_at) where not expired and expires_at is not null;

create table rm_directory.profile_fields (
    id          uuid primary key,
    org_id      uuid        not null,
    key         text        not null,
    name        text        not null,
    field_type  text        not null,
    created_at  timestamptz not null,
    unique (org_id, key)
);

create table rm_directory.subscription_field_values (
    subscription_id  uuid        not null,
    key              text        not null,
    value            jsonb       not null,
    updated_at       timestamptz not null,
    primary key (subscription_id, key)
);

-- Failed password attempts per login (NexPort Authenticate / AuthenticateUser): command-side
-- state, never events. A success clears the row.
create table login_throttle (
    login            text primary key,
    failures         int         not null,
    last_failure_at  timestamptz not null,
    locked_until     timestamptz
);

-- NexPort's membership id: a stable id of the (group, user) pair, computed so every read model
-- rebuild gives the same id back.
alter table rm_directory.group_members
    add column membership_id uuid generated always as (md5(group_id::text || '/' || user_id::text)::uuid) stored;
create index group_members_membership_idx on rm_directory.group_members (membership_id);
