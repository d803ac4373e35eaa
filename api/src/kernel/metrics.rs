//! HTTP metrics: every answer of a dialect's routes counted and timed by dialect, route template
//! (never the raw path: ids would grow the label set without bound), method and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use telemetry::{metrics, observe, HttpLabels, RouteLabels};

use super::dialect::Dialect;

pub async fn record<D: Dialect>(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched.map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let m = metrics();
    observe(
        &m.http_duration.get_or_create(&RouteLabels { dialect: D::NAME, route: route.clone(), method: method.clone() }),
        started.elapsed(),
    );
    m.http_requests.get_or_create(&HttpLabels { dialect: D::NAME, route, method, status: resp.status().as_u16() }).inc();
    resp
}
