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
    let (mut read_to, mut last_id) = resume_point(pool, cfg, &stream).await?;
    // Pipelined by one batch: the next batch is read and sent while the PubAcks of the last are
    // still on their way, so the relay's reading and encoding overlaps nats-server storing the
    // last batch instead of following it (a bulk create's 2,000 events take four batches).
    // Sending ahead of an acknowledgement is safe because every message names its predecessor
    // (`publish`): if one of the earlier batch is lost, JetStream refuses every later one, and
    // the stream stays a prefix of the log. The cursor moves only past acknowledged batches, in
    // order; an error anywhere returns, and re-entry resumes from the stream's own tail.
    let mut in_flight: Option<InFlight> = None;
    while !shutdown.is_set() {
        let batch = if in_flight.is_some() {
            // Never wait for new events while acknowledgements are due: the cursor would wait too.
            crate::read_batch(pool, &mut leader, read_to, BATCH).await?
        } else {
            match crate::next_batch(pool, &mut leader, &mut listener, read_to, BATCH, POLL, shutdown).await? {
                Some(batch) => batch,
                None => break,
            }
        };
        let sent = if batch.is_empty() {
            None
        } else {
            let sent = publish(&js, cfg, batch, &mut last_id).await?;
            read_to = sent.end;
            Some(sent)
        };
        if let Some(done) = std::mem::replace(&mut in_flight, sent) {
            done.settle(pool, cfg).await?;
        }
    }
    if let Some(done) = in_flight {
        done.settle(pool, cfg).await?;
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
        // Ahead is the usual sequel of a stop with a batch in flight; behind, NATS lost events.
        if in_stream > cursor {
            tracing::info!(%cursor, %in_stream, "the stream holds events past the relay's cursor; continuing from the stream");
        } else {
            tracing::warn!(%cursor, %in_stream, "the stream's tail is behind the relay's cursor; publishing again from the stream's tail");
        }
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

/// A batch sent to JetStream whose PubAcks are still to come.
struct InFlight {
    acks: Vec<jetstream::context::PublishAckFuture>,
    /// The position of the batch's last event: the cursor once every PubAck is in.
    end: Position,
    started: std::time::Instant,
}

impl InFlight {
    /// Waits for every PubAck of the batch, then moves the stored cursor past it.
    async fn settle(self, pool: &PgPool, cfg: &NatsConfig) -> Result<(), WorkerError> {
        for ack in self.acks {
            ack.await.map_err(nats_err)?;
        }
        telemetry::observe(&telemetry::metrics().relay_publish_duration, self.started.elapsed());
        save_cursor(pool, cfg, self.end).await
    }
}

/// Sends a batch (not empty) without waiting for its PubAcks. Each message carries
/// `Nats-Expected-Last-Msg-Id` = the event before it, so JetStream refuses a message whose
/// predecessor did not make it (a reconnect losing messages in flight): the stream's order is
/// always the log's order, and the caller resumes from the stream's tail. `last_id` becomes the
/// batch's last event: the next batch names it before it is acknowledged.
#[tracing::instrument(name = "relay.publish", skip_all, fields(events = batch.len()))]
async fn publish(
    js: &jetstream::Context,
    cfg: &NatsConfig,
    batch: Vec<Envelope>,
    last_id: &mut Option<String>,
) -> Result<InFlight, WorkerError> {
    let started = std::time::Instant::now();
    let mut end = Position::START;
    let mut acks = Vec::with_capacity(batch.len());
    for event in batch {
        end = event.position;
        let id = event.event_id.to_string();
        let (subject, mut headers, body) = message(cfg, event);
        if let Some(p) = last_id.as_deref() {
            headers.insert("Nats-Expected-Last-Msg-Id", p);
        }
        acks.push(js.publish_with_headers(subject, headers, body).await.map_err(nats_err)?);
        *last_id = Some(id);
    }
    Ok(InFlight { acks, end, started })
}
