//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::kernel::dialect::Dialect;
use crate::kernel::error::ApiError;

use crate::{grants, nexport, portsip, publisher, roster, sunbird, workdrive};

mod rules;

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

/// A string schema of exactly these values: the names a parser accepts (`GrantRole::ALL`,
/// `Permission::ALL`, ...), so the document lists what the server takes.
pub(crate) fn names_schema(names: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)).build()
}

/// A text the server requires: not absent, not null, not blank (the domain trims it first:
/// `domain::values::required_text`).
pub(crate) const NOT_BLANK: &str = r"\S";

/// Body texts the server requires, with the longest each takes: (component schema, property,
/// format, the constant the domain checks). The Rust bodies keep them `Option` so that the server
/// names a missing field in its dialect's words; the document says what it takes.
const REQUIRED_TEXTS: &[(&str, &str, Option<&str>, Option<usize>)] = {
    use domain::values::{MAX_DEPARTMENT_NAME_LEN, MAX_EMAIL_LEN, MAX_LOCATION_NAME_LEN, MAX_PERSON_NAME_LEN};
    // One rename body serves departments and locations.
    const _: () = assert!(MAX_DEPARTMENT_NAME_LEN == MAX_LOCATION_NAME_LEN);
    &[
        ("CreateDepartmentBody", "name", None, Some(MAX_DEPARTMENT_NAME_LEN)),
        ("CreateLocationBody", "name", None, Some(MAX_LOCATION_NAME_LEN)),
        ("RenameBody", "name", None, Some(MAX_DEPARTMENT_NAME_LEN)),
        ("AddUserBody", "email", Some("email"), Some(MAX_EMAIL_LEN)),
        ("AddUserBody", "firstName", None, Some(MAX_PERSON_NAME_LEN)),
        ("AddUserBody", "lastName", None, Some(MAX_PERSON_NAME_LEN)),
        ("SendNotificationBody", "title", None, Some(domain::notification::MAX_TITLE_LEN)),
        // PortSIP's login looks the name up; it bounds neither.
        ("LoginBody", "username", None, None),
        ("LoginBody", "password", None, None),
    ]
};

/// Bulk lists (`commands::handlers::user_bulk::check_count`): at least one item, at most
/// `MAX_BULK_ITEMS`; (component schema, property, whether the items are user ids).
const BULK_LISTS: &[(&str, &str, bool)] =
    &[("SecurityGroupMembersBody", "ids", true), ("BulkDeleteBody", "id", true), ("BulkCreateBody", "data", false)];

struct BulkLists;

impl Modify for BulkLists {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ArrayItems, KnownFormat, SchemaFormat};
        use utoipa::openapi::Schema;
        let Some(components) = openapi.components.as_mut() else { return };
        for (name, property, ids) in BULK_LISTS {
            let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(*name) else {
                panic!("BULK_LISTS names {name}, which the document does not hold")
            };
            let Some(RefOr::T(Schema::Array(list))) = body.properties.get_mut(*property) else {
                panic!("BULK_LISTS names {name}.{property}, which is not an array there")
            };
            list.min_items = Some(1);
            list.max_items = Some(domain::values::MAX_BULK_ITEMS);
            if *ids {
                if let ArrayItems::RefOrSchema(item) = &mut list.items {
                    if let RefOr::T(Schema::Object(item)) = item.as_mut() {
                        item.format = Some(SchemaFormat::KnownFormat(KnownFormat::Uuid));
                    }
                }
            }
            if !body.required.iter().any(|r| r == property) {
                body.required.push(property.to_string());
            }
        }
    }
}

/// WorkDrive's media answers: a download carries its file's own type (one of
/// `ALLOWED_MIME_TYPES`), and `POST /api/media` answers a `File` (an upload) or a `SignedUpload`
/// (a reservation), by what the request holds.
struct MediaAnswers;

impl Modify for MediaAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        let bytes = ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))).build();
        answer(openapi, "/api/media/{id}", "get", "200").content = domain::media::ALLOWED_MIME_TYPES
            .iter()
            .map(|m| (m.to_string(), ContentBuilder::new().schema(Some(bytes.clone())).build()))
            .collect();
        let either = OneOfBuilder::new().item(Ref::from_schema_name("File")).item(Ref::from_schema_name("SignedUpload")).build();
        answer(openapi, "/api/media", "post", "201").content =
            [("application/json".to_string(), ContentBuilder::new().schema(Some(utoipa::openapi::Schema::OneOf(either))).build())]
                .into_iter()
                .collect();
    }
}

