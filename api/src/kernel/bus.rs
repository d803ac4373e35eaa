//! Whether events can reach the read models right now. An API process keeps a NATS connection of
//! its own for one reason: while NATS is away, a write would append an event that no projection
//! can see, hold its connection for the whole consistency timeout and answer "pending". Refusing
//! it up front with a 503 and `Retry-After` (nothing appended) lets the client retry the same
//! request, with the same `Idempotency-Key`, once NATS is back. Reads keep being served from the
//! read models.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use workers::{NatsConfig, WorkerError};

use crate::AppState;

/// How long a starting API process waits for its first NATS connection before it serves anyway
/// (its writes then answer 503 until NATS is reachable).
pub const FIRST_CONNECT_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

/// The API's view of NATS.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    /// The client's connections, after each of which live readers start over.
    connections: workers::Connections,
    /// The JetStream stream events are published to (`ROSTER_EVENTS`), for live readers.
    stream: String,
    /// Ends live readers (`super::live`) when the process stops, so that no open stream holds
    /// the server's graceful shutdown.
    shutdown: Option<workers::Shutdown>,
}

impl Bus {
    /// Connects, waiting [`FIRST_CONNECT_WAIT`] at most for the first connection; a NATS that is
    /// not up yet is not an error (it is "away"), and the client keeps trying in the background.
    pub async fn connect(cfg: &NatsConfig) -> Result<Bus, WorkerError> {
        let (client, connections) = workers::client(cfg).await?;
        let bus = Bus { client, connections, stream: cfg.stream.clone(), shutdown: None };
        let deadline = Instant::now() + FIRST_CONNECT_WAIT;
        while !bus.reachable() && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        if !bus.reachable() {
            tracing::warn!("NATS is not reachable yet; writes answer 503 until it is");
        }
        Ok(bus)
    }

    /// Live readers end when `shutdown` is given.
    pub fn until(mut self, shutdown: workers::Shutdown) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    pub(crate) fn jetstream(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client.clone())
    }

    pub(crate) fn connections(&self) -> workers::Connections {
        self.connections.clone()
    }

    pub(crate) fn stream_name(&self) -> &str {
        &self.stream
    }

    pub(crate) fn shutdown(&self) -> Option<workers::Shutdown> {
        self.shutdown.clone()
    }

    /// Connected to a server of the cluster now.
    pub fn reachable(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// Request extension: NATS was away when the request arrived; writes answer 503.
#[derive(Debug, Clone, Copy)]
pub struct BusAway;

/// Middleware: marks requests that arrive while NATS is away (see [`crate::kernel::write::WriteMeta`]).
pub async fn mark_away(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    if !st.bus.reachable() {
        req.extensions_mut().insert(BusAway);
    }
    next.run(req).await
}
