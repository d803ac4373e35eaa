//! Request bodies: a User Group object in JSON or XML.

use super::*;

/// A User Group object as a client sends it: `{"group": {...}}` or `<group>...</group>`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct GroupIn {
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub id: Option<Value>,
    #[serde(default)]
    pub name: Option<String>,
    /// User ids (integers); for add-users also emails.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub users: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupEnvelopeIn {
    pub group: GroupIn,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct XmlGroupIn {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) users: Option<XmlUsersIn>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct XmlUsersIn {
    #[serde(default)]
    pub(super) user: Vec<String>,
}

/// The group of a request body; `users` as strings (ids or emails).
pub(super) struct Parsed {
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) users: Option<Vec<String>>,
}

/// Publisher's answer to a body in a format it does not read (also in `/openapi.json`).
pub const UNSUPPORTED_MEDIA_TYPE: StatusCode = StatusCode::UNSUPPORTED_MEDIA_TYPE;

pub(super) fn parse_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Parsed, Failure> {
    let Some(input) = content_type(headers) else {
        return Err(Failure::Status(UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json or application/xml".into()));
    };
    let bad = |m: String| Failure::Status(StatusCode::BAD_REQUEST, m);
    match input {
        Format::Json => {
            crate::kernel::dialect::refuse_nul_in_json_bytes(bytes).map_err(|e| bad(e.message()))?;
            let env: GroupEnvelopeIn = crate::kernel::strict_json::from_slice(bytes).map_err(|e| bad(format!("body: {e}")))?;
            let g = env.group;
            let scalar = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            let users =
                match g.users {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(a)) => Some(
                        a.iter()
                            .map(|u| scalar(u).ok_or_else(|| bad("users: each entry must be an id or an email".into())))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    Some(_) => return Err(bad("users: must be a list".into())),
                };
            Ok(Parsed { id: g.id.as_ref().and_then(scalar), name: g.name, users })
        }
        Format::Xml => {
            let text = std::str::from_utf8(bytes).map_err(|_| bad("body: not UTF-8".into()))?;
            let g: XmlGroupIn = quick_xml::de::from_str(text).map_err(|e| bad(format!("body: {e}")))?;
            // XML 1.0 has no U+0000, but a character reference (`&#0;`) still decodes to it.
            let nul = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains('\0'));
            if nul(&g.id) || nul(&g.name) || g.users.as_ref().is_some_and(|u| u.user.iter().any(|s| s.contains('\0'))) {
                let field = if nul(&g.id) {
                    "id"
                } else if nul(&g.name) {
                    "name"
                } else {
                    "users"
                };
                return Err(bad(format!("{field}: {}", crate::kernel::dialect::NUL_MESSAGE)));
            }
            Ok(Parsed { id: g.id, name: g.name, users: g.users.map(|u| u.user) })
        }
    }
}
