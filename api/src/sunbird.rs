//! Sunbird Lern groups-service and its group activity aggregator (spec/sunbird-groups.md).
//! The user token travels in `x-authenticated-user-token` (a Roster token, DESIGN §6); bodies are
//! `{id, ver, ts, params, request}` envelopes; answers are groups-service envelopes with `GS_*`
//! codes, except the aggregator, which answers in lms-service's envelope. Ids are UUIDs.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, on, post, MethodFilter, MethodRouter};
use axum::Router;
use chrono::{DateTime, Utc};
use commands::handlers::group as group_cmd;
use domain::group::{
    authorize_change, Activity, ActivityChanges, Actor, Denial, GroupChange, GroupPatch, GroupStatus, Issue, MemberChanges, MemberRole,
    MembershipType, NewMember, MAX_ACTIVITIES_PER_GROUP, MAX_GROUPS_PER_USER, MAX_MEMBERS_PER_GROUP,
};
use domain::patch::Patch;
use domain::{DomainError, GroupId, OrgId, UserId};
use projections::queries::{self, GroupRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::kernel::auth::{authenticate, Principal};
use crate::kernel::consistency::{mark_failed, mark_pending, Settled};
use crate::kernel::dialect::Dialect;
use crate::kernel::error::ApiError;
use crate::kernel::idempotency::OwnKey;
use crate::kernel::request_id::ClientRequestId;
use crate::kernel::write::{Accepted, Ctx, WriteMeta};
use crate::AppState;

pub const NAME: &str = Sunbird::NAME;

/// Sunbird's dialect. Its handlers answer in each operation's own codes (see [`Op`]); this
/// shape is for what no operation answers: a write's context and the kernel's rejections.
pub struct Sunbird;

impl Dialect for Sunbird {
    const NAME: &'static str = "sunbird";

    fn token(parts: &Parts) -> Option<&str> {
        header(&parts.headers, "x-authenticated-user-token")
    }

    fn render(err: &ApiError) -> Response {
        let f = match err {
            ApiError::Unauthorized(_) | ApiError::Forbidden(_) => unauthorized(),
            ApiError::Unavailable => unavailable(),
            other => Fail::new(other.status(), "CLIENT_ERROR", other.message()),
        };
        let env = Envelope { api_id: "api.group".into(), msgid: Uuid::new_v4().to_string(), ver: None };
        envelope_response(&env, Err(f))
    }
}

/// The `ts` and date format of every Sunbird answer: `2020-12-01 20:52:25:226+0000`.
pub const TS_FORMAT: &str = "%Y-%m-%d %H:%M:%S:%3f%z";

/// The path prefixes Sunbird is served under (open question 1): public, OpenAPI-server-relative, backend.
const GROUP_PREFIXES: [&str; 2] = ["/api/group/v1", "/group/v1"];
const AGG_PATHS: [&str; 3] = ["/api/data/v1/group/activity/agg", "/data/v1/group/activity/agg", "/v1/group/activity/agg"];
const MEMBERSHIP_PATHS: [&str; 3] = ["/api/group/membership/v1/update", "/group/membership/v1/update", "/v1/group/membership/update"];

pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for p in GROUP_PREFIXES {
        r = r
            .route(&format!("{p}/create"), only(post(create_group)))
            .route(&format!("{p}/update"), only(axum::routing::patch(update_group)))
            .route(&format!("{p}/list"), only(post(list_groups)))
            .route(&format!("{p}/delete"), only(post(delete_group)))
            .route(&format!("{p}/read/{{group_id}}"), only(get(read_group)));
    }
    r = r
        .route("/v1/group/create", only(post(create_group)))
        .route("/v1/group/update", only(axum::routing::patch(update_group)))
        .route("/v1/group/list", only(post(list_groups)))
        .route("/v1/group/delete", only(post(delete_group)))
        .route("/v1/group/read/{group_id}", only(get(read_group)));
    for p in MEMBERSHIP_PATHS {
        // The doc says POST, the service's routes say PATCH: take both everywhere.
        r = r.route(p, only(on(MethodFilter::POST.or(MethodFilter::PATCH), update_membership)));
    }
    for p in AGG_PATHS {
        r = r.route(p, only(post(activity_agg)));
    }
    // Anything else under the Sunbird prefixes is answered in Sunbird's envelope, not as bare 404.
    for p in ["/api/group/{*rest}", "/group/{*rest}", "/v1/group/{*rest}", "/api/data/{*rest}", "/data/{*rest}"] {
        r = r.route(p, any(unknown_route));
    }
    r
}

fn only(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(wrong_method)
}

// ----- envelope ---------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct SunbirdParams {
    pub resmsgid: Option<String>,
    pub msgid: String,
    pub err: Option<String>,
    pub status: String,
    pub errmsg: Option<String>,
}

/// The groups-service envelope: `params` is null on success, `responseCode` the HTTP status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SunbirdResponse {
    pub id: String,
    pub ver: Option<String>,
    pub ts: String,
    pub params: Option<SunbirdParams>,
    pub response_code: u16,
    #[schema(value_type = Object)]
    pub result: Value,
}

/// The request envelope; only `request` matters.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SunbirdRequest {
    pub id: Option<String>,
    pub ver: Option<String>,
    pub ts: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
    #[schema(value_type = Object)]
    pub request: Value,
}

