//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON in pure code: every operation in order
//! on a copy, so that one failing operation leaves nothing applied; the handler then stores the
//! result as one change. Tolerated client deviations: PascalCase `op` (Entra), no-path `replace`
//! whose keys are paths (`name.givenName`, URN-qualified), `emails[type eq "work"].value` on a
//! value that does not exist yet (it is created, as Entra expects), `remove` of `members` with a
//! `value` list (Entra's member removal).

use projections::scim::{parse_path, CompValue, CompareOp, Filter, PatchPath};
use serde_json::{Map, Value};

use super::{ScimError, ENTERPRISE_URN, GROUP_URN, USER_URN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub op: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Most operations in one PATCH.
pub const MAX_OPERATIONS: usize = 1000;

pub fn parse_ops(body: &Value) -> Result<Vec<Op>, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::bad("invalidSyntax", "body: must be a PatchOp object"))?;
    let ops = match super::users::get(obj, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => return Err(ScimError::bad("invalidSyntax", "Operations: must be a non-empty list")),
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::bad("tooMany", format!("Operations: at most {MAX_OPERATIONS}")));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let o = op.as_object().ok_or_else(|| ScimError::bad("invalidSyntax", format!("Operations[{i}]: must be an object")))?;
            let kind = match super::users::get(o, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
                Some("add") => OpKind::Add,
                Some("replace") => OpKind::Replace,
                Some("remove") => OpKind::Remove,
                _ => return Err(ScimError::bad("invalidSyntax", format!("Operations[{i}].op: must be add, replace or remove"))),
            };
            let path = match super::users::get(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_string()),
                Some(_) => return Err(ScimError::bad("invalidPath", format!("Operations[{i}].path: must be a string"))),
            };
            let value = super::users::get(o, "value").filter(|v| !v.is_null()).cloned();
            match (kind, &path, &value) {
                (OpKind::Remove, None, _) => Err(ScimError::bad("noTarget", format!("Operations[{i}]: remove needs a path"))),
                (OpKind::Add | OpKind::Replace, _, None) => Err(ScimError::invalid_value(format!("Operations[{i}].value: is required"))),
                _ => Ok(Op { op: kind, path, value }),
            }
        })
        .collect()
}

fn key_of(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn read_only(kind: Kind, name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "id" | "meta" | "schemas") || (kind == Kind::User && n == "groups")
}

/// Applies `ops` to `doc` in order. Any failure is the request's answer and nothing is kept.
pub fn apply(mut doc: Value, ops: &[Op], kind: Kind) -> Result<Value, ScimError> {
    for (i, op) in ops.iter().enumerate() {
        let root = doc.as_object_mut().ok_or_else(|| ScimError::bad("invalidSyntax", "the resource is not an object"))?;
        apply_one(root, op, kind).map_err(|mut e| {
            e.detail = format!("Operations[{i}]: {}", e.detail);
            e
        })?;
    }
    Ok(doc)
}

fn apply_one(root: &mut Map<String, Value>, op: &Op, kind: Kind) -> Result<(), ScimError> {
    match &op.path {
        None => {
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::invalid_value("value: must be an object when there is no path"));
            };
            for (k, v) in values {
                if k.eq_ignore_ascii_case(ENTERPRISE_URN) {
                    let Value::Object(ext) = v else { return Err(ScimError::invalid_value(format!("{k}: must be an object"))) };
                    for (ek, ev) in ext {
                        apply_path(root, &format!("{ENTERPRISE_URN}:{ek}"), op.op, Some(ev), kind)?;
                    }
                } else {
                    apply_path(root, k, op.op, Some(v), kind)?;
                }
            }
            Ok(())
        }
        Some(path) => apply_path(root, path, op.op, op.value.as_ref(), kind),
    }
}

fn invalid_path(path: &str, why: impl std::fmt::Display) -> ScimError {
    ScimError::bad("invalidPath", format!("path '{path}': {why}"))
}

