-- Tasks (WorkDrive E45–E50). A task is seen by its author, its assignees and the org's admins
-- (tasks carry no Permissions in the seed), so visibility is decided on these columns rather
-- than through rm_content.audience.
create table rm_content.tasks (
    id                            uuid primary key,
    org_id                        uuid        not null,
    author                        uuid        not null,
    title                         text        not null,
    description                   text,
    task_type                     text        not null,
    status                        text        not null,
    content                       text,
    time_minutes                  integer,
    video_id                      uuid,
    link                          text,
    document_id                   uuid,
    training_course_task_list_id  uuid,
    notification_template_id      uuid,
    due_days                      integer,
    due_date                      timestamptz,
    assignees                     uuid[]      not null,
    completed_by                  uuid[]      not null,
    created_at                    timestamptz not null,
    updated_at                    timestamptz not null,
    updated_by                    uuid        not null
);
create index tasks_page_idx on rm_content.tasks (org_id, created_at, id);
create index tasks_assignees_idx on rm_content.tasks using gin (assignees);

-- One row per (task, template reminder): when it is due and whether TaskReminderDue was
-- appended. The reminder worker scans the unsent, due rows of tasks someone still has to do.
create table rm_content.task_reminders (
    task_id        uuid        not null,
    reminder_index integer     not null,
    reminder_type  text        not null,
    remind_at      timestamptz not null,
    sent           boolean     not null,
    primary key (task_id, reminder_index)
);
create index task_reminders_due_idx on rm_content.task_reminders (remind_at) where not sent;
