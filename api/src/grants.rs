//! Roster's own administration of NexPort's permission model: role grants on orgs and groups
//! (`/grants`) and custom profile field definitions (`/profile-fields`). NexPort's AdminApi reads
//! both but has no operation that writes them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use commands::handlers::nexport as nx_cmd;
use domain::permission::GrantRole;
use domain::profile_field::FieldType;
use domain::{OrgId, UserId};
use projections::nexport::{self as nx, GrantRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::kernel::auth::Principal;
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::nexport::{asker, tenant_user};
use crate::roster::Roster;
use crate::AppState;

type Error = dialect::Error<Roster>;
type Caller = dialect::Caller<Roster>;
type Write = crate::kernel::write::Write<Roster>;
type Json<T> = dialect::Json<T, Roster>;
type Query<T> = dialect::Query<T, Roster>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/grants", post(create_grant).get(list_grants))
        .route("/grants/{id}", delete(revoke_grant))
        .route("/profile-fields", post(define_profile_field))
}

/// Only who administers a node (its org's admin, or an `Administrator` grant above it) may grant
/// or revoke there: nobody hands out more than they hold.
async fn require_administrator(st: &AppState, caller: &Principal, node: Uuid, what: &str) -> Result<(), ApiError> {
    let roles = vec![GrantRole::Administrator.as_str().to_string()];
    let access = nx::access(&st.pool, asker(caller)?, node, &roles).await?;
    if !access.visible {
        return Err(ApiError::NotFound(format!("{what} not found")));
    }
    if !access.allowed {
        return Err(ApiError::Forbidden(format!("only an administrator of this {what} may do this")));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantBody {
    pub user_id: Uuid,
    /// An organization or group; the grant holds there and on every descendant.
    pub node_id: Uuid,
    /// Administrator, UserManager, GroupManager, SubscriptionManager or Viewer.
    #[schema(schema_with = grant_role_schema)]
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Grant {
    pub grant_id: Uuid,
    pub user_id: Uuid,
    pub node_id: Uuid,
    /// `organization` or `group`.
    pub node_kind: String,
    pub role: String,
    /// The permissions the role carries.
    pub permissions: Vec<String>,
}

impl From<GrantRow> for Grant {
    fn from(g: GrantRow) -> Self {
        let permissions =
            GrantRole::parse("role", &g.role).map(|r| r.permissions().iter().map(|p| p.as_str().to_string()).collect()).unwrap_or_default();
        Grant { grant_id: g.id, user_id: g.user_id, node_id: g.node_id, node_kind: g.node_kind, role: g.role, permissions }
    }
}

/// Grants a role to a user on an organization or group.
#[utoipa::path(post, path = "/grants", tag = "Roster", request_body = GrantBody,
    responses((status = 201, body = Grant), (status = 400), (status = 403), (status = 404)))]
pub async fn create_grant(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<GrantBody>,
) -> Result<Response, Error> {
    let role = GrantRole::parse("role", &body.role)?;
    let kind = nx::node_kind(&st.pool, body.node_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("node_id: organization or group not found".into()))?;
    require_administrator(&st, &caller, body.node_id, "node").await?;
    tenant_user(&st, &caller, body.user_id).await.map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::invalid("user_id", "not a user of this organization tree"),
        other => other,
    })?;
    let org = caller.org()?;
    let ctx = ctx?;
    let committed = nx_cmd::grant_role(&st.store, &ctx, org, UserId(body.user_id), body.node_id, kind, role).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            let id = result.grant_id;
            let g = nx::grant_by_id(&st.pool, id).await?.ok_or_else(|| ApiError::NotFound("grant not found".into()))?;
            Ok((StatusCode::CREATED, axum::Json(Grant::from(g))).into_response())
        })
        .await?)
}

/// Revokes a grant; checks stop honouring it as soon as this answers.
#[utoipa::path(delete, path = "/grants/{id}", tag = "Roster", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn revoke_grant(State(st): State<AppState>, Write { caller, ctx }: Write, Path(id): Path<String>) -> Result<Response, Error> {
    let id = dialect::uuid_path(&id, "grant")?;
    let g = nx::grant_by_id(&st.pool, id).await?.ok_or_else(|| ApiError::NotFound("grant not found".into()))?;
    require_administrator(&st, &caller, g.node_id, "grant").await?;
    let ctx = ctx?;
    let committed = nx_cmd::revoke_role(&st.store, &ctx, OrgId(g.org_id), id).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantsQuery {
    pub user_id: Option<Uuid>,
}

/// The grants in the caller's organization tree (org admins only).
#[utoipa::path(get, path = "/grants", tag = "Roster", params(("user_id" = Option<Uuid>, Query)),
    responses((status = 200, body = Vec<Grant>), (status = 403)))]
pub async fn list_grants(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<GrantsQuery>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let rows = nx::grants_in_tree(&st.pool, org.0, q.user_id).await?;
    Ok(axum::Json(rows.into_iter().map(Grant::from).collect::<Vec<_>>()).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileFieldBody {
    pub org_id: Uuid,
    /// Letters, digits, `_`, `-`, `.`; unique in the org (case-insensitive).
    pub key: String,
    pub name: String,
    /// Text, Number, Boolean or DateTime.
    #[serde(rename = "type")]
    #[schema(schema_with = field_type_schema)]
    pub field_type: String,
}

fn grant_role_schema() -> utoipa::openapi::Object {
    crate::openapi::names_schema(GrantRole::ALL.iter().map(GrantRole::as_str))
}

fn field_type_schema() -> utoipa::openapi::Object {
    crate::openapi::names_schema(FieldType::ALL.iter().map(FieldType::as_str))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileField {
    pub field_id: Uuid,
    pub org_id: Uuid,
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: String,
}

/// Defines a custom profile field of an organization (its administrators only).
#[utoipa::path(post, path = "/profile-fields", tag = "Roster", request_body = ProfileFieldBody,
    responses((status = 201, body = ProfileField), (status = 400), (status = 403), (status = 404)))]
pub async fn define_profile_field(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<ProfileFieldBody>,
) -> Result<Response, Error> {
    let field_type = FieldType::parse("type", &body.field_type)?;
    require_administrator(&st, &caller, body.org_id, "organization").await?;
    let ctx = ctx?;
    let committed = nx_cmd::define_profile_field(&st.store, &ctx, OrgId(body.org_id), body.key, body.name, field_type).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            let id = result.field_id;
            let f = nx::profile_fields(&st.pool, body.org_id, Some(id))
                .await?
                .pop()
                .ok_or_else(|| ApiError::NotFound("field not found".into()))?;
            let out = ProfileField { field_id: f.id, org_id: f.org_id, key: f.key, name: f.name, field_type: f.field_type };
            Ok((StatusCode::CREATED, axum::Json(out)).into_response())
        })
        .await?)
}
