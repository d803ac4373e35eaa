//! WorkDrive departments (E57–E63). Members are the users whose `department` is the department;
//! heads are kept on the department and are always members. What departments share with
//! locations is `org_units`'s; heads (`isAdmin`, the `/admin` route) are theirs.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use commands::handlers::department::{self as cmd, Departments};
use domain::UserId;
use projections::org_units::{self, UnitKind, UnitRow};
use projections::queries;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::org_units::{self as unit, UnitApi};
use super::{parse_id, required_name, Caller, Error, ErrorBody, Json, PageMeta, PageQuery, Query, UserSummary, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

/// The value of `Department.type`.
pub const DEPARTMENT_TYPE: &str = "DEPARTMENT";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Department {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub org_id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
}

impl From<&UnitRow> for Department {
    fn from(d: &UnitRow) -> Self {
        Department {
            id: d.id,
            created_at: d.created_at,
            updated_at: d.updated_at,
            created_by: d.created_by,
            updated_by: d.updated_by,
            org_id: d.org_id,
            kind: DEPARTMENT_TYPE.into(),
            name: d.name.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentListItem {
    pub id: Uuid,
    pub name: String,
    pub member_count: i64,
    /// The department's heads.
    pub admins: Vec<UserSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentsPage {
    pub departments: Vec<DepartmentListItem>,
    pub meta: PageMeta,
}

/// `Department` plus its heads' ids and its members.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentWithMembers {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub org_id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub department_heads: Vec<Uuid>,
    pub members: Vec<UserSummary>,
}

#[derive(Debug, Deserialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DeptMemberInput {
    pub id: Uuid,
    /// The user becomes a head of this department.
    #[serde(default)]
    pub is_admin: Option<bool>,
    /// The user's current department, which they leave (Roster knows it; accepted and ignored).
    #[serde(default)]
    pub existing_dept: Option<Uuid>,
    /// Whether the user heads another department (Roster knows it; accepted and ignored).
    #[serde(default)]
    pub is_department_head: Option<bool>,
}

impl DeptMemberInput {
    fn command(&self) -> cmd::MemberInput {
        cmd::MemberInput { user_id: UserId(self.id), head: self.is_admin.unwrap_or(false) }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateDepartmentBody {
    pub name: Option<String>,
    /// At least one member must have `isAdmin: true`.
    #[serde(default)]
    pub members: Vec<DeptMemberInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDepartmentAdminBody {
    /// A user id, or an array of user ids, who stop being heads (they stay members).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub remove: Option<serde_json::Value>,
    /// Users who become heads (joining the department if they are not members).
    #[serde(default)]
    pub add: Vec<DeptMemberInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentMembersBody {
    #[serde(default)]
    pub add_members: Vec<DeptMemberInput>,
    #[serde(default)]
    pub remove_members: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameBody {
    pub name: Option<String>,
}

/// `remove`: one uuid or an array of them.
fn parse_remove(v: Option<serde_json::Value>) -> Result<Vec<UserId>, ApiError> {
    let one = |v: &serde_json::Value, field: &str| -> Result<UserId, ApiError> {
        let s = v.as_str().ok_or_else(|| ApiError::invalid(field, "must be a user id (UUID)"))?;
        parse_id(s, field).map(UserId)
    };
    match v {
        None | Some(serde_json::Value::Null) => Ok(vec![]),
        Some(serde_json::Value::Array(items)) => items.iter().enumerate().map(|(i, v)| one(v, &format!("remove[{i}]"))).collect(),
        Some(v) => Ok(vec![one(&v, "remove")?]),
    }
}

impl UnitApi for Departments {
    const READS: UnitKind = UnitKind::Department;
    type Shape = Department;
    type WithMembers = DepartmentWithMembers;
    type Page = DepartmentsPage;
    type MembersBody = DepartmentMembersBody;

    fn members_change(body: DepartmentMembersBody) -> (Vec<cmd::MemberInput>, Vec<UserId>) {
        let add = body.add_members.iter().map(DeptMemberInput::command).collect();
        (add, body.remove_members.into_iter().map(UserId).collect())
    }

    async fn with_members(st: &AppState, d: &UnitRow, members: Vec<UserSummary>) -> Result<DepartmentWithMembers, ApiError> {
        let heads = org_units::department_heads(&st.pool, d.org_id, &[d.id]).await?;
        let base = Department::from(d);
        Ok(DepartmentWithMembers {
            id: base.id,
            created_at: base.created_at,
            updated_at: base.updated_at,
            created_by: base.created_by,
            updated_by: base.updated_by,
            org_id: base.org_id,
            kind: base.kind,
            name: base.name,
            department_heads: heads.into_iter().map(|h| h.user_id).collect(),
            members,
        })
    }

    /// Each department lists its heads (`admins`) as user summaries.
    async fn page(st: &AppState, org: Uuid, rows: Vec<UnitRow>, meta: PageMeta) -> Result<DepartmentsPage, ApiError> {
        let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
        let heads = org_units::department_heads(&st.pool, org, &ids).await?;
        let head_ids: Vec<Uuid> = heads.iter().map(|h| h.user_id).collect();
        let users: HashMap<Uuid, UserSummary> =
            queries::users_by_ids(&st.pool, org, &head_ids).await?.iter().map(|u| (u.id, UserSummary::from(u))).collect();
        let departments = rows
            .iter()
            .map(|d| DepartmentListItem {
                id: d.id,
                name: d.name.clone(),
                member_count: d.member_count,
                admins: heads.iter().filter(|h| h.department_id == d.id).filter_map(|h| users.get(&h.user_id).cloned()).collect(),
            })
            .collect();
        Ok(DepartmentsPage { departments, meta })
    }
}

/// E57: one page of the caller's organization's departments, with member counts and heads.
#[utoipa::path(get, path = "/api/departments", tag = "WorkDrive",
    params(("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = DepartmentsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_departments(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<PageQuery>,
) -> Result<Response, Error> {
    unit::list::<Departments>(st, caller, q).await
}

/// E58: create a department with its members; at least one member must have `isAdmin: true`.
/// Members leave the department they were in.
#[utoipa::path(post, path = "/api/departments", tag = "WorkDrive",
    request_body = CreateDepartmentBody,
    responses((status = 201, body = Department), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_department(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreateDepartmentBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let name = required_name(body.name)?;
    let ctx = ctx?;
    let members = body.members.iter().map(DeptMemberInput::command).collect();
    let committed = cmd::create_department(&st.store, &ctx, org, name, members).await?;
    unit::created::<Departments>(&st, &ctx, org, committed).await
}

/// E59: add heads (`add`, joining the department if needed) and remove heads (`remove`, one id
/// or several; they stay members). Adds run first; the department must keep at least one head.
#[utoipa::path(patch, path = "/api/departments/{id}/admin", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = UpdateDepartmentAdminBody,
    responses((status = 200, body = Department), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_department_admin(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<UpdateDepartmentAdminBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let id = dialect::uuid_path(&id, "department")?;
    let remove = parse_remove(body.remove)?;
    let add = body.add.iter().map(|m| UserId(m.id)).collect();
    let ctx = ctx?;
    let committed = cmd::change_heads(&st.store, &ctx, org, id, add, remove).await?;
    Ok(st
        .respond(&ctx, committed, |st, _| async move {
            Ok(axum::Json(Department::from(&unit::load::<Departments>(&st, org.0, id).await?)).into_response())
        })
        .await?)
}

/// E60: add members (`addMembers`, moving them from their department; `isAdmin` also makes them
/// heads) and remove members (`removeMembers`). The last head cannot be removed.
#[utoipa::path(post, path = "/api/departments/{id}/members", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = DepartmentMembersBody,
    responses((status = 200, body = DepartmentWithMembers), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn change_department_members(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<DepartmentMembersBody>,
) -> Result<Response, Error> {
    unit::change_members::<Departments>(st, write, id, body).await
}

/// E60 also answers PATCH (the spec's resolution 15).
#[utoipa::path(patch, path = "/api/departments/{id}/members", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = DepartmentMembersBody,
    responses((status = 200, body = DepartmentWithMembers), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn patch_department_members(
    st: State<AppState>,
    write: Write,
    id: Path<String>,
    body: Json<DepartmentMembersBody>,
) -> Result<Response, Error> {
    change_department_members(st, write, id, body).await
}

/// E61: a department with its heads and members (not paged).
#[utoipa::path(get, path = "/api/departments/{id}/members", tag = "WorkDrive",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = DepartmentWithMembers), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_department_members(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    unit::get_members::<Departments>(st, caller, id).await
}

/// E62: rename a department.
#[utoipa::path(patch, path = "/api/departments/{id}", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = RenameBody,
    responses((status = 200, body = Department), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_department(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<RenameBody>,
) -> Result<Response, Error> {
    unit::rename::<Departments>(st, write, id, body.name).await
}

/// E63: delete a department; its former members' `department` and `isDepartmentHead` are cleared.
#[utoipa::path(delete, path = "/api/departments/{id}", tag = "WorkDrive",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_department(State(st): State<AppState>, write: Write, Path(id): Path<String>) -> Result<Response, Error> {
    unit::delete::<Departments>(st, write, id).await
}
