//! The API layer's one error type. Each dialect renders it in its own documented shape; this is
//! where storage failures are logged (once) and turned into an opaque 500.

use commands::CommandError;
use domain::DomainError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    /// Bad input; `field` names what was wrong, as the client spelled it.
    Invalid { field: String, message: String },
    /// Lost a race (or reused an idempotency key for something else): retry may succeed.
    Conflict(String),
    /// Failed to store or read; details are in the log, never in the answer.
    Internal,
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
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A one-line, client-safe description.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthorized(m) | ApiError::Forbidden(m) | ApiError::NotFound(m) | ApiError::Conflict(m) => m.clone(),
            ApiError::Invalid { field, message } => format!("{field}: {message}"),
            ApiError::Internal => "internal error".into(),
        }
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
            CommandError::IdempotencyMismatch => {
                ApiError::Conflict("Idempotency-Key was already used for a different request".into())
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
        tracing::error!(error = %e, "query failed");
        ApiError::Internal
    }
}
