-- Notifications (WorkDrive E41, DESIGN §11), in the `content` projection: the requests, every
-- delivery's outcome keyed by the event that asked for it, and the in-app inbox.
create table rm_content.notifications (
    id            uuid primary key,
    org_id        uuid        not null,
    sender        uuid        not null,
    title         text        not null,
    description   text        not null,
    medium        text        not null,          -- EMAIL | SMS | PUSH | INAPP
    recipients    uuid[]      not null,
    requested_at  timestamptz not null
);

-- One row per (event, recipient, medium): what the notifier recorded (NotificationDelivered /
-- NotificationFailed). `event_id` is the request's event (or the onboarding notice's).
create table rm_content.notification_deliveries (
    event_id         uuid        not null,
    recipient        uuid        not null,
    medium           text        not null,
    notification_id  uuid        not null,        -- the stream the outcome is on
    org_id           uuid,
    delivered        boolean     not null,
    message_id       text,
    attempts         bigint      not null,
    error            text,
    at               timestamptz not null,
    primary key (event_id, recipient, medium)
);

-- The in-app inbox (GET /api/notifications): newest first, ties broken by id.
create table rm_content.notification_inbox (
    user_id          uuid        not null,
    notification_id  uuid        not null,
    org_id           uuid,
    delivered_at     timestamptz not null,
    read_at          timestamptz,
    primary key (user_id, notification_id)
);
create index notification_inbox_feed_idx on rm_content.notification_inbox (user_id, delivered_at desc, notification_id desc);
