//! What every write shares: the command context built from the request, idempotent replay, and
//! read-your-writes before answering.

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use commands::store::StoredResponse;
use commands::{CommandContext, Committed};

use super::auth::Principal;
use super::consistency::{mark_failed, mark_pending, Settled, POSITION_HEADER};
use super::dialect::{Caller, Dialect, Error};
use super::error::ApiError;
use super::idempotency::{Fingerprint, OwnKey, IDEMPOTENCY_HEADER};
use super::limits::MAX_IDEMPOTENCY_KEY_LEN;
use crate::AppState;

/// Response extension marking an answer that shows a secret (a new token) once.
#[derive(Debug, Clone, Copy)]
pub struct SecretBearing;

/// Request facts a command records in its metadata.
#[derive(Debug, Clone)]
pub struct WriteMeta {
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    fingerprint: String,
    pub client_addr: Option<String>,
    /// NATS was away when the request arrived (see `super::bus`): the write is refused, 503.
    bus_away: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for WriteMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(WriteMeta {
            request_id: header("x-request-id"),
            idempotency_key: header(IDEMPOTENCY_HEADER),
            fingerprint: parts.extensions.get::<Fingerprint>().map(|f| f.0.clone()).unwrap_or_default(),
            client_addr: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
            bus_away: parts.extensions.get::<super::bus::BusAway>().is_some(),
        })
    }
}

impl WriteMeta {
    /// The command context of a write in dialect `D` (for writes without a [`Write`] caller).
    pub fn context<D: Dialect>(&self, caller: Option<&Principal>) -> Result<Ctx<D>, ApiError> {
        self.context_keyed(caller, None)
    }

    /// `context` for a dialect whose clients name a request by something of their own (see
    /// [`OwnKey`]); an `Idempotency-Key` header still wins.
    pub fn context_keyed<D: Dialect>(&self, caller: Option<&Principal>, own: Option<&OwnKey>) -> Result<Ctx<D>, ApiError> {
        if self.bus_away {
            return Err(ApiError::Unavailable);
        }
        if let Some(k) = &self.idempotency_key {
            if k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY_LEN {
                return Err(ApiError::invalid("Idempotency-Key", format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters")));
            }
        }
        let (idempotency_key, fingerprint) = match (&self.idempotency_key, own) {
            (None, Some(own)) => (Some(own.key.clone()), own.fingerprint.clone()),
            _ => (self.idempotency_key.clone(), self.fingerprint.clone()),
        };
        Ok(Ctx(
            CommandContext {
                org_id: caller.and_then(|c| c.org_id),
                actor: caller.map(|c| c.user_id),
                token_id: caller.map(|c| c.token_id),
                request_id: self.request_id.clone(),
                idempotency_key,
                fingerprint,
                dialect: D::NAME,
                client_addr: self.client_addr.clone(),
                now: chrono::Utc::now(),
                precondition: None,
            },
            PhantomData,
        ))
    }
}

/// A command context made for dialect `D`; it is a [`CommandContext`] to the commands, and tells
/// [`AppState::respond`] whose shape a 202 takes.
#[derive(Debug, Clone)]
pub struct Ctx<D>(CommandContext, PhantomData<D>);

impl<D> Deref for Ctx<D> {
    type Target = CommandContext;

    fn deref(&self) -> &CommandContext {
        &self.0
    }
}

impl<D> DerefMut for Ctx<D> {
    fn deref_mut(&mut self) -> &mut CommandContext {
        &mut self.0
    }
}

/// The write extractor: the authenticated caller (token where `D` puts it) and the command context
/// of the write. A context that cannot be made (NATS away, a bad `Idempotency-Key`) is kept as the
/// error, answered where the handler takes the context (`let ctx = ctx?;`): after the handler's
/// own checks of the body and permissions, which a client must hear about first.
pub struct Write<D> {
    pub caller: Principal,
    pub ctx: Result<Ctx<D>, Error<D>>,
}

impl<D: Dialect> FromRequestParts<AppState> for Write<D> {
    type Rejection = Error<D>;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(caller, _) = Caller::<D>::from_request_parts(parts, st).await?;
        let Ok(meta) = WriteMeta::from_request_parts(parts, st).await;
        let ctx = meta.context(Some(&caller)).map_err(Error::new);
        Ok(Write { caller, ctx })
    }
}

/// What a write answers when the read models do not show it (past the consistency timeout, or
/// its event parked): that it was accepted, what the command knows, and its position.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub position: Option<commands::Position>,
    pub result: serde_json::Value,
}

