-- A command's append in one round trip (issue #16): `commands::store` used to send these
-- statements one by one inside a transaction (BEGIN, events, released claims, new claims, the
-- idempotency record, COMMIT). This function runs the same statements in the same order, in the
-- caller's transaction, or in the calling statement's own when there is none, so the append is
-- still all or nothing and every failure keeps its constraint's name:
--   events_stream_version_key   another writer appended to one of the streams first;
--   events_event_id_key         a retry racing its first attempt (event ids derive from the key);
--   unique_claims_pkey          a claim someone else holds; DETAIL is the claim's kind;
--   idempotency_pkey            another request with the same key committed first.
-- Returns the position of the last event (both null when the command appended no event).
create function roster_append(
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

    delete from public.unique_claims u
    using unnest(release_scopes, release_kinds, release_values, release_owners) as r(s, k, v, o)
    where u.scope = r.s and u.kind = r.k and u.value = r.v and u.owner_id = r.o;

    with wanted as (
        select * from unnest(claim_scopes, claim_kinds, claim_values, claim_owners) as c(s, k, v, o)
    ), got as (
        insert into public.unique_claims (scope, kind, value, owner_id) select s, k, v, o from wanted
        on conflict do nothing
        returning scope, kind, value
    )
    select w.k into taken from wanted w
    where not exists (select 1 from got g where g.scope = w.s and g.kind = w.k and g.value = w.v)
    limit 1;
    if taken is not null then
        raise exception '% is already taken', taken
            using errcode = 'unique_violation', constraint = 'unique_claims_pkey', detail = taken;
    end if;

    if idem_key is not null then
        insert into public.idempotency (scope, key, fingerprint, position_tx, position_gid, result)
        values (idem_scope, idem_key, idem_fingerprint, last_tx, last_gid, idem_result);
    end if;
end
$$;
