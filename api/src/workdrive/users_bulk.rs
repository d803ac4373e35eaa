//! WorkDrive E02 (supervisors), E06 (bulk-create) and E07 (bulk-delete).
//!
//! A bulk call is one command and one append: all rows commit together or none does. A bad row
//! answers 400 naming its index (`data[3].email: …`); a bulk-delete id that is not a live user of
//! the caller's org answers 404 naming it (`id[2]: user not found`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::handlers::user_bulk;
use domain::UserId;
use projections::queries;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{create_input, full_users, parse_id, AddUserBody, Caller, Error, Json, PageMeta, Query, UserFull, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::kernel::strict_json;
use crate::AppState;

/// Largest bulk-create body: 1,000 rows of generous profiles.
pub const BULK_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// `UserRef` of the spec: the compact user of the supervisor listing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupervisorsPage {
    pub users: Vec<UserRef>,
    pub meta: PageMeta,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SupervisorsQuery {
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
    /// Whose supervisors to list; without it, every user who has a reportee.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
}

/// E02: with `userId`, that user's supervisors (`reportsTo` plus the supervisors of their
/// additional teams); without it, every user with at least one reportee. Oldest first.
#[utoipa::path(get, path = "/api/users/supervisors", tag = "WorkDrive",
    params(("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query), ("userId" = Option<Uuid>, Query)),
    responses((status = 200, body = SupervisorsPage), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_supervisors(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<SupervisorsQuery>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let (cur_page, per_page, offset) = super::paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let of = q.user_id.as_deref().map(|s| parse_id(s.trim(), "userId")).transpose()?;
    if let Some(user) = of {
        queries::user(&st.pool, org.0, user).await?.ok_or_else(|| ApiError::NotFound("user not found".into()))?;
    }
    let (rows, total) = queries::supervisors_page(&st.pool, org.0, of, offset, per_page).await?;
    let users = rows.into_iter().map(|r| UserRef { id: r.id, email: r.email, first_name: r.first_name, last_name: r.last_name }).collect();
    Ok(axum::Json(SupervisorsPage { users, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

/// One row of a bulk-create: the E03 fields plus `externalUserId`. `password` is refused here.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkUserRow {
    #[serde(flatten, deserialize_with = "crate::kernel::strict_json::flattened")]
    pub user: AddUserBody,
    pub external_user_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkCreateBody {
    /// 1 to 1,000 users (`MAX_BULK_ITEMS`).
    pub data: Vec<BulkUserRow>,
}

fn at_row(i: usize, e: ApiError) -> ApiError {
    match e {
        ApiError::Invalid { field, message } => ApiError::Invalid { field: format!("data[{i}].{field}"), message },
        other => other,
    }
}

/// E06: creates up to 1,000 users in one transaction, all or nothing; answers them in row order.
/// The onboarding rules of E03 apply to every row (status and onboarding notice); the org's
/// default onboarding settings do not exist yet, so there is nothing to fill in from them.
#[utoipa::path(post, path = "/api/users/bulk-create", tag = "WorkDrive",
    request_body = BulkCreateBody,
    responses((status = 201, body = Vec<UserFull>), (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn bulk_create(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<BulkCreateBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    user_bulk::check_count("data", body.data.len(), "user")?;
    let rows = body
        .data
        .into_iter()
        .enumerate()
        .map(|(i, r)| create_input(r.user, r.external_user_id).map_err(|e| at_row(i, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = ctx?;
    let committed = user_bulk::bulk_create_users(&st.store, &ctx, org, rows).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            let ids: Vec<Uuid> = result.user_ids.iter().map(|u| u.0).collect();
            let rows = queries::users_by_ids(&st.pool, org.0, &ids).await?;
            if rows.len() != ids.len() {
                return Err(ApiError::NotFound("users not found".into()));
            }
            let mut by_id: HashMap<Uuid, UserFull> = full_users(&st, org.0, &rows)
                .await?
                .into_iter()
                .zip(&rows)
                .map(|(mut full, row)| {
                    full.reports_to_obj = None;
                    // New users have no reportees yet.
                    full.team_members = Some(vec![]);
                    full.user_additional_teams = Some(serde_json::from_value(row.additional_teams.clone()).unwrap_or_default());
                    full.add_additional_locations = Some(serde_json::from_value(row.additional_locations.clone()).unwrap_or_default());
                    (full.id, full)
                })
                .collect();
            let users: Vec<UserFull> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
            Ok((StatusCode::CREATED, axum::Json(users)).into_response())
        })
        .await?)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkDeleteBody {
    /// The users to delete (singular name, array value, as documented).
    #[serde(default)]
    pub id: Vec<String>,
}

/// E07: soft-deletes up to 1,000 users in one transaction, all or nothing. Ids come from the body
/// `{"id": [...]}` and/or repeated `?id=` (a DELETE body may be stripped by proxies); a repeated
/// id counts once. Nobody's data is reassigned (as E05 without `bulk`).
#[utoipa::path(delete, path = "/api/users/bulk-delete", tag = "WorkDrive",
    params(("id" = Option<Vec<Uuid>>, Query, description = "repeatable; added to the body's ids")),
    request_body(content = BulkDeleteBody, description = "optional when the ids are in the query"),
    responses((status = 204), (status = 400, body = super::ErrorBody), (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn bulk_delete(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Query(query, _): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let mut raw: Vec<String> = Vec::new();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let parsed: BulkDeleteBody = strict_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
        raw.extend(parsed.id);
    }
    for (k, v) in query {
        match k.as_str() {
            // `id=a,b` is accepted too, like E54's CSV form.
            "id" | "id[]" => raw.extend(v.split(',').map(str::to_string)),
            _ => {}
        }
    }
    user_bulk::check_count("id", raw.len(), "user id")?;
    let ids = raw.iter().enumerate().map(|(i, s)| parse_id(s, &format!("id[{i}]")).map(UserId)).collect::<Result<Vec<_>, _>>()?;
    let ctx = ctx?;
    let committed = user_bulk::bulk_delete_users(&st.store, &ctx, org, ids).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}
