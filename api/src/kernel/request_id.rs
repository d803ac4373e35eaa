//! Whether the client sent its own `x-request-id`. The router generates one when it did not, and
//! a dialect that echoes the client's id (Sunbird's `msgid`) must not echo a generated one.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Request extension: the client itself sent `x-request-id`.
#[derive(Debug, Clone, Copy)]
pub struct ClientRequestId;

/// Middleware, outside the id generator: marks requests whose `x-request-id` the client sent.
pub async fn mark_client_request_id(mut req: Request, next: Next) -> Response {
    if req.headers().contains_key("x-request-id") {
        req.extensions_mut().insert(ClientRequestId);
    }
    next.run(req).await
}
