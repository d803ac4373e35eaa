-- Trigram searches between two vacuums (issue #16). A GIN index with fast update keeps new
-- entries in an unsorted pending list until a vacuum, or the insert that takes the list past
-- `gin_pending_list_limit` (4 MB by default), merges them into the index; every search through
-- the index reads the whole list. The scale benchmark measured it: after 20,000 users and 5,000
-- groups written since the last vacuum, NexPort's partial match went from 4.0 to 24.8 ms at the
-- median (p99 22 to 68 ms), PortSIP's and Publisher's group searches from 1-2 to 5.5-6.4 ms.
-- A live server is mostly in that state: autovacuum comes after 10-20% of a table changed.
--
-- 256 kB keeps a list to about a sixteenth of that. In scratch Postgres (200,000 users, then
-- 120,000 more in batches of 1,000, a search after each), inserts took 20% longer through this
-- index, merges included, and a search 0.43 ms at the median instead of 1.2 ms. Turning fast
-- update off instead made inserts 3.8 times slower. The merges are done by the inserting
-- statement, a projector batch: one merge at this limit is a sixteenth of one at 4 MB.
alter index rm_directory.users_search_trgm_idx set (gin_pending_list_limit = 256);
alter index rm_directory.groups_name_trgm_idx set (gin_pending_list_limit = 256);
alter index rm_directory.groups_description_trgm_idx set (gin_pending_list_limit = 256);
alter index rm_directory.groups_number_trgm_idx set (gin_pending_list_limit = 256);
