use domain::DomainError;

/// What went wrong while storing or reading; never a rule violation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to one of the streams first (`events_stream_version_key`).
    #[error("concurrent write to the same stream")]
    VersionConflict,
    /// A unique value is already held.
    #[error("{kind} is already taken")]
    ClaimTaken { kind: String },
    /// Another request with the same idempotency key committed first.
    #[error("idempotency key raced")]
    IdempotencyRace,
    #[error("event codec: {0}")]
    Codec(#[from] domain::EventCodecError),
    /// An event would carry a string Postgres cannot store (U+0000): the input's fault, named by
    /// its path in the event. Field rules refuse it first; this is the line behind them.
    #[error("{field}: must not contain NUL (U+0000) characters")]
    Unstorable { field: String },
    /// A command result could not be stored as JSON, or a stored one no longer reads as its type.
    #[error("stored command result: {0}")]
    StoredResult(String),
    /// Hashing a credential failed (or its worker thread died).
    #[error("credential hashing: {0}")]
    Hashing(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The outcome of a command that did not commit.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Rejected by a rule: the client's fault, answered 4xx.
    #[error(transparent)]
    Rejected(#[from] DomainError),
    /// Still conflicting after one retry: answered 409.
    #[error("the entity was changed concurrently; retry")]
    Conflict,
    /// A conditional write found the stream at another version (`current`): answered 412.
    #[error("the entity is at version {current}, not the one the write was conditioned on")]
    PreconditionFailed { current: i32 },
    /// The idempotency key was used before for a different request.
    #[error("idempotency key was already used for a different request")]
    IdempotencyMismatch,
    /// Failed to store: answered 5xx with nothing internal revealed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ClaimTaken { kind } => CommandError::Rejected(DomainError::Taken { field: kind }),
            StoreError::Unstorable { field } => {
                CommandError::Rejected(DomainError::invalid(field, "must not contain NUL (U+0000) characters"))
            }
            other => CommandError::Store(other),
        }
    }
}

impl From<sqlx::Error> for CommandError {
    fn from(e: sqlx::Error) -> Self {
        CommandError::Store(StoreError::Db(e))
    }
}

/// The constraint name of a unique violation, if that is what `e` is.
pub fn unique_violation(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => db.constraint(),
        _ => None,
    }
}
