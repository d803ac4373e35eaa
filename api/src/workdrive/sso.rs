//! WorkDrive SSO entries and quick links (E73–E74) at admin (org-wide), location, department and
//! user level. Levels: `manage=true` → admin; else `locationId` → location; else `departmentId` →
//! department; else the caller's own. Listing takes one parameter at a time, `location` before
//! `department` before `manage`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::handlers::sso as cmd;
use domain::sso::{SsoInput, SsoLevel};
use projections::queries;
use projections::sso::{self as rm, SsoRow, SsoScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{bool_param, parse_id, Caller, Error, ErrorBody, Json, Query, UserSummary, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

/// An SSO entry or quick link.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sso {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Uuid,
    pub updated_by: Option<Uuid>,
    #[serde(rename = "authorizationURI")]
    pub authorization_uri: Option<String>,
    #[serde(rename = "tokenURI")]
    pub token_uri: Option<String>,
    #[serde(rename = "refreshURI")]
    pub refresh_uri: Option<String>,
    #[serde(rename = "loginURL")]
    pub login_url: Option<String>,
    pub org_id: Uuid,
    /// Set for a location-level entry.
    pub location_id: Option<Uuid>,
    /// Set for a department-level entry.
    pub department_id: Option<Uuid>,
    pub order: i32,
    /// The uploaded media object of `fileId` (the spec's `File`).
    #[schema(value_type = Option<Object>)]
    pub file: Option<serde_json::Value>,
    /// Roster extension: the `fileId` given at creation.
    pub file_id: Option<Uuid>,
    /// The creator.
    pub user: Option<UserSummary>,
    pub link: Option<String>,
    /// `QUICK_LINK` or `SSO`.
    #[serde(rename = "type")]
    #[schema(example = "QUICK_LINK")]
    pub kind: String,
    pub name: Option<String>,
    /// Roster extension: `admin`, `location`, `department` or `user`.
    #[schema(example = "user")]
    pub level: String,
}

impl Sso {
    fn new(r: &SsoRow, user: Option<UserSummary>) -> Self {
        Sso {
            id: r.id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            created_by: r.created_by,
            updated_by: r.updated_by,
            authorization_uri: r.authorization_uri.clone(),
            token_uri: r.token_uri.clone(),
            refresh_uri: r.refresh_uri.clone(),
            login_url: r.login_url.clone(),
            org_id: r.org_id,
            location_id: r.location_id,
            department_id: r.department_id,
            order: r.sort_order,
            file: None,
            file_id: r.file_id,
            user,
            link: r.link.clone(),
            kind: r.sso_type.clone(),
            name: r.name.clone(),
            level: r.level.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SsoQuery {
    /// `true`: admin-level entries (org admins only).
    pub manage: Option<String>,
    pub location: Option<String>,
    pub department: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateSsoQuery {
    /// `true`: an admin-level (org-wide) entry; `departmentId` and `locationId` are then ignored.
    pub manage: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSsoBody {
    /// `QUICK_LINK` or `SSO`.
    #[serde(rename = "type")]
    #[schema(example = "QUICK_LINK")]
    pub kind: Option<String>,
    pub name: Option<String>,
    /// Required for `SSO`.
    #[serde(rename = "authorizationURI")]
    pub authorization_uri: Option<String>,
    /// Required for `SSO`.
    #[serde(rename = "tokenURI")]
    pub token_uri: Option<String>,
    /// Required for `SSO`.
    #[serde(rename = "refreshURI")]
    pub refresh_uri: Option<String>,
    /// Required for `SSO`.
    #[serde(rename = "loginURL")]
    pub login_url: Option<String>,
    /// An integer (a numeric string is accepted); default 0.
    #[schema(value_type = Option<i64>)]
    pub order: Option<serde_json::Value>,
    #[schema(value_type = Option<Uuid>)]
    pub file_id: Option<String>,
    /// A department-level entry (org admins only).
    #[schema(value_type = Option<Uuid>)]
    pub department_id: Option<String>,
    /// A location-level entry (org admins only); wins over `departmentId`.
    #[schema(value_type = Option<Uuid>)]
    pub location_id: Option<String>,
    /// Required for `QUICK_LINK`.
    pub link: Option<String>,
}

/// An optional id parameter: absent or empty is none; anything else must be a UUID.
fn opt_id(raw: Option<&str>, field: &str) -> Result<Option<Uuid>, ApiError> {
    raw.map(str::trim).filter(|s| !s.is_empty()).map(|s| parse_id(s, field)).transpose()
}

/// `order`: an integer, or a string of one.
fn order(v: Option<serde_json::Value>) -> Result<Option<i64>, ApiError> {
    let bad = |v: &serde_json::Value| ApiError::invalid("order", format!("must be an integer, got {v}"));
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(&serde_json::Value::Number(n.clone()))),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(serde_json::Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(&serde_json::Value::String(s.clone()))),
        Some(other) => Err(bad(&other)),
    }
}

/// Renders rows with their creators' summaries.
async fn render(st: &AppState, org: Uuid, rows: &[SsoRow]) -> Result<Vec<Sso>, ApiError> {
    let creators: Vec<Uuid> = rows.iter().map(|r| r.created_by).collect();
    let users: HashMap<Uuid, UserSummary> =
        queries::users_by_ids(&st.pool, org, &creators).await?.iter().map(|u| (u.id, UserSummary::from(u))).collect();
    let file_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.file_id).collect();
    let files = super::media::files_by_id(st, org, &file_ids).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut sso = Sso::new(r, users.get(&r.created_by).cloned());
            sso.file = r.file_id.and_then(|f| files.get(&f)).and_then(|f| serde_json::to_value(f).ok());
            sso
        })
        .collect())
}

