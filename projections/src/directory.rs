//! The `directory` projection: organizations, users, groups and memberships, departments and
//! their heads, locations, SSO entries, security groups.

use domain::department::DepartmentEvent;
use domain::group::{GroupEvent, GroupParent};
use domain::location::LocationEvent;
use domain::media::MediaEvent;
use domain::organization::{AuthMethod, OrganizationEvent};
use domain::patch::Patch;
use domain::security_group::SecurityGroupEvent;
use domain::sso::{SsoEvent, SsoLevel};
use domain::user::UserEvent;
use eventlog::{Envelope, Position};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::{decode, ApplyError};

/// The stream types whose events this projection applies; the live projector passes over every
/// other event, and a rebuild reads only these (as `content::STREAM_TYPES`).
pub const STREAM_TYPES: &[&str] = &[
    "organization",
    "user",
    "group",
    "department",
    "location",
    "sso",
    "security_group",
    "media",
    "role_grant",
    "subscription",
    "profile_field",
];

/// Event types of those streams the directory keeps nothing of but, for a user's, the stream
/// version (`stream_versions`). The live projector passes over them undecoded, and a rebuild does
/// not read them at all and takes the versions from the log in one statement
/// (`record_versions`): most of a directory's log is these (every new user is recorded as
/// onboarded and added to a department and a location). Their arms in `user()`, `department()`,
/// `location()` and `security_group()` are empty.
pub const PASSES_OVER: &[&str] = &[
    "UserPasswordSet",
    "AccessTokenIssued",
    "AccessTokenRevoked",
    "UserOnboardingNoticeRecorded",
    "DepartmentMemberAdded",
    "LocationMemberAdded",
    "LocationMemberRemoved",
    "SecurityGroupMemberAdded",
    "SecurityGroupMemberRemoved",
];

/// The tables its projector reads and writes by id only (`Projection::keyed_only`): every
/// statement on `users`, `user_search` and `groups` in this module and in `nexport`'s projector
/// functions finds its rows by `id` (`Update::run`, the creation and deletion runs,
/// `unit_counts_moved`, `search_text_changed`), so a rebuild builds their list, search and lookup
/// indexes after the replay. Kept row by row, the eleven of `users` took about half of the
/// directory's replay at a million users.
pub const KEYED_ONLY: &[&str] = &["users", "user_search", "groups"];

fn passed_over(ev: &Envelope) -> bool {
    !crate::DIRECTORY.reads(&ev.stream_type, &ev.event_type)
}

/// Applies `events` in log order, with the effect of applying them one by one, in fewer
/// statements: every stream version in one upsert, each run of user creations (or deletions) in
/// one statement, and each run of group creations in two (`groups`). A run of users is a sequence
/// of user events that are each a creation (a deletion), with only events the directory passes
/// over between them: a bulk create appends `UserCreated`, `UserOnboardingNoticeRecorded` per
/// user, so its users form one run. Rows of different users never depend on each other, so
/// inserting a run at once is the same as in turn.
/// On failure: the index of the event (for a run, its first event) it failed at; the runner then
/// goes event by event to find the one at fault.
pub async fn apply_all(conn: &mut PgConnection, events: &[&Envelope]) -> Result<(), (usize, ApplyError)> {
    record_stream_versions(conn, events).await.map_err(|e| (0, e.into()))?;
    replay_all(conn, events).await
}

/// As `apply_all`, but for the stream versions, which a rebuild takes from the log afterwards
/// (`record_versions`).
pub async fn replay_all(conn: &mut PgConnection, events: &[&Envelope]) -> Result<(), (usize, ApplyError)> {
    let mut i = 0;
    while i < events.len() {
        let ev = events[i];
        if passed_over(ev) {
            i += 1;
            continue;
        }
        if ev.stream_type == "group" {
            i = groups(conn, events, i).await?;
            continue;
        }
        if ev.stream_type != "user" {
            not_user(conn, ev).await.map_err(|e| (i, e))?;
            i += 1;
            continue;
        }
        let event: UserEvent = decode(ev).map_err(|e| (i, e))?;
        let Some(kind) = RunKind::of(&event) else {
            user(conn, ev, event).await.map_err(|e| (i, e))?;
            i += 1;
            continue;
        };
        let mut run = vec![(ev, event)];
        let mut next = i + 1;
        while let Some(&candidate) = events.get(next) {
            if passed_over(candidate) {
                next += 1;
                continue;
            }
            if candidate.stream_type != "user" {
                break;
            }
            let event: UserEvent = decode(candidate).map_err(|e| (next, e))?;
            if RunKind::of(&event) != Some(kind) {
                break;
            }
            run.push((candidate, event));
            next += 1;
        }
        match kind {
            RunKind::Created => users_created(conn, run).await,
            RunKind::Deleted => users_deleted(conn, run).await,
        }
        .map_err(|e| (i, e))?;
        i = next;
    }
    Ok(())
}

