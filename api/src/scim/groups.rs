//! `/scim/v2/Groups`: a SCIM group IS the directory's one group model, the same group PortSIP,
//! Sunbird, Publisher and NexPort see. `displayName` ↔ the group name (not unique, DESIGN §7);
//! `members` ↔ its active members, users of the org (the model does not nest groups): a member
//! `value` that names no user of the org is `invalidValue`; `type` and `display` are informational
//! and ignored in requests. `externalId` ↔ the group's external id, set on create, then immutable
//! (as for users). Every write is one append: PUT and PATCH compute the resulting name and
//! member set and store it with the group's replace command (Publisher's PUT).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use commands::handlers::group as group_cmd;
use domain::group::{MemberRole, NewMember};
use domain::{GroupId, OrgId, UserId};
use projections::scim::{self as q, Resource, ScimGroup};
use serde_json::{json, Value};
use uuid::Uuid;

use super::users::{get, text};
use super::{
    base_url, cursor_response, list_response, not_modified, org_of, precondition, project, resource, Caller, Ctx, Json, ListParams, Query,
    ScimError, Write, GROUP_URN,
};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

pub fn render(g: &ScimGroup, members: &[q::GroupMember], base: &str) -> Value {
    let mut v = json!({
        "schemas": [GROUP_URN],
        "id": g.id.to_string(),
        "displayName": g.name,
        "members": members.iter().map(|m| json!({
            "value": m.user_id.to_string(), "display": m.display, "type": "User", "$ref": format!("{base}/Users/{}", m.user_id)
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Group",
            "created": g.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": g.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": format!("{base}/Groups/{}", g.id),
            "version": super::etag(g.stream_version),
        }
    });
    if let Some(x) = &g.external_id {
        v["externalId"] = json!(x);
    }
    v
}

/// Groups as `params` projects them, their members fetched in one query for the page, and only
/// when they are returned: a group of 50,000 members is not read to be left out.
pub async fn render_many(st: &AppState, rows: Vec<ScimGroup>, params: &ListParams, base: &str) -> Result<Vec<Value>, ScimError> {
    let mut members: HashMap<Uuid, Vec<q::GroupMember>> = HashMap::new();
    if params.returns("members") {
        let ids: Vec<Uuid> = rows.iter().map(|g| g.id).collect();
        for m in q::group_members(&st.pool, &ids).await? {
            members.entry(m.group_id).or_default().push(m);
        }
    }
    Ok(rows
        .iter()
        .map(|g| project(render(g, members.get(&g.id).map(Vec::as_slice).unwrap_or(&[]), base), &params.attributes, &params.excluded))
        .collect())
}

async fn load(st: &AppState, org: OrgId, id: &str) -> Result<ScimGroup, ScimError> {
    let id = Uuid::parse_str(id).map_err(|_| ScimError::not_found("group"))?;
    q::group(&st.pool, org.0, id).await?.ok_or_else(|| ScimError::not_found("group"))
}

async fn answer(st: &AppState, org: OrgId, id: Uuid, status: StatusCode, headers: &HeaderMap) -> Result<Response, ScimError> {
    let g = q::group(&st.pool, org.0, id).await?.ok_or_else(|| ScimError::not_found("group"))?;
    let version = g.stream_version;
    let body = render_many(st, vec![g], &ListParams::default(), &base_url(headers)).await?.pop().unwrap_or(Value::Null);
    Ok(resource(status, body, version))
}

fn internal(e: ScimError) -> ApiError {
    e.api.unwrap_or(ApiError::Internal)
}

/// A Group body: its name and member ids, each checked to be a live user of the org.
struct GroupDoc {
    name: Option<String>,
    external_id: Option<String>,
    members: Vec<UserId>,
}

async fn parse(st: &AppState, org: OrgId, body: &Value) -> Result<GroupDoc, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::bad("invalidSyntax", "body: must be a Group object"))?;
    let name = match get(obj, "displayName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(ScimError::invalid_value("displayName: must be a string")),
    };
    let items = match get(obj, "members") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ScimError::invalid_value("members: must be a list")),
    };
    let mut members = vec![];
    for (i, item) in items.iter().enumerate() {
        let o = item.as_object().ok_or_else(|| ScimError::invalid_value(format!("members[{i}]: must be an object")))?;
        let raw =
            get(o, "value").and_then(Value::as_str).ok_or_else(|| ScimError::invalid_value(format!("members[{i}].value: is required")))?;
        let id = Uuid::parse_str(raw.trim())
            .map_err(|_| ScimError::invalid_value(format!("members[{i}].value: '{raw}' is not a user of this organization")))?;
        if !members.contains(&UserId(id)) {
            members.push(UserId(id));
        }
    }
    let ids: Vec<Uuid> = members.iter().map(|u| u.0).collect();
    let found = projections::queries::users_by_ids(&st.pool, org.0, &ids).await?;
    if let Some((i, u)) = members.iter().enumerate().find(|(_, u)| !found.iter().any(|f| f.id == u.0)) {
        return Err(ScimError::invalid_value(format!("members[{i}].value: '{}' is not a user of this organization", u.0)));
    }
    Ok(GroupDoc { name, external_id: text(obj, "externalId", "externalId")?, members })
}

