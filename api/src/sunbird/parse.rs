//! Reading the fields of a Sunbird request, each refusal in the operation's error code.

use super::*;

pub(super) fn opt_str<'a>(req: &'a Map<String, Value>, key: &str, op: &Op) -> Result<Option<&'a str>, Fail> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(op.invalid()),
    }
}

pub(super) fn required_str<'a>(req: &'a Map<String, Value>, key: &str, op: &Op) -> Result<&'a str, Fail> {
    opt_str(req, key, op)?.filter(|s| !s.trim().is_empty()).ok_or_else(|| op.invalid())
}

pub(super) fn user_id(raw: &Value, op: &Op) -> Result<UserId, Fail> {
    raw.as_str().and_then(|s| Uuid::parse_str(s.trim()).ok()).map(UserId).ok_or_else(|| op.invalid())
}

pub(super) fn group_id(raw: &str, op: &Op) -> Result<GroupId, Fail> {
    // An id that is no UUID names no group.
    Uuid::parse_str(raw.trim()).map(GroupId).map_err(|_| op.not_found())
}

pub(super) fn role(v: Option<&Value>, op: &Op) -> Result<MemberRole, Fail> {
    match v {
        None | Some(Value::Null) => Ok(MemberRole::Member),
        Some(Value::String(s)) => MemberRole::parse(s).ok_or_else(|| op.invalid()),
        Some(_) => Err(op.invalid()),
    }
}

pub(super) fn array<'a>(v: Option<&'a Value>, op: &Op) -> Result<&'a [Value], Fail> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(op.invalid()),
    }
}

pub(super) fn activities(v: Option<&Value>, op: &Op) -> Result<Vec<Activity>, Fail> {
    array(v, op)?
        .iter()
        .map(|a| {
            let id = a.get("id").and_then(Value::as_str).ok_or_else(|| op.invalid())?;
            let kind = a.get("type").and_then(Value::as_str).ok_or_else(|| op.invalid())?;
            Activity::parse("activities", id, kind).map_err(|_| op.invalid())
        })
        .collect()
}

pub(super) fn membership_type(req: &Map<String, Value>, op: &Op) -> Result<Option<MembershipType>, Fail> {
    opt_str(req, "membershipType", op)?.map(|m| MembershipType::parse(m).ok_or_else(|| op.invalid())).transpose()
}
