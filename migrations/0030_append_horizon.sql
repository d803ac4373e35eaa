-- A sharper horizon for the log's followers (issue #16, the lag at the top write rate).
--
-- DESIGN §3 reads the log below the oldest running transaction of the whole cluster
-- (`pg_snapshot_xmin`). That is safe, but every transaction holding an xid counts, and most of
-- them never append: a projector applying a batch holds one for the length of the batch (tens of
-- milliseconds at the top rate), the sealer another. Measured, they were the oldest running
-- transaction most of the time, and the relay waited for them before publishing events that had
-- long committed.
--
-- Only a transaction that inserts into `events` can make a row appear behind a cursor. So each
-- such transaction announces itself before it has an xid, and a follower passes over the running
-- transactions that provably are not appenders:
--
--   1. The statement trigger below runs before a transaction's first insert into `events`. It
--      refuses a transaction that already has an xid (it wrote something else first), then takes
--      the shared advisory lock APPEND_LOCK for the rest of the transaction. The row inserts that
--      follow assign the xid. So an appender holds APPEND_LOCK from before its xid exists until
--      its commit is visible (a transaction's locks are released after that).
--   2. `roster_log_horizon()` returns, in one statement with snapshot S and one read of pg_locks
--      after it:
--        least(xmax(S), the oldest xid running in S except those whose own xid lock a backend
--              without APPEND_LOCK held when pg_locks was read)
--   3. The follower then reads `tx < horizon` in a *later* statement, with a later snapshot.
--
-- Why no row with tx < horizon can commit after that read. Take an appender B with xid x below the
-- horizon, so below xmax(S). If B had finished at S, the read sees its rows (or it aborted and has
-- none). Otherwise x is running in S, and since the horizon is above it, x was passed over: its
-- xid lock, which only B holds, was held by a backend without APPEND_LOCK. But B holds
-- APPEND_LOCK for as long as x exists and B has not finished, so B had finished when pg_locks was
-- read (the lock table read is one consistent view), before the later read's snapshot: the read
-- sees its rows. (A savepoint rolled back releases a lock taken under it together with the rows
-- it appended.) A running transaction whose xid lock is not (yet, or any longer) in pg_locks is
-- not passed over: it only holds the horizon back. An appender of another database is passed
-- over like any transaction that does not append here: it cannot write this database's log. The
-- argument needs the two statements: within one, the snapshot predates the pg_locks read, and an
-- appender finishing in between would be neither seen nor waited for.
--
-- The horizon never moves back. An xid below an earlier horizon that is still running was passed
-- over then: a transaction that is not appending, whose xid lock is still held, and which can never
-- take APPEND_LOCK now that it has an xid (the trigger refuses it), so it is passed over again.
-- Hence a read below a horizon computed after the relay published an event sees that event.
-- Every reader that meets a position the relay or the sealer reached must read below it too, or
-- it would miss events that position has passed: the audit reads (`/events`, `/streams/…`, their
-- live tails, `roster events tail`: a write's events are there once the write has answered,
-- since read-your-writes waited for the projections the relay feeds), `roster verify` (against
-- the seals) and a rebuild's catch-up to the live checkpoint.
--
-- The `pg_snapshot_xmin` readers left (a rebuild's first pass, `log::head`, lag figures) stay
-- correct: their horizon is never above this one.
-- Not covered: a prepared (two-phase) transaction holds its locks without a backend; Roster never
-- prepares one.

create function roster_events_appending() returns trigger language plpgsql as $$
begin
    -- Once per transaction: a local setting ends with it, and with a rolled-back savepoint, as
    -- does a lock taken under the savepoint.
    if current_setting('roster.appending', true) is distinct from 'on' then
        if pg_current_xact_id_if_assigned() is not null then
            raise exception 'events must be the first rows a transaction writes (migration 0030)'
                using errcode = 'object_not_in_prerequisite_state';
        end if;
        -- APPEND_LOCK, 0x524F5354_45524C47: pg_locks shows it as classid 1380930388, objid
        -- 1163021383, objsubid 1. Shared: appenders never wait for each other.
        perform pg_advisory_xact_lock_shared(5931050855675612231);
        perform set_config('roster.appending', 'on', true);
    end if;
    return null;
end
$$;

create trigger events_appending before insert on events
    for each statement execute function roster_events_appending();

-- The horizon as a bigint (an xid8), see above. PL/pgSQL keeps the statement's plan for the
-- session; a LANGUAGE sql function is planned again on every call (pgbench, one client: 0.26 ms a
-- call against 0.03 ms). The statement has a snapshot of its own, taken before it reads pg_locks.
create function roster_log_horizon() returns bigint language plpgsql volatile as $$
begin
    return (
        with snap as (
            select pg_current_snapshot() as s
        ), backends as (
            select bool_or(locktype = 'advisory' and classid = 1380930388 and objid = 1163021383 and objsubid = 1
                           and database = (select oid from pg_database where datname = current_database())) as appending,
                   array_agg(transactionid) filter (where locktype = 'transactionid' and mode = 'ExclusiveLock' and granted) as xids
            from pg_locks
            where locktype in ('advisory', 'transactionid') and pid is not null
            group by pid
        ), passed_over as (
            select unnest(xids) as xid from backends where not appending
        )
        select least(
            pg_snapshot_xmax(s),
            (select x from pg_snapshot_xip(s) as x
             where not exists (select 1 from passed_over p where p.xid = xid(x))
             order by x limit 1)
        )::text::bigint
        from snap
    );
end
$$;
