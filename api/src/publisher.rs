//! HighQ Publisher user groups (spec/publisher-groups.md): `/api/2/groups*`, JSON or XML both
//! ways (chosen by `Accept` and `Content-Type`), produced and parsed by quick-xml's serde support.
//! Token in `Authorization: Bearer`; ids are the group's and users' integer `number` (DESIGN §7).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use commands::handlers::group as group_cmd;
use domain::group::{MemberRole, NewMember};
use domain::{GroupId, OrgId, UserId};
use projections::publisher::GroupSort;
use projections::queries::{self, GroupRow, PublisherListQuery, UserRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::kernel::auth::{authenticate, bearer_header, Principal};
use crate::kernel::dialect::{self, Dialect};
use crate::kernel::error::ApiError;
use crate::kernel::write::{Accepted, WriteMeta};
use crate::AppState;

pub const DEFAULT_LIMIT: i64 = 200;
pub const MAX_LIMIT: i64 = 1000;
/// `createddate` as the v5.0 example shows it.
pub const DATE_FORMAT: &str = "%d-%m-%Y %H:%M:%S:%3f";
/// The fields `fields=` may name; `all` means every one of them.
pub const KNOWN_FIELDS: &[&str] = &["id", "name", "link", "users", "createddate", "modifieddate", "organisationcount"];
const SUMMARY_FIELDS: &[&str] = &["id", "name", "link"];
const FULL_FIELDS: &[&str] = &["id", "name", "users", "createddate", "organisationcount"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/2/groups", get(list_groups).post(create_group))
        .route("/api/2/groups/{id}", get(read_group).put(replace_group).delete(delete_group))
        .route("/api/2/groups/{id}/users", put(add_users))
        .route_layer(axum::middleware::from_fn(formatted))
}

// ----- formats ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

fn media_format(raw: &str) -> Option<Format> {
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "text/json" => Some(Format::Json),
        "application/xml" | "text/xml" => Some(Format::Xml),
        _ => None,
    }
}

/// The answer's format from `Accept` (JSON when absent or `*/*`); `None` → 406.
fn accept(headers: &HeaderMap) -> Option<Format> {
    let Some(raw) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return Some(Format::Json) };
    if raw.trim().is_empty() {
        return Some(Format::Json);
    }
    raw.split(',').find_map(|part| {
        let essence = part.split(';').next().unwrap_or("").trim();
        match essence {
            "*/*" | "application/*" => Some(Format::Json),
            other => media_format(other),
        }
    })
}

/// The body's format from `Content-Type` (JSON when absent); `None` → 415.
fn content_type(headers: &HeaderMap) -> Option<Format> {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => Some(Format::Json),
        Some(raw) => media_format(raw),
    }
}

/// Publisher's dialect: bearer tokens, and errors as `{"error":{"code","message"}}` or
/// `<error>…</error>`, in the format `Accept` negotiated (see [`formatted`]).
pub struct Publisher;

impl Dialect for Publisher {
    const NAME: &'static str = "publisher";

    fn token(parts: &axum::http::request::Parts) -> Option<&str> {
        crate::kernel::auth::bearer(parts)
    }

    fn render(err: &ApiError) -> Response {
        let message = match err {
            ApiError::Internal => "internal error".to_string(),
            other => other.message(),
        };
        Failure::Status(err.status(), message).into_response()
    }
}

type Error = dialect::Error<Publisher>;

