//! WorkDrive security groups (E70–E72). Members are the users whose `securityGroup` is the group;
//! a user belongs to at most one, and members of the org's `Administrators` group are its admins.
//! There is no endpoint that creates groups: every organization starts with `Administrators` and
//! `Users`, and `roster security-group add` makes more. Org admins change members; any member of
//! the org may list the groups.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::handlers::security_group as cmd;
use commands::handlers::user_bulk::check_count;
use domain::UserId;
use projections::security_groups::{self as read, SecurityGroupRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{paging, PageQuery};
use super::{parse_id, Caller, Error, ErrorBody, Json, PageMeta, Query, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::kernel::strict_json;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub id: Uuid,
    pub name: String,
    /// How many live users of the org are in the group.
    pub member_count: i64,
}

impl From<&SecurityGroupRow> for SecurityGroup {
    fn from(g: &SecurityGroupRow) -> Self {
        SecurityGroup { id: g.id, name: g.name.clone(), member_count: g.member_count }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityGroupsPage {
    pub groups: Vec<SecurityGroup>,
    pub meta: PageMeta,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecurityGroupMembersBody {
    /// User ids of the caller's organization.
    #[serde(default)]
    pub ids: Vec<String>,
}

fn parse_ids(raw: &[String]) -> Result<Vec<UserId>, ApiError> {
    check_count("ids", raw.len(), "user id")?;
    raw.iter().enumerate().map(|(i, s)| parse_id(s, &format!("ids[{i}]")).map(UserId)).collect()
}

async fn load(st: &AppState, org: Uuid, id: Uuid) -> Result<SecurityGroupRow, ApiError> {
    read::security_group(&st.pool, org, id).await?.ok_or_else(|| ApiError::NotFound("security group not found".into()))
}

/// E70: one page of the caller's organization's security groups with their member counts
/// (Administrators, Users, then the others oldest first).
#[utoipa::path(get, path = "/api/security_groups", tag = "WorkDrive",
    params(("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = SecurityGroupsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_security_groups(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<PageQuery>,
) -> Result<Response, Error> {
    let org = caller.org()?.0;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let (rows, total) = read::security_groups_page(&st.pool, org, offset, per_page).await?;
    let groups = rows.iter().map(SecurityGroup::from).collect();
    Ok(axum::Json(SecurityGroupsPage { groups, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

/// E71: add users to the group, moving them out of their previous group. Adding a member is a
/// no-op; an id that is not a user of the org is a 400 naming `ids[i]`. Moving the last member of
/// Administrators elsewhere is a 400. Answers the group.
#[utoipa::path(post, path = "/api/security_groups/{groupId}/members", tag = "WorkDrive",
    params(("groupId" = Uuid, Path)), request_body = SecurityGroupMembersBody,
    responses((status = 200, body = SecurityGroup), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn add_security_group_members(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<SecurityGroupMembersBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let id = dialect::uuid_path(&id, "security group")?;
    let ids = parse_ids(&body.ids)?;
    let ctx = ctx?;
    let committed = cmd::add_members(&st.store, &ctx, org, id, ids).await?;
    Ok(st
        .respond(&ctx, committed, |st, _| async move { Ok(axum::Json(SecurityGroup::from(&load(&st, org.0, id).await?)).into_response()) })
        .await?)
}

/// E72: remove users from the group (they then belong to none). Ids come from the body
/// `{"ids": [...]}` and/or repeated (or comma-separated) `?ids=`. Each must be a member (400
/// naming `ids[i]`); the last member of Administrators cannot be removed (400).
#[utoipa::path(delete, path = "/api/security_groups/{groupId}/members", tag = "WorkDrive",
    params(("groupId" = Uuid, Path), ("ids" = Option<Vec<Uuid>>, Query, description = "repeatable; added to the body's ids")),
    request_body(content = SecurityGroupMembersBody, description = "optional when the ids are in the query"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn remove_security_group_members(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Query(query, _): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let id = dialect::uuid_path(&id, "security group")?;
    let mut raw: Vec<String> = Vec::new();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let parsed: SecurityGroupMembersBody = strict_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
        raw.extend(parsed.ids);
    }
    for (k, v) in query {
        if k == "ids" || k == "ids[]" {
            raw.extend(v.split(',').map(str::to_string));
        }
    }
    let ids = parse_ids(&raw)?;
    let ctx = ctx?;
    let committed = cmd::remove_members(&st.store, &ctx, org, id, ids).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}
