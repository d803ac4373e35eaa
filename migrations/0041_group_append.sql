-- Group commit of appends (issue #16, the store append at 32 clients).
--
-- One command's `roster_append` (0025, 0029) cost about 0.66 ms of Postgres time for two events
-- and two claims; a bulk create's call costs about 0.02 ms per event and per claim. The
-- difference is per call: the function call, a plan's executor start for each statement, and a
-- commit. So `commands::store` now hands the appends of concurrent commands to one call when they
-- arrive together, and this function takes several commands' columns at once. A call of one
-- command is the common case and works as before.
--
-- Each event names its command (`event_commands`, 1-based); the metadata and the recording time
-- are the command's (`metas`, `recorded`, one per command); so is each idempotency record
-- (`idem_commands`). Claims are all the commands' together, and a value two of them claim is
-- refused like a value held already. A call is atomic as one statement,
-- so a batch that breaks any constraint appends nothing, and the store then appends its
-- commands one by one, each with its own answer. The constraint names raised are those of 0025.
--
-- Releases are applied before claims. For one command that is its own order (a new email
-- replacing the old one); across commands it would let two commands swap values that neither
-- could take alone, so a call that releases carries one command, and the store never groups one.
--
-- Returns the transaction and, per command, the position of its last event (null for a command
-- that appended none).
drop function roster_append(
    uuid[], uuid[], text[], uuid[], int[], text[], int2[], jsonb[], jsonb, timestamptz,
    uuid[], text[], text[], uuid[], uuid[], text[], text[], uuid[], uuid, text, text, jsonb
);

create function roster_append(
    event_commands int[], event_ids uuid[], org_ids uuid[], stream_types text[], stream_ids uuid[],
    versions int[], event_types text[], schema_revs int2[], payloads jsonb[],
    metas jsonb[], recorded timestamptz[],
    release_scopes uuid[], release_kinds text[], release_values text[], release_owners uuid[],
    claim_scopes uuid[], claim_kinds text[], claim_values text[], claim_owners uuid[],
    idem_commands int[], idem_scopes uuid[], idem_keys text[], idem_fingerprints text[], idem_results jsonb[],
    out last_tx bigint, out last_gids bigint[]
) language plpgsql as $$
declare
    taken text;
    inserted bigint;
begin
    if cardinality(release_scopes) > 0 and cardinality(metas) > 1 then
        raise exception 'a roster_append call that releases claims carries one command, not %', cardinality(metas)
            using errcode = 'invalid_parameter_value';
    end if;

    -- One command (the usual call) takes its last event without the join that tells commands
    -- apart: with it, a single command's call took about a tenth longer (pgbench, one client).
    if cardinality(metas) = 1 then
        with appended as (
            insert into public.events (event_id, org_id, stream_type, stream_id, version, event_type, schema_rev, payload, metadata, recorded_at)
            select e, o, st, si, v, et, sr, p, metas[1], recorded[1]
            from unnest(event_ids, org_ids, stream_types, stream_ids, versions, event_types, schema_revs, payloads)
                as t(e, o, st, si, v, et, sr, p)
            returning gid
        )
        select array[max(gid)] into last_gids from appended;
    else
        with appended as (
            insert into public.events (event_id, org_id, stream_type, stream_id, version, event_type, schema_rev, payload, metadata, recorded_at)
            select e, o, st, si, v, et, sr, p, metas[c], recorded[c]
            from unnest(event_commands, event_ids, org_ids, stream_types, stream_ids, versions, event_types, schema_revs, payloads)
                as t(c, e, o, st, si, v, et, sr, p)
            returning event_id, gid
        ), last_of as (
            select t.c, max(a.gid) as gid
            from appended a join unnest(event_ids, event_commands) as t(e, c) on t.e = a.event_id
            group by t.c
        )
        select array_agg(l.gid order by n.n) into last_gids
        from generate_series(1, cardinality(metas)) as n(n) left join last_of l on l.c = n.n;
    end if;
    -- Every row of one transaction has its `tx`.
    if cardinality(event_ids) > 0 then
        last_tx := pg_current_xact_id()::text::bigint;
    end if;

    -- 0029: skipped when empty, or it is planned again on every call.
    if cardinality(release_scopes) > 0 then
        delete from public.unique_claims u
        using unnest(release_scopes, release_kinds, release_values, release_owners) as r(s, k, v, o)
        where u.scope = r.s and u.kind = r.k and u.value = r.v and u.owner_id = r.o;
    end if;

    if cardinality(claim_scopes) > 0 then
        with wanted as (
            select * from unnest(claim_scopes, claim_kinds, claim_values, claim_owners) with ordinality as c(s, k, v, o, n)
        ), got as (
            insert into public.unique_claims (scope, kind, value, owner_id) select s, k, v, o from wanted
            on conflict do nothing
            returning scope, kind, value
        ), missing as (
            select s, k, v from wanted
            except
            select scope, kind, value from got
        )
        -- The first refused claim in the command's order names the error (a taken email before
        -- the login derived from it). `missing` is empty unless the append fails.
        select (select count(*) from got),
            (select w.k from wanted w join missing m on m.s = w.s and m.k = w.k and m.v = w.v order by w.n limit 1)
        into inserted, taken;
        -- Two commands of a group claiming one value insert it once: no value is missing, but
        -- fewer rows went in than were wanted. (One command never claims a value twice:
        -- `commands::store` refuses that before the call.)
        if taken is not null or inserted < cardinality(claim_scopes) then
            taken := coalesce(taken, 'value');
            raise exception '% is already taken', taken
                using errcode = 'unique_violation', constraint = 'unique_claims_pkey', detail = taken;
        end if;
    end if;

    if cardinality(idem_keys) > 0 then
        insert into public.idempotency (scope, key, fingerprint, position_tx, position_gid, result)
        select s, k, f, case when last_gids[c] is not null then last_tx end, last_gids[c], r
        from unnest(idem_commands, idem_scopes, idem_keys, idem_fingerprints, idem_results) as i(c, s, k, f, r);
    end if;
end
$$;
