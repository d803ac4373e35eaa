//! What makes a dialect a dialect: where its token travels and how its errors look. Extractors
//! here are generic over the dialect so that a bad body, a bad query or a bad token is answered in
//! the dialect's own error shape.

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::auth::{authenticate, Principal};
use crate::error::ApiError;
use crate::AppState;

pub trait Dialect: Send + Sync + 'static {
    /// Recorded in every event's metadata.
    const NAME: &'static str;
    /// Where this dialect's clients put their token.
    fn token(parts: &Parts) -> Option<&str>;
    /// The dialect's documented error body and status.
    fn render(err: &ApiError) -> Response;
}

/// An error answered in dialect `D`'s shape.
#[derive(Debug)]
pub struct Error<D>(pub ApiError, PhantomData<D>);

impl<D> Error<D> {
    pub fn new(e: ApiError) -> Self {
        Error(e, PhantomData)
    }
}

impl<D: Dialect> IntoResponse for Error<D> {
    fn into_response(self) -> Response {
        D::render(&self.0)
    }
}

impl<D> From<ApiError> for Error<D> {
    fn from(e: ApiError) -> Self {
        Error::new(e)
    }
}

impl<D> From<commands::CommandError> for Error<D> {
    fn from(e: commands::CommandError) -> Self {
        Error::new(e.into())
    }
}

impl<D> From<sqlx::Error> for Error<D> {
    fn from(e: sqlx::Error) -> Self {
        Error::new(e.into())
    }
}

impl<D> From<domain::DomainError> for Error<D> {
    fn from(e: domain::DomainError) -> Self {
        Error::new(e.into())
    }
}

/// The authenticated caller, token taken from where dialect `D` puts it.
pub struct Caller<D>(pub Principal, pub PhantomData<D>);

impl<D: Dialect> FromRequestParts<AppState> for Caller<D> {
    type Rejection = Error<D>;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let principal = authenticate(st, D::token(parts)).await?;
        Ok(Caller(principal, PhantomData))
    }
}

/// A JSON body; a malformed one is a 400 in the dialect's shape, naming what serde found.
pub struct Json<T, D>(pub T, pub PhantomData<D>);

impl<T: DeserializeOwned, D: Dialect> FromRequest<AppState> for Json<T, D> {
    type Rejection = Error<D>;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, st).await {
            Ok(axum::Json(v)) => Ok(Json(v, PhantomData)),
            Err(rejection) => Err(Error::new(ApiError::invalid("body", rejection.body_text()))),
        }
    }
}

/// Query parameters; a malformed one is a 400 in the dialect's shape.
pub struct Query<T, D>(pub T, pub PhantomData<D>);

impl<T: DeserializeOwned, D: Dialect> FromRequestParts<AppState> for Query<T, D> {
    type Rejection = Error<D>;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, st).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v, PhantomData)),
            Err(rejection) => Err(Error::new(ApiError::invalid("query", rejection.body_text()))),
        }
    }
}

/// Parses a path id as a UUID; anything else is simply an unknown id.
pub fn uuid_path(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::NotFound(format!("{what} not found")))
}

/// Parses an optional numeric query parameter that clients may send as a string.
pub fn int_param(field: &str, raw: Option<&str>, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(default) };
    let n: i64 = raw.parse().map_err(|_| ApiError::invalid(field, format!("must be an integer, got '{raw}'")))?;
    if n < min || n > max {
        return Err(ApiError::invalid(field, format!("must be between {min} and {max}, got {n}")));
    }
    Ok(n)
}