/// E73: the SSO entries of one level, ordered by `order` then creation. One parameter at a time:
/// `location` wins over `department`, which wins over `manage`; `manage=true` is for org admins
/// only. With none, the caller's own (user-level) entries. A unit of another organization lists
/// nothing.
#[utoipa::path(get, path = "/api/sso", tag = "WorkDrive",
    params(("manage" = Option<bool>, Query), ("location" = Option<Uuid>, Query), ("department" = Option<Uuid>, Query)),
    responses((status = 200, body = Vec<Sso>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_sso(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<SsoQuery>,
) -> Result<Response, Error> {
    let org = caller.org()?.0;
    // Parsed first: a malformed flag is refused even where a location or department wins over it.
    let manage = bool_param("manage", q.manage.as_deref())?;
    let scope = if let Some(l) = opt_id(q.location.as_deref(), "location")? {
        SsoScope::Location(l)
    } else if let Some(d) = opt_id(q.department.as_deref(), "department")? {
        SsoScope::Department(d)
    } else if manage {
        if !caller.is_org_admin() {
            return Err(ApiError::Forbidden("only an organization admin may list admin-level SSO entries".into()).into());
        }
        SsoScope::Admin
    } else {
        SsoScope::User(caller.user_id.0)
    };
    let rows = rm::entries(&st.pool, org, scope).await?;
    Ok(axum::Json(render(&st, org, &rows).await?).into_response())
}

/// E74: create an SSO entry (`type: SSO`: `authorizationURI`, `tokenURI`, `refreshURI` and
/// `loginURL` required) or a quick link (`type: QUICK_LINK`: `link` required). `manage=true` makes
/// it org-wide (ids ignored); else `locationId`, else `departmentId`, else the caller's own. Every
/// level but the caller's own needs an org admin; the location or department must exist in the
/// caller's organization.
#[utoipa::path(post, path = "/api/sso", tag = "WorkDrive",
    params(("manage" = Option<bool>, Query)), request_body = CreateSsoBody,
    responses((status = 201, body = Sso), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_sso(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Query(q, _): Query<CreateSsoQuery>,
    dialect::Json(body, _): Json<CreateSsoBody>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let manage = bool_param("manage", q.manage.as_deref())?;
    // With `manage=true` the ids are ignored, not even parsed.
    let (location, department) = if manage {
        (None, None)
    } else {
        (opt_id(body.location_id.as_deref(), "locationId")?, opt_id(body.department_id.as_deref(), "departmentId")?)
    };
    let level = SsoLevel::resolve(manage, location, department, caller.user_id);
    if level.needs_admin() && !caller.is_org_admin() {
        return Err(ApiError::Forbidden(format!("only an organization admin may create {}-level SSO entries", level.as_str())).into());
    }
    let input = SsoInput {
        kind: body.kind,
        name: body.name,
        authorization_uri: body.authorization_uri,
        token_uri: body.token_uri,
        refresh_uri: body.refresh_uri,
        login_url: body.login_url,
        link: body.link,
        order: order(body.order)?,
        file_id: opt_id(body.file_id.as_deref(), "fileId")?,
    };
    let ctx = ctx?;
    let committed = cmd::create_sso(&st.store, &ctx, org, level, input, caller.is_org_admin()).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            let id = result.sso_id;
            let row = rm::entry(&st.pool, org.0, id).await?.ok_or_else(|| ApiError::NotFound("sso entry not found".into()))?;
            let sso = render(&st, org.0, std::slice::from_ref(&row)).await?.remove(0);
            Ok((StatusCode::CREATED, axum::Json(sso)).into_response())
        })
        .await?)
}
