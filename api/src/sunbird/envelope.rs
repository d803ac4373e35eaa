//! Sunbird's envelopes: the request and response shapes, the operations and their error codes.

use super::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct SunbirdParams {
    pub resmsgid: Option<String>,
    pub msgid: String,
    pub err: Option<String>,
    pub status: String,
    pub errmsg: Option<String>,
}

/// The groups-service envelope: `params` is null on success, `responseCode` the HTTP status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SunbirdResponse {
    pub id: String,
    pub ver: Option<String>,
    pub ts: String,
    pub params: Option<SunbirdParams>,
    pub response_code: u16,
    #[schema(value_type = Object)]
    pub result: Value,
}

/// The request envelope; only `request` matters.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SunbirdRequest {
    pub id: Option<String>,
    pub ver: Option<String>,
    pub ts: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
    #[schema(value_type = Object)]
    pub request: Value,
}

/// lms-service's envelope (activity aggregator): string `responseCode`, `params` always present.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LmsResponse {
    pub id: String,
    pub ver: String,
    pub ts: String,
    pub params: SunbirdParams,
    pub response_code: String,
    #[schema(value_type = Object)]
    pub result: Value,
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.format(TS_FORMAT).to_string()
}

/// One request's envelope facts, known before anything can fail.
pub(super) struct Envelope {
    pub(super) api_id: String,
    pub(super) msgid: String,
    pub(super) ver: Option<String>,
}

/// A failure, answered as `{params: {err, errmsg, status: "failed"}, responseCode, result: {}}`.
#[derive(Debug)]
pub(super) struct Fail {
    pub(super) status: StatusCode,
    pub(super) code: String,
    pub(super) message: String,
}

impl Fail {
    pub(super) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Fail { status, code: code.into(), message: message.into() }
    }
}

pub(super) const MSG_UNAUTHORIZED: &str = "You are an unauthorized.Contact your system administrator";

pub(super) fn unauthorized() -> Fail {
    Fail::new(StatusCode::UNAUTHORIZED, "GS_UNAUTHORIZED", MSG_UNAUTHORIZED)
}

/// The codes of one operation; validation, unknown group and storage failures differ per operation.
pub(super) struct Op {
    pub(super) api_id: &'static str,
    pub(super) invalid: (&'static str, &'static str),
    pub(super) not_found: (&'static str, &'static str),
    pub(super) internal: (&'static str, &'static str),
}

pub(super) const CREATE: Op = Op {
    api_id: "api.group.create",
    invalid: (
        "GS_CRT02",
        "Failed to create group, fields are missing or invalid in the request. Enter the required values and resend the request.",
    ),
    not_found: (
        "GS_CRT02",
        "Failed to create group, fields are missing or invalid in the request. Enter the required values and resend the request.",
    ),
    internal: (
        "GS_CRT03",
        "Failed to create group, due to database error or there are too many concurrent calls to the server. Try again later.",
    ),
};
pub(super) const UPDATE: Op = Op {
    api_id: "api.group.update",
    invalid: ("GS_UDT02", "Failed to update group, mandatory  are missing or invalid fields value in the request. Enter the required values and resend the request."),
    not_found: ("GS_UDT07", "Failed to update, group does not exist. Contact your system administrator."),
    internal: ("GS_UDT03", "Failed to update group, due to database error or there are too many concurrent calls to the server. Try again later."),
};
pub(super) const LIST: Op = Op {
    api_id: "api.group.list",
    invalid: ("GS_LST02", "Failed to fetch group list, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    not_found: ("GS_LST02", "Failed to fetch group list, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    internal: ("GS_LST03", "Failed to fetch group list, due to database error or there are too many concurrent calls to the server. Try again later."),
};
pub(super) const DELETE: Op = Op {
    api_id: "api.group.delete",
    // GS_DLT02 carries GS_CRT02's text in the source; kept.
    invalid: (
        "GS_DLT02",
        "Failed to create group, fields are missing or invalid in the request. Enter the required values and resend the request.",
    ),
    not_found: ("GS_DLT07", "Failed to delete, group not found. Contact your system administrator."),
    internal: (
        "GS_DLT03",
        "Failed to delete group, due to database error or there are too many concurrent calls to the server. Try again later.",
    ),
};
pub(super) const READ: Op = Op {
    api_id: "api.group.read",
    invalid: ("GS_RED02", "Failed to read group details, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    not_found: ("GS_RED07", "Failed to read details, group not found. Contact your system administrator."),
    internal: ("GS_RED03", "Failed to read group details, due to database error or there are too many concurrent calls to the server. Try again later."),
};
pub(super) const MEMBERSHIP: Op = Op {
    api_id: "api.group.membership.update",
    invalid: ("GS_MBRSHP_UDT02", "Failed to update group member details, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    not_found: ("GS_MBRSHP_UDT02", "Failed to update group member details, mandatory fields are missing or invalid fields value in the request. Enter the required values and resend the request."),
    internal: ("GS_MBRSHP_UDT03", "Failed to create group, due to database error or there are too many concurrent calls to the server. Try again later."),
};

impl Op {
    pub(super) fn invalid(&self) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, self.invalid.0, self.invalid.1)
    }

    pub(super) fn not_found(&self) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, self.not_found.0, self.not_found.1)
    }

    /// Maps the API layer's error into this operation's code; the detail is logged, not sent
    /// (Sunbird re-wraps every validation failure into the fixed `*02` text).
    /// A command's refusal: an unknown id the request names (a member) is the request's fault,
    /// answered as invalid; the rest as [`Op::map`].
    pub(super) fn refused(&self, e: commands::CommandError) -> Fail {
        match e {
            commands::CommandError::Rejected(DomainError::NotFoundAt { field, what }) => {
                tracing::debug!(%field, what, api = self.api_id, "sunbird: the request names an unknown id");
                self.invalid()
            }
            other => self.map(other.into()),
        }
    }

    pub(super) fn map(&self, e: ApiError) -> Fail {
        // Spelled like any dialect's answer, though Sunbird only logs the field.
        match crate::kernel::fields::spell_error(Sunbird::FIELD_NAMES, &e) {
            ApiError::Invalid { field, message } => {
                tracing::debug!(%field, %message, api = self.api_id, "sunbird validation failed");
                self.invalid()
            }
            ApiError::NotFound(m) => {
                tracing::debug!(message = %m, api = self.api_id, "sunbird: not found");
                self.not_found()
            }
            ApiError::Unauthorized(_) => unauthorized(),
            ApiError::Forbidden(m) => Fail::new(StatusCode::UNAUTHORIZED, "GS_UNAUTHORIZED", m),
            ApiError::Conflict(m) => Fail::new(StatusCode::BAD_REQUEST, self.invalid.0, m),
            ApiError::TooLarge(m) => Fail::new(StatusCode::PAYLOAD_TOO_LARGE, self.invalid.0, m),
            ApiError::Internal => Fail::new(StatusCode::INTERNAL_SERVER_ERROR, self.internal.0, self.internal.1),
            // The operation's own "database error ... Try again later" code, as a 503.
            ApiError::Unavailable => Fail::new(StatusCode::SERVICE_UNAVAILABLE, self.internal.0, self.internal.1),
        }
    }
}

