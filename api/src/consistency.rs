//! Read-your-writes (DESIGN §5): a write answers once every projection has reached its position;
//! any read may ask to wait for a position with `Roster-Min-Position`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use commands::Position;
use projections::checkpoint;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use workers::Shutdown;

use crate::AppState;

pub const POSITION_HEADER: &str = "roster-position";
pub const MIN_POSITION_HEADER: &str = "roster-min-position";
pub const CONSISTENCY_HEADER: &str = "roster-consistency";
/// Re-reads the checkpoints this often even without a notification.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// The slowest projection's checkpoint, kept current from NOTIFYs on the checkpoint channel.
pub struct Consistency {
    reached: watch::Receiver<Position>,
}

impl Consistency {
    pub async fn start(pool: PgPool, mut shutdown: Shutdown) -> Result<Arc<Self>, sqlx::Error> {
        let (tx, rx) = watch::channel(checkpoint::slowest(&pool).await?);
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(checkpoint::CHECKPOINT_CHANNEL).await?;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = listener.recv() => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "checkpoint listener lost; polling until it reconnects");
                            if !shutdown.sleep(FALLBACK_POLL).await { return; }
                        }
                    }
                    _ = tokio::time::sleep(FALLBACK_POLL) => {}
                    _ = shutdown.wait() => return,
                }
                match checkpoint::slowest(&pool).await {
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
        let mut rx = self.reached.clone();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|p| *p >= position)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

/// Marks a response as answered before the read models caught up.
pub fn mark_pending(resp: &mut Response) {
    resp.headers_mut().insert(CONSISTENCY_HEADER, HeaderValue::from_static("pending"));
}

/// Middleware: honours `Roster-Min-Position` on any request.
pub async fn min_position(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get(MIN_POSITION_HEADER) else { return next.run(req).await };
    let parsed = raw.to_str().ok().and_then(|s| s.parse::<Position>().ok());
    let Some(position) = parsed else {
        let body = serde_json::json!({
            "error": "bad_request",
            "message": "Roster-Min-Position: not a Roster position (send back a Roster-Position header value)",
        });
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    };
    let reached = st.consistency.wait(position, st.consistency_timeout).await;
    let mut resp = next.run(req).await;
    if !reached {
        mark_pending(&mut resp);
    }
    resp
}
