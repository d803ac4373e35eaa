//! Membership updates.

use super::*;

/// The caller marks groups visited. 200 `{response: "SUCCESS"}`.
#[utoipa::path(post, path = "/api/group/membership/v1/update", tag = "Sunbird", request_body = SunbirdRequest,
    params(("x-authenticated-user-token" = String, Header)),
    responses((status = 200, body = SunbirdResponse), (status = 400, body = SunbirdResponse), (status = 401, body = SunbirdResponse)))]
pub async fn update_membership(State(st): State<AppState>, parts: Parts, meta: WriteMeta, bytes: Bytes) -> Response {
    let c =
        call(&MEMBERSHIP, &parts.method, &parts.uri, parts.headers.clone(), parts.extensions.get::<ClientRequestId>().is_some(), &bytes);
    let outcome = async {
        c.refuse_nul(&MEMBERSHIP)?;
        let who = acting(&st, &c.headers).await?;
        let op = &MEMBERSHIP;
        let req = &c.body.request;
        let denied = || {
            Fail::new(
                StatusCode::UNAUTHORIZED,
                "GS_MBRSHP_UDT01",
                "Failed to update group member details, unauthorised user. Contact your system administrator.",
            )
        };
        let user = user_id(req.get("userId").unwrap_or(&Value::Null), op)?;
        let groups = array(req.get("groups"), op)?;
        if groups.is_empty() {
            return Err(op.invalid());
        }
        if user != who.principal.user_id {
            return Err(denied());
        }
        let mut changes = Vec::new();
        for g in groups {
            if g.get("role").is_some() || g.get("status").is_some() {
                return Err(denied());
            }
            let id = g.get("groupId").and_then(Value::as_str).filter(|s| !s.trim().is_empty()).ok_or_else(|| op.invalid())?;
            let id = Uuid::parse_str(id.trim()).map(GroupId).map_err(|_| op.invalid())?;
            let visited = g.get("visited").and_then(Value::as_bool).ok_or_else(|| op.invalid())?;
            changes.push((id, visited));
        }
        // Each group's flag is its own command; setting a flag again changes nothing, so no msgid key.
        let mut ctx = meta.context::<Sunbird>(Some(&who.principal)).map_err(|e| op.map(e))?;
        ctx.idempotency_key = None;
        let mut last = None;
        for (id, visited) in changes {
            let committed = group_cmd::set_visited(&st.store, &ctx, who.org, id, user, visited).await.map_err(|e| op.refused(e))?;
            last = committed.position.or(last);
        }
        let settled = match last {
            Some(p) => st.consistency.settle(&st.pool, p, st.consistency_timeout).await.map_err(|e| op.map(e.into()))?,
            None => Settled::CaughtUp,
        };
        Ok((last, settled))
    }
    .await;
    let success = json!({ "response": "SUCCESS" });
    match outcome {
        Ok((_, Settled::CaughtUp)) => envelope_response(&c.env, Ok(success)),
        // Past the timeout (or parked), the same rule as every write: 202, never a bare success.
        Ok((position, settled)) => {
            let mut resp = accepted_response(&c.env, Accepted { position, result: success });
            if settled == Settled::Failed {
                mark_failed(&mut resp);
            } else {
                mark_pending(&mut resp);
            }
            resp
        }
        Err(f) => envelope_response(&c.env, Err(f)),
    }
}
