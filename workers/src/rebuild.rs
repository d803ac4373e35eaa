//! Rebuild: replays the log from Postgres into a fresh copy of a projection's tables, then swaps
//! it in atomically while the API keeps serving from the old copy. Events the live projection
//! parked are tried again; those still refused stay parked (see `Parking`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use eventlog::{log, Envelope, Position};
use indicatif::{ProgressBar, ProgressStyle};
use projections::{checkpoint, parked, ApplyError, Projection};
use sqlx::{Acquire, PgConnection, PgPool};
use uuid::Uuid;

use crate::WorkerError;

const BATCH: i64 = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub projection: &'static str,
    /// The events it read and applied: those of its stream types but the ones it passes over
    /// (`Projection::selection`).
    pub events: u64,
    pub position: Position,
    /// Time spent replaying the log (phase 1), on what the replay deferred (the indexes it did
    /// without, `Projection::after_replay` and the vacuum of the new tables), and catching up under
    /// the lock and swapping the schemas (phase 2): where a slow rebuild spends it.
    pub replay: Duration,
    pub deferred: Duration,
    pub swap: Duration,
    /// The whole rebuild, the staging schema's creation included.
    pub took: Duration,
}

impl std::fmt::Display for RebuildReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} events in {:.1} s (replay {:.1} s, deferred indexes, versions and vacuum {:.1} s, catch-up and swap {:.1} s), now at {}",
            self.projection,
            self.events,
            self.took.as_secs_f64(),
            self.replay.as_secs_f64(),
            self.deferred.as_secs_f64(),
            self.swap.as_secs_f64(),
            self.position
        )
    }
}

fn staging_schema(p: &Projection) -> String {
    format!("{}_rebuild", p.schema)
}

/// Rebuilds one projection. `progress` draws a bar (events/s, ETA) on stderr.
pub async fn rebuild(pool: &PgPool, projection: Projection, progress: bool) -> Result<RebuildReport, WorkerError> {
    let bar = if progress { ProgressBar::new(0) } else { ProgressBar::hidden() };
    rebuild_with(pool, projection, bar).await
}

/// Rebuilds `projections` side by side (`roster rebuild all`): each has its own schema and
/// checkpoint, so nothing one does waits for another, and a small one is done while a large one
/// replays. `progress` draws a bar per projection. The reports are in the order of `projections`.
pub async fn rebuild_all(pool: &PgPool, projections: &[Projection], progress: bool) -> Result<Vec<RebuildReport>, WorkerError> {
    let bars = indicatif::MultiProgress::new();
    futures::future::try_join_all(projections.iter().map(|p| {
        let bar = if progress { bars.add(ProgressBar::new(0)) } else { ProgressBar::hidden() };
        rebuild_with(pool, *p, bar)
    }))
    .await
}

