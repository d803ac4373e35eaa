//! Who is calling: the user token, `x-authenticated-for`, and one call's parsed request.

use super::*;

/// Who acts: the user of `x-authenticated-user-token`, or the managed user of
/// `x-authenticated-for` when that user reports to them.
pub(super) struct Acting {
    pub(super) principal: Principal,
    pub(super) org: OrgId,
}

impl Acting {
    pub(super) fn actor(&self) -> Actor {
        Actor { user: self.principal.user_id, org_admin: self.principal.is_org_admin() }
    }
}

pub(super) async fn acting(st: &AppState, headers: &HeaderMap) -> Result<Acting, Fail> {
    let user = authenticate(st, header(headers, "x-authenticated-user-token")).await.map_err(auth_failed)?;
    let org = user.org_id.ok_or_else(unauthorized)?;
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        let key = authenticate(st, crate::kernel::auth::bearer_header(headers)).await.map_err(auth_failed)?;
        if key.org_id != Some(org) {
            return Err(unauthorized());
        }
    }
    let Some(for_token) = headers.get("x-authenticated-for") else {
        return Ok(Acting { principal: user, org });
    };
    let managed = authenticate(st, for_token.to_str().ok().map(str::trim)).await.map_err(auth_failed)?;
    let row = queries::user(&st.pool, org.0, managed.user_id.0).await.map_err(|e| match ApiError::from(e) {
        ApiError::Unavailable => unavailable(),
        _ => internal_unauthorized(),
    })?;
    match row {
        Some(u) if u.reports_to == Some(user.user_id.0) => Ok(Acting { principal: managed, org }),
        _ => Err(unauthorized()),
    }
}

/// A token that does not authenticate is Sunbird's 401, unless the store could not be asked.
pub(super) fn auth_failed(e: ApiError) -> Fail {
    match e {
        ApiError::Unavailable => unavailable(),
        _ => unauthorized(),
    }
}

/// Postgres or NATS is away before any operation could start: 503, retry later.
pub(super) fn unavailable() -> Fail {
    Fail::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Service is temporarily unavailable. Try again later.")
}

pub(super) fn internal_unauthorized() -> Fail {
    Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "GS_UNAUTHORIZED", "internal error")
}

/// Everything a write needs: envelope facts, the caller, and a command context whose
/// idempotency key is Sunbird's message id, so a repeated msgid creates nothing new.
pub(super) struct Call {
    pub(super) env: Envelope,
    pub(super) body: Body,
    pub(super) headers: HeaderMap,
    pub(super) own_key: Option<OwnKey>,
}

impl Call {
    /// A body holding U+0000 anywhere is this operation's validation failure (detail logged).
    pub(super) fn refuse_nul(&self, op: &Op) -> Result<(), Fail> {
        match &self.body.nul_field {
            Some(field) => Err(op.map(ApiError::invalid(field.clone(), crate::kernel::dialect::NUL_MESSAGE))),
            None => Ok(()),
        }
    }
}

pub(super) fn call(op: &Op, method: &Method, uri: &Uri, headers: HeaderMap, client_request_id: bool, bytes: &[u8]) -> Call {
    let body = parse_body(bytes);
    let header_msgid = msgid(&headers, client_request_id);
    let explicit_header = (client_request_id && header(&headers, "x-request-id").is_some())
        || header(&headers, "x-msgid").is_some()
        || header(&headers, "msgid").is_some();
    // Sunbird's key source: the body's msgid, else one the client sent in a header.
    let key = body.msgid.clone().or(explicit_header.then(|| header_msgid.clone()));
    let own_key = key.and_then(|k| OwnKey::new(NAME, &k, method, uri, bytes));
    let env = Envelope { api_id: op.api_id.to_string(), msgid: body.msgid.clone().unwrap_or(header_msgid), ver: body.ver.clone() };
    Call { env, body, headers, own_key }
}

impl Call {
    pub(super) fn context(&self, meta: &WriteMeta, who: &Acting, op: &Op) -> Result<Ctx<Sunbird>, Fail> {
        let mut ctx = meta.context_keyed::<Sunbird>(Some(&who.principal), self.own_key.as_ref()).map_err(|e| op.map(e))?;
        ctx.request_id = Some(self.env.msgid.clone());
        Ok(ctx)
    }
}

/// Runs a write and answers it through `AppState::respond`, so a replayed msgid gets the first answer.
pub(super) async fn answer_write<R: serde::Serialize>(
    st: &AppState,
    ctx: &commands::CommandContext,
    env: &Envelope,
    op: &Op,
    committed: Result<commands::Committed<R>, commands::CommandError>,
    build: impl FnOnce(R) -> Result<Value, Fail>,
) -> Response {
    let committed = match committed {
        Ok(c) => c,
        Err(e) => return envelope_response(env, Err(op.refused(e))),
    };
    let built = st
        .respond_or(
            ctx,
            committed,
            |_, result| {
                let resp = envelope_response(env, build(result));
                async move { Ok(resp) }
            },
            |a| accepted_response(env, a),
        )
        .await;
    match built {
        Ok(r) => with_cors(r),
        Err(e) => envelope_response(env, Err(op.map(e))),
    }
}
