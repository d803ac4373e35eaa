//! NexPort Campus AdminApi (spec/nexport-admin.md): RPC-style operations at
//! `/api/v1/AdminApi/<Op>`, names matched case-insensitively, GET or POST, parameters from the
//! query string and/or a JSON or form body. The token travels as the `access_token` query
//! parameter (Bearer also accepted). Every answer carries `api_error_entity`; lists are bare JSON
//! arrays with `X-Total-Count`, `X-Per-Page` and `X-Page` headers.
//!
//! Permissions are NexPort's named ones, granted through roles on an org or group (Roster's
//! `/grants`) and inherited by every descendant; an org admin holds them all on their org's subtree.

mod directory;
mod params;
mod subscriptions;
mod users;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use commands::CommandError;
use domain::permission::Permission;
use domain::DomainError;
use projections::nexport::{self as nx, Asker};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub use params::Params;

use crate::kernel::auth::{authenticate, Principal};
use crate::kernel::dialect::{Dialect, IntBounds};
use crate::kernel::error::ApiError;
use crate::kernel::fields::FieldNames;
use crate::kernel::write::WriteMeta;
use crate::AppState;

pub struct NexPort;

impl Dialect for NexPort {
    const NAME: &'static str = "nexport";
    const TAG: &'static str = "NexPort";
    const ERROR_SCHEMA: Option<&'static str> = Some("ApiResponseBase");
    const QUERY_INTS: &'static [IntBounds] = &[PAGE, PER_PAGE];

    fn token(parts: &axum::http::request::Parts) -> Option<&str> {
        query_token(parts.uri.query()).or_else(|| crate::kernel::auth::bearer(parts))
    }

    /// NexPort's parameters are snake_case like the neutral names; only the user name differs.
    const FIELD_NAMES: FieldNames = &[
        ("add_additional_teams", "add_additional_teams"),
        ("address_line1", "address_line1"),
        ("address_line2", "address_line2"),
        ("contact_info", "contact_info"),
        ("cover_file_id", "cover_file_id"),
        ("external_user_id", "external_user_id"),
        ("file_id", "file_id"),
        ("first_name", "first_name"),
        ("group_short_name", "group_short_name"),
        ("is_department_head", "is_department_head"),
        ("last_name", "last_name"),
        ("middle_name", "middle_name"),
        ("org_id", "org_id"),
        ("postal_code", "postal_code"),
        ("reports_to", "reports_to"),
        ("short_name", "short_name"),
        ("title_prefix", "title_prefix"),
        ("user_id", "user_id"),
        ("user_name", "login"),
    ];

    fn render(err: &ApiError) -> Response {
        render_api_error(err)
    }

    fn accepted(a: crate::kernel::write::Accepted) -> Response {
        accepted(a)
    }
}

/// The raw `access_token` query parameter (tokens are URL-safe, so no decoding is needed).
fn query_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix("access_token=")).filter(|t| !t.is_empty())
}

/// Largest request body an operation reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_PER_PAGE: i64 = 30;
pub const MAX_PER_PAGE: i64 = 100;
/// The highest `page`: an offset (`page * per_page`) stays far inside `i64` and Postgres' `OFFSET`.
pub const MAX_PAGE: i64 = i32::MAX as i64;
pub const PAGE: IntBounds = IntBounds { name: "page", min: 0, max: MAX_PAGE };
pub const PER_PAGE: IntBounds = IntBounds { name: "per_page", min: 1, max: MAX_PER_PAGE };

/// `ApiErrorEntity.error_code` (spec open question 3: only `NoError = 0` is known; the rest are
/// defined here, in one table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    NoError = 0,
    UnknownError = 1,
    AuthenticationError = 2,
    ValidationError = 3,
    ItemNotFound = 4,
    PermissionDenied = 5,
    DuplicateItem = 6,
    TooManyAttempts = 7,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiErrorEntity {
    pub error_code: i32,
    pub error_message: String,
    pub warning_messages: Vec<String>,
}

