-- The `directory` projection's read model. Its tables live in their own schema so that a rebuild
-- can fill a fresh copy (`create table ... (like ... including all)`) and swap it in by renaming.
create schema rm_directory;

create table rm_directory.organizations (
    id             uuid primary key,
    name           text        not null,
    subdomain      text        not null,
    legal_name     text        not null,
    parent_org_id  uuid,
    auth_method    text        not null,
    status         text        not null,
    websites       jsonb,
    address        jsonb,
    email          text,
    phone          text,
    description    text,
    industry       text,
    file_id        uuid,
    admin_user_id  uuid        not null,
    created_by     uuid,
    created_at     timestamptz not null,
    updated_by     uuid,
    updated_at     timestamptz
);

create table rm_directory.users (
    id                    uuid primary key,
    org_id                uuid,
    number                bigint      not null,
    email                 text        not null,
    login                 text        not null,
    first_name            text        not null,
    last_name             text        not null,
    role                  text        not null,
    status                text        not null,
    phone                 text,
    designation           text,
    department            uuid,
    location              uuid,
    reports_to            uuid,
    is_department_head    boolean     not null default false,
    is_expert             boolean     not null default false,
    availability          int         not null default 1,
    bio                   text,
    color                 text,
    skills                jsonb       not null default '[]',
    default_visibility    text,
    security_group        uuid,
    additional_teams      jsonb       not null default '[]',
    additional_locations  jsonb       not null default '[]',
    external_user_id      text,
    file_id               uuid,
    cover_file_id         uuid,
    deleted               boolean     not null default false,
    created_by            uuid,
    created_at            timestamptz not null,
    updated_by            uuid,
    updated_at            timestamptz not null
);
create index users_org_idx on rm_directory.users (org_id, created_at, id);
create index users_org_department_idx on rm_directory.users (org_id, department);
create index users_org_location_idx on rm_directory.users (org_id, location);
create index users_number_idx on rm_directory.users (number);

create table rm_directory.groups (
    id                   uuid primary key,
    org_id               uuid        not null,
    number               bigint      not null,
    name                 text        not null,
    description          text,
    outbound_caller_ids  jsonb       not null default '[]',
    status               text        not null default 'active',
    created_by           uuid,
    created_at           timestamptz not null,
    updated_by           uuid,
    updated_at           timestamptz not null
);
create index groups_org_name_idx on rm_directory.groups (org_id, name, id);
create index groups_number_idx on rm_directory.groups (number);

create table rm_directory.group_members (
    group_id   uuid        not null,
    user_id    uuid        not null,
    role       text        not null,
    added_at   timestamptz not null,
    primary key (group_id, user_id)
);
create index group_members_user_idx on rm_directory.group_members (user_id);

insert into projection_checkpoints (name) values ('directory');
