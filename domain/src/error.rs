use thiserror::Error;

/// Why a command was rejected by a rule. Never a storage failure: those live in the `commands` layer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A field failed validation; `field` is the client-facing field name.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The entity does not exist (or is deleted).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The entity already exists (a create on a used stream id).
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A unique value is already held by another entity (email, login, subdomain, short name).
    #[error("{field} is already taken")]
    Taken { field: String },
    /// The actor may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid { field: field.into(), message: message.into() }
    }
}