/// lms-service's envelope (activity aggregator): string `responseCode`, `params` always present.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LmsResponse {
    pub id: String,
    pub ver: String,
    pub ts: String,
    pub params: SunbirdParams,
    pub response_code: String,
    #[schema(value_type = Object)]
    pub result: Value,
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.format(TS_FORMAT).to_string()
}

/// One request's envelope facts, known before anything can fail.
struct Envelope {
    api_id: String,
    msgid: String,
    ver: Option<String>,
}

/// A failure, answered as `{params: {err, errmsg, status: "failed"}, responseCode, result: {}}`.
#[derive(Debug)]
struct Fail {
    status: StatusCode,
    code: String,
    message: String,
}

impl Fail {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Fail { status, code: code.into(), message: message.into() }
    }
}

const MSG_UNAUTHORIZED: &str = "You are an unauthorized.Contact your system administrator";

fn unauthorized() -> Fail {
    Fail::new(StatusCode::UNAUTHORIZED, "GS_UNAUTHORIZED", MSG_UNAUTHORIZED)
}

/// The codes of one operation; validation, unknown group and storage failures differ per operation.
struct Op {
    api_id: &'static str,
    invalid: (&'static str, &'static str),
    not_found: (&'static str, &'static str),
    internal: (&'static str, &'static str),
}

const CREATE: Op = Op {
    api_id: "api.group.create",
    invalid: (
        "GS_CRT02",
        "Failed to create group, fields are missing or invalid in the request. Enter the required values and resend the request.",
    ),
    not_found: (
        "GS_CRT02",
        "Failed to create group, fields are missing or invalid in the request. Enter the required values and resend the request.",
    ),
    internal: (
        "GS_CRT03",
        "Failed to create group, due to database error or there are too many concurrent calls to the server. Try again later.",
    ),
};
const UPDATE: Op = Op {
    api_id: "api.group.update",
    invalid: ("GS_UDT02", "Failed to update group, mandatory  are missing or invalid fields value in the request. Enter the required values and resend the request."),
    not_found: ("GS_UDT07", "Failed to update, group does not exist. Contact your system administrator."),
    internal: ("GS_UDT03", "Failed to update group, due to database error or there are too many concurrent calls to the server. Try again later."),
};
const LIST: Op = Op {
    api_id: "api.group.list",
    invalid: ("GS_LST02", "Failed to fetch group list, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    not_found: ("GS_LST02", "Failed to fetch group list, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    internal: ("GS_LST03", "Failed to fetch group list, due to database error or there are too many concurrent calls to the server. Try again later."),
};
const DELETE: Op = Op {
    api_id: "api.group.delete",
    // GS_DLT02 carries GS_CRT02's text in the source; kept.
    invalid: (
        "GS_DLT02",
        "Failed to create group, fields are missing or invalid in the request. Enter the required values and resend the request.",
    ),
    not_found: ("GS_DLT07", "Failed to delete, group not found. Contact your system administrator."),
    internal: (
        "GS_DLT03",
        "Failed to delete group, due to database error or there are too many concurrent calls to the server. Try again later.",
    ),
};
const READ: Op = Op {
    api_id: "api.group.read",
    invalid: ("GS_RED02", "Failed to read group details, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    not_found: ("GS_RED07", "Failed to read details, group not found. Contact your system administrator."),
    internal: ("GS_RED03", "Failed to read group details, due to database error or there are too many concurrent calls to the server. Try again later."),
};
const MEMBERSHIP: Op = Op {
    api_id: "api.group.membership.update",
    invalid: ("GS_MBRSHP_UDT02", "Failed to update group member details, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    not_found: ("GS_MBRSHP_UDT02", "Failed to update group member details, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    internal: ("GS_MBRSHP_UDT03", "Failed to create group, due to database error or there are too many concurrent calls to the server. Try again later."),
};

impl Op {
    fn invalid(&self) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, self.invalid.0, self.invalid.1)
    }

    fn not_found(&self) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, self.not_found.0, self.not_found.1)
    }

    /// Maps the API layer's error into this operation's code; the detail is logged, not sent
    /// (Sunbird re-wraps every validation failure into the fixed `*02` text).
    /// A command's refusal: an unknown id the request names (a member) is the request's fault,
    /// answered as invalid; the rest as [`Op::map`].
    fn refused(&self, e: commands::CommandError) -> Fail {
        match e {
            commands::CommandError::Rejected(DomainError::NotFoundAt { field, what }) => {
                tracing::debug!(%field, what, api = self.api_id, "sunbird: the request names an unknown id");
                self.invalid()
            }
            other => self.map(other.into()),
        }
    }

    fn map(&self, e: ApiError) -> Fail {
        match e {
            ApiError::Invalid { field, message } => {
                tracing::debug!(%field, %message, api = self.api_id, "sunbird validation failed");
                self.invalid()
            }
            ApiError::NotFound(m) => {
                tracing::debug!(message = %m, api = self.api_id, "sunbird: not found");
                self.not_found()
            }
            ApiError::Unauthorized(_) => unauthorized(),
            ApiError::Forbidden(m) => Fail::new(StatusCode::UNAUTHORIZED, "GS_UNAUTHORIZED", m),
            ApiError::Conflict(m) => Fail::new(StatusCode::BAD_REQUEST, self.invalid.0, m),
            ApiError::TooLarge(m) => Fail::new(StatusCode::PAYLOAD_TOO_LARGE, self.invalid.0, m),
            ApiError::Internal => Fail::new(StatusCode::INTERNAL_SERVER_ERROR, self.internal.0, self.internal.1),
            // The operation's own "database error ... Try again later" code, as a 503.
            ApiError::Unavailable => Fail::new(StatusCode::SERVICE_UNAVAILABLE, self.internal.0, self.internal.1),
        }
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty())
}

