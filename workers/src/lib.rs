//! Background workers: the relay (log → NATS), the projection runner (NATS → read models) and the
//! rebuild (log → fresh read models, swapped in).

#[cfg(test)]
mod arb;
pub mod expiry;
pub mod notifier;
pub mod ordered;
pub mod parked;
pub mod rebuild;
pub mod relay;
pub mod runner;
pub mod sealer;
pub mod tail;
pub mod task_reminders;

use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::watch;

/// Where events go on NATS. Tests give every run its own stream and prefix.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// One server URL, or a comma-separated list of a cluster's servers (the client fails over
    /// between them and learns the rest of the cluster from whichever it reaches).
    pub url: String,
    /// JetStream stream name (`ROSTER_EVENTS`).
    pub stream: String,
    /// Subject prefix (`roster.events`); subjects are `<prefix>.<org>.<stream_type>.<id>.<event_type>`.
    pub subject_prefix: String,
    /// How long the stream keeps events; zero keeps them forever.
    pub max_age: Duration,
    /// How many bytes the stream keeps (the oldest go first); -1 = no limit.
    pub max_bytes: i64,
    /// How many messages the stream keeps (the oldest go first); -1 = no limit.
    pub max_messages: i64,
    /// How long an unacked message waits before JetStream redelivers it to a projection.
    pub ack_wait: Duration,
    /// How many servers of a NATS cluster hold a copy of the stream (1, or 3 on a 3-node cluster
    /// so that losing one node loses nothing).
    pub replicas: usize,
}

impl NatsConfig {
    pub const DEFAULT_STREAM: &'static str = "ROSTER_EVENTS";
    pub const DEFAULT_PREFIX: &'static str = "roster.events";
    /// JetStream drops a re-published event id seen within this window (DESIGN §4: ≥ 2 minutes).
    pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

    pub fn new(url: impl Into<String>) -> Self {
        NatsConfig {
            url: url.into(),
            stream: Self::DEFAULT_STREAM.into(),
            subject_prefix: Self::DEFAULT_PREFIX.into(),
            max_age: Duration::ZERO,
            max_bytes: -1,
            max_messages: -1,
            ack_wait: Duration::from_secs(30),
            replicas: 1,
        }
    }

    /// The server URLs in `url`.
    pub fn servers(&self) -> Vec<&str> {
        self.url.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("nats: {0}")]
    Nats(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("command: {0}")]
    Command(#[from] commands::CommandError),
    /// A message arrived ahead of one still unapplied: JetStream redelivers late, or the
    /// checkpoint went back (a Postgres crash lost the last batches' commits).
    #[error("expected stream sequence {expected}, got {got}")]
    Gap { expected: u64, got: u64 },
    /// The seals end elsewhere than where the sealer left them: a Postgres crash took back its
    /// last batches (they do not wait for the flush). It resumes from the newest seal left.
    #[error("the sealed log ends at {found}, not at {expected} where this sealer left it")]
    SealsTakenBack { expected: eventlog::Position, found: eventlog::Position },
    #[error("projection {projection} stopped at event {event_id}: {error}")]
    Poisoned { projection: String, event_id: String, error: String },
    /// The read model refused an event (a constraint, a trigger, a payload it cannot decode): the
    /// event's fault, not the database's. The runner parks it after a few attempts.
    #[error("projection {projection} refused event {event_id}: {error}")]
    Refused { projection: String, event_id: String, error: String },
}

pub(crate) fn nats_err(e: impl std::fmt::Display) -> WorkerError {
    WorkerError::Nats(e.to_string())
}

/// How often an idle client pings the server. It drops the connection when a third ping goes
/// unanswered, so a connection gone silent without closing is replaced within three of these.
/// That is what frees the API's own connection, which the live streams (a chat's, the
/// notification inbox) read through and which has no pull heartbeat of its own: at the client's
/// default, 60 s, such a stream stays silent for up to three minutes. `roster events tail` reads
/// the same way, through a client of its own.
const PING_INTERVAL: Duration = Duration::from_secs(5);

/// A NATS client of every server in the configuration, retrying in the background if none is up
/// yet, forever reconnecting (to any of them); and its [`Connections`].
pub async fn client(cfg: &NatsConfig) -> Result<(async_nats::Client, Connections), WorkerError> {
    let (made, connections) = watch::channel(0u64);
    let made = std::sync::Arc::new(made);
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .ping_interval(PING_INTERVAL)
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(|attempt| Duration::from_millis((50 * 2u64.saturating_pow(attempt.min(6) as u32)).min(2000)))
        // The client reports these at `info` under its own target, which the default filter
        // leaves out; a lost connection or a slow consumer explains a stall that follows it.
        .event_callback(move |event| {
            let made = made.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        made.send_modify(|n| *n += 1);
                        tracing::debug!(%event, "nats connection");
                    }
                    async_nats::Event::Closed => tracing::debug!(%event, "nats connection"),
                    event => tracing::warn!(%event, "nats connection"),
                }
            }
        })
        .connect(cfg.servers().as_slice())
        .await
        .map_err(nats_err)?;
    Ok((client, Connections(connections)))
}

