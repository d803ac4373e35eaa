//! The API layer's one error type. Each dialect renders it in its own documented shape; this is
//! where storage failures are logged (once) and turned into an opaque 500, or, when Postgres or
//! NATS is away rather than a statement failing, into a 503 with `Retry-After`.
//!
//! Field names from the domain arrive dialect-neutral (`contact_info.postal_code`); they are
//! spelled in the dialect's words by its `Dialect::FIELD_NAMES` table when the answer is rendered
//! (`super::dialect::respond`, `super::fields`), so no dialect translates them on its own.

use axum::http::HeaderValue;
use axum::response::Response;
use commands::{CommandError, StoreError};
use domain::DomainError;

/// What `Retry-After` tells a client while Postgres or NATS is away: a restarting Postgres or a
/// reconnecting NATS client is usually back within a second or two.
pub const RETRY_AFTER_SECS: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    /// Bad input; `field` names what was wrong: as the client spelled it, or in the domain's
    /// neutral names until the dialect's table spells it.
    Invalid {
        field: String,
        message: String,
    },
    /// Lost a race (or reused an idempotency key for something else): retry may succeed.
    Conflict(String),
    /// The request body is larger than the kernel hashes (see `super::limits`).
    TooLarge(String),
    /// Failed to store or read; details are in the log, never in the answer.
    Internal,
    /// Postgres or NATS is away (restarting, refusing connections, pool exhausted): answered 503
    /// with `Retry-After`. The same request, with the same `Idempotency-Key`, may succeed later;
    /// a write whose commit the outage cut is then answered from its first result.
    Unavailable,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid { field: field.into(), message: message.into() }
    }

    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A one-line, client-safe description.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthorized(m) | ApiError::Forbidden(m) | ApiError::NotFound(m) | ApiError::Conflict(m) | ApiError::TooLarge(m) => {
                m.clone()
            }
            ApiError::Invalid { field, message } => format!("{field}: {message}"),
            ApiError::Internal => "internal error".into(),
            ApiError::Unavailable => "temporarily unavailable; retry later".into(),
        }
    }

    /// Adds what the dialect's body cannot say: `Retry-After` on a 503. Every dialect's
    /// renderer passes its response through here.
    pub fn decorate(&self, resp: Response) -> Response {
        match self {
            ApiError::Unavailable => with_retry_after(resp),
            _ => resp,
        }
    }
}

/// Sets `Retry-After` (for a 503 rendered outside [`ApiError::decorate`]).
pub fn with_retry_after(mut resp: Response) -> Response {
    resp.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    resp
}

/// Whether a database error means Postgres is out of reach — down, restarting, shutting the
/// session, or no connection to be had in time — rather than a statement that failed. Only the
/// former is worth retrying; a constraint or SQL bug stays a 500.
pub fn storage_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now;
            // 53300: too many connections.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, message } => ApiError::Invalid { field, message },
            DomainError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            DomainError::NotFoundAt { field, what } => ApiError::NotFound(format!("{field}: {what} not found")),
            DomainError::AlreadyExists(what) => ApiError::Conflict(format!("{what} already exists")),
            DomainError::Taken { field } => ApiError::Invalid { field, message: "is already taken".into() },
            DomainError::Forbidden(m) => ApiError::Forbidden(m),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Rejected(d) => d.into(),
            CommandError::Conflict => ApiError::Conflict("the entity was changed concurrently; retry".into()),
            // Only SCIM writes carry a precondition, and SCIM answers it 412 before it gets here.
            CommandError::PreconditionFailed { .. } => {
                ApiError::Conflict("the entity was changed since the version the write named".into())
            }
            CommandError::IdempotencyMismatch => ApiError::Conflict("Idempotency-Key was already used for a different request".into()),
            CommandError::Store(StoreError::Db(e)) if storage_unavailable(&e) => {
                tracing::warn!(error = %e, "command not stored: the database is out of reach");
                ApiError::Unavailable
            }
            CommandError::Store(e) => {
                tracing::error!(error = %e, "command failed to store");
                ApiError::Internal
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if storage_unavailable(&e) {
            tracing::warn!(error = %e, "query not run: the database is out of reach");
            return ApiError::Unavailable;
        }
        tracing::error!(error = %e, "query failed");
        ApiError::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unreachable_store_is_unavailable() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(storage_unavailable(&refused));
        assert!(storage_unavailable(&sqlx::Error::PoolTimedOut));
        assert_eq!(ApiError::from(sqlx::Error::PoolTimedOut), ApiError::Unavailable);
        assert_eq!(ApiError::from(CommandError::from(sqlx::Error::PoolTimedOut)), ApiError::Unavailable);
        // A query bug is not the store being away.
        assert!(!storage_unavailable(&sqlx::Error::RowNotFound));
        assert_eq!(ApiError::from(sqlx::Error::ColumnNotFound("x".into())), ApiError::Internal);
    }

    #[test]
    fn unavailable_is_a_503_with_retry_after() {
        let e = ApiError::Unavailable;
        assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        let resp = e.decorate(Response::default());
        assert_eq!(resp.headers()[axum::http::header::RETRY_AFTER], RETRY_AFTER_SECS.to_string().as_str());
        assert!(ApiError::Internal.decorate(Response::default()).headers().get(axum::http::header::RETRY_AFTER).is_none());
    }
}
