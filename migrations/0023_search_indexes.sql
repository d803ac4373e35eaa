-- Substring search (NexPort GetUsers' partial match, PortSIP/Publisher group search) is
-- `ILIKE '%term%'`, which no btree can serve: without these an org of a million users is read
-- whole on every search. Trigram GIN indexes answer a substring of three or more characters from
-- the index; the planner ORs them (BitmapOr) across the columns a search spans.
create extension if not exists pg_trgm;

create index users_login_trgm_idx on rm_directory.users using gin (login gin_trgm_ops);
create index users_email_trgm_idx on rm_directory.users using gin (email gin_trgm_ops);
create index users_first_name_trgm_idx on rm_directory.users using gin (first_name gin_trgm_ops);
create index users_last_name_trgm_idx on rm_directory.users using gin (last_name gin_trgm_ops);
create index groups_name_trgm_idx on rm_directory.groups using gin (name gin_trgm_ops);
create index groups_description_trgm_idx on rm_directory.groups using gin (description gin_trgm_ops);