/// One documented answer of an operation, which must exist.
fn answer<'a>(openapi: &'a mut utoipa::openapi::OpenApi, path: &str, method: &str, status: &str) -> &'a mut Response {
    let item = openapi.paths.paths.get_mut(path).unwrap_or_else(|| panic!("{path} is not in the document"));
    let op = operations_mut(item).find(|(m, _)| *m == method).map(|(_, op)| op);
    let op = op.unwrap_or_else(|| panic!("{method} {path} is not in the document"));
    match op.responses.responses.get_mut(status) {
        Some(RefOr::T(r)) => r,
        _ => panic!("{method} {path} documents no {status}"),
    }
}

/// A nullable text with a format (`Option<Uuid>`: `type: [string, null], format: uuid`) is
/// spelled `oneOf: [{type: string, format}, {type: null}]`: the same values, but schemathesis'
/// generator drops a `format` that sits beside a list of types and draws `""` for a uuid.
struct NullableFormats;

impl Modify for NullableFormats {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.schemas.values_mut().for_each(split_nullable_format);
        }
    }
}

fn split_nullable_format(schema: &mut RefOr<utoipa::openapi::Schema>) {
    use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, OneOfBuilder, SchemaType, Type};
    use utoipa::openapi::Schema;
    let RefOr::T(inner) = schema else { return };
    match inner {
        Schema::Object(o) => {
            o.properties.values_mut().for_each(split_nullable_format);
            let nullable_text = matches!(&o.schema_type, SchemaType::Array(types)
                if types.len() == 2 && types.contains(&Type::String) && types.contains(&Type::Null));
            if nullable_text && o.format.is_some() {
                let description = o.description.take();
                let mut text = o.clone();
                text.schema_type = SchemaType::Type(Type::String);
                let null = ObjectBuilder::new().schema_type(Type::Null).build();
                *inner = Schema::OneOf(OneOfBuilder::new().item(text).item(null).description(description).build());
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(item) = &mut a.items {
                split_nullable_format(item);
            }
        }
        Schema::OneOf(o) => o.items.iter_mut().for_each(split_nullable_format),
        Schema::AnyOf(o) => o.items.iter_mut().for_each(split_nullable_format),
        Schema::AllOf(o) => o.items.iter_mut().for_each(split_nullable_format),
        _ => {}
    }
}

struct RequiredTexts;

impl Modify for RequiredTexts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::Schema;
        let Some(components) = openapi.components.as_mut() else { return };
        for (name, property, format, max) in REQUIRED_TEXTS {
            let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(*name) else {
                panic!("REQUIRED_TEXTS names {name}, which the document does not hold")
            };
            let Some(RefOr::T(Schema::Object(old))) = body.properties.get(*property) else {
                panic!("REQUIRED_TEXTS names {name}.{property}, which the document does not hold")
            };
            let text = ObjectBuilder::new()
                .schema_type(Type::String)
                .description(old.description.clone())
                .format(format.map(|f| SchemaFormat::Custom(f.to_string())))
                .min_length(Some(1))
                .max_length(*max)
                .pattern(Some(NOT_BLANK))
                .build();
            body.properties.insert(property.to_string(), RefOr::T(Schema::Object(text)));
            if !body.required.iter().any(|r| r == property) {
                body.required.push(property.to_string());
            }
        }
    }
}

