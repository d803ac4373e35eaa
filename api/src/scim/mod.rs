//! SCIM 2.0 (RFC 7643/7644, DESIGN §12) at `/scim/v2`: provisioning clients (Okta, Entra, …)
//! manage the directory's users and its one group model. Token in `Authorization: Bearer`, an org
//! admin's; the org comes from it. Errors are SCIM error bodies; answers `application/scim+json`.

pub mod bulk;
pub mod cursor;
pub mod discovery;
pub mod groups;
pub mod patch;
pub mod users;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use commands::Precondition;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::kernel::dialect::{self, Dialect};
use crate::kernel::error::ApiError;
use crate::kernel::fields::{spell_error, FieldNames};
use crate::kernel::write::Accepted;
use crate::AppState;

#[derive(Debug, Clone, Copy)]
pub struct Scim;

pub const CONTENT_TYPE: &str = "application/scim+json";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub use projections::scim::filter::{CORE_GROUP_URN as GROUP_URN, CORE_USER_URN as USER_URN, ENTERPRISE_URN};

/// Most resources one list answers (`filter.maxResults`); a larger `count` is capped to it.
pub const MAX_RESULTS: i64 = 200;

impl Dialect for Scim {
    const NAME: &'static str = "scim";
    const TAG: &'static str = "SCIM";
    const ERROR_SCHEMA: Option<&'static str> = None;

    fn token(parts: &axum::http::request::Parts) -> Option<&str> {
        crate::kernel::auth::bearer(parts)
    }

    /// The domain's neutral names as SCIM attribute paths.
    const FIELD_NAMES: FieldNames = &[
        ("login", "userName"),
        ("email", "emails"),
        ("first_name", "name.givenName"),
        ("last_name", "name.familyName"),
        ("middle_name", "name.middleName"),
        ("title_prefix", "name.honorificPrefix"),
        ("nickname", "displayName"),
        ("designation", "title"),
        ("phone", "phoneNumbers"),
        ("reports_to", "manager"),
        ("external_user_id", "externalId"),
        ("external_id", "externalId"),
        ("name", "displayName"),
        ("users", "members"),
    ];

    fn render(err: &ApiError) -> Response {
        ScimError::from_api(err).into_response()
    }

    fn accepted(a: Accepted) -> Response {
        let mut resp = (StatusCode::ACCEPTED, axum::Json(a.json())).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        resp
    }
}

type Caller = dialect::Caller<Scim>;
type Write = crate::kernel::write::Write<Scim>;
/// A write's command context, or why it could not be made (answered after the body's checks).
pub type Ctx = Result<crate::kernel::write::Ctx<Scim>, dialect::Error<Scim>>;
type Json<T> = dialect::Json<T, Scim>;
type Query<T> = dialect::Query<T, Scim>;

/// A SCIM error (RFC 7644 §3.12): status, `scimType` where the RFC names one, a detail naming
/// the attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Kept so that a 503 still carries `Retry-After`.
    api: Option<ApiError>,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type, detail: detail.into(), api: None }
    }

    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        ScimError::bad("invalidValue", detail)
    }

    pub fn not_found(what: &str) -> Self {
        ScimError::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
    }

    /// A kernel or domain error, its field names spelled as SCIM attributes.
    pub fn from_api(err: &ApiError) -> Self {
        let err = spell_error(Scim::FIELD_NAMES, err);
        let mut e = match &err {
            // The unique claims (userName, emails) answer in the domain's words; SCIM calls it `uniqueness`.
            ApiError::Invalid { field, message } if message == "is already taken" => {
                ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), format!("{field}: is already taken in this organization"))
            }
            ApiError::Invalid { field, message } if field == "body" => ScimError::bad("invalidSyntax", format!("body: {message}")),
            ApiError::Invalid { field, message } if field == "query" => ScimError::bad("invalidValue", format!("query: {message}")),
            ApiError::Invalid { .. } => ScimError::bad("invalidValue", err.message()),
            ApiError::TooLarge(m) => ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, Some("tooMany"), m.clone()),
            other => ScimError::new(other.status(), None, other.message()),
        };
        e.api = Some(err);
        e
    }
}

impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        ScimError::from_api(&e)
    }
}

impl From<commands::CommandError> for ScimError {
    fn from(e: commands::CommandError) -> Self {
        match e {
            commands::CommandError::PreconditionFailed { current } => {
                ScimError::new(StatusCode::PRECONDITION_FAILED, None, format!("If-Match: the resource is at version {}", etag(current)))
            }
            e => ScimError::from_api(&e.into()),
        }
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(e: sqlx::Error) -> Self {
        ScimError::from_api(&e.into())
    }
}

impl From<dialect::Error<Scim>> for ScimError {
    fn from(e: dialect::Error<Scim>) -> Self {
        ScimError::from_api(&e.0)
    }
}

impl ScimError {
    pub fn body(&self) -> Value {
        let mut body = json!({ "schemas": [ERROR_URN], "status": self.status.as_u16().to_string(), "detail": self.detail });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        body
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let resp = scim_json(self.status, self.body());
        match &self.api {
            Some(api) => api.decorate(resp),
            None => resp,
        }
    }
}

/// A SCIM answer: `application/scim+json`.
pub fn scim_json(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

/// `W/"<stream version>"`.
pub fn etag(version: i32) -> String {
    format!("W/\"{version}\"")
}

/// A resource answer with its `ETag`, and on a create its `Location` (RFC 7644 §3.3).
pub fn resource(status: StatusCode, body: Value, version: i32) -> Response {
    let location = body.pointer("/meta/location").and_then(Value::as_str).and_then(|l| HeaderValue::from_str(l).ok());
    let mut resp = scim_json(status, body);
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if let (StatusCode::CREATED, Some(l)) = (status, location) {
        resp.headers_mut().insert(header::LOCATION, l);
    }
    resp
}

/// Whether an `If-Match` / `If-None-Match` header value names `version` (or is `*`). Weak and
/// strong forms compare alike (RFC 7232 weak comparison).
pub fn etag_matches(header_value: &str, version: i32) -> bool {
    header_value.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == format!("\"{version}\""))
}

/// `If-Match` on a write, as the command's precondition: the write applies only while the
/// resource's stream is at a version the header names. The store checks it against the version
/// its append expects, so a write landing in between cannot slip past it (412, nothing changes).
/// `*` is no condition; a tag that is not one of ours matches no version.
pub fn precondition(headers: &HeaderMap, stream_id: Uuid) -> Option<Precondition> {
    let value = headers.get(header::IF_MATCH)?.to_str().unwrap_or("");
    if value.split(',').any(|t| t.trim() == "*") {
        return None;
    }
    let versions =
        value.split(',').filter_map(|t| t.trim().trim_start_matches("W/").strip_prefix('"')?.strip_suffix('"')?.parse().ok()).collect();
    Some(Precondition { stream_id, versions })
}

/// A conditional write that changes nothing still answers 412 when its condition fails.
pub async fn check_unchanged(st: &AppState, pre: Option<&Precondition>) -> Result<(), ScimError> {
    let Some(pre) = pre else { return Ok(()) };
    let current = st.store.stream_version(pre.stream_id).await.map_err(commands::CommandError::from)?;
    if pre.versions.contains(&current) {
        Ok(())
    } else {
        Err(commands::CommandError::PreconditionFailed { current }.into())
    }
}

/// `If-None-Match` on a read: a match is 304 with no body.
pub fn not_modified(headers: &HeaderMap, version: i32) -> Option<Response> {
    let v = headers.get(header::IF_NONE_MATCH)?.to_str().ok()?;
    etag_matches(v, version).then(|| {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&etag(version)) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        resp
    })
}

/// The absolute URL of this server's `/scim/v2`, for `meta.location` and `$ref`.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
    format!("{proto}://{host}/scim/v2")
}

