//! What WorkDrive's content endpoints share (DESIGN §11): the `Permissions` object every item
//! carries, the lenient list fields of the seed's examples, the reader of a content query, and
//! the small modules everything else refers to: module codes (E42), categories (E39, and
//! Roster's `POST /api/categories`) and following (Roster's `/api/users/{id}/follow`).
//!
//! Each content type (posts, events, ...) is a module of its own beside this one, with its own
//! `routes()` and OpenAPI `Doc`, merged in `workdrive::routes` and `openapi::document`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use commands::handlers::content as cmd;
use domain::audience::{Audience, MAX_AUDIENCE_IDS};
use domain::category::{ModuleCode, MAX_CATEGORY_LEN, MAX_COLOR_LEN};
use domain::UserId;
use projections::content::audience::Reader;
use projections::content::categories::{self as read, CategoryRow};
use projections::content::follows;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{paging, Caller, Error, ErrorBody, Json, PageMeta, Query, Write};
use crate::kernel::auth::Principal;
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/module-codes", get(list_module_codes))
        .route("/api/categories", get(list_categories).post(create_category))
        .route("/api/users/{id}/follow", post(follow).delete(unfollow))
}

#[derive(OpenApi)]
#[openapi(paths(list_module_codes, list_categories, create_category, follow, unfollow))]
pub struct Doc;

// ----- shared request shapes ------------------------------------------------------------------------

/// The seed's `Permissions` (spec §1): who may see an item. Every member is optional; an absent
/// or `null` flag is `false` and an absent or `null` list is empty. An omitted (or `null`)
/// `permissions` object means `public`. `onlyMe` overrides everything; otherwise the item is
/// visible to the union of what is set; nothing set means the author alone. The author and the
/// org's admins always see it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    /// The whole organization.
    pub public: Option<bool>,
    /// The author's followers.
    pub friends: Option<bool>,
    /// Everyone who shares a team with the author.
    pub team: Option<bool>,
    /// The author alone.
    pub only_me: Option<bool>,
    /// Users of the organization.
    #[schema(max_items = 1000)]
    pub users: Option<Vec<Uuid>>,
    /// Security groups of the organization.
    #[schema(max_items = 1000)]
    pub groups: Option<Vec<Uuid>>,
    /// Locations of the organization.
    #[schema(max_items = 1000)]
    pub locations: Option<Vec<Uuid>>,
    /// Users tagged in the item; they see it too.
    #[schema(max_items = 1000)]
    pub tagged_users: Option<Vec<Uuid>>,
}

const _: () = assert!(MAX_AUDIENCE_IDS == 1000, "update the max_items of Permissions");

impl Permissions {
    /// The audience of an item (the absent-object default is the caller's business: see
    /// [`audience`]).
    pub fn audience(self) -> Result<Audience, ApiError> {
        let users = |v: Option<Vec<Uuid>>| v.unwrap_or_default().into_iter().map(UserId).collect();
        let audience = Audience {
            public: self.public.unwrap_or(false),
            friends: self.friends.unwrap_or(false),
            team: self.team.unwrap_or(false),
            only_me: self.only_me.unwrap_or(false),
            users: users(self.users),
            groups: self.groups.unwrap_or_default(),
            locations: self.locations.unwrap_or_default(),
            tagged_users: users(self.tagged_users),
        };
        Ok(audience.checked("permissions")?)
    }
}

/// The audience of a create: an omitted or `null` `permissions` is public.
pub fn audience(permissions: Option<Permissions>) -> Result<Audience, ApiError> {
    permissions.map_or(Ok(Audience::public()), Permissions::audience)
}

/// A list field the seed's examples sometimes send as one string (`"tags": "#myfirstpost"`):
/// a string is a one-item list, `null` or absent is empty.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    #[default]
    None,
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The reader of a content query: the caller, who must belong to an organization.
pub fn reader(caller: &Principal) -> Result<Reader, ApiError> {
    Ok(Reader { user: caller.user_id.0, org: caller.org()?.0, admin: caller.is_org_admin() })
}

// ----- module codes (E42) --------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModuleCodeItem {
    pub name: &'static str,
    pub module_code: i16,
}

/// E42: every module code, a bare array (DESIGN §11 fixes the numbers beyond the seed's POST=1).
#[utoipa::path(get, path = "/api/module-codes", tag = "WorkDrive",
    responses((status = 200, body = [ModuleCodeItem]), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_module_codes(dialect::Caller(_, _): Caller) -> Response {
    let all: Vec<ModuleCodeItem> = ModuleCode::ALL.iter().map(|m| ModuleCodeItem { name: m.name(), module_code: m.code() }).collect();
    axum::Json(all).into_response()
}

// ----- categories (E39, and Roster's create) -------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub id: Uuid,
    pub module_code: i16,
    pub category: String,
    pub color: Option<String>,
    pub org_id: Uuid,
}

