//! SCIM 2.0 (DESIGN §12): discovery, users, groups, filters, PATCH, ETags, cross-dialect
//! identity, tenant isolation and the audit feed.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, TestApp};
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

fn sc(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.req(method, &format!("/scim/v2{path}")).bearer_auth(token).header("content-type", "application/scim+json")
}

/// Percent-encodes a query parameter value.
fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn scim_error(v: &Value, status: &str, scim_type: Option<&str>) {
    assert_eq!(v["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{v}");
    assert_eq!(v["status"], status, "{v}");
    if let Some(t) = scim_type {
        assert_eq!(v["scimType"], t, "{v}");
    }
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
}

async fn create_user(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, v) = send(sc(app, Method::POST, "/Users", token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v
}

/// The user as WorkDrive lists it.
async fn wd_user(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, page) = send(app.wd(Method::GET, "/api/users?per_page=100", token)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["users"].as_array().unwrap().iter().find(|u| u["id"] == id).cloned().unwrap_or_else(|| panic!("{id} not in {page}"))
}

fn bjensen() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": "bjensen@example.com",
        "externalId": "okta-00u1",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "title": "Tour Guide",
        "active": true,
        "password": "password1",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_auth_and_content_type() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimDisco").await;
    let resp = send_raw(sc(&app, Method::GET, "/ServiceProviderConfig", &org.token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/scim+json");
    let cfg: Value = resp.json().await.unwrap();
    assert_eq!(cfg["patch"]["supported"], true);
    assert_eq!(cfg["etag"]["supported"], true);
    assert_eq!(cfg["sort"]["supported"], true);
    assert_eq!(cfg["changePassword"]["supported"], false);
    assert!(cfg["filter"]["maxResults"].as_i64().unwrap() > 0);
    assert!(cfg["bulk"]["maxOperations"].as_i64().unwrap() > 0);
    // RFC 9865: cursors beside index paging, which stays the default for clients that know no
    // other.
    assert_eq!((&cfg["pagination"]["cursor"], &cfg["pagination"]["index"]), (&json!(true), &json!(true)));
    assert_eq!(cfg["pagination"]["defaultPaginationMethod"], "index");

    let (status, rt) = send(sc(&app, Method::GET, "/ResourceTypes", &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = rt["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["User", "Group"]);
    let (status, schemas) = send(sc(&app, Method::GET, "/Schemas", &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schemas["totalResults"], 3);
    let (status, _) = send(sc(&app, Method::GET, &format!("/Schemas/{ENTERPRISE}"), &org.token)).await;
    assert_eq!(status, StatusCode::OK);

    // No token, a bad token: 401; a member's token: 403, all as SCIM errors.
    let (status, v) = send(app.req(Method::GET, "/scim/v2/Users")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    scim_error(&v, "401", None);
    let (status, v) = send(sc(&app, Method::GET, "/Users", "not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    scim_error(&v, "401", None);
    let member = create_user(&app, &org.token, bjensen()).await;
    let (status, login) = send(app.req(Method::POST, "/api/login").json(&json!({
        "username": "bjensen@example.com", "password": "password1", "domain": org.subdomain
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let member_token = login["access_token"].as_str().unwrap();
    let (status, v) = send(sc(&app, Method::GET, "/Users", member_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    scim_error(&v, "403", None);
    // /Me is the caller's own user.
    let (status, me) = send(sc(&app, Method::GET, "/Me", member_token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], member["id"]);

    // A user provisioned inactive is created BLOCKED.
    let (status, v) =
        send(sc(&app, Method::POST, "/Users", &org.token).json(&json!({"userName": "off@example.com", "active": false}))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["active"], false);

    // application/json is accepted as well.
    let (status, v) =
        send(app.req(Method::POST, "/scim/v2/Users").bearer_auth(&org.token).json(&json!({"userName": "plain@example.com"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"]["givenName"], "plain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_lifecycle_etags_and_blocking() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimUsers").await;
    let resp = send_raw(sc(&app, Method::POST, "/Users", &org.token).json(&bjensen())).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["content-type"], "application/scim+json");
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let u: Value = resp.json().await.unwrap();
    let id = u["id"].as_str().unwrap().to_string();
    assert_eq!(u["userName"], "bjensen@example.com");
    assert_eq!(u["name"]["givenName"], "Barbara");
    assert_eq!(u["name"]["middleName"], "Jane");
    assert_eq!(u["externalId"], "okta-00u1");
    assert_eq!(u["title"], "Tour Guide");
    assert_eq!(u["active"], true);
    assert_eq!(u["phoneNumbers"][0]["value"], "+1 555 0100");
    assert!(u.get("password").is_none());
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(u["meta"]["version"], etag.as_str());
    assert!(u["meta"]["location"].as_str().unwrap().ends_with(&format!("/scim/v2/Users/{id}")));
    assert_eq!(u["meta"]["location"], location.as_str());
    assert!(u[ENTERPRISE]["employeeNumber"].is_string());

    // The same user in WorkDrive.
    assert_eq!(wd_user(&app, &org.token, &id).await["email"], "bjensen@example.com");

    // Uniqueness of userName is case-insensitive: 409.
    let mut dup = bjensen();
    dup["userName"] = json!("BJENSEN@example.com");
    dup["emails"] = json!([{"value": "other@example.com"}]);
    let (status, v) = send(sc(&app, Method::POST, "/Users", &org.token).json(&dup)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    scim_error(&v, "409", Some("uniqueness"));
    // userName is required.
    let (status, v) = send(sc(&app, Method::POST, "/Users", &org.token).json(&json!({"emails": [{"value": "x@y.co"}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    scim_error(&v, "400", Some("invalidValue"));
    assert!(v["detail"].as_str().unwrap().contains("userName"), "{v}");
    // Malformed JSON: invalidSyntax.
    let (status, v) = send(sc(&app, Method::POST, "/Users", &org.token).body("{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    scim_error(&v, "400", Some("invalidSyntax"));

    // GET with If-None-Match of the current version: 304; a stale one: 200.
    let resp = send_raw(sc(&app, Method::GET, &format!("/Users/{id}"), &org.token).header("if-none-match", &etag)).await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let resp = send_raw(sc(&app, Method::GET, &format!("/Users/{id}"), &org.token).header("if-none-match", "W/\"0\"")).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Entra-style PATCH: PascalCase ops, "False" strings, a value-path on emails. If-Match stale → 412.
    let ops = json!({"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": org.admin_id}},
    ]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).header("if-match", "W/\"999\"").json(&ops)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{v}");
    scim_error(&v, "412", None);
    let resp = send_raw(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).header("if-match", &etag).json(&ops)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let new_etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let u: Value = resp.json().await.unwrap();
    assert_eq!(u["emails"][0]["value"], "barbara@example.com");
    assert_eq!(u["name"]["familyName"], "Jensen-Smith");
    assert_eq!(u[ENTERPRISE]["manager"]["value"], org.admin_id.as_str());

    // An atomic PATCH: the second operation is invalid, so the first is not applied.
    let bad = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "x"},
    ]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).json(&bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    scim_error(&v, "400", Some("mutability"));
    let (_, u) = send(sc(&app, Method::GET, &format!("/Users/{id}"), &org.token)).await;
    assert_eq!(u["title"], "Tour Guide");
    let bad_path = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).json(&bad_path)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    scim_error(&v, "400", Some("invalidPath"));

    // Deactivation blocks the user: their token is refused at once; reactivation lifts it.
    let (_, login) = send(app.req(Method::POST, "/api/login").json(&json!({
        "username": "bjensen@example.com", "password": "password1", "domain": org.subdomain
    })))
    .await;
    let user_token = login["access_token"].as_str().unwrap().to_string();
    assert_eq!(send(sc(&app, Method::GET, "/Me", &user_token)).await.0, StatusCode::OK);
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "value": {"active": "False"}}]});
    let (status, u) = send(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).json(&off)).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["active"], false);
    assert_eq!(send(sc(&app, Method::GET, "/Me", &user_token)).await.0, StatusCode::UNAUTHORIZED);
    let wd = wd_user(&app, &org.token, &id).await;
    assert_eq!(wd["status"], "BLOCKED", "{wd}");

    // Okta-style full PUT: absent optional attributes are cleared; active true lifts the block.
    let put = json!({"schemas": [USER], "userName": "bjensen@example.com", "externalId": "okta-00u1",
        "name": {"givenName": "Barb", "familyName": "Jensen"}, "emails": [{"value": "barbara@example.com", "primary": true}], "active": true});
    let (status, u) = send(sc(&app, Method::PUT, &format!("/Users/{id}"), &org.token).json(&put)).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["name"]["givenName"], "Barb");
    assert!(u.get("title").is_none() && u.get("phoneNumbers").is_none() && u["name"].get("middleName").is_none(), "{u}");
    assert!(u[ENTERPRISE].get("manager").is_none(), "{u}");
    assert_eq!(u["active"], true);
    assert_eq!(send(sc(&app, Method::GET, "/Me", &user_token)).await.0, StatusCode::OK);
    // A rename moves the login (signing in with the new one works); a taken one is 409.
    let mut renamed = put.clone();
    renamed["userName"] = json!("barbara");
    let (status, u) = send(sc(&app, Method::PUT, &format!("/Users/{id}"), &org.token).json(&renamed)).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["userName"], "barbara");
    let (status, login) = send(app.req(Method::POST, "/api/login").json(&json!({
        "username": "barbara", "password": "password1", "domain": org.subdomain
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    create_user(&app, &org.token, json!({"userName": "bjensen@example.com", "emails": [{"value": "second@example.com"}]})).await;
    let taken = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": "BJensen@example.com"}]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).json(&taken)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    scim_error(&v, "409", Some("uniqueness"));

    // DELETE, then 404.
    assert_eq!(send(sc(&app, Method::DELETE, &format!("/Users/{id}"), &org.token)).await.0, StatusCode::NO_CONTENT);
    let (status, v) = send(sc(&app, Method::GET, &format!("/Users/{id}"), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    scim_error(&v, "404", None);

    // Every SCIM write is an event of dialect scim.
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=UserUpdated", &org.token)).await;
    let events = page["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["metadata"]["dialect"] == "scim"), "{page}");
}

/// SCIM's substring filters and NexPort's user search read a search text kept beside each live
/// user (migration 0043), not the user's row: it follows a rename and an email change, whichever
/// dialect made them, and a deleted user is found by neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_searches_follow_renames_and_deletions_across_dialects() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimSearch").await;
    let body = json!({"userName": "dulcinea@toboso.lamancha", "name": {"givenName": "Dulcinea", "familyName": "Quixotic"}});
    let id = create_user(&app, &org.token, body).await["id"].as_str().unwrap().to_string();
    create_user(&app, &org.token, json!({"userName": "sancho@panza.lamancha", "name": {"givenName": "Sancho", "familyName": "Panza"}}))
        .await;
    let scim = |filter: &str| {
        let path = format!("/Users?filter={}", enc(filter));
        let app = &app;
        let token = org.token.clone();
        async move {
            let (status, v) = send(sc(app, Method::GET, &path, &token)).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            let mut logins: Vec<String> =
                v["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap().to_string()).collect();
            logins.sort();
            logins
        }
    };
    let nexport = |term: &str| {
        let req = app.nx("GetUsers", &org.token).json(&json!({ "search_term": term }));
        async move {
            let resp = send_raw(req).await;
            assert_eq!(resp.status(), StatusCode::OK);
            let total: usize = resp.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
            let users: Vec<Value> = resp.json().await.unwrap();
            assert_eq!(users.len(), total, "one page holds them all");
            users.iter().map(|u| u["login"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    let dulcinea = vec!["dulcinea@toboso.lamancha".to_string()];
    assert_eq!(scim(r#"name.familyName co "UIXOT""#).await, dulcinea);
    // Under `or`, the search is one arm among others, not the plan's starting point.
    assert_eq!(scim(r#"userName co "toboso" or title eq "Squire""#).await, dulcinea);
    assert_eq!(nexport("uixot").await, dulcinea);

    // Renamed and given another email through NexPort: found by the new, not by the old.
    let edit = json!({ "user_id": id, "last_name": "Lorenzo", "email": "aldonza@lorenzo.lamancha" });
    let (status, v) = send(app.nx("EditUser", &org.token).json(&edit)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(scim(r#"name.familyName co "uixot""#).await, Vec::<String>::new());
    assert_eq!(nexport("uixot").await, Vec::<String>::new());
    assert_eq!(scim(r#"name.familyName co "orenz""#).await, dulcinea);
    assert_eq!(scim(r#"emails.value ew "@lorenzo.lamancha""#).await, dulcinea);
    assert_eq!(nexport("aldonza@").await, dulcinea);
    // The login through SCIM, and the sort follows the new family name: Lorenzo before Panza.
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "userName", "value": "aldonza@toboso.lamancha"}]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).json(&patch)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(nexport("dulcinea@").await, Vec::<String>::new());
    assert_eq!(nexport("lamancha").await, ["aldonza@toboso.lamancha", "sancho@panza.lamancha"]);

    // Deleted: found by neither.
    assert_eq!(send(sc(&app, Method::DELETE, &format!("/Users/{id}"), &org.token)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(scim(r#"userName co "toboso""#).await, Vec::<String>::new());
    assert_eq!(nexport("toboso").await, Vec::<String>::new());
    assert_eq!(nexport("lamancha").await, ["sancho@panza.lamancha"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_sorting_paging_and_projection() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimFilter").await;
    for (login, given, family, title) in [
        ("alice@a.io", "Alice", "Zeta", Some("Engineer")),
        ("bob@b.io", "Bob", "Young", None),
        ("carol@a.io", "Carol", "Xu", Some("Manager")),
    ] {
        let mut body = json!({"userName": login, "name": {"givenName": given, "familyName": family}});
        if let Some(t) = title {
            body["title"] = json!(t);
        }
        create_user(&app, &org.token, body).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["Resources"].as_array().unwrap_or_else(|| panic!("{v}")).iter().map(|r| r["userName"].as_str().unwrap().to_string()).collect()
    };
    let list = |q: &str| send(sc(&app, Method::GET, &format!("/Users?{q}"), &org.token));

    // Okta's lookup before a create; userName compares case-insensitively.
    let (status, v) = list(&format!("filter={}", enc(r#"userName eq "ALICE@a.io""#))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(names(&v), ["alice@a.io"]);
    assert_eq!(v["totalResults"], 1);
    let (_, v) = list(&format!("filter={}&sortBy=name.familyName", enc(r#"emails[type eq "work" and value ew "@a.io"]"#))).await;
    assert_eq!(names(&v), ["carol@a.io", "alice@a.io"]);
    let (_, v) = list(&format!("filter={}", enc(r#"title pr and not (title sw "eng")"#))).await;
    assert_eq!(names(&v), ["carol@a.io"]);
    let (_, v) = list(&format!("filter={}", enc(r#"(name.givenName co "o" or userName sw "ali") and active eq true"#))).await;
    assert_eq!(v["totalResults"], 3);
    let (_, v) = list(&format!("filter={}", enc(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName gt "Z""#))).await;
    assert_eq!(names(&v), ["alice@a.io"]);
    // Sorting, descending, and the paging edge rules (startIndex < 1 is 1, count < 0 is 0).
    let (_, v) = list(&format!("filter={}&sortBy=userName&sortOrder=descending", enc(r#"userName ne "admin""#))).await;
    assert_eq!(names(&v)[..3], ["carol@a.io", "bob@b.io", "alice@a.io"]);
    let (_, v) = list("sortBy=userName&startIndex=2&count=1").await;
    assert_eq!(v["startIndex"], 2);
    assert_eq!(v["itemsPerPage"], 1);
    assert_eq!(v["totalResults"], 4);
    let (_, v) = list("startIndex=0&count=-3").await;
    assert_eq!(v["startIndex"], 1);
    assert_eq!(v["itemsPerPage"], 0);
    assert_eq!(v["totalResults"], 4);
    // attributes / excludedAttributes; id, schemas and meta are always returned.
    let (_, v) = list(&format!("filter={}&attributes=userName,name.givenName", enc(r#"userName eq "bob@b.io""#))).await;
    let r = &v["Resources"][0];
    assert_eq!(r["name"], json!({"givenName": "Bob"}));
    assert!(r.get("emails").is_none() && r.get("id").is_some() && r.get("meta").is_some(), "{r}");
    let (_, v) = list(&format!("filter={}&excludedAttributes=emails,groups", enc(r#"userName eq "bob@b.io""#))).await;
    assert!(v["Resources"][0].get("emails").is_none() && v["Resources"][0].get("userName").is_some());

    // Bad filters: 400 invalidFilter naming the problem.
    for bad in [r#"nickName eq "x""#, r#"userName eq"#, r#"userName eq "x" and"#, r#"active gt true"#, r#"(userName pr"#] {
        let (status, v) = list(&format!("filter={}", enc(bad))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        scim_error(&v, "400", Some("invalidFilter"));
    }

    // POST .search, per resource and at the root.
    let (status, v) = send(sc(&app, Method::POST, "/Users/.search", &org.token).json(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"c\"", "attributes": ["userName"]
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(names(&v), ["carol@a.io"]);
    let (status, v) = send(sc(&app, Method::POST, "/.search", &org.token).json(&json!({"filter": "displayName pr", "count": 100}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["totalResults"], 4);
}

/// Characters whose case every `lower()` folds alike (Rust's, and Postgres's in any locale): the
/// only cased ones are ASCII. With LIKE's metacharacters, to show they are taken literally.
const SEARCH_ALPHABET: &[char] = &['a', 'b', 'c', 'A', 'B', 'C', 'x', '1', '.', '%', '_', '\\', 'ø', 'ß', '€'];

fn search_word(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(SEARCH_ALPHABET), len).prop_map(|c| c.into_iter().collect())
}

/// The term a case of the filter tests below compares with: mostly a piece of someone's value,
/// with its ASCII case flipped, else any word.
fn probe_term(value: &str, start: proptest::sample::Index, len: usize, from_value: bool, random: String) -> String {
    if !from_value {
        return random;
    }
    let chars: Vec<char> = value.chars().collect();
    let start = start.index(chars.len());
    let piece: String = chars[start..chars.len().min(start + len)].iter().collect();
    piece.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
}

/// What a case-insensitive SCIM string comparison answers, by comparing in Rust.
fn compares(op: &str, value: &str, term: &str) -> bool {
    let (v, t) = (value.to_lowercase(), term.to_lowercase());
    match op {
        "eq" => v == t,
        "co" => v.contains(&t),
        "sw" => v.starts_with(&t),
        "ew" => v.ends_with(&t),
        _ => unreachable!("{op}"),
    }
}

/// `userName`, `name.givenName`, `name.familyName`, `emails.value` and a group's `displayName`
/// are compared through the trigram index when their value is long enough, or through a btree in
/// the "C" collation (`projections::scim`): whatever the value, the answer must be what comparing
/// every user or group would give.
/// A SCIM list's answer to `filter` holds exactly `expect` (sorted; by the resources' `key`, in any
/// order), and its total says so.
fn lists_exactly(filter: &str, (status, v): (StatusCode, Value), key: &str, expect: &[&str]) {
    assert_eq!(status, StatusCode::OK, "{filter}: {v}");
    let mut got: Vec<&str> = v["Resources"].as_array().unwrap().iter().map(|r| r[key].as_str().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, expect, "{filter}");
    assert_eq!(v["totalResults"], expect.len(), "{filter}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_text_filters_answer_as_a_comparison_of_every_user_and_group() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimSearch").await;
    let mut runner = TestRunner::new(Config { cases: 200, ..Config::default() });
    let words = proptest::collection::vec((search_word(1..=5), search_word(1..=6), search_word(1..=6), search_word(1..=5)), 14);
    for (i, (login, given, family, mailbox)) in words.new_tree(&mut runner).unwrap().current().into_iter().enumerate() {
        create_user(
            &app,
            &org.token,
            json!({
                "userName": format!("{login}{i}"), "name": {"givenName": given, "familyName": family},
                "emails": [{"value": format!("{mailbox}{i}@x.io"), "primary": true}],
            }),
        )
        .await;
    }
    let list = |filter: String| {
        let path = format!("/Users?count=1000&attributes=userName,name,emails&filter={}", enc(&filter));
        send(sc(&app, Method::GET, &path, &org.token))
    };
    let fields = |u: &Value| -> [String; 4] {
        [&u["userName"], &u["name"]["givenName"], &u["name"]["familyName"], &u["emails"][0]["value"]]
            .map(|v| v.as_str().unwrap_or_else(|| panic!("{u}")).to_string())
    };
    let (status, all) = list("userName pr".into()).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let users: Vec<[String; 4]> = all["Resources"].as_array().unwrap().iter().map(fields).collect();
    assert_eq!(users.len(), 15, "{all}");

    const ATTRS: [&str; 4] = ["userName", "name.givenName", "name.familyName", "emails.value"];
    const OPS: [&str; 4] = ["eq", "co", "sw", "ew"];
    let case =
        (0..ATTRS.len(), 0..OPS.len(), 0..users.len(), any::<proptest::sample::Index>(), 1usize..8, any::<bool>(), search_word(1..=6));
    let mut narrowed = 0;
    for _ in 0..200 {
        let (attr, op, who, start, len, from_value, random) = case.new_tree(&mut runner).unwrap().current();
        let term = probe_term(&users[who][attr], start, len, from_value, random);
        let mut expect: Vec<&str> = users.iter().filter(|u| compares(OPS[op], &u[attr], &term)).map(|u| u[0].as_str()).collect();
        expect.sort_unstable();
        narrowed += usize::from(term.chars().count() >= 3);
        let filter = format!("{} {} {}", ATTRS[attr], OPS[op], serde_json::to_string(&term).unwrap());
        lists_exactly(&filter, list(filter.clone()).await, "userName", &expect);
    }
    // Most cases went through the index (three characters or more), not only the plain scan.
    assert!(narrowed >= 60, "only {narrowed} of 200 terms were long enough for the index");

    // Groups' display names, the same way.
    let names = proptest::collection::vec(search_word(1..=6), 14).new_tree(&mut runner).unwrap().current();
    for (i, name) in names.iter().enumerate() {
        let (status, g) = send(sc(&app, Method::POST, "/Groups", &org.token).json(&json!({ "displayName": format!("{name}{i}") }))).await;
        assert_eq!(status, StatusCode::CREATED, "{g}");
    }
    let groups = |filter: String| {
        let path = format!("/Groups?count=1000&attributes=displayName&filter={}", enc(&filter));
        send(sc(&app, Method::GET, &path, &org.token))
    };
    let (status, all) = groups("displayName pr".into()).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let names: Vec<String> = all["Resources"].as_array().unwrap().iter().map(|g| g["displayName"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), 14, "{all}");
    let case = (0..OPS.len(), 0..names.len(), any::<proptest::sample::Index>(), 1usize..8, any::<bool>(), search_word(1..=6));
    for _ in 0..100 {
        let (op, who, start, len, from_value, random) = case.new_tree(&mut runner).unwrap().current();
        let term = probe_term(&names[who], start, len, from_value, random);
        let mut expect: Vec<&str> = names.iter().filter(|n| compares(OPS[op], n, &term)).map(String::as_str).collect();
        expect.sort_unstable();
        let filter = format!("displayName {} {}", OPS[op], serde_json::to_string(&term).unwrap());
        lists_exactly(&filter, groups(filter.clone()).await, "displayName", &expect);
    }

    // A stored value equals itself outside ASCII too (a value folded by Rust alone never did).
    // Its own org: whether `É` and `é` are one letter is the database locale's to say.
    let org = app.create_org("ScimFold").await;
    create_user(&app, &org.token, json!({"userName": "Émile@x.io", "name": {"givenName": "Élodie", "familyName": "Ørsted"}})).await;
    let (status, g) = send(sc(&app, Method::POST, "/Groups", &org.token).json(&json!({ "displayName": "Ørsted Team" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    for (resource, filter) in [
        ("Users", r#"userName eq "Émile@x.io""#),
        ("Users", r#"name.givenName sw "Élo""#),
        ("Users", r#"name.familyName co "Ørst""#),
        ("Users", r#"name.familyName sw "Ørs""#),
        ("Users", r#"name.familyName eq "Ørsted""#),
        ("Groups", r#"displayName sw "Ørs""#),
        ("Groups", r#"displayName eq "Ørsted team""#),
    ] {
        let path = format!("/{resource}?filter={}", enc(filter));
        let (_, v) = send(sc(&app, Method::GET, &path, &org.token)).await;
        assert_eq!(v["totalResults"], 1, "{filter}: {v}");
    }
}

/// The ids of a ListResponse's resources, in its order.
fn resource_ids(v: &Value) -> Vec<String> {
    v["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

/// An org of ten users and ten groups for the paging tests. Sort keys repeat (family names,
/// some external ids, group names), so ties fall to creation and id; some users and groups have
/// no `externalId`, so where NULLs go matters too.
async fn paging_org(app: &TestApp, name: &str) -> roster_tests::Org {
    let org = app.create_org(name).await;
    for i in 0..10 {
        let mut body = json!({"userName": format!("{}{i}@x.io", ["bo", "Al", "cy"][i % 3]), "name": {"givenName": "G", "familyName": (["Z", "y", "X", "y"][i % 4])}});
        if i % 2 == 0 {
            body["externalId"] = json!(format!("ext-{}", (i * 7) % 4));
        }
        create_user(app, &org.token, body).await;
        let mut group = json!({"displayName": format!("{}{}", ["Ops", "dev", "QA"][i % 3], i % 2)});
        if i % 3 == 0 {
            group["externalId"] = json!(format!("g-{}", i % 2));
        }
        let (status, v) = send(sc(app, Method::POST, "/Groups", &org.token).json(&group)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    org
}

/// A list of [`paging_org`]'s users (`resource` 0) or groups (1), by one of four sorts (the
/// default, text, text with NULLs, a family name or a time), either way, by one of three filters.
fn paging_list(resource: usize, sort: usize, descending: bool, filter: usize) -> String {
    const SORTS: [[Option<&str>; 4]; 2] = [
        [None, Some("userName"), Some("externalId"), Some("name.familyName")],
        [None, Some("displayName"), Some("externalId"), Some("meta.created")],
    ];
    const FILTERS: [[Option<&str>; 3]; 2] =
        [[None, Some(r#"userName co "o""#), Some("externalId pr")], [None, Some(r#"displayName sw "d""#), Some("externalId pr")]];
    let mut query = vec![];
    if let Some(s) = SORTS[resource][sort] {
        query.push(format!("sortBy={s}&sortOrder={}", if descending { "descending" } else { "ascending" }));
    }
    if let Some(f) = FILTERS[resource][filter] {
        query.push(format!("filter={}", enc(f)));
    }
    format!("/{}?{}", ["Users", "Groups"][resource], query.join("&"))
}

/// A page in the back half of a list is read from its end (`projections::scim`): whatever the
/// sort, order, filter and window, every page must be that window of the whole list, with the
/// whole list's total. Users and groups, some without the sort key (`externalId`), so that where
/// NULLs go is reversed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_its_window_of_the_whole_list_from_either_end() {
    let app = TestApp::spawn().await;
    let org = paging_org(&app, "ScimPages").await;
    let mut runner = TestRunner::new(Config { cases: 80, ..Config::default() });
    let case = (0..2usize, 0..4usize, any::<bool>(), 0..3usize, any::<bool>(), any::<proptest::sample::Index>(), 0i64..=6);
    let mut from_the_back = 0;
    for _ in 0..80 {
        let (resource, sort, descending, filter, back, start, count) = case.new_tree(&mut runner).unwrap().current();
        let base = paging_list(resource, sort, descending, filter);
        let (status, all) = send(sc(&app, Method::GET, &format!("{base}&count=1000"), &org.token)).await;
        assert_eq!(status, StatusCode::OK, "{base}: {all}");
        let all_ids = resource_ids(&all);
        let total = all_ids.len() as i64;
        assert_eq!(all["totalResults"], total, "{base}");
        // Half the time in the back half (past the middle, up to the last entry), where the page
        // is read from the end; otherwise anywhere in the list, and a little past its end. Drawn
        // so, the back half is covered by construction, not by the luck of a uniform draw.
        let back_from = total / 2 + 1;
        let start = if back && back_from < total {
            back_from + start.index((total - back_from) as usize) as i64 + 1
        } else {
            start.index(all_ids.len() + 3) as i64 + 1
        };
        let (status, v) = send(sc(&app, Method::GET, &format!("{base}&startIndex={start}&count={count}"), &org.token)).await;
        assert_eq!(status, StatusCode::OK, "{base}: {v}");
        let from = ((start - 1) as usize).min(all_ids.len());
        let window = &all_ids[from..(from + count as usize).min(all_ids.len())];
        assert_eq!(resource_ids(&v), window, "{base}&startIndex={start}&count={count}");
        assert_eq!(v["totalResults"], total, "{base}&startIndex={start}&count={count}");
        from_the_back += usize::from((start - 1) * 2 > total && count > 0 && start <= total);
    }
    // The windows start anywhere: many of them in the back half.
    assert!(from_the_back >= 15, "only {from_the_back} of 80 pages started in the back half");
}

/// Follows `nextCursor` from `cursor` (RFC 9865; empty: the first page) to the page without one;
/// every page's ids, in order, and the last page's body.
async fn cursor_walk(app: &TestApp, token: &str, base: &str, count: i64, cursor: &str) -> (Vec<Vec<String>>, Value) {
    let mut pages = vec![];
    let mut cursor = cursor.to_string();
    loop {
        let (status, v) = send(sc(app, Method::GET, &format!("{base}&count={count}&cursor={cursor}"), token)).await;
        assert_eq!(status, StatusCode::OK, "{base}: {v}");
        let ids = resource_ids(&v);
        assert!(ids.len() as i64 <= count && v["itemsPerPage"] == ids.len() && v.get("startIndex").is_none(), "{base}: {v}");
        pages.push(ids);
        match v["nextCursor"].as_str() {
            Some(next) => {
                assert!(next.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)), "{next}");
                cursor = next.to_string();
            }
            None => return (pages, v),
        }
        assert!(pages.len() < 100, "{base}: the walk does not end");
    }
}

/// Cursor pages (RFC 9865) list the whole list once, in its order, for every sort, direction,
/// filter and page size: against the same list read as one index page. Sort keys with NULLs
/// (`externalId`) and times (`meta.created`) are among the orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_pages_walk_the_whole_list_once_in_its_order() {
    let app = TestApp::spawn().await;
    let org = paging_org(&app, "ScimCursors").await;
    let mut runner = TestRunner::new(Config { cases: 24, ..Config::default() });
    let case = (0..2usize, 0..4usize, any::<bool>(), 0..3usize, 1i64..=4);
    for _ in 0..24 {
        let (resource, sort, descending, filter, count) = case.new_tree(&mut runner).unwrap().current();
        let base = paging_list(resource, sort, descending, filter);
        let (status, all) = send(sc(&app, Method::GET, &format!("{base}&count=1000"), &org.token)).await;
        assert_eq!(status, StatusCode::OK, "{base}: {all}");
        let all_ids = resource_ids(&all);
        let (pages, last) = cursor_walk(&app, &org.token, &base, count, "").await;
        assert_eq!(pages.concat(), all_ids, "{base}, {count} per page");
        assert_eq!(last["totalResults"], all_ids.len(), "{base}");
        // Only the last page may be short, and it is not empty unless the list is.
        assert!(pages[..pages.len() - 1].iter().all(|p| p.len() as i64 == count), "{base}: {pages:?}");
        assert!(all_ids.is_empty() || !pages.last().unwrap().is_empty(), "{base}: {pages:?}");
    }
}

/// A walk goes on from where it was whatever changed between two pages: a user of an earlier
/// page deleted, one created. Index pages shift under such changes (an entry deleted before the
/// window skips one); cursor pages skip and repeat nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_walk_skips_and_repeats_nothing_while_the_list_changes() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimCursorWrites").await;
    let mut mine = vec![];
    for i in 0..8 {
        let v = create_user(
            &app,
            &org.token,
            json!({"userName": format!("walker{i}@x.io"), "name": {"givenName": "G", "familyName": format!("F{i}")}}),
        )
        .await;
        mine.push(v["id"].as_str().unwrap().to_string());
    }
    for (round, base) in ["/Users?", "/Users?sortBy=name.familyName"].into_iter().enumerate() {
        let (status, first) = send(sc(&app, Method::GET, &format!("{base}&count=3&cursor="), &org.token)).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let seen = resource_ids(&first);
        // Between the pages: a user of the first page goes, a new user comes (last in both orders).
        let gone = seen.iter().find(|id| mine.contains(id)).expect("one of ours on the first page").clone();
        assert_eq!(send(sc(&app, Method::DELETE, &format!("/Users/{gone}"), &org.token)).await.0, StatusCode::NO_CONTENT);
        mine.retain(|id| id != &gone);
        create_user(&app, &org.token, json!({"userName": format!("late{round}@x.io"), "name": {"givenName": "G", "familyName": "F9"}}))
            .await;
        let (rest, _) = cursor_walk(&app, &org.token, base, 3, first["nextCursor"].as_str().expect("more pages")).await;
        let walked = [seen.clone(), rest.concat()].concat();
        // The first page as it was seen, then the rest of the list as it is now.
        let (_, now) = send(sc(&app, Method::GET, &format!("{base}&count=1000"), &org.token)).await;
        let now = resource_ids(&now);
        let expected: Vec<String> = seen.iter().cloned().chain(now.iter().filter(|id| !seen.contains(id)).cloned()).collect();
        assert_eq!(walked, expected, "{base}: every user once, the deleted one as it was seen, the new one in its place");
        assert!(!now.contains(&gone) && expected.len() == now.len() + 1, "{base}");
    }
}

/// What is not a cursor of this list is refused with RFC 9865's `invalidCursor`, and paging by
/// index and by cursor at once with `invalidValue`; never a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_that_are_not_this_lists_are_refused() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimBadCursors").await;
    for i in 0..3 {
        create_user(&app, &org.token, json!({"userName": format!("c{i}@x.io")})).await;
    }
    let (_, page) = send(sc(&app, Method::GET, "/Users?sortBy=meta.created&count=1&cursor=", &org.token)).await;
    let made = page["nextCursor"].as_str().unwrap().to_string();
    for (query, scim_type) in [
        (format!("/Users?cursor={}", enc("not a cursor")), "invalidCursor"),
        (format!("/Users?cursor={made}"), "invalidCursor"),
        (format!("/Users?sortBy=meta.created&sortOrder=descending&cursor={made}"), "invalidCursor"),
        (format!("/Users?sortBy=userName&cursor={made}"), "invalidCursor"),
        (format!("/Groups?cursor={}", "A".repeat(5000)), "invalidCursor"),
        (format!("/Users?sortBy=meta.created&startIndex=2&cursor={made}"), "invalidValue"),
    ] {
        let (status, v) = send(sc(&app, Method::GET, &query, &org.token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {v}");
        scim_error(&v, "400", Some(scim_type));
    }
    let (status, v) = send(sc(&app, Method::GET, &format!("/Users?sortBy=meta.created&count=1&cursor={made}"), &org.token)).await;
    assert_eq!(status, StatusCode::OK, "the cursor stays good for its own list: {v}");
    let (status, v) = send(sc(&app, Method::POST, "/.search", &org.token).json(&json!({"schemas": [SEARCH], "cursor": ""}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    scim_error(&v, "400", Some("invalidValue"));
    let (status, v) =
        send(sc(&app, Method::POST, "/Users/.search", &org.token).json(&json!({"schemas": [SEARCH], "cursor": "", "count": 2}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["Resources"].as_array().unwrap().len(), v["nextCursor"].is_string()), (2, true), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_the_one_group_model() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimGroups").await;
    let a = create_user(&app, &org.token, json!({"userName": "a@g.io"})).await;
    let b = create_user(&app, &org.token, json!({"userName": "b@g.io"})).await;
    let (a, b) = (a["id"].as_str().unwrap().to_string(), b["id"].as_str().unwrap().to_string());

    let resp = send_raw(sc(&app, Method::POST, "/Groups", &org.token).json(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales", "members": [{"value": a, "type": "User"}]
    })))
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let g: Value = resp.json().await.unwrap();
    let gid = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["members"][0]["value"], a.as_str());
    assert_eq!(g["meta"]["version"], etag.as_str());

    // The same group through PortSIP: find it by name, read it and its members.
    let (_, list) = send(app.ps(Method::GET, "/api/groups?filter=name eq 'Sales'", &org.token)).await;
    let ps_id = list["items"][0]["id"].as_str().unwrap_or_else(|| panic!("{list}")).to_string();
    let (status, pg) = send(app.ps(Method::GET, &format!("/api/groups/{ps_id}"), &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pg["name"], "Sales");
    let (_, members) = send(app.ps(Method::GET, &format!("/api/groups/{ps_id}/members"), &org.token)).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 1, "{members}");

    // PATCH members: add b, remove a by a value filter; rename. One write.
    let ops = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": b}]},
        {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
        {"op": "replace", "path": "displayName", "value": "Sales EU"},
    ]});
    let (status, g) = send(sc(&app, Method::PATCH, &format!("/Groups/{gid}"), &org.token).header("if-match", &etag).json(&ops)).await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["displayName"], "Sales EU");
    let ids: Vec<&str> = g["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(ids, [b.as_str()]);
    let (_, pg) = send(app.ps(Method::GET, &format!("/api/groups/{ps_id}"), &org.token)).await;
    assert_eq!(pg["name"], "Sales EU");
    // A member that is not a user of the org: invalidValue, nothing changes.
    let bad = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Nope"},
        {"op": "add", "path": "members", "value": [{"value": uuid::Uuid::new_v4().to_string()}]},
    ]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Groups/{gid}"), &org.token).json(&bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    scim_error(&v, "400", Some("invalidValue"));
    // The user shows the group (read-only `groups`); the group filter by member works.
    let (_, u) = send(sc(&app, Method::GET, &format!("/Users/{b}"), &org.token)).await;
    assert_eq!(u["groups"][0]["value"], gid.as_str());
    let f = enc(&format!("members[value eq \"{b}\"]"));
    let (_, v) = send(sc(&app, Method::GET, &format!("/Groups?filter={f}"), &org.token)).await;
    assert_eq!(v["totalResults"], 1, "{v}");
    // Entra ID's membership check; an id is compared case-exactly, its member in any case.
    for (filter, found) in [
        (format!("id eq \"{gid}\" and members[value eq \"{}\"]", b.to_uppercase()), 1),
        (format!("id eq \"{}\"", gid.to_uppercase()), 0),
        (format!("id eq \"{gid}\" and members[value eq \"{a}\"]"), 0),
    ] {
        let (_, v) = send(sc(&app, Method::GET, &format!("/Groups?filter={}&excludedAttributes=members", enc(&filter)), &org.token)).await;
        assert_eq!(v["totalResults"], found, "{filter}: {v}");
        assert!(v["Resources"].as_array().unwrap().iter().all(|g| g.get("members").is_none()), "{v}");
    }

    // A group made through PortSIP is a SCIM group.
    app.create_group(&org, "Support").await;
    let f = enc(r#"displayName eq "support""#);
    let (_, v) = send(sc(&app, Method::GET, &format!("/Groups?filter={f}"), &org.token)).await;
    assert_eq!(v["totalResults"], 1, "{v}");
    let support = v["Resources"][0]["id"].as_str().unwrap().to_string();

    // PUT replaces name and members; DELETE removes it everywhere.
    let (status, g) = send(
        sc(&app, Method::PUT, &format!("/Groups/{support}"), &org.token)
            .json(&json!({"displayName": "Support 2", "members": [{"value": a}, {"value": b}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    assert_eq!(send(sc(&app, Method::DELETE, &format!("/Groups/{gid}"), &org.token)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(send(app.ps(Method::GET, &format!("/api/groups/{ps_id}"), &org.token)).await.0, StatusCode::NOT_FOUND);
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=GroupCreated", &org.token)).await;
    assert!(page["events"].as_array().unwrap().iter().any(|e| e["metadata"]["dialect"] == "scim"), "{page}");
}

/// Okta and Entra send their own id for a group and look groups up by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_keep_the_clients_external_id() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimGroupExt").await;
    let (status, g) =
        send(sc(&app, Method::POST, "/Groups", &org.token).json(&json!({"displayName": "Ops", "externalId": "entra-7f3a"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!(g["externalId"], "entra-7f3a");
    let gid = g["id"].as_str().unwrap().to_string();
    // Case-exact, as RFC 7643 declares externalId.
    let (_, v) = send(sc(&app, Method::GET, &format!("/Groups?filter={}", enc(r#"externalId eq "entra-7f3a""#)), &org.token)).await;
    assert_eq!(v["totalResults"], 1, "{v}");
    assert_eq!(v["Resources"][0]["id"], gid.as_str());
    let (_, v) = send(sc(&app, Method::GET, &format!("/Groups?filter={}", enc(r#"externalId eq "ENTRA-7F3A""#)), &org.token)).await;
    assert_eq!(v["totalResults"], 0, "{v}");
    // A PUT may repeat it (Okta sends the whole resource) but not change it.
    let (status, v) = send(
        sc(&app, Method::PUT, &format!("/Groups/{gid}"), &org.token).json(&json!({"displayName": "Ops 2", "externalId": "entra-7f3a"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["externalId"], "entra-7f3a");
    let (status, v) =
        send(sc(&app, Method::PUT, &format!("/Groups/{gid}"), &org.token).json(&json!({"displayName": "Ops 3", "externalId": "other"})))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    scim_error(&v, "400", Some("mutability"));
    let (_, v) = send(sc(&app, Method::GET, &format!("/Groups/{gid}"), &org.token)).await;
    assert_eq!(v["displayName"], "Ops 2", "the refused PUT changed nothing: {v}");
    // A group without one shows none, and may be given one later (immutable: set once).
    let (_, v) = send(sc(&app, Method::POST, "/Groups", &org.token).json(&json!({"displayName": "Plain"}))).await;
    assert!(v.get("externalId").is_none(), "{v}");
    let plain = v["id"].as_str().unwrap().to_string();
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "externalId", "value": "okta-00g9"}]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Groups/{plain}"), &org.token).json(&add)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["externalId"], "okta-00g9");
    let change = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "externalId", "value": "okta-other"}]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Groups/{plain}"), &org.token).json(&change)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    scim_error(&v, "400", Some("mutability"));
}

/// `If-Match` is decided by the append itself: of writes that all name the same version and race,
/// exactly one applies and every other one is 412 — none is decided on a version already gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_writes_that_race_apply_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimIfMatch").await;
    let u = create_user(&app, &org.token, json!({"userName": "race@g.io"})).await;
    let id = u["id"].as_str().unwrap().to_string();
    let version = u["meta"]["version"].as_str().unwrap().to_string();
    let writers = (0..8).map(|i| {
        let ops = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": format!("Title {i}")}]});
        send(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).header("if-match", &version).json(&ops))
    });
    let answers = futures::future::join_all(writers).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let failed: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::PRECONDITION_FAILED).collect();
    assert_eq!(ok, 1, "{answers:?}");
    assert_eq!(failed.len(), 7, "{answers:?}");
    for (_, v) in failed {
        scim_error(v, "412", None);
    }
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=UserUpdated", &org.token)).await;
    let updates = page["events"].as_array().unwrap().iter().filter(|e| e["stream_id"] == id.as_str()).count();
    assert_eq!(updates, 1, "one write applied: {page}");
    // A write that would change nothing still answers 412 on a stale version.
    let same = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": "race@g.io"}]});
    let (status, v) = send(sc(&app, Method::PATCH, &format!("/Users/{id}"), &org.token).header("if-match", &version).json(&same)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_sees_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimTenantA").await;
    let other = app.create_org("ScimTenantB").await;
    let u = create_user(&app, &org.token, json!({"userName": "mine@t.io"})).await;
    let id = u["id"].as_str().unwrap();
    let (_, g) = send(sc(&app, Method::POST, "/Groups", &org.token).json(&json!({"displayName": "Mine"}))).await;
    let gid = g["id"].as_str().unwrap();
    for path in [format!("/Users/{id}"), format!("/Groups/{gid}")] {
        let (status, v) = send(sc(&app, Method::GET, &path, &other.token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        scim_error(&v, "404", None);
        assert_eq!(send(sc(&app, Method::DELETE, &path, &other.token)).await.0, StatusCode::NOT_FOUND);
    }
    let (_, v) = send(sc(&app, Method::GET, "/Users?filter=userName%20eq%20%22mine%40t.io%22", &other.token)).await;
    assert_eq!(v["totalResults"], 0);
    // Adding another org's user as a member is refused.
    let (status, _) =
        send(sc(&app, Method::POST, "/Groups", &other.token).json(&json!({"displayName": "X", "members": [{"value": id}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_with_bulk_ids_fail_on_errors_and_limits() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimBulk").await;
    let req = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "bulk1@x.io"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "Bulk", "members": [{"value": "bulkId:u1", "type": "User"}]}},
        {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "T"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "BULK1@x.io"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g2", "data": {"displayName": "Dangling", "members": [{"value": "bulkId:nope"}]}},
    ]});
    let (status, v) = send(sc(&app, Method::POST, "/Bulk", &org.token).json(&req)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let statuses: Vec<&str> = v["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "200", "409", "409"], "{v}");
    assert_eq!(v["Operations"][3]["response"]["scimType"], "uniqueness");
    let group_location = v["Operations"][1]["location"].as_str().unwrap();
    let gid = group_location.rsplit('/').next().unwrap();
    let (_, g) = send(sc(&app, Method::GET, &format!("/Groups/{gid}"), &org.token)).await;
    let user_location = v["Operations"][0]["location"].as_str().unwrap();
    assert_eq!(g["members"][0]["value"], user_location.rsplit('/').next().unwrap());
    let (_, u) = send(sc(&app, Method::GET, &format!("/Users/{}", user_location.rsplit('/').next().unwrap()), &org.token)).await;
    assert_eq!(u["title"], "T");

    // failOnErrors: 1 stops at the first error.
    let req = json!({"failOnErrors": 1, "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"emails": [{"value": "x@y.io"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "fine@y.io"}},
    ]});
    let (_, v) = send(sc(&app, Method::POST, "/Bulk", &org.token).json(&req)).await;
    assert_eq!(v["Operations"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["Operations"][0]["status"], "400");

    // Over maxOperations: 413 tooMany, nothing run.
    let (_, cfg) = send(sc(&app, Method::GET, "/ServiceProviderConfig", &org.token)).await;
    let max = cfg["bulk"]["maxOperations"].as_u64().unwrap() as usize;
    let ops: Vec<Value> = (0..=max)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("n{i}"), "data": {"userName": format!("n{i}@y.io")}}))
        .collect();
    let (status, v) = send(sc(&app, Method::POST, "/Bulk", &org.token).json(&json!({"Operations": ops}))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    scim_error(&v, "413", Some("tooMany"));
    let (_, v) = send(sc(&app, Method::GET, "/Users?filter=userName%20sw%20%22n%22", &org.token)).await;
    assert_eq!(v["totalResults"], 0);
}

/// The one deviation the probes report, decided: a group of the one group model holds users of
/// the organization (every other dialect shows members as users), so a member id that names no
/// user is refused (`invalidValue`) rather than stored dangling. Clients create users first.
const DECIDED_DEVIATIONS: [&str; 1] = ["PATCH /Groups/{id} add member"];

/// The third-party conformance probe `scim-sanity` (PyPI, installed by scripts/install-deps)
/// passes against the running stack, strict RFC mode and the Entra client profile, except for
/// the decided deviation above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_sanity_probe_passes() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ScimSanity").await;
    let base = format!("{}/scim/v2", app.url);
    for profile in [None, Some("entra")] {
        let mut cmd = tokio::process::Command::new(roster_tests::pypi_tool("scim-sanity"));
        cmd.args(["probe", &base, "--token", &org.token, "--i-accept-side-effects", "--strict", "--json-output"]);
        if let Some(p) = profile {
            cmd.args(["--profile", p]);
        }
        let out = cmd.output().await.expect("scim-sanity (scripts/install-deps installs it)");
        let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("scim-sanity ({profile:?}) said:\n{report}"));
        let results = v["results"].as_array().unwrap_or_else(|| panic!("{report}"));
        assert!(results.iter().filter(|r| r["status"] == "pass").count() >= 25, "{report}");
        let failed: Vec<&str> =
            results.iter().filter(|r| r["status"] != "pass" && r["status"] != "skip").map(|r| r["name"].as_str().unwrap_or("?")).collect();
        assert!(failed.iter().all(|f| DECIDED_DEVIATIONS.contains(f)), "scim-sanity probe ({profile:?}) fails {failed:?}:\n{report}");
    }
}

/// What the directory's model decides where scim2-tester's random resources expect otherwise
/// (see `api::scim::users` and `groups`): a user needs an email address, a department must
/// exist, members are users of the org
/// (as [`DECIDED_DEVIATIONS`]).
const DECIDED_REFUSALS: [&str; 3] = ["is not a user of this organization", "emails: required", "department: no department named"];

/// The third-party suite `scim2-tester` (PyPI, installed by scripts/install-deps; driven by
/// scripts/scim2-tester-check) against the running stack: discovery, and create, read, query,
/// replace, patch and delete of users and groups fail only where the model decides otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_passes() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Scim2Tester").await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/scim2-tester-check");
    let python = std::env::var("ROSTER_SCIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = tokio::process::Command::new(python)
        .arg(&script)
        .args([format!("{}/scim/v2", app.url), org.token.clone()])
        .output()
        .await
        .expect("python3 with scim2-tester (scripts/install-deps installs it)");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scim2-tester did not run:\n{report}");
    let results: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(results.len() >= 10, "{report}");
    let failed: Vec<&Value> = results
        .iter()
        .filter(|r| r["status"] == "ERROR" || r["status"] == "CRITICAL")
        .filter(|r| !DECIDED_REFUSALS.iter().any(|d| r["reason"].as_str().unwrap_or("").contains(d)))
        .collect();
    assert!(results.iter().filter(|r| r["status"] == "SUCCESS").count() >= 10, "{report}");
    assert!(failed.is_empty(), "scim2-tester failures:\n{}", failed.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n"));
}