/// `params.msgid`: the client's `x-request-id`, else `X-msgid` / `msgId`, else a new UUID.
fn msgid(parts_headers: &HeaderMap, client_request_id: bool) -> String {
    let from_client = if client_request_id { header(parts_headers, "x-request-id") } else { None };
    from_client
        .or_else(|| header(parts_headers, "x-msgid"))
        .or_else(|| header(parts_headers, "msgid"))
        .map(str::to_string)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

fn envelope_response(env: &Envelope, outcome: Result<Value, Fail>) -> Response {
    let now = ts(Utc::now());
    let (status, body) = match outcome {
        Ok(result) => (
            StatusCode::OK,
            SunbirdResponse { id: env.api_id.clone(), ver: Some("v1".into()), ts: now, params: None, response_code: 200, result },
        ),
        Err(f) => (
            f.status,
            SunbirdResponse {
                id: env.api_id.clone(),
                ver: env.ver.clone(),
                ts: now,
                params: Some(SunbirdParams {
                    resmsgid: None,
                    msgid: env.msgid.clone(),
                    err: Some(f.code),
                    status: "failed".into(),
                    errmsg: Some(f.message),
                }),
                response_code: f.status.as_u16(),
                result: json!({}),
            },
        ),
    };
    let resp = with_cors((status, axum::Json(body)).into_response());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        crate::kernel::error::with_retry_after(resp)
    } else {
        resp
    }
}

/// A write the read models do not show yet (or whose event was parked): 202 in the envelope, with
/// what the command knows and its position as the result.
fn accepted_response(env: &Envelope, accepted: Accepted) -> Response {
    let body = SunbirdResponse {
        id: env.api_id.clone(),
        ver: Some("v1".into()),
        ts: ts(Utc::now()),
        params: None,
        response_code: StatusCode::ACCEPTED.as_u16(),
        result: accepted.json(),
    };
    with_cors((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

fn with_cors(mut resp: Response) -> Response {
    resp.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    resp
}

/// The request as Sunbird reads it: a non-JSON or `request`-less body is an empty request.
struct Body {
    request: Map<String, Value>,
    ver: Option<String>,
    msgid: Option<String>,
    /// Where the body holds U+0000 (which Postgres cannot store), if anywhere.
    nul_field: Option<String>,
}

fn parse_body(bytes: &[u8]) -> Body {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    Body {
        nul_field: crate::kernel::dialect::nul_in_json(&v).map(|path| crate::kernel::dialect::field_at("body", &path)),
        request: v.get("request").and_then(Value::as_object).cloned().unwrap_or_default(),
        ver: v.get("ver").and_then(Value::as_str).map(str::to_string),
        msgid: v.pointer("/params/msgid").and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty()),
    }
}

// ----- caller -----------------------------------------------------------------------------------

/// Who acts: the user of `x-authenticated-user-token`, or the managed user of
/// `x-authenticated-for` when that user reports to them.
struct Acting {
    principal: Principal,
    org: OrgId,
}

impl Acting {
    fn actor(&self) -> Actor {
        Actor { user: self.principal.user_id, org_admin: self.principal.is_org_admin() }
    }
}

async fn acting(st: &AppState, headers: &HeaderMap) -> Result<Acting, Fail> {
    let user = authenticate(st, header(headers, "x-authenticated-user-token")).await.map_err(auth_failed)?;
    let org = user.org_id.ok_or_else(unauthorized)?;
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        let key = authenticate(st, crate::kernel::auth::bearer_header(headers)).await.map_err(auth_failed)?;
        if key.org_id != Some(org) {
            return Err(unauthorized());
        }
    }
    let Some(for_token) = headers.get("x-authenticated-for") else {
        return Ok(Acting { principal: user, org });
    };
    let managed = authenticate(st, for_token.to_str().ok().map(str::trim)).await.map_err(auth_failed)?;
    let row = queries::user(&st.pool, org.0, managed.user_id.0).await.map_err(|e| match ApiError::from(e) {
        ApiError::Unavailable => unavailable(),
        _ => internal_unauthorized(),
    })?;
    match row {
        Some(u) if u.reports_to == Some(user.user_id.0) => Ok(Acting { principal: managed, org }),
        _ => Err(unauthorized()),
    }
}

/// A token that does not authenticate is Sunbird's 401, unless the store could not be asked.
fn auth_failed(e: ApiError) -> Fail {
    match e {
        ApiError::Unavailable => unavailable(),
        _ => unauthorized(),
    }
}

/// Postgres or NATS is away before any operation could start: 503, retry later.
fn unavailable() -> Fail {
    Fail::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Service is temporarily unavailable. Try again later.")
}

fn internal_unauthorized() -> Fail {
    Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "GS_UNAUTHORIZED", "internal error")
}

/// Everything a write needs: envelope facts, the caller, and a command context whose
/// idempotency key is Sunbird's message id, so a repeated msgid creates nothing new.
struct Call {
    env: Envelope,
    body: Body,
    headers: HeaderMap,
    own_key: Option<OwnKey>,
}

