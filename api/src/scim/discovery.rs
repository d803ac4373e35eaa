//! Discovery (RFC 7644 §4): what this server supports, its resource types and their schemas.
//! The limits announced here are the constants the handlers enforce.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::{base_url, list_response, org_of, scim_json, Caller, ScimError, ENTERPRISE_URN, GROUP_URN, MAX_RESULTS, USER_URN};
use crate::kernel::dialect;
use crate::AppState;

/// Most operations in one Bulk request.
pub const BULK_MAX_OPERATIONS: usize = 100;
/// Largest Bulk request body, in bytes (under axum's default body limit, which answers first).
pub const BULK_MAX_PAYLOAD: usize = 1024 * 1024;

/// `GET /scim/v2/ServiceProviderConfig`.
#[utoipa::path(get, path = "/scim/v2/ServiceProviderConfig", tag = "SCIM",
    responses((status = 200, description = "RFC 7643 §5"), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn service_provider_config(
    State(_st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    org_of(&caller)?;
    Ok(scim_json(StatusCode::OK, service_provider(&base_url(&headers))))
}

pub fn service_provider(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
        "patch": { "supported": true },
        "bulk": { "supported": true, "maxOperations": BULK_MAX_OPERATIONS, "maxPayloadSize": BULK_MAX_PAYLOAD },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        // RFC 9865: both kinds of paging, index by default as before; cursors do not expire.
        "pagination": {
            "cursor": true, "index": true, "defaultPaginationMethod": "index",
            "defaultPageSize": MAX_RESULTS, "maxPageSize": MAX_RESULTS
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "An organization admin's Roster access token in Authorization: Bearer",
            "primary": true
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") }
    })
}

fn resource_types_of(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "A directory user",
            "schema": USER_URN,
            "schemaExtensions": [{ "schema": ENTERPRISE_URN, "required": false }],
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") }
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "A directory group (the one group model every dialect sees)",
            "schema": GROUP_URN,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") }
        }),
    ]
}

#[utoipa::path(get, path = "/scim/v2/ResourceTypes", tag = "SCIM",
    responses((status = 200, description = "ListResponse of ResourceType"), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn resource_types(dialect::Caller(caller, _): Caller, headers: HeaderMap) -> Result<Response, ScimError> {
    org_of(&caller)?;
    let all = resource_types_of(&base_url(&headers));
    Ok(list_response(all.len() as i64, 1, all))
}

#[utoipa::path(get, path = "/scim/v2/ResourceTypes/{name}", tag = "SCIM", params(("name" = String, Path)),
    responses((status = 200, description = "ResourceType"), (status = 404)), security(("bearer" = [])))]
pub async fn resource_type(
    dialect::Caller(caller, _): Caller,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ScimError> {
    org_of(&caller)?;
    resource_types_of(&base_url(&headers))
        .into_iter()
        .find(|r| r["id"] == name.as_str())
        .map(|r| scim_json(StatusCode::OK, r))
        .ok_or_else(|| ScimError::not_found("resource type"))
}

fn attr(name: &str, ty: &str, multi: bool, required: bool, case_exact: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": ty, "multiValued": multi, "description": name, "required": required,
        "caseExact": case_exact, "mutability": mutability, "returned": "default", "uniqueness": uniqueness
    })
}

fn complex(name: &str, multi: bool, mutability: &str, subs: Vec<Value>) -> Value {
    let mut a = attr(name, "complex", multi, false, false, mutability, "none");
    a["subAttributes"] = Value::Array(subs);
    a
}

fn rw(name: &str) -> Value {
    attr(name, "string", false, false, false, "readWrite", "none")
}

fn schemas_of(base: &str) -> Vec<Value> {
    let meta = |id: &str| json!({ "resourceType": "Schema", "location": format!("{base}/Schemas/{id}") });
    let multi_value = || vec![rw("value"), rw("type"), attr("primary", "boolean", false, false, false, "readWrite", "none")];
    let mut password = attr("password", "string", false, false, true, "writeOnly", "none");
    password["returned"] = json!("never");
    let user = json!({
        "id": USER_URN, "name": "User", "description": "User Account",
        "attributes": [
            attr("userName", "string", false, true, false, "readWrite", "server"),
            attr("externalId", "string", false, false, true, "immutable", "none"),
            complex("name", false, "readWrite", vec![rw("formatted"), rw("familyName"), rw("givenName"), rw("middleName"), rw("honorificPrefix")]),
            rw("displayName"),
            rw("title"),
            attr("active", "boolean", false, false, false, "readWrite", "none"),
            password,
            complex("emails", true, "readWrite", multi_value()),
            complex("phoneNumbers", true, "readWrite", multi_value()),
            complex("groups", true, "readOnly", vec![
                attr("value", "string", false, false, false, "readOnly", "none"),
                attr("$ref", "reference", false, false, false, "readOnly", "none"),
                attr("display", "string", false, false, false, "readOnly", "none"),
            ]),
        ],
        "meta": meta(USER_URN),
    });
    let group = json!({
        "id": GROUP_URN, "name": "Group", "description": "Group",
        "attributes": [
            attr("displayName", "string", false, true, false, "readWrite", "none"),
            attr("externalId", "string", false, false, true, "immutable", "none"),
            complex("members", true, "readWrite", vec![
                attr("value", "string", false, false, false, "immutable", "none"),
                attr("$ref", "reference", false, false, false, "immutable", "none"),
                attr("display", "string", false, false, false, "readOnly", "none"),
                attr("type", "string", false, false, false, "immutable", "none"),
            ]),
        ],
        "meta": meta(GROUP_URN),
    });
    let enterprise = json!({
        "id": ENTERPRISE_URN, "name": "EnterpriseUser", "description": "Enterprise User",
        "attributes": [
            attr("employeeNumber", "string", false, false, true, "readOnly", "server"),
            rw("department"),
            complex("manager", false, "readWrite", vec![
                attr("value", "string", false, false, true, "readWrite", "none"),
                attr("$ref", "reference", false, false, false, "readOnly", "none"),
                attr("displayName", "string", false, false, false, "readOnly", "none"),
            ]),
        ],
        "meta": meta(ENTERPRISE_URN),
    });
    let with_schema = |mut v: Value| {
        v["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]);
        v
    };
    vec![with_schema(user), with_schema(group), with_schema(enterprise)]
}

#[utoipa::path(get, path = "/scim/v2/Schemas", tag = "SCIM",
    responses((status = 200, description = "ListResponse of Schema"), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn schemas(dialect::Caller(caller, _): Caller, headers: HeaderMap) -> Result<Response, ScimError> {
    org_of(&caller)?;
    let all = schemas_of(&base_url(&headers));
    Ok(list_response(all.len() as i64, 1, all))
}

#[utoipa::path(get, path = "/scim/v2/Schemas/{id}", tag = "SCIM", params(("id" = String, Path)),
    responses((status = 200, description = "Schema"), (status = 404)), security(("bearer" = [])))]
pub async fn schema(dialect::Caller(caller, _): Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ScimError> {
    org_of(&caller)?;
    schemas_of(&base_url(&headers))
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(&id)))
        .map(|s| scim_json(StatusCode::OK, s))
        .ok_or_else(|| ScimError::not_found("schema"))
}
