//! The domain/projection contract (issue #11): whatever a client sends to a write endpoint of any
//! dialect, the answer is a 4xx in that dialect's error shape or events that every projector
//! applies. Property tests generate bodies whose fields take edge values (null, empty, blank,
//! unicode, NUL, over-long, boundary numbers, wrong types, plausible values) and send them over
//! HTTP to a real Roster; afterwards no projection may have stopped or parked anything.
//!
//! A second test replays every event type the domain defines, with edge values generated from
//! its published payload schema, through every projector on a real Postgres.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use reqwest::{Method, StatusCode};
use roster_tests::{send, Options, Org, TestApp};
use serde_json::{json, Map, Value};

/// Cases per endpoint: enough to cover every edge value in every field a few times over.
const CASES: u32 = 64;

/// One value a client might put in any field.
fn edge_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => Just(Value::Null),
        3 => Just(json!("")),
        1 => Just(json!("   ")),
        1 => Just(json!("Valid 1")),
        1 => Just(json!("ACTIVE")),
        1 => Just(json!("active")),
        1 => Just(json!("名前 ✓ 😀 ǅ")),
        1 => Just(json!("a\u{0}b")),
        1 => Just(json!("x".repeat(5000))),
        1 => Just(json!("someone@example.com")),
        1 => Just(json!("2026-01-31T12:00:00Z")),
        1 => Just(json!("+200000-01-01T00:00:00")),
        1 => Just(json!(uuid::Uuid::new_v4().to_string())),
        1 => Just(json!(true)),
        1 => Just(json!(false)),
        1 => Just(json!(0)),
        1 => Just(json!(-1)),
        1 => Just(json!(i64::MAX)),
        1 => Just(json!(i64::MIN)),
        1 => Just(json!(u64::MAX)),
        1 => Just(json!(1e300)),
        1 => Just(json!([])),
        1 => Just(json!(["Valid 1"])),
        1 => Just(json!([null])),
        1 => Just(json!([{}])),
        1 => Just(json!({})),
        1 => "[a-zA-Z0-9 ]{0,12}".prop_map(Value::String),
    ]
}

/// One field of a generated body: absent, a value the endpoint accepts, or (when `edges`) an
/// edge value. Required fields are present unless replaced by an edge value.
fn field_value(valid: Option<BoxedStrategy<Value>>, required: bool, edges: bool) -> BoxedStrategy<Option<Value>> {
    let edge = || edge_value().prop_map(Some);
    match (valid, edges) {
        (Some(v), false) if required => v.prop_map(Some).boxed(),
        (Some(v), false) => prop_oneof![Just(None), v.prop_map(Some)].boxed(),
        (None, false) => Just(None).boxed(),
        (Some(v), true) if required => prop_oneof![3 => v.prop_map(Some), 1 => edge()].boxed(),
        (Some(v), true) => prop_oneof![2 => Just(None), 2 => v.prop_map(Some), 1 => edge()].boxed(),
        (None, true) => prop_oneof![2 => Just(None), 1 => edge()].boxed(),
    }
}

/// A body over `fields` (each absent, valid per `valid`, or an edge value) plus the `fixed` ids;
/// the `required` fields are present. A third of the bodies hold no edge value at all, so every
/// endpoint is also driven through its successful writes (and the projectors behind them).
fn body(
    fields: &'static [&'static str],
    required: &[&str],
    valid: &Valid,
    fixed: Map<String, Value>,
) -> impl Strategy<Value = Map<String, Value>> {
    let per_field = |edges: bool| -> Vec<BoxedStrategy<Option<Value>>> {
        fields
            .iter()
            .map(|f| field_value(valid.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone()), required.contains(f), edges))
            .collect()
    };
    prop_oneof![1 => per_field(false), 2 => per_field(true)].prop_map(move |values| {
        let mut m = fixed.clone();
        for (f, v) in fields.iter().zip(values) {
            if let Some(v) = v {
                m.insert((*f).to_string(), v);
            }
        }
        m
    })
}

