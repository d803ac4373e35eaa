-- What an identity provider asks before it writes (issue #16, SCIM at a million users): Okta and
-- Entra ID look a user up by `userName eq "…"` and, when configured to, by `externalId eq "…"`,
-- once per user they provision. Both read every user of the org, about 150 ms each (and twice per
-- request: the count and the page) at 1,000,000 users on a scratch copy:
--
-- * `userName eq` compiled to `lower(login) COLLATE "C" = $1`, and an index matches a comparison
--   only in the collation it was built with, so 0017's `(org_id, lower(login))` stood unused.
--   Equality is the same in every deterministic collation, so the filter now names none
--   (`projections::scim`), and that index serves it.
-- * `externalId eq` had no index. Most users have no external id, and a partial index costs
--   their writes nothing; live users only, as SCIM lists them. Groups have theirs since 0022.
create index users_org_external_id_idx on rm_directory.users (org_id, external_user_id)
    where external_user_id is not null and not deleted;

-- `emails.value eq "…"` (Entra ID's matching attribute when userName is not the address) is
-- narrowed by the trigram index otherwise, whose common trigrams (`exa`, `.co`) every user has:
-- 18-26 ms at 200,000 users in `scripts/bench --scale`. It costs each user write one more btree
-- entry, as 0017's login index does. Not partial, like that one: the planner ignores the
-- statistics of a partial index's expression, took `lower(email) = $1` to match 0.5% of the
-- users, and preferred the trigram index (91 ms at a million users).
create index users_org_email_lower_idx on rm_directory.users (org_id, lower(email));
