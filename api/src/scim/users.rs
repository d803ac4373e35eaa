//! `/scim/v2/Users`: a SCIM user IS the directory user (the same `user` stream every dialect
//! writes). What each attribute means here:
//!
//! - `userName` ↔ the login (unique per org, case-insensitively → 409 `uniqueness`); PUT and
//!   PATCH may rename it (the login claim moves in the same append).
//! - `name.givenName`/`familyName` ↔ first/last name (required by the model: on create an absent
//!   one is taken from `displayName`'s words, else from `userName`'s local part); `middleName`,
//!   `honorificPrefix` ↔ middle name, title prefix; `displayName` ↔ the nickname, shown as
//!   "given family" when there is none; `title` ↔ designation.
//! - `emails` ↔ the one directory email: the `primary` value, else the first; on create with none,
//!   `userName` when it is an email address. `phoneNumbers` ↔ the one phone likewise.
//! - `active: false` ↔ BLOCKED (tokens refused at once), on create too; `true` lifts a block.
//! - `externalId` ↔ the external user id, set on create, then immutable.
//! - enterprise `department` ↔ the directory department of that name (it must exist);
//!   `manager.value` ↔ reportsTo (a user id of the org); `employeeNumber` ↔ the user's `number`
//!   (readOnly: sent values are ignored, RFC 7643 §2.2).
//! - `password` (writeOnly) sets the password on create; on updates it is ignored
//!   (`changePassword` is not supported). `groups` is readOnly and ignored in requests.
//!
//! In requests `null` and `""` mean absent; on PUT an absent optional attribute is cleared, an
//! absent required one (names, emails) kept.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use commands::handlers::user as user_cmd;
use domain::patch::Patch;
use domain::user::{Profile, Role, UserPatch, UserStatus};
use domain::values::{Email, Login};
use domain::{OrgId, UserId};
use projections::scim::{self as q, Resource, ScimUser};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{
    base_url, check_unchanged, cursor_response, list_response, not_modified, org_of, precondition, project, resource, Caller, Ctx, Json,
    ListParams, Query, ScimError, Write, ENTERPRISE_URN, USER_URN,
};
use crate::kernel::dialect;
use crate::AppState;

// ----- rendering ---------------------------------------------------------------------------------

fn display_name(u: &projections::queries::UserRow) -> String {
    u.nickname.clone().unwrap_or_else(|| format!("{} {}", u.first_name, u.last_name))
}

pub fn render(row: &ScimUser, groups: &[(Uuid, String)], base: &str) -> Value {
    let u = &row.user;
    let mut name =
        json!({ "givenName": u.first_name, "familyName": u.last_name, "formatted": format!("{} {}", u.first_name, u.last_name) });
    if let Some(m) = &u.middle_name {
        name["middleName"] = json!(m);
    }
    if let Some(p) = &u.title_prefix {
        name["honorificPrefix"] = json!(p);
    }
    let mut enterprise = json!({ "employeeNumber": u.number.to_string() });
    if let Some(d) = &row.department_name {
        enterprise["department"] = json!(d);
    }
    if let Some(m) = u.reports_to {
        enterprise["manager"] = json!({ "value": m.to_string(), "$ref": format!("{base}/Users/{m}") });
    }
    let mut v = json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "id": u.id.to_string(),
        "userName": u.login,
        "name": name,
        "displayName": display_name(u),
        "active": !matches!(u.status.as_str(), "BLOCKED" | "ARCHIVE"),
        "emails": [{ "value": u.email, "type": "work", "primary": true }],
        "groups": groups.iter().map(|(id, n)| json!({ "value": id.to_string(), "display": n, "$ref": format!("{base}/Groups/{id}"), "type": "direct" })).collect::<Vec<_>>(),
        ENTERPRISE_URN: enterprise,
        "meta": {
            "resourceType": "User",
            "created": u.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": u.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": format!("{base}/Users/{}", u.id),
            "version": super::etag(row.stream_version),
        }
    });
    if let Some(x) = &u.external_user_id {
        v["externalId"] = json!(x);
    }
    if let Some(t) = &u.designation {
        v["title"] = json!(t);
    }
    if let Some(p) = &u.phone {
        v["phoneNumbers"] = json!([{ "value": p, "type": "work", "primary": true }]);
    }
    v
}

async fn load(st: &AppState, org: OrgId, id: &str) -> Result<ScimUser, ScimError> {
    let id = Uuid::parse_str(id).map_err(|_| ScimError::not_found("user"))?;
    q::user(&st.pool, org.0, id).await?.ok_or_else(|| ScimError::not_found("user"))
}

