//! WorkDrive dialect (spec/workdrive.md): organizations, access tokens and users of this slice.
//! Token in `X-API-KEY`; errors `{statusCode, message, error}`.

mod organization;
mod users;
pub mod users_bulk;

pub use organization::*;
pub use users::*;

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use commands::handlers::{organization as org_cmd, user as user_cmd};
use domain::organization::{Address, AuthMethod, OrganizationPatch};
use domain::patch::Patch;
use domain::user::{Profile, Role, UserPatch, UserStatus, Visibility};
use domain::{OrgId, UserId};
use projections::queries::{self, OrgRow, UserFilter, UserRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::kernel::dialect::{self, int_param, Dialect, IntBounds};
use crate::kernel::error::ApiError;
use crate::kernel::fields::FieldNames;
use crate::kernel::write::SecretBearing;
use crate::AppState;

pub mod content;
pub mod departments;
pub mod events;
pub mod group_chats;
pub mod library;
pub mod locations;
pub mod media;
pub mod notifications;
mod org_units;
pub mod posts;
pub mod security_groups;
pub mod sso;
pub mod tasks;

pub struct WorkDrive;

impl Dialect for WorkDrive {
    const NAME: &'static str = "workdrive";
    const TAG: &'static str = "WorkDrive";
    const ERROR_SCHEMA: Option<&'static str> = Some("ErrorBody");
    const QUERY_INTS: &'static [IntBounds] = &[CUR_PAGE, PER_PAGE];

    fn token(parts: &axum::http::request::Parts) -> Option<&str> {
        crate::kernel::auth::api_key(parts)
    }

    /// WorkDrive's camelCase, with its documented exceptions (`tokenURI`, `loginURL`) and the
    /// upload form's fields (`Key`, `Content-Type`).
    const FIELD_NAMES: FieldNames = &[
        ("add_additional_teams", "addAdditionalTeams"),
        ("add_members", "addMembers"),
        ("address_line1", "addressLine1"),
        ("address_line2", "addressLine2"),
        ("authorization_uri", "authorizationURI"),
        ("by_request", "byRequest"),
        ("conference_link", "conferenceLink"),
        ("contact_info", "contactInfo"),
        ("content_type", "Content-Type"),
        ("conversation_id", "conversationId"),
        ("cover_file_id", "coverFileId"),
        ("cover_image", "coverImage"),
        ("department_id", "departmentId"),
        ("doc_id", "docId"),
        ("doc_url", "docUrl"),
        ("document_id", "documentId"),
        ("due_days", "dueDays"),
        ("due_date", "dueDate"),
        ("end_date_time", "endDateTime"),
        ("event_id", "eventId"),
        ("external_link", "externalLink"),
        ("external_user_emails", "externalUserEmails"),
        ("external_user_id", "externalUserId"),
        ("file_id", "fileId"),
        ("file_ids", "fileIds"),
        ("first_name", "firstName"),
        ("is_department_head", "isDepartmentHead"),
        ("is_private", "isPrivate"),
        ("key", "Key"),
        ("last_name", "lastName"),
        ("legal_name", "legalName"),
        ("link_previews", "linkPreviews"),
        ("location_id", "locationId"),
        ("login_url", "loginURL"),
        ("middle_name", "middleName"),
        ("module_code", "moduleCode"),
        ("new_admins", "newAdmins"),
        ("new_qas", "newQas"),
        ("notification_template_id", "notificationTemplateId"),
        ("news_title", "newsTitle"),
        ("org_content_template_id", "orgContentTemplateId"),
        ("org_id", "orgId"),
        ("owner_ids", "ownerIds"),
        ("parent_org_id", "parentOrgId"),
        ("post_text", "postText"),
        ("postal_code", "postalCode"),
        ("poster_id", "posterId"),
        ("receiver_user_ids", "receiverUserIds"),
        ("ref_id", "refId"),
        ("refresh_uri", "refreshURI"),
        ("reminder_time", "reminderTime"),
        ("remove_ids", "removeIds"),
        ("remove_members", "removeMembers"),
        ("remove_question_ids", "removeQuestionIds"),
        ("removed_admins", "removedAdmins"),
        ("reply_of_msg_id", "replyOfMsgId"),
        ("reports_to", "reportsTo"),
        ("start_date_time", "startDateTime"),
        ("sub_type", "subType"),
        ("system_event", "systemEvent"),
        ("tagged_user_ids", "taggedUserIds"),
        ("tagged_users", "taggedUsers"),
        // WorkDrive spells this one in snake_case (E46).
        ("task_type", "task_type"),
        ("time_zone", "timeZone"),
        ("title_prefix", "titlePrefix"),
        ("token_uri", "tokenURI"),
        ("total_time", "totalTime"),
        ("training_course_task_list_id", "trainingCourseTaskListId"),
        ("updated_qas", "updatedQAs"),
        ("user_id", "userId"),
        ("user_ids", "userIds"),
        ("user_name", "userName"),
        ("video_file_id", "videoFileId"),
        ("video_id", "videoId"),
        ("video_preview_ids", "videoPreviewIds"),
    ];

    fn render(err: &ApiError) -> Response {
        let status = err.status();
        let message = match err {
            ApiError::Unauthorized(_) => "Your API key is wrong".to_string(),
            other => other.message(),
        };
        let body = ErrorBody { status_code: status.as_u16(), message, error: status.canonical_reason().unwrap_or("Error").into() };
        err.decorate((status, axum::Json(body)).into_response())
    }
}

type Error = dialect::Error<WorkDrive>;
type Caller = dialect::Caller<WorkDrive>;
type Write = crate::kernel::write::Write<WorkDrive>;
type Json<T> = dialect::Json<T, WorkDrive>;
type Query<T> = dialect::Query<T, WorkDrive>;

pub const DEFAULT_PER_PAGE: i64 = 10;
pub const MAX_PER_PAGE: i64 = 1000;
const CUR_PAGE: IntBounds = IntBounds { name: "cur_page", min: 1, max: dialect::MAX_OFFSET };
const PER_PAGE: IntBounds = IntBounds { name: "per_page", min: 1, max: MAX_PER_PAGE };

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/organization", post(create_organization))
        .route("/api/organization/{id}", patch(update_organization))
        .route("/api/token/generate-access", post(generate_access))
        .route("/api/users", axum::routing::get(list_users))
        .route("/api/users/add", post(add_user))
        // Static segments win over `/api/users/{id}` in axum's router, for every method.
        .route("/api/users/supervisors", axum::routing::get(users_bulk::list_supervisors))
        .route(
            "/api/users/bulk-create",
            post(users_bulk::bulk_create).layer(axum::extract::DefaultBodyLimit::max(users_bulk::BULK_BODY_LIMIT)),
        )
        .route("/api/users/bulk-delete", axum::routing::delete(users_bulk::bulk_delete))
        .route("/api/users/{id}", patch(update_user).delete(delete_user))
        .route("/api/departments", get(departments::list_departments).post(departments::create_department))
        .route("/api/departments/{id}", patch(departments::update_department).delete(departments::delete_department))
        .route("/api/departments/{id}/admin", patch(departments::update_department_admin))
        .route(
            "/api/departments/{id}/members",
            get(departments::get_department_members)
                .post(departments::change_department_members)
                .patch(departments::patch_department_members),
        )
        .route(
            "/api/media",
            get(media::reserve_get).post(media::post_media).layer(axum::extract::DefaultBodyLimit::max(media::UPLOAD_BODY_LIMIT)),
        )
        .route("/api/media/{id}", get(media::download))
        .route("/api/locations", get(locations::list_locations).post(locations::create_location))
        .route("/api/locations/{id}", patch(locations::update_location).delete(locations::delete_location))
        .route(
            "/api/locations/{id}/members",
            get(locations::get_location_members).post(locations::change_location_members).patch(locations::patch_location_members),
        )
        .route("/api/sso", get(sso::list_sso).post(sso::create_sso))
        .route("/api/security_groups", get(security_groups::list_security_groups))
        .route(
            "/api/security_groups/{groupId}/members",
            post(security_groups::add_security_group_members).delete(security_groups::remove_security_group_members),
        )
        .merge(content::routes())
        .merge(posts::routes())
        .merge(events::routes())
        .merge(library::routes())
        .merge(tasks::routes())
        .merge(notifications::routes())
        .merge(group_chats::routes())
}

