//! The directory tree: CreateGroup, memberships, SearchDirectory and the permission questions
//! (HasGroupPermission, SearchGroupsForPermission).

use axum::response::Response;
use commands::handlers::{group as group_cmd, nexport as nx_cmd};
use domain::group::GroupParent;
use domain::permission::{NodeKind, Permission};
use domain::{GroupId, OrgId, UserId};
use projections::nexport::{self as nx, DirectoryItem, Reason};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{asker, ok, page, require, role_names, tenant_user, ApiErrorEntity, ApiResponseBase, Call, NxError};
use crate::kernel::error::ApiError;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CreateGroupResponse {
    pub group_id: Uuid,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Membership {
    pub membership_id: Uuid,
    pub group_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CreateMembershipResponse {
    pub memberships: Vec<Membership>,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DirectoryResponseItem {
    pub id: Uuid,
    pub name: String,
    pub short_name: Option<String>,
    /// `Organization` or `Group`.
    #[serde(rename = "type")]
    pub kind: String,
    pub api_error_entity: ApiErrorEntity,
}

/// Beyond the seed: why a permission holds.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct PermissionReason {
    /// The grant that allows it; absent when the user administers the organization.
    pub grant_id: Option<Uuid>,
    pub role: String,
    /// The org or group the grant (or admin membership) is on.
    pub granted_on: Uuid,
    /// The nodes from `granted_on` down to the asked group.
    pub path: Vec<Uuid>,
}

impl From<Reason> for PermissionReason {
    fn from(r: Reason) -> Self {
        PermissionReason { grant_id: r.grant_id, role: r.role, granted_on: r.granted_on, path: r.path }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct HasGroupPermissionResponse {
    pub is_permitted: bool,
    pub reason: Option<PermissionReason>,
    pub api_error_entity: ApiErrorEntity,
}

fn items(rows: Vec<DirectoryItem>) -> (Vec<DirectoryResponseItem>, i64) {
    let total = rows.first().map_or(0, |r| r.total);
    let items = rows
        .into_iter()
        .map(|r| DirectoryResponseItem {
            id: r.id,
            name: r.name,
            short_name: r.short_name,
            kind: r.kind,
            api_error_entity: ApiErrorEntity::ok(),
        })
        .collect();
    (items, total)
}

pub(super) async fn create_group(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let name = p.str("name")?;
    let short_name = p.str("short_name")?;
    let tracking = p.opt_str("tracking_number")?.or(p.opt_str("tracking")?);
    let description = p.opt_str("description")?;
    let parent_id = p.uuid("parent_id")?;
    let not_found = || NxError::from(ApiError::NotFound("parent_id: organization or group not found".into()));
    let (org, parent) = match nx::node_kind(&st.pool, parent_id).await?.ok_or_else(not_found)? {
        NodeKind::Organization => (parent_id, GroupParent::Organization(OrgId(parent_id))),
        NodeKind::Group => (nx::group_org(&st.pool, parent_id).await?.ok_or_else(not_found)?, GroupParent::Group(GroupId(parent_id))),
    };
    require(&st, &caller, parent_id, Permission::AddGroup, "parent").await?;
    let ctx = call.context(Some(&caller))?;
    let input = group_cmd::CreateGroup {
        name,
        description,
        parent: Some(parent),
        short_name: Some(short_name),
        tracking,
        ..group_cmd::CreateGroup::default()
    };
    let committed = group_cmd::create_group(&st.store, &ctx, OrgId(org), input).await.map_err(|e| match e {
        // A short name is unique system-wide: a taken one is a validation error (spec question 8).
        commands::CommandError::Rejected(domain::DomainError::Taken { .. }) => {
            NxError::from(ApiError::invalid("short_name", "is already taken"))
        }
        other => other.into(),
    })?;
    Ok(st
        .respond(&ctx, committed, |_, result| async move {
            let group_id = result.group_id.0;
            Ok(ok(CreateGroupResponse { group_id, api_error_entity: ApiErrorEntity::ok() }))
        })
        .await?)
}

/// The caller holds `perm` on every group; the error names the first that fails.
async fn require_each(st: &AppState, caller: &crate::kernel::auth::Principal, groups: &[Uuid], perm: Permission) -> Result<(), NxError> {
    for (i, g) in groups.iter().enumerate() {
        require(st, caller, *g, perm, &format!("group_ids[{i}]: group")).await?;
    }
    Ok(())
}

pub(super) async fn create_membership(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let groups = p.opt_uuid_list("group_ids")?.filter(|g| !g.is_empty()).ok_or_else(|| ApiError::invalid("group_ids", "is required"))?;
    let user = UserId(tenant_user(&st, &caller, p.uuid("user_id")?).await?.id);
    require_each(&st, &caller, &groups, Permission::AddMembership).await?;
    let ctx = call.context(Some(&caller))?;
    let ids: Vec<GroupId> = groups.iter().copied().map(GroupId).collect();
    let committed = nx_cmd::join_groups(&st.store, &ctx, user, &ids).await?;
    Ok(st
        .respond(&ctx, committed, |st, _| async move {
            let found = nx::membership_ids(&st.pool, user.0, &groups).await?;
            let memberships = groups
                .iter()
                .filter_map(|g| {
                    found
                        .iter()
                        .find(|(fg, _)| fg == g)
                        .map(|(group_id, membership_id)| Membership { membership_id: *membership_id, group_id: *group_id })
                })
                .collect();
            Ok(ok(CreateMembershipResponse { memberships, api_error_entity: ApiErrorEntity::ok() }))
        })
        .await?)
}

pub(super) async fn remove_membership(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (user, groups) = match p.opt_uuid_list("memberships")?.filter(|m| !m.is_empty()) {
        Some(ids) => {
            let found = nx::memberships_by_id(&st.pool, &ids).await?;
            let mut user = None;
            let mut groups = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let (_, g, u) = found
                    .iter()
                    .find(|(m, _, _)| m == id)
                    .ok_or_else(|| ApiError::NotFound(format!("memberships[{i}]: membership not found")))?;
                if user.is_some_and(|x| x != *u) {
                    return Err(
                        ApiError::invalid(format!("memberships[{i}]"), "all memberships of one call must be the same user's").into()
                    );
                }
                user = Some(*u);
                groups.push(*g);
            }
            (user.ok_or(ApiError::Internal)?, groups)
        }
        None => {
            let groups = p
                .opt_uuid_list("group_ids")?
                .filter(|g| !g.is_empty())
                .ok_or_else(|| ApiError::invalid("group_ids", "group_ids and user_id, or memberships, are required"))?;
            (p.uuid("user_id")?, groups)
        }
    };
    let user = UserId(tenant_user(&st, &caller, user).await?.id);
    require_each(&st, &caller, &groups, Permission::RemoveMembership).await?;
    let ctx = call.context(Some(&caller))?;
    let ids: Vec<GroupId> = groups.into_iter().map(GroupId).collect();
    let committed = nx_cmd::leave_groups(&st.store, &ctx, user, &ids).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(ok(ApiResponseBase { api_error_entity: ApiErrorEntity::ok() })) }).await?)
}

