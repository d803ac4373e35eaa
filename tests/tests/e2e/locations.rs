//! WorkDrive locations (E64–E69) over HTTP: shapes and statuses, every documented error, paging at
//! the edges, tenant isolation, the user ↔ member-list agreement, and the events on NATS.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, Org, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

async fn create_loc(app: &TestApp, org: &Org, name: &str) -> String {
    let (status, v) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": name}))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    id(&v)
}

async fn member_ids(app: &TestApp, org: &Org, loc: &str) -> Vec<String> {
    let (status, v) = send(app.wd(Method::GET, &format!("/api/locations/{loc}/members"), &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let mut ids: Vec<String> = v["members"].as_array().unwrap().iter().map(id).collect();
    ids.sort();
    ids
}

async fn user(app: &TestApp, org: &Org, user_id: &str) -> Value {
    let (_, v) = send(app.wd(Method::GET, "/api/users?per_page=1000", &org.token)).await;
    v["users"].as_array().unwrap().iter().find(|u| u["id"] == user_id).cloned().expect("the user is listed")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_read_move_rename_and_delete_a_location() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Places").await;
    let a = id(&app.add_user(&org, "a@places.io").await);
    let b = id(&app.add_user(&org, "b@places.io").await);

    // `addedBy` and `orgId` in the body are ignored.
    let resp = send_raw(
        app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": "Berlin", "addedBy": b, "orgId": uuid::Uuid::now_v7()})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("roster-position").is_some());
    let l: Value = resp.json().await.unwrap();
    for key in ["id", "createdAt", "updatedAt", "createdBy", "updatedBy", "name", "orgId"] {
        assert!(l.get(key).is_some(), "Location has {key}: {l}");
    }
    assert_eq!(l["orgId"], org.id.as_str());
    assert_eq!(l["createdBy"], org.admin_id.as_str());
    let berlin = id(&l);
    let paris = create_loc(&app, &org, "Paris").await;

    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/locations/{berlin}/members"), &org.token).json(&json!({"addMembers": [a, b]}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Berlin");
    assert!(v.get("memberCount").is_none(), "LocationWithMembers has no memberCount: {v}");
    assert_eq!(v["members"].as_array().unwrap().len(), 2);
    assert_eq!(user(&app, &org, &a).await["location"], berlin.as_str());

    let (status, list) = send(app.wd(Method::GET, "/api/locations", &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["meta"], json!({"perPage": 10, "totalPages": 1, "totalResults": 2, "curPage": 1, "nextPage": null}));
    assert_eq!(list["locations"][0]["id"], berlin.as_str());
    assert_eq!(list["locations"][0]["memberCount"], 2);
    assert_eq!(list["locations"][1]["memberCount"], 0);

    // Adding moves (a user has one location); the users endpoint moves too; both lists agree.
    let (status, v) =
        send(app.wd(Method::PATCH, &format!("/api/locations/{paris}/members"), &org.token).json(&json!({"addMembers": [a]}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(member_ids(&app, &org, &berlin).await, vec![b.clone()]);
    assert_eq!(member_ids(&app, &org, &paris).await, vec![a.clone()]);
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{b}"), &org.token).json(&json!({"location": paris}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["location"], paris.as_str());
    assert_eq!(member_ids(&app, &org, &berlin).await, Vec::<String>::new());
    assert_eq!(member_ids(&app, &org, &paris).await, sorted(vec![a.clone(), b.clone()]));
    let (status, v) = send(
        app.wd(Method::POST, "/api/users/add", &org.token)
            .json(&json!({"email": "c@places.io", "firstName": "C", "lastName": "D", "location": berlin})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let c = id(&v);
    assert_eq!(member_ids(&app, &org, &berlin).await, vec![c.clone()]);
    // A deleted user leaves the list.
    send(app.wd(Method::DELETE, &format!("/api/users/{c}"), &org.token)).await;
    assert_eq!(member_ids(&app, &org, &berlin).await, Vec::<String>::new());
    // Removing clears the user's location.
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/locations/{paris}/members"), &org.token).json(&json!({"removeMembers": [a]}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(user(&app, &org, &a).await["location"].is_null());

    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/locations/{paris}"), &org.token).json(&json!({"name": "Lyon"}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Lyon");
    assert_eq!(v["updatedBy"], org.admin_id.as_str());

    let resp = send_raw(app.wd(Method::DELETE, &format!("/api/locations/{paris}"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(user(&app, &org, &b).await["location"].is_null(), "former members have no location");
    let (status, _) = send(app.wd(Method::GET, &format!("/api/locations/{paris}/members"), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = send(app.wd(Method::GET, "/api/locations", &org.token)).await;
    assert_eq!(list["meta"]["totalResults"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_errors_are_documented_codes_naming_the_field() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lerrs").await;
    let a = id(&app.add_user(&org, "a@lerrs.io").await);
    let member_token = {
        let (_, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({"userId": a}))).await;
        t["token"].as_str().unwrap().to_string()
    };
    let loc = create_loc(&app, &org, "Rome").await;

    let (status, v) = send(app.req(Method::GET, "/api/locations")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v, json!({"statusCode": 401, "message": "Your API key is wrong", "error": "Unauthorized"}));

    for body in [json!({}), json!({"name": ""}), json!({"name": "x".repeat(201)})] {
        let (status, v) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with("name"), "{v}");
        assert_eq!(v["error"], "Bad Request");
    }
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/locations/{loc}"), &org.token).json(&json!({"name": " "}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("name"), "{v}");
    let stranger = uuid::Uuid::now_v7();
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"addMembers": [stranger]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("addMembers[0]"), "{v}");
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"removeMembers": [a]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("removeMembers[0]"), "{v}");
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"addMembers": ["nope"]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{a}"), &org.token).json(&json!({"location": stranger}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("location"), "{v}");
    let (status, v) = send(app.wd(Method::GET, "/api/locations?per_page=1001", &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("per_page"), "{v}");

    let (status, _) = send(app.wd(Method::GET, "/api/locations", &member_token)).await;
    assert_eq!(status, StatusCode::OK, "members may read");
    let (status, _) = send(app.wd(Method::GET, &format!("/api/locations/{loc}/members"), &member_token)).await;
    assert_eq!(status, StatusCode::OK);
    for (method, path, body) in [
        (Method::POST, "/api/locations".to_string(), json!({"name": "x"})),
        (Method::PATCH, format!("/api/locations/{loc}"), json!({"name": "x"})),
        (Method::POST, format!("/api/locations/{loc}/members"), json!({"addMembers": [a]})),
        (Method::DELETE, format!("/api/locations/{loc}"), json!({})),
    ] {
        let (status, v) = send(app.wd(method.clone(), &path, &member_token).json(&body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {v}");
        assert_eq!(v["statusCode"], 403);
    }

    let unknown = uuid::Uuid::now_v7();
    for (method, path, body) in [
        (Method::GET, format!("/api/locations/{unknown}/members"), json!({})),
        (Method::PATCH, format!("/api/locations/{unknown}"), json!({"name": "x"})),
        (Method::POST, format!("/api/locations/{unknown}/members"), json!({"addMembers": [a]})),
        (Method::DELETE, format!("/api/locations/{unknown}"), json!({})),
        (Method::DELETE, "/api/locations/zzz".to_string(), json!({})),
    ] {
        let (status, v) = send(app.wd(method.clone(), &path, &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {v}");
        assert_eq!(v["statusCode"], 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_pages_at_the_edges() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lpages").await;
    let (_, v) = send(app.wd(Method::GET, "/api/locations?cur_page=1&per_page=3", &org.token)).await;
    assert_eq!(v, json!({"locations": [], "meta": {"perPage": 3, "totalPages": 0, "totalResults": 0, "curPage": 1, "nextPage": null}}));
    let mut made = Vec::new();
    for i in 0..6 {
        made.push(create_loc(&app, &org, &format!("L{i}")).await);
    }
    let ids = |v: &Value| v["locations"].as_array().unwrap().iter().map(id).collect::<Vec<_>>();
    // Exact multiple.
    let (_, p) = send(app.wd(Method::GET, "/api/locations?cur_page=1&per_page=3", &org.token)).await;
    assert_eq!(p["meta"], json!({"perPage": 3, "totalPages": 2, "totalResults": 6, "curPage": 1, "nextPage": 2}));
    assert_eq!(ids(&p), made[0..3].to_vec());
    let (_, p) = send(app.wd(Method::GET, "/api/locations?cur_page=2&per_page=3", &org.token)).await;
    assert_eq!(p["meta"], json!({"perPage": 3, "totalPages": 2, "totalResults": 6, "curPage": 2, "nextPage": null}));
    assert_eq!(ids(&p), made[3..6].to_vec());
    // Short last page.
    let (_, p) = send(app.wd(Method::GET, "/api/locations?cur_page=2&per_page=4", &org.token)).await;
    assert_eq!(p["meta"], json!({"perPage": 4, "totalPages": 2, "totalResults": 6, "curPage": 2, "nextPage": null}));
    assert_eq!(ids(&p), made[4..6].to_vec());
    // Past the end.
    let (_, p) = send(app.wd(Method::GET, "/api/locations?cur_page=3&per_page=4", &org.token)).await;
    assert_eq!(p["meta"], json!({"perPage": 4, "totalPages": 2, "totalResults": 6, "curPage": 3, "nextPage": null}));
    assert_eq!(p["locations"], json!([]));
    // One per page, the default page.
    let (_, p) = send(app.wd(Method::GET, "/api/locations?per_page=1", &org.token)).await;
    assert_eq!(p["meta"], json!({"perPage": 1, "totalPages": 6, "totalResults": 6, "curPage": 1, "nextPage": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_locations_are_not_found_and_not_listed() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lmine").await;
    let other = app.create_org("Ltheirs").await;
    let a = id(&app.add_user(&org, "a@lmine.io").await);
    let x = id(&app.add_user(&other, "x@ltheirs.io").await);
    let loc = create_loc(&app, &org, "Home").await;
    send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"addMembers": [a]}))).await;

    let (_, list) = send(app.wd(Method::GET, "/api/locations", &other.token)).await;
    assert_eq!(list["meta"]["totalResults"], 0);
    for (method, path, body) in [
        (Method::GET, format!("/api/locations/{loc}/members"), json!({})),
        (Method::PATCH, format!("/api/locations/{loc}"), json!({"name": "x"})),
        (Method::POST, format!("/api/locations/{loc}/members"), json!({"addMembers": [x]})),
        (Method::DELETE, format!("/api/locations/{loc}"), json!({})),
    ] {
        let (status, v) = send(app.wd(method.clone(), &path, &other.token).json(&body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {v}");
    }
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"addMembers": [x]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "another org's user is not a user here: {v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{x}"), &other.token).json(&json!({"location": loc}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(member_ids(&app, &org, &loc).await, vec![a]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_location_write_puts_its_events_on_nats() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lwire").await;
    let a = id(&app.add_user(&org, "a@lwire.io").await);

    let mut steps: Vec<(usize, Vec<(&str, &str)>)> = Vec::new();
    let mark = app.event_count().await as usize;
    let loc = create_loc(&app, &org, "Oslo").await;
    steps.push((mark, vec![("location", "LocationCreated")]));
    let mark = app.event_count().await as usize;
    send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"addMembers": [a]}))).await;
    steps.push((mark, vec![("location", "LocationMemberAdded"), ("user", "UserUpdated")]));
    let mark = app.event_count().await as usize;
    send(app.wd(Method::PATCH, &format!("/api/locations/{loc}"), &org.token).json(&json!({"name": "Bergen"}))).await;
    steps.push((mark, vec![("location", "LocationUpdated")]));
    let mark = app.event_count().await as usize;
    send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"removeMembers": [a]}))).await;
    steps.push((mark, vec![("location", "LocationMemberRemoved"), ("user", "UserUpdated")]));
    let mark = app.event_count().await as usize;
    send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"addMembers": [a]}))).await;
    send(app.wd(Method::DELETE, &format!("/api/locations/{loc}"), &org.token)).await;
    steps.push((
        mark,
        vec![("location", "LocationMemberAdded"), ("user", "UserUpdated"), ("location", "LocationDeleted"), ("user", "UserUpdated")],
    ));
    let total = app.event_count().await as usize;

    let js = jetstream::new(app.nats().await);
    app.eventually("the relay to publish everything", Duration::from_secs(20), || async {
        match js.get_stream(&app.config.nats.stream).await {
            Ok(s) => s.get_info().await.map(|i| i.state.messages as usize == total).unwrap_or(false),
            Err(_) => false,
        }
    })
    .await;
    let consumer = js
        .get_stream(&app.config.nats.stream)
        .await
        .unwrap()
        .create_consumer(pull::Config { ack_policy: jetstream::consumer::AckPolicy::None, ..Default::default() })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut got: Vec<(String, Value)> = Vec::new();
    while got.len() < total {
        let m = tokio::time::timeout(Duration::from_secs(20), messages.next()).await.unwrap().unwrap().unwrap();
        got.push((m.subject.to_string(), serde_json::from_slice(&m.payload).unwrap()));
    }
    for (i, (from, want)) in steps.iter().enumerate() {
        let to = steps.get(i + 1).map(|s| s.0).unwrap_or(total);
        let types: Vec<(&str, &str)> =
            got[*from..to].iter().map(|(_, e)| (e["stream_type"].as_str().unwrap(), e["event_type"].as_str().unwrap())).collect();
        assert_eq!(&types, want, "step {i}");
        for (subject, e) in &got[*from..to] {
            assert_eq!(
                subject,
                &format!(
                    "{}.{}.{}.{}.{}",
                    app.config.nats.subject_prefix,
                    org.id,
                    e["stream_type"].as_str().unwrap(),
                    e["stream_id"].as_str().unwrap(),
                    e["event_type"].as_str().unwrap()
                )
            );
        }
    }
    let created = &got[steps[0].0].1;
    assert_eq!(created["stream_id"], loc.as_str());
    assert_eq!(created["payload"]["name"], "Oslo");
    let joined = &got[steps[1].0 + 1].1;
    assert_eq!(joined["stream_id"], a.as_str());
    assert_eq!(joined["payload"]["location"], loc.as_str());
}
