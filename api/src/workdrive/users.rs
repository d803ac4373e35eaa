//! Users: list, add, update, delete (E01–E07).

use super::*;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserFull {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub org_id: Option<Uuid>,
    pub user_name: String,
    pub email: String,
    pub status: String,
    pub first_name: String,
    pub last_name: String,
    pub picture: Option<media::File>,
    pub cover: Option<media::File>,
    pub bio: Option<String>,
    pub phone: Option<String>,
    pub reports_to: Option<Uuid>,
    pub designation: Option<String>,
    pub department: Option<Uuid>,
    pub is_department_head: bool,
    pub color: Option<String>,
    pub is_expert: bool,
    pub availability: i32,
    pub location: Option<Uuid>,
    pub skill: Vec<String>,
    pub default_visibility: Option<String>,
    pub security_group: Option<Uuid>,
    pub external_user_id: Option<String>,
    /// In lists: the supervisor, compact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reports_to_obj: Option<UserSummary>,
    /// After writes: who reports to this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_members: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_additional_teams: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_additional_locations: Option<Vec<Uuid>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub badges: Option<Vec<serde_json::Value>>,
}

impl From<&UserRow> for UserFull {
    fn from(u: &UserRow) -> Self {
        UserFull {
            id: u.id,
            created_at: u.created_at,
            updated_at: u.updated_at,
            created_by: u.created_by,
            updated_by: u.updated_by,
            org_id: u.org_id,
            user_name: u.login.clone(),
            email: u.email.clone(),
            status: u.status.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            picture: None,
            cover: None,
            bio: u.bio.clone(),
            phone: u.phone.clone(),
            reports_to: u.reports_to,
            designation: u.designation.clone(),
            department: u.department,
            is_department_head: u.is_department_head,
            color: u.color.clone(),
            is_expert: u.is_expert,
            availability: u.availability,
            location: u.location,
            skill: serde_json::from_value(u.skills.clone()).unwrap_or_default(),
            default_visibility: u.default_visibility.clone(),
            security_group: u.security_group,
            external_user_id: u.external_user_id.clone(),
            reports_to_obj: None,
            team_members: None,
            user_additional_teams: None,
            add_additional_locations: None,
            badges: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    pub users: Vec<UserFull>,
    pub meta: PageMeta,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddUserBody {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub designation: Option<String>,
    #[serde(default)]
    pub is_department_head: bool,
    pub department: Option<Uuid>,
    pub location: Option<Uuid>,
    pub security_group: Option<Uuid>,
    pub reports_to: Option<Uuid>,
    #[serde(default)]
    pub skill: Vec<String>,
    #[schema(value_type = Option<String>, example = "public")]
    pub default_visibility: Option<Visibility>,
    #[serde(default)]
    pub add_additional_teams: Vec<Uuid>,
    #[serde(default)]
    pub add_additional_locations: Vec<Uuid>,
    /// Roster extension: a login name (defaults to the email).
    pub user_name: Option<String>,
    /// Roster extension: a password for PortSIP `/api/login`.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddUserQuery {
    /// Fill missing details from the org's default onboarding settings (spec E03, resolution 57).
    /// Accepted and validated; it has no effect until organizations have onboarding defaults.
    pub bulk: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUserBody {
    #[serde(default)]
    #[schema(value_type = String)]
    pub first_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = String)]
    pub last_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = String, example = "ACTIVE")]
    pub status: Patch<UserStatus>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_expert: Patch<bool>,
    /// `ACTIVE` or `AWAY`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "ACTIVE")]
    pub availability: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub file_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub cover_file_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub reports_to: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub designation: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub bio: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_department_head: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub department: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub location: Patch<Uuid>,
    #[serde(default)]
    pub add_additional_teams: Vec<Uuid>,
    #[serde(default)]
    pub remove_additional_teams: Vec<Uuid>,
    #[serde(default)]
    pub add_additional_locations: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListUsersQuery {
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
    pub department: Option<String>,
    pub location: Option<String>,
}

/// Renders users with their supervisors' summaries.
pub(super) async fn full_users(st: &AppState, org: Uuid, rows: &[UserRow]) -> Result<Vec<UserFull>, ApiError> {
    let bosses: Vec<Uuid> = rows.iter().filter_map(|u| u.reports_to).collect();
    let by_id: HashMap<Uuid, UserRow> = queries::users_by_ids(&st.pool, org, &bosses).await?.into_iter().map(|u| (u.id, u)).collect();
    let file_ids: Vec<Uuid> = rows.iter().flat_map(|u| [u.file_id, u.cover_file_id]).flatten().collect();
    let files = media::files_by_id(st, org, &file_ids).await?;
    Ok(rows
        .iter()
        .map(|u| {
            let mut full = UserFull::from(u);
            full.reports_to_obj = u.reports_to.and_then(|b| by_id.get(&b)).map(UserSummary::from);
            full.picture = u.file_id.and_then(|f| files.get(&f).cloned());
            full.cover = u.cover_file_id.and_then(|f| files.get(&f).cloned());
            full
        })
        .collect())
}

/// E01: one page of the caller's organization's users.
#[utoipa::path(get, path = "/api/users", tag = "WorkDrive",
    params(("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query), ("department" = Option<Uuid>, Query), ("location" = Option<Uuid>, Query)),
    responses((status = 200, body = UsersPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_users(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<ListUsersQuery>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let filter = UserFilter {
        // Sent, an id must be a UUID; empty is not one.
        department: q.department.as_deref().map(|s| parse_id(s, "department")).transpose()?,
        location: q.location.as_deref().map(|s| parse_id(s, "location")).transpose()?,
    };
    let (rows, total) = queries::users_page(&st.pool, org.0, &filter, offset, per_page).await?;
    let users = full_users(&st, org.0, &rows).await?;
    Ok(axum::Json(UsersPage { users, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

/// A user as the write endpoints answer: with team members and additional teams/locations.
/// Which write a user answer follows: E03 (create) or E04 (update, which adds `badges`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    Created,
    Updated,
}

pub(super) async fn written_user(st: &AppState, org: Uuid, id: Uuid, written: Written) -> Result<Response, ApiError> {
    let row = queries::user(&st.pool, org, id).await?.ok_or_else(|| ApiError::NotFound("user not found".into()))?;
    let mut full = full_users(st, org, std::slice::from_ref(&row)).await?.remove(0);
    full.reports_to_obj = None;
    // Nobody can report to a user at the position that created it: skip the query.
    full.team_members = Some(match written {
        Written::Created => Vec::new(),
        Written::Updated => queries::reportees(&st.pool, org, id).await?,
    });
    full.user_additional_teams = Some(serde_json::from_value(row.additional_teams.clone()).unwrap_or_default());
    full.add_additional_locations = Some(serde_json::from_value(row.additional_locations.clone()).unwrap_or_default());
    if written == Written::Updated {
        full.badges = Some(vec![]);
    }
    Ok(axum::Json(full).into_response())
}

pub(super) fn required(field: &str, v: Option<String>) -> Result<String, ApiError> {
    v.ok_or_else(|| ApiError::invalid(field, "is required"))
}

/// The create command of an E03 body (also one row of E06).
pub(super) fn create_input(body: AddUserBody, external_user_id: Option<String>) -> Result<user_cmd::CreateUser, ApiError> {
    Ok(user_cmd::CreateUser {
        email: required("email", body.email)?,
        login: body.user_name,
        first_name: required("firstName", body.first_name)?,
        last_name: required("lastName", body.last_name)?,
        role: Role::Member,
        profile: Profile {
            phone: body.phone,
            designation: body.designation,
            department: body.department,
            location: body.location,
            reports_to: body.reports_to.map(UserId),
            is_department_head: body.is_department_head,
            skills: body.skill,
            default_visibility: body.default_visibility,
            security_group: body.security_group,
            additional_teams: body.add_additional_teams.into_iter().map(UserId).collect(),
            additional_locations: body.add_additional_locations,
            external_user_id,
            ..Profile::default()
        },
        password: body.password,
        blocked: false,
    })
}

/// E03: onboard one user. Records who gets the onboarding email (the user, or the supervisor
/// when securityGroup, designation or defaultVisibility is missing) as a
/// `UserOnboardingNoticeRecorded` event, which the notifier delivers. `bulk` is accepted and has no effect
/// until organizations have default onboarding settings.
#[utoipa::path(post, path = "/api/users/add", tag = "WorkDrive",
    params(("bulk" = Option<bool>, Query)), request_body = AddUserBody,
    // 404: `reportsTo` or another id the body names is not in the organization.
    responses((status = 201, body = UserFull), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn add_user(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Query(q, _): Query<AddUserQuery>,
    dialect::Json(body, _): Json<AddUserBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    // The org's onboarding defaults do not exist yet: with nothing to fill in, `bulk=true` creates
    // the user exactly as without it (the E03 rules still decide status and the notice).
    let _fill_from_org_defaults = bool_param("bulk", q.bulk.as_deref())?;
    let ctx = ctx?;
    let input = create_input(body, None)?;
    let committed = user_cmd::create_user(&st.store, &ctx, org, input).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            let id = result.user_id.0;
            let mut resp = written_user(&st, org.0, id, Written::Created).await?;
            *resp.status_mut() = StatusCode::CREATED;
            Ok(resp)
        })
        .await?)
}

pub(super) fn availability(p: Patch<String>) -> Result<Option<i32>, ApiError> {
    match p {
        Patch::Keep => Ok(None),
        Patch::Clear => Err(ApiError::invalid("availability", "must be ACTIVE or AWAY")),
        Patch::Set(s) => match s.as_str() {
            "ACTIVE" => Ok(Some(1)),
            "AWAY" => Ok(Some(0)),
            other => Err(ApiError::invalid("availability", format!("must be ACTIVE or AWAY, got '{other}'"))),
        },
    }
}

/// E04: update a user. Org admins may update anyone in the org; others only themselves.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = UpdateUserBody,
    responses((status = 200, body = UserFull), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_user(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<UpdateUserBody>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let id = parse_id(&id, "id")?;
    if !caller.is_org_admin() && caller.user_id.0 != id {
        return Err(ApiError::Forbidden("only an organization admin may update other users".into()).into());
    }
    if !caller.is_org_admin() && !body.status.is_keep() {
        return Err(ApiError::Forbidden("only an organization admin may change a user's status".into()).into());
    }
    // Departments and locations are managed by org admins, through whichever endpoint.
    if !caller.is_org_admin() && (!body.department.is_keep() || !body.location.is_keep() || !body.is_department_head.is_keep()) {
        return Err(ApiError::Forbidden("only an organization admin may change a user's department, location or head status".into()).into());
    }
    let ctx = ctx?;
    let patch = UserPatch {
        first_name: body.first_name.required("firstName")?,
        last_name: body.last_name.required("lastName")?,
        status: body.status.required("status")?,
        phone: body.phone,
        // A flag's `null` is its default, as on create.
        is_expert: body.is_expert.or_default(),
        availability: availability(body.availability)?,
        file_id: body.file_id,
        cover_file_id: body.cover_file_id,
        reports_to: body.reports_to.map(UserId),
        designation: body.designation,
        bio: body.bio,
        is_department_head: body.is_department_head.or_default(),
        department: body.department,
        location: body.location,
        // Security groups change through E71/E72 only.
        security_group: Patch::Keep,
        add_additional_teams: body.add_additional_teams.into_iter().map(UserId).collect(),
        remove_additional_teams: body.remove_additional_teams.into_iter().map(UserId).collect(),
        add_additional_locations: body.add_additional_locations,
        // Email and NexPort's person fields are not editable through WorkDrive E05.
        ..UserPatch::default()
    };
    let committed = user_cmd::update_user(&st.store, &ctx, org, UserId(id), patch).await?;
    Ok(st.respond(&ctx, committed, |st, _| async move { written_user(&st, org.0, id, Written::Updated).await }).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteUserQuery {
    /// Reassign the user's data per the org's offboarding settings (none exist yet: accepted, no effect).
    pub bulk: Option<String>,
}

/// E05: soft-delete a user (status ARCHIVE, tokens revoked, email and login freed).
#[utoipa::path(delete, path = "/api/users/{id}", tag = "WorkDrive",
    params(("id" = Uuid, Path), ("bulk" = Option<bool>, Query)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_user(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Query(q, _): Query<DeleteUserQuery>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let id = parse_id(&id, "id")?;
    // The org's offboarding defaults do not exist yet (spec resolution 57): `bulk=true` reassigns
    // nothing, but a malformed flag is still refused.
    let _reassign_to_org_defaults = bool_param("bulk", q.bulk.as_deref())?;
    let ctx = ctx?;
    let committed = user_cmd::delete_user(&st.store, &ctx, org, UserId(id)).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}
