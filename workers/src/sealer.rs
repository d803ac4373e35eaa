//! Tamper evidence: the sealer follows the log in order and writes, for every event, a seal that
//! chains it to the previous event of its organization; `verify` walks the chains.
//!
//! The seal of an event is `SHA-256(prev || canonical(envelope))`, where `prev` is the seal of
//! the previous event of the same organization in log order (32 zero bytes for its first event;
//! system events, with no org, form one chain of their own). The canonical envelope is the JSON
//! object of the event's stored fields — `event_id, position, org_id, stream_type, stream_id,
//! version, event_type, schema_rev, recorded_at, metadata, payload` — with every object's keys
//! sorted, no whitespace, `recorded_at` in RFC 3339 UTC with microseconds (`…T12:00:00.123456Z`),
//! the payload exactly as stored (never upcast), and `org_id` `null` for system events.
//!
//! The sealer runs off the append path: writers never wait for it, and it only ever inserts into
//! its own table. Editing, deleting or back-dating an event after it was sealed breaks its chain.
//! A row appended at the log's tail before the sealer reaches it is sealed like any write: seals
//! prove the log was not changed after sealing, not who wrote it.

use std::collections::HashMap;
use std::time::Duration;

use eventlog::{log, Envelope, Position};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{Shutdown, WorkerError};

const BATCH: i64 = 1_000;
const POLL: Duration = Duration::from_millis(500);
/// How long the sealer waits after a batch that did not fill, so that under a steady write rate
/// it seals a few large batches a second instead of one small batch per commit. Nobody waits for
/// a seal, and each batch costs the same handful of statements however small it is (lead check,
/// horizon, read, the sealed head, the insert, the commit): following every commit of 1,000
/// creates/s, those were about a sixth of Postgres' time per create (`scripts/bench
/// --statements`). The seals then trail the log by up to this much more
/// (`roster_seal_lag_seconds`).
const LINGER: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// The chain an event belongs to: its org, or the nil uuid for system events.
pub fn chain_of(org_id: Option<Uuid>) -> Uuid {
    org_id.unwrap_or(Uuid::nil())
}

/// The canonical bytes of an envelope (see the module doc).
///
/// Written straight from the borrowed envelope: the sealer runs this for every event, and
/// building a `json!` object first (a deep copy of payload and metadata, then a string per key)
/// made it the sealer's largest cost, about a tenth of Roster's CPU in a bulk create. The
/// original definition is kept in the tests, which check that both give the same bytes.
pub fn canonical(e: &Envelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // The envelope's keys, in sorted order.
    out.extend_from_slice(b"{\"event_id\":");
    write_scalar(&mut out, &e.event_id);
    out.extend_from_slice(b",\"event_type\":");
    write_scalar(&mut out, &e.event_type);
    out.extend_from_slice(b",\"metadata\":");
    write_sorted(&e.metadata, &mut out);
    out.extend_from_slice(b",\"org_id\":");
    write_scalar(&mut out, &e.org_id);
    out.extend_from_slice(b",\"payload\":");
    write_sorted(&e.payload, &mut out);
    out.extend_from_slice(b",\"position\":");
    write_scalar(&mut out, &e.position.to_string());
    out.extend_from_slice(b",\"recorded_at\":");
    write_scalar(&mut out, &e.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    out.extend_from_slice(b",\"schema_rev\":");
    write_scalar(&mut out, &e.schema_rev);
    out.extend_from_slice(b",\"stream_id\":");
    write_scalar(&mut out, &e.stream_id);
    out.extend_from_slice(b",\"stream_type\":");
    write_scalar(&mut out, &e.stream_type);
    out.extend_from_slice(b",\"version\":");
    write_scalar(&mut out, &e.version);
    out.push(b'}');
    out
}

/// A value that serializes to a JSON scalar, compact, as serde_json writes it.
fn write_scalar<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Writing into a Vec cannot fail, and none of these types refuses to serialize.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// JSON with every object's keys sorted, whatever map type serde_json was built with.
fn write_sorted(v: &serde_json::Value, out: &mut Vec<u8>) {
    match v {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            // serde_json's default map iterates in key order already; the sort keeps the form if
            // a dependency ever turns on its `preserve_order` feature.
            if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push(b'{');
            for (i, (k, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(out, k);
                out.push(b':');
                write_sorted(value, out);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(item, out);
            }
            out.push(b']');
        }
        other => write_scalar(out, other),
    }
}

/// The seal of `e` after the seal `prev` of its chain.
pub fn seal(prev: &[u8], e: &Envelope) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical(e));
    h.finalize().into()
}