/// The org-admin check every SCIM route makes: provisioning is an admin's business.
pub fn org_of(caller: &crate::kernel::auth::Principal) -> Result<domain::OrgId, ScimError> {
    caller.require_org_admin().map_err(ScimError::from)
}

// ----- list parameters ---------------------------------------------------------------------------

/// What a list or `.search` asks for, from the query or a SearchRequest body.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    /// RFC 9865: present (empty for the first page) asks for cursor pages.
    pub cursor: Option<String>,
    pub count: Option<i64>,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

fn csv(raw: Option<&str>) -> Vec<String> {
    raw.map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

/// Integers from the query may come as any text; a non-integer is `invalidValue` naming it.
fn int(name: &str, raw: Option<&str>) -> Result<Option<i64>, ScimError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| ScimError::invalid_value(format!("{name}: must be an integer, got '{s}'"))),
    }
}

impl ListParams {
    pub fn from_query(q: &std::collections::HashMap<String, String>) -> Result<Self, ScimError> {
        let get = |k: &str| q.get(k).map(String::as_str);
        Ok(ListParams {
            filter: get("filter").map(str::to_string),
            sort_by: get("sortBy").filter(|s| !s.trim().is_empty()).map(str::to_string),
            sort_order: get("sortOrder").map(str::to_string),
            start_index: int("startIndex", get("startIndex"))?,
            cursor: get("cursor").map(str::to_string),
            count: int("count", get("count"))?,
            attributes: csv(get("attributes")),
            excluded: csv(get("excludedAttributes")),
        })
    }

    /// A SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let obj = body.as_object().ok_or_else(|| ScimError::bad("invalidSyntax", "body: must be a SearchRequest object"))?;
        let text = |k: &str| -> Result<Option<String>, ScimError> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("{k}: must be a string"))),
            }
        };
        let number = |k: &str| -> Result<Option<i64>, ScimError> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("{k}: must be an integer"))),
            }
        };
        let list = |k: &str| -> Result<Vec<String>, ScimError> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| ScimError::invalid_value(format!("{k}: must be a list of strings")))
                    })
                    .collect(),
                Some(Value::String(s)) => Ok(csv(Some(s))),
                Some(_) => Err(ScimError::invalid_value(format!("{k}: must be a list of strings"))),
            }
        };
        Ok(ListParams {
            filter: text("filter")?,
            sort_by: text("sortBy")?.filter(|s| !s.trim().is_empty()),
            sort_order: text("sortOrder")?,
            start_index: number("startIndex")?,
            cursor: text("cursor")?,
            count: number("count")?,
            attributes: list("attributes")?,
            excluded: list("excludedAttributes")?,
        })
    }

    /// RFC 7644 §3.4.2.4: a `startIndex` below 1 is 1; a negative `count` is 0; `count` is capped
    /// at [`MAX_RESULTS`], and absent means as many as allowed.
    pub fn window(&self) -> (i64, i64) {
        let start = self.start_index.unwrap_or(1).max(1);
        let count = self.count.unwrap_or(MAX_RESULTS).clamp(0, MAX_RESULTS);
        (start, count)
    }

    pub fn descending(&self) -> Result<bool, ScimError> {
        match self.sort_order.as_deref().map(str::trim) {
            None | Some("") => Ok(false),
            Some(o) if o.eq_ignore_ascii_case("ascending") => Ok(false),
            Some(o) if o.eq_ignore_ascii_case("descending") => Ok(true),
            Some(o) => Err(ScimError::invalid_value(format!("sortOrder: must be ascending or descending, got '{o}'"))),
        }
    }

    /// Whether the top-level attribute `name` is in the answer: not when `excludedAttributes`
    /// names it whole, nor when `attributes` names others only. A page need not read what it
    /// does not return (Entra ID asks for groups with `excludedAttributes=members`).
    pub fn returns(&self, name: &str) -> bool {
        // Paths read as `project` reads them; one in the enterprise extension names none of the
        // core attributes.
        let core = |p: &String| match attribute_path(p) {
            (None, parts) => parts,
            (Some(_), _) => vec![],
        };
        !self.excluded.iter().any(|p| matches!(core(p).as_slice(), [n] if n.eq_ignore_ascii_case(name)))
            && (self.attributes.is_empty() || self.attributes.iter().any(|p| core(p).first().is_some_and(|n| n.eq_ignore_ascii_case(name))))
    }

    /// Where a cursor page starts (RFC 9865): `None` for index pages, `Some(None)` for the first
    /// cursor page. Asking for both kinds of paging at once is refused.
    pub fn after(&self, query: &projections::scim::ListQuery) -> Result<Option<Option<projections::scim::After>>, ScimError> {
        let Some(raw) = self.cursor.as_deref() else { return Ok(None) };
        if self.start_index.is_some() {
            return Err(ScimError::invalid_value("startIndex, cursor: page by one or the other"));
        }
        if raw.trim().is_empty() {
            return Ok(Some(None));
        }
        cursor::decode(raw, &self.order_tag()?, query.sort.as_ref().map(|s| s.kind)).map(|a| Some(Some(a)))
    }

    /// The order a cursor of this list belongs to.
    fn order_tag(&self) -> Result<String, ScimError> {
        Ok(cursor::order_tag(self.sort_by.as_deref(), self.descending()?))
    }

    /// The query over `resource`'s read model.
    pub fn list_query(&self, resource: projections::scim::Resource) -> Result<projections::scim::ListQuery, ScimError> {
        use projections::scim as q;
        let filter = match self.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => {
                let ast = q::parse_filter(f).map_err(|e| ScimError::bad("invalidFilter", format!("filter: {e}")))?;
                Some(q::compile(resource, &ast).map_err(|e| ScimError::bad("invalidFilter", format!("filter: {e}")))?)
            }
            None => None,
        };
        let sort = match &self.sort_by {
            Some(s) => Some(q::sort_expr(resource, s).map_err(|e| ScimError::invalid_value(format!("sortBy: {e}")))?),
            None => None,
        };
        let (start, count) = self.window();
        Ok(q::ListQuery { filter, sort, descending: self.descending()?, offset: start - 1, limit: count })
    }
}