async fn rebuild_with(pool: &PgPool, projection: Projection, bar: ProgressBar) -> Result<RebuildReport, WorkerError> {
    let began = Instant::now();
    let staging = staging_schema(&projection);
    let deferred = create_staging(pool, &projection, &staging).await?;

    let mut parking = Parking::load(pool, &projection).await?;
    let parked_streams = parking.streams.clone();
    let selection = projection.selection(&parked_streams);
    bar.set_length(log::count_of(pool, &selection).await? as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} events  {per_sec}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(projection.name);

    // Phase 1: replay everything visible now, in batches, without blocking the live projector.
    // Each batch is applied while the next is read, on another connection: the read (Postgres
    // sending rows, Roster decoding them) and the apply (Postgres writing) overlap.
    //
    // Every write to the staging tables, and the swap, go through this one session. Batches
    // commit without waiting for the WAL flush, so a crash of Postgres may take back the last
    // ones; it also ends this session, and every statement after it fails, so the rebuild stops
    // (and is run again) rather than swapping in tables that lost a batch. A session taken from
    // the pool per batch could be a new one, opened after the crash, that reports nothing.
    let mut writer = pool.acquire().await?;
    let started = Instant::now();
    let mut cursor = Position::START;
    let mut applied = 0u64;
    let mut batch = log::read_after_of(pool, cursor, log::Horizon::OLDEST_RUNNING, &selection, BATCH).await?;
    while let Some(last) = batch.last() {
        cursor = last.position;
        let apply = async {
            let mut tx = writer.begin().await?;
            // Staging tables are nobody's read model yet: a crash loses only this rebuild (see
            // `writer`), so its batches need not wait for the WAL flush.
            checkpoint::commit_without_flush(&mut tx).await?;
            let events: Vec<&Envelope> = batch.iter().collect();
            apply_events(&mut tx, &projection, &staging, &events, &mut parking).await?;
            tx.commit().await?;
            Ok::<_, WorkerError>(())
        };
        let read = async { Ok(log::read_after_of(pool, cursor, log::Horizon::OLDEST_RUNNING, &selection, BATCH).await?) };
        let ((), next) = tokio::try_join!(apply, read)?;
        applied += batch.len() as u64;
        bar.inc(batch.len() as u64);
        batch = next;
    }
    let replayed = cursor;
    let replay = started.elapsed();

    // What the replay left out, up to where it got: the indexes it did without, built over the
    // filled tables, and what the projection takes from the log in one go
    // (`Projection::after_replay`), side by side on two connections, before the live projector is
    // held.
    let started = Instant::now();
    if !deferred.is_empty() {
        bar.set_message("building indexes");
    }
    let indexes = async {
        for definition in &deferred {
            sqlx::query(definition).execute(pool).await?;
        }
        Ok::<_, WorkerError>(())
    };
    let rest = async {
        let mut tx = writer.begin().await?;
        checkpoint::commit_without_flush(&mut tx).await?;
        after_replay(&mut tx, &projection, &staging, Position::START, replayed, &parking.kept).await?;
        tx.commit().await?;
        Ok::<_, WorkerError>(())
    };
    tokio::try_join!(indexes, rest)?;
    bar.set_message("vacuuming and analyzing");
    vacuum_analyze(pool, &projection, &staging).await?;
    let deferred = started.elapsed();

    // Phase 2: hold the live checkpoint (the projector waits), catch up to it, swap the schemas.
    let started = Instant::now();
    let mut tx = writer.begin().await?;
    let live = checkpoint::lock(&mut tx, projection.name).await?;
    loop {
        // The live checkpoint came through the relay, which reads below the appenders' horizon.
        // Below the oldest running transaction instead, a transaction left open anywhere would
        // hide events up to the checkpoint, and the new tables would miss them. The horizon never
        // moves back, so this one is past the checkpoint (each statement of this transaction has
        // a snapshot of its own, as the horizon needs).
        let horizon = log::appenders_horizon(&mut *tx).await?;
        let events = log::read_after_of(&mut *tx, cursor, horizon, &selection, BATCH).await?;
        let events: Vec<&Envelope> = events.iter().take_while(|e| e.position <= live.position).collect();
        let Some(last) = events.last() else { break };
        cursor = last.position;
        apply_events(&mut tx, &projection, &staging, &events, &mut parking).await?;
        applied += events.len() as u64;
        bar.inc(events.len() as u64);
    }
    // If the rebuild got ahead of a lagging projector, the new tables already hold those events:
    // the checkpoint moves with them so the projector skips them.
    let at = cursor.max(live.position);
    after_replay(&mut tx, &projection, &staging, replayed, at, &parking.kept).await?;
    let old = format!("{}_old", projection.schema);
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {old} CASCADE")).execute(&mut *tx).await?;
    sqlx::query(&format!("ALTER SCHEMA {} RENAME TO {old}", projection.schema)).execute(&mut *tx).await?;
    sqlx::query(&format!("ALTER SCHEMA {staging} RENAME TO {}", projection.schema)).execute(&mut *tx).await?;
    sqlx::query(&format!("DROP SCHEMA {old} CASCADE")).execute(&mut *tx).await?;
    if at != live.position {
        checkpoint::advance(&mut tx, projection.name, at, live.stream_seq as i64).await?;
    }
    // The new tables hold every event up to `at` but those still parked: the others are parked
    // no more.
    let unparked = parked::clear_through(&mut tx, projection.name, at, &parking.kept).await?;
    if unparked > 0 {
        tracing::info!(projection = projection.name, unparked, "the rebuild applied parked events");
    }
    tx.commit().await?;
    checkpoint::notify(pool, projection.name).await;
    bar.finish();
    Ok(RebuildReport {
        projection: projection.name,
        events: applied,
        position: at,
        replay,
        deferred,
        swap: started.elapsed(),
        took: began.elapsed(),
    })
}

