//! Tasks (WorkDrive E45–E50) and Roster's `POST /api/tasks/{id}/complete`.
//!
//! A task is seen by its author, its assignees and the org's admins; anyone else gets 404, like
//! for another tenant's task. Its author or an org admin changes, assigns and deletes it (403 for
//! an assignee); only an assignee completes it (403 for anyone else who sees it).
//!
//! Decisions (spec §3): E46 and E47 are one handler; `userIds` assigns at once and makes the task
//! `publish` unless `status` says `draft`, which is a 400. A create without `status` publishes
//! (E46 "create and publish"). `published` is accepted for `publish`. Responses carry
//! `assignedUserIds` (uuids) and `assignedUsers` (summaries) everywhere (§3.5 item 47), plus
//! Roster's `completedUserIds` and `completed` (whether the caller has completed it).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Router;
use chrono::{DateTime, Utc};
use commands::handlers::tasks as cmd;
use domain::library::Actor;
use domain::patch::Patch;
use domain::task::{
    TaskContent, TaskPatch, TaskStatus, TaskType, MAX_ASSIGNEES, MAX_CONTENT_LEN, MAX_DESCRIPTION_LEN, MAX_DUE_DAYS, MAX_TIME_MINUTES,
    MAX_TITLE_LEN, MAX_URL_LEN,
};
use domain::{OrgId, UserId};
use projections::content::audience::Reader;
use projections::content::tasks::{self as read, TaskFilter, TaskRow, TaskScope};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::content::reader;
use super::{paging, Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list_tasks).post(create_task))
        .route("/api/tasks/update/{id}", patch(update_task))
        .route("/api/tasks/assign/{id}", patch(assign_task))
        .route("/api/tasks/{id}", delete(delete_task))
        .route("/api/tasks/{id}/complete", post(complete_task))
}

#[derive(OpenApi)]
#[openapi(paths(list_tasks, create_task, update_task, assign_task, delete_task, complete_task))]
pub struct Doc;

const _: () = assert!(
    MAX_TITLE_LEN == 200
        && MAX_DESCRIPTION_LEN == 5000
        && MAX_CONTENT_LEN == 50_000
        && MAX_URL_LEN == 2048
        && MAX_DUE_DAYS == 3650
        && MAX_TIME_MINUTES == 525_600
        && MAX_ASSIGNEES == 1000,
    "update the bounds of TaskBody and AssignBody"
);

// ----- shapes -------------------------------------------------------------------------------------

/// Who created a task: a uuid in write responses (E46–E49), a user in E45's list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreatedBy {
    Id(Uuid),
    User(Box<UserSummary>),
}

/// The spec's `Task`, with `TaskAssigned`'s `assignedUserIds` and Roster's additions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    /// `Article`, `Video`, `QuizLink`, `Document` or `TrainingCourse`.
    #[serde(rename = "task_type")]
    pub task_type: String,
    /// `draft` or `publish`.
    pub status: String,
    pub content: Option<String>,
    /// The estimated minutes.
    pub time: Option<i32>,
    pub video_id: Option<Uuid>,
    pub link: Option<String>,
    pub document_id: Option<Uuid>,
    pub training_course_task_list_id: Option<Uuid>,
    /// `{id}` of the course of a TrainingCourse task.
    #[schema(value_type = Option<Object>)]
    pub training_course: Option<serde_json::Value>,
    pub notification_template_id: Option<Uuid>,
    pub due_days: Option<i32>,
    /// Creation plus `dueDays`.
    pub due_date: Option<DateTime<Utc>>,
    pub created_by: CreatedBy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub assigned_user_ids: Vec<Uuid>,
    pub assigned_users: Vec<UserSummary>,
    /// Roster: the assignees who have completed the task.
    pub completed_user_ids: Vec<Uuid>,
    /// Roster: whether the caller has completed it.
    pub completed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TasksPage {
    pub tasks: Vec<Task>,
    pub meta: PageMeta,
}

