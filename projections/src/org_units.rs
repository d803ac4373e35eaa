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

/// Which table a read is about. Both kinds read alike: the unit's row, and the live users whose
/// own column (`department` / `location`) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    Department,
    Location,
}

/// sqlx checks a query at compile time only when its text is literal, so the text shared by both
/// kinds is spelled once here and completed with each kind's table or column name.
macro_rules! select_units {
    ($table:literal, $column:literal, $rest:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            UnitRow,
            r#"SELECT o.id, o.org_id, o.name, o.created_by, o.created_at, o.updated_by, o.updated_at,
                  (SELECT count(*) FROM users u WHERE u.org_id = o.org_id AND u."# + $column + r#" = o.id AND NOT u.deleted) AS "member_count!"
               FROM "# + $table + " o " + $rest,
            $($arg),*
        )
    };
}

macro_rules! count_units {
    ($table:literal, $org:expr) => {
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM "# + $table + " WHERE org_id = $1", $org)
    };
}

macro_rules! select_members {
    ($column:literal, $org:expr, $id:expr) => {
        sqlx::query_as!(
            UserRow,
            "SELECT * FROM users WHERE org_id = $1 AND " + $column + " = $2 AND NOT deleted ORDER BY created_at, id",
            $org,
            $id
        )
    };
}

/// The org's unit `id`, with its member count.
pub async fn unit(pool: &PgPool, kind: UnitKind, org: Uuid, id: Uuid) -> Result<Option<UnitRow>, sqlx::Error> {
    match kind {
        UnitKind::Department => {
            select_units!("departments", "department", "WHERE o.id = $1 AND o.org_id = $2", id, org).fetch_optional(pool).await
        }
        UnitKind::Location => {
            select_units!("locations", "location", "WHERE o.id = $1 AND o.org_id = $2", id, org).fetch_optional(pool).await
        }
    }
}

/// One page of the org's units, oldest first, and how many there are.
pub async fn page(pool: &PgPool, kind: UnitKind, org: Uuid, offset: i64, limit: i64) -> Result<(Vec<UnitRow>, i64), sqlx::Error> {
    let rows = match kind {
        UnitKind::Department => {
            select_units!(
                "departments",
                "department",
                "WHERE o.org_id = $1 ORDER BY o.created_at, o.id LIMIT $2 OFFSET $3",
                org,
                limit,
                offset
            )
            .fetch_all(pool)
            .await?
        }
        UnitKind::Location => {
            select_units!("locations", "location", "WHERE o.org_id = $1 ORDER BY o.created_at, o.id LIMIT $2 OFFSET $3", org, limit, offset)
                .fetch_all(pool)
                .await?
        }
    };
    let total = match kind {
        UnitKind::Department => count_units!("departments", org).fetch_one(pool).await?,
        UnitKind::Location => count_units!("locations", org).fetch_one(pool).await?,
    };
    Ok((rows, total))
}

/// The live users in the org's unit `id`, oldest first.
pub async fn members(pool: &PgPool, kind: UnitKind, org: Uuid, id: Uuid) -> Result<Vec<UserRow>, sqlx::Error> {
    match kind {
        UnitKind::Department => select_members!("department", org, id).fetch_all(pool).await,
        UnitKind::Location => select_members!("location", org, id).fetch_all(pool).await,
    }
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
