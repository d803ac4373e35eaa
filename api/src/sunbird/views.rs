//! Groups and members as Sunbird renders them.

use super::*;

pub(super) fn put(map: &mut Map<String, Value>, key: &str, v: Option<impl Into<Value>>) {
    // Jackson NON_NULL: absent rather than null.
    if let Some(v) = v {
        map.insert(key.into(), v.into());
    }
}

pub(super) fn group_object(g: &GroupRow) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), g.id.to_string().into());
    m.insert("name".into(), g.name.clone().into());
    put(&mut m, "description", g.description.clone());
    m.insert("status".into(), g.status.clone().into());
    m.insert("membershipType".into(), g.membership_type.clone().into());
    m.insert("createdOn".into(), ts(g.created_at).into());
    put(&mut m, "createdBy", g.created_by.map(|u| u.to_string()));
    m.insert("updatedOn".into(), ts(g.updated_at).into());
    put(&mut m, "updatedBy", g.updated_by.map(|u| u.to_string()));
    m.insert("activities".into(), g.activities.clone());
    m
}

pub(super) fn member_object(group: Uuid, r: &queries::MemberRecord) -> Value {
    let mut m = Map::new();
    m.insert("userId".into(), r.user_id.to_string().into());
    m.insert("groupId".into(), group.to_string().into());
    m.insert("role".into(), r.role.clone().into());
    m.insert("status".into(), r.status.clone().into());
    m.insert("createdOn".into(), ts(r.added_at).into());
    put(&mut m, "createdBy", r.added_by.map(|u| u.to_string()));
    put(&mut m, "updatedOn", r.updated_at.map(ts));
    put(&mut m, "updatedBy", r.updated_by.map(|u| u.to_string()));
    put(&mut m, "removedOn", r.removed_at.map(ts));
    put(&mut m, "removedBy", r.removed_by.map(|u| u.to_string()));
    m.insert("visited".into(), r.visited.into());
    m.insert("name".into(), format!("{} {}", r.first_name, r.last_name).trim().to_string().into());
    Value::Object(m)
}

/// The partial-success `error` block; `None` when everything was applied.
pub(super) fn error_block(issues: &[Issue], members_limit: (&str, String), activities_limit: (&str, String)) -> Option<Value> {
    let mut members = Vec::new();
    let mut acts = Vec::new();
    for i in issues {
        match i {
            Issue::MemberExists(u) => members.push(json!({"userId": u, "errorCode": "MEMBER_EXISTS"})),
            Issue::MemberNotFound(u) => members.push(json!({"userId": u, "errorCode": "MEMBER_NOT_FOUND"})),
            Issue::TooManyMembers => members.push(json!({"errorCode": members_limit.0, "errorMessage": members_limit.1})),
            Issue::TooManyActivities => acts.push(json!({"errorCode": activities_limit.0, "errorMessage": activities_limit.1})),
        }
    }
    let mut block = Map::new();
    if !members.is_empty() {
        block.insert("members".into(), members.into());
    }
    if !acts.is_empty() {
        block.insert("activities".into(), acts.into());
    }
    (!block.is_empty()).then_some(Value::Object(block))
}
