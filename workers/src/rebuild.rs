//! Rebuild: replays the log from Postgres into a fresh copy of a projection's tables, then swaps
//! it in atomically while the API keeps serving from the old copy.

use commands::{log, Position};
use indicatif::{ProgressBar, ProgressStyle};
use projections::{checkpoint, Projection};
use sqlx::{Acquire, PgConnection, PgPool};

use crate::WorkerError;

const BATCH: i64 = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub projection: &'static str,
    pub events: u64,
    pub position: Position,
}

fn staging_schema(p: &Projection) -> String {
    format!("{}_rebuild", p.schema)
}

/// Rebuilds one projection. `progress` draws a bar (events/s, ETA) on stderr.
pub async fn rebuild(pool: &PgPool, projection: Projection, progress: bool) -> Result<RebuildReport, WorkerError> {
    let staging = staging_schema(&projection);
    create_staging(pool, &projection, &staging).await?;

    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    let bar = if progress { ProgressBar::new(total as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} events  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(projection.name);

    // Phase 1: replay everything visible now, in batches, without blocking the live projector.
    let mut cursor = Position::START;
    let mut applied = 0u64;
    loop {
        let mut conn = pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let n = apply_range(&mut tx, &projection, &staging, &mut cursor, None).await?;
        tx.commit().await?;
        applied += n;
        bar.inc(n);
        if n == 0 {
            break;
        }
    }

    // Phase 2: hold the live checkpoint (the projector waits), catch up to it, swap the schemas.
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let live = checkpoint::lock(&mut tx, projection.name).await?;
    loop {
        let n = apply_range(&mut tx, &projection, &staging, &mut cursor, Some(live.position)).await?;
        applied += n;
        bar.inc(n);
        if n == 0 {
            break;
        }
    }
    // If the rebuild got ahead of a lagging projector, the new tables already hold those events:
    // the checkpoint moves with them so the projector skips them.
    let at = cursor.max(live.position);
    let old = format!("{}_old", projection.schema);
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {old} CASCADE")).execute(&mut *tx).await?;
    sqlx::query(&format!("ALTER SCHEMA {} RENAME TO {old}", projection.schema)).execute(&mut *tx).await?;
    sqlx::query(&format!("ALTER SCHEMA {staging} RENAME TO {}", projection.schema)).execute(&mut *tx).await?;
    sqlx::query(&format!("DROP SCHEMA {old} CASCADE")).execute(&mut *tx).await?;
    if at != live.position {
        checkpoint::advance(&mut tx, projection.name, at, live.stream_seq as i64).await?;
    }
    // The new tables hold every event up to `at`, the parked ones too (a still-refused event
    // fails the rebuild above): none of them is parked anymore.
    let unparked = projections::parked::clear_through(&mut tx, projection.name, at).await?;
    if unparked > 0 {
        tracing::info!(projection = projection.name, unparked, "the rebuild applied parked events");
    }
    tx.commit().await?;
    checkpoint::notify(pool, projection.name).await;
    bar.finish();
    Ok(RebuildReport { projection: projection.name, events: applied, position: at })
}

/// A fresh, empty copy of the projection's tables (columns, defaults, indexes, constraints).
async fn create_staging(pool: &PgPool, projection: &Projection, staging: &str) -> Result<(), WorkerError> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {staging} CASCADE")).execute(&mut *tx).await?;
    sqlx::query(&format!("CREATE SCHEMA {staging}")).execute(&mut *tx).await?;
    for table in projection.tables {
        sqlx::query(&format!("CREATE TABLE {staging}.{table} (LIKE {}.{table} INCLUDING ALL)", projection.schema))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Applies the next batch after `cursor` (up to `until`, inclusive) into the staging schema.
async fn apply_range(
    conn: &mut PgConnection,
    projection: &Projection,
    staging: &str,
    cursor: &mut Position,
    until: Option<Position>,
) -> Result<u64, WorkerError> {
    sqlx::query(&format!("SET LOCAL search_path = {staging}, public")).execute(&mut *conn).await?;
    let events = log::read_after(&mut *conn, *cursor, BATCH).await?;
    let mut n = 0;
    for event in events {
        if until.is_some_and(|u| event.position > u) {
            break;
        }
        projection.apply(conn, &event).await.map_err(|e| WorkerError::Poisoned {
            projection: projection.name.into(),
            event_id: event.event_id.to_string(),
            error: e.to_string(),
        })?;
        *cursor = event.position;
        n += 1;
    }
    sqlx::query(&format!("SET LOCAL search_path = {}", commands::db::SEARCH_PATH)).execute(&mut *conn).await?;
    Ok(n)
}