impl Call {
    /// A body holding U+0000 anywhere is this operation's validation failure (detail logged).
    fn refuse_nul(&self, op: &Op) -> Result<(), Fail> {
        match &self.body.nul_field {
            Some(field) => Err(op.map(ApiError::invalid(field.clone(), crate::kernel::dialect::NUL_MESSAGE))),
            None => Ok(()),
        }
    }
}

fn call(op: &Op, method: &Method, uri: &Uri, headers: HeaderMap, client_request_id: bool, bytes: &[u8]) -> Call {
    let body = parse_body(bytes);
    let header_msgid = msgid(&headers, client_request_id);
    let explicit_header = (client_request_id && header(&headers, "x-request-id").is_some())
        || header(&headers, "x-msgid").is_some()
        || header(&headers, "msgid").is_some();
    // Sunbird's key source: the body's msgid, else one the client sent in a header.
    let key = body.msgid.clone().or(explicit_header.then(|| header_msgid.clone()));
    let own_key = key.and_then(|k| OwnKey::new(NAME, &k, method, uri, bytes));
    let env = Envelope { api_id: op.api_id.to_string(), msgid: body.msgid.clone().unwrap_or(header_msgid), ver: body.ver.clone() };
    Call { env, body, headers, own_key }
}

impl Call {
    fn context(&self, meta: &WriteMeta, who: &Acting, op: &Op) -> Result<Ctx<Sunbird>, Fail> {
        let mut ctx = meta.context_keyed::<Sunbird>(Some(&who.principal), self.own_key.as_ref()).map_err(|e| op.map(e))?;
        ctx.request_id = Some(self.env.msgid.clone());
        Ok(ctx)
    }
}

/// Runs a write and answers it through `AppState::respond`, so a replayed msgid gets the first answer.
async fn answer_write<R: serde::Serialize>(
    st: &AppState,
    ctx: &commands::CommandContext,
    env: &Envelope,
    op: &Op,
    committed: Result<commands::Committed<R>, commands::CommandError>,
    build: impl FnOnce(R) -> Result<Value, Fail>,
) -> Response {
    let committed = match committed {
        Ok(c) => c,
        Err(e) => return envelope_response(env, Err(op.refused(e))),
    };
    let built = st
        .respond_or(
            ctx,
            committed,
            |_, result| {
                let resp = envelope_response(env, build(result));
                async move { Ok(resp) }
            },
            |a| accepted_response(env, a),
        )
        .await;
    match built {
        Ok(r) => with_cors(r),
        Err(e) => envelope_response(env, Err(op.map(e))),
    }
}

// ----- request parsing --------------------------------------------------------------------------

fn opt_str<'a>(req: &'a Map<String, Value>, key: &str, op: &Op) -> Result<Option<&'a str>, Fail> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(op.invalid()),
    }
}

fn required_str<'a>(req: &'a Map<String, Value>, key: &str, op: &Op) -> Result<&'a str, Fail> {
    opt_str(req, key, op)?.filter(|s| !s.trim().is_empty()).ok_or_else(|| op.invalid())
}

fn user_id(raw: &Value, op: &Op) -> Result<UserId, Fail> {
    raw.as_str().and_then(|s| Uuid::parse_str(s.trim()).ok()).map(UserId).ok_or_else(|| op.invalid())
}

fn group_id(raw: &str, op: &Op) -> Result<GroupId, Fail> {
    // An id that is no UUID names no group.
    Uuid::parse_str(raw.trim()).map(GroupId).map_err(|_| op.not_found())
}

fn role(v: Option<&Value>, op: &Op) -> Result<MemberRole, Fail> {
    match v {
        None | Some(Value::Null) => Ok(MemberRole::Member),
        Some(Value::String(s)) => MemberRole::parse(s).ok_or_else(|| op.invalid()),
        Some(_) => Err(op.invalid()),
    }
}

fn array<'a>(v: Option<&'a Value>, op: &Op) -> Result<&'a [Value], Fail> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(op.invalid()),
    }
}

fn activities(v: Option<&Value>, op: &Op) -> Result<Vec<Activity>, Fail> {
    array(v, op)?
        .iter()
        .map(|a| {
            let id = a.get("id").and_then(Value::as_str).ok_or_else(|| op.invalid())?;
            let kind = a.get("type").and_then(Value::as_str).ok_or_else(|| op.invalid())?;
            Activity::parse("activities", id, kind).map_err(|_| op.invalid())
        })
        .collect()
}

fn membership_type(req: &Map<String, Value>, op: &Op) -> Result<Option<MembershipType>, Fail> {
    opt_str(req, "membershipType", op)?.map(|m| MembershipType::parse(m).ok_or_else(|| op.invalid())).transpose()
}

// ----- views ------------------------------------------------------------------------------------

fn put(map: &mut Map<String, Value>, key: &str, v: Option<impl Into<Value>>) {
    // Jackson NON_NULL: absent rather than null.
    if let Some(v) = v {
        map.insert(key.into(), v.into());
    }
}