async fn render(st: &AppState, reader: Reader, rows: Vec<TaskRow>, creator_as_user: bool) -> Result<Vec<Task>, ApiError> {
    let mut ids: Vec<Uuid> = rows.iter().flat_map(|t| t.assignees.iter().copied().chain([t.author])).collect();
    ids.sort_unstable();
    ids.dedup();
    let users: std::collections::HashMap<Uuid, UserSummary> =
        projections::queries::users_by_ids(&st.pool, reader.org, &ids).await?.iter().map(|u| (u.id, UserSummary::from(u))).collect();
    Ok(rows
        .into_iter()
        .map(|t| {
            let created_by = match users.get(&t.author) {
                Some(u) if creator_as_user => CreatedBy::User(Box::new(u.clone())),
                _ => CreatedBy::Id(t.author),
            };
            Task {
                id: t.id,
                title: t.title,
                description: t.description,
                task_type: t.task_type,
                status: t.status,
                content: t.content,
                time: t.time_minutes,
                video_id: t.video_id,
                link: t.link,
                document_id: t.document_id,
                training_course: t.training_course_task_list_id.map(|id| serde_json::json!({ "id": id })),
                training_course_task_list_id: t.training_course_task_list_id,
                notification_template_id: t.notification_template_id,
                due_days: t.due_days,
                due_date: t.due_date,
                created_by,
                created_at: t.created_at,
                updated_at: t.updated_at,
                assigned_users: t.assignees.iter().filter_map(|id| users.get(id).cloned()).collect(),
                completed: t.completed_by.contains(&reader.user),
                assigned_user_ids: t.assignees,
                completed_user_ids: t.completed_by,
            }
        })
        .collect())
}

/// The task `raw` names, if the caller may see it (else 404, like another tenant's).
async fn visible(st: &AppState, reader: Reader, raw: &str) -> Result<TaskRow, ApiError> {
    let id = dialect::uuid_path(raw, "task")?;
    read::task(&st.pool, reader, id).await?.ok_or_else(|| ApiError::NotFound("task not found".into()))
}

/// A write's answer: the task as it is now (`createdBy` a uuid).
async fn answer(st: &AppState, reader: Reader, id: Uuid, status: StatusCode) -> Result<Response, ApiError> {
    let row = read::task(&st.pool, reader, id).await?.ok_or(ApiError::Internal)?;
    let task = render(st, reader, vec![row], false).await?.pop().ok_or(ApiError::Internal)?;
    Ok((status, axum::Json(task)).into_response())
}

// ----- E45 ----------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
pub struct TasksQuery {
    /// `INDEPENDENT_TASKS_CREATED_BY_ME` or `INDEPENDENT_TASKS_ASSIGNED_TO_ME`; absent: every task
    /// the caller sees.
    pub filter: Option<String>,
    /// `true`: published tasks only; `false`: drafts only; absent: both.
    pub published: Option<String>,
    /// `ASC` (the default: oldest first) or `DESC`, by creation.
    pub sort_direction: Option<String>,
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
}

/// The scopes of E45's `filter` (any case; empty or absent: every task the caller may see).
pub(crate) const TASK_FILTERS: [&str; 2] = ["INDEPENDENT_TASKS_CREATED_BY_ME", "INDEPENDENT_TASKS_ASSIGNED_TO_ME"];

