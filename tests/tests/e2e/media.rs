//! WorkDrive media (E75): reserve → upload (multipart, one-time signature) → reference from users
//! and organizations → download, with every documented error, tenant isolation and the events on
//! NATS.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, Org, TestApp};
use serde_json::{json, Value};

const BOUNDARY: &str = "roster-test-boundary-7f3a";

/// A multipart/form-data body: text fields in order, then `file` (with its part content type).
fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    if let Some((ct, bytes)) = file {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: {ct}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Regular files under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                files_under(&p)
            } else {
                1
            }
        })
        .sum()
}

async fn reserve(app: &TestApp, org: &Org, mime: &str, name: &str) -> Value {
    let (status, v) =
        send(app.wd(Method::GET, "/api/media", &org.token).query(&[("mime", mime), ("name", name), ("moduleCode", "1")])).await;
    assert_eq!(status, StatusCode::OK, "reserve: {v}");
    v
}

/// Posts the reservation's fields (with overrides) and the file to `signedRequest.url`.
async fn upload_with(app: &TestApp, signed: &Value, overrides: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (StatusCode, Value) {
    let fields = signed["signedRequest"]["fields"].as_object().unwrap();
    let mut pairs: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    for (k, v) in overrides {
        match pairs.iter_mut().find(|(pk, _)| pk == k) {
            Some(p) => p.1 = v.to_string(),
            None => pairs.push((k.to_string(), v.to_string())),
        }
    }
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let url = signed["signedRequest"]["url"].as_str().unwrap();
    let rb = app.client.post(url).header("content-type", format!("multipart/form-data; boundary={BOUNDARY}")).body(form(&refs, file));
    send(rb).await
}

pub(crate) async fn uploaded(app: &TestApp, org: &Org, mime: &str, bytes: &[u8]) -> String {
    let signed = reserve(app, org, mime, "pic").await;
    let (status, v) = upload_with(app, &signed, &[], Some((mime, bytes))).await;
    assert_eq!(status, StatusCode::CREATED, "upload: {v}");
    v["id"].as_str().unwrap().to_string()
}

fn assert_file_shape(f: &Value, id: &str, mime: &str, size: usize) {
    assert_eq!(f["id"], id);
    assert_eq!(f["mime"], mime);
    assert_eq!(f["size"], size);
    for k in ["path", "name", "url", "bucket", "createdAt"] {
        assert!(f[k].is_string(), "File.{k} in {f}");
    }
    for k in ["processing", "metadata"] {
        assert!(f[k].is_object(), "File.{k} in {f}");
    }
    assert!(f["mp4Urls"].is_array());
    for k in ["isImage", "isVideo", "isDoc"] {
        assert!(f[k].is_boolean(), "File.{k} in {f}");
    }
    assert!(f["url"].as_str().unwrap().ends_with(&format!("/api/media/{id}")));
    assert!(f.as_object().unwrap().contains_key("owner"));
    for k in ["cdn", "hlsUrl", "dashUrl", "thumbnail"] {
        assert!(f.as_object().unwrap().contains_key(k), "File.{k} in {f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserve_upload_reference_and_download_round_trip() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Media").await;

    let signed = reserve(&app, &org, "image/png", "avatar.png").await;
    let id = signed["fileId"].as_str().unwrap().to_string();
    let req = &signed["signedRequest"];
    assert_eq!(req["url"], format!("{}/api/media", app.url));
    let fields = &req["fields"];
    assert_eq!(fields["Key"], id);
    assert_eq!(fields["Content-Type"], "image/png");
    for k in ["ACL", "bucket", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "Policy", "X-Amz-Signature"] {
        assert!(fields[k].as_str().is_some_and(|s| !s.is_empty()), "fields.{k} in {signed}");
    }
    assert_eq!(signed["url"], format!("{}/api/media/{id}", app.url));

    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (status, file) = upload_with(&app, &signed, &[], Some(("image/png", &bytes))).await;
    assert_eq!(status, StatusCode::CREATED, "upload: {file}");
    assert_file_shape(&file, &id, "image/png", bytes.len());
    assert_eq!(file["isImage"], true);
    assert_eq!(file["name"], "avatar.png");
    assert_eq!(file["owner"]["id"], org.admin_id);
    assert!(resp_headers_have_position(&app, &org).await);

    // The bytes come back, with their type.
    let resp = send_raw(app.wd(Method::GET, &format!("/api/media/{id}"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // A cover (a document this time, reserved through POST) and the picture on a user.
    let (status, signed2) =
        send(app.wd(Method::POST, "/api/media", &org.token).query(&[("mime", "application/pdf"), ("name", "cv.pdf"), ("moduleCode", "3")]))
            .await;
    assert_eq!(status, StatusCode::CREATED, "POST reserve: {signed2}");
    let (status, cover) = upload_with(&app, &signed2, &[], Some(("application/octet-stream", b"%PDF-1.4 tiny"))).await;
    assert_eq!(status, StatusCode::CREATED, "{cover}");
    assert_eq!(cover["isDoc"], true);
    let cover_id = cover["id"].as_str().unwrap();

    let member = app.add_user(&org, "m@media.io").await;
    let mid = member["id"].as_str().unwrap();
    assert!(member["picture"].is_null());
    let (status, u) =
        send(app.wd(Method::PATCH, &format!("/api/users/{mid}"), &org.token).json(&json!({ "fileId": id, "coverFileId": cover_id }))).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_file_shape(&u["picture"], &id, "image/png", bytes.len());
    assert_file_shape(&u["cover"], cover_id, "application/pdf", 13);
    let (_, list) = send(app.wd(Method::GET, "/api/users?per_page=100", &org.token)).await;
    let row = list["users"].as_array().unwrap().iter().find(|r| r["id"] == mid).unwrap();
    assert_eq!(row["picture"]["id"], id);
    assert_eq!(row["cover"]["id"], cover_id);

    // The org's logo.
    let (status, o) =
        send(app.wd(Method::PATCH, &format!("/api/organization/{}", org.id), &org.token).json(&json!({ "fileId": id }))).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_file_shape(&o["file"], &id, "image/png", bytes.len());
    assert_eq!(o["file"]["owner"]["id"], org.admin_id);

    // A member may download the org's files too.
    let (_, tok) = send(app.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({ "userId": mid }))).await;
    let resp = send_raw(app.wd(Method::GET, &format!("/api/media/{cover_id}"), tok["token"].as_str().unwrap())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"%PDF-1.4 tiny");
}

/// A write's answer carries `Roster-Position` (checked on a reservation).
async fn resp_headers_have_position(app: &TestApp, org: &Org) -> bool {
    let resp =
        send_raw(app.wd(Method::GET, "/api/media", &org.token).query(&[("mime", "text/plain"), ("name", "n.txt"), ("moduleCode", "1")]))
            .await;
    resp.status() == StatusCode::OK && resp.headers().contains_key("roster-position")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_errors_are_documented_codes_naming_the_field() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Errs").await;

    // Reservation.
    let (status, _) = send(app.req(Method::GET, "/api/media?mime=image/png&name=a&moduleCode=1")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (query, field) in [
        (vec![("name", "a"), ("moduleCode", "1")], "mime"),
        (vec![("mime", "image/png"), ("moduleCode", "1")], "name"),
        (vec![("mime", "image/png"), ("name", "a")], "moduleCode"),
        (vec![("mime", "image/png"), ("name", "a"), ("moduleCode", "x")], "moduleCode"),
        (vec![("mime", "application/x-msdownload"), ("name", "a.exe"), ("moduleCode", "1")], "mime"),
    ] {
        let (status, v) = send(app.wd(Method::GET, "/api/media", &org.token).query(&query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query:?}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with(&format!("{field}:")), "{query:?}: {v}");
        assert_eq!(v["statusCode"], 400);
    }

    let signed = reserve(&app, &org, "image/png", "a.png").await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\n....";

    // Bad signature: 403, nothing stored.
    let (status, v) = upload_with(&app, &signed, &[("X-Amz-Signature", "rst_forged")], Some(("image/png", png))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    // A declared type other than the reserved one, or not allowed at all.
    let (status, v) = upload_with(&app, &signed, &[("Content-Type", "image/gif")], Some(("image/gif", png))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("Content-Type:"), "{v}");
    let (status, v) = upload_with(&app, &signed, &[("Content-Type", "application/x-sh")], Some(("image/png", png))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("Content-Type:"), "{v}");
    // The file part's own type contradicts the reservation.
    let (status, v) = upload_with(&app, &signed, &[], Some(("text/html", png))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("file:"), "{v}");
    // No file, an empty file.
    let (status, v) = upload_with(&app, &signed, &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("file:"), "{v}");
    let (status, v) = upload_with(&app, &signed, &[], Some(("image/png", b""))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    // Over the size limit.
    let big = vec![7u8; domain::media::MAX_UPLOAD_BYTES as usize + 1];
    let (status, v) = upload_with(&app, &signed, &[], Some(("image/png", &big))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("file:"), "{v}");
    // An unknown key.
    let (status, v) = upload_with(&app, &signed, &[("Key", &uuid::Uuid::now_v7().to_string())], Some(("image/png", png))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    // Nothing of the above was recorded or left in the store: the file is still waiting.
    let api::workdrive::media::MediaBackend::Local(dir) = &app.config.media.backend else { panic!("tests store media locally") };
    assert_eq!(files_under(dir), 0, "a refused upload left bytes behind");
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'MediaUploaded'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(events, 0);
    let id = signed["fileId"].as_str().unwrap();
    let (status, _) = send(app.wd(Method::GET, &format!("/api/media/{id}"), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a reserved but not uploaded file is not served");

    // Exactly the right upload works once; the same id again is refused.
    let (status, v) = upload_with(&app, &signed, &[], Some(("image/png", png))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = upload_with(&app, &signed, &[], Some(("image/png", b"other bytes"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("Key:"), "{v}");
    let resp = send_raw(app.wd(Method::GET, &format!("/api/media/{id}"), &org.token)).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), png, "the first upload's bytes stay");
    assert_eq!(files_under(dir), 1, "the refused second upload left no bytes behind");

    // A POST that is neither multipart nor authenticated.
    let (status, _) = send(app.req(Method::POST, "/api/media?mime=image/png&name=a&moduleCode=1")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A download of a malformed or unknown id.
    let (status, v) = send(app.wd(Method::GET, "/api/media/not-a-uuid", &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, _) = send(app.wd(Method::GET, &format!("/api/media/{}", uuid::Uuid::now_v7()), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(app.req(Method::GET, &format!("/api/media/{id}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_orgs_or_unuploaded_files_cannot_be_referenced_or_downloaded() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Mine").await;
    let other = app.create_org("Theirs").await;
    let theirs = uploaded(&app, &other, "image/jpeg", b"their jpeg").await;
    let mine = uploaded(&app, &org, "image/jpeg", b"my jpeg").await;
    let pending = reserve(&app, &org, "image/jpeg", "later.jpg").await["fileId"].as_str().unwrap().to_string();
    let unknown = uuid::Uuid::now_v7().to_string();

    let (status, _) = send(app.wd(Method::GET, &format!("/api/media/{theirs}"), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another org's file is not found");
    let resp = send_raw(app.wd(Method::GET, &format!("/api/media/{mine}"), &org.token)).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"my jpeg");

    let user = app.add_user(&org, "u@mine.io").await;
    let uid = user["id"].as_str().unwrap();
    for bad in [&theirs, &pending, &unknown] {
        for field in ["fileId", "coverFileId"] {
            let (status, v) = send(app.wd(Method::PATCH, &format!("/api/users/{uid}"), &org.token).json(&json!({ field: bad }))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{field}={bad}: {v}");
            assert!(v["message"].as_str().unwrap().starts_with(&format!("{field}:")), "{v}");
        }
        let (status, v) =
            send(app.wd(Method::PATCH, &format!("/api/organization/{}", org.id), &org.token).json(&json!({ "fileId": bad }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "org fileId={bad}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with("fileId:"), "{v}");
    }
    // The other org sees nothing of ours either, and its own file works for it.
    let (status, _) = send(app.wd(Method::GET, &format!("/api/media/{mine}"), &other.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, o) =
        send(app.wd(Method::PATCH, &format!("/api/organization/{}", other.id), &other.token).json(&json!({ "fileId": theirs }))).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(o["file"]["id"], theirs.as_str());
    // A member of this org cannot use the other org's upload signature to learn anything either:
    // the upload route answers by signature only, and a forged one is 403.
    let (status, u) = send(app.wd(Method::PATCH, &format!("/api/users/{uid}"), &org.token).json(&json!({ "fileId": mine }))).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["picture"]["id"], mine.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_media_write_puts_its_events_on_nats_without_the_signature() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Subs").await;
    let signed = reserve(&app, &org, "video/mp4", "clip.mp4").await;
    let id = signed["fileId"].as_str().unwrap().to_string();
    let secret = signed["signedRequest"]["fields"]["X-Amz-Signature"].as_str().unwrap().to_string();
    let (status, v) = upload_with(&app, &signed, &[], Some(("video/mp4", b"not really a video"))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["isVideo"], true);

    let js = jetstream::new(app.nats().await);
    let prefix = app.config.nats.subject_prefix.clone();
    app.eventually("the stream", Duration::from_secs(20), || async { js.get_stream(&app.config.nats.stream).await.is_ok() }).await;
    let consumer = js
        .get_stream(&app.config.nats.stream)
        .await
        .unwrap()
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            filter_subject: format!("{prefix}.{}.media.>", org.id),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut got: Vec<(String, Value)> = Vec::new();
    while got.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(20), messages.next()).await {
            Ok(Some(Ok(m))) => got.push((m.subject.to_string(), serde_json::from_slice(&m.payload).unwrap())),
            other => panic!("only {} media events reached NATS: {other:?}", got.len()),
        }
    }
    assert_eq!(got[0].0, format!("{prefix}.{}.media.{id}.MediaReserved", org.id));
    assert_eq!(got[1].0, format!("{prefix}.{}.media.{id}.MediaUploaded", org.id));
    let reserved = &got[0].1["payload"];
    assert_eq!(reserved["mime"], "video/mp4");
    assert_eq!(reserved["name"], "clip.mp4");
    assert_eq!(reserved["module_code"], 1);
    assert!(reserved["upload_token_sha256"].as_str().is_some_and(|h| h.len() == 64));
    let up = &got[1].1["payload"];
    assert_eq!(up["file_id"], id.as_str());
    assert_eq!(up["size"], 18);
    assert_eq!(up["mime"], "video/mp4");
    assert_eq!(up["name"], "clip.mp4");
    assert_eq!(up["sha256"].as_str().unwrap().len(), 64);
    for (_, e) in &got {
        assert!(!e.to_string().contains(&secret), "the upload signature leaked into an event: {e}");
        assert_eq!(e["org_id"], org.id.as_str());
    }
    assert_eq!(got[1].1["metadata"]["actor_user_id"], org.admin_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_retried_with_its_idempotency_key_gets_the_first_answer() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Retry").await;
    let signed = reserve(&app, &org, "text/plain", "notes.txt").await;
    let fields = signed["signedRequest"]["fields"].as_object().unwrap();
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
    let body = form(&pairs, Some(("text/plain", b"hello")));
    let post = |key: &str| {
        app.req(Method::POST, "/api/media")
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("Idempotency-Key", key)
            .body(body.clone())
    };
    let first = send_raw(post("upload-1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.bytes().await.unwrap();
    let again = send_raw(post("upload-1")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first_body);
    // Another key is a new upload of the same id: refused.
    let (status, v) = send(post("upload-2")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let uploads: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'MediaUploaded'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(uploads, 1);

    // A keyed upload near the size limit is fingerprinted like any other write.
    let signed = reserve(&app, &org, "video/webm", "big.webm").await;
    let big = vec![3u8; 20 * 1024 * 1024];
    let fields = signed["signedRequest"]["fields"].as_object().unwrap();
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
    let rb = app
        .req(Method::POST, "/api/media")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("Idempotency-Key", "big-1")
        .body(form(&pairs, Some(("video/webm", &big))));
    let (status, v) = send(rb).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["size"], big.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_restores_the_media_rows_and_files_stay_served() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Rebuild Media").await;
    let id = uploaded(&app, &org, "image/webp", b"webp bytes").await;
    reserve(&app, &org, "image/gif", "pending.gif").await;
    let u = app.add_user(&org, "p@rebuild.io").await;
    let (status, _) =
        send(app.wd(Method::PATCH, &format!("/api/users/{}", u["id"].as_str().unwrap()), &org.token).json(&json!({ "fileId": id }))).await;
    assert_eq!(status, StatusCode::OK);

    let rows = || async {
        let v: Vec<Value> =
            sqlx::query_scalar("SELECT to_jsonb(m) FROM rm_directory.media m ORDER BY id").fetch_all(&app.pool).await.unwrap();
        v
    };
    let before = rows().await;
    assert_eq!(before.len(), 2);
    workers::rebuild::rebuild(&app.pool, projections::DIRECTORY, false).await.unwrap();
    assert_eq!(rows().await, before);
    let resp = send_raw(app.wd(Method::GET, &format!("/api/media/{id}"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"webp bytes");
    let (_, list) = send(app.wd(Method::GET, "/api/users?per_page=100", &org.token)).await;
    assert!(list["users"].as_array().unwrap().iter().any(|r| r["picture"]["id"] == id.as_str()));
}

/// moto's S3-compatible server (`moto_server`, from `scripts/install-deps`) on a free loopback
/// port, killed when dropped.
struct Moto {
    url: String,
    child: tokio::process::Child,
}

impl Moto {
    /// `ROSTER_MOTO_BIN`, else `moto_server` on `PATH`, in Python's scripts dir or `~/.local/bin`.
    fn bin() -> std::path::PathBuf {
        use std::path::PathBuf;
        if let Some(b) = std::env::var_os("ROSTER_MOTO_BIN").filter(|v| !v.is_empty()) {
            return PathBuf::from(b);
        }
        let mut candidates: Vec<PathBuf> =
            std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join("moto_server")).collect()).unwrap_or_default();
        if let Ok(out) =
            std::process::Command::new("python3").args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]).output()
        {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("moto_server"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".local/bin/moto_server"));
        }
        candidates
            .into_iter()
            .find(|c| c.is_file())
            .unwrap_or_else(|| panic!("moto_server not found (run scripts/install-deps, or set ROSTER_MOTO_BIN)"))
    }

    /// Starts it and waits (30 s at most) until its port answers.
    async fn start() -> Moto {
        let port = devstack::free_port();
        let log_path = roster_tests::stack().dir.join(format!("moto-{port}.log"));
        let log = std::fs::File::create(&log_path).expect("moto log file");
        let mut child = tokio::process::Command::new(Self::bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("moto log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start moto_server");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto_server exited ({status}): {}", std::fs::read_to_string(&log_path).unwrap_or_default());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "moto_server did not listen on {port} within 30 s: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Moto { url: format!("http://127.0.0.1:{port}"), child }
    }

    /// The keys in `bucket`, straight from moto's ListObjectsV2.
    async fn keys(&self, bucket: &str) -> Vec<String> {
        let resp = reqwest::get(format!("{}/{bucket}?list-type=2", self.url)).await.expect("list the bucket");
        assert_eq!(resp.status(), StatusCode::OK);
        let xml = resp.text().await.unwrap();
        xml.split("<Key>").skip(1).map(|s| s.split("</Key>").next().unwrap().to_string()).collect()
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The same reserve → upload → reference → download round trip with the `s3` backend over a real
/// S3-compatible server (moto): path-style requests over plain http, a multi-part upload, the
/// object in the bucket, and a refused upload aborted without leaving an object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_backend_round_trips_through_an_s3_compatible_server() {
    let moto = Moto::start().await;
    let bucket = "roster-media";
    let resp = reqwest::Client::new().put(format!("{}/{bucket}", moto.url)).send().await.expect("create the bucket");
    assert_eq!(resp.status(), StatusCode::OK, "create bucket: {}", resp.text().await.unwrap_or_default());

    let backend = api::workdrive::media::MediaBackend::S3 {
        bucket: bucket.into(),
        endpoint: Some(moto.url.clone()),
        region: Some("us-east-1".into()),
        access_key_id: Some("roster-test".into()),
        secret_access_key: Some("roster-test-secret".into()),
    };
    let app = TestApp::spawn_with(roster_tests::Options { media: Some(backend), ..Default::default() }).await;
    let org = app.create_org("S3 Media").await;

    // Over one 5 MiB part, so the upload is a real multi-part one.
    let bytes: Vec<u8> = (0..6_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let signed = reserve(&app, &org, "image/png", "avatar.png").await;
    let id = signed["fileId"].as_str().unwrap().to_string();
    assert_eq!(signed["signedRequest"]["fields"]["bucket"], bucket);
    let (status, file) = upload_with(&app, &signed, &[], Some(("image/png", &bytes))).await;
    assert_eq!(status, StatusCode::CREATED, "upload: {file}");
    assert_file_shape(&file, &id, "image/png", bytes.len());
    assert_eq!(file["bucket"], bucket);
    let key = file["path"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("{}/{id}/", org.id)), "{key}");

    // The object is in the bucket, byte for byte.
    assert_eq!(moto.keys(bucket).await, vec![key.clone()]);
    let stored = reqwest::get(format!("{}/{bucket}/{key}", moto.url)).await.unwrap();
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(stored.bytes().await.unwrap().as_ref(), bytes.as_slice(), "the bucket holds other bytes");

    // Referenced from a user, and downloaded through Roster.
    let member = app.add_user(&org, "s3@media.io").await;
    let mid = member["id"].as_str().unwrap();
    let (status, u) = send(app.wd(Method::PATCH, &format!("/api/users/{mid}"), &org.token).json(&json!({ "fileId": id }))).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_file_shape(&u["picture"], &id, "image/png", bytes.len());
    let resp = send_raw(app.wd(Method::GET, &format!("/api/media/{id}"), &org.token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // A refused upload (empty) aborts its multi-part upload: no object appears.
    let small = reserve(&app, &org, "text/plain", "empty.txt").await;
    let (status, v) = upload_with(&app, &small, &[], Some(("text/plain", b""))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(moto.keys(bucket).await, vec![key], "a refused upload left an object behind");

    app.stop().await;
    moto.stop().await;
}