async fn list_with(st: &AppState, org: OrgId, params: &ListParams, headers: &HeaderMap) -> Result<Response, ScimError> {
    let query = params.list_query(Resource::Group)?;
    if let Some(after) = params.after(&query)? {
        let (rows, total, next) = q::groups_after(&st.pool, org.0, &query, after.as_ref()).await?;
        return cursor_response(params, total, render_many(st, rows, params, &base_url(headers)).await?, next);
    }
    let (start, _) = params.window();
    let (rows, total) = q::groups(&st.pool, org.0, &query).await?;
    Ok(list_response(total, start, render_many(st, rows, params, &base_url(headers)).await?))
}

#[utoipa::path(get, path = "/scim/v2/Groups", tag = "SCIM",
    params(("filter" = Option<String>, Query, description = "e.g. `displayName eq \"Sales\"`, `members[value eq \"<user id>\"]`"),
           ("sortBy" = Option<String>, Query), ("sortOrder" = Option<String>, Query), ("startIndex" = Option<i64>, Query),
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

#[utoipa::path(post, path = "/scim/v2/Groups/.search", tag = "SCIM", request_body(content = Object, description = "SearchRequest"),
    responses((status = 200, description = "ListResponse"), (status = 400)), security(("bearer" = [])))]
pub async fn search(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    headers: HeaderMap,
    dialect::Json(body, _): Json<Value>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    list_with(&st, org, &ListParams::from_search(&body)?, &headers).await
}

#[utoipa::path(get, path = "/scim/v2/Groups/{id}", tag = "SCIM", params(("id" = String, Path), ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "Group"), (status = 304), (status = 404)), security(("bearer" = [])))]
pub async fn show(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    dialect::Query(params, _): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    let g = load(&st, org, &id).await?;
    if let Some(resp) = not_modified(&headers, g.stream_version) {
        return Ok(resp);
    }
    let params = ListParams::from_query(&params)?;
    let version = g.stream_version;
    let body = render_many(&st, vec![g], &params, &base_url(&headers)).await?.pop().unwrap_or(Value::Null);
    Ok(resource(StatusCode::OK, body, version))
}

#[utoipa::path(post, path = "/scim/v2/Groups", tag = "SCIM", request_body(content = Object, description = "Group"),
    responses((status = 201, description = "Group"), (status = 400)), security(("bearer" = [])))]
pub async fn create(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    headers: HeaderMap,
    dialect::Json(body, _): Json<Value>,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    create_core(&st, ctx, org, &body, headers).await
}

