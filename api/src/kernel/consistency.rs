//! Read-your-writes (DESIGN §5): a write answers once every projection has reached its position;
//! any read may ask to wait for a position with `Roster-Min-Position`.

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
use tokio::sync::watch;
use workers::Shutdown;

use super::dialect::Dialect;
use super::error::ApiError;
use crate::AppState;

pub const POSITION_HEADER: &str = "roster-position";
pub const MIN_POSITION_HEADER: &str = "roster-min-position";
pub const CONSISTENCY_HEADER: &str = "roster-consistency";
/// Re-reads the checkpoints this often even without a notification.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// Where the read models stand (the slowest checkpoint, and whether anything is parked), kept
/// current from NOTIFYs on the checkpoint channel.
pub struct Consistency {
    reached: watch::Receiver<Progress>,
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
    pub async fn start(pool: PgPool, mut shutdown: Shutdown) -> Result<Arc<Self>, sqlx::Error> {
        let (tx, rx) = watch::channel(checkpoint::progress(&pool).await?);
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(checkpoint::CHECKPOINT_CHANNEL).await?;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = listener.recv() => {
                        match r {
                            // One read answers every notification already here: under load the
                            // projectors notify faster than one query per notification.
                            Ok(_) => while listener.next_buffered().is_some() {},
                            Err(e) => {
                                tracing::warn!(error = %e, "checkpoint listener lost; polling until it reconnects");
                                if !shutdown.sleep(FALLBACK_POLL).await { return; }
                            }
                        }
                    }
                    _ = tokio::time::sleep(FALLBACK_POLL) => {}
                    _ = shutdown.wait() => return,
                }
                match checkpoint::progress(&pool).await {
                    Ok(p) => {
                        tx.send_if_modified(|cur| {
                            let changed = *cur != p;
                            *cur = p;
                            changed
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "reading checkpoints failed"),
                }
            }
        });
        Ok(Arc::new(Consistency { reached: rx }))
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
