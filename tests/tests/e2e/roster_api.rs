//! Roster's own endpoints: health, readiness, the OpenAPI document, `/events`, read-your-writes.

use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, TestApp};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let resp = send_raw(app.req(Method::GET, "/healthz")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("x-request-id").is_some(), "every answer carries its request id");
    let (status, v) = send(app.req(Method::GET, "/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["ready"], true);
    let names: Vec<&str> = v["projections"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["content", "directory"], "every projection reports: {v}");
    // A stopped projection makes the service unready.
    sqlx::query("UPDATE projection_checkpoints SET status = 'stopped'").execute(&app.pool).await.unwrap();
    let (status, v) = send(app.req(Method::GET, "/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["ready"], false);
}

/// The served document is valid OpenAPI to a third-party validator (`openapi-spec-validator`,
/// installed by scripts/install-deps), so code generators and tools accept it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_passes_openapi_spec_validator() {
    let app = TestApp::spawn().await;
    let (status, doc) = send(app.req(Method::GET, "/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let path = std::env::temp_dir().join(format!("roster-openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, doc.to_string()).unwrap();
    let validator = roster_tests::pypi_tool("openapi-spec-validator");
    let out =
        std::process::Command::new(&validator).arg(&path).output().expect("openapi-spec-validator (scripts/install-deps installs it)");
    let _ = std::fs::remove_file(&path);
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "openapi-spec-validator rejects /openapi.json:\n{report}");
}

/// `/docs` renders the reference in a real browser (headless Chromium, installed by
/// scripts/install-deps) from assets the binary serves itself, and lists every dialect's operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_lists_every_dialects_operations_in_a_browser() {
    let app = TestApp::spawn().await;
    let page = send_raw(app.req(Method::GET, "/docs")).await.text().await.unwrap();
    // Nothing from elsewhere: every script and stylesheet is one of Roster's own paths.
    for attr in ["src=\"", "href=\""] {
        for link in page.split(attr).skip(1) {
            assert!(link.starts_with('/'), "/docs loads {link:.40} from elsewhere");
        }
    }
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| std::process::Command::new(c).arg("--version").output().is_ok());
    let chromium = chromium.expect("chromium (scripts/install-deps installs it)");
    let url = format!("{}/docs", app.url);
    let tags = ["WorkDrive", "PortSIP", "Sunbird", "Publisher", "NexPort", "Roster", "SCIM"];
    // The page renders after it fetched and parsed the document; on a loaded machine that may
    // outlast one virtual-time budget, so a longer one is tried before giving up. Swagger UI
    // renders only the operations in view: the window is tall enough to hold them all.
    let mut dom = String::new();
    for budget_ms in [20_000, 60_000, 120_000] {
        let (chromium, url) = (chromium.to_string(), url.clone());
        let profile = std::env::temp_dir().join(format!("roster-chromium-{}", uuid::Uuid::new_v4()));
        let dir = profile.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(chromium)
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,40000", "--dump-dom"])
                .arg(format!("--virtual-time-budget={budget_ms}"))
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(url)
                .output()
        })
        .await
        .unwrap()
        .expect("run chromium");
        let _ = std::fs::remove_dir_all(&dir);
        dom = String::from_utf8_lossy(&out.stdout).into_owned();
        if tags.iter().all(|tag| dom.contains(&format!("data-tag=\"{tag}\""))) {
            break;
        }
    }
    for tag in tags {
        let rendered = dom.split("id=\"swagger-ui\"").nth(1).unwrap_or(&dom);
        assert!(dom.contains(&format!("data-tag=\"{tag}\"")), "/docs shows no {tag} section; it rendered: {:.2000}", rendered);
    }
    // Every documented path is listed.
    let (_, doc) = send(app.req(Method::GET, "/openapi.json")).await;
    for path in doc["paths"].as_object().unwrap().keys() {
        assert!(dom.contains(&format!("data-path=\"{path}\"")), "/docs lists no {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_route_with_schemas() {
    let app = TestApp::spawn().await;
    let (status, doc) = send(app.req(Method::GET, "/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let routes = [
        ("post", "/api/organization"),
        ("patch", "/api/organization/{id}"),
        ("post", "/api/token/generate-access"),
        ("get", "/api/users"),
        ("post", "/api/users/add"),
        ("patch", "/api/users/{id}"),
        ("delete", "/api/users/{id}"),
        ("get", "/api/departments"),
        ("post", "/api/departments"),
        ("patch", "/api/departments/{id}/admin"),
        ("post", "/api/departments/{id}/members"),
        ("patch", "/api/departments/{id}/members"),
        ("get", "/api/departments/{id}/members"),
        ("patch", "/api/departments/{id}"),
        ("delete", "/api/departments/{id}"),
        ("get", "/api/locations"),
        ("post", "/api/locations"),
        ("post", "/api/locations/{id}/members"),
        ("patch", "/api/locations/{id}/members"),
        ("get", "/api/locations/{id}/members"),
        ("patch", "/api/locations/{id}"),
        ("delete", "/api/locations/{id}"),
        ("get", "/api/sso"),
        ("post", "/api/sso"),
        ("get", "/api/users/supervisors"),
        ("post", "/api/users/bulk-create"),
        ("delete", "/api/users/bulk-delete"),
        ("get", "/api/security_groups"),
        ("post", "/api/security_groups/{groupId}/members"),
        ("delete", "/api/security_groups/{groupId}/members"),
        ("get", "/api/events"),
        ("post", "/api/events"),
        ("post", "/api/events/meeting"),
        ("patch", "/api/events/{id}"),
        ("delete", "/api/events/{id}"),
        ("post", "/api/events/{id}/rsvp"),
        ("get", "/api/events.ics"),
        ("get", "/api/media"),
        ("post", "/api/media"),
        ("get", "/api/media/{id}"),
        ("get", "/api/groups"),
        ("post", "/api/groups"),
        ("get", "/api/groups/{id}"),
        ("post", "/api/groups/{id}"),
        ("post", "/api/groups/{id}/destroy"),
        ("get", "/api/groups/{id}/members"),
        ("post", "/api/groups/{id}/members/{extension_number}"),
        ("get", "/api/groups/{id}/members/{extension_number}"),
        ("post", "/api/groups/{id}/members/{extension_number}/destroy"),
        ("post", "/api/login"),
        ("post", "/api/group/v1/create"),
        ("post", "/group/v1/create"),
        ("post", "/v1/group/create"),
        ("patch", "/api/group/v1/update"),
        ("patch", "/group/v1/update"),
        ("patch", "/v1/group/update"),
        ("post", "/api/group/v1/list"),
        ("post", "/group/v1/list"),
        ("post", "/v1/group/list"),
        ("post", "/api/group/v1/delete"),
        ("post", "/group/v1/delete"),
        ("post", "/v1/group/delete"),
        ("get", "/api/group/v1/read/{groupId}"),
        ("get", "/group/v1/read/{groupId}"),
        ("get", "/v1/group/read/{groupId}"),
        ("post", "/api/group/membership/v1/update"),
        ("patch", "/api/group/membership/v1/update"),
        ("post", "/group/membership/v1/update"),
        ("patch", "/group/membership/v1/update"),
        ("post", "/v1/group/membership/update"),
        ("patch", "/v1/group/membership/update"),
        ("post", "/api/data/v1/group/activity/agg"),
        ("post", "/data/v1/group/activity/agg"),
        ("post", "/v1/group/activity/agg"),
        ("get", "/api/2/groups"),
        ("post", "/api/2/groups"),
        ("get", "/api/2/groups/{id}"),
        ("put", "/api/2/groups/{id}"),
        ("delete", "/api/2/groups/{id}"),
        ("put", "/api/2/groups/{id}/users"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/openapi.json"),
        ("get", "/events"),
        ("get", "/streams/{stream_type}/{stream_id}/events"),
        ("get", "/api/v1/AdminApi/ValidateAccessToken"),
        ("get", "/api/v1/AdminApi/GetUser"),
        ("get", "/api/v1/AdminApi/GetUsers"),
        ("get", "/api/v1/AdminApi/GetUserContactInformation"),
        ("get", "/api/v1/AdminApi/GetOrganizations"),
        ("get", "/api/v1/AdminApi/GetSubscription"),
        ("get", "/api/v1/AdminApi/GetSubscriptions"),
        ("get", "/api/v1/AdminApi/GetCustomProfileFields"),
        ("get", "/api/v1/AdminApi/GetCustomProfileFieldValues"),
        ("post", "/api/v1/AdminApi/Authenticate"),
        ("post", "/api/v1/AdminApi/AuthenticateUser"),
        ("post", "/api/v1/AdminApi/CreateUser"),
        ("post", "/api/v1/AdminApi/EditUser"),
        ("post", "/api/v1/AdminApi/CreateSubscription"),
        ("post", "/api/v1/AdminApi/SearchSubscriptions"),
        ("post", "/api/v1/AdminApi/EnableDisableSubscription"),
        ("post", "/api/v1/AdminApi/SetSubscriptionStatus"),
        ("post", "/api/v1/AdminApi/SetCustomProfileFieldValues"),
        ("get", "/api/v1/AdminApi/SearchDirectory"),
        ("post", "/api/v1/AdminApi/CreateGroup"),
        ("post", "/api/v1/AdminApi/CreateMembership"),
        ("post", "/api/v1/AdminApi/RemoveMembership"),
        ("post", "/api/v1/AdminApi/HasGroupPermission"),
        ("post", "/api/v1/AdminApi/SearchGroupsForPermission"),
        ("post", "/grants"),
        ("get", "/grants"),
        ("delete", "/grants/{id}"),
        ("post", "/profile-fields"),
        ("get", "/streams/{stream_type}/{stream_id}"),
        ("get", "/streams/{stream_type}/{stream_id}/diff"),
        ("get", "/streams/{stream_type}/{stream_id}/members/{user_id}"),
        ("get", "/metrics"),
        ("get", "/asyncapi.json"),
        ("get", "/api/module-codes"),
        ("get", "/api/categories"),
        ("post", "/api/categories"),
        ("post", "/api/users/{id}/follow"),
        ("delete", "/api/users/{id}/follow"),
        ("get", "/scim/v2/ServiceProviderConfig"),
        ("get", "/scim/v2/ResourceTypes"),
        ("get", "/scim/v2/ResourceTypes/{name}"),
        ("get", "/scim/v2/Schemas"),
        ("get", "/scim/v2/Schemas/{id}"),
        ("get", "/scim/v2/Users"),
        ("post", "/scim/v2/Users"),
        ("post", "/scim/v2/Users/.search"),
        ("get", "/scim/v2/Users/{id}"),
        ("put", "/scim/v2/Users/{id}"),
        ("patch", "/scim/v2/Users/{id}"),
        ("delete", "/scim/v2/Users/{id}"),
        ("get", "/scim/v2/Me"),
        ("get", "/scim/v2/Groups"),
        ("post", "/scim/v2/Groups"),
        ("post", "/scim/v2/Groups/.search"),
        ("get", "/scim/v2/Groups/{id}"),
        ("put", "/scim/v2/Groups/{id}"),
        ("patch", "/scim/v2/Groups/{id}"),
        ("delete", "/scim/v2/Groups/{id}"),
        ("post", "/scim/v2/.search"),
        ("post", "/scim/v2/Bulk"),
        ("get", "/api/courses"),
        ("post", "/api/courses"),
        ("delete", "/api/courses/{id}"),
        ("get", "/api/documents"),
        ("post", "/api/documents"),
        ("patch", "/api/documents/{id}"),
        ("delete", "/api/documents/{id}"),
        ("get", "/api/enforcement-templates"),
        ("post", "/api/enforcement-templates"),
        ("get", "/api/tasks"),
        ("post", "/api/tasks"),
        ("patch", "/api/tasks/update/{id}"),
        ("patch", "/api/tasks/assign/{id}"),
        ("delete", "/api/tasks/{id}"),
        ("post", "/api/tasks/{id}/complete"),
        ("get", "/api/faqs"),
        ("post", "/api/faqs"),
        ("patch", "/api/faqs/{id}"),
        ("delete", "/api/faqs/{id}"),
        ("get", "/api/photos"),
        ("post", "/api/photos"),
        ("patch", "/api/photos/{id}"),
        ("delete", "/api/photos/{id}"),
        ("get", "/api/videos"),
        ("post", "/api/videos"),
        ("patch", "/api/videos/{id}"),
        ("delete", "/api/videos/{id}"),
        ("post", "/api/notifications/send"),
        ("get", "/api/notifications"),
        ("post", "/api/notifications/{id}/read"),
        ("get", "/api/notifications/stream"),
        ("get", "/api/posts"),
        ("post", "/api/posts"),
        ("patch", "/api/posts/{id}"),
        ("delete", "/api/posts/{id}"),
        ("post", "/api/posts/{id}/reactions"),
        ("delete", "/api/posts/{id}/reactions"),
        ("get", "/api/posts/{id}/comments"),
        ("post", "/api/posts/{id}/comments"),
        ("get", "/api/news"),
        ("post", "/api/news"),
        ("patch", "/api/news/{id}"),
        ("delete", "/api/news/{id}"),
        ("post", "/api/news/{id}/reactions"),
        ("delete", "/api/news/{id}/reactions"),
        ("get", "/api/news/{id}/comments"),
        ("post", "/api/news/{id}/comments"),
        ("get", "/api/group-chats"),
        ("post", "/api/group-chats"),
        ("delete", "/api/group-chats"),
        ("patch", "/api/group-chats/{id}"),
        ("delete", "/api/group-chats/{id}"),
        ("post", "/api/group-chats/{id}/members"),
        ("delete", "/api/group-chats/{id}/members"),
        ("get", "/api/group-chats/{id}/stream"),
        ("post", "/api/group-chats/{id}/meetings"),
        ("get", "/api/{conversationId}/messages"),
        ("post", "/api/{conversationId}/messages"),
    ];
    for (method, path) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing from /openapi.json");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        let bodiless = path.ends_with("destroy")
            || path.contains("{extension_number}")
            || path.ends_with("/follow")
            || path.ends_with("/complete")
            || path.ends_with("/read");
        if method != "get" && method != "delete" && !bodiless {
            assert!(op["requestBody"].is_object(), "{method} {path} has no request body schema");
        }
    }
    // NexPort answers GET and POST alike on every operation, and documents both.
    let nexport: Vec<_> = routes.iter().filter(|(_, path)| path.starts_with("/api/v1/AdminApi/")).collect();
    for (method, path) in &nexport {
        let twin = if *method == "get" { "post" } else { "get" };
        assert!(doc["paths"][path][twin].is_object(), "{twin} {path}: NexPort takes both methods; the document names one");
    }
    let n: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(n, routes.len() + nexport.len(), "every documented operation is a route of this test's list");
    for schema in [
        "Organization",
        "UserFull",
        "UsersPage",
        "PageMeta",
        "GroupList",
        "Group",
        "ErrorList",
        "ErrorBody",
        "EventPage",
        "Department",
        "DepartmentListItem",
        "DepartmentsPage",
        "DepartmentWithMembers",
        "DeptMemberInput",
        "UserSummary",
        "Location",
        "LocationsPage",
        "LocationWithMembers",
        "SupervisorsPage",
        "UserRef",
        "BulkCreateBody",
        "BulkDeleteBody",
        "Sso",
        "CreateSsoBody",
        "SecurityGroup",
        "SecurityGroupsPage",
        "SecurityGroupMembersBody",
        "File",
        "SignedUpload",
        "SignedRequest",
        "UploadFields",
        "UploadForm",
        "Task",
        "TasksPage",
        "TaskBody",
        "AssignBody",
        "SunbirdRequest",
        "SunbirdResponse",
        "SunbirdParams",
        "LmsResponse",
        "PublisherGroupList",
        "PublisherGroupEnvelope",
        "PublisherError",
        "GroupEnvelopeIn",
        "GroupIn",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
    // Publisher documents XML as well as JSON, both ways.
    for (method, path) in [("post", "/api/2/groups"), ("put", "/api/2/groups/{id}"), ("put", "/api/2/groups/{id}/users")] {
        let content = &doc["paths"][path][method]["requestBody"]["content"];
        assert!(content["application/json"].is_object() && content["application/xml"].is_object(), "{method} {path}: {content}");
    }
    let ok = &doc["paths"]["/api/2/groups"]["get"]["responses"]["200"]["content"];
    assert!(ok["application/json"].is_object() && ok["application/xml"].is_object(), "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_pages_through_the_orgs_log_with_the_nats_envelope() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Audit").await;
    let other = app.create_org("Elsewhere").await;
    app.add_user(&org, "a1@audit.io").await;
    app.create_group(&org, "G").await;
    app.add_user(&other, "x@elsewhere.io").await;

    let mut all = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = send(app.ps(Method::GET, &format!("/events?limit=2&after={after}"), &org.token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events = page["events"].as_array().unwrap().clone();
        all.extend(events.clone());
        after = page["next"].as_str().unwrap().to_string();
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    let types: Vec<&str> = all.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            // The organization, its Administrators (with the admin) and Users groups, and its admin.
            "OrganizationCreated",
            "SecurityGroupCreated",
            "SecurityGroupMemberAdded",
            "SecurityGroupCreated",
            "UserCreated",
            "UserPasswordSet",
            "AccessTokenIssued",
            // A member, who joins Users (only Administrators keeps its members on its own stream).
            "UserCreated",
            "UserPasswordSet",
            "UserOnboardingNoticeRecorded",
            "GroupCreated",
        ]
    );
    assert!(all.iter().all(|e| e["org_id"] == org.id.as_str()), "only the caller's org");
    let positions: Vec<&str> = all.iter().map(|e| e["position"].as_str().unwrap()).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "log order");
    let keys: Vec<&str> = all[0].as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "event_id",
        "position",
        "org_id",
        "stream_type",
        "stream_id",
        "version",
        "event_type",
        "schema_rev",
        "recorded_at",
        "metadata",
        "payload",
    ] {
        assert!(keys.contains(&k), "envelope lacks {k}");
    }
    assert_eq!(all[7]["metadata"]["dialect"], "workdrive");
    assert_eq!(all[7]["metadata"]["actor_user_id"], org.admin_id.as_str());
    assert!(all[7]["metadata"]["request_id"].is_string());
    // Filters
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=GroupCreated", &org.token)).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    // Past the end: nothing, and `next` stays.
    let (_, page) = send(app.ps(Method::GET, &format!("/events?after={after}"), &org.token)).await;
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["next"], after.as_str());
    // Errors and access
    let (status, v) = send(app.ps(Method::GET, "/events?after=garbage", &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "bad_request");
    assert_eq!(send(app.ps(Method::GET, "/events?limit=0", &org.token)).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(send(app.req(Method::GET, "/events")).await.0, StatusCode::UNAUTHORIZED);
    let member = crate::workdrive::login(&app, "a1@audit.io").await;
    assert_eq!(send(app.ps(Method::GET, "/events", &member)).await.0, StatusCode::FORBIDDEN);
    // The WorkDrive header works here too: one token, every dialect.
    assert_eq!(send(app.wd(Method::GET, "/events", &org.token)).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_position_waits_for_the_read_models() {
    // An API-only Roster: writes commit, but no projector runs until we start one.
    let first = TestApp::spawn().await;
    let org = first.create_org("Ryw").await;
    let mut opts = first.same_log();
    opts.roles = roster::Roles { api: true, relay: true, projector: false, sealer: false, notifier: false };
    opts.consistency_timeout = std::time::Duration::from_millis(300);
    first.stop().await;
    let app = TestApp::spawn_with(opts).await;
    let resp =
        send_raw(app.wd(Method::POST, "/api/users/add", &org.token).json(&json!({"email": "w@ryw.io", "firstName": "W", "lastName": "X"})))
            .await;
    // Committed but not yet visible: 202 with what the command knows, never a 404.
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(
        resp.headers().get("roster-consistency").map(|v| v.to_str().unwrap()),
        Some("pending"),
        "the write answers pending past the timeout"
    );
    let position = resp.headers()["roster-position"].to_str().unwrap().to_string();
    let accepted: Value = resp.json().await.unwrap();
    assert_eq!(accepted["position"], position.as_str());
    assert!(accepted["result"]["user_id"].is_string());
    let resp = send_raw(app.wd(Method::GET, "/api/users", &org.token).header("Roster-Min-Position", &position)).await;
    assert_eq!(resp.headers().get("roster-consistency").map(|v| v.to_str().unwrap()), Some("pending"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["meta"]["totalResults"], 1, "the read model has not seen the user yet");

    // Start a projector; now the same read waits and sees the write. It is asked of an API with
    // the default timeout: 300 ms is shorter than a projector's start on a busy machine.
    let mut opts = app.same_log();
    opts.roles = roster::Roles { api: true, relay: false, projector: false, sealer: false, notifier: false };
    let reader = TestApp::spawn_with(opts).await;
    let mut opts = app.same_log();
    opts.roles = roster::Roles { api: false, relay: false, projector: true, sealer: false, notifier: false };
    let projector = TestApp::spawn_with(opts).await;
    let resp = send_raw(reader.wd(Method::GET, "/api/users", &org.token).header("Roster-Min-Position", &position)).await;
    assert!(resp.headers().get("roster-consistency").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["meta"]["totalResults"], 2);
    let (status, v) = send(app.wd(Method::GET, "/api/users", &org.token).header("Roster-Min-Position", "nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    projector.stop().await;
    reader.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_filters_and_one_entitys_history() {
    let app = TestApp::spawn().await;
    let org = app.create_org("History").await;
    let other = app.create_org("Elsewhere").await;
    let before = chrono::Utc::now();
    let user = app.add_user(&org, "h@history.io").await;
    let id = user["id"].as_str().unwrap();
    send(app.wd(Method::PATCH, &format!("/api/users/{id}"), &org.token).json(&json!({"bio": "one"}))).await;
    send(app.wd(Method::PATCH, &format!("/api/users/{id}"), &org.token).json(&json!({"bio": "two"}))).await;

    let (status, h) = send(app.ps(Method::GET, &format!("/streams/user/{id}/events"), &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    let events = h["events"].as_array().unwrap();
    let versions: Vec<i64> = events.iter().map(|e| e["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, (1..=events.len() as i64).collect::<Vec<_>>(), "the whole stream, in version order");
    assert_eq!(events[0]["event_type"], "UserCreated");
    let bios: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "UserUpdated").map(|e| &e["payload"]["bio"]).collect();
    assert_eq!(bios, [&json!("one"), &json!("two")]);
    assert!(events.iter().all(|e| e["metadata"]["actor_user_id"] == org.admin_id.as_str() && e["metadata"]["dialect"] == "workdrive"));
    // Another org's entity, an unknown one, a malformed id: not found.
    assert_eq!(send(app.ps(Method::GET, &format!("/streams/user/{id}/events"), &other.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        send(app.ps(Method::GET, &format!("/streams/user/{}/events", uuid::Uuid::now_v7()), &org.token)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(app.ps(Method::GET, "/streams/user/nope/events", &org.token)).await.0, StatusCode::NOT_FOUND);

    // /events by actor and time range.
    let q = |s: String| app.ps(Method::GET, &format!("/events?limit=1000&{s}"), &org.token);
    let (_, page) = send(q(format!("actor={}", org.admin_id))).await;
    assert!(!page["events"].as_array().unwrap().is_empty());
    assert!(page["events"].as_array().unwrap().iter().all(|e| e["metadata"]["actor_user_id"] == org.admin_id.as_str()));
    let (_, page) = send(q(format!("actor={}", uuid::Uuid::now_v7()))).await;
    assert_eq!(page["events"], json!([]));
    let from = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (_, page) = send(q(format!("from={}", urlencode(&from)))).await;
    let types: Vec<&str> = page["events"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert!(!types.contains(&"OrganizationCreated"), "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "UserUpdated").count(), 2);
    let (_, page) = send(q(format!("to={}", urlencode(&from)))).await;
    assert!(page["events"].as_array().unwrap().iter().all(|e| e["event_type"] != "UserUpdated"));
    let (status, v) = send(q("from=yesterday".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("from"), "{v}");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// `/metrics` holds what operators expect, by the names the Grafana dashboard in docs/ uses, and
/// `promtool check metrics` (Debian's prometheus package, installed by scripts/install-deps)
/// finds nothing wrong with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_writes_and_projections_and_pass_promtool() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Metrics").await;
    app.add_user(&org, "m@metrics.example.com").await;
    let (status, _) = send(app.wd(Method::GET, "/api/users/00000000-0000-0000-0000-000000000000/nope", &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let resp = send_raw(app.req(Method::GET, "/metrics")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = resp.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    };
    // The route template, never the raw path.
    assert!(
        value("roster_http_requests_total{dialect=\"workdrive\",route=\"/api/users/add\",method=\"POST\",status=\"201\"}") >= 1.0,
        "{text}"
    );
    assert!(value("roster_http_request_duration_seconds_count{dialect=\"workdrive\",route=\"/api/users/add\",method=\"POST\"}") >= 1.0);
    assert!(!text.contains("00000000-0000"), "no raw path in a label");
    assert!(value("roster_append_duration_seconds_count") >= 2.0, "{text}");
    assert!(text.contains("# TYPE roster_append_conflicts_total counter"));
    // Every append call counts its commands, whether it went alone or with a group.
    assert!(value("roster_append_group_commands_sum") >= 2.0, "{text}");
    assert!(value("roster_relay_publish_duration_seconds_count") >= 1.0);
    assert!(value("roster_projection_apply_duration_seconds_count{projection=\"directory\"}") >= 1.0);
    assert!(value("roster_projection_batch_size_events_count{projection=\"content\"}") >= 1.0);
    assert!(text.contains("roster_db_pool_connections{state=\"idle\"}") && text.contains("roster_db_pool_connections{state=\"in_use\"}"));
    assert_eq!(value("roster_nats_connected"), 1.0);

    // Every metric the dashboard plots is one this endpoint serves.
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana-dashboard.json")).unwrap())
            .unwrap();
    let families: std::collections::HashSet<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    let mut plotted = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("roster_")) {
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| families.contains(f)))
                    .unwrap_or(name);
                assert!(families.contains(family), "the dashboard plots {name}, which /metrics does not serve");
                plotted += 1;
            }
        }
    }
    assert!(plotted >= 10, "the dashboard plots {plotted} series");

    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (scripts/install-deps installs it)");
    use std::io::Write as _;
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");
}

/// A Python client generated from the served document by a real generator
/// (`openapi-python-client`, installed by scripts/install-deps) creates an organization, a user
/// and a group and lists them (tests/client/smoke.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_python_client_works() {
    let app = TestApp::spawn().await;
    let (status, doc) = send(app.req(Method::GET, "/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let dir = std::env::temp_dir().join(format!("roster-client-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("openapi.json"), doc.to_string()).unwrap();
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/install-deps installs it)"));
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{cmd:?} failed:\n{said}");
        said
    };
    let (d, url, token) = (dir.clone(), app.url.clone(), app.super_token.clone());
    let said = tokio::task::spawn_blocking(move || {
        run(std::process::Command::new(roster_tests::pypi_tool("openapi-python-client"))
            .args(["generate", "--meta", "none", "--path"])
            .arg(d.join("openapi.json"))
            .arg("--output-path")
            .arg(d.join("roster_client")));
        run(std::process::Command::new("python3").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/client/smoke.py")).arg(&d).arg(url).arg(token))
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(said.contains("created and listed through the generated client"), "{said}");
}
