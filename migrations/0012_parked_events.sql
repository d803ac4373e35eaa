-- Parked events (DESIGN §4): an event a projection could not apply after a few attempts, and every
-- later event of the same stream behind it (per-stream order is kept), so the projection goes on
-- with every other stream. The checkpoint moves past them; only `roster projection replay-parked`
-- (or a rebuild) applies them later.
create table parked_events (
    projection   text        not null,
    event_id     uuid        not null,
    -- The event's position (the log's order) and its JetStream sequence when it was parked.
    tx           bigint      not null,
    gid          bigint      not null,
    stream_seq   bigint      not null,
    org_id       uuid,
    stream_type  text        not null,
    stream_id    uuid        not null,
    event_type   text        not null,
    -- Why it failed; for an event parked behind another one, which one (it was not tried).
    error        text        not null,
    -- How many times it was tried (0: parked behind an earlier event of its stream).
    attempts     int         not null,
    parked_at    timestamptz not null default now(),
    constraint parked_events_pkey primary key (projection, event_id)
);
-- "Is this stream parked?" for every batch the runner applies, and a stream's events in log order
-- for a replay.
create index parked_events_stream_idx on parked_events (projection, stream_id, tx, gid);
-- "Was this write's event parked?": a write's events share its transaction id.
create index parked_events_tx_idx on parked_events (tx);
