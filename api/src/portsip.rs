//! PortSIP PBX user groups (spec/groups-8887.md) and `POST /api/login`.
//! Token in `Authorization: Bearer`; errors `{"errors":[{code, message, detail}]}`; ids are base64
//! of the decimal `number` (DESIGN §7).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use commands::handlers::{group as group_cmd, user as user_cmd};
use domain::group::{GroupPatch, MemberRole, OutboundCallerId};
use domain::patch::Patch;
use domain::{GroupId, OrgId, UserId};
use projections::odata;
use projections::queries::{self, GroupListQuery, GroupRow, MemberRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kernel::dialect::{self, Dialect, IntBounds};
use crate::kernel::error::ApiError;
use crate::kernel::fields::FieldNames;
use crate::kernel::write::{SecretBearing, WriteMeta};
use crate::AppState;

pub struct PortSip;

impl Dialect for PortSip {
    const NAME: &'static str = "portsip";
    const TAG: &'static str = "PortSIP";
    const ERROR_SCHEMA: Option<&'static str> = Some("ErrorList");
    const QUERY_INTS: &'static [IntBounds] = &[SKIP, TOP];

    fn token(parts: &axum::http::request::Parts) -> Option<&str> {
        crate::kernel::auth::bearer(parts)
    }

    /// PortSIP's bodies are snake_case, like the neutral names.
    const FIELD_NAMES: FieldNames = &[
        ("caller_id", "caller_id"),
        ("display_name", "display_name"),
        ("outbound_caller_ids", "outbound_caller_ids"),
        ("provider_id", "provider_id"),
        ("user_id", "user_id"),
    ];

    fn render(err: &ApiError) -> Response {
        let (code, message, detail) = match err {
            ApiError::Invalid { field, message } => {
                ("VALIDATE_FAILED", "field validation failed".to_string(), Some(serde_json::json!({ "field": field, "reason": message })))
            }
            ApiError::NotFound(m) => ("NOT_FOUND", m.clone(), None),
            ApiError::Unauthorized(m) => ("UNAUTHORIZED", m.clone(), None),
            ApiError::Forbidden(m) => ("FORBIDDEN", m.clone(), None),
            ApiError::Conflict(m) => ("CONFLICT", m.clone(), None),
            ApiError::TooLarge(m) => ("PAYLOAD_TOO_LARGE", m.clone(), None),
            ApiError::Internal => ("UNKNOWN", "unknown error".to_string(), None),
            ApiError::Unavailable => ("SERVICE_UNAVAILABLE", err.message(), None),
        };
        let body = ErrorList { errors: vec![ErrorItem { code: code.into(), message, detail }] };
        err.decorate((err.status(), axum::Json(body)).into_response())
    }
}

type Error = dialect::Error<PortSip>;
type Caller = dialect::Caller<PortSip>;
type Write = crate::kernel::write::Write<PortSip>;
type Json<T> = dialect::Json<T, PortSip>;
type Query<T> = dialect::Query<T, PortSip>;

pub const DEFAULT_TOP: i64 = 100;
pub const MAX_TOP: i64 = 100;
const SKIP: IntBounds = IntBounds { name: "skip", min: 0, max: dialect::MAX_OFFSET };
const TOP: IntBounds = IntBounds { name: "top", min: 1, max: MAX_TOP };
/// Lifetime of a token from `POST /api/login`.
pub const LOGIN_TOKEN_SECONDS: i64 = 3600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/groups", get(list_groups).post(create_group))
        .route("/api/groups/{id}", get(show_group).post(update_group))
        .route("/api/groups/{id}/destroy", post(delete_group))
        .route("/api/groups/{id}/members", get(list_members))
        .route("/api/groups/{id}/members/{extension_number}", get(show_member).post(add_member))
        .route("/api/groups/{id}/members/{extension_number}/destroy", post(remove_member))
        .route("/api/login", post(login))
}

