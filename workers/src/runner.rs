//! The projection runner: one durable pull consumer per projection. A batch of events is applied
//! in one Postgres transaction together with the checkpoint; messages are acked only after it
//! commits (the batch's last, which acks all before it). Events at or below the checkpoint are
//! acked and skipped, so redelivery is harmless.
//!
//! An event the read model refuses (DESIGN §4) does not stop the projection: the batch is retried
//! event by event, the refused event is tried `MAX_ATTEMPTS` times and then **parked**
//! (`projections::parked`), every later event of its stream is parked behind it untried, and all
//! other streams go on. Why this keeps every guarantee:
//! - Parking is a projection outcome like applying: it happens in the transaction that advances
//!   the checkpoint past the event, under the checkpoint's row lock. So an event is applied or
//!   parked exactly once; a redelivery is at or below the checkpoint and skipped, whether the
//!   event was applied or parked.
//! - Per-stream order: before applying, the same transaction looks up (under the same lock) which
//!   streams have a parked event; an event of such a stream is parked behind it, never applied
//!   ahead of it. A replay (`workers::parked`) and a rebuild take that lock too, so the parked set
//!   cannot change between the look-up and the apply.
//! - Only the event's own fault parks it: a constraint, a trigger, a payload that does not decode.
//!   A lost connection, a restarting Postgres, a deadlock are not its fault; they interrupt the
//!   runner, which resumes from the checkpoint (the consumer restarts after its stream sequence)
//!   without counting an attempt, so an outage never parks anything.
//! - The batch transaction stays the fast path; only a batch that failed is split into one
//!   transaction per event, so one refused event never rolls back the others.
//! - Batches commit without waiting for the WAL flush, so a crash of Postgres may take back the
//!   last ones (read model and checkpoint together) while the runner, whose pool reconnects by
//!   itself, sees no error. A batch applies only when the checkpoint stands right before its
//!   first message; when it stands further back, the runner resumes from it, so nothing a lost
//!   commit held is skipped.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, AckKind};
use eventlog::{Envelope, Position};
use futures::{FutureExt, StreamExt};
use projections::{checkpoint, parked, ApplyError, Projection};
use sqlx::{Acquire, PgPool};

use crate::{nats_err, NatsConfig, Shutdown, WorkerError};

/// Most events applied in one transaction when they queue up.
pub const MAX_BATCH: usize = 256;
/// The longest wait before resuming after an interruption.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Attempts at one event before it is parked.
pub const MAX_ATTEMPTS: u32 = 3;
/// The wait before the n-th retry of a refused event is n times this.
const RETRY_STEP: Duration = Duration::from_millis(200);
/// How long an idle runner waits for a message before it checks that its session (and with it
/// its lead and its last commits) outlived any restart of Postgres.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The durable consumer's name for a projection on a stream.
pub fn consumer_name(projection: &Projection) -> String {
    format!("projection-{}", projection.name)
}

