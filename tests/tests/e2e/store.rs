//! The event store and projections under stress: concurrent writers, idempotency, projector
//! crashes, poison events, rebuilds.

use std::time::Duration;

use commands::store::{PendingStream, Plan};
use commands::{CommandContext, Position};
use domain::group::GroupEvent;
use domain::{GroupId, OrgId};
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, TestApp};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_one_stream_never_lose_an_update() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Race").await;
    let target = app.add_user(&org, "target@race.io").await;
    let path = format!("/api/users/{}", target["id"].as_str().unwrap());
    let mut teammates = Vec::new();
    for i in 0..16 {
        teammates.push(app.add_user(&org, &format!("mate{i}@race.io")).await["id"].as_str().unwrap().to_string());
    }
    // 16 concurrent PATCHes of the same user, each adding a different teammate.
    let mut tasks = Vec::new();
    for mate in &teammates {
        let rb = app.wd(Method::PATCH, &path, &org.token).json(&json!({"addAdditionalTeams": [mate]}));
        tasks.push(tokio::spawn(async move { (send(rb).await.0, ()) }));
    }
    let mut ok = 0;
    for (t, mate) in tasks.into_iter().zip(&teammates) {
        let (status, _) = t.await.unwrap();
        assert!(status == StatusCode::OK || status == StatusCode::CONFLICT, "{mate}: {status} (never a 500)");
        if status == StatusCode::OK {
            ok += 1;
        }
    }
    assert!(ok >= 2, "most writers succeed after one retry; got {ok}");
    // Every answered update is in the log, and the stream's versions have no gaps or twins.
    let versions: Vec<i32> = sqlx::query_scalar("SELECT version FROM events WHERE stream_id = $1::uuid ORDER BY version")
        .bind(target["id"].as_str().unwrap())
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(versions, (1..=versions.len() as i32).collect::<Vec<_>>());
    let updates = versions.len() - 3; // UserCreated, UserPasswordSet, UserOnboardingNoticeRecorded
    assert_eq!(updates, ok);
    let (_, v) = send(app.wd(Method::PATCH, &path, &org.token).json(&json!({}))).await;
    assert_eq!(v["userAdditionalTeams"].as_array().unwrap().len(), ok, "every accepted update shows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_append_is_a_conflict_not_an_error() {
    let app = TestApp::spawn().await;
    let store = commands::Store::new(app.pool.clone());
    let ctx = CommandContext::system("test", chrono::Utc::now());
    let id = GroupId(uuid::Uuid::now_v7());
    let org = OrgId(uuid::Uuid::now_v7());
    let created = roster_tests::group_created(id, org, 1, "g".into());
    let plan = |v: i32| Plan {
        streams: vec![PendingStream::new(id.0, Some(org.0), v, std::slice::from_ref(&created)).unwrap()],
        ..Plan::default()
    };
    store.append(&ctx, &plan(0)).await.unwrap();
    let err = store.append(&ctx, &plan(0)).await.unwrap_err();
    assert!(matches!(err, commands::StoreError::VersionConflict), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_appends_once_and_answers_the_same() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Idem").await;
    let body = json!({"email": "once@idem.io", "firstName": "O", "lastName": "N"});
    let post = |key: &str, body: &Value| app.wd(Method::POST, "/api/users/add", &org.token).header("Idempotency-Key", key).json(body);
    let before = app.event_count().await;
    let first = send_raw(post("key-1", &body)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let position = first.headers()["roster-position"].clone();
    let first_body = first.bytes().await.unwrap();
    let after_first = app.event_count().await;
    assert!(after_first > before);

    let second = send_raw(post("key-1", &body)).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers()["roster-position"], position);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.bytes().await.unwrap(), first_body, "the very same answer");
    assert_eq!(app.event_count().await, after_first, "nothing new appended");

    // Concurrent retries of one key still append once.
    let body2 = json!({"email": "twice@idem.io", "firstName": "T", "lastName": "W"});
    let (a, b) = tokio::join!(send(post("key-2", &body2)), send(post("key-2", &body2)));
    assert_eq!(a.0, StatusCode::CREATED);
    assert_eq!(b.0, StatusCode::CREATED);
    assert_eq!(a.1["id"], b.1["id"]);
    let created: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'UserCreated' AND payload->>'email' = 'twice@idem.io'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(created, 1);

    // The same key for a different request is refused.
    let (status, v) = send(post("key-1", &json!({"email": "other@idem.io", "firstName": "O", "lastName": "N"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    // PortSIP honours the header too.
    let g = |key: &str| app.ps(Method::POST, "/api/groups", &org.token).header("Idempotency-Key", key).json(&json!({"name": "Once"}));
    let (_, g1) = send(g("g-1")).await;
    let (_, g2) = send(g("g-1")).await;
    assert_eq!(g1, g2);
    assert_eq!(send(app.ps(Method::GET, "/api/groups", &org.token)).await.1["count"], 1);
}

/// Appends `n` group creations in one transaction, straight through the store.
async fn bulk_groups(app: &TestApp, n: usize) -> Position {
    let store = commands::Store::new(app.pool.clone());
    let ctx = CommandContext::system("test", chrono::Utc::now());
    let org = OrgId(uuid::Uuid::now_v7());
    let streams = (0..n)
        .map(|i| {
            let id = GroupId(uuid::Uuid::now_v7());
            let e = roster_tests::group_created(id, org, i as i64, format!("g{i}"));
            PendingStream::new(id.0, Some(org.0), 0, &[e]).unwrap()
        })
        .collect();
    store.append(&ctx, &Plan { streams, ..Plan::default() }).await.unwrap().unwrap()
}

async fn checkpoint(app: &TestApp) -> (Position, String) {
    let (tx, gid, status): (i64, i64, String) =
        sqlx::query_as("SELECT tx, gid, status FROM projection_checkpoints WHERE name = 'directory'").fetch_one(&app.pool).await.unwrap();
    (Position::new(tx, gid), status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projector_killed_in_the_middle_resumes_without_applying_twice() {
    let opts = roster_tests::Options {
        roles: roster::Roles { api: true, relay: true, projector: false, sealer: false, notifier: false },
        ..Default::default()
    };
    let app = TestApp::spawn_with(opts).await;
    let head = bulk_groups(&app, 5000).await;

    let (stop, shutdown) = workers::Shutdown::new();
    let runner =
        tokio::spawn(workers::runner::run(app.pool.clone(), app.config.nats.clone(), projections::DIRECTORY, Default::default(), shutdown));
    // Kill it as soon as it has committed something, long before it is through.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let at_kill = loop {
        let (at, _) = checkpoint(&app).await;
        if at > Position::START {
            break at;
        }
        assert!(tokio::time::Instant::now() < deadline, "the projector never committed");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    runner.abort();
    let _ = runner.await;
    drop(stop);
    assert!(at_kill < head, "killed in the middle");

    let (stop2, shutdown2) = workers::Shutdown::new();
    let runner = tokio::spawn(workers::runner::run(
        app.pool.clone(),
        app.config.nats.clone(),
        projections::DIRECTORY,
        Default::default(),
        shutdown2,
    ));
    app.eventually("the projector to reach the head", Duration::from_secs(60), || async { checkpoint(&app).await.0 >= head }).await;
    let (_, status) = checkpoint(&app).await;
    assert_eq!(status, "running", "no event failed (a second apply of a creation would)");
    let groups: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_directory.groups").fetch_one(&app.pool).await.unwrap();
    assert_eq!(groups, 5000);
    let failures: i64 = sqlx::query_scalar("SELECT count(*) FROM projection_failures").fetch_one(&app.pool).await.unwrap();
    assert_eq!(failures, 0);
    let _ = stop2.send(true);
    runner.await.unwrap().unwrap();
}

/// The directory's runner as a test starts it: its stop signal and its task.
type Runner = (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<Result<(), workers::WorkerError>>);

/// A Roster without its projector, and the directory's runner started by the test, with `n`
/// groups appended and applied (up to the returned position): the stage of the two tests below.
async fn directory_runner_with_groups(n: usize) -> (TestApp, Position, Runner) {
    let opts = roster_tests::Options {
        roles: roster::Roles { api: true, relay: true, projector: false, sealer: false, notifier: false },
        ..Default::default()
    };
    let app = TestApp::spawn_with(opts).await;
    let (stop, shutdown) = workers::Shutdown::new();
    let runner =
        tokio::spawn(workers::runner::run(app.pool.clone(), app.config.nats.clone(), projections::DIRECTORY, Default::default(), shutdown));
    let head = bulk_groups(&app, n).await;
    app.eventually("the projector to apply the groups", Duration::from_secs(30), || async { checkpoint(&app).await.0 >= head }).await;
    (app, head, (stop, runner))
}

/// What a crash that took back every batch of the directory leaves: its checkpoint at the start
/// and its tables empty, in one transaction.
async fn take_back_the_directory(app: &TestApp) {
    let mut tx = app.pool.begin().await.unwrap();
    let tables: Vec<String> = projections::DIRECTORY.tables.iter().map(|t| format!("rm_directory.{t}")).collect();
    sqlx::query(&format!("TRUNCATE {}", tables.join(", "))).execute(&mut *tx).await.unwrap();
    sqlx::query("UPDATE projection_checkpoints SET tx = 0, gid = 0, stream_seq = 0 WHERE name = 'directory'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A crash of Postgres may take back a projector's last commits (its batches do not wait for the
/// WAL flush): the read model's rows and the checkpoint go back together, and the runner, whose
/// pool reconnects by itself, sees no error. Its next batch must not be applied after the lost
/// ones, or their events are never applied. Here the loss is made by hand, under the running
/// runner, with its sessions left alive, so that only the next batch can tell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_taken_back_by_a_crash_is_resumed_from_and_nothing_skipped() {
    let (app, _, (stop, runner)) = directory_runner_with_groups(10).await;
    take_back_the_directory(&app).await;
    let second = bulk_groups(&app, 10).await;
    app.eventually("the projector to apply the second groups", Duration::from_secs(30), || async { checkpoint(&app).await.0 >= second })
        .await;
    let groups: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_directory.groups").fetch_one(&app.pool).await.unwrap();
    assert_eq!(groups, 20, "the groups of the batches the crash took back are applied again");
    let _ = stop.send(true);
    runner.await.unwrap().unwrap();
}

/// The same loss, as a real crash leaves it: every session ended too. An idle projector must not
/// wait for the next write to notice; the read model comes back by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_projector_restores_what_a_crash_took_back() {
    let (app, head, (stop, runner)) = directory_runner_with_groups(10).await;
    take_back_the_directory(&app).await;
    // The sessions end after the loss, as after a restart: nothing reads the lost state again.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        .execute(&app.pool)
        .await
        .unwrap();
    app.eventually("the projector to apply the groups again", Duration::from_secs(30), || async {
        // The pool's other sessions were ended too: a failed read is asked again.
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT (SELECT count(*) FROM rm_directory.groups), tx, gid FROM projection_checkpoints WHERE name = 'directory'",
        )
        .fetch_one(&app.pool)
        .await
        .ok();
        row.is_some_and(|(groups, tx, gid)| groups == 10 && Position::new(tx, gid) >= head)
    })
    .await;
    let _ = stop.send(true);
    runner.await.unwrap().unwrap();
}

/// `/metrics` counts what a stalled projection has not applied even while a transaction that
/// appends nothing stays open (a report, another projector's batch): counted below the oldest
/// running transaction instead, every event committed after it would hide, and a projection
/// that is far behind would show as caught up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_stalled_projections_lag_past_an_open_transaction() {
    let opts = roster_tests::Options {
        roles: roster::Roles { api: true, relay: true, projector: false, sealer: false, notifier: false },
        ..Default::default()
    };
    let app = TestApp::spawn_with(opts).await;
    let bystander = app.open_bystander().await;
    bulk_groups(&app, 10).await;
    let behind = app.event_count().await;
    assert!(behind >= 10);
    let text = send_raw(app.req(Method::GET, "/metrics")).await.text().await.unwrap();
    let lag = crate::audit::sample(&text, "roster_projection_lag_events{projection=\"directory\"}");
    assert_eq!(lag, Some(behind as f64), "{text}");
    drop(bystander);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_no_event_stops_its_projection_and_is_recorded() {
    // A refused event is parked (see `parking`); only a message on the stream that is not an
    // event at all leaves nothing to park or order by, and stops the projection.
    // Short, so the last write answers soon; long enough for the org created first to be read
    // back under a loaded CI machine.
    let opts = roster_tests::Options { consistency_timeout: Duration::from_secs(2), ..Default::default() };
    let app = TestApp::spawn_with(opts).await;
    let org = app.create_org("Poison").await;
    let js = async_nats::jetstream::new(app.nats().await);
    let subject = format!("{}.x.user.{}.Garbage", app.config.nats.subject_prefix, uuid::Uuid::now_v7());
    js.publish(subject, "not an envelope".into()).await.unwrap().await.unwrap();
    app.eventually("the projection to stop", Duration::from_secs(30), || async { checkpoint(&app).await.1 == "stopped" }).await;
    let (event_id, error): (Option<uuid::Uuid>, String) =
        sqlx::query_as("SELECT event_id, error FROM projection_failures").fetch_one(&app.pool).await.unwrap();
    assert_eq!(event_id, None);
    assert!(!error.is_empty());
    let (status, _) = send(app.req(Method::GET, "/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // Writes still commit, but answer that the read models are behind.
    let resp = send_raw(app.ps(Method::POST, "/api/groups", &org.token).json(&json!({"name": "after"}))).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(resp.headers().get("roster-consistency").map(|v| v.to_str().unwrap()), Some("pending"));
}

/// Every row of every read-model table, as JSON, in a stable order.
async fn snapshot(app: &TestApp) -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::new();
    for table in projections::DIRECTORY.tables {
        let rows: Vec<Value> = sqlx::query_scalar(&format!("SELECT to_jsonb(t) FROM rm_directory.{table} t ORDER BY to_jsonb(t)::text"))
            .fetch_all(&app.pool)
            .await
            .unwrap();
        out.push((table.to_string(), rows));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_produces_the_same_read_models_and_keeps_serving() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Rebuilt").await;
    let u1 = app.add_user(&org, "u1@rebuilt.io").await;
    let u2 = app.add_user(&org, "u2@rebuilt.io").await;
    send(
        app.wd(Method::PATCH, &format!("/api/users/{}", u1["id"].as_str().unwrap()), &org.token)
            .json(&json!({"bio": "b", "addAdditionalTeams": [u2["id"]], "status": "ACTIVE"})),
    )
    .await;
    send(app.wd(Method::PATCH, &format!("/api/organization/{}", org.id), &org.token).json(&json!({"websites": ["a", "b"]}))).await;
    let g = app.create_group(&org, "Crew").await;
    let ext: i64 = sqlx::query_scalar("SELECT number FROM rm_directory.users WHERE id = $1::uuid")
        .bind(u1["id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    send(app.ps(Method::POST, &format!("/api/groups/{g}/members/{ext}"), &org.token)).await;
    send(app.ps(Method::POST, &format!("/api/groups/{g}"), &org.token).json(&json!({"description": "d"}))).await;
    let g2 = app.create_group(&org, "Gone").await;
    send(app.ps(Method::POST, &format!("/api/groups/{g2}/destroy"), &org.token)).await;
    // Departments (with heads) and locations, moved through both the unit and the users endpoints.
    let (_, d) = send(
        app.wd(Method::POST, "/api/departments", &org.token)
            .json(&json!({"name": "Ops", "members": [{"id": u1["id"], "isAdmin": true}, {"id": u2["id"]}]})),
    )
    .await;
    let (_, d2) = send(
        app.wd(Method::POST, "/api/departments", &org.token).json(&json!({"name": "Gone", "members": [{"id": u2["id"], "isAdmin": true}]})),
    )
    .await;
    send(app.wd(Method::PATCH, &format!("/api/departments/{}", d["id"].as_str().unwrap()), &org.token).json(&json!({"name": "Ops 2"})))
        .await;
    send(app.wd(Method::DELETE, &format!("/api/departments/{}", d2["id"].as_str().unwrap()), &org.token)).await;
    send(
        app.wd(Method::PATCH, &format!("/api/users/{}", u2["id"].as_str().unwrap()), &org.token)
            .json(&json!({"department": d["id"], "isDepartmentHead": true})),
    )
    .await;
    let (_, l) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": "Here"}))).await;
    let (_, l2) = send(app.wd(Method::POST, "/api/locations", &org.token).json(&json!({"name": "There"}))).await;
    send(
        app.wd(Method::POST, &format!("/api/locations/{}/members", l["id"].as_str().unwrap()), &org.token)
            .json(&json!({"addMembers": [u1["id"], u2["id"]]})),
    )
    .await;
    send(app.wd(Method::PATCH, &format!("/api/locations/{}", l2["id"].as_str().unwrap()), &org.token).json(&json!({"name": "Far"}))).await;
    send(app.wd(Method::DELETE, &format!("/api/users/{}", u2["id"].as_str().unwrap()), &org.token)).await;
    let heads: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_directory.department_heads").fetch_one(&app.pool).await.unwrap();
    assert_eq!(heads, 1, "the deleted head left; the read model has departments to compare");

    let before = snapshot(&app).await;
    let report = workers::rebuild::rebuild(&app.pool, projections::DIRECTORY, false).await.unwrap();
    let (tx, gid): (i64, i64) =
        sqlx::query_as("SELECT tx::text::bigint, gid FROM events ORDER BY tx DESC, gid DESC LIMIT 1").fetch_one(&app.pool).await.unwrap();
    assert_eq!(report.position, Position::new(tx, gid), "the rebuilt read model covers the whole log");
    // It did not read the onboarding notices and unit memberships (`directory::PASSES_OVER`), yet
    // their users' stream versions (SCIM ETags) are in `stream_versions` as before.
    assert!(report.events < app.event_count().await as u64, "{report}");
    let after = snapshot(&app).await;
    assert_eq!(before, after, "the rebuilt read model equals the live one");

    // The API and the live projector carry on with the swapped-in tables.
    let gid = app.create_group(&org, "After rebuild").await;
    let (status, v) = send(app.ps(Method::GET, &format!("/api/groups/{gid}"), &org.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["name"], "After rebuild");
    let (_, users) = send(app.wd(Method::GET, "/api/users", &org.token)).await;
    assert_eq!(users["meta"]["totalResults"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_different_users_never_conflict() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Crowd").await;
    // Every new member joins the org's Users group; that must not make creates contend.
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let rb = app
                .wd(Method::POST, "/api/users/add", &org.token)
                .json(&json!({"email": format!("c{i}@crowd.io"), "firstName": "C", "lastName": "R"}));
            tokio::spawn(async move { send(rb).await })
        })
        .collect();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    let (_, users) = send(app.wd(Method::GET, "/api/users?per_page=100", &org.token)).await;
    assert_eq!(users["meta"]["totalResults"], 25);
}

/// A user's creation, as the store appends it: `UserCreated`, then an event the directory keeps
/// nothing of, so that a run of creations has something to pass over.
fn created(org: OrgId, i: usize, profile: domain::user::Profile) -> (domain::UserId, PendingStream) {
    use domain::user::{Role, UserEvent, UserStatus};
    use domain::values::{Email, Login};
    let id = domain::UserId(uuid::Uuid::now_v7());
    let email = format!("run{i}@{}.io", org.0.simple());
    let events = [
        UserEvent::UserCreated {
            id,
            org_id: Some(org),
            number: 1_000_000 + i as i64,
            email: Email::parse("email", &email).unwrap(),
            login: Login::parse("login", &email).unwrap(),
            first_name: format!("First{i}"),
            last_name: "Run".into(),
            role: Role::Member,
            status: UserStatus::Active,
            profile,
            created_by: None,
        },
        UserEvent::UserPasswordSet { set_by: None },
    ];
    (id, PendingStream::new(id.0, Some(org.0), 0, &events).unwrap())
}

/// (rows, live users, live count kept by the projector) of an org's users.
async fn users_of(app: &TestApp, org: OrgId) -> (i64, i64, Option<i64>) {
    let (rows, live): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE NOT deleted) FROM rm_directory.users WHERE org_id = $1")
            .bind(org.0)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let kept: Option<i64> = sqlx::query_scalar("SELECT live FROM rm_directory.org_user_counts WHERE org_id = $1")
        .bind(org.0)
        .fetch_optional(&app.pool)
        .await
        .unwrap();
    (rows, live, kept)
}

/// The directory applies runs of user creations and deletions set-based (one statement per run);
/// the outcome must be that of going event by event: every row with its fields, each org's live
/// count, and a user deleted twice counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_user_creations_and_deletions_apply_as_one_by_one() {
    use domain::user::{Profile, UserEvent};
    let app = TestApp::spawn().await;
    let store = commands::Store::new(app.pool.clone());
    let ctx = CommandContext::system("test", chrono::Utc::now());
    let (a, b) = (OrgId(uuid::Uuid::now_v7()), OrgId(uuid::Uuid::now_v7()));
    // One append: creations of two orgs interleaved, one with every stored profile field, each
    // distinct, so that no two columns can be swapped unseen.
    let u = |n: u128| uuid::Uuid::from_u128(n);
    let full = Profile {
        phone: Some("+1 555".into()),
        designation: Some("Lead".into()),
        department: Some(u(11)),
        location: Some(u(12)),
        reports_to: Some(domain::UserId(u(13))),
        is_department_head: true,
        skills: vec!["rust".into(), "sql".into()],
        default_visibility: Some(domain::user::Visibility::Restricted),
        security_group: Some(u(14)),
        additional_teams: vec![domain::UserId(u(15))],
        additional_locations: vec![u(16)],
        external_user_id: Some("ext-7".into()),
        middle_name: Some("M".into()),
        title_prefix: Some("Dr".into()),
        nickname: Some("Nick".into()),
        contact: domain::user::ContactInfo {
            address_line1: Some("1 Main St".into()),
            address_line2: Some("Floor 2".into()),
            city: Some("Springfield".into()),
            state: Some("IL".into()),
            country: Some("US".into()),
            postal_code: Some("62701".into()),
        },
    };
    let mut users = Vec::new();
    let mut streams = Vec::new();
    for i in 0..10 {
        let org = if i % 3 == 0 { b } else { a };
        let (id, stream) = created(org, i, if i == 4 { full.clone() } else { Profile::default() });
        users.push((id, org));
        streams.push(stream);
    }
    store.append(&ctx, &Plan { streams, ..Plan::default() }).await.unwrap().unwrap();
    app.eventually("the read models to catch up", Duration::from_secs(20), || roster_tests::projections_caught_up(&app.pool)).await;
    assert_eq!(users_of(&app, a).await, (6, 6, Some(6)));
    assert_eq!(users_of(&app, b).await, (4, 4, Some(4)));
    let row: Value = sqlx::query_scalar(
        "SELECT to_jsonb(u) - 'id' - 'org_id' - 'email' - 'login' - 'created_at' - 'updated_at' \
         || jsonb_build_object('org_is', org_id = $2, 'created_is_updated', created_at = updated_at) \
         FROM rm_directory.users u WHERE id = $1",
    )
    .bind(users[4].0 .0)
    .bind(a.0)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        json!({"number": 1_000_004, "first_name": "First4", "last_name": "Run", "role": "member", "status": "ACTIVE",
               "phone": "+1 555", "designation": "Lead", "department": u(11), "location": u(12), "reports_to": u(13),
               "is_department_head": true, "is_expert": false, "availability": 1, "bio": null, "color": null,
               "skills": ["rust", "sql"], "default_visibility": "restricted", "security_group": u(14),
               "additional_teams": [u(15)], "additional_locations": [u(16)], "external_user_id": "ext-7",
               "file_id": null, "cover_file_id": null, "deleted": false, "created_by": null, "updated_by": null,
               "middle_name": "M", "title_prefix": "Dr", "nickname": "Nick", "address_line1": "1 Main St",
               "address_line2": "Floor 2", "city": "Springfield", "state": "IL", "country": "US", "postal_code": "62701",
               "org_is": true, "created_is_updated": true})
    );

    // One append deleting three of org A's users, one of them twice (a replayed log may hold
    // that; only a live user lowers the count).
    let by = users[0].0;
    let deleted = |n: i32| vec![UserEvent::UserDeleted { deleted_by: by }; n as usize];
    let streams = vec![
        PendingStream::new(users[1].0 .0, Some(a.0), 2, &deleted(2)).unwrap(),
        PendingStream::new(users[2].0 .0, Some(a.0), 2, &deleted(1)).unwrap(),
        PendingStream::new(users[4].0 .0, Some(a.0), 2, &deleted(1)).unwrap(),
    ];
    store.append(&ctx, &Plan { streams, ..Plan::default() }).await.unwrap().unwrap();
    app.eventually("the read models to catch up", Duration::from_secs(20), || roster_tests::projections_caught_up(&app.pool)).await;
    assert_eq!(users_of(&app, a).await, (6, 3, Some(3)));
    assert_eq!(users_of(&app, b).await, (4, 4, Some(4)), "another org's count is untouched");
}

/// The directory applies runs of group creations set-based too. A group created under another
/// created in the same append needs its parent's place in the tree first; every field must land
/// as creating the groups one by one would store it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_group_creations_apply_as_one_by_one_nested_groups_included() {
    use domain::group::{Activity, GroupParent, GroupStatus, MembershipType, OutboundCallerId};
    let app = TestApp::spawn().await;
    let org = app.create_org("Grouped").await;
    let org_id = OrgId(org.id.parse().unwrap());
    let store = commands::Store::new(app.pool.clone());
    let ctx = CommandContext::system("test", chrono::Utc::now());
    let ids: Vec<GroupId> = (0..4).map(|_| GroupId(uuid::Uuid::now_v7())).collect();
    let group = |i: usize, parent: Option<GroupParent>| GroupEvent::GroupCreated {
        id: ids[i],
        org_id,
        number: 7_000 + i as i64,
        name: format!("g{i}"),
        description: None,
        outbound_caller_ids: vec![],
        created_by: None,
        status: GroupStatus::default(),
        membership_type: MembershipType::default(),
        parent,
        short_name: None,
        tracking: None,
        activities: vec![],
        external_id: None,
    };
    let full = GroupEvent::GroupCreated {
        id: ids[3],
        org_id,
        number: 7_003,
        name: "g3".into(),
        description: Some("all fields".into()),
        outbound_caller_ids: vec![OutboundCallerId {
            provider_id: "p1".into(),
            caller_id: "+1 555".into(),
            description: None,
            display_name: Some("Desk".into()),
        }],
        created_by: None,
        status: GroupStatus::Suspended,
        membership_type: MembershipType::Moderated,
        parent: Some(GroupParent::Organization(org_id)),
        short_name: Some("G3".into()),
        tracking: Some("track".into()),
        activities: vec![Activity { id: "a1".into(), kind: "course".into() }],
        external_id: Some("ext-3".into()),
    };
    // g1 under g0, g2 under g1: each parent is created earlier in the same append.
    let events = [group(0, None), group(1, Some(GroupParent::Group(ids[0]))), group(2, Some(GroupParent::Group(ids[1]))), full];
    let streams = events.iter().enumerate().map(|(i, e)| PendingStream::new(ids[i].0, Some(org_id.0), 0, std::slice::from_ref(e)).unwrap());
    store.append(&ctx, &Plan { streams: streams.collect(), ..Plan::default() }).await.unwrap().unwrap();
    app.eventually("the read models to catch up", Duration::from_secs(20), || roster_tests::projections_caught_up(&app.pool)).await;

    let ancestors = |i: usize| {
        let pool = app.pool.clone();
        let id = ids[i].0;
        async move {
            sqlx::query_as::<_, (uuid::Uuid, i32)>(
                "SELECT ancestor_id, depth FROM rm_directory.node_closure WHERE descendant_id = $1 ORDER BY depth",
            )
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let o = org_id.0;
    assert_eq!(ancestors(0).await, vec![(ids[0].0, 0), (o, 1)]);
    assert_eq!(ancestors(1).await, vec![(ids[1].0, 0), (ids[0].0, 1), (o, 2)]);
    assert_eq!(ancestors(2).await, vec![(ids[2].0, 0), (ids[1].0, 1), (ids[0].0, 2), (o, 3)]);
    assert_eq!(ancestors(3).await, vec![(ids[3].0, 0), (o, 1)]);

    let row: Value = sqlx::query_scalar(
        "SELECT to_jsonb(g) - 'id' - 'org_id' - 'created_at' - 'updated_at' || jsonb_build_object('created_is_updated', created_at = updated_at) \
         FROM rm_directory.groups g WHERE id = $1",
    )
    .bind(ids[3].0)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        json!({"number": 7003, "name": "g3", "description": "all fields",
               "outbound_caller_ids": [{"provider_id": "p1", "caller_id": "+1 555", "description": null, "display_name": "Desk"}],
               "status": "suspended", "membership_type": "moderated", "parent_kind": "organization", "parent_id": o,
               "short_name": "G3", "tracking": "track", "activities": [{"id": "a1", "type": "course"}], "external_id": "ext-3",
               "created_by": null, "updated_by": null, "created_is_updated": true})
    );
    // And a dialect serves them.
    let (status, g1) = send(app.ps(Method::GET, &format!("/api/groups/{}", api::portsip::encode_id(7_001)), &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{g1}");
    assert_eq!(g1["name"], "g1");
}

/// `number`s are handed out from blocks reserved per store: never twice, however many stores
/// (processes) take them at once, and rising within one store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn numbers_from_blocks_are_unique_across_stores() {
    let app = TestApp::spawn().await;
    let stores = [commands::Store::new(app.pool.clone()), commands::Store::new(app.pool.clone())];
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = stores[t % 2].clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..(commands::store::NUMBER_BLOCK + 7) {
                    got.push(store.next_number().await.unwrap());
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "one caller's numbers rise: {got:?}");
        all.extend(got);
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "no number handed out twice");
}

/// A store on a database of its own, which no relay or projector reads.
async fn lone_store(connections: u32) -> (sqlx::PgPool, commands::Store) {
    let url = roster_tests::fresh_database().await;
    eventlog::db::migrate(&url).await.unwrap();
    let pool = eventlog::db::connect(&url, connections, projections::SEARCH_PATH).await.unwrap();
    (pool.clone(), commands::Store::new(pool))
}

/// A store (a process) keeps the folded state of a long stream and reads only what was appended
/// after it; what another store appended meanwhile, and a log replaced under it, are both seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_stream_loads_from_its_snapshot_and_misses_nothing_appended_after() {
    use domain::department::{DepartmentAggregate, DepartmentEvent};
    use domain::UserId;

    let (pool, a) = lone_store(4).await;
    let b = commands::Store::new(pool.clone());
    let ctx = CommandContext::system("test", chrono::Utc::now());
    let org = OrgId(uuid::Uuid::now_v7());
    let user = |n: u128| UserId(uuid::Uuid::from_u128(n));
    let append = |store: &commands::Store, id: uuid::Uuid, version: i32, events: Vec<DepartmentEvent>| {
        let plan = Plan { streams: vec![PendingStream::new(id, Some(org.0), version, &events).unwrap()], ..Plan::default() };
        let (store, ctx) = (store.clone(), ctx.clone());
        async move { store.append(&ctx, &plan).await.unwrap() }
    };
    let history = |id: uuid::Uuid, name: &str, members: std::ops::Range<u128>| {
        let created = DepartmentEvent::DepartmentCreated { id, org_id: org, name: name.into(), created_by: None };
        std::iter::once(created)
            .chain(members.map(|n| DepartmentEvent::DepartmentMemberAdded { user_id: user(n), added_by: None }))
            .collect::<Vec<_>>()
    };
    let fresh = || commands::Store::new(pool.clone());
    let long = commands::snapshots::MIN_EVENTS as u128 * 2;

    let id = uuid::Uuid::now_v7();
    append(&a, id, 0, history(id, "Sales", 0..long)).await;
    let (first, version) = a.load::<DepartmentAggregate>(id).await.unwrap();
    assert_eq!((first.as_ref().unwrap().members.len() as u128, version as u128), (long, long + 1));
    assert!(a.kept_snapshot_events() > 0, "a stream this long is kept");

    // Another process appends: the next load folds the new events onto the snapshot.
    let more = vec![
        DepartmentEvent::DepartmentMemberAdded { user_id: user(1000), added_by: None },
        DepartmentEvent::DepartmentMemberRemoved { user_id: user(3), removed_by: None },
        DepartmentEvent::DepartmentHeadAdded { user_id: user(1000), added_by: None },
    ];
    append(&b, id, version, more).await;
    let (state, v) = a.load::<DepartmentAggregate>(id).await.unwrap();
    assert_eq!((state.clone(), v), fresh().load::<DepartmentAggregate>(id).await.unwrap());
    let d = state.unwrap();
    assert!(d.heads.contains(&user(1000)) && !d.members.contains(&user(3)), "{d:?}");

    // The log replaced under the running process (a restore): the snapshot's last event is not
    // there any more, so the stream is read whole rather than folded onto a state it never had.
    sqlx::query("DELETE FROM events WHERE stream_id = $1").bind(id).execute(&pool).await.unwrap();
    append(&b, id, 0, history(id, "Support", 5000..5000 + long + 10)).await;
    let (state, v) = a.load::<DepartmentAggregate>(id).await.unwrap();
    assert_eq!((state.clone(), v), fresh().load::<DepartmentAggregate>(id).await.unwrap());
    let d = state.unwrap();
    assert!(d.members.contains(&user(5000)) && !d.members.contains(&user(0)) && d.heads.is_empty(), "{d:?}");
}

/// One drawn command for the group-append tests: where it appends, what it claims, its key.
#[derive(Debug, Clone)]
struct Drawn {
    /// `None`: a fresh stream of its own; `Some(v)`: the shared stream, after version `v` (a
    /// command loaded it at that version: never above the stream's).
    shared_after: Option<i32>,
    /// Indexes into the case's claim values (value 0 is held before the group).
    claims: Vec<usize>,
    /// Index into the case's idempotency keys.
    key: Option<usize>,
}

/// How one command fares, as the store names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Appended,
    VersionConflict,
    IdempotencyRace,
    ClaimTaken,
}

fn fate(r: &Result<Option<Position>, commands::StoreError>) -> Fate {
    match r {
        Ok(Some(_)) => Fate::Appended,
        Err(commands::StoreError::VersionConflict) => Fate::VersionConflict,
        Err(commands::StoreError::IdempotencyRace) => Fate::IdempotencyRace,
        Err(commands::StoreError::ClaimTaken { .. }) => Fate::ClaimTaken,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// The answers of appending `drawn` one by one in order: the model the group must match. A
/// command whose events meet both a taken version and a used key may be named by either.
fn one_by_one(drawn: &[Drawn], shared_version: i32) -> Vec<Vec<Fate>> {
    let mut version = shared_version;
    let mut taken = std::collections::BTreeSet::from([0usize]);
    let mut keys = std::collections::BTreeSet::new();
    drawn
        .iter()
        .map(|d| {
            let mut claims = std::collections::BTreeSet::new();
            if !d.claims.iter().all(|c| claims.insert(*c)) {
                return vec![Fate::ClaimTaken];
            }
            let mut events = Vec::new();
            if d.shared_after.is_some_and(|v| v != version) {
                events.push(Fate::VersionConflict);
            }
            if d.key.is_some_and(|k| keys.contains(&k)) {
                events.push(Fate::IdempotencyRace);
            }
            if !events.is_empty() {
                return events;
            }
            if !claims.is_disjoint(&taken) {
                return vec![Fate::ClaimTaken];
            }
            version += d.shared_after.is_some() as i32;
            taken.extend(claims);
            keys.extend(d.key);
            vec![Fate::Appended]
        })
        .collect()
}

/// Concurrent commands share one `roster_append` call (group commit, `commands::store::Appender`);
/// each must still get the answer it would get alone. Drawn groups of commands that append to a
/// shared stream (at a right or stale version) or a fresh one, claim values (one held already,
/// some claimed twice), and reuse idempotency keys, are appended together; every answer must be
/// that of appending them one by one in order, the log and the claims must hold exactly the
/// appended commands', and a group that breaks no rule must commit as one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_appends_answer_as_one_by_one_in_order() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};

    let (pool, store) = lone_store(4).await;
    let org = OrgId(uuid::Uuid::now_v7());
    // Values drawn from 4 or from 40: crowded cases refuse often, sparse ones seldom.
    let drawn = |values: usize| {
        (
            proptest::option::weighted(0.25, 0..2i32),
            proptest::collection::vec(0..values, 0..=2),
            proptest::option::weighted(0.15, 0..2usize),
        )
            .prop_map(|(shared_after, claims, key)| Drawn { shared_after, claims, key })
    };
    let groups = prop_oneof![proptest::collection::vec(drawn(4), 2..=8), proptest::collection::vec(drawn(40), 2..=8)];
    let mut runner = TestRunner::new(Config { cases: 60, ..Config::default() });
    let (mut all_appended, mut some_refused) = (0, 0);
    for case in 0..60 {
        let group = groups.new_tree(&mut runner).unwrap().current();
        // Each case on streams, claims and keys of its own: the shared stream at version 1.
        let shared = GroupId(uuid::Uuid::now_v7());
        let scope = uuid::Uuid::now_v7();
        let value = |i: usize| format!("v{i}");
        let keys = [format!("k0-{case}-{scope}"), format!("k1-{case}-{scope}")];
        let ctx = CommandContext::system("test", chrono::Utc::now());
        let holder = uuid::Uuid::now_v7();
        let setup = Plan {
            streams: vec![PendingStream::new(shared.0, Some(org.0), 0, &[roster_tests::group_created(shared, org, 1, "s".into())]).unwrap()],
            claims: vec![commands::store::Claim { scope, kind: "login", value: value(0), owner: holder }],
            ..Plan::default()
        };
        store.append(&ctx, &setup).await.unwrap();

        let mut owners = Vec::new();
        let mut commands = Vec::new();
        for (i, d) in group.iter().enumerate() {
            let id = d.shared_after.map_or_else(|| GroupId(uuid::Uuid::now_v7()), |_| shared);
            let event = roster_tests::group_created(id, org, 10 + i as i64, format!("g{i}"));
            let owner = uuid::Uuid::now_v7();
            owners.push((id, owner));
            let mut ctx = ctx.clone();
            ctx.idempotency_key = d.key.map(|k| keys[k].clone());
            let plan = Plan {
                streams: vec![PendingStream::new(id.0, Some(org.0), d.shared_after.unwrap_or(0), &[event]).unwrap()],
                claims: d.claims.iter().map(|c| commands::store::Claim { scope, kind: "login", value: value(*c), owner }).collect(),
                ..Plan::default()
            };
            commands.push((ctx, plan));
        }
        let refs: Vec<_> = commands.iter().map(|(c, p)| (c, p)).collect();
        let answers = store.append_all(&refs).await;

        let expected = one_by_one(&group, 1);
        let fates: Vec<Fate> = answers.iter().map(fate).collect();
        for (i, (got, want)) in fates.iter().zip(&expected).enumerate() {
            assert!(want.contains(got), "case {case}, command {i} of {group:?}: {got:?}, alone it would be {want:?}");
        }
        let appended: Vec<usize> = (0..group.len()).filter(|i| fates[*i] == Fate::Appended).collect();
        if appended.len() == group.len() {
            all_appended += 1;
            let txs: std::collections::BTreeSet<i64> = answers.iter().map(|a| a.as_ref().unwrap().unwrap().tx).collect();
            assert_eq!(txs.len(), 1, "case {case}: a group that breaks no rule is one transaction: {answers:?}");
        } else {
            some_refused += 1;
        }
        // The log holds exactly the appended commands' events, each at its answered position.
        for (i, answer) in answers.iter().enumerate() {
            let (stream, _) = owners[i];
            let rows: Vec<(i64, i64)> =
                sqlx::query_as("SELECT tx::text::bigint, gid FROM events WHERE stream_id = $1 AND payload->>'name' = $2")
                    .bind(stream.0)
                    .bind(format!("g{i}"))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            match answer {
                Ok(Some(p)) => assert_eq!(rows, vec![(p.tx, p.gid)], "case {case}, command {i}: its event at its position"),
                _ => assert!(rows.is_empty(), "case {case}, command {i} was refused but left {rows:?}"),
            }
            // A retry with its key is answered with its own position.
            if let (Ok(Some(p)), Some(key)) = (answer, &commands[i].0.idempotency_key) {
                let recorded: (Option<i64>, Option<i64>) =
                    sqlx::query_as("SELECT position_tx, position_gid FROM idempotency WHERE key = $1")
                        .bind(key)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                assert_eq!(recorded, (Some(p.tx), Some(p.gid)), "case {case}, command {i}: its idempotency record");
            }
        }
        let shared_versions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_id = $1").bind(shared.0).fetch_one(&pool).await.unwrap();
        assert_eq!(shared_versions, 1 + appended.iter().filter(|i| group[**i].shared_after.is_some()).count() as i64, "case {case}");
        // Each value is held by the first appended command that claimed it, or by its holder.
        let held: Vec<(String, uuid::Uuid)> = sqlx::query_as("SELECT value, owner_id FROM unique_claims WHERE scope = $1 ORDER BY value")
            .bind(scope)
            .fetch_all(&pool)
            .await
            .unwrap();
        let mut want: std::collections::BTreeMap<String, uuid::Uuid> = [(value(0), holder)].into();
        for i in &appended {
            for c in &group[*i].claims {
                want.entry(value(*c)).or_insert(owners[*i].1);
            }
        }
        assert_eq!(held, want.into_iter().collect::<Vec<_>>(), "case {case}: {group:?}");
    }
    assert!(
        all_appended >= 5 && some_refused >= 5,
        "the cases cover both: {all_appended} groups appended whole, {some_refused} with a refusal"
    );
}

/// Appends that arrive together share a transaction, and each answers for itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_transactions() {
    let (pool, store) = lone_store(8).await;
    let org = OrgId(uuid::Uuid::now_v7());
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(64));
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                let id = GroupId(uuid::Uuid::now_v7());
                let plan = Plan {
                    streams: vec![
                        PendingStream::new(id.0, Some(org.0), 0, &[roster_tests::group_created(id, org, i, format!("c{i}"))]).unwrap()
                    ],
                    ..Plan::default()
                };
                let ctx = CommandContext::system("test", chrono::Utc::now());
                start.wait().await;
                (id, store.append(&ctx, &plan).await.unwrap().unwrap())
            })
        })
        .collect();
    let mut txs = std::collections::BTreeSet::new();
    for t in tasks {
        let (id, p) = t.await.unwrap();
        let at: (i64, i64) =
            sqlx::query_as("SELECT tx::text::bigint, gid FROM events WHERE stream_id = $1").bind(id.0).fetch_one(&pool).await.unwrap();
        assert_eq!(at, (p.tx, p.gid), "each answer is its own event's position");
        txs.insert(p.tx);
    }
    assert!(txs.len() < 64, "64 appends at once shared no transaction");
}
