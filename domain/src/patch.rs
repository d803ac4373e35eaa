//! Patch fields that distinguish "absent" (leave unchanged) from `null` (clear).
//!
//! Two shapes, chosen by what the read models can store:
//! - `Patch<T>` for a field that may be empty (a nullable column): absent keeps, `null` clears,
//!   a value sets.
//! - `Option<T>` (absent or `None` keeps, `Some` sets) for a field that always has a value (a
//!   `NOT NULL` column: names, statuses, flags, lists). Such a field cannot be cleared, so no event
//!   can ask a projector to store `NULL` there. Each dialect decides at parse time what its clients'
//!   explicit `null` means for it — refused with a 400 naming the field ([`Patch::required`]) or
//!   "back to the default" ([`Patch::or_default`]) — and the type makes that decision unskippable.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// `Keep` = the field was absent; `Clear` = it was `null`; `Set(v)` = new value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    /// Applies the patch to a nullable field.
    pub fn apply_to(self, field: &mut Option<T>) {
        match self {
            Patch::Keep => {}
            Patch::Clear => *field = None,
            Patch::Set(v) => *field = Some(v),
        }
    }

    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(v),
        }
    }

    /// For a field that always has a value: `null` is refused, naming the field.
    pub fn required(self, field: &str) -> Result<Option<T>, DomainError> {
        match self {
            Patch::Keep => Ok(None),
            Patch::Clear => Err(DomainError::invalid(field, "must not be null")),
            Patch::Set(v) => Ok(Some(v)),
        }
    }

    /// For a field that always has a value and a natural default (a flag, a list): `null` resets
    /// it to that default.
    pub fn or_default(self) -> Option<T>
    where
        T: Default,
    {
        match self {
            Patch::Keep => None,
            Patch::Clear => Some(T::default()),
            Patch::Set(v) => Some(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(f(v)),
        }
    }
}

// Serialized as `null` for Clear and the value for Set; Keep must be skipped by the container
// (`#[serde(default, skip_serializing_if = "Patch::is_keep")]`).
/// A replacement value: `None` clears, `Some` sets (a whole-object replace, field by field).
impl<T> From<Option<T>> for Patch<T> {
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => Patch::Set(v),
            None => Patch::Clear,
        }
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Keep | Patch::Clear => s.serialize_none(),
            Patch::Set(v) => s.serialize_some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Clear,
            Some(v) => Patch::Set(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct P {
        #[serde(default, skip_serializing_if = "Patch::is_keep")]
        a: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_round_trip() {
        let absent: P = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.a, Patch::Keep);
        let null: P = serde_json::from_str(r#"{"a":null}"#).unwrap();
        assert_eq!(null.a, Patch::Clear);
        let set: P = serde_json::from_str(r#"{"a":"x"}"#).unwrap();
        assert_eq!(set.a, Patch::Set("x".into()));
        assert_eq!(serde_json::to_string(&absent).unwrap(), "{}");
        assert_eq!(serde_json::to_string(&null).unwrap(), r#"{"a":null}"#);
    }

    #[test]
    fn null_is_refused_or_defaulted_for_fields_that_always_have_a_value() {
        assert_eq!(Patch::<bool>::Keep.required("is_expert"), Ok(None));
        assert_eq!(Patch::Set(true).required("is_expert"), Ok(Some(true)));
        assert_eq!(Patch::<bool>::Clear.required("is_expert"), Err(DomainError::invalid("is_expert", "must not be null")));
        assert_eq!(Patch::<Vec<u8>>::Clear.or_default(), Some(vec![]));
        assert_eq!(Patch::<Vec<u8>>::Keep.or_default(), None);
    }
}