/// Accepted values per field name.
type Valid = Vec<(&'static str, BoxedStrategy<Value>)>;

fn just(v: Value) -> BoxedStrategy<Value> {
    Just(v).boxed()
}

#[derive(Clone, Copy, Debug)]
enum Dialect {
    WorkDrive,
    PortSip,
    Publisher,
    Sunbird,
    NexPort,
    Roster,
    Scim,
}

impl Dialect {
    /// Whether `v` is this dialect's documented error body.
    fn is_error_shape(self, v: &Value) -> bool {
        match self {
            Dialect::WorkDrive => v["statusCode"].is_u64() && v["message"].is_string(),
            Dialect::PortSip => v["errors"][0]["code"].is_string(),
            Dialect::Publisher => v["error"]["code"].is_u64() && v["error"]["message"].is_string(),
            Dialect::Sunbird => v["params"]["status"] == "failed" && v["params"]["err"].is_string(),
            Dialect::NexPort => v["api_error_entity"].is_object(),
            Dialect::Roster => v["error"].is_string() && v["message"].is_string(),
            Dialect::Scim => {
                v["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error" && v["status"].is_string() && v["detail"].is_string()
            }
        }
    }
}

/// One write endpoint under test.
struct Endpoint {
    name: &'static str,
    dialect: Dialect,
    method: Method,
    path: String,
    fields: &'static [&'static str],
    /// Values the endpoint accepts, per field (fields without one only get edge values).
    valid: Valid,
    /// Fields without which the write never succeeds: kept present in most cases.
    required: &'static [&'static str],
    fixed: Map<String, Value>,
    /// Wraps the generated object into the request body (Publisher's `group`, Sunbird's `request`).
    wrap: fn(Map<String, Value>) -> Value,
}

