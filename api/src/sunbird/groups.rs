//! Group create, update, list, read and delete.

use super::*;

/// Create a group; the caller joins as its admin. 200 `{groupId}` (+ `error` at the limits).
#[utoipa::path(post, path = "/api/group/v1/create", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header), ("x-authenticated-for" = Option<String>, Header), ("x-request-id" = Option<String>, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn create_group(State(st): State<AppState>, parts: Parts, meta: WriteMeta, bytes: Bytes) -> Response {
    let c = call(&CREATE, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    match create_inner(&st, &c, &meta).await {
        Ok(r) => r,
        Err(f) => envelope_response(&c.env, Err(f)),
    }
}

pub(super) async fn create_inner(st: &AppState, c: &Call, meta: &WriteMeta) -> Result<Response, Fail> {
    c.refuse_nul(&CREATE)?;
    let who = acting(st, &c.headers).await?;
    let op = &CREATE;
    let req = &c.body.request;
    let name = required_str(req, "name", op)?.to_string();
    let description = opt_str(req, "description", op)?.map(str::to_string);
    let membership_type = membership_type(req, op)?.unwrap_or_default();
    let mut members = Vec::new();
    for m in array(req.get("members"), op)? {
        let user = user_id(m.get("userId").unwrap_or(&Value::Null), op)?;
        members.push(NewMember { user_id: user, role: role(m.get("role"), op)?, visited: false });
    }
    let activities = activities(req.get("activities"), op)?;
    let count = queries::group_count_of_user(&st.pool, who.principal.user_id.0).await.map_err(|e| op.map(e.into()))?;
    let ctx = c.context(meta, &who, op)?;
    let input = group_cmd::CreateGroup {
        name,
        description,
        membership_type,
        activities,
        members,
        creator: group_cmd::CreatorMembership::JoinsAsAdmin { already_in: usize::try_from(count).unwrap_or(usize::MAX) },
        lenient_limits: true,
        ..Default::default()
    };
    let committed = match group_cmd::create_group(&st.store, &ctx, who.org, input).await {
        Err(commands::CommandError::Rejected(DomainError::Invalid { field, .. })) if field == "groups" => {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                "GS_CRT04",
                format!("Failed to create group, exceeded number of permissible groups of {MAX_GROUPS_PER_USER}."),
            ));
        }
        other => other,
    };
    Ok(answer_write(st, &ctx, &c.env, op, committed, |result| {
        let mut out = json!({ "groupId": result.group_id });
        let members_msg = format!("Failed to add member, group, exceeded number of permissible members of {MAX_MEMBERS_PER_GROUP}.");
        let acts_msg = format!(
            "Failed to add activity in a group, exceeded the number of permissible activity in the group {MAX_ACTIVITIES_PER_GROUP}."
        );
        if let Some(e) = error_block(&result.issues, ("GS_CRT05", members_msg), ("GS_CRT06", acts_msg)) {
            out["error"] = e;
        }
        Ok(out)
    })
    .await)
}

/// Update name, description, status, membership type, members and activities. 200 `{response: "success"}`.
#[utoipa::path(patch, path = "/api/group/v1/update", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header), ("x-authenticated-for" = Option<String>, Header), ("x-request-id" = Option<String>, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn update_group(State(st): State<AppState>, parts: Parts, meta: WriteMeta, bytes: Bytes) -> Response {
    let c = call(&UPDATE, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    match update_inner(&st, &c, &meta).await {
        Ok(r) => r,
        Err(f) => envelope_response(&c.env, Err(f)),
    }
}

pub(super) fn parse_change(req: &Map<String, Value>, op: &Op) -> Result<GroupChange, Fail> {
    let mut patch = GroupPatch::default();
    if req.contains_key("name") {
        patch.name = Some(required_str(req, "name", op)?.to_string());
    }
    if let Some(d) = opt_str(req, "description", op)? {
        patch.description = Patch::Set(d.to_string());
    }
    if let Some(m) = membership_type(req, op)? {
        patch.membership_type = Some(m);
    }
    // Other status values are silently ignored, as in the source.
    if let Some(s) = opt_str(req, "status", op)?.and_then(GroupStatus::parse) {
        patch.status = Some(s);
    }
    let members = match req.get("members") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let pairs = |key: &str| -> Result<Vec<(UserId, MemberRole)>, Fail> {
                array(m.get(key), op)?
                    .iter()
                    .map(|x| Ok((user_id(x.get("userId").unwrap_or(&Value::Null), op)?, role(x.get("role"), op)?)))
                    .collect()
            };
            let remove = array(m.get("remove"), op)?.iter().map(|u| user_id(u, op)).collect::<Result<Vec<_>, _>>()?;
            Some(MemberChanges { add: pairs("add")?, edit: pairs("edit")?, remove })
        }
        Some(_) => return Err(op.invalid()),
    };
    let activities = match req.get("activities") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => {
            let remove = array(a.get("remove"), op)?
                .iter()
                .map(|x| x.as_str().filter(|s| !s.trim().is_empty()).map(str::to_string).ok_or_else(|| op.invalid()))
                .collect::<Result<Vec<_>, _>>()?;
            Some(ActivityChanges { add: activities(a.get("add"), op)?, remove })
        }
        Some(_) => return Err(op.invalid()),
    };
    Ok(GroupChange { patch, members, activities })
}