/// Runs until shutdown: waits to become the active sealer, then seals forever.
pub async fn run(pool: PgPool, shutdown: Shutdown) -> Result<(), WorkerError> {
    crate::supervise("sealer", MAX_BACKOFF, shutdown, |sd| {
        let pool = pool.clone();
        Box::pin(async move { active(&pool, sd).await })
    })
    .await
}

async fn active(pool: &PgPool, shutdown: &mut Shutdown) -> Result<(), WorkerError> {
    // One sealer per database: the chains are per database, not per NATS stream.
    let Some(mut leader) = crate::lead(pool, "roster-sealer", shutdown).await? else { return Ok(()) };
    tracing::info!("sealer active");
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen("roster_events").await?;
    let mut cursor = sealed_head(pool).await?;
    let mut heads: HashMap<Uuid, (i64, Vec<u8>)> = HashMap::new();
    while let Some(batch) = crate::next_batch(pool, &mut leader, &mut listener, cursor, BATCH, POLL, shutdown).await? {
        if let Err(e) = seal_batch(pool, cursor, &batch, &mut heads).await {
            // The cached chain heads may be ahead of what committed.
            heads.clear();
            return Err(e);
        }
        cursor = batch.last().map(|e| e.position).unwrap_or(cursor);
        // A full batch means a backlog: go straight on.
        if (batch.len() as i64) < BATCH && !shutdown.sleep(LINGER).await {
            break;
        }
    }
    Ok(())
}

/// The position of the newest seal (where the sealer continues).
pub async fn sealed_head<'e>(db: impl sqlx::PgExecutor<'e>) -> Result<Position, sqlx::Error> {
    let row = sqlx::query!("SELECT tx, gid FROM event_seals ORDER BY tx DESC, gid DESC LIMIT 1").fetch_optional(db).await?;
    Ok(row.map(|r| Position::new(r.tx, r.gid)).unwrap_or(Position::START))
}

