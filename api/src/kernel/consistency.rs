//! Read-your-writes (DESIGN §5): a write answers once every projection has reached its position;
//! any read may ask to wait for a position with `Roster-Min-Position`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use commands::Position;
use projections::checkpoint::{self, Progress};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};
use workers::Shutdown;

use super::dialect::Dialect;
use super::error::ApiError;
use crate::AppState;

pub const POSITION_HEADER: &str = "roster-position";
pub const MIN_POSITION_HEADER: &str = "roster-min-position";
pub const CONSISTENCY_HEADER: &str = "roster-consistency";
/// Re-reads the checkpoints after this long without news of them.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// Where the read models stand (the slowest checkpoint, and whether anything is parked), kept
/// current from the runners' advances (see `start`).
pub struct Consistency {
    reached: watch::Receiver<Progress>,
    /// Counts the times the projections may have changed who a token is (`principals_generation`).
    principals: Arc<AtomicU64>,
}

/// How a write's position fared against the read models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Every projection applied it: the read models show the write.
    CaughtUp,
    /// The timeout passed first: the read models may not show it yet.
    Pending,
    /// A projection parked one of its events: the read models will not show it until an
    /// operator replays it (`roster projection replay-parked`).
    Failed,
}

impl Consistency {
    /// Follows the checkpoints: from the advances of the runners in this process (`local`), from
    /// the positions the NOTIFYs of other processes carry, and by reading the table only when a
    /// notification carries none (a rebuild, a replay), when this process fell behind, or after
    /// `FALLBACK_POLL` of silence.
    pub async fn start(pool: PgPool, local: &checkpoint::Advances, mut shutdown: Shutdown) -> Result<Arc<Self>, sqlx::Error> {
        // Subscribed and listening before the read: an advance committed meanwhile arrives
        // afterwards as well, and `Positions` takes it whatever the order.
        let mut local = Some(local.subscribe());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(checkpoint::CHECKPOINT_CHANNEL).await?;
        let mut known = checkpoint::positions(&pool).await?;
        let (tx, rx) = watch::channel(known.progress());
        let principals = Arc::new(AtomicU64::new(0));
        let generation = principals.clone();
        tokio::spawn(async move {
            // Set when the listener's connection was lost: the next read of the table is the truth.
            let mut resync = false;
            loop {
                // Whether a token's principal may have changed, before waking anyone: a write that
                // revoked a token answers only once its process has stopped trusting its cache.
                let mut principals_changed = false;
                let read = tokio::select! {
                    a = recv_local(&mut local) => match a {
                        Ok(a) => {
                            principals_changed |= a.principals;
                            known.advance(a);
                            false
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        // No runner in this process: only NOTIFYs from here on.
                        Err(broadcast::error::RecvError::Closed) => {
                            local = None;
                            false
                        }
                    },
                    // `try_recv`, not `recv`: `recv` reconnects silently, and a lost connection must
                    // be seen (below).
                    r = listener.try_recv() => match r {
                        Ok(Some(first)) => {
                            // Every notification already here in one go: under load the
                            // projectors notify faster than one wake-up each.
                            let mut read = false;
                            for n in std::iter::once(first).chain(std::iter::from_fn(|| listener.next_buffered())) {
                                match checkpoint::Advanced::parse(n.payload()) {
                                    Some(a) => {
                                        principals_changed |= a.principals;
                                        known.advance(a);
                                    }
                                    None => read = true,
                                }
                            }
                            read
                        }
                        // The connection was lost (it reconnects at the next call). Postgres may have
                        // restarted, and projection commits are not flushed before they are
                        // announced (`checkpoint::commit_without_flush`): a crash can take back an
                        // advance heard of. So the next read of the table replaces what is known.
                        Ok(None) => {
                            tracing::warn!("checkpoint listener lost; re-reading the checkpoints");
                            resync = true;
                            true
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "checkpoint listener lost; polling until it reconnects");
                            resync = true;
                            if !shutdown.sleep(FALLBACK_POLL).await { return; }
                            true
                        }
                    },
                    _ = tokio::time::sleep(FALLBACK_POLL) => true,
                    _ = shutdown.wait() => return,
                };
                if read {
                    // Whatever moved unseen may have changed a principal too.
                    principals_changed = true;
                    match checkpoint::positions(&pool).await {
                        Ok(p) if resync => {
                            known = p;
                            resync = false;
                        }
                        Ok(p) => known.merge(p),
                        Err(e) => tracing::warn!(error = %e, "reading checkpoints failed"),
                    }
                }
                if principals_changed {
                    generation.fetch_add(1, Ordering::SeqCst);
                }
                let p = known.progress();
                tx.send_if_modified(|cur| {
                    let changed = *cur != p;
                    *cur = p;
                    changed
                });
            }
        });
        Ok(Arc::new(Consistency { reached: rx, principals }))
    }

    /// Changes whenever the projections may have changed who a token is: after an event of
    /// `queries::may_change_principals`, a rebuild or replay, or news missed. A principal read
    /// from the database is good while this stays what it was before the read.
    pub fn principals_generation(&self) -> u64 {
        self.principals.load(Ordering::SeqCst)
    }

    /// Waits until every projection has reached `position`; false if `timeout` passed first.
    pub async fn wait(&self, position: Position, timeout: Duration) -> bool {
        self.reach(position, timeout).await.is_some()
    }

    async fn reach(&self, position: Position, timeout: Duration) -> Option<Progress> {
        let mut rx = self.reached.clone();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|p| p.reached >= position)).await;
        match reached {
            Ok(Ok(p)) => Some(*p),
            _ => None,
        }
    }

    /// Waits for a write (its last event at `position`) like `wait`, then tells whether one of its
    /// events was parked on the way. Costs one indexed query, and only while something is parked:
    /// the progress read with the checkpoint says so.
    pub async fn settle(&self, pool: &PgPool, position: Position, timeout: Duration) -> Result<Settled, sqlx::Error> {
        match self.reach(position, timeout).await {
            None => Ok(Settled::Pending),
            Some(p) if p.any_parked && projections::parked::write_parked(pool, position.tx).await? => Ok(Settled::Failed),
            Some(_) => Ok(Settled::CaughtUp),
        }
    }
}

/// The next advance from this process's runners; never, once there are none.
async fn recv_local(
    local: &mut Option<broadcast::Receiver<checkpoint::Advanced>>,
) -> Result<checkpoint::Advanced, broadcast::error::RecvError> {
    match local {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// Marks a response as answered before the read models caught up.
pub fn mark_pending(resp: &mut Response) {
    resp.headers_mut().insert(CONSISTENCY_HEADER, HeaderValue::from_static("pending"));
}

/// Marks a write's answer as one whose event a projection parked.
pub fn mark_failed(resp: &mut Response) {
    resp.headers_mut().insert(CONSISTENCY_HEADER, HeaderValue::from_static("failed"));
}

/// Middleware over dialect `D`'s routes: honours `Roster-Min-Position` on any request.
pub async fn min_position<D: Dialect>(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get(MIN_POSITION_HEADER) else { return next.run(req).await };
    let parsed = raw.to_str().ok().and_then(|s| s.parse::<Position>().ok());
    let Some(position) = parsed else {
        let e = ApiError::invalid("Roster-Min-Position", "not a Roster position (send back a Roster-Position header value)");
        return super::dialect::respond::<D>(&e);
    };
    let reached = st.consistency.wait(position, st.consistency_timeout).await;
    let mut resp = next.run(req).await;
    if !reached {
        mark_pending(&mut resp);
    }
    resp
}
