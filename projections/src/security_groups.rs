//! Reads for security groups (WorkDrive E70–E72), scoped to an organization. Members are the live
//! users whose `security_group` names the group.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct SecurityGroupRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub member_count: i64,
}

pub async fn security_group(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<SecurityGroupRow>, sqlx::Error> {
    sqlx::query_as!(
        SecurityGroupRow,
        r#"SELECT g.id, g.org_id, g.name, g.kind, g.created_at,
                  (SELECT count(*) FROM users u WHERE u.org_id = g.org_id AND u.security_group = g.id AND NOT u.deleted) AS "member_count!"
           FROM security_groups g WHERE g.id = $1 AND g.org_id = $2"#,
        id,
        org,
    )
    .fetch_optional(pool)
    .await
}

/// One page of the org's security groups (Administrators, Users, then the others oldest first),
/// and how many there are.
pub async fn security_groups_page(pool: &PgPool, org: Uuid, offset: i64, limit: i64) -> Result<(Vec<SecurityGroupRow>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM security_groups WHERE org_id = $1"#, org).fetch_one(pool).await?;
    let rows = sqlx::query_as!(
        SecurityGroupRow,
        r#"SELECT g.id, g.org_id, g.name, g.kind, g.created_at,
                  (SELECT count(*) FROM users u WHERE u.org_id = g.org_id AND u.security_group = g.id AND NOT u.deleted) AS "member_count!"
           FROM security_groups g WHERE g.org_id = $1
           ORDER BY CASE g.kind WHEN 'administrators' THEN 0 WHEN 'users' THEN 1 ELSE 2 END, g.created_at, g.id
           LIMIT $2 OFFSET $3"#,
        org,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}