fn apply_path(root: &mut Map<String, Value>, raw: &str, op: OpKind, value: Option<&Value>, kind: Kind) -> Result<(), ScimError> {
    // The extension's own URN names the whole extension object.
    if raw.eq_ignore_ascii_case(ENTERPRISE_URN) {
        if kind != Kind::User {
            return Err(invalid_path(raw, "no such schema on this resource"));
        }
        return match (op, value) {
            (OpKind::Remove, _) => {
                if let Some(k) = key_of(root, ENTERPRISE_URN) {
                    root.remove(&k);
                }
                Ok(())
            }
            (_, Some(Value::Object(ext))) => {
                for (ek, ev) in ext {
                    apply_path(root, &format!("{ENTERPRISE_URN}:{ek}"), op, Some(ev), kind)?;
                }
                Ok(())
            }
            _ => Err(ScimError::invalid_value(format!("{raw}: must be an object"))),
        };
    }
    let path = parse_path(raw).map_err(|e| invalid_path(raw, e))?;
    let container: &mut Map<String, Value> = match path.attr.urn.as_deref() {
        None => root,
        Some(u) if kind == Kind::User && u.eq_ignore_ascii_case(USER_URN) => root,
        Some(u) if kind == Kind::Group && u.eq_ignore_ascii_case(GROUP_URN) => root,
        Some(u) if kind == Kind::User && u.eq_ignore_ascii_case(ENTERPRISE_URN) => {
            let k = key_of(root, ENTERPRISE_URN).unwrap_or_else(|| ENTERPRISE_URN.to_string());
            let ext = root.entry(k).or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            ext.as_object_mut().expect("made an object above")
        }
        Some(u) => return Err(invalid_path(raw, format!("unknown schema '{u}'"))),
    };
    let in_extension = path.attr.urn.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE_URN));
    if !in_extension && read_only(kind, &path.attr.name) {
        return Err(ScimError::bad("mutability", format!("{}: is read-only", path.attr.name)));
    }
    let name = key_of(container, &path.attr.name).unwrap_or_else(|| path.attr.name.clone());
    match (&path.filter, &path.attr.sub) {
        (None, None) => whole(container, &name, op, value),
        (None, Some(sub)) => {
            let target = container.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()));
            if target.is_null() {
                *target = Value::Object(Map::new());
            }
            let Value::Object(o) = target else { return Err(invalid_path(raw, format!("'{name}' has no sub-attributes"))) };
            let sk = key_of(o, sub).unwrap_or_else(|| sub.clone());
            match (op, value) {
                (OpKind::Remove, _) => {
                    o.remove(&sk);
                }
                (_, Some(v)) => {
                    o.insert(sk, v.clone());
                }
                _ => {}
            }
            Ok(())
        }
        (Some(filter), _) => filtered(container, &name, &path, filter, path.sub.as_deref(), op, value, raw),
    }
}

/// An operation on a whole attribute.
fn whole(container: &mut Map<String, Value>, name: &str, op: OpKind, value: Option<&Value>) -> Result<(), ScimError> {
    match op {
        OpKind::Remove => {
            match (container.get_mut(name), value) {
                // Entra removes members by listing them in `value`.
                (Some(Value::Array(items)), Some(Value::Array(gone))) => {
                    let gone: Vec<String> = gone.iter().filter_map(member_value).collect();
                    items.retain(|i| member_value(i).is_none_or(|v| !gone.contains(&v)));
                }
                _ => {
                    container.remove(name);
                }
            }
            Ok(())
        }
        OpKind::Add => {
            let v = value.cloned().unwrap_or(Value::Null);
            match (container.get_mut(name), v) {
                (Some(Value::Array(items)), Value::Array(new)) => {
                    for n in new {
                        if !items.contains(&n) {
                            items.push(n);
                        }
                    }
                }
                (Some(Value::Array(items)), n) => {
                    if !items.contains(&n) {
                        items.push(n);
                    }
                }
                (Some(Value::Object(o)), Value::Object(new)) => o.extend(new),
                (_, v) => {
                    container.insert(name.to_string(), v);
                }
            }
            Ok(())
        }
        OpKind::Replace => {
            let v = value.cloned().unwrap_or(Value::Null);
            match (container.get_mut(name), v) {
                // Sub-attributes not named are left unchanged (RFC 7644 §3.5.2.3).
                (Some(Value::Object(o)), Value::Object(new)) => o.extend(new),
                (_, v) => {
                    container.insert(name.to_string(), v);
                }
            }
            Ok(())
        }
    }
}

