-- `name.familyName sw "…"` (issue #16, SCIM at a million users): a directory search an identity
-- provider's admin console sends. It was narrowed by the trigram index, whose posting lists for a
-- common family name's trigrams hold most of the org: 28 / 37 ms (p50 / p99) at 1,000,000 users in
-- `scripts/bench --scale`, 18-20 ms for the count alone on a scratch copy. A btree over the folded
-- name in the "C" collation serves a prefix (`starts_with`, PostgreSQL 15), equality and ranges
-- (`projections::scim` compares the attribute in that collation): 0.02-1 ms on the same copy.
-- Not partial, as 0036's email index and for its reason: the planner ignores the statistics of a
-- partial index's expression, guessed a third of the org for `gt` and read the table. One more
-- btree entry per user write.
create index users_org_family_name_idx on rm_directory.users (org_id, (lower(last_name) collate "C"));
