-- The organizations below a node, without walking its groups (issue #16: NexPort at 100,000
-- groups).
--
-- NexPort scopes most calls to the organizations the caller may act in (`permitted_orgs`: for an
-- org admin, every organization of their subtree), and asked the closure for every descendant of
-- the admin's org, then kept the organizations: one closure row per group as well. With 100,000
-- groups under the org that was 100,000 index entries and as many probes of `organizations`, on
-- every GetUsers: 17-33 ms each in `scripts/bench --scale`, once the plan cache switched to the
-- generic plan (a custom plan could stop a merge join early, by luck of the ids' order).
--
-- The closure row now says whether its descendant is an organization, and a partial index lists
-- those rows by ancestor, so the organizations of a subtree cost what there are of them. A node's
-- kind never changes, and every row of a node is written when the node is added, so the flag is
-- set once with the row.
alter table rm_directory.node_closure add column descendant_is_org boolean not null default false;

update rm_directory.node_closure c set descendant_is_org = true
from rm_directory.organizations o where o.id = c.descendant_id;

create index node_closure_orgs_idx on rm_directory.node_closure (ancestor_id, descendant_id) where descendant_is_org;
