//! An operation's parameters, wherever the client put them: the query string, a JSON object body
//! or a form body (RFC 6749 style for Authenticate). Names are matched case-insensitively; a body
//! value wins over a query value of the same name. Each getter parses once and names the
//! parameter in its error.

use std::collections::{BTreeMap, HashMap};

use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{DEFAULT_PER_PAGE, PAGE, PER_PAGE};
use crate::kernel::dialect::IntBounds;
use crate::kernel::error::ApiError;

#[derive(Debug, Default)]
pub struct Params(HashMap<String, Value>);

/// A parameter that may be absent, explicitly null, or set (`utc_expiration_date`: null means
/// "never expires", absent means "the default lifetime").
#[derive(Debug, Clone, PartialEq)]
pub enum Tri<T> {
    Absent,
    Null,
    Set(T),
}

impl Params {
    pub fn from_request(parts: &Parts, body: &[u8]) -> Result<Self, ApiError> {
        let params = Self::parse(parts, body)?;
        for (name, v) in &params.0 {
            if let Some(at) = crate::kernel::dialect::nul_in_json(v) {
                return Err(ApiError::invalid(crate::kernel::dialect::field_at(name, &at), crate::kernel::dialect::NUL_MESSAGE));
            }
            if name.contains('\0') {
                return Err(ApiError::invalid(name.replace('\0', "\\u0000"), crate::kernel::dialect::NUL_MESSAGE));
            }
        }
        Ok(params)
    }

    fn parse(parts: &Parts, body: &[u8]) -> Result<Self, ApiError> {
        let mut map: HashMap<String, Value> = HashMap::new();
        let add_pairs = |map: &mut HashMap<String, Value>, pairs: Vec<(String, String)>| {
            for (k, v) in pairs {
                let k = k.to_ascii_lowercase();
                // A repeated name (`group_ids=a&group_ids=b`) is a list.
                match map.remove(&k) {
                    None => map.insert(k, Value::String(v)),
                    Some(Value::Array(mut items)) => {
                        items.push(Value::String(v));
                        map.insert(k, Value::Array(items))
                    }
                    Some(first) => map.insert(k, Value::Array(vec![first, Value::String(v)])),
                };
            }
        };
        if let Some(q) = parts.uri.query() {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(q).map_err(|e| ApiError::invalid("query", format!("cannot be read: {e}")))?;
            add_pairs(&mut map, pairs);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params(map));
        }
        let content_type = parts.headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).map_err(|e| ApiError::invalid("body", format!("cannot be read as a form: {e}")))?;
            let mut body_map = HashMap::new();
            add_pairs(&mut body_map, pairs);
            map.extend(body_map);
            return Ok(Params(map));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => {
                map.extend(obj.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)));
                Ok(Params(map))
            }
            Ok(_) => Err(ApiError::invalid("body", "must be a JSON object")),
            Err(e) => Err(ApiError::invalid("body", format!("is not valid JSON: {e}"))),
        }
    }

    fn raw(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some_and(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
    }

    /// A text value; numbers and booleans are accepted as their text. Blank is absent.
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ApiError::invalid(name, "must be a string")),
        }
    }

    /// A text value that may be empty (SetSubscriptionStatus: "" means the default status).
    pub fn str_or_empty(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.raw(name) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => self.opt_str(name),
        }
    }

    pub fn str(&self, name: &str) -> Result<String, ApiError> {
        self.opt_str(name)?.ok_or_else(|| ApiError::invalid(name, "is required"))
    }

    pub fn opt_uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.opt_str(name)?.map(|s| parse_uuid(name, &s)).transpose()
    }

    pub fn uuid(&self, name: &str) -> Result<Uuid, ApiError> {
        self.opt_uuid(name)?.ok_or_else(|| ApiError::invalid(name, "is required"))
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                "" => Ok(None),
                _ => Err(ApiError::invalid(name, format!("must be true or false, got '{s}'"))),
            },
            Some(_) => Err(ApiError::invalid(name, "must be true or false")),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, ApiError> {
        self.opt_bool(name)?.ok_or_else(|| ApiError::invalid(name, "is required"))
    }

    fn opt_int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        // JSON Schema counts `5.0` as an integer, and so do JSON clients that hold numbers as
        // doubles.
        if let Some(Value::Number(n)) = self.raw(name) {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && n.as_i64().is_none() && n.as_u64().is_none()) {
                // Past i64 (or -2^63 and below) it is simply out of every range: saturate.
                return Ok(Some(f as i64));
            }
        }
        match self.opt_str(name)? {
            None => Ok(None),
            Some(s) => s.trim().parse().map(Some).map_err(|_| ApiError::invalid(name, format!("must be an integer, got '{s}'"))),
        }
    }

    /// `page` (0 to `MAX_PAGE`) and `per_page` (1 to `MAX_PER_PAGE`, default `DEFAULT_PER_PAGE`).
    pub fn paging(&self) -> Result<(i64, i64), ApiError> {
        let bounded = |b: IntBounds, default: i64| -> Result<i64, ApiError> {
            let n = self.opt_int(b.name)?.unwrap_or(default);
            if !(b.min..=b.max).contains(&n) {
                return Err(ApiError::invalid(b.name, format!("must be between {} and {}", b.min, b.max)));
            }
            Ok(n)
        };
        Ok((bounded(PAGE, 0)?, bounded(PER_PAGE, DEFAULT_PER_PAGE)?))
    }

    /// A list of GUIDs: a JSON array, a repeated parameter, or one comma-separated value.
    pub fn opt_uuid_list(&self, name: &str) -> Result<Option<Vec<Uuid>>, ApiError> {
        let items: Vec<String> = match self.raw(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| ApiError::invalid(name, "must be a list of GUIDs")))
                .collect::<Result<_, _>>()?,
            Some(Value::String(s)) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
            Some(_) => return Err(ApiError::invalid(name, "must be a list of GUIDs")),
        };
        items.iter().enumerate().map(|(i, s)| parse_uuid(&format!("{name}[{i}]"), s)).collect::<Result<Vec<_>, _>>().map(Some)
    }

    pub fn opt_datetime(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.opt_str(name)?.map(|s| parse_datetime(name, &s)).transpose()
    }

    pub fn tri_datetime(&self, name: &str) -> Result<Tri<DateTime<Utc>>, ApiError> {
        match self.raw(name) {
            None => Ok(Tri::Absent),
            Some(Value::Null) => Ok(Tri::Null),
            Some(_) => Ok(self.opt_datetime(name)?.map(Tri::Set).unwrap_or(Tri::Null)),
        }
    }

    /// A JSON object of text values (`custom_profile_field_values`); null clears a value.
    pub fn string_map(&self, name: &str) -> Result<BTreeMap<String, Option<String>>, ApiError> {
        let Some(Value::Object(obj)) = self.raw(name) else {
            return Err(ApiError::invalid(name, "is required and must be an object of key/value pairs"));
        };
        obj.iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => return Err(ApiError::invalid(format!("{name}.{k}"), "must be a text value")),
                };
                Ok((k.clone(), v))
            })
            .collect()
    }

    /// A nested object (`contact_info`) as parameters of its own.
    pub fn object(&self, name: &str) -> Result<Option<Params>, ApiError> {
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(obj)) => Ok(Some(Params(obj.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect()))),
            Some(_) => Err(ApiError::invalid(name, "must be an object")),
        }
    }
}

