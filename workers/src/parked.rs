//! `roster projection parked` and `roster projection replay-parked`: what the runner parked, and
//! applying it once the cause is fixed (DESIGN §4).
//!
//! A replay holds the projection's checkpoint lock for its whole transaction, like the runner's
//! batches and a rebuild's swap: the live runner waits meanwhile, so it can neither apply a later
//! event of a stream ahead of the replay nor park behind an event the replay just took off the
//! list. Within a stream the parked events are applied in log order, each under a savepoint; the
//! first one still refused stays parked, and so does everything behind it in that stream (untried:
//! applying them would reorder the stream). The checkpoint does not move: it is already past them.
//!
//! Only the stream's own events wait; another stream's later events were applied meanwhile. A
//! projector that reads across streams (e.g. a member added to a group whose user was deleted in
//! between) sees the replayed event after them; `roster rebuild` replays everything in log order
//! when that matters, and clears what it applied from the parked list.

use eventlog::{Envelope, Position};
use projections::parked::{self, Parked};
use projections::{checkpoint, ApplyError, Projection};
use sqlx::{Acquire, PgPool};
use uuid::Uuid;

use crate::WorkerError;

/// Parked events, in log order per projection; optionally of one projection or stream.
pub async fn list(pool: &PgPool, projection: Option<&str>, stream: Option<Uuid>) -> Result<Vec<Parked>, WorkerError> {
    Ok(parked::list(pool, projection, stream).await?)
}

/// What one replay did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReplayReport {
    /// Applied now, and off the parked list.
    pub applied: Vec<Parked>,
    /// Tried and refused again, with the new error: still parked, each the head of its stream.
    pub failing: Vec<Parked>,
    /// Not tried because an earlier event of their stream is still refused: still parked.
    pub behind: Vec<Parked>,
}

/// Re-applies the parked events of `projections` (optionally of one stream only), in log order per
/// stream. A transient database failure rolls the whole replay back (nothing changed; run it
/// again).
pub async fn replay(pool: &PgPool, projections: &[Projection], stream: Option<Uuid>) -> Result<ReplayReport, WorkerError> {
    let mut report = ReplayReport::default();
    for projection in projections {
        replay_one(pool, *projection, stream, &mut report).await?;
    }
    Ok(report)
}

async fn replay_one(pool: &PgPool, projection: Projection, stream: Option<Uuid>, report: &mut ReplayReport) -> Result<(), WorkerError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    checkpoint::lock(&mut tx, projection.name).await?;
    // Read under the lock: the runner parks nothing new meanwhile.
    let waiting = parked::list(&mut *tx, Some(projection.name), stream).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = waiting.iter().map(|p| p.event_id).collect();
    let events = events_by_id(&mut tx, &ids).await?;
    // The head of each stream that is still refused, once one is.
    let mut refused: std::collections::HashMap<Uuid, Uuid> = std::collections::HashMap::new();
    let mut changed_head: Vec<(Uuid, Uuid, Position)> = Vec::new();
    for p in waiting {
        if refused.contains_key(&p.stream_id) {
            report.behind.push(p);
            continue;
        }
        let Some(event) = events.get(&p.event_id) else {
            // Parked, yet not in the log: only a hand-edited log does that. Leave it listed.
            refused.insert(p.stream_id, p.event_id);
            report.failing.push(Parked { error: "the event is no longer in the log".into(), ..p });
            continue;
        };
        let mut savepoint = tx.begin().await?;
        match projection.apply(&mut savepoint, event).await {
            Ok(()) => {
                savepoint.commit().await?;
                parked::unpark(&mut tx, projection.name, p.event_id).await?;
                report.applied.push(p);
            }
            // Not the event's fault: give up, and the transaction with it (nothing changed).
            Err(ApplyError::Db(db)) if !crate::runner::refused_by_database(&db) => return Err(db.into()),
            Err(e) => {
                savepoint.rollback().await?;
                let error = e.to_string();
                parked::failed_again(&mut tx, projection.name, p.event_id, &error).await?;
                refused.insert(p.stream_id, p.event_id);
                if p.attempts == 0 {
                    // It was parked behind an event that now applied: it heads its stream now.
                    changed_head.push((p.stream_id, p.event_id, p.position));
                }
                report.failing.push(Parked { error, attempts: p.attempts + 1, ..p });
            }
        }
    }
    for (stream, head, at) in changed_head {
        parked::queue_behind(&mut tx, projection.name, stream, head, at).await?;
    }
    tx.commit().await?;
    // Readers waiting on nothing in particular may now see the replayed events.
    checkpoint::notify(pool, projection.name).await;
    Ok(())
}

/// The log's rows for `ids`, in their current payload shape (as the relay publishes them).
async fn events_by_id(conn: &mut sqlx::PgConnection, ids: &[Uuid]) -> Result<std::collections::HashMap<Uuid, Envelope>, WorkerError> {
    let events = eventlog::log::read_by_ids(&mut *conn, ids).await?;
    Ok(events.into_iter().map(Envelope::upcast).map(|e| (e.event_id, e)).collect())
}