pub(super) async fn search_directory(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let all = match p.opt_str("search_mode")?.as_deref().map(str::trim) {
        Some("0") | None => false,
        Some("1") => true,
        Some(other) => {
            return Err(ApiError::invalid("search_mode", format!("must be 0 (either matches) or 1 (both match), got '{other}'")).into())
        }
    };
    let base = p.uuid("base_org_id")?;
    let (pg, per_page) = p.paging()?;
    if !nx::access(&st.pool, asker(&caller)?, base, &[]).await?.visible {
        return Err(ApiError::NotFound("organization not found".into()).into());
    }
    let (name, short) = (p.opt_str("name")?, p.opt_str("short_name")?);
    let rows = nx::search_directory(&st.pool, base, name.as_deref(), short.as_deref(), all, per_page, pg * per_page).await?;
    let (items, total) = items(rows);
    Ok(page(items, total, pg, per_page))
}

pub(super) async fn has_group_permission(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (user, group) = (p.uuid("user_id")?, p.uuid("group_id")?);
    let permission = Permission::parse("permission", &p.str("permission")?)?;
    require(&st, &caller, group, Permission::ViewGroups, "group").await?;
    tenant_user(&st, &caller, user).await?;
    let asked = nx::asker_of(&st.pool, user).await?.ok_or_else(|| ApiError::NotFound("user not found".into()))?;
    let roles = role_names(permission);
    let reason = nx::reason(&st.pool, asked, group, &roles).await?;
    Ok(ok(HasGroupPermissionResponse {
        is_permitted: reason.is_some(),
        reason: reason.map(Into::into),
        api_error_entity: ApiErrorEntity::ok(),
    }))
}

