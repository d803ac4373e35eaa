-- Calendar events, named apart from the event log `public.events` that the search path would
-- otherwise shadow (WorkDrive E19–E22, DESIGN §11): one row per occurrence (a recurring series is
-- materialised; its occurrences share `repeat_id`), so lists, counts and filters stay in SQL.
create table rm_content.calendar_events (
    id                    uuid primary key,
    org_id                uuid        not null,
    created_by            uuid        not null,
    created_at            timestamptz not null,
    updated_by            uuid,
    updated_at            timestamptz,
    title                 text        not null,
    description           text,
    external_links        jsonb       not null,
    invitees              uuid[]      not null,
    conference_link       text,
    location              text,
    start_at              timestamptz not null,
    end_at                timestamptz not null,
    poster_id             uuid,
    is_virtual            boolean     not null,
    tags                  text[]      not null,
    external_user_emails  text[]      not null,
    category_id           uuid,
    category              text,
    is_meeting            boolean     not null,
    kind                  smallint    not null,
    video_preview_ids     uuid[]      not null,
    duration              integer,
    conversation_id       text,
    time_zone             text        not null,
    repeat_id             uuid,
    repeat_config         jsonb,
    permissions           jsonb       not null
);
create index calendar_events_start_idx on rm_content.calendar_events (org_id, start_at, id);
create index calendar_events_end_idx on rm_content.calendar_events (org_id, end_at, id);
create index calendar_events_repeat_idx on rm_content.calendar_events (repeat_id);

-- One answer per reader and occurrence (Roster RSVP); the latest wins.
create table rm_content.calendar_rsvps (
    event_id    uuid        not null,
    user_id     uuid        not null,
    rsvp        text        not null,
    answered_at timestamptz not null,
    primary key (event_id, user_id)
);
create index calendar_rsvps_recent_idx on rm_content.calendar_rsvps (event_id, answered_at desc, user_id);
create index calendar_rsvps_user_idx on rm_content.calendar_rsvps (user_id, rsvp, event_id);
