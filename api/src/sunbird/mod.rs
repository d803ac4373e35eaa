//! Sunbird Lern groups-service and its group activity aggregator (spec/sunbird-groups.md).
//! The user token travels in `x-authenticated-user-token` (a Roster token, DESIGN §6); bodies are
//! `{id, ver, ts, params, request}` envelopes; answers are groups-service envelopes with `GS_*`
//! codes, except the aggregator, which answers in lms-service's envelope. Ids are UUIDs.

mod activity;
mod caller;
mod envelope;
mod groups;
mod membership;
mod parse;
mod views;

pub use activity::*;
use caller::*;
pub use envelope::*;
pub use groups::*;
pub use membership::*;
use parse::*;
use views::*;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, on, post, MethodFilter, MethodRouter};
use axum::Router;
use chrono::{DateTime, Utc};
use commands::handlers::group as group_cmd;
use domain::group::{
    authorize_change, Activity, ActivityChanges, Actor, Denial, GroupChange, GroupPatch, GroupStatus, Issue, MemberChanges, MemberRole,
    MembershipType, NewMember, MAX_ACTIVITIES_PER_GROUP, MAX_GROUPS_PER_USER, MAX_MEMBERS_PER_GROUP,
};
use domain::patch::Patch;
use domain::{DomainError, GroupId, OrgId, UserId};
use projections::queries::{self, GroupRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::kernel::auth::{authenticate, Principal};
use crate::kernel::consistency::{mark_failed, mark_pending, Settled};
use crate::kernel::dialect::Dialect;
use crate::kernel::error::ApiError;
use crate::kernel::fields::FieldNames;
use crate::kernel::idempotency::OwnKey;
use crate::kernel::request_id::ClientRequestId;
use crate::kernel::write::{Accepted, Ctx, WriteMeta};
use crate::AppState;

pub const NAME: &str = Sunbird::NAME;

/// Sunbird's dialect. Its handlers answer in each operation's own codes (see [`Op`]); this
/// shape is for what no operation answers: a write's context and the kernel's rejections.
pub struct Sunbird;

impl Dialect for Sunbird {
    const NAME: &'static str = "sunbird";
    const TAG: &'static str = "Sunbird";
    const ERROR_SCHEMA: Option<&'static str> = Some("SunbirdResponse");

    fn token(parts: &Parts) -> Option<&str> {
        header(&parts.headers, "x-authenticated-user-token")
    }

    /// Sunbird's camelCase (`activityId`, `completedCount`).
    const FIELD_NAMES: FieldNames =
        &[("activity_id", "activityId"), ("activity_type", "activityType"), ("completed_count", "completedCount")];

    fn render(err: &ApiError) -> Response {
        let f = match err {
            ApiError::Unauthorized(_) | ApiError::Forbidden(_) => unauthorized(),
            ApiError::Unavailable => unavailable(),
            other => Fail::new(other.status(), "CLIENT_ERROR", other.message()),
        };
        let env = Envelope { api_id: "api.group".into(), msgid: Uuid::new_v4().to_string(), ver: None };
        envelope_response(&env, Err(f))
    }
}

/// The `ts` and date format of every Sunbird answer: `2020-12-01 20:52:25:226+0000`.
pub const TS_FORMAT: &str = "%Y-%m-%d %H:%M:%S:%3f%z";

/// The path prefixes Sunbird is served under (open question 1): public, OpenAPI-server-relative, backend.
const GROUP_PREFIXES: [&str; 2] = ["/api/group/v1", "/group/v1"];
const AGG_PATHS: [&str; 3] = ["/api/data/v1/group/activity/agg", "/data/v1/group/activity/agg", "/v1/group/activity/agg"];
pub const MEMBERSHIP_PATHS: [&str; 3] = ["/api/group/membership/v1/update", "/group/membership/v1/update", "/v1/group/membership/update"];

pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for p in GROUP_PREFIXES {
        r = r
            .route(&format!("{p}/create"), only(post(create_group)))
            .route(&format!("{p}/update"), only(axum::routing::patch(update_group)))
            .route(&format!("{p}/list"), only(post(list_groups)))
            .route(&format!("{p}/delete"), only(post(delete_group)))
            .route(&format!("{p}/read/{{group_id}}"), only(get(read_group)));
    }
    r = r
        .route("/v1/group/create", only(post(create_group)))
        .route("/v1/group/update", only(axum::routing::patch(update_group)))
        .route("/v1/group/list", only(post(list_groups)))
        .route("/v1/group/delete", only(post(delete_group)))
        .route("/v1/group/read/{group_id}", only(get(read_group)));
    for p in MEMBERSHIP_PATHS {
        // The doc says POST, the service's routes say PATCH: take both everywhere.
        r = r.route(p, only(on(MethodFilter::POST.or(MethodFilter::PATCH), update_membership)));
    }
    for p in AGG_PATHS {
        r = r.route(p, only(post(activity_agg)));
    }
    // Anything else under the Sunbird prefixes is answered in Sunbird's envelope, not as bare 404.
    for p in ["/api/group/{*rest}", "/group/{*rest}", "/v1/group/{*rest}", "/api/data/{*rest}", "/data/{*rest}"] {
        r = r.route(p, any(unknown_route));
    }
    r
}