// ----- shapes -----------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub status_code: u16,
    pub message: String,
    pub error: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub per_page: i64,
    pub total_pages: i64,
    pub total_results: i64,
    pub cur_page: i64,
    pub next_page: Option<i64>,
}

impl PageMeta {
    pub fn new(cur_page: i64, per_page: i64, total: i64) -> Self {
        let total_pages = (total + per_page - 1) / per_page;
        PageMeta { per_page, total_pages, total_results: total, cur_page, next_page: (cur_page < total_pages).then_some(cur_page + 1) }
    }
}

/// WorkDrive's page-based paging (P1) query: `cur_page`, `per_page` (numeric strings allowed).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PageQuery {
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
}

/// Checks P1 paging parameters → (page, per page, offset). Shared by every paged list.
pub(super) fn paging(cur_page: Option<&str>, per_page: Option<&str>) -> Result<(i64, i64, i64), ApiError> {
    let cur_page = int_param(CUR_PAGE, cur_page, 1)?;
    let per_page = int_param(PER_PAGE, per_page, DEFAULT_PER_PAGE)?;
    Ok((cur_page, per_page, (cur_page - 1) * per_page))
}

/// A required `name` of a create or rename body.
pub(super) fn required_name(name: Option<String>) -> Result<String, ApiError> {
    name.ok_or_else(|| ApiError::invalid("name", "is required"))
}