/// Seals `batch`, the events after `cursor`, where this sealer's last batch ended.
#[tracing::instrument(name = "sealer.seal_batch", skip_all, fields(events = batch.len()))]
async fn seal_batch(
    pool: &PgPool,
    cursor: Position,
    batch: &[Envelope],
    heads: &mut HashMap<Uuid, (i64, Vec<u8>)>,
) -> Result<(), WorkerError> {
    let mut tx = pool.begin().await?;
    // Seals are rebuilt from the log: a crash that loses the last ones makes the sealer write
    // them again, identical (it resumes from the newest seal that survived). The pool reconnects
    // by itself, so the sealer may not see that crash; its cursor and cached chain heads would
    // then run ahead of the seals that survived, and this batch would leave the lost ones
    // unsealed. So the seals must still end where it left them; a row lock is not needed, as
    // only the active sealer writes seals.
    projections::checkpoint::commit_without_flush(&mut tx).await?;
    let found = sealed_head(&mut *tx).await?;
    if found != cursor {
        return Err(WorkerError::SealsTakenBack { expected: cursor, found });
    }
    let n = batch.len();
    let (mut gids, mut txs, mut ids, mut chains, mut seqs, mut hashes) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for e in batch {
        let chain = chain_of(e.org_id);
        let (seq, prev) = match heads.get(&chain) {
            Some(head) => head.clone(),
            None => sqlx::query!("SELECT seq, hash FROM event_seals WHERE chain = $1 ORDER BY seq DESC LIMIT 1", chain)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| (r.seq, r.hash))
                .unwrap_or((0, GENESIS.to_vec())),
        };
        let hash = seal(&prev, e).to_vec();
        heads.insert(chain, (seq + 1, hash.clone()));
        gids.push(e.position.gid);
        txs.push(e.position.tx);
        ids.push(e.event_id);
        chains.push(chain);
        seqs.push(seq + 1);
        hashes.push(hash);
    }
    // One statement for the batch: a row per event costs a round trip per event, which a bulk
    // create of a thousand users (two thousand events) felt.
    sqlx::query!(
        "INSERT INTO event_seals (gid, tx, event_id, chain, seq, hash) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::uuid[], $4::uuid[], $5::bigint[], $6::bytea[])",
        &gids,
        &txs,
        &ids,
        &chains,
        &seqs,
        &hashes,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What is wrong at the first break of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakKind {
    /// The event at this position no longer hashes to its seal.
    Edited,
    /// A sealed event is gone from the log.
    Deleted,
    /// An event sits inside the sealed part of the chain without a seal of its own.
    Inserted,
}

impl BreakKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakKind::Edited => "edited",
            BreakKind::Deleted => "deleted",
            BreakKind::Inserted => "inserted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub chain: Uuid,
    pub kind: BreakKind,
    pub position: Position,
    pub event_id: Uuid,
    /// The seal's number in its chain (for an insert: the seal the event sits before).
    pub seq: i64,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chain = if self.chain.is_nil() { "system events".to_string() } else { format!("org {}", self.chain) };
        let what = match self.kind {
            BreakKind::Edited => "was edited after it was sealed",
            BreakKind::Deleted => "was deleted after it was sealed",
            BreakKind::Inserted => "was inserted into the sealed log (it has no seal)",
        };
        let seal = if self.kind == BreakKind::Inserted { "where seal" } else { "seal" };
        write!(f, "{chain}: the event {} at position {} ({seal} #{}) {what}", self.event_id, self.position, self.seq)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub chains: u64,
    pub verified: u64,
    /// Events after the newest seal of their chain: not sealed yet, not checked.
    pub unsealed: u64,
    /// The first break of each broken chain.
    pub breaks: Vec<Break>,
}

struct SealRow {
    gid: i64,
    tx: i64,
    event_id: Uuid,
    seq: i64,
    hash: Vec<u8>,
}

/// How many events [`verify`] walks for `org` (every chain when `None`): the length of its
/// progress bar.
pub async fn events_to_verify(pool: &PgPool, org: Option<Uuid>) -> Result<u64, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM events WHERE $1::uuid IS NULL OR org_id = $1"#, org).fetch_one(pool).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Walks the chain of `org` (every chain when `None`) against the log; `on_progress` is called
/// with the number of events checked so far. Reports the first break of each chain.
pub async fn verify(pool: &PgPool, org: Option<Uuid>, mut on_progress: impl FnMut(u64)) -> Result<VerifyReport, WorkerError> {
    let chains: Vec<Uuid> = match org {
        Some(o) => vec![o],
        None => {
            sqlx::query_scalar!(
                r#"SELECT chain AS "chain!" FROM (SELECT DISTINCT chain FROM event_seals
               UNION SELECT DISTINCT coalesce(org_id, '00000000-0000-0000-0000-000000000000'::uuid) FROM events) c ORDER BY 1"#
            )
            .fetch_all(pool)
            .await?
        }
    };
    let mut report = VerifyReport { chains: chains.len() as u64, ..Default::default() };
    // Read before the chains: anything at or below it has been sealed (or is a forgery).
    let head = sealed_head(pool).await?;
    for chain in chains {
        verify_chain(pool, chain, head, &mut report, &mut on_progress).await?;
    }
    Ok(report)
}

