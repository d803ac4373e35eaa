-- SCIM `displayName eq "…"` on Groups (issue #16, SCIM at a million users): how an identity
-- provider finds the group it is about to provision. It was narrowed by the trigram index of the
-- name, whose posting lists for trigrams every group name of an org shares (`Group Sales 4562`)
-- are long: 4.2 / 5.8 ms (p50 / p99) at 100,000 groups in `scripts/bench --scale`, 2.2-2.9 ms for
-- the count alone on a scratch copy (197 buffers). A btree over the folded name in the "C"
-- collation serves equality, a prefix (`starts_with`) and ranges (`projections::scim` compares the
-- attribute in that collation), as 0037's does for family names: 0.07 ms on the same copy (4
-- buffers). Not partial, for 0037's reason. One more btree entry per group write.
create index groups_org_display_name_idx on rm_directory.groups (org_id, (lower(name) collate "C"));
