-- Two plans inside `roster_append` (0025), found with pg_stat_statements' planning counts
-- (`track_planning`, `track = all`) over the write benchmark:
--
-- * The release of claims was planned again on every call: 6,801 plans in 6,780 calls, 0.15 ms
--   each, against 0.008 ms to run it. With the arrays' sizes known, a custom plan for an empty
--   release always looks cheaper than the generic one, so the plan cache never settles. Most
--   commands release nothing (every create); those now skip the statement, and a command that
--   claims nothing skips the claims statement for the same reason.
-- * "Which wanted claim did the insert not take" was an anti join under `LIMIT 1`. Planned with
--   the arrays' real sizes (a connection's first five calls), the planner expects an early match
--   and picks a nested loop: 217 ms for a 1,000-user bulk create's 2,000 claims, quadratic in the
--   claims, where a hash takes 20 ms. `EXCEPT` is a hashed or sorted set operation under any
--   plan, with the same answer: a wanted (scope, kind, value) that this statement did not
--   insert, duplicates within the call counting once. Of those, the first in the command's
--   order is named, as the anti join's first row was.
--
-- The function's signature, its statements' order and the constraint names it raises are
-- unchanged (see 0025).
create or replace function roster_append(
    event_ids uuid[], org_ids uuid[], stream_types text[], stream_ids uuid[], versions int[],
    event_types text[], schema_revs int2[], payloads jsonb[], meta jsonb, recorded timestamptz,
    release_scopes uuid[], release_kinds text[], release_values text[], release_owners uuid[],
    claim_scopes uuid[], claim_kinds text[], claim_values text[], claim_owners uuid[],
    idem_scope uuid, idem_key text, idem_fingerprint text, idem_result jsonb,
    out last_tx bigint, out last_gid bigint
) language plpgsql as $$
declare
    taken text;
begin
    with appended as (
        insert into public.events (event_id, org_id, stream_type, stream_id, version, event_type, schema_rev, payload, metadata, recorded_at)
        select e, o, st, si, v, et, sr, p, meta, recorded
        from unnest(event_ids, org_ids, stream_types, stream_ids, versions, event_types, schema_revs, payloads)
            as t(e, o, st, si, v, et, sr, p)
        returning gid
    )
    select max(gid) into last_gid from appended;
    -- Every row of one transaction has its `tx`.
    if last_gid is not null then
        last_tx := pg_current_xact_id()::text::bigint;
    end if;

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
        select w.k into taken from wanted w
        join missing m on m.s = w.s and m.k = w.k and m.v = w.v
        order by w.n
        limit 1;
        if taken is not null then
            raise exception '% is already taken', taken
                using errcode = 'unique_violation', constraint = 'unique_claims_pkey', detail = taken;
        end if;
    end if;

    if idem_key is not null then
        insert into public.idempotency (scope, key, fingerprint, position_tx, position_gid, result)
        values (idem_scope, idem_key, idem_fingerprint, last_tx, last_gid, idem_result);
    end if;
end
$$;