/// Runs until shutdown, or until a message that is not an event at all stops the projection (that
/// error is returned); a refused event is parked instead (see the module's comment). Each advance
/// of the checkpoint goes to `advances` (read-your-writes in this process) and to a NOTIFY (in
/// others).
pub async fn run(
    pool: PgPool,
    cfg: NatsConfig,
    projection: Projection,
    advances: checkpoint::Advances,
    mut shutdown: Shutdown,
) -> Result<(), WorkerError> {
    let mut backoff = crate::Backoff::new(MAX_BACKOFF);
    while !shutdown.is_set() {
        let started = tokio::time::Instant::now();
        match consume(&pool, &cfg, projection, &advances, &mut shutdown).await {
            Ok(()) => return Ok(()),
            Err(e @ WorkerError::Poisoned { .. }) => {
                tracing::error!(error = %e, "projection stopped");
                return Err(e);
            }
            Err(WorkerError::Gap { expected, got }) => {
                // Not a failure: JetStream redelivers unacked messages after newer ones, and a
                // Postgres crash may take back the last batches (see `apply_batch`).
                tracing::info!(projection = projection.name, expected, got, "resuming from the checkpoint");
                backoff.reset();
            }
            Err(e) => {
                let backoff = backoff.after(started.elapsed());
                tracing::warn!(projection = projection.name, error = %e, ?backoff, "projection runner interrupted; retrying");
                if !shutdown.sleep(backoff).await {
                    break;
                }
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

async fn consume(
    pool: &PgPool,
    cfg: &NatsConfig,
    projection: Projection,
    advances: &checkpoint::Advances,
    shutdown: &mut Shutdown,
) -> Result<(), WorkerError> {
    // One active runner per projection; another instance waits here as a standby.
    let Some(mut leader) = crate::lead(pool, &format!("roster-projection:{}", projection.name), shutdown).await? else { return Ok(()) };
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
            // Events apply in stream order and `expected` is the first one not applied: so one ack
            // of the last applied message (which under `All` acks every message before it) says
            // what an ack of each would, in one message instead of a batch's worth.
            ack_policy: jetstream::consumer::AckPolicy::All,
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence { start_sequence: expected },
            ack_wait: cfg.ack_wait,
            max_ack_pending: 10_000,
            ..Default::default()
        })
        .await
        .map_err(nats_err)?;
    let mut messages = crate::pull(consumer).await?;
    loop {
        let first = tokio::select! {
            m = messages.next() => m,
            // A restart of Postgres ends the lead's session, and may have taken back the last
            // batches (see `apply_batch`), which only the next batch would notice. So an idle
            // runner asks, and when the session is gone it resumes from the checkpoint that
            // survived, leading again, instead of waiting for a write to come.
            _ = tokio::time::sleep(IDLE_CHECK) => {
                leader.confirm().await?;
                continue;
            }
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
            // Not even an envelope: there is no stream to park, so nothing after it can be
            // ordered correctly. The projection stops (and /readyz says so).
            let event = match envelope(&projection, &m.subject, &m.payload) {
                Ok(e) => e,
                Err(e) => {
                    let at = format!("stream sequence {seq}");
                    record_stop(pool, projection, None, &at, &e.to_string()).await?;
                    return Err(WorkerError::Poisoned { projection: projection.name.into(), event_id: at, error: e.to_string() });
                }
            };
            delivered.push(Delivered { event, stream_seq: seq });
            expected += 1;
        }
        if !delivered.is_empty() && !apply_or_park(pool, projection, advances, &delivered, shutdown).await? {
            return Ok(()); // stopping; nothing unapplied is acked
        }
        let mut last_applied = None;
        for m in &batch {
            let seq = m.info().map_err(nats_err)?.stream_sequence;
            if seq < expected && last_applied.as_ref().is_none_or(|(s, _)| *s < seq) {
                last_applied = Some((seq, m));
            }
        }
        if let Some((_, m)) = last_applied {
            m.ack_with(AckKind::Ack).await.map_err(nats_err)?;
        }
        if let Some(gap) = gap {
            return Err(gap);
        }
    }
}

/// The envelope of a delivered message, as far as `projection` reads it. Of an event it does not
/// read (`Projection::reads`) the payload and metadata are left out (`null`) without being built:
/// the runner then only parks it (by its ids) or passes over it, and building them was most of a
/// runner's CPU in a bulk create (the content projection reads no user event, the directory no
/// onboarding notice). The subject names the types first; the envelope's own decide.
fn envelope(projection: &Projection, subject: &str, body: &[u8]) -> Result<Envelope, serde_json::Error> {
    if Envelope::subject_types(subject).is_some_and(|(stream_type, event_type)| projection.reads(stream_type, event_type)) {
        let whole: Envelope = serde_json::from_slice(body)?;
        if projection.reads(&whole.stream_type, &whole.event_type) {
            return Ok(whole);
        }
        return Ok(Envelope { metadata: serde_json::Value::Null, payload: serde_json::Value::Null, ..whole });
    }
    let head: Head = serde_json::from_slice(body)?;
    if projection.reads(&head.stream_type, &head.event_type) {
        return serde_json::from_slice(body);
    }
    Ok(head.into())
}

/// An envelope without its payload and metadata, which deserializing skips over unbuilt.
#[derive(serde::Deserialize)]
struct Head {
    event_id: uuid::Uuid,
    position: Position,
    org_id: Option<uuid::Uuid>,
    stream_type: String,
    stream_id: uuid::Uuid,
    version: i32,
    event_type: String,
    schema_rev: i16,
    recorded_at: chrono::DateTime<chrono::Utc>,
}

impl From<Head> for Envelope {
    fn from(h: Head) -> Envelope {
        Envelope {
            event_id: h.event_id,
            position: h.position,
            org_id: h.org_id,
            stream_type: h.stream_type,
            stream_id: h.stream_id,
            version: h.version,
            event_type: h.event_type,
            schema_rev: h.schema_rev,
            recorded_at: h.recorded_at,
            metadata: serde_json::Value::Null,
            payload: serde_json::Value::Null,
        }
    }
}

/// Applies a batch in one transaction; if the read model refuses one of its events, goes event
/// by event, retrying a refused one a few times before parking it. Returns false when told to stop
/// before the batch was through. A failure that is not the events' fault is returned as is: the
/// caller resumes from the checkpoint.
async fn apply_or_park(
    pool: &PgPool,
    projection: Projection,
    advances: &checkpoint::Advances,
    batch: &[Delivered],
    shutdown: &mut Shutdown,
) -> Result<bool, WorkerError> {
    match apply_batch(pool, projection, advances, batch).await {
        Ok(_) => return Ok(true),
        Err(WorkerError::Refused { event_id, error, .. }) => {
            tracing::debug!(projection = projection.name, %event_id, %error, "batch refused; applying its events one by one");
        }
        Err(e) => return Err(e),
    }
    for one in batch {
        let mut attempt = 1;
        loop {
            match apply_batch(pool, projection, advances, std::slice::from_ref(one)).await {
                Ok(_) => break,
                Err(WorkerError::Refused { error, .. }) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(projection = projection.name, event_id = %one.event.event_id, attempt, %error, "projection refused an event; retrying");
                    if !shutdown.sleep(RETRY_STEP * attempt).await {
                        return Ok(false);
                    }
                    attempt += 1;
                }
                Err(WorkerError::Refused { error, .. }) => {
                    tracing::error!(projection = projection.name, event_id = %one.event.event_id, stream_id = %one.event.stream_id, attempts = attempt, %error,
                        "parking the event and its stream; the projection goes on with other streams");
                    park_refused(pool, projection, advances, one, &error, attempt).await?;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(true)
}

/// One transaction: lock the checkpoint, apply the events after it (parking those whose stream
/// has a parked event), advance it. Returns the new checkpoint. A refused event is
/// `WorkerError::Refused` and nothing of the batch is kept.
#[tracing::instrument(name = "runner.apply_batch", skip_all, fields(projection = projection.name, events = batch.len()))]
pub async fn apply_batch(
    pool: &PgPool,
    projection: Projection,
    advances: &checkpoint::Advances,
    batch: &[Delivered],
) -> Result<Position, WorkerError> {
    let started = std::time::Instant::now();
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    checkpoint::commit_without_flush(&mut tx).await?;
    let cp = checkpoint::lock(&mut tx, projection.name).await?;
    if cp.status == "stopped" {
        return Err(WorkerError::Poisoned {
            projection: projection.name.into(),
            event_id: "-".into(),
            error: "projection is stopped; see projection_failures".into(),
        });
    }
    // The checkpoint must stand where this runner left it, right before the batch's first
    // message. Behind it, a commit the runner counted on is gone: batches commit without waiting
    // for the WAL flush, so a Postgres crash may lose the last ones, and the pool reconnects
    // without the runner seeing an error. Applying this batch would then skip what the lost
    // commits held, for good; the runner resumes from the checkpoint that survived instead.
    // (Ahead of it is a rebuild that got there first: the position checks below pass over what
    // it applied.)
    if let Some(first) = batch.first() {
        if cp.stream_seq + 1 < first.stream_seq {
            return Err(WorkerError::Gap { expected: cp.stream_seq + 1, got: first.stream_seq });
        }
    }
    // The checkpoint row counts the parked events: only when there are any can a stream of the
    // batch be among theirs.
    let heads = if cp.parked > 0 {
        let streams: Vec<uuid::Uuid> = batch.iter().map(|d| d.event.stream_id).collect();
        parked::heads(&mut tx, projection.name, &streams).await?
    } else {
        Default::default()
    };
    let mut parked_now = cp.parked;
    let mut principals = false;
    let mut at = cp.position;
    // Parking touches only the parked set, applying only the read model, and a stream's events are
    // either all parked or all applied here: so parking first and then applying the rest in one
    // go (set-based where the projection can) has the effect of going event by event.
    let mut apply = Vec::with_capacity(batch.len());
    for one in batch {
        // At or below the checkpoint: already applied or parked (a redelivery, or a rebuild got
        // there first).
        if one.event.position <= at {
            continue;
        }
        principals |= projections::queries::may_change_principals(&one.event.stream_type, &one.event.event_type);
        if let Some(head) = heads.get(&one.event.stream_id) {
            parked::park(&mut tx, projection.name, &one.event, one.stream_seq, &parked::behind(*head), 0).await?;
            parked_now += 1;
        } else {
            apply.push(&one.event);
        }
        at = one.event.position;
    }
    projection.apply_all(&mut tx, &apply).await.map_err(|(i, e)| refused_or_transient(projection, apply[i], e))?;
    let seq = batch.last().map(|d| d.stream_seq as i64).unwrap_or(cp.stream_seq as i64);
    checkpoint::advance(&mut tx, projection.name, at, seq).await?;
    tx.commit().await?;
    // A park that found the event parked already counted nothing: `parked_now` may be too high,
    // which only costs a waiter the check whether its own write was parked.
    let advanced = checkpoint::Advanced { projection: projection.name.into(), position: at, parked: parked_now > 0, principals };
    checkpoint::notify_advanced(pool, advances, advanced).await;
    let m = telemetry::metrics();
    let labels = telemetry::ProjectionLabels { projection: projection.name };
    telemetry::observe(&m.projection_apply_duration.get_or_create(&labels), started.elapsed());
    m.projection_batch_size.get_or_create(&labels).observe(batch.len() as f64);
    Ok(at)
}

/// Parks a refused event and moves the checkpoint past it, in one transaction.
#[tracing::instrument(name = "runner.park", skip_all, fields(projection = projection.name, event_id = %one.event.event_id))]
async fn park_refused(
    pool: &PgPool,
    projection: Projection,
    advances: &checkpoint::Advances,
    one: &Delivered,
    error: &str,
    attempts: u32,
) -> Result<(), WorkerError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let cp = checkpoint::lock(&mut tx, projection.name).await?;
    // A rebuild may have got past it meanwhile (and then it applied after all).
    if one.event.position <= cp.position {
        return Ok(());
    }
    parked::park(&mut tx, projection.name, &one.event, one.stream_seq, error, attempts).await?;
    checkpoint::advance(&mut tx, projection.name, one.event.position, one.stream_seq as i64).await?;
    tx.commit().await?;
    let principals = projections::queries::may_change_principals(&one.event.stream_type, &one.event.event_type);
    let advanced = checkpoint::Advanced { projection: projection.name.into(), position: one.event.position, parked: true, principals };
    checkpoint::notify_advanced(pool, advances, advanced).await;
    Ok(())
}

/// Sorts a projector's failure: the event's own fault (the read model refused it: parked after a
/// few attempts), or the database's (interrupts the runner, which resumes; never parks).
fn refused_or_transient(projection: Projection, event: &Envelope, e: ApplyError) -> WorkerError {
    match e {
        ApplyError::Db(db) if !refused_by_database(&db) => WorkerError::Db(db),
        e => WorkerError::Refused { projection: projection.name.into(), event_id: event.event_id.to_string(), error: e.to_string() },
    }
}

/// Whether Postgres refused the statement because of what it was asked to store (a constraint, a
/// trigger, bad data), as opposed to being unreachable or busy, which passes.
pub fn refused_by_database(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let class = db.code().map(|c| c.chars().take(2).collect::<String>()).unwrap_or_default();
            // 08 connection, 40 serialization/deadlock, 53 resources, 55 lock not available,
            // 57 shutdown/cancel, 58 system error: none is the event's fault.
            !matches!(class.as_str(), "" | "08" | "40" | "53" | "55" | "57" | "58")
        }
        sqlx::Error::RowNotFound
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::Encode(_)
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => true,
        _ => false,
    }
}

/// Stops the projection at a message that is not an event, recording it.
async fn record_stop(
    pool: &PgPool,
    projection: Projection,
    event_id: Option<uuid::Uuid>,
    position: &str,
    error: &str,
) -> Result<(), WorkerError> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO projection_failures (projection, event_id, position, error, attempts) VALUES ($1, $2, $3, $4, $5)",
        projection.name,
        event_id,
        position,
        error,
        1,
    )
    .execute(&mut *tx)
    .await?;
    checkpoint::set_status(&mut *tx, projection.name, "stopped").await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use eventlog::Envelope;
    use proptest::prelude::*;

    use super::envelope;
    use crate::arb;

    /// Stream and event types that the projections read, pass over, or do not know.
    fn types() -> impl Strategy<Value = (String, String)> {
        let stream_types: Vec<&str> =
            projections::directory::STREAM_TYPES.iter().chain(projections::content::STREAM_TYPES).copied().chain(["elsewhere"]).collect();
        let event_types: Vec<&str> = projections::directory::PASSES_OVER.iter().copied().chain(["UserCreated", "PostCreated"]).collect();
        (prop::sample::select(stream_types), prop::sample::select(event_types)).prop_map(|(s, e)| (s.to_string(), e.to_string()))
    }

    proptest! {
        /// A runner gets every envelope whole but the payload and metadata of the events its
        /// projection does not read, whatever the subject claims.
        #[test]
        fn a_runner_decodes_what_its_projection_reads((e, subject) in (arb::envelope(), types()).prop_flat_map(|(e, (stream_type, event_type))| {
            let e = Envelope { stream_type, event_type, ..e };
            let true_subject = e.subject("roster.events");
            (Just(e), prop_oneof![Just(true_subject), types().prop_map(|(s, t)| format!("roster.events._.{s}.x.{t}")), Just("junk".to_string())])
        })) {
            let body = serde_json::to_vec(&e).unwrap();
            for projection in projections::ALL {
                let got = envelope(projection, &subject, &body).unwrap();
                let want = if projection.reads(&e.stream_type, &e.event_type) {
                    e.clone()
                } else {
                    Envelope { payload: serde_json::Value::Null, metadata: serde_json::Value::Null, ..e.clone() }
                };
                prop_assert_eq!(got, want, "{} on {}", projection.name, subject);
            }
        }

        /// A body that is not an envelope is refused on either path.
        #[test]
        fn a_body_that_is_not_an_envelope_is_refused(e in arb::envelope(), cut in 1usize..64) {
            let body = serde_json::to_vec(&Envelope { stream_type: "user".into(), event_type: "UserOnboardingNoticeRecorded".into(), ..e }).unwrap();
            let cut = &body[..body.len().saturating_sub(cut)];
            for projection in projections::ALL {
                prop_assert!(envelope(projection, "roster.events._.user.x.UserOnboardingNoticeRecorded", cut).is_err());
                prop_assert!(envelope(projection, "roster.events._.user.x.UserCreated", cut).is_err());
            }
        }
    }
}
