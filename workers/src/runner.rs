//! The projection runner: one durable pull consumer per projection. A batch of events is applied
//! in one Postgres transaction together with the checkpoint; messages are acked only after it
//! commits. Events at or below the checkpoint are acked and skipped, so redelivery is harmless.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, AckKind};
use commands::{Envelope, Position};
use futures::{FutureExt, StreamExt};
use projections::{checkpoint, Projection};
use sqlx::{Acquire, PgPool};

use crate::{nats_err, NatsConfig, Shutdown, WorkerError};

/// Most events applied in one transaction when they queue up.
pub const MAX_BATCH: usize = 256;
/// Attempts at one event before the projection stops and records it.
pub const MAX_ATTEMPTS: u32 = 3;

/// The durable consumer's name for a projection on a stream.
pub fn consumer_name(projection: &Projection) -> String {
    format!("projection-{}", projection.name)
}

/// Runs until shutdown, or until a poison event stops the projection (that error is returned).
pub async fn run(pool: PgPool, cfg: NatsConfig, projection: Projection, mut shutdown: Shutdown) -> Result<(), WorkerError> {
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_set() {
        match consume(&pool, &cfg, projection, &mut shutdown).await {
            Ok(()) => return Ok(()),
            Err(e @ WorkerError::Poisoned { .. }) => {
                tracing::error!(error = %e, "projection stopped");
                return Err(e);
            }
            Err(WorkerError::Gap { expected, got }) => {
                // Not a failure: JetStream redelivers unacked messages after newer ones.
                tracing::debug!(projection = projection.name, expected, got, "out-of-order delivery; repositioning");
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                tracing::warn!(projection = projection.name, error = %e, ?backoff, "projection runner interrupted; retrying");
                if !shutdown.sleep(backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
    Ok(())
}

/// One message as the runner applies it: the event and its JetStream sequence.
pub struct Delivered {
    pub event: Envelope,
    pub stream_seq: u64,
}

async fn consume(pool: &PgPool, cfg: &NatsConfig, projection: Projection, shutdown: &mut Shutdown) -> Result<(), WorkerError> {
    // One active runner per projection; another instance waits here as a standby.
    let Some(_leader) = crate::lead(pool, &format!("roster-projection:{}", projection.name), shutdown).await? else { return Ok(()) };
    let js = crate::connect(cfg).await?;
    let stream = crate::ensure_stream(&js, cfg).await?;
    let name = consumer_name(&projection);
    let cp = checkpoint::read(pool, projection.name).await?;
    let info = stream.get_info().await.map_err(nats_err)?;
    // Continue after the last applied message; if the stream was replaced (its sequences no longer
    // match), read it all again and let the position checks skip what is already applied.
    let mut expected = if cp.stream_seq == 0 || cp.stream_seq > info.state.last_sequence { 1 } else { cp.stream_seq + 1 };
    let _ = stream.delete_consumer(&name).await;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence { start_sequence: expected },
            ack_wait: cfg.ack_wait,
            max_ack_pending: 10_000,
            ..Default::default()
        })
        .await
        .map_err(nats_err)?;
    let mut messages = consumer.messages().await.map_err(nats_err)?;
    loop {
        let first = tokio::select! {
            m = messages.next() => m,
            _ = shutdown.wait() => return Ok(()),
        };
        let Some(first) = first else { return Err(WorkerError::Nats("message stream ended".into())) };
        let mut batch = vec![first.map_err(nats_err)?];
        // Take whatever else is already waiting, without waiting for more.
        while batch.len() < MAX_BATCH {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => batch.push(m),
                _ => break,
            }
        }
        let mut delivered = Vec::with_capacity(batch.len());
        let mut gap = None;
        for m in &batch {
            let seq = m.info().map_err(nats_err)?.stream_sequence;
            if seq < expected {
                continue; // a redelivery of something applied
            }
            if seq > expected {
                gap = Some(WorkerError::Gap { expected, got: seq });
                break;
            }
            let event: Envelope = serde_json::from_slice(&m.payload).map_err(|e| WorkerError::Poisoned {
                projection: projection.name.into(),
                event_id: format!("stream sequence {seq}"),
                error: e.to_string(),
            })?;
            delivered.push(Delivered { event, stream_seq: seq });
            expected += 1;
        }
        if !delivered.is_empty() {
            apply_with_retries(pool, projection, &delivered, shutdown).await?;
        }
        for m in &batch {
            let seq = m.info().map_err(nats_err)?.stream_sequence;
            if seq < expected {
                m.ack_with(AckKind::Ack).await.map_err(nats_err)?;
            }
        }
        if let Some(gap) = gap {
            return Err(gap);
        }
    }
}

/// Applies a batch; on failure retries it event by event so one poison event is isolated,
/// recorded, and stops the projection instead of being skipped.
async fn apply_with_retries(pool: &PgPool, projection: Projection, batch: &[Delivered], shutdown: &mut Shutdown) -> Result<(), WorkerError> {
    if apply_batch(pool, projection, batch).await.is_ok() {
        return Ok(());
    }
    for one in batch {
        let mut attempt = 1;
        loop {
            match apply_batch(pool, projection, std::slice::from_ref(one)).await {
                Ok(_) => break,
                Err(e) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(projection = projection.name, event_id = %one.event.event_id, attempt, error = %e, "projection apply failed; retrying");
                    shutdown.sleep(Duration::from_millis(200 * attempt as u64)).await;
                    attempt += 1;
                }
                Err(e) => {
                    record_poison(pool, projection, &one.event, &e.to_string(), attempt).await?;
                    return Err(WorkerError::Poisoned {
                        projection: projection.name.into(),
                        event_id: one.event.event_id.to_string(),
                        error: e.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// One transaction: lock the checkpoint, apply the events after it, advance it.
/// Returns the new checkpoint.
pub async fn apply_batch(pool: &PgPool, projection: Projection, batch: &[Delivered]) -> Result<Position, WorkerError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let cp = checkpoint::lock(&mut tx, projection.name).await?;
    if cp.status == "stopped" {
        return Err(WorkerError::Poisoned {
            projection: projection.name.into(),
            event_id: "-".into(),
            error: "projection is stopped after a poison event; see projection_failures".into(),
        });
    }
    let mut at = cp.position;
    for one in batch {
        // At or below the checkpoint: already applied (a redelivery, or a rebuild got there first).
        if one.event.position <= at {
            continue;
        }
        projection.apply(&mut tx, &one.event).await.map_err(|e| WorkerError::Poisoned {
            projection: projection.name.into(),
            event_id: one.event.event_id.to_string(),
            error: e.to_string(),
        })?;
        at = one.event.position;
    }
    let seq = batch.last().map(|d| d.stream_seq as i64).unwrap_or(cp.stream_seq as i64);
    checkpoint::advance(&mut tx, projection.name, at, seq).await?;
    tx.commit().await?;
    checkpoint::notify(pool, projection.name).await;
    Ok(at)
}

async fn record_poison(pool: &PgPool, projection: Projection, event: &Envelope, error: &str, attempts: u32) -> Result<(), WorkerError> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO projection_failures (projection, event_id, position, error, attempts) VALUES ($1, $2, $3, $4, $5)",
        projection.name,
        event.event_id,
        event.position.to_string(),
        error,
        attempts as i32,
    )
    .execute(&mut *tx)
    .await?;
    checkpoint::set_status(&mut *tx, projection.name, "stopped").await?;
    tx.commit().await?;
    Ok(())
}
