//! Posts (E11–E14), news (E15–E18), their reactions and comments (Roster), over HTTP; and the
//! visibility matrix (DESIGN §11): generated audiences × the org's relations × readers, where the
//! feed, its count and direct access must all agree with the rules computed here.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use roster_tests::{send, TestApp};
use serde_json::{json, Value};

async fn create(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, v) = send(app.wd(Method::POST, path, token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {v}");
    v
}

/// A 400 whose message names `field` first.
async fn rejected(rb: reqwest::RequestBuilder, field: &str, what: &Value) {
    let (status, e) = send(rb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{field}:")) || message.starts_with(&format!("{field} ")), "{what}: want {field}, got {e}");
}

async fn events_of(app: &TestApp, stream: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version")
        .bind(uuid::Uuid::parse_str(stream).unwrap())
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn ids(page: &Value, key: &str) -> Vec<String> {
    page[key].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_created_changed_and_deleted_by_its_author_or_an_admin() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Posts").await;
    let other = app.create_org("Other Posts").await;
    let (author, author_token) = app.member(&org, "author@posts.example.com").await;
    let (reader, reader_token) = app.member(&org, "reader@posts.example.com").await;
    let file = crate::media::uploaded(&app, &org, "image/png", b"\x89PNG...").await;
    let foreign_file = crate::media::uploaded(&app, &other, "image/png", b"\x89PNG...").await;

    let body = json!({
        "postText": "  Hello world  ",
        "status": "PUBLISHED",
        "tags": "#myfirstpost",
        "mention": reader,
        "fileIds": [file],
        "location": { "textAddress": "1 Main St", "coordinates": { "lat": 48.85, "lng": 2.35 } },
        "taggedUserIds": [reader],
        "gif": "https://gifs.example.com/a.gif",
        "links": "https://example.com",
        "linkPreviews": [{ "title": "Example", "description": "d", "image": "https://example.com/i.png", "link": "https://example.com" }],
        "permissions": { "public": true },
        "newsTitle": "ignored on a post",
    });
    let p = create(&app, &author_token, "/api/posts", body).await;
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["postText"], "Hello world");
    assert_eq!(p["status"], "PUBLISHED");
    assert_eq!(p["user"]["id"], author.as_str());
    assert_eq!(p["files"][0]["id"], file.as_str());
    assert_eq!(p["tags"], json!(["#myfirstpost"]));
    assert_eq!(p["mentions"][0]["id"], reader.as_str());
    assert_eq!(p["taggedUsers"][0]["id"], reader.as_str());
    assert_eq!(p["permissions"]["taggedUsers"], json!([reader]));
    assert_eq!(p["gif"], "https://gifs.example.com/a.gif");
    assert_eq!(p["links"], json!(["https://example.com"]));
    assert_eq!(p["linkPreviews"][0]["title"], "Example");
    assert_eq!(p["location"], json!({ "textAddress": "1 Main St", "coordinates": { "lat": 48.85, "lng": 2.35 } }));
    assert_eq!((p["reactions"].clone(), p["reactionUsers"].clone(), p["commentsCount"].clone()), (json!([]), json!([]), json!(0)));
    assert!(p["postedAt"].is_string() && p.get("newsTitle").is_none(), "{p}");

    // Each rule is a 400 naming its field.
    let stranger = uuid::Uuid::new_v4().to_string();
    for (body, field) in [
        (json!({}), "postText"),
        (json!({ "postText": "   ", "fileIds": [], "gif": " " }), "postText"),
        (json!({ "postText": "x", "status": "DRAFT" }), "status"),
        (json!({ "postText": "x".repeat(10_001) }), "postText"),
        (json!({ "postText": "nul \u{0000}" }), "postText"),
        (json!({ "postText": "x", "tags": ["ok", " "] }), "tags[1]"),
        (json!({ "postText": "x", "tags": vec!["t"; 51] }), "tags"),
        (json!({ "postText": "x", "mention": [reader, stranger] }), "mention[1]"),
        (json!({ "postText": "x", "taggedUserIds": [stranger] }), "taggedUserIds[0]"),
        (json!({ "postText": "x", "permissions": { "users": [stranger] } }), "permissions.users[0]"),
        (json!({ "postText": "x", "permissions": { "groups": [stranger] } }), "permissions.groups[0]"),
        (json!({ "fileIds": [foreign_file] }), "fileIds[0]"),
        (json!({ "postText": "x", "gif": "g".repeat(2049) }), "gif"),
        (json!({ "postText": "x", "links": [""] }), "links[0]"),
        (
            json!({ "postText": "x", "location": { "textAddress": "a", "coordinates": { "lat": 91, "lng": 0 } } }),
            "location.coordinates.lat",
        ),
        (json!({ "postText": "x", "linkPreviews": [{ "title": "t".repeat(1001) }] }), "linkPreviews[0].title"),
    ] {
        rejected(app.wd(Method::POST, "/api/posts", &author_token).json(&body), field, &body).await;
    }
    let (status, _) = send(app.wd(Method::POST, "/api/posts", "wrong").json(&json!({ "postText": "x" }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A gif alone, or a file alone, is a post.
    create(&app, &author_token, "/api/posts", json!({ "gif": "https://gifs.example.com/b.gif" })).await;

    // PATCH: absent keeps, null/empty clear, the rule still holds; only the author or an admin.
    let path = format!("/api/posts/{id}");
    let (status, e) = send(app.wd(Method::PATCH, &path, &reader_token).json(&json!({ "postText": "mine now" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let (status, _) = send(app.wd(Method::PATCH, &path, &other.token).json(&json!({ "postText": "x" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another org's post is not found");
    let (status, _) = send(app.wd(Method::PATCH, &format!("/api/posts/{stranger}"), &author_token).json(&json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(app.wd(Method::PATCH, "/api/posts/not-a-uuid", &author_token).json(&json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, p) =
        send(app.wd(Method::PATCH, &path, &author_token).json(&json!({ "postText": null, "tags": [], "mention": null, "location": null })))
            .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(
        (p["postText"].clone(), p["tags"].clone(), p["mentions"].clone(), p["location"].clone()),
        (json!(""), json!([]), json!([]), Value::Null)
    );
    assert_eq!(p["gif"], "https://gifs.example.com/a.gif", "absent keeps: {p}");
    assert_eq!(p["taggedUsers"][0]["id"], reader.as_str(), "neither taggedUserIds nor permissions sent: kept");
    let body = json!({ "gif": null, "fileIds": [] });
    rejected(app.wd(Method::PATCH, &path, &author_token).json(&body), "postText", &body).await;
    let (status, p) =
        send(app.wd(Method::PATCH, &path, &org.token).json(&json!({ "postText": "by the admin", "permissions": { "team": true } }))).await;
    assert_eq!(status, StatusCode::OK, "an admin may change any post: {p}");
    assert_eq!((p["permissions"]["team"].clone(), p["taggedUsers"].clone()), (json!(true), json!([])), "{p}");
    // The reader no longer shares a team with the author: the post is now invisible to them.
    let (status, _) = send(app.wd(Method::PATCH, &path, &reader_token).json(&json!({ "postText": "x" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(app.wd(Method::PATCH, &path, &author_token).json(&json!({ "postText": "by the admin" }))).await;
    assert_eq!(status, StatusCode::OK, "an unchanged patch is not an error");

    let (status, _) = send(app.wd(Method::DELETE, &path, &other.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(app.wd(Method::DELETE, &path, &author_token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(app.wd(Method::DELETE, &path, &author_token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, feed) = send(app.wd(Method::GET, "/api/posts", &org.token)).await;
    assert!(!ids(&feed, "posts").contains(&id), "{feed}");
    assert_eq!(events_of(&app, &id).await, ["PostCreated", "PostUpdated", "PostUpdated", "PostDeleted"]);

    // A non-author who sees a public post gets 403 on DELETE.
    let p = create(&app, &author_token, "/api/posts", json!({ "postText": "stay" })).await;
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/posts/{}", p["id"].as_str().unwrap()), &reader_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_needs_a_title_and_a_news_category() {
    let app = TestApp::spawn().await;
    let org = app.create_org("News").await;
    let (_, token) = app.member(&org, "writer@news.example.com").await;
    for (code, name) in [(6, "Company"), (7, "Handbooks")] {
        create(&app, &org.token, "/api/categories", json!({ "moduleCode": code, "category": name })).await;
    }
    let cover = crate::media::uploaded(&app, &org, "image/png", b"\x89PNG...").await;

    for (body, field) in [
        (json!({ "category": "Company" }), "newsTitle"),
        (json!({ "newsTitle": "  ", "category": "Company" }), "newsTitle"),
        (json!({ "newsTitle": "t".repeat(301), "category": "Company" }), "newsTitle"),
        (json!({ "newsTitle": "Hi" }), "category"),
        (json!({ "newsTitle": "Hi", "category": "Nope" }), "category"),
        (json!({ "newsTitle": "Hi", "category": "Handbooks" }), "category"),
        (json!({ "newsTitle": "Hi", "category": "Company", "coverImage": uuid::Uuid::new_v4() }), "coverImage"),
    ] {
        rejected(app.wd(Method::POST, "/api/news", &token).json(&body), field, &body).await;
    }
    let n = create(
        &app,
        &token,
        "/api/news",
        json!({ "newsTitle": "Quarterly", "category": "company", "coverImage": cover, "postText": "Numbers are up", "tags": ["q3"] }),
    )
    .await;
    let id = n["id"].as_str().unwrap().to_string();
    assert_eq!(
        (n["newsTitle"].as_str(), n["category"].as_str(), n["postText"].as_str()),
        (Some("Quarterly"), Some("company"), Some("Numbers are up"))
    );
    assert_eq!(n["coverImage"]["id"], cover.as_str());
    assert_eq!(n["reactions"], json!([]));

    let (_, news) = send(app.wd(Method::GET, "/api/news", &token)).await;
    assert_eq!(ids(&news, "news"), [id.as_str()]);
    assert_eq!(news["news"][0]["coverImage"]["id"], cover.as_str());
    let (_, posts) = send(app.wd(Method::GET, "/api/posts", &token)).await;
    assert_eq!(posts["meta"]["totalResults"], 0, "news is not in the posts feed");
    let (status, _) = send(app.wd(Method::PATCH, &format!("/api/posts/{id}"), &token).json(&json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a news item is not a post");

    let path = format!("/api/news/{id}");
    for (body, field) in [
        (json!({ "newsTitle": null }), "newsTitle"),
        (json!({ "category": null }), "category"),
        (json!({ "category": "Handbooks" }), "category"),
    ] {
        rejected(app.wd(Method::PATCH, &path, &token).json(&body), field, &body).await;
    }
    let (status, n) = send(app.wd(Method::PATCH, &path, &token).json(&json!({ "coverImage": null, "newsTitle": "Q3" }))).await;
    assert_eq!(status, StatusCode::OK, "{n}");
    assert_eq!((n["coverImage"].clone(), n["newsTitle"].clone(), n["category"].clone()), (Value::Null, json!("Q3"), json!("company")));
    let (status, _) = send(app.wd(Method::DELETE, &path, &token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(events_of(&app, &id).await, ["PostCreated", "PostUpdated", "PostDeleted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_and_comments_are_for_readers_who_see_the_item() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Reacts").await;
    let other = app.create_org("Other Reacts").await;
    let (author, author_token) = app.member(&org, "author@reacts.example.com").await;
    let (reader, reader_token) = app.member(&org, "reader@reacts.example.com").await;
    let p = create(&app, &author_token, "/api/posts", json!({ "postText": "react to me" })).await;
    let id = p["id"].as_str().unwrap().to_string();
    let reactions = format!("/api/posts/{id}/reactions");

    let react = |token: &str, method: Method, kind: &str| app.wd(method, &reactions, token).json(&json!({ "type": kind }));
    let (status, p) = send(react(&reader_token, Method::POST, "like")).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let (_, p) = send(react(&reader_token, Method::POST, "like")).await;
    assert_eq!(p["reactions"], json!([{ "type": "like", "count": 1 }]), "a repeat changes nothing");
    send(react(&reader_token, Method::POST, "LOVE")).await;
    let (_, p) = send(react(&author_token, Method::POST, "like")).await;
    let mut counts: Vec<(String, i64)> =
        p["reactions"].as_array().unwrap().iter().map(|r| (r["type"].as_str().unwrap().into(), r["count"].as_i64().unwrap())).collect();
    counts.sort();
    assert_eq!(counts, [("like".to_string(), 2), ("love".to_string(), 1)]);
    assert_eq!(ids(&p, "reactionUsers"), [author.clone(), reader.clone()], "latest first");
    let (status, p) = send(react(&reader_token, Method::DELETE, "like")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, p2) = send(react(&reader_token, Method::DELETE, "like")).await;
    assert_eq!(p["reactions"], p2["reactions"], "taking back twice changes nothing");
    for body in [json!({ "type": "meh" }), json!({})] {
        rejected(app.wd(Method::POST, &reactions, &reader_token).json(&body), "type", &body).await;
    }

    let comments = format!("/api/posts/{id}/comments");
    for i in 0..3 {
        let c = create(&app, &reader_token, &comments, json!({ "text": format!("comment {i}") })).await;
        assert_eq!((c["text"].clone(), c["user"]["id"].clone()), (json!(format!("comment {i}")), json!(reader)));
    }
    for body in [json!({}), json!({ "text": "  " }), json!({ "text": "c".repeat(4001) })] {
        rejected(app.wd(Method::POST, &comments, &reader_token).json(&body), "text", &body).await;
    }
    let (status, page) = send(app.wd(Method::GET, &format!("{comments}?per_page=2&cur_page=2"), &author_token)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["comments"][0]["text"], "comment 2");
    assert_eq!(page["meta"], json!({ "perPage": 2, "totalPages": 2, "totalResults": 3, "curPage": 2, "nextPage": null }));
    let (_, feed) = send(app.wd(Method::GET, "/api/posts", &reader_token)).await;
    assert_eq!(feed["posts"][0]["commentsCount"], 3);

    // An item the caller may not see: 404 for reactions and comments, as for another org.
    let hidden = create(&app, &author_token, "/api/posts", json!({ "postText": "mine", "permissions": { "onlyMe": true } })).await;
    let hidden = hidden["id"].as_str().unwrap();
    for token in [reader_token.as_str(), other.token.as_str()] {
        let (status, _) =
            send(app.wd(Method::POST, &format!("/api/posts/{hidden}/reactions"), token).json(&json!({ "type": "like" }))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(app.wd(Method::GET, &format!("/api/posts/{hidden}/comments"), token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(app.wd(Method::POST, &format!("/api/posts/{hidden}/comments"), token).json(&json!({ "text": "hi" }))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = send(app.wd(Method::GET, &format!("/api/posts/{hidden}/comments"), &org.token)).await;
    assert_eq!(status, StatusCode::OK, "an org admin sees everything");
    assert_eq!(
        events_of(&app, &id).await,
        ["PostCreated", "PostReacted", "PostReacted", "PostReacted", "PostUnreacted", "PostCommented", "PostCommented", "PostCommented"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_order_page_and_snapshot_without_skipping_or_repeating() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Feeds").await;
    let (_, token) = app.member(&org, "reader@feeds.example.com").await;
    let mut made = Vec::new();
    for i in 0..4 {
        made.push(create(&app, &org.token, "/api/posts", json!({ "postText": format!("post {i}") })).await);
    }
    fn id_at(made: &[Value], i: usize) -> String {
        made[i]["id"].as_str().unwrap().to_string()
    }
    let id = |i: usize| id_at(&made, i);
    // Post 1 is the most reacted, post 2 the most commented.
    for kind in ["like", "wow"] {
        send(app.wd(Method::POST, &format!("/api/posts/{}/reactions", id(1)), &token).json(&json!({ "type": kind }))).await;
    }
    send(app.wd(Method::POST, &format!("/api/posts/{}/reactions", id(3)), &token).json(&json!({ "type": "sad" }))).await;
    for _ in 0..2 {
        create(&app, &token, &format!("/api/posts/{}/comments", id(2)), json!({ "text": "hi" })).await;
    }
    let feed = |q: &str| app.wd(Method::GET, &format!("/api/posts?{q}"), &token);
    let (_, a) = send(feed("sort_key=a&per_page=10")).await;
    assert_eq!(ids(&a, "posts"), [id(3), id(2), id(1), id(0)]);
    let (_, b) = send(feed("sort_key=b")).await;
    assert_eq!(ids(&b, "posts"), [id(1), id(3), id(2), id(0)], "most reacted, ties by recent");
    let (_, c) = send(feed("sort_key=c")).await;
    assert_eq!(ids(&c, "posts"), [id(2), id(3), id(1), id(0)], "most commented, ties by recent");

    // `time` is the snapshot: only items posted at or before it.
    let at = made[1]["postedAt"].as_str().unwrap();
    let (status, snap) = send(feed(&format!("time={}", urlencode(at)))).await;
    assert_eq!(status, StatusCode::OK, "{snap}");
    assert_eq!(ids(&snap, "posts"), [id(1), id(0)]);
    assert_eq!(snap["meta"]["totalResults"], 2);

    // Pages at the edges: an exact multiple, the last page, beyond it.
    let (_, p2) = send(feed("per_page=2&cur_page=2")).await;
    assert_eq!(ids(&p2, "posts"), [id(1), id(0)]);
    assert_eq!(p2["meta"], json!({ "perPage": 2, "totalPages": 2, "totalResults": 4, "curPage": 2, "nextPage": null }));
    let (_, p1) = send(feed("per_page=3")).await;
    assert_eq!(p1["meta"], json!({ "perPage": 3, "totalPages": 2, "totalResults": 4, "curPage": 1, "nextPage": 2 }));
    let (_, p3) = send(feed("per_page=2&cur_page=3")).await;
    assert_eq!(p3["posts"], json!([]));
    assert_eq!(p3["meta"], json!({ "perPage": 2, "totalPages": 2, "totalResults": 4, "curPage": 3, "nextPage": null }));

    for (q, field) in [
        ("time=yesterday", "time"),
        ("time=10000-01-01T00:00:00Z", "time"),
        ("sort_key=d", "sort_key"),
        ("per_page=1001", "per_page"),
        ("per_page=x", "per_page"),
        ("cur_page=0", "cur_page"),
    ] {
        rejected(feed(q), field, &json!(q)).await;
    }
    let (status, _) = send(app.wd(Method::GET, "/api/posts", "wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Many posts sharing one timestamp: paging yields each exactly once, in id order.
    for i in 0..7 {
        made.push(create(&app, &org.token, "/api/posts", json!({ "postText": format!("same time {i}") })).await);
    }
    let shared = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    pin_posted_at(&app, "UPDATE rm_content.posts SET posted_at = $1", shared).await;
    let mut seen = Vec::new();
    for page in 1..=5 {
        let (_, v) = send(feed(&format!("per_page=3&cur_page={page}&time=2030-01-01T00:00:00Z"))).await;
        seen.extend(ids(&v, "posts"));
    }
    let mut want: Vec<String> = (0..made.len()).map(|i| id_at(&made, i)).collect();
    want.sort_by(|a, b| uuid::Uuid::parse_str(b).unwrap().cmp(&uuid::Uuid::parse_str(a).unwrap()));
    assert_eq!(seen, want);
    let (_, before) = send(feed("time=2029-12-31T23:59:59Z")).await;
    assert_eq!(before["meta"]["totalResults"], 0);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

// ----- the visibility matrix ------------------------------------------------------------------------

/// The members of the matrix org, by the relation each has to the author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Author,
    Follower,
    Supervisor,
    Teammate,
    AdditionalTeam,
    Reportee,
    /// In the Administrators security group (which makes them an org admin).
    AdminGroup,
    AtLocation,
    Plain,
    OrgAdmin,
    Stranger,
}

const MEMBERS: [Who; 8] =
    [Who::Follower, Who::Supervisor, Who::Teammate, Who::AdditionalTeam, Who::Reportee, Who::AdminGroup, Who::AtLocation, Who::Plain];

#[derive(Debug, Clone)]
struct Audience {
    public: bool,
    friends: bool,
    team: bool,
    only_me: bool,
    users: Vec<Who>,
    /// true = Administrators, false = Users.
    groups: Vec<bool>,
    location: bool,
    tagged: Vec<Who>,
}

fn audiences() -> impl Strategy<Value = Audience> {
    let who = || proptest::collection::vec(proptest::sample::select(MEMBERS.to_vec()), 0..3);
    // Flags mostly off, so the lists decide often.
    let flag = || proptest::bool::weighted(0.25);
    (flag(), flag(), flag(), proptest::bool::weighted(0.15), who(), proptest::collection::vec(any::<bool>(), 0..2), flag(), who()).prop_map(
        |(public, friends, team, only_me, users, groups, location, tagged)| Audience {
            public,
            friends,
            team,
            only_me,
            users,
            groups,
            location,
            tagged,
        },
    )
}

/// DESIGN §11, stated independently of the SQL.
fn may_see(a: &Audience, r: Who) -> bool {
    match r {
        // Joining the Administrators group makes a member an org admin.
        Who::Author | Who::OrgAdmin | Who::AdminGroup => return true,
        Who::Stranger => return false,
        _ => {}
    }
    if a.only_me {
        return false;
    }
    let shares_team = matches!(r, Who::Supervisor | Who::Teammate | Who::AdditionalTeam | Who::Reportee);
    let in_group = |admins: bool| if admins { r == Who::AdminGroup } else { r != Who::AdminGroup };
    a.public
        || (a.friends && r == Who::Follower)
        || (a.team && shares_team)
        || a.users.contains(&r)
        || a.tagged.contains(&r)
        || a.groups.iter().any(|g| in_group(*g))
        || (a.location && r == Who::AtLocation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visibility_matrix_agrees_in_feed_count_and_direct_access() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Matrix").await;
    let other = app.create_org("Matrix Other").await;
    let mut people: BTreeMap<Who, (String, String)> = BTreeMap::new();
    people.insert(Who::OrgAdmin, (org.admin_id.clone(), org.token.clone()));
    let (stranger, stranger_token) = app.member(&other, "stranger@matrixother.example.com").await;
    people.insert(Who::Stranger, (stranger, stranger_token));
    for w in std::iter::once(Who::Author).chain(MEMBERS) {
        people.insert(w, app.member(&org, &format!("{w:?}@matrix.example.com").to_lowercase()).await);
    }
    let id = |w: Who| people[&w].0.clone();
    let patch_user = |w: Who, body: Value| {
        let path = format!("/api/users/{}", people[&w].0);
        app.wd(Method::PATCH, &path, &org.token).json(&body)
    };
    // Relations: the author reports to the supervisor, as does the teammate; another member joined
    // the supervisor's team as an additional team; the reportee reports to the author.
    for (w, body) in [
        (Who::Author, json!({ "reportsTo": id(Who::Supervisor) })),
        (Who::Teammate, json!({ "reportsTo": id(Who::Supervisor) })),
        (Who::AdditionalTeam, json!({ "addAdditionalTeams": [id(Who::Supervisor)] })),
        (Who::Reportee, json!({ "reportsTo": id(Who::Author) })),
    ] {
        let (status, v) = send(patch_user(w, body)).await;
        assert_eq!(status, StatusCode::OK, "{w:?}: {v}");
    }
    let (status, v) = send(app.wd(Method::POST, &format!("/api/users/{}/follow", id(Who::Author)), &people[&Who::Follower].1)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, groups) = send(app.wd(Method::GET, "/api/security_groups", &org.token)).await;
    let group =
        |name: &str| groups["groups"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap()["id"].as_str().unwrap().to_string();
    let (admins, users) = (group("Administrators"), group("Users"));
    let (status, v) = send(
        app.wd(Method::POST, &format!("/api/security_groups/{admins}/members"), &org.token).json(&json!({ "ids": [id(Who::AdminGroup)] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let location = create(&app, &org.token, "/api/locations", json!({ "name": "Paris" })).await;
    let location = location["id"].as_str().unwrap().to_string();
    let (status, v) = send(
        app.wd(Method::POST, &format!("/api/locations/{location}/members"), &org.token)
            .json(&json!({ "addMembers": [id(Who::AtLocation)] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let readers: Vec<Who> = people.keys().copied().collect();
    let mut expected: BTreeMap<Who, BTreeSet<String>> = readers.iter().map(|r| (*r, BTreeSet::new())).collect();
    let mut runner = TestRunner::new(Config { cases: 20, ..Config::default() });
    for _ in 0..20 {
        let a = audiences().new_tree(&mut runner).unwrap().current();
        let ids_of = |v: &[Who]| v.iter().map(|w| id(*w)).collect::<Vec<_>>();
        let permissions = json!({
            "public": a.public, "friends": a.friends, "team": a.team, "onlyMe": a.only_me,
            "users": ids_of(&a.users),
            "groups": a.groups.iter().map(|g| if *g { admins.clone() } else { users.clone() }).collect::<Vec<_>>(),
            "locations": if a.location { vec![location.clone()] } else { vec![] },
            "taggedUsers": ids_of(&a.tagged),
        });
        let post = create(&app, &people[&Who::Author].1, "/api/posts", json!({ "postText": "matrix", "permissions": permissions })).await;
        let post = post["id"].as_str().unwrap().to_string();
        for r in &readers {
            let token = &people[r].1;
            let visible = may_see(&a, *r);
            if visible {
                expected.get_mut(r).unwrap().insert(post.clone());
            }
            let (status, feed) = send(app.wd(Method::GET, "/api/posts?per_page=1000", token)).await;
            assert_eq!(status, StatusCode::OK);
            let listed: BTreeSet<String> = ids(&feed, "posts").into_iter().collect();
            assert_eq!(&listed, &expected[r], "{r:?} reading {a:?}");
            assert_eq!(feed["meta"]["totalResults"], expected[r].len(), "{r:?}: meta counts exactly what is listed");
            let (status, _) = send(app.wd(Method::GET, &format!("/api/posts/{post}/comments"), token)).await;
            assert_eq!(status, if visible { StatusCode::OK } else { StatusCode::NOT_FOUND }, "{r:?} comments of {a:?}");
            if !matches!(r, Who::Author | Who::OrgAdmin | Who::AdminGroup) {
                let (status, _) = send(app.wd(Method::PATCH, &format!("/api/posts/{post}"), token).json(&json!({ "postText": "x" }))).await;
                assert_eq!(status, if visible { StatusCode::FORBIDDEN } else { StatusCode::NOT_FOUND }, "{r:?} patching {a:?}");
            }
        }
    }
}

// ----- "team of X" at the SQL function --------------------------------------------------------------

/// One user of a generated org: whom they report to and which teams they joined (indexes into
/// the org's users, or `None`/out of range: someone outside it), whether they are deleted, and
/// whether they gave an item a team audience.
#[derive(Debug, Clone)]
struct TeamUser {
    reports_to: Option<u8>,
    joined: Vec<u8>,
    deleted: bool,
    author: bool,
}

fn team_orgs() -> impl Strategy<Value = Vec<TeamUser>> {
    // The share of authors varies per org, so that the authors are sometimes fewer than a
    // reader's team and sometimes more: the function walks whichever is smaller.
    (0u8..=100).prop_flat_map(|share| {
        let user = (
            proptest::option::weighted(0.7, 0u8..28),
            proptest::collection::vec(0u8..28, 0..3),
            proptest::bool::weighted(0.1),
            (0u8..100).prop_map(move |roll| roll < share),
        )
            .prop_map(|(reports_to, joined, deleted, author)| TeamUser { reports_to, joined, deleted, author });
        proptest::collection::vec(user, 1..24)
    })
}

/// `content_reader_grants` names, as "team of X" (kind 5), exactly the team authors X of the
/// reader's org who share a team with the reader (migration 0032), and `content_teammates_of`
/// everyone who does: checked against the rule stated here over generated orgs, with the org's
/// rows written straight into the read model inside a transaction that is rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_grants_name_the_teammates_who_gave_a_team_audience() {
    let app = TestApp::spawn().await;
    let mut runner = TestRunner::new(Config { cases: 48, ..Config::default() });
    let (mut walked_authors, mut walked_team) = (0, 0);
    for case in 0..48 {
        let users = team_orgs().new_tree(&mut runner).unwrap().current();
        let org = uuid::Uuid::new_v4();
        let ids: Vec<uuid::Uuid> = users.iter().map(|_| uuid::Uuid::new_v4()).collect();
        // An index past the org's users stands for someone outside it.
        let outsider = uuid::Uuid::new_v4();
        let who = |i: u8| ids.get(i as usize).copied().unwrap_or(outsider);
        let teams = |i: usize| -> BTreeSet<uuid::Uuid> {
            let u = &users[i];
            std::iter::once(ids[i]).chain(u.reports_to.map(who)).chain(u.joined.iter().map(|j| who(*j))).collect()
        };

        let mut tx = app.pool.begin().await.unwrap();
        for (i, u) in users.iter().enumerate() {
            let joined: Vec<String> = u.joined.iter().map(|j| who(*j).to_string()).collect();
            sqlx::query(
                "INSERT INTO rm_directory.users (id, org_id, number, email, login, first_name, last_name, role, status,
                                                 reports_to, additional_teams, deleted, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $4, 'T', 'U', 'user', 'active', $5, $6, $7, now(), now())",
            )
            .bind(ids[i])
            .bind(org)
            .bind(i as i64)
            .bind(format!("u{i}@team.example.com"))
            .bind(u.reports_to.map(who))
            .bind(json!(joined))
            .bind(u.deleted)
            .execute(&mut *tx)
            .await
            .unwrap();
            if u.author {
                sqlx::query("INSERT INTO rm_content.team_authors (org_id, author) VALUES ($1, $2)")
                    .bind(org)
                    .bind(ids[i])
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
        }
        let authors = users.iter().filter(|u| u.author).count();
        for r in (0..users.len()).filter(|r| !users[*r].deleted) {
            let mates: BTreeSet<uuid::Uuid> =
                (0..users.len()).filter(|x| !users[*x].deleted && !teams(*x).is_disjoint(&teams(r))).map(|x| ids[x]).collect();
            let expected: BTreeSet<uuid::Uuid> =
                mates.iter().copied().filter(|m| users[ids.iter().position(|i| i == m).unwrap()].author).collect();
            let got: BTreeSet<uuid::Uuid> = sqlx::query_scalar("SELECT ref FROM content_reader_grants($1) WHERE kind = 5")
                .bind(ids[r])
                .fetch_all(&mut *tx)
                .await
                .unwrap()
                .into_iter()
                .collect();
            assert_eq!(got, expected, "case {case}, reader {r}: {users:?}");
            let all: BTreeSet<uuid::Uuid> =
                sqlx::query_scalar("SELECT content_teammates_of($1)").bind(ids[r]).fetch_all(&mut *tx).await.unwrap().into_iter().collect();
            assert_eq!(all, mates, "case {case}, reader {r}: {users:?}");
            // Which side the function walked: the team's listing (a member once per team they
            // share, as the function counts it) against the org's authors.
            let listing: usize = teams(r)
                .iter()
                .map(|t| {
                    (0..users.len())
                        .filter(|x| !users[*x].deleted)
                        .map(|x| {
                            (ids[x] == *t) as usize
                                + (users[x].reports_to.map(who) == Some(*t)) as usize
                                + users[x].joined.iter().any(|j| who(*j) == *t) as usize
                        })
                        .sum::<usize>()
                })
                .sum();
            if listing > authors {
                walked_authors += 1
            } else {
                walked_team += 1
            }
        }
        tx.rollback().await.unwrap();
    }
    assert!(walked_authors > 0 && walked_team > 0, "both sides walked: authors {walked_authors}, team {walked_team}");
}

/// The feed's `meta` is kept per audience (issue #13): it must follow every change of a post's
/// audience, deletes, and readers' own relations, and count a post reached through several of a
/// reader's grants once; pages of a member walk each grant's index, so they must still merge into
/// one order without skipping or repeating a post, whatever the order and however ties fall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_meta_follows_audience_changes_and_pages_merge_grants_exactly() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Feed Meta").await;
    let (author, author_token) = app.member(&org, "author@feedmeta.example.com").await;
    let (reader, reader_token) = app.member(&org, "reader@feedmeta.example.com").await;
    let total = |token: String, path: &'static str| {
        let app = &app;
        async move {
            let (status, v) = send(app.wd(Method::GET, &format!("{path}?per_page=1000"), &token)).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            let listed = v[&path["/api/".len()..]].as_array().unwrap().len();
            assert_eq!(v["meta"]["totalResults"], listed, "meta counts exactly what is listed: {v}");
            listed
        }
    };
    let reader_sees = || total(reader_token.clone(), "/api/posts");
    let admin_sees = || total(org.token.clone(), "/api/posts");
    // The author's own posts are counted apart from the audiences they share with others
    // (migration 0040): every change below must move both.
    let author_sees = || total(author_token.clone(), "/api/posts");

    // Public and named: reached through two of the reader's grants, one post.
    let both =
        create(&app, &author_token, "/api/posts", json!({ "postText": "both", "permissions": { "public": true, "users": [reader] } }))
            .await;
    let both = both["id"].as_str().unwrap().to_string();
    let mine = create(&app, &author_token, "/api/posts", json!({ "postText": "mine", "permissions": { "onlyMe": true } })).await;
    let mine = mine["id"].as_str().unwrap().to_string();
    let friends = create(&app, &author_token, "/api/posts", json!({ "postText": "friends", "permissions": { "friends": true } })).await;
    assert_eq!((reader_sees().await, admin_sees().await, author_sees().await), (1, 3, 3));

    // The reader's own relation changes what they see, at once.
    let (status, v) = send(app.wd(Method::POST, &format!("/api/users/{author}/follow"), &reader_token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((reader_sees().await, author_sees().await), (2, 3));
    // Audience changes move the post between audiences.
    let (status, v) =
        send(app.wd(Method::PATCH, &format!("/api/posts/{mine}"), &author_token).json(&json!({ "permissions": { "public": true } }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((reader_sees().await, admin_sees().await, author_sees().await), (3, 3, 3));
    let (status, v) =
        send(app.wd(Method::PATCH, &format!("/api/posts/{both}"), &author_token).json(&json!({ "permissions": { "onlyMe": true } }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((reader_sees().await, author_sees().await), (2, 3));
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/posts/{}", friends["id"].as_str().unwrap()), &author_token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!((reader_sees().await, admin_sees().await, author_sees().await), (1, 2, 2));
    // News are counted apart from posts.
    assert_eq!(total(reader_token.clone(), "/api/news").await, 0);

    // Many posts over several audiences the reader holds (public, named, followers, and theirs),
    // reactions and comments tied in groups, times tied in pairs: every order pages through each
    // visible post once, in that order, at every page size.
    let mut visible = vec![mine.clone()];
    for i in 0..14 {
        let permissions = match i % 4 {
            0 => json!({ "public": true }),
            1 => json!({ "users": [reader] }),
            2 => json!({ "friends": true, "users": [reader] }),
            _ => json!({ "onlyMe": true }),
        };
        let p = create(&app, &author_token, "/api/posts", json!({ "postText": format!("p{i}"), "permissions": permissions })).await;
        let id = p["id"].as_str().unwrap().to_string();
        if i % 4 != 3 {
            visible.push(id.clone());
        }
        for r in 0..(i % 3) {
            let kind = ["like", "wow"][r];
            let (status, v) =
                send(app.wd(Method::POST, &format!("/api/posts/{id}/reactions"), &author_token).json(&json!({ "type": kind }))).await;
            assert!(status.is_success(), "{v}");
        }
        for _ in 0..(i % 2) {
            create(&app, &author_token, &format!("/api/posts/{id}/comments"), json!({ "text": "hi" })).await;
        }
    }
    // Pairs of posts share a timestamp (set in the read model; the feed must follow it).
    pin_posted_at(
        &app,
        "UPDATE rm_content.posts p SET posted_at = '2030-01-01'::timestamptz + (s.n / 2) * interval '1 second'
         FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM rm_content.posts WHERE org_id = $1) s WHERE p.id = s.id",
        uuid::Uuid::parse_str(&org.id).unwrap(),
    )
    .await;
    let (_, all) = send(app.wd(Method::GET, "/api/posts?per_page=1000&time=2031-01-01T00:00:00Z", &org.token)).await;
    let all: Vec<Value> = all["posts"].as_array().unwrap().clone();
    for key in ["a", "b", "c"] {
        let mut want: Vec<&Value> = all.iter().filter(|p| visible.contains(&p["id"].as_str().unwrap().to_string())).collect();
        let lead = |p: &Value| match key {
            "a" => 0,
            "b" => p["reactions"].as_array().unwrap().iter().map(|r| r["count"].as_i64().unwrap()).sum::<i64>(),
            _ => p["commentsCount"].as_i64().unwrap(),
        };
        want.sort_by(|x, y| {
            let k = |p: &Value| {
                (lead(p), p["postedAt"].as_str().unwrap().to_string(), uuid::Uuid::parse_str(p["id"].as_str().unwrap()).unwrap())
            };
            k(y).cmp(&k(x))
        });
        let want: Vec<String> = want.iter().map(|p| p["id"].as_str().unwrap().to_string()).collect();
        for per_page in [1, 2, 3, 4, 7] {
            let mut seen = Vec::new();
            for page in 1..=(want.len() / per_page + 2) {
                let q = format!("/api/posts?sort_key={key}&per_page={per_page}&cur_page={page}&time=2031-01-01T00:00:00Z");
                let (status, v) = send(app.wd(Method::GET, &q, &reader_token)).await;
                assert_eq!(status, StatusCode::OK, "{v}");
                assert_eq!(v["meta"]["totalResults"], want.len(), "{q}");
                seen.extend(ids(&v, "posts"));
            }
            assert_eq!(seen, want, "sort_key={key}, per_page={per_page}");
        }
    }
    // The snapshot cuts the count too: exactly the visible posts at or before it, for the reader
    // and for the author, whose posts for themselves alone are among those cut.
    let cut = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:03Z").unwrap();
    let at = |p: &Value| chrono::DateTime::parse_from_rfc3339(p["postedAt"].as_str().unwrap()).unwrap();
    for token in [&reader_token, &author_token] {
        let (_, v) = send(app.wd(Method::GET, "/api/posts?per_page=1000&time=2030-01-01T00:00:03Z", token)).await;
        assert_eq!(v["meta"]["totalResults"], v["posts"].as_array().unwrap().len(), "{v}");
        let listed = v["posts"].as_array().unwrap();
        assert!(listed.iter().all(|p| at(p) <= cut), "{v}");
        let (_, everything) = send(app.wd(Method::GET, "/api/posts?per_page=1000&time=2031-01-01T00:00:00Z", token)).await;
        let everything = everything["posts"].as_array().unwrap();
        assert!(everything.len() > listed.len(), "the cut leaves posts out: {v}");
        let before = everything.iter().filter(|p| at(p) <= cut).count();
        assert_eq!(listed.len(), before, "{v}");
    }
}

/// Pins posts' `posted_at` in the read model (`update` binds `arg` as `$1`): the clock of a write
/// is the server's, so ties on time are made here. The feed's per-grant index rows carry the post's
/// sort keys; they get the same values, as the projector would have written them.
async fn pin_posted_at<T>(app: &TestApp, update: &str, arg: T)
where
    T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
{
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query(update).bind(arg).execute(&mut *tx).await.unwrap();
    sqlx::query("UPDATE rm_content.post_grants g SET posted_at = p.posted_at FROM rm_content.posts p WHERE p.id = g.post_id")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}