/// Connects to NATS JetStream; see [`client`].
pub async fn connect(cfg: &NatsConfig) -> Result<jetstream::Context, WorkerError> {
    let (client, _) = client(cfg).await?;
    Ok(jetstream_of(client))
}

/// The JetStream context of a client, with the timeout every worker uses.
fn jetstream_of(client: async_nats::Client) -> jetstream::Context {
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_secs(2));
    js
}

/// The connections one client has made: the first and every one that replaced a lost one. What
/// the server sent into a connection before it was given up is lost with it; a reader that
/// tracks its own position starts over after each new one (see [`ordered`]).
#[derive(Clone)]
pub struct Connections(watch::Receiver<u64>);

impl Connections {
    /// From now on: the connections made so far count as seen.
    fn seen(&mut self) {
        self.0.borrow_and_update();
    }

    /// Resolves when a connection is made after the last [`Connections::seen`] (at once if one
    /// was). Never, once the client is gone.
    async fn next(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// While a pull request waits with nothing to deliver, the server sends a heartbeat this often;
/// two missed ones end the pull (an error), and the worker connects again. That is what notices a
/// connection gone silent without closing (a firewall or a NAT table dropping its state), which
/// nothing else would for minutes (the client's pings): so it is short next to the
/// read-your-writes wait. The client's default, 15 s, left a projection stalled for 30 s.
const PULL_HEARTBEAT: Duration = Duration::from_secs(1);
/// A pull request's lifetime; the client sends the next one when it ends. The server wants the
/// heartbeat to be at most half of it.
const PULL_EXPIRES: Duration = Duration::from_secs(5);

/// The messages of a durable pull consumer, pulled with [`PULL_HEARTBEAT`] and [`PULL_EXPIRES`].
pub(crate) async fn pull(consumer: jetstream::consumer::PullConsumer) -> Result<jetstream::consumer::pull::Stream, WorkerError> {
    consumer.stream().heartbeat(PULL_HEARTBEAT).expires(PULL_EXPIRES).messages().await.map_err(nats_err)
}

/// Creates the stream if missing, or brings its retention in line with the configuration: file
/// storage, every subject under the prefix, a duplicate window so a re-published event id is
/// dropped, and the retention limits (max age, bytes, messages; the oldest events go first, and
/// a subscriber joining later reads them from the log, see `tail`).
pub async fn ensure_stream(js: &jetstream::Context, cfg: &NatsConfig) -> Result<jetstream::stream::Stream, WorkerError> {
    let config = jetstream::stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![format!("{}.>", cfg.subject_prefix)],
        storage: jetstream::stream::StorageType::File,
        duplicate_window: NatsConfig::DUPLICATE_WINDOW,
        max_age: cfg.max_age,
        max_bytes: cfg.max_bytes,
        max_messages: cfg.max_messages,
        num_replicas: cfg.replicas,
        ..Default::default()
    };
    let stream = js.get_or_create_stream(config.clone()).await.map_err(nats_err)?;
    let current = stream.cached_info().config.clone();
    let wanted = (config.max_age, config.max_bytes, config.max_messages, config.num_replicas);
    if (current.max_age, current.max_bytes, current.max_messages, current.num_replicas) != wanted {
        tracing::info!(stream = %cfg.stream, ?config.max_age, config.max_bytes, config.max_messages, config.num_replicas, "updating the stream's retention and replicas");
        let updated = jetstream::stream::Config {
            max_age: config.max_age,
            max_bytes: config.max_bytes,
            max_messages: config.max_messages,
            num_replicas: config.num_replicas,
            ..current
        };
        js.update_stream(updated).await.map_err(nats_err)?;
        return js.get_stream(&cfg.stream).await.map_err(nats_err);
    }
    Ok(stream)
}

/// A cooperative stop signal shared by every worker of a process.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the stop signal is given (or its sender is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Sleeps `d` unless told to stop first; returns false when stopping.
    pub async fn sleep(&mut self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.is_set(),
            _ = self.wait() => false,
        }
    }
}