/// The compact user embedded in other shapes.
#[derive(Debug, Serialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    #[schema(value_type = Option<Object>)]
    pub picture: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub cover: Option<serde_json::Value>,
    pub color: Option<String>,
    pub online: bool,
    pub availability: i32,
    pub designation: Option<String>,
    pub department: Option<Uuid>,
    pub availability_status_text: Option<String>,
    pub phone: Option<String>,
    pub email: String,
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub department_data: Option<serde_json::Value>,
}

impl From<&UserRow> for UserSummary {
    fn from(u: &UserRow) -> Self {
        UserSummary {
            id: u.id,
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            picture: None,
            cover: None,
            color: u.color.clone(),
            online: false,
            availability: u.availability,
            designation: u.designation.clone(),
            department: u.department,
            availability_status_text: None,
            phone: u.phone.clone(),
            email: u.email.clone(),
            status: u.status.clone(),
            department_data: None,
        }
    }
}

/// A boolean query flag (the spec types each one `bool`): `true` or `false` (any case); absent is
/// false. Anything else, empty, `1` and `0` included, is refused naming the flag, so that a client
/// that means something else learns it instead of getting `false`.
fn bool_param(field: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw.map(str::trim) {
        None => Ok(false),
        Some(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(ApiError::invalid(field, format!("must be true or false, got '{other}'"))),
    }
}

fn parse_id(raw: &str, field: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| ApiError::invalid(field, format!("must be a UUID, got '{raw}'")))
}

#[cfg(test)]
mod tests {
    use domain::error::fields;

    use super::*;
    use crate::kernel::fields::{assert_covers, spell};

    #[test]
    fn domain_field_names_are_spelled_as_workdrive_documents_them() {
        assert_covers(
            WorkDrive::FIELD_NAMES,
            &[fields::USER, fields::TOKEN, fields::ORGANIZATION, fields::SSO, fields::MEDIA, fields::ORG_UNIT, fields::CONTENT],
        );
        assert_eq!(spell(WorkDrive::FIELD_NAMES, "data[3].reports_to"), "data[3].reportsTo");
        assert_eq!(spell(WorkDrive::FIELD_NAMES, "contact_info.postal_code"), "contactInfo.postalCode");
        assert_eq!(spell(WorkDrive::FIELD_NAMES, "admin.first_name"), "admin.firstName");
        assert_eq!(spell(WorkDrive::FIELD_NAMES, "add_members[2].id"), "addMembers[2].id");
        assert_eq!(spell(WorkDrive::FIELD_NAMES, "token_uri"), "tokenURI");
    }
}
