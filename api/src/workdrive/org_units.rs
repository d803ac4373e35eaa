//! What WorkDrive departments and locations share (E57–E69): both are listed in pages, created,
//! renamed, deleted and have members read and changed the same way; `UnitApi` names what differs
//! (the read side's kind, the response shapes and the members body). The routes stay in
//! `departments` and `locations`, as thin functions carrying each route's OpenAPI description,
//! so the document lists every route with its own schemas.
//!
//! Org admins manage units; any member of the org may read them.

use std::future::Future;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::handlers::org_unit::{self as cmd, Kind};
use commands::Committed;
use domain::org_unit::OrgUnit;
use domain::{OrgId, UserId};
use projections::org_units::{self, UnitKind, UnitRow};
use serde::Serialize;
use uuid::Uuid;

use super::{paging, required_name, Error, PageMeta, PageQuery, UserSummary, WorkDrive, Write};
use crate::kernel::auth::Principal;
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::kernel::write::Ctx;
use crate::AppState;

/// A kind of org unit, as the WorkDrive API shows it.
pub(super) trait UnitApi: Kind {
    const READS: UnitKind;
    /// The unit alone: what a create, a rename (and the department's `/admin`) answer.
    type Shape: Serialize + Send + for<'r> From<&'r UnitRow>;
    /// The unit with its members (E60/E61, E66/E67).
    type WithMembers: Serialize + Send;
    /// One page of the list (E57, E64).
    type Page: Serialize + Send;
    /// The body of a members change: who is added, who is removed.
    type MembersBody: Send;

    fn members_change(body: Self::MembersBody) -> (Vec<Self::Member>, Vec<UserId>);
    /// Builds the shape from the unit and its members (a department adds its heads' ids).
    fn with_members(
        st: &AppState,
        unit: &UnitRow,
        members: Vec<UserSummary>,
    ) -> impl Future<Output = Result<Self::WithMembers, ApiError>> + Send;
    /// Builds the page from its rows (a department adds its heads as `admins`).
    fn page(st: &AppState, org: Uuid, rows: Vec<UnitRow>, meta: PageMeta) -> impl Future<Output = Result<Self::Page, ApiError>> + Send;
}

/// The org's unit `id`; another org's unit is "not found", like a missing one.
pub(super) async fn load<K: UnitApi>(st: &AppState, org: Uuid, id: Uuid) -> Result<UnitRow, ApiError> {
    let unit = org_units::unit(&st.pool, K::READS, org, id).await?;
    unit.ok_or_else(|| ApiError::NotFound(format!("{} not found", K::Unit::KIND)))
}

async fn with_members<K: UnitApi>(st: &AppState, org: Uuid, id: Uuid) -> Result<K::WithMembers, ApiError> {
    let unit = load::<K>(st, org, id).await?;
    let members = org_units::members(&st.pool, K::READS, org, id).await?;
    K::with_members(st, &unit, members.iter().map(UserSummary::from).collect()).await
}

/// The unit `id` in the caller's org, from its path segment.
fn path_id<K: UnitApi>(raw: &str) -> Result<Uuid, ApiError> {
    dialect::uuid_path(raw, K::Unit::KIND)
}

/// E57 / E64.
pub(super) async fn list<K: UnitApi>(st: AppState, caller: Principal, q: PageQuery) -> Result<Response, Error> {
    let org = caller.org()?.0;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let (rows, total) = org_units::page(&st.pool, K::READS, org, offset, per_page).await?;
    let page = K::page(&st, org, rows, PageMeta::new(cur_page, per_page, total)).await?;
    Ok(axum::Json(page).into_response())
}

/// Answers a create (E58 / E65) with the new unit, once it can be read.
pub(super) async fn created<K: UnitApi>(
    st: &AppState,
    ctx: &Ctx<WorkDrive>,
    org: OrgId,
    committed: Committed<K::Ref>,
) -> Result<Response, Error> {
    Ok(st
        .respond(ctx, committed, |st, result| async move {
            let unit = load::<K>(&st, org.0, K::referenced(&result)).await?;
            Ok((StatusCode::CREATED, axum::Json(K::Shape::from(&unit))).into_response())
        })
        .await?)
}

/// E62 / E68.
pub(super) async fn rename<K: UnitApi>(
    st: AppState,
    Write { caller, ctx }: Write,
    id: String,
    name: Option<String>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let id = path_id::<K>(&id)?;
    let name = required_name(name)?;
    let ctx = ctx?;
    let committed = cmd::rename::<K>(&st.store, &ctx, org, id, name).await?;
    Ok(st
        .respond(&ctx, committed, |st, _| async move { Ok(axum::Json(K::Shape::from(&load::<K>(&st, org.0, id).await?)).into_response()) })
        .await?)
}

/// E60 / E66 (POST and PATCH alike).
pub(super) async fn change_members<K: UnitApi>(
    st: AppState,
    Write { caller, ctx }: Write,
    id: String,
    body: K::MembersBody,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let id = path_id::<K>(&id)?;
    let (add, remove) = K::members_change(body);
    let ctx = ctx?;
    let committed = cmd::change_members::<K>(&st.store, &ctx, org, id, add, remove).await?;
    Ok(st.respond(&ctx, committed, |st, _| async move { Ok(axum::Json(with_members::<K>(&st, org.0, id).await?).into_response()) }).await?)
}

/// E61 / E67.
pub(super) async fn get_members<K: UnitApi>(st: AppState, caller: Principal, id: String) -> Result<Response, Error> {
    let org = caller.org()?;
    let id = path_id::<K>(&id)?;
    Ok(axum::Json(with_members::<K>(&st, org.0, id).await?).into_response())
}

/// E63 / E69: the unit's members are cleared with it.
pub(super) async fn delete<K: UnitApi>(st: AppState, Write { caller, ctx }: Write, id: String) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let id = path_id::<K>(&id)?;
    let ctx = ctx?;
    let committed = cmd::delete::<K>(&st.store, &ctx, org, id).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}