fn parse_uuid(name: &str, s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s.trim()).map_err(|_| ApiError::invalid(name, format!("must be a GUID, got '{s}'")))
}

fn parse_datetime(name: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    let t = s.trim();
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc()))
        .map_err(|_| ApiError::invalid(name, format!("must be a UTC date-time like 2026-01-31T09:30:00Z, got '{s}'")))
        .and_then(|at| Ok(domain::values::check_instant(name, at)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(uri: &str, content_type: &str, body: &str) -> Result<Params, ApiError> {
        let req = axum::http::Request::builder().uri(uri).header("content-type", content_type).body(()).unwrap();
        let (parts, _) = req.into_parts();
        Params::from_request(&parts, body.as_bytes())
    }

    #[test]
    fn query_json_and_form_parameters_merge_case_insensitively() {
        let p = params("/x?User_Id=00000000-0000-0000-0000-000000000001&page=2", "application/json", r#"{"per_page": 5}"#).unwrap();
        assert_eq!(p.uuid("user_id").unwrap(), Uuid::from_u128(1));
        assert_eq!(p.paging().unwrap(), (2, 5));
        let f = params("/x", "application/x-www-form-urlencoded", "username=ada&password=p%40ss").unwrap();
        assert_eq!(f.str("password").unwrap(), "p@ss");
    }

    /// JSON Schema (and a client holding numbers as doubles) counts `5.0` as an integer.
    #[test]
    fn an_integral_double_is_an_integer() {
        let p = params("/x", "application/json", r#"{"page": 3.0, "per_page": 5.0}"#).unwrap();
        assert_eq!(p.paging().unwrap(), (3, 5));
        let p = params("/x", "application/json", r#"{"per_page": 39176114444.0}"#).unwrap();
        assert!(matches!(p.paging().unwrap_err(), ApiError::Invalid { field, .. } if field == "per_page"));
        let p = params("/x", "application/json", r#"{"per_page": 5.5}"#).unwrap();
        assert!(matches!(p.paging().unwrap_err(), ApiError::Invalid { field, .. } if field == "per_page"));
    }

    #[test]
    fn errors_name_the_parameter() {
        let p = params("/x?user_id=nope&per_page=1000&disable=maybe", "", "").unwrap();
        assert_eq!(p.uuid("user_id").unwrap_err(), ApiError::invalid("user_id", "must be a GUID, got 'nope'"));
        assert!(matches!(p.paging().unwrap_err(), ApiError::Invalid { field, .. } if field == "per_page"));
        assert!(matches!(p.bool("disable").unwrap_err(), ApiError::Invalid { field, .. } if field == "disable"));
        assert!(matches!(p.str("login").unwrap_err(), ApiError::Invalid { field, .. } if field == "login"));
        assert!(params("/x", "application/json", "[1]").is_err());
    }

    proptest::proptest! {
        /// Whatever `page` and `per_page` say, paging is refused by name or gives an offset that
        /// fits (`page * per_page` once overflowed: a panic, the connection dropped).
        #[test]
        fn paging_is_refused_or_its_offset_fits(page in proptest::num::i64::ANY, per_page in proptest::num::i64::ANY) {
            let p = params(&format!("/x?page={page}&per_page={per_page}"), "", "").unwrap();
            match p.paging() {
                Ok((page, per_page)) => proptest::prop_assert!(page.checked_mul(per_page).is_some_and(|o| o >= 0)),
                Err(ApiError::Invalid { field, .. }) => proptest::prop_assert!(field == "page" || field == "per_page"),
                Err(e) => proptest::prop_assert!(false, "unexpected {e:?}"),
            }
        }

        /// U+0000 anywhere in a parameter (query, JSON or form) is a 400 naming it, never a value
        /// that reaches Postgres.
        #[test]
        fn nul_in_any_parameter_is_refused_by_name(name in "[a-z_]{1,12}", before in "\\PC{0,8}", after in "\\PC{0,8}") {
            let value = format!("{before}\0{after}");
            let query = serde_urlencoded::to_string([(&name, &value)]).unwrap();
            let json = serde_json::json!({ name.clone(): [value.clone()] }).to_string();
            for (uri, content_type, body) in [
                (format!("/x?{query}"), "", String::new()),
                ("/x".to_string(), "application/json", json),
                ("/x".to_string(), "application/x-www-form-urlencoded", query.clone()),
            ] {
                let err = params(&uri, content_type, &body).unwrap_err();
                let ApiError::Invalid { field, message } = err else { panic!("not a 400: {err:?}") };
                proptest::prop_assert!(field.starts_with(name.as_str()), "{field} does not name {name}");
                proptest::prop_assert_eq!(message, crate::kernel::dialect::NUL_MESSAGE);
            }
        }
    }

    #[test]
    fn lists_come_as_arrays_repeats_or_commas() {
        let a = "00000000-0000-0000-0000-000000000001";
        let b = "00000000-0000-0000-0000-000000000002";
        let want = Some(vec![Uuid::from_u128(1), Uuid::from_u128(2)]);
        assert_eq!(params(&format!("/x?ids={a}&ids={b}"), "", "").unwrap().opt_uuid_list("ids").unwrap(), want);
        assert_eq!(params(&format!("/x?ids={a},{b}"), "", "").unwrap().opt_uuid_list("ids").unwrap(), want);
        let json = format!(r#"{{"ids": ["{a}", "{b}"]}}"#);
        assert_eq!(params("/x", "application/json", &json).unwrap().opt_uuid_list("ids").unwrap(), want);
        let bad = params("/x", "application/json", r#"{"ids": ["x"]}"#).unwrap().opt_uuid_list("ids").unwrap_err();
        assert!(matches!(bad, ApiError::Invalid { field, .. } if field == "ids[0]"));
    }

    #[test]
    fn an_expiry_may_be_absent_null_or_a_date() {
        let p = params("/x", "application/json", r#"{"a": null, "b": "2030-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(p.tri_datetime("a").unwrap(), Tri::Null);
        assert!(matches!(p.tri_datetime("b").unwrap(), Tri::Set(_)));
        assert_eq!(p.tri_datetime("c").unwrap(), Tri::Absent);
    }

    #[test]
    fn a_date_outside_what_postgres_stores_names_the_parameter() {
        let p = params("/x", "application/json", r#"{"a": "+200000-01-01T00:00:00", "b": "-5000-01-01T00:00:00"}"#).unwrap();
        for name in ["a", "b"] {
            let err = p.opt_datetime(name).unwrap_err();
            assert!(matches!(&err, ApiError::Invalid { field, .. } if field == name), "{err:?}");
        }
    }
}