fn plain(m: Map<String, Value>) -> Value {
    Value::Object(m)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

const USER_PATCH: &[&str] = &[
    "firstName",
    "lastName",
    "status",
    "phone",
    "isExpert",
    "availability",
    "fileId",
    "coverFileId",
    "reportsTo",
    "designation",
    "bio",
    "isDepartmentHead",
    "department",
    "location",
    "addAdditionalTeams",
    "removeAdditionalTeams",
    "addAdditionalLocations",
];
const USER_ADD: &[&str] = &[
    "email",
    "phone",
    "firstName",
    "lastName",
    "designation",
    "isDepartmentHead",
    "department",
    "location",
    "securityGroup",
    "reportsTo",
    "skill",
    "defaultVisibility",
    "addAdditionalTeams",
    "addAdditionalLocations",
    "userName",
    "password",
];
const ORG_PATCH: &[&str] = &["fileId", "name", "legalName", "websites", "address", "email", "phone", "description", "industry"];
const PORTSIP_GROUP: &[&str] = &["name", "outbound_caller_ids", "description"];
const PUBLISHER_GROUP: &[&str] = &["name", "users", "id"];
const SUNBIRD_UPDATE: &[&str] = &["name", "description", "status", "membershipType", "members", "activities"];
const NEXPORT_EDIT: &[&str] = &["first_name", "middle_name", "last_name", "title_prefix", "nickname", "email", "contact_info"];
const NEXPORT_CREATE_USER: &[&str] = &["login", "password", "first_name", "last_name", "email", "contact_info"];
const NEXPORT_CREATE_GROUP: &[&str] = &["name", "short_name", "description", "tracking"];
const NEXPORT_SUBSCRIPTION: &[&str] = &["utc_expiration_date"];
const SUNBIRD_CREATE: &[&str] = &["name", "description", "membershipType", "members", "activities"];
const PROFILE_FIELD: &[&str] = &["key", "name", "type"];
const ORG_UNIT_NAME: &[&str] = &["name"];
const DEPARTMENT_MEMBERS: &[&str] = &["addMembers", "removeMembers"];
const SCIM_USER: &[&str] = &["userName", "name", "displayName", "emails", "phoneNumbers", "title", "active", "externalId", "password"];
const SCIM_GROUP: &[&str] = &["displayName", "members"];
const SCIM_PATCH: &[&str] = &["schemas", "Operations"];

/// The fixture every endpoint writes to: one org with a user, a group, a department, a location.
struct Fixture {
    org: Org,
    user_id: String,
    portsip_group: String,
    group_uuid: String,
    group_number: i64,
    department: String,
    location: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let org = app.create_org("Contract").await;
    let user = app.add_user(&org, "member@contract.example.com").await;
    let user_id = user["id"].as_str().expect("user id").to_string();
    let portsip_group = app.create_group(&org, "Contract group").await;
    let (_, g) = send(app.req(Method::GET, &format!("/api/groups/{portsip_group}")).bearer_auth(&org.token)).await;
    assert!(g["name"].is_string(), "{g}");
    let (group_uuid, group_number): (uuid::Uuid, i64) =
        sqlx::query_as("SELECT id, number FROM rm_directory.groups LIMIT 1").fetch_one(&app.pool).await.expect("the group row");
    let (s, d) = send(
        app.wd(Method::POST, "/api/departments", &org.token)
            .json(&json!({ "name": "Dept", "members": [{ "id": org.admin_id, "isAdmin": true }] })),
    )
    .await;
    assert!(s.is_success(), "department: {d}");
    let (s, l) = send(
        app.wd(Method::POST, "/api/locations", &org.token)
            .json(&json!({ "name": "Loc", "members": [{ "id": org.admin_id, "isAdmin": true }] })),
    )
    .await;
    assert!(s.is_success(), "location: {l}");
    let department = d["id"].as_str().or(d["department"]["id"].as_str()).expect("department id").to_string();
    let location = l["id"].as_str().or(l["location"]["id"].as_str()).expect("location id").to_string();
    Fixture { org, user_id, portsip_group, group_uuid: group_uuid.to_string(), group_number, department, location }
}

fn endpoints(f: &Fixture) -> Vec<Endpoint> {
    let none = Map::new;
    let (admin, dept, loc) = (json!(f.org.admin_id), json!(f.department), json!(f.location));
    let email = || "[a-z]{10}@valid\\.example\\.com".prop_map(Value::String).boxed();
    let user_patch: Valid = vec![
        ("firstName", just(json!("Ann"))),
        ("lastName", just(json!("Lee"))),
        ("status", just(json!("ACTIVE"))),
        ("phone", just(json!("+1 555 0100"))),
        ("isExpert", just(json!(true))),
        ("availability", just(json!("AWAY"))),
        ("reportsTo", just(admin.clone())),
        ("designation", just(json!("Engineer"))),
        ("bio", just(json!("Hello"))),
        ("isDepartmentHead", just(json!(false))),
        ("department", just(dept.clone())),
        ("location", just(loc.clone())),
        ("addAdditionalTeams", just(json!([f.org.admin_id]))),
        ("removeAdditionalTeams", just(json!([f.org.admin_id]))),
        ("addAdditionalLocations", just(json!([f.location]))),
    ];
    let user_add: Valid = vec![
        ("email", email()),
        ("phone", just(json!("+1 555 0100"))),
        ("firstName", just(json!("Bo"))),
        ("lastName", just(json!("Ng"))),
        ("designation", just(json!("Engineer"))),
        ("isDepartmentHead", just(json!(false))),
        ("department", just(dept.clone())),
        ("location", just(loc.clone())),
        ("reportsTo", just(admin.clone())),
        ("skill", just(json!(["rust"]))),
        ("defaultVisibility", just(json!("public"))),
        ("addAdditionalTeams", just(json!([f.org.admin_id]))),
        ("addAdditionalLocations", just(json!([f.location]))),
        ("password", just(json!("a long password"))),
    ];
    let org_patch: Valid = vec![
        ("name", just(json!("Contract Inc"))),
        ("legalName", just(json!("Contract Incorporated"))),
        ("websites", just(json!(["https://example.com"]))),
        ("address", just(json!({ "street1": "1 Main St", "city": "Springfield" }))),
        ("email", just(json!("info@example.com"))),
        ("phone", just(json!("+1 555 0100"))),
        ("description", just(json!("We test"))),
        ("industry", just(json!("Software"))),
    ];
    let unit_name: Valid = vec![("name", "[A-Z][a-z]{3,10}".prop_map(Value::String).boxed())];
    let dept_members: Valid = vec![("addMembers", just(json!([{ "id": f.user_id }]))), ("removeMembers", just(json!([f.user_id])))];
    let portsip_group: Valid = vec![
        ("name", just(json!("Sales"))),
        ("outbound_caller_ids", just(json!([{ "provider_id": "p1", "caller_id": "100" }]))),
        ("description", just(json!("Sells"))),
    ];
    let publisher_group: Valid = vec![("name", just(json!("Support"))), ("users", just(json!([])))];
    let sunbird_update: Valid = vec![
        ("name", just(json!("Study group"))),
        ("description", just(json!("We study"))),
        ("status", just(json!("active"))),
        ("membershipType", just(json!("moderated"))),
        ("activities", just(json!({ "add": [{ "id": "do_1", "type": "Course" }] }))),
    ];
    let nexport_edit: Valid = vec![
        ("first_name", just(json!("Ann"))),
        ("middle_name", just(json!("B"))),
        ("last_name", just(json!("Lee"))),
        ("title_prefix", just(json!("Dr"))),
        ("nickname", just(json!("Annie"))),
        ("email", email()),
        ("contact_info", just(json!({ "city": "Springfield", "phone": "+1 555 0100" }))),
    ];
    let nexport_user: Valid = vec![
        ("login", "[a-z]{10}".prop_map(Value::String).boxed()),
        ("password", just(json!("a long password"))),
        ("first_name", just(json!("Cy"))),
        ("last_name", just(json!("Od"))),
        ("email", email()),
        ("contact_info", just(json!({ "address_line1": "1 Main St", "postal_code": "12345" }))),
    ];
    let nexport_group: Valid = vec![
        ("name", just(json!("Cohort"))),
        ("short_name", "[a-z]{12}".prop_map(Value::String).boxed()),
        ("description", just(json!("A cohort"))),
        ("tracking", just(json!("T-1"))),
    ];
    let nexport_subscription: Valid = vec![("utc_expiration_date", just(json!("2030-01-01T00:00:00Z")))];
    let sunbird_create: Valid = vec![
        ("name", just(json!("Study group"))),
        ("description", just(json!("We study"))),
        ("membershipType", just(json!("invite_only"))),
        ("members", just(json!([{ "userId": f.user_id, "role": "member" }]))),
        ("activities", just(json!([{ "id": "do_1", "type": "Course" }]))),
    ];
    let profile_field: Valid =
        vec![("key", "[a-z]{10}".prop_map(Value::String).boxed()), ("name", just(json!("Shoe size"))), ("type", just(json!("Number")))];
    let scim_user = |user_name: BoxedStrategy<Value>| -> Valid {
        vec![
            ("userName", user_name),
            ("name", just(json!({ "givenName": "Ann", "familyName": "Lee" }))),
            ("displayName", just(json!("Ann Lee"))),
            ("emails", email().prop_map(|e| json!([{ "value": e, "type": "work", "primary": true }])).boxed()),
            ("phoneNumbers", just(json!([{ "value": "+1 555 0100", "type": "work" }]))),
            ("title", just(json!("Engineer"))),
            ("active", just(json!(true))),
            ("password", just(json!("a long password"))),
        ]
    };
    let scim_user_new = scim_user("[a-z]{10}@scim\\.example\\.com".prop_map(Value::String).boxed());
    let scim_user_put = scim_user(just(json!("member@contract.example.com")));
    let scim_group: Valid = vec![("displayName", just(json!("Team"))), ("members", just(json!([{ "value": f.user_id }])))];
    let scim_patch = |op: Value| -> Valid {
        vec![("schemas", just(json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]))), ("Operations", just(json!([op])))]
    };
    let ep = |name, dialect, method, path: String, fields, valid, fixed, wrap| Endpoint {
        name,
        dialect,
        method,
        path,
        fields,
        valid,
        required: &[],
        fixed,
        wrap,
    };
    vec![
        ep(
            "WorkDrive PATCH /api/users/{id}",
            Dialect::WorkDrive,
            Method::PATCH,
            format!("/api/users/{}", f.user_id),
            USER_PATCH,
            user_patch,
            none(),
            plain,
        ),
        Endpoint {
            required: &["email", "firstName", "lastName"],
            ..ep(
                "WorkDrive POST /api/users/add",
                Dialect::WorkDrive,
                Method::POST,
                "/api/users/add".into(),
                USER_ADD,
                user_add,
                none(),
                plain,
            )
        },
        ep(
            "WorkDrive PATCH /api/organization/{id}",
            Dialect::WorkDrive,
            Method::PATCH,
            format!("/api/organization/{}", f.org.id),
            ORG_PATCH,
            org_patch,
            none(),
            plain,
        ),
        ep(
            "WorkDrive PATCH /api/departments/{id}",
            Dialect::WorkDrive,
            Method::PATCH,
            format!("/api/departments/{}", f.department),
            ORG_UNIT_NAME,
            unit_name.clone(),
            none(),
            plain,
        ),
        ep(
            "WorkDrive PATCH /api/departments/{id}/members",
            Dialect::WorkDrive,
            Method::PATCH,
            format!("/api/departments/{}/members", f.department),
            DEPARTMENT_MEMBERS,
            dept_members,
            none(),
            plain,
        ),
        ep(
            "WorkDrive PATCH /api/locations/{id}",
            Dialect::WorkDrive,
            Method::PATCH,
            format!("/api/locations/{}", f.location),
            ORG_UNIT_NAME,
            unit_name,
            none(),
            plain,
        ),
        ep(
            "PortSIP POST /api/groups/{id}",
            Dialect::PortSip,
            Method::POST,
            format!("/api/groups/{}", f.portsip_group),
            PORTSIP_GROUP,
            portsip_group.clone(),
            none(),
            plain,
        ),
        ep("PortSIP POST /api/groups", Dialect::PortSip, Method::POST, "/api/groups".into(), PORTSIP_GROUP, portsip_group, none(), plain),
        ep(
            "Publisher PUT /api/2/groups/{id}",
            Dialect::Publisher,
            Method::PUT,
            format!("/api/2/groups/{}", f.group_number),
            PUBLISHER_GROUP,
            publisher_group.clone(),
            none(),
            |m| json!({ "group": m }),
        ),
        ep(
            "Sunbird PATCH /api/group/v1/update",
            Dialect::Sunbird,
            Method::PATCH,
            "/api/group/v1/update".into(),
            SUNBIRD_UPDATE,
            sunbird_update,
            obj(json!({ "groupId": f.group_uuid })),
            |m| json!({ "request": m }),
        ),
        Endpoint {
            required: &["login", "password", "first_name", "last_name", "email"],
            ..ep(
                "NexPort CreateUser",
                Dialect::NexPort,
                Method::POST,
                "/api/v1/AdminApi/CreateUser".into(),
                NEXPORT_CREATE_USER,
                nexport_user,
                obj(json!({ "owner_org_id": f.org.id })),
                plain,
            )
        },
        Endpoint {
            required: &["name", "short_name"],
            ..ep(
                "NexPort CreateGroup",
                Dialect::NexPort,
                Method::POST,
                "/api/v1/AdminApi/CreateGroup".into(),
                NEXPORT_CREATE_GROUP,
                nexport_group,
                obj(json!({ "parent_id": f.org.id })),
                plain,
            )
        },
        ep(
            "NexPort CreateSubscription",
            Dialect::NexPort,
            Method::POST,
            "/api/v1/AdminApi/CreateSubscription".into(),
            NEXPORT_SUBSCRIPTION,
            nexport_subscription,
            obj(json!({ "org_id": f.org.id, "user_id": f.user_id })),
            plain,
        ),
        Endpoint {
            required: &["name"],
            ..ep(
                "Sunbird POST /api/group/v1/create",
                Dialect::Sunbird,
                Method::POST,
                "/api/group/v1/create".into(),
                SUNBIRD_CREATE,
                sunbird_create,
                none(),
                |m| json!({ "request": m }),
            )
        },
        Endpoint {
            required: &["name"],
            ..ep(
                "Publisher POST /api/2/groups",
                Dialect::Publisher,
                Method::POST,
                "/api/2/groups".into(),
                PUBLISHER_GROUP,
                publisher_group.clone(),
                none(),
                |m| json!({ "group": m }),
            )
        },
        Endpoint {
            required: &["key", "name", "type"],
            ..ep(
                "Roster POST /profile-fields",
                Dialect::Roster,
                Method::POST,
                "/profile-fields".into(),
                PROFILE_FIELD,
                profile_field,
                obj(json!({ "org_id": f.org.id })),
                plain,
            )
        },
        Endpoint {
            required: &["userName"],
            ..ep("SCIM POST /scim/v2/Users", Dialect::Scim, Method::POST, "/scim/v2/Users".into(), SCIM_USER, scim_user_new, none(), plain)
        },
        Endpoint {
            required: &["userName"],
            ..ep(
                "SCIM PUT /scim/v2/Users/{id}",
                Dialect::Scim,
                Method::PUT,
                format!("/scim/v2/Users/{}", f.user_id),
                SCIM_USER,
                scim_user_put,
                none(),
                plain,
            )
        },
        Endpoint {
            required: &["Operations"],
            ..ep(
                "SCIM PATCH /scim/v2/Users/{id}",
                Dialect::Scim,
                Method::PATCH,
                format!("/scim/v2/Users/{}", f.user_id),
                SCIM_PATCH,
                scim_patch(json!({ "op": "replace", "path": "title", "value": "Boss" })),
                none(),
                plain,
            )
        },
        Endpoint {
            required: &["displayName"],
            ..ep("SCIM POST /scim/v2/Groups", Dialect::Scim, Method::POST, "/scim/v2/Groups".into(), SCIM_GROUP, scim_group, none(), plain)
        },
        Endpoint {
            required: &["Operations"],
            ..ep(
                "SCIM PATCH /scim/v2/Groups/{id}",
                Dialect::Scim,
                Method::PATCH,
                format!("/scim/v2/Groups/{}", f.group_uuid),
                SCIM_PATCH,
                scim_patch(json!({ "op": "add", "path": "members", "value": [{ "value": f.user_id }] })),
                none(),
                plain,
            )
        },
        ep(
            "NexPort EditUser",
            Dialect::NexPort,
            Method::POST,
            "/api/v1/AdminApi/EditUser".into(),
            NEXPORT_EDIT,
            nexport_edit,
            obj(json!({ "user_id": f.user_id })),
            plain,
        ),
    ]
}

