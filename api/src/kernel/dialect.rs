//! What makes a dialect a dialect: where its token travels and how its errors look. Extractors
//! here are generic over the dialect so that a bad body, a bad query or a bad token is answered in
//! the dialect's own error shape.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::kernel::auth::{authenticate, Principal};
use crate::kernel::error::ApiError;
use crate::kernel::fields::{spell_error, FieldNames};
use crate::kernel::strict_json;
use crate::kernel::write::Accepted;
use crate::AppState;

pub trait Dialect: Send + Sync + 'static {
    /// Recorded in every event's metadata.
    const NAME: &'static str;
    /// The tag of this dialect's operations in `/openapi.json`.
    const TAG: &'static str;
    /// The components schema of the dialect's error body, documented for every refusal an
    /// operation can meet (`crate::openapi`); None where the document leaves the body open.
    const ERROR_SCHEMA: Option<&'static str>;
    /// Where this dialect's clients put their token.
    fn token(parts: &Parts) -> Option<&str>;
    /// How this dialect's clients spell the domain's neutral field names (see
    /// [`crate::kernel::fields`]); a dialect whose clients meet only one-word names needs none.
    const FIELD_NAMES: FieldNames = &[];
    /// The integer query parameters this dialect's operations read, with the range each accepts:
    /// the handlers check them (`int_param`) and the OpenAPI document states them
    /// (`crate::openapi`) from these same values.
    const QUERY_INTS: &'static [IntBounds] = &[];
    /// The dialect's documented error body and status, for an error already spelled in the
    /// dialect's field names. Answer errors with [`respond`], which spells them first.
    fn render(err: &ApiError) -> Response;
    /// A write accepted but not yet visible in the read models (202).
    fn accepted(a: Accepted) -> Response {
        a.into_response()
    }
}

/// An error answered in dialect `D`'s shape.
#[derive(Debug)]
pub struct Error<D>(pub ApiError, PhantomData<D>);

impl<D> Error<D> {
    pub fn new(e: ApiError) -> Self {
        Error(e, PhantomData)
    }
}

impl<D: Dialect> IntoResponse for Error<D> {
    fn into_response(self) -> Response {
        respond::<D>(&self.0)
    }
}

/// The one way an error becomes dialect `D`'s answer: field names spelled, then rendered.
pub fn respond<D: Dialect>(err: &ApiError) -> Response {
    D::render(&spell_error(D::FIELD_NAMES, err))
}

impl<D> From<ApiError> for Error<D> {
    fn from(e: ApiError) -> Self {
        Error::new(e)
    }
}

impl<D> From<commands::CommandError> for Error<D> {
    fn from(e: commands::CommandError) -> Self {
        Error::new(e.into())
    }
}

impl<D> From<sqlx::Error> for Error<D> {
    fn from(e: sqlx::Error) -> Self {
        Error::new(e.into())
    }
}

impl<D> From<domain::DomainError> for Error<D> {
    fn from(e: domain::DomainError) -> Self {
        Error::new(e.into())
    }
}

/// The authenticated caller, token taken from where dialect `D` puts it.
pub struct Caller<D>(pub Principal, pub PhantomData<D>);

impl<D: Dialect> FromRequestParts<AppState> for Caller<D> {
    type Rejection = Error<D>;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let principal = authenticate(st, D::token(parts)).await?;
        Ok(Caller(principal, PhantomData))
    }
}

/// A JSON body; a malformed one is a 400 in the dialect's shape, naming what serde found.
pub struct Json<T, D>(pub T, pub PhantomData<D>);

impl<T: DeserializeOwned, D: Dialect> FromRequest<AppState> for Json<T, D> {
    type Rejection = Error<D>;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let headers = parts.headers.clone();
        // Read through `Bytes` so that the router's body limit applies as it does to `axum::Json`.
        let bytes = match Bytes::from_request(Request::from_parts(parts, body), st).await {
            Ok(b) => b,
            Err(rejection) => return Err(Error::new(ApiError::invalid("body", rejection.body_text()))),
        };
        refuse_nul_in_json_bytes(&bytes)?;
        // Every dialect's bodies are objects (a `Value` body too); deeper down, `strict_json`
        // keeps serde from reading a struct from an array by position.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(Error::new(ApiError::invalid("body", "must be a JSON object")));
        }
        if !json_content_type(&headers) {
            return Err(Error::new(ApiError::invalid("body", "Expected request with `Content-Type: application/json`")));
        }
        match strict_json::from_slice::<T>(&bytes) {
            Ok(v) => Ok(Json(v, PhantomData)),
            Err(e) => {
                // JSON has one number type: `338.0` is the integer 338 (JSON Schema's `integer`
                // takes it), which serde refuses for an integer field. Read such a body again with
                // its integral numbers written as integers.
                if e.inner().is_data() {
                    if let Some(v) = integral_floats_as_integers(&bytes).and_then(|v| strict_json::from_value::<T>(v).ok()) {
                        return Ok(Json(v, PhantomData));
                    }
                }
                Err(Error::new(ApiError::invalid("body", body_error_text(&e))))
            }
        }
    }
}

