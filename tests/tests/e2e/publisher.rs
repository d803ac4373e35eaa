//! HighQ Publisher user groups over HTTP: JSON and XML both ways (XML parsed by quick-xml), the
//! list's search / sort / fields / paging / date filters, and the error shape in both formats.

use reqwest::{Method, RequestBuilder, StatusCode};
use roster_tests::{send, send_raw, Org, TestApp};
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) async fn number_of(app: &TestApp, user_id: &str) -> i64 {
    sqlx::query_scalar("SELECT number FROM rm_directory.users WHERE id = $1::uuid").bind(user_id).fetch_one(&app.pool).await.unwrap()
}

pub(crate) fn hq(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.ps(method, path, token)
}

#[derive(Debug, Deserialize)]
struct XUsers {
    #[serde(default)]
    user: Vec<i64>,
}

#[derive(Debug, Deserialize)]
struct XGroup {
    id: i64,
    name: String,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    users: Option<XUsers>,
}

#[derive(Debug, Deserialize)]
struct XGroups {
    total: i64,
    currentpage: i64,
    #[serde(default)]
    group: Vec<XGroup>,
}

#[derive(Debug, Deserialize)]
struct XError {
    code: u16,
    message: String,
}

async fn xml<T: serde::de::DeserializeOwned>(rb: RequestBuilder) -> (StatusCode, T) {
    let resp = send_raw(rb).await;
    let status = resp.status();
    assert_eq!(resp.headers().get("content-type").unwrap(), "application/xml");
    let text = resp.text().await.unwrap();
    (status, quick_xml::de::from_str(&text).unwrap_or_else(|e| panic!("not the expected XML ({e}): {text}")))
}

