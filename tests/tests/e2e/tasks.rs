//! Tasks over HTTP (WorkDrive E45–E50, Roster's complete): create and create-and-assign with each
//! type's required field and the references they name, drafts and publication, assignment, who
//! may see, change and complete a task, E45's filters, and the reminder worker's events.

use std::time::Duration;

use commands::{CommandContext, Store};
use reqwest::{Method, StatusCode};
use roster_tests::{send, Org, TestApp};
use serde_json::{json, Value};

async fn token_of(app: &TestApp, org: &Org, user_id: &str) -> String {
    let (status, t) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({ "userId": user_id }))).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_string()
}

/// A member of `org`: (id, token).
async fn member(app: &TestApp, org: &Org, email: &str) -> (String, String) {
    let body = json!({ "email": email, "firstName": "Mem", "lastName": "Ber", "password": "password1" });
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

async fn events_of(app: &TestApp, id: &str) -> Vec<String> {
    let id = uuid::Uuid::parse_str(id).unwrap();
    sqlx::query_scalar("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version").bind(id).fetch_all(&app.pool).await.unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, t) = call(app, Method::POST, "/api/tasks", token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    t
}

fn article(title: &str) -> Value {
    json!({ "title": title, "task_type": "Article", "content": "Read this" })
}

#[tokio::test]
async fn a_task_needs_its_title_type_and_the_type_s_field_and_names_things_of_the_org() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Tasks").await;
    let other = app.create_org("Other Tasks").await;
    let (ann, ann_token) = member(&app, &org, "ann@tasks.example.com").await;
    let (stranger, _) = member(&app, &other, "sam@othertasks.example.com").await;
    let (_, course) = call(&app, Method::POST, "/api/courses", &org.token, Some(json!({ "title": "Safety" }))).await;
    let (_, document) =
        call(&app, Method::POST, "/api/documents?publish=true", &org.token, Some(json!({ "name": "Handbook", "link": "https://l" }))).await;
    let (_, video) =
        call(&app, Method::POST, "/api/videos", &org.token, Some(json!({ "title": "Intro", "source": 1, "meta": { "url": "https://y" } })))
            .await;
    let (_, foreign_video) =
        call(&app, Method::POST, "/api/videos", &other.token, Some(json!({ "title": "X", "source": 1, "meta": { "url": "https://y" } })))
            .await;
    let (_, template) = call(&app, Method::POST, "/api/enforcement-templates", &org.token, Some(json!({ "title": "Due" }))).await;
    let (course, document, video, template) = (id_of(&course), id_of(&document), id_of(&video), id_of(&template));
    let missing = uuid::Uuid::new_v4().to_string();

    for (body, field) in [
        (json!({ "task_type": "Article", "content": "c" }), "title"),
        (json!({ "title": "  ", "task_type": "Article", "content": "c" }), "title"),
        (json!({ "title": "t" }), "task_type"),
        (json!({ "title": "t", "task_type": "Link" }), "task_type"),
        (json!({ "title": "t", "task_type": "Article" }), "content"),
        (json!({ "title": "t", "task_type": "Article", "content": " " }), "content"),
        (json!({ "title": "t", "task_type": "Video" }), "videoId"),
        (json!({ "title": "t", "task_type": "QuizLink" }), "link"),
        (json!({ "title": "t", "task_type": "Document" }), "documentId"),
        (json!({ "title": "t", "task_type": "TrainingCourse" }), "trainingCourseTaskListId"),
        (json!({ "title": "t", "task_type": "Video", "videoId": missing }), "videoId"),
        (json!({ "title": "t", "task_type": "Video", "videoId": id_of(&foreign_video) }), "videoId"),
        (json!({ "title": "t", "task_type": "Document", "documentId": missing }), "documentId"),
        (json!({ "title": "t", "task_type": "TrainingCourse", "trainingCourseTaskListId": missing }), "trainingCourseTaskListId"),
        (json!({ "title": "t", "task_type": "Article", "content": "c", "notificationTemplateId": missing }), "notificationTemplateId"),
        (json!({ "title": "t", "task_type": "Article", "content": "c", "userIds": [stranger] }), "userIds[0]"),
        (json!({ "title": "t", "task_type": "Article", "content": "c", "status": "draft", "userIds": [ann] }), "status"),
        (json!({ "title": "t", "task_type": "Article", "content": "c", "status": "done" }), "status"),
        (json!({ "title": "t", "task_type": "Article", "content": "c", "dueDays": -1 }), "dueDays"),
        // An integral float is an integer (JSON Schema's `integer`); a fraction is not.
        (json!({ "title": "t", "task_type": "Article", "content": "c", "dueDays": 2.5 }), "body"),
        (json!({ "title": "t".repeat(201), "task_type": "Article", "content": "c" }), "title"),
    ] {
        let (status, e) = call(&app, Method::POST, "/api/tasks", &ann_token, Some(body.clone())).await;
        assert_bad(status, &e, field);
    }

    // E46: one of each type; a create without status publishes, `published` is `publish`.
    let a =
        create(&app, &ann_token, json!({ "title": " Read ", "task_type": "Article", "content": "Text", "dueDays": 3, "time": 15 })).await;
    assert_eq!((a["title"].as_str(), a["status"].as_str(), a["task_type"].as_str()), (Some("Read"), Some("publish"), Some("Article")));
    assert_eq!((a["createdBy"].as_str(), a["time"].as_i64(), a["dueDays"].as_i64()), (Some(ann.as_str()), Some(15), Some(3)));
    let created: chrono::DateTime<chrono::Utc> = a["createdAt"].as_str().unwrap().parse().unwrap();
    let due: chrono::DateTime<chrono::Utc> = a["dueDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(due - created, chrono::Duration::days(3));
    assert_eq!((a["assignedUserIds"].clone(), a["assignedUsers"].clone()), (json!([]), json!([])));
    for body in [
        json!({ "title": "v", "task_type": "Video", "videoId": video, "status": "published" }),
        json!({ "title": "q", "task_type": "QuizLink", "link": "https://quiz" }),
        json!({ "title": "d", "task_type": "Document", "documentId": document, "status": "draft" }),
        json!({ "title": "c", "task_type": "TrainingCourse", "trainingCourseTaskListId": course, "notificationTemplateId": template }),
    ] {
        let t = create(&app, &ann_token, body.clone()).await;
        assert_eq!(t["task_type"], body["task_type"], "{t}");
    }
    let file = crate::media::uploaded(&app, &org, "video/mp4", b"mp4").await;
    let t = create(&app, &ann_token, json!({ "title": "upload", "task_type": "Video", "videoId": file })).await;
    assert_eq!(t["videoId"].as_str(), Some(file.as_str()));

    // E47: userIds assigns at once (and publishes).
    let t = create(&app, &org.token, json!({ "title": "Assigned", "task_type": "Article", "content": "c", "userIds": [ann, ann] })).await;
    assert_eq!((t["status"].as_str(), t["assignedUserIds"].clone()), (Some("publish"), json!([ann])));
    assert_eq!(ids(&t["assignedUsers"]), vec![ann.clone()]);
    assert_eq!(events_of(&app, &id_of(&t)).await, vec!["TaskCreated", "TaskAssigned"]);
    assert_eq!(events_of(&app, &id_of(&a)).await, vec!["TaskCreated"]);
}

#[tokio::test]
async fn drafts_change_published_tasks_are_assigned_and_assignees_complete_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Work").await;
    let other = app.create_org("Other Work").await;
    let (_ann, ann_token) = member(&app, &org, "ann@work.example.com").await;
    let (bob, bob_token) = member(&app, &org, "bob@work.example.com").await;
    let (_carl, carl_token) = member(&app, &org, "carl@work.example.com").await;

    let draft =
        create(&app, &ann_token, json!({ "title": "Draft", "task_type": "QuizLink", "link": "https://q", "status": "draft" })).await;
    let id = id_of(&draft);
    let update = |token: String, body: Value| {
        let (app, id) = (&app, id.clone());
        async move { call(app, Method::PATCH, &format!("/api/tasks/update/{id}"), &token, Some(body)).await }
    };
    // Neither another member nor another tenant sees it: 404.
    assert_eq!(update(bob_token.clone(), json!({ "title": "x" })).await.0, StatusCode::NOT_FOUND);
    assert_eq!(update(other.token.clone(), json!({ "title": "x" })).await.0, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, Method::PATCH, "/api/tasks/update/not-a-uuid", &ann_token, Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A draft cannot be assigned.
    let (status, e) = call(&app, Method::PATCH, &format!("/api/tasks/assign/{id}"), &ann_token, Some(json!({ "userIds": [bob] }))).await;
    assert_bad(status, &e, "status");
    // Its fields: a type change needs the new type's field; null clears; blank is none.
    let (status, e) = update(ann_token.clone(), json!({ "task_type": "Article" })).await;
    assert_bad(status, &e, "content");
    let (status, e) = update(ann_token.clone(), json!({ "title": null })).await;
    assert_bad(status, &e, "title");
    let (status, e) = update(ann_token.clone(), json!({ "documentId": uuid::Uuid::new_v4() })).await;
    assert_bad(status, &e, "documentId");
    let (status, t) = update(ann_token.clone(), json!({ "title": "Quiz", "description": "d", "dueDays": 2.0 })).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["title"].as_str(), t["description"].as_str(), t["status"].as_str()), (Some("Quiz"), Some("d"), Some("draft")));
    assert!(t["dueDate"].is_string(), "{t}");
    let (status, t) = update(org.token.clone(), json!({ "description": null, "status": "published" })).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["description"].clone(), t["status"].as_str()), (Value::Null, Some("publish")));
    // "Published status task cannot be updated".
    let (status, e) = update(ann_token.clone(), json!({ "title": "again" })).await;
    assert_bad(status, &e, "status");

    // E49: assign (author or admin); the assignee then sees it but may not change it.
    let assign = |token: String, body: Value| {
        let (app, id) = (&app, id.clone());
        async move { call(app, Method::PATCH, &format!("/api/tasks/assign/{id}"), &token, Some(body)).await }
    };
    let (status, e) = assign(ann_token.clone(), json!({ "userIds": [uuid::Uuid::new_v4()] })).await;
    assert_bad(status, &e, "userIds[0]");
    let (status, t) = assign(ann_token.clone(), json!({ "userIds": [bob] })).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["assignedUserIds"].clone(), ids(&t["assignedUsers"])), (json!([bob]), vec![bob.clone()]));
    assert_eq!(assign(bob_token.clone(), json!({ "removeIds": [bob] })).await.0, StatusCode::FORBIDDEN);
    assert_eq!(assign(carl_token.clone(), json!({ "userIds": [bob] })).await.0, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/tasks/{id}"), &bob_token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Complete: the assignee only (twice changes nothing); the author who sees it is 403.
    let complete = |token: String| {
        let (app, id) = (&app, id.clone());
        async move { call(app, Method::POST, &format!("/api/tasks/{id}/complete"), &token, None).await }
    };
    let (status, t) = complete(bob_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["completed"].as_bool(), t["completedUserIds"].clone()), (Some(true), json!([bob])));
    assert_eq!(complete(bob_token.clone()).await.0, StatusCode::OK);
    assert_eq!(complete(ann_token.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(complete(carl_token.clone()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(complete(other.token.clone()).await.0, StatusCode::NOT_FOUND);

    // Unassign: bob no longer sees it.
    let (status, t) = assign(org.token.clone(), json!({ "removeIds": [bob] })).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["assignedUserIds"].clone(), t["completedUserIds"].clone()), (json!([]), json!([])));
    assert_eq!(complete(bob_token.clone()).await.0, StatusCode::NOT_FOUND);

    // E50: another tenant 404, the author 204, then gone.
    let (status, _) = call(&app, Method::DELETE, &format!("/api/tasks/{id}"), &other.token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/tasks/{id}"), &ann_token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, Method::DELETE, &format!("/api/tasks/{id}"), &ann_token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, v) = call(&app, Method::GET, "/api/tasks", &ann_token, None).await;
    assert_eq!(v["meta"]["totalResults"], 0, "{v}");
    assert_eq!(
        events_of(&app, &id).await,
        vec!["TaskCreated", "TaskUpdated", "TaskUpdated", "TaskAssigned", "TaskCompleted", "TaskAssigned", "TaskDeleted"]
    );
}

#[tokio::test]
async fn the_list_filters_by_creator_assignee_and_publication() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lists").await;
    let other = app.create_org("Other Lists").await;
    let (ann, ann_token) = member(&app, &org, "ann@lists.example.com").await;
    let (bob, bob_token) = member(&app, &org, "bob@lists.example.com").await;
    let (_, carl_token) = member(&app, &org, "carl@lists.example.com").await;
    let mut t1 = article("One");
    t1["userIds"] = json!([bob]);
    let t1 = id_of(&create(&app, &ann_token, t1).await);
    let mut t2 = article("Two");
    t2["status"] = json!("draft");
    let t2 = id_of(&create(&app, &ann_token, t2).await);
    let mut t3 = article("Three");
    t3["userIds"] = json!([ann]);
    let t3 = id_of(&create(&app, &bob_token, t3).await);

    let list = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let (status, v) = call(app, Method::GET, &format!("/api/tasks{query}"), &token, None).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            (ids(&v["tasks"]), v["meta"]["totalResults"].as_i64().unwrap())
        }
    };
    assert_eq!(list(ann_token.clone(), "").await, (vec![t1.clone(), t2.clone(), t3.clone()], 3));
    assert_eq!(list(ann_token.clone(), "?filter=INDEPENDENT_TASKS_CREATED_BY_ME").await, (vec![t1.clone(), t2.clone()], 2));
    assert_eq!(list(ann_token.clone(), "?filter=INDEPENDENT_TASKS_ASSIGNED_TO_ME").await, (vec![t3.clone()], 1));
    assert_eq!(list(ann_token.clone(), "?published=true").await, (vec![t1.clone(), t3.clone()], 2));
    assert_eq!(list(ann_token.clone(), "?published=false").await, (vec![t2.clone()], 1));
    assert_eq!(list(ann_token.clone(), "?sort_direction=DESC&per_page=1").await, (vec![t3.clone()], 3));
    assert_eq!(list(bob_token.clone(), "?filter=INDEPENDENT_TASKS_ASSIGNED_TO_ME").await, (vec![t1.clone()], 1));
    assert_eq!(list(bob_token.clone(), "").await, (vec![t1.clone(), t3.clone()], 2));
    assert_eq!(list(org.token.clone(), "").await.1, 3);
    assert_eq!(list(carl_token.clone(), "").await.1, 0);
    assert_eq!(list(other.token.clone(), "").await.1, 0);

    let (_, v) = call(&app, Method::GET, "/api/tasks?per_page=2&cur_page=1", &ann_token, None).await;
    assert_eq!((v["meta"]["nextPage"].as_i64(), v["meta"]["totalPages"].as_i64()), (Some(2), Some(2)), "{v}");
    // E45's createdBy is the user.
    assert_eq!(
        (v["tasks"][0]["createdBy"]["id"].as_str(), v["tasks"][0]["createdBy"]["firstName"].as_str()),
        (Some(ann.as_str()), Some("Mem"))
    );
    for (query, field) in [
        ("?filter=ALL", "filter"),
        ("?published=maybe", "published"),
        ("?sort_direction=up", "sort_direction"),
        ("?per_page=0", "per_page"),
    ] {
        let (status, e) = call(&app, Method::GET, &format!("/api/tasks{query}"), &ann_token, None).await;
        assert_bad(status, &e, field);
    }
}