fn group_object(g: &GroupRow) -> Map<String, Value> {
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

fn member_object(group: Uuid, r: &queries::MemberRecord) -> Value {
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
fn error_block(issues: &[Issue], members_limit: (&str, String), activities_limit: (&str, String)) -> Option<Value> {
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

// ----- handlers ---------------------------------------------------------------------------------

/// Create a group; the caller joins as its admin. 200 `{groupId}` (+ `error` at the limits).
#[utoipa::path(post, path = "/api/group/v1/create", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header), ("x-authenticated-for" = Option<String>, Header), ("x-request-id" = Option<String>, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn create_group(State(st): State<AppState>, parts: Parts, meta: WriteMeta, bytes: Bytes) -> Response {
    let c = call(&CREATE, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    match create_inner(&st, &c, &meta).await {
        Ok(r) => r,
        Err(f) => envelope_response(&c.env, Err(f)),
    }
}

async fn create_inner(st: &AppState, c: &Call, meta: &WriteMeta) -> Result<Response, Fail> {
    c.refuse_nul(&CREATE)?;
    let who = acting(st, &c.headers).await?;
    let op = &CREATE;
    let req = &c.body.request;
    let name = required_str(req, "name", op)?.to_string();
    let description = opt_str(req, "description", op)?.map(str::to_string);
    let membership_type = membership_type(req, op)?.unwrap_or_default();
    let mut members = Vec::new();
    for m in array(req.get("members"), op)? {
        let user = user_id(m.get("userId").unwrap_or(&Value::Null), op)?;
        members.push(NewMember { user_id: user, role: role(m.get("role"), op)?, visited: false });
    }
    let activities = activities(req.get("activities"), op)?;
    let count = queries::group_count_of_user(&st.pool, who.principal.user_id.0).await.map_err(|e| op.map(e.into()))?;
    let ctx = c.context(meta, &who, op)?;
    let input = group_cmd::CreateGroup {
        name,
        description,
        membership_type,
        activities,
        members,
        creator: group_cmd::CreatorMembership::JoinsAsAdmin { already_in: usize::try_from(count).unwrap_or(usize::MAX) },
        lenient_limits: true,
        ..Default::default()
    };
    let committed = match group_cmd::create_group(&st.store, &ctx, who.org, input).await {
        Err(commands::CommandError::Rejected(DomainError::Invalid { field, .. })) if field == "groups" => {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                "GS_CRT04",
                format!("Failed to create group, exceeded number of permissible groups of {MAX_GROUPS_PER_USER}."),
            ));
        }
        other => other,
    };
    Ok(answer_write(st, &ctx, &c.env, op, committed, |result| {
        let mut out = json!({ "groupId": result.group_id });
        let members_msg = format!("Failed to add member, group, exceeded number of permissible members of {MAX_MEMBERS_PER_GROUP}.");
        let acts_msg = format!(
            "Failed to add activity in a group, exceeded the number of permissible activity in the group {MAX_ACTIVITIES_PER_GROUP}."
        );
        if let Some(e) = error_block(&result.issues, ("GS_CRT05", members_msg), ("GS_CRT06", acts_msg)) {
            out["error"] = e;
        }
        Ok(out)
    })
    .await)
}

/// Update name, description, status, membership type, members and activities. 200 `{response: "success"}`.
#[utoipa::path(patch, path = "/api/group/v1/update", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header), ("x-authenticated-for" = Option<String>, Header), ("x-request-id" = Option<String>, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn update_group(State(st): State<AppState>, parts: Parts, meta: WriteMeta, bytes: Bytes) -> Response {
    let c = call(&UPDATE, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    match update_inner(&st, &c, &meta).await {
        Ok(r) => r,
        Err(f) => envelope_response(&c.env, Err(f)),
    }
}

fn parse_change(req: &Map<String, Value>, op: &Op) -> Result<GroupChange, Fail> {
    let mut patch = GroupPatch::default();
    if req.contains_key("name") {
        patch.name = Some(required_str(req, "name", op)?.to_string());
    }
    if let Some(d) = opt_str(req, "description", op)? {
        patch.description = Patch::Set(d.to_string());
    }
    if let Some(m) = membership_type(req, op)? {
        patch.membership_type = Some(m);
    }
    // Other status values are silently ignored, as in the source.
    if let Some(s) = opt_str(req, "status", op)?.and_then(GroupStatus::parse) {
        patch.status = Some(s);
    }
    let members = match req.get("members") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let pairs = |key: &str| -> Result<Vec<(UserId, MemberRole)>, Fail> {
                array(m.get(key), op)?
                    .iter()
                    .map(|x| Ok((user_id(x.get("userId").unwrap_or(&Value::Null), op)?, role(x.get("role"), op)?)))
                    .collect()
            };
            let remove = array(m.get("remove"), op)?.iter().map(|u| user_id(u, op)).collect::<Result<Vec<_>, _>>()?;
            Some(MemberChanges { add: pairs("add")?, edit: pairs("edit")?, remove })
        }
        Some(_) => return Err(op.invalid()),
    };
    let activities = match req.get("activities") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => {
            let remove = array(a.get("remove"), op)?
                .iter()
                .map(|x| x.as_str().filter(|s| !s.trim().is_empty()).map(str::to_string).ok_or_else(|| op.invalid()))
                .collect::<Result<Vec<_>, _>>()?;
            Some(ActivityChanges { add: activities(a.get("add"), op)?, remove })
        }
        Some(_) => return Err(op.invalid()),
    };
    Ok(GroupChange { patch, members, activities })
}

