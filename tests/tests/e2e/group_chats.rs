//! Group chats (E51–E54), their members (Roster), messages (E55, Roster's read), the live stream
//! of a conversation (Roster, Server-Sent Events) and meetings in a conversation (E56), over HTTP.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use roster_tests::{send, SseItem, SseStream, TestApp};
use serde_json::{json, Value};

/// A 400 whose message names `field` first.
async fn rejected(rb: reqwest::RequestBuilder, field: &str) {
    let (status, e) = send(rb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "want {field}: {e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{field}:")) || message.starts_with(&format!("{field} ")), "want {field}, got {e}");
}

async fn create_chat(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, v) = send(app.wd(Method::POST, "/api/group-chats", token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {v}");
    v
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key].as_array().unwrap().iter().map(id_of).collect()
}

fn strings(v: &Value) -> Vec<String> {
    let mut s: Vec<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
    s.sort();
    s
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn post(app: &TestApp, token: &str, chat: &str, text: &str) -> Value {
    let (status, m) = send(app.wd(Method::POST, &format!("/api/{chat}/messages"), token).json(&json!({ "message": text }))).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_chats_are_created_listed_changed_and_deleted_by_their_admins() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Chats").await;
    let other = app.create_org("Other Chats").await;
    let (a, a_token) = app.member(&org, "a@chats.example.com").await;
    let (b, b_token) = app.member(&org, "b@chats.example.com").await;
    let (c, c_token) = app.member(&org, "c@chats.example.com").await;
    let (stranger, _) = app.member(&other, "s@other.example.com").await;
    let (status, _) =
        send(app.wd(Method::POST, "/api/categories", &org.token).json(&json!({ "moduleCode": 10, "category": "Teams" }))).await;
    assert_eq!(status, StatusCode::CREATED);

    let wd = |m: Method, path: &str, token: &str| app.wd(m, path, token);
    rejected(wd(Method::POST, "/api/group-chats", &a_token).json(&json!({ "title": "T" })), "groupType").await;
    rejected(wd(Method::POST, "/api/group-chats", &a_token).json(&json!({ "groupType": "CHANNEL", "title": "T" })), "groupType").await;
    rejected(wd(Method::POST, "/api/group-chats", &a_token).json(&json!({ "groupType": "CHAT_GROUP", "title": "  " })), "title").await;
    rejected(
        wd(Method::POST, "/api/group-chats", &a_token)
            .json(&json!({ "groupType": "CHAT_GROUP", "title": "T", "members": [{ "id": stranger }] })),
        "members[0].id",
    )
    .await;
    rejected(
        wd(Method::POST, "/api/group-chats", &a_token).json(&json!({ "groupType": "CHAT_GROUP", "title": "T", "category": "Nope" })),
        "category",
    )
    .await;
    rejected(wd(Method::POST, "/api/group-chats", &a_token).json(&json!({ "groupType": "ROOM", "category": "Teams" })), "category").await;
    rejected(wd(Method::POST, "/api/group-chats", &a_token).json(&json!({ "groupType": "ROOM", "title": "x".repeat(301) })), "title").await;

    let team = create_chat(
        &app,
        &a_token,
        json!({ "groupType": "CHAT_GROUP", "title": " Team ", "description": "d", "category": "teams", "members": [{ "id": b, "isAdmin": false }] }),
    )
    .await;
    let team_id = id_of(&team);
    assert_eq!(team["title"], "Team");
    assert_eq!(team["type"], "CHAT_GROUP");
    assert_eq!(team["groupId"], team["id"]);
    assert_eq!(team["isPrivate"], false);
    assert_eq!(strings(&team["admins"]), vec![a.clone()], "the creator is the admin");
    assert_eq!(sorted(ids(&team, "participants")), sorted(vec![a.clone(), b.clone()]), "the creator is a participant");
    let room = create_chat(&app, &c_token, json!({ "groupType": "room", "isPrivate": true, "members": [{ "id": a }] })).await;
    let room_id = id_of(&room);
    assert_eq!(room["title"], Value::Null, "a room needs no title");

    // E51: a private chat is its participants'; filters.
    let list = |token: &str, q: &str| wd(Method::GET, &format!("/api/group-chats{q}"), token);
    let (_, page) = send(list(&b_token, "")).await;
    assert_eq!(ids(&page, "conversations"), vec![team_id.clone()], "b sees the public chat only: {page}");
    assert_eq!(page["meta"]["totalResults"], 1);
    assert!(page["conversations"][0].get("participants").is_none());
    let (_, page) = send(list(&a_token, "")).await;
    assert_eq!(ids(&page, "conversations"), vec![room_id.clone(), team_id.clone()], "newest first");
    let (_, page) = send(list(&org.token, "?group_type=ROOM")).await;
    assert_eq!(ids(&page, "conversations"), vec![room_id.clone()], "an org admin sees a private chat");
    let (_, page) = send(list(&c_token, "?my_group_chats=true&include_participants=true")).await;
    assert_eq!(ids(&page, "conversations"), vec![room_id.clone()]);
    assert_eq!(sorted(ids(&page["conversations"][0], "participants")), sorted(vec![a.clone(), c.clone()]));
    let (_, page) = send(list(&a_token, "?time=2001-01-01T00:00:00Z")).await;
    assert_eq!(page["meta"]["totalResults"], 0);
    let (_, page) = send(list(&a_token, "?per_page=1&cur_page=2")).await;
    assert_eq!(ids(&page, "conversations"), vec![team_id.clone()]);
    rejected(list(&a_token, "?group_type=X"), "group_type").await;
    rejected(list(&a_token, "?my_group_chats=maybe"), "my_group_chats").await;
    let (status, page) = send(list(&other.token, "")).await;
    assert_eq!((status, page["meta"]["totalResults"].clone()), (StatusCode::OK, json!(0)), "another org's chats are not listed");

    // E53: admins only; never the last admin.
    let patch = |token: &str, id: &str, body: Value| wd(Method::PATCH, &format!("/api/group-chats/{id}"), token).json(&body);
    let (status, _) = send(patch(&b_token, &team_id, json!({ "title": "Mine" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a participant who is not an admin");
    let (status, _) = send(patch(&other.token, &team_id, json!({ "title": "Mine" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another org's admin");
    let (status, _) = send(patch(&b_token, &room_id, json!({ "title": "Mine" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a private chat b does not see");
    rejected(patch(&a_token, &team_id, json!({ "removedAdmins": [a] })), "removedAdmins").await;
    rejected(patch(&a_token, &team_id, json!({ "newAdmins": [c] })), "newAdmins[0]").await;
    rejected(patch(&a_token, &team_id, json!({ "title": null })), "title").await;
    let (status, changed) =
        send(patch(&a_token, &team_id, json!({ "title": "Team 2", "description": null, "newAdmins": [b], "removedAdmins": [a] }))).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["title"], "Team 2");
    assert_eq!(changed["description"], Value::Null);
    assert_eq!(changed["category"], "teams");
    assert_eq!(strings(&changed["admins"]), vec![b.clone()]);

    // E54: all or none, each visible (404) and administered (403) by the caller.
    let (status, _) = send(wd(Method::DELETE, &format!("/api/group-chats?id={team_id}"), &a_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a is no longer an admin");
    let (status, _) = send(wd(Method::DELETE, &format!("/api/group-chats?id={team_id},{room_id}"), &b_token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "b does not see the room");
    rejected(wd(Method::DELETE, "/api/group-chats", &b_token), "id").await;
    rejected(wd(Method::DELETE, "/api/group-chats?id=nope", &b_token), "id").await;
    let second = create_chat(&app, &b_token, json!({ "groupType": "CHAT_GROUP", "title": "Second" })).await;
    let (status, _) = send(wd(Method::DELETE, &format!("/api/group-chats?id={team_id}&id={}", id_of(&second)), &b_token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = send(list(&a_token, "")).await;
    assert_eq!(ids(&page, "conversations"), vec![room_id.clone()]);
    let (status, _) = send(wd(Method::DELETE, &format!("/api/group-chats/{room_id}"), &c_token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the one-id alias");
    let (status, _) = send(patch(&c_token, &room_id, json!({ "title": "gone" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_add_and_remove_members_and_the_last_admin_stays() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Members").await;
    let (a, a_token) = app.member(&org, "a@members.example.com").await;
    let (b, b_token) = app.member(&org, "b@members.example.com").await;
    let (c, c_token) = app.member(&org, "c@members.example.com").await;
    let chat = id_of(&create_chat(&app, &a_token, json!({ "groupType": "CHAT_GROUP", "title": "M", "members": [{ "id": b }] })).await);
    let members = |m: Method, token: &str, body: Value| app.wd(m, &format!("/api/group-chats/{chat}/members"), token).json(&body);

    let (status, _) = send(members(Method::POST, &b_token, json!({ "members": [{ "id": c }] }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only admins add");
    rejected(members(Method::POST, &a_token, json!({})), "members").await;
    rejected(members(Method::POST, &a_token, json!({ "members": [{ "isAdmin": true }] })), "members[0].id").await;
    let (status, v) = send(members(Method::POST, &a_token, json!({ "members": [{ "id": c, "isAdmin": true }] }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(sorted(ids(&v, "participants")), sorted(vec![a.clone(), b.clone(), c.clone()]));
    assert_eq!(strings(&v["admins"]), sorted(vec![a.clone(), c.clone()]));

    let (status, _) = send(members(Method::DELETE, &b_token, json!({ "userIds": [c] }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only admins remove others");
    rejected(members(Method::DELETE, &a_token, json!({ "userIds": [a, c] })), "userIds").await;
    let (status, v) = send(members(Method::DELETE, &a_token, json!({ "userIds": [c] }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(strings(&v["admins"]), vec![a.clone()]);
    rejected(members(Method::DELETE, &a_token, json!({ "userIds": [a] })), "userIds").await;
    let (status, _) = send(members(Method::DELETE, &b_token, json!({ "userIds": [b] }))).await;
    assert!(status.is_success(), "a participant may leave: {status}");
    let (status, _) = send(app.wd(Method::POST, &format!("/api/{chat}/messages"), &c_token).json(&json!({ "message": "hi" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a removed member no longer posts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_for_participants_newest_first_with_replies_and_mentions() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Messages").await;
    let other = app.create_org("Other Messages").await;
    let (_a, a_token) = app.member(&org, "a@messages.example.com").await;
    let (b, b_token) = app.member(&org, "b@messages.example.com").await;
    let (_c, c_token) = app.member(&org, "c@messages.example.com").await;
    let (stranger, _) = app.member(&other, "s@othermessages.example.com").await;
    let chat = id_of(&create_chat(&app, &a_token, json!({ "groupType": "CHAT_GROUP", "title": "M", "members": [{ "id": b }] })).await);
    let private = id_of(&create_chat(&app, &a_token, json!({ "groupType": "ROOM", "isPrivate": true })).await);
    let messages = |m: Method, chat: &str, token: &str| app.wd(m, &format!("/api/{chat}/messages"), token);

    // A member who sees the chat but is not a participant: 403; anyone else: 404.
    for (chat, token, want) in [
        (&chat, &c_token, StatusCode::FORBIDDEN),
        (&chat, &org.token, StatusCode::FORBIDDEN),
        (&chat, &other.token, StatusCode::NOT_FOUND),
        (&private, &c_token, StatusCode::NOT_FOUND),
    ] {
        let (status, _) = send(messages(Method::POST, chat, token).json(&json!({ "message": "hi" }))).await;
        assert_eq!(status, want, "post");
        let (status, _) = send(messages(Method::GET, chat, token)).await;
        assert_eq!(status, want, "read");
        let (status, _) = send(app.wd(Method::GET, &format!("/api/group-chats/{chat}/stream"), token)).await;
        assert_eq!(status, want, "stream");
    }
    let (status, _) = send(messages(Method::GET, &uuid::Uuid::new_v4().to_string(), &a_token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    rejected(messages(Method::POST, &chat, &a_token).json(&json!({ "message": "  " })), "message").await;
    rejected(messages(Method::POST, &chat, &a_token).json(&json!({})), "message").await;
    rejected(messages(Method::POST, &chat, &a_token).json(&json!({ "message": "x".repeat(10_001) })), "message").await;
    rejected(messages(Method::POST, &chat, &a_token).json(&json!({ "message": "hi", "mention": [stranger] })), "mention[0]").await;
    rejected(messages(Method::POST, &chat, &a_token).json(&json!({ "fileId": [uuid::Uuid::new_v4()] })), "fileId[0]").await;
    rejected(
        messages(Method::POST, &chat, &a_token).json(&json!({ "message": "re", "replyOfMsgId": uuid::Uuid::new_v4() })),
        "replyOfMsgId",
    )
    .await;

    let first = post(&app, &a_token, &chat, "first").await;
    assert_eq!(first["type"], 1);
    assert_eq!(first["kind"], "text");
    let (status, second) =
        send(messages(Method::POST, &chat, &b_token).json(&json!({ "message": " second ", "mention": b, "replyOfMsgId": first["id"] })))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["message"], "second");
    assert_eq!(second["sender"]["id"], json!(b));
    assert_eq!(ids(&second, "mention"), vec![b.clone()]);
    assert_eq!(second["replyOfMsgId"], first["id"]);
    let file = crate::media::uploaded(&app, &org, "image/png", b"\x89PNG...").await;
    let (status, third) = send(messages(Method::POST, &chat, &a_token).json(&json!({ "fileId": [file] }))).await;
    assert_eq!(status, StatusCode::CREATED, "{third}");
    assert_eq!(ids(&third["files"], "files"), vec![file.clone()]);

    let (status, page) = send(messages(Method::GET, &chat, &b_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&page, "messages"), vec![id_of(&third), id_of(&second), id_of(&first)], "newest first");
    assert_eq!(page["messages"][2]["repliesCount"], 1);
    assert_eq!(page["nextCursor"], Value::Null);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = send(messages(Method::GET, &chat, &b_token).query(&[("per_page", "2"), ("cursor", &cursor)])).await;
        seen.extend(ids(&page, "messages"));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, vec![id_of(&third), id_of(&second), id_of(&first)], "pages neither skip nor repeat");
    rejected(messages(Method::GET, &chat, &b_token).query(&[("cursor", "nope")]), "cursor").await;
}

/// A conversation's live stream, read by the harness' SSE client.
struct Stream(SseStream);

impl Stream {
    async fn open(app: &TestApp, token: &str, chat: &str, last_event_id: Option<&str>) -> Stream {
        Stream(SseStream::open(app.wd(Method::GET, &format!("/api/group-chats/{chat}/stream"), token), last_event_id).await)
    }

    async fn next(&mut self) -> Option<SseItem> {
        self.0.next().await
    }

    async fn message(&mut self) -> (String, Value) {
        self.0.expect("message").await
    }
}

/// A chat of two members of a new org, made through `writer`; the second member's stream of it,
/// read through `reader`, has delivered the first message. Returns the first member's token (the
/// one who posts), the chat and the stream.
async fn a_chat_streaming(writer: &TestApp, reader: &TestApp, name: &str) -> (String, String, Stream) {
    let org = writer.create_org(name).await;
    let (_a, a_token) = writer.member(&org, &format!("a@{name}.example.com")).await;
    let (b, b_token) = writer.member(&org, &format!("b@{name}.example.com")).await;
    let chat = id_of(&create_chat(writer, &a_token, json!({ "groupType": "CHAT_GROUP", "title": name, "members": [{ "id": b }] })).await);
    let mut s = Stream::open(reader, &b_token, &chat, None).await;
    let m1 = post(writer, &a_token, &chat, "m1").await;
    assert_eq!(s.message().await.1["id"], m1["id"]);
    (a_token, chat, s)
}

/// A live stream reads NATS through the API's own connection, which has no pull heartbeat. When
/// every connection (the relay's too) goes silent without closing
/// (`roster_tests::SilencingProxy`), the clients' pings must notice it and connect again, and the
/// conversation goes on: the stream delivers every message, the one sent into the silence first,
/// in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_goes_on_without_gap_after_the_nats_connection_goes_silent() {
    let (_nats, proxy) = roster_tests::SilencingProxy::with_own_nats().await;
    let app = TestApp::spawn_with(roster_tests::Options { nats_url: Some(proxy.url()), ..Default::default() }).await;
    let (a_token, chat, mut s) = a_chat_streaming(&app, &app, "silence").await;
    proxy.silence();
    let m2 = post(&app, &a_token, &chat, "m2").await;
    // The conversation goes on, a message every second; a post the API refuses while its NATS
    // connection is being replaced (503) is simply not made.
    let sent = std::sync::Arc::new(std::sync::Mutex::new(vec![m2["id"].clone()]));
    let poster = {
        let (client, url, token, chat, sent) = (app.client.clone(), app.url.clone(), a_token.clone(), chat.clone(), sent.clone());
        tokio::spawn(async move {
            for i in 3.. {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let resp = client
                    .post(format!("{url}/api/{chat}/messages"))
                    .header("X-API-KEY", &token)
                    .json(&json!({ "message": format!("m{i}") }))
                    .send()
                    .await;
                if let Some(resp) = resp.ok().filter(|r| r.status() == StatusCode::CREATED) {
                    let id = resp.json::<Value>().await.unwrap()["id"].clone();
                    sent.lock().unwrap().push(id);
                }
            }
        })
    };
    // Three unanswered pings of 5 s, then a new connection: well within 45 s. At the client's
    // default (60 s), the silent connection would be given up only after up to three minutes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    let mut got = Vec::new();
    while got.len() < 3 {
        let (_, m) = tokio::time::timeout_at(deadline, s.message()).await.expect("three messages within 45 s of the silence");
        got.push(m["id"].clone());
    }
    poster.abort();
    assert_eq!(got, sent.lock().unwrap()[..3], "every message, the one sent into the silence first, in order");
}

/// Only the reading API's connection goes silent; the writer's and the relay's stay up. The server
/// sends the message at once, into the silence, and the reader's connection is replaced some 15 s
/// later with the server past that message. No later message comes to show the gap: the stream
/// must deliver it all the same (it stayed undelivered when the ordered consumer went on
/// unchecked after the new connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_into_a_silent_connection_arrives_without_a_later_one() {
    let (nats, proxy) = roster_tests::SilencingProxy::with_own_nats().await;
    let app = TestApp::spawn_with(roster_tests::Options { nats_url: Some(nats.url()), ..Default::default() }).await;
    let mut opts = app.same_log();
    opts.nats_url = Some(proxy.url());
    opts.roles = roster::Roles { api: true, relay: false, projector: false, sealer: false, notifier: false };
    let reader = TestApp::spawn_with(opts).await;
    let (a_token, chat, mut s) = a_chat_streaming(&app, &reader, "quiet").await;
    proxy.silence();
    let m2 = post(&app, &a_token, &chat, "m2").await;
    let (_, got) = tokio::time::timeout(Duration::from_secs(45), s.message()).await.expect("the message within 45 s of the silence");
    assert_eq!(got["id"], m2["id"]);
    reader.stop().await;
}

/// nats-server restarts under an open stream: its connection closes, the ephemeral consumer is
/// gone with the server's memory, and the client connects again to a JetStream that may still be
/// recovering its stream. The stream stays open and delivers what is posted after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_goes_on_after_nats_restarts() {
    let mut nats = roster_tests::own_nats().await;
    let app = TestApp::spawn_with(roster_tests::Options { nats_url: Some(nats.url()), ..Default::default() }).await;
    let (a_token, chat, mut s) = a_chat_streaming(&app, &app, "restart").await;
    nats.restart().await.expect("restart nats");
    // Refused (503) until the API's connection is back; then created.
    let m2 = loop {
        let (status, m) = send(app.wd(Method::POST, &format!("/api/{chat}/messages"), &a_token).json(&json!({ "message": "m2" }))).await;
        if status == StatusCode::CREATED {
            break m;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, got) = tokio::time::timeout(Duration::from_secs(45), s.message()).await.expect("the message within 45 s of the restart");
    assert_eq!(got["id"], m2["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_resumes_without_gap_or_duplicate_and_closes_on_removal() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Stream").await;
    let (_a, a_token) = app.member(&org, "a@stream.example.com").await;
    let (b, b_token) = app.member(&org, "b@stream.example.com").await;
    let chat = id_of(&create_chat(&app, &a_token, json!({ "groupType": "CHAT_GROUP", "title": "S", "members": [{ "id": b }] })).await);
    post(&app, &a_token, &chat, "before").await;

    // A message posted after the client connects reaches it (nothing older without Last-Event-ID).
    let mut s = Stream::open(&app, &b_token, &chat, None).await;
    let m1 = post(&app, &a_token, &chat, "m1").await;
    let (p1, got) = s.message().await;
    assert_eq!(got["id"], m1["id"]);
    assert_eq!(got["message"], "m1");
    assert_eq!(got["sender"]["email"], "a@stream.example.com");
    drop(s);

    // Away while several are posted: a resume gets exactly the rest, in order, then live ones.
    let mut sent = Vec::new();
    for i in 2..=5 {
        sent.push(post(&app, &a_token, &chat, &format!("m{i}")).await["message"].as_str().unwrap().to_string());
    }
    rejected(app.wd(Method::GET, &format!("/api/group-chats/{chat}/stream"), &b_token).header("Last-Event-ID", "nope"), "Last-Event-ID")
        .await;
    let mut s = Stream::open(&app, &b_token, &chat, Some(&p1)).await;
    let mut got = Vec::new();
    let mut positions = vec![p1.clone()];
    for _ in 2..=5 {
        let (p, m) = s.message().await;
        positions.push(p);
        got.push(m["message"].as_str().unwrap().to_string());
    }
    assert_eq!(got, sent, "every message after Last-Event-ID, once, in order");
    post(&app, &b_token, &chat, "m6").await;
    let (p6, m6) = s.message().await;
    assert_eq!(m6["message"], "m6", "then live");
    positions.push(p6.clone());
    let mut ordered = positions.clone();
    ordered.sort();
    ordered.dedup();
    assert_eq!(ordered, positions, "ids are increasing positions");

    // A resume from the very first message reads the whole history from the log.
    let mut again = Stream::open(&app, &b_token, &chat, Some(&"0".repeat(32))).await;
    let mut history = Vec::new();
    for _ in 0..7 {
        history.push(again.message().await.1["message"].as_str().unwrap().to_string());
    }
    assert_eq!(history, vec!["before", "m1", "m2", "m3", "m4", "m5", "m6"]);
    drop(again);

    // Removed: the stream says so and ends.
    let (status, _) =
        send(app.wd(Method::DELETE, &format!("/api/group-chats/{chat}/members"), &a_token).json(&json!({ "userIds": [b] }))).await;
    assert_eq!(status, StatusCode::OK);
    let closed = s.next().await.expect("a closing event");
    assert_eq!((closed.event.as_str(), closed.data.as_str()), ("closed", "removed"));
    assert!(s.next().await.is_none(), "the stream ends");
    let (status, _) = send(app.wd(Method::GET, &format!("/api/group-chats/{chat}/stream"), &b_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a former participant may not reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_in_a_conversation_is_an_event_and_a_message() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Meetings").await;
    let (_a, a_token) = app.member(&org, "a@meetings.example.com").await;
    let (b, b_token) = app.member(&org, "b@meetings.example.com").await;
    let (_c, c_token) = app.member(&org, "c@meetings.example.com").await;
    let chat = id_of(
        &create_chat(&app, &a_token, json!({ "groupType": "CHAT_GROUP", "title": "Mt", "isPrivate": true, "members": [{ "id": b }] }))
            .await,
    );
    let public = id_of(&create_chat(&app, &a_token, json!({ "groupType": "CHAT_GROUP", "title": "Open" })).await);
    let body = json!({ "title": "Sync", "userIds": [b], "startDateTime": "2031-03-01T10:00:00Z", "endDateTime": "2031-03-01T11:00:00Z",
                       "duration": 60 });
    let meetings = |chat: &str, token: &str| app.wd(Method::POST, &format!("/api/group-chats/{chat}/meetings"), token);

    let mut s = Stream::open(&app, &b_token, &chat, None).await;
    let (status, event) = send(meetings(&chat, &a_token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    assert_eq!(event["isMeeting"], true);
    assert_eq!(event["conversationId"], json!(chat));
    assert_eq!(event["title"], "Sync");
    let (_, pushed) = s.message().await;
    assert_eq!((pushed["kind"].as_str(), pushed["eventId"].as_str()), (Some("event"), event["id"].as_str()));

    let (_, events) = send(app.wd(Method::GET, "/api/events?onlyMeeting=true", &b_token)).await;
    assert_eq!(ids(&events, "events"), vec![id_of(&event)], "visible in /api/events");
    let (_, events) = send(app.wd(Method::GET, "/api/events?onlyMeeting=true", &c_token)).await;
    assert!(ids(&events, "events").is_empty(), "a private chat's meeting is its participants'");
    let (_, page) = send(app.wd(Method::GET, &format!("/api/{chat}/messages"), &b_token)).await;
    let m = &page["messages"][0];
    assert_eq!((m["type"].clone(), m["kind"].clone()), (json!(2), json!("event")));
    assert_eq!(m["event"]["id"], event["id"]);
    assert_eq!(m["event"]["title"], "Sync");

    let (status, _) = send(meetings(&public, &c_token).json(&body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a non-participant who sees the chat");
    let (status, _) = send(meetings(&chat, &c_token).json(&body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    rejected(meetings(&chat, &a_token).json(&json!({ "title": "No time" })), "startDateTime").await;
    rejected(
        meetings(&chat, &a_token)
            .json(&json!({ "title": "Bad", "startDateTime": "2031-03-01T10:00:00Z", "endDateTime": "2031-03-01T09:00:00Z" })),
        "endDateTime",
    )
    .await;
}