/// Applies the group event at `i`, and with it, if it is a creation, the creations that follow it
/// in one run (one statement per table): returns the index after the last it applied. A group
/// whose parent is created in the same run ends it, since its closure rows are read from its
/// parent's, which must be written first.
async fn groups(conn: &mut PgConnection, events: &[&Envelope], i: usize) -> Result<usize, (usize, ApplyError)> {
    let event: GroupEvent = decode(events[i]).map_err(|e| (i, e))?;
    if !matches!(event, GroupEvent::GroupCreated { .. }) {
        group(conn, events[i], event).await.map_err(|e| (i, e))?;
        return Ok(i + 1);
    }
    let mut run = vec![(events[i], event)];
    let mut ids: std::collections::HashSet<uuid::Uuid> = std::collections::HashSet::from([events[i].stream_id]);
    let mut next = i + 1;
    while let Some(&candidate) = events.get(next).filter(|e| e.stream_type == "group") {
        let event: GroupEvent = decode(candidate).map_err(|e| (next, e))?;
        match &event {
            GroupEvent::GroupCreated { parent, .. } if !parent_columns(*parent).1.is_some_and(|p| ids.contains(&p)) => {
                ids.insert(candidate.stream_id);
                run.push((candidate, event));
                next += 1;
            }
            _ => break,
        }
    }
    groups_created(conn, run).await.map_err(|e| (i, e))?;
    Ok(next)
}

