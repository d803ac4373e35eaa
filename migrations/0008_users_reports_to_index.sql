-- "Who reports to this user" (teamMembers, supervisors) must not scan the organization's users.
create index users_org_reports_to_idx on rm_directory.users (org_id, reports_to);
