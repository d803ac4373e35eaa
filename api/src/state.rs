//! The state the router hands to every handler: built once by the `roster` process.

use std::sync::Arc;
use std::time::Duration;

use commands::Store;
use sqlx::PgPool;

use crate::kernel::consistency::Consistency;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub store: Store,
    pub consistency: Arc<Consistency>,
    /// Principals of tokens in use (`kernel::auth::TokenCache`).
    pub tokens: Arc<crate::kernel::auth::TokenCache>,
    pub consistency_timeout: Duration,
    /// The media object store (local filesystem or S3-compatible).
    pub media: Arc<crate::workdrive::media::Media>,
    pub login_throttle: commands::throttle::ThrottlePolicy,
    /// The NATS subject prefix events are published under (for `/asyncapi.json`).
    pub subject_prefix: String,
    /// Whether NATS is reachable: writes answer 503 while it is not.
    pub bus: crate::kernel::bus::Bus,
}