async fn answer(st: &AppState, org: OrgId, id: Uuid, status: StatusCode, headers: &HeaderMap) -> Result<Response, ScimError> {
    let row = q::user(&st.pool, org.0, id).await?.ok_or_else(|| ScimError::not_found("user"))?;
    let groups = q::groups_of_user(&st.pool, id).await?;
    Ok(resource(status, render(&row, &groups, &base_url(headers)), row.stream_version))
}

// ----- parsing -----------------------------------------------------------------------------------

/// What a request says about a user, every attribute decided: `None` is absent (or `null`/`""`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UserDoc {
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub given: Option<String>,
    pub family: Option<String>,
    pub middle: Option<String>,
    pub prefix: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub active: Option<bool>,
    pub password: Option<String>,
    pub department: Option<String>,
    pub manager: Option<String>,
}

/// The member of `obj` named `name`, case-insensitively (RFC 7643 §2.1).
pub fn get<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

pub(super) fn text(obj: &Map<String, Value>, name: &str, path: &str) -> Result<Option<String>, ScimError> {
    match get(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ScimError::invalid_value(format!("{path}: must be a string"))),
    }
}

/// A boolean, or Entra's `"True"`/`"False"` strings.
pub fn boolean(v: &Value, path: &str) -> Result<Option<bool>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(ScimError::invalid_value(format!("{path}: must be true or false"))),
    }
}

/// The primary (else the first) `value` of a multi-valued attribute.
fn primary_value(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    let items = match get(obj, name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ScimError::invalid_value(format!("{name}: must be a list"))),
    };
    let mut first = None;
    for (i, item) in items.iter().enumerate() {
        let o = item.as_object().ok_or_else(|| ScimError::invalid_value(format!("{name}[{i}]: must be an object")))?;
        let value = text(o, "value", &format!("{name}[{i}].value"))?;
        let primary = match get(o, "primary") {
            Some(p) => boolean(p, &format!("{name}[{i}].primary"))?.unwrap_or(false),
            None => false,
        };
        if primary && value.is_some() {
            return Ok(value);
        }
        if first.is_none() {
            first = value;
        }
    }
    Ok(first)
}

impl UserDoc {
    pub fn parse(body: &Value) -> Result<UserDoc, ScimError> {
        let obj = body.as_object().ok_or_else(|| ScimError::bad("invalidSyntax", "body: must be a User object"))?;
        let name = match get(obj, "name") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(o)) => o.clone(),
            Some(_) => return Err(ScimError::invalid_value("name: must be an object")),
        };
        let ext = match get(obj, ENTERPRISE_URN) {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(o)) => o.clone(),
            Some(_) => return Err(ScimError::invalid_value(format!("{ENTERPRISE_URN}: must be an object"))),
        };
        let manager = match get(&ext, "manager") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Some(Value::Object(m)) => text(m, "value", "manager.value")?,
            Some(_) => return Err(ScimError::invalid_value("manager: must be an object with a value")),
        };
        Ok(UserDoc {
            user_name: text(obj, "userName", "userName")?,
            external_id: text(obj, "externalId", "externalId")?,
            given: text(&name, "givenName", "name.givenName")?,
            family: text(&name, "familyName", "name.familyName")?,
            middle: text(&name, "middleName", "name.middleName")?,
            prefix: text(&name, "honorificPrefix", "name.honorificPrefix")?,
            display_name: text(obj, "displayName", "displayName")?,
            title: text(obj, "title", "title")?,
            email: primary_value(obj, "emails")?,
            phone: primary_value(obj, "phoneNumbers")?,
            active: match get(obj, "active") {
                Some(v) => boolean(v, "active")?,
                None => None,
            },
            password: match get(obj, "password") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(ScimError::invalid_value("password: must be a string")),
            },
            department: text(&ext, "department", "department")?,
            manager,
        })
    }

    /// First and last name for a create: given, else from displayName's words, else userName's
    /// local part.
    fn names(&self, user_name: &str) -> (String, String) {
        let local = user_name.split('@').next().unwrap_or(user_name).to_string();
        let mut words = self.display_name.as_deref().unwrap_or("").split_whitespace();
        let (d_first, d_rest) = (words.next().map(str::to_string), words.collect::<Vec<_>>().join(" "));
        let given = self.given.clone().or(d_first).unwrap_or_else(|| local.clone());
        let family = self.family.clone().or(Some(d_rest).filter(|s| !s.is_empty())).unwrap_or(local);
        (given, family)
    }
}

