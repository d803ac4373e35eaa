-- NexPort GetUsers' partial match (issue #16) from one trigram index instead of four. The search
-- matches login, first name, last name and email; with one index per column the planner ORs four
-- bitmap scans, and each reads the long posting lists of a term's common trigrams in full: 17 ms
-- at 200,000 users for a term matching 10, 290 ms for one matching 2,000 (EXPLAIN ANALYZE). One
-- index over the four fields joined by U+001F answers the same terms in 1.4 ms and 23 ms, and
-- costs about what the four did per inserted user. A substring without U+001F lies inside one
-- field, so the match is the same; `projections::nexport::search_users` searches a term holding
-- U+001F (which no index serves) field by field. Only live users are searched.
create index users_search_trgm_idx on rm_directory.users
    using gin ((login || E'\x1f' || first_name || E'\x1f' || last_name || E'\x1f' || email) gin_trgm_ops)
    where not deleted;
-- No other statement reads these (SCIM's `co` uses strpos, WorkDrive lists by btree).
drop index rm_directory.users_login_trgm_idx;
drop index rm_directory.users_email_trgm_idx;
drop index rm_directory.users_first_name_trgm_idx;
drop index rm_directory.users_last_name_trgm_idx;
