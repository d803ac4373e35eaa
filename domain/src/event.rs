use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// An event type of one aggregate. Events are stored as `(event_type, payload)`: the enum is
/// serialized adjacently tagged (`{"type": ..., "data": ...}`) and split into the two columns, so
/// the payload carries no redundant type tag and old payloads can be upcast by `schema_rev`.
pub trait DomainEvent: Serialize + DeserializeOwned + Clone {
    /// The `stream_type` column and NATS subject token of this aggregate's streams.
    const STREAM_TYPE: &'static str;
    /// The revision written with new events; readers upcast anything older.
    const SCHEMA_REV: i16 = 1;

    fn event_type(&self) -> &'static str;

    fn to_parts(&self) -> Result<(&'static str, serde_json::Value), EventCodecError> {
        let tagged = serde_json::to_value(self).map_err(|e| EventCodecError(e.to_string()))?;
        let payload = match tagged {
            serde_json::Value::Object(mut map) => map.remove("data").unwrap_or(serde_json::Value::Null),
            _ => return Err(EventCodecError("event did not serialize to an object".into())),
        };
        Ok((self.event_type(), payload))
    }

    fn from_parts(event_type: &str, schema_rev: i16, payload: serde_json::Value) -> Result<Self, EventCodecError> {
        if schema_rev >= Self::SCHEMA_REV {
            return Self::from_current(event_type, &payload);
        }
        Self::from_current(event_type, &Self::upcast(event_type, schema_rev, payload))
    }

    /// As `from_parts`, from a borrowed payload: cloned only when it must be upcast.
    fn from_parts_ref(event_type: &str, schema_rev: i16, payload: &serde_json::Value) -> Result<Self, EventCodecError> {
        if schema_rev >= Self::SCHEMA_REV {
            return Self::from_current(event_type, payload);
        }
        Self::from_parts(event_type, schema_rev, payload.clone())
    }

    /// The event of a payload in the current shape of `event_type`.
    fn from_current(event_type: &str, payload: &serde_json::Value) -> Result<Self, EventCodecError> {
        Self::deserialize(Tagged { event_type, payload }).map_err(|e| EventCodecError(format!("{event_type}: {e}")))
    }

    /// Rewrites an old payload into the current shape. Revision 1 is current for every event so far.
    fn upcast(_event_type: &str, _schema_rev: i16, payload: serde_json::Value) -> serde_json::Value {
        payload
    }
}

/// `{"type": event_type, "data": payload}` as serde sees it, without building it: the tag comes
/// first, so the enum's adjacently tagged `Deserialize` reads the payload straight into its
/// variant. (A `json!` object iterates its keys sorted, `data` before `type`, and serde then
/// copies the whole payload into a buffer before it knows the variant.)
struct Tagged<'a> {
    event_type: &'a str,
    payload: &'a serde_json::Value,
}

