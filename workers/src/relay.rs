//! The relay: reads the log in order and publishes every event to JetStream, advancing its cursor
//! only after the PubAck. One relay is active at a time (a Postgres advisory lock).

use std::time::Duration;

use async_nats::jetstream;
use eventlog::{Envelope, Position};
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use crate::{nats_err, NatsConfig, Shutdown, WorkerError};

const BATCH: i64 = 500;
/// Fallback poll when no NOTIFY arrives (e.g. a commit from another tool).
const POLL: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Runs until shutdown: waits to become the active relay, then relays forever, backing off while
/// NATS (or Postgres) is away and resuming from the stored cursor.
pub async fn run(pool: PgPool, cfg: NatsConfig, shutdown: Shutdown) -> Result<(), WorkerError> {
    crate::supervise("relay", MAX_BACKOFF, shutdown, |sd| {
        let (pool, cfg) = (pool.clone(), cfg.clone());
        Box::pin(async move { active(&pool, &cfg, sd).await })
    })
    .await
}

async fn active(pool: &PgPool, cfg: &NatsConfig, shutdown: &mut Shutdown) -> Result<(), WorkerError> {
    let Some(mut leader) = crate::lead(pool, &format!("roster-relay:{}", cfg.stream), shutdown).await? else { return Ok(()) };
    tracing::info!(stream = %cfg.stream, "relay active");
    let js = crate::connect(cfg).await?;
    let stream = crate::ensure_stream(&js, cfg).await?;
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen("roster_events").await?;
    let (mut cursor, mut last_id) = resume_point(pool, cfg, &stream).await?;
    while let Some(batch) = crate::next_batch(pool, &mut leader, &mut listener, cursor, BATCH, POLL, shutdown).await? {
        let end = batch.last().map(|e| e.position).unwrap_or(cursor);
        // On failure the caller backs off and re-enters, resyncing from the stream's tail.
        publish_all(&js, cfg, batch, &mut last_id).await?;
        cursor = end;
        save_cursor(pool, cfg, cursor).await?;
    }
    Ok(())
}

async fn save_cursor(pool: &PgPool, cfg: &NatsConfig, cursor: Position) -> Result<(), WorkerError> {
    sqlx::query!(
        "INSERT INTO relay_cursors (stream, tx, gid) VALUES ($1, $2, $3) \
         ON CONFLICT (stream) DO UPDATE SET tx = EXCLUDED.tx, gid = EXCLUDED.gid, updated_at = now()",
        cfg.stream,
        cursor.tx,
        cursor.gid,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Every JetStream stream's relay cursor: how far the relay has published, by stream name.
pub async fn cursors(pool: &PgPool) -> Result<Vec<(String, Position)>, sqlx::Error> {
    let rows = sqlx::query!("SELECT stream, tx, gid FROM relay_cursors ORDER BY stream").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|r| (r.stream, Position::new(r.tx, r.gid))).collect())
}

/// Where to continue, and the event id the stream holds last. The stream's own tail is the truth:
/// it is behind the stored cursor when a crashed single nats-server lost an acknowledged tail
/// (re-published from here), and ahead of it when PubAcks were lost before the cursor was saved
/// (nothing is published twice).
async fn resume_point(
    pool: &PgPool,
    cfg: &NatsConfig,
    stream: &jetstream::stream::Stream,
) -> Result<(Position, Option<String>), WorkerError> {
    let stored = sqlx::query!("SELECT tx, gid FROM relay_cursors WHERE stream = $1", cfg.stream).fetch_optional(pool).await?;
    let cursor = stored.map(|r| Position::new(r.tx, r.gid)).unwrap_or(Position::START);
    let info = stream.get_info().await.map_err(nats_err)?;
    if info.state.messages == 0 {
        if cursor != Position::START {
            tracing::warn!(%cursor, "the stream is empty although events were published (expired by max_age, or lost); continuing from the cursor");
        }
        return Ok((cursor, None));
    }
    let last = stream.get_raw_message(info.state.last_sequence).await.map_err(nats_err)?;
    let last_id = last.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_string());
    let Some(in_stream) = last.headers.get("Roster-Position").and_then(|v| v.as_str().parse::<Position>().ok()) else {
        return Ok((cursor, last_id));
    };
    if in_stream != cursor {
        tracing::warn!(%cursor, %in_stream, "the stream's tail differs from the relay's cursor; continuing from the stream");
        save_cursor(pool, cfg, in_stream).await?;
    }
    Ok((in_stream, last_id))
}

/// The subject, headers and body of an event on NATS; the payload in its current shape. It takes
/// the event whole: upcasting a borrowed one would copy every payload, which nothing reads after.
fn message(cfg: &NatsConfig, event: Envelope) -> (String, async_nats::HeaderMap, bytes::Bytes) {
    let event = &event.upcast();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", event.event_id.to_string().as_str());
    headers.insert("Roster-Position", event.position.to_string().as_str());
    let body = serde_json::to_vec(event).unwrap_or_default();
    (event.subject(&cfg.subject_prefix), headers, body.into())
}

/// Publishes a batch pipelined (all sent, then every PubAck awaited). Each message carries
/// `Nats-Expected-Last-Msg-Id` = the event before it, so JetStream refuses a message whose
/// predecessor did not make it (a reconnect losing messages in flight): the stream's order is
/// always the log's order, and the caller resumes from the stream's tail.
#[tracing::instrument(name = "relay.publish", skip_all, fields(events = batch.len()))]
async fn publish_all(
    js: &jetstream::Context,
    cfg: &NatsConfig,
    batch: Vec<Envelope>,
    last_id: &mut Option<String>,
) -> Result<(), WorkerError> {
    let started = std::time::Instant::now();
    let mut acks = Vec::with_capacity(batch.len());
    let mut previous = last_id.clone();
    for event in batch {
        let id = event.event_id.to_string();
        let (subject, mut headers, body) = message(cfg, event);
        if let Some(p) = &previous {
            headers.insert("Nats-Expected-Last-Msg-Id", p.as_str());
        }
        acks.push(js.publish_with_headers(subject, headers, body).await.map_err(nats_err)?);
        previous = Some(id);
    }
    for ack in acks {
        ack.await.map_err(nats_err)?;
    }
    telemetry::observe(&telemetry::metrics().relay_publish_duration, started.elapsed());
    *last_id = previous;
    Ok(())
}
