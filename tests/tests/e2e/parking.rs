//! A failing event never stops other tenants (DESIGN §4): the runner parks an event the read model
//! refuses and everything behind it in its stream, goes on with every other stream, and
//! `replay-parked` applies them once the cause is gone. And honest answers while the read models
//! are behind (#11 item 5): past the timeout a write answers 202, and a pending answer is never
//! replayed as the final one.

use std::time::Duration;

use clap::Parser;
use reqwest::{Method, StatusCode};
use roster::cli::{execute, Cli};
use roster_tests::{send, send_raw, Options, TestApp};
use serde_json::{json, Value};

use crate::sunbird::{env, sb};

/// A constraint the test adds to the live read model, so that one specific value is refused; it
/// stands for any bug that makes a projector fail on an event (and is dropped to "fix" it).
const REFUSE: &str = "ALTER TABLE rm_directory.groups ADD CONSTRAINT test_refuses_poison CHECK (description IS DISTINCT FROM 'poison')";
const FIX: &str = "ALTER TABLE rm_directory.groups DROP CONSTRAINT test_refuses_poison";

async fn cli(args: &[&str]) -> Result<String, String> {
    let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let r = execute(cli, std::future::pending(), &mut out).await.map_err(|e| e.to_string());
    let out = String::from_utf8(out).unwrap();
    r.map(|_| out.clone()).map_err(|e| format!("{e}\n{out}"))
}

fn consistency(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("roster-consistency").map(|v| v.to_str().unwrap().to_string())
}

async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let text = send_raw(app.req(Method::GET, "/metrics")).await.text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok())
}

