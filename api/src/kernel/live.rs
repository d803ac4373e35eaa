//! Live readers: the events of one selection after a position, first from the Postgres log, then
//! live from NATS, with no gap and no duplicate, each passed through the caller's check before it
//! is sent. Server-Sent Events endpoints (a conversation's messages, a user's notifications) are
//! built on [`follow`]; the SSE `id:` of an item is its event's position, so a client that comes
//! back with `Last-Event-ID` resumes exactly where it stopped, however long it was away.
//!
//! The join (the same rule as `roster events tail`, `workers::tail`): before anything is read,
//! the JetStream stream's next sequence `S` is taken. Every event after the client's position
//! is then read from the log (which keeps everything, so a resume older than the stream's
//! retention loses nothing), and the stream is consumed from `S` on, filtered to the
//! selection's subject, dropping every event at or below the last position delivered. Nothing
//! falls between the two: the relay publishes only what it has read from the log under the same
//! visibility rule (below `log::appenders_horizon`, which never moves back), so an event
//! published before `S` was visible to the log read that came after; one published from `S` on is
//! consumed live.
//!
//! Without a starting position only events published from `S` on are delivered (nothing old).
//! `S` is taken before `follow` returns, so anything written after the caller's response
//! headers reach the client is delivered. The stream is read through `workers::ordered`, which
//! loses nothing to a NATS connection that went silent.

use std::future::Future;

use commands::log::{self, LogFilter};
use commands::{Envelope, Position};
use futures::Stream;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::kernel::error::ApiError;
use crate::AppState;

/// How many log rows one read takes.
const LOG_BATCH: i64 = 500;
/// Items waiting for a slow client before the reader waits too.
const BUFFER: usize = 64;

/// The events to follow: one org's, narrowed by stream type, stream and event type. The same
/// selection filters the log and names the NATS subject (`<prefix>.<org>.<type>.<id>.<event>`).
#[derive(Debug, Clone)]
pub struct Selector {
    pub org: Uuid,
    pub stream_type: Option<String>,
    pub stream_id: Option<Uuid>,
    pub event_type: Option<String>,
}

impl Selector {
    /// Every event of one stream.
    pub fn stream(org: Uuid, stream_type: &str, stream_id: Uuid) -> Self {
        Selector { org, stream_type: Some(stream_type.to_string()), stream_id: Some(stream_id), event_type: None }
    }

    pub fn subject(&self, prefix: &str) -> String {
        let id = self.stream_id.map(|i| i.to_string());
        format!(
            "{prefix}.{}.{}.{}.{}",
            self.org,
            self.stream_type.as_deref().unwrap_or("*"),
            id.as_deref().unwrap_or("*"),
            self.event_type.as_deref().unwrap_or("*")
        )
    }

    fn log_filter(&self) -> LogFilter {
        LogFilter {
            stream_type: self.stream_type.clone(),
            stream_id: self.stream_id,
            event_type: self.event_type.clone(),
            ..LogFilter::default()
        }
    }
}

/// What the caller's check makes of one event, at the moment it would be sent.
pub enum Verdict<T> {
    Send(T),
    /// Not for this reader (another event type, not visible to them): nothing is sent.
    Skip,
    /// The reader may no longer follow (removed, deleted): send the last item if any, then end.
    End(Option<T>),
}

/// Reads a `Last-Event-ID` (a position a previous stream sent as an item's `id:`).
pub fn last_event_id(headers: &axum::http::HeaderMap) -> Result<Option<Position>, ApiError> {
    match headers.get("last-event-id") {
        None => Ok(None),
        Some(v) => {
            let raw = v.to_str().unwrap_or_default().trim();
            raw.parse::<Position>()
                .map(Some)
                .map_err(|_| ApiError::invalid("Last-Event-ID", "must be the id of an event this stream sent (a position)"))
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "live reader: NATS");
    ApiError::Unavailable
}

/// The events of `selector` after `after` (or, without it, from now on), each passed through
/// `check` before it is yielded, in log order, each once. The stream ends when `check` ends it,
/// when the process stops, or after an error (logged; the client resumes with `Last-Event-ID`);
/// dropping it stops the reader.
pub async fn follow<T, C, Fut>(
    st: &AppState,
    selector: Selector,
    after: Option<Position>,
    check: C,
) -> Result<impl Stream<Item = T> + Send + 'static, ApiError>
where
    T: Send + 'static,
    C: FnMut(Envelope) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Verdict<T>, ApiError>> + Send,
{
    let js = st.bus.jetstream();
    let mut stream = js.get_stream(st.bus.stream_name()).await.map_err(unavailable)?;
    let start = stream.info().await.map_err(unavailable)?.state.last_sequence + 1;
    let (tx, rx) = mpsc::channel(BUFFER);
    let reader = Reader {
        pool: st.pool.clone(),
        subject: selector.subject(&st.subject_prefix),
        selector,
        stream,
        start,
        connections: st.bus.connections(),
        shutdown: st.bus.shutdown(),
        tx,
    };
    tokio::spawn(async move {
        if let Err(e) = reader.run(after, check).await {
            tracing::warn!(error = ?e, "live reader stopped");
        }
    });
    Ok(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|t| (t, rx)) }))
}

