//! The intranet's library over HTTP (WorkDrive E23–E38): documents, FAQs, videos and photos —
//! their shapes and errors, every list filter, publication, who may change what, and the events
//! each write appends.

use reqwest::{Method, StatusCode};
use roster_tests::{send, Org, TestApp};
use serde_json::{json, Value};

use crate::media::uploaded;

async fn token_of(app: &TestApp, org: &Org, user_id: &str) -> String {
    let (status, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({ "userId": user_id }))).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_string()
}

/// A member of `org` (optionally reporting to `boss`): (id, token).
async fn member(app: &TestApp, org: &Org, email: &str, boss: Option<&str>) -> (String, String) {
    let mut body = json!({ "email": email, "firstName": "Mem", "lastName": "Ber", "password": "password1" });
    if let Some(b) = boss {
        body["reportsTo"] = json!(b);
    }
    let (status, u) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "add user: {u}");
    let id = u["id"].as_str().unwrap().to_string();
    let token = token_of(app, org, &id).await;
    (id, token)
}

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let rb = app.wd(method, path, token);
    send(match body {
        Some(b) => rb.json(&b),
        None => rb,
    })
    .await
}

/// A 400 whose message names `field` first.
fn assert_bad(status: StatusCode, e: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {e}");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(&format!("{field}:")) || message.starts_with(&format!("{field} ")), "expected {field}: {e}");
}