async fn group_description(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, g) = send(app.ps(Method::GET, &format!("/api/groups/{id}"), token)).await;
    assert_eq!(status, StatusCode::OK, "{g}");
    g["description"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_parks_its_stream_and_every_other_stream_goes_on() {
    // A generous read-your-writes wait: the refused write answers once its event is parked, after
    // the runner's attempts, however slow a loaded machine makes them.
    let app = TestApp::spawn_with(Options { consistency_timeout: Duration::from_secs(30), ..Options::default() }).await;
    let a = app.create_org("Parked").await;
    let b = app.create_org("Bystander").await;
    let doomed = app.create_group(&a, "Doomed").await;
    let sibling = app.create_group(&a, "Sibling").await;
    sqlx::query(REFUSE).execute(&app.pool).await.unwrap();

    // The write whose event the read model refuses: committed, but the read models will not
    // show it. It says so instead of a bare 200.
    let resp = send_raw(app.ps(Method::POST, &format!("/api/groups/{doomed}"), &a.token).json(&json!({"description": "poison"}))).await;
    assert_eq!(consistency(&resp).as_deref(), Some("failed"), "status {}", resp.status());
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["accepted"], true, "{body}");
    // A later write to the same stream is parked behind it, untried: per-stream order is kept.
    let resp = send_raw(app.ps(Method::POST, &format!("/api/groups/{doomed}"), &a.token).json(&json!({"description": "fine"}))).await;
    assert_eq!(consistency(&resp).as_deref(), Some("failed"));
    assert_eq!(resp.status(), StatusCode::ACCEPTED);

    // Every other stream goes on, in the same tenant and in another: plain answers, fresh reads.
    let resp =
        send_raw(app.ps(Method::POST, &format!("/api/groups/{sibling}"), &a.token).json(&json!({"description": "sibling ok"}))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(consistency(&resp), None);
    assert_eq!(group_description(&app, &a.token, &sibling).await, "sibling ok");
    let resp = send_raw(app.ps(Method::POST, "/api/groups", &b.token).json(&json!({"name": "Unaffected"}))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(consistency(&resp), None);
    let other = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let resp = send_raw(app.ps(Method::POST, &format!("/api/groups/{other}"), &b.token).json(&json!({"description": "b ok"}))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(consistency(&resp), None);
    assert_eq!(group_description(&app, &b.token, &other).await, "b ok");
    let u = app.add_user(&b, "reader@bystander.io").await;
    let (status, list) = send(app.wd(Method::GET, "/api/users", &b.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list["users"].as_array().unwrap().iter().any(|x| x["id"] == u["id"]), "{list}");
    // The parked stream's read model stands where it was before the refused event.
    assert_eq!(group_description(&app, &a.token, &doomed).await, Value::Null);

    // Ready: only a stream is parked. Visible in /readyz and /metrics.
    let (status, ready) = send(app.req(Method::GET, "/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    let directory = ready["projections"].as_array().unwrap().iter().find(|p| p["name"] == "directory").expect("directory reports");
    assert_eq!(directory["status"], "running");
    assert_eq!(directory["parked_events"], 2);
    assert_eq!(metric(&app, "roster_projection_parked_events{projection=\"directory\"}").await, Some(2.0));
    // The checkpoint row's count, which spares the runner a look-up per batch while it is 0.
    assert_eq!(projections::checkpoint::read(&app.pool, "directory").await.unwrap().parked, 2);

    // The list: the refused event (tried, with the read model's error), then the one behind it.
    let parked = workers::parked::list(&app.pool, None, None).await.unwrap();
    assert_eq!(parked.len(), 2, "{parked:?}");
    assert_eq!((parked[0].event_type.as_str(), parked[0].attempts), ("GroupUpdated", workers::runner::MAX_ATTEMPTS as i32));
    assert!(parked[0].error.contains("test_refuses_poison"), "{}", parked[0].error);
    assert_eq!(parked[1].attempts, 0);
    assert!(parked[1].error.contains(&parked[0].event_id.to_string()), "{}", parked[1].error);
    assert_eq!(parked[0].stream_id, parked[1].stream_id);
    assert!(parked[0].position < parked[1].position);
    let stream = parked[0].stream_id.to_string();
    let db = app.config.database_url.clone();
    let listed = cli(&["roster", "projection", "parked", "--database-url", &db]).await.unwrap();
    assert!(
        listed.contains(&parked[0].event_id.to_string()) && listed.contains(&stream) && listed.contains("test_refuses_poison"),
        "{listed}"
    );
    assert!(listed.contains("2 parked event(s)"), "{listed}");

    // Replaying before the cause is gone changes nothing; the command says what still fails.
    let err = cli(&["roster", "projection", "replay-parked", "--stream", &stream, "--database-url", &db]).await.unwrap_err();
    assert!(err.contains("still failing 1; still parked behind them 1"), "{err}");
    assert_eq!(workers::parked::list(&app.pool, None, None).await.unwrap().len(), 2);

    // A rebuild meanwhile tries them again: still refused, they stay parked, and the rebuilt
    // read model is the live one (the stream as before the refused event, the others current).
    workers::rebuild::rebuild(&app.pool, projections::DIRECTORY, false).await.unwrap();
    let ids = |list: &[projections::parked::Parked]| list.iter().map(|p| p.event_id).collect::<Vec<_>>();
    assert_eq!(ids(&workers::parked::list(&app.pool, None, None).await.unwrap()), ids(&parked));
    assert_eq!(group_description(&app, &a.token, &doomed).await, Value::Null);
    assert_eq!(group_description(&app, &a.token, &sibling).await, "sibling ok");
    assert_eq!(group_description(&app, &b.token, &other).await, "b ok");

    // The cause is fixed: both apply, in order (the later description wins).
    sqlx::query(FIX).execute(&app.pool).await.unwrap();
    let report = workers::parked::replay(&app.pool, projections::ALL, None).await.unwrap();
    assert_eq!(ids(&report.applied), ids(&parked));
    assert!(report.failing.is_empty() && report.behind.is_empty(), "{report:?}");
    assert_eq!(group_description(&app, &a.token, &doomed).await, "fine");
    assert!(workers::parked::list(&app.pool, None, None).await.unwrap().is_empty());
    assert_eq!(metric(&app, "roster_projection_parked_events{projection=\"directory\"}").await, Some(0.0));
    assert_eq!(projections::checkpoint::read(&app.pool, "directory").await.unwrap().parked, 0);
    // The stream is free again: its next write answers plainly.
    let resp = send_raw(app.ps(Method::POST, &format!("/api/groups/{doomed}"), &a.token).json(&json!({"description": "after"}))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(consistency(&resp), None);
    assert_eq!(group_description(&app, &a.token, &doomed).await, "after");
    // And a rebuild from the log agrees with what the replay made.
    let before = group_description(&app, &a.token, &doomed).await;
    workers::rebuild::rebuild(&app.pool, projections::DIRECTORY, false).await.unwrap();
    assert_eq!(group_description(&app, &a.token, &doomed).await, before);
}

/// A Roster whose projector does not run (writes commit, read models stand still), with a short
/// consistency timeout; and the organization made before it stopped.
async fn without_projector() -> (TestApp, roster_tests::Org) {
    let first = TestApp::spawn().await;
    let org = first.create_org("Behind").await;
    let mut opts = first.same_log();
    opts.roles = roster::Roles { api: true, relay: true, projector: false, sealer: false, notifier: false };
    opts.consistency_timeout = Duration::from_millis(300);
    first.stop().await;
    (TestApp::spawn_with(opts).await, org)
}

fn projector_only(app: &TestApp) -> Options {
    let mut opts = app.same_log();
    opts.roles = roster::Roles { api: false, relay: false, projector: true, sealer: false, notifier: false };
    opts
}

/// Another API on the same log, with the default consistency timeout: a request that must wait
/// for a projector just started goes there, since 300 ms is shorter than a projector's start on a
/// busy machine.
fn patient_api(app: &TestApp) -> Options {
    let mut opts = app.same_log();
    opts.roles = roster::Roles { api: true, relay: false, projector: false, sealer: false, notifier: false };
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_answer_is_never_replayed_as_the_final_one() {
    let (app, org) = without_projector().await;
    // Started before anything is counted: an API's start appends its bootstrap token.
    let patient = TestApp::spawn_with(patient_api(&app)).await;
    let add = |on: &TestApp| {
        on.wd(Method::POST, "/api/users/add", &org.token)
            .header("Idempotency-Key", "add-once")
            .json(&json!({"email": "late@behind.io", "firstName": "Late", "lastName": "Comer"}))
    };
    let resp = send_raw(add(&app)).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(consistency(&resp).as_deref(), Some("pending"));
    let position = resp.headers()["roster-position"].to_str().unwrap().to_string();
    let events = app.event_count().await;
    // Still behind: the retry appends nothing and is pending again (not a stored final answer).
    let resp = send_raw(add(&app)).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(consistency(&resp).as_deref(), Some("pending"));
    assert_eq!(resp.headers()["roster-position"].to_str().unwrap(), position);
    assert_eq!(app.event_count().await, events);

    // The read models catch up: the retry waits for the write and answers as a first answer would.
    let projector = TestApp::spawn_with(projector_only(&app)).await;
    let resp = send_raw(add(&patient)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(consistency(&resp), None);
    assert!(resp.headers().get("idempotent-replayed").is_none());
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["email"], "late@behind.io", "{first}");
    assert_eq!(app.event_count().await, events, "no retry appended anything");
    // That one was final: it is what every later retry gets back.
    let resp = send_raw(add(&app)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(resp.json::<Value>().await.unwrap(), first);
    projector.stop().await;
    patient.stop().await;

    // Sunbird's msgid follows the same rule (its path answers in its envelope).
    let (app, org) = without_projector().await;
    let patient = TestApp::spawn_with(patient_api(&app)).await;
    let create = |on: &TestApp| {
        sb(on, Method::POST, "/api/group/v1/create", &org.token)
            .json(&json!({"params": {"msgid": "sb-once"}, "request": {"name": "Late circle"}}))
    };
    let resp = send_raw(create(&app)).await;
    assert_eq!((resp.status(), consistency(&resp).as_deref()), (StatusCode::ACCEPTED, Some("pending")));
    let v: Value = resp.json().await.unwrap();
    assert_eq!((v["responseCode"].clone(), v["result"]["accepted"].clone()), (json!(202), json!(true)), "{v}");
    let projector = TestApp::spawn_with(projector_only(&app)).await;
    let resp = send_raw(create(&patient)).await;
    assert_eq!((resp.status(), consistency(&resp)), (StatusCode::OK, None));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["responseCode"], 200, "{v}");
    assert!(v["result"]["groupId"].is_string(), "{v}");
    let resp = send_raw(create(&app)).await;
    assert_eq!(resp.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(resp.json::<Value>().await.unwrap()["result"], v["result"]);
    let (_, list) = send(app.ps(Method::GET, "/api/groups", &org.token)).await;
    assert_eq!(list["count"], 1, "one group, however often the msgid came: {list}");
    projector.stop().await;
    patient.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_timeout_every_write_answers_202_in_its_dialects_shape() {
    let first = TestApp::spawn().await;
    let org = first.create_org("Slow").await;
    let group = first.create_group(&org, "Crew").await;
    let user = first.add_user(&org, "m@slow.io").await;
    let ext: i64 = sqlx::query_scalar("SELECT number FROM rm_directory.users WHERE id = $1::uuid")
        .bind(user["id"].as_str().unwrap())
        .fetch_one(&first.pool)
        .await
        .unwrap();
    let (status, v) = send(sb(&first, Method::POST, "/api/group/v1/create", &org.token).json(&env(json!({"name": "Circle"})))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let circle = v["result"]["groupId"].as_str().unwrap().to_string();
    let mut opts = first.same_log();
    opts.roles = roster::Roles { api: true, relay: true, projector: false, sealer: false, notifier: false };
    opts.consistency_timeout = Duration::from_millis(300);
    first.stop().await;
    let app = TestApp::spawn_with(opts).await;

    // PortSIP: an update and a member add; a 200 here would claim what the group does not show.
    for req in [
        app.ps(Method::POST, &format!("/api/groups/{group}"), &org.token).json(&json!({"description": "later"})),
        app.ps(Method::POST, &format!("/api/groups/{group}/members/{ext}"), &org.token),
    ] {
        let resp = send_raw(req).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert_eq!(consistency(&resp).as_deref(), Some("pending"));
        let position = resp.headers()["roster-position"].to_str().unwrap().to_string();
        let v: Value = resp.json().await.unwrap();
        assert_eq!((v["accepted"].clone(), v["position"].clone()), (json!(true), json!(position)), "{v}");
    }
    // WorkDrive: an update of a user.
    let resp =
        send_raw(app.wd(Method::PATCH, &format!("/api/users/{}", user["id"].as_str().unwrap()), &org.token).json(&json!({"bio": "b"})))
            .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(consistency(&resp).as_deref(), Some("pending"));
    assert_eq!(resp.json::<Value>().await.unwrap()["accepted"], true);
    // Publisher answers in the format the client accepts, XML too.
    let resp = send_raw(
        app.ps(Method::POST, "/api/2/groups", &org.token).header("Accept", "application/xml").json(&json!({"group": {"name": "Late"}})),
    )
    .await;
    assert_eq!((resp.status(), consistency(&resp).as_deref()), (StatusCode::ACCEPTED, Some("pending")));
    let xml = resp.text().await.unwrap();
    assert!(xml.starts_with("<accepted>") && xml.contains("<position>") && xml.contains("<group_id>"), "{xml}");
    // NexPort: every answer of it carries `api_error_entity`.
    let body = json!({ "owner_org_id": org.id, "login": "late", "password": "secret-pass-1", "first_name": "L", "last_name": "T", "email": "late@slow.io" });
    let resp = send_raw(app.nx("CreateUser", &org.token).json(&body)).await;
    assert_eq!((resp.status(), consistency(&resp).as_deref()), (StatusCode::ACCEPTED, Some("pending")));
    let v: Value = resp.json().await.unwrap();
    assert_eq!((v["accepted"].clone(), v["api_error_entity"]["error_code"].clone()), (json!(true), json!(0)), "{v}");
    assert!(v["result"]["user_id"].is_string(), "{v}");
    // Sunbird: its envelope, with the acceptance as the result.
    let resp =
        send_raw(sb(&app, Method::PATCH, "/api/group/v1/update", &org.token).json(&env(json!({"groupId": circle, "description": "d"}))))
            .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(consistency(&resp).as_deref(), Some("pending"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], "api.group.update", "{v}");
    assert_eq!(v["responseCode"], 202, "{v}");
    assert_eq!(v["result"]["accepted"], true, "{v}");
    assert!(v["result"]["position"].is_string(), "{v}");

    // Once a projector runs, the read models show every one of those writes.
    let projector = TestApp::spawn_with(projector_only(&app)).await;
    app.eventually("the projector to catch up", Duration::from_secs(60), || async {
        let (_, g) = send(app.ps(Method::GET, &format!("/api/groups/{group}"), &org.token)).await;
        let (_, members) = send(app.ps(Method::GET, &format!("/api/groups/{group}/members"), &org.token)).await;
        g["description"] == "later" && members["items"].as_array().is_some_and(|m| m.len() == 1)
    })
    .await;
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_connection_parks_nothing() {
    // Parking is for what the read model refuses. A connection lost in the middle of applying an
    // event only interrupts the runner, which resumes from its checkpoint: here the test holds a
    // lock the projector's statement waits for, and cuts that backend while it waits, each round.
    let app = TestApp::spawn().await;
    let org = app.create_org("Cut").await;
    const ROUNDS: usize = 2;
    for i in 0..ROUNDS {
        let mut blocker = app.pool.begin().await.unwrap();
        // SHARE blocks the projector's writes, not readers; and unlike ACCESS EXCLUSIVE it takes
        // no transaction id, which would hold back every reader of the log.
        sqlx::query("LOCK TABLE rm_directory.groups IN SHARE MODE").execute(&mut *blocker).await.unwrap();
        let write = {
            let (client, url, token) = (app.client.clone(), app.url.clone(), org.token.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{url}/api/groups"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("g{i}")}))
                    .send()
                    .await
                    .map(|r| r.status())
            })
        };
        // More cuts than the attempts before parking: were a cut counted as the event's fault,
        // it would be parked.
        let cuts = workers::runner::MAX_ATTEMPTS as usize + 1;
        let mut cut = 0;
        // Within the idle-in-transaction timeout that would end the blocker.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
        while cut < cuts {
            assert!(tokio::time::Instant::now() < deadline, "the projector reached the locked table only {cut} times");
            let waiting: Vec<i32> = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%groups%'",
            )
            .fetch_all(&app.pool)
            .await
            .unwrap();
            for pid in waiting {
                let _: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&app.pool).await.unwrap();
                cut += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        blocker.rollback().await.unwrap();
        let status = write.await.unwrap().unwrap();
        assert!(matches!(status, StatusCode::CREATED | StatusCode::ACCEPTED), "{status}");
    }
    let head = eventlog::log::head(&app.pool).await.unwrap().unwrap();
    app.eventually("the projection to reach the head", Duration::from_secs(60), || async {
        projections::checkpoint::slowest(&app.pool).await.is_ok_and(|p| p >= head)
    })
    .await;
    assert!(workers::parked::list(&app.pool, None, None).await.unwrap().is_empty(), "nothing parked");
    let (_, list) = send(app.ps(Method::GET, "/api/groups", &org.token)).await;
    assert_eq!(list["count"], ROUNDS, "{list}");
    let (status, ready) = send(app.req(Method::GET, "/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
}

#[test]
fn the_projection_commands_have_help() {
    for (args, mentions) in [
        (&["roster", "projection", "--help"][..], &["parked", "replay-parked"][..]),
        (&["roster", "projection", "parked", "--help"][..], &["--projection", "--stream", "--json", "DATABASE_URL"][..]),
        (&["roster", "projection", "replay-parked", "--help"][..], &["--projection", "--stream", "still failing"][..]),
    ] {
        let err = Cli::try_parse_from(args).err().expect("--help exits");
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        let help = err.to_string();
        for m in mentions {
            assert!(help.contains(m), "{args:?} lacks {m}:\n{help}");
        }
    }
}
