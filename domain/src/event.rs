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
        let payload = Self::upcast(event_type, schema_rev, payload);
        let tagged = serde_json::json!({ "type": event_type, "data": payload });
        serde_json::from_value(tagged).map_err(|e| EventCodecError(format!("{event_type}: {e}")))
    }

    /// Rewrites an old payload into the current shape. Revision 1 is current for every event so far.
    fn upcast(_event_type: &str, _schema_rev: i16, payload: serde_json::Value) -> serde_json::Value {
        payload
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
}
