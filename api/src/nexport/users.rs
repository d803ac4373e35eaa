//! Sign-in (Authenticate, ValidateAccessToken, AuthenticateUser), users (CreateUser, GetUser,
//! GetUsers, GetUserContactInformation, EditUser) and GetOrganizations.

use axum::response::Response;
use chrono::Utc;
use commands::handlers::user as user_cmd;
use commands::throttle;
use domain::patch::Patch;
use domain::permission::Permission;
use domain::user::{ContactInfo, Profile, Role, UserPatch};
use domain::values::Email;
use domain::{OrgId, UserId};
use projections::nexport::{self as nx, NxUser};
use projections::queries;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::params::{Params, Tri};
use super::{asker, ok, page, permitted, require, require_on_user, ApiErrorEntity, Call, NxError};
use crate::kernel::error::ApiError;
use crate::kernel::write::SecretBearing;
use crate::AppState;

/// Lifetime of a token when Authenticate is given no `utc_expiration_date`.
pub(super) const DEFAULT_TOKEN_SECONDS: i64 = 3600;

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AuthenticationTokenResponse {
    pub access_token: String,
    pub token_type: String,
    /// Omitted when the client chose the expiration date (or none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ValidateAccessTokenResponse {
    pub utc_expiration_date: Option<chrono::DateTime<Utc>>,
    pub error_message: String,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UserResponse {
    pub user_id: Uuid,
    pub login: String,
    pub owner_org_id: Option<Uuid>,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub email: String,
    pub title_prefix: Option<String>,
    pub nickname: Option<String>,
    pub api_error_entity: ApiErrorEntity,
}

impl From<NxUser> for UserResponse {
    fn from(u: NxUser) -> Self {
        UserResponse {
            user_id: u.id,
            login: u.login,
            owner_org_id: u.org_id,
            first_name: u.first_name,
            middle_name: u.middle_name,
            last_name: u.last_name,
            email: u.email,
            title_prefix: u.title_prefix,
            nickname: u.nickname,
            api_error_entity: ApiErrorEntity::ok(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ContactInformationResponse {
    pub user_id: Uuid,
    pub email: String,
    pub phone: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CreateUserResponse {
    pub user_id: Uuid,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct OrganizationResponseItem {
    pub org_id: Uuid,
    pub name: String,
    pub short_name: String,
    pub api_error_entity: ApiErrorEntity,
}

/// Checks a password for `login` under the login throttle. `only` restricts the match to one user
/// (AuthenticateUser). System operators (no organization) cannot sign in here.
async fn check_password(st: &AppState, login: &str, password: String, only: Option<Uuid>) -> Result<queries::LoginCandidate, NxError> {
    let now = Utc::now();
    if let Some(secs) = throttle::locked_for(&st.pool, login, now).await? {
        return Err(NxError::Throttled { retry_after_secs: secs });
    }
    let candidates: Vec<_> = queries::login_candidates(&st.pool, login.trim(), None)
        .await?
        .into_iter()
        .filter(|c| c.org_id.is_some() && only.is_none_or(|u| u == c.user_id))
        .collect();
    let matched = crate::kernel::auth::match_password(candidates, password).await?;
    match matched {
        Some(c) => {
            throttle::clear(&st.pool, login).await?;
            Ok(c)
        }
        None => {
            let delay = throttle::record_failure(&st.pool, login, now, st.login_throttle).await?;
            tokio::time::sleep(delay).await;
            Err(ApiError::Unauthorized("Unable to authenticate".into()).into())
        }
    }
}

pub(super) async fn authenticate(st: AppState, call: Call) -> Result<Response, NxError> {
    let p = &call.params;
    let username = p.str("username")?;
    let password = p.str("password")?;
    let grant_type = p.str("grant_type")?;
    if grant_type != "password" {
        return Err(ApiError::invalid("grant_type", format!("only \"password\" is supported, got '{grant_type}'")).into());
    }
    let now = Utc::now();
    let expiry = p.tri_datetime("utc_expiration_date")?;
    if let Tri::Set(at) = expiry {
        if at <= now {
            return Err(ApiError::invalid("utc_expiration_date", "must be in the future").into());
        }
    }
    let who = check_password(&st, &username, password, None).await?;
    let (user, org) = (UserId(who.user_id), who.org_id.map(OrgId));
    let mut ctx = call.context(None)?;
    ctx.actor = Some(user);
    ctx.org_id = org;
    let (expires_at, expires_in) = match expiry {
        Tri::Absent => (Some(now + chrono::Duration::seconds(DEFAULT_TOKEN_SECONDS)), Some(DEFAULT_TOKEN_SECONDS)),
        Tri::Null => (None, None),
        Tri::Set(at) => (Some(at), None),
    };
    let (committed, secret) = user_cmd::issue_token(&st.store, &ctx, org, user, expires_at, false, None).await?;
    Ok(st
        .respond(&ctx, committed, |_, _| async move {
            let access_token =
                secret.ok_or_else(|| ApiError::Conflict("this Idempotency-Key already signed in; a token is shown only once".into()))?;
            let mut resp = ok(AuthenticationTokenResponse {
                access_token,
                token_type: "bearer".into(),
                expires_in,
                api_error_entity: ApiErrorEntity::ok(),
            });
            resp.extensions_mut().insert(SecretBearing);
            Ok(resp)
        })
        .await?)
}

pub(super) async fn validate_access_token(st: AppState, call: Call) -> Result<Response, NxError> {
    let token = call.token.clone().ok_or_else(|| ApiError::invalid("access_token", "is required"))?;
    let now = Utc::now();
    let state = nx::token_state(&st.pool, &commands::secrets::token_hash(&token)).await?;
    let problem = match &state {
        None => Some("The access token is not recognized".to_string()),
        Some(s) if s.revoked => Some("The access token has been revoked".into()),
        Some(s) if s.expires_at.is_some_and(|at| at <= now) => Some("The access token has expired".into()),
        Some(s) if s.user_locked => Some("The access token's user may no longer sign in".into()),
        Some(_) => None,
    };
    let expires = state.and_then(|s| s.expires_at);
    Ok(ok(match problem {
        None => ValidateAccessTokenResponse {
            utc_expiration_date: expires,
            error_message: String::new(),
            api_error_entity: ApiErrorEntity::ok(),
        },
        Some(m) => ValidateAccessTokenResponse {
            utc_expiration_date: expires,
            error_message: m.clone(),
            api_error_entity: ApiErrorEntity::error(super::ErrorCode::AuthenticationError, m),
        },
    }))
}

/// The user named by `user_id` xor `login` (both, or neither, is a validation error).
async fn resolve_user(st: &AppState, caller_org: OrgId, p: &Params) -> Result<NxUser, NxError> {
    let (id, login) = (p.opt_uuid("user_id")?, p.opt_str("login")?);
    let user = match (id, login) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("user_id", "give user_id or login, not both").into()),
        (None, None) => return Err(ApiError::invalid("user_id", "user_id or login is required").into()),
        (Some(id), None) => nx::user_by_id(&st.pool, id).await?,
        (None, Some(login)) => nx::user_by_login(&st.pool, caller_org.0, &login).await?,
    };
    user.ok_or_else(|| ApiError::NotFound("user not found".into()).into())
}

pub(super) async fn authenticate_user(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (login, password) = (p.str("login")?, p.str("password")?);
    let user = nx::user_by_login(&st.pool, caller.org()?.0, &login).await?.ok_or_else(|| ApiError::NotFound("user not found".into()))?;
    require_on_user(&st, &caller, user.org_id, user.id, Permission::ViewUsers).await?;
    check_password(&st, &login, password, Some(user.id)).await?;
    Ok(ok(UserResponse::from(user)))
}

fn contact(p: &Params) -> Result<(Option<ContactInfo>, Option<String>), NxError> {
    let Some(c) = p.object("contact_info")? else { return Ok((None, None)) };
    let info = ContactInfo {
        address_line1: c.opt_str("address_line1")?,
        address_line2: c.opt_str("address_line2")?,
        city: c.opt_str("city")?,
        state: c.opt_str("state")?,
        country: c.opt_str("country")?,
        postal_code: c.opt_str("postal_code")?,
    };
    Ok((Some(info), c.opt_str("phone")?))
}

pub(super) async fn create_user(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let owner = p.uuid("owner_org_id")?;
    let input = {
        let (info, phone) = contact(p)?;
        user_cmd::CreateUser {
            login: Some(p.str("login")?),
            password: Some(p.str("password")?),
            blocked: false,
            first_name: p.str("first_name")?,
            last_name: p.str("last_name")?,
            email: p.str("email")?,
            role: Role::Member,
            profile: Profile {
                middle_name: p.opt_str("middle_name")?,
                title_prefix: p.opt_str("title_prefix")?,
                nickname: p.opt_str("nickname")?,
                contact: info.unwrap_or_default(),
                phone,
                ..Profile::default()
            },
        }
    };
    require(&st, &caller, owner, Permission::CreateUsers, "organization").await?;
    let ctx = call.context(Some(&caller))?;
    let committed = user_cmd::create_user(&st.store, &ctx, OrgId(owner), input).await?;
    Ok(st
        .respond(&ctx, committed, |_, result| async move {
            let user_id = result.user_id.0;
            Ok(ok(CreateUserResponse { user_id, api_error_entity: ApiErrorEntity::ok() }))
        })
        .await?)
}

pub(super) async fn get_user(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let user = resolve_user(&st, caller.org()?, &call.params).await?;
    require_on_user(&st, &caller, user.org_id, user.id, Permission::ViewUsers).await?;
    Ok(ok(UserResponse::from(user)))
}

pub(super) async fn get_users(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let term = p.opt_str("search_term")?.unwrap_or_default();
    let (pg, per_page) = p.paging()?;
    let orgs = permitted(&st, &caller, Permission::ViewUsers).await?;
    let (rows, total) = nx::search_users(&st.pool, &orgs, term.trim(), per_page, pg * per_page).await?;
    Ok(page(rows.into_iter().map(UserResponse::from).collect(), total, pg, per_page))
}

pub(super) async fn get_user_contact_information(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let u = resolve_user(&st, caller.org()?, &call.params).await?;
    require_on_user(&st, &caller, u.org_id, u.id, Permission::ViewUserProfiles).await?;
    Ok(ok(ContactInformationResponse {
        user_id: u.id,
        email: u.email,
        phone: u.phone,
        address_line1: u.address_line1,
        address_line2: u.address_line2,
        city: u.city,
        state: u.state,
        country: u.country,
        postal_code: u.postal_code,
        api_error_entity: ApiErrorEntity::ok(),
    }))
}

pub(super) async fn edit_user(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let user = resolve_user(&st, caller.org()?, p).await?;
    require_on_user(&st, &caller, user.org_id, user.id, Permission::EditUsers).await?;
    // NexPort clients send every parameter of the form: an absent, null or blank one leaves the
    // field as it is (EditUser has no way to clear a field).
    let set = |name: &str| -> Result<Patch<String>, NxError> { Ok(p.opt_str(name)?.map(Patch::Set).unwrap_or(Patch::Keep)) };
    let (info, phone) = contact(p)?;
    let patch = UserPatch {
        first_name: p.opt_str("first_name")?,
        middle_name: set("middle_name")?,
        last_name: p.opt_str("last_name")?,
        title_prefix: set("title_prefix")?,
        nickname: set("nickname")?,
        email: match p.opt_str("email")? {
            Some(e) => Some(Email::parse("email", &e)?),
            None => None,
        },
        contact: info.map(Patch::Set).unwrap_or(Patch::Keep),
        phone: phone.map(Patch::Set).unwrap_or(Patch::Keep),
        ..UserPatch::default()
    };
    let (id, org) = (user.id, user.org_id.map(OrgId).ok_or_else(|| ApiError::NotFound("user not found".into()))?);
    if patch.is_empty() {
        return Ok(ok(UserResponse::from(user)));
    }
    let ctx = call.context(Some(&caller))?;
    let committed = user_cmd::update_user(&st.store, &ctx, org, UserId(id), patch).await?;
    Ok(st
        .respond(&ctx, committed, |st, _| async move {
            let u = nx::user_by_id(&st.pool, id).await?.ok_or_else(|| ApiError::NotFound("user not found".into()))?;
            Ok(ok(UserResponse::from(u)))
        })
        .await?)
}

pub(super) async fn get_organizations(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (pg, per_page) = p.paging()?;
    let org = match (p.opt_uuid("org_id")?, p.opt_str("short_name")?) {
        (Some(id), _) => Some(id),
        (None, Some(short)) => nx::org_by_short_name(&st.pool, &short).await?,
        (None, None) => return Err(ApiError::invalid("org_id", "org_id or short_name is required").into()),
    };
    let not_found = || NxError::from(ApiError::NotFound("organization not found".into()));
    let org = org.ok_or_else(not_found)?;
    if !nx::access(&st.pool, asker(&caller)?, org, &[]).await?.visible {
        return Err(not_found());
    }
    let (rows, total) = nx::org_subtree(&st.pool, org, per_page, pg * per_page).await?;
    let items = rows
        .into_iter()
        .map(|o| OrganizationResponseItem { org_id: o.id, name: o.name, short_name: o.short_name, api_error_entity: ApiErrorEntity::ok() })
        .collect();
    Ok(page(items, total, pg, per_page))
}

/// Request bodies and parameters as OpenAPI shows them (the handlers read them through `Params`,
/// which also takes them from the query string or a form).
pub(super) mod doc {
    use serde::Deserialize;
    use utoipa::ToSchema;
    use uuid::Uuid;

    use super::super::ApiResponseBase;
    use super::{
        AuthenticationTokenResponse, ContactInformationResponse, CreateUserResponse, OrganizationResponseItem, UserResponse,
        ValidateAccessTokenResponse,
    };

    // A required text below is not blank: the server reads a blank value as absent.
    #[derive(Debug, Deserialize, ToSchema)]
    pub struct AuthenticationTokenRequest {
        #[schema(min_length = 1, pattern = r"\S")]
        pub username: String,
        #[schema(min_length = 1, pattern = r"\S")]
        pub password: String,
        /// Only `password`.
        #[schema(schema_with = grant_type_schema)]
        pub grant_type: String,
        pub scope: Option<String>,
        /// Absent: one hour; `null`: never expires.
        pub utc_expiration_date: Option<chrono::DateTime<chrono::Utc>>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct ContactInfoRequest {
        pub address_line1: Option<String>,
        pub address_line2: Option<String>,
        pub city: Option<String>,
        pub state: Option<String>,
        pub country: Option<String>,
        pub postal_code: Option<String>,
        pub phone: Option<String>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct CreateUserRequest {
        pub owner_org_id: Uuid,
        #[schema(min_length = 1, pattern = r"\S")]
        pub login: String,
        #[schema(min_length = 1, pattern = r"\S")]
        pub password: String,
        #[schema(min_length = 1, pattern = r"\S")]
        pub first_name: String,
        pub middle_name: Option<String>,
        #[schema(min_length = 1, pattern = r"\S")]
        pub last_name: String,
        #[schema(min_length = 1, pattern = r"\S")]
        pub email: String,
        pub title_prefix: Option<String>,
        pub nickname: Option<String>,
        pub contact_info: Option<ContactInfoRequest>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct AuthenticateUserRequest {
        #[schema(min_length = 1, pattern = r"\S")]
        pub login: String,
        #[schema(min_length = 1, pattern = r"\S")]
        pub password: String,
    }

    fn grant_type_schema() -> utoipa::openapi::Object {
        crate::openapi::names_schema(["password"])
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct EditUserRequest {
        /// Give this or `login`.
        pub user_id: Option<Uuid>,
        pub login: Option<String>,
        pub first_name: Option<String>,
        pub middle_name: Option<String>,
        pub last_name: Option<String>,
        pub email: Option<String>,
        pub title_prefix: Option<String>,
        pub nickname: Option<String>,
        pub contact_info: Option<ContactInfoRequest>,
    }

    /// Get an access token (password grant). Repeated failures for one login are slowed, then
    /// refused with 429 and `Retry-After`.
    #[utoipa::path(post, path = "/api/v1/AdminApi/Authenticate", tag = "NexPort", request_body = AuthenticationTokenRequest,
        responses((status = 200, body = AuthenticationTokenResponse), (status = 403, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase), (status = 429, body = ApiResponseBase)))]
    pub fn authenticate() {}

    /// The token's expiration date, or why it is not valid.
    #[utoipa::path(get, path = "/api/v1/AdminApi/ValidateAccessToken", tag = "NexPort", params(("access_token" = String, Query)),
        responses((status = 200, body = ValidateAccessTokenResponse), (status = 422, body = ApiResponseBase)))]
    pub fn validate_access_token() {}

    /// Checks a user's login and password (View Users permission).
    #[utoipa::path(post, path = "/api/v1/AdminApi/AuthenticateUser", tag = "NexPort", request_body = AuthenticateUserRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = UserResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase), (status = 429, body = ApiResponseBase)))]
    pub fn authenticate_user() {}

    /// Creates a user (Create Users permission in the owner org or an ancestor).
    #[utoipa::path(post, path = "/api/v1/AdminApi/CreateUser", tag = "NexPort", request_body = CreateUserRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = CreateUserResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn create_user() {}

    /// A user by `login` or `user_id` (View Users permission).
    #[utoipa::path(get, path = "/api/v1/AdminApi/GetUser", tag = "NexPort",
        params(("access_token" = String, Query), ("user_id" = Option<Uuid>, Query), ("login" = Option<String>, Query)),
        responses((status = 200, body = UserResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn get_user() {}

    /// Users matching `search_term`, sorted by last name, first name, login; paged.
    #[utoipa::path(get, path = "/api/v1/AdminApi/GetUsers", tag = "NexPort",
        params(("access_token" = String, Query), ("search_term" = Option<String>, Query), ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
        responses((status = 200, body = Vec<UserResponse>), (status = 403, body = ApiResponseBase), (status = 422, body = ApiResponseBase)))]
    pub fn get_users() {}

    /// Address and contact information of a user (View User Profiles permission).
    #[utoipa::path(get, path = "/api/v1/AdminApi/GetUserContactInformation", tag = "NexPort",
        params(("access_token" = String, Query), ("user_id" = Option<Uuid>, Query), ("login" = Option<String>, Query)),
        responses((status = 200, body = ContactInformationResponse), (status = 403, body = ApiResponseBase),
                  (status = 404, body = ApiResponseBase), (status = 422, body = ApiResponseBase)))]
    pub fn get_user_contact_information() {}

    /// Edits a user's profile (Edit Users permission).
    #[utoipa::path(post, path = "/api/v1/AdminApi/EditUser", tag = "NexPort", request_body = EditUserRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = UserResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn edit_user() {}

    /// An organization and all its sub-organizations, by name.
    #[utoipa::path(get, path = "/api/v1/AdminApi/GetOrganizations", tag = "NexPort",
        params(("access_token" = String, Query), ("org_id" = Option<Uuid>, Query), ("short_name" = Option<String>, Query),
               ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
        responses((status = 200, body = Vec<OrganizationResponseItem>), (status = 404, body = ApiResponseBase), (status = 422, body = ApiResponseBase)))]
    pub fn get_organizations() {}
}