impl ApiErrorEntity {
    pub fn ok() -> Self {
        ApiErrorEntity { error_code: ErrorCode::NoError as i32, error_message: String::new(), warning_messages: vec![] }
    }

    fn error(code: ErrorCode, message: String) -> Self {
        ApiErrorEntity { error_code: code as i32, error_message: message, warning_messages: vec![] }
    }
}

/// `ApiResponseBase`: the body of an answer that has nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiResponseBase {
    pub api_error_entity: ApiErrorEntity,
}

/// NexPort's errors: the API layer's, plus the two NexPort answers that have no generic twin.
#[derive(Debug)]
pub enum NxError {
    Api(ApiError),
    /// "Entity not found or duplicate login/subscription": the doc answers a duplicate with 404.
    Duplicate(String),
    /// Too many failed sign-ins for one login.
    Throttled {
        retry_after_secs: u64,
    },
}

impl From<ApiError> for NxError {
    fn from(e: ApiError) -> Self {
        NxError::Api(e)
    }
}

impl From<DomainError> for NxError {
    fn from(e: DomainError) -> Self {
        NxError::Api(e.into())
    }
}

impl From<sqlx::Error> for NxError {
    fn from(e: sqlx::Error) -> Self {
        NxError::Api(e.into())
    }
}

impl From<CommandError> for NxError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Rejected(DomainError::Taken { field }) if matches!(field.as_str(), "login" | "email" | "subscription") => {
                NxError::Duplicate(format!("duplicate {field}"))
            }
            other => NxError::Api(other.into()),
        }
    }
}

impl IntoResponse for NxError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            NxError::Duplicate(m) => (StatusCode::NOT_FOUND, ErrorCode::DuplicateItem, m),
            NxError::Throttled { retry_after_secs } => {
                let entity = ApiErrorEntity::error(
                    ErrorCode::TooManyAttempts,
                    format!("Too many failed sign-in attempts for this login; retry in {retry_after_secs} s"),
                );
                let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(ApiResponseBase { api_error_entity: entity })).into_response();
                resp.headers_mut().insert("retry-after", HeaderValue::from(retry_after_secs.max(1)));
                return resp;
            }
            NxError::Api(e) => return crate::kernel::dialect::respond::<NexPort>(&e),
        };
        error_response(status, code, message)
    }
}

fn error_response(status: StatusCode, code: ErrorCode, message: String) -> Response {
    (status, axum::Json(ApiResponseBase { api_error_entity: ApiErrorEntity::error(code, message) })).into_response()
}

/// NexPort's body for the kernel's error, its field names already spelled.
fn render_api_error(e: &ApiError) -> Response {
    let (status, code, message) = match e {
        ApiError::Unauthorized(m) => (StatusCode::FORBIDDEN, ErrorCode::AuthenticationError, m.clone()),
        ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, ErrorCode::PermissionDenied, m.clone()),
        ApiError::NotFound(m) => (StatusCode::NOT_FOUND, ErrorCode::ItemNotFound, m.clone()),
        ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationError, e.message()),
        ApiError::Conflict(m) => (StatusCode::CONFLICT, ErrorCode::UnknownError, m.clone()),
        ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::ValidationError, m.clone()),
        ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::UnknownError, "An unknown error occurred".into()),
        ApiError::Unavailable => {
            let resp = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::UnknownError,
                "The service is temporarily unavailable; retry later".into(),
            );
            return crate::kernel::error::with_retry_after(resp);
        }
    };
    error_response(status, code, message)
}

pub type Ctx<D> = crate::kernel::write::Ctx<D>;

/// One call: its parameters, its token, and the request facts a write records.
pub struct Call {
    pub params: Params,
    pub token: Option<String>,
    pub meta: WriteMeta,
}

impl Call {
    pub async fn caller(&self, st: &AppState) -> Result<Principal, NxError> {
        Ok(authenticate(st, self.token.as_deref()).await?)
    }

    pub fn context(&self, caller: Option<&Principal>) -> Result<Ctx<NexPort>, NxError> {
        Ok(self.meta.context(caller)?)
    }
}

