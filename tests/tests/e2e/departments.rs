//! WorkDrive departments (E57–E63) over HTTP: shapes and statuses, every documented error, paging
//! at the edges, tenant isolation, the "at least one head" rule through every endpoint that can
//! break it, the user ↔ member-list agreement, and the events each write puts on NATS.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, Org, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

async fn create_dept(app: &TestApp, org: &Org, name: &str, members: Value) -> (StatusCode, Value) {
    send(app.wd(Method::POST, "/api/departments", &org.token).json(&json!({"name": name, "members": members}))).await
}

async fn members(app: &TestApp, org: &Org, dept: &str) -> Value {
    let (status, v) = send(app.wd(Method::GET, &format!("/api/departments/{dept}/members"), &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

fn member_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["members"].as_array().unwrap().iter().map(id).collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn user(app: &TestApp, org: &Org, user_id: &str) -> Value {
    let (_, v) = send(app.wd(Method::GET, "/api/users?per_page=1000", &org.token)).await;
    v["users"].as_array().unwrap().iter().find(|u| u["id"] == user_id).cloned().expect("the user is listed")
}

/// The (subject suffix, payload) of every NATS message about this org after `skip` of them.
async fn nats_events(app: &TestApp, expect_total: usize) -> Vec<(String, String, Value)> {
    let js = jetstream::new(app.nats().await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = match js.get_stream(&app.config.nats.stream).await {
            Ok(s) => s.get_info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        };
        if n as usize >= expect_total {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the relay published {n} of {expect_total}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stream = js.get_stream(&app.config.nats.stream).await.unwrap();
    let consumer =
        stream.create_consumer(pull::Config { ack_policy: jetstream::consumer::AckPolicy::None, ..Default::default() }).await.unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::new();
    while out.len() < expect_total {
        let m = tokio::time::timeout(Duration::from_secs(20), messages.next()).await.unwrap().unwrap().unwrap();
        let body: Value = serde_json::from_slice(&m.payload).unwrap();
        out.push((body["stream_type"].as_str().unwrap().to_string(), body["event_type"].as_str().unwrap().to_string(), body));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_read_rename_and_delete_a_department() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Depts").await;
    let a = id(&app.add_user(&org, "a@depts.io").await);
    let b = id(&app.add_user(&org, "b@depts.io").await);

    let resp = send_raw(app.wd(Method::POST, "/api/departments", &org.token).json(&json!({
        "name": "Engineering",
        "members": [{"id": a, "isAdmin": true}, {"id": b, "existingDept": null, "isDepartmentHead": false}],
    })))
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("roster-position").is_some());
    let d: Value = resp.json().await.unwrap();
    let dept = id(&d);
    for key in ["id", "createdAt", "updatedAt", "createdBy", "updatedBy", "orgId", "type", "name"] {
        assert!(d.get(key).is_some(), "Department has {key}: {d}");
    }
    assert_eq!(d["name"], "Engineering");
    assert_eq!(d["orgId"], org.id.as_str());
    assert_eq!(d["createdBy"], org.admin_id.as_str());

    // The users say the same as the department (read-your-writes).
    let ua = user(&app, &org, &a).await;
    assert_eq!(ua["department"], dept.as_str());
    assert_eq!(ua["isDepartmentHead"], true);
    let ub = user(&app, &org, &b).await;
    assert_eq!(ub["department"], dept.as_str());
    assert_eq!(ub["isDepartmentHead"], false);
    let (_, filtered) = send(app.wd(Method::GET, &format!("/api/users?department={dept}"), &org.token)).await;
    assert_eq!(filtered["meta"]["totalResults"], 2);

    let (status, list) = send(app.wd(Method::GET, "/api/departments", &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["departments"].as_array().unwrap().len(), 1);
    let item = &list["departments"][0];
    assert_eq!(item["id"], dept.as_str());
    assert_eq!(item["name"], "Engineering");
    assert_eq!(item["memberCount"], 2);
    assert_eq!(item["admins"].as_array().unwrap().len(), 1);
    assert_eq!(item["admins"][0]["id"], a.as_str());
    assert_eq!(item["admins"][0]["email"], "a@depts.io");
    assert_eq!(list["meta"], json!({"perPage": 10, "totalPages": 1, "totalResults": 1, "curPage": 1, "nextPage": null}));

    let m = members(&app, &org, &dept).await;
    assert_eq!(m["departmentHeads"], json!([a]));
    assert_eq!(member_ids(&m), sorted(vec![a.clone(), b.clone()]));
    assert_eq!(m["name"], "Engineering");
    assert_eq!(m["type"], d["type"]);
    assert!(m["members"][0].get("firstName").is_some() && m["members"][0].get("availability").is_some());

    // Any member of the org may read.
    let member_token = {
        let (_, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({"userId": b}))).await;
        t["token"].as_str().unwrap().to_string()
    };
    let (status, _) = send(app.wd(Method::GET, "/api/departments", &member_token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(app.wd(Method::GET, &format!("/api/departments/{dept}/members"), &member_token)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, r) = send(app.wd(Method::PATCH, &format!("/api/departments/{dept}"), &org.token).json(&json!({"name": "R&D"}))).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["name"], "R&D");
    assert_eq!(r["updatedBy"], org.admin_id.as_str());

    let resp = send_raw(app.wd(Method::DELETE, &format!("/api/departments/{dept}"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.bytes().await.unwrap().is_empty());
    // Former members have no department and head no department.
    let ua = user(&app, &org, &a).await;
    assert!(ua["department"].is_null(), "{ua}");
    assert_eq!(ua["isDepartmentHead"], false);
    assert!(user(&app, &org, &b).await["department"].is_null());
    let (status, _) = send(app.wd(Method::GET, &format!("/api/departments/{dept}/members"), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = send(app.wd(Method::GET, "/api/departments", &org.token)).await;
    assert_eq!(list["meta"]["totalResults"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_errors_are_documented_codes_naming_the_field() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Errs").await;
    let a = id(&app.add_user(&org, "a@errs.io").await);
    let b = id(&app.add_user(&org, "b@errs.io").await);
    let member_token = {
        let (_, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({"userId": b}))).await;
        t["token"].as_str().unwrap().to_string()
    };

    // 401
    let (status, v) = send(app.req(Method::GET, "/api/departments")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v, json!({"statusCode": 401, "message": "Your API key is wrong", "error": "Unauthorized"}));

    // 400: no head, no name, unknown member, bad body, bad paging.
    let (status, v) = create_dept(&app, &org, "Headless", json!([{"id": a}])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["statusCode"], 400);
    assert_eq!(v["error"], "Bad Request");
    assert!(v["message"].as_str().unwrap().starts_with("members"), "{v}");
    let (status, v) = create_dept(&app, &org, "Empty", json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) =
        send(app.wd(Method::POST, "/api/departments", &org.token).json(&json!({"members": [{"id": a, "isAdmin": true}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("name"), "{v}");
    let (status, v) = create_dept(&app, &org, "  ", json!([{"id": a, "isAdmin": true}])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("name"), "{v}");
    let stranger = uuid::Uuid::now_v7().to_string();
    let (status, v) = create_dept(&app, &org, "X", json!([{"id": a, "isAdmin": true}, {"id": stranger}])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("members[1].id"), "{v}");
    let (status, v) = create_dept(&app, &org, "X", json!([{"id": "nope", "isAdmin": true}])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = send(app.wd(Method::GET, "/api/departments?per_page=0", &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("per_page"), "{v}");
    let (status, v) = send(app.wd(Method::GET, "/api/departments?cur_page=x", &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("cur_page"), "{v}");

    // 403: members may read, not write.
    let (status, v) =
        create_dept(&app, &Org { token: member_token.clone(), ..org.clone() }, "Mine", json!([{"id": b, "isAdmin": true}])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["statusCode"], 403);
    let (_, d) = create_dept(&app, &org, "Ops", json!([{"id": a, "isAdmin": true}])).await;
    let dept = id(&d);
    for (method, path, body) in [
        (Method::PATCH, format!("/api/departments/{dept}"), json!({"name": "x"})),
        (Method::PATCH, format!("/api/departments/{dept}/admin"), json!({"add": [{"id": b}]})),
        (Method::POST, format!("/api/departments/{dept}/members"), json!({"addMembers": [{"id": b}]})),
        (Method::DELETE, format!("/api/departments/{dept}"), json!({})),
    ] {
        let (status, v) = send(app.wd(method.clone(), &path, &member_token).json(&body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {v}");
    }

    // Nor can a member move themselves or make themselves head through the users endpoint.
    for body in [json!({"department": dept}), json!({"isDepartmentHead": true}), json!({"location": null})] {
        let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{b}"), &member_token).json(&body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}: {v}");
    }
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{b}"), &member_token).json(&json!({"bio": "mine"}))).await;
    assert_eq!(status, StatusCode::OK, "the rest of their profile is theirs: {v}");

    // 404: unknown or malformed ids.
    let unknown = uuid::Uuid::now_v7();
    for (method, path, body) in [
        (Method::GET, format!("/api/departments/{unknown}/members"), json!({})),
        (Method::PATCH, format!("/api/departments/{unknown}"), json!({"name": "x"})),
        (Method::PATCH, format!("/api/departments/{unknown}/admin"), json!({"add": [{"id": a}]})),
        (Method::POST, format!("/api/departments/{unknown}/members"), json!({"addMembers": [{"id": a}]})),
        (Method::DELETE, format!("/api/departments/{unknown}"), json!({})),
        (Method::GET, "/api/departments/not-a-uuid/members".to_string(), json!({})),
    ] {
        let (status, v) = send(app.wd(method.clone(), &path, &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {v}");
        assert_eq!(v["statusCode"], 404);
    }

    // 400 on the members and admin endpoints.
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/departments/{dept}/members"), &org.token).json(&json!({"removeMembers": [b]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("removeMembers"), "{v}");
    let (status, v) = send(
        app.wd(Method::POST, &format!("/api/departments/{dept}/members"), &org.token).json(&json!({"addMembers": [{"id": stranger}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("addMembers[0].id"), "{v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/departments/{dept}/admin"), &org.token).json(&json!({"remove": b}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("remove"), "{v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/departments/{dept}/admin"), &org.token).json(&json!({"remove": 5}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("remove"), "{v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/departments/{dept}"), &org.token).json(&json!({"name": ""}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("name"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_always_keeps_a_head_whichever_endpoint_is_used() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Heads").await;
    let a = id(&app.add_user(&org, "a@heads.io").await);
    let b = id(&app.add_user(&org, "b@heads.io").await);
    let c = id(&app.add_user(&org, "c@heads.io").await);
    let (_, d) = create_dept(&app, &org, "Sales", json!([{"id": a, "isAdmin": true}, {"id": b}])).await;
    let dept = id(&d);
    let (_, other) = create_dept(&app, &org, "Support", json!([{"id": c, "isAdmin": true}])).await;
    let other = id(&other);
    let before = app.event_count().await;

    // The only head cannot be demoted, removed, moved away through the users endpoint, or deleted.
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/departments/{dept}/admin"), &org.token).json(&json!({"remove": a}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("remove"), "{v}");
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/departments/{dept}/members"), &org.token).json(&json!({"removeMembers": [a]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("removeMembers"), "{v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{a}"), &org.token).json(&json!({"department": other}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("department"), "{v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{a}"), &org.token).json(&json!({"department": null}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{a}"), &org.token).json(&json!({"isDepartmentHead": false}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("isDepartmentHead"), "{v}");
    let (status, v) = send(app.wd(Method::DELETE, &format!("/api/users/{a}"), &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    // Taking the last head of another department in (E60 and E59) is refused too.
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/departments/{dept}/members"), &org.token).json(&json!({"addMembers": [{"id": c}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) =
        send(app.wd(Method::PATCH, &format!("/api/departments/{dept}/admin"), &org.token).json(&json!({"add": [{"id": c}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(app.event_count().await, before, "a refused command appends nothing");

    // Handing over in one request: add b as head, remove a as head (a stays a member).
    let (status, v) = send(
        app.wd(Method::PATCH, &format!("/api/departments/{dept}/admin"), &org.token)
            .json(&json!({"add": [{"id": b, "isAdmin": true}], "remove": [a]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], dept.as_str());
    let m = members(&app, &org, &dept).await;
    assert_eq!(m["departmentHeads"], json!([b]));
    assert_eq!(member_ids(&m), sorted(vec![a.clone(), b.clone()]));
    assert_eq!(user(&app, &org, &a).await["isDepartmentHead"], false);
    assert_eq!(user(&app, &org, &b).await["isDepartmentHead"], true);

    // The users endpoint makes a head, and a head who leaves through it stops being head.
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{a}"), &org.token).json(&json!({"isDepartmentHead": true}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(members(&app, &org, &dept).await["departmentHeads"], json!([b, a]));
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{a}"), &org.token).json(&json!({"department": other}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["department"], other.as_str());
    assert_eq!(v["isDepartmentHead"], false);
    let m = members(&app, &org, &dept).await;
    assert_eq!(m["departmentHeads"], json!([b]));
    assert_eq!(member_ids(&m), vec![b.clone()]);
    assert_eq!(member_ids(&members(&app, &org, &other).await), sorted(vec![a.clone(), c.clone()]));

    // E60 moves a user between departments and can make them head there.
    let (status, v) = send(
        app.wd(Method::POST, &format!("/api/departments/{dept}/members"), &org.token)
            .json(&json!({"addMembers": [{"id": a, "isAdmin": true, "existingDept": other}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["departmentHeads"], json!([b, a]));
    assert_eq!(member_ids(&v), sorted(vec![a.clone(), b.clone()]));
    assert_eq!(member_ids(&members(&app, &org, &other).await), vec![c.clone()]);
    // PATCH is accepted too; removing a non-last head works.
    let (status, v) =
        send(app.wd(Method::PATCH, &format!("/api/departments/{dept}/members"), &org.token).json(&json!({"removeMembers": [b]}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["departmentHeads"], json!([a]));
    let ub = user(&app, &org, &b).await;
    assert!(ub["department"].is_null());
    assert_eq!(ub["isDepartmentHead"], false);

    // Joining through the users endpoint lands in the member list; an unknown department is a 400.
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{b}"), &org.token).json(&json!({"department": dept}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(member_ids(&members(&app, &org, &dept).await), sorted(vec![a.clone(), b.clone()]));
    let (status, v) =
        send(app.wd(Method::PATCH, &format!("/api/users/{b}"), &org.token).json(&json!({"department": uuid::Uuid::now_v7()}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("department"), "{v}");
    let (status, v) = send(
        app.wd(Method::POST, "/api/users/add", &org.token)
            .json(&json!({"email": "d@heads.io", "firstName": "D", "lastName": "E", "department": dept, "isDepartmentHead": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let d_id = id(&v);
    assert_eq!(members(&app, &org, &dept).await["departmentHeads"], json!([a, d_id]));
    let (status, v) = send(
        app.wd(Method::POST, "/api/users/add", &org.token)
            .json(&json!({"email": "e@heads.io", "firstName": "E", "lastName": "F", "department": uuid::Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("department"), "{v}");
    // Deleting a head who is not the last one removes them from the heads.
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/users/{d_id}"), &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let m = members(&app, &org, &dept).await;
    assert_eq!(m["departmentHeads"], json!([a]));
    assert_eq!(member_ids(&m), sorted(vec![a.clone(), b.clone()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_pages_at_the_edges() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Pages").await;
    let a = id(&app.add_user(&org, "a@pages.io").await);

    let (status, v) = send(app.wd(Method::GET, "/api/departments", &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({"departments": [], "meta": {"perPage": 10, "totalPages": 0, "totalResults": 0, "curPage": 1, "nextPage": null}}));

    let mut made = Vec::new();
    for i in 0..4 {
        let (status, d) = create_dept(&app, &org, &format!("D{i}"), json!([{"id": a, "isAdmin": i == 3}, ])).await;
        // Only the last create names `a` a head; the others must fail without a head.
        if i < 3 {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let (status, d) = create_dept(&app, &org, &format!("D{i}"), json!([{"id": a, "isAdmin": true}])).await;
            assert_eq!(status, StatusCode::CREATED, "{d}");
            made.push(id(&d));
            // Move `a` on, handing headship to nobody is impossible: give D{i} a new head first.
            let h = id(&app.add_user(&org, &format!("h{i}@pages.io")).await);
            let (status, v) =
                send(app.wd(Method::PATCH, &format!("/api/departments/{}/admin", made[i]), &org.token).json(&json!({"add": [{"id": h}]})))
                    .await;
            assert_eq!(status, StatusCode::OK, "{v}");
        } else {
            assert_eq!(status, StatusCode::CREATED, "{d}");
            made.push(id(&d));
        }
    }
    // Exact multiple: 4 departments, 2 per page.
    let (_, p1) = send(app.wd(Method::GET, "/api/departments?cur_page=1&per_page=2", &org.token)).await;
    assert_eq!(p1["meta"], json!({"perPage": 2, "totalPages": 2, "totalResults": 4, "curPage": 1, "nextPage": 2}));
    assert_eq!(p1["departments"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), made[0..2].to_vec());
    let (_, p2) = send(app.wd(Method::GET, "/api/departments?cur_page=2&per_page=2", &org.token)).await;
    assert_eq!(p2["meta"], json!({"perPage": 2, "totalPages": 2, "totalResults": 4, "curPage": 2, "nextPage": null}));
    assert_eq!(p2["departments"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), made[2..4].to_vec());
    // Not a multiple: the last page is short; numeric strings are accepted.
    let (_, p) = send(app.wd(Method::GET, "/api/departments?cur_page=\"2\"&per_page=3", &org.token)).await;
    assert_eq!(p["statusCode"], 400, "a quoted number is not a number: {p}");
    let (_, p) = send(app.wd(Method::GET, "/api/departments?cur_page=2&per_page=3", &org.token)).await;
    assert_eq!(p["meta"], json!({"perPage": 3, "totalPages": 2, "totalResults": 4, "curPage": 2, "nextPage": null}));
    assert_eq!(p["departments"].as_array().unwrap().len(), 1);
    // Past the end: empty items, same totals.
    let (_, p) = send(app.wd(Method::GET, "/api/departments?cur_page=9&per_page=3", &org.token)).await;
    assert_eq!(p["meta"], json!({"perPage": 3, "totalPages": 2, "totalResults": 4, "curPage": 9, "nextPage": null}));
    assert_eq!(p["departments"], json!([]));
    // Member counts follow the users: `a` ended in the last department.
    let counts: Vec<i64> = p1["departments"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["departments"].as_array().unwrap())
        .map(|d| d["memberCount"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, vec![1, 1, 1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_departments_are_not_found_and_not_listed() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Mine").await;
    let other = app.create_org("Theirs").await;
    let a = id(&app.add_user(&org, "a@mine.io").await);
    let x = id(&app.add_user(&other, "x@theirs.io").await);
    let (_, d) = create_dept(&app, &org, "Secret", json!([{"id": a, "isAdmin": true}])).await;
    let dept = id(&d);

    let (_, list) = send(app.wd(Method::GET, "/api/departments", &other.token)).await;
    assert_eq!(list["meta"]["totalResults"], 0);
    for (method, path, body) in [
        (Method::GET, format!("/api/departments/{dept}/members"), json!({})),
        (Method::PATCH, format!("/api/departments/{dept}"), json!({"name": "x"})),
        (Method::PATCH, format!("/api/departments/{dept}/admin"), json!({"add": [{"id": x}]})),
        (Method::POST, format!("/api/departments/{dept}/members"), json!({"addMembers": [{"id": x}]})),
        (Method::DELETE, format!("/api/departments/{dept}"), json!({})),
    ] {
        let (status, v) = send(app.wd(method.clone(), &path, &other.token).json(&body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {v}");
    }
    // Another org's user cannot be made a member, nor join through the users endpoint.
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/departments/{dept}/members"), &org.token).json(&json!({"addMembers": [{"id": x}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{x}"), &other.token).json(&json!({"department": dept}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(member_ids(&members(&app, &org, &dept).await), vec![a]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_department_write_puts_its_events_on_nats() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Wire").await;
    let a = id(&app.add_user(&org, "a@wire.io").await);
    let b = id(&app.add_user(&org, "b@wire.io").await);
    let n0 = app.event_count().await as usize;
    let all = |evs: &[(String, String, Value)], from: usize| -> Vec<(String, String)> {
        evs[from..].iter().map(|(s, t, _)| (s.clone(), t.clone())).collect()
    };
    let pair = |s: &str, t: &str| (s.to_string(), t.to_string());

    let (_, d) = create_dept(&app, &org, "Wire", json!([{"id": a, "isAdmin": true}])).await;
    let dept = id(&d);
    let n1 = app.event_count().await as usize;
    let evs = nats_events(&app, n1).await;
    assert_eq!(
        all(&evs, n0),
        vec![
            pair("department", "DepartmentCreated"),
            pair("department", "DepartmentMemberAdded"),
            pair("department", "DepartmentHeadAdded"),
            pair("user", "UserUpdated"),
        ]
    );
    let created = &evs[n0].2;
    assert_eq!(created["stream_id"], dept.as_str());
    assert_eq!(created["org_id"], org.id.as_str());
    assert_eq!(created["payload"]["name"], "Wire");
    assert_eq!(evs[n0 + 3].2["stream_id"], a.as_str());
    assert_eq!(evs[n0 + 3].2["payload"]["department"], dept.as_str());
    assert_eq!(evs[n0 + 3].2["payload"]["is_department_head"], true);

    send(app.wd(Method::POST, &format!("/api/departments/{dept}/members"), &org.token).json(&json!({"addMembers": [{"id": b}]}))).await;
    let n2 = app.event_count().await as usize;
    let evs = nats_events(&app, n2).await;
    assert_eq!(all(&evs, n1), vec![pair("department", "DepartmentMemberAdded"), pair("user", "UserUpdated")]);

    send(app.wd(Method::PATCH, &format!("/api/departments/{dept}/admin"), &org.token).json(&json!({"add": [{"id": b}], "remove": a})))
        .await;
    let n3 = app.event_count().await as usize;
    let evs = nats_events(&app, n3).await;
    assert_eq!(
        all(&evs, n2),
        vec![
            pair("department", "DepartmentHeadAdded"),
            pair("department", "DepartmentHeadRemoved"),
            pair("user", "UserUpdated"),
            pair("user", "UserUpdated"),
        ]
    );

    send(app.wd(Method::PATCH, &format!("/api/departments/{dept}"), &org.token).json(&json!({"name": "Wired"}))).await;
    let n4 = app.event_count().await as usize;
    let evs = nats_events(&app, n4).await;
    assert_eq!(all(&evs, n3), vec![pair("department", "DepartmentUpdated")]);
    assert_eq!(evs[n3].2["payload"]["name"], "Wired");

    send(app.wd(Method::DELETE, &format!("/api/departments/{dept}"), &org.token)).await;
    let n5 = app.event_count().await as usize;
    let evs = nats_events(&app, n5).await;
    assert_eq!(all(&evs, n4), vec![pair("department", "DepartmentDeleted"), pair("user", "UserUpdated"), pair("user", "UserUpdated")]);
    let subject_ok = evs[n4..].iter().all(|(_, _, e)| e["org_id"] == org.id.as_str());
    assert!(subject_ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_heads_cannot_leave_a_department_headless() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Race").await;
    let a = id(&app.add_user(&org, "a@race.io").await);
    let b = id(&app.add_user(&org, "b@race.io").await);
    let c = id(&app.add_user(&org, "c@race.io").await);
    let (_, d) = create_dept(&app, &org, "Two heads", json!([{"id": a, "isAdmin": true}, {"id": b, "isAdmin": true}])).await;
    let dept = id(&d);
    let (_, other) = create_dept(&app, &org, "Elsewhere", json!([{"id": c, "isAdmin": true}])).await;
    let other = id(&other);

    // Both heads leave at once, through two different endpoints.
    let leave_a = send(app.wd(Method::PATCH, &format!("/api/users/{a}"), &org.token).json(&json!({"department": other})));
    let leave_b = send(app.wd(Method::POST, &format!("/api/departments/{dept}/members"), &org.token).json(&json!({"removeMembers": [b]})));
    let ((sa, va), (sb, vb)) = tokio::join!(leave_a, leave_b);
    let ok = [sa, sb].iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "exactly one may leave: {sa} {va} / {sb} {vb}");
    assert!([sa, sb].iter().all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST || *s == StatusCode::CONFLICT));
    let m = members(&app, &org, &dept).await;
    assert_eq!(m["departmentHeads"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m["members"].as_array().unwrap().len(), 1, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_with_the_same_idempotency_key_makes_one_department() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Retry").await;
    let a = id(&app.add_user(&org, "a@retry.io").await);
    let body = json!({"name": "Once", "members": [{"id": a, "isAdmin": true}]});
    let first = send_raw(app.wd(Method::POST, "/api/departments", &org.token).header("Idempotency-Key", "k1").json(&body)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let events = app.event_count().await;
    let again = send_raw(app.wd(Method::POST, "/api/departments", &org.token).header("Idempotency-Key", "k1").json(&body)).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(app.event_count().await, events, "a replay appends nothing");
    let (_, list) = send(app.wd(Method::GET, "/api/departments", &org.token)).await;
    assert_eq!(list["meta"]["totalResults"], 1);
}

/// The totals the lists show without counting rows: WorkDrive's users list filtered by one
/// department or location reads the projector's kept count (`unit_user_counts`), PortSIP's group
/// list the org's (`org_group_counts`). Through a walk of creates (single and bulk), moves between
/// units and out of them, and deletes (single and bulk), each total equals the rows that match,
/// and the kept counts equal a fresh `count(*)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_totals_follow_every_create_move_and_delete() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Counts").await;
    let mut depts = Vec::new();
    for name in ["One", "Two"] {
        let head = id(&app.add_user(&org, &format!("head{name}@counts.io")).await);
        let (status, d) = create_dept(&app, &org, name, json!([{"id": head, "isAdmin": true}])).await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
        depts.push(id(&d));
    }
    let mut locs = Vec::new();
    for name in ["Paris", "Oslo"] {
        let (status, l) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": name}))).await;
        assert_eq!(status, StatusCode::CREATED, "{l}");
        locs.push(id(&l));
    }
    // A unit or none, picked by `r`.
    let pick = |units: &[String], r: u64| -> Value { units.get(r as usize % (units.len() + 1)).map_or(Value::Null, |u| json!(u)) };
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut users: Vec<String> = Vec::new();
    for step in 0..36 {
        let r = next();
        match r % 6 {
            0..=2 => {
                let mut body = json!({"email": format!("u{step}@counts.io"), "firstName": "U", "lastName": format!("{step}"),
                    "department": pick(&depts, next()), "location": pick(&locs, next())});
                body.as_object_mut().unwrap().retain(|_, v| !v.is_null());
                let (status, v) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
                assert_eq!(status, StatusCode::CREATED, "{v}");
                users.push(id(&v));
            }
            3 | 4 if !users.is_empty() => {
                let who = &users[next() as usize % users.len()];
                let body = if r % 6 == 3 { json!({"department": pick(&depts, next())}) } else { json!({"location": pick(&locs, next())}) };
                let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{who}"), &org.token).json(&body)).await;
                assert_eq!(status, StatusCode::OK, "{body} → {v}");
            }
            _ if !users.is_empty() => {
                let who = users.swap_remove(next() as usize % users.len());
                let (status, v) = send(app.wd(Method::DELETE, &format!("/api/users/{who}"), &org.token)).await;
                assert!(status.is_success(), "{v}");
            }
            _ => {}
        }
    }
    let rows: Vec<Value> = (0..6)
        .map(|i| json!({"email": format!("bulk{i}@counts.io"), "firstName": "B", "lastName": "B", "department": depts[i % 2], "location": locs[i % 2]}))
        .collect();
    let (status, created) = send(app.wd(Method::POST, "/api/users/bulk-create", &org.token).json(&json!({"data": rows}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let gone: Vec<String> = created.as_array().unwrap().iter().take(3).map(id).collect();
    let (status, v) = send(app.wd(Method::DELETE, "/api/users/bulk-delete", &org.token).json(&json!({"id": gone}))).await;
    assert!(status.is_success(), "{v}");

    let (_, all) = send(app.wd(Method::GET, "/api/users?per_page=1000", &org.token)).await;
    let all = all["users"].as_array().unwrap().clone();
    for (field, units) in [("department", &depts), ("location", &locs)] {
        for unit in units.iter() {
            let (_, page) = send(app.wd(Method::GET, &format!("/api/users?per_page=1&{field}={unit}"), &org.token)).await;
            let listed = all.iter().filter(|u| u[field] == unit.as_str()).count();
            assert_eq!(page["meta"]["totalResults"], listed, "{field} {unit}");
        }
    }
    let fresh: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT v.unit, count(*) FROM rm_directory.users u, LATERAL (VALUES (u.department), (u.location)) v(unit) \
         WHERE NOT u.deleted AND u.org_id = $1 AND v.unit IS NOT NULL GROUP BY v.unit ORDER BY v.unit",
    )
    .bind(uuid::Uuid::parse_str(&org.id).unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let kept: Vec<(uuid::Uuid, i64)> =
        sqlx::query_as("SELECT unit_id, live FROM rm_directory.unit_user_counts WHERE org_id = $1 AND live > 0 ORDER BY unit_id")
            .bind(uuid::Uuid::parse_str(&org.id).unwrap())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(kept, fresh);

    // Groups: the unfiltered list's count is the kept one, through creates and a delete.
    for i in 0..4 {
        app.create_group(&org, &format!("G{i}")).await;
    }
    let (_, list) = send(app.ps(Method::GET, "/api/groups", &org.token)).await;
    let first = list["items"].as_array().map(|a| a[0]["id"].as_str().unwrap().to_string()).expect("items");
    let (status, _) = send(app.ps(Method::POST, &format!("/api/groups/{first}/destroy"), &org.token)).await;
    assert!(status.is_success());
    let (_, list) = send(app.ps(Method::GET, "/api/groups", &org.token)).await;
    assert_eq!(list["count"], 3, "{list}");
    let (_, filtered) = send(app.ps(Method::GET, "/api/groups?filter=startswith(name,'G')", &org.token)).await;
    assert_eq!(filtered["count"], list["count"]);
    // A filter without a parameter is still a filter: no group has a description.
    let (status, described) = send(app.ps(Method::GET, "/api/groups?filter=description ne null", &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{described}");
    assert_eq!(described["count"], 0, "{described}");
}
