//! Strategies for property tests: events as the log and NATS carry them.

use chrono::TimeZone;
use eventlog::{Envelope, Position};
use proptest::prelude::*;
use serde_json::Value;

/// Any JSON, with the strings that need escaping (quotes, backslashes, control characters,
/// U+2028, astral characters) and numbers of every kind.
fn json() -> impl Strategy<Value = Value> {
    let text = "[a-z\"\\\\\u{0}-\u{1f}\u{7f}\u{e9}\u{2028}\u{1F600} ]{0,8}";
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text.prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text, inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

pub(crate) fn envelope() -> impl Strategy<Value = Envelope> {
    (
        (any::<u128>(), any::<Option<u128>>(), any::<u128>(), 1i64..1 << 40, 1i64..1 << 40),
        ("[a-z_]{1,12}", "[A-Za-z]{1,20}", any::<i32>(), any::<i16>(), 0i64..4_102_444_800_000_000),
        (json(), json()),
    )
        .prop_map(|((event, org, stream, tx, gid), (stream_type, event_type, version, schema_rev, micros), (metadata, payload))| {
            Envelope {
                event_id: uuid::Uuid::from_u128(event),
                position: Position::new(tx, gid),
                org_id: org.map(uuid::Uuid::from_u128),
                stream_type,
                stream_id: uuid::Uuid::from_u128(stream),
                version,
                event_type,
                schema_rev,
                recorded_at: chrono::Utc.timestamp_micros(micros).unwrap(),
                metadata,
                payload,
            }
        })
}