/// A ListResponse.
pub fn list_response(total: i64, start: i64, resources: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        json!({ "schemas": [LIST_URN], "totalResults": total, "startIndex": start, "itemsPerPage": resources.len(), "Resources": resources }),
    )
}

/// A ListResponse of cursor pages (RFC 9865): `nextCursor`, where the page after this one starts
/// in the order of `params`, on every page but the last.
pub fn cursor_response(
    params: &ListParams,
    total: i64,
    resources: Vec<Value>,
    next: Option<projections::scim::After>,
) -> Result<Response, ScimError> {
    let mut doc = json!({ "schemas": [LIST_URN], "totalResults": total, "itemsPerPage": resources.len(), "Resources": resources });
    if let Some(next) = next {
        doc["nextCursor"] = json!(cursor::encode(&params.order_tag()?, &next));
    }
    Ok(scim_json(StatusCode::OK, doc))
}

// ----- attributes / excludedAttributes -----------------------------------------------------------

/// RFC 7643 §7 `returned: always` attributes survive any projection.
const ALWAYS: [&str; 3] = ["schemas", "id", "meta"];

/// A path of `attributes` or `excludedAttributes`: the enterprise extension's URN when it names
/// an attribute of that extension (which lives in the extension's own object), and the dotted
/// names after any URN.
fn attribute_path(path: &str) -> (Option<&'static str>, Vec<String>) {
    let ext = ENTERPRISE_URN;
    let lower = path.to_ascii_lowercase();
    if lower.starts_with(&ext.to_ascii_lowercase()) {
        let rest = path[ext.len()..].trim_start_matches(':');
        return (Some(ext), rest.split('.').filter(|s| !s.is_empty()).map(str::to_string).collect());
    }
    let rest = if lower.starts_with("urn:") { path.rsplit(':').next().unwrap_or(path) } else { path };
    (None, rest.split('.').map(str::to_string).collect())
}

