//! Videos (E23–E26).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use commands::handlers::library::{run, References};
use domain::library::{ItemCommand, Video as VideoData, VideoAggregate, VideoPatch, VideoSource, MAX_DESCRIPTION_LEN, MAX_TITLE_LEN};
use domain::patch::Patch;
use projections::content::audience::Reader;
use projections::content::library::{self as read, VideoFilter, VideoRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::content::{audience, reader, Permissions};
use super::super::media::File;
use super::super::{bool_param, paging, parse_id, Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use super::{changeable, delete, files, Named};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

const _: () = assert!(MAX_TITLE_LEN == 200 && MAX_DESCRIPTION_LEN == 5000, "update the bounds of the video bodies");

/// The spec's `Video`, with the files it names rendered (`videoFile`, `thumbnailFile`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    pub title: String,
    pub description: Option<String>,
    /// 1 YOUTUBE, 2 VIMEO, 3 CUSTOM, 4 RECORDING.
    pub source: i16,
    pub video_file_id: Option<Uuid>,
    pub video_file: Option<File>,
    pub user: Option<UserSummary>,
    pub thumbnail_file_id: Option<Uuid>,
    pub thumbnail_file: Option<File>,
    /// The client's object; `url` is the page of a YouTube or Vimeo video.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VideosPage {
    pub videos: Vec<Video>,
    pub meta: PageMeta,
}

async fn render(st: &AppState, reader: Reader, rows: Vec<VideoRow>) -> Result<Vec<Video>, ApiError> {
    let users = rows.iter().map(|v| v.author).collect();
    let files = rows.iter().flat_map(|v| [v.video_file_id, v.thumbnail_file_id]).flatten().collect();
    let named = Named::load(st, reader, users, files).await?;
    Ok(rows
        .into_iter()
        .map(|v| Video {
            id: v.id,
            created_at: v.created_at,
            updated_at: v.updated_at,
            created_by: v.author,
            updated_by: v.updated_by,
            title: v.title,
            description: v.description,
            source: v.source,
            video_file: named.file(v.video_file_id),
            video_file_id: v.video_file_id,
            user: named.user(v.author),
            thumbnail_file: named.file(v.thumbnail_file_id),
            thumbnail_file_id: v.thumbnail_file_id,
            meta: v.meta,
        })
        .collect())
}

/// The video after a write, as its author sees it.
async fn answer(st: AppState, reader: Reader, id: Uuid, status: StatusCode) -> Result<Response, ApiError> {
    let (rows, _) = read::videos(&st.pool, reader, &VideoFilter { id: Some(id), ..Default::default() }, 0, 1).await?;
    let video = render(&st, reader, rows).await?.pop().ok_or(ApiError::Internal)?;
    Ok((status, axum::Json(video)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VideosQuery {
    /// Only videos of users the caller follows.
    pub is_following: Option<String>,
    /// Only videos uploaded by this user.
    pub user_id: Option<String>,
    /// Words matched, case-insensitively and literally, in the title or the description.
    pub search: Option<String>,
    // WorkDrive's paging keeps its snake_case names (P1) beside the camelCase filters.
    #[serde(rename = "cur_page")]
    pub cur_page: Option<String>,
    #[serde(rename = "per_page")]
    pub per_page: Option<String>,
}

/// E23: one page of the videos the caller may see, newest first.
#[utoipa::path(get, path = "/api/videos", tag = "WorkDrive",
    params(("isFollowing" = Option<bool>, Query), ("userId" = Option<Uuid>, Query), ("search" = Option<String>, Query),
        ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = VideosPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_videos(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<VideosQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let filter = VideoFilter {
        id: None,
        following: bool_param("isFollowing", q.is_following.as_deref())?,
        author: q.user_id.as_deref().map(|s| parse_id(s, "userId")).transpose()?,
        search: q.search.filter(|s| !s.trim().is_empty()).map(|s| s.trim().to_string()),
    };
    let (rows, total) = read::videos(&st.pool, reader, &filter, offset, per_page).await?;
    let videos = render(&st, reader, rows).await?;
    Ok(axum::Json(VideosPage { videos, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateVideoBody {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// Blank or `null` means none.
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// 1 YOUTUBE, 2 VIMEO, 3 CUSTOM (the default), 4 RECORDING; a number or a numeric string.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 4)]
    pub source: Option<serde_json::Value>,
    /// An uploaded file; required for CUSTOM and RECORDING (ignored otherwise).
    pub video_file_id: Option<Uuid>,
    pub thumbnail_file_id: Option<Uuid>,
    /// The client's object (at most 4096 bytes of JSON); YOUTUBE and VIMEO need the page in `url`.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
    pub permissions: Option<Permissions>,
}

fn source(raw: Option<serde_json::Value>) -> Result<VideoSource, ApiError> {
    let code = match raw {
        None | Some(serde_json::Value::Null) => return Ok(VideoSource::Custom),
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    code.and_then(VideoSource::from_code)
        .ok_or_else(|| ApiError::invalid("source", "must be 1 (YOUTUBE), 2 (VIMEO), 3 (CUSTOM) or 4 (RECORDING)"))
}

/// E24: a new video. `source` defaults to CUSTOM; omitted `permissions` means the whole org.
#[utoipa::path(post, path = "/api/videos", tag = "WorkDrive", request_body = CreateVideoBody,
    responses((status = 201, body = Video), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_video(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreateVideoBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let source = source(body.source)?;
    let audience = audience(body.permissions)?;
    let data = VideoData {
        title: body.title.unwrap_or_default(),
        description: body.description,
        source,
        video_file_id: body.video_file_id,
        thumbnail_file_id: body.thumbnail_file_id,
        meta: body.meta,
    };
    let uploaded = if source.is_upload() { body.video_file_id } else { None };
    let refs = References {
        audience: Some(audience.clone()),
        files: files(&[(uploaded, "videoFileId"), (body.thumbnail_file_id, "thumbnailFileId")]),
        ..Default::default()
    };
    let ctx = ctx?;
    let (id, org, author) = (Uuid::new_v4(), domain::OrgId(reader.org), caller.user_id);
    let command = |_| ItemCommand::Create { id, org_id: org, author, data: data.clone(), audience: audience.clone() };
    let committed = run::<VideoAggregate, VideoData>(&st.store, &ctx, org, id, true, &refs, command).await?;
    Ok(st.respond(&ctx, committed, |st, r| answer(st, reader, r.id, StatusCode::CREATED)).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateVideoBody {
    /// Absent keeps; `null` is refused.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    #[serde(default)]
    pub title: Patch<String>,
    /// Absent keeps; `null` or blank clears.
    #[schema(value_type = Option<String>, max_length = 5000)]
    #[serde(default)]
    pub description: Patch<String>,
    /// Absent keeps; `null` clears.
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub thumbnail_file_id: Patch<Uuid>,
    /// Absent keeps; `null` means the whole org.
    #[schema(value_type = Option<Permissions>)]
    #[serde(default)]
    pub permissions: Patch<Permissions>,
    /// Cannot be changed: present is a 400.
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub video_file_id: Patch<serde_json::Value>,
    /// Cannot be changed: present is a 400.
    #[schema(value_type = Option<i64>)]
    #[serde(default)]
    pub source: Patch<serde_json::Value>,
    /// Cannot be changed: present is a 400.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub meta: Patch<serde_json::Value>,
}

/// E25: changes a video's title, description, thumbnail or permissions (its author or an org
/// admin); its file, source and `meta` cannot change.
#[utoipa::path(patch, path = "/api/videos/{id}", tag = "WorkDrive", request_body = UpdateVideoBody, params(("id" = Uuid, Path)),
    responses((status = 200, body = Video), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_video(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(raw): Path<String>,
    dialect::Json(body, _): Json<UpdateVideoBody>,
) -> Result<Response, Error> {
    for (fixed, field) in [(&body.video_file_id, "videoFileId"), (&body.source, "source"), (&body.meta, "meta")] {
        if !fixed.is_keep() {
            return Err(ApiError::invalid(field, "cannot be changed; create another video").into());
        }
    }
    let reader = reader(&caller)?;
    let new_audience = match body.permissions {
        Patch::Keep => None,
        Patch::Clear => Some(audience(None)?),
        Patch::Set(p) => Some(p.audience()?),
    };
    let patch =
        VideoPatch { title: body.title.required("title")?, description: body.description, thumbnail_file_id: body.thumbnail_file_id };
    let thumbnail = match &patch.thumbnail_file_id {
        Patch::Set(id) => Some(*id),
        _ => None,
    };
    let refs = References { audience: new_audience.clone(), files: files(&[(thumbnail, "thumbnailFileId")]), ..Default::default() };
    let (id, actor) = changeable(&st, &caller, &raw, "video").await?;
    let ctx = ctx?;
    let command = |_| ItemCommand::Update { actor, patch: patch.clone(), audience: new_audience.clone() };
    let committed = run::<VideoAggregate, VideoData>(&st.store, &ctx, actor.org, id, false, &refs, command).await?;
    Ok(st.respond(&ctx, committed, |st, r| answer(st, reader, r.id, StatusCode::OK)).await?)
}

/// E26: deletes a video (its author or an org admin).
#[utoipa::path(delete, path = "/api/videos/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_video(State(st): State<AppState>, write: Write, Path(raw): Path<String>) -> Result<Response, Error> {
    delete::<VideoAggregate, VideoData>(st, write, &raw, "video").await
}
