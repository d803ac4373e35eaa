//! Tenant isolation: another organization's ids answer 404, never 403 and never data; lists show
//! only the caller's organization. Checked both ways.

use reqwest::{Method, StatusCode};
use roster_tests::{send, Org, TestApp};
use serde_json::json;

async fn assert_isolated(app: &TestApp, me: &Org, them: &Org, their_user: &str, their_group: &str) {
    let (_, users) = send(app.wd(Method::GET, "/api/users?per_page=100", &me.token)).await;
    assert!(users["users"].as_array().unwrap().iter().all(|u| u["orgId"] == me.id.as_str()), "users list leaks: {users}");
    let (_, groups) = send(app.ps(Method::GET, "/api/groups", &me.token)).await;
    assert!(groups["items"].as_array().unwrap().iter().all(|g| g["id"] != their_group), "groups list leaks");

    let user_path = format!("/api/users/{their_user}");
    assert_eq!(send(app.wd(Method::PATCH, &user_path, &me.token).json(&json!({"bio": "pwned"}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(app.wd(Method::DELETE, &user_path, &me.token)).await.0, StatusCode::NOT_FOUND);
    let (status, _) = send(app.wd(Method::POST, "/api/token/generate-access", &me.token).json(&json!({"userId": their_user}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        app.wd(Method::POST, "/api/users/add", &me.token)
            .json(&json!({"email": "spy@x.io", "firstName": "S", "lastName": "P", "reportsTo": their_user})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a supervisor from another org is unknown");
    assert_eq!(
        send(app.wd(Method::PATCH, &format!("/api/organization/{}", them.id), &me.token).json(&json!({"name": "x"}))).await.0,
        StatusCode::NOT_FOUND
    );

    let gpath = format!("/api/groups/{their_group}");
    assert_eq!(send(app.ps(Method::GET, &gpath, &me.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(app.ps(Method::POST, &gpath, &me.token).json(&json!({"name": "x"}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(app.ps(Method::GET, &format!("{gpath}/members"), &me.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(app.ps(Method::POST, &format!("{gpath}/destroy"), &me.token)).await.0, StatusCode::NOT_FOUND);
    let (_, page) = send(app.ps(Method::GET, "/events?limit=1000", &me.token)).await;
    assert!(page["events"].as_array().unwrap().iter().all(|e| e["org_id"] == me.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_isolated_both_ways() {
    let app = TestApp::spawn().await;
    let a = app.create_org("Tenant A").await;
    let b = app.create_org("Tenant B").await;
    let a_user = app.add_user(&a, "same@example.io").await;
    // The same email in another org is another person.
    let b_user = app.add_user(&b, "same@example.io").await;
    let a_group = app.create_group(&a, "Shared Name").await;
    let b_group = app.create_group(&b, "Shared Name").await;

    // An extension number of org A used in org B's group is unknown there.
    let a_ext: i64 = sqlx::query_scalar("SELECT number FROM rm_directory.users WHERE id = $1::uuid")
        .bind(a_user["id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (status, _) = send(app.ps(Method::POST, &format!("/api/groups/{b_group}/members/{a_ext}"), &b.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_isolated(&app, &a, &b, b_user["id"].as_str().unwrap(), &b_group).await;
    assert_isolated(&app, &b, &a, a_user["id"].as_str().unwrap(), &a_group).await;

    // Nothing of B changed.
    let (_, g) = send(app.ps(Method::GET, &format!("/api/groups/{b_group}"), &b.token)).await;
    assert_eq!(g["name"], "Shared Name");
    let (_, users) = send(app.wd(Method::GET, "/api/users", &b.token)).await;
    assert_eq!(users["meta"]["totalResults"], 2);

    // The super admin belongs to no organization.
    let (status, v) = send(app.wd(Method::GET, "/api/users", &app.super_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
}
