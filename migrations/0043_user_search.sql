-- The user search's text in a narrow table of its own (issue #16: NexPort `GetUsers` partial match
-- at a million users, p99 28-34 ms against a target of 10).
--
-- 0027 indexed the four searched fields joined by U+001F on `users`. A term matching many users
-- (`bob12`: 5,100 of a million) was then found by a bitmap heap scan that visits a `users` page
-- for nearly every match: all pages in shared buffers (`shared hit`, no reads), yet 2.3-4 us a
-- match, 12-20 ms to count them. The recheck is not the cost (ILIKE over 200,000 joined strings
-- took 0.35 us a row); visiting a wide row is: a user row carries some 30 columns. Here each live
-- user is one narrow row (the text, the org, and the sort keys of the searches' order), 179 MB at
-- a million users where `users` is 295 MB, so a scan for the same term visits as many pages but
-- far cheaper ones: counted in 6.5 ms warm, counted, sorted and paged in 9-10 ms (`scripts/bench
-- --scale --hold`, EXPLAIN ANALYZE). The page's 20 wide rows are then read by id. A term's cost
-- still grows with its matches: each visits a page of its own.
--
-- The directory projector keeps it in the same statements that write `users`: a creation inserts
-- both, a change to login, names or email rewrites the row, a deletion removes it (only live
-- users are searched, as 0027's index was partial). `search_text` and the keys are computed in SQL
-- from the columns, the same expressions the searches used on `users`, so no answer changes.

-- The searched text, written by this migration and by both projector statements that write it:
-- one definition, so that no writer joins the fields differently. In `public`, as a rebuild's
-- replay runs with its staging schema and `public` on the search path. Inlined by the planner.
create function public.user_search_text(login text, first_name text, last_name text, email text) returns text
language sql immutable as $$
    select login || E'\x1f' || first_name || E'\x1f' || last_name || E'\x1f' || email
$$;

create table rm_directory.user_search (
    id uuid primary key,
    org_id uuid,
    -- login, first name, last name and email joined by U+001F (see 0027 why a term holding it is
    -- searched field by field instead, on `users`).
    search_text text not null,
    last_key text not null,
    first_key text not null,
    login_key text not null
);

insert into rm_directory.user_search (id, org_id, search_text, last_key, first_key, login_key)
select id, org_id, public.user_search_text(login, first_name, last_name, email),
       lower(last_name), lower(first_name), lower(login)
from rm_directory.users where not deleted;

-- No index on `org_id`: as with 0027's, a term's matches are found first and their org checked
-- on the narrow row.
create index user_search_trgm_idx on rm_directory.user_search using gin (search_text gin_trgm_ops);

-- 0027's index on `users` is read by nothing now (NexPort and SCIM search `user_search`), and
-- each user write paid for it. Found by definition, not name, as 0038 found its own: a rebuild's
-- copy (`LIKE ... INCLUDING ALL`) names its indexes anew.
do $$
declare
    old regclass;
begin
    for old in
        select i.indexrelid::regclass from pg_index i
        where i.indrelid = 'rm_directory.users'::regclass and pg_get_indexdef(i.indexrelid) like '%gin_trgm_ops%'
    loop
        execute format('drop index %s', old);
    end loop;
end $$;

analyze rm_directory.user_search;