pub(super) async fn search_groups_for_permission(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (user, org) = (p.uuid("user_id")?, p.uuid("org_id")?);
    let permission = Permission::parse("permission", &p.str("permission")?)?;
    let (pg, per_page) = p.paging()?;
    require(&st, &caller, org, Permission::ViewGroups, "organization").await?;
    tenant_user(&st, &caller, user).await?;
    let asked = nx::asker_of(&st.pool, user).await?.ok_or_else(|| ApiError::NotFound("user not found".into()))?;
    let rows = nx::groups_permitted(&st.pool, asked, org, &role_names(permission), per_page, pg * per_page).await?;
    let (items, total) = items(rows);
    Ok(page(items, total, pg, per_page))
}

pub(super) mod doc {
    use serde::Deserialize;
    use utoipa::ToSchema;
    use uuid::Uuid;

    use super::super::ApiResponseBase;
    use super::{CreateGroupResponse, CreateMembershipResponse, DirectoryResponseItem, HasGroupPermissionResponse};

    // A required text below is not blank: the server reads a blank value as absent.
    #[derive(Debug, Deserialize, ToSchema)]
    pub struct CreateGroupRequest {
        #[schema(min_length = 1, pattern = r"\S")]
        pub name: String,
        /// Unique system-wide.
        #[schema(min_length = 1, pattern = r"\S")]
        pub short_name: String,
        /// Any text to find the group by later.
        pub tracking_number: Option<String>,
        pub description: Option<String>,
        /// The organization or group the new group hangs under.
        pub parent_id: Uuid,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct CreateMembershipRequest {
        #[schema(min_items = 1)]
        pub group_ids: Vec<Uuid>,
        pub user_id: Uuid,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct RemoveMembershipRequest {
        /// With `user_id`; or give `memberships`.
        pub group_ids: Option<Vec<Uuid>>,
        pub user_id: Option<Uuid>,
        pub memberships: Option<Vec<Uuid>>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct HasGroupPermissionRequest {
        pub user_id: Uuid,
        pub group_id: Uuid,
        /// A permission name, e.g. `AddMembership`.
        #[schema(schema_with = permission_schema)]
        pub permission: String,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct SearchGroupsForPermissionRequest {
        pub user_id: Uuid,
        pub org_id: Uuid,
        #[schema(schema_with = permission_schema)]
        pub permission: String,
        pub page: Option<i64>,
        pub per_page: Option<i64>,
    }

    fn permission_schema() -> utoipa::openapi::Object {
        crate::openapi::names_schema(domain::permission::Permission::ALL.iter().map(|p| p.as_str()))
    }

    /// Creates a group under an organization or group (AddGroup permission there).
    #[utoipa::path(post, path = "/api/v1/AdminApi/CreateGroup", tag = "NexPort", request_body = CreateGroupRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = CreateGroupResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn create_group() {}

    /// Memberships in every listed group, atomically (also `CreateMemberships`).
    #[utoipa::path(post, path = "/api/v1/AdminApi/CreateMembership", tag = "NexPort", request_body = CreateMembershipRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = CreateMembershipResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn create_membership() {}

    /// Removes memberships atomically (also `RemoveMemberships`).
    #[utoipa::path(post, path = "/api/v1/AdminApi/RemoveMembership", tag = "NexPort", request_body = RemoveMembershipRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = ApiResponseBase), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn remove_membership() {}

    /// Organizations and groups under `base_org_id` by name and/or short name.
    #[utoipa::path(get, path = "/api/v1/AdminApi/SearchDirectory", tag = "NexPort",
        params(("access_token" = String, Query), ("search_mode" = Option<i32>, Query, minimum = 0, maximum = 1, description = "0 = either matches (the default), 1 = both match"),
               ("base_org_id" = Uuid, Query), ("name" = Option<String>, Query), ("short_name" = Option<String>, Query),
               ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
        responses((status = 200, body = Vec<DirectoryResponseItem>), (status = 404, body = ApiResponseBase), (status = 422, body = ApiResponseBase)))]
    pub fn search_directory() {}

    /// Whether a user holds a permission on a group, and (beyond the seed) why.
    #[utoipa::path(post, path = "/api/v1/AdminApi/HasGroupPermission", tag = "NexPort", request_body = HasGroupPermissionRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = HasGroupPermissionResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn has_group_permission() {}

    /// The groups under an organization where a user holds a permission, paged.
    #[utoipa::path(post, path = "/api/v1/AdminApi/SearchGroupsForPermission", tag = "NexPort", request_body = SearchGroupsForPermissionRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = Vec<DirectoryResponseItem>), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn search_groups_for_permission() {}
}