/// The caller as the permission queries see them; the super admin belongs to no tenant tree.
pub fn asker(caller: &Principal) -> Result<Asker, ApiError> {
    let org = caller.org()?;
    Ok(Asker { user_id: caller.user_id.0, org_id: org.0, admin_of: caller.is_org_admin().then_some(org.0) })
}

/// A live user of the caller's tenant tree (their owner org is in it); anyone else is "not found".
pub async fn tenant_user(st: &AppState, caller: &Principal, user: Uuid) -> Result<nx::NxUser, ApiError> {
    let not_found = || ApiError::NotFound("user not found".into());
    let u = nx::user_by_id(&st.pool, user).await?.ok_or_else(not_found)?;
    let org = u.org_id.ok_or_else(not_found)?;
    if !nx::access(&st.pool, asker(caller)?, org, &[]).await?.visible {
        return Err(not_found());
    }
    Ok(u)
}

pub fn role_names(p: Permission) -> Vec<String> {
    p.roles().iter().map(|r| r.as_str().to_string()).collect()
}

/// The caller holds `perm` at `node` (an org or group): another tenant's node is "not found".
pub async fn require(st: &AppState, caller: &Principal, node: Uuid, perm: Permission, what: &str) -> Result<(), NxError> {
    let access = nx::access(&st.pool, asker(caller)?, node, &role_names(perm)).await?;
    if !access.visible {
        return Err(ApiError::NotFound(format!("{what} not found")).into());
    }
    if !access.allowed {
        return Err(ApiError::Forbidden(format!("Not authorized: the {} permission is required", perm.as_str())).into());
    }
    Ok(())
}

/// The caller holds `perm` in the user's owner org or one of the user's subscription orgs (or an
/// ancestor of one), as GetUser and its kin require.
pub async fn require_on_user(
    st: &AppState,
    caller: &Principal,
    owner_org: Option<Uuid>,
    user: Uuid,
    perm: Permission,
) -> Result<(), NxError> {
    let who = asker(caller)?;
    let roles = role_names(perm);
    let mut nodes: Vec<Uuid> = owner_org.into_iter().collect();
    nodes.extend(nx::subscription_orgs(&st.pool, user).await?);
    let mut visible = false;
    for node in nodes {
        let a = nx::access(&st.pool, who, node, &roles).await?;
        if a.allowed {
            return Ok(());
        }
        visible |= a.visible;
    }
    if !visible {
        return Err(ApiError::NotFound("user not found".into()).into());
    }
    Err(ApiError::Forbidden(format!("Not authorized: the {} permission is required", perm.as_str())).into())
}

/// Every organization where the caller holds `perm` (lists of users and subscriptions are limited to these).
pub async fn permitted(st: &AppState, caller: &Principal, perm: Permission) -> Result<Vec<Uuid>, NxError> {
    Ok(nx::permitted_orgs(&st.pool, asker(caller)?, &role_names(perm)).await?)
}