/// `attributes` keeps only the named attributes (plus the always-returned ones);
/// `excludedAttributes` drops the named ones. Names may be URN-qualified and dotted.
pub fn project(mut resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    fn key_of(obj: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
        obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
    }
    let Some(obj) = resource.as_object_mut() else { return resource };
    if !attributes.is_empty() {
        let mut kept = serde_json::Map::new();
        for k in ALWAYS {
            if let Some(v) = obj.get(k) {
                kept.insert(k.to_string(), v.clone());
            }
        }
        for a in attributes {
            let (urn, parts) = attribute_path(a);
            let source = match urn {
                Some(u) => match obj.get(u).and_then(Value::as_object) {
                    Some(o) => o,
                    None => continue,
                },
                None => &*obj,
            };
            let Some(first) = parts.first() else {
                if let Some(u) = urn {
                    if let Some(v) = obj.get(u) {
                        kept.insert(u.to_string(), v.clone());
                    }
                }
                continue;
            };
            let Some(k) = key_of(source, first) else { continue };
            let value = match (parts.get(1), &source[&k]) {
                (None, v) => v.clone(),
                (Some(sub), Value::Object(o)) => match key_of(o, sub) {
                    Some(sk) => {
                        let prev = match urn {
                            Some(u) => kept.get(u).and_then(|e| e.get(&k)).cloned(),
                            None => kept.get(&k).cloned(),
                        };
                        let mut m = prev.and_then(|p| p.as_object().cloned()).unwrap_or_default();
                        m.insert(sk.clone(), o[&sk].clone());
                        Value::Object(m)
                    }
                    None => continue,
                },
                (Some(sub), Value::Array(items)) => Value::Array(
                    items
                        .iter()
                        .filter_map(|i| {
                            let o = i.as_object()?;
                            let sk = key_of(o, sub)?;
                            Some(json!({ sk.clone(): o[&sk].clone() }))
                        })
                        .collect(),
                ),
                _ => continue,
            };
            match urn {
                Some(u) => {
                    let ext = kept.entry(u.to_string()).or_insert_with(|| json!({}));
                    ext[&k] = value;
                }
                None => {
                    kept.insert(k, value);
                }
            }
        }
        *obj = kept;
    }
    for e in excluded {
        let (urn, parts) = attribute_path(e);
        let target = match urn {
            Some(u) => match obj.get_mut(u).and_then(Value::as_object_mut) {
                Some(o) => o,
                None => continue,
            },
            None => &mut *obj,
        };
        match parts.as_slice() {
            [name] if urn.is_some() || !ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(name)) => {
                if let Some(k) = key_of(target, name) {
                    target.remove(&k);
                }
            }
            [name, sub] => {
                if let Some(k) = key_of(target, name) {
                    match target.get_mut(&k) {
                        Some(Value::Object(o)) => {
                            if let Some(sk) = key_of(o, sub) {
                                o.remove(&sk);
                            }
                        }
                        Some(Value::Array(items)) => {
                            for i in items.iter_mut().filter_map(Value::as_object_mut) {
                                if let Some(sk) = key_of(i, sub) {
                                    i.remove(&sk);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            [] => {
                if let Some(u) = urn {
                    obj.remove(u);
                }
            }
            _ => {}
        }
    }
    resource
}

// ----- routes ------------------------------------------------------------------------------------

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/scim/v2/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route("/scim/v2/ResourceTypes/{name}", get(discovery::resource_type))
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Schemas/{id}", get(discovery::schema))
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route("/scim/v2/Users/.search", post(users::search))
        .route("/scim/v2/Users/{id}", get(users::show).put(users::replace).patch(users::patch).delete(users::delete))
        .route("/scim/v2/Me", get(users::me))
        .route("/scim/v2/Groups", get(groups::list).post(groups::create))
        .route("/scim/v2/Groups/.search", post(groups::search))
        .route("/scim/v2/Groups/{id}", get(groups::show).put(groups::replace).patch(groups::patch).delete(groups::delete))
        .route("/scim/v2/.search", post(root_search))
        .route("/scim/v2/Bulk", post(bulk::bulk))
        .route("/scim/v2", axum::routing::any(unknown))
        .route("/scim/v2/{*rest}", axum::routing::any(unknown))
}

/// Any other path under `/scim/v2`: a SCIM 404, so clients probing for endpoints get a body they parse.
async fn unknown() -> ScimError {
    ScimError::not_found("endpoint")
}

/// The SCIM operations in `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    discovery::service_provider_config,
    discovery::resource_types,
    discovery::resource_type,
    discovery::schemas,
    discovery::schema,
    users::list,
    users::create,
    users::search,
    users::show,
    users::replace,
    users::patch,
    users::delete,
    users::me,
    groups::list,
    groups::create,
    groups::search,
    groups::show,
    groups::replace,
    groups::patch,
    groups::delete,
    root_search,
    bulk::bulk,
))]
pub struct Doc;

/// `POST /.search` at the root: users, then groups. A filter naming attributes that one
/// resource type lacks matches none of that type; one that neither has is `invalidFilter`.
#[utoipa::path(post, path = "/scim/v2/.search", tag = "SCIM", request_body(content = Object, description = "SearchRequest"),
    responses((status = 200, description = "ListResponse of users and groups"), (status = 400, description = "invalidFilter")), security(("bearer" = [])))]