/// Loads the whole chain in log order; a chain is one organization's events, so it fits.
async fn verify_chain(
    pool: &PgPool,
    chain: Uuid,
    head: Position,
    report: &mut VerifyReport,
    on_progress: &mut impl FnMut(u64),
) -> Result<(), WorkerError> {
    let org = if chain.is_nil() { None } else { Some(chain) };
    let seals = sqlx::query_as!(SealRow, "SELECT gid, tx, event_id, seq, hash FROM event_seals WHERE chain = $1 ORDER BY tx, gid", chain)
        .fetch_all(pool)
        .await?;
    // The sealer seals below the appenders' horizon (`next_batch`), and it never moves back: read
    // after the seals, this one is at or past every sealed event. Below the oldest running
    // transaction instead, an open transaction anywhere would hide sealed events, reported as
    // deleted.
    let horizon = log::appenders_horizon(pool).await?;
    let events = log::read_chain(pool, org, horizon).await?;
    let mut prev = GENESIS.to_vec();
    let (mut i, mut j) = (0usize, 0usize);
    let broken = |kind, position, event_id, seq| Break { chain, kind, position, event_id, seq };
    while i < seals.len() {
        let s = &seals[i];
        let seal_at = Position::new(s.tx, s.gid);
        let Some(e) = events.get(j) else {
            report.breaks.push(broken(BreakKind::Deleted, seal_at, s.event_id, s.seq));
            return Ok(());
        };
        // The seals' own numbering must be gap-free: a deleted seal row is a break too.
        if s.seq != i as i64 + 1 {
            report.breaks.push(broken(BreakKind::Deleted, seal_at, s.event_id, s.seq));
            return Ok(());
        }
        if e.position < seal_at {
            report.breaks.push(broken(BreakKind::Inserted, e.position, e.event_id, s.seq));
            return Ok(());
        }
        if e.position > seal_at {
            report.breaks.push(broken(BreakKind::Deleted, seal_at, s.event_id, s.seq));
            return Ok(());
        }
        let hash = seal(&prev, e);
        if hash[..] != s.hash[..] || e.event_id != s.event_id {
            report.breaks.push(broken(BreakKind::Edited, e.position, e.event_id, s.seq));
            return Ok(());
        }
        prev = hash.to_vec();
        report.verified += 1;
        on_progress(report.verified);
        i += 1;
        j += 1;
    }
    // Past the chain's last seal: not sealed yet, unless the sealer has passed that position.
    if let Some(e) = events[j..].iter().find(|e| e.position <= head) {
        report.breaks.push(broken(BreakKind::Inserted, e.position, e.event_id, seals.len() as i64 + 1));
        return Ok(());
    }
    report.unsealed += (events.len() - j) as u64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use eventlog::Envelope;
    use proptest::prelude::*;
    use serde_json::Value;

    use super::canonical;
    use crate::arb::envelope;

    /// `canonical` as it was first written, which every seal stored so far was made with.
    fn canonical_as_first_written(e: &Envelope) -> Vec<u8> {
        fn write_sorted(v: &Value, out: &mut String) {
            match v {
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    out.push('{');
                    for (i, k) in keys.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&Value::String((*k).clone()).to_string());
                        out.push(':');
                        write_sorted(&map[k.as_str()], out);
                    }
                    out.push('}');
                }
                Value::Array(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_sorted(item, out);
                    }
                    out.push(']');
                }
                other => {
                    let _ = write!(out, "{other}");
                }
            }
        }
        let value = serde_json::json!({
            "event_id": e.event_id,
            "position": e.position.to_string(),
            "org_id": e.org_id,
            "stream_type": e.stream_type,
            "stream_id": e.stream_id,
            "version": e.version,
            "event_type": e.event_type,
            "schema_rev": e.schema_rev,
            "recorded_at": e.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "metadata": e.metadata,
            "payload": e.payload,
        });
        let mut out = String::new();
        write_sorted(&value, &mut out);
        out.into_bytes()
    }

    proptest! {
        /// Seals already stored must still verify: the bytes are the original definition's.
        #[test]
        fn canonical_bytes_are_those_of_the_original_definition(e in envelope()) {
            prop_assert_eq!(String::from_utf8(canonical(&e)).unwrap(), String::from_utf8(canonical_as_first_written(&e)).unwrap());
        }
    }
}