fn only(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(wrong_method)
}

// ----- unknown routes -----------------------------------------------------------------------------

fn api_id_of(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic())).collect();
    let segs: Vec<&str> = segs.into_iter().filter(|s| *s != "api").collect();
    format!("api.{}", segs.join("."))
}

async fn unknown_route(parts: Parts) -> Response {
    let env = Envelope {
        api_id: api_id_of(parts.uri.path()),
        msgid: msgid(&parts.headers, parts.extensions.get::<ClientRequestId>().is_some()),
        ver: None,
    };
    let message = format!("{} {} is not a valid route", parts.method, parts.uri.path());
    envelope_response(&env, Err(Fail::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", message)))
}

async fn wrong_method(parts: Parts) -> Response {
    let env = Envelope {
        api_id: api_id_of(parts.uri.path()),
        msgid: msgid(&parts.headers, parts.extensions.get::<ClientRequestId>().is_some()),
        ver: None,
    };
    let message = format!("method {} is not allowed on {}", parts.method, parts.uri.path());
    envelope_response(&env, Err(Fail::new(StatusCode::METHOD_NOT_ALLOWED, "RESOURCE_NOT_FOUND", message)))
}

/// The OpenAPI paths of the aliases (open question 1): each alias documents what its public path does.
pub const ALIASES: &[(&str, &[&str])] = &[
    ("/api/group/v1/create", &["/group/v1/create", "/v1/group/create"]),
    ("/api/group/v1/update", &["/group/v1/update", "/v1/group/update"]),
    ("/api/group/v1/list", &["/group/v1/list", "/v1/group/list"]),
    ("/api/group/v1/delete", &["/group/v1/delete", "/v1/group/delete"]),
    ("/api/group/v1/read/{groupId}", &["/group/v1/read/{groupId}", "/v1/group/read/{groupId}"]),
    ("/api/group/membership/v1/update", &["/group/membership/v1/update", "/v1/group/membership/update"]),
    ("/api/data/v1/group/activity/agg", &["/data/v1/group/activity/agg", "/v1/group/activity/agg"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_field_names_are_spelled_as_sunbird_documents_them() {
        use domain::error::fields;
        crate::kernel::fields::assert_covers(Sunbird::FIELD_NAMES, &[fields::GROUP, fields::ACTIVITY]);
    }

    #[test]
    fn ts_has_sunbirds_format() {
        let t = DateTime::parse_from_rfc3339("2020-12-01T20:52:25.226Z").unwrap().with_timezone(&Utc);
        assert_eq!(ts(t), "2020-12-01 20:52:25:226+0000");
    }

    #[test]
    fn route_ids_join_alphabetic_segments() {
        assert_eq!(api_id_of("/api/group/v1/nope"), "api.group.nope");
        assert_eq!(api_id_of("/v1/group/x"), "api.group.x");
    }
}
