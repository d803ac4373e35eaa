//! Cursors of SCIM's cursor-based pagination (RFC 9865): where the next page of a list starts.
//!
//! A cursor is the last entry's keys in the list's order (`projections::scim::After`) with the
//! order it was made for, as base64url of a small JSON object: only RFC 3986 unreserved
//! characters, opaque to clients, and valid for as long as the client likes (nothing is kept on
//! the server, so `ServiceProviderConfig` names no `cursorTimeout`). A cursor made for another
//! `sortBy`/`sortOrder` is refused, since its key would be compared with another attribute.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use projections::scim::{After, SortKind, SortValue};
use serde_json::{json, Value};
use uuid::Uuid;

use super::ScimError;

/// The longest cursor read: what this server makes for the longest sort key, a text of
/// `MAX_TEXT_LEN` characters, each escaped in JSON as up to six bytes, in base64.
pub const MAX_CURSOR_LEN: usize = (domain::values::MAX_TEXT_LEN * 6 + 256).div_ceil(3) * 4;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The order a cursor belongs to: the `sortBy` path as the client spelled it, folded, and the
/// direction.
pub fn order_tag(sort_by: Option<&str>, descending: bool) -> String {
    format!("{}:{}", sort_by.map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default(), if descending { "d" } else { "a" })
}

pub fn encode(order: &str, after: &After) -> String {
    let mut doc = json!({
        "o": order,
        "c": after.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "i": after.id,
    });
    if let Some(v) = &after.sort {
        doc["v"] = match v {
            None => Value::Null,
            Some(SortValue::Text(t)) => json!(t),
            Some(SortValue::Bool(b)) => json!(b),
            Some(SortValue::Time(t)) => json!(t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        };
    }
    B64.encode(doc.to_string())
}

fn invalid(detail: &str) -> ScimError {
    ScimError::bad("invalidCursor", format!("cursor: {detail}; send an empty cursor for the first page, then each page's nextCursor"))
}

/// The position `raw` names, for a list in `order` sorted by a key of `kind` (`None`: unsorted).
pub fn decode(raw: &str, order: &str, kind: Option<SortKind>) -> Result<After, ScimError> {
    if raw.len() > MAX_CURSOR_LEN {
        return Err(invalid(&format!("longer than {MAX_CURSOR_LEN} characters")));
    }
    let foreign = || invalid("not a cursor this server made");
    let bytes = B64.decode(raw.trim()).map_err(|_| foreign())?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|_| foreign())?;
    if doc["o"].as_str() != Some(order) {
        return Err(invalid("made for another sortBy or sortOrder"));
    }
    let time = |v: &Value| -> Option<DateTime<Utc>> { DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|t| t.with_timezone(&Utc)) };
    let created_at = time(&doc["c"]).ok_or_else(foreign)?;
    let id = doc["i"].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(foreign)?;
    let sort = match kind {
        None => None,
        Some(kind) => Some(match (kind, doc.get("v")) {
            (_, Some(Value::Null)) => None,
            // Postgres text holds no NUL; a cursor of ours never does.
            (SortKind::Text, Some(Value::String(t))) if !t.contains('\0') => Some(SortValue::Text(t.clone())),
            (SortKind::Bool, Some(Value::Bool(b))) => Some(SortValue::Bool(*b)),
            (SortKind::Time, Some(v)) => Some(SortValue::Time(time(v).ok_or_else(foreign)?)),
            _ => return Err(foreign()),
        }),
    };
    Ok(After { sort, created_at, id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn after() -> impl Strategy<Value = (Option<SortKind>, After)> {
        let time = (0i64..4_000_000_000, 0u32..1_000_000).prop_map(|(s, us)| DateTime::from_timestamp(s, us * 1000).unwrap());
        let kind = prop_oneof![Just(None), Just(Some(SortKind::Text)), Just(Some(SortKind::Bool)), Just(Some(SortKind::Time))];
        (kind, time.clone(), any::<u128>(), "[^\u{0}]{0,40}", any::<bool>(), time, any::<bool>()).prop_map(
            |(kind, created_at, id, text, b, t, null)| {
                let value = match kind {
                    _ if null => None,
                    Some(SortKind::Text) => Some(SortValue::Text(text)),
                    Some(SortKind::Bool) => Some(SortValue::Bool(b)),
                    Some(SortKind::Time) => Some(SortValue::Time(t)),
                    None => None,
                };
                (kind, After { sort: kind.map(|_| value), created_at, id: Uuid::from_u128(id) })
            },
        )
    }

    proptest! {
        #[test]
        fn a_cursor_reads_back_as_the_position_it_was_made_of((kind, a) in after(), desc in any::<bool>()) {
            let order = order_tag(kind.map(|_| "name.familyName"), desc);
            let raw = encode(&order, &a);
            prop_assert!(raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{raw}");
            prop_assert_eq!(decode(&raw, &order, kind).unwrap(), a);
            // The same position in another order is refused, never compared.
            let other = order_tag(kind.map(|_| "name.familyName"), !desc);
            prop_assert_eq!(decode(&raw, &other, kind).unwrap_err().scim_type, Some("invalidCursor"));
        }

        #[test]
        fn any_other_text_is_refused_as_an_invalid_cursor(raw in ".{0,200}", b64 in any::<bool>(), kind in prop_oneof![Just(None), Just(Some(SortKind::Time))]) {
            let raw = if b64 { B64.encode(&raw) } else { raw };
            let order = order_tag(kind.map(|_| "meta.created"), false);
            if let Err(e) = decode(&raw, &order, kind) {
                prop_assert_eq!(e.scim_type, Some("invalidCursor"));
            }
        }
    }

    #[test]
    fn the_longest_sort_key_makes_a_cursor_that_reads_back() {
        // U+001F is what JSON escapes longest (`\u001f`), and 4-byte characters are the largest.
        for c in ['\u{1f}', '\u{1F600}'] {
            let a = After {
                sort: Some(Some(SortValue::Text(c.to_string().repeat(domain::values::MAX_TEXT_LEN)))),
                // Postgres keeps microseconds, and a cursor what Postgres keeps.
                created_at: DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap(),
                id: Uuid::nil(),
            };
            let order = order_tag(Some("externalId"), true);
            let raw = encode(&order, &a);
            assert!(raw.len() <= MAX_CURSOR_LEN, "{} > {MAX_CURSOR_LEN}", raw.len());
            assert_eq!(decode(&raw, &order, Some(SortKind::Text)).unwrap(), a);
        }
    }

    #[test]
    fn a_cursor_with_a_value_of_the_wrong_kind_is_refused() {
        let a = After { sort: Some(Some(SortValue::Text("x".into()))), created_at: Utc::now(), id: Uuid::nil() };
        let order = order_tag(Some("meta.created"), false);
        assert_eq!(decode(&encode(&order, &a), &order, Some(SortKind::Time)).unwrap_err().scim_type, Some("invalidCursor"));
        assert_eq!(decode(&"A".repeat(MAX_CURSOR_LEN + 1), &order, None).unwrap_err().scim_type, Some("invalidCursor"));
    }
}