async fn department_id(st: &AppState, org: OrgId, name: &Option<String>) -> Result<Option<Uuid>, ScimError> {
    match name {
        None => Ok(None),
        Some(n) => q::department_id_by_name(&st.pool, org.0, n)
            .await?
            .map(Some)
            .ok_or_else(|| ScimError::invalid_value(format!("department: no department named '{n}' in this organization"))),
    }
}

async fn manager_id(st: &AppState, org: OrgId, raw: &Option<String>) -> Result<Option<UserId>, ScimError> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = || ScimError::invalid_value(format!("manager.value: '{raw}' is not a user of this organization"));
    let id = Uuid::parse_str(raw).map_err(|_| bad())?;
    projections::queries::user(&st.pool, org.0, id).await?.ok_or_else(bad)?;
    Ok(Some(UserId(id)))
}

fn set_or_clear<T: PartialEq>(want: Option<T>, have: Option<T>) -> Patch<T> {
    match (want, have) {
        (None, None) => Patch::Keep,
        (None, Some(_)) => Patch::Clear,
        (Some(w), Some(h)) if w == h => Patch::Keep,
        (Some(w), _) => Patch::Set(w),
    }
}

/// The change that makes the stored user `doc` (a full resource: PUT's body, or PATCH's result).
pub async fn diff(st: &AppState, org: OrgId, row: &ScimUser, doc: &UserDoc) -> Result<UserPatch, ScimError> {
    let u = &row.user;
    // A rename (Okta's userName follows the email) moves the login claim: a taken one is 409.
    let login = match &doc.user_name {
        Some(n) if *n != u.login => Some(Login::parse("login", n).map_err(|e| ScimError::from(crate::kernel::error::ApiError::from(e)))?),
        _ => None,
    };
    if doc.external_id.is_some() && doc.external_id != u.external_user_id {
        return Err(ScimError::bad("mutability", "externalId: is set when the user is created and cannot be changed"));
    }
    let changed = |want: &Option<String>, have: &str| want.clone().filter(|w| w != have);
    let email = match changed(&doc.email, &u.email) {
        Some(e) => Some(Email::parse("emails", &e).map_err(|e| ScimError::from(crate::kernel::error::ApiError::from(e)))?),
        None => None,
    };
    let status = match doc.active {
        Some(false) if u.status != "BLOCKED" => Some(UserStatus::Blocked),
        Some(true) if u.status == "BLOCKED" => Some(UserStatus::Active),
        _ => None,
    };
    let nickname = match &doc.display_name {
        Some(d) if *d == display_name(u) => Patch::Keep,
        other => set_or_clear(other.clone(), u.nickname.clone()),
    };
    let department = department_id(st, org, &doc.department).await?;
    let manager = manager_id(st, org, &doc.manager).await?;
    Ok(UserPatch {
        login,
        first_name: changed(&doc.given, &u.first_name),
        last_name: changed(&doc.family, &u.last_name),
        email,
        middle_name: set_or_clear(doc.middle.clone(), u.middle_name.clone()),
        title_prefix: set_or_clear(doc.prefix.clone(), u.title_prefix.clone()),
        nickname,
        status,
        phone: set_or_clear(doc.phone.clone(), u.phone.clone()),
        designation: set_or_clear(doc.title.clone(), u.designation.clone()),
        department: set_or_clear(department, u.department),
        reports_to: set_or_clear(manager, u.reports_to.map(UserId)),
        ..UserPatch::default()
    })
}

// ----- handlers ----------------------------------------------------------------------------------

pub async fn list_with(st: &AppState, org: OrgId, params: &ListParams, headers: &HeaderMap) -> Result<Response, ScimError> {
    let query = params.list_query(Resource::User)?;
    if let Some(after) = params.after(&query)? {
        let (rows, total, next) = q::users_after(&st.pool, org.0, &query, after.as_ref()).await?;
        return cursor_response(params, total, render_many(st, &rows, params, &base_url(headers)).await?, next);
    }
    let (start, _) = params.window();
    let (rows, total) = q::users(&st.pool, org.0, &query).await?;
    Ok(list_response(total, start, render_many(st, &rows, params, &base_url(headers)).await?))
}

/// A page of users as `params` projects them, their groups read in one query, and only when
/// they are returned.
pub async fn render_many(st: &AppState, rows: &[ScimUser], params: &ListParams, base: &str) -> Result<Vec<Value>, ScimError> {
    let groups = if params.returns("groups") {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.user.id).collect();
        q::groups_of_users(&st.pool, &ids).await?
    } else {
        HashMap::new()
    };
    Ok(rows
        .iter()
        .map(|row| {
            let groups = groups.get(&row.user.id).map(Vec::as_slice).unwrap_or_default();
            project(render(row, groups, base), &params.attributes, &params.excluded)
        })
        .collect())
}

