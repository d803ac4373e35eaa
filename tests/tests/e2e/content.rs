//! What WorkDrive's content endpoints share (DESIGN §11), over HTTP: module codes (E42),
//! categories (E39 and Roster's create), following, and the `content` projection they feed.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster_tests::{send, TestApp};
use serde_json::{json, Value};

async fn token_of(app: &TestApp, org_token: &str, user_id: &str) -> String {
    let (status, t) = send(app.wd(Method::POST, "/api/token/generate-access", org_token).json(&json!({ "userId": user_id }))).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn module_codes_are_the_fixed_table() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Codes").await;
    let (status, v) = send(app.wd(Method::GET, "/api/module-codes", &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let codes: Vec<(String, i64)> =
        v.as_array().unwrap().iter().map(|m| (m["name"].as_str().unwrap().to_string(), m["moduleCode"].as_i64().unwrap())).collect();
    assert_eq!(codes[0], ("POST".to_string(), 1));
    assert!(codes.contains(&("EVENT".to_string(), 2)) && codes.contains(&("NEWS".to_string(), 6)), "{codes:?}");
    let (status, _) = send(app.wd(Method::GET, "/api/module-codes", "wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn categories_are_per_org_and_module_and_unique_in_any_case() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Cats").await;
    let other = app.create_org("Other Cats").await;
    let create = |token: &str, body: Value| app.wd(Method::POST, "/api/categories", token).json(&body);

    let (status, c) = send(create(&org.token, json!({ "moduleCode": 6, "category": " Sales ", "color": "#f00" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!((c["category"].as_str(), c["moduleCode"].as_i64(), c["color"].as_str()), (Some("Sales"), Some(6), Some("#f00")));
    assert_eq!(c["orgId"], org.id.as_str());
    // The same name in another case is taken; in another module or org it is not.
    let (status, e) = send(create(&org.token, json!({ "moduleCode": "NEWS", "category": "sales" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().starts_with("category"), "{e}");
    let (status, _) = send(create(&org.token, json!({ "moduleCode": "7", "category": "sales", "color": "  " }))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(create(&other.token, json!({ "moduleCode": 6, "category": "Sales" }))).await;
    assert_eq!(status, StatusCode::CREATED);

    for (body, field) in [
        (json!({ "category": "x" }), "moduleCode"),
        (json!({ "moduleCode": 11, "category": "x" }), "moduleCode"),
        (json!({ "moduleCode": [6], "category": "x" }), "moduleCode"),
        (json!({ "moduleCode": 6 }), "category"),
        (json!({ "moduleCode": 6, "category": "   " }), "category"),
        (json!({ "moduleCode": 6, "category": "x".repeat(101) }), "category"),
        (json!({ "moduleCode": 6, "category": "x", "color": "c".repeat(33) }), "color"),
    ] {
        let (status, e) = send(create(&org.token, body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert!(e["message"].as_str().unwrap().starts_with(field), "{body}: {e}");
    }

    // Only an org admin creates; any member lists.
    let member = app.add_user(&org, "member@cats.example.com").await;
    let member_token = token_of(&app, &org.token, member["id"].as_str().unwrap()).await;
    let (status, _) = send(create(&member_token, json!({ "moduleCode": 6, "category": "Mine" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, page) = send(app.wd(Method::GET, "/api/categories?moduleCode=6&per_page=1", &member_token)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["categories"].as_array().unwrap().len(), 1);
    assert_eq!(page["categories"][0]["category"], "Sales");
    assert_eq!(page["meta"], json!({ "perPage": 1, "totalPages": 1, "totalResults": 1, "curPage": 1, "nextPage": null }));
    let (_, docs) = send(app.wd(Method::GET, "/api/categories?moduleCode=DOCUMENT", &org.token)).await;
    assert_eq!(docs["categories"][0]["color"], Value::Null, "a blank color is none: {docs}");
    let (status, e) = send(app.wd(Method::GET, "/api/categories", &org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().starts_with("moduleCode"), "{e}");
}

#[tokio::test]
async fn following_is_a_set_of_pairs_within_the_org() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Follow").await;
    let other = app.create_org("Follow Other").await;
    let a = app.add_user(&org, "a@follow.example.com").await;
    let a_id = a["id"].as_str().unwrap();
    let a_token = token_of(&app, &org.token, a_id).await;
    let stranger = app.add_user(&other, "s@other.example.com").await;

    let follow = |method: Method, token: &str, id: &str| app.wd(method, &format!("/api/users/{id}/follow"), token);
    for _ in 0..2 {
        let (status, v) = send(follow(Method::POST, &a_token, &org.admin_id)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v, json!({ "userId": org.admin_id, "following": true, "followers": 1 }));
    }
    let follows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'UserFollowed'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(follows, 1, "following again appends nothing");

    let (status, e) = send(follow(Method::POST, &a_token, a_id)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().starts_with("id"), "{e}");
    let (status, _) = send(follow(Method::POST, &a_token, stranger["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another org's user is not found");
    let (status, _) = send(follow(Method::POST, &a_token, "not-a-uuid")).await;
    assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND, "{status}");

    for _ in 0..2 {
        let (status, v) = send(follow(Method::DELETE, &a_token, &org.admin_id)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v, json!({ "userId": org.admin_id, "following": false, "followers": 0 }));
    }
}

/// Every content write puts its events on NATS (DESIGN §4): after one write of each content type,
/// the test's JetStream stream holds exactly the log's content events, in log order, each on the
/// subject `<prefix>.<org>.<stream type>.<stream id>.<event type>` with the event's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_content_write_puts_its_events_on_nats_in_log_order() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Content Nats").await;
    let member = app.add_user(&org, "n@nats.example.com").await;
    let member_id = member["id"].as_str().unwrap();
    let write = |method: Method, path: &str, body: Value| {
        let rb = app.wd(method, path, &org.token).json(&body);
        async move {
            let (status, v) = send(rb).await;
            assert!(status.is_success(), "{status}: {v}");
            v
        }
    };
    write(Method::POST, "/api/categories", json!({ "moduleCode": "NEWS", "category": "Company" })).await;
    write(Method::POST, &format!("/api/users/{member_id}/follow"), json!({})).await;
    let post = write(Method::POST, "/api/posts", json!({ "postText": "hello", "permissions": { "friends": true } })).await;
    let post_id = post["id"].as_str().unwrap();
    write(Method::POST, &format!("/api/posts/{post_id}/reactions"), json!({ "type": "like" })).await;
    write(Method::POST, &format!("/api/posts/{post_id}/comments"), json!({ "text": "first" })).await;
    write(Method::POST, "/api/news", json!({ "newsTitle": "Launch", "category": "company" })).await;
    let start = "2030-03-01T09:00:00Z";
    write(Method::POST, "/api/events", json!({ "title": "Standup", "startDateTime": start, "endDateTime": "2030-03-01T09:15:00Z" })).await;
    write(Method::POST, "/api/documents", json!({ "name": "Handbook", "link": "https://handbook.example.com" })).await;
    write(Method::POST, "/api/faqs", json!({ "kb": { "name": "IT" }, "qas": [{ "question": "VPN?", "answer": "Yes" }] })).await;
    write(Method::POST, "/api/courses", json!({ "title": "Safety" })).await;
    write(Method::POST, "/api/enforcement-templates", json!({ "title": "Overdue" })).await;

    let content_types = ["category", "follow", "post", "calendar_event", "kb_document", "faq_kb", "course", "enforcement_template"];
    let rows: Vec<(uuid::Uuid, uuid::Uuid, String, uuid::Uuid, String)> = sqlx::query_as(
        "SELECT event_id, org_id, stream_type, stream_id, event_type FROM events WHERE stream_type = ANY($1) ORDER BY tx, gid",
    )
    .bind(&content_types[..])
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let expected: Vec<(String, String)> = rows
        .iter()
        .map(|(id, org, st, sid, et)| (id.to_string(), format!("{}.{org}.{st}.{sid}.{et}", app.config.nats.subject_prefix)))
        .collect();
    let written: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.4.as_str()).collect();
    for t in ["CategoryCreated", "UserFollowed", "PostCreated", "PostReacted", "PostCommented", "EventScheduled", "CourseCreated"] {
        assert!(written.contains(t), "no {t} in the log: {written:?}");
    }

    // Wait for the relay to publish the whole log, then read the stream from its start.
    let total = app.event_count().await as u64;
    let js = jetstream::new(app.nats().await);
    app.eventually("the relay publishes every event", Duration::from_secs(20), || async {
        match js.get_stream(&app.config.nats.stream).await {
            Ok(s) => s.get_info().await.map(|i| i.state.messages >= total).unwrap_or(false),
            Err(_) => false,
        }
    })
    .await;
    let stream = js.get_stream(&app.config.nats.stream).await.unwrap();
    let consumer =
        stream.create_consumer(pull::Config { ack_policy: jetstream::consumer::AckPolicy::None, ..Default::default() }).await.unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut published = Vec::new();
    for _ in 0..total {
        let m = tokio::time::timeout(Duration::from_secs(20), messages.next()).await.unwrap().unwrap().unwrap();
        let body: Value = serde_json::from_slice(&m.payload).unwrap();
        if content_types.contains(&body["stream_type"].as_str().unwrap()) {
            published.push((body["event_id"].as_str().unwrap().to_string(), m.subject.to_string()));
        }
    }
    assert_eq!(published, expected, "the content events on NATS are the log's, in its order");
}
