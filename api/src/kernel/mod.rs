//! The HTTP kernel every dialect shares, knowing no product: the one error type, what a dialect
//! supplies (token place, error shape), authentication, idempotency, read-your-writes, the write
//! path and the limits it enforces.

pub mod auth;
pub mod bus;
pub mod consistency;
pub mod dialect;
pub mod error;
pub mod fields;
pub mod idempotency;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod request_id;
pub mod strict_json;
pub mod write;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;

use crate::AppState;

/// One dialect's routes with the kernel's middleware over them: what they refuse before any
/// handler runs (a bad `Roster-Min-Position`, a body too large to fingerprint) is answered in
/// `D`'s error shape. Every answer is counted and timed (`metrics`).
pub fn serve<D: dialect::Dialect>(routes: Router<AppState>, st: &AppState) -> Router<AppState> {
    routes
        .route_layer(from_fn_with_state(st.clone(), consistency::min_position::<D>))
        .route_layer(from_fn(idempotency::fingerprint::<D>))
        // Outermost: the time and status of everything above, rejections included.
        .route_layer(from_fn(metrics::record::<D>))
}