/// A body that cannot be read, said as `axum::Json` says it (the text clients met before bodies
/// were read through [`strict_json`]): what went wrong, the path of the bad value, where.
fn body_error_text(e: &strict_json::BodyError) -> String {
    if e.inner().is_data() {
        format!("Failed to deserialize the JSON body into the target type: {e}")
    } else {
        format!("Failed to parse the request body as JSON: {e}")
    }
}

/// Whether the request says its body is JSON (`application/json`, `application/*+json`): the
/// `Content-Type` that `axum::Json` requires, checked the same way.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application") && (subtype == "json" || subtype.ends_with("+json"))
}

/// The body with every integral float (`338.0`, `1e3`) written as an integer, when it holds one.
fn integral_floats_as_integers(bytes: &[u8]) -> Option<serde_json::Value> {
    fn walk(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // Within i64's range (2^63 is not, and is the first float past it).
                if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
                    *v = serde_json::Value::from(f as i64);
                    true
                } else {
                    false
                }
            }
            serde_json::Value::Array(items) => {
                // Every item, not only up to the first change.
                let mut changed = false;
                for item in items {
                    changed |= walk(item);
                }
                changed
            }
            serde_json::Value::Object(map) => {
                let mut changed = false;
                for item in map.values_mut() {
                    changed |= walk(item);
                }
                changed
            }
            _ => false,
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    walk(&mut v).then_some(v)
}

/// Query parameters; a malformed one is a 400 in the dialect's shape.
pub struct Query<T, D>(pub T, pub PhantomData<D>);

impl<T: DeserializeOwned, D: Dialect> FromRequestParts<AppState> for Query<T, D> {
    type Rejection = Error<D>;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        refuse_nul_in_query(parts.uri.query())?;
        match axum::extract::Query::<T>::from_request_parts(parts, st).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v, PhantomData)),
            Err(rejection) => Err(Error::new(ApiError::invalid("query", rejection.body_text()))),
        }
    }
}

/// Why a string holding U+0000 is refused: Postgres `text` and `jsonb` cannot hold it, so such a
/// value could be neither stored nor looked up. Refused where the request is parsed, naming the
/// field, instead of failing in the database as a 500.
pub const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// The path (`members[0].name`; empty for `v` itself) of the first string or object key in `v`
/// that holds U+0000.
pub fn nul_in_json(v: &serde_json::Value) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &mut String) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\u0000"));
                let found = k.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(v, &mut path).then_some(path)
}

/// A 400 naming the field when a JSON body holds U+0000 in a string or key. JSON can only carry
/// it escaped (`\u0000`), so bodies without that escape are not parsed twice.
pub fn refuse_nul_in_json_bytes(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes).ok().as_ref().and_then(nul_in_json) {
        Some(path) => Err(ApiError::invalid(field_at("body", &path), NUL_MESSAGE)),
        None => Ok(()),
    }
}

/// `name` followed by a path inside it: `name`, `name[0]`, `name.key`.
pub fn field_at(name: &str, path: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else if path.starts_with('[') {
        format!("{name}{path}")
    } else if name == "body" {
        path.to_string()
    } else {
        format!("{name}.{path}")
    }
}

/// The name of the first query (or form) parameter whose name or value holds U+0000.
pub fn nul_in_query(query: &str) -> Option<String> {
    // A URI carries U+0000 only percent-encoded.
    if !query.contains("%00") {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, v)| k.contains('\0') || v.contains('\0')).map(|(k, _)| k.replace('\0', "\\u0000"))
}

/// A 400 naming the parameter when the query string holds U+0000.
pub fn refuse_nul_in_query(query: Option<&str>) -> Result<(), ApiError> {
    match query.and_then(nul_in_query) {
        Some(field) => Err(ApiError::invalid(field, NUL_MESSAGE)),
        None => Ok(()),
    }
}

/// Parses a path id as a UUID; anything else is simply an unknown id.
pub fn uuid_path(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::NotFound(format!("{what} not found")))
}

