//! Reads of uploaded media files, scoped to an organization: another tenant's file, or one that
//! is reserved but not uploaded, matches nothing.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq)]
pub struct FileRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub mime: String,
    pub module_code: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub size: i64,
    pub sha256: String,
    pub object_key: String,
}

pub async fn file(pool: &PgPool, org: Uuid, id: Uuid) -> Result<Option<FileRow>, sqlx::Error> {
    sqlx::query_as!(
        FileRow,
        r#"SELECT id, org_id, name, mime, module_code, created_by, created_at,
                  size AS "size!", sha256 AS "sha256!", object_key AS "object_key!"
           FROM media WHERE id = $1 AND org_id = $2 AND uploaded"#,
        id,
        org,
    )
    .fetch_optional(pool)
    .await
}

/// The uploaded files of `org` among `ids`, in no particular order.
pub async fn files(pool: &PgPool, org: Uuid, ids: &[Uuid]) -> Result<Vec<FileRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    sqlx::query_as!(
        FileRow,
        r#"SELECT id, org_id, name, mime, module_code, created_by, created_at,
                  size AS "size!", sha256 AS "sha256!", object_key AS "object_key!"
           FROM media WHERE id = ANY($1) AND org_id = $2 AND uploaded"#,
        ids,
        org,
    )
    .fetch_all(pool)
    .await
}
