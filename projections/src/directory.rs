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
use eventlog::Envelope;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::{decode, ApplyError};

pub async fn apply(conn: &mut PgConnection, ev: &Envelope) -> Result<(), ApplyError> {
    // SCIM's ETags are the stream versions of users and groups (`crate::scim`).
    if matches!(ev.stream_type.as_str(), "user" | "group") {
        sqlx::query!(
            "INSERT INTO stream_versions (stream_id, version) VALUES ($1, $2) \
             ON CONFLICT (stream_id) DO UPDATE SET version = greatest(stream_versions.version, excluded.version)",
            ev.stream_id,
            ev.version,
        )
        .execute(&mut *conn)
        .await?;
    }
    match ev.stream_type.as_str() {
        "organization" => organization(conn, ev, decode(ev)?).await,
        "user" => user(conn, ev, decode(ev)?).await,
        "group" => group(conn, ev, decode(ev)?).await,
        "department" => department(conn, ev, decode(ev)?).await,
        "location" => location(conn, ev, decode(ev)?).await,
        "sso" => sso(conn, ev, decode(ev)?).await,
        "security_group" => security_group(conn, ev, decode(ev)?).await,
        "media" => media(conn, ev, decode(ev)?).await,
        "role_grant" => crate::nexport::role_grant(conn, ev, decode(ev)?).await,
        "subscription" => crate::nexport::subscription(conn, ev, decode(ev)?).await,
        "profile_field" => crate::nexport::profile_field(conn, ev, decode(ev)?).await,
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
            crate::nexport::add_node(conn, id.0, parent_org_id.map(|p| p.0)).await?;
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
        UserEvent::UserCreated { id, org_id, number, email, login, first_name, last_name, role, status, profile, created_by } => {
            sqlx::query!(
                "INSERT INTO users (id, org_id, number, email, login, first_name, last_name, role, status, phone, designation, \
                 department, location, reports_to, is_department_head, skills, default_visibility, security_group, \
                 additional_teams, additional_locations, external_user_id, created_by, created_at, updated_at, \
                 middle_name, title_prefix, nickname, address_line1, address_line2, city, state, country, postal_code) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $23, \
                 $24, $25, $26, $27, $28, $29, $30, $31, $32)",
                id.0,
                org_id.map(|o| o.0),
                number,
                email.as_str(),
                login.as_str(),
                first_name,
                last_name,
                role.as_str(),
                status.as_str(),
                profile.phone,
                profile.designation,
                profile.department,
                profile.location,
                profile.reports_to.map(|r| r.0),
                profile.is_department_head,
                json(&profile.skills),
                profile.default_visibility.map(|v| json(v).as_str().unwrap_or_default().to_string()),
                profile.security_group,
                json(&profile.additional_teams),
                json(&profile.additional_locations),
                profile.external_user_id,
                created_by.map(|c| c.0),
                ev.recorded_at,
                profile.middle_name,
                profile.title_prefix,
                profile.nickname,
                profile.contact.address_line1,
                profile.contact.address_line2,
                profile.contact.city,
                profile.contact.state,
                profile.contact.country,
                profile.contact.postal_code,
            )
            .execute(&mut *conn)
            .await?;
            if let Some(org) = org_id {
                sqlx::query!(
                    "INSERT INTO org_user_counts (org_id, live) VALUES ($1, 1) ON CONFLICT (org_id) DO UPDATE SET live = org_user_counts.live + 1",
                    org.0,
                )
                .execute(conn)
                .await?;
            }
        }
        UserEvent::UserUpdated { patch, updated_by } => {
            let (add_teams, remove_teams, add_locations) =
                (patch.add_additional_teams, patch.remove_additional_teams, patch.add_additional_locations);
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
        }
        UserEvent::UserDeleted { deleted_by } => {
            // The count falls only when a live user is deleted: the CTE's update returns no row
            // for a user who already was.
            sqlx::query!(
                "WITH gone AS (UPDATE users SET deleted = true, status = 'ARCHIVE', updated_at = $2, updated_by = $3 \
                 WHERE id = $1 AND NOT deleted RETURNING org_id) \
                 UPDATE org_user_counts c SET live = c.live - 1 FROM gone WHERE c.org_id = gone.org_id",
                ev.stream_id,
                ev.recorded_at,
                deleted_by.0,
            )
            .execute(conn)
            .await?;
        }
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

async fn group(conn: &mut PgConnection, ev: &Envelope, event: GroupEvent) -> Result<(), ApplyError> {
    match event {
        GroupEvent::GroupCreated {
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
        } => {
            let (parent_kind, parent_id) = parent_columns(parent);
            sqlx::query!(
                "INSERT INTO groups (id, org_id, number, name, description, outbound_caller_ids, created_by, created_at, updated_at, \
                 status, membership_type, parent_kind, parent_id, short_name, tracking, activities, external_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                id.0,
                org_id.0,
                number,
                name,
                description,
                json(&outbound_caller_ids),
                created_by.map(|c| c.0),
                ev.recorded_at,
                status.as_str(),
                membership_type.as_str(),
                parent_kind,
                parent_id,
                short_name,
                tracking,
                json(&activities),
                external_id,
            )
            .execute(&mut *conn)
            .await?;
            // In the org/group tree: under its parent, or directly under its organization.
            crate::nexport::add_node(conn, id.0, Some(parent_id.unwrap_or(org_id.0))).await?;
        }
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
            sqlx::query!("DELETE FROM groups WHERE id = $1", ev.stream_id).execute(&mut *conn).await?;
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
