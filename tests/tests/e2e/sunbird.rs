//! Sunbird groups-service over HTTP: envelopes, GS_* codes, permissions, limits at the boundary,
//! msgid idempotency, the path aliases, and the lms-service activity aggregator.

use reqwest::{Method, RequestBuilder, StatusCode};
use roster_tests::{send, send_raw, Org, TestApp};
use serde_json::{json, Value};

pub(crate) fn sb(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.req(method, path).header("x-authenticated-user-token", token)
}

pub(crate) fn env(request: Value) -> Value {
    json!({ "id": "api.group.x", "ver": "v1", "ts": "2024-01-01 00:00:00:000+0000", "params": { "did": "d1" }, "request": request })
}

/// A member user of `org` with a token of their own; returns (user id, token).
pub(crate) async fn member(app: &TestApp, org: &Org, email: &str) -> (String, String) {
    let u = app.add_user(org, email).await;
    let id = u["id"].as_str().unwrap().to_string();
    let (_, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({ "userId": id }))).await;
    (id, t["token"].as_str().unwrap().to_string())
}

/// `n` users of `org` made in one bulk call (no passwords); their ids.
pub(crate) async fn many_users(app: &TestApp, org: &Org, prefix: &str, n: usize) -> Vec<String> {
    let rows: Vec<Value> = (0..n).map(|i| json!({ "email": format!("{prefix}{i}@bulk.io"), "firstName": "B", "lastName": "U" })).collect();
    let (status, v) = send(app.wd(Method::POST, "/api/users/bulk-create", &org.token).json(&json!({ "data": rows }))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect()
}

fn assert_ts(ts: &Value) {
    let s = ts.as_str().expect("ts is a string");
    assert!(chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S:%3f%z").is_ok(), "ts format: {s}");
    assert!(s.ends_with("+0000"), "{s}");
}

/// A success envelope: returns `result`.
fn ok(status: StatusCode, v: &Value, id: &str) -> Value {
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id, "{v}");
    assert_eq!(v["ver"], "v1");
    assert_ts(&v["ts"]);
    assert_eq!(v["params"], Value::Null);
    assert_eq!(v["responseCode"], 200);
    v["result"].clone()
}

fn failed(status: StatusCode, v: &Value, http: StatusCode, id: &str, err: &str) {
    assert_eq!(status, http, "{v}");
    assert_eq!(v["id"], id, "{v}");
    assert_ts(&v["ts"]);
    assert_eq!(v["params"]["status"], "failed", "{v}");
    assert_eq!(v["params"]["err"], err, "{v}");
    assert_eq!(v["params"]["resmsgid"], Value::Null);
    assert!(v["params"]["msgid"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(v["params"]["errmsg"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(v["responseCode"], http.as_u16(), "{v}");
    assert_eq!(v["result"], json!({}));
}

pub(crate) async fn create(app: &TestApp, token: &str, request: Value) -> String {
    let (status, v) = send(sb(app, Method::POST, "/api/group/v1/create", token).json(&env(request))).await;
    ok(status, &v, "api.group.create")["groupId"].as_str().expect("groupId").to_string()
}

async fn read(app: &TestApp, token: &str, id: &str, fields: &str) -> Value {
    let (status, v) = send(sb(app, Method::GET, &format!("/api/group/v1/read/{id}?fields={fields}"), token)).await;
    ok(status, &v, "api.group.read")
}

async fn update(app: &TestApp, token: &str, request: Value) -> (StatusCode, Value) {
    send(sb(app, Method::PATCH, "/api/group/v1/update", token).json(&env(request))).await
}

fn member_of<'a>(g: &'a Value, user: &str) -> &'a Value {
    g["members"].as_array().unwrap().iter().find(|m| m["userId"] == user).unwrap_or_else(|| panic!("{user} not in {g}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunbird_group_lifecycle_with_envelopes() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lern").await;
    let (alice, alice_t) = member(&app, &org, "alice@lern.io").await;
    let (bob, bob_t) = member(&app, &org, "bob@lern.io").await;
    let (carol, _) = member(&app, &org, "carol@lern.io").await;

    let id = create(
        &app,
        &alice_t,
        json!({
            "name": "Study circle", "description": "weekly", "membershipType": "moderated",
            "members": [{"userId": bob, "role": "member"}],
            "activities": [{"id": "do_1", "type": "Course"}],
        }),
    )
    .await;
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "Sunbird shows the UUID: {id}");

    // Read: the creator is an admin who visited; members only with fields=members.
    let g = read(&app, &alice_t, &id, "members,activities").await;
    assert_eq!((g["id"].as_str(), g["name"].as_str(), g["status"].as_str()), (Some(id.as_str()), Some("Study circle"), Some("active")));
    assert_eq!(g["membershipType"], "moderated");
    assert_eq!(g["createdBy"], alice.as_str());
    assert_ts(&g["createdOn"]);
    assert_eq!(g["activities"], json!([{"id": "do_1", "type": "Course"}]));
    assert_eq!(member_of(&g, &alice)["role"], "admin");
    assert_eq!(member_of(&g, &alice)["visited"], true);
    assert_eq!(member_of(&g, &bob)["role"], "member");
    assert_eq!(member_of(&g, &bob)["status"], "active");
    assert_eq!(member_of(&g, &bob)["name"], "Firstname Lastname");
    let g = read(&app, &alice_t, &id, "activities").await;
    assert!(g.get("members").is_none() && g["activities"].is_array(), "{g}");
    let g = read(&app, &alice_t, &id, "members").await;
    assert!(g.get("activities").is_none() && g["members"].is_array(), "{g}");

    // A second group where bob is admin, to see list order (admin first).
    let other = create(&app, &bob_t, json!({"name": "Bob's"})).await;
    let (status, v) = send(sb(&app, Method::POST, "/group/v1/list", &bob_t).json(&env(json!({"filters": {"userId": bob}})))).await;
    let list = ok(status, &v, "api.group.list");
    let roles: Vec<(&str, &str)> =
        list["group"].as_array().unwrap().iter().map(|g| (g["id"].as_str().unwrap(), g["memberRole"].as_str().unwrap())).collect();
    assert_eq!(roles, vec![(other.as_str(), "admin"), (id.as_str(), "member")]);
    assert_eq!(list["group"][1]["visited"], false);
    assert_eq!(list["group"][1]["activities"], json!([{"id": "do_1", "type": "Course"}]));

    // Update: fields, members add (one already there) / edit (one unknown) / remove, activities.
    let (status, v) = update(&app, &alice_t, json!({
        "groupId": id, "name": "Study circle II", "description": "",
        "members": {"add": [{"userId": carol, "role": "admin"}, {"userId": bob}], "edit": [{"userId": bob, "role": "admin"}, {"userId": org.admin_id, "role": "admin"}], "remove": []},
        "activities": {"add": [{"id": "do_2", "type": "Resource"}], "remove": ["do_1"]},
    }))
    .await;
    let r = ok(status, &v, "api.group.update");
    assert_eq!(r["response"], "success");
    assert_eq!(
        r["error"]["members"],
        json!([{"userId": bob, "errorCode": "MEMBER_EXISTS"}, {"userId": org.admin_id, "errorCode": "MEMBER_NOT_FOUND"}])
    );
    let g = read(&app, &alice_t, &id, "members,activities").await;
    assert_eq!(g["name"], "Study circle II");
    assert_eq!(g["updatedBy"], alice.as_str());
    assert_eq!(g["activities"], json!([{"id": "do_2", "type": "Resource"}]));
    assert_eq!(member_of(&g, &carol)["role"], "admin");
    assert_eq!(member_of(&g, &bob)["role"], "admin");

    // Removal keeps the record: inactive, with who and when.
    let (status, v) = update(&app, &alice_t, json!({"groupId": id, "members": {"remove": [carol]}})).await;
    assert!(ok(status, &v, "api.group.update").get("error").is_none(), "{v}");
    let g = read(&app, &alice_t, &id, "members").await;
    let c = member_of(&g, &carol);
    assert_eq!((c["status"].as_str(), c["removedBy"].as_str()), (Some("inactive"), Some(alice.as_str())));
    assert_ts(&c["removedOn"]);

    // Membership update: bob marks the group visited.
    let (status, v) = send(
        sb(&app, Method::POST, "/api/group/membership/v1/update", &bob_t)
            .json(&env(json!({"userId": bob, "groups": [{"groupId": id, "visited": true}]}))),
    )
    .await;
    assert_eq!(ok(status, &v, "api.group.membership.update")["response"], "SUCCESS");
    assert_eq!(member_of(&read(&app, &bob_t, &id, "members").await, &bob)["visited"], true);
    let (status, v) = send(
        sb(&app, Method::PATCH, "/v1/group/membership/update", &bob_t)
            .json(&env(json!({"userId": alice, "groups": [{"groupId": id, "visited": true}]}))),
    )
    .await;
    failed(status, &v, StatusCode::UNAUTHORIZED, "api.group.membership.update", "GS_MBRSHP_UDT01");

    // Delete: an admin who is not the creator may not; the creator may.
    let (status, v) = send(sb(&app, Method::POST, "/v1/group/delete", &bob_t).json(&env(json!({"groupId": id})))).await;
    failed(status, &v, StatusCode::UNAUTHORIZED, "api.group.delete", "GS_DLT10");
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/delete", &alice_t).json(&env(json!({"groupId": id})))).await;
    assert_eq!(ok(status, &v, "api.group.delete")["response"], "SUCCESS");
    let (status, v) = send(sb(&app, Method::GET, &format!("/api/group/v1/read/{id}"), &alice_t)).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.read", "GS_RED07");
    let (status, v) = update(&app, &alice_t, json!({"groupId": id, "name": "x"})).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.update", "GS_UDT07");
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/delete", &alice_t).json(&env(json!({"groupId": id})))).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.delete", "GS_DLT07");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunbird_auth_permissions_and_errors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Rules").await;
    let other = app.create_org("Elsewhere").await;
    let (alice, alice_t) = member(&app, &org, "alice@rules.io").await;
    let (bob, bob_t) = member(&app, &org, "bob@rules.io").await;
    let (_, eve_t) = member(&app, &org, "eve@rules.io").await;

    // The user token is mandatory and must be a live Roster token; the msgid echoes x-request-id.
    let (status, v) =
        send(app.req(Method::POST, "/api/group/v1/create").header("x-request-id", "req-1").json(&env(json!({"name": "x"})))).await;
    failed(status, &v, StatusCode::UNAUTHORIZED, "api.group.create", "GS_UNAUTHORIZED");
    assert_eq!(v["params"]["msgid"], "req-1");
    assert_eq!(v["params"]["errmsg"], "You are an unauthorized.Contact your system administrator");
    assert_eq!(v["ver"], "v1", "the request's ver is echoed");
    let (status, v) =
        send(sb(&app, Method::POST, "/api/group/v1/list", "not-a-token").json(&env(json!({"filters": {"userId": alice}})))).await;
    failed(status, &v, StatusCode::UNAUTHORIZED, "api.group.list", "GS_UNAUTHORIZED");
    // An Authorization bearer, when present, must be a valid token of the same organization.
    let list = env(json!({"filters": {"userId": alice}}));
    let (status, _) = send(sb(&app, Method::POST, "/api/group/v1/list", &alice_t).bearer_auth(&other.token).json(&list)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(sb(&app, Method::POST, "/api/group/v1/list", &alice_t).bearer_auth("garbage").json(&list)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/list", &alice_t).bearer_auth(&org.token).json(&list)).await;
    ok(status, &v, "api.group.list");

    // x-authenticated-for: a managed user (reporting to the caller) acts; anyone else is refused.
    let (status, _) = send(app.wd(Method::PATCH, &format!("/api/users/{bob}"), &org.token).json(&json!({"reportsTo": alice}))).await;
    assert_eq!(status, StatusCode::OK);
    let id = {
        let (status, v) = send(
            sb(&app, Method::POST, "/api/group/v1/create", &alice_t)
                .header("x-authenticated-for", &bob_t)
                .json(&env(json!({"name": "For Bob"}))),
        )
        .await;
        ok(status, &v, "api.group.create")["groupId"].as_str().unwrap().to_string()
    };
    assert_eq!(read(&app, &bob_t, &id, "members").await["createdBy"], bob.as_str());
    let (status, v) =
        send(sb(&app, Method::POST, "/api/group/v1/create", &eve_t).header("x-authenticated-for", &bob_t).json(&env(json!({"name": "x"}))))
            .await;
    failed(status, &v, StatusCode::UNAUTHORIZED, "api.group.create", "GS_UNAUTHORIZED");

    // Validation failures are the endpoint's *02 code; a non-JSON body is an empty request.
    for body in [
        json!({"request": {}}),
        json!({"request": {"name": "  "}}),
        json!({"request": {"name": "x", "members": {"userId": bob}}}),
        json!({"request": {"name": "x", "members": [{"userId": bob, "role": "owner"}]}}),
        json!({"request": {"name": "x", "activities": [{"id": "a"}]}}),
        json!({"request": {"name": "x", "members": [{"userId": uuid::Uuid::new_v4()}]}}),
    ] {
        let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/create", &alice_t).json(&body)).await;
        failed(status, &v, StatusCode::BAD_REQUEST, "api.group.create", "GS_CRT02");
    }
    let (status, v) =
        send(sb(&app, Method::POST, "/api/group/v1/create", &alice_t).header("content-type", "text/plain").body("name=x")).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.create", "GS_CRT02");
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/list", &alice_t).json(&env(json!({"filters": {}})))).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.list", "GS_LST02");
    let (status, v) = update(&app, &alice_t, json!({"name": "no id"})).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.update", "GS_UDT02");
    let (status, v) = update(&app, &bob_t, json!({"groupId": id, "members": {"add": [{"userId": alice, "role": "boss"}]}})).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.update", "GS_UDT02");

    // Permissions: bob (creator, admin) adds alice and eve as members.
    let (status, v) = update(&app, &bob_t, json!({"groupId": id, "members": {"add": [{"userId": alice}]}})).await;
    ok(status, &v, "api.group.update");
    // A member may not rename, nor remove someone else, nor deactivate.
    for req in [
        json!({"groupId": id, "name": "mine"}),
        json!({"groupId": id, "members": {"remove": [bob]}}),
        json!({"groupId": id, "status": "inactive"}),
    ] {
        let (status, v) = update(&app, &alice_t, req).await;
        failed(status, &v, StatusCode::UNAUTHORIZED, "api.group.update", "GS_UDT09");
    }
    // Activity changes: any active member; not an outsider.
    let acts = json!({"groupId": id, "activities": {"add": [{"id": "do_9", "type": "Course"}]}});
    let (status, v) = update(&app, &alice_t, acts.clone()).await;
    ok(status, &v, "api.group.update");
    let (status, v) = update(&app, &eve_t, acts).await;
    failed(status, &v, StatusCode::UNAUTHORIZED, "api.group.update", "GS_UDT09");

    // Suspended: only reactivation, or a member leaving.
    let (status, v) = update(&app, &bob_t, json!({"groupId": id, "status": "suspended"})).await;
    ok(status, &v, "api.group.update");
    assert_eq!(read(&app, &bob_t, &id, "").await["status"], "suspended");
    let (status, v) = update(&app, &bob_t, json!({"groupId": id, "name": "renamed"})).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.update", "GS_UDT08");
    let (status, v) = update(&app, &alice_t, json!({"groupId": id, "members": {"remove": [alice]}})).await;
    ok(status, &v, "api.group.update");
    let g = read(&app, &bob_t, &id, "members").await;
    assert_eq!(member_of(&g, &alice)["status"], "inactive");
    let (status, v) = update(&app, &bob_t, json!({"groupId": id, "status": "active", "name": "back"})).await;
    ok(status, &v, "api.group.update");
    assert_eq!(read(&app, &bob_t, &id, "").await["status"], "active");
    // `inactive` from the creator is a hard delete.
    let (status, v) = update(&app, &bob_t, json!({"groupId": id, "status": "inactive"})).await;
    ok(status, &v, "api.group.update");
    let (status, v) = send(sb(&app, Method::GET, &format!("/v1/group/read/{id}"), &bob_t)).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.read", "GS_RED07");

    // Unknown routes and wrong methods answer in the envelope.
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/frobnicate", &bob_t).json(&env(json!({})))).await;
    failed(status, &v, StatusCode::NOT_FOUND, "api.group.frobnicate", "RESOURCE_NOT_FOUND");
    let (status, v) = send(sb(&app, Method::GET, "/api/group/v1/create", &bob_t)).await;
    failed(status, &v, StatusCode::METHOD_NOT_ALLOWED, "api.group.create", "RESOURCE_NOT_FOUND");
    let resp = send_raw(sb(&app, Method::GET, "/v1/group/nothing", &bob_t)).await;
    assert_eq!(resp.headers().get("access-control-allow-origin").unwrap(), "*");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Another tenant's group is simply not there.
    let (_, other_member_t) = member(&app, &other, "o@elsewhere.io").await;
    let theirs = create(&app, &other_member_t, json!({"name": "Theirs"})).await;
    let (status, v) = send(sb(&app, Method::GET, &format!("/api/group/v1/read/{theirs}"), &bob_t)).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.read", "GS_RED07");
    let (status, v) = update(&app, &org.token, json!({"groupId": theirs, "name": "mine"})).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.update", "GS_UDT07");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunbird_limits_at_the_boundary() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Limits").await;
    let (alice, alice_t) = member(&app, &org, "alice@limits.io").await;
    let users = many_users(&app, &org, "m", 151).await;
    let members = |n: usize| users[..n].iter().map(|u| json!({"userId": u})).collect::<Vec<_>>();
    let acts = |n: usize| (0..n).map(|i| json!({"id": format!("do_{i}"), "type": "Course"})).collect::<Vec<_>>();

    // 149 listed + the creator = 150 members: all stored.
    let full = create(&app, &alice_t, json!({"name": "Full", "members": members(149), "activities": acts(20)})).await;
    let g = read(&app, &alice_t, &full, "members,activities").await;
    assert_eq!(g["members"].as_array().unwrap().len(), 150);
    assert_eq!(g["activities"].as_array().unwrap().len(), 20);

    // 150 listed + the creator = 151: the group is made with its creator only, and says why.
    let (status, v) = send(
        sb(&app, Method::POST, "/api/group/v1/create", &alice_t)
            .json(&env(json!({"name": "Over", "members": members(150), "activities": acts(21)}))),
    )
    .await;
    let r = ok(status, &v, "api.group.create");
    assert_eq!(
        r["error"]["members"],
        json!([{"errorCode": "GS_CRT05", "errorMessage": "Failed to add member, group, exceeded number of permissible members of 150."}])
    );
    assert_eq!(r["error"]["activities"][0]["errorCode"], "GS_CRT06");
    let g = read(&app, &alice_t, r["groupId"].as_str().unwrap(), "members,activities").await;
    let ids: Vec<&str> = g["members"].as_array().unwrap().iter().map(|m| m["userId"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![alice.as_str()]);
    assert_eq!(g["activities"], json!([]));

    // Update past 150 members or 20 activities changes nothing and reports it.
    let (status, v) = update(
        &app,
        &alice_t,
        json!({"groupId": full, "members": {"add": [{"userId": users[150]}]},
        "activities": {"add": [{"id": "do_extra", "type": "Course"}]}}),
    )
    .await;
    let r = ok(status, &v, "api.group.update");
    assert_eq!(r["error"]["members"][0]["errorCode"], "GS_UDT05");
    assert_eq!(r["error"]["activities"][0]["errorCode"], "GS_UDT06");
    assert_eq!(
        r["error"]["activities"][0]["errorMessage"],
        "Failed to update group activity, exceeded permissible activities of 20 in a group"
    );
    let g = read(&app, &alice_t, &full, "members,activities").await;
    assert_eq!(g["members"].as_array().unwrap().len(), 150);
    assert_eq!(g["activities"].as_array().unwrap().len(), 20);
    // Swapping one member out and one in stays at 150: applied.
    let (status, v) =
        update(&app, &alice_t, json!({"groupId": full, "members": {"add": [{"userId": users[150]}], "remove": [users[0]]}})).await;
    assert!(ok(status, &v, "api.group.update").get("error").is_none(), "{v}");

    // Groups per user: alice is in 2 groups; at 50 she may create no more.
    for i in 2..50 {
        create(&app, &alice_t, json!({"name": format!("g{i}")})).await;
    }
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/create", &alice_t).json(&env(json!({"name": "one too many"})))).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.create", "GS_CRT04");
    assert_eq!(v["params"]["errmsg"], "Failed to create group, exceeded number of permissible groups of 50.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunbird_msgid_is_the_request_id() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Idem").await;
    let (alice, alice_t) = member(&app, &org, "alice@idem.io").await;
    let mut body = env(json!({"name": "Once"}));
    body["params"]["msgid"] = json!("msg-42");
    let (s1, v1) = send(sb(&app, Method::POST, "/api/group/v1/create", &alice_t).json(&body)).await;
    let events = app.event_count().await;
    let (s2, v2) = send(sb(&app, Method::POST, "/api/group/v1/create", &alice_t).json(&body)).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(v1["result"]["groupId"], v2["result"]["groupId"], "the same group: {v1} {v2}");
    assert_eq!(app.event_count().await, events, "a repeated msgid appends nothing");
    // The same msgid for a different request is refused, not answered with the first result.
    let mut other = env(json!({"name": "Something else"}));
    other["params"]["msgid"] = json!("msg-42");
    let (status, v) = send(sb(&app, Method::POST, "/api/group/v1/create", &alice_t).json(&other)).await;
    failed(status, &v, StatusCode::BAD_REQUEST, "api.group.create", "GS_CRT02");
    assert_eq!(app.event_count().await, events);
    // The header form (x-request-id) works the same way, and is echoed as params.msgid on errors.
    let req =
        || sb(&app, Method::POST, "/api/group/v1/create", &alice_t).header("x-request-id", "hdr-7").json(&env(json!({"name": "Hdr"})));
    let (_, a) = send(req()).await;
    let (_, b) = send(req()).await;
    assert_eq!(a["result"]["groupId"], b["result"]["groupId"]);
    let (_, list) = send(sb(&app, Method::POST, "/api/group/v1/list", &alice_t).json(&env(json!({"filters": {"userId": alice}})))).await;
    assert_eq!(list["result"]["group"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunbird_activity_aggregates_come_from_recorded_progress() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Agg").await;
    let (alice, alice_t) = member(&app, &org, "alice@agg.io").await;
    let (bob, _) = member(&app, &org, "bob@agg.io").await;
    let id = create(
        &app,
        &alice_t,
        json!({"name": "Course group", "members": [{"userId": bob}], "activities": [{"id": "do_c", "type": "Course"}]}),
    )
    .await;
    let agg = |token: &str, request: Value| sb(&app, Method::POST, "/api/data/v1/group/activity/agg", token).json(&env(request));

    // No progress recorded: the documented empty shape, in lms-service's envelope.
    let resp =
        send_raw(agg(&alice_t, json!({"groupId": id, "activityId": "do_c", "activityType": "Course"})).header("x-request-id", "agg-1"))
            .await;
    assert!(resp.headers().get("x-response-length").is_some());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], "api.group.activity.agg");
    assert_eq!(v["responseCode"], "OK");
    assert_eq!(v["params"], json!({"resmsgid": null, "msgid": "agg-1", "err": null, "status": "success", "errmsg": null}));
    assert_eq!(v["result"]["groupId"], id.as_str());
    assert_eq!(v["result"]["members"], json!([]));
    assert_eq!(v["result"]["activity"]["id"], "do_c");
    assert_eq!(v["result"]["activity"]["agg"][0]["metric"], "enrolmentCount");
    assert_eq!(v["result"]["activity"]["agg"][0]["value"], 0);

    // Progress recorded through the command handler feeds the read model.
    let store = commands::Store::new(app.pool.clone());
    let ctx = commands::CommandContext::system("test", chrono::Utc::now());
    let org_id = domain::OrgId(org.id.parse().unwrap());
    commands::handlers::user::record_activity_progress(
        &store,
        &ctx,
        org_id,
        domain::UserId(bob.parse().unwrap()),
        "do_c".into(),
        "Course".into(),
        3,
    )
    .await
    .unwrap();
    app.eventually("bob's progress is aggregated", std::time::Duration::from_secs(10), || async {
        let (_, v) = send(agg(&alice_t, json!({"groupId": id, "activityId": "do_c", "activityType": "Course"}))).await;
        v["result"]["members"].as_array().is_some_and(|m| m.len() == 1)
    })
    .await;
    let (_, v) = send(agg(&alice_t, json!({"groupId": id, "activityId": "do_c", "activityType": "Course"}))).await;
    let m = &v["result"]["members"][0];
    assert_eq!((m["userId"].as_str(), m["role"].as_str(), m["status"].as_str()), (Some(bob.as_str()), Some("member"), Some("active")));
    assert_eq!(m["createdBy"], alice.as_str());
    assert_eq!(m["agg"][0]["metric"], "completedCount");
    assert_eq!(m["agg"][0]["value"], 3);
    assert!(m["agg"][0]["lastUpdatedOn"].is_i64());
    assert_eq!(v["result"]["activity"]["agg"][0]["value"], 1);

    // Errors: missing fields are CLIENT_ERROR; an unknown group is the documented SERVER_ERROR.
    for (req, err) in [
        (json!({}), "INVALID_REQUESTED_DATA"),
        (json!({"activityId": "a", "activityType": "Course"}), "GROUP_ID_MISSING"),
        (json!({"groupId": id, "activityType": "Course"}), "ACTIVITY_ID_MISSING"),
        (json!({"groupId": id, "activityId": "a"}), "ACTIVITY_TYPE_MISSING"),
    ] {
        let (status, v) = send(agg(&alice_t, req)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            (v["params"]["err"].as_str(), v["params"]["status"].as_str(), v["responseCode"].as_str()),
            (Some(err), Some(err), Some("CLIENT_ERROR"))
        );
    }
    let (status, v) = send(agg(&alice_t, json!({"groupId": uuid::Uuid::new_v4(), "activityId": "a", "activityType": "Course"}))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["params"]["errmsg"], "Error while fetching group members record.");
    assert_eq!((v["params"]["status"].as_str(), v["responseCode"].as_str()), (Some("SERVER_ERROR"), Some("SERVER_ERROR")));
    assert_eq!(v["result"], json!({}));
    let (status, _) = send(app.req(Method::POST, "/v1/group/activity/agg").json(&env(json!({"groupId": id})))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
