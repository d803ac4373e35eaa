//! `POST /scim/v2/Bulk` (RFC 7644 §3.7): operations run in order, each its own write through the
//! same code as its route (one append each; a Bulk request is not a transaction, as the RFC
//! says). `bulkId:<id>` anywhere in a later operation's path or data is the id the operation
//! with that `bulkId` created; a reference to one not (yet, or successfully) created fails that
//! operation. `failOnErrors: n` stops after the n-th error. Limits: [`BULK_MAX_OPERATIONS`]
//! operations and [`BULK_MAX_PAYLOAD`] bytes, announced in ServiceProviderConfig; past them 413
//! `tooMany`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::discovery::{BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD};
use super::users::get;
use super::{groups, org_of, scim_json, users, ScimError, Write};
use crate::AppState;

pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn too_many(detail: String) -> ScimError {
    ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, Some("tooMany"), detail)
}

/// `bulkId:<id>` references in `v` replaced by the ids created so far; the first unknown one is
/// returned as the error.
fn resolve(v: &Value, ids: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(resolve_str(s, ids)?),
        Value::Array(a) => Value::Array(a.iter().map(|i| resolve(i, ids)).collect::<Result<_, _>>()?),
        Value::Object(o) => Value::Object(o.iter().map(|(k, i)| Ok((k.clone(), resolve(i, ids)?))).collect::<Result<_, String>>()?),
        other => other.clone(),
    })
}

fn resolve_str(s: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("bulkId:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "bulkId:".len()..];
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')).unwrap_or(after.len());
        let key = &after[..end];
        out.push_str(ids.get(key).ok_or_else(|| format!("bulkId:{key} names no operation created before this one"))?);
        rest = &after[end..];
    }
    out.push_str(rest);
    Ok(out)
}

#[utoipa::path(post, path = "/scim/v2/Bulk", tag = "SCIM", request_body(content = Object, description = "BulkRequest"),
    responses((status = 200, description = "BulkResponse"), (status = 400), (status = 413, description = "tooMany")), security(("bearer" = [])))]
pub async fn bulk(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let org = org_of(&caller)?;
    if body.len() > BULK_MAX_PAYLOAD {
        return Err(too_many(format!("the Bulk request is {} bytes; maxPayloadSize is {BULK_MAX_PAYLOAD}", body.len())));
    }
    crate::kernel::dialect::refuse_nul_in_json_bytes(&body)?;
    let req: Value = serde_json::from_slice(&body).map_err(|e| ScimError::bad("invalidSyntax", format!("body: {e}")))?;
    let obj = req.as_object().ok_or_else(|| ScimError::bad("invalidSyntax", "body: must be a BulkRequest object"))?;
    let ops = match get(obj, "Operations") {
        Some(Value::Array(ops)) => ops,
        _ => return Err(ScimError::bad("invalidSyntax", "Operations: must be a list")),
    };
    if ops.len() > BULK_MAX_OPERATIONS {
        return Err(too_many(format!("Operations: {} operations; maxOperations is {BULK_MAX_OPERATIONS}", ops.len())));
    }
    let fail_on_errors = match get(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| ScimError::invalid_value("failOnErrors: must be a positive integer"))?)
        }
    };
    let ctx = ctx?;
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = vec![];
    let mut errors = 0u64;
    for (i, op) in ops.iter().enumerate() {
        // Each operation is its own write; its idempotency key (when the request has one) is
        // the request's, suffixed, so a retried Bulk replays each operation's first answer.
        let mut op_ctx = ctx.clone();
        op_ctx.idempotency_key = ctx.idempotency_key.as_ref().map(|k| format!("{k}#{i}"));
        let (method, bulk_id, outcome) = run(&st, op_ctx, org, op, &ids, &headers).await;
        let mut result = json!({ "method": method });
        if let Some(b) = &bulk_id {
            result["bulkId"] = json!(b);
        }
        match outcome {
            Ok((status, body)) => {
                if let Some(loc) = body.pointer("/meta/location") {
                    result["location"] = loc.clone();
                }
                if let Some(v) = body.pointer("/meta/version") {
                    result["version"] = v.clone();
                }
                if let (Some(b), Some(id)) = (&bulk_id, body.get("id").and_then(Value::as_str)) {
                    if method == "POST" {
                        ids.insert(b.clone(), id.to_string());
                    }
                }
                result["status"] = json!(status.as_u16().to_string());
            }
            Err(e) => {
                errors += 1;
                result["status"] = json!(e.status.as_u16().to_string());
                result["response"] = e.body();
            }
        }
        results.push(result);
        if fail_on_errors.is_some_and(|n| errors >= n) {
            break;
        }
    }
    Ok(scim_json(StatusCode::OK, json!({ "schemas": [BULK_RESPONSE_URN], "Operations": results })))
}

