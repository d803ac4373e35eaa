-- Tamper evidence (issue #7): one seal per event, chained per organization. The sealer writes
-- here off the append path; `events` itself stays append-only and untouched.
--
-- hash = SHA-256(previous seal's hash of the same org (32 zero bytes for the first) || canonical
-- envelope), see workers/src/sealer.rs for the canonical form.
create table event_seals (
    gid          bigint      primary key,    -- the sealed event's gid
    tx           bigint      not null,       -- and its tx: (tx, gid) is its position
    event_id     uuid        not null,
    -- The chain: the org, or the nil uuid for system events; seq counts from 1 within it.
    chain        uuid        not null,
    seq          bigint      not null,
    hash         bytea       not null,
    sealed_at    timestamptz not null default now(),
    constraint event_seals_chain_seq_key unique (chain, seq)
);
-- The sealer resumes from its newest seal; `verify` walks a chain in log order.
create index event_seals_tx_gid_idx on event_seals (tx, gid);
create index event_seals_chain_tx_gid_idx on event_seals (chain, tx, gid);
