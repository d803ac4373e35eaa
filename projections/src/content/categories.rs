//! Categories per module code (WorkDrive E39).

use chrono::{DateTime, Utc};
use domain::category::CategoryEvent;
use eventlog::Envelope;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ApplyError;

pub(super) async fn apply(conn: &mut PgConnection, ev: &Envelope, event: CategoryEvent) -> Result<(), ApplyError> {
    match event {
        CategoryEvent::CategoryCreated { id, org_id, module_code, category, color, created_by } => {
            // The stream id is derived from (org, module, lower(name)), so the unique index can
            // only meet a replay of this same create.
            sqlx::query!(
                "INSERT INTO categories (id, org_id, module_code, category, color, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                id,
                org_id.0,
                module_code.code(),
                category,
                color,
                created_by.map(|u| u.0),
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct CategoryRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub module_code: i16,
    pub category: String,
    pub color: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One page of the org's categories of a module, oldest first, and how many there are.
pub async fn page(pool: &PgPool, org: Uuid, module_code: i16, offset: i64, limit: i64) -> Result<(Vec<CategoryRow>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM categories WHERE org_id = $1 AND module_code = $2"#, org, module_code)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query_as!(
        CategoryRow,
        "SELECT id, org_id, module_code, category, color, created_at FROM categories
         WHERE org_id = $1 AND module_code = $2 ORDER BY created_at, id LIMIT $3 OFFSET $4",
        org,
        module_code,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

pub async fn by_id(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<CategoryRow>, sqlx::Error> {
    sqlx::query_as!(
        CategoryRow,
        "SELECT id, org_id, module_code, category, color, created_at FROM categories WHERE id = $1 AND org_id = $2",
        id,
        org
    )
    .fetch_optional(pool)
    .await
}
