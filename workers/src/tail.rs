//! Replay for subscribers: follow the log from any position, joining the history still in
//! Postgres (what `/events` serves) with the live JetStream stream, without gap or duplicate.
//!
//! The join rule: the envelope's `position` orders everything. Read the stream's first message
//! still held (sequence `S`, position `F`); take every event after the starting position and
//! before `F` from the log, then consume the stream from `S`, dropping every message at or below
//! the last position already delivered. The relay publishes in log order, so the stream from `S`
//! holds everything from `F` on. If the stream is empty, the log is read to its head and the
//! stream consumed from its next sequence. A jump in stream sequences (messages trimmed while
//! being read) restarts the join from the last delivered position. The stream is read through
//! [`crate::ordered`], which loses nothing to a connection that went silent.

use async_nats::jetstream;
use eventlog::{log, Envelope, Position};
use sqlx::PgPool;
use uuid::Uuid;

use crate::ordered::Ordered;
use crate::{nats_err, Connections, NatsConfig, Shutdown, WorkerError};

const BATCH: i64 = 500;

/// What to follow.
#[derive(Debug, Clone, Default)]
pub struct TailFrom {
    /// Only this organization's events (default: every event).
    pub org: Option<Uuid>,
    /// Deliver events after this position (default: from the start of the log).
    pub after: Position,
}

/// Calls `deliver` with every event after `from.after`, in log order, exactly once, then live
/// ones as they come, until `deliver` returns false or shutdown.
pub async fn follow(
    pool: &PgPool,
    cfg: &NatsConfig,
    from: TailFrom,
    shutdown: &mut Shutdown,
    mut deliver: impl FnMut(Envelope) -> bool,
) -> Result<(), WorkerError> {
    let (client, connections) = crate::client(cfg).await?;
    let stream = crate::jetstream_of(client).get_stream(&cfg.stream).await.map_err(nats_err)?;
    let mut last = from.after;
    loop {
        match join_once(pool, &stream, &connections, &from, &mut last, shutdown, &mut deliver).await? {
            Joined::Done => return Ok(()),
            Joined::Trimmed { expected, got } => {
                tracing::info!(expected, got, after = %last, "the stream was trimmed while being read; joining again from the log");
            }
        }
    }
}

enum Joined {
    Done,
    Trimmed { expected: u64, got: u64 },
}

async fn join_once(
    pool: &PgPool,
    stream: &jetstream::stream::Stream,
    connections: &Connections,
    from: &TailFrom,
    last: &mut Position,
    shutdown: &mut Shutdown,
    deliver: &mut impl FnMut(Envelope) -> bool,
) -> Result<Joined, WorkerError> {
    let info = stream.get_info().await.map_err(nats_err)?;
    let (start_seq, log_until) = if info.state.messages == 0 {
        (info.state.last_sequence + 1, None)
    } else {
        let first = stream.get_raw_message(info.state.first_sequence).await.map_err(nats_err)?;
        let position = first.headers.get("Roster-Position").and_then(|v| v.as_str().parse::<Position>().ok());
        (info.state.first_sequence, position)
    };
    // The part the stream no longer holds, from the log.
    'log: loop {
        let horizon = log::appenders_horizon(pool).await?;
        let batch = match from.org {
            Some(org) => log::read_org_after(pool, org, *last, horizon, &log::LogFilter::default(), BATCH).await?,
            None => log::read_after_of(pool, *last, horizon, &log::Selection::ALL, BATCH).await?,
        };
        let n = batch.len();
        for e in batch {
            if log_until.is_some_and(|until| e.position >= until) {
                break 'log;
            }
            *last = e.position;
            if !deliver(e.upcast()) {
                return Ok(Joined::Done);
            }
        }
        if (n as i64) < BATCH {
            break;
        }
    }
    // The rest, live, from the stream.
    let mut messages = Ordered::start(stream.clone(), String::new(), start_seq, connections.clone()).await?;
    let mut expected = start_seq;
    loop {
        let next = tokio::select! {
            m = messages.next() => m,
            _ = shutdown.wait() => return Ok(Joined::Done),
        };
        let Some(m) = next else { return Ok(Joined::Done) };
        let m = m?;
        let seq = m.info().map_err(nats_err)?.stream_sequence;
        if seq != expected {
            return Ok(Joined::Trimmed { expected, got: seq });
        }
        expected += 1;
        let e: Envelope = serde_json::from_slice(&m.payload).map_err(nats_err)?;
        if e.position <= *last || from.org.is_some_and(|o| e.org_id != Some(o)) {
            continue;
        }
        *last = e.position;
        // Published before its upcaster existed, it may still carry an old shape.
        if !deliver(e.upcast()) {
            return Ok(Joined::Done);
        }
    }
}

/// One event on one line: position, time, org, stream, version, type, who and through what, and
/// the payload.
pub fn one_line(e: &Envelope) -> String {
    let org = e.org_id.map(|o| o.to_string()).unwrap_or_else(|| "_".into());
    let actor = e.metadata.get("actor_user_id").and_then(|v| v.as_str()).unwrap_or("-");
    let dialect = e.metadata.get("dialect").and_then(|v| v.as_str()).unwrap_or("-");
    format!(
        "{} {} org={org} {}/{} v{} {} by={actor} via={dialect} {}",
        e.position,
        e.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        e.stream_type,
        e.stream_id,
        e.version,
        e.event_type,
        e.payload
    )
}
