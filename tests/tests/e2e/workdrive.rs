//! WorkDrive endpoints of the spine slice: organizations, access tokens, users.

use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, TestApp};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn super_admin_creates_an_organization_with_an_admin_and_a_working_token() {
    let app = TestApp::spawn().await;
    let body =
        json!({"name": "Acme Corp", "admin": {"firstName": "Ann", "lastName": "Lee", "email": "ann@acme.io"}, "auth": {"method": "ldap"}});
    let resp = send_raw(app.wd(Method::POST, "/api/organization", &app.super_token).json(&body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("roster-position").is_some(), "a write carries Roster-Position");
    let org: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(org["name"], "Acme Corp");
    assert_eq!(org["legalName"], "Acme Corp");
    assert_eq!(org["subdomain"], "acmecorp");
    assert_eq!(org["status"], "ACTIVE");
    assert_eq!(org["authMethod"], "ldap");
    assert!(org["parentOrgId"].is_null());
    let token = org["accessToken"].as_str().unwrap();
    // Read-your-writes: the admin exists and the token works at once.
    let (status, users) = send(app.wd(Method::GET, "/api/users", token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
    assert_eq!(users["users"][0]["email"], "ann@acme.io");
    assert_eq!(users["users"][0]["status"], "ACTIVE");
    assert_eq!(users["users"][0]["orgId"], org["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_create_errors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("First").await;
    let body = json!({"name": "Second", "admin": {"firstName": "B", "lastName": "C", "email": "b@c.io"}});

    let (status, v) = send(app.req(Method::POST, "/api/organization").json(&body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v, json!({"statusCode": 401, "message": "Your API key is wrong", "error": "Unauthorized"}));

    let (status, v) = send(app.wd(Method::POST, "/api/organization", "rst_not-a-token").json(&body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");

    let (status, v) = send(app.wd(Method::POST, "/api/organization", &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an org admin is not the super admin: {v}");

    let dup = json!({"name": "first", "admin": {"firstName": "B", "lastName": "C", "email": "b@c.io"}});
    let (status, v) = send(app.wd(Method::POST, "/api/organization", &app.super_token).json(&dup)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("subdomain"), "{v}");

    let bad_email = json!({"name": "Third", "admin": {"firstName": "B", "lastName": "C", "email": "nope"}});
    let (status, v) = send(app.wd(Method::POST, "/api/organization", &app.super_token).json(&bad_email)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("admin.email"), "{v}");

    let (status, v) = send(app.wd(Method::POST, "/api/organization", &app.super_token).json(&json!({"name": "x"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("admin"), "names the missing field: {v}");

    let (status, _) =
        send(app.wd(Method::POST, "/api/organization", &app.super_token).header("content-type", "application/json").body("{not json"))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let child =
        json!({"name": "Child", "parentOrgId": uuid::Uuid::now_v7(), "admin": {"firstName": "B", "lastName": "C", "email": "b@c.io"}});
    let (status, v) = send(app.wd(Method::POST, "/api/organization", &app.super_token).json(&child)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown parent: {v}");
    // Nothing half-written: the failed creates appended nothing beyond the first org.
    let orgs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'OrganizationCreated'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orgs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_update_by_its_creator_only() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Patchy").await;
    let path = format!("/api/organization/{}", org.id);
    let body = json!({"legalName": "Patchy Ltd", "websites": ["https://patchy.example"], "address": {"city": "Oslo"}, "industry": "toys"});
    let (status, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["legalName"], "Patchy Ltd");
    assert_eq!(v["name"], "Patchy");
    assert_eq!(v["websites"], json!(["https://patchy.example"]));
    assert_eq!(v["address"]["city"], "Oslo");
    assert_eq!(v["industry"], "toys");
    assert!(v["updatedAt"].is_string());

    // null clears, absent keeps
    let (status, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&json!({"industry": null}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["industry"].is_null());
    assert_eq!(v["legalName"], "Patchy Ltd");

    let (status, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&json!({"name": ""}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("name"), "{v}");

    // A member of the org is not its creator.
    app.add_user(&org, "member@patchy.io").await;
    let member_token = login(&app, "member@patchy.io").await;
    let (status, _) = send(app.wd(Method::PATCH, &path, &member_token).json(&json!({"industry": "x"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = send(app.wd(Method::PATCH, "/api/organization/not-a-uuid", &org.token).json(&json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Signs in through PortSIP's login (the harness gives users the password `password1`).
pub(crate) async fn login(app: &TestApp, username: &str) -> String {
    let (status, v) = send(app.req(Method::POST, "/api/login").json(&json!({"username": username, "password": "password1"}))).await;
    assert_eq!(status, StatusCode::OK, "login {username}: {v}");
    v["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_access_issues_a_new_token_and_revokes_the_old_ones() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Tokens").await;
    let user = app.add_user(&org, "t@tokens.io").await;
    let user_id = user["id"].as_str().unwrap();
    let old = login(&app, "t@tokens.io").await;
    assert_eq!(send(app.wd(Method::GET, "/api/users", &old)).await.0, StatusCode::OK);

    let (status, v) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({"userId": user_id}))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["userId"], user_id);
    let new = v["token"].as_str().unwrap();
    assert_eq!(send(app.wd(Method::GET, "/api/users", new)).await.0, StatusCode::OK);
    assert_eq!(send(app.wd(Method::GET, "/api/users", &old)).await.0, StatusCode::UNAUTHORIZED, "older tokens are revoked");

    // Only an org admin may generate tokens.
    let (status, _) = send(app.wd(Method::POST, "/api/token/generate-access", new).json(&json!({"userId": user_id}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({"userId": "x"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("userId"), "{v}");
    let (status, _) =
        send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({"userId": uuid::Uuid::now_v7()}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The secret never enters the log.
    let leaks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%' OR metadata::text LIKE '%' || $1 || '%'")
            .bind(new)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(leaks, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_user_and_its_errors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("People").await;
    // `securityGroup` names one of the org's security groups (E70).
    let (_, groups) = send(app.wd(Method::GET, "/api/security_groups", &org.token)).await;
    let users_group = groups["groups"][1]["id"].as_str().expect("the Users group").to_string();
    assert_eq!(groups["groups"][1]["name"], "Users");
    let body = json!({
        "email": "Bob@People.io", "firstName": "Bob", "lastName": "Ray", "phone": "+47 123", "designation": "Engineer",
        "securityGroup": users_group, "defaultVisibility": "public", "skill": ["rust"], "reportsTo": org.admin_id,
    });
    let (status, bob) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{bob}");
    assert_eq!(bob["email"], "Bob@People.io");
    assert_eq!(bob["userName"], "Bob@People.io");
    assert_eq!(bob["status"], "INVITED", "complete onboarding details invite the user directly");
    assert_eq!(bob["reportsTo"], org.admin_id.as_str());
    assert_eq!(bob["skill"], json!(["rust"]));
    assert_eq!(bob["teamMembers"], json!([]));
    assert_eq!(bob["userAdditionalTeams"], json!([]));
    assert_eq!(bob["orgId"], org.id.as_str());
    assert_eq!(bob["securityGroup"], users_group.as_str());

    let incomplete = json!({"email": "c@people.io", "firstName": "C", "lastName": "D"});
    let (_, c) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&incomplete)).await;
    assert_eq!(c["status"], "PRE_INVITED");

    for (body, field) in [
        (json!({"firstName": "A", "lastName": "B"}), "email"),
        (json!({"email": "x@people.io", "lastName": "B"}), "firstName"),
        (json!({"email": "x@people.io", "firstName": "A"}), "lastName"),
        (json!({"email": "not-an-email", "firstName": "A", "lastName": "B"}), "email"),
        (json!({"email": "BOB@people.io", "firstName": "A", "lastName": "B"}), "email"),
        (json!({"email": "y@people.io", "firstName": "A", "lastName": "B", "reportsTo": "zzz"}), "body"),
        (json!({"email": "y@people.io", "firstName": "", "lastName": "B"}), "firstName"),
        (json!({"email": "y@people.io", "firstName": "A", "lastName": "B", "securityGroup": uuid::Uuid::now_v7()}), "securityGroup"),
    ] {
        let (status, v) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["statusCode"], 400);
        assert!(v["message"].as_str().unwrap().starts_with(field), "{body} should name {field}: {v}");
    }
    let (status, _) = send(
        app.wd(Method::POST, "/api/users/add", &org.token)
            .json(&json!({"email": "z@people.io", "firstName": "A", "lastName": "B", "reportsTo": uuid::Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an unknown supervisor");
    // A member may not add users.
    let (status, _) = send(
        app.wd(Method::POST, "/api/users/add", &org.token)
            .json(&json!({"email": "m@people.io", "firstName": "M", "lastName": "N", "password": "password1"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let member = login(&app, "m@people.io").await;
    let (status, v) =
        send(app.wd(Method::POST, "/api/users/add", &member).json(&json!({"email": "q@people.io", "firstName": "Q", "lastName": "R"})))
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_pages_and_filters() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Pages").await;
    // Departments and locations must exist (a department needs a head: the admin).
    let (_, d) = send(
        app.wd(Method::POST, "/api/departments", &org.token)
            .json(&json!({"name": "D", "members": [{"id": org.admin_id, "isAdmin": true}]})),
    )
    .await;
    let dept = d["id"].as_str().expect("department").to_string();
    let (_, l) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": "L"}))).await;
    let loc = l["id"].as_str().expect("location").to_string();
    for i in 0..9 {
        let mut body = json!({"email": format!("u{i}@pages.io"), "firstName": "U", "lastName": format!("{i}")});
        if i % 3 == 0 {
            body["department"] = json!(dept);
        }
        if i < 2 {
            body["location"] = json!(loc);
        }
        let (status, _) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // 10 users (admin + 9).
    let page = |q: &str| app.wd(Method::GET, &format!("/api/users?{q}"), &org.token);
    let (_, v) = send(page("")).await;
    assert_eq!(v["meta"], json!({"perPage": 10, "totalPages": 1, "totalResults": 10, "curPage": 1, "nextPage": null}));
    assert_eq!(v["users"].as_array().unwrap().len(), 10);

    let (_, v) = send(page("cur_page=1&per_page=5")).await;
    assert_eq!(v["meta"], json!({"perPage": 5, "totalPages": 2, "totalResults": 10, "curPage": 1, "nextPage": 2}));
    let (_, v2) = send(page("cur_page=2&per_page=5")).await;
    assert_eq!(v2["meta"]["nextPage"], json!(null), "exact multiple: the last page has no next");
    let first: Vec<_> = v["users"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect();
    let second: Vec<_> = v2["users"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect();
    assert!(first.iter().all(|id| !second.contains(id)), "pages do not overlap");

    let (_, v) = send(page("cur_page=3&per_page=4")).await;
    assert_eq!(v["meta"], json!({"perPage": 4, "totalPages": 3, "totalResults": 10, "curPage": 3, "nextPage": null}));
    assert_eq!(v["users"].as_array().unwrap().len(), 2, "a short last page");

    let (_, v) = send(page("cur_page=9&per_page=5")).await;
    assert_eq!(v["users"], json!([]), "past the end is empty");

    let (_, v) = send(page(&format!("department={dept}"))).await;
    assert_eq!(v["meta"]["totalResults"], 4, "three users and the admin who heads it");
    let (_, v) = send(page(&format!("department={dept}&location={loc}"))).await;
    assert_eq!(v["meta"]["totalResults"], 1);
    let (_, v) = send(page(&format!("location={}", uuid::Uuid::now_v7()))).await;
    assert_eq!(v["meta"], json!({"perPage": 10, "totalPages": 0, "totalResults": 0, "curPage": 1, "nextPage": null}), "empty");

    for (q, field) in
        [("per_page=0", "per_page"), ("per_page=1001", "per_page"), ("cur_page=abc", "cur_page"), ("department=x", "department")]
    {
        let (status, v) = send(page(q)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        assert!(v["message"].as_str().unwrap().starts_with(field), "{q}: {v}");
    }
    // Supervisors are embedded in lists.
    let (_, v) = send(
        app.wd(Method::POST, "/api/users/add", &org.token)
            .json(&json!({"email": "r@pages.io", "firstName": "R", "lastName": "S", "reportsTo": org.admin_id})),
    )
    .await;
    let (_, list) = send(page("per_page=100")).await;
    let row = list["users"].as_array().unwrap().iter().find(|u| u["id"] == v["id"]).unwrap().clone();
    assert_eq!(row["reportsToObj"]["id"], org.admin_id.as_str());
    assert_eq!(row["reportsToObj"]["firstName"], "Ada");

    // Pages of any size walk the same order, oldest first, with and without a filter.
    let ids = |v: &Value| v["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let all = ids(&list);
    assert_eq!(all.len(), 11);
    assert_eq!(all[0], org.admin_id, "the admin came first");
    let mut paged = Vec::new();
    for cur in 1..=4 {
        paged.extend(ids(&send(page(&format!("cur_page={cur}&per_page=3"))).await.1));
    }
    assert_eq!(paged, all);
    let (_, v) = send(page(&format!("location={loc}&per_page=1&cur_page=2"))).await;
    assert_eq!((v["meta"]["totalResults"].clone(), ids(&v)), (json!(2), vec![all[2].clone()]), "the second of the two at L");
    // Pages in the back half are counted from the end: the same pages, filtered or not.
    for per_page in [1, 2, 4] {
        let mut paged = Vec::new();
        for cur in 1..=(11 / per_page + 1) {
            paged.extend(ids(&send(page(&format!("cur_page={cur}&per_page={per_page}"))).await.1));
        }
        assert_eq!(paged, all, "{per_page} per page");
    }
    let in_dept = ids(&send(page(&format!("department={dept}&per_page=100"))).await.1);
    let mut paged = Vec::new();
    for cur in 1..=5 {
        paged.extend(ids(&send(page(&format!("department={dept}&per_page=1&cur_page={cur}"))).await.1));
    }
    assert_eq!((in_dept.len(), paged), (4, in_dept.clone()), "one per page through the department");

    // Deleted users leave the list and its total; another organization's users never count.
    let other = app.create_org("Elsewhere").await;
    app.add_user(&other, "x@elsewhere.io").await;
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/users/{}", all[1]), &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/users/{}", all[1]), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted once");
    let (_, v) = send(page("per_page=100")).await;
    assert_eq!(v["meta"]["totalResults"], 10);
    assert_eq!(ids(&v), [&all[..1], &all[2..]].concat());
    let (_, v) = send(page(&format!("location={loc}"))).await;
    assert_eq!(v["meta"]["totalResults"], 1, "u0 was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_user_and_delete_user() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Edits").await;
    let user = app.add_user(&org, "e@edits.io").await;
    let other = app.add_user(&org, "o@edits.io").await;
    let path = format!("/api/users/{}", user["id"].as_str().unwrap());

    let body = json!({"firstName": "Eve", "bio": "hello", "availability": "AWAY", "status": "ACTIVE", "isExpert": true,
                      "addAdditionalTeams": [org.admin_id, other["id"]]});
    let (status, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["firstName"], "Eve");
    assert_eq!(v["lastName"], "Lastname");
    assert_eq!(v["bio"], "hello");
    assert_eq!(v["availability"], 0);
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["isExpert"], true);
    assert_eq!(v["badges"], json!([]));
    assert_eq!(v["userAdditionalTeams"].as_array().unwrap().len(), 2);

    let (_, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&json!({"removeAdditionalTeams": [org.admin_id], "bio": null}))).await;
    assert_eq!(v["userAdditionalTeams"], json!([other["id"]]));
    assert!(v["bio"].is_null());

    for (body, field) in [
        (json!({"status": "SLEEPING"}), "body"),
        (json!({"availability": "BUSY"}), "availability"),
        (json!({"firstName": null}), "firstName"),
        (json!({"reportsTo": user["id"]}), "reportsTo"),
    ] {
        let (status, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with(field), "{body} should name {field}: {v}");
    }
    let (status, _) =
        send(app.wd(Method::PATCH, &format!("/api/users/{}", uuid::Uuid::now_v7()), &org.token).json(&json!({"bio": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A user may edit themselves but not others, and not their own status.
    let own = login(&app, "e@edits.io").await;
    assert_eq!(send(app.wd(Method::PATCH, &path, &own).json(&json!({"bio": "mine"}))).await.0, StatusCode::OK);
    assert_eq!(send(app.wd(Method::PATCH, &path, &own).json(&json!({"status": "ACTIVE"}))).await.0, StatusCode::FORBIDDEN);
    let other_path = format!("/api/users/{}", other["id"].as_str().unwrap());
    assert_eq!(send(app.wd(Method::PATCH, &other_path, &own).json(&json!({"bio": "x"}))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(send(app.wd(Method::DELETE, &other_path, &own)).await.0, StatusCode::FORBIDDEN);

    // Delete: 204, gone from lists, token refused at once, email free again.
    let resp = send_raw(app.wd(Method::DELETE, &path, &org.token)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.headers().get("roster-position").is_some());
    assert_eq!(send(app.wd(Method::GET, "/api/users", &own)).await.0, StatusCode::UNAUTHORIZED);
    let (_, list) = send(app.wd(Method::GET, "/api/users", &org.token)).await;
    assert!(list["users"].as_array().unwrap().iter().all(|u| u["id"] != user["id"]));
    assert_eq!(send(app.wd(Method::DELETE, &path, &org.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(app.wd(Method::PATCH, &path, &org.token).json(&json!({"bio": "x"}))).await.0, StatusCode::NOT_FOUND);
    app.add_user(&org, "e@edits.io").await;
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/users/{}", org.admin_id), &org.token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an admin cannot delete themselves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_to_defaults_to_location_admins_then_department_heads() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Bosses").await;
    let head = app.add_user(&org, "head@bosses.io").await["id"].as_str().unwrap().to_string();
    let (status, dept) = send(
        app.wd(Method::POST, "/api/departments", &org.token).json(&json!({"name": "Eng", "members": [{"id": head, "isAdmin": true}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{dept}");
    let dept = dept["id"].as_str().unwrap().to_string();
    let (_, loc) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": "Bergen"}))).await;
    let loc = loc["id"].as_str().unwrap().to_string();
    // The org admin (in Administrators) works at the location: a location admin.
    let (status, v) =
        send(app.wd(Method::POST, &format!("/api/locations/{loc}/members"), &org.token).json(&json!({"addMembers": [org.admin_id]}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let add = |body: serde_json::Value| app.wd(Method::POST, "/api/users/add", &org.token).json(&body);
    let (_, by_dept) = send(add(json!({"email": "d@bosses.io", "firstName": "D", "lastName": "X", "department": dept}))).await;
    assert_eq!(by_dept["reportsTo"], head.as_str(), "no location: the department's head");
    let (_, by_loc) =
        send(add(json!({"email": "l@bosses.io", "firstName": "L", "lastName": "X", "department": dept, "location": loc}))).await;
    assert_eq!(by_loc["reportsTo"], org.admin_id.as_str(), "location admins come first");
    assert_eq!(by_loc["userAdditionalTeams"], json!([]));
    let (_, explicit) =
        send(add(json!({"email": "e@bosses.io", "firstName": "E", "lastName": "X", "location": loc, "reportsTo": head}))).await;
    assert_eq!(explicit["reportsTo"], head.as_str(), "an explicit reportsTo wins");
    let (_, extra) =
        send(add(json!({"email": "x@bosses.io", "firstName": "X", "lastName": "X", "department": dept, "addAdditionalLocations": [loc]})))
            .await;
    assert_eq!(extra["reportsTo"], head.as_str());
    assert_eq!(extra["userAdditionalTeams"], json!([org.admin_id]), "additional locations' admins supervise too");
    let (_, nobody) = send(add(json!({"email": "n@bosses.io", "firstName": "N", "lastName": "X"}))).await;
    assert!(nobody["reportsTo"].is_null());
    // The onboarding notice goes to the defaulted supervisor.
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=UserOnboardingNoticeRecorded&limit=1000", &org.token)).await;
    let notice = page["events"].as_array().unwrap().iter().find(|e| e["stream_id"] == by_dept["id"]).expect("a notice").clone();
    assert_eq!(notice["payload"]["recipient"], "supervisor", "{notice}");
    assert_eq!(notice["payload"]["recipient_user_id"], head.as_str(), "{notice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_users_tokens_are_refused_at_once_and_work_again_when_unblocked() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Blocks").await;
    let user = app.add_user(&org, "b@blocks.io").await;
    let path = format!("/api/users/{}", user["id"].as_str().unwrap());
    let token = login(&app, "b@blocks.io").await;
    assert_eq!(send(app.wd(Method::GET, "/api/users", &token)).await.0, StatusCode::OK);

    let (status, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&json!({"status": "BLOCKED"}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "BLOCKED");
    assert_eq!(send(app.wd(Method::GET, "/api/users", &token)).await.0, StatusCode::UNAUTHORIZED, "refused at once");
    let (status, _) = send(app.req(Method::POST, "/api/login").json(&json!({"username": "b@blocks.io", "password": "password1"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a blocked user cannot sign in");

    send(app.wd(Method::PATCH, &path, &org.token).json(&json!({"status": "ARCHIVE"}))).await;
    assert_eq!(send(app.wd(Method::GET, "/api/users", &token)).await.0, StatusCode::UNAUTHORIZED);
    let (_, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&json!({"status": "ACTIVE"}))).await;
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(send(app.wd(Method::GET, "/api/users", &token)).await.0, StatusCode::OK, "an unblocked user's token works again");
}