/// List users: `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`, `attributes`, `excludedAttributes`.
#[utoipa::path(get, path = "/scim/v2/Users", tag = "SCIM",
    params(("filter" = Option<String>, Query, description = "RFC 7644 §3.4.2.2, e.g. `userName eq \"bjensen\"`"),
           ("sortBy" = Option<String>, Query), ("sortOrder" = Option<String>, Query, description = "ascending | descending"),
           ("startIndex" = Option<i64>, Query),
           ("cursor" = Option<String>, Query, description = "RFC 9865 cursor paging: empty for the first page, then the previous page's `nextCursor`; not with `startIndex`"),
           ("count" = Option<i64>, Query),
           ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "ListResponse"), (status = 400, description = "invalidFilter / invalidValue / invalidCursor"), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn list(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    headers: HeaderMap,
    dialect::Query(params, _): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    list_with(&st, org, &ListParams::from_query(&params)?, &headers).await
}

/// `POST /Users/.search` with a SearchRequest body.
#[utoipa::path(post, path = "/scim/v2/Users/.search", tag = "SCIM", request_body(content = Object, description = "SearchRequest"),
    responses((status = 200, description = "ListResponse"), (status = 400), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn search(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    headers: HeaderMap,
    dialect::Json(body, _): Json<Value>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    list_with(&st, org, &ListParams::from_search(&body)?, &headers).await
}

#[utoipa::path(get, path = "/scim/v2/Users/{id}", tag = "SCIM", params(("id" = String, Path), ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "User"), (status = 304), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    dialect::Query(params, _): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    let row = load(&st, org, &id).await?;
    if let Some(resp) = not_modified(&headers, row.stream_version) {
        return Ok(resp);
    }
    let params = ListParams::from_query(&params)?;
    let version = row.stream_version;
    let body = render_many(&st, &[row], &params, &base_url(&headers)).await?.pop().unwrap_or(Value::Null);
    Ok(resource(StatusCode::OK, body, version))
}

/// `GET /Me`: the caller's own user (any user of an organization).
#[utoipa::path(get, path = "/scim/v2/Me", tag = "SCIM", responses((status = 200, description = "User"), (status = 401)), security(("bearer" = [])))]
pub async fn me(State(st): State<AppState>, dialect::Caller(caller, _): Caller, headers: HeaderMap) -> Result<Response, ScimError> {
    let org = caller.org()?;
    answer(&st, org, caller.user_id.0, StatusCode::OK, &headers).await
}

/// Create: the command the other dialects' creates use.
pub async fn create_doc(st: &AppState, org: OrgId, doc: &UserDoc) -> Result<user_cmd::CreateUser, ScimError> {
    let user_name = doc.user_name.clone().ok_or_else(|| ScimError::invalid_value("userName: is required"))?;
    if q::user_id_by_login(&st.pool, org.0, &user_name).await?.is_some() {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            Some("uniqueness"),
            format!("userName: '{user_name}' is already taken in this organization"),
        ));
    }
    let email = match &doc.email {
        Some(e) => e.clone(),
        None if Email::parse("userName", &user_name).is_ok() => user_name.clone(),
        None => return Err(ScimError::invalid_value("emails: required (the directory needs an email address) unless userName is one")),
    };
    let (first_name, last_name) = doc.names(&user_name);
    let profile = Profile {
        phone: doc.phone.clone(),
        designation: doc.title.clone(),
        department: department_id(st, org, &doc.department).await?,
        reports_to: manager_id(st, org, &doc.manager).await?,
        external_user_id: doc.external_id.clone(),
        middle_name: doc.middle.clone(),
        title_prefix: doc.prefix.clone(),
        nickname: doc.display_name.clone().filter(|d| *d != format!("{first_name} {last_name}")),
        ..Profile::default()
    };
    Ok(user_cmd::CreateUser {
        email,
        login: Some(user_name),
        first_name,
        last_name,
        role: Role::Member,
        profile,
        password: doc.password.clone(),
        blocked: doc.active == Some(false),
    })
}

#[utoipa::path(post, path = "/scim/v2/Users", tag = "SCIM", request_body(content = Object, description = "User"),
    responses((status = 201, description = "User"), (status = 400), (status = 409, description = "uniqueness")), security(("bearer" = [])))]