impl From<&CategoryRow> for Category {
    fn from(c: &CategoryRow) -> Self {
        Category { id: c.id, module_code: c.module_code, category: c.category.clone(), color: c.color.clone(), org_id: c.org_id }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoriesPage {
    pub categories: Vec<Category>,
    pub meta: PageMeta,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CategoriesQuery {
    /// A module code (E42), by number or name.
    #[serde(rename = "moduleCode")]
    pub module_code: Option<String>,
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
}

/// A module code of a request, required.
pub fn module_code(field: &str, raw: Option<&str>) -> Result<ModuleCode, ApiError> {
    let raw = raw.filter(|s| !s.trim().is_empty()).ok_or_else(|| ApiError::invalid(field, "is required"))?;
    Ok(ModuleCode::parse(field, raw)?)
}

/// E39: one page of the organization's categories of a module, oldest first.
#[utoipa::path(get, path = "/api/categories", tag = "WorkDrive",
    params(("moduleCode" = String, Query, description = "a module code (E42), number or name"),
        ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = CategoriesPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_categories(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<CategoriesQuery>,
) -> Result<Response, Error> {
    let org = caller.org()?.0;
    let module = module_code("moduleCode", q.module_code.as_deref())?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let (rows, total) = read::page(&st.pool, org, module.code(), offset, per_page).await?;
    let categories = rows.iter().map(Category::from).collect();
    Ok(axum::Json(CategoriesPage { categories, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCategoryBody {
    /// A module code (E42), by number or name.
    #[schema(value_type = String, example = "6")]
    pub module_code: Option<serde_json::Value>,
    #[schema(min_length = 1, max_length = 100)]
    pub category: Option<String>,
    /// Blank or `null` means none.
    #[schema(max_length = 32)]
    pub color: Option<String>,
}

const _: () = assert!(MAX_CATEGORY_LEN == 100 && MAX_COLOR_LEN == 32, "update the bounds of CreateCategoryBody");

/// Roster (DESIGN §11, org admin): a new category of a module; a name the module already has, in
/// any case, is a 400.
#[utoipa::path(post, path = "/api/categories", tag = "WorkDrive", request_body = CreateCategoryBody,
    responses((status = 201, body = Category), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_category(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreateCategoryBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let module = match &body.module_code {
        Some(serde_json::Value::Number(n)) => module_code("moduleCode", Some(&n.to_string()))?,
        Some(serde_json::Value::String(s)) => module_code("moduleCode", Some(s))?,
        None | Some(serde_json::Value::Null) => return Err(ApiError::invalid("moduleCode", "is required").into()),
        Some(_) => return Err(ApiError::invalid("moduleCode", "must be a module code number or name").into()),
    };
    let name = body.category.ok_or_else(|| ApiError::invalid("category", "is required"))?;
    let ctx = ctx?;
    let committed = cmd::create_category(&st.store, &ctx, org, module, name, body.color).await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            let row = read::by_id(&st.pool, org.0, r.category_id).await?.ok_or(ApiError::Internal)?;
            Ok((StatusCode::CREATED, axum::Json(Category::from(&row))).into_response())
        })
        .await?)
}

// ----- following (Roster) ---------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FollowState {
    pub user_id: Uuid,
    /// Whether the caller now follows the user.
    pub following: bool,
    /// How many follow the user.
    pub followers: i64,
}

async fn set_following(st: AppState, Write { caller, ctx }: Write, id: String, follow: bool) -> Result<Response, Error> {
    let org = caller.org()?;
    let followee = UserId(dialect::uuid_path(&id, "user")?);
    let ctx = ctx?;
    let committed = cmd::set_following(&st.store, &ctx, org, caller.user_id, followee, follow, "id").await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            let following = follows::follows(&st.pool, r.follower.0, r.followee.0).await?;
            let (followers, _) = follows::counts(&st.pool, r.followee.0).await?;
            Ok(axum::Json(FollowState { user_id: r.followee.0, following, followers }).into_response())
        })
        .await?)
}

/// Roster (DESIGN §11): the caller follows a user of their organization; their `friends` items
/// become visible to the caller. Following oneself is a 400; following again changes nothing.
#[utoipa::path(post, path = "/api/users/{id}/follow", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 200, body = FollowState), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn follow(State(st): State<AppState>, write: Write, Path(id): Path<String>) -> Result<Response, Error> {
    set_following(st, write, id, true).await
}

/// Roster (DESIGN §11): the caller stops following a user; not following is not an error.
#[utoipa::path(delete, path = "/api/users/{id}/follow", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 200, body = FollowState), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn unfollow(State(st): State<AppState>, write: Write, Path(id): Path<String>) -> Result<Response, Error> {
    set_following(st, write, id, false).await
}