/// The backoff after a singleton worker's first failure; it doubles up to the worker's cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// A worker that ran this long before failing had recovered: its backoff starts over.
const STEADY: Duration = Duration::from_secs(10);

/// The wait before a failed worker re-enters: doubling from [`FIRST_BACKOFF`] up to a cap while
/// it keeps failing at once, and from the first step again after a run of [`STEADY`] or longer,
/// so a process that lived through a few outages does not pay the cap on every later blip.
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(max: Duration) -> Backoff {
        Backoff { next: FIRST_BACKOFF, max }
    }

    /// The wait after a run that lasted `ran` and failed.
    pub(crate) fn after(&mut self, ran: Duration) -> Duration {
        if ran >= STEADY {
            self.reset();
        }
        self.step()
    }

    /// The wait after one more failure, for a caller that says itself when it has recovered
    /// ([`Backoff::reset`]).
    pub(crate) fn step(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(self.max);
        wait
    }

    pub(crate) fn reset(&mut self) {
        self.next = FIRST_BACKOFF;
    }
}

/// Runs a singleton worker's `active` part until it returns or shutdown, re-entering it after a
/// failure (logged once here) with a capped exponential backoff. `active` resyncs from durable
/// state on every entry, so a retry never skips or repeats work.
pub(crate) async fn supervise(
    name: &str,
    max_backoff: Duration,
    mut shutdown: Shutdown,
    mut active: impl for<'a> FnMut(&'a mut Shutdown) -> futures::future::BoxFuture<'a, Result<(), WorkerError>>,
) -> Result<(), WorkerError> {
    let mut backoff = Backoff::new(max_backoff);
    while !shutdown.is_set() {
        let started = tokio::time::Instant::now();
        match active(&mut shutdown).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                let backoff = backoff.after(started.elapsed());
                tracing::warn!(error = %e, ?backoff, "{name} interrupted; retrying");
                if !shutdown.sleep(backoff).await {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Follows the log for a singleton worker: the next batch of up to `limit` events after
/// `cursor`, waiting for a `roster_events` notification or the poll interval (a NOTIFY is only a
/// hint) while there is none; `None` when told to stop.
pub(crate) async fn next_batch(
    pool: &sqlx::PgPool,
    leader: &mut Leadership,
    listener: &mut sqlx::postgres::PgListener,
    cursor: eventlog::Position,
    limit: i64,
    poll: Duration,
    shutdown: &mut Shutdown,
) -> Result<Option<Vec<eventlog::Envelope>>, WorkerError> {
    loop {
        if shutdown.is_set() {
            return Ok(None);
        }
        drain(listener)?;
        let batch = read_batch(pool, leader, cursor, limit).await?;
        if !batch.is_empty() {
            return Ok(Some(batch));
        }
        tokio::select! {
            n = listener.recv() => { n?; }
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.wait() => return Ok(None),
        }
    }
}

/// Takes every notification that has already arrived, without waiting for more. Each announced a
/// commit that the read about to be made covers. Left queued, each would wake the wait after
/// that read for one more read, and an empty one: a worker that reads without waiting while it
/// is busy (the relay with a batch in flight, the sealer as it lingers) gathers one per append
/// meanwhile, and spent as many empty reads on them afterwards (lead check, horizon and read
/// each). After 6 s of HTTP creates, the relay and the sealer made 78-189 reads per bulk create
/// of 2,000 events; drained, they make the 9 its batches need.
fn drain(listener: &mut sqlx::postgres::PgListener) -> Result<(), sqlx::Error> {
    use futures::FutureExt;
    // `recv` is cancel-safe (sqlx reads a message whole or leaves the buffer as it was), and
    // polled once it answers only from what the connection has already received.
    while let Some(n) = listener.recv().now_or_never() {
        n?;
    }
    Ok(())
}

/// The events after `cursor` that a singleton worker may read now, up to `limit`; empty when
/// there are none yet.
pub(crate) async fn read_batch(
    pool: &sqlx::PgPool,
    leader: &mut Leadership,
    cursor: eventlog::Position,
    limit: i64,
) -> Result<Vec<eventlog::Envelope>, WorkerError> {
    // The pool and the listener reconnect by themselves after a Postgres restart; the lock does
    // not come back with them.
    leader.confirm().await?;
    // Past the transactions that cannot append, such as a projector's open batch: in two
    // statements, which the horizon's correctness needs (migration 0030).
    let horizon = eventlog::log::appenders_horizon(pool).await?;
    Ok(eventlog::log::read_after_of(pool, cursor, horizon, &eventlog::log::Selection::ALL, limit).await?)
}

/// Holds a Postgres advisory lock for as long as it lives (the lock is its session's).
pub struct Leadership {
    conn: sqlx::PgConnection,
}

impl Leadership {
    /// Fails once the session holding the lock is gone (Postgres restarted, the connection was
    /// cut): the lock went with it and a standby may hold it now, so the caller must stop and
    /// wait to lead again.
    pub async fn confirm(&mut self) -> Result<(), WorkerError> {
        sqlx::query("SELECT 1").execute(&mut self.conn).await?;
        Ok(())
    }
}

/// Waits until this process holds the named lock, so exactly one instance of a worker is active
/// and the others stand by; `None` when told to stop first. If the process dies, its session ends
/// and a standby takes over.
pub async fn lead(pool: &sqlx::PgPool, name: &str, shutdown: &mut Shutdown) -> Result<Option<Leadership>, WorkerError> {
    let mut conn = pool.acquire().await?.detach();
    // A worker that lost its lead in this process and asks again may find its old session still
    // closing, about to free the lock: so ask again soon at first, then settle at once a second,
    // which is what a standby of another process does.
    let mut wait = Duration::from_millis(25);
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))").bind(name).fetch_one(&mut conn).await?;
        if got {
            return Ok(Some(Leadership { conn }));
        }
        if !shutdown.sleep(wait).await {
            return Ok(None);
        }
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backoff_doubles_to_its_cap_while_failures_come_at_once_and_starts_over_after_a_steady_run() {
        let mut b = Backoff::new(Duration::from_secs(2));
        let quick = Duration::from_millis(5);
        let waits: Vec<u64> = (0..7).map(|_| b.after(quick).as_millis() as u64).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.after(STEADY), FIRST_BACKOFF, "a run of STEADY counts as a recovery");
        assert_eq!(b.after(STEADY - Duration::from_millis(1)), FIRST_BACKOFF * 2, "a shorter one does not");
        b.reset();
        assert_eq!(b.after(quick), FIRST_BACKOFF);
    }
}
