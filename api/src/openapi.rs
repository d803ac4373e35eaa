//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::kernel::dialect::Dialect;
use crate::kernel::error::ApiError;

use crate::{grants, nexport, portsip, publisher, roster, sunbird, workdrive};

#[derive(OpenApi)]
#[openapi(
    info(title = "Roster", description = "One event-sourced directory, many dialects."),
    paths(
        workdrive::create_organization,
        workdrive::update_organization,
        workdrive::generate_access,
        workdrive::list_users,
        workdrive::add_user,
        workdrive::update_user,
        workdrive::delete_user,
        workdrive::departments::list_departments,
        workdrive::departments::create_department,
        workdrive::departments::update_department_admin,
        workdrive::departments::change_department_members,
        workdrive::departments::patch_department_members,
        workdrive::departments::get_department_members,
        workdrive::departments::update_department,
        workdrive::departments::delete_department,
        workdrive::locations::list_locations,
        workdrive::locations::create_location,
        workdrive::locations::change_location_members,
        workdrive::locations::patch_location_members,
        workdrive::locations::get_location_members,
        workdrive::locations::update_location,
        workdrive::locations::delete_location,
        workdrive::sso::list_sso,
        workdrive::sso::create_sso,
        workdrive::security_groups::list_security_groups,
        workdrive::security_groups::add_security_group_members,
        workdrive::security_groups::remove_security_group_members,
        workdrive::users_bulk::list_supervisors,
        workdrive::users_bulk::bulk_create,
        workdrive::users_bulk::bulk_delete,
        workdrive::media::reserve_get,
        workdrive::media::post_media,
        workdrive::media::download,
        portsip::list_groups,
        portsip::create_group,
        portsip::show_group,
        portsip::update_group,
        portsip::delete_group,
        portsip::list_members,
        portsip::add_member,
        portsip::show_member,
        portsip::remove_member,
        portsip::login,
        sunbird::create_group,
        sunbird::update_group,
        sunbird::list_groups,
        sunbird::read_group,
        sunbird::delete_group,
        sunbird::update_membership,
        sunbird::activity_agg,
        publisher::list_groups,
        publisher::read_group,
        publisher::create_group,
        publisher::replace_group,
        publisher::delete_group,
        publisher::add_users,
        roster::healthz,
        roster::readyz,
        roster::openapi,
        roster::metrics,
        roster::asyncapi,
        roster::events,
        roster::stream_events,
        grants::create_grant,
        grants::list_grants,
        grants::revoke_grant,
        grants::define_profile_field,
        nexport::doc::authenticate,
        nexport::doc::validate_access_token,
        nexport::doc::authenticate_user,
        nexport::doc::create_user,
        nexport::doc::get_user,
        nexport::doc::get_users,
        nexport::doc::get_user_contact_information,
        nexport::doc::edit_user,
        nexport::doc::get_organizations,
        nexport::doc::create_subscription,
        nexport::doc::get_subscription,
        nexport::doc::get_subscriptions,
        nexport::doc::search_subscriptions,
        nexport::doc::enable_disable_subscription,
        nexport::doc::set_subscription_status,
        nexport::doc::get_custom_profile_fields,
        nexport::doc::get_custom_profile_field_values,
        nexport::doc::set_custom_profile_field_values,
        nexport::doc::create_group,
        nexport::doc::create_membership,
        nexport::doc::remove_membership,
        nexport::doc::search_directory,
        nexport::doc::has_group_permission,
        nexport::doc::search_groups_for_permission,
        roster::stream_state,
        roster::stream_diff,
        roster::member_on,
    ),
    modifiers(&Security)
)]
struct Doc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-KEY"))));
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// Sunbird's alias paths (spec open question 1) answer exactly like its public paths.
struct SunbirdAliases;

impl Modify for SunbirdAliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (public, aliases) in sunbird::ALIASES {
            let Some(item) = openapi.paths.paths.get_mut(*public) else { continue };
            // The membership update answers the documented POST and the backend's PATCH on
            // every one of its paths (`sunbird::MEMBERSHIP_PATHS`).
            if sunbird::MEMBERSHIP_PATHS.contains(public) {
                item.patch = item.post.clone().map(|mut op| {
                    op.operation_id = op.operation_id.map(|id| format!("{id}_patch"));
                    op
                });
            }
            let item = item.clone();
            for alias in *aliases {
                openapi.paths.paths.insert((*alias).to_string(), item.clone());
            }
        }
    }
}

/// Operation ids unique across the document (code generators name methods after them): each is
/// prefixed with its dialect's tag (`portsip_create_group`), and an alias path that repeats an
/// operation (Sunbird's) gets its path appended.
struct OperationIds;

impl Modify for OperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut used = std::collections::HashSet::new();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head, &mut item.options];
            for op in ops.into_iter().flatten() {
                let tag = op.tags.as_ref().and_then(|t| t.first()).map(|t| t.to_lowercase()).unwrap_or_else(|| "roster".into());
                let base = op.operation_id.clone().unwrap_or_default();
                let mut id = if base.starts_with(&format!("{tag}_")) { base } else { format!("{tag}_{base}") };
                if used.contains(&id) {
                    let slug: String = path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
                    id = format!("{id}_at{}", slug.trim_end_matches('_'));
                }
                used.insert(id.clone());
                op.operation_id = Some(id);
            }
        }
    }
}

/// NexPort's operations answer GET and POST alike (its clients use both; the parameters come from
/// the query string and the body either way): both methods are documented, so the `Allow` header
/// and the document agree.
struct NexPortMethods;

