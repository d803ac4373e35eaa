//! Photos (E27–E30).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use commands::handlers::library::{run, References};
use domain::library::{ItemCommand, Photo as PhotoData, PhotoAggregate, PhotoPatch};
use domain::patch::Patch;
use projections::content::audience::Reader;
use projections::content::library::{self as read, PhotoFilter, PhotoRow, PhotoScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::content::{audience, reader, Permissions};
use super::super::media::File;
use super::super::{paging, parse_id, Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use super::{changeable, delete, Named};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

/// The spec's `Photo`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Photo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    pub title: Option<String>,
    pub description: Option<String>,
    pub photo: Option<File>,
    pub user: Option<UserSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhotosPage {
    pub photos: Vec<Photo>,
    pub meta: PageMeta,
}

async fn render(st: &AppState, reader: Reader, rows: Vec<PhotoRow>) -> Result<Vec<Photo>, ApiError> {
    let named = Named::load(st, reader, rows.iter().map(|p| p.author).collect(), rows.iter().map(|p| p.file_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|p| Photo {
            id: p.id,
            created_at: p.created_at,
            updated_at: p.updated_at,
            created_by: p.author,
            updated_by: p.updated_by,
            title: p.title,
            description: p.description,
            photo: named.file(Some(p.file_id)),
            user: named.user(p.author),
        })
        .collect())
}

async fn answer(st: AppState, reader: Reader, id: Uuid, status: StatusCode) -> Result<Response, ApiError> {
    let (rows, _) = read::photos(&st.pool, reader, &PhotoFilter { id: Some(id), ..Default::default() }, 0, 1).await?;
    let photo = render(&st, reader, rows).await?.pop().ok_or(ApiError::Internal)?;
    Ok((status, axum::Json(photo)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhotosQuery {
    /// all_photos (the default), friends_photos (authors the caller follows), only_me_photos (the
    /// caller's), tagged_photos (tagging the caller), team_photos (authors sharing a team with the caller).
    pub filter: Option<String>,
    pub user_id: Option<String>,
    // WorkDrive's paging keeps its snake_case names (P1) beside the camelCase filters.
    #[serde(rename = "cur_page")]
    pub cur_page: Option<String>,
    #[serde(rename = "per_page")]
    pub per_page: Option<String>,
}

fn scope(raw: Option<&str>) -> Result<PhotoScope, ApiError> {
    Ok(match raw.map(str::trim).unwrap_or("") {
        "" | "all_photos" => PhotoScope::All,
        "friends_photos" => PhotoScope::Friends,
        "only_me_photos" => PhotoScope::OnlyMe,
        "tagged_photos" => PhotoScope::Tagged,
        "team_photos" => PhotoScope::Team,
        other => {
            return Err(ApiError::invalid(
                "filter",
                format!("'{other}' is not one of all_photos, friends_photos, only_me_photos, tagged_photos, team_photos"),
            ))
        }
    })
}

/// E27: one page of the photos the caller may see, newest first.
#[utoipa::path(get, path = "/api/photos", tag = "WorkDrive",
    params(("filter" = Option<String>, Query), ("userId" = Option<Uuid>, Query), ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = PhotosPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_photos(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<PhotosQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let filter = PhotoFilter {
        id: None,
        scope: scope(q.filter.as_deref())?,
        author: q.user_id.as_deref().map(|s| parse_id(s, "userId")).transpose()?,
    };
    let (rows, total) = read::photos(&st.pool, reader, &filter, offset, per_page).await?;
    let photos = render(&st, reader, rows).await?;
    Ok(axum::Json(PhotosPage { photos, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePhotoBody {
    /// Blank or `null` means none.
    #[schema(max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// The uploaded image (required).
    pub file_id: Option<Uuid>,
    pub permissions: Option<Permissions>,
}

/// E28: a new photo of an uploaded file; omitted `permissions` means the whole org.
#[utoipa::path(post, path = "/api/photos", tag = "WorkDrive", request_body = CreatePhotoBody,
    responses((status = 201, body = Photo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_photo(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreatePhotoBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let file_id = body.file_id.ok_or_else(|| ApiError::invalid("fileId", "is required"))?;
    let audience = audience(body.permissions)?;
    let data = PhotoData { title: body.title, description: body.description, file_id };
    let refs = References { audience: Some(audience.clone()), images: vec![(file_id, "fileId".into())], ..Default::default() };
    let ctx = ctx?;
    let (id, org, author) = (Uuid::new_v4(), domain::OrgId(reader.org), caller.user_id);
    let command = |_| ItemCommand::Create { id, org_id: org, author, data: data.clone(), audience: audience.clone() };
    let committed = run::<PhotoAggregate, PhotoData>(&st.store, &ctx, org, id, true, &refs, command).await?;
    Ok(st.respond(&ctx, committed, |st, r| answer(st, reader, r.id, StatusCode::CREATED)).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePhotoBody {
    /// Absent keeps; `null` or blank clears.
    #[schema(value_type = Option<String>, max_length = 200)]
    #[serde(default)]
    pub title: Patch<String>,
    /// Absent keeps; `null` or blank clears.
    #[schema(value_type = Option<String>, max_length = 5000)]
    #[serde(default)]
    pub description: Patch<String>,
}

/// E29: changes a photo's title or description (its author or an org admin).
#[utoipa::path(patch, path = "/api/photos/{id}", tag = "WorkDrive", request_body = UpdatePhotoBody, params(("id" = Uuid, Path)),
    responses((status = 200, body = Photo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_photo(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(raw): Path<String>,
    dialect::Json(body, _): Json<UpdatePhotoBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let patch = PhotoPatch { title: body.title, description: body.description };
    let (id, actor) = changeable(&st, &caller, &raw, "photo").await?;
    let ctx = ctx?;
    let command = |_| ItemCommand::Update { actor, patch: patch.clone(), audience: None };
    let committed = run::<PhotoAggregate, PhotoData>(&st.store, &ctx, actor.org, id, false, &References::default(), command).await?;
    Ok(st.respond(&ctx, committed, |st, r| answer(st, reader, r.id, StatusCode::OK)).await?)
}

/// E30: deletes a photo (its author or an org admin).
#[utoipa::path(delete, path = "/api/photos/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_photo(State(st): State<AppState>, write: Write, Path(raw): Path<String>) -> Result<Response, Error> {
    delete::<PhotoAggregate, PhotoData>(st, write, &raw, "photo").await
}
