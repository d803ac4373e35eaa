-- A team's members read from one index alone (issue #16: the WorkDrive feed of a member of a
-- large team).
--
-- `content_team_authors_reached` (0032) lists the reader's teammates up to one more than the
-- org's team authors. Through `users_org_reports_to_idx (org_id, reports_to)` that list was a
-- bitmap heap scan: every entry of the team read from the index first, then the rows' pages for
-- `not deleted`. In `scripts/bench --scale --scale-users 200000` under auto_explain it read 5,001
-- entries and 698 pages per team for 1,001 teammates. On a scratch copy at 1,000,000 users,
-- `content_reader_grants` for a member of a 50,000-user team took 4.3-4.8 ms with that index and
-- 3.5-4.0 ms with this one (warm, vacuumed).
--
-- With the id in the index and deleted users left out of it, the list is an index-only scan that
-- stops at its limit. Every query on `reports_to` asks for live users, so this index replaces
-- 0008's, and a user write maintains one index for it as before.
create index users_live_team_idx on rm_directory.users (org_id, reports_to, id) where not deleted;
drop index rm_directory.users_org_reports_to_idx;
