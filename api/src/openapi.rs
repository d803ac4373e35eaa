//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{portsip, roster, workdrive};

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
        roster::healthz,
        roster::readyz,
        roster::openapi,
        roster::metrics,
        roster::asyncapi,
        roster::events,
        roster::stream_events,
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

pub fn document() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}