pub(super) async fn update_inner(st: &AppState, c: &Call, meta: &WriteMeta) -> Result<Response, Fail> {
    c.refuse_nul(&UPDATE)?;
    let who = acting(st, &c.headers).await?;
    let op = &UPDATE;
    let req = &c.body.request;
    let raw_id = required_str(req, "groupId", op)?;
    let change = parse_change(req, op)?;
    let id = group_id(raw_id, op)?;
    let group = group_cmd::load_group(&st.store, who.org, id).await.map_err(|e| op.refused(e))?;
    // Checked here for Sunbird's exact codes; the aggregate checks the same rules again.
    if let Err(d) = authorize_change(&group, who.actor(), &change) {
        return Err(match d {
            Denial::Suspended => Fail::new(StatusCode::BAD_REQUEST, "GS_UDT08", format!("group does not active with this group Id {id}.")),
            _ => Fail::new(
                StatusCode::UNAUTHORIZED,
                "GS_UDT09",
                "Failed to update group, administrator rights required. Contact your system administrator.",
            ),
        });
    }
    let ctx = c.context(meta, &who, op)?;
    let committed = group_cmd::change_group(&st.store, &ctx, who.org, id, who.actor(), change).await;
    Ok(answer_write(st, &ctx, &c.env, op, committed, |result| {
        let mut out = json!({ "response": "success" });
        let members_msg = format!("Failed to update the group,  exceeded permissible members count of {MAX_MEMBERS_PER_GROUP}");
        let acts_msg = format!("Failed to update group activity, exceeded permissible activities of {MAX_ACTIVITIES_PER_GROUP} in a group");
        if let Some(e) = error_block(&result.issues, ("GS_UDT05", members_msg), ("GS_UDT06", acts_msg)) {
            out["error"] = e;
        }
        Ok(out)
    })
    .await)
}

/// The groups a user belongs to, admin roles first. 200 `{group: [...]}`.
#[utoipa::path(post, path = "/api/group/v1/list", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn list_groups(State(st): State<AppState>, parts: Parts, bytes: Bytes) -> Response {
    let c = call(&LIST, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    let outcome = async {
        c.refuse_nul(&LIST)?;
        let who = acting(&st, &c.headers).await?;
        let op = &LIST;
        let filters = c.body.request.get("filters").and_then(Value::as_object).ok_or_else(|| op.invalid())?;
        let user = user_id(filters.get("userId").unwrap_or(&Value::Null), op)?;
        let rows = queries::groups_of_user(&st.pool, who.org.0, user.0).await.map_err(|e| op.map(e.into()))?;
        let groups: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                let mut m = group_object(&r.group);
                m.insert("memberRole".into(), r.member_role.into());
                m.insert("visited".into(), r.visited.into());
                Value::Object(m)
            })
            .collect();
        Ok(json!({ "group": groups }))
    }
    .await;
    envelope_response(&c.env, outcome)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadParams {
    /// Comma list: `members`, `activities`.
    pub fields: Option<String>,
}

/// One group; `fields` picks `members` and `activities`.
#[utoipa::path(get, path = "/api/group/v1/read/{groupId}", tag = "Sunbird",
    params(("groupId" = String, Path), ReadParams, ("x-authenticated-user-token" = String, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn read_group(State(st): State<AppState>, parts: Parts, Path(raw): Path<String>, Query(q): Query<ReadParams>) -> Response {
    let c = call(&READ, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &[]);
    let outcome = async {
        let who = acting(&st, &c.headers).await?;
        let op = &READ;
        let id = group_id(&raw, op)?;
        let g = queries::group(&st.pool, who.org.0, id.0).await.map_err(|e| op.map(e.into()))?.ok_or_else(|| op.not_found())?;
        let fields: Vec<&str> = q.fields.as_deref().map(|f| f.split(',').map(str::trim).collect()).unwrap_or_default();
        let mut m = group_object(&g);
        if q.fields.is_some() && !fields.contains(&"activities") {
            m.remove("activities");
        }
        if fields.contains(&"members") {
            let members = queries::member_records(&st.pool, g.id).await.map_err(|e| op.map(e.into()))?;
            m.insert("members".into(), members.iter().map(|r| member_object(g.id, r)).collect::<Vec<_>>().into());
        }
        Ok(Value::Object(m))
    }
    .await;
    envelope_response(&c.env, outcome)
}

/// Delete a group: its creator only. 200 `{response: "SUCCESS"}`.
#[utoipa::path(post, path = "/api/group/v1/delete", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header), ("x-request-id" = Option<String>, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn delete_group(State(st): State<AppState>, parts: Parts, meta: WriteMeta, bytes: Bytes) -> Response {
    let c = call(&DELETE, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    let result = async {
        c.refuse_nul(&DELETE)?;
        let who = acting(&st, &c.headers).await?;
        let op = &DELETE;
        let id = group_id(required_str(&c.body.request, "groupId", op)?, op)?;
        let group = group_cmd::load_group(&st.store, who.org, id).await.map_err(|e| op.refused(e))?;
        let actor = who.actor();
        if !(actor.org_admin || group.created_by == Some(actor.user)) {
            return Err(Fail::new(
                StatusCode::UNAUTHORIZED,
                "GS_DLT10",
                "Failed to delete, group  creators can delete the group. Contact your system administrator.",
            ));
        }
        let ctx = c.context(&meta, &who, op)?;
        let committed = group_cmd::delete_group_as_creator(&st.store, &ctx, who.org, id, actor).await;
        Ok(answer_write(&st, &ctx, &c.env, op, committed, |_| Ok(json!({ "response": "SUCCESS" }))).await)
    }
    .await;
    match result {
        Ok(r) => r,
        Err(f) => envelope_response(&c.env, Err(f)),
    }
}
