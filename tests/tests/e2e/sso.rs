//! WorkDrive SSO entries and quick links (E73–E74) over HTTP: the `Sso` shape and statuses, every
//! level (admin, location, department, user) and its rights, the level precedence of create and
//! of list, the fields each type requires, URL and field validation, tenant isolation, and the
//! event each create puts on NATS.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, Org, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn quick(name: &str, link: &str) -> Value {
    json!({"type": "QUICK_LINK", "name": name, "link": link})
}

fn sso_body(name: &str) -> Value {
    json!({
        "type": "SSO",
        "name": name,
        "authorizationURI": "https://idp.example.com/oauth2/authorize",
        "tokenURI": "https://idp.example.com/oauth2/token",
        "refreshURI": "https://idp.example.com/oauth2/refresh",
        "loginURL": "https://app.example.com/login",
    })
}

async fn create(app: &TestApp, token: &str, query: &str, body: Value) -> (StatusCode, Value) {
    send(app.wd(Method::POST, &format!("/api/sso{query}"), token).json(&body)).await
}

async fn list(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    send(app.wd(Method::GET, &format!("/api/sso{query}"), token)).await
}

/// The names of a listing, in order.
async fn names(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (status, v) = list(app, token, query).await;
    assert_eq!(status, StatusCode::OK, "GET /api/sso{query}: {v}");
    v.as_array().expect("a bare array").iter().map(|e| e["name"].as_str().unwrap_or_default().to_string()).collect()
}

async fn member_token(app: &TestApp, org: &Org, user_id: &str) -> String {
    let (status, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({"userId": user_id}))).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_string()
}

async fn location(app: &TestApp, org: &Org, name: &str) -> String {
    let (status, v) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": name}))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    id(&v)
}

