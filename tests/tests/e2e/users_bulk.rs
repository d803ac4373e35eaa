//! WorkDrive E02 supervisors, E06 bulk-create and E07 bulk-delete: shapes, the 1,000-row limit,
//! row-indexed errors, all-or-nothing appends, and the onboarding notice reaching NATS.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster_tests::{send, Org, TestApp};
use serde_json::{json, Value};

/// Adds a member without a password (argon2 is slow in debug builds); returns its id.
async fn member(app: &TestApp, org: &Org, email: &str, extra: Value) -> String {
    let mut body = json!({ "email": email, "firstName": "F", "lastName": "L" });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, v) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "add {email}: {v}");
    v["id"].as_str().unwrap().to_string()
}

async fn bulk_create(app: &TestApp, org: &Org, rows: Vec<Value>) -> (StatusCode, Value) {
    send(app.wd(Method::POST, "/api/users/bulk-create", &org.token).json(&json!({ "data": rows }))).await
}

fn row(email: &str) -> Value {
    json!({ "email": email, "firstName": "Bulk", "lastName": "Row" })
}

async fn live_users(app: &TestApp, org: &Org) -> i64 {
    let (status, v) = send(app.wd(Method::GET, "/api/users?per_page=1", &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["meta"]["totalResults"].as_i64().unwrap()
}

/// The onboarding notices published on NATS for `org`, read from the start of the stream.
async fn notices_on_nats(app: &TestApp, org: &Org, expect: usize) -> Vec<Value> {
    let js = jetstream::new(app.nats().await);
    let stream = js.get_stream(&app.config.nats.stream).await.expect("stream exists");
    let consumer = stream
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            filter_subject: format!("{}.{}.user.*.UserOnboardingNoticeRecorded", app.config.nats.subject_prefix, org.id),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while out.len() < expect {
        match tokio::time::timeout(Duration::from_secs(20), messages.next()).await {
            Ok(Some(Ok(m))) => out.push(serde_json::from_slice(&m.payload).expect("json envelope")),
            other => panic!("only {} of {expect} notices reached NATS: {other:?}", out.len()),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_create_answers_every_user_in_row_order_and_records_who_is_notified() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Bulky").await;
    let boss = member(&app, &org, "boss@bulky.io", json!({})).await;
    let (_, groups) = send(app.wd(Method::GET, "/api/security_groups", &org.token)).await;
    let users_group = groups["groups"][1]["id"].as_str().expect("the Users group").to_string();
    let rows = vec![
        json!({ "email": "full@bulky.io", "firstName": "Full", "lastName": "Profile", "designation": "Engineer",
                "securityGroup": users_group, "defaultVisibility": "public", "skill": ["rust"] }),
        json!({ "email": "partial@bulky.io", "firstName": "Part", "lastName": "Ial", "reportsTo": boss, "designation": "Intern" }),
        json!({ "email": "team@bulky.io", "firstName": "Te", "lastName": "Am", "addAdditionalTeams": [boss], "externalUserId": "ext-7" }),
    ];
    let before = app.event_count().await;
    let resp = roster_tests::send_raw(app.wd(Method::POST, "/api/users/bulk-create", &org.token).json(&json!({ "data": rows }))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("roster-position").is_some());
    let users: Value = resp.json().await.unwrap();
    let users = users.as_array().expect("a bare array");
    let emails: Vec<&str> = users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["full@bulky.io", "partial@bulky.io", "team@bulky.io"], "row order");
    assert_eq!(users[0]["status"], "INVITED");
    assert_eq!(users[0]["skill"], json!(["rust"]));
    assert!(users.iter().all(|u| u["securityGroup"] == users_group.as_str()), "named or by default, all in Users");
    assert_eq!(users[1]["status"], "PRE_INVITED");
    assert_eq!(users[1]["reportsTo"], boss.as_str());
    assert_eq!(users[2]["userAdditionalTeams"], json!([boss]));
    assert_eq!(users[2]["externalUserId"], "ext-7");
    for u in users {
        assert_eq!(u["orgId"], org.id.as_str());
        assert_eq!(u["teamMembers"], json!([]));
        assert!(u["addAdditionalLocations"].is_array());
    }
    // One append: three users, each UserCreated + UserOnboardingNoticeRecorded, in one transaction.
    assert_eq!(app.event_count().await - before, 6);
    let txs: i64 = sqlx::query_scalar("SELECT count(DISTINCT tx) FROM events WHERE gid > (SELECT max(gid) - 6 FROM events)")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(txs, 1, "all rows in one transaction");
    assert_eq!(live_users(&app, &org).await, 5);

    // The onboarding notices reach NATS: boss (incomplete, no supervisor), then the three rows.
    let notices = notices_on_nats(&app, &org, 4).await;
    let payloads: Vec<&Value> = notices.iter().map(|n| &n["payload"]).collect();
    assert_eq!(payloads[0]["recipient"], "nobody");
    assert_eq!(payloads[1]["recipient"], "user");
    assert_eq!(payloads[1]["recipient_user_id"], users[0]["id"]);
    assert_eq!(payloads[1]["recipient_email"], "full@bulky.io");
    assert_eq!(payloads[1]["missing_fields"], json!([]));
    assert_eq!(payloads[2]["recipient"], "supervisor");
    assert_eq!(payloads[2]["recipient_user_id"], boss.as_str());
    assert_eq!(payloads[2]["recipient_email"], "boss@bulky.io");
    assert_eq!(payloads[2]["missing_fields"], json!(["securityGroup", "defaultVisibility"]));
    assert!(payloads[2]["reason"].as_str().unwrap().contains("supervisor"));
    assert_eq!(notices[2]["stream_id"], users[1]["id"], "on the new user's stream");
    assert_eq!(payloads[3]["recipient"], "nobody", "additional teams are not a reportsTo");
    for n in &notices {
        let keys: Vec<&String> = n["payload"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["missing_fields", "reason", "recipient", "recipient_email", "recipient_user_id"], "no secret in the payload");
        assert!(!n.to_string().contains("rst_"), "no token secret anywhere: {n}");
    }

    // E03's `bulk` flag is accepted (no org defaults exist yet, so it changes nothing).
    let (status, v) = send(app.wd(Method::POST, "/api/users/add?bulk=true", &org.token).json(&row("flag@bulky.io"))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "PRE_INVITED");
    let (status, v) = send(app.wd(Method::POST, "/api/users/add?bulk=maybe", &org.token).json(&row("flag2@bulky.io"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("bulk:"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_create_takes_1000_rows_and_refuses_1001_whole() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Thousand").await;
    let rows = |tag: &str, n: usize| (0..n).map(|i| row(&format!("{tag}{i}@thousand.io"))).collect::<Vec<_>>();

    let before = app.event_count().await;
    let (status, v) = bulk_create(&app, &org, rows("over", 1001)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["message"], "data: must hold at most 1000 users per call, got 1001");
    assert_eq!(app.event_count().await, before, "nothing appended");

    let (status, v) = bulk_create(&app, &org, rows("ok", 1000)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", v["message"]);
    assert_eq!(v.as_array().unwrap().len(), 1000);
    assert_eq!(v[999]["email"], "ok999@thousand.io");
    // Per row: UserCreated and UserOnboardingNoticeRecorded.
    assert_eq!(app.event_count().await - before, 2000);
    assert_eq!(live_users(&app, &org).await, 1001);

    let (status, v) = bulk_create(&app, &org, vec![]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("data:"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_row_rejects_the_whole_call_naming_its_index_and_field() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Strict").await;
    let other = app.create_org("Stranger").await;
    let foreign = member(&app, &other, "foreign@stranger.io", json!({})).await;
    let before = app.event_count().await;
    let good = |i: usize| row(&format!("good{i}@strict.io"));

    let cases: Vec<(Vec<Value>, &str)> = vec![
        (vec![good(0), good(1), good(2), row("not-an-email"), good(4)], "data[3].email: must be an email address"),
        (vec![good(0), json!({ "email": "x@strict.io", "lastName": "L" })], "data[1].firstName: is required"),
        (
            vec![good(0), good(1), json!({ "email": "y@strict.io", "firstName": "F", "lastName": "L", "reportsTo": foreign })],
            "data[2].reportsTo: not found",
        ),
        (
            vec![json!({ "email": "z@strict.io", "firstName": "F", "lastName": "L", "addAdditionalTeams": [uuid::Uuid::now_v7()] })],
            "data[0].addAdditionalTeams: not found",
        ),
        (vec![good(0), json!({ "email": "p@strict.io", "firstName": "F", "lastName": "L", "password": "password1" })], "data[1].password:"),
        (
            vec![good(0), json!({ "email": "l@strict.io", "firstName": "F", "lastName": "x".repeat(101) })],
            "data[1].lastName: must be at most 100 characters",
        ),
    ];
    for (rows, want) in cases {
        let (status, v) = bulk_create(&app, &org, rows).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{want}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with(want), "want {want:?}, got {v}");
        assert_eq!(v["statusCode"], 400);
    }
    // A row of the wrong shape is named by serde's path.
    let (status, v) = bulk_create(&app, &org, vec![good(0), json!({ "email": 5 })]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("data[1]"), "{v}");

    assert_eq!(app.event_count().await, before, "no event appended by any rejected call");
    assert_eq!(live_users(&app, &org).await, 1);

    // Members may not bulk-create.
    let (_, v) = bulk_create(&app, &org, vec![good(0)]).await;
    let id = v[0]["id"].as_str().unwrap();
    let (_, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({ "userId": id }))).await;
    let member_org = Org { token: t["token"].as_str().unwrap().to_string(), ..org.clone() };
    let (status, _) = bulk_create(&app, &member_org, vec![good(9)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_emails_in_the_call_or_with_existing_users_name_the_row() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Twins").await;
    member(&app, &org, "taken@twins.io", json!({})).await;
    let before = app.event_count().await;

    let (status, v) = bulk_create(&app, &org, vec![row("a@twins.io"), row("b@twins.io"), row("A@Twins.io")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["message"], "data[2].email: duplicates data[0].email in this call");

    let (status, v) = bulk_create(&app, &org, vec![row("c@twins.io"), row("TAKEN@twins.io")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["message"], "data[1].email: is already taken by another user");

    let mut named = row("d@twins.io");
    named["userName"] = json!("e@twins.io");
    let (status, v) = bulk_create(&app, &org, vec![row("e@twins.io"), named]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["message"], "data[1].userName: duplicates data[0].email in this call");
    assert_eq!(app.event_count().await, before, "nothing appended");

    // Another org may hold the same email.
    let other = app.create_org("Elsewhere").await;
    let (status, v) = bulk_create(&app, &other, vec![row("taken@twins.io")]).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_delete_is_all_or_nothing_within_the_callers_org() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Shrink").await;
    let other = app.create_org("Keep").await;
    let (_, created) = bulk_create(&app, &org, (0..4).map(|i| row(&format!("d{i}@shrink.io"))).collect()).await;
    let ids: Vec<String> = created.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect();
    let foreign = member(&app, &other, "f@keep.io", json!({})).await;
    let del = |body: Value| app.wd(Method::DELETE, "/api/users/bulk-delete", &org.token).json(&body);
    let before = app.event_count().await;

    let (status, v) = send(del(json!({ "id": [ids[0], foreign] }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another org's id is unknown: {v}");
    assert_eq!(v["message"], "id[1]: user not found");
    let (status, v) = send(del(json!({ "id": [ids[0], "nope"] }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("id[1]:"), "{v}");
    let (status, v) = send(del(json!({ "id": [ids[0], org.admin_id] }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no self-delete: {v}");
    let (status, v) = send(del(json!({ "id": [] }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let many: Vec<String> = (0..1001).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let (status, v) = send(del(json!({ "id": many }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["message"], "id: must hold at most 1000 user ids per call, got 1001");
    assert_eq!(app.event_count().await, before, "nothing appended");
    assert_eq!(live_users(&app, &org).await, 5);
    assert_eq!(live_users(&app, &other).await, 2);

    // Body ids (a repeated one counts once), then repeated `?id=` without a body.
    let resp = roster_tests::send_raw(del(json!({ "id": [ids[0], ids[1], ids[0]] }))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.headers().get("roster-position").is_some());
    assert_eq!(live_users(&app, &org).await, 3);
    let path = format!("/api/users/bulk-delete?id={}&id={}", ids[2], ids[3]);
    let (status, v) = send(app.wd(Method::DELETE, &path, &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(live_users(&app, &org).await, 1);
    // Their emails are free again, and a second delete of them is a 404.
    let (status, v) = bulk_create(&app, &org, vec![row("d0@shrink.io")]).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, _) = send(del(json!({ "id": [ids[0]] }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The single-user route still works next to the static one. Its `bulk` flag is a boolean:
    // anything else is refused naming it, before anything is deleted.
    let one = format!("/api/users/{}", v[0]["id"].as_str().unwrap());
    for flag in ["1", "1.3e308", ""] {
        let (status, e) = send(app.wd(Method::DELETE, &format!("{one}?bulk={flag}"), &org.token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "bulk={flag}: {e}");
        assert!(e["message"].as_str().unwrap_or_default().starts_with("bulk:"), "{e}");
    }
    let (status, _) = send(app.wd(Method::DELETE, &format!("{one}?bulk=false"), &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_are_listed_for_the_org_or_one_user_with_paging() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Ladder").await;
    let other = app.create_org("Other").await;
    let boss1 = member(&app, &org, "boss1@ladder.io", json!({})).await;
    let boss2 = member(&app, &org, "boss2@ladder.io", json!({})).await;
    let loner = member(&app, &org, "loner@ladder.io", json!({})).await;
    let u1 = member(&app, &org, "u1@ladder.io", json!({ "reportsTo": boss1, "addAdditionalTeams": [boss2] })).await;
    let u2 = member(&app, &org, "u2@ladder.io", json!({ "reportsTo": boss1 })).await;
    let foreign = member(&app, &other, "x@other.io", json!({})).await;
    let get = |q: &str| app.wd(Method::GET, &format!("/api/users/supervisors{q}"), &org.token);
    let ids = |v: &Value| v["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();

    let (status, v) = send(get("")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), [boss1.clone(), boss2.clone()]);
    assert_eq!(v["users"][0], json!({ "id": boss1, "email": "boss1@ladder.io", "firstName": "F", "lastName": "L" }), "UserRef");
    assert_eq!(v["meta"], json!({ "perPage": 10, "totalPages": 1, "totalResults": 2, "curPage": 1, "nextPage": null }));

    let (_, v) = send(get("?per_page=1&cur_page=1")).await;
    assert_eq!(ids(&v), std::slice::from_ref(&boss1));
    assert_eq!(v["meta"], json!({ "perPage": 1, "totalPages": 2, "totalResults": 2, "curPage": 1, "nextPage": 2 }));
    let (_, v) = send(get("?per_page=1&cur_page=2")).await;
    assert_eq!(ids(&v), std::slice::from_ref(&boss2));
    assert_eq!(v["meta"]["nextPage"], Value::Null);

    let (_, v) = send(get(&format!("?userId={u1}"))).await;
    assert_eq!(ids(&v), [boss1.clone(), boss2.clone()], "reportsTo plus additional teams");
    let (_, v) = send(get(&format!("?userId={u2}"))).await;
    assert_eq!(ids(&v), std::slice::from_ref(&boss1));
    let (_, v) = send(get(&format!("?userId={loner}"))).await;
    assert_eq!(ids(&v), Vec::<String>::new());
    assert_eq!(v["meta"]["totalResults"], 0);

    let (status, _) = send(get(&format!("?userId={foreign}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another org's user is unknown");
    let (status, v) = send(get("?userId=garbage")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("userId:"), "{v}");
    let (status, _) = send(get("?per_page=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The other org sees none of these.
    let (_, v) = send(app.wd(Method::GET, "/api/users/supervisors", &other.token)).await;
    assert_eq!(v["meta"]["totalResults"], 0);

    // Deleted reportees no longer make a supervisor.
    let (status, _) = send(app.wd(Method::DELETE, "/api/users/bulk-delete", &org.token).json(&json!({ "id": [u1, u2] }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = send(get("")).await;
    assert_eq!(v["meta"]["totalResults"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_bulk_create_with_the_same_idempotency_key_appends_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Retry").await;
    let body = json!({ "data": [row("r0@retry.io"), row("r1@retry.io")] });
    let call = || app.wd(Method::POST, "/api/users/bulk-create", &org.token).header("Idempotency-Key", "bulk-1").json(&body);
    let before = app.event_count().await;
    let first = roster_tests::send_raw(call()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.bytes().await.unwrap();
    let again = roster_tests::send_raw(call()).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
    assert_eq!(again.bytes().await.unwrap(), first_body, "the first answer, byte for byte");
    // Per row: UserCreated and UserOnboardingNoticeRecorded.
    assert_eq!(app.event_count().await - before, 4, "appended once");
    assert_eq!(live_users(&app, &org).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_rows_join_and_leave_departments_and_locations_like_single_users() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Bulk Units").await;
    let head = member(&app, &org, "head@bulkunits.io", json!({})).await;
    let (status, dept) = send(
        app.wd(Method::POST, "/api/departments", &org.token).json(&json!({"name": "Ops", "members": [{"id": head, "isAdmin": true}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{dept}");
    let dept = dept["id"].as_str().unwrap().to_string();
    let (status, loc) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": "Oslo"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{loc}");
    let loc = loc["id"].as_str().unwrap().to_string();

    let mut a = row("a@bulkunits.io");
    a["department"] = json!(dept);
    a["location"] = json!(loc);
    let mut b = row("b@bulkunits.io");
    b["department"] = json!(dept);
    let mut bad = row("c@bulkunits.io");
    bad["location"] = json!(uuid::Uuid::now_v7());
    let (status, v) = bulk_create(&app, &org, vec![a.clone(), b.clone(), bad]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("data[2].location"), "{v}");

    let (status, created) = bulk_create(&app, &org, vec![a, b]).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let new_ids: Vec<String> = created.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect();
    let members = |path: String| {
        let app = &app;
        let token = org.token.clone();
        async move {
            let (_, v) = send(app.wd(Method::GET, &path, &token)).await;
            let mut ids: Vec<String> = v["members"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
            ids.sort();
            ids
        }
    };
    let mut want = vec![head.clone(), new_ids[0].clone(), new_ids[1].clone()];
    want.sort();
    assert_eq!(members(format!("/api/departments/{dept}/members")).await, want, "the department's list agrees");
    assert_eq!(members(format!("/api/locations/{loc}/members")).await, vec![new_ids[0].clone()]);

    // Bulk delete leaves the units too, but never the department's last head.
    let (status, v) = send(app.wd(Method::DELETE, "/api/users/bulk-delete", &org.token).json(&json!({"id": [new_ids[0], head]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("id[1]"), "{v}");
    let (status, _) = send(app.wd(Method::DELETE, "/api/users/bulk-delete", &org.token).json(&json!({"id": [new_ids[0]]}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut want = vec![head.clone(), new_ids[1].clone()];
    want.sort();
    assert_eq!(members(format!("/api/departments/{dept}/members")).await, want);
    assert!(members(format!("/api/locations/{loc}/members")).await.is_empty());
}