/// Adds the caller's token where the endpoint's dialect expects it.
fn authorized(app: &TestApp, e: &Endpoint, token: &str) -> reqwest::RequestBuilder {
    let rb = app.req(e.method.clone(), &e.path);
    match e.dialect {
        Dialect::WorkDrive => rb.header("X-API-KEY", token),
        Dialect::PortSip | Dialect::Publisher | Dialect::Roster | Dialect::Scim => rb.bearer_auth(token),
        Dialect::Sunbird => rb.header("x-authenticated-user-token", token).bearer_auth(token),
        Dialect::NexPort => rb.query(&[("access_token", token)]),
    }
}

/// Fails when a projection stopped or holds an event it could not apply.
async fn assert_projections_healthy(app: &TestApp) {
    let stopped: Vec<(String, String)> = sqlx::query_as("SELECT name, status FROM projection_checkpoints WHERE status <> 'running'")
        .fetch_all(&app.pool)
        .await
        .expect("checkpoints");
    assert!(stopped.is_empty(), "projections not running: {stopped:?}");
    let failures: Vec<(String, String)> =
        sqlx::query_as("SELECT projection, error FROM projection_failures").fetch_all(&app.pool).await.expect("failures");
    assert!(failures.is_empty(), "events a projector could not apply: {failures:?}");
    let parked: Vec<(String, String)> =
        sqlx::query_as("SELECT event_type, error FROM parked_events").fetch_all(&app.pool).await.expect("parked events");
    assert!(parked.is_empty(), "events parked: {parked:?}");
}