pub async fn create(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    headers: HeaderMap,
    dialect::Json(body, _): Json<Value>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    create_core(&st, ctx, org, &body, headers).await
}

/// A create from a body (the route's, or one Bulk operation's).
pub async fn create_core(st: &AppState, ctx: Ctx, org: OrgId, body: &Value, headers: HeaderMap) -> Result<Response, ScimError> {
    let input = create_doc(st, org, &UserDoc::parse(body)?).await?;
    let ctx = ctx?;
    let committed = user_cmd::create_user(&st.store, &ctx, org, input).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            answer(&st, org, result.user_id.0, StatusCode::CREATED, &headers)
                .await
                .map_err(|e| e.api.unwrap_or(crate::kernel::error::ApiError::Internal))
        })
        .await?)
}

/// Applies `patch` to the user (one append) and answers the user as stored.
async fn update(
    st: &AppState,
    ctx: crate::kernel::write::Ctx<super::Scim>,
    org: OrgId,
    id: Uuid,
    patch: UserPatch,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    if patch.is_empty() {
        check_unchanged(st, ctx.precondition.as_ref()).await?;
        return answer(st, org, id, StatusCode::OK, &headers).await;
    }
    let committed = user_cmd::update_user(&st.store, &ctx, org, UserId(id), patch).await?;
    Ok(st
        .respond(&ctx, committed, |st, _| async move {
            answer(&st, org, id, StatusCode::OK, &headers).await.map_err(|e| e.api.unwrap_or(crate::kernel::error::ApiError::Internal))
        })
        .await?)
}

/// PUT: the full resource (Okta's update).
#[utoipa::path(put, path = "/scim/v2/Users/{id}", tag = "SCIM", params(("id" = String, Path)), request_body(content = Object, description = "User"),
    responses((status = 200, description = "User"), (status = 400), (status = 404), (status = 412)), security(("bearer" = [])))]
pub async fn replace(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    headers: HeaderMap,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<Value>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    replace_core(&st, ctx, org, &id, &body, headers).await
}

pub async fn replace_core(st: &AppState, ctx: Ctx, org: OrgId, id: &str, body: &Value, headers: HeaderMap) -> Result<Response, ScimError> {
    let row = load(st, org, id).await?;
    let doc = UserDoc::parse(body)?;
    if doc.user_name.is_none() {
        return Err(ScimError::invalid_value("userName: is required"));
    }
    let patch = diff(st, org, &row, &doc).await?;
    let mut ctx = ctx?;
    ctx.precondition = precondition(&headers, row.user.id);
    update(st, ctx, org, row.user.id, patch, headers).await
}

/// PATCH (RFC 7644 §3.5.2): add / replace / remove, applied to the resource as a whole, then
/// stored as one change; an operation that fails fails them all.
#[utoipa::path(patch, path = "/scim/v2/Users/{id}", tag = "SCIM", params(("id" = String, Path)), request_body(content = Object, description = "PatchOp"),
    responses((status = 200, description = "User"), (status = 400), (status = 404), (status = 412)), security(("bearer" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    headers: HeaderMap,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<Value>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    patch_core(&st, ctx, org, &id, &body, headers).await
}

pub async fn patch_core(st: &AppState, ctx: Ctx, org: OrgId, id: &str, body: &Value, headers: HeaderMap) -> Result<Response, ScimError> {
    let row = load(st, org, id).await?;
    let groups = q::groups_of_user(&st.pool, row.user.id).await?;
    let current = render(&row, &groups, &base_url(&headers));
    let ops = super::patch::parse_ops(body)?;
    let desired = super::patch::apply(current, &ops, super::patch::Kind::User)?;
    let patch = diff(st, org, &row, &UserDoc::parse(&desired)?).await?;
    let mut ctx = ctx?;
    ctx.precondition = precondition(&headers, row.user.id);
    update(st, ctx, org, row.user.id, patch, headers).await
}

#[utoipa::path(delete, path = "/scim/v2/Users/{id}", tag = "SCIM", params(("id" = String, Path)),
    responses((status = 204), (status = 404), (status = 412)), security(("bearer" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    delete_core(&st, ctx, org, &id, headers).await
}

pub async fn delete_core(st: &AppState, ctx: Ctx, org: OrgId, id: &str, headers: HeaderMap) -> Result<Response, ScimError> {
    let row = load(st, org, id).await?;
    let mut ctx = ctx?;
    ctx.precondition = precondition(&headers, row.user.id);
    let committed = user_cmd::delete_user(&st.store, &ctx, org, UserId(row.user.id)).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT)) }).await?)
}
