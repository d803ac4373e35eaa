//! NexPort AdminApi: sign-in and its throttle, users, inherited permissions, subscriptions and
//! their expiry on NATS, custom profile fields, organizations, tenant isolation.

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, Options, Org, TestApp};
use serde_json::{json, Value};

fn entity_ok(v: &Value) {
    assert_eq!(v["api_error_entity"]["error_code"], 0, "{v}");
}

fn error_code(v: &Value) -> i64 {
    v["api_error_entity"]["error_code"].as_i64().unwrap_or(-1)
}

fn message(v: &Value) -> String {
    v["api_error_entity"]["error_message"].as_str().unwrap_or_default().to_string()
}

/// A sub-organization of `parent`, made by the super admin through WorkDrive.
async fn sub_org(app: &TestApp, parent: &str, name: &str) -> Org {
    let body = json!({
        "name": name,
        "parentOrgId": parent,
        "admin": { "firstName": "Sub", "lastName": "Admin", "email": format!("admin@{}.example.com", name.to_lowercase()), "password": "password1" },
    });
    let (status, v) = send(app.wd(Method::POST, "/api/organization", &app.super_token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    Org {
        id: v["id"].as_str().unwrap().into(),
        admin_id: String::new(),
        token: v["accessToken"].as_str().unwrap().into(),
        subdomain: v["subdomain"].as_str().unwrap().into(),
    }
}

async fn create_user(app: &TestApp, token: &str, org: &str, login: &str, first: &str, last: &str) -> String {
    let body = json!({ "owner_org_id": org, "login": login, "password": "secret-pass-1", "first_name": first, "last_name": last,
                       "email": format!("{login}@example.com") });
    let (status, v) = send(app.nx("CreateUser", token).json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    entity_ok(&v);
    v["user_id"].as_str().unwrap().to_string()
}

async fn sign_in(app: &TestApp, login: &str, password: &str) -> (StatusCode, Value) {
    send(app.nx("Authenticate", "").json(&json!({ "username": login, "password": password, "grant_type": "password" }))).await
}

/// The API keeps the principal of a token it has seen, with the token's expiry: a token in use
/// stops at its expiry as one never seen does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_token_is_refused_once_it_expires() {
    let app = TestApp::spawn().await;
    app.create_org("Expiry").await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(5);
    let body = json!({ "username": "admin@expiry.example.com", "password": "password1", "grant_type": "password",
                       "utc_expiration_date": expires.to_rfc3339() });
    let (status, v) = send(app.nx("Authenticate", "").json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let token = v["access_token"].as_str().unwrap().to_string();
    for _ in 0..2 {
        assert_eq!(send(app.wd(Method::GET, "/api/users", &token)).await.0, StatusCode::OK);
    }
    let left = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(100)).await;
    assert_eq!(send(app.wd(Method::GET, "/api/users", &token)).await.0, StatusCode::UNAUTHORIZED);
    let (_, v) = send(app.req(Method::GET, &format!("/api/v1/AdminApi/ValidateAccessToken?access_token={token}"))).await;
    assert_ne!(v["api_error_entity"]["error_code"], 0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_issues_tokens_with_the_documented_lifetimes() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Campus").await;
    let admin = "admin@campus.example.com";

    let (status, v) = sign_in(&app, admin, "password1").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    entity_ok(&v);
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 3600);
    let token = v["access_token"].as_str().unwrap().to_string();
    // The token works here and in every other dialect.
    let (status, v) =
        send(app.req(Method::GET, &format!("/api/v1/AdminApi/GetOrganizations?access_token={token}&org_id={}", org.id))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(send(app.wd(Method::GET, "/api/users", &token)).await.0, StatusCode::OK);
    let (_, v) = send(app.req(Method::GET, &format!("/api/v1/AdminApi/ValidateAccessToken?access_token={token}"))).await;
    entity_ok(&v);
    assert_eq!(v["error_message"], "");
    assert!(v["utc_expiration_date"].is_string(), "{v}");

    // null: never expires; a date: expires then, and no expires_in.
    let body = json!({ "username": admin, "password": "password1", "grant_type": "password", "utc_expiration_date": null });
    let (_, v) = send(app.nx("Authenticate", "").json(&body)).await;
    assert!(v.get("expires_in").is_none(), "{v}");
    let forever = v["access_token"].as_str().unwrap().to_string();
    let (_, v) = send(app.req(Method::GET, &format!("/api/v1/AdminApi/ValidateAccessToken?access_token={forever}"))).await;
    entity_ok(&v);
    assert_eq!(v["utc_expiration_date"], Value::Null);
    let body =
        json!({ "username": admin, "password": "password1", "grant_type": "password", "utc_expiration_date": "2099-01-02T03:04:05Z" });
    let (_, v) = send(app.nx("Authenticate", "").json(&body)).await;
    assert!(v.get("expires_in").is_none(), "{v}");
    let dated = v["access_token"].as_str().unwrap().to_string();
    let (_, v) = send(app.req(Method::GET, &format!("/api/v1/AdminApi/ValidateAccessToken?access_token={dated}"))).await;
    assert_eq!(v["utc_expiration_date"], "2099-01-02T03:04:05Z");

    // RFC 6749 form bodies work too, and operation names match in any case.
    let resp = send_raw(
        app.req(Method::POST, "/api/v1/adminapi/authenticate")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username={}&password=password1&grant_type=password", admin.replace('@', "%40"))),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Errors: validation 422 naming the field, bad credentials 403, unknown tokens explained.
    let (status, v) =
        send(app.nx("Authenticate", "").json(&json!({ "username": admin, "password": "password1", "grant_type": "code" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&v), 3);
    assert!(message(&v).starts_with("grant_type:"), "{v}");
    let (status, v) = send(app.nx("Authenticate", "").json(&json!({ "username": admin, "grant_type": "password" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&v).starts_with("password:"), "{v}");
    let (status, v) = sign_in(&app, admin, "wrong-password").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&v), 2);
    let (status, v) = send(app.req(Method::GET, "/api/v1/AdminApi/ValidateAccessToken?access_token=rst_nope")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&v), 2);
    assert_eq!(v["error_message"], "The access token is not recognized");
    // The super admin is a system operator: no AdminApi sign-in, and no tenant tree.
    let (status, _) = send(app.nx("GetOrganizations", &app.super_token).json(&json!({ "org_id": org.id }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Unknown operations and missing tokens answer in NexPort's shape.
    let (status, v) = send(app.nx("DropAllTables", &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&v), 4);
    let (status, v) = send(app.req(Method::GET, "/api/v1/AdminApi/GetUsers")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&v), 2);
}

/// Long enough to outlast the slowed failures on a loaded machine, short enough to wait out.
const LOCKOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_slowed_then_refused_and_a_correct_password_works_afterwards() {
    let app = TestApp::spawn_with(Options { login_lockout: Some(LOCKOUT), ..Options::default() }).await;
    app.create_org("Locked").await;
    let admin = "admin@locked.example.com";
    for attempt in 1..=commands::throttle::MAX_FAILURES {
        let (status, v) = sign_in(&app, admin, "guess").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "attempt {attempt}: {v}");
    }
    // Locked: even the right password is refused, with a Retry-After.
    let resp =
        send_raw(app.nx("Authenticate", "").json(&json!({ "username": admin, "password": "password1", "grant_type": "password" }))).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=LOCKOUT.as_secs()).contains(&retry), "{retry}");
    assert_eq!(error_code(&resp.json::<Value>().await.unwrap()), 7);
    // After the lock, the right password works (and clears the count).
    let mut ok = false;
    for _ in 0..200 {
        let (status, _) = sign_in(&app, admin, "password1").await;
        if status == StatusCode::OK {
            ok = true;
            break;
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the right password never worked after the lock");
    let (status, _) = sign_in(&app, admin, "guess").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "one failure after a success is not locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_found_searched_and_edited() {
    let app = TestApp::spawn().await;
    let org = app.create_org("School").await;
    let t = &org.token;
    let zed = create_user(&app, t, &org.id, "zed", "Zed", "Adams").await;
    create_user(&app, t, &org.id, "amy", "Amy", "Baker").await;
    create_user(&app, t, &org.id, "bob", "Bob", "Adams").await;

    let (status, v) = send(app.req(Method::GET, &format!("/api/v1/AdminApi/GetUser?access_token={t}&user_id={zed}"))).await;
    assert_eq!(status, StatusCode::OK);
    entity_ok(&v);
    assert_eq!(
        (v["login"].as_str(), v["first_name"].as_str(), v["owner_org_id"].as_str()),
        (Some("zed"), Some("Zed"), Some(org.id.as_str()))
    );
    let (_, by_login) = send(app.nx("GetUser", t).json(&json!({ "login": "ZED" }))).await;
    assert_eq!(by_login["user_id"], zed.as_str());
    let (status, v) = send(app.nx("GetUser", t).json(&json!({ "login": "zed", "user_id": zed }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, _) = send(app.nx("GetUser", t).json(&json!({ "user_id": uuid::Uuid::now_v7() }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Search: partial match on login, names or email; sorted last, first, login; paged.
    let resp = send_raw(app.nx("GetUsers", t).json(&json!({ "search_term": "a", "per_page": 2, "page": 0 }))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let total: i64 = resp.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
    assert_eq!(resp.headers()["x-per-page"], "2");
    assert_eq!(resp.headers()["x-page"], "0");
    let first: Vec<Value> = resp.json().await.unwrap();
    let (_, rest) = send(app.nx("GetUsers", t).json(&json!({ "search_term": "a", "per_page": 2, "page": 1 }))).await;
    let logins: Vec<&str> = first.iter().chain(rest.as_array().unwrap()).map(|u| u["login"].as_str().unwrap()).collect();
    // The org admin (Ada Admin, login = email) matches "a" too.
    assert_eq!(logins, vec!["bob", "zed", "admin@school.example.com", "amy"]);
    assert_eq!(total, 4);
    // A page past the end has no user, and still the total; a term matching no one, total 0.
    // "adm" is long enough to be answered from the trigram index, "a" is not.
    for (term, want) in [("a", "4"), ("adm", "1"), ("nobody-here", "0")] {
        let resp = send_raw(app.nx("GetUsers", t).json(&json!({ "search_term": term, "per_page": 2, "page": 7 }))).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-total-count"], want, "{term}");
        assert_eq!(resp.json::<Value>().await.unwrap(), json!([]), "{term}");
    }
    // Short terms and longer ones (answered by different plans: see `search_users`) match the
    // same way: a substring, any case, `_` and `%` literal.
    for (term, want) in [
        ("ADA", vec!["bob", "zed", "admin@school.example.com"]),
        ("dA", vec!["bob", "zed", "admin@school.example.com"]),
        ("a_m", vec![]),
        ("_", vec![]),
        ("%", vec![]),
        ("ker", vec!["amy"]),
        // Login, names and email are searched one by one: nothing matches across two of them,
        // whether the term runs them together or holds the separator the index joins them with.
        ("edze", vec![]),
        ("zed\u{1f}zed", vec![]),
        ("ams\u{1f}", vec![]),
        ("\u{1f}", vec![]),
    ] {
        let (status, v) = send(app.nx("GetUsers", t).json(&json!({ "search_term": term }))).await;
        assert_eq!(status, StatusCode::OK, "{term}: {v}");
        let got: Vec<&str> = v.as_array().unwrap().iter().map(|u| u["login"].as_str().unwrap()).collect();
        assert_eq!(got, want, "search_term {term:?}");
    }

    // Edit: names, email and contact information; a taken login/email is a duplicate (404).
    let edit = json!({ "user_id": zed, "first_name": "Zedd", "email": "zedd@example.com", "nickname": "Z",
                       "contact_info": { "city": "Lyon", "postal_code": "69001", "phone": "+33 1 23" } });
    let (status, v) = send(app.nx("EditUser", t).json(&edit)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["first_name"].as_str(), v["email"].as_str(), v["nickname"].as_str()),
        (Some("Zedd"), Some("zedd@example.com"), Some("Z"))
    );
    let (status, v) = send(app.nx("GetUserContactInformation", t).json(&json!({ "login": "zed" }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["city"].as_str(), v["postal_code"].as_str(), v["phone"].as_str()), (Some("Lyon"), Some("69001"), Some("+33 1 23")));
    let (status, _) = send(app.nx("GetUserContactInformation", t).json(&json!({ "login": "zed", "user_id": zed }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, v) = send(app.nx("EditUser", t).json(&json!({ "login": "amy", "email": "zedd@example.com" }))).await;
    assert_eq!((status, error_code(&v)), (StatusCode::NOT_FOUND, 6), "{v}");
    let dup = json!({ "owner_org_id": org.id, "login": "zed", "password": "secret-pass-1", "first_name": "A", "last_name": "B", "email": "x@example.com" });
    let (status, v) = send(app.nx("CreateUser", t).json(&dup)).await;
    assert_eq!((status, error_code(&v)), (StatusCode::NOT_FOUND, 6), "{v}");
    let (status, v) =
        send(app.nx("CreateUser", t).json(
            &json!({ "owner_org_id": org.id, "login": "q", "password": "secret-pass-1", "last_name": "B", "email": "q@example.com" }),
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&v).starts_with("first_name:"), "{v}");

    // The new user signs in with their password; AuthenticateUser checks it for an admin.
    let (status, _) = sign_in(&app, "amy", "secret-pass-1").await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = send(app.nx("AuthenticateUser", t).json(&json!({ "login": "amy", "password": "secret-pass-1" }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["login"], "amy");
    let (status, v) = send(app.nx("AuthenticateUser", t).json(&json!({ "login": "amy", "password": "nope" }))).await;
    assert_eq!((status, error_code(&v)), (StatusCode::FORBIDDEN, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_on_the_root_org_holds_five_levels_down_until_revoked() {
    let app = TestApp::spawn().await;
    let root = app.create_org("Root").await;
    let mut parent = root.id.clone();
    let mut orgs = vec![];
    for level in 1..=5 {
        let o = sub_org(&app, &parent, &format!("Level{level}")).await;
        parent = o.id.clone();
        orgs.push(o);
    }
    let deepest = orgs.last().unwrap().id.clone();
    // A plain member of the root org, with a token of their own.
    app.add_user(&root, "clerk@root.example.com").await;
    let (_, v) = sign_in(&app, "clerk@root.example.com", "password1").await;
    let clerk = v["access_token"].as_str().unwrap().to_string();
    let (_, me) = send(app.nx("GetUser", &root.token).json(&json!({ "login": "clerk@root.example.com" }))).await;
    let clerk_id = me["user_id"].as_str().unwrap().to_string();

    let (status, v) =
        send(app.nx("CreateUser", &clerk).json(&json!({ "owner_org_id": deepest, "login": "deep1", "password": "secret-pass-1",
        "first_name": "D", "last_name": "One", "email": "deep1@example.com" })))
        .await;
    assert_eq!((status, error_code(&v)), (StatusCode::FORBIDDEN, 5), "{v}");

    // A member cannot grant; the root's admin can.
    let grant = json!({ "user_id": clerk_id, "node_id": root.id, "role": "UserManager" });
    let (status, _) = send(app.ps(Method::POST, "/grants", &clerk).json(&grant)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, g) = send(app.ps(Method::POST, "/grants", &root.token).json(&grant)).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert!(g["permissions"].as_array().unwrap().contains(&json!("CreateUsers")));
    let grant_id = g["grant_id"].as_str().unwrap().to_string();
    let (status, _) = send(app.ps(Method::POST, "/grants", &root.token).json(&grant)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the same grant twice");

    let (status, v) =
        send(app.nx("CreateUser", &clerk).json(&json!({ "owner_org_id": deepest, "login": "deep1", "password": "secret-pass-1",
        "first_name": "D", "last_name": "One", "email": "deep1@example.com" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // The grant covers the role's permissions only.
    let (status, _) = send(app.nx("CreateSubscription", &clerk).json(&json!({ "org_id": deepest, "user_id": v["user_id"] }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revoked: refused on the very next call.
    let (status, _) = send(app.ps(Method::DELETE, &format!("/grants/{grant_id}"), &root.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        send(app.nx("CreateUser", &clerk).json(&json!({ "owner_org_id": deepest, "login": "deep2", "password": "secret-pass-1",
        "first_name": "D", "last_name": "Two", "email": "deep2@example.com" })))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // GetOrganizations: the org and all its descendants, by name, paged.
    let resp = send_raw(app.nx("GetOrganizations", &root.token).json(&json!({ "org_id": orgs[2].id, "per_page": 2 }))).await;
    assert_eq!(resp.headers()["x-total-count"], "3");
    let items: Vec<Value> = resp.json().await.unwrap();
    let names: Vec<&str> = items.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Level3", "Level4"]);
    let (_, by_short) = send(app.nx("GetOrganizations", &root.token).json(&json!({ "short_name": orgs[4].subdomain }))).await;
    assert_eq!(by_short[0]["org_id"], orgs[4].id.as_str());
    // A sub-org's admin sees only their own subtree.
    let (status, _) = send(app.nx("GetOrganizations", &orgs[4].token).json(&json!({ "org_id": root.id }))).await;
    assert_eq!(status, StatusCode::OK, "the tree is one tenant; the root is visible");
    let (status, _) =
        send(app.nx("CreateUser", &orgs[4].token).json(&json!({ "owner_org_id": orgs[3].id, "login": "up", "password": "secret-pass-1",
        "first_name": "U", "last_name": "P", "email": "up@example.com" })))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an admin of a sub-org holds nothing above it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_created_found_searched_and_switched() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Academy").await;
    let t = &org.token;
    let u = create_user(&app, t, &org.id, "stu", "Stu", "Dent").await;
    let body = json!({ "org_id": org.id, "user_id": u, "utc_expiration_date": "2090-06-01T00:00:00Z" });
    let (status, v) = send(app.nx("CreateSubscription", t).json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let sub = v["subscription_id"].as_str().unwrap().to_string();
    let (status, v) = send(app.nx("CreateSubscription", t).json(&body)).await;
    assert_eq!((status, error_code(&v)), (StatusCode::NOT_FOUND, 6), "duplicate subscription: {v}");

    let (_, v) = send(app.nx("GetSubscription", t).json(&json!({ "user_id": u, "org_id": org.id }))).await;
    entity_ok(&v);
    assert_eq!(
        (v["subscription_id"].as_str(), v["status"].as_str(), v["disabled"].as_bool()),
        (Some(sub.as_str()), Some("Active"), Some(false))
    );
    assert_eq!(v["utc_expiration_date"], "2090-06-01T00:00:00Z");
    let resp = send_raw(app.nx("GetSubscriptions", t).json(&json!({ "login": "stu" }))).await;
    assert_eq!(resp.headers()["x-total-count"], "1");

    let search = |filter: Value| send(app.nx("SearchSubscriptions", t).json(&filter));
    let (_, v) = search(json!({ "org_ids": [org.id], "utc_expires_before": "2091-01-01T00:00:00Z" })).await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    let (_, v) = search(json!({ "utc_expires_after": "2091-01-01T00:00:00Z" })).await;
    assert_eq!(v, json!([]));
    let (_, v) = search(json!({ "user_ids": [uuid::Uuid::now_v7()] })).await;
    assert_eq!(v, json!([]));
    let (status, v) = search(json!({ "org_ids": ["not-a-guid"] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&v).starts_with("org_ids[0]:"), "{v}");

    let (_, v) = send(app.nx("EnableDisableSubscription", t).json(&json!({ "subscription_id": sub, "disable": true }))).await;
    assert_eq!(v["disabled"], true);
    let (_, v) = send(app.nx("SetSubscriptionDisabled", t).json(&json!({ "subscription_id": sub, "disable": false }))).await;
    assert_eq!(v["disabled"], false);
    let (_, v) = send(app.nx("SetSubscriptionStatus", t).json(&json!({ "subscription_id": sub, "status": "suspended" }))).await;
    assert_eq!((v["previous_status"].as_str(), v["current_status"].as_str()), (Some("Active"), Some("Suspended")), "{v}");
    assert!(v["utc_status_date"].is_string());
    let (_, v) = send(app.nx("SetSubscriptionStatus", t).json(&json!({ "subscription_id": sub, "status": "" }))).await;
    assert_eq!((v["previous_status"].as_str(), v["current_status"].as_str()), (Some("Suspended"), Some("Active")));
    let (status, _) = send(app.nx("SetSubscriptionStatus", t).json(&json!({ "subscription_id": sub, "status": "Asleep" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_expiry_is_published_on_nats_when_its_date_passes() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Expiring").await;
    let nats = app.nats().await;
    let subject = format!("{}.{}.subscription.*.SubscriptionExpired", app.config.nats.subject_prefix, org.id);
    let mut expired = nats.subscribe(subject).await.unwrap();
    let u = create_user(&app, &org.token, &org.id, "temp", "Tem", "Porary").await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (_, v) =
        send(app.nx("CreateSubscription", &org.token).json(&json!({ "org_id": org.id, "user_id": u, "utc_expiration_date": soon }))).await;
    let sub = v["subscription_id"].as_str().unwrap().to_string();
    let (_, v) = send(app.nx("GetSubscription", &org.token).json(&json!({ "subscription_id": sub }))).await;
    assert_eq!(v["expired"], false);

    let msg = tokio::time::timeout(Duration::from_secs(20), expired.next()).await.expect("no expiry on NATS").unwrap();
    let envelope: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(envelope["stream_id"], sub.as_str());
    assert_eq!(envelope["event_type"], "SubscriptionExpired");
    app.eventually("the read model shows the expiry", Duration::from_secs(10), || async {
        let (_, v) = send(app.nx("GetSubscription", &org.token).json(&json!({ "subscription_id": sub }))).await;
        v["expired"] == true
    })
    .await;
    // Exactly once: the worker's later scans find nothing due.
    let again = tokio::time::timeout(Duration::from_millis(1500), expired.next()).await;
    assert!(again.is_err(), "a second expiry event was published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_profile_field_values_are_typed_and_set_all_or_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Fields").await;
    let t = &org.token;
    for (key, ty) in [("Shirt", "Text"), ("Score", "Number"), ("Hired", "DateTime"), ("Vip", "Boolean")] {
        let (status, v) =
            send(app.ps(Method::POST, "/profile-fields", t).json(&json!({ "org_id": org.id, "key": key, "name": key, "type": ty }))).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    let (status, v) =
        send(app.ps(Method::POST, "/profile-fields", t).json(&json!({ "org_id": org.id, "key": "x", "name": "x", "type": "Colour" })))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, _) = send(
        app.ps(Method::POST, "/profile-fields", t).json(&json!({ "org_id": org.id, "key": "shirt", "name": "again", "type": "Text" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "keys are unique per org, whatever the case");

    let (_, fields) = send(app.nx("GetCustomProfileFields", t).json(&json!({ "org_id": org.id }))).await;
    let keys: Vec<(&str, &str)> =
        fields.as_array().unwrap().iter().map(|f| (f["key"].as_str().unwrap(), f["type"].as_str().unwrap())).collect();
    assert_eq!(keys, vec![("Hired", "DateTime"), ("Score", "Number"), ("Shirt", "Text"), ("Vip", "Boolean")]);
    let one = fields[0]["field_id"].as_str().unwrap();
    let (_, v) = send(app.nx("GetCustomProfileFields", t).json(&json!({ "org_id": org.id, "field_id": one }))).await;
    assert_eq!(v.as_array().unwrap().len(), 1);

    let u = create_user(&app, t, &org.id, "typed", "Ty", "Ped").await;
    let (_, v) = send(app.nx("CreateSubscription", t).json(&json!({ "org_id": org.id, "user_id": u }))).await;
    let sub = v["subscription_id"].as_str().unwrap().to_string();
    let set = |values: Value| {
        send(app.nx("SetCustomProfileFieldValues", t).json(&json!({ "subscriber_id": sub, "custom_profile_field_values": values })))
    };

    // One bad value refuses the whole call, naming the key; nothing is stored.
    let (status, v) = set(json!({ "Shirt": "XL", "Score": "lots" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&v).starts_with("custom_profile_field_values.Score:"), "{v}");
    let (status, v) = set(json!({ "Shirt": "XL", "Colour": "red" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&v).contains("Colour"), "{v}");
    let (_, v) = send(app.nx("GetCustomProfileFieldValues", t).json(&json!({ "key": "Shirt" }))).await;
    assert_eq!(v, json!([]));

    let (status, v) = set(json!({ "shirt": "XL", "Score": 42.5, "Hired": "2026-03-01T10:00:00+02:00", "Vip": "TRUE" })).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    entity_ok(&v);
    let value = |key: &'static str| {
        let (app, u) = (&app, &u);
        async move {
            let (_, v) = send(app.nx("GetCustomProfileFieldValues", t).json(&json!({ "key": key, "user_id": u }))).await;
            v[0]["value"].as_str().unwrap_or_default().to_string()
        }
    };
    assert_eq!(value("Shirt").await, "XL");
    assert_eq!(value("Score").await, "42.5");
    assert_eq!(value("Hired").await, "2026-03-01T08:00:00Z", "DateTime values are answered in UTC");
    assert_eq!(value("Vip").await, "true");
    // null clears.
    set(json!({ "Vip": null })).await;
    assert_eq!(value("Vip").await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_entities_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.create_org("Alpha").await;
    let b = app.create_org("Beta").await;
    let ua = create_user(&app, &a.token, &a.id, "alpha1", "Al", "Pha").await;
    let (_, v) = send(app.nx("CreateSubscription", &a.token).json(&json!({ "org_id": a.id, "user_id": ua }))).await;
    let sub = v["subscription_id"].as_str().unwrap().to_string();

    let calls = [
        ("GetUser", json!({ "user_id": ua })),
        ("GetUserContactInformation", json!({ "user_id": ua })),
        ("EditUser", json!({ "user_id": ua, "first_name": "Hacked" })),
        ("GetOrganizations", json!({ "org_id": a.id })),
        ("GetSubscription", json!({ "subscription_id": sub })),
        ("EnableDisableSubscription", json!({ "subscription_id": sub, "disable": true })),
        (
            "CreateUser",
            json!({ "owner_org_id": a.id, "login": "intruder", "password": "secret-pass-1", "first_name": "I", "last_name": "N", "email": "i@example.com" }),
        ),
        ("CreateSubscription", json!({ "org_id": b.id, "user_id": ua })),
        ("GetCustomProfileFields", json!({ "org_id": a.id })),
    ];
    for (op, body) in calls {
        let (status, v) = send(app.nx(op, &b.token).json(&body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{op}: {v}");
        assert_eq!(error_code(&v), 4, "{op}");
    }
    let (_, v) = send(app.nx("GetUsers", &b.token).json(&json!({ "search_term": "alpha" }))).await;
    assert_eq!(v, json!([]));
    let (_, v) = send(app.nx("GetUser", &a.token).json(&json!({ "user_id": ua }))).await;
    assert_eq!(v["first_name"], "Al", "nothing was changed by the other tenant");
}

async fn create_group(app: &TestApp, token: &str, parent: &str, name: &str, short: &str) -> String {
    let (status, v) = send(
        app.nx("CreateGroup", token).json(&json!({ "name": name, "short_name": short, "parent_id": parent, "tracking_number": "T-1" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["group_id"].as_str().unwrap().to_string()
}

async fn active_members(app: &TestApp, group: &str) -> Vec<String> {
    sqlx::query_scalar::<_, uuid::Uuid>(
        "SELECT user_id FROM rm_directory.group_members WHERE group_id = $1::uuid AND status = 'active' ORDER BY user_id",
    )
    .bind(group)
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|u| u.to_string())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_nest_under_orgs_and_groups_with_short_names_unique_system_wide() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Tree").await;
    let other = app.create_org("Elsewhere").await;
    let t = &org.token;
    let math = create_group(&app, t, &org.id, "Mathematics", "MATH").await;
    let algebra = create_group(&app, t, &math, "Algebra", "ALG").await;
    create_group(&app, t, &org.id, "Art", "ART").await;

    let (status, v) =
        send(app.nx("CreateGroup", &other.token).json(&json!({ "name": "Maths", "short_name": "math", "parent_id": other.id }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "short names are unique system-wide, whatever the case: {v}");
    assert!(message(&v).starts_with("short_name:"), "{v}");
    let (status, _) =
        send(app.nx("CreateGroup", t).json(&json!({ "name": "X", "short_name": "X1", "parent_id": uuid::Uuid::now_v7() }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        send(app.nx("CreateGroup", &other.token).json(&json!({ "name": "X", "short_name": "X2", "parent_id": algebra }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's group is not a parent");
    let (status, v) = send(app.nx("CreateGroup", t).json(&json!({ "name": "X", "parent_id": org.id }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&v).starts_with("short_name:"), "{v}");

    // The same group is seen by the other dialects.
    let (_, ps) = send(app.ps(Method::GET, "/api/groups", t)).await;
    let names: Vec<&str> = ps["items"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Algebra") && names.contains(&"Mathematics"), "{ps}");

    // SearchDirectory: orgs and groups by name then short name; 0 = either matches, 1 = both.
    let search =
        |q: String| send(app.req(Method::GET, &format!("/api/v1/AdminApi/SearchDirectory?access_token={t}&base_org_id={}&{q}", org.id)));
    let (status, v) = search("search_mode=0&name=a&short_name=zzz".into()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let found: Vec<(&str, &str)> =
        v.as_array().unwrap().iter().map(|i| (i["name"].as_str().unwrap(), i["type"].as_str().unwrap())).collect();
    assert_eq!(found, vec![("Algebra", "Group"), ("Art", "Group"), ("Mathematics", "Group")]);
    let (_, v) = search("search_mode=1&name=a&short_name=zzz".into()).await;
    assert_eq!(v, json!([]));
    let (_, v) = search("search_mode=1&name=tree".into()).await;
    assert_eq!((v[0]["type"].as_str(), v[0]["id"].as_str()), (Some("Organization"), Some(org.id.as_str())));
    let (status, _) = search("search_mode=2".into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) =
        send(app.req(
            Method::GET,
            &format!("/api/v1/AdminApi/SearchDirectory?access_token={}&search_mode=0&base_org_id={}", other.token, org.id),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_granted_on_the_root_org_holds_on_a_group_five_levels_down_until_revoked() {
    let app = TestApp::spawn().await;
    let root = app.create_org("Rooted").await;
    let t = &root.token;
    let mut chain = vec![];
    let mut parent = root.id.clone();
    for level in 1..=5 {
        parent = create_group(&app, t, &parent, &format!("G{level}"), &format!("RG{level}")).await;
        chain.push(parent.clone());
    }
    let deepest = chain.last().unwrap().clone();
    app.add_user(&root, "keeper@rooted.example.com").await;
    let (_, v) = sign_in(&app, "keeper@rooted.example.com", "password1").await;
    let keeper = v["access_token"].as_str().unwrap().to_string();
    let (_, me) = send(app.nx("GetUser", t).json(&json!({ "login": "keeper@rooted.example.com" }))).await;
    let keeper_id = me["user_id"].as_str().unwrap().to_string();
    let learner = create_user(&app, t, &root.id, "learner", "Lea", "Rner").await;
    send(app.nx("CreateSubscription", t).json(&json!({ "org_id": root.id, "user_id": learner }))).await;

    let ask =
        || send(app.nx("HasGroupPermission", t).json(&json!({ "user_id": keeper_id, "group_id": deepest, "permission": "AddMembership" })));
    let (status, v) = ask().await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["is_permitted"].as_bool(), &v["reason"]), (Some(false), &Value::Null));
    let join = || send(app.nx("CreateMemberships", &keeper).json(&json!({ "group_ids": [deepest], "user_id": learner })));
    assert_eq!(join().await.0, StatusCode::FORBIDDEN);

    let (_, g) =
        send(app.ps(Method::POST, "/grants", t).json(&json!({ "user_id": keeper_id, "node_id": root.id, "role": "GroupManager" }))).await;
    let grant_id = g["grant_id"].as_str().unwrap().to_string();
    let (_, v) = ask().await;
    assert_eq!(v["is_permitted"], true, "{v}");
    assert_eq!(v["reason"]["grant_id"], grant_id.as_str());
    assert_eq!(v["reason"]["role"], "GroupManager");
    assert_eq!(v["reason"]["granted_on"], root.id.as_str());
    let mut path = vec![root.id.clone()];
    path.extend(chain.iter().cloned());
    assert_eq!(v["reason"]["path"], json!(path), "the ancestor path from the grant down to the group");
    let (status, v) = join().await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["memberships"][0]["group_id"], deepest.as_str());

    // SearchGroupsForPermission pages through every group where the permission holds.
    let resp = send_raw(
        app.nx("SearchGroupsForPermission", t)
            .json(&json!({ "user_id": keeper_id, "org_id": root.id, "permission": "AddMembership", "per_page": 2, "page": 2 })),
    )
    .await;
    assert_eq!(resp.headers()["x-total-count"], "5");
    let last: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(last.iter().map(|g| g["name"].as_str().unwrap()).collect::<Vec<_>>(), vec!["G5"]);
    let (_, v) =
        send(app.nx("SearchGroupsForPermission", t).json(&json!({ "user_id": keeper_id, "org_id": root.id, "permission": "CreateUsers" })))
            .await;
    assert_eq!(v, json!([]), "GroupManager carries no CreateUsers");
    let (status, v) =
        send(app.nx("HasGroupPermission", t).json(&json!({ "user_id": keeper_id, "group_id": deepest, "permission": "Fly" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&v).starts_with("permission:"), "{v}");

    // Revoked: refused at once, in both the answer and the enforcement.
    assert_eq!(send(app.ps(Method::DELETE, &format!("/grants/{grant_id}"), t)).await.0, StatusCode::NO_CONTENT);
    let (_, v) = ask().await;
    assert_eq!(v["is_permitted"], false);
    let (status, _) = send(app.nx("RemoveMemberships", &keeper).json(&json!({ "group_ids": [deepest], "user_id": learner }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The org admin holds every permission on the whole subtree.
    let (_, admin) = send(app.nx("GetUser", t).json(&json!({ "login": "admin@rooted.example.com" }))).await;
    let (_, v) =
        send(app.nx("HasGroupPermission", t).json(&json!({ "user_id": admin["user_id"], "group_id": deepest, "permission": "AddGroup" })))
            .await;
    assert_eq!(
        (v["is_permitted"].as_bool(), v["reason"]["role"].as_str(), &v["reason"]["grant_id"]),
        (Some(true), Some("Administrator"), &Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_batches_are_all_or_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Atomic").await;
    let sub = sub_org(&app, &org.id, "Atomicsub").await;
    let t = &org.token;
    let a = create_group(&app, t, &org.id, "A", "ATOM-A").await;
    let b = create_group(&app, t, &org.id, "B", "ATOM-B").await;
    let c = create_group(&app, t, &sub.id, "C", "ATOM-C").await;
    let u = create_user(&app, t, &org.id, "joiner", "Jo", "Iner").await;
    let (_, s) = send(app.nx("CreateSubscription", t).json(&json!({ "org_id": org.id, "user_id": u }))).await;
    let sub_id = s["subscription_id"].as_str().unwrap().to_string();
    let join = |groups: Value| send(app.nx("CreateMembership", t).json(&json!({ "group_ids": groups, "user_id": u })));

    // C's org has no subscription of the user: nothing is joined, and the error names C.
    let (status, v) = join(json!([a, b, c])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(message(&v).starts_with("group_ids[2]:"), "{v}");
    let (status, v) = join(json!([a, uuid::Uuid::now_v7()])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    for g in [&a, &b, &c] {
        assert!(active_members(&app, g).await.is_empty(), "a failed batch joined {g}");
    }
    // A disabled subscription does not entitle either.
    send(app.nx("EnableDisableSubscription", t).json(&json!({ "subscription_id": sub_id, "disable": true }))).await;
    assert_eq!(join(json!([a])).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    send(app.nx("EnableDisableSubscription", t).json(&json!({ "subscription_id": sub_id, "disable": false }))).await;

    let (status, v) = join(json!([a, b])).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let ms: Vec<(String, String)> = v["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["group_id"].as_str().unwrap().to_string(), m["membership_id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(ms.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), vec![a.as_str(), b.as_str()]);
    assert_eq!(active_members(&app, &a).await, vec![u.clone()]);

    // Removal by membership ids is atomic too: one unknown id and nothing is removed.
    let (status, _) = send(app.nx("RemoveMemberships", t).json(&json!({ "memberships": [ms[0].1, uuid::Uuid::now_v7()] }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(active_members(&app, &a).await, vec![u.clone()]);
    let (status, v) = send(app.nx("RemoveMemberships", t).json(&json!({ "group_ids": [a, c], "user_id": u }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a member of C: {v}");
    assert_eq!(active_members(&app, &a).await, vec![u.clone()]);
    let (status, v) = send(app.nx("RemoveMembership", t).json(&json!({ "memberships": [ms[0].1, ms[1].1] }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(active_members(&app, &a).await.is_empty() && active_members(&app, &b).await.is_empty());
}
