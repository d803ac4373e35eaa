//! WorkDrive locations (E64–E69). Members are the users whose `location` is the location.
//! Everything but the shapes is `org_units`'s.

use axum::extract::{Path, State};
use axum::response::Response;
use commands::handlers::location::{self as cmd, Locations};
use domain::UserId;
use projections::org_units::{UnitKind, UnitRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::departments::RenameBody;
use super::org_units::{self as unit, UnitApi};
use super::{required_name, PageQuery};
use super::{Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub name: String,
    pub org_id: Uuid,
    /// In lists only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_count: Option<i64>,
}

impl From<&UnitRow> for Location {
    fn from(l: &UnitRow) -> Self {
        Location {
            id: l.id,
            created_at: l.created_at,
            updated_at: l.updated_at,
            created_by: l.created_by,
            updated_by: l.updated_by,
            name: l.name.clone(),
            org_id: l.org_id,
            member_count: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationsPage {
    pub locations: Vec<Location>,
    pub meta: PageMeta,
}

/// `Location` (without `memberCount`) plus its members.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationWithMembers {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub name: String,
    pub org_id: Uuid,
    pub members: Vec<UserSummary>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateLocationBody {
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationMembersBody {
    /// User ids; a user has one location, so adding moves them.
    #[serde(default)]
    pub add_members: Vec<Uuid>,
    #[serde(default)]
    pub remove_members: Vec<Uuid>,
}

impl UnitApi for Locations {
    const READS: UnitKind = UnitKind::Location;
    type Shape = Location;
    type WithMembers = LocationWithMembers;
    type Page = LocationsPage;
    type MembersBody = LocationMembersBody;

    fn members_change(body: LocationMembersBody) -> (Vec<UserId>, Vec<UserId>) {
        (body.add_members.into_iter().map(UserId).collect(), body.remove_members.into_iter().map(UserId).collect())
    }

    async fn with_members(_: &AppState, row: &UnitRow, members: Vec<UserSummary>) -> Result<LocationWithMembers, ApiError> {
        let l = Location::from(row);
        Ok(LocationWithMembers {
            id: l.id,
            created_at: l.created_at,
            updated_at: l.updated_at,
            created_by: l.created_by,
            updated_by: l.updated_by,
            name: l.name,
            org_id: l.org_id,
            members,
        })
    }

    /// Only in lists does a location carry its `memberCount`.
    async fn page(_: &AppState, _: Uuid, rows: Vec<UnitRow>, meta: PageMeta) -> Result<LocationsPage, ApiError> {
        let locations = rows.iter().map(|r| Location { member_count: Some(r.member_count), ..Location::from(r) }).collect();
        Ok(LocationsPage { locations, meta })
    }
}

/// E64: one page of the caller's organization's locations, with member counts.
#[utoipa::path(get, path = "/api/locations", tag = "WorkDrive",
    params(("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = LocationsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_locations(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<PageQuery>,
) -> Result<Response, Error> {
    unit::list::<Locations>(st, caller, q).await
}

/// E65: create a location (`addedBy` and `orgId` in the body are ignored: the token says both).
#[utoipa::path(post, path = "/api/locations", tag = "WorkDrive",
    request_body = CreateLocationBody,
    responses((status = 201, body = Location), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_location(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreateLocationBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let name = required_name(body.name)?;
    let ctx = ctx?;
    let committed = cmd::create_location(&st.store, &ctx, org, name).await?;
    unit::created::<Locations>(&st, &ctx, org, committed).await
}

/// E66: add members (moving them from their location) and remove members.
#[utoipa::path(post, path = "/api/locations/{id}/members", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = LocationMembersBody,
    responses((status = 200, body = LocationWithMembers), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn change_location_members(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<LocationMembersBody>,
) -> Result<Response, Error> {
    unit::change_members::<Locations>(st, write, id, body).await
}

/// E66 also answers PATCH (the spec's resolution 15).
#[utoipa::path(patch, path = "/api/locations/{id}/members", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = LocationMembersBody,
    responses((status = 200, body = LocationWithMembers), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn patch_location_members(
    st: State<AppState>,
    write: Write,
    id: Path<String>,
    body: Json<LocationMembersBody>,
) -> Result<Response, Error> {
    change_location_members(st, write, id, body).await
}

/// E67: a location with its members (not paged).
#[utoipa::path(get, path = "/api/locations/{id}/members", tag = "WorkDrive",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LocationWithMembers), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_location_members(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    unit::get_members::<Locations>(st, caller, id).await
}

/// E68: rename a location.
#[utoipa::path(patch, path = "/api/locations/{id}", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = RenameBody,
    responses((status = 200, body = Location), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_location(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<RenameBody>,
) -> Result<Response, Error> {
    unit::rename::<Locations>(st, write, id, body.name).await
}

/// E69: delete a location; its former members' `location` is cleared.
#[utoipa::path(delete, path = "/api/locations/{id}", tag = "WorkDrive",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_location(State(st): State<AppState>, write: Write, Path(id): Path<String>) -> Result<Response, Error> {
    unit::delete::<Locations>(st, write, id).await
}