pub async fn root_search(
    axum::extract::State(st): axum::extract::State<AppState>,
    dialect::Caller(caller, _): Caller,
    headers: HeaderMap,
    body: Result<Json<Value>, dialect::Error<Scim>>,
) -> Result<Response, ScimError> {
    use projections::scim::Resource;
    let org = org_of(&caller)?;
    let dialect::Json(body, _) = body?;
    let params = ListParams::from_search(&body)?;
    if params.cursor.is_some() {
        return Err(ScimError::invalid_value(
            "cursor: the root .search pages by startIndex; /Users/.search and /Groups/.search page by cursor",
        ));
    }
    let (start, count) = params.window();
    let uq = params.list_query(Resource::User);
    let gq = params.list_query(Resource::Group);
    if let (Err(e), Err(_)) = (&uq, &gq) {
        return Err(e.clone());
    }
    let base = base_url(&headers);
    let mut resources = vec![];
    let mut total = 0;
    let mut skip = start - 1;
    let mut room = count;
    if let Ok(q) = uq {
        let q = projections::scim::ListQuery { offset: skip, limit: room, ..q };
        let (rows, n) = projections::scim::users(&st.pool, org.0, &q).await?;
        total += n;
        skip = (skip - n).max(0);
        room -= rows.len() as i64;
        resources.extend(users::render_many(&st, &rows, &params, &base).await?);
    }
    if let Ok(q) = gq {
        let q = projections::scim::ListQuery { offset: skip, limit: room, ..q };
        let (rows, n) = projections::scim::groups(&st.pool, org.0, &q).await?;
        total += n;
        resources.extend(groups::render_many(&st, rows, &params, &base).await?);
    }
    Ok(list_response(total, start, resources))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_follows_the_rfc_edge_rules() {
        let p = |start, count| ListParams { start_index: start, count, ..Default::default() }.window();
        assert_eq!(p(None, None), (1, MAX_RESULTS));
        assert_eq!(p(Some(0), Some(-5)), (1, 0));
        assert_eq!(p(Some(-3), Some(10_000)), (1, MAX_RESULTS));
        assert_eq!(p(Some(7), Some(3)), (7, 3));
    }

    #[test]
    fn etags_compare_weakly() {
        assert!(etag_matches("W/\"3\"", 3));
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("W/\"1\", W/\"3\"", 3));
        assert!(etag_matches("*", 9));
        assert!(!etag_matches("W/\"2\"", 3));
    }

    #[test]
    fn projection_keeps_always_returned_attributes() {
        let r = json!({"schemas": [USER_URN], "id": "1", "meta": {}, "userName": "a", "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@b.co", "type": "work"}], ENTERPRISE_URN: {"department": "D", "employeeNumber": "7"}});
        let p = project(r.clone(), &["userName".into(), "name.familyName".into(), format!("{ENTERPRISE_URN}:department")], &[]);
        assert_eq!(
            p,
            json!({"schemas": [USER_URN], "id": "1", "meta": {}, "userName": "a", "name": {"familyName": "B"}, ENTERPRISE_URN: {"department": "D"}})
        );
        let e = project(r, &[], &["emails".into(), "id".into(), "name.givenName".into()]);
        assert!(e.get("emails").is_none() && e.get("id").is_some() && e["name"].get("givenName").is_none());
    }

    proptest::proptest! {
        /// A page leaves out reading what `returns` says is not returned: whatever the two lists,
        /// the projection must then drop it too, or the answer would change.
        #[test]
        fn what_is_not_returned_is_not_in_the_projection(
            attributes in proptest::collection::vec(proptest::sample::select(PATHS), 0..3),
            excluded in proptest::collection::vec(proptest::sample::select(PATHS), 0..3),
        ) {
            let params = ListParams {
                attributes: attributes.iter().map(|s| s.to_string()).collect(),
                excluded: excluded.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            };
            let full = json!({"schemas": [GROUP_URN], "id": "1", "meta": {}, "displayName": "G",
                "members": [{"value": "u", "display": "U"}], "groups": [{"value": "g", "display": "G"}]});
            let projected = project(full, &params.attributes, &params.excluded);
            for name in ["members", "groups"] {
                if !params.returns(name) {
                    proptest::prop_assert!(projected.get(name).is_none(), "{name} in {projected} for {params:?}");
                }
            }
        }
    }

    const PATHS: &[&str] = &[
        "members",
        "Members",
        "members.value",
        "members.display",
        "MEMBERS.VALUE",
        "groups",
        "groups.display",
        "urn:ietf:params:scim:schemas:core:2.0:Group:members",
        "urn:ietf:params:scim:schemas:core:2.0:Group:members.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:groups",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:members",
        "displayName",
        "id",
        "meta",
        "externalId",
    ];

    #[test]
    fn pages_skip_reading_what_they_do_not_return() {
        let p = |attributes: &[&str], excluded: &[&str]| ListParams {
            attributes: attributes.iter().map(|s| s.to_string()).collect(),
            excluded: excluded.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert!(p(&[], &[]).returns("members"));
        assert!(!p(&[], &["Members"]).returns("members"));
        assert!(!p(&["displayName"], &[]).returns("members"));
        // Part of it is still returned.
        assert!(p(&[], &["members.display"]).returns("members"));
        assert!(p(&["members.value"], &[]).returns("members"));
        assert!(p(&["members"], &["members.value"]).returns("members"));
        // The enterprise extension has no `groups` of its own to exclude.
        assert!(p(&[], &[&format!("{ENTERPRISE_URN}:groups")]).returns("groups"));
    }

    #[test]
    fn unique_claims_are_uniqueness_conflicts() {
        let e = ScimError::from_api(&ApiError::invalid("login", "is already taken"));
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.scim_type, Some("uniqueness"));
        assert!(e.detail.starts_with("userName"));
        let b = ScimError::from_api(&ApiError::invalid("first_name", "must not be empty")).body();
        assert_eq!(b["status"], "400");
        assert_eq!(b["scimType"], "invalidValue");
        assert_eq!(b["detail"], "name.givenName: must not be empty");
    }
}
