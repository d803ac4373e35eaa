//! What scripts/fuzz (schemathesis) found answering 500 or dropping the connection, each now a
//! 4xx in the dialect's shape that names the field, with nothing appended to the log.

use reqwest::{Method, StatusCode};
use roster_tests::{send, TestApp};
use serde_json::{json, Value};

use crate::sunbird::{env, sb};

/// The text of a dialect's error answer, wherever the dialect puts it.
fn error_text(v: &Value) -> String {
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_refused_by_name_in_every_dialect() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Nul Org").await;
    let user = app.add_user(&org, "nul@example.io").await;
    let user_id = user["id"].as_str().unwrap().to_string();
    let group = app.create_group(&org, "Nul Group").await;
    let before = app.event_count().await;
    let t = &org.token;

    // Each request carries U+0000 once (Postgres text and jsonb cannot hold it); each answer must
    // be a 4xx (never a 500) whose text names the field.
    let cases: Vec<(&str, reqwest::RequestBuilder, &str)> = vec![
        ("WorkDrive body", app.wd(Method::PATCH, &format!("/api/users/{user_id}"), t).json(&json!({"bio": "a\u{0}b"})), "bio"),
        ("WorkDrive nested body", app.wd(Method::POST, "/api/users/add", t).json(&json!({"email": "x@y.io", "firstName": "X", "lastName": "Y", "skill": ["ok", "n\u{0}"]})), "skill[1]"),
        ("WorkDrive query", app.wd(Method::GET, "/api/users?search=a%00", t), "search"),
        ("PortSIP body", app.ps(Method::POST, "/api/groups", t).json(&json!({"name": "g\u{0}"})), "name"),
        ("PortSIP query", app.ps(Method::GET, "/api/groups?orderby=name%00", t), "orderby"),
        ("PortSIP update", app.ps(Method::POST, &format!("/api/groups/{group}"), t).json(&json!({"description": "\u{0}"})), "description"),
        ("Publisher body", app.ps(Method::POST, "/api/2/groups", t).json(&json!({"group": {"name": "p\u{0}"}})), "name"),
        ("Publisher query", app.ps(Method::GET, "/api/2/groups?search=%00", t), "search"),
        ("NexPort query (GetOrganizations)", app.req(Method::GET, &format!("/api/v1/AdminApi/GetOrganizations?access_token={t}&short_name=x%00")), "short_name"),
        ("NexPort body (AuthenticateUser)", app.nx("AuthenticateUser", t).json(&json!({"login": "a\u{0}", "password": "password1"})), "login"),
        ("NexPort body (CreateUser)", app.nx("CreateUser", t).json(&json!({"owner_org_id": org.id, "login": "nul", "password": "password1", "first_name": "N\u{0}", "last_name": "U", "email": "n@u.io"})), "first_name"),
        ("Roster query", app.ps(Method::GET, "/events?event_type=User%00", t), "event_type"),
    ];
    for (what, request, field) in cases {
        let (status, v) = send(request).await;
        assert!(status.is_client_error(), "{what}: {status} {v}");
        assert!(error_text(&v).contains(field), "{what}: the answer does not name {field}: {v}");
        assert!(error_text(&v).contains("U+0000"), "{what}: the answer does not say why: {v}");
    }

    // Sunbird answers its fixed validation text (the detail is logged), with its own status.
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/create", t).json(&env(json!({"name": "s\u{0}"})))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["params"]["status"], "failed", "{v}");
    // Even in the request id, which is stored as the idempotency key.
    let body = json!({"params": {"msgid": "m\u{0}"}, "request": {"name": "fine"}});
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/create", t).json(&body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");

    assert_eq!(app.event_count().await, before, "a refused request appended events");

    // The activity aggregate answers its documented 500 only for a group it cannot read; a group
    // it can read with U+0000 in the activity id is a request that is not valid (was a 500).
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/create", t).json(&env(json!({"name": "Agg"})))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let agg = json!({"request": {"groupId": v["result"]["groupId"], "activityId": "do\u{0}1", "activityType": "Course"}});
    let (status, v) = send(sb(&app, Method::POST, "/api/data/v1/group/activity/agg", t).bearer_auth(t).json(&agg)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["params"]["err"], "INVALID_REQUESTED_DATA", "{v}");
    let before = app.event_count().await;

    // A path segment holding U+0000 names nothing.
    let (status, v) = send(app.ps(Method::GET, &format!("/streams/us%00er/{user_id}"), t)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, v) = send(app.ps(Method::GET, &format!("/streams/us%00er/{user_id}/events"), t)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");

    assert_eq!(app.event_count().await, before, "a refused request appended events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexport_pages_past_the_limit_are_refused_not_a_dropped_connection() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Page Org").await;
    // page * per_page overflowed i64: the handler panicked and the client saw no answer at all.
    for op in ["SearchSubscriptions", "GetUsers", "SearchDirectory"] {
        let (status, v) =
            send(app.nx(op, &org.token).json(&json!({"org_id": org.id, "base_org_id": org.id, "page": i64::MAX, "per_page": 30}))).await;
        assert!(status.is_client_error(), "{op}: {status} {v}");
        assert!(v["api_error_entity"]["error_message"].as_str().unwrap_or_default().contains("page"), "{op}: {v}");
    }
    // The last page that is allowed answers (empty).
    let (status, v) = send(app.nx("SearchSubscriptions", &org.token).json(&json!({"page": i64::from(i32::MAX), "per_page": 100}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

/// What the conformance run (schemathesis' positive and negative data) found in WorkDrive's
/// bodies: an array where an object belongs was read as the object's fields by position (and a
/// change applied), and an integral float (`2.0`, an integer to JSON Schema) was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_objects_and_integral_floats_are_integers() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Shapes Org").await;
    let t = &org.token;
    let (status, post) = send(app.wd(Method::POST, "/api/posts", t).json(&json!({"postText": "hello"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    let id = post["id"].as_str().unwrap().to_string();
    let before = app.event_count().await;
    for body in [json!([null, null]), json!(["changed"]), json!([])] {
        let (status, v) = send(app.wd(Method::PATCH, &format!("/api/posts/{id}"), t).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["message"].as_str().unwrap_or_default().starts_with("body: must be a JSON object"), "{v}");
    }
    assert_eq!(app.event_count().await, before, "a refused body appended events");

    // `duration` is an integer; 30.0 is one, 30.5 is not.
    let meeting =
        |duration: Value| json!({"title": "Standup", "startDateTime": "2031-03-10T09:00:00Z", "duration": duration, "isMeeting": true});
    let (status, v) = send(app.wd(Method::POST, "/api/events", t).json(&meeting(json!(30.0)))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = send(app.wd(Method::POST, "/api/events", t).json(&meeting(json!(30.5)))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap_or_default().contains("duration"), "{v}");
}

/// What the conformance run found one level down (ST201 on `POST /api/posts`, 201 for
/// `"location": [null, null]`): serde read a nested struct from an array by position. Every
/// dialect's bodies are read through `strict_json`, so an array where an object belongs is a 400
/// naming the field, at any depth, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_objects_are_objects_in_every_dialect() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Nested Org").await;
    let t = &org.token;
    let group = app.create_group(&org, "Nested Group").await;
    let before = app.event_count().await;
    let expected = "invalid type: sequence, expected a JSON object";

    // WorkDrive: its error shape, the message naming the path inside the body.
    for (body, field) in [
        (json!({"postText": "hello", "location": [null, null]}), "location"),
        (json!({"postText": "hello", "location": {"textAddress": "HQ", "coordinates": [51.5, -0.1]}}), "location.coordinates"),
        (json!({"postText": "hello", "permissions": [true]}), "permissions"),
    ] {
        let (status, v) = send(app.wd(Method::POST, "/api/posts", t).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["statusCode"], 400, "{v}");
        assert_eq!(v["error"], "Bad Request", "{v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("body: ") && message.contains(&format!(": {field}: {expected}")), "{body}: {v}");
    }
    let (status, v) = send(app.wd(Method::GET, "/api/posts", t)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["posts"], json!([]), "{v}");

    // PortSIP: a caller id (an object in a list) sent by position.
    let caller_id = json!(["trunk-1", "5551234", "main"]);
    for (method, path) in [(Method::POST, "/api/groups".to_string()), (Method::POST, format!("/api/groups/{group}"))] {
        let body = json!({"name": "Positional", "outbound_caller_ids": [caller_id]});
        let (status, v) = send(app.ps(method, &path, t).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert_eq!(v["errors"][0]["code"], "VALIDATE_FAILED", "{v}");
        let reason = v["errors"][0]["detail"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(&format!("outbound_caller_ids[0]: {expected}")), "{path}: {v}");
    }

    // Publisher (read outside `dialect::Json`): the group itself by position.
    let (status, v) = send(app.ps(Method::POST, "/api/2/groups", t).json(&json!({"group": [null, "Positional", null]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains(&format!("group: {expected}")), "{v}");

    assert_eq!(app.event_count().await, before, "a refused body appended events");

    // The same bodies as objects are still taken.
    let body = json!({"postText": "hello", "location": {"textAddress": "HQ", "coordinates": {"lat": 51.5, "lng": -0.1}}});
    let (status, v) = send(app.wd(Method::POST, "/api/posts", t).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let body =
        json!({"name": "Objects", "outbound_caller_ids": [{"provider_id": "trunk-1", "caller_id": "5551234", "description": "main"}]});
    let (status, v) = send(app.ps(Method::POST, "/api/groups", t).json(&body)).await;
    assert!(status.is_success(), "{v}");
}