async fn department(app: &TestApp, org: &Org, name: &str, head: &str) -> String {
    let body = json!({"name": name, "members": [{"id": head, "isAdmin": true}]});
    let (status, v) = send(app.wd(Method::POST, "/api/departments", &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    id(&v)
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_answers_the_sso_shape_at_each_level() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Sso Shape").await;
    let a = id(&app.add_user(&org, "a@ssoshape.io").await);
    let loc = location(&app, &org, "Berlin").await;
    let dept = department(&app, &org, "Sales", &a).await;

    // A user-level SSO entry (no ids, no manage), with an uploaded logo.
    let logo = crate::media::uploaded(&app, &org, "image/png", b"png bytes").await;
    let resp = send_raw(app.wd(Method::POST, "/api/sso", &org.token).json(&json!({
        "type": "SSO", "name": "Okta", "order": 2,
        "authorizationURI": "https://idp.example.com/authorize", "tokenURI": "https://idp.example.com/token",
        "refreshURI": "https://idp.example.com/refresh", "loginURL": "https://app.example.com/login",
        "fileId": logo,
    })))
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("roster-position").is_some());
    let s: Value = resp.json().await.unwrap();
    for key in [
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "authorizationURI",
        "tokenURI",
        "refreshURI",
        "loginURL",
        "orgId",
        "locationId",
        "departmentId",
        "order",
        "file",
        "user",
        "link",
        "type",
        "name",
    ] {
        assert!(s.get(key).is_some(), "Sso has {key}: {s}");
    }
    assert_eq!(s["type"], "SSO");
    assert_eq!(s["name"], "Okta");
    assert_eq!(s["order"], 2);
    assert_eq!(s["orgId"], org.id.as_str());
    assert_eq!(s["createdBy"], org.admin_id.as_str());
    assert_eq!(s["authorizationURI"], "https://idp.example.com/authorize");
    assert_eq!(s["tokenURI"], "https://idp.example.com/token");
    assert_eq!(s["refreshURI"], "https://idp.example.com/refresh");
    assert_eq!(s["loginURL"], "https://app.example.com/login");
    assert!(s["link"].is_null() && s["locationId"].is_null() && s["departmentId"].is_null());
    assert_eq!(s["file"]["id"], logo.as_str(), "the fileId resolves to the File shape: {s}");
    assert_eq!(s["file"]["mime"], "image/png");
    assert_eq!(s["fileId"], logo.as_str());
    assert_eq!(s["level"], "user");
    assert_eq!(s["user"]["id"], org.admin_id.as_str());
    assert_eq!(s["user"]["firstName"], "Ada");
    assert!(s["user"].get("email").is_some() && s["user"].get("availability").is_some());

    // Admin level: manage=true; the ids are ignored (even ones that do not exist or are garbage).
    let (status, s) = create(
        &app,
        &org.token,
        "?manage=true",
        json!({
            "type": "QUICK_LINK", "name": "Wiki", "link": "https://wiki.example.com",
            "locationId": "not-a-uuid", "departmentId": uuid::Uuid::now_v7().to_string(),
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    assert_eq!(s["level"], "admin");
    assert!(s["locationId"].is_null() && s["departmentId"].is_null());
    assert_eq!(s["link"], "https://wiki.example.com");
    assert_eq!(s["order"], 0, "order defaults to 0");

    // Location level wins over department level.
    let (status, s) = create(
        &app,
        &org.token,
        "",
        json!({
            "type": "QUICK_LINK", "name": "Berlin map", "link": "https://maps.example.com/berlin",
            "locationId": loc, "departmentId": dept,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    assert_eq!(s["level"], "location");
    assert_eq!(s["locationId"], loc.as_str());
    assert!(s["departmentId"].is_null());

    // Department level; manage=false counts as not given, so the id still applies.
    let (status, s) = create(
        &app,
        &org.token,
        "?manage=false",
        json!({
            "type": "QUICK_LINK", "name": "Sales CRM", "link": "https://crm.example.com", "departmentId": dept, "order": "5",
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    assert_eq!(s["level"], "department");
    assert_eq!(s["departmentId"], dept.as_str());
    assert!(s["locationId"].is_null());
    assert_eq!(s["order"], 5, "a numeric string is an order");

    // Each listing holds exactly its level's entries.
    assert_eq!(names(&app, &org.token, "").await, ["Okta"]);
    assert_eq!(names(&app, &org.token, "?manage=true").await, ["Wiki"]);
    assert_eq!(names(&app, &org.token, &format!("?location={loc}")).await, ["Berlin map"]);
    assert_eq!(names(&app, &org.token, &format!("?department={dept}")).await, ["Sales CRM"]);
    let (_, v) = list(&app, &org.token, &format!("?department={dept}")).await;
    assert_eq!(v[0]["user"]["id"], org.admin_id.as_str());
    assert_eq!(v[0]["type"], "QUICK_LINK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_takes_one_parameter_by_priority_and_orders_entries() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Sso Prio").await;
    let a = id(&app.add_user(&org, "a@ssoprio.io").await);
    let a_token = member_token(&app, &org, &a).await;
    let loc = location(&app, &org, "Paris").await;
    let dept = department(&app, &org, "Ops", &a).await;

    for (q, body) in [
        ("?manage=true", json!({"type": "QUICK_LINK", "name": "admin-2", "link": "https://a.example.com", "order": 2})),
        ("?manage=true", json!({"type": "QUICK_LINK", "name": "admin-1", "link": "https://a.example.com", "order": 1})),
        ("?manage=true", json!({"type": "QUICK_LINK", "name": "admin-2b", "link": "https://a.example.com", "order": 2})),
        ("", json!({"type": "QUICK_LINK", "name": "loc", "link": "https://l.example.com", "locationId": loc})),
        ("", json!({"type": "QUICK_LINK", "name": "dept", "link": "https://d.example.com", "departmentId": dept})),
        ("", json!({"type": "QUICK_LINK", "name": "mine", "link": "https://m.example.com"})),
    ] {
        let (status, v) = create(&app, &org.token, q, body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    // Ordered by order, then creation.
    assert_eq!(names(&app, &org.token, "?manage=true").await, ["admin-1", "admin-2", "admin-2b"]);
    // `manage` is a boolean (spec: `bool`): 1, a number or empty is refused naming it, even where a
    // location wins over it.
    for q in ["?manage=1".to_string(), "?manage=-3.4e38".into(), "?manage=".into(), format!("?location={loc}&manage=5")] {
        let (status, v) = list(&app, &org.token, &q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "GET /api/sso{q}: {v}");
        assert!(v["message"].as_str().unwrap_or_default().starts_with("manage"), "GET /api/sso{q}: {v}");
    }
    // location > department > manage.
    let both = format!("?location={loc}&department={dept}&manage=true");
    assert_eq!(names(&app, &org.token, &both).await, ["loc"]);
    assert_eq!(names(&app, &org.token, &format!("?department={dept}&manage=true")).await, ["dept"]);
    // With none (or manage=false, or empty values), the caller's own.
    assert_eq!(names(&app, &org.token, "").await, ["mine"]);
    assert_eq!(names(&app, &org.token, "?manage=false").await, ["mine"]);
    assert_eq!(names(&app, &org.token, "?location=&department=").await, ["mine"]);
    // A member: may read location and department entries (even with manage=true, which loses),
    // sees only their own user-level entries, and not the admin level.
    assert_eq!(names(&app, &a_token, &both).await, ["loc"]);
    assert_eq!(names(&app, &a_token, &format!("?department={dept}")).await, ["dept"]);
    assert!(names(&app, &a_token, "").await.is_empty());
    let (status, v) = create(&app, &a_token, "", json!({"type": "QUICK_LINK", "name": "a-own", "link": "https://own.example.com"})).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["user"]["id"], a.as_str());
    assert_eq!(v["createdBy"], a.as_str());
    assert_eq!(names(&app, &a_token, "").await, ["a-own"]);
    assert_eq!(names(&app, &org.token, "").await, ["mine"], "user-level entries are their owner's only");

    // A deleted unit lists nothing.
    let resp = send_raw(app.wd(Method::DELETE, &format!("/api/locations/{loc}"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(names(&app, &org.token, &format!("?location={loc}")).await.is_empty());
    // An unknown id lists nothing.
    assert!(names(&app, &org.token, &format!("?department={}", uuid::Uuid::now_v7())).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_errors_are_documented_codes_naming_the_field() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Sso Errs").await;
    let a = id(&app.add_user(&org, "a@ssoerrs.io").await);
    let a_token = member_token(&app, &org, &a).await;
    let loc = location(&app, &org, "Rome").await;
    let dept = department(&app, &org, "Legal", &a).await;
    let n0 = app.event_count().await;

    // 401
    for method in [Method::GET, Method::POST] {
        let (status, v) = send(app.req(method, "/api/sso").json(&quick("x", "https://x.io"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(v, json!({"statusCode": 401, "message": "Your API key is wrong", "error": "Unauthorized"}));
    }

    // 403: members list and create only their own; the super admin belongs to no org.
    let (status, v) = list(&app, &a_token, "?manage=true").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["statusCode"], 403);
    assert_eq!(v["error"], "Forbidden");
    for (q, body) in [
        ("?manage=true", quick("x", "https://x.io")),
        ("", json!({"type": "QUICK_LINK", "name": "x", "link": "https://x.io", "locationId": loc})),
        ("", json!({"type": "QUICK_LINK", "name": "x", "link": "https://x.io", "departmentId": dept})),
        // Rights come before existence: a member learns nothing about units.
        ("", json!({"type": "QUICK_LINK", "name": "x", "link": "https://x.io", "departmentId": uuid::Uuid::now_v7().to_string()})),
        // ...and before the fields.
        ("?manage=true", json!({"type": "QUICK_LINK"})),
    ] {
        let (status, v) = create(&app, &a_token, q, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{q} {body}: {v}");
    }
    assert_eq!(list(&app, &app.super_token, "").await.0, StatusCode::FORBIDDEN);
    assert_eq!(create(&app, &app.super_token, "", quick("x", "https://x.io")).await.0, StatusCode::FORBIDDEN);

    // 400: the type and the fields each type requires, naming the field.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("", json!({"name": "no type", "link": "https://x.io"}), "type"),
        ("", json!({"type": "LINK", "link": "https://x.io"}), "type"),
        ("", json!({"type": "QUICK_LINK", "name": "no link"}), "link"),
        ("", json!({"type": "QUICK_LINK", "name": "blank link", "link": "  "}), "link"),
        ("", json!({"type": "QUICK_LINK", "link": "wiki.example.com"}), "link"),
        ("", json!({"type": "QUICK_LINK", "link": "javascript:alert(1)"}), "link"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "loginURL": "nope"}), "loginURL"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "order": -1}), "order"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "order": 1.5}), "order"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "order": "first"}), "order"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "fileId": "nope"}), "fileId"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "fileId": uuid::Uuid::now_v7()}), "fileId"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "name": "x".repeat(201)}), "name"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "locationId": "nope"}), "locationId"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "departmentId": "nope"}), "departmentId"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "locationId": uuid::Uuid::now_v7().to_string()}), "locationId"),
        ("", json!({"type": "QUICK_LINK", "link": "https://x.io", "departmentId": uuid::Uuid::now_v7().to_string()}), "departmentId"),
        ("?manage=maybe", quick("x", "https://x.io"), "manage"),
    ];
    for (q, body, field) in cases {
        let (status, v) = create(&app, &org.token, q, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["statusCode"], 400);
        assert_eq!(v["error"], "Bad Request");
        assert!(message(&v).starts_with(field), "{body} names {field}: {v}");
    }
    for missing in ["authorizationURI", "tokenURI", "refreshURI", "loginURL"] {
        let mut body = sso_body("Okta");
        body.as_object_mut().unwrap().remove(missing);
        let (status, v) = create(&app, &org.token, "", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(message(&v).starts_with(missing), "names {missing}: {v}");
        let mut body = sso_body("Okta");
        body[missing] = json!("ftp://idp.example.com/x");
        let (status, v) = create(&app, &org.token, "", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(message(&v).starts_with(missing), "names {missing}: {v}");
    }
    let (status, v) = send(app.wd(Method::POST, "/api/sso", &org.token).header("content-type", "application/json").body("{oops")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    // The list's parameters.
    for (q, field) in [("?location=nope", "location"), ("?department=nope", "department"), ("?manage=yes", "manage")] {
        let (status, v) = list(&app, &org.token, q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert!(message(&v).starts_with(field), "{q}: {v}");
    }
    // A member's manage=true loses to a location, so that is no 403.
    assert_eq!(list(&app, &a_token, &format!("?manage=true&location={loc}")).await.0, StatusCode::OK);
    // Nothing was appended by any refused request; a quick link needs no SSO URIs, an SSO no link.
    assert_eq!(app.event_count().await, n0);
    assert_eq!(create(&app, &a_token, "", quick("ok", "http://localhost:8080/x?y=1")).await.0, StatusCode::CREATED);
    assert_eq!(create(&app, &a_token, "", sso_body("ok")).await.0, StatusCode::CREATED);
    assert_eq!(create(&app, &a_token, "", json!({"type": "quick_link", "link": "https://x.io"})).await.0, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_entries_and_units_stay_out_of_reach() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Sso Ours").await;
    let other = app.create_org("Sso Theirs").await;
    let a = id(&app.add_user(&org, "a@ssoours.io").await);
    let loc = location(&app, &org, "Oslo").await;
    let dept = department(&app, &org, "Research", &a).await;
    for (q, body) in [
        ("?manage=true", quick("ours-admin", "https://o.example.com")),
        ("", json!({"type": "QUICK_LINK", "name": "ours-loc", "link": "https://o.example.com", "locationId": loc})),
        ("", json!({"type": "QUICK_LINK", "name": "ours-dept", "link": "https://o.example.com", "departmentId": dept})),
        ("", quick("ours-mine", "https://o.example.com")),
    ] {
        assert_eq!(create(&app, &org.token, q, body).await.0, StatusCode::CREATED);
    }
    // The other org sees none of it, even naming our units.
    assert!(names(&app, &other.token, "?manage=true").await.is_empty());
    assert!(names(&app, &other.token, "").await.is_empty());
    assert!(names(&app, &other.token, &format!("?location={loc}")).await.is_empty());
    assert!(names(&app, &other.token, &format!("?department={dept}")).await.is_empty());
    // And cannot attach entries to our units: they do not exist in its org.
    let (status, v) =
        create(&app, &other.token, "", json!({"type": "QUICK_LINK", "link": "https://t.example.com", "locationId": loc})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(message(&v).starts_with("locationId"), "{v}");
    let (status, v) =
        create(&app, &other.token, "", json!({"type": "QUICK_LINK", "link": "https://t.example.com", "departmentId": dept})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(message(&v).starts_with("departmentId"), "{v}");
    // Its own admin entries are its own.
    assert_eq!(create(&app, &other.token, "?manage=true", quick("theirs-admin", "https://t.example.com")).await.0, StatusCode::CREATED);
    assert_eq!(names(&app, &other.token, "?manage=true").await, ["theirs-admin"]);
    assert_eq!(names(&app, &org.token, "?manage=true").await, ["ours-admin"]);
}

/// Every NATS message of the app's stream: (subject, envelope).
async fn nats_messages(app: &TestApp, expect_total: usize) -> Vec<(String, Value)> {
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
        out.push((m.subject.to_string(), serde_json::from_slice(&m.payload).unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_create_puts_one_sso_created_on_nats_and_a_retry_none() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Sso Wire").await;
    let a = id(&app.add_user(&org, "a@ssowire.io").await);
    let loc = location(&app, &org, "Lima").await;
    let dept = department(&app, &org, "Wire", &a).await;
    let n0 = app.event_count().await as usize;

    let mut created = Vec::new();
    for (q, body, level) in [
        ("?manage=true", quick("admin", "https://a.example.com"), json!({"kind": "admin"})),
        (
            "",
            json!({"type": "QUICK_LINK", "name": "loc", "link": "https://l.example.com", "locationId": loc}),
            json!({"kind": "location", "id": loc}),
        ),
        (
            "",
            json!({"type": "QUICK_LINK", "name": "dept", "link": "https://d.example.com", "departmentId": dept}),
            json!({"kind": "department", "id": dept}),
        ),
        ("", sso_body("mine"), json!({"kind": "user", "id": org.admin_id})),
    ] {
        let (status, v) = create(&app, &org.token, q, body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        created.push((id(&v), level));
    }
    // Creating an entry writes only its own stream: the unit's stream is untouched.
    let n1 = app.event_count().await as usize;
    assert_eq!(n1, n0 + 4);
    let msgs = nats_messages(&app, n1).await;
    for ((subject, env), (sso_id, level)) in msgs[n0..].iter().zip(&created) {
        let prefix = &app.config.nats.subject_prefix;
        assert_eq!(subject, &format!("{prefix}.{}.sso.{sso_id}.SsoCreated", org.id));
        assert_eq!(env["stream_type"], "sso");
        assert_eq!(env["event_type"], "SsoCreated");
        assert_eq!(env["stream_id"], sso_id.as_str());
        assert_eq!(env["org_id"], org.id.as_str());
        assert_eq!(env["version"], 1);
        assert_eq!(env["metadata"]["dialect"], "workdrive");
        assert_eq!(env["metadata"]["actor_user_id"], org.admin_id.as_str());
        assert_eq!(env["payload"]["level"], *level);
        assert_eq!(env["payload"]["created_by"], org.admin_id.as_str());
    }
    let last = &msgs[n0 + 3].1["payload"];
    assert_eq!(last["kind"], "SSO");
    assert_eq!(last["name"], "mine");
    assert_eq!(last["token_uri"], "https://idp.example.com/oauth2/token");

    // A retried create (same Idempotency-Key) answers the same entry and appends nothing.
    let first =
        send_raw(app.wd(Method::POST, "/api/sso", &org.token).header("Idempotency-Key", "sso-1").json(&quick("once", "https://o.io")))
            .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again =
        send_raw(app.wd(Method::POST, "/api/sso", &org.token).header("Idempotency-Key", "sso-1").json(&quick("once", "https://o.io")))
            .await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(app.event_count().await as usize, n1 + 1);
    assert_eq!(names(&app, &org.token, "").await, ["mine", "once"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_keeps_the_sso_entries() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Sso Rebuild").await;
    let loc = location(&app, &org, "Kyiv").await;
    assert_eq!(create(&app, &org.token, "?manage=true", quick("admin", "https://a.example.com")).await.0, StatusCode::CREATED);
    let body = json!({"type": "QUICK_LINK", "name": "loc", "link": "https://l.example.com", "locationId": loc, "order": 3});
    assert_eq!(create(&app, &org.token, "", body).await.0, StatusCode::CREATED);
    let (_, before) = list(&app, &org.token, &format!("?location={loc}")).await;
    workers::rebuild::rebuild(&app.pool, projections::DIRECTORY, false).await.unwrap();
    let (_, after) = list(&app, &org.token, &format!("?location={loc}")).await;
    assert_eq!(after, before);
    assert_eq!(names(&app, &org.token, "?manage=true").await, ["admin"]);
    // And the projector keeps going on the swapped-in tables.
    assert_eq!(create(&app, &org.token, "?manage=true", quick("after", "https://a.example.com")).await.0, StatusCode::CREATED);
    assert_eq!(names(&app, &org.token, "?manage=true").await, ["admin", "after"]);
}