/// Query parameters whose values the server takes from a named list or range: (path, parameter,
/// schema), every method of the path alike.
fn query_rules() -> Vec<(&'static str, &'static str, utoipa::openapi::Schema)> {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::Schema;
    let text = || ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).pattern(Some(NOT_BLANK)).build();
    // A module by its code or its name (`ModuleCode::parse`).
    let modules = || {
        let names = domain::category::ModuleCode::ALL.iter().map(|m| m.name().to_string());
        let codes = domain::category::ModuleCode::ALL.iter().map(|m| m.code().to_string());
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names.chain(codes))).build()
    };
    // An id, or empty for none (the SSO list reads `?location=&department=` as neither).
    let id_or_empty = || {
        let id = ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))).build();
        let empty = ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)).build();
        Schema::AnyOf(AnyOfBuilder::new().item(id).item(empty).build())
    };
    // The values these handlers match (any case); empty means the default.
    let one_of = |values: &[&'static str]| Schema::Object(names_schema(values.iter().copied()));
    let directions = || one_of(&["", "ASC", "DESC"]);
    let formatted = |format: KnownFormat| {
        Schema::Object(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format))).build())
    };
    vec![
        ("/api/enforcement-templates", "sort_direction", directions()),
        ("/api/courses", "sort_direction", directions()),
        ("/api/tasks", "sort_direction", directions()),
        ("/api/courses", "filter", one_of(&["", "ALL_COURSES"])),
        // Times and dates the handlers parse (RFC 3339; YYYY-MM-DD).
        ("/api/news", "time", formatted(KnownFormat::DateTime)),
        ("/api/posts", "time", formatted(KnownFormat::DateTime)),
        ("/api/events", "fromDate", formatted(KnownFormat::Date)),
        ("/api/events", "toDate", formatted(KnownFormat::Date)),
        ("/events", "from", formatted(KnownFormat::DateTime)),
        ("/events", "to", formatted(KnownFormat::DateTime)),
        ("/streams/{stream_type}/{stream_id}", "as_of", formatted(KnownFormat::DateTime)),
        ("/streams/{stream_type}/{stream_id}/diff", "from", formatted(KnownFormat::DateTime)),
        ("/streams/{stream_type}/{stream_id}/diff", "to", formatted(KnownFormat::DateTime)),
        ("/api/photos", "filter", one_of(&["", "all_photos", "friends_photos", "only_me_photos", "tagged_photos", "team_photos"])),
        ("/api/group-chats", "group_type", one_of(&["", "CHAT_GROUP", "ROOM"])),
        ("/api/v1/AdminApi/GetCustomProfileFieldValues", "key", Schema::Object(text())),
        // A position a write answered, or empty for the start of the log.
        ("/events", "after", {
            let position = ObjectBuilder::new().schema_type(Type::String).pattern(Some(commands::Position::PATTERN)).build();
            let empty = ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)).build();
            Schema::AnyOf(AnyOfBuilder::new().item(position).item(empty).build())
        }),
        ("/api/sso", "location", id_or_empty()),
        ("/api/sso", "department", id_or_empty()),
        ("/api/categories", "moduleCode", Schema::Object(modules())),
        ("/api/media", "mime", Schema::Object(names_schema(domain::media::ALLOWED_MIME_TYPES.iter().copied()))),
        ("/api/media", "name", Schema::Object(text())),
        // Any positive code (`MediaCommand::Reserve`).
        ("/api/media", "moduleCode", Schema::Object(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).build())),
    ]
}

struct QueryRules;

impl Modify for QueryRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for (path, name, schema) in query_rules() {
            let Some(item) = openapi.paths.paths.get_mut(path) else { panic!("query_rules names {path}, not in the document") };
            let mut found = false;
            for (_, op) in operations_mut(item) {
                for p in op.parameters.iter_mut().flatten().filter(|p| p.parameter_in == ParameterIn::Query && p.name == name) {
                    p.schema = Some(RefOr::T(schema.clone()));
                    found = true;
                }
            }
            assert!(found, "query_rules names {path} {name}, not a query parameter there");
        }
    }
}

/// The range of every integer query parameter, from the values the handlers check
/// (`Dialect::QUERY_INTS`): a generated client or a fuzzer then sends what the server takes.
struct QueryBounds;

impl Modify for QueryBounds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        document_query_bounds::<workdrive::WorkDrive>(openapi);
        document_query_bounds::<portsip::PortSip>(openapi);
        document_query_bounds::<publisher::Publisher>(openapi);
        document_query_bounds::<sunbird::Sunbird>(openapi);
        document_query_bounds::<nexport::NexPort>(openapi);
        document_query_bounds::<crate::scim::Scim>(openapi);
        document_query_bounds::<roster::Roster>(openapi);
        // NexPort reads a parameter from the query string or the body alike.
        document_body_bounds::<nexport::NexPort>(openapi);
    }
}

fn document_body_bounds<D: Dialect>(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::Schema;
    let mut bodies = std::collections::BTreeSet::new();
    for item in openapi.paths.paths.values_mut() {
        for (_, op) in operations_mut(item) {
            if !op.tags.iter().flatten().any(|t| t == D::TAG) {
                continue;
            }
            for content in op.request_body.iter().flat_map(|b| b.content.values()) {
                // The body's schema, or each alternative of it (an optional body: `oneOf: [null, $ref]`).
                let refs: Vec<&Ref> = match &content.schema {
                    Some(RefOr::Ref(r)) => vec![r],
                    Some(RefOr::T(Schema::OneOf(one))) => one
                        .items
                        .iter()
                        .filter_map(|i| match i {
                            RefOr::Ref(r) => Some(r),
                            _ => None,
                        })
                        .collect(),
                    _ => vec![],
                };
                for r in refs {
                    bodies.insert(r.ref_location.trim_start_matches("#/components/schemas/").to_string());
                }
            }
        }
    }
    let Some(components) = openapi.components.as_mut() else { return };
    for name in bodies {
        let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(&name) else { continue };
        for bounds in D::QUERY_INTS {
            if let Some(RefOr::T(Schema::Object(p))) = body.properties.get_mut(bounds.name) {
                p.minimum = Some(bounds.min.into());
                p.maximum = Some(bounds.max.into());
            }
        }
    }
}