/// `value` of a member-like entry (`{"value": "…"}`), lowercased for comparison; ids are UUIDs.
fn member_value(v: &Value) -> Option<String> {
    match v {
        Value::Object(o) => key_of(o, "value").and_then(|k| o[&k].as_str().map(str::to_lowercase)),
        Value::String(s) => Some(s.to_lowercase()),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn filtered(
    container: &mut Map<String, Value>,
    name: &str,
    path: &PatchPath,
    filter: &Filter,
    sub: Option<&str>,
    op: OpKind,
    value: Option<&Value>,
    raw: &str,
) -> Result<(), ScimError> {
    let items = match container.entry(name.to_string()).or_insert_with(|| Value::Array(vec![])) {
        Value::Array(items) => items,
        v if v.is_null() => {
            *v = Value::Array(vec![]);
            v.as_array_mut().expect("made an array above")
        }
        _ => return Err(invalid_path(raw, format!("'{}' is not multi-valued", path.attr.name))),
    };
    let hits: Vec<usize> = items.iter().enumerate().filter(|(_, i)| matches(i, filter)).map(|(n, _)| n).collect();
    match (op, sub) {
        (OpKind::Remove, None) => {
            let mut n = 0;
            items.retain(|_| {
                let keep = !hits.contains(&n);
                n += 1;
                keep
            });
        }
        (OpKind::Remove, Some(sub)) => {
            for &h in &hits {
                if let Some(o) = items[h].as_object_mut() {
                    if let Some(k) = key_of(o, sub) {
                        o.remove(&k);
                    }
                }
            }
        }
        (_, Some(sub)) => {
            let v = value.cloned().unwrap_or(Value::Null);
            if hits.is_empty() {
                let mut new = equalities(filter).ok_or_else(|| ScimError::bad("noTarget", format!("path '{raw}': no value matches")))?;
                new.insert(sub.to_string(), v.clone());
                items.push(Value::Object(new));
            }
            for &h in &hits {
                if let Some(o) = items[h].as_object_mut() {
                    let k = key_of(o, sub).unwrap_or_else(|| sub.to_string());
                    o.insert(k, v.clone());
                }
            }
        }
        (_, None) => {
            let Some(Value::Object(new)) = value else {
                return Err(ScimError::invalid_value(format!("path '{raw}': value must be an object")));
            };
            if hits.is_empty() {
                if op == OpKind::Replace {
                    return Err(ScimError::bad("noTarget", format!("path '{raw}': no value matches")));
                }
                let mut made = equalities(filter).unwrap_or_default();
                made.extend(new.clone());
                items.push(Value::Object(made));
            }
            for &h in &hits {
                if let Some(o) = items[h].as_object_mut() {
                    o.extend(new.clone());
                }
            }
        }
    }
    Ok(())
}

/// The attribute values a filter of `eq`s joined by `and` pins down: what a value created for
/// an unmatched path holds (`emails[type eq "work"].value` → `{"type": "work"}`).
fn equalities(f: &Filter) -> Option<Map<String, Value>> {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value } if path.sub.is_none() => {
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Num(n) => serde_json::Number::from_f64(*n).map(Value::Number)?,
                CompValue::Null => return None,
            };
            let mut m = Map::new();
            m.insert(path.name.clone(), v);
            Some(m)
        }
        Filter::And(a, b) => {
            let mut m = equalities(a)?;
            m.extend(equalities(b)?);
            Some(m)
        }
        _ => None,
    }
}

