-- The appenders' horizon (0030) could move back, and a live reader then lost events.
--
-- 0030 passes over a running transaction of snapshot S when, at the read of pg_locks that follows
-- S, a backend without APPEND_LOCK holds its xid lock. A transaction x that was running at S but
-- finished before that read holds no lock there any more, so it was not passed over: the horizon
-- stopped at x. That is safe for the read that follows (x has finished), but x may be far below
-- an earlier horizon, one computed while x was running and passed over. 0030 claimed the horizon
-- never moves back, and the readers that join the log to NATS rely on it: `kernel::live` reads the
-- log below a horizon computed after it took the stream's next sequence, and counts on every event
-- the relay published before that sequence being below it. When the horizon moved back, the
-- events between the two were neither read from the log nor delivered from NATS: a notification
-- inbox resumed with `Last-Event-ID` waited for two notifications that never came (seen once, in a
-- CI run whose tests share one cluster, where transactions of other databases commit all the
-- time; xids are the cluster's).
--
-- The fix takes a second snapshot S' in a later statement, after the pg_locks read, and keeps
-- only the transactions still running in it. A transaction of S that is neither passed over nor
-- running in S' finished before S', so a read after S' sees its rows: it does not hold the
-- horizon back. The horizon is
--
--   least(xmax(S), the oldest xid running in S and in S', except those passed over at pg_locks)
--
-- Safe, as in 0030: take an appender B with xid x below it, running at S. Either x was passed
-- over, and B had finished when pg_locks was read (0030's argument), or x no longer ran in S':
-- either way B finished before the follower's later read.
--
-- Never moves back: suppose a horizon H2 = x below an earlier H1. x runs in S2', so it ran at
-- S1 (it is below xmax(S1)) and all the way to S1', so H1 > x means x was passed over at H1's
-- pg_locks read: a backend without APPEND_LOCK held its xid lock. x still ran at S2', after H2's
-- pg_locks read, so that backend held the lock at that read too, still without APPEND_LOCK (a
-- transaction with an xid can never take it: 0030's trigger), and x was passed over again: x is
-- not H2. A transaction whose lock is not yet in pg_locks (its xid was assigned just before S)
-- still holds the horizon back while it runs, as in 0030; it is newer than any earlier horizon.
--
-- The decision is a function of its own, of the two snapshots and the xids passed over, so
-- that its cases can be tested without racing a commit against a pg_locks read.

-- PL/pgSQL, like the caller, for a plan kept for the session (0030: a LANGUAGE sql function is
-- planned on every call).
create function roster_horizon_of(s pg_snapshot, passed_over xid[], later pg_snapshot) returns bigint
language plpgsql immutable as $$
begin
    return (
        select least(
            pg_snapshot_xmax(s),
            (select x from pg_snapshot_xip(s) as x
             where not xid(x) = any(coalesce(passed_over, '{}'))
               and x = any(array(select pg_snapshot_xip(later)))
             order by x limit 1)
        )::text::bigint
    );
end
$$;

-- PL/pgSQL for its cached plans (0030). Each statement of a volatile PL/pgSQL function runs
-- with a snapshot of its own, taken when it starts: the first one's is S, taken before it reads
-- pg_locks, and the second one's is S', taken after.
create or replace function roster_log_horizon() returns bigint language plpgsql volatile as $$
declare
    s pg_snapshot;
    passed xid[];
begin
    with backends as (
        select bool_or(locktype = 'advisory' and classid = 1380930388 and objid = 1163021383 and objsubid = 1
                       and database = (select oid from pg_database where datname = current_database())) as appending,
               array_agg(transactionid) filter (where locktype = 'transactionid' and mode = 'ExclusiveLock' and granted) as xids
        from pg_locks
        where locktype in ('advisory', 'transactionid') and pid is not null
        group by pid
    )
    select pg_current_snapshot(), array(select unnest(xids) from backends where not appending)
    into s, passed;
    return (select roster_horizon_of(s, passed, pg_current_snapshot()));
end
$$;
