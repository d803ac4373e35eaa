//! Custom profile fields (NexPort): typed field definitions per organization, and the typed values
//! a subscription carries for them. A value arrives as text and is parsed once, here, against its
//! field's type; the event stores the typed value, never the raw text.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::values::{bounded_text, required_text, MAX_TEXT_LEN};
use crate::{DomainError, OrgId, UserId};

pub const MAX_FIELD_KEY_LEN: usize = 64;
pub const MAX_FIELD_NAME_LEN: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Boolean,
    DateTime,
}

impl FieldType {
    pub const ALL: [FieldType; 4] = [FieldType::Text, FieldType::Number, FieldType::Boolean, FieldType::DateTime];

    /// NexPort's names for the types.
    pub fn as_str(&self) -> &'static str {
        match self {
            FieldType::Text => "Text",
            FieldType::Number => "Number",
            FieldType::Boolean => "Boolean",
            FieldType::DateTime => "DateTime",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        FieldType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| DomainError::invalid(field, format!("unknown type '{raw}'; one of Text, Number, Boolean, DateTime")))
    }
}

/// A value of a custom field, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    Text(String),
    Number(f64),
    Boolean(bool),
    DateTime(DateTime<Utc>),
}

impl FieldValue {
    /// Parses `raw` as a value of `ty`; `field` names the key in the error. Date-times take an
    /// RFC 3339 offset (converted to UTC) or none (read as UTC).
    pub fn parse(field: &str, ty: FieldType, raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let bad = |what: &str| DomainError::invalid(field, format!("must be {what}, got '{raw}'"));
        match ty {
            FieldType::Text => Ok(FieldValue::Text(bounded_text(field, raw, MAX_TEXT_LEN)?)),
            FieldType::Number => match s.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(FieldValue::Number(n)),
                _ => Err(bad("a number")),
            },
            FieldType::Boolean => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(FieldValue::Boolean(true)),
                "false" => Ok(FieldValue::Boolean(false)),
                _ => Err(bad("true or false")),
            },
            FieldType::DateTime => DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc()))
                .map(FieldValue::DateTime)
                .map_err(|_| bad("a date-time like 2026-01-31T09:30:00Z")),
        }
    }

    /// The value as NexPort answers it: text, with date-times in UTC (RFC 3339, `Z`).
    pub fn render(&self) -> String {
        match self {
            FieldValue::Text(t) => t.clone(),
            FieldValue::Number(n) => n.to_string(),
            FieldValue::Boolean(b) => b.to_string(),
            FieldValue::DateTime(d) => d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// A field key: letters, digits, `_`, `-`, `.`; compared case-insensitively within an org.
pub fn parse_key(field: &str, raw: &str) -> Result<String, DomainError> {
    let key = required_text(field, raw, MAX_FIELD_KEY_LEN)?;
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(DomainError::invalid(field, "may hold only letters, digits, '_', '-' and '.'"));
    }
    Ok(key)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileField {
    pub org_id: OrgId,
    pub key: String,
    pub field_type: FieldType,
}

#[derive(Debug, Clone)]
pub enum ProfileFieldCommand {
    Define { org_id: OrgId, key: String, name: String, field_type: FieldType, actor: Option<UserId> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum ProfileFieldEvent {
    ProfileFieldDefined { org_id: OrgId, key: String, name: String, field_type: FieldType, defined_by: Option<UserId> },
}

impl DomainEvent for ProfileFieldEvent {
    const STREAM_TYPE: &'static str = "profile_field";

    fn event_type(&self) -> &'static str {
        match self {
            ProfileFieldEvent::ProfileFieldDefined { .. } => "ProfileFieldDefined",
        }
    }
}

pub struct ProfileFieldAggregate;

impl esrs::Aggregate for ProfileFieldAggregate {
    const NAME: &'static str = "profile_field";
    type State = Option<ProfileField>;
    type Command = ProfileFieldCommand;
    type Event = ProfileFieldEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            ProfileFieldCommand::Define { org_id, key, name, field_type, actor } => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("custom profile field"));
                }
                Ok(vec![ProfileFieldEvent::ProfileFieldDefined {
                    org_id,
                    key: parse_key("key", &key)?,
                    name: required_text("name", &name, MAX_FIELD_NAME_LEN)?,
                    field_type,
                    defined_by: actor,
                }])
            }
        }
    }

    fn apply_event(_state: Self::State, event: Self::Event) -> Self::State {
        match event {
            ProfileFieldEvent::ProfileFieldDefined { org_id, key, field_type, .. } => Some(ProfileField { org_id, key, field_type }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_by_type_and_name_the_key() {
        assert_eq!(FieldValue::parse("shirt", FieldType::Number, " 42.5 ").unwrap(), FieldValue::Number(42.5));
        assert_eq!(FieldValue::parse("vip", FieldType::Boolean, "TRUE").unwrap(), FieldValue::Boolean(true));
        let err = FieldValue::parse("hired", FieldType::DateTime, "yesterday").unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "hired"), "{err:?}");
        assert!(FieldValue::parse("n", FieldType::Number, "NaN").is_err());
        assert!(FieldValue::parse("n", FieldType::Number, "inf").is_err());
    }

    #[test]
    fn date_times_are_kept_in_utc() {
        let v = FieldValue::parse("hired", FieldType::DateTime, "2026-03-01T10:00:00+02:00").unwrap();
        assert_eq!(v.render(), "2026-03-01T08:00:00Z");
        let naive = FieldValue::parse("hired", FieldType::DateTime, "2026-03-01T10:00:00").unwrap();
        assert_eq!(naive.render(), "2026-03-01T10:00:00Z");
    }

    #[test]
    fn keys_are_restricted() {
        assert!(parse_key("key", "shirt_size").is_ok());
        assert!(parse_key("key", "shirt size").is_err());
    }
}
