//! Issue #7: tamper evidence (sealer, `roster verify`, `/metrics`), time travel, the subscriber
//! contract.

use std::time::Duration;

use clap::Parser;
use commands::Position;
use reqwest::{Method, StatusCode};
use roster::cli::{execute, Cli};
use roster_tests::{send, send_raw, TestApp};
use serde_json::json;

/// Runs a `roster` command in-process: its stdout, and its error when it failed.
async fn roster(args: &[&str]) -> (String, Result<(), String>) {
    let cli = Cli::try_parse_from(args).expect("valid arguments");
    let mut out = Vec::new();
    let result = execute(cli, std::future::pending(), &mut out).await.map_err(|e| e.to_string());
    (String::from_utf8(out).unwrap(), result)
}

async fn all_sealed(app: &TestApp) {
    app.eventually("the sealer to seal every event", Duration::from_secs(10), || async {
        let (events, seals): (i64, i64) =
            sqlx::query_as("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_seals)").fetch_one(&app.pool).await.unwrap();
        events == seals
    })
    .await;
}

/// The value of one sample of the Prometheus text at `/metrics`.
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.parse().ok()))
}

struct Row {
    gid: i64,
    tx: i64,
}

async fn org_events(app: &TestApp, org: &str) -> Vec<Row> {
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT gid, tx::text::bigint FROM events WHERE org_id = $1::uuid ORDER BY tx, gid")
        .bind(org)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    rows.into_iter().map(|(gid, tx)| Row { gid, tx }).collect()
}