/// One operation: its method, its bulkId, and its status and resource or its error.
async fn run(
    st: &AppState,
    ctx: crate::kernel::write::Ctx<super::Scim>,
    org: domain::OrgId,
    op: &Value,
    ids: &HashMap<String, String>,
    headers: &HeaderMap,
) -> (String, Option<String>, Result<(StatusCode, Value), ScimError>) {
    let Some(o) = op.as_object() else {
        return (String::new(), None, Err(ScimError::bad("invalidSyntax", "operation: must be an object")));
    };
    let method = get(o, "method").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase();
    let bulk_id = get(o, "bulkId").and_then(Value::as_str).map(str::to_string);
    let outcome = async {
        if method == "POST" && bulk_id.is_none() {
            return Err(ScimError::invalid_value("bulkId: is required for POST"));
        }
        let path = get(o, "path").and_then(Value::as_str).ok_or_else(|| ScimError::invalid_value("path: is required"))?;
        let path = resolve_str(path, ids).map_err(|e| ScimError::new(StatusCode::CONFLICT, Some("invalidValue"), e))?;
        let data = match get(o, "data") {
            Some(d) => resolve(d, ids).map_err(|e| ScimError::new(StatusCode::CONFLICT, Some("invalidValue"), e))?,
            None => Value::Null,
        };
        let mut headers = headers.clone();
        headers.remove(header::IF_MATCH);
        if let Some(v) = get(o, "version").and_then(Value::as_str) {
            if let Ok(v) = HeaderValue::from_str(v) {
                headers.insert(header::IF_MATCH, v);
            }
        }
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let ctx = Ok(ctx);
        let resp = match (method.as_str(), segments.as_slice()) {
            ("POST", ["Users"]) => users::create_core(st, ctx, org, &data, headers).await?,
            ("POST", ["Groups"]) => groups::create_core(st, ctx, org, &data, headers).await?,
            ("PUT", ["Users", id]) => users::replace_core(st, ctx, org, id, &data, headers).await?,
            ("PUT", ["Groups", id]) => groups::replace_core(st, ctx, org, id, &data, headers).await?,
            ("PATCH", ["Users", id]) => users::patch_core(st, ctx, org, id, &data, headers).await?,
            ("PATCH", ["Groups", id]) => groups::patch_core(st, ctx, org, id, &data, headers).await?,
            ("DELETE", ["Users", id]) => users::delete_core(st, ctx, org, id, headers).await?,
            ("DELETE", ["Groups", id]) => groups::delete_core(st, ctx, org, id, headers).await?,
            ("POST" | "PUT" | "PATCH" | "DELETE", _) => {
                return Err(ScimError::bad("invalidPath", format!("path: no {method} on '{path}'")))
            }
            _ => return Err(ScimError::invalid_value(format!("method: must be POST, PUT, PATCH or DELETE, got '{method}'"))),
        };
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(ScimError::new(status, None, body["detail"].as_str().unwrap_or("the operation was not applied").to_string()));
        }
        Ok((status, body))
    }
    .await;
    (method, bulk_id, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_ids_resolve_inside_strings_and_unknown_ones_fail() {
        let ids = HashMap::from([("qwerty".to_string(), "123".to_string())]);
        assert_eq!(resolve_str("/Groups/bulkId:qwerty", &ids), Ok("/Groups/123".into()));
        let v = resolve(&json!({"members": [{"value": "bulkId:qwerty", "type": "User"}]}), &ids).unwrap();
        assert_eq!(v, json!({"members": [{"value": "123", "type": "User"}]}));
        assert!(resolve_str("bulkId:nope", &ids).unwrap_err().contains("nope"));
    }
}