/// A 200 with a JSON body.
/// A write the read models do not show yet (or whose event was parked): 202 with what the command
/// knows and its position, and the `api_error_entity` every NexPort answer carries.
pub fn accepted(a: crate::kernel::write::Accepted) -> Response {
    let mut body = a.json();
    if let (Some(o), Ok(entity)) = (body.as_object_mut(), serde_json::to_value(ApiErrorEntity::ok())) {
        o.insert("api_error_entity".into(), entity);
    }
    (axum::http::StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

pub fn ok<T: Serialize>(body: T) -> Response {
    axum::Json(body).into_response()
}

/// A page of a list: a bare array, with the paging headers.
pub fn page<T: Serialize>(items: Vec<T>, total: i64, page: i64, per_page: i64) -> Response {
    let mut resp = axum::Json(items).into_response();
    let h = resp.headers_mut();
    h.insert("x-total-count", HeaderValue::from(total));
    h.insert("x-per-page", HeaderValue::from(per_page));
    h.insert("x-page", HeaderValue::from(page));
    resp
}

/// Every operation, under its documented name; `ALIASES` lists the other accepted spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Authenticate,
    ValidateAccessToken,
    AuthenticateUser,
    CreateUser,
    GetUser,
    GetUsers,
    GetUserContactInformation,
    EditUser,
    CreateSubscription,
    GetSubscription,
    GetSubscriptions,
    SearchSubscriptions,
    EnableDisableSubscription,
    SetSubscriptionStatus,
    GetCustomProfileFields,
    GetCustomProfileFieldValues,
    SetCustomProfileFieldValues,
    GetOrganizations,
    CreateGroup,
    CreateMembership,
    RemoveMembership,
    SearchDirectory,
    HasGroupPermission,
    SearchGroupsForPermission,
}

const OPS: &[(&str, Op)] = &[
    ("Authenticate", Op::Authenticate),
    ("ValidateAccessToken", Op::ValidateAccessToken),
    ("AuthenticateUser", Op::AuthenticateUser),
    ("CreateUser", Op::CreateUser),
    ("GetUser", Op::GetUser),
    ("GetUsers", Op::GetUsers),
    ("GetUserContactInformation", Op::GetUserContactInformation),
    ("EditUser", Op::EditUser),
    ("CreateSubscription", Op::CreateSubscription),
    ("GetSubscription", Op::GetSubscription),
    ("GetSubscriptions", Op::GetSubscriptions),
    ("SearchSubscriptions", Op::SearchSubscriptions),
    ("EnableDisableSubscription", Op::EnableDisableSubscription),
    ("SetSubscriptionStatus", Op::SetSubscriptionStatus),
    ("GetCustomProfileFields", Op::GetCustomProfileFields),
    ("GetCustomProfileFieldValues", Op::GetCustomProfileFieldValues),
    ("SetCustomProfileFieldValues", Op::SetCustomProfileFieldValues),
    ("GetOrganizations", Op::GetOrganizations),
    ("CreateGroup", Op::CreateGroup),
    ("CreateMembership", Op::CreateMembership),
    ("RemoveMembership", Op::RemoveMembership),
    ("SearchDirectory", Op::SearchDirectory),
    ("HasGroupPermission", Op::HasGroupPermission),
    ("SearchGroupsForPermission", Op::SearchGroupsForPermission),
];

const ALIASES: &[(&str, Op)] = &[
    ("SetSubscriptionDisabled", Op::EnableDisableSubscription),
    ("CreateMemberships", Op::CreateMembership),
    ("RemoveMemberships", Op::RemoveMembership),
];

fn find_op(name: &str) -> Option<Op> {
    OPS.iter().chain(ALIASES).find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, op)| *op)
}

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    // One route per documented name (what /openapi.json lists); the captures catch other
    // spellings of the name and aliases, and the all-lower-case prefix.
    for (name, _) in OPS {
        router = router.route(&format!("/api/v1/AdminApi/{name}"), get(dispatch).post(dispatch));
    }
    router.route("/api/v1/AdminApi/{op}", any(dispatch)).route("/api/v1/adminapi/{op}", any(dispatch))
}

