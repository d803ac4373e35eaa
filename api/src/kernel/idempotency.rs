//! The one owner of idempotency keys. A key names a request; its fingerprint (method, URI and
//! body hashed) lets a reused key with a different request be refused rather than answered with
//! the first request's result. The key comes from `Idempotency-Key`, or, for a dialect whose
//! clients name requests their own way (Sunbird's message id), from that dialect's key source,
//! given here as an [`OwnKey`]. The replay itself is in `super::write`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::dialect::Dialect;
use super::error::ApiError;
use super::limits::{MAX_IDEMPOTENCY_KEY_LEN, MAX_REQUEST_BODY};

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Hash of method, path, query and body of a request that carries an idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct Fingerprint(pub(crate) String);

fn fingerprint_of(method: &Method, uri: &Uri, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b" ");
    h.update(uri.to_string().as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

/// Middleware over dialect `D`'s routes: fingerprints requests with an `Idempotency-Key`.
pub async fn fingerprint<D: Dialect>(req: Request, next: Next) -> Response {
    if !req.headers().contains_key(IDEMPOTENCY_HEADER) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(_) => return super::dialect::respond::<D>(&ApiError::TooLarge("request body too large".into())),
    };
    parts.extensions.insert(Fingerprint(fingerprint_of(&parts.method, &parts.uri, &bytes)));
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// A key from a dialect's own key source, used when the request has no `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct OwnKey {
    pub(crate) key: String,
    pub(crate) fingerprint: String,
}

impl OwnKey {
    /// The key `raw` of dialect `dialect` for this request; namespaced by the dialect so that it
    /// never meets a header key. A key longer than [`MAX_IDEMPOTENCY_KEY_LEN`] is no key (the
    /// request is then simply not idempotent), since the client did not ask for one explicitly.
    pub fn new(dialect: &str, raw: &str, method: &Method, uri: &Uri, body: &[u8]) -> Option<OwnKey> {
        (raw.len() <= MAX_IDEMPOTENCY_KEY_LEN)
            .then(|| OwnKey { key: format!("{dialect}:{raw}"), fingerprint: fingerprint_of(method, uri, body) })
    }
}