/// The sealer's side of `store::a_checkpoint_taken_back_by_a_crash_is_resumed_from_and_nothing_skipped`:
/// a crash of Postgres may take back its last seals (they commit without the WAL flush) while its
/// pool reconnects without an error it could see. It must seal those events again rather than
/// carry on after them and leave them unsealed for good. The loss is made by hand: the newest
/// seals deleted under the running sealer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seals_a_crash_took_back_are_written_again() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Taken Back").await;
    app.add_user(&org, "first@takenback.io").await;
    all_sealed(&app).await;
    let taken =
        sqlx::query("DELETE FROM event_seals WHERE (tx, gid) IN (SELECT tx, gid FROM event_seals ORDER BY tx DESC, gid DESC LIMIT 3)")
            .execute(&app.pool)
            .await
            .unwrap()
            .rows_affected();
    assert_eq!(taken, 3);
    app.add_user(&org, "second@takenback.io").await;
    all_sealed(&app).await;
    let report = workers::sealer::verify(&app.pool, None, |_| {}).await.unwrap();
    assert!(report.breaks.is_empty() && report.unsealed == 0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_every_edit_delete_and_insert_behind_rosters_back() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Sealed").await;
    let other = app.create_org("Untouched").await;
    let user = app.add_user(&org, "s@sealed.io").await;
    let id = user["id"].as_str().unwrap();
    for bio in ["one", "two"] {
        send(app.wd(Method::PATCH, &format!("/api/users/{id}"), &org.token).json(&json!({ "bio": bio }))).await;
    }
    all_sealed(&app).await;
    let db = app.config.database_url.clone();
    let verify_org = |o: String| {
        let db = db.clone();
        async move { roster(&["roster", "verify", "--quiet", "--org", &o, "--database-url", &db]).await }
    };

    // Every org is its own chain, numbered from 1.
    let chains: Vec<(i64, i64)> =
        sqlx::query_as("SELECT count(*), max(seq) FROM event_seals GROUP BY chain").fetch_all(&app.pool).await.unwrap();
    assert!(chains.len() >= 3, "the system chain and two orgs: {chains:?}");
    assert!(chains.iter().all(|(n, max)| n == max));
    let (out, result) = verify_org(org.id.clone()).await;
    assert_eq!(result, Ok(()), "{out}");
    let n = org_events(&app, &org.id).await.len();
    assert!(out.contains(&format!("verified {n} events in 1 chain(s)")), "{out}");

    // /metrics: nothing left to seal, project or relay.
    app.eventually("every lag to reach 0", Duration::from_secs(10), || async {
        let resp = send_raw(app.req(Method::GET, "/metrics")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = resp.text().await.unwrap();
        assert!(text.contains("# TYPE roster_seal_lag_events gauge"), "{text}");
        let relay = format!("roster_relay_lag_events{{stream=\"{}\"}}", app.config.nats.stream);
        [
            sample(&text, "roster_seal_lag_events"),
            sample(&text, "roster_seal_lag_seconds"),
            sample(&text, "roster_projection_lag_events{projection=\"directory\"}"),
            sample(&text, "roster_projection_lag_seconds{projection=\"directory\"}"),
            sample(&text, &relay),
        ]
        .iter()
        .all(|v| *v == Some(0.0))
    })
    .await;

    let rows = org_events(&app, &org.id).await;
    let target = &rows[rows.len() - 2];
    let at = Position::new(target.tx, target.gid).to_string();

    // Edit: one byte of one payload.
    let original: serde_json::Value =
        sqlx::query_scalar("SELECT payload FROM events WHERE gid = $1").bind(target.gid).fetch_one(&app.pool).await.unwrap();
    sqlx::query("UPDATE events SET payload = payload || '{\"forged\": true}' WHERE gid = $1")
        .bind(target.gid)
        .execute(&app.pool)
        .await
        .unwrap();
    let (out, result) = verify_org(org.id.clone()).await;
    assert!(result.is_err(), "a broken chain fails the command: {out}");
    assert!(out.contains(&format!("BROKEN edited: org {}: the event", org.id)) && out.contains(&format!("at position {at}")), "{out}");
    // Another org's chain is not affected.
    assert_eq!(verify_org(other.id.clone()).await.1, Ok(()));
    // Restored byte for byte, the chain holds again: the seal is over the content.
    sqlx::query("UPDATE events SET payload = $2 WHERE gid = $1").bind(target.gid).bind(&original).execute(&app.pool).await.unwrap();
    assert_eq!(verify_org(org.id.clone()).await.1, Ok(()));

    // Delete.
    sqlx::query("DELETE FROM events WHERE gid = $1").bind(target.gid).execute(&app.pool).await.unwrap();
    let (out, result) = verify_org(org.id.clone()).await;
    assert!(result.is_err());
    assert!(out.contains("BROKEN deleted") && out.contains(&format!("at position {at}")), "{out}");

    // Insert: a forged row placed inside the sealed part of the log (an old transaction id), as
    // someone hiding an event in the past would.
    let (out, _) = roster(&["roster", "verify", "--quiet", "--org", &other.id, "--database-url", &db]).await;
    assert!(out.contains("0 broken"), "{out}");
    let first = &org_events(&app, &other.id).await[1];
    sqlx::query(
        "INSERT INTO events (gid, tx, event_id, org_id, stream_type, stream_id, version, event_type, payload) \
         VALUES ($1, $2::text::xid8, $3, $4::uuid, 'user', $5, 1, 'UserDeleted', '{}')",
    )
    .bind(first.gid + 1_000_000)
    .bind(first.tx.to_string())
    .bind(uuid::Uuid::now_v7())
    .bind(&other.id)
    .bind(uuid::Uuid::now_v7())
    .execute(&app.pool)
    .await
    .unwrap();
    let inserted = Position::new(first.tx, first.gid + 1_000_000).to_string();
    let (out, result) = verify_org(other.id.clone()).await;
    assert!(result.is_err());
    assert!(out.contains("BROKEN inserted") && out.contains(&format!("at position {inserted}")), "{out}");

    // Without --org every chain is walked and each broken one named.
    let (out, result) = roster(&["roster", "verify", "--quiet", "--database-url", &db]).await;
    assert!(result.unwrap_err().contains("2 chain(s) broken"));
    assert_eq!(out.lines().filter(|l| l.starts_with("BROKEN")).count(), 2, "{out}");
}

fn rfc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_folds_the_log_diffs_and_answers_membership_on_a_date() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Travel").await;
    let other = app.create_org("Elsewhere").await;
    let t0 = chrono::Utc::now();
    let user = app.add_user(&org, "t@travel.io").await;
    let id = user["id"].as_str().unwrap().to_string();
    let patch = |body: serde_json::Value| app.wd(Method::PATCH, &format!("/api/users/{id}"), &org.token).json(&body);
    assert_eq!(send(patch(json!({"bio": "one"}))).await.0, StatusCode::OK);
    let t1 = chrono::Utc::now();
    assert_eq!(send(patch(json!({"bio": "two", "firstName": "Renamed"}))).await.0, StatusCode::OK);
    let t2 = chrono::Utc::now();
    assert_eq!(send(patch(json!({"bio": null}))).await.0, StatusCode::OK);

    let (app_ref, token) = (&app, org.token.clone());
    let state = |path: String| {
        let token = token.clone();
        async move { send(app_ref.ps(Method::GET, &path, &token)).await }
    };
    let (status, v) = state(format!("/streams/user/{id}?as_of={}", rfc(t0))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not created yet: {v}");
    let (status, v) = state(format!("/streams/user/{id}?as_of={}", rfc(t1))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["state"]["bio"].clone(), v["state"]["first_name"].clone()), (json!("one"), json!("Firstname")));
    let (_, v) = state(format!("/streams/user/{id}?as_of={}", rfc(t2))).await;
    assert_eq!((v["state"]["bio"].clone(), v["state"]["first_name"].clone()), (json!("two"), json!("Renamed")));
    let (_, now) = state(format!("/streams/user/{id}")).await;
    assert_eq!(now["state"]["bio"], serde_json::Value::Null);
    assert_eq!(now["state"]["email"], "t@travel.io");
    assert_eq!(now["state"]["deleted"], false);

    // At the instant of every event, the as-of state is the fold of the log's events up to it.
    let (_, history) = state(format!("/streams/user/{id}/events")).await;
    let events: Vec<domain::history::Recorded> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| domain::history::Recorded {
            event_type: e["event_type"].as_str().unwrap().into(),
            recorded_at: e["recorded_at"].as_str().unwrap().parse().unwrap(),
            payload: e["payload"].clone(),
        })
        .collect();
    for (i, e) in events.iter().enumerate() {
        let (status, v) = state(format!("/streams/user/{id}?as_of={}", rfc(e.recorded_at))).await;
        assert_eq!(status, StatusCode::OK);
        let upto: Vec<_> = events.iter().filter(|x| x.recorded_at <= e.recorded_at).cloned().collect();
        assert!(upto.len() > i);
        assert_eq!(v["state"], domain::history::fold("user", &upto).unwrap(), "as of event {i}");
        assert_eq!(v["version"], upto.len());
    }

    // The diff of a known sequence of edits.
    let (status, d) = state(format!("/streams/user/{id}/diff?from={}&to={}", rfc(t1), rfc(t2))).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(
        d["changes"],
        json!([
            {"field": "bio", "old": "one", "new": "two"},
            {"field": "first_name", "old": "Firstname", "new": "Renamed"},
        ])
    );
    let (_, d) = state(format!("/streams/user/{id}/diff?from={}", rfc(t1))).await;
    assert_eq!(
        d["changes"],
        json!([
            {"field": "bio", "old": "one", "new": null},
            {"field": "first_name", "old": "Firstname", "new": "Renamed"},
        ])
    );
    let (_, d) = state(format!("/streams/user/{id}/diff?from={}&to={}", rfc(t0), rfc(t1))).await;
    assert!(
        d["changes"].as_array().unwrap().iter().any(|c| c["field"] == "email" && c["old"].is_null() && c["new"] == "t@travel.io"),
        "{d}"
    );

    // Membership on a date, from the group's events.
    let gid = app.create_group(&org, "Travellers").await;
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=GroupCreated", &org.token)).await;
    let group = page["events"][0]["stream_id"].as_str().unwrap().to_string();
    let ext: i64 =
        sqlx::query_scalar("SELECT number FROM rm_directory.users WHERE id = $1::uuid").bind(&id).fetch_one(&app.pool).await.unwrap();
    let before_join = chrono::Utc::now();
    assert_eq!(send(app.ps(Method::POST, &format!("/api/groups/{gid}/members/{ext}"), &org.token)).await.0, StatusCode::OK);
    let while_member = chrono::Utc::now();
    assert!(send(app.ps(Method::POST, &format!("/api/groups/{gid}/members/{ext}/destroy"), &org.token)).await.0.is_success());
    let after_leave = chrono::Utc::now();
    let on = |q: String| state(format!("/streams/group/{group}/members/{id}?on={q}"));
    for (when, expected) in [(before_join, false), (while_member, true), (after_leave, false)] {
        let (status, v) = on(rfc(when)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["member"], expected, "at {when}: {v}");
        assert_eq!(v["memberships"].as_array().unwrap().len(), 1);
    }
    let (_, v) = on(while_member.format("%Y-%m-%d").to_string()).await;
    assert_eq!(v["member"], true, "a member at some moment of that day");
    let (_, v) = on((while_member - chrono::Duration::days(1)).format("%Y-%m-%d").to_string()).await;
    assert_eq!(v["member"], false);
    let (_, g) = state(format!("/streams/group/{group}?as_of={}", rfc(while_member))).await;
    assert_eq!(g["state"]["members"][&id], "member", "{g}");
    assert_eq!(g["state"]["name"], "Travellers");
    let (_, g) = state(format!("/streams/group/{group}")).await;
    assert_eq!(g["state"]["members"], json!({}));

    // Bad input is a 400 naming the parameter; another org's entity is not found.
    for (path, field) in [
        (format!("/streams/group/{group}/members/{id}?on=someday"), "on"),
        (format!("/streams/group/{group}/members/{id}"), "on"),
        (format!("/streams/user/{id}?as_of=yesterday"), "as_of"),
        (format!("/streams/user/{id}/diff"), "from"),
    ] {
        let (status, v) = state(path.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with(field), "{v}");
    }
    assert_eq!(send(app.ps(Method::GET, &format!("/streams/user/{id}"), &other.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        send(app.ps(Method::GET, &format!("/streams/user/{id}/members/{id}?on=2026-01-01"), &org.token)).await.0,
        StatusCode::NOT_FOUND
    );
    let member = crate::workdrive::login(&app, "t@travel.io").await;
    assert_eq!(send(app.ps(Method::GET, &format!("/streams/user/{id}"), &member)).await.0, StatusCode::FORBIDDEN);
}

/// The event enums the domain defines, found in its source (`impl DomainEvent for X`), so a new
/// aggregate cannot be left out of the contract unnoticed.
fn domain_event_enums() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/src");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("impl DomainEvent for ") {
                // A macro's impl is counted at its invocations, below.
                if !rest.starts_with('$') {
                    found.push(rest.trim_end_matches(" {").trim().to_string());
                }
            }
        }
        // `library_aggregate!(Aggregate, Event, ...)` declares an event enum (domain::library).
        for invocation in text.split("library_aggregate!(").skip(1) {
            if let Some(event) = invocation.split(',').nth(1) {
                found.push(event.trim().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncapi_documents_every_event_type_the_domain_defines() {
    use domain::event::event_types;
    let app = TestApp::spawn().await;
    let org = app.create_org("Contract").await;
    app.add_user(&org, "c@contract.io").await;
    let (status, doc) = send(app.req(Method::GET, "/asyncapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["asyncapi"], "3.1.0");
    // The reference parser (scripts/asyncapi-check.js over @asyncapi/parser) finds no error or warning.
    let file = std::env::temp_dir().join(format!("roster-asyncapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, doc.to_string()).unwrap();
    let node_dir = std::env::var("ROSTER_NODE_DIR")
        .unwrap_or_else(|_| format!("{}/.cache/roster-node", std::env::var("HOME").unwrap_or("/tmp".into())));
    let out = std::process::Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/asyncapi-check.js"))
        .arg(&file)
        .env("NODE_PATH", format!("{node_dir}/node_modules"))
        .output()
        .expect("node (scripts/install-deps installs it)");
    let _ = std::fs::remove_file(&file);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("valid AsyncAPI 3.1.0"), "@asyncapi/parser: {said}");

    // Every event type of every event enum, enumerated from the enums themselves.
    let by_enum: Vec<(&str, &str, Vec<String>)> = vec![
        ("OrganizationEvent", "organization", event_types::<domain::organization::OrganizationEvent>()),
        ("UserEvent", "user", event_types::<domain::user::UserEvent>()),
        ("GroupEvent", "group", event_types::<domain::group::GroupEvent>()),
        ("DepartmentEvent", "department", event_types::<domain::department::DepartmentEvent>()),
        ("LocationEvent", "location", event_types::<domain::location::LocationEvent>()),
        ("SecurityGroupEvent", "security_group", event_types::<domain::security_group::SecurityGroupEvent>()),
        ("SsoEvent", "sso", event_types::<domain::sso::SsoEvent>()),
        ("MediaEvent", "media", event_types::<domain::media::MediaEvent>()),
        ("RoleGrantEvent", "role_grant", event_types::<domain::permission::RoleGrantEvent>()),
        ("SubscriptionEvent", "subscription", event_types::<domain::subscription::SubscriptionEvent>()),
        ("ProfileFieldEvent", "profile_field", event_types::<domain::profile_field::ProfileFieldEvent>()),
        ("FollowEvent", "follow", event_types::<domain::follow::FollowEvent>()),
        ("CategoryEvent", "category", event_types::<domain::category::CategoryEvent>()),
        ("PostEvent", "post", event_types::<domain::post::PostEvent>()),
        ("ConversationEvent", "conversation", event_types::<domain::conversation::ConversationEvent>()),
        ("CalendarEventEvent", "calendar_event", event_types::<domain::calendar::CalendarEventEvent>()),
        ("VideoEvent", "video", event_types::<domain::library::VideoEvent>()),
        ("PhotoEvent", "photo", event_types::<domain::library::PhotoEvent>()),
        ("KbDocumentEvent", "kb_document", event_types::<domain::library::KbDocumentEvent>()),
        ("FaqKbEvent", "faq_kb", event_types::<domain::library::FaqKbEvent>()),
        ("CourseEvent", "course", event_types::<domain::library::CourseEvent>()),
        ("EnforcementTemplateEvent", "enforcement_template", event_types::<domain::library::EnforcementTemplateEvent>()),
        ("TaskEvent", "task", event_types::<domain::task::TaskEvent>()),
        ("NotificationEvent", "notification", event_types::<domain::notification::NotificationEvent>()),
    ];
    let mut listed: Vec<String> = by_enum.iter().map(|(n, _, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(listed, domain_event_enums(), "this test covers every event enum of the domain");
    let prefix = &app.config.nats.subject_prefix;
    let mut total = 0;
    for (_, stream_type, types) in &by_enum {
        assert!(!types.is_empty());
        for t in types {
            total += 1;
            let channel = &doc["channels"][format!("{stream_type}.{t}")];
            assert_eq!(channel["address"], format!("{prefix}.{{org_id}}.{stream_type}.{{stream_id}}.{t}"), "{t}");
            let message = &doc["components"]["messages"][t.as_str()];
            assert_eq!(message["payload"]["allOf"][1]["properties"]["event_type"]["const"], t.as_str());
            assert!(message["payload"]["allOf"][1]["properties"]["payload"].is_object(), "{t} has a payload schema");
            assert!(doc["operations"][format!("receive{t}")]["action"] == "receive");
        }
    }
    assert_eq!(doc["channels"].as_object().unwrap().len(), total, "one channel per event type, nothing else");

    // The generated schema describes what is really published: every field of a real UserCreated
    // payload is a documented property.
    let created = &doc["components"]["messages"]["UserCreated"]["payload"]["allOf"][1]["properties"]["payload"];
    let props = created["properties"].as_object().unwrap_or_else(|| panic!("UserCreated payload schema: {created}"));
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=UserCreated", &org.token)).await;
    let real = page["events"][0]["payload"].as_object().unwrap();
    for k in real.keys() {
        assert!(props.contains_key(k), "UserCreated.{k} is not in the schema: {created}");
    }
    let envelope = doc["components"]["schemas"]["Envelope"]["properties"].as_object().unwrap();
    for k in page["events"][0].as_object().unwrap().keys() {
        assert!(envelope.contains_key(k), "envelope field {k} undocumented");
    }
}

async fn all_org_events(app: &TestApp, org: &roster_tests::Org) -> Vec<serde_json::Value> {
    let (status, page) = send(app.ps(Method::GET, "/events?limit=1000", &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    page["events"].as_array().unwrap().clone()
}

async fn set_max_messages(app: &TestApp, max: i64) {
    let js = async_nats::jetstream::new(app.nats().await);
    let mut stream = js.get_stream(&app.config.nats.stream).await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    config.max_messages = max;
    js.update_stream(config).await.unwrap();
}

/// Follows with the join helper until `n` events arrived (or the deadline passes).
async fn follow_n(app: &TestApp, org: uuid::Uuid, after: Position, n: usize) -> Vec<commands::Envelope> {
    let (_stop, mut shutdown) = workers::Shutdown::new();
    let mut got = Vec::new();
    let from = workers::tail::TailFrom { org: Some(org), after };
    tokio::time::timeout(
        Duration::from_secs(20),
        workers::tail::follow(&app.pool, &app.config.nats, from, &mut shutdown, |e| {
            got.push(e);
            got.len() < n
        }),
    )
    .await
    .expect("the subscriber got every event in time")
    .unwrap();
    got
}

/// A subscriber (`roster events tail`) whose NATS connection goes silent without closing misses
/// nothing: the events the server sent into the silence arrive once the client has connected
/// again, each once and in order, with no later event to show the gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_whose_connection_goes_silent_misses_nothing() {
    let (nats, proxy) = roster_tests::SilencingProxy::with_own_nats().await;
    let app = TestApp::spawn_with(roster_tests::Options { nats_url: Some(nats.url()), ..Default::default() }).await;
    let org = app.create_org("Hush").await;
    let org_id: uuid::Uuid = org.id.parse().unwrap();
    let before = all_org_events(&app, &org).await;
    let after: Position = before.last().unwrap()["position"].as_str().unwrap().parse().unwrap();

    // Following live through the proxy: its ordered consumer (the only one without a durable
    // name: no live stream of the API is open) is there before the silence.
    let stream = async_nats::jetstream::new(app.nats().await).get_stream(&app.config.nats.stream).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let follower = {
        let (pool, mut cfg) = (app.pool.clone(), app.config.nats.clone());
        cfg.url = proxy.url();
        tokio::spawn(async move {
            let (_stop, mut shutdown) = workers::Shutdown::new();
            let from = workers::tail::TailFrom { org: Some(org_id), after };
            workers::tail::follow(&pool, &cfg, from, &mut shutdown, |e| tx.send(e).is_ok()).await
        })
    };
    app.eventually("the subscriber's consumer", Duration::from_secs(10), || async {
        let consumers: Vec<_> = futures::StreamExt::collect(stream.consumers()).await;
        consumers.into_iter().any(|c| c.is_ok_and(|c| c.config.durable_name.is_none()))
    })
    .await;

    proxy.silence();
    app.add_user(&org, "quiet@hush.io").await;
    let want: Vec<String> =
        all_org_events(&app, &org).await[before.len()..].iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect();
    assert!(!want.is_empty());
    let mut got = Vec::new();
    while got.len() < want.len() {
        let e = tokio::time::timeout(Duration::from_secs(45), rx.recv())
            .await
            .expect("the events within 45 s of the silence")
            .expect("the subscriber stopped");
        got.push(e.event_id.to_string());
    }
    assert_eq!(got, want, "every event after the silence, once, in order");
    follower.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_subscriber_joins_the_log_and_the_stream_without_gap_or_duplicate() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Late").await;
    let org_id: uuid::Uuid = org.id.parse().unwrap();
    app.create_org("Noise").await;
    for i in 0..3 {
        app.add_user(&org, &format!("l{i}@late.io")).await;
    }
    let expected = all_org_events(&app, &org).await;
    let ids = |events: &[commands::Envelope]| events.iter().map(|e| e.event_id.to_string()).collect::<Vec<_>>();
    let want: Vec<String> = expected.iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect();

    // Retention trims the stream's head: only the newest 4 events stay on NATS.
    let js = async_nats::jetstream::new(app.nats().await);
    app.eventually("the relay to publish everything", Duration::from_secs(10), || async {
        let info = js.get_stream(&app.config.nats.stream).await.unwrap().get_info().await.unwrap();
        info.state.messages as i64 == app.event_count().await
    })
    .await;
    set_max_messages(&app, 4).await;
    let info = js.get_stream(&app.config.nats.stream).await.unwrap().get_info().await.unwrap();
    assert_eq!(info.state.messages, 4);
    assert!(info.state.first_sequence > want.len() as u64, "the org's first events are gone from NATS");

    // From the start: the log, then the stream, each event once, in order.
    let got = follow_n(&app, org_id, Position::START, want.len()).await;
    assert_eq!(ids(&got), want);
    assert!(got.windows(2).all(|w| w[0].position < w[1].position));
    // From a position in the middle: exactly what follows it.
    let mid: Position = expected[5]["position"].as_str().unwrap().parse().unwrap();
    let got = follow_n(&app, org_id, mid, want.len() - 6).await;
    assert_eq!(ids(&got), want[6..]);

    // Live: a subscriber caught up sees new events as they are published, once.
    set_max_messages(&app, -1).await;
    let last: Position = expected.last().unwrap()["position"].as_str().unwrap().parse().unwrap();
    let before = app.event_count().await;
    let waiter = {
        let (pool, nats) = (app.pool.clone(), app.config.nats.clone());
        tokio::spawn(async move {
            let (_stop, mut shutdown) = workers::Shutdown::new();
            let mut got = Vec::new();
            let from = workers::tail::TailFrom { org: Some(org_id), after: last };
            workers::tail::follow(&pool, &nats, from, &mut shutdown, |e| {
                let done = e.event_type == "UserOnboardingNoticeRecorded";
                got.push(e);
                !done
            })
            .await
            .unwrap();
            got
        })
    };
    app.add_user(&org, "live@late.io").await;
    let got = tokio::time::timeout(Duration::from_secs(20), waiter).await.expect("live events arrive").unwrap();
    let now = all_org_events(&app, &org).await;
    let new: Vec<String> = now[want.len()..].iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids(&got), new);
    assert!(app.event_count().await > before);

    // `roster events tail` prints the same, one line each, in order.
    let db = app.config.database_url.clone();
    let (out, result) = roster(&[
        "roster",
        "events",
        "tail",
        "--org",
        &org.id,
        "--limit",
        &now.len().to_string(),
        "--database-url",
        &db,
        "--nats-url",
        &app.config.nats.url,
        "--nats-stream",
        &app.config.nats.stream,
        "--nats-subject-prefix",
        &app.config.nats.subject_prefix,
    ])
    .await;
    assert_eq!(result, Ok(()), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), now.len());
    for (line, e) in lines.iter().zip(&now) {
        assert!(line.starts_with(e["position"].as_str().unwrap()), "{line}");
        assert!(line.contains(e["event_type"].as_str().unwrap()) && line.contains(&format!("org={}", org.id)), "{line}");
    }
    let (_, result) =
        roster(&["roster", "events", "tail", "--from", "nope", "--database-url", &db, "--nats-url", &app.config.nats.url]).await;
    assert!(result.unwrap_err().contains("--from"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_shape_event_reads_as_the_new_shape_everywhere() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Evolve").await;
    let org_id: uuid::Uuid = org.id.parse().unwrap();
    let (status, v) =
        send(app.wd(Method::POST, "/api/sso", &org.token).json(&json!({"type": "QUICK_LINK", "name": "New", "link": "https://n.io"})))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=SsoCreated", &org.token)).await;
    let current = page["events"][0].clone();
    assert_eq!(current["schema_rev"], 2);
    assert_eq!(current["payload"]["kind"], "QUICK_LINK");

    // A rev-1 event as an older Roster stored it: the type was `sso_type`.
    let id = uuid::Uuid::now_v7();
    let mut old = current["payload"].clone();
    let kind = old.as_object_mut().unwrap().remove("kind").unwrap();
    old["sso_type"] = kind;
    old["id"] = json!(id);
    old["name"] = json!("Old shape");
    old["link"] = json!("https://old.io");
    sqlx::query(
        "INSERT INTO events (event_id, org_id, stream_type, stream_id, version, event_type, schema_rev, payload, metadata) \
         VALUES ($1, $2, 'sso', $3, 1, 'SsoCreated', 1, $4, $5)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(org_id)
    .bind(id)
    .bind(&old)
    .bind(&current["metadata"])
    .execute(&app.pool)
    .await
    .unwrap();
    let stored: serde_json::Value =
        sqlx::query_scalar("SELECT payload FROM events WHERE stream_id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored["sso_type"], "QUICK_LINK", "the row stays as stored");

    // The audit API shows the new shape (once no older transaction of the cluster is running:
    // readers never show a row behind one still in flight).
    app.eventually("the inserted row to be visible to readers", Duration::from_secs(10), || async {
        send(app.ps(Method::GET, &format!("/streams/sso/{id}/events"), &org.token)).await.0 == StatusCode::OK
    })
    .await;
    let (_, history) = send(app.ps(Method::GET, &format!("/streams/sso/{id}/events"), &org.token)).await;
    let shown = &history["events"][0];
    assert_eq!((shown["schema_rev"].clone(), shown["payload"]["kind"].clone()), (json!(2), json!("QUICK_LINK")), "{shown}");
    assert!(shown["payload"].get("sso_type").is_none());
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=SsoCreated", &org.token)).await;
    assert!(page["events"].as_array().unwrap().iter().all(|e| e["payload"]["kind"] == "QUICK_LINK" && e["schema_rev"] == 2));
    let (_, state) = send(app.ps(Method::GET, &format!("/streams/sso/{id}"), &org.token)).await;
    assert_eq!(state["state"]["kind"], "QUICK_LINK");

    // The relay publishes it, the projection applies it as the new shape: WorkDrive lists it.
    let names = || async {
        let (_, v) = send(app.wd(Method::GET, "/api/sso?manage=false", &org.token)).await;
        v.as_array()
            .map(|a| a.iter().map(|e| (e["name"].as_str().unwrap_or("").to_string(), e["type"].clone())).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    app.eventually("the projection to apply the old-shape event", Duration::from_secs(10), || async {
        names().await.contains(&("Old shape".to_string(), json!("QUICK_LINK")))
    })
    .await;
    // On NATS (and so for a subscriber) it is the new shape too.
    let total = all_org_events(&app, &org).await.len();
    let got = follow_n(&app, org_id, Position::START, total).await;
    let replayed = got.iter().find(|e| e.stream_id == id).expect("replayed");
    assert_eq!((replayed.schema_rev, replayed.payload["kind"].clone()), (2, json!("QUICK_LINK")));
    // A rebuild from the log applies it the same way.
    let db = app.config.database_url.clone();
    let (out, result) = roster(&["roster", "rebuild", "all", "--quiet", "--database-url", &db]).await;
    assert_eq!(result, Ok(()), "{out}");
    assert!(names().await.contains(&("Old shape".to_string(), json!("QUICK_LINK"))));
}

/// A rebuild copies and swaps exactly the tables a `Projection` lists: a read-model table the
/// list forgets would make the rebuild's projector write to a table its fresh schema lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_of_a_read_model_schema_is_one_its_projection_rebuilds() {
    let app = TestApp::spawn().await;
    for p in projections::ALL {
        let mut in_schema: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
        )
        .bind(p.schema)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        in_schema.sort();
        let mut listed: Vec<String> = p.tables.iter().map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(in_schema, listed, "the tables of {} and those projection `{}` rebuilds", p.schema, p.name);
        for table in p.keyed_only {
            assert!(p.tables.contains(table), "`{}` replays {table} without its indexes, but does not rebuild it", p.name);
        }
    }
}

/// What every index of the read models covers, without its name (a rebuild's copy names its
/// indexes anew), sorted.
async fn index_definitions(app: &TestApp) -> Vec<String> {
    let schemas: Vec<&str> = projections::ALL.iter().map(|p| p.schema).collect();
    let mut defs: Vec<String> = sqlx::query_scalar(
        r"SELECT regexp_replace(indexdef, '^CREATE (UNIQUE )?INDEX \S+ ON ', 'CREATE \1INDEX ON ') FROM pg_indexes WHERE schemaname = ANY($1)",
    )
    .bind(&schemas)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    defs.sort();
    assert!(defs.iter().any(|d| d.contains("gin_trgm_ops")), "the search indexes are among them: {defs:?}");
    defs
}

/// Every row of every table of the directory projection, in a stable order.
async fn read_models(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for table in projections::DIRECTORY.tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT to_jsonb(t)::text FROM {}.{table} t ORDER BY 1", projections::DIRECTORY.schema))
                .fetch_all(&app.pool)
                .await
                .unwrap();
        out.push((table.to_string(), rows));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_under_concurrent_writes_fails_no_request_and_matches_a_fresh_projection() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let org = app.create_org("Busy").await;
    const WRITERS: usize = 3;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = |s: &std::sync::Arc<std::sync::atomic::AtomicBool>| s.load(std::sync::atomic::Ordering::Relaxed);

    // Writers keep writing until both rebuilds are done, so every rebuild runs under writes.
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (app, org, stop) = (app.clone(), org.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut written = 0;
            while !stopped(&stop) {
                let i = written;
                written += 1;
                let body = json!({"email": format!("w{w}-{i}@busy.io"), "firstName": "W", "lastName": format!("{w}-{i}")});
                let (status, v) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
                if !status.is_success() {
                    failures.push(format!("add: {status} {v}"));
                    continue;
                }
                let id = v["id"].as_str().unwrap_or_default().to_string();
                let (status, v) =
                    send(app.wd(Method::PATCH, &format!("/api/users/{id}"), &org.token).json(&json!({"bio": format!("bio {i}")}))).await;
                if !status.is_success() {
                    failures.push(format!("patch: {status} {v}"));
                }
            }
            (written, failures)
        }));
    }
    // A reader: users are only added, so a count that drops would be a half-built table.
    let reader = {
        let (app, org, stop) = (app.clone(), org.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen = 0;
            let mut problems = Vec::new();
            while !stopped(&stop) {
                let (status, v) = send(app.wd(Method::GET, "/api/users?limit=1", &org.token)).await;
                let n = v["meta"]["totalResults"].as_i64().unwrap_or(-1);
                if status != StatusCode::OK || n < seen {
                    problems.push(format!("{status}: {n} users after {seen}"));
                }
                seen = seen.max(n);
            }
            problems
        })
    };
    app.eventually("the writers to get going", Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE event_type = 'UserUpdated'").fetch_one(&app.pool).await.unwrap()
            >= 3
    })
    .await;
    let indexes = index_definitions(&app).await;
    for _ in 0..2 {
        for p in projections::ALL {
            workers::rebuild::rebuild(&app.pool, *p, false).await.expect("rebuild under load");
        }
    }
    assert_eq!(index_definitions(&app).await, indexes, "a rebuild keeps every index (it builds those the replay does without last)");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut users = 1;
    for w in writers {
        let (written, failures) = w.await.unwrap();
        assert!(failures.is_empty(), "requests failed during the rebuild: {failures:?}");
        users += written;
    }
    let problems = reader.await.unwrap();
    assert!(problems.is_empty(), "reads during the rebuild: {problems:?}");

    // Everything written is there, and the live tables equal a from-scratch projection of the log.
    let (_, listed) = send(app.wd(Method::GET, "/api/users?limit=1", &org.token)).await;
    assert_eq!(listed["meta"]["totalResults"], users as i64);
    let head = eventlog::log::head(&app.pool).await.unwrap().unwrap();
    app.eventually("the projection to reach the log's head", Duration::from_secs(10), || async {
        projections::checkpoint::read(&app.pool, "directory").await.unwrap().position >= head
    })
    .await;
    let live = read_models(&app).await;
    workers::rebuild::rebuild(&app.pool, projections::DIRECTORY, false).await.unwrap();
    let fresh = read_models(&app).await;
    assert!(live.iter().map(|(_, rows)| rows.len()).sum::<usize>() > users);
    for ((table, a), (_, b)) in live.iter().zip(&fresh) {
        assert_eq!(a, b, "table {table} differs from a fresh projection");
    }
}

/// The relay and the sealer pass over a transaction that appends nothing (migration 0030), so a
/// write can be sealed and projected while such a transaction stays open. `roster verify` and a
/// rebuild must see that write too: reading below the oldest running transaction, verify would
/// call its sealed events deleted, and a rebuild would swap in tables without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_rebuild_see_what_was_sealed_and_projected_past_an_open_transaction() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Open").await;
    let bystander = app.open_bystander().await;
    let user = app.add_user(&org, "past@open.io").await;
    all_sealed(&app).await;

    let db = app.config.database_url.clone();
    let (out, result) = roster(&["roster", "verify", "--quiet", "--org", &org.id, "--database-url", &db]).await;
    assert_eq!(result, Ok(()), "{out}");
    let n = org_events(&app, &org.id).await.len();
    assert!(out.contains(&format!("verified {n} events in 1 chain(s)")), "{out}");

    let live = read_models(&app).await;
    workers::rebuild::rebuild(&app.pool, projections::DIRECTORY, false).await.unwrap();
    assert_eq!(read_models(&app).await, live, "the rebuilt tables are the live ones");
    let (_, listed) = send(app.wd(Method::GET, "/api/users", &org.token)).await;
    assert!(listed.to_string().contains(user["id"].as_str().unwrap()), "{listed}");
    bystander.rollback().await.unwrap();
}

/// A rebuild's new tables are vacuumed and analyzed before they are swapped in, so the first
/// reads after it are planned and served as well as before it: with no visibility map an
/// index-only scan visits the heap, and with no statistics the planner guesses (at a million
/// users the feed of a large team's member listed its team 20 times slower).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_swaps_in_tables_already_vacuumed_and_analyzed() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Fresh").await;
    for i in 0..3 {
        app.add_user(&org, &format!("f{i}@fresh.io")).await;
    }
    for p in projections::ALL {
        workers::rebuild::rebuild(&app.pool, *p, false).await.unwrap_or_else(|e| panic!("rebuild {}: {e}", p.name));
        // The counts belong to the tables swapped in, which only the rebuild has touched yet;
        // autovacuum's runs are counted apart.
        let counts: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT relname::text, vacuum_count, analyze_count FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY 1")
                .bind(p.schema)
                .fetch_all(&app.pool)
                .await
                .unwrap();
        assert_eq!(counts.len(), p.tables.len(), "every table of {} is counted: {counts:?}", p.schema);
        let never: Vec<_> = counts.iter().filter(|(_, vacuums, analyzes)| *vacuums == 0 || *analyzes == 0).collect();
        assert!(never.is_empty(), "tables of {} swapped in without a VACUUM (ANALYZE): {never:?}", p.schema);
    }
}