/// `VACUUM (ANALYZE)` of the projection's tables in `staging`, so that the tables swapped in are
/// read as well as the ones they replace from their first query: a table that was never vacuumed
/// has no visibility map, so every index-only scan of it visits the heap (and the planner, knowing
/// that, prefers bitmap scans, which cannot stop at a `LIMIT`), and one never analyzed has no
/// statistics. Autovacuum would come, but minutes later on a large table. At a million users,
/// listing the first 1,001 members of a 50,000-user team (the WorkDrive feed of a member) took
/// 19 ms in a fresh copy of `users`, 11.5 ms analyzed, and 0.9 ms vacuumed, an index-only scan.
async fn vacuum_analyze(pool: &PgPool, projection: &Projection, staging: &str) -> Result<(), WorkerError> {
    let tables: Vec<String> = projection.tables.iter().map(|table| format!("{staging}.{table}")).collect();
    if tables.is_empty() {
        // With no table named, VACUUM would go through the whole database.
        return Ok(());
    }
    // Outside any transaction, as VACUUM must be: the pool's connections are in autocommit.
    sqlx::query(&format!("VACUUM (ANALYZE) {}", tables.join(", "))).execute(pool).await?;
    Ok(())
}

/// A fresh, empty copy of the projection's tables (columns, defaults, indexes, constraints), but
/// for the indexes the replay does without, whose definitions it returns to be built after the
/// replay: the trigram search indexes of every table, and every index but the unique ones of the
/// tables the projector reads by key only (`Projection::keyed_only`). No replay statement reads
/// those indexes, and kept up row by row they cost more than the row (tens of µs per user for
/// the trigram one on `users`, about 20 µs for its eleven others together) where one build at the
/// end is a sort. Unique indexes stay: they enforce their constraint and find an upsert's conflict.
async fn create_staging(pool: &PgPool, projection: &Projection, staging: &str) -> Result<Vec<String>, WorkerError> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {staging} CASCADE")).execute(&mut *tx).await?;
    sqlx::query(&format!("CREATE SCHEMA {staging}")).execute(&mut *tx).await?;
    for table in projection.tables {
        sqlx::query(&format!("CREATE TABLE {staging}.{table} (LIKE {}.{table} INCLUDING ALL)", projection.schema))
            .execute(&mut *tx)
            .await?;
    }
    let deferred: Vec<(String, String)> =
        // The staging schema's own indexes first, and only then their definitions: `pg_indexes`
        // may compute `indexdef` for every index of the database before it filters by schema,
        // and an index that the projection rebuilt beside this one drops meanwhile then fails the
        // whole statement ("could not open relation with OID"). Nobody else touches this schema.
        sqlx::query_as(
            "WITH own AS MATERIALIZED (SELECT c.oid, c.relname, t.relname AS tab, i.indisunique FROM pg_class c \
                  JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_class t ON t.oid = i.indrelid \
                  WHERE c.relnamespace = $1::text::regnamespace AND c.relkind = 'i') \
             SELECT relname::text, pg_get_indexdef(oid) FROM own \
             WHERE (NOT indisunique AND tab::text = ANY($2)) OR pg_get_indexdef(oid) LIKE '%gin_trgm_ops%'",
        )
            .bind(staging)
            .bind(projection.keyed_only)
            .fetch_all(&mut *tx)
            .await?;
    for (name, _) in &deferred {
        sqlx::query(&format!("DROP INDEX {staging}.{name}")).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(deferred.into_iter().map(|(_, definition)| definition).collect())
}