/// E45: one page of the caller's tasks (created by them, assigned to them, or, for an org admin,
/// all of the org's).
#[utoipa::path(get, path = "/api/tasks", tag = "WorkDrive",
    params(("filter" = Option<String>, Query), ("published" = Option<bool>, Query), ("sort_direction" = Option<String>, Query),
           ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = TasksPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_tasks(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<TasksQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let [created_by_me, assigned_to_me] = TASK_FILTERS;
    let scope = match q.filter.as_deref().map(str::trim) {
        None | Some("") => TaskScope::All,
        Some(f) if f.eq_ignore_ascii_case(created_by_me) => TaskScope::CreatedByMe,
        Some(f) if f.eq_ignore_ascii_case(assigned_to_me) => TaskScope::AssignedToMe,
        Some(other) => {
            return Err(ApiError::invalid(
                "filter",
                format!("'{other}' is not INDEPENDENT_TASKS_CREATED_BY_ME or INDEPENDENT_TASKS_ASSIGNED_TO_ME"),
            )
            .into())
        }
    };
    let published = q.published.as_deref().map(|flag| super::bool_param("published", Some(flag))).transpose()?;
    let newest_first = match q.sort_direction.as_deref().map(str::trim).unwrap_or("") {
        "" => false,
        s if s.eq_ignore_ascii_case("asc") => false,
        s if s.eq_ignore_ascii_case("desc") => true,
        other => return Err(ApiError::invalid("sort_direction", format!("'{other}' is not ASC or DESC")).into()),
    };
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let filter = TaskFilter { id: None, scope, published, newest_first };
    let (rows, total) = read::tasks(&st.pool, reader, &filter, offset, per_page).await?;
    let tasks = render(&st, reader, rows, true).await?;
    Ok(axum::Json(TasksPage { tasks, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

// ----- E46 / E47 / E48 ----------------------------------------------------------------------------

/// A task's fields (E46/E47 create, E48 change). On a create, absent and `null` mean none; on a
/// change, absent keeps, `null` clears (`title`, `task_type` and `status` cannot be cleared).
/// Blank texts are none.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskBody {
    /// Required on a create.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    #[serde(default)]
    pub title: Patch<String>,
    #[schema(value_type = Option<String>, max_length = 5000)]
    #[serde(default)]
    pub description: Patch<String>,
    /// `Article`, `Video`, `QuizLink`, `Document` or `TrainingCourse`; required on a create.
    #[schema(value_type = Option<String>)]
    #[serde(default, rename = "task_type", alias = "taskType")]
    pub task_type: Patch<String>,
    /// `draft` or `publish` (alias `published`). A create without it publishes; `draft` with
    /// `userIds` is a 400.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub status: Patch<String>,
    /// Required for an Article.
    #[schema(value_type = Option<String>, max_length = 50000)]
    #[serde(default)]
    pub content: Patch<String>,
    /// The estimated minutes.
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 525600)]
    #[serde(default)]
    pub time: Patch<i32>,
    /// Required for a Video: a video of the library or an uploaded file.
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub video_id: Patch<Uuid>,
    /// Required for a QuizLink.
    #[schema(value_type = Option<String>, max_length = 2048)]
    #[serde(default)]
    pub link: Patch<String>,
    /// Required for a Document: a document of the knowledge base (E31).
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub document_id: Patch<Uuid>,
    /// Required for a TrainingCourse: a course (E43).
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub training_course_task_list_id: Patch<Uuid>,
    /// An enforcement template (E40) whose reminders go to the assignees before the due date.
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub notification_template_id: Patch<Uuid>,
    /// The due date is the task's creation plus this many days.
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 3650)]
    #[serde(default)]
    pub due_days: Patch<i32>,
    /// E47: users of the organization to assign at once (create only).
    #[schema(max_items = 1000)]
    pub user_ids: Option<Vec<Uuid>>,
}

/// A text patch where blank means none.
fn text(p: Patch<String>) -> Patch<String> {
    match p {
        Patch::Set(s) if s.trim().is_empty() => Patch::Clear,
        other => other,
    }
}

fn set<T>(p: Patch<T>) -> Option<T> {
    match p {
        Patch::Set(v) => Some(v),
        _ => None,
    }
}

/// E46 / E47: a new task by the caller; with `userIds`, assigned at once.
#[utoipa::path(post, path = "/api/tasks", tag = "WorkDrive", request_body = TaskBody,
    responses((status = 201, body = Task), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_task(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<TaskBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let title = set(text(body.title)).ok_or_else(|| ApiError::invalid("title", "is required"))?;
    let raw_type = set(text(body.task_type)).ok_or_else(|| ApiError::invalid("task_type", "is required"))?;
    let task_type = TaskType::parse("task_type", &raw_type).map_err(ApiError::from)?;
    let status = match set(text(body.status)) {
        None => TaskStatus::Publish,
        Some(s) => TaskStatus::parse("status", &s).map_err(ApiError::from)?,
    };
    let assignees: Vec<UserId> = body.user_ids.unwrap_or_default().into_iter().map(UserId).collect();
    if assignees.len() > MAX_ASSIGNEES {
        return Err(ApiError::invalid("user_ids", format!("must have at most {MAX_ASSIGNEES} entries")).into());
    }
    let content = TaskContent {
        title,
        description: set(text(body.description)),
        task_type,
        status,
        content: set(text(body.content)),
        time: set(body.time),
        video_id: set(body.video_id),
        link: set(text(body.link)),
        document_id: set(body.document_id),
        training_course_task_list_id: set(body.training_course_task_list_id),
        notification_template_id: set(body.notification_template_id),
        due_days: set(body.due_days),
        due_date: None,
        reminders: vec![],
    };
    let ctx = ctx?;
    let committed = cmd::create_task(&st.store, &ctx, OrgId(reader.org), caller.user_id, content, assignees).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer(&st, reader, r.id, StatusCode::CREATED).await }).await?)
}

