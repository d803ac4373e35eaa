//! Courses (E43, E44, and Roster's create): task lists the org's admins make for everyone in it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use commands::handlers::library::{run, References, Resolved};
use domain::audience::Audience;
use domain::category::ModuleCode;
use domain::library::{
    Course as CourseData, CourseAggregate, CourseStatus, ItemCommand, MAX_COURSE_CATEGORIES, MAX_COURSE_TASKS, MAX_DESCRIPTION_LEN,
    MAX_TITLE_LEN,
};
use projections::content::audience::Reader;
use projections::content::library::{self as read, CourseRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::content::{reader, OneOrMany};
use super::super::media::File;
use super::super::{paging, Caller, Error, ErrorBody, Json, PageMeta, Query, Write};
use super::{delete, files, newest_first, Named};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

const _: () = assert!(
    MAX_TITLE_LEN == 200 && MAX_DESCRIPTION_LEN == 5000 && MAX_COURSE_CATEGORIES == 20 && MAX_COURSE_TASKS == 200,
    "update the bounds of CreateCourseBody"
);

/// The spec's `Course` (a "taskList"). `tasks` is the number of tasks, as in the seed; the tasks
/// themselves are `taskItems`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Course {
    pub id: Uuid,
    pub course_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub categories: Vec<String>,
    pub order: i32,
    pub number_of_tasks: i64,
    /// Always 0 (assignment is not part of this API).
    pub users_count: i64,
    /// The estimated duration, in minutes.
    pub total_time: i32,
    pub org_id: Uuid,
    pub tasks: i64,
    #[schema(value_type = Vec<Object>)]
    pub task_items: Vec<serde_json::Value>,
    /// Always `null`.
    #[schema(value_type = Option<Uuid>)]
    pub parent_task_list_id: Option<Uuid>,
    /// Always 0.
    pub progress: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `draft` or `publish`.
    pub status: String,
    pub file: Option<File>,
    #[schema(value_type = Option<Object>)]
    pub form: Option<serde_json::Value>,
    pub due_date: Option<DateTime<Utc>>,
    /// Always `false`.
    pub started: bool,
    pub created_by: Uuid,
    /// Always `null`.
    #[schema(value_type = Option<Uuid>)]
    pub notification_template_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoursesPage {
    pub task_lists: Vec<Course>,
    pub meta: PageMeta,
}

async fn render(st: &AppState, reader: Reader, rows: Vec<CourseRow>) -> Result<Vec<Course>, ApiError> {
    let named = Named::load(st, reader, vec![], rows.iter().filter_map(|c| c.file_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let task_items = match c.tasks {
                serde_json::Value::Array(t) => t,
                _ => vec![],
            };
            let n = task_items.len() as i64;
            Course {
                id: c.id,
                course_id: c.id,
                title: c.title,
                description: c.description,
                categories: c.categories,
                order: c.ord,
                number_of_tasks: n,
                users_count: 0,
                total_time: c.total_time,
                org_id: c.org_id,
                tasks: n,
                task_items,
                parent_task_list_id: None,
                progress: 0,
                created_at: c.created_at,
                updated_at: c.updated_at,
                status: c.status,
                file: named.file(c.file_id),
                form: c.form,
                due_date: c.due_date,
                started: false,
                created_by: c.author,
                notification_template_id: None,
            }
        })
        .collect())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CoursesQuery {
    /// `ALL_COURSES` (the default and only value).
    pub filter: Option<String>,
    /// `ASC` (the default: oldest first) or `DESC`, by creation.
    pub sort_direction: Option<String>,
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
}

/// E43: one page of the organization's courses.
#[utoipa::path(get, path = "/api/courses", tag = "WorkDrive",
    params(("filter" = Option<String>, Query), ("sort_direction" = Option<String>, Query), ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = CoursesPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_courses(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<CoursesQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    match q.filter.as_deref().map(str::trim) {
        None | Some("") | Some("ALL_COURSES") => {}
        Some(other) => return Err(ApiError::invalid("filter", format!("'{other}' is not ALL_COURSES")).into()),
    }
    let newest = newest_first(q.sort_direction.as_deref(), false)?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let (rows, total) = read::courses(&st.pool, reader, None, newest, offset, per_page).await?;
    let task_lists = render(&st, reader, rows).await?;
    Ok(axum::Json(CoursesPage { task_lists, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCourseBody {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Names of existing COURSE categories (a string is one).
    #[schema(value_type = Option<Vec<String>>, max_items = 20)]
    #[serde(default)]
    pub categories: OneOrMany<String>,
    /// 0 when absent.
    #[schema(minimum = 0, maximum = 2147483647)]
    pub order: Option<i32>,
    /// The estimated duration in minutes; 0 when absent.
    #[schema(minimum = 0, maximum = 2147483647)]
    pub total_time: Option<i32>,
    pub due_date: Option<DateTime<Utc>>,
    /// `draft` (the default) or `publish` (alias `published`).
    pub status: Option<String>,
    /// An uploaded file.
    pub file_id: Option<Uuid>,
    /// A form.io form, stored as given (at most 65536 bytes of JSON).
    #[schema(value_type = Option<Object>)]
    pub form: Option<serde_json::Value>,
    /// The tasks: titles or objects, stored as given (at most 200, 65536 bytes of JSON).
    #[schema(value_type = Option<Vec<Object>>, max_items = 200)]
    pub tasks: Option<Vec<serde_json::Value>>,
}

fn status(raw: Option<&str>) -> Result<CourseStatus, ApiError> {
    match raw.map(str::trim).unwrap_or("") {
        "" | "draft" => Ok(CourseStatus::Draft),
        "publish" | "published" => Ok(CourseStatus::Publish),
        other => Err(ApiError::invalid("status", format!("'{other}' is not draft or publish"))),
    }
}

/// Roster (DESIGN §11, org admin): a new course with its tasks, seen by the whole organization.
#[utoipa::path(post, path = "/api/courses", tag = "WorkDrive", request_body = CreateCourseBody,
    responses((status = 201, body = Course), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_course(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreateCourseBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let reader = reader(&caller)?;
    let status = status(body.status.as_deref())?;
    let names = body.categories.into_vec();
    let refs = References {
        files: files(&[(body.file_id, "fileId")]),
        existing_categories: names.iter().enumerate().map(|(i, n)| (ModuleCode::Course, n.clone(), format!("categories[{i}]"))).collect(),
        ..Default::default()
    };
    let data = CourseData {
        title: body.title.unwrap_or_default(),
        description: body.description,
        categories: vec![],
        order: body.order.unwrap_or(0),
        total_time: body.total_time.unwrap_or(0),
        due_date: body.due_date,
        status,
        file_id: body.file_id,
        form: body.form,
        tasks: body.tasks.unwrap_or_default(),
    };
    let ctx = ctx?;
    let (id, author) = (Uuid::new_v4(), caller.user_id);
    let command = |r: Resolved| {
        let data = CourseData { categories: r.categories, ..data.clone() };
        ItemCommand::Create { id, org_id: org, author, data, audience: Audience::public() }
    };
    let committed = run::<CourseAggregate, CourseData>(&st.store, &ctx, org, id, true, &refs, command).await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            let (rows, _) = read::courses(&st.pool, reader, Some(r.id), false, 0, 1).await?;
            let course = render(&st, reader, rows).await?.pop().ok_or(ApiError::Internal)?;
            Ok((StatusCode::CREATED, axum::Json(course)).into_response())
        })
        .await?)
}

/// E44: deletes a course (its creator or an org admin).
#[utoipa::path(delete, path = "/api/courses/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_course(State(st): State<AppState>, write: Write, Path(raw): Path<String>) -> Result<Response, Error> {
    delete::<CourseAggregate, CourseData>(st, write, &raw, "course").await
}
