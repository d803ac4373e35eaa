//! PortSIP user groups: the nine endpoints, the list query language, and login.

use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, TestApp};
use serde_json::{json, Value};

fn names(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_crud() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Pbx").await;
    let body = json!({"name": "Sales", "description": "sellers",
                      "outbound_caller_ids": [{"provider_id": "trunk-1", "caller_id": "5551234", "description": "main"}]});
    let resp = send_raw(app.ps(Method::POST, "/api/groups", &org.token).json(&body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("roster-position").is_some());
    let id = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    // The id is base64 of a decimal number.
    let decoded = String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &id).unwrap()).unwrap();
    assert!(decoded.parse::<i64>().is_ok(), "{decoded}");

    let (status, g) = send(app.ps(Method::GET, &format!("/api/groups/{id}"), &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        g,
        json!({"id": id, "name": "Sales", "description": "sellers",
        "outbound_caller_ids": [{"provider_id": "trunk-1", "caller_id": "5551234", "description": "main"}]})
    );

    // Update: absent fields stay; the caller-id list is replaced; 200 with an empty body.
    let resp = send_raw(
        app.ps(Method::POST, &format!("/api/groups/{id}"), &org.token).json(&json!({"name": "Sales EU", "outbound_caller_ids": []})),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap().is_empty());
    let (_, g) = send(app.ps(Method::GET, &format!("/api/groups/{id}"), &org.token)).await;
    assert_eq!(g["name"], "Sales EU");
    assert_eq!(g["description"], "sellers");
    assert_eq!(g["outbound_caller_ids"], json!([]));
    // null clears the description, and "blank fields are explicitly included as null".
    send(app.ps(Method::POST, &format!("/api/groups/{id}"), &org.token).json(&json!({"description": null}))).await;
    let (_, g) = send(app.ps(Method::GET, &format!("/api/groups/{id}"), &org.token)).await;
    assert_eq!(g["description"], Value::Null);
    assert!(g.as_object().unwrap().contains_key("description"));

    // Group names are not unique.
    let (status, _) = send(app.ps(Method::POST, "/api/groups", &org.token).json(&json!({"name": "Sales EU"}))).await;
    assert_eq!(status, StatusCode::CREATED);

    let resp = send_raw(app.ps(Method::POST, &format!("/api/groups/{id}/destroy"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, v) = send(app.ps(Method::GET, &format!("/api/groups/{id}"), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v, json!({"errors": [{"code": "NOT_FOUND", "message": "user group not found"}]}));
    assert_eq!(send(app.ps(Method::POST, &format!("/api/groups/{id}/destroy"), &org.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        send(app.ps(Method::POST, &format!("/api/groups/{id}"), &org.token).json(&json!({"name": "x"}))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(app.ps(Method::GET, "/api/groups/%25%25garbage", &org.token)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_validation_and_auth_errors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Checks").await;
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (json!({"name": "ok", "description": "d".repeat(1025)}), "description"),
        (json!({"name": "ok", "outbound_caller_ids": [{"provider_id": "p", "caller_id": ""}]}), "outbound_caller_ids[0].caller_id"),
        (json!({"name": "ok", "outbound_caller_ids": [{"caller_id": "1"}]}), "body"),
    ] {
        let (status, v) = send(app.ps(Method::POST, "/api/groups", &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["errors"][0]["code"], "VALIDATE_FAILED");
        assert_eq!(v["errors"][0]["message"], "field validation failed");
        assert_eq!(v["errors"][0]["detail"]["field"], field, "{body}: {v}");
    }
    let (status, v) = send(app.req(Method::GET, "/api/groups")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["errors"][0]["code"], "UNAUTHORIZED");
    let (status, _) = send(app.req(Method::GET, "/api/groups").header("Authorization", "Basic abc")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing was appended by the rejected creates.
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE stream_type = 'group'").fetch_one(&app.pool).await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filter_orderby_search_and_paging() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lists").await;
    let groups =
        [("Alpha", Some("first")), ("Beta", None), ("Gamma", Some("50% off_sale")), ("alpine", Some("lower")), ("Delta", Some("it's"))];
    let mut ids = std::collections::HashMap::new();
    for (name, desc) in groups {
        let (_, v) = send(app.ps(Method::POST, "/api/groups", &org.token).json(&json!({"name": name, "description": desc}))).await;
        ids.insert(name, v["id"].as_str().unwrap().to_string());
    }
    let list = |q: &str| {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/groups", app.url),
            q.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap()),
        )
        .unwrap();
        app.client.get(url).bearer_auth(&org.token)
    };

    let (status, v) = send(list("")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["count"], 5);
    assert_eq!(names(&v), ["Alpha", "Beta", "Delta", "Gamma", "alpine"], "default order: name asc");
    assert_eq!(v["items"][0], json!({"id": ids["Alpha"], "name": "Alpha", "description": "first"}));

    let cases: &[(&str, &[&str])] = &[
        ("filter=name eq 'Beta'", &["Beta"]),
        ("filter=name ne 'Beta'", &["Alpha", "Delta", "Gamma", "alpine"]),
        ("filter=name gt 'Delta'", &["Gamma", "alpine"]),
        ("filter=name ge 'Delta'", &["Delta", "Gamma", "alpine"]),
        ("filter=name lt 'Beta'", &["Alpha"]),
        ("filter=name le 'Beta'", &["Alpha", "Beta"]),
        ("filter=startswith(name,'Al')", &["Alpha"]),
        ("filter=endswith(name,'ta')", &["Beta", "Delta"]),
        ("filter=contains(description,'% off_')", &["Gamma"]),
        ("filter=contains(description,'%')", &["Gamma"]),
        ("filter=description eq 'it''s'", &["Delta"]),
        ("filter=description eq null", &["Beta"]),
        ("filter=name eq 'Alpha' or name eq 'Beta' and description ne null", &["Alpha"]),
        ("filter=(name eq 'Alpha' or name eq 'Beta') and description eq null", &["Beta"]),
        ("filter=not startswith(name,'Al') and not (name eq 'alpine')", &["Beta", "Delta", "Gamma"]),
        ("$filter=name eq 'Gamma'", &["Gamma"]),
        ("search=ALP", &["Alpha", "alpine"]),
        ("search=LOWER", &["alpine"]),
        // Terms shorter than a trigram take another SQL form (see `projections::search`): the
        // same matches, descriptions included, wildcards literal.
        ("search=AL", &["Alpha", "Gamma", "alpine"]),
        ("search=%", &["Gamma"]),
        ("search=f_", &["Gamma"]),
        ("search=off_", &["Gamma"]),
        ("search=al&filter=name ne 'Alpha'", &["Gamma", "alpine"]),
        ("search=alp&filter=startswith(name,'a') or description eq 'first'&orderby=name desc&top=1", &["alpine"]),
        ("search=alp&filter=startswith(name,'a') or description eq 'first'&skip=1", &["alpine"]),
        ("orderby=name desc", &["alpine", "Gamma", "Delta", "Beta", "Alpha"]),
        ("orderby=description asc, name desc&filter=description ne null", &["Gamma", "Alpha", "Delta", "alpine"]),
        ("skip=1&top=2", &["Beta", "Delta"]),
        ("$skip=4&$top=100", &["alpine"]),
        ("skip=10", &[]),
    ];
    for (q, expect) in cases {
        let (status, v) = send(list(q)).await;
        assert_eq!(status, StatusCode::OK, "{q}: {v}");
        assert_eq!(names(&v), *expect, "{q}");
    }
    // count is the total before paging
    let (_, v) = send(list("filter=startswith(name,'Al') or startswith(name,'al')&top=1")).await;
    assert_eq!(v["count"], 2);
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // filter by the opaque id
    let (_, v) = send(list(&format!("filter=id eq '{}'", ids["Delta"]))).await;
    assert_eq!(names(&v), ["Delta"]);

    for (q, field) in [
        ("filter=name eq", "filter"),
        ("filter=nmae eq 'x'", "filter"),
        ("filter=name eq 'x", "filter"),
        ("filter=(name eq 'x'", "filter"),
        ("filter=name eq 5", "filter"),
        ("filter=name like 'x'", "filter"),
        ("filter=name eq 'x'; DROP TABLE groups", "filter"),
        ("orderby=name sideways", "orderby"),
        ("orderby=secret", "orderby"),
        ("top=0", "top"),
        ("top=101", "top"),
        ("skip=-1", "skip"),
        ("skip=x", "skip"),
    ] {
        let (status, v) = send(list(q)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert_eq!(v["errors"][0]["code"], "VALIDATE_FAILED", "{q}");
        assert_eq!(v["errors"][0]["detail"]["field"], field, "{q}: {v}");
        assert!(!v["errors"][0]["detail"]["reason"].as_str().unwrap().is_empty());
    }
    // The groups table survived the injection attempt.
    assert_eq!(send(list("")).await.1["count"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Members").await;
    let gid = app.create_group(&org, "Support").await;
    let u = app.add_user(&org, "m1@members.io").await;
    let ext: i64 = sqlx::query_scalar("SELECT number FROM rm_directory.users WHERE id = $1::uuid")
        .bind(u["id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let ext = ext.to_string();
    let member_path = format!("/api/groups/{gid}/members/{ext}");

    let (status, v) = send(app.ps(Method::GET, &format!("/api/groups/{gid}/members"), &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({"items": []}));

    let resp = send_raw(app.ps(Method::POST, &member_path, &org.token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Adding again is idempotent: 200 and nothing new in the log.
    let before = app.event_count().await;
    assert_eq!(send(app.ps(Method::POST, &member_path, &org.token)).await.0, StatusCode::OK);
    assert_eq!(app.event_count().await, before);

    let expected = json!({"id": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &ext), "name": "m1@members.io",
                          "display_name": "Firstname Lastname", "extension_number": ext});
    let (_, v) = send(app.ps(Method::GET, &format!("/api/groups/{gid}/members"), &org.token)).await;
    assert_eq!(v, json!({"items": [expected.clone()]}));
    let (status, v) = send(app.ps(Method::GET, &member_path, &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, expected);

    assert_eq!(send(app.ps(Method::POST, &format!("/api/groups/{gid}/members/99999999"), &org.token)).await.0, StatusCode::NOT_FOUND);
    let (status, v) = send(app.ps(Method::POST, &format!("/api/groups/{gid}/members/12"), &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "extension numbers have 3 to 64 digits: {v}");
    assert_eq!(send(app.ps(Method::POST, &format!("/api/groups/bm9wZQ==/members/{ext}"), &org.token)).await.0, StatusCode::NOT_FOUND);

    let resp = send_raw(app.ps(Method::POST, &format!("{member_path}/destroy"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(send(app.ps(Method::GET, &member_path, &org.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(app.ps(Method::POST, &format!("{member_path}/destroy"), &org.token)).await.0, StatusCode::NOT_FOUND);
    let (_, v) = send(app.ps(Method::GET, &format!("/api/groups/{gid}/members"), &org.token)).await;
    assert_eq!(v, json!({"items": []}));

    // A deleted user disappears from member lists.
    send(app.ps(Method::POST, &member_path, &org.token)).await;
    send(app.wd(Method::DELETE, &format!("/api/users/{}", u["id"].as_str().unwrap()), &org.token)).await;
    let (_, v) = send(app.ps(Method::GET, &format!("/api/groups/{gid}/members"), &org.token)).await;
    assert_eq!(v, json!({"items": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_issues_an_expiring_bearer_token() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Logins").await;
    app.add_user(&org, "l@logins.io").await;
    let (status, v) = send(app.req(Method::POST, "/api/login").json(&json!({"username": "l@logins.io", "password": "password1"}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(send(app.ps(Method::GET, "/api/groups", token)).await.0, StatusCode::OK);
    // A member may read groups but not change them.
    assert_eq!(send(app.ps(Method::POST, "/api/groups", token).json(&json!({"name": "x"}))).await.0, StatusCode::FORBIDDEN);
    // domain selects the tenant
    let (status, _) = send(
        app.req(Method::POST, "/api/login").json(&json!({"username": "l@logins.io", "password": "password1", "domain": org.subdomain})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        send(app.req(Method::POST, "/api/login").json(&json!({"username": "l@logins.io", "password": "password1", "domain": "elsewhere"})))
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) =
        send(app.req(Method::POST, "/api/login").json(&json!({"username": "l@logins.io", "password": "wrong-password"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v, json!({"errors": [{"code": "UNAUTHORIZED", "message": "Login failed, authentication error"}]}));
    let (status, v) = send(app.req(Method::POST, "/api/login").json(&json!({"password": "x"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"][0]["detail"]["field"], "username");
    // An expired token is refused. Its expiry is an hour away; a fresh token's is moved into the
    // past in the store instead (the API caches a token it has seen with its expiry, so the one
    // above is refused at its real expiry: `nexport::a_cached_token_is_refused_once_it_expires`).
    let (_, v) = send(app.req(Method::POST, "/api/login").json(&json!({"username": "l@logins.io", "password": "password1"}))).await;
    let expired = v["access_token"].as_str().unwrap();
    sqlx::query("UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1")
        .bind(commands::secrets::token_hash(expired))
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(send(app.ps(Method::GET, "/api/groups", expired)).await.0, StatusCode::UNAUTHORIZED);
    // Passwords are argon2id hashes.
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM credentials LIMIT 1").fetch_one(&app.pool).await.unwrap();
    assert!(hash.starts_with("$argon2id$"));
}

/// A searched page is sorted from its matches when they are few and may walk the name index when
/// they are many (`projections::queries::SORT_MATCHES_UP_TO`): both give the same page, in
/// PortSIP and in Publisher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_pages_alike_however_many_groups_it_matches() {
    use commands::store::{PendingStream, Plan};
    use domain::{GroupId, OrgId};

    const GROUPS: usize = projections::queries::SORT_MATCHES_UP_TO as usize + 50;
    let app = TestApp::spawn().await;
    let org = app.create_org("Many").await;
    let org_id = OrgId(org.id.parse().unwrap());
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT nextval('entity_number_seq') FROM generate_series(1, $1)")
        .bind(GROUPS as i64)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    // Straight through the store: as many HTTP creates would make the test slow.
    let streams = numbers
        .iter()
        .enumerate()
        .map(|(i, &number)| {
            let id = GroupId(uuid::Uuid::now_v7());
            let created = roster_tests::group_created(id, org_id, number, format!("Bulk {i:04}"));
            PendingStream::new(id.0, Some(org_id.0), 0, &[created]).unwrap()
        })
        .collect();
    let ctx = commands::CommandContext::system("test", chrono::Utc::now());
    commands::Store::new(app.pool.clone()).append(&ctx, &Plan { streams, ..Plan::default() }).await.unwrap();
    app.eventually("the groups to be listed", std::time::Duration::from_secs(30), || async {
        send(app.ps(Method::GET, "/api/groups?top=1", &org.token)).await.1["count"] == GROUPS
    })
    .await;

    let names_desc = |from: usize, n: usize| (0..n).map(|k| format!("Bulk {:04}", from - k)).collect::<Vec<_>>();
    // "bulk" matches every group (past the limit); "bulk 1" matches Bulk 1000-1999 (within it).
    for (term, matches, last) in [("bulk", GROUPS, GROUPS - 1), ("bulk 1", 1000, 1999)] {
        let (status, v) = send(app.ps(Method::GET, &format!("/api/groups?search={term}&orderby=name desc&skip=3&top=5"), &org.token)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!((v["count"].as_u64(), names(&v)), (Some(matches as u64), names_desc(last - 3, 5)), "PortSIP, {term}");

        let (status, v) =
            send(app.ps(Method::GET, &format!("/api/2/groups?search={term}&sort=-name&offset=3&limit=5&fields=id,name"), &org.token)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let publisher: Vec<&str> = v["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(
            (v["total"].as_u64(), publisher),
            (Some(matches as u64), names_desc(last - 3, 5).iter().map(String::as_str).collect()),
            "Publisher, {term}"
        );
    }
}
