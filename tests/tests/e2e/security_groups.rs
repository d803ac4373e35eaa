//! WorkDrive security groups (E70–E72) over HTTP: the two groups every new organization starts
//! with, `roster security-group add`, shapes and statuses, every documented error, paging at the
//! edges, tenant isolation, rights that follow Administrators membership at once, the "an org
//! keeps an admin" rule, the user ↔ member-count agreement, and the events each write puts on NATS.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use clap::Parser;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster::cli::{execute, Cli};
use roster_tests::{send, send_raw, Org, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

async fn groups(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, v) = send(app.wd(Method::GET, &format!("/api/security_groups{query}"), token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

/// The org's group named `name`, as E70 lists it.
async fn group(app: &TestApp, org: &Org, name: &str) -> Value {
    let v = groups(app, &org.token, "?per_page=1000").await;
    v["groups"].as_array().unwrap().iter().find(|g| g["name"] == name).cloned().unwrap_or_else(|| panic!("no group {name}: {v}"))
}

async fn add(app: &TestApp, token: &str, group: &str, ids: Value) -> (StatusCode, Value) {
    send(app.wd(Method::POST, &format!("/api/security_groups/{group}/members"), token).json(&json!({ "ids": ids }))).await
}

async fn remove(app: &TestApp, token: &str, group: &str, ids: Value) -> (StatusCode, Value) {
    send(app.wd(Method::DELETE, &format!("/api/security_groups/{group}/members"), token).json(&json!({ "ids": ids }))).await
}

async fn user(app: &TestApp, org: &Org, user_id: &str) -> Value {
    let (_, v) = send(app.wd(Method::GET, "/api/users?per_page=1000", &org.token)).await;
    v["users"].as_array().unwrap().iter().find(|u| u["id"] == user_id).cloned().expect("the user is listed")
}

async fn token_of(app: &TestApp, org: &Org, user_id: &str) -> String {
    let (status, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({ "userId": user_id }))).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_string()
}

/// Whether `token` has org-admin rights: it may add a user.
async fn may_add_users(app: &TestApp, token: &str, email: &str) -> bool {
    let body = json!({ "email": email, "firstName": "F", "lastName": "L" });
    let (status, v) = send(app.wd(Method::POST, "/api/users/add", token).json(&body)).await;
    assert!(status == StatusCode::CREATED || status == StatusCode::FORBIDDEN, "{status} {v}");
    status == StatusCode::CREATED
}

async fn cli(args: &[&str]) -> Result<String, String> {
    let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    execute(cli, std::future::pending(), &mut out).await.map_err(|e| e.to_string())?;
    Ok(String::from_utf8(out).unwrap().trim().to_string())
}

/// `roster security-group add`, then waits until the API lists the group (the CLI does not wait
/// for the read models).
async fn cli_add_group(app: &TestApp, org: &Org, name: &str) -> String {
    let id = cli(&["roster", "security-group", "add", "--org", &org.id, "--name", name, "--database-url", &app.config.database_url])
        .await
        .unwrap();
    app.eventually("the new group to be listed", Duration::from_secs(20), || async {
        let v = groups(app, &org.token, "?per_page=1000").await;
        v["groups"].as_array().unwrap().iter().any(|g| g["id"] == id.as_str())
    })
    .await;
    id
}

/// Every NATS message of the test's stream, as (stream type, event type, envelope).
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
async fn a_new_org_has_administrators_and_users_and_new_members_join_users() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Sg").await;

    let list = groups(&app, &org.token, "").await;
    let gs = list["groups"].as_array().unwrap();
    assert_eq!(gs.len(), 2, "{list}");
    assert_eq!(gs[0]["name"], "Administrators");
    assert_eq!(gs[0]["memberCount"], 1);
    assert_eq!(gs[1]["name"], "Users");
    assert_eq!(gs[1]["memberCount"], 0);
    for g in gs {
        let mut keys: Vec<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["id", "memberCount", "name"], "SecurityGroup is {{id, name, memberCount}}: {g}");
    }
    assert_eq!(list["meta"], json!({"perPage": 10, "totalPages": 1, "totalResults": 2, "curPage": 1, "nextPage": null}));
    let (admins, users) = (id(&gs[0]), id(&gs[1]));
    assert_eq!(user(&app, &org, &org.admin_id).await["securityGroup"], admins.as_str(), "the creator is in Administrators");

    // No securityGroup: the member joins Users (and the onboarding still counts it as missing).
    let a = app.add_user(&org, "a@sg.io").await;
    assert_eq!(a["securityGroup"], users.as_str());
    assert_eq!(a["status"], "PRE_INVITED");
    assert_eq!(group(&app, &org, "Users").await["memberCount"], 1);

    // A named group of the org is joined: naming Administrators makes an admin.
    let body = json!({"email": "b@sg.io", "firstName": "B", "lastName": "B", "securityGroup": admins});
    let (status, b) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(b["securityGroup"], admins.as_str());
    assert_eq!(group(&app, &org, "Administrators").await["memberCount"], 2);
    let b_token = token_of(&app, &org, &id(&b)).await;
    assert!(may_add_users(&app, &b_token, "by-b@sg.io").await, "a member of Administrators is an org admin");
    let a_token = token_of(&app, &org, &id(&a)).await;
    assert!(!may_add_users(&app, &a_token, "by-a@sg.io").await, "a member of Users is not");

    // A group that is not the org's: 400 naming securityGroup.
    let other = app.create_org("Other Sg").await;
    let foreign = id(&group(&app, &other, "Users").await);
    for bad in [foreign, uuid::Uuid::now_v7().to_string()] {
        let body = json!({"email": "c@sg.io", "firstName": "C", "lastName": "C", "securityGroup": bad});
        let (status, v) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["message"].as_str().unwrap().starts_with("securityGroup"), "{v}");
    }
    // Bulk rows follow the same rules, naming their row.
    let (status, v) = send(app.wd(Method::POST, "/api/users/bulk-create", &org.token).json(&json!({"data": [
        {"email": "d@sg.io", "firstName": "D", "lastName": "D"},
        {"email": "e@sg.io", "firstName": "E", "lastName": "E", "securityGroup": uuid::Uuid::now_v7()},
    ]})))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("data[1].securityGroup"), "{v}");
    let (status, v) = send(app.wd(Method::POST, "/api/users/bulk-create", &org.token).json(&json!({"data": [
        {"email": "d@sg.io", "firstName": "D", "lastName": "D"},
        {"email": "e@sg.io", "firstName": "E", "lastName": "E", "securityGroup": admins},
    ]})))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v[0]["securityGroup"], users.as_str());
    assert_eq!(v[1]["securityGroup"], admins.as_str());

    // Counts follow users: a deleted member is no longer counted.
    let before = group(&app, &org, "Users").await["memberCount"].as_i64().unwrap();
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/users/{}", id(&a)), &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(group(&app, &org, "Users").await["memberCount"].as_i64().unwrap(), before - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_membership_grants_and_revokes_admin_rights_at_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Rights").await;
    let admins = id(&group(&app, &org, "Administrators").await);
    let users = id(&group(&app, &org, "Users").await);
    let m = id(&app.add_user(&org, "m@rights.io").await);
    let m_token = token_of(&app, &org, &m).await;
    assert!(!may_add_users(&app, &m_token, "x1@rights.io").await);

    // E71: 200 with the group; the user moves out of Users.
    let resp =
        send_raw(app.wd(Method::POST, &format!("/api/security_groups/{admins}/members"), &org.token).json(&json!({"ids": [m]}))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("roster-position").is_some());
    let g: Value = resp.json().await.unwrap();
    assert_eq!(g, json!({"id": admins, "name": "Administrators", "memberCount": 2}));
    assert_eq!(user(&app, &org, &m).await["securityGroup"], admins.as_str());
    assert_eq!(group(&app, &org, "Users").await["memberCount"], 0, "m left Users");
    assert!(may_add_users(&app, &m_token, "x2@rights.io").await, "admin at the next request");

    // Adding a present member is a no-op: same answer, nothing appended.
    let before = app.event_count().await;
    let (status, again) = add(&app, &org.token, &admins, json!([m, m])).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, g);
    assert_eq!(app.event_count().await, before, "a no-op appends nothing");

    // E72 (ids in the query): 204, rights gone at once, the user is in no group.
    let resp = send_raw(app.wd(Method::DELETE, &format!("/api/security_groups/{admins}/members?ids={m}"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(user(&app, &org, &m).await["securityGroup"], Value::Null);
    assert_eq!(group(&app, &org, "Administrators").await["memberCount"], 1);
    assert!(!may_add_users(&app, &m_token, "x3@rights.io").await, "rights revoked at once");

    // The last member of Administrators can neither be removed nor moved elsewhere.
    let before = app.event_count().await;
    let (status, v) = remove(&app, &org.token, &admins, json!([org.admin_id])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("ids[0]") && v["message"].as_str().unwrap().contains("last member"), "{v}");
    let (status, v) = add(&app, &org.token, &users, json!([m, org.admin_id])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("ids[1]"), "{v}");
    assert_eq!(app.event_count().await, before, "a refused command appends nothing (all or nothing)");
    assert_eq!(user(&app, &org, &m).await["securityGroup"], Value::Null, "m did not move either");
    assert!(may_add_users(&app, &org.token, "x4@rights.io").await, "the org still has its admin");

    // With a second admin, the first may leave (even on their own call), and then is no admin.
    add(&app, &org.token, &admins, json!([m])).await;
    let (status, v) = add(&app, &org.token, &users, json!([org.admin_id])).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["memberCount"], 3);
    assert!(!may_add_users(&app, &org.token, "x5@rights.io").await, "the creator is a member now");
    assert!(may_add_users(&app, &m_token, "x6@rights.io").await);
    // m, now the only admin, cannot leave either.
    let (status, v) = remove(&app, &m_token, &admins, json!([m])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_errors_are_documented_codes_naming_the_field() {
    let app = TestApp::spawn().await;
    let org = app.create_org("SgErrs").await;
    let admins = id(&group(&app, &org, "Administrators").await);
    let users = id(&group(&app, &org, "Users").await);
    let a = id(&app.add_user(&org, "a@sgerrs.io").await);
    let member = token_of(&app, &org, &a).await;

    // 401 on every endpoint.
    for (method, path) in [
        (Method::GET, "/api/security_groups".to_string()),
        (Method::POST, format!("/api/security_groups/{users}/members")),
        (Method::DELETE, format!("/api/security_groups/{users}/members")),
    ] {
        let (status, v) = send(app.req(method, &path).json(&json!({"ids": [a]}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(v, json!({"statusCode": 401, "message": "Your API key is wrong", "error": "Unauthorized"}));
    }

    // 403: members may list, not write; the super admin belongs to no org.
    assert_eq!(groups(&app, &member, "").await["meta"]["totalResults"], 2);
    let (status, v) = add(&app, &member, &admins, json!([a])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["statusCode"], 403);
    assert_eq!(v["error"], "Forbidden");
    let (status, _) = remove(&app, &member, &users, json!([a])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(app.wd(Method::GET, "/api/security_groups", &app.super_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // 404: unknown or malformed group ids.
    for g in [uuid::Uuid::now_v7().to_string(), "nope".to_string()] {
        let (status, v) = add(&app, &org.token, &g, json!([a])).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["statusCode"], 404);
        assert_eq!(v["message"], "security group not found");
        let (status, _) = remove(&app, &org.token, &g, json!([a])).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // 400: unknown users (naming ids[i]), malformed ids, no ids, not a member, bad body, bad paging.
    let stranger = uuid::Uuid::now_v7().to_string();
    let (status, v) = add(&app, &org.token, &users, json!([a, stranger])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["statusCode"], 400);
    assert_eq!(v["error"], "Bad Request");
    assert!(v["message"].as_str().unwrap().starts_with("ids[1]"), "{v}");
    let (status, v) = add(&app, &org.token, &users, json!(["nope"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("ids[0]"), "{v}");
    let (status, v) = add(&app, &org.token, &users, json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("ids"), "{v}");
    let (status, v) = send(app.wd(Method::DELETE, &format!("/api/security_groups/{users}/members"), &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no ids in body nor query: {v}");
    let (status, v) = remove(&app, &org.token, &admins, json!([a])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("ids[0]") && v["message"].as_str().unwrap().contains("not a member"), "{v}");
    let (status, v) = remove(&app, &org.token, &users, json!([stranger])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("ids[0]"), "{v}");
    let (status, _) =
        send(app.wd(Method::POST, &format!("/api/security_groups/{users}/members"), &org.token).json(&json!({"ids": "x"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, v) = send(app.wd(Method::GET, "/api/security_groups?per_page=0", &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("per_page"), "{v}");
    let (status, v) = send(app.wd(Method::GET, "/api/security_groups?cur_page=x", &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("cur_page"), "{v}");

    // Nothing moved.
    assert_eq!(user(&app, &org, &a).await["securityGroup"], users.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_pages_at_the_edges_and_the_cli_adds_groups() {
    let app = TestApp::spawn().await;
    let org = app.create_org("SgPages").await;
    let meta = |v: &Value| v["meta"].clone();
    let names = |v: &Value| v["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();

    // Exact multiple: two groups, two a page.
    let p = groups(&app, &org.token, "?per_page=2").await;
    assert_eq!(names(&p), ["Administrators", "Users"]);
    assert_eq!(meta(&p), json!({"perPage": 2, "totalPages": 1, "totalResults": 2, "curPage": 1, "nextPage": null}));
    // Past the end: empty.
    let p = groups(&app, &org.token, "?per_page=2&cur_page=2").await;
    assert_eq!(p["groups"], json!([]));
    assert_eq!(meta(&p), json!({"perPage": 2, "totalPages": 1, "totalResults": 2, "curPage": 2, "nextPage": null}));

    // The CLI adds a group; it starts empty and is listed after the built-in ones.
    let sales = cli_add_group(&app, &org, "Sales").await;
    assert!(uuid::Uuid::parse_str(&sales).is_ok(), "prints the id: {sales}");
    let p = groups(&app, &org.token, "?per_page=2").await;
    assert_eq!(meta(&p), json!({"perPage": 2, "totalPages": 2, "totalResults": 3, "curPage": 1, "nextPage": 2}));
    let last = groups(&app, &org.token, "?per_page=2&cur_page=2").await;
    assert_eq!(last["groups"], json!([{"id": sales, "name": "Sales", "memberCount": 0}]));
    assert_eq!(meta(&last), json!({"perPage": 2, "totalPages": 2, "totalResults": 3, "curPage": 2, "nextPage": null}));
    let p = groups(&app, &org.token, "?per_page=1000&cur_page=1").await;
    assert_eq!(names(&p), ["Administrators", "Users", "Sales"]);
    assert_eq!(meta(&p)["totalPages"], 1);

    // The new group works like any other: members move in, and a user may name it.
    let a = id(&app.add_user(&org, "a@sgpages.io").await);
    let (status, g) = add(&app, &org.token, &sales, json!([a])).await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["memberCount"], 1);
    let body = json!({"email": "b@sgpages.io", "firstName": "B", "lastName": "B", "securityGroup": sales});
    let (status, b) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(b["securityGroup"], sales.as_str());
    // Its last member may leave (only Administrators keeps one).
    let (status, _) = remove(&app, &org.token, &sales, json!([a, id(&b)])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(group(&app, &org, "Sales").await["memberCount"], 0);

    // CLI errors: an unknown org, a blank name; help names the options.
    let db = app.config.database_url.clone();
    let err = cli(&["roster", "security-group", "add", "--org", &uuid::Uuid::now_v7().to_string(), "--name", "X", "--database-url", &db])
        .await
        .unwrap_err();
    assert!(err.contains("organization not found"), "{err}");
    let err = cli(&["roster", "security-group", "add", "--org", &org.id, "--name", " ", "--database-url", &db]).await.unwrap_err();
    assert!(err.contains("name"), "{err}");
    let err = Cli::try_parse_from(["roster", "security-group", "add", "--help"]).err().unwrap();
    for m in ["--org", "--name", "--database-url"] {
        assert!(err.to_string().contains(m), "{err}");
    }
    assert_eq!(groups(&app, &org.token, "").await["meta"]["totalResults"], 3, "failed adds add nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_security_groups_are_not_found_and_not_listed() {
    let app = TestApp::spawn().await;
    let a = app.create_org("SgA").await;
    let b = app.create_org("SgB").await;
    let a_users = id(&group(&app, &a, "Users").await);
    let b_users = id(&group(&app, &b, "Users").await);
    let a_user = id(&app.add_user(&a, "u@sga.io").await);
    let b_user = id(&app.add_user(&b, "u@sgb.io").await);
    cli_add_group(&app, &a, "Only A").await;

    let list = groups(&app, &b.token, "").await;
    assert_eq!(list["meta"]["totalResults"], 2);
    assert!(list["groups"].as_array().unwrap().iter().all(|g| g["name"] != "Only A" && g["id"] != a_users.as_str()));
    // Another org's group: 404, whatever the ids.
    let (status, _) = add(&app, &b.token, &a_users, json!([b_user])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = remove(&app, &b.token, &a_users, json!([a_user])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another org's user: 400 naming it, as an unknown one.
    let (status, v) = add(&app, &b.token, &b_users, json!([a_user])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("ids[0]"), "{v}");
    // An admin of A is no admin of B, and B's counts never include A's users.
    assert_eq!(group(&app, &b, "Users").await["memberCount"], 1);
    assert_eq!(group(&app, &a, "Users").await["memberCount"], 1);
    let (status, _) = send(
        app.wd(Method::POST, "/api/users/add", &a.token)
            .json(&json!({"email": "z@sgb.io", "firstName": "Z", "lastName": "Z", "securityGroup": b_users})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_security_group_write_puts_its_events_on_nats() {
    let app = TestApp::spawn().await;
    let pair = |s: &str, t: &str| (s.to_string(), t.to_string());
    let all = |evs: &[(String, String, Value)], from: usize| -> Vec<(String, String)> {
        evs[from..].iter().map(|(s, t, _)| (s.clone(), t.clone())).collect()
    };

    // Creating an organization: one append with its two groups, the admin in Administrators.
    let org = app.create_org("SgWire").await;
    let n0 = app.event_count().await as usize;
    let evs = nats_events(&app, n0).await;
    let s = evs.iter().position(|(_, t, _)| t == "OrganizationCreated").expect("the org's first event");
    assert_eq!(
        all(&evs, s),
        vec![
            pair("organization", "OrganizationCreated"),
            pair("security_group", "SecurityGroupCreated"),
            pair("security_group", "SecurityGroupMemberAdded"),
            pair("security_group", "SecurityGroupCreated"),
            pair("user", "UserCreated"),
            pair("user", "UserPasswordSet"),
            pair("user", "AccessTokenIssued"),
        ]
    );
    let admins = id(&group(&app, &org, "Administrators").await);
    let users = id(&group(&app, &org, "Users").await);
    assert_eq!(evs[s + 1].2["stream_id"], admins.as_str());
    assert_eq!(evs[s + 1].2["org_id"], org.id.as_str());
    assert_eq!(evs[s + 1].2["payload"]["name"], "Administrators");
    assert_eq!(evs[s + 1].2["payload"]["kind"], "administrators");
    assert_eq!(evs[s + 2].2["payload"]["user_id"], org.admin_id.as_str());
    assert_eq!(evs[s + 3].2["stream_id"], users.as_str());
    assert_eq!(evs[s + 3].2["payload"]["kind"], "users");
    assert_eq!(evs[s + 4].2["payload"]["profile"]["security_group"], admins.as_str());

    // A new member joins Users: the user says so; Users keeps no member list of its own, so
    // creating members never contends on one hot stream.
    let a = id(&app.add_user(&org, "a@sgwire.io").await);
    let n1 = app.event_count().await as usize;
    let evs = nats_events(&app, n1).await;
    assert_eq!(
        all(&evs, n0),
        vec![pair("user", "UserCreated"), pair("user", "UserPasswordSet"), pair("user", "UserOnboardingNoticeRecorded"),]
    );
    assert_eq!(evs[n0].2["payload"]["profile"]["security_group"], users.as_str());

    // E71: joins Administrators (on its stream too), leaves Users, and the user says so.
    add(&app, &org.token, &admins, json!([a])).await;
    let n2 = app.event_count().await as usize;
    let evs = nats_events(&app, n2).await;
    assert_eq!(all(&evs, n1), vec![pair("security_group", "SecurityGroupMemberAdded"), pair("user", "UserUpdated")]);
    assert_eq!(evs[n1].2["stream_id"], admins.as_str());
    assert_eq!(evs[n1 + 1].2["stream_id"], a.as_str());
    assert_eq!(evs[n1 + 1].2["payload"]["security_group"], admins.as_str());
    assert_eq!(evs[n1 + 1].2["metadata"]["actor_user_id"], org.admin_id.as_str());

    // E72: leaves; the user's group is cleared.
    remove(&app, &org.token, &admins, json!([a])).await;
    let n3 = app.event_count().await as usize;
    let evs = nats_events(&app, n3).await;
    assert_eq!(all(&evs, n2), vec![pair("security_group", "SecurityGroupMemberRemoved"), pair("user", "UserUpdated")]);
    assert_eq!(evs[n2 + 1].2["payload"].get("security_group"), Some(&Value::Null));

    // The CLI: one SecurityGroupCreated.
    let sales = cli_add_group(&app, &org, "Sales").await;
    let n4 = app.event_count().await as usize;
    let evs = nats_events(&app, n4).await;
    assert_eq!(all(&evs, n3), vec![pair("security_group", "SecurityGroupCreated")]);
    assert_eq!(evs[n3].2["stream_id"], sales.as_str());
    assert_eq!(evs[n3].2["payload"]["kind"], "custom");

    // A custom group's members are the users naming it: joining it writes the user only.
    add(&app, &org.token, &sales, json!([a])).await;
    let n5 = app.event_count().await as usize;
    let evs = nats_events(&app, n5).await;
    assert_eq!(all(&evs, n4), vec![pair("user", "UserUpdated")]);
    // Deleting an admin takes them off Administrators' stream too.
    let b = id(&app.add_user(&org, "b@sgwire.io").await);
    add(&app, &org.token, &admins, json!([b])).await;
    let n6 = app.event_count().await as usize;
    send(app.wd(Method::DELETE, &format!("/api/users/{b}"), &org.token)).await;
    let n7 = app.event_count().await as usize;
    let evs = nats_events(&app, n7).await;
    assert_eq!(all(&evs, n6), vec![pair("user", "UserDeleted"), pair("security_group", "SecurityGroupMemberRemoved")]);
    assert_eq!(evs[n6 + 1].2["stream_id"], admins.as_str());
    assert!(evs[s..].iter().all(|(_, _, e)| e["org_id"] == org.id.as_str()));
}