/// An integer query parameter and the range it accepts (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntBounds {
    pub name: &'static str,
    pub min: i64,
    pub max: i64,
}

/// A page number or offset: `i32::MAX` keeps `page * per_page` far inside `i64` and Postgres'
/// `OFFSET`.
pub const MAX_OFFSET: i64 = i32::MAX as i64;

/// Parses an optional integer query parameter. Absent means `default`; present, it must be an
/// integer within `bounds` (an empty value is not one: the document says integer, and a client
/// that sends `per_page=` has a bug worth telling).
pub fn int_param(bounds: IntBounds, raw: Option<&str>, default: i64) -> Result<i64, ApiError> {
    let IntBounds { name: field, min, max } = bounds;
    let Some(raw) = raw else { return Ok(default) };
    let n: i64 = raw.trim().parse().map_err(|_| ApiError::invalid(field, format!("must be an integer, got '{raw}'")))?;
    if n < min || n > max {
        return Err(ApiError::invalid(field, format!("must be between {min} and {max}, got {n}")));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn an_integer_parameter_is_absent_or_an_integer_in_range() {
        let b = IntBounds { name: "per_page", min: 1, max: 10 };
        assert_eq!(int_param(b, None, 7), Ok(7));
        assert_eq!(int_param(b, Some(" 10 "), 7), Ok(10));
        // Sent empty, it is no integer (the document says integer): not the default.
        for bad in ["", " ", "0", "11", "x", "1.5"] {
            assert!(matches!(int_param(b, Some(bad), 7), Err(ApiError::Invalid { field, .. }) if field == "per_page"), "{bad:?}");
        }
    }

    #[test]
    fn a_json_body_is_one_whose_content_type_says_json() {
        let with = |ct: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(axum::http::header::CONTENT_TYPE, ct.parse().unwrap());
            json_content_type(&h)
        };
        for ct in ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/scim+json"] {
            assert!(with(ct), "{ct}");
        }
        for ct in ["text/json", "application/xml", "application/jsonx", "json", ""] {
            assert!(!with(ct), "{ct}");
        }
        assert!(!json_content_type(&axum::http::HeaderMap::new()));
    }

    /// Arbitrary JSON with strings that may hold U+0000 (in values and keys).
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a\u{0}é\u{1F600}]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a\u{0}b]{0,3}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has_nul),
            Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }

    proptest! {
        /// A body is refused exactly when some string or key holds U+0000, and the error names
        /// a field of the body.
        #[test]
        fn json_bodies_with_nul_are_refused_and_only_those(v in any_json()) {
            let bytes = serde_json::to_vec(&v).unwrap();
            match refuse_nul_in_json_bytes(&bytes) {
                Ok(()) => prop_assert!(!has_nul(&v)),
                Err(ApiError::Invalid { field, message }) => {
                    prop_assert!(has_nul(&v));
                    prop_assert!(!field.is_empty());
                    prop_assert_eq!(message, NUL_MESSAGE);
                }
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }

        /// A query is refused exactly when a name or value holds U+0000, naming that parameter.
        #[test]
        fn queries_with_nul_name_the_parameter(pairs in prop::collection::vec(("[a-z\u{0}]{1,4}", "[a\u{0}%&=+ é]{0,4}"), 0..5)) {
            let query = serde_urlencoded::to_string(&pairs).unwrap();
            let expected = pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0'));
            match (nul_in_query(&query), expected) {
                (None, None) => {}
                (Some(field), Some((k, _))) => prop_assert_eq!(field, k.replace('\0', "\\u0000")),
                (got, want) => prop_assert!(false, "query {query}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_refusal_names_the_path_inside_the_body() {
        let body = json!({"name": "ok", "members": [{"id": "x"}, {"id": "a\u{0}b"}]}).to_string();
        assert_eq!(refuse_nul_in_json_bytes(body.as_bytes()), Err(ApiError::invalid("members[1].id", NUL_MESSAGE)));
        assert_eq!(refuse_nul_in_json_bytes(br#""\u0000""#), Err(ApiError::invalid("body", NUL_MESSAGE)));
        // An escaped backslash followed by `u0000` is six ordinary characters.
        assert_eq!(refuse_nul_in_json_bytes(br#"{"name": "\\u0000"}"#), Ok(()));
        assert_eq!(refuse_nul_in_query(Some("a=1&short_name=x%00y")), Err(ApiError::invalid("short_name", NUL_MESSAGE)));
        assert_eq!(refuse_nul_in_query(Some("a=%2500")), Ok(()));
    }
}