async fn dispatch(State(st): State<AppState>, meta: WriteMeta, req: Request) -> Response {
    let name = req.uri().path().rsplit('/').next().unwrap_or_default().to_string();
    let Some(op) = find_op(&name) else {
        return NxError::Api(ApiError::NotFound(format!("unknown AdminApi operation '{name}'"))).into_response();
    };
    if !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::POST) {
        let entity = ApiErrorEntity::error(ErrorCode::ValidationError, "use GET or POST".into());
        return (StatusCode::METHOD_NOT_ALLOWED, axum::Json(ApiResponseBase { api_error_entity: entity })).into_response();
    }
    let (parts, body) = req.into_parts();
    let token = NexPort::token(&parts).map(str::to_string);
    let bytes = match axum::body::to_bytes(Body::new(body), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return NxError::Api(ApiError::invalid("body", format!("must be at most {MAX_BODY_BYTES} bytes"))).into_response(),
    };
    let params = match Params::from_request(&parts, &bytes) {
        Ok(p) => p,
        Err(e) => return NxError::Api(e).into_response(),
    };
    let call = Call { params, token, meta };
    let result = match op {
        Op::Authenticate => users::authenticate(st, call).await,
        Op::ValidateAccessToken => users::validate_access_token(st, call).await,
        Op::AuthenticateUser => users::authenticate_user(st, call).await,
        Op::CreateUser => users::create_user(st, call).await,
        Op::GetUser => users::get_user(st, call).await,
        Op::GetUsers => users::get_users(st, call).await,
        Op::GetUserContactInformation => users::get_user_contact_information(st, call).await,
        Op::EditUser => users::edit_user(st, call).await,
        Op::CreateSubscription => subscriptions::create_subscription(st, call).await,
        Op::GetSubscription => subscriptions::get_subscription(st, call).await,
        Op::GetSubscriptions => subscriptions::get_subscriptions(st, call).await,
        Op::SearchSubscriptions => subscriptions::search_subscriptions(st, call).await,
        Op::EnableDisableSubscription => subscriptions::enable_disable_subscription(st, call).await,
        Op::SetSubscriptionStatus => subscriptions::set_subscription_status(st, call).await,
        Op::GetCustomProfileFields => subscriptions::get_custom_profile_fields(st, call).await,
        Op::GetCustomProfileFieldValues => subscriptions::get_custom_profile_field_values(st, call).await,
        Op::SetCustomProfileFieldValues => subscriptions::set_custom_profile_field_values(st, call).await,
        Op::GetOrganizations => users::get_organizations(st, call).await,
        Op::CreateGroup => directory::create_group(st, call).await,
        Op::CreateMembership => directory::create_membership(st, call).await,
        Op::RemoveMembership => directory::remove_membership(st, call).await,
        Op::SearchDirectory => directory::search_directory(st, call).await,
        Op::HasGroupPermission => directory::has_group_permission(st, call).await,
        Op::SearchGroupsForPermission => directory::search_groups_for_permission(st, call).await,
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The OpenAPI entries: one per operation (GET and POST both accepted; documented as POST for
/// writes and GET for reads, with the same parameters either way).
pub mod doc {
    pub use super::directory::doc::*;
    pub use super::subscriptions::doc::*;
    pub use super::users::doc::*;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_match_case_insensitively_with_aliases() {
        assert_eq!(find_op("authenticate"), Some(Op::Authenticate));
        assert_eq!(find_op("GETUSERS"), Some(Op::GetUsers));
        assert_eq!(find_op("setsubscriptiondisabled"), Some(Op::EnableDisableSubscription));
        assert_eq!(find_op("CreateMemberships"), Some(Op::CreateMembership));
        assert_eq!(find_op("DropTables"), None);
    }

    #[test]
    fn domain_field_names_are_spelled_as_nexport_parameters() {
        use crate::kernel::fields::{assert_covers, spell};
        use domain::error::fields;
        assert_covers(NexPort::FIELD_NAMES, &[fields::USER, fields::TOKEN, fields::GROUP, fields::SHORT_NAME, fields::DIRECTORY]);
        assert_eq!(spell(NexPort::FIELD_NAMES, "first_name"), "first_name");
        assert_eq!(spell(NexPort::FIELD_NAMES, "contact_info.postal_code"), "contact_info.postal_code");
        assert_eq!(spell(NexPort::FIELD_NAMES, "user_name"), "login");
        assert_eq!(spell(NexPort::FIELD_NAMES, "custom_profile_field_values.ShirtSize"), "custom_profile_field_values.ShirtSize");
    }

    #[test]
    fn the_token_is_read_from_the_query() {
        assert_eq!(query_token(Some("a=1&access_token=rst_abc&b=2")), Some("rst_abc"));
        assert_eq!(query_token(Some("access_token=")), None);
        assert_eq!(query_token(None), None);
    }
}