/// Inserts the groups of `run` (its `GroupCreated` events) and their places in the org/group tree,
/// one statement each, as `group()` does for one.
async fn groups_created(conn: &mut PgConnection, run: Vec<(&Envelope, GroupEvent)>) -> Result<(), ApplyError> {
    let mut rows = Vec::with_capacity(run.len());
    let (mut nodes, mut parents) = (Vec::with_capacity(run.len()), Vec::with_capacity(run.len()));
    for (ev, event) in run {
        let GroupEvent::GroupCreated {
            id,
            org_id,
            number,
            name,
            description,
            outbound_caller_ids,
            created_by,
            status,
            membership_type,
            parent,
            short_name,
            tracking,
            activities,
            external_id,
        } = event
        else {
            continue;
        };
        let (parent_kind, parent_id) = parent_columns(parent);
        nodes.push(id.0);
        parents.push(Some(parent_id.unwrap_or(org_id.0)));
        // Keys are the `groups` columns; `jsonb_populate_recordset` casts each to its column's type.
        rows.push(serde_json::json!({
            "id": id.0,
            "org_id": org_id.0,
            "number": number,
            "name": name,
            "description": description,
            "outbound_caller_ids": json(&outbound_caller_ids),
            "created_by": created_by.map(|c| c.0),
            "created_at": ev.recorded_at,
            "updated_at": ev.recorded_at,
            "status": status.as_str(),
            "membership_type": membership_type.as_str(),
            "parent_kind": parent_kind,
            "parent_id": parent_id,
            "short_name": short_name,
            "tracking": tracking,
            "activities": json(&activities),
            "external_id": external_id,
        }));
    }
    sqlx::query!(
        "WITH added AS (INSERT INTO groups (id, org_id, number, name, description, outbound_caller_ids, created_by, created_at, updated_at, \
         status, membership_type, parent_kind, parent_id, short_name, tracking, activities, external_id) \
         SELECT id, org_id, number, name, description, outbound_caller_ids, created_by, created_at, updated_at, \
         status, membership_type, parent_kind, parent_id, short_name, tracking, activities, external_id \
         FROM jsonb_populate_recordset(NULL::groups, $1) RETURNING org_id) \
         INSERT INTO org_group_counts (org_id, live) SELECT org_id, count(*) FROM added GROUP BY org_id \
         ON CONFLICT (org_id) DO UPDATE SET live = org_group_counts.live + excluded.live",
        serde_json::Value::Array(rows),
    )
    .execute(&mut *conn)
    .await?;
    crate::nexport::add_nodes(conn, &nodes, &parents, crate::nexport::NodeKind::Group).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunKind {
    Created,
    Deleted,
}

impl RunKind {
    fn of(event: &UserEvent) -> Option<Self> {
        match event {
            UserEvent::UserCreated { .. } => Some(RunKind::Created),
            UserEvent::UserDeleted { .. } => Some(RunKind::Deleted),
            _ => None,
        }
    }
}

/// SCIM's ETags are the stream versions of users and groups (`crate::scim`): the highest version
/// of each such stream among `events`, in one upsert.
async fn record_stream_versions(conn: &mut PgConnection, events: &[&Envelope]) -> Result<(), sqlx::Error> {
    let mut highest: std::collections::BTreeMap<uuid::Uuid, i32> = std::collections::BTreeMap::new();
    for ev in events.iter().filter(|e| matches!(e.stream_type.as_str(), "user" | "group")) {
        let v = highest.entry(ev.stream_id).or_insert(ev.version);
        *v = (*v).max(ev.version);
    }
    if highest.is_empty() {
        return Ok(());
    }
    let (ids, versions): (Vec<uuid::Uuid>, Vec<i32>) = highest.into_iter().unzip();
    sqlx::query!(
        "INSERT INTO stream_versions (stream_id, version) SELECT * FROM UNNEST($1::uuid[], $2::int[]) \
         ON CONFLICT (stream_id) DO UPDATE SET version = greatest(stream_versions.version, excluded.version)",
        &ids,
        &versions,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The stream versions of users and groups that applying the log's events after `after` up to
/// `through` records, but for the events of `except` (left parked, so not applied): what a
/// rebuild, which replays without them (`replay_all`) and does not read the events of
/// `PASSES_OVER` at all, takes from the log in one statement. The upsert keeps the higher version,
/// as `record_stream_versions` does, so a version recorded already (a parked event the rebuild
/// applied) is no conflict.
pub async fn record_versions(
    conn: &mut PgConnection,
    after: Position,
    through: Position,
    except: &[uuid::Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO stream_versions (stream_id, version) \
         SELECT stream_id, max(version) FROM events \
         WHERE stream_type IN ('user', 'group') AND (tx, gid) > ($1::text::xid8, $2) AND (tx, gid) <= ($3::text::xid8, $4) \
           AND event_id <> ALL($5) \
         GROUP BY stream_id \
         ON CONFLICT (stream_id) DO UPDATE SET version = greatest(stream_versions.version, excluded.version)",
        after.tx.to_string(),
        after.gid,
        through.tx.to_string(),
        through.gid,
        except,
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn not_user(conn: &mut PgConnection, ev: &Envelope) -> Result<(), ApplyError> {
    match ev.stream_type.as_str() {
        "organization" => organization(conn, ev, decode(ev)?).await,
        "group" => group(conn, ev, decode(ev)?).await,
        "department" => department(conn, ev, decode(ev)?).await,
        "location" => location(conn, ev, decode(ev)?).await,
        "sso" => sso(conn, ev, decode(ev)?).await,
        "security_group" => security_group(conn, ev, decode(ev)?).await,
        "media" => media(conn, ev, decode(ev)?).await,
        "role_grant" => crate::nexport::role_grant(conn, ev, decode(ev)?).await,
        "subscription" => crate::nexport::subscription(conn, ev, decode(ev)?).await,
        "profile_field" => crate::nexport::profile_field(conn, ev, decode(ev)?).await,
        // Not in `STREAM_TYPES`: `apply_all` passed over it.
        _ => Ok(()),
    }
}

/// Collects `column = value` pairs of a patch into one UPDATE; `Keep` fields are left out.
struct Update<'a> {
    qb: QueryBuilder<'a, Postgres>,
}

impl<'a> Update<'a> {
    fn new(table: &str, ev: &'a Envelope, by: Option<uuid::Uuid>) -> Self {
        let mut qb = QueryBuilder::new(format!("UPDATE {table} SET updated_at = "));
        qb.push_bind(ev.recorded_at).push(", updated_by = ").push_bind(by);
        Update { qb }
    }

    fn set<T>(&mut self, column: &str, patch: Patch<T>) -> &mut Self
    where
        T: 'a + sqlx::Encode<'a, Postgres> + sqlx::Type<Postgres> + Send,
    {
        match patch {
            Patch::Keep => {}
            Patch::Clear => {
                self.qb.push(format!(", {column} = NULL"));
            }
            Patch::Set(v) => {
                self.qb.push(format!(", {column} = ")).push_bind(v);
            }
        }
        self
    }

    /// A column that always has a value (`NOT NULL`): the patch can keep or set it, never clear it.
    fn set_value<T>(&mut self, column: &str, value: Option<T>) -> &mut Self
    where
        T: 'a + sqlx::Encode<'a, Postgres> + sqlx::Type<Postgres> + Send,
    {
        if let Some(v) = value {
            self.qb.push(format!(", {column} = ")).push_bind(v);
        }
        self
    }

    async fn run(mut self, conn: &mut PgConnection, id: uuid::Uuid) -> Result<(), sqlx::Error> {
        self.qb.push(" WHERE id = ").push_bind(id);
        self.qb.build().execute(conn).await?;
        Ok(())
    }
}

fn json<T: serde::Serialize>(v: T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

async fn organization(conn: &mut PgConnection, ev: &Envelope, event: OrganizationEvent) -> Result<(), ApplyError> {
    match event {
        OrganizationEvent::OrganizationCreated {
            id,
            name,
            subdomain,
            legal_name,
            parent_org_id,
            auth_method,
            admin_user_id,
            created_by,
        } => {
            let auth_method = match auth_method {
                AuthMethod::Internal => "internal",
                AuthMethod::Ldap => "ldap",
            };
            sqlx::query!(
                "INSERT INTO organizations (id, name, subdomain, legal_name, parent_org_id, auth_method, status, admin_user_id, \
                 created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'ACTIVE', $7, $8, $9)",
                id.0,
                name,
                subdomain.as_str(),
                legal_name,
                parent_org_id.map(|p| p.0),
                auth_method,
                admin_user_id.0,
                created_by.0,
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
            crate::nexport::add_node(conn, id.0, parent_org_id.map(|p| p.0), crate::nexport::NodeKind::Organization).await?;
        }
        OrganizationEvent::OrganizationUpdated { patch, updated_by } => {
            let mut u = Update::new("organizations", ev, Some(updated_by.0));
            u.set_value("name", patch.name)
                .set_value("legal_name", patch.legal_name)
                .set("websites", patch.websites.map(json))
                .set("address", patch.address.map(json))
                .set("email", patch.email)
                .set("phone", patch.phone)
                .set("description", patch.description)
                .set("industry", patch.industry)
                .set("file_id", patch.file_id);
            u.run(conn, ev.stream_id).await?;
        }
    }
    Ok(())
}

async fn user(conn: &mut PgConnection, ev: &Envelope, event: UserEvent) -> Result<(), ApplyError> {
    match event {
        UserEvent::UserCreated { .. } => users_created(conn, vec![(ev, event)]).await?,
        UserEvent::UserUpdated { patch, updated_by } => {
            let (add_teams, remove_teams, add_locations) =
                (patch.add_additional_teams, patch.remove_additional_teams, patch.add_additional_locations);
            let searched = patch.first_name.is_some() || patch.last_name.is_some() || patch.email.is_some() || patch.login.is_some();
            unit_counts_moved(conn, ev.stream_id, patch.department.clone(), patch.location.clone()).await?;
            let mut u = Update::new("users", ev, Some(updated_by.0));
            u.set_value("first_name", patch.first_name)
                .set_value("last_name", patch.last_name)
                .set_value("status", patch.status.map(|s| s.as_str().to_string()))
                .set("phone", patch.phone)
                .set_value("is_expert", patch.is_expert)
                .set_value("availability", patch.availability)
                .set("file_id", patch.file_id)
                .set("cover_file_id", patch.cover_file_id)
                .set("reports_to", patch.reports_to.map(|r| r.0))
                .set("designation", patch.designation)
                .set("bio", patch.bio)
                .set_value("is_department_head", patch.is_department_head)
                .set("department", patch.department)
                .set("location", patch.location)
                .set("security_group", patch.security_group)
                .set_value("email", patch.email.map(|e| e.as_str().to_string()))
                .set_value("login", patch.login.map(|l| l.as_str().to_string()))
                .set("middle_name", patch.middle_name)
                .set("title_prefix", patch.title_prefix)
                .set("nickname", patch.nickname);
            if let Patch::Set(c) = patch.contact {
                u.set("address_line1", Patch::from(c.address_line1))
                    .set("address_line2", Patch::from(c.address_line2))
                    .set("city", Patch::from(c.city))
                    .set("state", Patch::from(c.state))
                    .set("country", Patch::from(c.country))
                    .set("postal_code", Patch::from(c.postal_code));
            }
            if !add_teams.is_empty() || !remove_teams.is_empty() {
                // Set semantics on a jsonb array: union with the added, minus the removed.
                u.qb.push(
                    ", additional_teams = (SELECT coalesce(jsonb_agg(DISTINCT t), '[]'::jsonb) FROM jsonb_array_elements(additional_teams || ",
                )
                .push_bind(json(&add_teams))
                .push(") AS t WHERE NOT (")
                .push_bind(json(&remove_teams))
                .push(" @> jsonb_build_array(t)))");
            }
            if !add_locations.is_empty() {
                u.qb.push(", additional_locations = (SELECT coalesce(jsonb_agg(DISTINCT l), '[]'::jsonb) FROM jsonb_array_elements(additional_locations || ")
                    .push_bind(json(&add_locations))
                    .push(") AS l)");
            }
            u.run(conn, ev.stream_id).await?;
            if searched {
                search_text_changed(conn, ev.stream_id).await?;
            }
        }
        UserEvent::UserDeleted { .. } => users_deleted(conn, vec![(ev, event)]).await?,
        // In `PASSES_OVER`: `apply_all` never hands these over.
        UserEvent::UserPasswordSet { .. }
        | UserEvent::AccessTokenIssued { .. }
        | UserEvent::AccessTokenRevoked { .. }
        | UserEvent::UserOnboardingNoticeRecorded { .. } => {}
        UserEvent::UserActivityProgressRecorded { activity_id, activity_type, completed_count } => {
            // Aggregates are per organization; the super admin belongs to none (and to no group).
            sqlx::query!(
                "INSERT INTO activity_progress (org_id, user_id, activity_id, activity_type, completed_count, updated_at) \
                 SELECT org_id, id, $2, $3, $4, $5 FROM users WHERE id = $1 AND org_id IS NOT NULL \
                 ON CONFLICT (user_id, activity_id) DO UPDATE SET activity_type = EXCLUDED.activity_type, \
                 completed_count = EXCLUDED.completed_count, updated_at = EXCLUDED.updated_at",
                ev.stream_id,
                activity_id,
                activity_type,
                completed_count,
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Inserts the users of `run` (its `UserCreated` events) in one statement, and adds them to their
/// organizations' live counts in another.
async fn users_created(conn: &mut PgConnection, run: Vec<(&Envelope, UserEvent)>) -> Result<(), ApplyError> {
    // Column by column, one array each for UNNEST: Postgres reads typed arrays in binary, where a
    // JSON array of row objects had to be parsed and looked up key by key (the replay's largest
    // cost after the indexes).
    let mut c = UserColumns::default();
    let mut per_org: std::collections::BTreeMap<uuid::Uuid, i64> = std::collections::BTreeMap::new();
    let mut per_unit: std::collections::BTreeMap<(uuid::Uuid, uuid::Uuid), i64> = std::collections::BTreeMap::new();
    for (ev, event) in run {
        let UserEvent::UserCreated { id, org_id, number, email, login, first_name, last_name, role, status, profile, created_by } = event
        else {
            continue;
        };
        if let Some(org) = org_id {
            *per_org.entry(org.0).or_default() += 1;
            for unit in profile.department.iter().chain(&profile.location) {
                *per_unit.entry((org.0, *unit)).or_default() += 1;
            }
        }
        c.id.push(id.0);
        c.org_id.push(org_id.map(|o| o.0));
        c.number.push(number);
        c.email.push(email.as_str().to_string());
        c.login.push(login.as_str().to_string());
        c.first_name.push(first_name);
        c.last_name.push(last_name);
        c.role.push(role.as_str());
        c.status.push(status.as_str());
        c.phone.push(profile.phone);
        c.designation.push(profile.designation);
        c.department.push(profile.department);
        c.location.push(profile.location);
        c.reports_to.push(profile.reports_to.map(|r| r.0));
        c.is_department_head.push(profile.is_department_head);
        c.skills.push(json(&profile.skills));
        c.default_visibility.push(profile.default_visibility.map(|v| json(v).as_str().unwrap_or_default().to_string()));
        c.security_group.push(profile.security_group);
        c.additional_teams.push(json(&profile.additional_teams));
        c.additional_locations.push(json(&profile.additional_locations));
        c.external_user_id.push(profile.external_user_id);
        c.created_by.push(created_by.map(|c| c.0));
        c.at.push(ev.recorded_at);
        c.middle_name.push(profile.middle_name);
        c.title_prefix.push(profile.title_prefix);
        c.nickname.push(profile.nickname);
        c.address_line1.push(profile.contact.address_line1);
        c.address_line2.push(profile.contact.address_line2);
        c.city.push(profile.contact.city);
        c.state.push(profile.contact.state);
        c.country.push(profile.contact.country);
        c.postal_code.push(profile.contact.postal_code);
    }
    // The users and their search rows (migration 0043) in one statement: a user is live when created.
    sqlx::query!(
        "WITH t AS MATERIALIZED (SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
         $9::text[], $10::text[], $11::text[], $12::uuid[], $13::uuid[], $14::uuid[], $15::bool[], $16::jsonb[], $17::text[], \
         $18::uuid[], $19::jsonb[], $20::jsonb[], $21::text[], $22::uuid[], $23::timestamptz[], $24::text[], $25::text[], \
         $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[]) \
         AS t(id, org_id, number, email, login, first_name, last_name, role, status, phone, designation, department, \
         location, reports_to, is_department_head, skills, default_visibility, security_group, additional_teams, \
         additional_locations, external_user_id, created_by, at, middle_name, title_prefix, nickname, address_line1, \
         address_line2, city, state, country, postal_code)), \
         searched AS (INSERT INTO user_search (id, org_id, search_text, last_key, first_key, login_key) \
         SELECT id, org_id, user_search_text(login, first_name, last_name, email), \
         lower(last_name), lower(first_name), lower(login) FROM t) \
         INSERT INTO users (id, org_id, number, email, login, first_name, last_name, role, status, phone, designation, \
         department, location, reports_to, is_department_head, skills, default_visibility, security_group, \
         additional_teams, additional_locations, external_user_id, created_by, created_at, updated_at, \
         middle_name, title_prefix, nickname, address_line1, address_line2, city, state, country, postal_code) \
         SELECT id, org_id, number, email, login, first_name, last_name, role, status, phone, designation, \
         department, location, reports_to, is_department_head, skills, default_visibility, security_group, \
         additional_teams, additional_locations, external_user_id, created_by, at, at, \
         middle_name, title_prefix, nickname, address_line1, address_line2, city, state, country, postal_code \
         FROM t",
        &c.id,
        &c.org_id as &[Option<uuid::Uuid>],
        &c.number,
        &c.email,
        &c.login,
        &c.first_name,
        &c.last_name,
        &c.role as &[&str],
        &c.status as &[&str],
        &c.phone as &[Option<String>],
        &c.designation as &[Option<String>],
        &c.department as &[Option<uuid::Uuid>],
        &c.location as &[Option<uuid::Uuid>],
        &c.reports_to as &[Option<uuid::Uuid>],
        &c.is_department_head,
        &c.skills,
        &c.default_visibility as &[Option<String>],
        &c.security_group as &[Option<uuid::Uuid>],
        &c.additional_teams,
        &c.additional_locations,
        &c.external_user_id as &[Option<String>],
        &c.created_by as &[Option<uuid::Uuid>],
        &c.at,
        &c.middle_name as &[Option<String>],
        &c.title_prefix as &[Option<String>],
        &c.nickname as &[Option<String>],
        &c.address_line1 as &[Option<String>],
        &c.address_line2 as &[Option<String>],
        &c.city as &[Option<String>],
        &c.state as &[Option<String>],
        &c.country as &[Option<String>],
        &c.postal_code as &[Option<String>],
    )
    .execute(&mut *conn)
    .await?;
    if !per_org.is_empty() {
        let (orgs, added): (Vec<uuid::Uuid>, Vec<i64>) = per_org.into_iter().unzip();
        sqlx::query!(
            "INSERT INTO org_user_counts (org_id, live) SELECT * FROM UNNEST($1::uuid[], $2::bigint[]) \
             ON CONFLICT (org_id) DO UPDATE SET live = org_user_counts.live + excluded.live",
            &orgs,
            &added,
        )
        .execute(&mut *conn)
        .await?;
    }
    if !per_unit.is_empty() {
        let (keys, added): (Vec<(uuid::Uuid, uuid::Uuid)>, Vec<i64>) = per_unit.into_iter().unzip();
        let (orgs, units): (Vec<uuid::Uuid>, Vec<uuid::Uuid>) = keys.into_iter().unzip();
        sqlx::query!(
            "INSERT INTO unit_user_counts (org_id, unit_id, live) SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[]) \
             ON CONFLICT (org_id, unit_id) DO UPDATE SET live = unit_user_counts.live + excluded.live",
            &orgs,
            &units,
            &added,
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// The `users` columns a creation writes, one array each (`users_created`).
#[derive(Default)]
struct UserColumns {
    id: Vec<uuid::Uuid>,
    org_id: Vec<Option<uuid::Uuid>>,
    number: Vec<i64>,
    email: Vec<String>,
    login: Vec<String>,
    first_name: Vec<String>,
    last_name: Vec<String>,
    role: Vec<&'static str>,
    status: Vec<&'static str>,
    phone: Vec<Option<String>>,
    designation: Vec<Option<String>>,
    department: Vec<Option<uuid::Uuid>>,
    location: Vec<Option<uuid::Uuid>>,
    reports_to: Vec<Option<uuid::Uuid>>,
    is_department_head: Vec<bool>,
    skills: Vec<serde_json::Value>,
    default_visibility: Vec<Option<String>>,
    security_group: Vec<Option<uuid::Uuid>>,
    additional_teams: Vec<serde_json::Value>,
    additional_locations: Vec<serde_json::Value>,
    external_user_id: Vec<Option<String>>,
    created_by: Vec<Option<uuid::Uuid>>,
    /// `created_at` and `updated_at`: the event's time.
    at: Vec<chrono::DateTime<chrono::Utc>>,
    middle_name: Vec<Option<String>>,
    title_prefix: Vec<Option<String>>,
    nickname: Vec<Option<String>>,
    address_line1: Vec<Option<String>>,
    address_line2: Vec<Option<String>>,
    city: Vec<Option<String>>,
    state: Vec<Option<String>>,
    country: Vec<Option<String>>,
    postal_code: Vec<Option<String>>,
}

/// Before a live user's department or location changes: their unit's counts move with them
/// (`unit_user_counts`), computed from the row as it still is. A deleted user counts nowhere.
/// The unit left is updated, never upserted: an upsert's row is checked (`live >= 0`) before
/// its conflict is found.
async fn unit_counts_moved(
    conn: &mut PgConnection,
    user: uuid::Uuid,
    department: Patch<uuid::Uuid>,
    location: Patch<uuid::Uuid>,
) -> Result<(), sqlx::Error> {
    if department.is_keep() && location.is_keep() {
        return Ok(());
    }
    let new = |p: Patch<uuid::Uuid>| match p {
        Patch::Set(u) => Some(u),
        _ => None,
    };
    sqlx::query!(
        "WITH old AS (SELECT org_id, department, location FROM users WHERE id = $1 AND NOT deleted AND org_id IS NOT NULL), \
         moved AS (SELECT old.org_id, v.unit, v.delta FROM old, LATERAL (VALUES (old.department, -1), (old.location, -1), \
                   (CASE WHEN $2 THEN old.department ELSE $3 END, 1), (CASE WHEN $4 THEN old.location ELSE $5 END, 1)) AS v(unit, delta) \
                   WHERE v.unit IS NOT NULL), \
         net AS (SELECT org_id, unit, sum(delta)::bigint AS n FROM moved GROUP BY org_id, unit HAVING sum(delta) <> 0), \
         left_unit AS (UPDATE unit_user_counts c SET live = c.live + net.n FROM net \
                       WHERE net.n < 0 AND c.org_id = net.org_id AND c.unit_id = net.unit) \
         INSERT INTO unit_user_counts (org_id, unit_id, live) SELECT org_id, unit, n FROM net WHERE n > 0 \
         ON CONFLICT (org_id, unit_id) DO UPDATE SET live = unit_user_counts.live + excluded.live",
        user,
        department.is_keep(),
        new(department),
        location.is_keep(),
        new(location),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the search row (migration 0043) of a live user again from `users`, after their login,
/// names or email changed.
async fn search_text_changed(conn: &mut PgConnection, id: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE user_search s SET search_text = user_search_text(u.login, u.first_name, u.last_name, u.email), \
         last_key = lower(u.last_name), first_key = lower(u.first_name), login_key = lower(u.login) \
         FROM users u WHERE s.id = $1 AND u.id = $1",
        id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the users of `run` (its `UserDeleted` events) deleted, and takes them out of the search
/// (migration 0043), in one statement. Each live count (the org's, the department's and the
/// location's) falls by the users who were live: the update returns no row for one already deleted.
async fn users_deleted(conn: &mut PgConnection, run: Vec<(&Envelope, UserEvent)>) -> Result<(), ApplyError> {
    let (mut ids, mut at, mut by) = (Vec::new(), Vec::new(), Vec::new());
    for (ev, event) in run {
        if let UserEvent::UserDeleted { deleted_by } = event {
            ids.push(ev.stream_id);
            at.push(ev.recorded_at);
            by.push(deleted_by.0);
        }
    }
    sqlx::query!(
        "WITH gone AS (UPDATE users u SET deleted = true, status = 'ARCHIVE', updated_at = d.at, updated_by = d.by \
         FROM UNNEST($1::uuid[], $2::timestamptz[], $3::uuid[]) AS d(id, at, by) \
         WHERE u.id = d.id AND NOT u.deleted RETURNING u.id, u.org_id, u.department, u.location), \
         unsearched AS (DELETE FROM user_search s USING gone WHERE s.id = gone.id), \
         fell AS (SELECT org_id, count(*) AS n FROM gone GROUP BY org_id), \
         units AS (SELECT gone.org_id, v.unit, count(*) AS n FROM gone, LATERAL (VALUES (gone.department), (gone.location)) AS v(unit) \
                   WHERE v.unit IS NOT NULL GROUP BY gone.org_id, v.unit), \
         orgs AS (UPDATE org_user_counts c SET live = c.live - fell.n FROM fell WHERE c.org_id = fell.org_id) \
         UPDATE unit_user_counts c SET live = c.live - units.n FROM units WHERE c.org_id = units.org_id AND c.unit_id = units.unit",
        &ids,
        &at,
        &by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn group(conn: &mut PgConnection, ev: &Envelope, event: GroupEvent) -> Result<(), ApplyError> {
    match event {
        created @ GroupEvent::GroupCreated { .. } => groups_created(conn, vec![(ev, created)]).await?,
        GroupEvent::GroupUpdated { patch, updated_by } => {
            let mut u = Update::new("groups", ev, updated_by.map(|u| u.0));
            u.set_value("name", patch.name)
                .set("description", patch.description)
                .set_value("outbound_caller_ids", patch.outbound_caller_ids.map(json))
                .set_value("status", patch.status.map(|s| s.as_str()))
                .set_value("membership_type", patch.membership_type.map(|m| m.as_str()))
                .set("short_name", patch.short_name)
                .set("tracking", patch.tracking)
                .set_value("activities", patch.activities.map(json))
                .set_value("external_id", patch.external_id);
            u.run(conn, ev.stream_id).await?;
        }
        GroupEvent::GroupDeleted { .. } => {
            sqlx::query!("DELETE FROM group_members WHERE group_id = $1", ev.stream_id).execute(&mut *conn).await?;
            sqlx::query!(
                "WITH gone AS (DELETE FROM groups WHERE id = $1 RETURNING org_id) \
                 UPDATE org_group_counts c SET live = c.live - 1 FROM gone WHERE c.org_id = gone.org_id",
                ev.stream_id
            )
            .execute(&mut *conn)
            .await?;
            crate::nexport::remove_node(conn, ev.stream_id).await?;
        }
        GroupEvent::GroupMemberAdded { user_id, role, added_by, visited } => {
            // A member removed before comes back active, with a fresh record.
            sqlx::query!(
                "INSERT INTO group_members (group_id, user_id, role, added_at, added_by, visited, status) VALUES ($1, $2, $3, $4, $5, $6, 'active') \
                 ON CONFLICT (group_id, user_id) DO UPDATE SET role = EXCLUDED.role, added_at = EXCLUDED.added_at, \
                 added_by = EXCLUDED.added_by, visited = EXCLUDED.visited, status = 'active', \
                 updated_at = NULL, updated_by = NULL, removed_at = NULL, removed_by = NULL",
                ev.stream_id,
                user_id.0,
                role.as_str(),
                ev.recorded_at,
                added_by.map(|u| u.0),
                visited,
            )
            .execute(conn)
            .await?;
        }
        GroupEvent::GroupMemberUpdated { user_id, role, visited, updated_by } => {
            sqlx::query!(
                "UPDATE group_members SET role = COALESCE($3, role), visited = COALESCE($4, visited), updated_at = $5, updated_by = $6 \
                 WHERE group_id = $1 AND user_id = $2",
                ev.stream_id,
                user_id.0,
                role.map(|r| r.as_str()),
                visited,
                ev.recorded_at,
                updated_by.map(|u| u.0),
            )
            .execute(conn)
            .await?;
        }
        GroupEvent::GroupMemberRemoved { user_id, removed_by } => {
            sqlx::query!(
                "UPDATE group_members SET status = 'inactive', removed_at = $3, removed_by = $4, updated_at = $3, updated_by = $4 \
                 WHERE group_id = $1 AND user_id = $2",
                ev.stream_id,
                user_id.0,
                ev.recorded_at,
                removed_by.map(|u| u.0),
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

fn parent_columns(parent: Option<GroupParent>) -> (Option<&'static str>, Option<uuid::Uuid>) {
    match parent {
        Some(GroupParent::Organization(o)) => (Some("organization"), Some(o.0)),
        Some(GroupParent::Group(g)) => (Some("group"), Some(g.0)),
        None => (None, None),
    }
}

/// Department members are the users whose `department` is set (user events); only the department
/// itself and its heads are projected here.
async fn department(conn: &mut PgConnection, ev: &Envelope, event: DepartmentEvent) -> Result<(), ApplyError> {
    match event {
        DepartmentEvent::DepartmentCreated { id, org_id, name, created_by } => {
            sqlx::query!(
                "INSERT INTO departments (id, org_id, name, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                id,
                org_id.0,
                name,
                created_by.map(|c| c.0),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        DepartmentEvent::DepartmentUpdated { name, updated_by } => {
            sqlx::query!(
                "UPDATE departments SET name = $2, updated_by = $3, updated_at = $4 WHERE id = $1",
                ev.stream_id,
                name,
                updated_by.map(|u| u.0),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        DepartmentEvent::DepartmentHeadAdded { user_id, .. } => {
            sqlx::query!(
                "INSERT INTO department_heads (department_id, user_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                ev.stream_id,
                user_id.0,
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        DepartmentEvent::DepartmentHeadRemoved { user_id, .. } | DepartmentEvent::DepartmentMemberRemoved { user_id, .. } => {
            sqlx::query!("DELETE FROM department_heads WHERE department_id = $1 AND user_id = $2", ev.stream_id, user_id.0)
                .execute(conn)
                .await?;
        }
        // In `PASSES_OVER`: `apply_all` never hands it over.
        DepartmentEvent::DepartmentMemberAdded { .. } => {}
        DepartmentEvent::DepartmentDeleted { .. } => {
            sqlx::query!("DELETE FROM department_heads WHERE department_id = $1", ev.stream_id).execute(&mut *conn).await?;
            sqlx::query!("DELETE FROM departments WHERE id = $1", ev.stream_id).execute(conn).await?;
        }
    }
    Ok(())
}

/// Location members are the users whose `location` is set (user events).
async fn location(conn: &mut PgConnection, ev: &Envelope, event: LocationEvent) -> Result<(), ApplyError> {
    match event {
        LocationEvent::LocationCreated { id, org_id, name, created_by } => {
            sqlx::query!(
                "INSERT INTO locations (id, org_id, name, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                id,
                org_id.0,
                name,
                created_by.map(|c| c.0),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        LocationEvent::LocationUpdated { name, updated_by } => {
            sqlx::query!(
                "UPDATE locations SET name = $2, updated_by = $3, updated_at = $4 WHERE id = $1",
                ev.stream_id,
                name,
                updated_by.map(|u| u.0),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        // In `PASSES_OVER`: `apply_all` never hands these over.
        LocationEvent::LocationMemberAdded { .. } | LocationEvent::LocationMemberRemoved { .. } => {}
        LocationEvent::LocationDeleted { .. } => {
            sqlx::query!("DELETE FROM locations WHERE id = $1", ev.stream_id).execute(conn).await?;
        }
    }
    Ok(())
}

/// SSO entries: one row each, with its level's id in the matching column.
async fn sso(conn: &mut PgConnection, ev: &Envelope, event: SsoEvent) -> Result<(), ApplyError> {
    match event {
        SsoEvent::SsoCreated {
            id,
            org_id,
            level,
            kind: sso_type,
            name,
            authorization_uri,
            token_uri,
            refresh_uri,
            login_url,
            link,
            order,
            file_id,
            created_by,
        } => {
            let (location_id, department_id, owner_user_id) = match level {
                SsoLevel::Admin => (None, None, None),
                SsoLevel::Location(l) => (Some(l), None, None),
                SsoLevel::Department(d) => (None, Some(d), None),
                SsoLevel::User(u) => (None, None, Some(u.0)),
            };
            sqlx::query!(
                "INSERT INTO sso_entries (id, org_id, level, location_id, department_id, owner_user_id, sso_type, name, \
                 authorization_uri, token_uri, refresh_uri, login_url, link, sort_order, file_id, created_by, created_at, updated_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $16, $17)",
                id,
                org_id.0,
                level.as_str(),
                location_id,
                department_id,
                owner_user_id,
                sso_type.as_str(),
                name,
                authorization_uri,
                token_uri,
                refresh_uri,
                login_url,
                link,
                order,
                file_id,
                created_by.0,
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Security group members are the users whose `security_group` is set (user events).
async fn security_group(conn: &mut PgConnection, ev: &Envelope, event: SecurityGroupEvent) -> Result<(), ApplyError> {
    match event {
        SecurityGroupEvent::SecurityGroupCreated { id, org_id, name, kind, created_by } => {
            sqlx::query!(
                "INSERT INTO security_groups (id, org_id, name, kind, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                id,
                org_id.0,
                name,
                kind.as_str(),
                created_by.map(|c| c.0),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        // In `PASSES_OVER`: `apply_all` never hands these over.
        SecurityGroupEvent::SecurityGroupMemberAdded { .. } | SecurityGroupEvent::SecurityGroupMemberRemoved { .. } => {}
    }
    Ok(())
}

/// Media files: reserved, then uploaded once.
async fn media(conn: &mut PgConnection, ev: &Envelope, event: MediaEvent) -> Result<(), ApplyError> {
    match event {
        MediaEvent::MediaReserved { id, org_id, name, mime, module_code, reserved_by, .. } => {
            sqlx::query!(
                "INSERT INTO media (id, org_id, name, mime, module_code, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                id,
                org_id.0,
                name,
                mime,
                module_code,
                reserved_by.map(|u| u.0),
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
        MediaEvent::MediaUploaded { size, sha256, key, .. } => {
            sqlx::query!(
                "UPDATE media SET uploaded = true, size = $2, sha256 = $3, object_key = $4, uploaded_at = $5 WHERE id = $1",
                ev.stream_id,
                i64::try_from(size).unwrap_or(i64::MAX),
                sha256,
                key,
                ev.recorded_at,
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::event::event_types;

    /// A misspelt name would pass over nothing: the rebuild would read and decode those events.
    #[test]
    fn what_the_directory_passes_over_are_event_types_of_its_streams() {
        let known = [
            event_types::<UserEvent>(),
            event_types::<DepartmentEvent>(),
            event_types::<LocationEvent>(),
            event_types::<SecurityGroupEvent>(),
        ]
        .concat();
        for name in PASSES_OVER {
            assert!(known.iter().any(|k| k == name), "{name} is no event type of the directory's streams");
        }
    }
}