impl<'de> serde::Deserializer<'de> for Tagged<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(TaggedFields { tagged: self, next: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct TaggedFields<'a> {
    tagged: Tagged<'a>,
    /// 0: before `type`, 1: before its value, 2: before `data`, 3: before its value, 4: done.
    next: u8,
}

impl<'de> serde::de::MapAccess<'de> for TaggedFields<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        use serde::de::value::BorrowedStrDeserializer;
        let key = match self.next {
            0 => "type",
            2 => "data",
            _ => return Ok(None),
        };
        self.next += 1;
        seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
        use serde::de::value::BorrowedStrDeserializer;
        self.next += 1;
        match self.next {
            2 => seed.deserialize(BorrowedStrDeserializer::new(self.tagged.event_type)),
            _ => seed.deserialize(self.tagged.payload),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event codec: {0}")]
pub struct EventCodecError(pub String);

/// Who caused an event and through what; stored in the `metadata` column, never in the payload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
}

/// A stored payload in the current shape of its event type, with the revision it now has. Every
/// read path that shows payloads (the audit API, the relay, `roster events tail`) runs this; the
/// typed ones run `from_parts`, which does the same. Unknown stream types pass through.
pub fn upcast_any(stream_type: &str, event_type: &str, schema_rev: i16, payload: serde_json::Value) -> (i16, serde_json::Value) {
    fn up<E: DomainEvent>(event_type: &str, rev: i16, payload: serde_json::Value) -> (i16, serde_json::Value) {
        if rev >= E::SCHEMA_REV {
            return (rev, payload);
        }
        (E::SCHEMA_REV, E::upcast(event_type, rev, payload))
    }
    use crate::*;
    match stream_type {
        <user::UserEvent as DomainEvent>::STREAM_TYPE => up::<user::UserEvent>(event_type, schema_rev, payload),
        <organization::OrganizationEvent as DomainEvent>::STREAM_TYPE => {
            up::<organization::OrganizationEvent>(event_type, schema_rev, payload)
        }
        <group::GroupEvent as DomainEvent>::STREAM_TYPE => up::<group::GroupEvent>(event_type, schema_rev, payload),
        <department::DepartmentEvent as DomainEvent>::STREAM_TYPE => up::<department::DepartmentEvent>(event_type, schema_rev, payload),
        <location::LocationEvent as DomainEvent>::STREAM_TYPE => up::<location::LocationEvent>(event_type, schema_rev, payload),
        <security_group::SecurityGroupEvent as DomainEvent>::STREAM_TYPE => {
            up::<security_group::SecurityGroupEvent>(event_type, schema_rev, payload)
        }
        <sso::SsoEvent as DomainEvent>::STREAM_TYPE => up::<sso::SsoEvent>(event_type, schema_rev, payload),
        <media::MediaEvent as DomainEvent>::STREAM_TYPE => up::<media::MediaEvent>(event_type, schema_rev, payload),
        <permission::RoleGrantEvent as DomainEvent>::STREAM_TYPE => up::<permission::RoleGrantEvent>(event_type, schema_rev, payload),
        <subscription::SubscriptionEvent as DomainEvent>::STREAM_TYPE => {
            up::<subscription::SubscriptionEvent>(event_type, schema_rev, payload)
        }
        <profile_field::ProfileFieldEvent as DomainEvent>::STREAM_TYPE => {
            up::<profile_field::ProfileFieldEvent>(event_type, schema_rev, payload)
        }
        _ => (schema_rev, payload),
    }
}

/// Every event type `E` defines, read from its own serde definition: an unknown tag is answered
/// with the list of the variants it could have been. No hand-kept list to forget to update.
pub fn event_types<E: DomainEvent>() -> Vec<String> {
    let probe = serde_json::json!({ "type": "\u{0}", "data": null });
    let Err(e) = serde_json::from_value::<E>(probe) else { return vec![] };
    let msg = e.to_string();
    let Some((_, expected)) = msg.split_once("expected ") else { return vec![] };
    expected.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_come_from_the_enums() {
        let user = event_types::<crate::user::UserEvent>();
        assert!(
            user.len() >= 7 && user.contains(&"UserCreated".to_string()) && user.contains(&"AccessTokenRevoked".to_string()),
            "{user:?}"
        );
        assert_eq!(event_types::<crate::sso::SsoEvent>(), ["SsoCreated"]);
        assert_eq!(event_types::<crate::media::MediaEvent>(), ["MediaReserved", "MediaUploaded"]);
        for t in event_types::<crate::group::GroupEvent>() {
            assert!(t.starts_with("Group"), "{t}");
        }
    }

    /// JSON made of the group events' own field names and values of every kind, so that some
    /// payloads decode and most fail in all the ways a stored payload could.
    fn payload() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::{json, Value};
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-z]{0,6}".prop_map(Value::String),
            (0u128..4).prop_map(|n| json!(uuid::Uuid::from_u128(n))),
            prop_oneof![Just("admin"), Just("member"), Just("Active"), Just("InviteOnly")].prop_map(|s| json!(s)),
        ];
        let keys = prop_oneof![
            Just("id"),
            Just("org_id"),
            Just("number"),
            Just("name"),
            Just("description"),
            Just("outbound_caller_ids"),
            Just("created_by"),
            Just("user_id"),
            Just("role"),
            Just("added_by"),
            Just("removed_by"),
        ];
        leaf.prop_recursive(3, 24, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map(keys.clone().prop_map(str::to_string), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The borrowed decoder (the tag handed to serde first) decides every payload as serde
        /// does for the stored object `{"type": ..., "data": ...}`: the same event, or an error.
        #[test]
        fn decoding_a_borrowed_payload_agrees_with_decoding_the_tagged_object(
            event_type in proptest::prop_oneof![
                proptest::strategy::Just("GroupCreated"),
                proptest::strategy::Just("GroupMemberAdded"),
                proptest::strategy::Just("GroupDeleted"),
                proptest::strategy::Just("NoSuchEvent"),
            ],
            payload in payload(),
        ) {
            use crate::group::GroupEvent;
            let tagged = serde_json::from_value::<GroupEvent>(serde_json::json!({"type": event_type, "data": payload.clone()}));
            let borrowed = GroupEvent::from_parts_ref(event_type, GroupEvent::SCHEMA_REV, &payload);
            match (tagged, borrowed) {
                (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b),
                (Err(_), Err(e)) => proptest::prop_assert!(e.0.starts_with(event_type), "{}", e.0),
                (a, b) => proptest::prop_assert!(false, "from_value: {:?}, borrowed: {:?}", a, b),
            }
        }
    }

    #[test]
    fn a_borrowed_payload_decodes_to_its_event() {
        use crate::group::GroupEvent;
        let added = serde_json::json!({"user_id": uuid::Uuid::from_u128(4), "role": "admin", "added_by": null, "visited": true});
        assert!(matches!(
            GroupEvent::from_parts_ref("GroupMemberAdded", GroupEvent::SCHEMA_REV, &added).unwrap(),
            GroupEvent::GroupMemberAdded { visited: true, .. }
        ));
    }
}