/// E48: changes a draft task (its author or an org admin); a published task is a 400.
#[utoipa::path(patch, path = "/api/tasks/update/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = TaskBody,
    responses((status = 200, body = Task), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_task(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(raw): Path<String>,
    dialect::Json(body, _): Json<TaskBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = visible(&st, reader, &raw).await?;
    if body.user_ids.is_some() {
        return Err(ApiError::invalid("user_ids", "assign users with PATCH /api/tasks/assign/{id}").into());
    }
    let task_type = match text(body.task_type) {
        Patch::Keep => None,
        Patch::Clear => return Err(ApiError::invalid("task_type", "must not be null").into()),
        Patch::Set(t) => Some(TaskType::parse("task_type", &t).map_err(ApiError::from)?),
    };
    let status = match text(body.status) {
        Patch::Keep => None,
        Patch::Clear => return Err(ApiError::invalid("status", "must not be null").into()),
        Patch::Set(s) => Some(TaskStatus::parse("status", &s).map_err(ApiError::from)?),
    };
    let title = match body.title {
        Patch::Keep => None,
        Patch::Clear => return Err(ApiError::invalid("title", "must not be null").into()),
        Patch::Set(t) => Some(t),
    };
    let patch = TaskPatch {
        title,
        description: text(body.description),
        task_type,
        status,
        content: text(body.content),
        time: body.time,
        video_id: body.video_id,
        link: text(body.link),
        document_id: body.document_id,
        training_course_task_list_id: body.training_course_task_list_id,
        notification_template: body.notification_template_id.map(|id| (id, vec![])),
        due_days: body.due_days,
    };
    let actor = Actor { user: caller.user_id, org: OrgId(reader.org), admin: reader.admin };
    let ctx = ctx?;
    let committed = cmd::update_task(&st.store, &ctx, actor, row.id, patch).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer(&st, reader, r.id, StatusCode::OK).await }).await?)
}

// ----- E49 / E50 / complete -----------------------------------------------------------------------

/// E49: who to assign and who to unassign (either may be absent).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignBody {
    /// Users of the organization to assign.
    #[schema(max_items = 1000)]
    #[serde(alias = "assignedUserIds")]
    pub user_ids: Option<Vec<Uuid>>,
    /// Assignees to unassign (a user not assigned is ignored).
    #[schema(max_items = 1000)]
    pub remove_ids: Option<Vec<Uuid>>,
}

/// E49: assigns and unassigns users of a published task (its author or an org admin); a draft
/// is a 400.
#[utoipa::path(patch, path = "/api/tasks/assign/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = AssignBody,
    responses((status = 200, body = Task), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn assign_task(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(raw): Path<String>,
    dialect::Json(body, _): Json<AssignBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = visible(&st, reader, &raw).await?;
    let add: Vec<UserId> = body.user_ids.unwrap_or_default().into_iter().map(UserId).collect();
    let remove: Vec<UserId> = body.remove_ids.unwrap_or_default().into_iter().map(UserId).collect();
    for (field, v) in [("user_ids", &add), ("remove_ids", &remove)] {
        if v.len() > MAX_ASSIGNEES {
            return Err(ApiError::invalid(field, format!("must have at most {MAX_ASSIGNEES} entries")).into());
        }
    }
    if row.status == TaskStatus::Draft.as_str() && !add.is_empty() {
        return Err(ApiError::invalid("status", "a draft task cannot be assigned; publish it first").into());
    }
    let actor = Actor { user: caller.user_id, org: OrgId(reader.org), admin: reader.admin };
    let ctx = ctx?;
    let committed = cmd::assign_task(&st.store, &ctx, actor, row.id, add, remove).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer(&st, reader, r.id, StatusCode::OK).await }).await?)
}

/// E50: deletes a task (its author or an org admin).
#[utoipa::path(delete, path = "/api/tasks/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_task(State(st): State<AppState>, Write { caller, ctx }: Write, Path(raw): Path<String>) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = visible(&st, reader, &raw).await?;
    let actor = Actor { user: caller.user_id, org: OrgId(reader.org), admin: reader.admin };
    let ctx = ctx?;
    let committed = cmd::delete_task(&st.store, &ctx, actor, row.id).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}

/// Roster: an assignee marks the task done (again: no change). Anyone else who sees it: 403.
#[utoipa::path(post, path = "/api/tasks/{id}/complete", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 200, body = Task), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn complete_task(State(st): State<AppState>, Write { caller, ctx }: Write, Path(raw): Path<String>) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = visible(&st, reader, &raw).await?;
    let ctx = ctx?;
    let committed = cmd::complete_task(&st.store, &ctx, OrgId(reader.org), caller.user_id, row.id).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer(&st, reader, r.id, StatusCode::OK).await }).await?)
}