async fn update_inner(st: &AppState, c: &Call, meta: &WriteMeta) -> Result<Response, Fail> {
    c.refuse_nul(&UPDATE)?;
    let who = acting(st, &c.headers).await?;
    let op = &UPDATE;
    let req = &c.body.request;
    let raw_id = required_str(req, "groupId", op)?;
    let change = parse_change(req, op)?;
    let id = group_id(raw_id, op)?;
    let group = group_cmd::load_group(&st.store, who.org, id).await.map_err(|e| op.refused(e))?;
    // Checked here for Sunbird's exact codes; the aggregate checks the same rules again.
    if let Err(d) = authorize_change(&group, who.actor(), &change) {
        return Err(match d {
            Denial::Suspended => Fail::new(StatusCode::BAD_REQUEST, "GS_UDT08", format!("group does not active with this group Id {id}.")),
            _ => Fail::new(
                StatusCode::UNAUTHORIZED,
                "GS_UDT09",
                "Failed to update group, administrator rights required. Contact your system administrator.",
            ),
        });
    }
    let ctx = c.context(meta, &who, op)?;
    let committed = group_cmd::change_group(&st.store, &ctx, who.org, id, who.actor(), change).await;
    Ok(answer_write(st, &ctx, &c.env, op, committed, |result| {
        let mut out = json!({ "response": "success" });
        let members_msg = format!("Failed to update the group,  exceeded permissible members count of {MAX_MEMBERS_PER_GROUP}");
        let acts_msg = format!("Failed to update group activity, exceeded permissible activities of {MAX_ACTIVITIES_PER_GROUP} in a group");
        if let Some(e) = error_block(&result.issues, ("GS_UDT05", members_msg), ("GS_UDT06", acts_msg)) {
            out["error"] = e;
        }
        Ok(out)
    })
    .await)
}

/// The groups a user belongs to, admin roles first. 200 `{group: [...]}`.
#[utoipa::path(post, path = "/api/group/v1/list", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn list_groups(State(st): State<AppState>, parts: Parts, bytes: Bytes) -> Response {
    let c = call(&LIST, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    let outcome = async {
        c.refuse_nul(&LIST)?;
        let who = acting(&st, &c.headers).await?;
        let op = &LIST;
        let filters = c.body.request.get("filters").and_then(Value::as_object).ok_or_else(|| op.invalid())?;
        let user = user_id(filters.get("userId").unwrap_or(&Value::Null), op)?;
        let rows = queries::groups_of_user(&st.pool, who.org.0, user.0).await.map_err(|e| op.map(e.into()))?;
        let groups: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                let mut m = group_object(&r.group);
                m.insert("memberRole".into(), r.member_role.into());
                m.insert("visited".into(), r.visited.into());
                Value::Object(m)
            })
            .collect();
        Ok(json!({ "group": groups }))
    }
    .await;
    envelope_response(&c.env, outcome)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReadParams {
    /// Comma list: `members`, `activities`.
    pub fields: Option<String>,
}