fn document_query_bounds<D: Dialect>(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::Schema;
    for item in openapi.paths.paths.values_mut() {
        for (_, op) in operations_mut(item) {
            if !op.tags.iter().flatten().any(|t| t == D::TAG) {
                continue;
            }
            for p in op.parameters.iter_mut().flatten().filter(|p| p.parameter_in == ParameterIn::Query) {
                let Some(bounds) = D::QUERY_INTS.iter().find(|b| b.name == p.name) else { continue };
                if let Some(RefOr::T(Schema::Object(schema))) = &mut p.schema {
                    schema.minimum = Some(bounds.min.into());
                    schema.maximum = Some(bounds.max.into());
                }
            }
        }
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
            // A write the read models do not show within the consistency wait (DESIGN §5) is
            // answered "accepted" (`Dialect::accepted`) instead of its usual answer. NexPort's
            // methods do not tell its writes from its reads (both take GET and POST): left out.
            if method != "get" && D::TAG != nexport::NexPort::TAG {
                let accepted = D::accepted(crate::kernel::write::Accepted { position: None, result: serde_json::Value::Null });
                op.responses.responses.entry(accepted.status().as_u16().to_string()).or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(
                                "Accepted: the write is in the log, but the read models did not show it within the wait \
                                 (`Roster-Consistency: pending`); the body holds its position.",
                            )
                            .build(),
                    )
                });
            }
        }
    }
}

pub fn document() -> serde_json::Value {
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
    QueryBounds.modify(&mut doc);
    RequiredTexts.modify(&mut doc);
    BulkLists.modify(&mut doc);
    MediaAnswers.modify(&mut doc);
    NullableFormats.modify(&mut doc);
    QueryRules.modify(&mut doc);
    SunbirdAliases.modify(&mut doc);
    OperationIds.modify(&mut doc);
    // The rules edit the JSON: some of what they state (a `oneOf` beside an object's
    // properties, XML names) has no place in utoipa's types.
    let mut json = serde_json::to_value(&doc).expect("the document is JSON");
    rules::apply(&mut json);
    json
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

    /// What the conformance run found next on `POST /api/posts` (ST201, 201 for `"links": "AAA"`):
    /// a list the handler takes as one string (`content::OneOrMany`) was documented as a list only.
    #[test]
    fn a_list_that_takes_one_string_says_so() {
        use serde_json::{json, Value};

        use crate::kernel::strict_json::from_value;
        use crate::workdrive::{group_chats::MessageBody, library::courses::CreateCourseBody, posts::PostBody};
        let doc = serde_json::to_value(document()).unwrap();
        let id = "0194a6c5-7f3e-7000-8000-000000000001";
        let cases: [(&str, &str, Value, bool); 7] = [
            ("PostBody", "links", json!("https://example.io"), from_value::<PostBody>(json!({"links": "https://example.io"})).is_ok()),
            ("CreatePostBody", "links", json!("https://example.io"), true),
            ("CreateNewsBody", "mention", json!(id), from_value::<PostBody>(json!({"mention": id})).is_ok()),
            ("NewsPatchBody", "tags", json!("news"), from_value::<PostBody>(json!({"tags": "news"})).is_ok()),
            ("MessageBody", "mention", json!(id), from_value::<MessageBody>(json!({"mention": id})).is_ok()),
            ("MessageBody", "fileId", json!(id), from_value::<MessageBody>(json!({"fileId": id})).is_ok()),
            (
                "CreateCourseBody",
                "categories",
                json!("Onboarding"),
                from_value::<CreateCourseBody>(json!({"categories": "Onboarding"})).is_ok(),
            ),
        ];
        for (schema, property, one, taken) in cases {
            assert!(taken, "{schema}.{property}: the handler's type does not take {one}");
            let documented = &doc["components"]["schemas"][schema]["properties"][property];
            let alternatives = documented["anyOf"].as_array().unwrap_or_else(|| panic!("{schema}.{property}: {documented}"));
            assert!(alternatives.iter().any(|a| a["type"] == "string"), "{schema}.{property}: {documented}");
            assert!(alternatives.iter().any(|a| a["type"] == "array"), "{schema}.{property}: {documented}");
        }
    }
}
