//! Time travel: an entity's state at an instant, folded from its stream's events, and what
//! changed between two states. Pure folds over stored payloads (already upcast), one per entity
//! type: users and groups get their own, every other stream the generic one.
//!
//! The state is a JSON object: the creation event's fields (a user's `profile` fields flattened
//! beside the others), every later update's fields applied (`null` clears), `deleted`, and for a
//! group its `members` (`user id → role`). Who-did-it fields (`created_by`, `updated_by`, ...)
//! are the audit trail's business, not the state's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// One stored event of a stream, in version order.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub event_type: String,
    pub recorded_at: DateTime<Utc>,
    pub payload: Value,
}

/// The state of a `stream_type` entity after `events`; `None` before it was created.
pub fn fold(stream_type: &str, events: &[Recorded]) -> Option<Value> {
    let mut state: Option<Map<String, Value>> = None;
    for e in events {
        let payload = e.payload.as_object().cloned().unwrap_or_default();
        match (stream_type, e.event_type.as_str()) {
            ("user", "UserCreated") => {
                let mut s = payload;
                if let Some(Value::Object(profile)) = s.remove("profile") {
                    s.extend(profile);
                }
                state = Some(created(s));
            }
            ("user", "UserUpdated") => {
                let Some(s) = state.as_mut() else { continue };
                for (k, v) in payload {
                    match k.as_str() {
                        "add_additional_teams" => add_all(s, "additional_teams", v),
                        "remove_additional_teams" => remove_all(s, "additional_teams", v),
                        "add_additional_locations" => add_all(s, "additional_locations", v),
                        _ => set(s, k, v),
                    }
                }
            }
            ("group", "GroupCreated") => {
                let mut s = created(payload);
                s.insert("members".into(), Value::Object(Map::new()));
                state = Some(s);
            }
            ("group", "GroupMemberAdded") => {
                let (Some(s), Some(user)) = (state.as_mut(), payload.get("user_id").and_then(Value::as_str)) else { continue };
                let role = payload.get("role").cloned().unwrap_or(Value::Null);
                if let Some(Value::Object(m)) = s.get_mut("members") {
                    m.insert(user.to_string(), role);
                }
            }
            ("group", "GroupMemberRemoved") => {
                let (Some(s), Some(user)) = (state.as_mut(), payload.get("user_id").and_then(Value::as_str)) else { continue };
                if let Some(Value::Object(m)) = s.get_mut("members") {
                    m.remove(user);
                }
            }
            (_, t) if t.ends_with("Created") && state.is_none() => state = Some(created(payload)),
            (_, t) if t.ends_with("Updated") => {
                if let Some(s) = state.as_mut() {
                    for (k, v) in payload {
                        set(s, k, v);
                    }
                }
            }
            (_, t) if t.ends_with("Deleted") => {
                if let Some(s) = state.as_mut() {
                    s.insert("deleted".into(), Value::Bool(true));
                }
            }
            // Facts that change no field (tokens issued, a password set, notices, ...).
            _ => {}
        }
    }
    state.map(Value::Object)
}

/// The events recorded at or before `at` (a stream's events are in version order, so a prefix).
pub fn up_to(events: &[Recorded], at: DateTime<Utc>) -> &[Recorded] {
    let n = events.iter().position(|e| e.recorded_at > at).unwrap_or(events.len());
    &events[..n]
}

fn is_actor_field(k: &str) -> bool {
    k.ends_with("_by")
}

fn created(mut s: Map<String, Value>) -> Map<String, Value> {
    s.retain(|k, _| !is_actor_field(k));
    s.insert("deleted".into(), Value::Bool(false));
    s
}

fn set(s: &mut Map<String, Value>, k: String, v: Value) {
    if !is_actor_field(&k) {
        s.insert(k, v);
    }
}

fn add_all(s: &mut Map<String, Value>, field: &str, items: Value) {
    let list = s.entry(field.to_string()).or_insert_with(|| Value::Array(vec![]));
    if let (Value::Array(list), Value::Array(items)) = (list, items) {
        for i in items {
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
}

fn remove_all(s: &mut Map<String, Value>, field: &str, items: Value) {
    if let (Some(Value::Array(list)), Value::Array(items)) = (s.get_mut(field), items) {
        list.retain(|i| !items.contains(i));
    }
}

/// One field that differs between two states; nested objects are compared field by field
/// (`members.<user id>`), lists and values as a whole. `null` old = absent or unset then.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// What changed from `old` to `new` (either may be absent: not created yet), sorted by field.
pub fn diff(old: Option<&Value>, new: Option<&Value>) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", old.unwrap_or(&Value::Null), new.unwrap_or(&Value::Null), &mut out);
    out
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeMap<&String, ()> = a.keys().chain(b.keys()).map(|k| (k, ())).collect();
            for k in keys.keys() {
                let p = if path.is_empty() { (*k).clone() } else { format!("{path}.{k}") };
                walk(&p, a.get(*k).unwrap_or(&Value::Null), b.get(*k).unwrap_or(&Value::Null), out);
            }
        }
        (Value::Null, Value::Object(b)) if !path.is_empty() || !b.is_empty() => walk(path, &Value::Object(Map::new()), new, out),
        (Value::Object(a), Value::Null) if !path.is_empty() || !a.is_empty() => walk(path, old, &Value::Object(Map::new()), out),
        (a, b) if a != b => out.push(Change { field: path.to_string(), old: a.clone(), new: b.clone() }),
        _ => {}
    }
}

