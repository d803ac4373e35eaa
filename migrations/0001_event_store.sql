-- The one event log (DESIGN §3). The application only ever inserts into it.
create table events (
    gid          bigserial primary key,
    tx           xid8        not null default pg_current_xact_id(),
    event_id     uuid        not null,
    org_id       uuid,
    stream_type  text        not null,
    stream_id    uuid        not null,
    version      int         not null check (version > 0),
    event_type   text        not null,
    schema_rev   smallint    not null default 1,
    payload      jsonb       not null,
    metadata     jsonb       not null default '{}'::jsonb,
    recorded_at  timestamptz not null default now(),
    constraint events_event_id_key unique (event_id),
    -- A violation of this constraint is a concurrency conflict, never a 500.
    constraint events_stream_version_key unique (stream_id, version)
);
-- Readers walk the log in (tx, gid) order.
create index events_tx_gid_idx on events (tx, gid);
create index events_org_tx_gid_idx on events (org_id, tx, gid);

-- Unique values (email and login per org, subdomain, short name), taken and released in the same
-- transaction as the events that take or free them. `scope` is the org, or the nil uuid for
-- system-wide values.
create table unique_claims (
    scope       uuid not null,
    kind        text not null,
    value       text not null,
    owner_id    uuid not null,
    constraint unique_claims_pkey primary key (scope, kind, value)
);
create index unique_claims_owner_idx on unique_claims (owner_id);

-- A retried request (same key) answers what the first answered and appends nothing.
create table idempotency (
    scope            uuid        not null,
    key              text        not null,
    fingerprint      text        not null,
    position_tx      bigint,
    position_gid     bigint,
    result           jsonb       not null default 'null'::jsonb,
    response_status  int,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz not null default now(),
    constraint idempotency_pkey primary key (scope, key)
);

-- Credentials are command-side state: their secrets never enter the event log, only the facts
-- (UserPasswordSet, AccessTokenIssued/Revoked) do.
create table access_tokens (
    token_hash  bytea       primary key,
    token_id    uuid        not null unique,
    user_id     uuid        not null,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz not null
);
create index access_tokens_user_idx on access_tokens (user_id);

create table credentials (
    user_id        uuid primary key,
    password_hash  text        not null,
    updated_at     timestamptz not null
);

-- Every user and group gets a number, taken at command time and stored in its creation event.
create sequence entity_number_seq start 1000;

-- The relay's cursor per NATS stream.
create table relay_cursors (
    stream      text primary key,
    tx          bigint      not null default 0,
    gid         bigint      not null default 0,
    updated_at  timestamptz not null default now()
);

-- Each projection's checkpoint, advanced in the same transaction as its read-model change.
create table projection_checkpoints (
    name        text primary key,
    tx          bigint      not null default 0,
    gid         bigint      not null default 0,
    status      text        not null default 'running',
    updated_at  timestamptz not null default now()
);

-- Poison events: recorded, never silently dropped.
create table projection_failures (
    id          bigserial primary key,
    projection  text        not null,
    event_id    uuid,
    position    text        not null,
    error       text        not null,
    attempts    int         not null,
    failed_at   timestamptz not null default now()
);
