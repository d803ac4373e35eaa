//! `/asyncapi.json`: the subscriber contract — an AsyncAPI 3.1 document of the NATS stream, one
//! channel per event type, every payload schema generated from the domain's event enums (the
//! same types the code serializes into the log and the relay publishes).

use std::collections::BTreeMap;

use domain::event::event_types;
use domain::DomainEvent;
use serde_json::{json, Map, Value};
use utoipa::{PartialSchema, ToSchema};

/// One aggregate's events: its stream type, every event type, and each one's payload schema.
pub struct StreamDoc {
    pub stream_type: &'static str,
    pub events: Vec<(String, Value)>,
    /// Component schemas the payloads refer to.
    pub components: Vec<(String, Value)>,
}

/// The event types of `E` with the payload schemas utoipa generates from it. An adjacently
/// tagged enum's schema is a `oneOf` of `{type: <event type>, data: <payload>}`: split it.
fn typed<E: DomainEvent + ToSchema>() -> StreamDoc {
    let schema = serde_json::to_value(<E as PartialSchema>::schema()).unwrap_or(Value::Null);
    let mut payloads: BTreeMap<String, Value> = BTreeMap::new();
    for variant in schema["oneOf"].as_array().into_iter().flatten() {
        if let Some(t) = variant["properties"]["type"]["enum"][0].as_str() {
            payloads.insert(t.to_string(), variant["properties"]["data"].clone());
        }
    }
    let mut refs = Vec::new();
    <E as ToSchema>::schemas(&mut refs);
    let components = refs.into_iter().map(|(name, s)| (name, serde_json::to_value(s).unwrap_or(Value::Null))).collect();
    // Every variant serde knows is documented, with its generated schema or, should the two ever
    // disagree, an open object rather than a silent omission.
    let events = event_types::<E>()
        .into_iter()
        .map(|t| {
            let s = payloads.remove(&t).unwrap_or_else(|| json!({ "type": "object" }));
            (t, s)
        })
        .collect();
    StreamDoc { stream_type: E::STREAM_TYPE, events, components }
}

/// Every aggregate's events.
pub fn streams() -> Vec<StreamDoc> {
    use domain::*;
    vec![
        typed::<organization::OrganizationEvent>(),
        typed::<user::UserEvent>(),
        typed::<group::GroupEvent>(),
        typed::<department::DepartmentEvent>(),
        typed::<location::LocationEvent>(),
        typed::<security_group::SecurityGroupEvent>(),
        typed::<sso::SsoEvent>(),
        typed::<media::MediaEvent>(),
        typed::<permission::RoleGrantEvent>(),
        typed::<subscription::SubscriptionEvent>(),
        typed::<profile_field::ProfileFieldEvent>(),
        typed::<follow::FollowEvent>(),
        typed::<category::CategoryEvent>(),
        typed::<post::PostEvent>(),
        typed::<conversation::ConversationEvent>(),
        typed::<calendar::CalendarEventEvent>(),
        typed::<library::VideoEvent>(),
        typed::<library::PhotoEvent>(),
        typed::<library::KbDocumentEvent>(),
        typed::<library::FaqKbEvent>(),
        typed::<library::CourseEvent>(),
        typed::<library::EnforcementTemplateEvent>(),
        typed::<task::TaskEvent>(),
        typed::<notification::NotificationEvent>(),
    ]
}

/// The AsyncAPI 3.1 document, for subjects under `prefix`.
pub fn document(prefix: &str) -> Value {
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let mut schemas = Map::new();
    let envelope = serde_json::to_value(<crate::roster::EventEnvelope as PartialSchema>::schema()).unwrap_or(Value::Null);
    schemas.insert("Envelope".into(), envelope);
    for stream in streams() {
        for (name, schema) in stream.components {
            schemas.insert(name, schema);
        }
        for (event_type, payload) in stream.events {
            let channel = format!("{}.{event_type}", stream.stream_type);
            channels.insert(
                channel.clone(),
                json!({
                    "address": format!("{prefix}.{{org_id}}.{}.{{stream_id}}.{event_type}", stream.stream_type),
                    "title": format!("{event_type} on {} streams", stream.stream_type),
                    "parameters": {
                        "org_id": { "description": "The organization's id; `_` for system events." },
                        "stream_id": { "description": "The entity's id (UUID)." },
                    },
                    "messages": { event_type.clone(): { "$ref": format!("#/components/messages/{event_type}") } },
                }),
            );
            operations.insert(
                format!("receive{event_type}"),
                json!({
                    "action": "receive",
                    "channel": { "$ref": format!("#/channels/{channel}") },
                    "messages": [{ "$ref": format!("#/channels/{channel}/messages/{event_type}") }],
                }),
            );
            messages.insert(event_type.clone(), json!({
                "name": event_type,
                "contentType": "application/json",
                "headers": {
                    "type": "object",
                    "properties": {
                        "Nats-Msg-Id": { "type": "string", "format": "uuid", "description": "The event id; JetStream drops a duplicate." },
                        "Roster-Position": { "type": "string", "description": "The event's position in the log (opaque, ordered)." },
                    },
                },
                "payload": {
                    "allOf": [
                        { "$ref": "#/components/schemas/Envelope" },
                        {
                            "type": "object",
                            "properties": {
                                "stream_type": { "const": stream.stream_type },
                                "event_type": { "const": event_type },
                                "payload": payload,
                            },
                        },
                    ],
                },
            }));
        }
    }
    json!({
        "asyncapi": "3.1.0",
        "info": {
            "title": "Roster events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every change in Roster, in log order, on NATS JetStream (stream ROSTER_EVENTS by default). \
                            The body is the event envelope, the same one GET /events returns; `payload` is the event's \
                            data in the shape of its `schema_rev`. See docs/subscribers.md.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": { "messages": messages, "schemas": schemas },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document("roster.events");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 10);
        for r in all {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
        let updated = &doc["components"]["messages"]["UserUpdated"]["payload"]["allOf"][1]["properties"]["payload"];
        assert!(updated.to_string().contains("updated_by") && updated.to_string().contains("UserPatch"), "{updated}");
    }
}