/// Every write endpoint of every dialect, under generated bodies: a 4xx in the dialect's shape,
/// or a write the read models apply (the answer waits for them and carries no consistency warning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_body_stops_a_projection_in_any_dialect() {
    let app = TestApp::spawn_with(Options { consistency_timeout: Duration::from_secs(5), ..Options::default() }).await;
    let f = fixture(&app).await;
    let rt = tokio::runtime::Handle::current();
    for e in endpoints(&f) {
        let tally = std::sync::Mutex::new((0u32, 0u32));
        let mut runner = TestRunner::new(PropConfig { cases: CASES, failure_persistence: None, ..PropConfig::default() });
        let outcome = tokio::task::block_in_place(|| {
            runner.run(&body(e.fields, e.required, &e.valid, e.fixed.clone()), |generated| {
                let payload = (e.wrap)(generated);
                rt.block_on(async {
                    let resp = authorized(&app, &e, &f.org.token).json(&payload).send().await.expect("http");
                    let status = resp.status();
                    let consistency = resp.headers().get("roster-consistency").map(|v| v.to_str().unwrap_or("?").to_string());
                    let bytes = resp.bytes().await.expect("body");
                    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    prop_assert!(!status.is_server_error(), "{}: {status} for {payload}: {v}", e.name);
                    let mut t = tally.lock().expect("tally");
                    if status.is_success() {
                        t.0 += 1
                    } else {
                        t.1 += 1
                    }
                    drop(t);
                    if status.is_client_error() {
                        prop_assert!(e.dialect.is_error_shape(&v), "{}: {status} not in the dialect's error shape: {v}", e.name);
                    } else {
                        prop_assert!(consistency.is_none(), "{}: {status} with Roster-Consistency {consistency:?} for {payload}", e.name);
                    }
                    Ok::<(), TestCaseError>(())
                })
            })
        });
        if let Err(err) = outcome {
            panic!("{}: {err}", e.name);
        }
        // Both kinds of outcome were exercised, or the generator missed the endpoint's rules.
        let (ok, refused) = *tally.lock().expect("tally");
        assert!(ok > 0 && refused > 0, "{}: {ok} writes accepted, {refused} refused", e.name);
    }
    assert_projections_healthy(&app).await;
    // The two requests of the issue: answered as the spec decides, and they change nothing else.
    let (s, _) =
        send(app.ps(Method::POST, &format!("/api/groups/{}", f.portsip_group), &f.org.token).json(&json!({ "outbound_caller_ids": null })))
            .await;
    assert_eq!(s, StatusCode::OK);
    let (_, g) = send(app.ps(Method::GET, &format!("/api/groups/{}", f.portsip_group), &f.org.token)).await;
    assert_eq!(g["outbound_caller_ids"], json!([]), "null clears the list: {g}");
    let (s, u) = send(app.wd(Method::PATCH, &format!("/api/users/{}", f.user_id), &f.org.token).json(&json!({ "isExpert": null }))).await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["isExpert"], json!(false), "null resets the flag: {u}");
    assert_projections_healthy(&app).await;
}

