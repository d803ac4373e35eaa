-- One group model for every dialect (issue 5): Sunbird status / membership type / activities,
-- NexPort parent / short name / tracking, and member status with its removal record (a removed
-- member keeps its row, `inactive`, so Sunbird can show who removed whom and when).
alter table rm_directory.groups
    add column membership_type text  not null default 'invite_only',
    add column parent_kind     text,
    add column parent_id       uuid,
    add column short_name      text,
    add column tracking        text,
    add column activities      jsonb not null default '[]';
create index groups_org_created_idx on rm_directory.groups (org_id, created_at, id);

alter table rm_directory.group_members
    add column status      text        not null default 'active',
    add column visited     boolean     not null default false,
    add column added_by    uuid,
    add column updated_at  timestamptz,
    add column updated_by  uuid,
    add column removed_at  timestamptz,
    add column removed_by  uuid;
create index group_members_user_active_idx on rm_directory.group_members (user_id) where status = 'active';

-- Sunbird's activity aggregates: one row per (user, activity), fed by UserActivityProgressRecorded.
create table rm_directory.activity_progress (
    org_id          uuid        not null,
    user_id         uuid        not null,
    activity_id     text        not null,
    activity_type   text        not null,
    completed_count bigint      not null,
    updated_at      timestamptz not null,
    primary key (user_id, activity_id)
);
create index activity_progress_activity_idx on rm_directory.activity_progress (org_id, activity_id);
