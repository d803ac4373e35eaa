//! Whether events can reach the read models right now. An API process keeps a NATS connection of
//! its own for one reason: while NATS is away, a write would append an event that no projection
//! can see, hold its connection for the whole consistency timeout and answer "pending". Refusing
//! it up front with a 503 and `Retry-After` (nothing appended) lets the client retry the same
//! request, with the same `Idempotency-Key`, once NATS is back. Reads keep being served from the
//! read models.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use workers::{NatsConfig, WorkerError};

use crate::AppState;

/// The API's view of NATS.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
}

impl Bus {
    /// Connects in the background (a NATS that is not up yet is not an error: it is "away").
    pub async fn connect(cfg: &NatsConfig) -> Result<Bus, WorkerError> {
        Ok(Bus { client: workers::client(cfg).await? })
    }

    /// Connected to a server of the cluster now.
    pub fn reachable(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// Request extension: NATS was away when the request arrived; writes answer 503.
#[derive(Debug, Clone, Copy)]
pub struct BusAway;

/// Middleware: marks requests that arrive while NATS is away (see [`crate::write::WriteMeta`]).
pub async fn mark_away(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    if !st.bus.reachable() {
        req.extensions_mut().insert(BusAway);
    }
    next.run(req).await
}
