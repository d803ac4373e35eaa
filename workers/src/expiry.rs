//! The subscription expiry worker: once a subscription's expiry date has passed it appends
//! `SubscriptionExpired`, which the relay publishes like any other event, so NATS subscribers
//! learn of the expiry when it happens rather than when someone next reads the subscription.
//!
//! One active instance (an advisory lock, like the relay). It scans the read model's index of
//! due subscriptions; the domain decides, so a repeated or early expiry is a no-op.

use std::time::Duration;
use tracing::Instrument;

use commands::handlers::nexport::expire_subscription;
use commands::{CommandContext, Store};
use sqlx::PgPool;

use crate::{Shutdown, WorkerError};

/// Subscriptions expired per scan; the next scan follows at once while there are more.
const BATCH: i64 = 100;
const MAX_BACKOFF: Duration = Duration::from_secs(10);

pub async fn run(pool: PgPool, interval: Duration, shutdown: Shutdown) -> Result<(), WorkerError> {
    crate::supervise("subscription expiry worker", MAX_BACKOFF, shutdown, |sd| {
        let pool = pool.clone();
        Box::pin(async move { active(&pool, interval, sd).await })
    })
    .await
}

async fn active(pool: &PgPool, interval: Duration, shutdown: &mut Shutdown) -> Result<(), WorkerError> {
    let Some(_leader) = crate::lead(pool, "roster-subscription-expiry", shutdown).await? else { return Ok(()) };
    let store = Store::new(pool.clone());
    loop {
        let now = chrono::Utc::now();
        let due = projections::nexport::due_subscriptions(pool, now, BATCH).await?;
        for id in &due {
            let ctx = CommandContext::system("roster", now);
            match expire_subscription(&store, &ctx, *id).instrument(tracing::info_span!("expiry.expire", subscription = %id)).await {
                Ok(_) => tracing::info!(subscription = %id, "subscription expired"),
                // A rejection (e.g. a concurrent change) is retried on the next scan.
                Err(e @ commands::CommandError::Store(_)) => return Err(e.into()),
                Err(e) => tracing::warn!(subscription = %id, error = %e, "could not expire subscription"),
            }
        }
        // The projector marks them expired shortly; a full batch means more may be waiting.
        let pause = if due.len() as i64 == BATCH { Duration::from_millis(50) } else { interval };
        if !shutdown.sleep(pause).await {
            return Ok(());
        }
    }
}
