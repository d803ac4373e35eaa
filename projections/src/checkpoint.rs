//! Projection checkpoints: where each projection stands in the log.

use eventlog::Position;
use sqlx::{PgConnection, PgExecutor};

pub const CHECKPOINT_CHANNEL: &str = "roster_checkpoints";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub position: Position,
    pub status: String,
    /// JetStream sequence of the last applied message (0 when unknown).
    pub stream_seq: u64,
}

/// Locks and reads a projection's checkpoint: whoever holds the lock is the only one changing the
/// projection's tables (the projector's batch, or a rebuild's swap).
pub async fn lock(conn: &mut PgConnection, name: &str) -> Result<Checkpoint, sqlx::Error> {
    // The row exists after a projection's first batch: one statement from then on.
    for _ in 0..2 {
        let row = sqlx::query!("SELECT tx, gid, status, stream_seq FROM projection_checkpoints WHERE name = $1 FOR UPDATE", name)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = row {
            return Ok(Checkpoint { position: Position::new(r.tx, r.gid), status: r.status, stream_seq: r.stream_seq as u64 });
        }
        sqlx::query!("INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name)
            .execute(&mut *conn)
            .await?;
    }
    Err(sqlx::Error::RowNotFound)
}

/// Reads a projection's checkpoint without locking it (a missing row reads as the start).
pub async fn read(db: impl PgExecutor<'_>, name: &str) -> Result<Checkpoint, sqlx::Error> {
    let row =
        sqlx::query!("SELECT tx, gid, status, stream_seq FROM projection_checkpoints WHERE name = $1", name).fetch_optional(db).await?;
    Ok(row
        .map(|r| Checkpoint { position: Position::new(r.tx, r.gid), status: r.status, stream_seq: r.stream_seq as u64 })
        .unwrap_or(Checkpoint { position: Position::START, status: "running".into(), stream_seq: 0 }))
}

/// Advances the checkpoint, inside the transaction that applied the events. Call `notify` after
/// that transaction commits.
/// `stream_seq` is the JetStream sequence reached, or the current one when advancing without NATS.
pub async fn advance(conn: &mut PgConnection, name: &str, to: Position, stream_seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE projection_checkpoints SET tx = $2, gid = $3, stream_seq = $4, updated_at = now() WHERE name = $1",
        name,
        to.tx,
        to.gid,
        stream_seq,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Tells readers waiting for read-your-writes that a checkpoint moved. Sent after the commit: a
/// NOTIFY inside the transaction would hold a database-wide lock through its fsync. Only a hint;
/// readers also poll.
pub async fn notify(db: impl PgExecutor<'_>, name: &str) {
    if let Err(e) = sqlx::query!("SELECT pg_notify($1, $2)", CHECKPOINT_CHANNEL, name).execute(db).await {
        tracing::warn!(error = %e, "could not notify checkpoint readers; they will poll");
    }
}

pub async fn set_status(db: impl PgExecutor<'_>, name: &str, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE projection_checkpoints SET status = $2, updated_at = now() WHERE name = $1", name, status).execute(db).await?;
    Ok(())
}

/// Where the read models stand for read-your-writes: the slowest checkpoint, and whether any
/// event is parked (only then does a write check whether its own events were among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub reached: Position,
    pub any_parked: bool,
}

/// Both halves of `Progress` from one snapshot, so a checkpoint that moved past a parked event is
/// never seen without that event.
pub async fn progress(db: impl PgExecutor<'_>) -> Result<Progress, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT tx, gid, EXISTS (SELECT 1 FROM parked_events) AS "any_parked!"
           FROM projection_checkpoints ORDER BY tx, gid LIMIT 1"#
    )
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(Progress { reached: Position::START, any_parked: false }) };
    let reached = Position::new(row.tx, row.gid);
    Ok(Progress { reached, any_parked: row.any_parked })
}

/// The position every projection has reached: reads at or below it see all their writes.
pub async fn slowest(db: impl PgExecutor<'_>) -> Result<Position, sqlx::Error> {
    let row = sqlx::query!("SELECT tx, gid FROM projection_checkpoints ORDER BY tx, gid LIMIT 1").fetch_optional(db).await?;
    Ok(row.map(|r| Position::new(r.tx, r.gid)).unwrap_or(Position::START))
}

pub async fn all(db: impl PgExecutor<'_>) -> Result<Vec<(String, Checkpoint)>, sqlx::Error> {
    let rows = sqlx::query!("SELECT name, tx, gid, status, stream_seq FROM projection_checkpoints ORDER BY name").fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.name, Checkpoint { position: Position::new(r.tx, r.gid), status: r.status, stream_seq: r.stream_seq as u64 }))
        .collect())
}
