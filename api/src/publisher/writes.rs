//! Creating, replacing and deleting user groups, and adding users.

use super::*;

/// Create a user group (200, the summary).
#[utoipa::path(post, path = "/api/2/groups", tag = "Publisher",
    request_body(content((GroupEnvelopeIn = "application/json"), (GroupIn = "application/xml"))),
    responses((status = 200, content((PublisherGroupEnvelope = "application/json"), (PublisherGroupEnvelope = "application/xml"))),
              (status = 400, content((PublisherError = "application/json"), (PublisherError = "application/xml"))),
              (status = 401, body = PublisherError), (status = 403, body = PublisherError), (status = 406, body = PublisherError), (status = 415, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn create_group(State(st): State<AppState>, headers: HeaderMap, meta: WriteMeta, bytes: Bytes) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (who, _) = caller(&st, &headers).await?;
    let org = who.require_org_admin()?;
    let body = parse_body(&headers, &bytes)?;
    let name = required_name(&body)?;
    let users = resolve_users(&st, org, body.users.as_deref().unwrap_or_default(), false).await?;
    let ctx = meta.context::<Publisher>(Some(&who))?;
    let members = users.into_iter().map(|u| NewMember { user_id: u, role: MemberRole::Member, visited: false }).collect();
    let input = group_cmd::CreateGroup { name, members, ..Default::default() };
    let committed = group_cmd::create_group(&st.store, &ctx, org, input).await?;
    let base = base_url(&headers);
    Ok(st
        .respond_or(
            &ctx,
            committed,
            |st, result| async move {
                let id = result.group_id.0;
                let g = queries::group(&st.pool, org.0, id).await?.ok_or_else(|| ApiError::NotFound("user group not found".into()))?;
                one_group(&st, fmt, StatusCode::OK, &g, SUMMARY_FIELDS, &base).await
            },
            accepted(fmt),
        )
        .await?)
}

/// Replace a user group's name and users (200, the summary).
#[utoipa::path(put, path = "/api/2/groups/{id}", tag = "Publisher", params(("id" = i64, Path)),
    request_body(content((GroupEnvelopeIn = "application/json"), (GroupIn = "application/xml"))),
    responses((status = 200, content((PublisherGroupEnvelope = "application/json"), (PublisherGroupEnvelope = "application/xml"))),
              (status = 400, content((PublisherError = "application/json"), (PublisherError = "application/xml"))),
              (status = 404, body = PublisherError), (status = 415, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn replace_group(
    State(st): State<AppState>,
    headers: HeaderMap,
    meta: WriteMeta,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (who, _) = caller(&st, &headers).await?;
    let org = who.require_org_admin()?;
    let g = find_group(&st, org, &id).await?;
    let body = parse_body(&headers, &bytes)?;
    if let Some(body_id) = body.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if body_id != g.number.to_string() {
            return Err(Failure::Status(StatusCode::BAD_REQUEST, format!("id: the body's id {body_id} is not the path's id {}", g.number)));
        }
    }
    let name = required_name(&body)?;
    let users = resolve_users(&st, org, body.users.as_deref().unwrap_or_default(), false).await?;
    let ctx = meta.context::<Publisher>(Some(&who))?;
    let committed = group_cmd::replace_group(&st.store, &ctx, org, GroupId(g.id), name, users, None).await?;
    let base = base_url(&headers);
    Ok(st
        .respond_or(
            &ctx,
            committed,
            |st, _| async move {
                let g = queries::group(&st.pool, org.0, g.id).await?.ok_or_else(|| ApiError::NotFound("user group not found".into()))?;
                one_group(&st, fmt, StatusCode::OK, &g, SUMMARY_FIELDS, &base).await
            },
            accepted(fmt),
        )
        .await?)
}

/// Delete a user group: 202, no body.
#[utoipa::path(delete, path = "/api/2/groups/{id}", tag = "Publisher", params(("id" = i64, Path)),
    responses((status = 202), (status = 404, content((PublisherError = "application/json"), (PublisherError = "application/xml"))), (status = 401, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn delete_group(
    State(st): State<AppState>,
    headers: HeaderMap,
    meta: WriteMeta,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (who, _) = caller(&st, &headers).await?;
    let org = who.require_org_admin()?;
    let g = find_group(&st, org, &id).await?;
    let ctx = meta.context::<Publisher>(Some(&who))?;
    let committed = group_cmd::delete_group(&st.store, &ctx, org, GroupId(g.id)).await?;
    Ok(st.respond_or(&ctx, committed, |_, _| async move { Ok(StatusCode::ACCEPTED.into_response()) }, accepted(fmt)).await?)
}

/// Add users (ids or emails) to a user group (v5.0): 200, the full object.
#[utoipa::path(put, path = "/api/2/groups/{id}/users", tag = "Publisher", params(("id" = i64, Path)),
    request_body(content((GroupEnvelopeIn = "application/json"), (GroupIn = "application/xml"))),
    responses((status = 200, content((PublisherGroupEnvelope = "application/json"), (PublisherGroupEnvelope = "application/xml"))),
              (status = 400, content((PublisherError = "application/json"), (PublisherError = "application/xml"))), (status = 404, body = PublisherError)),
    security(("bearer" = [])))]
pub async fn add_users(
    State(st): State<AppState>,
    headers: HeaderMap,
    meta: WriteMeta,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let fmt = negotiate(&headers)?;
    let (who, _) = caller(&st, &headers).await?;
    let org = who.require_org_admin()?;
    let g = find_group(&st, org, &id).await?;
    let body = parse_body(&headers, &bytes)?;
    let raw = body.users.ok_or_else(|| Failure::Status(StatusCode::BAD_REQUEST, "users: is required".into()))?;
    let users = resolve_users(&st, org, &raw, true).await?;
    let ctx = meta.context::<Publisher>(Some(&who))?;
    let committed = group_cmd::add_members(&st.store, &ctx, org, GroupId(g.id), users).await?;
    let base = base_url(&headers);
    Ok(st
        .respond_or(
            &ctx,
            committed,
            |st, _| async move {
                let g = queries::group(&st.pool, org.0, g.id).await?.ok_or_else(|| ApiError::NotFound("user group not found".into()))?;
                one_group(&st, fmt, StatusCode::OK, &g, FULL_FIELDS, &base).await
            },
            accepted(fmt),
        )
        .await?)
}
