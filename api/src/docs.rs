//! `GET /docs`: an interactive reference of `/openapi.json` (Swagger UI), for people trying the
//! API from a browser. Its assets are built into the binary (`api/assets/swagger-ui/`, from the
//! `swagger-ui-dist` package, Apache-2.0: see the LICENSE and NOTICE there), so the page works
//! offline and loads nothing from elsewhere.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

const BUNDLE_JS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");
/// The assets change only with a new binary: let browsers keep them for a day.
const ASSET_CACHE: &str = "public, max-age=86400";

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Roster API reference</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, docExpansion: "list" });
  </script>
</body>
</html>
"##;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/docs", get(|| async { Html(PAGE) }))
        .route("/docs/swagger-ui-bundle.js", get(|| async { asset("text/javascript; charset=utf-8", BUNDLE_JS) }))
        .route("/docs/swagger-ui.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, ASSET_CACHE)], body).into_response()
}