async fn create(app: &TestApp, org: &Org, name: &str, users: Vec<i64>) -> i64 {
    let (status, v) =
        send(hq(app, Method::POST, "/api/2/groups", &org.token).json(&json!({"group": {"name": name, "users": users}}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["group"]["id"].as_i64().expect("integer id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_groups_json_crud_and_errors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("HighQ").await;
    let a = app.add_user(&org, "a@highq.io").await;
    let b = app.add_user(&org, "b@highq.io").await;
    let c = app.add_user(&org, "c@highq.io").await;
    let (na, nb, nc) = (
        number_of(&app, a["id"].as_str().unwrap()).await,
        number_of(&app, b["id"].as_str().unwrap()).await,
        number_of(&app, c["id"].as_str().unwrap()).await,
    );

    // Create: 200 with the summary, whose link is absolute.
    let (status, v) =
        send(hq(&app, Method::POST, "/api/2/groups", &org.token).json(&json!({"group": {"name": "Internal Users", "users": [na, nb]}})))
            .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["group"]["id"].as_i64().unwrap();
    assert_eq!(v["group"]["name"], "Internal Users");
    assert_eq!(v["group"]["link"], format!("{}/api/2/groups/{id}", app.url));
    assert_eq!(v["group"].as_object().unwrap().len(), 3);

    // Read: the full object.
    let (status, v) = send(hq(&app, Method::GET, &format!("/api/2/groups/{id}"), &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["group"]["users"], json!([na, nb]));
    assert_eq!(v["group"]["organisationcount"], 1);
    let created = v["group"]["createddate"].as_str().unwrap();
    assert!(chrono::NaiveDateTime::parse_from_str(created, "%d-%m-%Y %H:%M:%S:%3f").is_ok(), "{created}");

    // Replace: name and exactly these users; the path id wins, a different body id is refused.
    let (status, v) = send(
        hq(&app, Method::PUT, &format!("/api/2/groups/{id}"), &org.token)
            .json(&json!({"group": {"id": id, "name": "HighQ", "users": [nb, nc]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["group"]["name"], "HighQ");
    let (_, v) = send(hq(&app, Method::GET, &format!("/api/2/groups/{id}"), &org.token)).await;
    assert_eq!(v["group"]["users"], json!([nb, nc]));
    let (status, v) = send(
        hq(&app, Method::PUT, &format!("/api/2/groups/{id}"), &org.token).json(&json!({"group": {"id": id + 1, "name": "x", "users": []}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], 400);

    // Add users by id or email: a union; the full object comes back.
    let (status, v) = send(
        hq(&app, Method::PUT, &format!("/api/2/groups/{id}/users"), &org.token)
            .json(&json!({"group": {"users": [na.to_string(), "C@HighQ.io"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["group"]["users"], json!([na, nb, nc]));
    assert_eq!(v["group"]["id"], id);
    let (status, v) = send(
        hq(&app, Method::PUT, &format!("/api/2/groups/{id}/users"), &org.token)
            .json(&json!({"group": {"users": ["nobody@highq.io", "999999999"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("nobody@highq.io"), "{v}");

    // Validation and auth.
    for body in [
        json!({"group": {"users": []}}),
        json!({"group": {"name": "  "}}),
        json!({"name": "x"}),
        json!({"group": {"name": "x", "users": [123456789]}}),
    ] {
        let (status, v) = send(hq(&app, Method::POST, "/api/2/groups", &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["error"]["code"], 400);
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, v) = send(app.req(Method::GET, "/api/2/groups")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], 401);
    let (_, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({"userId": a["id"]}))).await;
    let member = t["token"].as_str().unwrap();
    let (status, _) = send(hq(&app, Method::GET, &format!("/api/2/groups/{id}"), member)).await;
    assert_eq!(status, StatusCode::OK, "members read");
    let (status, v) = send(hq(&app, Method::POST, "/api/2/groups", member).json(&json!({"group": {"name": "x"}}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], 403);

    // Delete: 202 with no body; then 404 everywhere.
    let resp = send_raw(hq(&app, Method::DELETE, &format!("/api/2/groups/{id}"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(resp.bytes().await.unwrap().is_empty());
    let (status, v) = send(hq(&app, Method::GET, &format!("/api/2/groups/{id}"), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v, json!({"error": {"code": 404, "message": format!("user group {id} not found")}}));
    assert_eq!(send(hq(&app, Method::DELETE, &format!("/api/2/groups/{id}"), &org.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(hq(&app, Method::GET, "/api/2/groups/abc", &org.token)).await.0, StatusCode::NOT_FOUND);

    // Another tenant's group ids answer 404.
    let other = app.create_org("Other").await;
    let theirs = create(&app, &other, "Theirs", vec![]).await;
    assert_eq!(send(hq(&app, Method::GET, &format!("/api/2/groups/{theirs}"), &org.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(hq(&app, Method::DELETE, &format!("/api/2/groups/{theirs}"), &org.token)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_speaks_xml_both_ways() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Xml").await;
    let a = app.add_user(&org, "a@xml.io").await;
    let na = number_of(&app, a["id"].as_str().unwrap()).await;
    let body = format!("<group><name>R&amp;D</name><users><user>{na}</user></users></group>");

    let (status, g): (_, XGroup) = xml(hq(&app, Method::POST, "/api/2/groups", &org.token)
        .header("content-type", "application/xml")
        .header("accept", "application/xml")
        .body(body))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g.name, "R&D", "escaped by the XML library both ways");
    assert_eq!(g.link.as_deref(), Some(format!("{}/api/2/groups/{}", app.url, g.id).as_str()));
    let id = g.id;

    let (status, g): (_, XGroup) =
        xml(hq(&app, Method::GET, &format!("/api/2/groups/{id}"), &org.token).header("accept", "application/xml")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g.users.map(|u| u.user), Some(vec![na]));
    // JSON in, XML out; XML in, JSON out.
    let (status, g): (_, XGroup) = xml(hq(&app, Method::PUT, &format!("/api/2/groups/{id}"), &org.token)
        .header("accept", "text/xml")
        .json(&json!({"group": {"name": "Renamed", "users": []}})))
    .await;
    assert_eq!((status, g.name.as_str()), (StatusCode::OK, "Renamed"));
    let (status, v) = send(
        hq(&app, Method::PUT, &format!("/api/2/groups/{id}/users"), &org.token)
            .header("content-type", "application/xml")
            .body(format!("<group><users><user>{}</user></users></group>", "a@xml.io")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["group"]["users"], json!([na]));

    let (status, list): (_, XGroups) =
        xml(hq(&app, Method::GET, "/api/2/groups?fields=all", &org.token).header("accept", "application/xml")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((list.total, list.currentpage, list.group.len()), (1, 0, 1));
    assert_eq!(list.group[0].users.as_ref().map(|u| u.user.clone()), Some(vec![na]));

    // Errors in XML when XML is accepted; 406 and 415 for types Publisher does not speak.
    let (status, e): (_, XError) = xml(hq(&app, Method::GET, "/api/2/groups/424242", &org.token).header("accept", "application/xml")).await;
    assert_eq!((status, e.code), (StatusCode::NOT_FOUND, 404));
    assert!(e.message.contains("424242"));
    let (status, e): (_, XError) = xml(hq(&app, Method::POST, "/api/2/groups", &org.token)
        .header("accept", "application/xml")
        .header("content-type", "application/xml")
        .body("<group><name>unclosed</group>"))
    .await;
    assert_eq!((status, e.code), (StatusCode::BAD_REQUEST, 400));
    let (status, v) = send(hq(&app, Method::GET, "/api/2/groups", &org.token).header("accept", "text/csv")).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(v["error"]["code"], 406);
    let (status, v) = send(hq(&app, Method::POST, "/api/2/groups", &org.token).header("content-type", "text/plain").body("name=x")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(v["error"]["code"], 415);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_list_search_sort_fields_paging_and_dates() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lists").await;
    let a = app.add_user(&org, "a@lists.io").await;
    let na = number_of(&app, a["id"].as_str().unwrap()).await;
    let alpha = create(&app, &org, "Alpha", vec![na]).await;
    let beta = create(&app, &org, "Beta", vec![]).await;
    let gamma = create(&app, &org, "gamma team", vec![]).await;
    let beta2 = create(&app, &org, "Beta", vec![]).await;
    let list = |q: &str| send(hq(&app, Method::GET, &format!("/api/2/groups{q}"), &org.token));
    let ids = |v: &Value| v["groups"].as_array().unwrap().iter().map(|g| g["id"].as_i64().unwrap()).collect::<Vec<_>>();

    // Default: summaries by id, limit 200.
    let (status, v) = list("").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((v["total"].as_i64(), v["currentpage"].as_i64()), (Some(4), Some(0)));
    assert_eq!(ids(&v), vec![alpha, beta, gamma, beta2]);
    let keys: Vec<&String> = v["groups"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");

    // Search over name (case-insensitive) and id.
    let (_, v) = list("?search=GAMMA").await;
    assert_eq!(ids(&v), vec![gamma]);
    let (_, v) = list(&format!("?search={alpha}")).await;
    assert!(ids(&v).contains(&alpha));
    // A short term, digits or not, takes another SQL form (see `projections::search`).
    let tail = beta.to_string()[beta.to_string().len() - 2..].to_string();
    let (_, v) = list(&format!("?search={tail}")).await;
    assert!(ids(&v).contains(&beta), "{tail}: {v}");
    let (_, v) = list("?search=eT").await;
    assert_eq!(ids(&v), vec![beta, beta2]);
    let (_, v) = list("?search=%25").await;
    assert_eq!(ids(&v), Vec::<i64>::new(), "a % is taken literally");

    // Multi-field sort: name descending, then creation ascending; `+` may arrive as a space.
    let (_, v) = list("?sort=-name,%2Bcreated").await;
    assert_eq!(ids(&v), vec![gamma, beta, beta2, alpha]);
    let (_, v) = list("?sort=name,-created").await;
    assert_eq!(ids(&v), vec![alpha, beta2, beta, gamma]);
    let (_, v) = list("?sort=+name").await;
    assert_eq!(ids(&v)[0], alpha);

    // Fields: a list (unknown names ignored) or all.
    let (_, v) = list("?fields=id,users,bogus").await;
    assert_eq!(v["groups"][0], json!({"id": alpha, "users": [na]}));
    let (_, v) = list("?fields=all&limit=1").await;
    let g = v["groups"][0].as_object().unwrap();
    for k in ["id", "name", "link", "users", "createddate", "modifieddate", "organisationcount"] {
        assert!(g.contains_key(k), "{k} missing from {g:?}");
    }

    // Paging: total before paging; currentpage = offset / limit; limit 0 is an empty page.
    let (_, v) = list("?limit=2&offset=2").await;
    assert_eq!((v["total"].as_i64(), v["currentpage"].as_i64(), ids(&v)), (Some(4), Some(1), vec![gamma, beta2]));
    let (_, v) = list("?limit=0").await;
    assert_eq!((v["total"].as_i64(), ids(&v).len()), (Some(4), 0));

    // Date filters, with every parameter spelling.
    for q in
        ["?createdDate=lastweek", "?createdDateTime=lastmonth", "?createddate=lastyear", "?modifiedDate=lastweek", "?MODIFIEDDATE=lastweek"]
    {
        assert_eq!(list(q).await.1["total"], 4, "{q}");
    }
    assert_eq!(list("?createdDate=20170801,20171004").await.1["total"], 0);
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert_eq!(list(&format!("?createdDate={today},{today}")).await.1["total"], 4);
    assert_eq!(list(&format!("?modifieddate=20170801,{today}&search=beta")).await.1["total"], 2);

    // Bad parameters are 400s that say what was wrong.
    for q in ["?sort=colour", "?limit=-1", "?limit=abc", "?offset=x", "?createdDate=yesterday", "?modifiedDate=20171004,20170801"] {
        let (status, v) = list(q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert_eq!(v["error"]["code"], 400);
    }
}