#[tokio::test]
async fn reminders_of_the_template_fall_due_once_for_assignees_who_have_not_completed() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Reminders").await;
    let (bob, bob_token) = member(&app, &org, "bob@reminders.example.com").await;
    let (carl, _) = member(&app, &org, "carl@reminders.example.com").await;
    let reminders = json!([
        { "reminderType": "email", "reminderTimeUnit": "minutes", "reminderTime": 0 },
        { "reminderType": "restrict", "reminderTimeUnit": "days", "reminderTime": 1 },
        { "reminderType": "push", "reminderTimeUnit": "week", "reminderTime": 1 },
    ]);
    let (status, template) =
        call(&app, Method::POST, "/api/enforcement-templates", &org.token, Some(json!({ "title": "Due", "reminders": reminders }))).await;
    assert_eq!(status, StatusCode::CREATED, "{template}");
    let with = |due_days: i32, users: Vec<&String>| {
        json!({ "title": "Fire drill", "task_type": "Article", "content": "c", "dueDays": due_days,
                "notificationTemplateId": template["id"], "userIds": users })
    };

    // Due now: its email (0 minutes before) and push (a week before) reminders are due at once;
    // `restrict` is not a notification. The running worker appends each once.
    let now_task = id_of(&create(&app, &org.token, with(0, vec![&bob, &carl])).await);
    app.eventually("the due reminders", Duration::from_secs(20), || async {
        events_of(&app, &now_task).await.iter().filter(|e| *e == "TaskReminderDue").count() == 2
    })
    .await;
    let store = Store::new(app.pool.clone());
    app.eventually("the reminders marked sent", Duration::from_secs(20), || async {
        projections::content::tasks::due_reminders(&app.pool, chrono::Utc::now(), 100).await.unwrap().is_empty()
    })
    .await;
    let before = app.event_count().await;
    workers::task_reminders::scan(&app.pool, &store).await.unwrap();
    assert_eq!(app.event_count().await, before, "a second scan appends nothing");
    let task_id = uuid::Uuid::parse_str(&now_task).unwrap();
    let payloads: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE stream_id = $1 AND event_type = 'TaskReminderDue' ORDER BY payload->>'reminder_index'",
    )
    .bind(task_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(payloads[0]["reminder_index"], 0);
    assert_eq!(payloads[0]["reminder_type"], "email");
    assert_eq!(payloads[1]["reminder_index"], 2);
    assert_eq!(payloads[1]["reminder_type"], "push");
    assert_eq!(payloads[0]["assignees"], json!([bob, carl]));
    assert_eq!(payloads[0]["title"], "Fire drill");
    assert_eq!(payloads[0]["org_id"], json!(org.id));
    assert!(payloads[0]["due_date"].is_string() && payloads[0]["remind_at"].is_string(), "{}", payloads[0]);

    // Due in ten days: nothing yet. Once bob completes, only carl is reminded; a task everyone
    // completed is never reminded.
    let later = id_of(&create(&app, &org.token, with(10, vec![&bob, &carl])).await);
    let done = id_of(&create(&app, &org.token, with(10, vec![&bob])).await);
    for t in [&later, &done] {
        let (status, v) = call(&app, Method::POST, &format!("/api/tasks/{t}/complete"), &bob_token, None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let in_20_days = chrono::Utc::now() + chrono::Duration::days(20);
    let (later_id, done_id) = (uuid::Uuid::parse_str(&later).unwrap(), uuid::Uuid::parse_str(&done).unwrap());
    let due = projections::content::tasks::due_reminders(&app.pool, in_20_days, 100).await.unwrap();
    assert_eq!(due, vec![(later_id, 2), (later_id, 0)], "the week-before reminder first; nothing of the completed task");
    let ctx = CommandContext::system("roster", in_20_days);
    let remind = |id, index| commands::handlers::tasks::remind_task(&store, &ctx, id, index);
    assert!(remind(done_id, 0).await.unwrap().position.is_none());
    assert!(remind(later_id, 1).await.unwrap().position.is_none(), "restrict is no reminder");
    assert!(remind(later_id, 0).await.unwrap().position.is_some());
    assert!(remind(later_id, 0).await.unwrap().position.is_none(), "once per (task, reminder)");
    let payload: Value = sqlx::query_scalar("SELECT payload FROM events WHERE stream_id = $1 AND event_type = 'TaskReminderDue'")
        .bind(later_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(payload["assignees"], json!([carl]));
    assert!(!events_of(&app, &done).await.contains(&"TaskReminderDue".to_string()));
}