/// One group; `fields` picks `members` and `activities`.
#[utoipa::path(get, path = "/api/group/v1/read/{groupId}", tag = "Sunbird",
    params(("groupId" = String, Path), ReadParams, ("x-authenticated-user-token" = String, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn read_group(State(st): State<AppState>, parts: Parts, Path(raw): Path<String>, Query(q): Query<ReadParams>) -> Response {
    let c = call(&READ, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &[]);
    let outcome = async {
        let who = acting(&st, &c.headers).await?;
        let op = &READ;
        let id = group_id(&raw, op)?;
        let g = queries::group(&st.pool, who.org.0, id.0).await.map_err(|e| op.map(e.into()))?.ok_or_else(|| op.not_found())?;
        let fields: Vec<&str> = q.fields.as_deref().map(|f| f.split(',').map(str::trim).collect()).unwrap_or_default();
        let mut m = group_object(&g);
        if q.fields.is_some() && !fields.contains(&"activities") {
            m.remove("activities");
        }
        if fields.contains(&"members") {
            let members = queries::member_records(&st.pool, g.id).await.map_err(|e| op.map(e.into()))?;
            m.insert("members".into(), members.iter().map(|r| member_object(g.id, r)).collect::<Vec<_>>().into());
        }
        Ok(Value::Object(m))
    }
    .await;
    envelope_response(&c.env, outcome)
}

/// Delete a group: its creator only. 200 `{response: "SUCCESS"}`.
#[utoipa::path(post, path = "/api/group/v1/delete", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header), ("x-request-id" = Option<String>, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn delete_group(State(st): State<AppState>, parts: Parts, meta: WriteMeta, bytes: Bytes) -> Response {
    let c = call(&DELETE, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    let result = async {
        c.refuse_nul(&DELETE)?;
        let who = acting(&st, &c.headers).await?;
        let op = &DELETE;
        let id = group_id(required_str(&c.body.request, "groupId", op)?, op)?;
        let group = group_cmd::load_group(&st.store, who.org, id).await.map_err(|e| op.refused(e))?;
        let actor = who.actor();
        if !(actor.org_admin || group.created_by == Some(actor.user)) {
            return Err(Fail::new(
                StatusCode::UNAUTHORIZED,
                "GS_DLT10",
                "Failed to delete, group  creators can delete the group. Contact your system administrator.",
            ));
        }
        let ctx = c.context(&meta, &who, op)?;
        let committed = group_cmd::delete_group_as_creator(&st.store, &ctx, who.org, id, actor).await;
        Ok(answer_write(&st, &ctx, &c.env, op, committed, |_| Ok(json!({ "response": "SUCCESS" }))).await)
    }
    .await;
    match result {
        Ok(r) => r,
        Err(f) => envelope_response(&c.env, Err(f)),
    }
}

/// The caller marks groups visited. 200 `{response: "SUCCESS"}`.
#[utoipa::path(post, path = "/api/group/membership/v1/update", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn update_membership(State(st): State<AppState>, parts: Parts, meta: WriteMeta, bytes: Bytes) -> Response {
    let c =
        call(&MEMBERSHIP, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    let outcome = async {
        c.refuse_nul(&MEMBERSHIP)?;
        let who = acting(&st, &c.headers).await?;
        let op = &MEMBERSHIP;
        let req = &c.body.request;
        let denied = || {
            Fail::new(
                StatusCode::UNAUTHORIZED,
                "GS_MBRSHP_UDT01",
                "Failed to update group member details, unauthorised user. Contact your system administrator.",
            )
        };
        let user = user_id(req.get("userId").unwrap_or(&Value::Null), op)?;
        let groups = array(req.get("groups"), op)?;
        if groups.is_empty() {
            return Err(op.invalid());
        }
        if user != who.principal.user_id {
            return Err(denied());
        }
        let mut changes = Vec::new();
        for g in groups {
            if g.get("role").is_some() || g.get("status").is_some() {
                return Err(denied());
            }
            let id = g.get("groupId").and_then(Value::as_str).filter(|s| !s.trim().is_empty()).ok_or_else(|| op.invalid())?;
            let id = Uuid::parse_str(id.trim()).map(GroupId).map_err(|_| op.invalid())?;
            let visited = g.get("visited").and_then(Value::as_bool).ok_or_else(|| op.invalid())?;
            changes.push((id, visited));
        }
        // Each group's flag is its own command; setting a flag again changes nothing, so no msgid key.
        let mut ctx = meta.context::<Sunbird>(Some(&who.principal)).map_err(|e| op.map(e))?;
        ctx.idempotency_key = None;
        let mut last = None;
        for (id, visited) in changes {
            let committed = group_cmd::set_visited(&st.store, &ctx, who.org, id, user, visited).await.map_err(|e| op.refused(e))?;
            last = committed.position.or(last);
        }
        let settled = match last {
            Some(p) => st.consistency.settle(&st.pool, p, st.consistency_timeout).await.map_err(|e| op.map(e.into()))?,
            None => Settled::CaughtUp,
        };
        Ok((last, settled))
    }
    .await;
    let success = json!({ "response": "SUCCESS" });
    match outcome {
        Ok((_, Settled::CaughtUp)) => envelope_response(&c.env, Ok(success)),
        // Past the timeout (or parked), the same rule as every write: 202, never a bare success.
        Ok((position, settled)) => {
            let mut resp = accepted_response(&c.env, Accepted { position, result: success });
            if settled == Settled::Failed {
                mark_failed(&mut resp);
            } else {
                mark_pending(&mut resp);
            }
            resp
        }
        Err(f) => envelope_response(&c.env, Err(f)),
    }
}

// ----- activity aggregator (lms-service envelope) -------------------------------------------------

fn lms(env: &Envelope, status: StatusCode, outcome: Result<Value, (&str, &str, String)>) -> Response {
    let now = ts(Utc::now());
    let body = match outcome {
        Ok(result) => LmsResponse {
            id: "api.group.activity.agg".into(),
            ver: "v1".into(),
            ts: now,
            params: SunbirdParams { resmsgid: None, msgid: env.msgid.clone(), err: None, status: "success".into(), errmsg: None },
            response_code: "OK".into(),
            result,
        },
        Err((err, code, message)) => LmsResponse {
            id: "api.group.activity.agg".into(),
            ver: "v1".into(),
            ts: now,
            params: SunbirdParams {
                resmsgid: None,
                msgid: env.msgid.clone(),
                err: (!err.is_empty()).then(|| err.to_string()),
                status: if err.is_empty() { code.to_string() } else { err.to_string() },
                errmsg: Some(message),
            },
            response_code: code.into(),
            result: json!({}),
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut resp = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], bytes.clone()).into_response();
    if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
        resp.headers_mut().insert("x-response-length", v);
    }
    with_cors(resp)
}

/// Per-member progress in one of a group's activities (lms-service). With no data: `members: []`.
#[utoipa::path(post, path = "/api/data/v1/group/activity/agg", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header)),
    responses((status = 200, body = LmsResponse), (status = 400, body = LmsResponse), (status = 401, body = LmsResponse), (status = 500, body = LmsResponse)))]
