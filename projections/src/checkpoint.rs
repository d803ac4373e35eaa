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
    /// How many of its events are parked (`parked_events`, counted by a trigger).
    pub parked: i64,
}

/// Locks and reads a projection's checkpoint: whoever holds the lock is the only one changing the
/// projection's tables (the projector's batch, or a rebuild's swap).
pub async fn lock(conn: &mut PgConnection, name: &str) -> Result<Checkpoint, sqlx::Error> {
    // The row exists after a projection's first batch: one statement from then on.
    for _ in 0..2 {
        let row = sqlx::query!("SELECT tx, gid, status, stream_seq, parked FROM projection_checkpoints WHERE name = $1 FOR UPDATE", name)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = row {
            return Ok(Checkpoint {
                position: Position::new(r.tx, r.gid),
                status: r.status,
                stream_seq: r.stream_seq as u64,
                parked: r.parked,
            });
        }
        sqlx::query!("INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name)
            .execute(&mut *conn)
            .await?;
    }
    Err(sqlx::Error::RowNotFound)
}

/// Lets the current transaction commit without waiting for its WAL to reach the disk
/// (`synchronous_commit = off`, for this transaction only). For a transaction that only writes
/// what the log can rebuild: a read model together with its checkpoint. A crash of Postgres may
/// lose the last such commits (milliseconds' worth), but it loses them whole, the read model
/// with its checkpoint, and the runner resumes from the checkpoint that survived: the events are
/// applied again, never skipped. The events themselves are always appended with a flush. Others
/// see the commit at once either way, so read-your-writes is unchanged; what a commit saves is
/// the wait for the flush, once per batch.
pub async fn commit_without_flush(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!("SELECT set_config('synchronous_commit', 'off', true)").fetch_one(conn).await?;
    Ok(())
}

/// Reads a projection's checkpoint without locking it (a missing row reads as the start).
pub async fn read(db: impl PgExecutor<'_>, name: &str) -> Result<Checkpoint, sqlx::Error> {
    let row = sqlx::query!("SELECT tx, gid, status, stream_seq, parked FROM projection_checkpoints WHERE name = $1", name)
        .fetch_optional(db)
        .await?;
    Ok(row
        .map(|r| Checkpoint { position: Position::new(r.tx, r.gid), status: r.status, stream_seq: r.stream_seq as u64, parked: r.parked })
        .unwrap_or(Checkpoint { position: Position::START, status: "running".into(), stream_seq: 0, parked: 0 }))
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

/// A checkpoint that moved, as the runner that moved it tells read-your-writes waiters: directly in
/// its own process (`Advances`), by the payload of its NOTIFY in every other. Carrying the position
/// spares each waiting process a read of the checkpoints per batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advanced {
    pub projection: String,
    pub position: Position,
    /// Whether the projection has any event parked once there (its row's count after the batch).
    pub parked: bool,
    /// Whether the batch held an event that may change who a token is
    /// (`queries::may_change_principals`): waiters drop the principals they cached.
    pub principals: bool,
}

impl Advanced {
    fn payload(&self) -> String {
        let (parked, principals) = (u8::from(self.parked), u8::from(self.principals));
        format!("{} {} {} {parked} {principals}", self.projection, self.position.tx, self.position.gid)
    }

    /// An advance back from a NOTIFY payload; `None` for anything else, such as the bare
    /// projection name a rebuild or a replay sends, which means "read the checkpoints again".
    pub fn parse(payload: &str) -> Option<Advanced> {
        let mut parts = payload.split(' ');
        let projection = parts.next().filter(|p| !p.is_empty())?.to_owned();
        let tx = parts.next()?.parse().ok()?;
        let gid = parts.next()?.parse().ok()?;
        let mut flag = || match parts.next()? {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        };
        let (parked, principals) = (flag()?, flag()?);
        parts.next().is_none().then_some(Advanced { projection, position: Position::new(tx, gid), parked, principals })
    }
}

/// The in-process side of `Advanced`: a runner sends to it after each commit, the read-your-writes
/// waiters of the same process (`roster serve --role all`) subscribe, and so wake without waiting
/// for Postgres to deliver the NOTIFY. A subscriber that falls behind reads the checkpoints again.
#[derive(Debug, Clone)]
pub struct Advances(tokio::sync::broadcast::Sender<Advanced>);

impl Advances {
    /// Advances kept for a subscriber that has not caught up yet.
    const BUFFER: usize = 1024;

    pub fn new() -> Self {
        Advances(tokio::sync::broadcast::channel(Self::BUFFER).0)
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Advanced> {
        self.0.subscribe()
    }
}

impl Default for Advances {
    fn default() -> Self {
        Self::new()
    }
}

/// Tells readers waiting for read-your-writes that a checkpoint moved to `advanced` (after the
/// transaction that moved it committed: a NOTIFY inside it would hold a database-wide lock through
/// its fsync). Only a hint; readers also poll.
pub async fn notify_advanced(db: impl PgExecutor<'_>, local: &Advances, advanced: Advanced) {
    let payload = advanced.payload();
    // No subscriber in this process is no error.
    let _ = local.0.send(advanced);
    send_notify(db, &payload).await;
}

/// Tells readers that a projection's checkpoint or parked events changed in a way they must read
/// (a rebuild, a replay).
pub async fn notify(db: impl PgExecutor<'_>, name: &str) {
    send_notify(db, name).await;
}

async fn send_notify(db: impl PgExecutor<'_>, payload: &str) {
    if let Err(e) = sqlx::query!("SELECT pg_notify($1, $2)", CHECKPOINT_CHANNEL, payload).execute(db).await {
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

/// Every projection's checkpoint and whether it has parked events, as a read-your-writes waiter
/// last learned them: from a read of the table or from the advances since. Each projection's pair
/// is one snapshot of its row (a read, or the runner's own commit), so a position past a parked
/// event is never seen without that event counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions(std::collections::BTreeMap<String, (Position, bool)>);

impl Positions {
    /// Takes an advance unless what is known of that projection is already as far (advances of
    /// one projection can arrive out of order: in process and through NOTIFY).
    pub fn advance(&mut self, a: Advanced) {
        match self.0.get_mut(&a.projection) {
            Some(known) if known.0 >= a.position => {}
            Some(known) => *known = (a.position, a.parked),
            None => {
                self.0.insert(a.projection, (a.position, a.parked));
            }
        }
    }

    /// Takes a read of the table. A projection's row replaces what is known unless an advance
    /// already went further: that advance committed after the read's snapshot. At the same
    /// position the read wins, since a replay changes the parked count without moving it.
    pub fn merge(&mut self, read: Positions) {
        let mut merged = read.0;
        for (name, known) in std::mem::take(&mut self.0) {
            match merged.get_mut(&name) {
                Some(row) if known.0 > row.0 => *row = known,
                Some(_) => {}
                // A row never disappears; keep what is known rather than forget a projection.
                None => {
                    merged.insert(name, known);
                }
            }
        }
        self.0 = merged;
    }

    /// The slowest projection's position and whether any projection has parked events.
    pub fn progress(&self) -> Progress {
        let reached = self.0.values().map(|(p, _)| *p).min().unwrap_or(Position::START);
        Progress { reached, any_parked: self.0.values().any(|(_, parked)| *parked) }
    }
}

/// Every projection's checkpoint and parked flag, each from its row.
pub async fn positions(db: impl PgExecutor<'_>) -> Result<Positions, sqlx::Error> {
    let rows = sqlx::query!("SELECT name, tx, gid, parked FROM projection_checkpoints").fetch_all(db).await?;
    Ok(Positions(rows.into_iter().map(|r| (r.name, (Position::new(r.tx, r.gid), r.parked > 0))).collect()))
}

/// The position every projection has reached: reads at or below it see all their writes.
pub async fn slowest(db: impl PgExecutor<'_>) -> Result<Position, sqlx::Error> {
    let row = sqlx::query!("SELECT tx, gid FROM projection_checkpoints ORDER BY tx, gid LIMIT 1").fetch_optional(db).await?;
    Ok(row.map(|r| Position::new(r.tx, r.gid)).unwrap_or(Position::START))
}

pub async fn all(db: impl PgExecutor<'_>) -> Result<Vec<(String, Checkpoint)>, sqlx::Error> {
    let rows =
        sqlx::query!("SELECT name, tx, gid, status, stream_seq, parked FROM projection_checkpoints ORDER BY name").fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let cp =
                Checkpoint { position: Position::new(r.tx, r.gid), status: r.status, stream_seq: r.stream_seq as u64, parked: r.parked };
            (r.name, cp)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_advance_survives_its_notify_payload_and_a_bare_name_reads_again() {
        for (parked, principals) in [(true, false), (false, true)] {
            let a = Advanced { projection: "directory".into(), position: Position::new(41, 7), parked, principals };
            assert_eq!(Advanced::parse(&a.payload()), Some(a));
        }
        for other in
            ["directory", "", "directory 1 2", "directory 1 2 0", "directory 1 2 3 0", "directory x 2 0 0", "directory 1 2 0 0 extra"]
        {
            assert_eq!(Advanced::parse(other), None, "{other:?}");
        }
    }

    /// One projection's commits: rising positions, each with whether anything is parked after it.
    fn commits() -> impl Strategy<Value = Vec<(Position, bool)>> {
        prop::collection::vec((1i64..4, any::<bool>()), 1..8).prop_map(|steps| {
            let mut tx = 0;
            steps
                .into_iter()
                .map(|(step, parked)| {
                    tx += step;
                    (Position::new(tx, tx * 10), parked)
                })
                .collect()
        })
    }

    proptest! {
        /// Whatever order a waiter learns of two projections' commits in (advances in process and
        /// by NOTIFY, duplicated and out of order, with reads of the table that may be older than
        /// an advance already seen), it knows each projection as of the latest commit it heard of,
        /// with that commit's own parked flag, and its progress never goes back.
        #[test]
        fn a_waiter_knows_each_projection_as_of_the_latest_commit_it_heard_of(
            a in commits(),
            b in commits(),
            deliveries in prop::collection::vec((any::<bool>(), any::<bool>(), any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..40),
        ) {
            let history = [("a", &a), ("b", &b)];
            let mut known = Positions::default();
            let mut latest: [Option<usize>; 2] = [None, None];
            let mut reached = Position::START;
            for (is_read, which, i, j) in deliveries {
                if is_read {
                    // A read sees some committed state of each projection.
                    let (ia, ib) = (i.index(a.len()), j.index(b.len()));
                    let read = Positions([("a", a[ia]), ("b", b[ib])].into_iter().map(|(n, c)| (n.to_owned(), c)).collect());
                    known.merge(read);
                    latest = [Some(latest[0].map_or(ia, |l| l.max(ia))), Some(latest[1].map_or(ib, |l| l.max(ib)))];
                } else {
                    let p = usize::from(which);
                    let (name, commits) = history[p];
                    let k = i.index(commits.len());
                    known.advance(Advanced { projection: name.into(), position: commits[k].0, parked: commits[k].1, principals: false });
                    latest[p] = Some(latest[p].map_or(k, |l| l.max(k)));
                }
                for (p, (name, commits)) in history.iter().enumerate() {
                    prop_assert_eq!(known.0.get(*name).copied(), latest[p].map(|l| commits[l]));
                }
                let progress = known.progress();
                let expected_parked = history.iter().zip(latest).any(|((_, c), l)| l.is_some_and(|l| c[l].1));
                prop_assert_eq!(progress.any_parked, expected_parked);
                if latest.iter().all(Option::is_some) {
                    prop_assert!(progress.reached >= reached, "progress went back");
                    reached = progress.reached;
                }
            }
        }
    }
}
