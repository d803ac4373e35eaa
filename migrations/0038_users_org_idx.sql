-- One btree fewer on every user write (issue #16). 0002's `(org_id, created_at, id)` index holds
-- deleted users too, and 0024's `users_live_idx` holds the same keys for live users only. Every
-- statement that reads users by org also asks for live users (checked over `.sqlx/` and the
-- dynamic SQL of `projections`), which the partial index serves. `pg_stat_user_indexes` showed the
-- old one never scanned through a whole `scripts/bench --scale` run: the load of a million users
-- and every dialect's reads. 0037 added a btree to each user write; this takes one away.
-- Found by definition, not name, as 0024 found its own: a rebuild's copy (`LIKE ... INCLUDING
-- ALL`) names its indexes anew.
do $$
declare
    old regclass;
begin
    for old in
        select i.indexrelid::regclass from pg_index i
        where i.indrelid = 'rm_directory.users'::regclass and i.indpred is null and not i.indisunique
          and pg_get_indexdef(i.indexrelid) ~ 'USING btree \(org_id, created_at, id\)$'
    loop
        execute format('drop index %s', old);
    end loop;
end $$;
