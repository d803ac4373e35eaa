-- How many events each projection has parked, on its checkpoint row (issue #16). The runner reads
-- its checkpoint under `FOR UPDATE` before every batch; with the count on that row it knows in the
-- same statement whether any stream is parked at all, and asks which streams only when one is
-- (almost never): one statement less per batch. Read-your-writes reads the count with the position
-- from one row, so "the checkpoint passed a parked event" and "something is parked" are one
-- snapshot.
--
-- The trigger keeps the count exact whoever changes `parked_events` (the runner parking, a replay
-- or a rebuild unparking); each of them holds the projection's checkpoint row lock already, so the
-- update takes no lock that was not held. A park that changes nothing (`ON CONFLICT DO NOTHING`)
-- fires no row trigger.
alter table projection_checkpoints add column parked bigint not null default 0;

update projection_checkpoints c
set parked = (select count(*) from parked_events p where p.projection = c.name);

-- A parked event of a projection that has no checkpoint row yet creates the row (at the start),
-- so the count is never lost.
insert into projection_checkpoints (name, parked)
select projection, count(*) from parked_events
where projection not in (select name from projection_checkpoints)
group by projection;

create function roster_count_parked() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        insert into public.projection_checkpoints (name, parked) values (new.projection, 1)
        on conflict (name) do update set parked = public.projection_checkpoints.parked + 1;
    else
        update public.projection_checkpoints set parked = parked - 1 where name = old.projection;
    end if;
    return null;
end
$$;

create trigger parked_events_count after insert or delete on parked_events
for each row execute function roster_count_parked();