impl Accepted {
    /// `{"accepted": true, "position": …, "result": …}`, the JSON shape of [`Dialect::accepted`]
    /// unless a dialect says otherwise.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "accepted": true, "position": self.position, "result": self.result })
    }

    pub fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, axum::Json(self.json())).into_response()
    }
}

impl AppState {
    /// Answers a committed write: a replay gets the first answer's bytes; otherwise wait for the
    /// read models to reach the write (bounded), build the answer, and remember it for replays.
    /// `build` gets a handle on the state and the command's result. Past the timeout, or when a
    /// projection parked the write's event, the answer is a 202 `Accepted` in `D`'s shape instead.
    pub async fn respond<D: Dialect, R, F, Fut>(&self, ctx: &Ctx<D>, committed: Committed<R>, build: F) -> Result<Response, ApiError>
    where
        R: serde::Serialize,
        F: FnOnce(AppState, R) -> Fut,
        Fut: Future<Output = Result<Response, ApiError>>,
    {
        self.respond_or(ctx, committed, build, D::accepted).await
    }

    /// `respond`, with the dialect's own shape of the 202 `Accepted` answer.
    pub async fn respond_or<R, F, Fut>(
        &self,
        ctx: &CommandContext,
        committed: Committed<R>,
        build: F,
        accepted: impl FnOnce(Accepted) -> Response,
    ) -> Result<Response, ApiError>
    where
        R: serde::Serialize,
        F: FnOnce(AppState, R) -> Fut,
        Fut: Future<Output = Result<Response, ApiError>>,
    {
        if let Some(stored) = committed.replayed {
            return Ok(replay(stored, committed.position));
        }
        // A first answer, or a retry whose first answer was not final (not stored): either way
        // the answer comes from the read models once they show the write.
        let settled = match committed.position {
            Some(p) => self.consistency.settle(&self.pool, p, self.consistency_timeout).await?,
            None => Settled::CaughtUp,
        };
        let result = serde_json::to_value(&committed.result).map_err(|_| ApiError::Internal)?;
        let mut resp = match settled {
            Settled::CaughtUp => build(self.clone(), committed.result).await?,
            // The read models do not show the write, so a body read from them could contradict
            // it (a member add whose group shows no members). Only a body that does not come from
            // them is kept: a secret shown once (a sign-in's token), which no retry could get back.
            Settled::Pending | Settled::Failed => match build(self.clone(), committed.result).await {
                Ok(resp) if resp.status().is_success() && resp.extensions().get::<SecretBearing>().is_some() => resp,
                _ => accepted(Accepted { position: committed.position, result }),
            },
        };
        if let Some(p) = committed.position {
            if let Ok(v) = HeaderValue::from_str(&p.to_string()) {
                resp.headers_mut().insert(POSITION_HEADER, v);
            }
        }
        match settled {
            Settled::CaughtUp => {}
            Settled::Pending => mark_pending(&mut resp),
            Settled::Failed => mark_failed(&mut resp),
        }
        // Only a final answer is remembered: a pending or failed one would be replayed forever,
        // after the read models caught up. A response carrying a secret is never stored: a
        // replay is rebuilt without the secret.
        if settled != Settled::CaughtUp
            || ctx.idempotency_key.is_none()
            || !resp.status().is_success()
            || resp.extensions().get::<SecretBearing>().is_some()
        {
            return Ok(resp);
        }
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        let headers = parts
            .headers
            .iter()
            .filter(|(k, _)| *k == axum::http::header::CONTENT_TYPE || k.as_str() == POSITION_HEADER)
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let stored = StoredResponse { status: parts.status.as_u16(), headers, body: bytes.to_vec() };
        if let Err(e) = self.store.save_response(ctx, &stored).await {
            // The write committed; only a later replay's answer is affected (it is rebuilt).
            tracing::warn!(error = %e, "could not store the idempotent response");
        }
        Ok(Response::from_parts(parts, Body::from(bytes)))
    }
}

fn replay(stored: StoredResponse, position: Option<commands::Position>) -> Response {
    let mut resp = Response::new(Body::from(stored.body));
    *resp.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (k, v) in stored.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(&v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    if let Some(p) = position {
        if let Ok(v) = HeaderValue::from_str(&p.to_string()) {
            resp.headers_mut().insert(POSITION_HEADER, v);
        }
    }
    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}
