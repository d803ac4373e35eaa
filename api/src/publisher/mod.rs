//! HighQ Publisher user groups (spec/publisher-groups.md): `/api/2/groups*`, JSON or XML both
//! ways (chosen by `Accept` and `Content-Type`), produced and parsed by quick-xml's serde support.
//! Token in `Authorization: Bearer`; ids are the group's and users' integer `number` (DESIGN §7).

mod body;
mod format;
mod list;
mod shared;
mod views;
mod writes;

pub use body::*;
pub use format::*;
pub use list::*;
use shared::*;
pub use views::*;
pub use writes::*;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use commands::handlers::group as group_cmd;
use domain::group::{MemberRole, NewMember};
use domain::{GroupId, OrgId, UserId};
use projections::publisher::GroupSort;
use projections::queries::{self, GroupRow, PublisherListQuery, UserRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::kernel::auth::{authenticate, bearer_header, Principal};
use crate::kernel::dialect::IntBounds;
use crate::kernel::dialect::{self, Dialect};
use crate::kernel::error::ApiError;
use crate::kernel::write::{Accepted, WriteMeta};
use crate::AppState;

pub const DEFAULT_LIMIT: i64 = 200;
pub const MAX_LIMIT: i64 = 1000;
pub const LIMIT: IntBounds = IntBounds { name: "limit", min: 0, max: MAX_LIMIT };
pub const OFFSET: IntBounds = IntBounds { name: "offset", min: 0, max: crate::kernel::dialect::MAX_OFFSET };
/// `createddate` as the v5.0 example shows it.
pub const DATE_FORMAT: &str = "%d-%m-%Y %H:%M:%S:%3f";
/// The fields `fields=` may name; `all` means every one of them.
pub const KNOWN_FIELDS: &[&str] = &["id", "name", "link", "users", "createddate", "modifieddate", "organisationcount"];
const SUMMARY_FIELDS: &[&str] = &["id", "name", "link"];
const FULL_FIELDS: &[&str] = &["id", "name", "users", "createddate", "organisationcount"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/2/groups", get(list_groups).post(create_group))
        .route("/api/2/groups/{id}", get(read_group).put(replace_group).delete(delete_group))
        .route("/api/2/groups/{id}/users", put(add_users))
        .route_layer(axum::middleware::from_fn(formatted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publisher_meets_only_one_word_domain_field_names() {
        use crate::kernel::dialect::Dialect;
        crate::kernel::fields::assert_covers(Publisher::FIELD_NAMES, &[domain::error::fields::GROUP]);
    }

    #[test]
    fn sort_keys_come_only_from_the_allow_list() {
        assert_eq!(order_by("-name,+created").unwrap(), "g.name DESC, g.created_at ASC");
        assert_eq!(order_by(" updated").unwrap(), "g.updated_at ASC");
        assert!(order_by("name;drop table groups").is_err());
    }

    #[test]
    fn date_ranges_cover_whole_days() {
        let now = Utc::now();
        let (a, b) = date_range("createdDate", "20170801,20171004", now).unwrap();
        assert_eq!(a.to_rfc3339(), "2017-08-01T00:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2017-10-05T00:00:00+00:00");
        assert!(date_range("createdDate", "2017-08-01", now).is_err());
    }

    #[test]
    fn xml_users_are_user_elements() {
        let xml = quick_xml::se::to_string_with_root("group", &xml_shape(json!({"id": 3, "users": [4, 5]}))).unwrap();
        assert!(xml.contains("<users><user>4</user><user>5</user></users>"), "{xml}");
    }
}