pub async fn activity_agg(State(st): State<AppState>, parts: Parts, bytes: Bytes) -> Response {
    let body = parse_body(&bytes);
    let client = parts.extensions.get::<ClientRequestId>().is_some();
    let env = Envelope {
        api_id: "api.group.activity.agg".to_string(),
        msgid: body.msgid.clone().unwrap_or_else(|| msgid(&parts.headers, client)),
        ver: None,
    };
    let unavailable = || {
        let resp = lms(
            &env,
            StatusCode::SERVICE_UNAVAILABLE,
            Err(("", "SERVER_ERROR", "Service is temporarily unavailable. Try again later.".into())),
        );
        crate::kernel::error::with_retry_after(resp)
    };
    let who = match acting(&st, &parts.headers).await {
        Ok(w) => w,
        Err(f) if f.status == StatusCode::SERVICE_UNAVAILABLE => return unavailable(),
        Err(_) => return lms(&env, StatusCode::UNAUTHORIZED, Err(("UNAUTHORIZED", "UNAUTHORIZED", MSG_UNAUTHORIZED.into()))),
    };
    let client_error = |err: &'static str, msg: &str| lms(&env, StatusCode::BAD_REQUEST, Err((err, "CLIENT_ERROR", msg.into())));
    let req = &body.request;
    // U+0000 cannot be compared in Postgres: such a request is not valid data (detail logged).
    if let Some(field) = &body.nul_field {
        tracing::debug!(%field, "sunbird activity agg: {}", crate::kernel::dialect::NUL_MESSAGE);
    }
    if req.is_empty() || body.nul_field.is_some() {
        return client_error("INVALID_REQUESTED_DATA", "Requested data for this operation is not valid.");
    }
    let text = |k: &str| req.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let Some(group) = text("groupId") else { return client_error("GROUP_ID_MISSING", "GroupId is mandatory.") };
    let Some(activity) = text("activityId") else { return client_error("ACTIVITY_ID_MISSING", "ActivityId is mandatory.") };
    let Some(activity_type) = text("activityType") else { return client_error("ACTIVITY_TYPE_MISSING", "ActivityType is mandatory.") };
    let server_error =
        || lms(&env, StatusCode::INTERNAL_SERVER_ERROR, Err(("", "SERVER_ERROR", "Error while fetching group members record.".into())));
    let failed = |e: sqlx::Error| if crate::kernel::error::storage_unavailable(&e) { unavailable() } else { server_error() };
    let Ok(gid) = Uuid::parse_str(&group) else { return server_error() };
    match queries::group(&st.pool, who.org.0, gid).await {
        Ok(Some(_)) => {}
        Ok(None) => return server_error(),
        Err(e) => return failed(e),
    }
    let members = match queries::member_records(&st.pool, gid).await {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    let users: Vec<Uuid> = members.iter().map(|m| m.user_id).collect();
    let progress = match queries::activity_progress(&st.pool, who.org.0, &activity, &users).await {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let mut latest: Option<DateTime<Utc>> = None;
    let out: Vec<Value> = progress
        .iter()
        .filter_map(|p| {
            let m = members.iter().find(|m| m.user_id == p.user_id)?;
            latest = latest.max(Some(p.updated_at));
            Some(json!({
                "userId": m.user_id, "name": format!("{} {}", m.first_name, m.last_name).trim(), "role": m.role, "status": m.status,
                "createdBy": m.added_by,
                "agg": [{"metric": "completedCount", "value": p.completed_count, "lastUpdatedOn": p.updated_at.timestamp_millis()}],
            }))
        })
        .collect();
    let result = json!({
        "groupId": group,
        "activity": {"id": activity, "type": activity_type,
            "agg": [{"metric": "enrolmentCount", "lastUpdatedOn": latest.unwrap_or_else(Utc::now).timestamp_millis(), "value": out.len()}]},
        "members": out,
    });
    lms(&env, StatusCode::OK, Ok(result))
}

// ----- unknown routes -----------------------------------------------------------------------------

fn api_id_of(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic())).collect();
    let segs: Vec<&str> = segs.into_iter().filter(|s| *s != "api").collect();
    format!("api.{}", segs.join("."))
}

async fn unknown_route(parts: Parts) -> Response {
    let env = Envelope {
        api_id: api_id_of(parts.uri.path()),
        msgid: msgid(&parts.headers, parts.extensions.get::<ClientRequestId>().is_some()),
        ver: None,
    };
    let message = format!("{} {} is not a valid route", parts.method, parts.uri.path());
    envelope_response(&env, Err(Fail::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", message)))
}

async fn wrong_method(parts: Parts) -> Response {
    let env = Envelope {
        api_id: api_id_of(parts.uri.path()),
        msgid: msgid(&parts.headers, parts.extensions.get::<ClientRequestId>().is_some()),
        ver: None,
    };
    let message = format!("method {} is not allowed on {}", parts.method, parts.uri.path());
    envelope_response(&env, Err(Fail::new(StatusCode::METHOD_NOT_ALLOWED, "RESOURCE_NOT_FOUND", message)))
}

/// The OpenAPI paths of the aliases (open question 1): each alias documents what its public path does.
pub const ALIASES: &[(&str, &[&str])] = &[
    ("/api/group/v1/create", &["/group/v1/create", "/v1/group/create"]),
    ("/api/group/v1/update", &["/group/v1/update", "/v1/group/update"]),
    ("/api/group/v1/list", &["/group/v1/list", "/v1/group/list"]),
    ("/api/group/v1/delete", &["/group/v1/delete", "/v1/group/delete"]),
    ("/api/group/v1/read/{groupId}", &["/group/v1/read/{groupId}", "/v1/group/read/{groupId}"]),
    ("/api/group/membership/v1/update", &["/group/membership/v1/update", "/v1/group/membership/update"]),
    ("/api/data/v1/group/activity/agg", &["/data/v1/group/activity/agg", "/v1/group/activity/agg"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_has_sunbirds_format() {
        let t = DateTime::parse_from_rfc3339("2020-12-01T20:52:25.226Z").unwrap().with_timezone(&Utc);
        assert_eq!(ts(t), "2020-12-01 20:52:25:226+0000");
    }

    #[test]
    fn route_ids_join_alphabetic_segments() {
        assert_eq!(api_id_of("/api/group/v1/nope"), "api.group.nope");
        assert_eq!(api_id_of("/v1/group/x"), "api.group.x");
    }
}
