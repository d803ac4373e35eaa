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
    /// One item of a batch names an entity that does not exist: `field` says which item
    /// (`id[3]`), so a client of a 1,000-item call knows what to fix.
    #[error("{field}: {what} not found")]
    NotFoundAt { field: String, what: &'static str },
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

    /// Re-labels a field error with the batch item it is about: `email` → `data[3].email`. A
    /// reference to a missing entity inside an item is the item's fault: a 400 naming the field.
    pub fn within(self, item: &str) -> Self {
        match self {
            DomainError::Invalid { field, message } => DomainError::Invalid { field: format!("{item}.{field}"), message },
            DomainError::Taken { field } => DomainError::Taken { field: format!("{item}.{field}") },
            DomainError::NotFound(what) => {
                DomainError::Invalid { field: format!("{item}.{what}"), message: "not found in this organization".into() }
            }
            DomainError::NotFoundAt { field, what } => DomainError::NotFoundAt { field: format!("{item}.{field}"), what },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_names_the_batch_item() {
        let e = DomainError::invalid("email", "must be an email address").within("data[3]");
        assert_eq!(e.to_string(), "data[3].email: must be an email address");
        assert_eq!(DomainError::Taken { field: "email".into() }.within("data[1]").to_string(), "data[1].email is already taken");
        assert_eq!(
            DomainError::NotFound("reportsTo").within("data[0]"),
            DomainError::invalid("data[0].reportsTo", "not found in this organization")
        );
        assert_eq!(DomainError::Forbidden("no".into()).within("data[0]"), DomainError::Forbidden("no".into()));
    }
}
