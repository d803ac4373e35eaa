//! Publisher's formats (JSON or XML by `Accept` and `Content-Type`), its dialect and its errors.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

pub(super) fn media_format(raw: &str) -> Option<Format> {
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "text/json" => Some(Format::Json),
        "application/xml" | "text/xml" => Some(Format::Xml),
        _ => None,
    }
}

/// The answer's format from `Accept` (JSON when absent or `*/*`); `None` → 406.
pub(super) fn accept(headers: &HeaderMap) -> Option<Format> {
    let Some(raw) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return Some(Format::Json) };
    if raw.trim().is_empty() {
        return Some(Format::Json);
    }
    raw.split(',').find_map(|part| {
        let essence = part.split(';').next().unwrap_or("").trim();
        match essence {
            "*/*" | "application/*" => Some(Format::Json),
            other => media_format(other),
        }
    })
}

/// The body's format from `Content-Type` (JSON when absent); `None` → 415.
pub(super) fn content_type(headers: &HeaderMap) -> Option<Format> {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => Some(Format::Json),
        Some(raw) => media_format(raw),
    }
}

/// Publisher's dialect: bearer tokens, and errors as `{"error":{"code","message"}}` or
/// `<error>…</error>`, in the format `Accept` negotiated (see [`formatted`]).
pub struct Publisher;

impl Dialect for Publisher {
    const NAME: &'static str = "publisher";
    const TAG: &'static str = "Publisher";
    const ERROR_SCHEMA: Option<&'static str> = Some("PublisherError");
    const QUERY_INTS: &'static [crate::kernel::dialect::IntBounds] = &[super::LIMIT, super::OFFSET];

    fn token(parts: &axum::http::request::Parts) -> Option<&str> {
        crate::kernel::auth::bearer(parts)
    }

    fn render(err: &ApiError) -> Response {
        let message = match err {
            ApiError::Internal => "internal error".to_string(),
            other => other.message(),
        };
        Failure::Status(err.status(), message).into_response()
    }
}

pub(super) type Error = dialect::Error<Publisher>;

/// A Publisher failure: the kernel's error, or a status only Publisher answers (406, 415) or a
/// message it words itself.
pub enum Failure {
    Api(ApiError),
    Status(StatusCode, String),
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Api(e.into().0)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherErrorBody {
    pub code: u16,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherError {
    pub error: PublisherErrorBody,
}

/// Response extension: the error a response carries, re-rendered as XML by [`formatted`] when
/// the request negotiated XML.
#[derive(Debug, Clone)]
pub(super) struct Rendered(StatusCode, String);

pub(super) fn failure_response(fmt: Format, status: StatusCode, message: String) -> Response {
    let body = PublisherErrorBody { code: status.as_u16(), message };
    let resp = render(fmt, status, "error", &serde_json::to_value(&body).unwrap_or_default(), json!({ "error": body }));
    // Only an unavailable store or bus answers 503.
    if status == StatusCode::SERVICE_UNAVAILABLE {
        crate::kernel::error::with_retry_after(resp)
    } else {
        resp
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Api(e) => Error::new(e).into_response(),
            Failure::Status(status, message) => {
                let mut resp = failure_response(Format::Json, status, message.clone());
                resp.extensions_mut().insert(Rendered(status, message));
                resp
            }
        }
    }
}

/// Middleware over Publisher's routes: an error is answered in the format `Accept` negotiated
/// (JSON when it negotiated nothing: the 406 itself).
pub(super) async fn formatted(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let fmt = accept(req.headers());
    let resp = next.run(req).await;
    match (fmt, resp.extensions().get::<Rendered>()) {
        (Some(Format::Xml), Some(Rendered(status, message))) => failure_response(Format::Xml, *status, message.clone()),
        _ => resp,
    }
}

/// A write the read models do not show yet (or whose event was parked): 202 with what the command
/// knows and its position, in the negotiated format.
pub(super) fn accepted(fmt: Format) -> impl FnOnce(Accepted) -> Response {
    move |a| {
        let json_body = a.json();
        // XML has no null: keep the object's fields that have a value.
        let mut xml = serde_json::Map::new();
        xml.insert("accepted".into(), Value::Bool(true));
        if let Some(p) = a.position {
            xml.insert("position".into(), Value::String(p.to_string()));
        }
        if let Value::Object(result) = a.result {
            xml.insert("result".into(), Value::Object(result.into_iter().filter(|(_, v)| !v.is_null()).collect()));
        }
        render(fmt, StatusCode::ACCEPTED, "accepted", &Value::Object(xml), json_body)
    }
}

/// Renders `xml` (under `root`) or `json` by format; XML lists of users become `<users><user>`.
pub(super) fn render(fmt: Format, status: StatusCode, root: &str, xml: &Value, json_body: Value) -> Response {
    match fmt {
        Format::Json => (status, axum::Json(json_body)).into_response(),
        Format::Xml => match quick_xml::se::to_string_with_root(root, &xml_shape(xml.clone())) {
            Ok(s) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"))], s).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "xml serialization failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"))],
                    "<error><code>500</code><message>internal error</message></error>",
                )
                    .into_response()
            }
        },
    }
}

/// JSON `users: [1, 2]` is XML `<users><user>1</user><user>2</user></users>`.
pub(super) fn xml_shape(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("users", Value::Array(a)) => json!({ "user": a }),
                        (_, other) => xml_shape(other),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(xml_shape).collect()),
        other => other,
    }
}