/// A Publisher failure: the kernel's error, or a status only Publisher answers (406, 415) or a
/// message it words itself.
pub enum Failure {
    Api(ApiError),
    Status(StatusCode, String),
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Api(e.into().0)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherErrorBody {
    pub code: u16,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherError {
    pub error: PublisherErrorBody,
}

/// Response extension: the error a response carries, re-rendered as XML by [`formatted`] when
/// the request negotiated XML.
#[derive(Debug, Clone)]
struct Rendered(StatusCode, String);

fn failure_response(fmt: Format, status: StatusCode, message: String) -> Response {
    let body = PublisherErrorBody { code: status.as_u16(), message };
    let resp = render(fmt, status, "error", &serde_json::to_value(&body).unwrap_or_default(), json!({ "error": body }));
    // Only an unavailable store or bus answers 503.
    if status == StatusCode::SERVICE_UNAVAILABLE {
        crate::kernel::error::with_retry_after(resp)
    } else {
        resp
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Api(e) => Error::new(e).into_response(),
            Failure::Status(status, message) => {
                let mut resp = failure_response(Format::Json, status, message.clone());
                resp.extensions_mut().insert(Rendered(status, message));
                resp
            }
        }
    }
}

/// Middleware over Publisher's routes: an error is answered in the format `Accept` negotiated
/// (JSON when it negotiated nothing: the 406 itself).
async fn formatted(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let fmt = accept(req.headers());
    let resp = next.run(req).await;
    match (fmt, resp.extensions().get::<Rendered>()) {
        (Some(Format::Xml), Some(Rendered(status, message))) => failure_response(Format::Xml, *status, message.clone()),
        _ => resp,
    }
}

/// A write the read models do not show yet (or whose event was parked): 202 with what the command
/// knows and its position, in the negotiated format.
fn accepted(fmt: Format) -> impl FnOnce(Accepted) -> Response {
    move |a| {
        let json_body = a.json();
        // XML has no null: keep the object's fields that have a value.
        let mut xml = serde_json::Map::new();
        xml.insert("accepted".into(), Value::Bool(true));
        if let Some(p) = a.position {
            xml.insert("position".into(), Value::String(p.to_string()));
        }
        if let Value::Object(result) = a.result {
            xml.insert("result".into(), Value::Object(result.into_iter().filter(|(_, v)| !v.is_null()).collect()));
        }
        render(fmt, StatusCode::ACCEPTED, "accepted", &Value::Object(xml), json_body)
    }
}

/// Renders `xml` (under `root`) or `json` by format; XML lists of users become `<users><user>`.
fn render(fmt: Format, status: StatusCode, root: &str, xml: &Value, json_body: Value) -> Response {
    match fmt {
        Format::Json => (status, axum::Json(json_body)).into_response(),
        Format::Xml => match quick_xml::se::to_string_with_root(root, &xml_shape(xml.clone())) {
            Ok(s) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"))], s).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "xml serialization failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"))],
                    "<error><code>500</code><message>internal error</message></error>",
                )
                    .into_response()
            }
        },
    }
}

/// JSON `users: [1, 2]` is XML `<users><user>1</user><user>2</user></users>`.
fn xml_shape(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("users", Value::Array(a)) => json!({ "user": a }),
                        (_, other) => xml_shape(other),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(xml_shape).collect()),
        other => other,
    }
}

// ----- bodies -----------------------------------------------------------------------------------

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
struct XmlGroupIn {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    users: Option<XmlUsersIn>,
}

#[derive(Debug, Default, Deserialize)]
struct XmlUsersIn {
    #[serde(default)]
    user: Vec<String>,
}

/// The group of a request body; `users` as strings (ids or emails).
struct Parsed {
    id: Option<String>,
    name: Option<String>,
    users: Option<Vec<String>>,
}