struct Reader<T> {
    pool: sqlx::PgPool,
    selector: Selector,
    subject: String,
    stream: async_nats::jetstream::stream::Stream,
    start: u64,
    connections: workers::Connections,
    shutdown: Option<workers::Shutdown>,
    tx: mpsc::Sender<T>,
}

/// Whether to go on after one item.
enum Next {
    More,
    Stop,
}

impl<T: Send + 'static> Reader<T> {
    async fn deliver<C, Fut>(&self, e: Envelope, check: &mut C) -> Result<Next, ApiError>
    where
        C: FnMut(Envelope) -> Fut,
        Fut: Future<Output = Result<Verdict<T>, ApiError>>,
    {
        match check(e).await? {
            Verdict::Send(item) => Ok(if self.tx.send(item).await.is_ok() { Next::More } else { Next::Stop }),
            Verdict::Skip => Ok(Next::More),
            Verdict::End(last) => {
                if let Some(item) = last {
                    let _ = self.tx.send(item).await;
                }
                Ok(Next::Stop)
            }
        }
    }

    async fn run<C, Fut>(mut self, after: Option<Position>, mut check: C) -> Result<(), ApiError>
    where
        C: FnMut(Envelope) -> Fut,
        Fut: Future<Output = Result<Verdict<T>, ApiError>>,
    {
        let mut last = after.unwrap_or(Position::START);
        if after.is_some() {
            let filter = self.selector.log_filter();
            loop {
                let horizon = log::appenders_horizon(&self.pool).await?;
                let batch = log::read_org_after(&self.pool, self.selector.org, last, horizon, &filter, LOG_BATCH).await?;
                let n = batch.len() as i64;
                for e in batch {
                    last = e.position;
                    if let Next::Stop = self.deliver(e.upcast(), &mut check).await? {
                        return Ok(());
                    }
                }
                if n < LOG_BATCH {
                    break;
                }
            }
        }
        let mut messages =
            workers::ordered::Ordered::start(self.stream.clone(), self.subject.clone(), self.start, self.connections.clone())
                .await
                .map_err(unavailable)?;
        let mut shutdown = self.shutdown.take();
        loop {
            let next = tokio::select! {
                m = messages.next() => m,
                // The client left while nothing was coming: free the consumer now.
                _ = self.tx.closed() => return Ok(()),
                _ = stopping(&mut shutdown) => return Ok(()),
            };
            let Some(m) = next else { return Ok(()) };
            let m = m.map_err(unavailable)?;
            let e: Envelope = serde_json::from_slice(&m.payload).map_err(unavailable)?;
            if e.position <= last {
                continue;
            }
            last = e.position;
            if let Next::Stop = self.deliver(e.upcast(), &mut check).await? {
                return Ok(());
            }
        }
    }
}

async fn stopping(shutdown: &mut Option<workers::Shutdown>) {
    match shutdown {
        Some(s) => s.wait().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selector_names_its_subject_with_wildcards_for_what_it_leaves_open() {
        let org = Uuid::from_u128(1);
        let id = Uuid::from_u128(2);
        assert_eq!(Selector::stream(org, "conversation", id).subject("roster.events"), format!("roster.events.{org}.conversation.{id}.*"));
        let all = Selector { org, stream_type: None, stream_id: None, event_type: Some("X".into()) };
        assert_eq!(all.subject("p"), format!("p.{org}.*.*.X"));
    }

    #[test]
    fn last_event_id_is_a_position_or_a_400() {
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(last_event_id(&h).unwrap(), None);
        let p = Position::new(5, 7);
        h.insert("last-event-id", p.to_string().parse().unwrap());
        assert_eq!(last_event_id(&h).unwrap(), Some(p));
        h.insert("last-event-id", "nope".parse().unwrap());
        assert!(last_event_id(&h).is_err());
    }
}
