//! Roster's HTTP API, a library whose entry is [`router`]: one module per dialect, and the auth and
//! read-your-writes machinery they share. The process that serves it is the `roster` crate.

pub mod asyncapi;
pub mod auth;
pub mod bus;
pub mod consistency;
pub mod dialect;
pub mod error;
pub mod grants;
pub mod nexport;
pub mod openapi;
pub mod portsip;
pub mod publisher;
pub mod roster;
pub mod state;
pub mod sunbird;
pub mod workdrive;
pub mod write;

use axum::extract::Request;
use axum::http::HeaderName;
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use state::AppState;

/// The whole HTTP surface; buildable in a test without a port.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(crate::workdrive::routes())
        .merge(crate::portsip::routes())
        .merge(crate::nexport::routes())
        .merge(crate::grants::routes())
        .merge(crate::roster::routes())
        .merge(crate::sunbird::routes())
        .merge(crate::publisher::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::consistency::min_position))
        .layer(axum::middleware::from_fn(crate::write::fingerprint))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::bus::mark_away))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // Outside the id generator: Sunbird echoes only an `x-request-id` the client sent.
        .layer(axum::middleware::from_fn(crate::sunbird::mark_client_request_id))
        .with_state(state)
}
