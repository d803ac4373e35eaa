//! Validated values, parsed once at the boundary. Each limit is a named constant used by both the
//! check and its message.

use serde::{Deserialize, Serialize};

use crate::patch::Patch;
use crate::DomainError;

pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_PERSON_NAME_LEN: usize = 100;
pub const MAX_ORG_NAME_LEN: usize = 200;
pub const MAX_SUBDOMAIN_LEN: usize = 63;
pub const MAX_LOGIN_LEN: usize = 64;
pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 1024;
pub const MAX_GROUP_NAME_LEN: usize = 64;
pub const MAX_GROUP_DESCRIPTION_LEN: usize = 1024;
pub const MAX_CALLER_ID_LEN: usize = 64;
pub const MAX_TEXT_LEN: usize = 4096;
pub const MAX_DEPARTMENT_NAME_LEN: usize = 200;
pub const MAX_LOCATION_NAME_LEN: usize = 200;
/// Most items one bulk call (WorkDrive bulk-create / bulk-delete) may carry.
pub const MAX_BULK_ITEMS: usize = 1000;

/// An email address, stored as given (trimmed) and compared lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(DomainError::invalid(field, "must not be empty"));
        }
        if s.chars().count() > MAX_EMAIL_LEN {
            return Err(DomainError::invalid(field, format!("must be at most {MAX_EMAIL_LEN} characters")));
        }
        let (local, domain) =
            s.split_once('@').ok_or_else(|| DomainError::invalid(field, "must be an email address like name@example.com"))?;
        let domain_ok = domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@');
        if local.is_empty() || !domain_ok || s.chars().any(char::is_whitespace) {
            return Err(DomainError::invalid(field, "must be an email address like name@example.com"));
        }
        Ok(Email(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness: emails differ only in case are the same address.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Trims and bounds a required text field.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    bounded_text(field, s, max)
}

/// Bounds a text field (empty is allowed). Postgres `text` and `jsonb` cannot hold U+0000, so a
/// NUL character is refused here rather than failing the append or a projector later.
pub fn bounded_text(field: &str, raw: &str, max: usize) -> Result<String, DomainError> {
    if raw.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if raw.contains('\0') {
        return Err(DomainError::invalid(field, "must not contain NUL (U+0000) characters"));
    }
    Ok(raw.to_string())
}

/// A patch of an optional text field: trimmed and bounded; empty or only whitespace clears it
/// (one meaning for "no value", however a client spells it).
pub fn optional_text(field: &str, patch: Patch<String>, max: usize) -> Result<Patch<String>, DomainError> {
    match patch {
        Patch::Set(v) if v.trim().is_empty() => Ok(Patch::Clear),
        Patch::Set(v) => Ok(Patch::Set(bounded_text(field, v.trim(), max)?)),
        other => Ok(other),
    }
}

/// An optional text value: trimmed and bounded; empty or only whitespace is no value.
pub fn opt_text(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, DomainError> {
    match optional_text(field, Patch::from(v), max)? {
        Patch::Set(s) => Ok(Some(s)),
        _ => Ok(None),
    }
}

/// The earliest and latest instants a client may send: Postgres `timestamptz` and every
/// dialect's date format hold these (chrono alone accepts years far outside them).
pub const MIN_YEAR: i32 = 1;
pub const MAX_YEAR: i32 = 9999;

/// Checks that a client-supplied instant lies in years [`MIN_YEAR`]..=[`MAX_YEAR`].
pub fn check_instant(field: &str, at: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, DomainError> {
    use chrono::Datelike;
    if !(MIN_YEAR..=MAX_YEAR).contains(&at.year()) {
        return Err(DomainError::invalid(field, format!("must be a date between the years {MIN_YEAR} and {MAX_YEAR}")));
    }
    Ok(at)
}

/// An organization subdomain: lower-case letters, digits and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Subdomain(String);

impl Subdomain {
    /// Derives a subdomain from an organization name, as WorkDrive does ("Acme Corp" → "acmecorp").
    pub fn from_name(name: &str) -> Result<Self, DomainError> {
        let s: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').map(|c| c.to_ascii_lowercase()).collect();
        let s = s.trim_matches('-').to_string();
        if s.is_empty() {
            return Err(DomainError::invalid("name", "must contain at least one letter or digit"));
        }
        if s.len() > MAX_SUBDOMAIN_LEN {
            return Err(DomainError::invalid("name", format!("gives a subdomain longer than {MAX_SUBDOMAIN_LEN} characters")));
        }
        Ok(Subdomain(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A login name (PortSIP `username`, NexPort login). Defaults to the email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Login(String);

impl Login {
    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let s = required_text(field, raw, MAX_LOGIN_LEN.max(MAX_EMAIL_LEN))?;
        if s.chars().any(char::is_whitespace) {
            return Err(DomainError::invalid(field, "must not contain spaces"));
        }
        Ok(Login(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Checks a new password's length; the hash is made outside the domain (argon2id in `commands`).
pub fn check_password(field: &str, raw: &str) -> Result<(), DomainError> {
    let n = raw.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(DomainError::invalid(field, format!("must be at least {MIN_PASSWORD_LEN} characters")));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(DomainError::invalid(field, format!("must be at most {MAX_PASSWORD_LEN} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        assert!(Email::parse("email", "a@b.co").is_ok());
        assert_eq!(Email::parse("email", " A@B.co ").unwrap().normalized(), "a@b.co");
        for bad in ["", "ab", "a@b", "@b.co", "a b@c.de", "a@.co", "a@b.co."] {
            assert!(Email::parse("email", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn subdomain_from_name() {
        assert_eq!(Subdomain::from_name("Acme Corp").unwrap().as_str(), "acmecorp");
        assert!(Subdomain::from_name("!!!").is_err());
    }

    #[test]
    fn optional_text_has_one_meaning_for_no_value() {
        for blank in ["", "   ", "\t\n"] {
            assert_eq!(optional_text("bio", Patch::Set(blank.into()), 10), Ok(Patch::Clear));
        }
        assert_eq!(optional_text("bio", Patch::Set(" x ".into()), 10), Ok(Patch::Set("x".into())));
        assert_eq!(optional_text("bio", Patch::Clear, 10), Ok(Patch::Clear));
        assert!(optional_text("bio", Patch::Set("a\0b".into()), 10).is_err());
        assert!(required_text("name", "a\0b", 10).is_err());
    }

    #[test]
    fn text_limits_name_the_field() {
        let err = required_text("name", &"x".repeat(MAX_GROUP_NAME_LEN + 1), MAX_GROUP_NAME_LEN).unwrap_err();
        assert_eq!(err, DomainError::invalid("name", "must be at most 64 characters"));
    }
}
