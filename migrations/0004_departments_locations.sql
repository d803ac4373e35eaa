-- Departments and locations of the `directory` projection. Membership is the user's
-- `department` / `location` column (rm_directory.users); heads are kept per department.
create table rm_directory.departments (
    id          uuid primary key,
    org_id      uuid        not null,
    name        text        not null,
    created_by  uuid,
    created_at  timestamptz not null,
    updated_by  uuid,
    updated_at  timestamptz not null
);
create index departments_org_idx on rm_directory.departments (org_id, created_at, id);

create table rm_directory.department_heads (
    department_id  uuid        not null,
    user_id        uuid        not null,
    added_at       timestamptz not null,
    primary key (department_id, user_id)
);

create table rm_directory.locations (
    id          uuid primary key,
    org_id      uuid        not null,
    name        text        not null,
    created_by  uuid,
    created_at  timestamptz not null,
    updated_by  uuid,
    updated_at  timestamptz not null
);
create index locations_org_idx on rm_directory.locations (org_id, created_at, id);
