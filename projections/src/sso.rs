//! Reads for SSO entries (WorkDrive E73), scoped to an organization and ordered by `order`, then
//! creation. Entries of a deleted location or department are not listed.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct SsoRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub level: String,
    pub location_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub owner_user_id: Option<Uuid>,
    pub sso_type: String,
    pub name: Option<String>,
    pub authorization_uri: Option<String>,
    pub token_uri: Option<String>,
    pub refresh_uri: Option<String>,
    pub login_url: Option<String>,
    pub link: Option<String>,
    pub sort_order: i32,
    pub file_id: Option<Uuid>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// Which entries to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoScope {
    Admin,
    Location(Uuid),
    Department(Uuid),
    User(Uuid),
}

pub async fn entry(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<SsoRow>, sqlx::Error> {
    // `IS NOT DISTINCT FROM`: only the primary key serves this, never `sso_entries_org_level_idx`;
    // see `queries::user`.
    sqlx::query_as!(SsoRow, "SELECT * FROM sso_entries WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2", id, org)
        .fetch_optional(pool)
        .await
}

pub async fn entries(pool: &PgPool, org: Uuid, scope: SsoScope) -> Result<Vec<SsoRow>, sqlx::Error> {
    match scope {
        SsoScope::Admin => {
            sqlx::query_as!(
                SsoRow,
                "SELECT * FROM sso_entries WHERE org_id = $1 AND level = 'admin' ORDER BY sort_order, created_at, id",
                org,
            )
            .fetch_all(pool)
            .await
        }
        SsoScope::Location(l) => {
            sqlx::query_as!(
                SsoRow,
                "SELECT s.* FROM sso_entries s \
                 WHERE s.org_id = $1 AND s.level = 'location' AND s.location_id = $2 \
                 AND EXISTS (SELECT 1 FROM locations l WHERE l.id = $2 AND l.org_id = $1) \
                 ORDER BY s.sort_order, s.created_at, s.id",
                org,
                l,
            )
            .fetch_all(pool)
            .await
        }
        SsoScope::Department(d) => {
            sqlx::query_as!(
                SsoRow,
                "SELECT s.* FROM sso_entries s \
                 WHERE s.org_id = $1 AND s.level = 'department' AND s.department_id = $2 \
                 AND EXISTS (SELECT 1 FROM departments d WHERE d.id = $2 AND d.org_id = $1) \
                 ORDER BY s.sort_order, s.created_at, s.id",
                org,
                d,
            )
            .fetch_all(pool)
            .await
        }
        SsoScope::User(u) => {
            sqlx::query_as!(
                SsoRow,
                "SELECT * FROM sso_entries WHERE org_id = $1 AND level = 'user' AND owner_user_id = $2 \
                 ORDER BY sort_order, created_at, id",
                org,
                u,
            )
            .fetch_all(pool)
            .await
        }
    }
}