// ----- shapes -----------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorItem {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorList {
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, PartialEq)]
pub struct CallerId {
    pub provider_id: String,
    pub caller_id: String,
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl From<CallerId> for OutboundCallerId {
    fn from(c: CallerId) -> Self {
        OutboundCallerId { provider_id: c.provider_id, caller_id: c.caller_id, description: c.description, display_name: c.display_name }
    }
}

impl From<OutboundCallerId> for CallerId {
    fn from(c: OutboundCallerId) -> Self {
        CallerId { provider_id: c.provider_id, caller_id: c.caller_id, description: c.description, display_name: c.display_name }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupList {
    /// Total matching items before paging.
    pub count: i64,
    pub items: Vec<GroupSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub outbound_caller_ids: Vec<CallerId>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedId {
    pub id: String,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct GroupBody {
    #[serde(default)]
    #[schema(value_type = String)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<CallerId>>)]
    pub outbound_caller_ids: Patch<Vec<CallerId>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub extension_number: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<Member>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub username: Option<String>,
    pub password: Option<String>,
    /// The tenant: an organization's subdomain.
    pub domain: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginAnswer {
    pub access_token: String,
    pub expires_in: i64,
    pub token_type: String,
}

// ----- ids --------------------------------------------------------------------------------------

/// PortSIP's opaque id: standard base64 of the decimal `number`.
pub fn encode_id(number: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(number.to_string())
}

/// Any id that does not decode to a number is simply unknown (404).
pub fn decode_id(id: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(id).ok()?;
    let n: i64 = std::str::from_utf8(&bytes).ok()?.parse().ok()?;
    (n >= 0).then_some(n)
}

fn group_view(g: GroupRow) -> Group {
    Group {
        id: encode_id(g.number),
        name: g.name,
        outbound_caller_ids: serde_json::from_value::<Vec<OutboundCallerId>>(g.outbound_caller_ids)
            .unwrap_or_default()
            .into_iter()
            .map(CallerId::from)
            .collect(),
        description: g.description,
    }
}

fn member_view(m: MemberRow) -> Member {
    Member {
        id: encode_id(m.number),
        display_name: format!("{} {}", m.first_name, m.last_name),
        name: m.login,
        extension_number: m.number.to_string(),
    }
}

async fn find_group(st: &AppState, org: OrgId, id: &str) -> Result<GroupRow, ApiError> {
    let not_found = || ApiError::NotFound("user group not found".into());
    let number = decode_id(id).ok_or_else(not_found)?;
    queries::group_by_number(&st.pool, org.0, number).await?.ok_or_else(not_found)
}

/// The fewest and the most digits of an extension number.
const EXTENSION_DIGITS: (usize, usize) = (3, 64);

/// An extension number as the document states it (`EXTENSION_DIGITS`).
pub fn extension_pattern() -> String {
    let (min, max) = EXTENSION_DIGITS;
    format!("^[0-9]{{{min},{max}}}$")
}

/// Extension numbers are 3 to 64 digits (`EXTENSION_DIGITS`); ours are the user's `number`.
async fn find_extension(st: &AppState, org: OrgId, ext: &str) -> Result<queries::UserRow, ApiError> {
    let not_found = || ApiError::NotFound(format!("extension {ext} not found"));
    let (min, max) = EXTENSION_DIGITS;
    if ext.len() < min || ext.len() > max || !ext.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid("extension_number", format!("must be {min} to {max} digits")));
    }
    let number: i64 = ext.parse().map_err(|_| not_found())?;
    queries::user_by_number(&st.pool, org.0, number).await?.ok_or_else(not_found)
}

// ----- list -------------------------------------------------------------------------------------

fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name).or_else(|| q.get(&format!("${name}"))).map(String::as_str)
}

fn list_query(q: &HashMap<String, String>) -> Result<GroupListQuery, ApiError> {
    let query_err = |field: &str, e: odata::QueryError| ApiError::invalid(field, e.message);
    let filter = match param(q, "filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(projections::portsip::group_filter(f).map_err(|e| query_err("filter", e))?),
        None => None,
    };
    let order_by = match param(q, "orderby").filter(|o| !o.trim().is_empty()) {
        Some(o) => projections::portsip::group_order(o).map_err(|e| query_err("orderby", e))?,
        None => String::new(),
    };
    Ok(GroupListQuery {
        filter,
        order_by,
        search: param(q, "search").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
        skip: dialect::int_param(SKIP, param(q, "skip"), 0)?,
        top: dialect::int_param(TOP, param(q, "top"), DEFAULT_TOP)?,
    })
}

/// 1: list user groups, with `filter`, `search`, `orderby`, `skip`, `top` (and `$` aliases).
#[utoipa::path(get, path = "/api/groups", tag = "PortSIP",
    params(("filter" = Option<String>, Query, description = "e.g. `startswith(name,'Sa') and description ne null`"),
           ("search" = Option<String>, Query), ("orderby" = Option<String>, Query, description = "e.g. `name desc, id`"),
           ("skip" = Option<i32>, Query), ("top" = Option<i32>, Query)),
    responses((status = 200, body = GroupList), (status = 400, body = ErrorList), (status = 401, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn list_groups(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let query = list_query(&q)?;
    let (rows, count) = queries::groups_page(&st.pool, org.0, &query).await?;
    let items = rows.into_iter().map(|g| GroupSummary { id: encode_id(g.number), name: g.name, description: g.description }).collect();
    Ok(axum::Json(GroupList { count, items }).into_response())
}

// ----- group writes -----------------------------------------------------------------------------

fn caller_ids(p: Patch<Vec<CallerId>>) -> Patch<Vec<OutboundCallerId>> {
    p.map(|ids| ids.into_iter().map(OutboundCallerId::from).collect())
}

/// 2: create a user group. 201 `{id}`.
#[utoipa::path(post, path = "/api/groups", tag = "PortSIP", request_body = GroupBody,
    responses((status = 201, body = CreatedId), (status = 400, body = ErrorList), (status = 401, body = ErrorList), (status = 403, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn create_group(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<GroupBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let ctx = ctx?;
    let name = match body.name {
        Patch::Set(n) => n,
        _ => return Err(ApiError::invalid("name", "is required").into()),
    };
    let outbound_caller_ids = match caller_ids(body.outbound_caller_ids) {
        Patch::Set(ids) => ids,
        _ => vec![],
    };
    let description = match body.description {
        Patch::Set(d) => Some(d),
        _ => None,
    };
    let input = group_cmd::CreateGroup { name, description, outbound_caller_ids, ..Default::default() };
    let committed = group_cmd::create_group(&st.store, &ctx, org, input).await?;
    Ok(st
        .respond(&ctx, committed, |_, result| async move {
            let number = result.number;
            Ok((StatusCode::CREATED, axum::Json(CreatedId { id: encode_id(number) })).into_response())
        })
        .await?)
}

/// 3: show a user group.
#[utoipa::path(get, path = "/api/groups/{id}", tag = "PortSIP", params(("id" = String, Path)),
    responses((status = 200, body = Group), (status = 401, body = ErrorList), (status = 404, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn show_group(State(st): State<AppState>, dialect::Caller(caller, _): Caller, Path(id): Path<String>) -> Result<Response, Error> {
    let org = caller.org()?;
    Ok(axum::Json(group_view(find_group(&st, org, &id).await?)).into_response())
}

/// 4: update a user group; absent fields stay, `outbound_caller_ids` replaces the list. 200, empty.
#[utoipa::path(post, path = "/api/groups/{id}", tag = "PortSIP", params(("id" = String, Path)), request_body = GroupBody,
    responses((status = 200), (status = 400, body = ErrorList), (status = 404, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn update_group(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<GroupBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let group = find_group(&st, org, &id).await?;
    let ctx = ctx?;
    // Spec resolution 1: on update `null` clears; a name cannot be cleared, and a cleared list is empty.
    let patch = GroupPatch {
        name: body.name.required("name")?,
        description: body.description,
        outbound_caller_ids: caller_ids(body.outbound_caller_ids).or_default(),
        ..GroupPatch::default()
    };
    let committed = group_cmd::update_group(&st.store, &ctx, org, GroupId(group.id), patch).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::OK.into_response()) }).await?)
}

/// 5: delete a user group. 204.
#[utoipa::path(post, path = "/api/groups/{id}/destroy", tag = "PortSIP", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn delete_group(State(st): State<AppState>, Write { caller, ctx }: Write, Path(id): Path<String>) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let group = find_group(&st, org, &id).await?;
    let ctx = ctx?;
    let committed = group_cmd::delete_group(&st.store, &ctx, org, GroupId(group.id)).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}

// ----- members ----------------------------------------------------------------------------------

/// 6: list a group's members.
#[utoipa::path(get, path = "/api/groups/{id}/members", tag = "PortSIP", params(("id" = String, Path)),
    responses((status = 200, body = MemberList), (status = 404, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn list_members(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let group = find_group(&st, org, &id).await?;
    let items = queries::members(&st.pool, group.id).await?.into_iter().map(member_view).collect();
    Ok(axum::Json(MemberList { items }).into_response())
}

/// 7: add the user with this extension number to the group; adding a member again is a no-op. 200.
#[utoipa::path(post, path = "/api/groups/{id}/members/{extension_number}", tag = "PortSIP",
    params(("id" = String, Path), ("extension_number" = String, Path)),
    responses((status = 200), (status = 400, body = ErrorList), (status = 404, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn add_member(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path((id, ext)): Path<(String, String)>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let group = find_group(&st, org, &id).await?;
    let user = find_extension(&st, org, &ext).await?;
    let ctx = ctx?;
    let committed = group_cmd::add_member(&st.store, &ctx, org, GroupId(group.id), UserId(user.id), MemberRole::Member).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::OK.into_response()) }).await?)
}

/// 8: one member of the group.
#[utoipa::path(get, path = "/api/groups/{id}/members/{extension_number}", tag = "PortSIP",
    params(("id" = String, Path), ("extension_number" = String, Path)),
    responses((status = 200, body = Member), (status = 404, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn show_member(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    Path((id, ext)): Path<(String, String)>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let group = find_group(&st, org, &id).await?;
    let user = find_extension(&st, org, &ext).await?;
    let member = queries::member(&st.pool, group.id, user.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("extension {ext} is not a member of this group")))?;
    Ok(axum::Json(member_view(member)).into_response())
}

/// 9: remove a member. 204.
#[utoipa::path(post, path = "/api/groups/{id}/members/{extension_number}/destroy", tag = "PortSIP",
    params(("id" = String, Path), ("extension_number" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorList)),
    security(("bearer" = [])))]
pub async fn remove_member(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path((id, ext)): Path<(String, String)>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let group = find_group(&st, org, &id).await?;
    let user = find_extension(&st, org, &ext).await?;
    let ctx = ctx?;
    let committed = group_cmd::remove_member(&st.store, &ctx, org, GroupId(group.id), UserId(user.id)).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}

// ----- login ------------------------------------------------------------------------------------

/// Sign in with username (login or email) and password; `domain` picks the organization.
#[utoipa::path(post, path = "/api/login", tag = "PortSIP", request_body = LoginBody,
    responses((status = 200, body = LoginAnswer), (status = 400, body = ErrorList), (status = 401, body = ErrorList)))]
pub async fn login(State(st): State<AppState>, meta: WriteMeta, dialect::Json(body, _): Json<LoginBody>) -> Result<Response, Error> {
    let username = body.username.filter(|u| !u.trim().is_empty()).ok_or_else(|| ApiError::invalid("username", "is required"))?;
    let password = body.password.filter(|p| !p.is_empty()).ok_or_else(|| ApiError::invalid("password", "is required"))?;
    let failed = || ApiError::Unauthorized("Login failed, authentication error".into());
    let candidates = queries::login_candidates(&st.pool, username.trim(), body.domain.as_deref()).await?;
    let matched = crate::kernel::auth::match_password(candidates, password).await?.ok_or_else(failed)?;
    let (user, org) = (UserId(matched.user_id), matched.org_id.map(OrgId));
    // The user signing in is the actor; no token was presented.
    let mut ctx = meta.context::<PortSip>(None)?;
    ctx.actor = Some(user);
    ctx.org_id = org;
    let expires_at = ctx.now + chrono::Duration::seconds(LOGIN_TOKEN_SECONDS);
    let (committed, secret) = user_cmd::issue_token(&st.store, &ctx, org, user, Some(expires_at), false, None).await?;
    Ok(st
        .respond(&ctx, committed, |_, _| async move {
            let access_token =
                secret.ok_or_else(|| ApiError::Conflict("this Idempotency-Key already signed in; a token is shown only once".into()))?;
            let mut resp =
                axum::Json(LoginAnswer { access_token, expires_in: LOGIN_TOKEN_SECONDS, token_type: "Bearer".into() }).into_response();
            resp.extensions_mut().insert(SecretBearing);
            Ok(resp)
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_field_names_are_spelled_as_portsip_documents_them() {
        use domain::error::fields;
        crate::kernel::fields::assert_covers(PortSip::FIELD_NAMES, &[fields::GROUP, fields::CALLER_ID, fields::TOKEN]);
        assert_eq!(
            crate::kernel::fields::spell(PortSip::FIELD_NAMES, "outbound_caller_ids[0].caller_id"),
            "outbound_caller_ids[0].caller_id"
        );
    }

    #[test]
    fn ids_are_base64_of_the_decimal_number() {
        assert_eq!(encode_id(700551909773148160), "NzAwNTUxOTA5NzczMTQ4MTYw");
        assert_eq!(decode_id("NzAwNTUxOTA5NzczMTQ4MTYw"), Some(700551909773148160));
        assert_eq!(decode_id("not base64!"), None);
        assert_eq!(decode_id(&base64::engine::general_purpose::STANDARD.encode("abc")), None);
    }
}