/// A stretch of time a user was a member of a group: from `from` until `until` (open = still).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

/// Every stretch `user` was a member of the group whose stream is `events` (a removal or the
/// group's deletion ends one).
pub fn memberships(events: &[Recorded], user: &str) -> Vec<Membership> {
    let mut out: Vec<Membership> = Vec::new();
    let mut open: Option<DateTime<Utc>> = None;
    for e in events {
        let about_user = e.payload.get("user_id").and_then(Value::as_str) == Some(user);
        match e.event_type.as_str() {
            "GroupMemberAdded" if about_user && open.is_none() => open = Some(e.recorded_at),
            "GroupMemberRemoved" if about_user => {
                if let Some(from) = open.take() {
                    out.push(Membership { from, until: Some(e.recorded_at) });
                }
            }
            "GroupDeleted" => {
                if let Some(from) = open.take() {
                    out.push(Membership { from, until: Some(e.recorded_at) });
                }
            }
            _ => {}
        }
    }
    if let Some(from) = open {
        out.push(Membership { from, until: None });
    }
    out
}

/// The stretch that overlaps `[start, end)` (an instant: `end` = `start` + 1 µs), if any.
pub fn member_during(stretches: &[Membership], start: DateTime<Utc>, end: DateTime<Utc>) -> Option<&Membership> {
    stretches.iter().find(|m| m.from < end && m.until.is_none_or(|u| u > start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s as i64, 0).unwrap()
    }

    fn ev(t: &str, s: u32, payload: Value) -> Recorded {
        Recorded { event_type: t.into(), recorded_at: at(s), payload }
    }

    #[test]
    fn a_user_folds_and_diffs() {
        let events = vec![
            ev(
                "UserCreated",
                0,
                json!({"id": "u", "email": "a@b.c", "first_name": "A", "created_by": "x", "profile": {"phone": null, "additional_teams": []}}),
            ),
            ev("UserUpdated", 10, json!({"phone": "123", "updated_by": "x", "add_additional_teams": ["t1", "t2"]})),
            ev("AccessTokenIssued", 15, json!({"token_id": "k"})),
            ev("UserUpdated", 20, json!({"phone": null, "remove_additional_teams": ["t1"], "updated_by": "x"})),
            ev("UserDeleted", 30, json!({"deleted_by": "x"})),
        ];
        assert_eq!(
            fold("user", up_to(&events, at(5))),
            Some(json!({"id": "u", "email": "a@b.c", "first_name": "A", "phone": null, "additional_teams": [], "deleted": false}))
        );
        let mid = fold("user", up_to(&events, at(10))).unwrap();
        assert_eq!(mid["phone"], "123");
        assert_eq!(mid["additional_teams"], json!(["t1", "t2"]));
        let late = fold("user", up_to(&events, at(30))).unwrap();
        assert_eq!(late["additional_teams"], json!(["t2"]));
        assert_eq!(late["deleted"], true);
        assert_eq!(fold("user", up_to(&events, DateTime::from_timestamp(0, 0).unwrap())), None);
        assert_eq!(
            diff(Some(&mid), Some(&late)),
            vec![
                Change { field: "additional_teams".into(), old: json!(["t1", "t2"]), new: json!(["t2"]) },
                Change { field: "deleted".into(), old: json!(false), new: json!(true) },
                Change { field: "phone".into(), old: json!("123"), new: Value::Null },
            ]
        );
    }

    #[test]
    fn group_members_over_time() {
        let events = vec![
            ev("GroupCreated", 0, json!({"name": "G"})),
            ev("GroupMemberAdded", 10, json!({"user_id": "u", "role": "member"})),
            ev("GroupMemberRemoved", 20, json!({"user_id": "u"})),
            ev("GroupMemberAdded", 30, json!({"user_id": "u", "role": "admin"})),
        ];
        let m = memberships(&events, "u");
        assert_eq!(m, vec![Membership { from: at(10), until: Some(at(20)) }, Membership { from: at(30), until: None }]);
        assert!(member_during(&m, at(15), at(16)).is_some());
        assert!(member_during(&m, at(20), at(25)).is_none(), "removed at 20");
        assert!(member_during(&m, at(5), at(10)).is_none(), "added at 10");
        assert!(member_during(&m, at(25), at(31)).is_some());
        assert!(memberships(&events, "v").is_empty());
        let g = fold("group", &events).unwrap();
        assert_eq!(g["members"], json!({"u": "admin"}));
        let before = fold("group", up_to(&events, at(25))).unwrap();
        let d = diff(Some(&before), Some(&g));
        assert_eq!(d, vec![Change { field: "members.u".into(), old: Value::Null, new: json!("admin") }]);
    }
}
