//! Parked events (DESIGN §4): what a projection could not apply, and everything of the same stream
//! queued behind it. The runner parks and the checkpoint moves on; `roster projection
//! replay-parked` applies them later (see `workers::parked`). Every function that changes the table
//! runs inside a transaction that holds the projection's checkpoint lock, so the runner, a replay
//! and a rebuild never see each other's half-done work.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use eventlog::{Envelope, Position};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// One parked event, as `roster projection parked` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Parked {
    pub projection: String,
    pub event_id: Uuid,
    pub position: Position,
    pub stream_seq: u64,
    pub org_id: Option<Uuid>,
    pub stream_type: String,
    pub stream_id: Uuid,
    pub event_type: String,
    pub error: String,
    /// 0 for an event parked behind an earlier one of its stream (never tried).
    pub attempts: i32,
    pub parked_at: DateTime<Utc>,
}

/// Of `streams`, those with a parked event in `projection`, each with its first (oldest) parked
/// event: a later event of such a stream is parked behind that one without being tried.
pub async fn heads(conn: &mut PgConnection, projection: &str, streams: &[Uuid]) -> Result<HashMap<Uuid, Uuid>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT DISTINCT ON (stream_id) stream_id, event_id FROM parked_events \
         WHERE projection = $1 AND stream_id = ANY($2) ORDER BY stream_id, tx, gid",
        projection,
        streams,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.stream_id, r.event_id)).collect())
}

/// Parks one event. A second park of the same event (a redelivery racing a crash) changes nothing.
pub async fn park(
    conn: &mut PgConnection,
    projection: &str,
    event: &Envelope,
    stream_seq: u64,
    error: &str,
    attempts: u32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO parked_events (projection, event_id, tx, gid, stream_seq, org_id, stream_type, stream_id, event_type, error, attempts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (projection, event_id) DO NOTHING",
        projection,
        event.event_id,
        event.position.tx,
        event.position.gid,
        stream_seq as i64,
        event.org_id,
        event.stream_type,
        event.stream_id,
        event.event_type,
        error,
        attempts as i32,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The reason recorded for an event parked behind `head` without being tried.
pub fn behind(head: Uuid) -> String {
    format!("parked behind event {head} of the same stream (not tried)")
}

/// Parked events, in log order within each projection; optionally of one projection or stream.
pub async fn list(db: impl PgExecutor<'_>, projection: Option<&str>, stream: Option<Uuid>) -> Result<Vec<Parked>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT projection, event_id, tx, gid, stream_seq, org_id, stream_type, stream_id, event_type, error, attempts, parked_at \
         FROM parked_events WHERE ($1::text IS NULL OR projection = $1) AND ($2::uuid IS NULL OR stream_id = $2) \
         ORDER BY projection, tx, gid",
        projection,
        stream,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Parked {
            projection: r.projection,
            event_id: r.event_id,
            position: Position::new(r.tx, r.gid),
            stream_seq: r.stream_seq as u64,
            org_id: r.org_id,
            stream_type: r.stream_type,
            stream_id: r.stream_id,
            event_type: r.event_type,
            error: r.error,
            attempts: r.attempts,
            parked_at: r.parked_at,
        })
        .collect())
}

/// Takes an event off the parked list (it applied).
pub async fn unpark(conn: &mut PgConnection, projection: &str, event_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM parked_events WHERE projection = $1 AND event_id = $2", projection, event_id).execute(&mut *conn).await?;
    Ok(())
}

/// Records another failed attempt at a parked event.
pub async fn failed_again(conn: &mut PgConnection, projection: &str, event_id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE parked_events SET error = $3, attempts = attempts + 1 WHERE projection = $1 AND event_id = $2",
        projection,
        event_id,
        error,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Re-points the events of `stream` parked after `head` at it (the stream's first parked event
/// changed because the ones before it now applied).
pub async fn queue_behind(conn: &mut PgConnection, projection: &str, stream: Uuid, head: Uuid, at: Position) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE parked_events SET error = $5 WHERE projection = $1 AND stream_id = $2 AND (tx, gid) > ($3, $4)",
        projection,
        stream,
        at.tx,
        at.gid,
        behind(head),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets what a rebuild applied: it replayed every event up to `through` into fresh tables,
/// parked ones too, except those it `kept` parked (still refused, or behind one that is).
pub async fn clear_through(conn: &mut PgConnection, projection: &str, through: Position, kept: &[Uuid]) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM parked_events WHERE projection = $1 AND (tx, gid) <= ($2, $3) AND event_id <> ALL($4)",
        projection,
        through.tx,
        through.gid,
        kept,
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// How many events each projection has parked (projections with none are absent).
pub async fn counts(db: impl PgExecutor<'_>) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows = sqlx::query!(r#"SELECT projection, count(*) AS "n!" FROM parked_events GROUP BY projection"#).fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| (r.projection, r.n)).collect())
}

/// Whether any event of the write committed in transaction `tx` is parked: a command's events
/// all share its transaction (DESIGN §3: one command, one transaction).
pub async fn write_parked(db: impl PgExecutor<'_>, tx: i64) -> Result<bool, sqlx::Error> {
    let row = sqlx::query!(r#"SELECT EXISTS (SELECT 1 FROM parked_events WHERE tx = $1) AS "parked!""#, tx).fetch_one(db).await?;
    Ok(row.parked)
}