/// Whether one value of a multi-valued attribute matches a value filter. Strings compare
/// case-insensitively: the sub-attributes met here (`type`, `value` of emails, member ids) are
/// not case-exact.
pub fn matches(item: &Value, f: &Filter) -> bool {
    match f {
        Filter::And(a, b) => matches(item, a) && matches(item, b),
        Filter::Or(a, b) => matches(item, a) || matches(item, b),
        Filter::Not(a) => !matches(item, a),
        Filter::ValuePath { .. } => false,
        Filter::Present(p) => field(item, &p.name).is_some_and(|v| !v.is_null() && v != &Value::String(String::new())),
        Filter::Compare { path, op, value } => {
            let Some(have) = field(item, &path.name) else { return matches!(op, CompareOp::Ne) && *value != CompValue::Null };
            match (have, value) {
                (Value::Null, CompValue::Null) => *op == CompareOp::Eq,
                (Value::Bool(h), CompValue::Bool(w)) => match op {
                    CompareOp::Eq => h == w,
                    CompareOp::Ne => h != w,
                    _ => false,
                },
                (Value::String(h), CompValue::Bool(w)) => super::users::boolean(&Value::String(h.clone()), "")
                    .ok()
                    .flatten()
                    .map(|h| (h == *w) == (*op == CompareOp::Eq))
                    .unwrap_or(false),
                (Value::String(h), CompValue::Str(w)) => {
                    let (h, w) = (h.to_lowercase(), w.to_lowercase());
                    match op {
                        CompareOp::Eq => h == w,
                        CompareOp::Ne => h != w,
                        CompareOp::Co => h.contains(&w),
                        CompareOp::Sw => h.starts_with(&w),
                        CompareOp::Ew => h.ends_with(&w),
                        CompareOp::Gt => h > w,
                        CompareOp::Ge => h >= w,
                        CompareOp::Lt => h < w,
                        CompareOp::Le => h <= w,
                    }
                }
                (Value::Number(h), CompValue::Num(w)) => {
                    let h = h.as_f64().unwrap_or(f64::NAN);
                    match op {
                        CompareOp::Eq => h == *w,
                        CompareOp::Ne => h != *w,
                        CompareOp::Gt => h > *w,
                        CompareOp::Ge => h >= *w,
                        CompareOp::Lt => h < *w,
                        CompareOp::Le => h <= *w,
                        _ => false,
                    }
                }
                _ => *op == CompareOp::Ne,
            }
        }
    }
}

fn field<'a>(item: &'a Value, name: &str) -> Option<&'a Value> {
    item.as_object().and_then(|o| key_of(o, name).map(|k| &o[&k]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(doc: Value, ops: Value, kind: Kind) -> Result<Value, ScimError> {
        apply(doc, &parse_ops(&json!({ "schemas": [super::super::PATCH_URN], "Operations": ops }))?, kind)
    }

    fn user() -> Value {
        json!({"userName": "a", "name": {"givenName": "A", "familyName": "B"}, "active": true,
               "emails": [{"value": "a@x.co", "type": "work", "primary": true}], ENTERPRISE_URN: {"department": "D"}})
    }

    #[test]
    fn entra_style_operations() {
        let out = run(
            user(),
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x.co"},
                {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555"},
                {"op": "Replace", "value": {"name.givenName": "Ann", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "E"}},
                {"op": "Remove", "path": "name.familyName"},
            ]),
            Kind::User,
        )
        .unwrap();
        assert_eq!(out["active"], "False");
        assert_eq!(out["emails"], json!([{"value": "new@x.co", "type": "work", "primary": true}]));
        assert_eq!(out["phoneNumbers"], json!([{"type": "work", "value": "+1 555"}]));
        assert_eq!(out["name"], json!({"givenName": "Ann"}));
        assert_eq!(out[ENTERPRISE_URN]["department"], "E");
    }

    #[test]
    fn group_members_add_and_remove() {
        let g = json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}]});
        let out = run(
            g.clone(),
            json!([
                {"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u1"}]},
                {"op": "remove", "path": "members[value eq \"U2\"]"},
            ]),
            Kind::Group,
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "u1"}, {"value": "u3"}]));
        let out = run(g.clone(), json!([{"op": "remove", "path": "members", "value": [{"value": "u1"}]}]), Kind::Group).unwrap();
        assert_eq!(out["members"], json!([{"value": "u2"}]));
        let out = run(g, json!([{"op": "remove", "path": "members"}]), Kind::Group).unwrap();
        assert!(out.get("members").is_none());
    }

    #[test]
    fn bad_operations_name_the_problem() {
        let e = run(user(), json!([{"op": "move", "path": "x"}]), Kind::User).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidSyntax"));
        let e = run(user(), json!([{"op": "remove"}]), Kind::User).unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = run(user(), json!([{"op": "replace", "path": "emails[type eq", "value": 1}]), Kind::User).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidPath"));
        let e = run(user(), json!([{"op": "replace", "path": "id", "value": "x"}]), Kind::User).unwrap_err();
        assert_eq!(e.scim_type, Some("mutability"));
        let e = run(user(), json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x.co"}}]), Kind::User)
            .unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
        assert!(e.detail.starts_with("Operations[0]"));
    }
}
