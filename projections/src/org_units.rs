//! Reads for departments and locations (WorkDrive E57–E69), scoped to an organization. Members are
//! the live users whose `department` / `location` names the unit.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::queries::UserRow;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct UnitRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub member_count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct HeadRow {
    pub department_id: Uuid,
    pub user_id: Uuid,
}

pub async fn department(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<UnitRow>, sqlx::Error> {
    sqlx::query_as!(
        UnitRow,
        r#"SELECT d.id, d.org_id, d.name, d.created_by, d.created_at, d.updated_by, d.updated_at,
                  (SELECT count(*) FROM users u WHERE u.org_id = d.org_id AND u.department = d.id AND NOT u.deleted) AS "member_count!"
           FROM departments d WHERE d.id = $1 AND d.org_id = $2"#,
        id,
        org,
    )
    .fetch_optional(pool)
    .await
}

/// One page of the org's departments, oldest first, and how many there are.
pub async fn departments_page(pool: &PgPool, org: Uuid, offset: i64, limit: i64) -> Result<(Vec<UnitRow>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM departments WHERE org_id = $1"#, org).fetch_one(pool).await?;
    let rows = sqlx::query_as!(
        UnitRow,
        r#"SELECT d.id, d.org_id, d.name, d.created_by, d.created_at, d.updated_by, d.updated_at,
                  (SELECT count(*) FROM users u WHERE u.org_id = d.org_id AND u.department = d.id AND NOT u.deleted) AS "member_count!"
           FROM departments d WHERE d.org_id = $1 ORDER BY d.created_at, d.id LIMIT $2 OFFSET $3"#,
        org,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// The live heads of the given departments, in the order they became heads.
pub async fn department_heads(pool: &PgPool, org: Uuid, departments: &[Uuid]) -> Result<Vec<HeadRow>, sqlx::Error> {
    sqlx::query_as!(
        HeadRow,
        "SELECT h.department_id, h.user_id FROM department_heads h \
         JOIN users u ON u.id = h.user_id AND u.org_id = $1 AND NOT u.deleted \
         WHERE h.department_id = ANY($2) ORDER BY h.added_at, h.user_id",
        org,
        departments,
    )
    .fetch_all(pool)
    .await
}

pub async fn department_members(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as!(UserRow, "SELECT * FROM users WHERE org_id = $1 AND department = $2 AND NOT deleted ORDER BY created_at, id", org, id,)
        .fetch_all(pool)
        .await
}

pub async fn location(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<UnitRow>, sqlx::Error> {
    sqlx::query_as!(
        UnitRow,
        r#"SELECT l.id, l.org_id, l.name, l.created_by, l.created_at, l.updated_by, l.updated_at,
                  (SELECT count(*) FROM users u WHERE u.org_id = l.org_id AND u.location = l.id AND NOT u.deleted) AS "member_count!"
           FROM locations l WHERE l.id = $1 AND l.org_id = $2"#,
        id,
        org,
    )
    .fetch_optional(pool)
    .await
}

/// One page of the org's locations, oldest first, and how many there are.
pub async fn locations_page(pool: &PgPool, org: Uuid, offset: i64, limit: i64) -> Result<(Vec<UnitRow>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM locations WHERE org_id = $1"#, org).fetch_one(pool).await?;
    let rows = sqlx::query_as!(
        UnitRow,
        r#"SELECT l.id, l.org_id, l.name, l.created_by, l.created_at, l.updated_by, l.updated_at,
                  (SELECT count(*) FROM users u WHERE u.org_id = l.org_id AND u.location = l.id AND NOT u.deleted) AS "member_count!"
           FROM locations l WHERE l.org_id = $1 ORDER BY l.created_at, l.id LIMIT $2 OFFSET $3"#,
        org,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

pub async fn location_members(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as!(UserRow, "SELECT * FROM users WHERE org_id = $1 AND location = $2 AND NOT deleted ORDER BY created_at, id", org, id,)
        .fetch_all(pool)
        .await
}