fn parse_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Parsed, Failure> {
    let Some(input) = content_type(headers) else {
        return Err(Failure::Status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json or application/xml".into()));
    };
    let bad = |m: String| Failure::Status(StatusCode::BAD_REQUEST, m);
    match input {
        Format::Json => {
            crate::kernel::dialect::refuse_nul_in_json_bytes(bytes).map_err(|e| bad(e.message()))?;
            let env: GroupEnvelopeIn = serde_json::from_slice(bytes).map_err(|e| bad(format!("body: {e}")))?;
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

// ----- views ------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherGroupSummary {
    pub id: i64,
    pub name: String,
    pub link: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherGroup {
    pub id: i64,
    pub name: String,
    pub users: Vec<i64>,
    /// `dd-MM-yyyy HH:mm:ss:SSS`, UTC.
    pub createddate: String,
    pub organisationcount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherGroupEnvelope {
    #[schema(value_type = Object)]
    pub group: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherGroupList {
    pub total: i64,
    pub currentpage: i64,
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<Value>,
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Data for building group objects: member numbers and org counts, loaded once per answer.
struct Extras {
    users: HashMap<uuid::Uuid, Vec<i64>>,
    org_counts: HashMap<uuid::Uuid, i64>,
}

async fn extras(st: &AppState, groups: &[GroupRow], fields: &[&str]) -> Result<Extras, ApiError> {
    let ids: Vec<uuid::Uuid> = groups.iter().map(|g| g.id).collect();
    let mut users: HashMap<uuid::Uuid, Vec<i64>> = HashMap::new();
    if fields.contains(&"users") {
        for (g, n) in queries::member_numbers(&st.pool, &ids).await? {
            users.entry(g).or_default().push(n);
        }
    }
    let mut org_counts = HashMap::new();
    if fields.contains(&"organisationcount") {
        org_counts.extend(queries::member_org_counts(&st.pool, &ids).await?);
    }
    Ok(Extras { users, org_counts })
}

fn group_object(g: &GroupRow, fields: &[&str], base: &str, x: &Extras) -> Value {
    let mut m = Map::new();
    for f in fields {
        let v: Value = match *f {
            "id" => g.number.into(),
            "name" => g.name.clone().into(),
            "link" => format!("{base}/api/2/groups/{}", g.number).into(),
            "users" => x.users.get(&g.id).cloned().unwrap_or_default().into(),
            "createddate" => g.created_at.format(DATE_FORMAT).to_string().into(),
            "modifieddate" => g.updated_at.format(DATE_FORMAT).to_string().into(),
            "organisationcount" => x.org_counts.get(&g.id).copied().unwrap_or(0).into(),
            _ => continue,
        };
        m.insert((*f).to_string(), v);
    }
    Value::Object(m)
}

async fn one_group(
    st: &AppState,
    fmt: Format,
    status: StatusCode,
    g: &GroupRow,
    fields: &[&str],
    base: &str,
) -> Result<Response, ApiError> {
    let x = extras(st, std::slice::from_ref(g), fields).await?;
    let obj = group_object(g, fields, base, &x);
    Ok(render(fmt, status, "group", &obj, json!({ "group": obj })))
}

// ----- shared steps -----------------------------------------------------------------------------

async fn caller(st: &AppState, headers: &HeaderMap) -> Result<(Principal, OrgId), Failure> {
    let p = authenticate(st, bearer_header(headers)).await?;
    let org = p.org()?;
    Ok((p, org))
}

fn negotiate(headers: &HeaderMap) -> Result<Format, Failure> {
    accept(headers)
        .ok_or_else(|| Failure::Status(StatusCode::NOT_ACCEPTABLE, "Accept must allow application/json or application/xml".into()))
}

async fn find_group(st: &AppState, org: OrgId, raw: &str) -> Result<GroupRow, Failure> {
    let not_found = || Failure::Status(StatusCode::NOT_FOUND, format!("user group {raw} not found"));
    let number: i64 = raw.trim().parse().map_err(|_| not_found())?;
    queries::group_by_number(&st.pool, org.0, number).await?.ok_or_else(not_found)
}

/// Resolves user ids (numbers) or, when `emails_allowed`, emails; unknown or inactive users → 400
/// naming every offender.
async fn resolve_users(st: &AppState, org: OrgId, raw: &[String], emails_allowed: bool) -> Result<Vec<UserId>, Failure> {
    let mut numbers = Vec::new();
    let mut emails = Vec::new();
    let mut bad = Vec::new();
    for r in raw {
        let r = r.trim();
        match r.parse::<i64>() {
            Ok(n) => numbers.push(n),
            Err(_) if emails_allowed && r.contains('@') => emails.push(r.to_lowercase()),
            Err(_) => bad.push(r.to_string()),
        }
    }
    let by_number = queries::users_by_numbers(&st.pool, org.0, &numbers).await?;
    let by_email = queries::users_by_emails(&st.pool, org.0, &emails).await?;
    // "Active" as Publisher means it: a user who may sign in (not archived, not blocked).
    let active = |u: &&UserRow| !matches!(u.status.as_str(), "ARCHIVE" | "BLOCKED");
    let mut out = Vec::new();
    for r in raw {
        let r = r.trim();
        let found = match r.parse::<i64>() {
            Ok(n) => by_number.iter().filter(active).find(|u| u.number == n),
            Err(_) => by_email.iter().filter(active).find(|u| u.email.eq_ignore_ascii_case(r)),
        };
        match found {
            Some(u) => out.push(UserId(u.id)),
            None if !bad.iter().any(|b| b == r) => bad.push(r.to_string()),
            None => {}
        }
    }
    if !bad.is_empty() {
        return Err(Failure::Status(StatusCode::BAD_REQUEST, format!("users: unknown or inactive users: {}", bad.join(", "))));
    }
    Ok(out)
}

fn required_name(p: &Parsed) -> Result<String, Failure> {
    p.name.clone().filter(|n| !n.trim().is_empty()).ok_or_else(|| Failure::Status(StatusCode::BAD_REQUEST, "name: is required".into()))
}

// ----- list -------------------------------------------------------------------------------------

/// `lastweek` | `lastmonth` | `lastyear` | `YYYYMMDD,YYYYMMDD` (both whole days, UTC).
fn date_range(field: &str, raw: &str, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let far = now + Duration::days(1);
    match raw.trim().to_ascii_lowercase().as_str() {
        "lastweek" => return Ok((now - Duration::days(7), far)),
        "lastmonth" => return Ok((now.checked_sub_months(chrono::Months::new(1)).unwrap_or(now), far)),
        "lastyear" => return Ok((now.checked_sub_months(chrono::Months::new(12)).unwrap_or(now), far)),
        _ => {}
    }
    let bad = || ApiError::invalid(field, "must be lastweek, lastmonth, lastyear or YYYYMMDD,YYYYMMDD");
    let (a, b) = raw.split_once(',').ok_or_else(bad)?;
    let day = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y%m%d").map_err(|_| bad());
    let (from, to) = (day(a)?, day(b)?);
    if to < from {
        return Err(ApiError::invalid(field, "the range ends before it starts"));
    }
    let start = from.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
    let end = (to + Duration::days(1)).and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
    Ok((start, end))
}

/// `-name,+created`: `-` descending, `+` (or a space, an unencoded `+`) or nothing ascending.
fn order_by(raw: &str) -> Result<String, ApiError> {
    let mut keys = Vec::new();
    for part in raw.split(',').filter(|p| !p.trim().is_empty()) {
        let t = part.trim_start();
        let (desc, name) = match t.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let name = name.trim().to_ascii_lowercase();
        let key = GroupSort::parse(&name)
            .ok_or_else(|| ApiError::invalid("sort", format!("unknown field '{name}'; use name, created, updated or id")))?;
        keys.push((key, desc));
    }
    Ok(projections::publisher::order_by(&keys))
}

fn list_query(q: &HashMap<String, String>, now: DateTime<Utc>) -> Result<(PublisherListQuery, Vec<&'static str>), ApiError> {
    let get = |names: &[&str]| names.iter().find_map(|n| q.get(*n)).map(String::as_str).filter(|s| !s.trim().is_empty());
    let limit = crate::kernel::dialect::int_param("limit", get(&["limit"]), DEFAULT_LIMIT, 0, MAX_LIMIT)?;
    let offset = crate::kernel::dialect::int_param("offset", get(&["offset"]), 0, 0, i64::from(i32::MAX))?;
    let created = get(&["createddate", "createddatetime"]).map(|r| date_range("createdDate", r, now)).transpose()?;
    let modified = get(&["modifieddate", "modifieddatetime"]).map(|r| date_range("modifiedDate", r, now)).transpose()?;
    let fields: Vec<&'static str> = match get(&["fields"]) {
        None => SUMMARY_FIELDS.to_vec(),
        Some(f) if f.trim().eq_ignore_ascii_case("all") => KNOWN_FIELDS.to_vec(),
        // Unknown names are ignored (open question 3).
        Some(f) => {
            let wanted: Vec<String> = f.split(',').map(|s| s.trim().to_ascii_lowercase()).collect();
            KNOWN_FIELDS.iter().copied().filter(|k| wanted.iter().any(|w| w == k)).collect()
        }
    };
    let query = PublisherListQuery {
        search: get(&["search"]).map(|s| s.trim().to_string()),
        created,
        modified,
        order_by: get(&["sort"]).map(order_by).transpose()?.unwrap_or_default(),
        offset,
        limit,
    };
    Ok((query, fields))
}

/// List user groups: `search`, `sort`, `fields`, `limit`, `offset`, `createdDate`, `modifiedDate`.
#[utoipa::path(get, path = "/api/2/groups", tag = "Publisher",
    params(("search" = Option<String>, Query), ("sort" = Option<String>, Query, description = "e.g. `-name,+created`"),
           ("fields" = Option<String>, Query, description = "`all` or a list of id,name,link,users,createddate,modifieddate,organisationcount"),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
           ("createdDate" = Option<String>, Query, description = "lastweek | lastmonth | lastyear | YYYYMMDD,YYYYMMDD (also createdDateTime)"),
           ("modifiedDate" = Option<String>, Query)),
    responses((status = 200, content((PublisherGroupList = "application/json"), (PublisherGroupList = "application/xml"))),
              (status = 400, content((PublisherError = "application/json"), (PublisherError = "application/xml"))),
              (status = 401, body = PublisherError), (status = 406, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn list_groups(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (_, org) = caller(&st, &headers).await?;
    let q: HashMap<String, String> = raw.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    if let Some(k) = q.iter().find_map(|(k, v)| (k.contains('\0') || v.contains('\0')).then(|| k.replace('\0', "\\u0000"))) {
        return Err(ApiError::invalid(k, crate::kernel::dialect::NUL_MESSAGE).into());
    }
    let (query, fields) = list_query(&q, Utc::now())?;
    let (rows, total) = if query.limit == 0 {
        let (_, total) = queries::publisher_groups_page(&st.pool, org.0, &PublisherListQuery { limit: 0, ..query.clone() }).await?;
        (vec![], total)
    } else {
        queries::publisher_groups_page(&st.pool, org.0, &query).await?
    };
    let base = base_url(&headers);
    let x = extras(&st, &rows, &fields).await?;
    let groups: Vec<Value> = rows.iter().map(|g| group_object(g, &fields, &base, &x)).collect();
    let currentpage = if query.limit == 0 { 0 } else { query.offset / query.limit };
    let json_body = json!({ "total": total, "currentpage": currentpage, "groups": groups });
    let xml = json!({ "total": total, "currentpage": currentpage, "group": groups });
    Ok(render(fmt, StatusCode::OK, "groups", &xml, json_body))
}

/// One user group: `{group: {id, name, users, createddate, organisationcount}}`.
#[utoipa::path(get, path = "/api/2/groups/{id}", tag = "Publisher", params(("id" = i64, Path)),
    responses((status = 200, content((PublisherGroupEnvelope = "application/json"), (PublisherGroupEnvelope = "application/xml"))),
              (status = 404, content((PublisherError = "application/json"), (PublisherError = "application/xml"))), (status = 401, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn read_group(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (_, org) = caller(&st, &headers).await?;
    let g = find_group(&st, org, &id).await?;
    Ok(one_group(&st, fmt, StatusCode::OK, &g, FULL_FIELDS, &base_url(&headers)).await?)
}

/// Create a user group (200, the summary).
#[utoipa::path(post, path = "/api/2/groups", tag = "Publisher",
    request_body(content((GroupEnvelopeIn = "application/json"), (GroupIn = "application/xml"))),
    responses((status = 200, content((PublisherGroupEnvelope = "application/json"), (PublisherGroupEnvelope = "application/xml"))),
              (status = 400, content((PublisherError = "application/json"), (PublisherError = "application/xml"))),
              (status = 401, body = PublisherError), (status = 403, body = PublisherError), (status = 406, body = PublisherError), (status = 415, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn create_group(State(st): State<AppState>, headers: HeaderMap, meta: WriteMeta, bytes: Bytes) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (who, _) = caller(&st, &headers).await?;
    let org = who.require_org_admin()?;
    let body = parse_body(&headers, &bytes)?;
    let name = required_name(&body)?;
    let users = resolve_users(&st, org, body.users.as_deref().unwrap_or_default(), false).await?;
    let ctx = meta.context::<Publisher>(Some(&who))?;
    let members = users.into_iter().map(|u| NewMember { user_id: u, role: MemberRole::Member, visited: false }).collect();
    let input = group_cmd::CreateGroup { name, members, ..Default::default() };
    let committed = group_cmd::create_group(&st.store, &ctx, org, input).await?;
    let base = base_url(&headers);
    Ok(st
        .respond_or(
            &ctx,
            committed,
            |st, result| async move {
                let id = result.group_id.0;
                let g = queries::group(&st.pool, org.0, id).await?.ok_or_else(|| ApiError::NotFound("user group not found".into()))?;
                one_group(&st, fmt, StatusCode::OK, &g, SUMMARY_FIELDS, &base).await
            },
            accepted(fmt),
        )
        .await?)
}

/// Replace a user group's name and users (200, the summary).
#[utoipa::path(put, path = "/api/2/groups/{id}", tag = "Publisher", params(("id" = i64, Path)),
    request_body(content((GroupEnvelopeIn = "application/json"), (GroupIn = "application/xml"))),
    responses((status = 200, content((PublisherGroupEnvelope = "application/json"), (PublisherGroupEnvelope = "application/xml"))),
              (status = 400, content((PublisherError = "application/json"), (PublisherError = "application/xml"))),
              (status = 404, body = PublisherError), (status = 415, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn replace_group(
    State(st): State<AppState>,
    headers: HeaderMap,
    meta: WriteMeta,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (who, _) = caller(&st, &headers).await?;
    let org = who.require_org_admin()?;
    let g = find_group(&st, org, &id).await?;
    let body = parse_body(&headers, &bytes)?;
    if let Some(body_id) = body.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if body_id != g.number.to_string() {
            return Err(Failure::Status(StatusCode::BAD_REQUEST, format!("id: the body's id {body_id} is not the path's id {}", g.number)));
        }
    }
    let name = required_name(&body)?;
    let users = resolve_users(&st, org, body.users.as_deref().unwrap_or_default(), false).await?;
    let ctx = meta.context::<Publisher>(Some(&who))?;
    let committed = group_cmd::replace_group(&st.store, &ctx, org, GroupId(g.id), name, users).await?;
    let base = base_url(&headers);
    Ok(st
        .respond_or(
            &ctx,
            committed,
            |st, _| async move {
                let g = queries::group(&st.pool, org.0, g.id).await?.ok_or_else(|| ApiError::NotFound("user group not found".into()))?;
                one_group(&st, fmt, StatusCode::OK, &g, SUMMARY_FIELDS, &base).await
            },
            accepted(fmt),
        )
        .await?)
}

/// Delete a user group: 202, no body.
#[utoipa::path(delete, path = "/api/2/groups/{id}", tag = "Publisher", params(("id" = i64, Path)),
    responses((status = 202), (status = 404, content((PublisherError = "application/json"), (PublisherError = "application/xml"))), (status = 401, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn delete_group(
    State(st): State<AppState>,
    headers: HeaderMap,
    meta: WriteMeta,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (who, _) = caller(&st, &headers).await?;
    let org = who.require_org_admin()?;
    let g = find_group(&st, org, &id).await?;
    let ctx = meta.context::<Publisher>(Some(&who))?;
    let committed = group_cmd::delete_group(&st.store, &ctx, org, GroupId(g.id)).await?;
    Ok(st.respond_or(&ctx, committed, |_, _| async move { Ok(StatusCode::ACCEPTED.into_response()) }, accepted(fmt)).await?)
}

/// Add users (ids or emails) to a user group (v5.0): 200, the full object.
#[utoipa::path(put, path = "/api/2/groups/{id}/users", tag = "Publisher", params(("id" = i64, Path)),
    request_body(content((GroupEnvelopeIn = "application/json"), (GroupIn = "application/xml"))),
    responses((status = 200, content((PublisherGroupEnvelope = "application/json"), (PublisherGroupEnvelope = "application/xml"))),
              (status = 400, content((PublisherError = "application/json"), (PublisherError = "application/xml"))), (status = 404, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn add_users(
    State(st): State<AppState>,
    headers: HeaderMap,
    meta: WriteMeta,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (who, _) = caller(&st, &headers).await?;
    let org = who.require_org_admin()?;
    let g = find_group(&st, org, &id).await?;
    let body = parse_body(&headers, &bytes)?;
    let raw = body.users.ok_or_else(|| Failure::Status(StatusCode::BAD_REQUEST, "users: is required".into()))?;
    let users = resolve_users(&st, org, &raw, true).await?;
    let ctx = meta.context::<Publisher>(Some(&who))?;
    let committed = group_cmd::add_members(&st.store, &ctx, org, GroupId(g.id), users).await?;
    let base = base_url(&headers);
    Ok(st
        .respond_or(
            &ctx,
            committed,
            |st, _| async move {
                let g = queries::group(&st.pool, org.0, g.id).await?.ok_or_else(|| ApiError::NotFound("user group not found".into()))?;
                one_group(&st, fmt, StatusCode::OK, &g, FULL_FIELDS, &base).await
            },
            accepted(fmt),
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_come_only_from_the_allow_list() {
        assert_eq!(order_by("-name,+created").unwrap(), "g.name DESC, g.created_at ASC");
        assert_eq!(order_by(" updated").unwrap(), "g.updated_at ASC");
        assert!(order_by("name;drop table groups").is_err());
    }

    #[test]
    fn date_ranges_cover_whole_days() {
        let now = Utc::now();
        let (a, b) = date_range("createdDate", "20170801,20171004", now).unwrap();
        assert_eq!(a.to_rfc3339(), "2017-08-01T00:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2017-10-05T00:00:00+00:00");
        assert!(date_range("createdDate", "2017-08-01", now).is_err());
    }

    #[test]
    fn xml_users_are_user_elements() {
        let xml = quick_xml::se::to_string_with_root("group", &xml_shape(json!({"id": 3, "users": [4, 5]}))).unwrap();
        assert!(xml.contains("<users><user>4</user><user>5</user></users>"), "{xml}");
    }
}