pub(super) fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty())
}

/// `params.msgid`: the client's `x-request-id`, else `X-msgid` / `msgId`, else a new UUID.
pub(super) fn msgid(parts_headers: &HeaderMap, client_request_id: bool) -> String {
    let from_client = if client_request_id { header(parts_headers, "x-request-id") } else { None };
    from_client
        .or_else(|| header(parts_headers, "x-msgid"))
        .or_else(|| header(parts_headers, "msgid"))
        .map(str::to_string)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

pub(super) fn envelope_response(env: &Envelope, outcome: Result<Value, Fail>) -> Response {
    let now = ts(Utc::now());
    let (status, body) = match outcome {
        Ok(result) => (
            StatusCode::OK,
            SunbirdResponse { id: env.api_id.clone(), ver: Some("v1".into()), ts: now, params: None, response_code: 200, result },
        ),
        Err(f) => (
            f.status,
            SunbirdResponse {
                id: env.api_id.clone(),
                ver: env.ver.clone(),
                ts: now,
                params: Some(SunbirdParams {
                    resmsgid: None,
                    msgid: env.msgid.clone(),
                    err: Some(f.code),
                    status: "failed".into(),
                    errmsg: Some(f.message),
                }),
                response_code: f.status.as_u16(),
                result: json!({}),
            },
        ),
    };
    let resp = with_cors((status, axum::Json(body)).into_response());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        crate::kernel::error::with_retry_after(resp)
    } else {
        resp
    }
}

/// A write the read models do not show yet (or whose event was parked): 202 in the envelope, with
/// what the command knows and its position as the result.
pub(super) fn accepted_response(env: &Envelope, accepted: Accepted) -> Response {
    let body = SunbirdResponse {
        id: env.api_id.clone(),
        ver: Some("v1".into()),
        ts: ts(Utc::now()),
        params: None,
        response_code: StatusCode::ACCEPTED.as_u16(),
        result: accepted.json(),
    };
    with_cors((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

pub(super) fn with_cors(mut resp: Response) -> Response {
    resp.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    resp
}

/// The request as Sunbird reads it: a non-JSON or `request`-less body is an empty request.
pub(super) struct Body {
    pub(super) request: Map<String, Value>,
    pub(super) ver: Option<String>,
    pub(super) msgid: Option<String>,
    /// Where the body holds U+0000 (which Postgres cannot store), if anywhere.
    pub(super) nul_field: Option<String>,
}

pub(super) fn parse_body(bytes: &[u8]) -> Body {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    Body {
        nul_field: crate::kernel::dialect::nul_in_json(&v).map(|path| crate::kernel::dialect::field_at("body", &path)),
        request: v.get("request").and_then(Value::as_object).cloned().unwrap_or_default(),
        ver: v.get("ver").and_then(Value::as_str).map(str::to_string),
        msgid: v.pointer("/params/msgid").and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty()),
    }
}