impl Modify for NexPortMethods {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/AdminApi/") {
                continue;
            }
            let twin = |op: &Operation, method: &str| {
                let mut op = op.clone();
                op.operation_id = op.operation_id.map(|id| format!("{id}_{method}"));
                op
            };
            match (&item.get, &item.post) {
                (Some(get), None) => item.post = Some(twin(get, "post")),
                (None, Some(post)) => item.get = Some(twin(post, "get")),
                _ => {}
            }
        }
    }
}

/// Every refusal an operation can meet, documented with the status and error body its dialect
/// really answers. The statuses are read from each dialect's own renderer (`Dialect::render`), so
/// the document cannot drift from the server: bad input (every operation: query, headers, body),
/// Postgres or NATS away (every operation), a missing or refused token and a role that may not
/// (operations that take a token), an unknown id (operations with a path parameter), an
/// `Idempotency-Key` reused for another request (writes), a body over the limit (operations with
/// a body) and, for Publisher, a body in a format it does not read.
struct Refusals;

impl Modify for Refusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        document_refusals::<workdrive::WorkDrive>(openapi);
        document_refusals::<portsip::PortSip>(openapi);
        document_refusals::<publisher::Publisher>(openapi);
        document_refusals::<sunbird::Sunbird>(openapi);
        document_refusals::<nexport::NexPort>(openapi);
        document_refusals::<crate::scim::Scim>(openapi);
        document_refusals::<roster::Roster>(openapi);
    }
}

/// The parameters by which Sunbird and NexPort clients send their token.
const TOKEN_PARAMETERS: [&str; 2] = ["x-authenticated-user-token", "access_token"];

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [("get", &mut item.get), ("put", &mut item.put), ("post", &mut item.post), ("delete", &mut item.delete), ("patch", &mut item.patch)]
        .into_iter()
        .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
}

fn document_refusals<D: Dialect>(openapi: &mut utoipa::openapi::OpenApi) {
    let status = |e: &ApiError| D::render(e).status();
    for (path, item) in openapi.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            if !op.tags.iter().flatten().any(|t| t == D::TAG) {
                continue;
            }
            let token = op.security.as_ref().is_some_and(|s| !s.is_empty())
                || op.parameters.iter().flatten().any(|p| TOKEN_PARAMETERS.contains(&p.name.as_str()));
            let body = op.request_body.is_some();
            let mut refusals = vec![
                (ApiError::invalid("field", "why"), "The request is invalid; the message names the field."),
                (ApiError::Unavailable, "Postgres or NATS is out of reach; retry after `Retry-After` seconds."),
            ];
            if token {
                refusals.push((ApiError::Unauthorized(String::new()), "The token is missing, invalid, expired or revoked."));
                refusals.push((ApiError::Forbidden(String::new()), "The token's role may not do this."));
            }
            if path.contains('{') {
                refusals.push((ApiError::NotFound(String::new()), "No such item in the caller's organization (or one it may not see)."));
            }
            if method != "get" {
                refusals.push((
                    ApiError::Conflict(String::new()),
                    "The `Idempotency-Key` was used for another request, or a concurrent write won.",
                ));
            }
            if body {
                refusals.push((ApiError::TooLarge(String::new()), "The body is over the size limit."));
            }
            // The error body this operation already documents (Sunbird's activity aggregate has
            // its own envelope), else the dialect's.
            let content = op
                .responses
                .responses
                .iter()
                .filter(|(code, _)| code.starts_with('4'))
                .find_map(|(_, r)| match r {
                    RefOr::T(r) if !r.content.is_empty() => Some(r.content.clone()),
                    _ => None,
                })
                .or_else(|| {
                    D::ERROR_SCHEMA.map(|name| {
                        [("application/json".to_string(), ContentBuilder::new().schema(Some(Ref::from_schema_name(name))).build())]
                            .into_iter()
                            .collect()
                    })
                });
            let mut add = |code: String, description: &str| {
                op.responses.responses.entry(code).or_insert_with(|| {
                    let mut r: Response = ResponseBuilder::new().description(description).build();
                    if let Some(c) = &content {
                        r.content = c.clone();
                    }
                    RefOr::T(r)
                });
            };
            for (err, description) in &refusals {
                add(status(err).as_u16().to_string(), description);
            }
            if body && D::TAG == publisher::Publisher::TAG {
                add(publisher::UNSUPPORTED_MEDIA_TYPE.as_u16().to_string(), "The body is neither JSON nor XML.");
            }
        }
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    // WorkDrive's content modules each carry their own list of paths.
    doc.merge(workdrive::content::Doc::openapi());
    doc.merge(workdrive::library::Doc::openapi());
    doc.merge(workdrive::events::Doc::openapi());
    doc.merge(workdrive::posts::Doc::openapi());
    doc.merge(workdrive::tasks::Doc::openapi());
    doc.merge(workdrive::notifications::Doc::openapi());
    doc.merge(workdrive::group_chats::Doc::openapi());
    doc.merge(crate::scim::Doc::openapi());
    // Over the whole document, merged parts included.
    NexPortMethods.modify(&mut doc);
    Refusals.modify(&mut doc);
    SunbirdAliases.modify(&mut doc);
    OperationIds.modify(&mut doc);
    doc
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// What `openapi-spec-validator` found in the document before (issue #15): operation ids
    /// repeated across dialects and a path parameter that is not in its path.
    #[test]
    fn operation_ids_are_unique_and_path_parameters_are_in_their_paths() {
        let doc = serde_json::to_value(document()).unwrap();
        let mut ids = HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(id) = op["operationId"].as_str() else { continue };
                assert!(ids.insert(id.to_string()), "{method} {path}: operationId {id} repeated");
                for p in op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path") {
                    let name = p["name"].as_str().unwrap();
                    assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: path parameter {name} is not in the path");
                }
            }
        }
        assert!(ids.contains("portsip_create_group") && ids.contains("sunbird_create_group"), "{ids:?}");
    }
}