/// The event types appended to stream `id`, in order.
async fn events_of(app: &TestApp, id: &str) -> Vec<String> {
    let id = uuid::Uuid::parse_str(id).unwrap();
    sqlx::query_scalar("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version").bind(id).fetch_all(&app.pool).await.unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn documents_publish_create_their_category_and_hide_unpublished_ones() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Docs").await;
    let other = app.create_org("Other Docs").await;
    let (ann, ann_token) = member(&app, &org, "ann@docs.example.com", None).await;
    let (_bob, bob_token) = member(&app, &org, "bob@docs.example.com", None).await;
    let file = uploaded(&app, &org, "application/pdf", b"%PDF-1.4 doc").await;

    let body = json!({
        "name": " Handbook ", "ownerIds": [ann], "expiry": "2030-01-01T00:00:00Z", "tags": ["hr", " hr ", ""],
        "category": "Policies", "docURL": "https://docs.example.com/h", "docId": file,
    });
    let (status, doc) = call(&app, Method::POST, "/api/documents?publish=true", &ann_token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(
        (doc["name"].as_str(), doc["isPublished"].as_bool(), doc["category"].as_str()),
        (Some("Handbook"), Some(true), Some("Policies"))
    );
    assert_eq!(doc["tags"], json!(["hr"]));
    assert_eq!((doc["docUrl"].as_str(), doc["file"]["id"].as_str()), (Some("https://docs.example.com/h"), Some(file.as_str())));
    assert_eq!(ids(&doc["owners"]), vec![ann.clone()]);
    assert_eq!(doc["expiry"], "2030-01-01T00:00:00Z");
    let doc_id = doc["id"].as_str().unwrap().to_string();
    // The unknown category was created for the DOCUMENT module, in the same append.
    let (_, cats) = call(&app, Method::GET, "/api/categories?moduleCode=7", &org.token, None).await;
    assert_eq!(cats["categories"][0]["category"], "Policies", "{cats}");
    assert_eq!(events_of(&app, &doc_id).await, vec!["KbDocumentCreated"]);

    // Unpublished: the author and admins see it, another member does not, even by id.
    let (status, draft) =
        call(&app, Method::POST, "/api/documents", &ann_token, Some(json!({ "name": "Draft", "link": "https://l" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!((draft["isPublished"].as_bool(), draft["owners"][0]["id"].as_str()), (Some(false), Some(ann.as_str())));
    let draft_id = draft["id"].as_str().unwrap().to_string();
    let listed = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let (status, v) = call(app, Method::GET, &format!("/api/documents{query}"), &token, None).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            (ids(&v["docs"]), v["meta"]["totalResults"].as_i64().unwrap())
        }
    };
    assert_eq!(listed(ann_token.clone(), "").await, (vec![draft_id.clone(), doc_id.clone()], 2));
    assert_eq!(listed(org.token.clone(), "").await.1, 2);
    assert_eq!(listed(bob_token.clone(), "").await, (vec![doc_id.clone()], 1));
    assert_eq!(listed(bob_token.clone(), "?category=policies").await.1, 1);
    assert_eq!(listed(bob_token.clone(), "?category=Other").await.1, 0);
    assert_eq!(listed(other.token.clone(), "").await.1, 0);
    let (status, _) = call(&app, Method::PATCH, &format!("/api/documents/{draft_id}"), &bob_token, Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A published document another member sees but did not write: 403; another org: 404.
    let (status, _) = call(&app, Method::PATCH, &format!("/api/documents/{doc_id}"), &bob_token, Some(json!({ "name": "x" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/documents/{doc_id}"), &other.token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // PATCH: `kb` wins over the flat aliases, `publish` over kb.isPublished.
    let patch = json!({
        "name": "flat name", "kb": { "name": "Nested", "isPublished": false, "category": "Guides", "tags": "one",
            "permissions": { "onlyMe": true }, "removeOwnerIds": [ann] },
        "permissions": { "public": true }, "docUrl": null,
    });
    let (status, d) = call(&app, Method::PATCH, &format!("/api/documents/{doc_id}?publish=true"), &ann_token, Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!((d["name"].as_str(), d["isPublished"].as_bool(), d["category"].as_str()), (Some("Nested"), Some(true), Some("Guides")));
    assert_eq!((d["tags"].clone(), d["docUrl"].clone(), d["owners"].clone()), (json!(["one"]), Value::Null, json!([])));
    assert_eq!(listed(bob_token.clone(), "").await.1, 0, "kb.permissions (onlyMe) won");
    let (_, cats) = call(&app, Method::GET, "/api/categories?moduleCode=DOCUMENT", &org.token, None).await;
    assert_eq!(cats["meta"]["totalResults"], 2);

    // Errors name the field.
    for (body, field) in [
        (json!({ "name": "n" }), "docId"),
        (json!({ "link": "https://l" }), "name"),
        (json!({ "name": "n", "docId": uuid::Uuid::new_v4() }), "docId"),
        (json!({ "name": "n", "link": "l", "ownerIds": [other.admin_id] }), "ownerIds[0]"),
        (json!({ "name": "n", "link": "l", "tags": ["t".repeat(101)] }), "tags[0]"),
        (json!({ "name": "n", "link": "l", "expiry": "0000-01-01T00:00:00Z" }), "expiry"),
        (json!({ "name": "n", "link": "l", "permissions": { "users": [other.admin_id] } }), "permissions.users[0]"),
    ] {
        let (status, e) = call(&app, Method::POST, "/api/documents", &ann_token, Some(body.clone())).await;
        if field == "expiry" {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {e}");
            continue;
        }
        assert_bad(status, &e, field);
    }
    let (status, e) =
        call(&app, Method::PATCH, &format!("/api/documents/{doc_id}"), &ann_token, Some(json!({ "link": null, "docId": null }))).await;
    assert_bad(status, &e, "docId");
    let (status, e) = call(&app, Method::POST, "/api/documents?publish=maybe", &ann_token, Some(json!({ "name": "n", "link": "l" }))).await;
    assert_bad(status, &e, "publish");

    let (status, _) = call(&app, Method::DELETE, &format!("/api/documents/{doc_id}"), &org.token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/documents/{doc_id}"), &org.token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(events_of(&app, &doc_id).await, vec!["KbDocumentCreated", "KbDocumentUpdated", "KbDocumentDeleted"]);
}

#[tokio::test]
async fn faq_rows_page_with_their_kb_and_change_by_row_id() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Faqs").await;
    let (_, bob_token) = member(&app, &org, "bob@faqs.example.com", None).await;
    let qa = |q: &str| json!({ "question": q, "answer": format!("{q}!") });
    let create = |body: Value| call(&app, Method::POST, "/api/faqs?publish=true", &org.token, Some(body));

    let (status, first) =
        create(json!({ "kb": { "name": "Onboarding", "category": "HR", "tags": ["a", "b"] }, "qas": [qa("q1"), qa("q2")] })).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!((first["kb"]["name"].as_str(), first["kb"]["category"].as_str()), (Some("Onboarding"), Some("HR")));
    assert_eq!(first["qas"].as_array().unwrap().len(), 2);
    assert_eq!(first["permissions"]["public"], true);
    let kb1 = first["kb"]["id"].as_str().unwrap().to_string();
    let (status, second) = create(json!({ "kb": { "name": "IT" }, "qas": [qa("q3")] })).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let kb2 = second["kb"]["id"].as_str().unwrap().to_string();
    let (_, cats) = call(&app, Method::GET, "/api/categories?moduleCode=4", &org.token, None).await;
    assert_eq!(cats["categories"][0]["category"], "HR", "{cats}");

    // Rows page across FAQs: newest FAQ first, rows in order, each naming its kb.
    let page = |query: &'static str| {
        let (app, token) = (&app, bob_token.clone());
        async move {
            let (status, v) = call(app, Method::GET, &format!("/api/faqs{query}"), &token, None).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            v
        }
    };
    let p1 = page("?per_page=2").await;
    assert_eq!(p1["meta"], json!({ "perPage": 2, "totalPages": 2, "totalResults": 3, "curPage": 1, "nextPage": 2 }));
    let rows: Vec<(String, String)> = p1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["question"].as_str().unwrap().into(), r["kbId"].as_str().unwrap().into()))
        .collect();
    assert_eq!(rows, vec![("q3".to_string(), kb2.clone()), ("q1".to_string(), kb1.clone())]);
    let p2 = page("?per_page=2&cur_page=2").await;
    assert_eq!((p2["data"][0]["question"].as_str(), p2["data"][0]["tags"].as_str()), (Some("q2"), Some("a, b")));
    assert_eq!(page("?category=hr").await["meta"]["totalResults"], 2);

    // PATCH: remove, change, add (with the aliases); foreign row ids are 400s naming them.
    let q1 = first["qas"][0]["id"].as_str().unwrap().to_string();
    let q2 = first["qas"][1]["id"].as_str().unwrap().to_string();
    let q3 = second["qas"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/faqs/{kb1}");
    let (status, e) = call(&app, Method::PATCH, &path, &org.token, Some(json!({ "removeQuestionIds": [q1, q3] }))).await;
    assert_bad(status, &e, "removeQuestionIds[1]");
    let (status, e) = call(&app, Method::PATCH, &path, &org.token, Some(json!({ "updatedQas": [{ "id": q3, "answer": "x" }] }))).await;
    assert_bad(status, &e, "updatedQAs[0].id");
    let (status, e) = call(&app, Method::PATCH, &path, &org.token, Some(json!({ "removeQuestionIds": [q1, q2] }))).await;
    assert_bad(status, &e, "qas");
    let body = json!({ "removeQuestionIds": [q1], "updatedQAs": [{ "id": q2, "answer": "new" }], "newQAs": [qa("q4")],
        "kb": { "name": "Onboarding 2" } });
    let (status, f) = call(&app, Method::PATCH, &path, &bob_token, Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{f}");
    let (status, f) = call(&app, Method::PATCH, &path, &org.token, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    let qas: Vec<(&str, &str)> =
        f["qas"].as_array().unwrap().iter().map(|q| (q["question"].as_str().unwrap(), q["answer"].as_str().unwrap())).collect();
    assert_eq!(qas, vec![("q2", "new"), ("q4", "q4!")]);
    assert_eq!(f["kb"]["name"], "Onboarding 2");

    // Unpublished FAQs and onlyMe ones are not listed to others.
    let (status, _) = call(&app, Method::POST, "/api/faqs", &org.token, Some(json!({ "kb": { "name": "Draft" }, "qas": [qa("d")] }))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(page("").await["meta"]["totalResults"], 3);

    for (body, field) in [
        (json!({ "kb": { "name": "n" }, "qas": [] }), "qas"),
        (json!({ "kb": { "name": "n" } }), "qas"),
        (json!({ "kb": { "name": "n" }, "qas": [{ "question": "q" }] }), "qas[0].answer"),
        (json!({ "qas": [qa("q")] }), "name"),
    ] {
        let (status, e) = create(body).await;
        assert_bad(status, &e, field);
    }

    let (status, _) = call(&app, Method::DELETE, &format!("/api/faqs/{kb2}"), &org.token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(page("").await["meta"]["totalResults"], 2);
    assert_eq!(events_of(&app, &kb2).await, vec!["FaqKbCreated", "FaqKbDeleted"]);
    assert_eq!(events_of(&app, &kb1).await, vec!["FaqKbCreated", "FaqKbUpdated"]);
}

#[tokio::test]
async fn videos_need_their_file_or_page_and_filter_by_follow_author_and_search() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Videos").await;
    let (ann, ann_token) = member(&app, &org, "ann@videos.example.com", None).await;
    let (_bob, bob_token) = member(&app, &org, "bob@videos.example.com", None).await;
    let file = uploaded(&app, &org, "video/mp4", b"mp4 bytes").await;
    let post = |token: &str, body: Value| {
        let rb = app.wd(Method::POST, "/api/videos", token).json(&body);
        send(rb)
    };

    let (status, v) = post(&ann_token, json!({ "title": "Intro 100% real", "videoFileId": file, "thumbnailFileId": file })).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["source"].as_i64(), v["videoFile"]["id"].as_str(), v["user"]["id"].as_str()),
        (Some(3), Some(file.as_str()), Some(ann.as_str()))
    );
    let intro = v["id"].as_str().unwrap().to_string();
    let (status, v) = post(
        &org.token,
        json!({ "title": "Keynote", "description": "100 percent", "source": "1", "meta": { "url": "https://youtu.be/x" } }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["source"].as_i64(), v["meta"]["url"].as_str(), v["videoFileId"].clone()),
        (Some(1), Some("https://youtu.be/x"), Value::Null)
    );
    let keynote = v["id"].as_str().unwrap().to_string();
    let (status, v) = post(
        &ann_token,
        json!({ "title": "Secret", "source": 2, "meta": { "url": "https://vimeo.com/1" }, "permissions": { "onlyMe": true } }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let secret = v["id"].as_str().unwrap().to_string();

    let list = |token: String, query: String| {
        let app = &app;
        async move {
            let (status, v) = call(app, Method::GET, &format!("/api/videos{query}"), &token, None).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            (ids(&v["videos"]), v["meta"]["totalResults"].as_i64().unwrap())
        }
    };
    assert_eq!(list(bob_token.clone(), String::new()).await, (vec![keynote.clone(), intro.clone()], 2));
    assert_eq!(list(ann_token.clone(), String::new()).await.1, 3);
    assert_eq!(list(bob_token.clone(), format!("?userId={ann}")).await.0, vec![intro.clone()]);
    assert_eq!(list(bob_token.clone(), "?isFollowing=true".into()).await.1, 0);
    let (status, _) = call(&app, Method::POST, &format!("/api/users/{ann}/follow"), &bob_token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list(bob_token.clone(), "?isFollowing=true".into()).await.0, vec![intro.clone()]);
    // `%` is a literal in a search; title and description both count, in any case.
    assert_eq!(list(bob_token.clone(), "?search=100%25".into()).await.0, vec![intro.clone()]);
    assert_eq!(list(bob_token.clone(), "?search=100".into()).await.1, 2);
    assert_eq!(list(bob_token.clone(), "?search=PERCENT".into()).await.0, vec![keynote.clone()]);
    assert_eq!(list(bob_token.clone(), "?search=_".into()).await.1, 0);

    // Invisible is not found; visible but someone else's is forbidden.
    let (status, _) = call(&app, Method::PATCH, &format!("/api/videos/{secret}"), &bob_token, Some(json!({ "title": "x" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/videos/{intro}"), &bob_token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for field in ["videoFileId", "source", "meta"] {
        let (status, e) = call(&app, Method::PATCH, &format!("/api/videos/{intro}"), &ann_token, Some(json!({ field: null }))).await;
        assert_bad(status, &e, field);
    }
    let (status, v) = call(
        &app,
        Method::PATCH,
        &format!("/api/videos/{intro}"),
        &ann_token,
        Some(json!({ "title": "Intro 2", "thumbnailFileId": null })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["title"].as_str(), v["thumbnailFileId"].clone(), v["videoFileId"].as_str()),
        (Some("Intro 2"), Value::Null, Some(file.as_str()))
    );
    let (status, v) =
        call(&app, Method::PATCH, &format!("/api/videos/{intro}"), &ann_token, Some(json!({ "permissions": { "onlyMe": true } }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(list(bob_token.clone(), String::new()).await.1, 1);

    for (body, field) in [
        (json!({ "title": "t" }), "videoFileId"),
        (json!({ "title": "t", "source": 1 }), "meta.url"),
        (json!({ "title": "t", "source": 2, "meta": { "url": 5 } }), "meta.url"),
        (json!({ "title": "t", "source": 5, "meta": { "url": "u" } }), "source"),
        (json!({ "videoFileId": file }), "title"),
        (json!({ "title": "t", "videoFileId": uuid::Uuid::new_v4() }), "videoFileId"),
        (json!({ "title": "t", "source": 1, "meta": { "url": "u", "x": "y".repeat(5000) } }), "meta"),
    ] {
        let (status, e) = post(&ann_token, body).await;
        assert_bad(status, &e, field);
    }
    let (status, _) = call(&app, Method::DELETE, &format!("/api/videos/{intro}"), &ann_token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(events_of(&app, &intro).await, vec!["VideoCreated", "VideoUpdated", "VideoUpdated", "VideoDeleted"]);
}

#[tokio::test]
async fn photo_filters_follow_tags_teams_and_authors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Photos").await;
    let (boss, boss_token) = member(&app, &org, "boss@photos.example.com", None).await;
    let (me, me_token) = member(&app, &org, "me@photos.example.com", Some(&boss)).await;
    let (mate, mate_token) = member(&app, &org, "mate@photos.example.com", Some(&boss)).await;
    let (friend, friend_token) = member(&app, &org, "friend@photos.example.com", None).await;
    let file = uploaded(&app, &org, "image/png", b"png bytes").await;
    let post = |token: String, body: Value| {
        let app = &app;
        async move {
            let (status, p) = call(app, Method::POST, "/api/photos", &token, Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{p}");
            p["id"].as_str().unwrap().to_string()
        }
    };
    let mine = post(me_token.clone(), json!({ "title": "Mine", "fileId": file })).await;
    let by_mate = post(mate_token.clone(), json!({ "title": "Mate", "fileId": file })).await;
    let by_boss = post(boss_token.clone(), json!({ "fileId": file, "permissions": { "team": true } })).await;
    let by_friend = post(friend_token.clone(), json!({ "fileId": file, "permissions": { "friends": true, "taggedUsers": [me] } })).await;
    let by_admin = post(org.token.clone(), json!({ "fileId": file, "description": "admin" })).await;
    let (status, _) = call(&app, Method::POST, &format!("/api/users/{friend}/follow"), &me_token, None).await;
    assert_eq!(status, StatusCode::OK);

    let list = |filter: &'static str| {
        let (app, token) = (&app, me_token.clone());
        async move {
            let (status, v) = call(app, Method::GET, &format!("/api/photos?filter={filter}"), &token, None).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            assert_eq!(v["meta"]["totalResults"].as_u64().unwrap() as usize, v["photos"].as_array().unwrap().len());
            ids(&v["photos"])
        }
    };
    assert_eq!(list("all_photos").await, vec![by_admin.clone(), by_friend.clone(), by_boss.clone(), by_mate.clone(), mine.clone()]);
    assert_eq!(list("friends_photos").await, vec![by_friend.clone()]);
    assert_eq!(list("only_me_photos").await, vec![mine.clone()]);
    assert_eq!(list("tagged_photos").await, vec![by_friend.clone()]);
    assert_eq!(list("team_photos").await, vec![by_boss.clone(), by_mate.clone()]);
    let (_, v) = call(&app, Method::GET, &format!("/api/photos?userId={mate}"), &me_token, None).await;
    assert_eq!(ids(&v["photos"]), vec![by_mate.clone()]);
    let (status, e) = call(&app, Method::GET, "/api/photos?filter=best_photos", &me_token, None).await;
    assert_bad(status, &e, "filter");

    // The boss's team photo and the friend's photo are not the admin-only member's to see.
    let (_, outsider_token) = member(&app, &org, "out@photos.example.com", None).await;
    let (_, v) = call(&app, Method::GET, "/api/photos", &outsider_token, None).await;
    assert_eq!(ids(&v["photos"]), vec![by_admin.clone(), by_mate.clone(), mine.clone()]);
    let (status, _) = call(&app, Method::PATCH, &format!("/api/photos/{by_boss}"), &outsider_token, Some(json!({ "title": "x" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, p) =
        call(&app, Method::PATCH, &format!("/api/photos/{mine}"), &me_token, Some(json!({ "title": "  ", "description": "d" }))).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!((p["title"].clone(), p["description"].as_str(), p["photo"]["id"].as_str()), (Value::Null, Some("d"), Some(file.as_str())));
    let pdf = uploaded(&app, &org, "application/pdf", b"%PDF").await;
    for body in [json!({ "title": "t" }), json!({ "fileId": pdf }), json!({ "fileId": uuid::Uuid::new_v4() })] {
        let (status, e) = call(&app, Method::POST, "/api/photos", &me_token, Some(body)).await;
        assert_bad(status, &e, "fileId");
    }
    let (status, _) = call(&app, Method::DELETE, &format!("/api/photos/{mine}"), &mate_token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/photos/{mine}"), &me_token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(events_of(&app, &mine).await, vec!["PhotoCreated", "PhotoUpdated", "PhotoDeleted"]);
}

#[tokio::test]
async fn courses_are_made_by_admins_for_the_whole_org() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Courses").await;
    let other = app.create_org("Other Courses").await;
    let (_, ann_token) = member(&app, &org, "ann@courses.example.com", None).await;
    let (status, _) = call(&app, Method::POST, "/api/categories", &org.token, Some(json!({ "moduleCode": 5, "category": "Safety" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    let file = uploaded(&app, &org, "image/png", b"cover").await;
    let body = json!({
        "title": "Fire drill", "description": "d", "categories": ["safety"], "order": 2, "totalTime": 45,
        "dueDate": "2030-05-01T00:00:00Z", "status": "published", "fileId": file,
        "form": { "display": "form", "components": [{ "type": "textfield" }] }, "tasks": ["Read", { "title": "Watch" }],
    });
    let (status, c) = call(&app, Method::POST, "/api/courses", &org.token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!((c["title"].as_str(), c["status"].as_str(), c["numberOfTasks"].as_i64()), (Some("Fire drill"), Some("publish"), Some(2)));
    assert_eq!((c["categories"].clone(), c["order"].as_i64(), c["totalTime"].as_i64()), (json!(["Safety"]), Some(2), Some(45)));
    assert_eq!((c["file"]["id"].as_str(), c["form"]["display"].as_str()), (Some(file.as_str()), Some("form")));
    assert_eq!(c["taskItems"][1]["title"], "Watch");
    let first = c["id"].as_str().unwrap().to_string();
    let (status, c) = call(&app, Method::POST, "/api/courses", &org.token, Some(json!({ "title": "Second" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!((c["status"].as_str(), c["numberOfTasks"].as_i64(), c["categories"].clone()), (Some("draft"), Some(0), json!([])));
    let second = c["id"].as_str().unwrap().to_string();

    // Members see every course; ASC by default.
    let (status, v) = call(&app, Method::GET, "/api/courses?filter=ALL_COURSES", &ann_token, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((ids(&v["taskLists"]), v["meta"]["totalResults"].as_i64()), (vec![first.clone(), second.clone()], Some(2)));
    let (_, v) = call(&app, Method::GET, "/api/courses?sort_direction=desc", &ann_token, None).await;
    assert_eq!(ids(&v["taskLists"]), vec![second.clone(), first.clone()]);
    let (_, v) = call(&app, Method::GET, "/api/courses", &other.token, None).await;
    assert_eq!(v["meta"]["totalResults"], 0);
    for (query, field) in [("?filter=MY_COURSES", "filter"), ("?sort_direction=up", "sort_direction")] {
        let (status, e) = call(&app, Method::GET, &format!("/api/courses{query}"), &ann_token, None).await;
        assert_bad(status, &e, field);
    }

    let (status, _) = call(&app, Method::POST, "/api/courses", &ann_token, Some(json!({ "title": "Mine" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (body, field) in [
        (json!({}), "title"),
        (json!({ "title": "t", "categories": ["Nope"] }), "categories[0]"),
        (json!({ "title": "t", "order": -1 }), "order"),
        (json!({ "title": "t", "status": "done" }), "status"),
        (json!({ "title": "t", "fileId": uuid::Uuid::new_v4() }), "fileId"),
        (json!({ "title": "t", "form": [1] }), "form"),
        (json!({ "title": "t", "form": { "x": "y".repeat(70_000) } }), "form"),
    ] {
        let (status, e) = call(&app, Method::POST, "/api/courses", &org.token, Some(body)).await;
        assert_bad(status, &e, field);
    }

    let (status, _) = call(&app, Method::DELETE, &format!("/api/courses/{first}"), &ann_token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/courses/{first}"), &other.token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/courses/{first}"), &org.token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = call(&app, Method::GET, "/api/courses", &ann_token, None).await;
    assert_eq!(ids(&v["taskLists"]), vec![second]);
    assert_eq!(events_of(&app, &first).await, vec!["CourseCreated", "CourseDeleted"]);
}

#[tokio::test]
async fn enforcement_templates_validate_their_reminders_and_list_newest_first() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Templates").await;
    let (_, ann_token) = member(&app, &org, "ann@templates.example.com", None).await;
    let reminder =
        json!({ "reminderType": "email", "reminderTimeUnit": "days", "reminderTime": 3, "refId": "r", "orgContentTemplateId": "t" });
    let body = json!({ "title": "Overdue", "systemEvent": "TASK_DUE", "type": "task", "subType": "due", "reminders": [reminder] });
    let (status, t) = call(&app, Method::POST, "/api/enforcement-templates", &org.token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!((t["title"].as_str(), t["type"].as_str(), t["subType"].as_str()), (Some("Overdue"), Some("task"), Some("due")));
    assert_eq!(t["reminders"][0], reminder);
    let first = t["id"].as_str().unwrap().to_string();
    let (status, t) = call(&app, Method::POST, "/api/enforcement-templates", &org.token, Some(json!({ "title": "Plain" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let second = t["id"].as_str().unwrap().to_string();

    let (status, v) = call(&app, Method::GET, "/api/enforcement-templates", &ann_token, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(ids(&v["notificationTemplates"]), vec![second.clone(), first.clone()]);
    let (_, v) = call(&app, Method::GET, "/api/enforcement-templates?sort_direction=ASC&per_page=1", &ann_token, None).await;
    assert_eq!((ids(&v["notificationTemplates"]), v["meta"]["nextPage"].as_i64()), (vec![first.clone()], Some(2)));

    let (status, _) = call(&app, Method::POST, "/api/enforcement-templates", &ann_token, Some(json!({ "title": "x" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let with = |r: Value| json!({ "title": "t", "reminders": [reminder.clone(), r] });
    for (body, field) in [
        (json!({ "reminders": [] }), "title"),
        (with(json!({ "reminderType": "fax", "reminderTimeUnit": "days", "reminderTime": 1 })), "reminders[1].reminderType"),
        (with(json!({ "reminderType": "push", "reminderTimeUnit": "years", "reminderTime": 1 })), "reminders[1].reminderTimeUnit"),
        (with(json!({ "reminderType": "push", "reminderTimeUnit": "week" })), "reminders[1].reminderTime"),
        (with(json!({ "reminderType": "push", "reminderTimeUnit": "week", "reminderTime": -1 })), "reminders[1].reminderTime"),
        (json!({ "title": "t", "systemEvent": "e".repeat(101) }), "systemEvent"),
    ] {
        let (status, e) = call(&app, Method::POST, "/api/enforcement-templates", &org.token, Some(body)).await;
        assert_bad(status, &e, field);
    }
    assert_eq!(events_of(&app, &first).await, vec!["EnforcementTemplateCreated"]);
}