pub async fn create_core(st: &AppState, ctx: Ctx, org: OrgId, body: &Value, headers: HeaderMap) -> Result<Response, ScimError> {
    let doc = parse(st, org, body).await?;
    let name = doc.name.ok_or_else(|| ScimError::invalid_value("displayName: is required"))?;
    let ctx = ctx?;
    let members = doc.members.into_iter().map(|user_id| NewMember { user_id, role: MemberRole::Member, visited: false }).collect();
    let input = group_cmd::CreateGroup { name, members, external_id: doc.external_id, ..Default::default() };
    let committed = group_cmd::create_group(&st.store, &ctx, org, input).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            answer(&st, org, result.group_id.0, StatusCode::CREATED, &headers).await.map_err(internal)
        })
        .await?)
}

/// A PUT or PATCH may repeat the group's `externalId`, or give one to a group that has none, but
/// not change it (`immutable`, RFC 7643 §2.2).
fn check_external_id(g: &ScimGroup, doc: &GroupDoc) -> Result<(), ScimError> {
    if g.external_id.is_some() && doc.external_id.is_some() && doc.external_id != g.external_id {
        return Err(ScimError::bad("mutability", "externalId: is set when the group is created and cannot be changed"));
    }
    Ok(())
}

async fn store_replace(
    st: &AppState,
    ctx: crate::kernel::write::Ctx<super::Scim>,
    org: OrgId,
    id: Uuid,
    name: String,
    doc: GroupDoc,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let committed = group_cmd::replace_group(&st.store, &ctx, org, GroupId(id), name, doc.members, doc.external_id).await?;
    Ok(st.respond(&ctx, committed, |st, _| async move { answer(&st, org, id, StatusCode::OK, &headers).await.map_err(internal) }).await?)
}

/// PUT: the name and exactly these members.
#[utoipa::path(put, path = "/scim/v2/Groups/{id}", tag = "SCIM", params(("id" = String, Path)), request_body(content = Object, description = "Group"),
    responses((status = 200, description = "Group"), (status = 400), (status = 404), (status = 412)), security(("bearer" = [])))]
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
    let g = load(st, org, id).await?;
    let doc = parse(st, org, body).await?;
    check_external_id(&g, &doc)?;
    let name = doc.name.clone().ok_or_else(|| ScimError::invalid_value("displayName: is required"))?;
    let mut ctx = ctx?;
    ctx.precondition = precondition(&headers, g.id);
    store_replace(st, ctx, org, g.id, name, doc, headers).await
}

/// PATCH: operations applied to the group as a whole (`members[value eq "…"]` paths included),
/// stored as one replace.
#[utoipa::path(patch, path = "/scim/v2/Groups/{id}", tag = "SCIM", params(("id" = String, Path)), request_body(content = Object, description = "PatchOp"),
    responses((status = 200, description = "Group"), (status = 400), (status = 404), (status = 412)), security(("bearer" = [])))]
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
    let g = load(st, org, id).await?;
    let members = q::group_members(&st.pool, &[g.id]).await?;
    let current = render(&g, &members, &base_url(&headers));
    let ops = super::patch::parse_ops(body)?;
    let desired = super::patch::apply(current, &ops, super::patch::Kind::Group)?;
    let doc = parse(st, org, &desired).await?;
    check_external_id(&g, &doc)?;
    let name = doc.name.clone().ok_or_else(|| ScimError::invalid_value("displayName: cannot be removed"))?;
    let mut ctx = ctx?;
    ctx.precondition = precondition(&headers, g.id);
    store_replace(st, ctx, org, g.id, name, doc, headers).await
}

#[utoipa::path(delete, path = "/scim/v2/Groups/{id}", tag = "SCIM", params(("id" = String, Path)),
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
    let g = load(st, org, id).await?;
    let mut ctx = ctx?;
    ctx.precondition = precondition(&headers, g.id);
    let committed = group_cmd::delete_group(&st.store, &ctx, org, GroupId(g.id)).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}