/// How an instance of a payload schema is filled.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Edge {
    /// Only required properties; `null` where allowed; empty strings and lists; minimum numbers;
    /// the first enum value.
    Low,
    /// Every property, `null` wherever the schema allows it, the rest as `Low`.
    Null,
    /// Every property; values where allowed; long unicode strings; lists of several items;
    /// maximum numbers; the last enum value.
    High,
}

/// Longest string generated: the longest text any field accepts.
const LONG: usize = domain::values::MAX_TEXT_LEN;

/// An instance of `schema` at the `edge` end, resolving `$ref`s in `components`.
fn instance(schema: &Value, edge: Edge, components: &Map<String, Value>) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        return instance(components.get(name).unwrap_or(&Value::Null), edge, components);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema[key].as_array() {
            let non_null: Vec<&Value> = alts.iter().filter(|a| a["type"] != "null").collect();
            let has_null = non_null.len() < alts.len();
            return match (edge, has_null) {
                (Edge::Low | Edge::Null, true) => Value::Null,
                (Edge::Low | Edge::Null, false) => instance(non_null.first().copied().unwrap_or(&Value::Null), edge, components),
                (Edge::High, _) => instance(non_null.last().copied().unwrap_or(&Value::Null), edge, components),
            };
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for p in parts {
            if let Value::Object(m) = instance(p, edge, components) {
                merged.extend(m);
            }
        }
        return Value::Object(merged);
    }
    if let Some(values) = schema["enum"].as_array() {
        let non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
        return match edge {
            Edge::Low | Edge::Null if values.iter().any(Value::is_null) => Value::Null,
            Edge::Low | Edge::Null => non_null.first().map(|v| (*v).clone()).unwrap_or(Value::Null),
            Edge::High => non_null.last().map(|v| (*v).clone()).unwrap_or(Value::Null),
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let nullable = types.contains(&"null") || schema["nullable"] == true;
    if edge != Edge::High && nullable {
        return Value::Null;
    }
    let format = schema["format"].as_str().unwrap_or_default();
    let ty = types.iter().find(|t| **t != "null").copied().unwrap_or(if schema["properties"].is_object() { "object" } else { "" });
    match ty {
        "object" => {
            let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let mut m = Map::new();
            for (k, s) in schema["properties"].as_object().into_iter().flatten() {
                if edge != Edge::Low || required.contains(&k.as_str()) {
                    m.insert(k.clone(), instance(s, edge, components));
                }
            }
            if edge == Edge::High {
                if let Some(extra) = schema["additionalProperties"].as_object() {
                    m.insert("key ✓".into(), instance(&Value::Object(extra.clone()), edge, components));
                }
            }
            Value::Object(m)
        }
        "array" => match edge {
            Edge::Low | Edge::Null => json!([]),
            Edge::High => {
                let item = &schema["items"];
                // Distinct items (lists of ids are sets in the domain).
                json!([instance(item, edge, components), instance(item, Edge::Low, components)])
            }
        },
        "string" => match (format, edge) {
            ("uuid", Edge::High) => json!(uuid::Uuid::max()),
            ("uuid", _) => json!(uuid::Uuid::nil()),
            ("date-time", Edge::High) => json!("9999-12-31T23:59:59.999999Z"),
            ("date-time", _) => json!("0001-01-01T00:00:00Z"),
            ("date", Edge::High) => json!("9999-12-31"),
            ("date", _) => json!("0001-01-01"),
            ("email", _) => json!("a@b.co"),
            (_, Edge::High) => json!("é😀".repeat(LONG / 2)),
            (_, _) => json!(""),
        },
        "integer" => {
            let (lo, hi) = match format {
                "int32" => (i64::from(i32::MIN), i64::from(i32::MAX)),
                _ => (i64::MIN, i64::MAX),
            };
            let lo = schema["minimum"].as_i64().unwrap_or(lo);
            let hi = schema["maximum"].as_i64().map_or(hi, |m| m.min(hi));
            json!(if edge == Edge::Low { lo } else { hi })
        }
        "number" => json!(if edge == Edge::Low { f64::MIN } else { f64::MAX }),
        "boolean" => json!(edge == Edge::High),
        _ => match edge {
            Edge::High => json!("any"),
            _ => Value::Null,
        },
    }
}

/// Every event type the domain defines, filled with edge values from its published payload
/// schema, goes through every projector on a real Postgres (after its stream's first event, so
/// updates meet a row). A payload the domain's types do not accept is skipped and counted: the
/// published schema and serde must agree on at least one instance of every event type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_type_with_edge_values_applies_in_every_projection() {
    let app = TestApp::spawn().await;
    let streams = api::asyncapi::streams();
    let mut components = Map::new();
    for s in &streams {
        for (name, schema) in &s.components {
            components.insert(name.clone(), schema.clone());
        }
    }
    let mut failures = Vec::new();
    let mut undecodable: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut applied = 0;
    for stream in &streams {
        let (first_type, first_schema) = &stream.events[0];
        for (event_type, schema) in &stream.events {
            for edge in [Edge::Low, Edge::Null, Edge::High] {
                let stream_id = uuid::Uuid::new_v4();
                let mut seed = instance(first_schema, edge, &components);
                // A creation names its entity as the stream does, so later events meet its row.
                if let Some(id) = seed.get_mut("id") {
                    *id = json!(stream_id);
                }
                let payload = instance(schema, edge, &components);
                let envelope = |version: i32, event_type: &str, payload: Value| commands::Envelope {
                    event_id: uuid::Uuid::new_v4(),
                    position: commands::Position::new(1, i64::from(version)),
                    org_id: Some(uuid::Uuid::new_v4()),
                    stream_type: stream.stream_type.to_string(),
                    stream_id,
                    version,
                    event_type: event_type.to_string(),
                    schema_rev: 1,
                    recorded_at: chrono::Utc::now(),
                    metadata: json!({}),
                    payload,
                };
                let mut events = vec![envelope(1, first_type, seed)];
                if event_type != first_type {
                    events.push(envelope(2, event_type, payload));
                }
                for projection in projections::ALL {
                    let mut tx = app.pool.begin().await.expect("begin");
                    for ev in &events {
                        // The stored shape is what the domain would write: decode, then re-encode.
                        match projection.apply(&mut tx, ev).await {
                            Ok(()) => applied += 1,
                            Err(projections::ApplyError::Decode { event_type, source }) => {
                                undecodable.entry(event_type).or_default().push(format!("{edge:?}: {source}"));
                                break;
                            }
                            Err(e) => {
                                failures.push(format!(
                                    "{} {} {edge:?} in {}: {e}\n  payload: {}",
                                    stream.stream_type, ev.event_type, projection.name, ev.payload
                                ));
                                break;
                            }
                        }
                    }
                    tx.rollback().await.expect("rollback");
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} event(s) no projector could store:\n{}", failures.len(), failures.join("\n"));
    // Every event type decoded at one edge at least, so each was really applied.
    let both_failed: Vec<_> = undecodable.iter().filter(|(_, why)| why.len() >= 3).collect();
    assert!(both_failed.is_empty(), "published schemas the domain cannot decode at any edge: {both_failed:#?}");
    assert!(applied > 0);
}
