//! The activity aggregator (lms-service envelope).

use super::*;

pub(super) fn lms(env: &Envelope, status: StatusCode, outcome: Result<Value, (&str, &str, String)>) -> Response {
    let now = ts(Utc::now());
    let body = match outcome {
        Ok(result) => LmsResponse {
            id: "api.group.activity.agg".into(),
            ver: "v1".into(),
            ts: now,
            params: SunbirdParams { resmsgid: None, msgid: env.msgid.clone(), err: None, status: "success".into(), errmsg: None },
            response_code: "OK".into(),
            result,
        },
        Err((err, code, message)) => LmsResponse {
            id: "api.group.activity.agg".into(),
            ver: "v1".into(),
            ts: now,
            params: SunbirdParams {
                resmsgid: None,
                msgid: env.msgid.clone(),
                err: (!err.is_empty()).then(|| err.to_string()),
                status: if err.is_empty() { code.to_string() } else { err.to_string() },
                errmsg: Some(message),
            },
            response_code: code.into(),
            result: json!({}),
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut resp = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], bytes.clone()).into_response();
    if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
        resp.headers_mut().insert("x-response-length", v);
    }
    with_cors(resp)
}

/// Per-member progress in one of a group's activities (lms-service). With no data: `members: []`.
#[utoipa::path(post, path = "/api/data/v1/group/activity/agg", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header)),
    responses((status = 200, body = LmsResponse), (status = 400, body = LmsResponse), (status = 401, body = LmsResponse), (status = 500, body = LmsResponse)))]
pub async fn activity_agg(State(st): State<AppState>, parts: Parts, bytes: Bytes) -> Response {
    let body = parse_body(&bytes);
    let client = parts.extensions.get::<ClientRequestId>().is_some();
    let env = Envelope {
        api_id: "api.group.activity.agg".to_string(),
        msgid: body.msgid.clone().unwrap_or_else(|| msgid(&parts.headers, client)),
        ver: None,
    };
    let unavailable = || {
        let resp = lms(
            &env,
            StatusCode::SERVICE_UNAVAILABLE,
            Err(("", "SERVER_ERROR", "Service is temporarily unavailable. Try again later.".into())),
        );
        crate::kernel::error::with_retry_after(resp)
    };
    let who = match acting(&st, &parts.headers).await {
        Ok(w) => w,
        Err(f) if f.status == StatusCode::SERVICE_UNAVAILABLE => return unavailable(),
        Err(_) => return lms(&env, StatusCode::UNAUTHORIZED, Err(("UNAUTHORIZED", "UNAUTHORIZED", MSG_UNAUTHORIZED.into()))),
    };
    let client_error = |err: &'static str, msg: &str| lms(&env, StatusCode::BAD_REQUEST, Err((err, "CLIENT_ERROR", msg.into())));
    let req = &body.request;
    // U+0000 cannot be compared in Postgres: such a request is not valid data (detail logged).
    if let Some(field) = &body.nul_field {
        tracing::debug!(%field, "sunbird activity agg: {}", crate::kernel::dialect::NUL_MESSAGE);
    }
    if req.is_empty() || body.nul_field.is_some() {
        return client_error("INVALID_REQUESTED_DATA", "Requested data for this operation is not valid.");
    }
    let text = |k: &str| req.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let Some(group) = text("groupId") else { return client_error("GROUP_ID_MISSING", "GroupId is mandatory.") };
    let Some(activity) = text("activityId") else { return client_error("ACTIVITY_ID_MISSING", "ActivityId is mandatory.") };
    let Some(activity_type) = text("activityType") else { return client_error("ACTIVITY_TYPE_MISSING", "ActivityType is mandatory.") };
    let server_error =
        || lms(&env, StatusCode::INTERNAL_SERVER_ERROR, Err(("", "SERVER_ERROR", "Error while fetching group members record.".into())));
    let failed = |e: sqlx::Error| if crate::kernel::error::storage_unavailable(&e) { unavailable() } else { server_error() };
    let Ok(gid) = Uuid::parse_str(&group) else { return server_error() };
    match queries::group(&st.pool, who.org.0, gid).await {
        Ok(Some(_)) => {}
        Ok(None) => return server_error(),
        Err(e) => return failed(e),
    }
    let members = match queries::member_records(&st.pool, gid).await {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    let users: Vec<Uuid> = members.iter().map(|m| m.user_id).collect();
    let progress = match queries::activity_progress(&st.pool, who.org.0, &activity, &users).await {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let mut latest: Option<DateTime<Utc>> = None;
    let out: Vec<Value> = progress
        .iter()
        .filter_map(|p| {
            let m = members.iter().find(|m| m.user_id == p.user_id)?;
            latest = latest.max(Some(p.updated_at));
            Some(json!({
                "userId": m.user_id, "name": format!("{} {}", m.first_name, m.last_name).trim(), "role": m.role, "status": m.status,
                "createdBy": m.added_by,
                "agg": [{"metric": "completedCount", "value": p.completed_count, "lastUpdatedOn": p.updated_at.timestamp_millis()}],
            }))
        })
        .collect();
    let result = json!({
        "groupId": group,
        "activity": {"id": activity, "type": activity_type,
            "agg": [{"metric": "enrolmentCount", "lastUpdatedOn": latest.unwrap_or_else(Utc::now).timestamp_millis(), "value": out.len()}]},
        "members": out,
    });
    lms(&env, StatusCode::OK, Ok(result))
}