/// What a rebuild does with the events the live projection parked: it tries each again (the
/// cause may be fixed); one still refused stays parked, and so does every later event of its
/// stream, untried, as the runner would. Any other refused event fails the rebuild.
struct Parking {
    /// Parked when the rebuild started.
    parked: HashSet<Uuid>,
    /// Their streams.
    streams: Vec<Uuid>,
    /// Streams whose parked event is still refused, with that event.
    blocked: HashMap<Uuid, Uuid>,
    /// Events that stay parked after the swap.
    kept: Vec<Uuid>,
}

impl Parking {
    async fn load(pool: &PgPool, projection: &Projection) -> Result<Self, WorkerError> {
        let list = parked::list(pool, Some(projection.name), None).await?;
        let streams = list.iter().map(|p| p.stream_id).collect::<HashSet<_>>().into_iter().collect();
        Ok(Parking { parked: list.into_iter().map(|p| p.event_id).collect(), streams, blocked: HashMap::new(), kept: Vec::new() })
    }
}

/// Applies (and empties) `plain`: events no parked event holds back, which the live projector
/// applied too, so a refusal here is a replay that diverges from the live run: the rebuild stops.
async fn apply_plain(conn: &mut PgConnection, projection: &Projection, plain: &mut Vec<&Envelope>) -> Result<(), WorkerError> {
    if plain.is_empty() {
        return Ok(());
    }
    projection.replay_all(conn, plain).await.map_err(|(i, e)| WorkerError::Poisoned {
        projection: projection.name.into(),
        event_id: plain[i].event_id.to_string(),
        error: e.to_string(),
    })?;
    plain.clear();
    Ok(())
}

/// `Projection::after_replay` on the staging schema for the events after `after` up to `through`.
async fn after_replay(
    conn: &mut PgConnection,
    projection: &Projection,
    staging: &str,
    after: Position,
    through: Position,
    kept: &[Uuid],
) -> Result<(), WorkerError> {
    sqlx::query(&format!("SET LOCAL search_path = {staging}, public")).execute(&mut *conn).await?;
    projection.after_replay(conn, after, through, kept).await?;
    sqlx::query(&format!("SET LOCAL search_path = {}", projections::SEARCH_PATH)).execute(&mut *conn).await?;
    Ok(())
}

/// Applies `events` (in log order) into the staging schema.
async fn apply_events(
    conn: &mut PgConnection,
    projection: &Projection,
    staging: &str,
    events: &[&Envelope],
    parking: &mut Parking,
) -> Result<(), WorkerError> {
    sqlx::query(&format!("SET LOCAL search_path = {staging}, public")).execute(&mut *conn).await?;
    // Events that are neither parked nor behind a parked one are applied together (set-based
    // where the projection can), up to the next that is: in log order either way.
    let mut plain: Vec<&Envelope> = Vec::new();
    for &event in events {
        let blocked = parking.blocked.get(&event.stream_id).copied();
        if blocked.is_none() && !parking.parked.contains(&event.event_id) {
            plain.push(event);
            continue;
        }
        apply_plain(conn, projection, &mut plain).await?;
        if let Some(head) = blocked {
            // Parked already, or (ahead of the live projection) parked now: the projector skips
            // it once the checkpoint moves past it with the swap.
            parked::park(conn, projection.name, event, 0, &parked::behind(head), 0).await?;
            parking.kept.push(event.event_id);
        } else {
            let mut savepoint = conn.begin().await?;
            match projection.apply(&mut savepoint, event).await {
                Ok(()) => savepoint.commit().await?,
                Err(ApplyError::Db(db)) if !crate::runner::refused_by_database(&db) => return Err(db.into()),
                Err(e) => {
                    savepoint.rollback().await?;
                    tracing::warn!(projection = projection.name, event_id = %event.event_id, error = %e, "a parked event is still refused; it stays parked");
                    parking.blocked.insert(event.stream_id, event.event_id);
                    parking.kept.push(event.event_id);
                }
            }
        }
    }
    apply_plain(conn, projection, &mut plain).await?;
    sqlx::query(&format!("SET LOCAL search_path = {}", projections::SEARCH_PATH)).execute(&mut *conn).await?;
    Ok(())
}
