//! Who may see a content item, stored and asked (DESIGN §11, "One visibility rule everywhere").
//!
//! The writer side stores an item's grants (`domain::audience::Grant`) as `audience` rows. The
//! reader side is one SQL function, `content_reader_grants(reader)` (migrations 0013, 0032), that
//! lists the reader's principals in the same kinds; an item is visible when the two meet, or when
//! the reader is an admin of the item's org. Queries spell the test in SQL so that lists, counts
//! and direct reads agree and pages are never filtered in Rust:
//!
//! ```sql
//! ($admin OR EXISTS (SELECT 1 FROM audience a WHERE a.item_id = x.id
//!                    AND (a.kind, a.ref) IN (SELECT kind, ref FROM content_reader_grants($reader))))
//! ```
//! (`push_visible` writes the same for dynamic queries.)

use domain::audience::Grant;
use domain::OrgId;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// The reader of a content query: the caller, their org, and whether they administer it (org
/// admins see everything of their org).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub user: Uuid,
    pub org: Uuid,
    pub admin: bool,
}

/// Replaces an item's grants (a create, or a change of its permissions). An item of `org` whose
/// audience is its author's team also lists the author in `team_authors` (migration 0032), which
/// is how a reader's "team of X" grants are found without listing the reader's team.
pub async fn replace(conn: &mut PgConnection, org: OrgId, item: Uuid, grants: &[Grant]) -> Result<(), sqlx::Error> {
    remove(conn, item).await?;
    let kinds: Vec<i16> = grants.iter().map(Grant::kind).collect();
    let refs: Vec<Uuid> = grants.iter().map(Grant::reference).collect();
    sqlx::query!(
        "INSERT INTO audience (item_id, kind, ref) SELECT $1, k, r FROM UNNEST($2::smallint[], $3::uuid[]) AS g(k, r)
         ON CONFLICT DO NOTHING",
        item,
        &kinds,
        &refs,
    )
    .execute(&mut *conn)
    .await?;
    for grant in grants {
        if let Grant::TeamOf(author) = grant {
            // Insert-only: an author whose team items are all gone costs a probe, never a wrong
            // answer, since audience rows decide what a reader sees.
            sqlx::query!("INSERT INTO team_authors (org_id, author) VALUES ($1, $2) ON CONFLICT DO NOTHING", org.0, author.0)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Forgets an item's grants (a delete).
pub async fn remove(conn: &mut PgConnection, item: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM audience WHERE item_id = $1", item).execute(&mut *conn).await?;
    Ok(())
}

/// Whether `reader` may see `item` (which must belong to the reader's org; the caller checks that
/// with the item's row).
pub async fn can_see(pool: &PgPool, reader: Reader, item: Uuid) -> Result<bool, sqlx::Error> {
    if reader.admin {
        return Ok(true);
    }
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM audience a WHERE a.item_id = $1
                 AND (a.kind, a.ref) IN (SELECT kind, ref FROM content_reader_grants($2))) AS "visible!""#,
        item,
        reader.user,
    )
    .fetch_one(pool)
    .await
}

/// Appends the visibility test for the item whose id is `id_column` (e.g. `p.id`) to a dynamic
/// query, binding the reader.
pub fn push_visible(qb: &mut QueryBuilder<'_, Postgres>, reader: Reader, id_column: &str) {
    qb.push("(").push_bind(reader.admin);
    qb.push(format!(" OR EXISTS (SELECT 1 FROM audience a WHERE a.item_id = {id_column} AND (a.kind, a.ref) IN (SELECT kind, ref FROM content_reader_grants("));
    qb.push_bind(reader.user).push("))))");
}
