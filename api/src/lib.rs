//! Roster's HTTP API, a library whose entry is [`router`]: one module per dialect, and the auth and
//! read-your-writes machinery they share. The process that serves it is the `roster` crate.

pub mod asyncapi;
pub mod docs;
pub mod grants;
pub mod kernel;
pub mod nexport;
pub mod openapi;
pub mod portsip;
pub mod publisher;
pub mod roster;
pub mod scim;
pub mod state;
pub mod sunbird;
pub mod workdrive;

use axum::extract::Request;
use axum::http::HeaderName;
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use state::AppState;

/// The whole HTTP surface; buildable in a test without a port.
pub fn router(state: AppState) -> Router {
    use crate::kernel::serve;
    use crate::{
        nexport::NexPort, portsip::PortSip, publisher::Publisher, roster::Roster, scim::Scim, sunbird::Sunbird, workdrive::WorkDrive,
    };
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(serve::<WorkDrive>(crate::workdrive::routes(), &state))
        .merge(serve::<PortSip>(crate::portsip::routes(), &state))
        .merge(serve::<NexPort>(crate::nexport::routes(), &state))
        .merge(serve::<Roster>(crate::grants::routes(), &state))
        .merge(serve::<Roster>(crate::roster::routes(), &state))
        .merge(serve::<Roster>(crate::docs::routes(), &state))
        .merge(serve::<Sunbird>(crate::sunbird::routes(), &state))
        .merge(serve::<Publisher>(crate::publisher::routes(), &state))
        .merge(serve::<Scim>(crate::scim::routes(), &state))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::kernel::bus::mark_away))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // Outside the id generator: a dialect may echo only an `x-request-id` the client sent.
        .layer(axum::middleware::from_fn(crate::kernel::request_id::mark_client_request_id))
        .with_state(state)
}
