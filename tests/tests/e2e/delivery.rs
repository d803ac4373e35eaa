//! The subscriber contract: every event reaches NATS once, in log order, with the envelope and
//! headers of DESIGN §4, even when nats-server dies in the middle of a stream of writes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, Options, TestApp};
use serde_json::{json, Value};

/// Reads the whole stream from the start with a fresh ephemeral consumer.
async fn read_stream(app: &TestApp, expect: usize) -> Vec<(String, async_nats::HeaderMap, Value)> {
    let js = jetstream::new(app.nats().await);
    let stream = js.get_stream(&app.config.nats.stream).await.expect("stream exists");
    let consumer = stream
        .create_consumer(pull::Config { ack_policy: jetstream::consumer::AckPolicy::None, ..Default::default() })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while out.len() < expect {
        let next = tokio::time::timeout(Duration::from_secs(20), messages.next()).await;
        let m = match next {
            Ok(Some(Ok(m))) => m,
            other => panic!("stream ended early after {} of {expect} messages: {other:?}", out.len()),
        };
        let headers = m.headers.clone().unwrap_or_default();
        out.push((m.subject.to_string(), headers, serde_json::from_slice(&m.payload).expect("json body")));
    }
    // Nothing beyond what the log holds.
    assert!(tokio::time::timeout(Duration::from_millis(300), messages.next()).await.is_err(), "more messages than events");
    out
}

/// The log, in order, as the envelopes the relay publishes: below the horizon the relay reads
/// below, so another test's open transaction in the same cluster hides nothing from it.
async fn log(app: &TestApp) -> Vec<Value> {
    let horizon = eventlog::log::appenders_horizon(&app.pool).await.unwrap();
    let all = eventlog::log::Selection::ALL;
    let events = eventlog::log::read_after_of(&app.pool, commands::Position::START, horizon, &all, 1_000_000).await.unwrap();
    events.into_iter().map(|e| serde_json::to_value(e).unwrap()).collect()
}

async fn stream_count(app: &TestApp) -> u64 {
    let js = jetstream::new(app.nats().await);
    match js.get_stream(&app.config.nats.stream).await {
        Ok(s) => s.get_info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_nats_once_in_log_order_with_the_envelope() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Subscribers").await;
    let u = app.add_user(&org, "s@subscribers.io").await;
    let g = app.create_group(&org, "Listeners").await;
    send(app.wd(Method::PATCH, &format!("/api/users/{}", u["id"].as_str().unwrap()), &org.token).json(&json!({"bio": "hi"}))).await;
    send(app.ps(Method::POST, &format!("/api/groups/{g}/destroy"), &org.token)).await;

    let expected = log(&app).await;
    let total = expected.len() as i64;
    app.eventually("the relay to publish everything", Duration::from_secs(20), || async { stream_count(&app).await as i64 == total }).await;
    let got = read_stream(&app, expected.len()).await;
    for ((subject, headers, body), want) in got.iter().zip(&expected) {
        assert_eq!(body, want, "the envelope on NATS is the log's row");
        let org_token = want["org_id"].as_str().unwrap_or("_");
        assert_eq!(
            subject,
            &format!(
                "{}.{}.{}.{}.{}",
                app.config.nats.subject_prefix,
                org_token,
                want["stream_type"].as_str().unwrap(),
                want["stream_id"].as_str().unwrap(),
                want["event_type"].as_str().unwrap()
            )
        );
        assert_eq!(headers.get("Nats-Msg-Id").map(|v| v.as_str()), want["event_id"].as_str());
        assert_eq!(headers.get("Roster-Position").map(|v| v.as_str()), want["position"].as_str());
    }
    // A super-admin (system) event has no org: its subject says `_`.
    assert!(got.iter().any(|(s, _, _)| s.starts_with(&format!("{}._.user.", app.config.nats.subject_prefix))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_loses_and_doubles_nothing_when_nats_dies_mid_stream() {
    // A nats-server of this test's own, to kill.
    let mut nats = roster_tests::own_nats().await;
    // The org is made with the usual read-your-writes wait (its token must be readable); then
    // Roster restarts over the same log with a short wait, so writes during the outage answer
    // quickly (pending) instead of each waiting for projections that cannot move.
    let setup = TestApp::spawn_with(Options { nats_url: Some(nats.url()), ..Options::default() }).await;
    let org = setup.create_org("Outage").await;
    let opts = Options { consistency_timeout: Duration::from_millis(200), ..setup.same_log() };
    setup.stop().await;
    let app = TestApp::spawn_with(opts).await;

    // The API refuses writes while NATS is away (503, Retry-After, nothing appended): the client
    // retries each with its Idempotency-Key until it is created.
    let refused = Arc::new(AtomicU64::new(0));
    let writer = {
        let client = app.client.clone();
        let url = app.url.clone();
        let token = org.token.clone();
        let refused = refused.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                loop {
                    let resp = client
                        .post(format!("{url}/api/groups"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", format!("g{i}"))
                        .json(&json!({"name": format!("g{i}")}))
                        .send()
                        .await
                        .unwrap();
                    // 202: committed, the read models not there yet (past the short wait).
                    if matches!(resp.status(), StatusCode::CREATED | StatusCode::ACCEPTED) {
                        break;
                    }
                    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "created, accepted, or refused while NATS is away");
                    assert!(resp.headers().contains_key("retry-after"));
                    refused.fetch_add(1, Ordering::SeqCst);
                    // A client honours Retry-After; the test only needs it not to spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
    };
    // Kill NATS once part of the writes went through, then bring it back.
    app.eventually("some writes", Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE stream_type = 'group'").fetch_one(&app.pool).await.unwrap() >= 15
    })
    .await;
    nats.kill().await.expect("kill nats");
    // Writers that do not go through the API (the CLI, the expiry worker) keep appending: the
    // relay has a backlog to publish when NATS is back.
    let store = commands::Store::new(app.pool.clone());
    let org_id = domain::OrgId(org.id.parse().unwrap());
    for i in 0..20 {
        let ctx = commands::CommandContext::system("test", chrono::Utc::now());
        commands::handlers::security_group::create_security_group(&store, &ctx, org_id, format!("sg{i}"))
            .await
            .expect("append while NATS is away");
    }
    // And a backlog of several relay batches (each bulk create appends two events per user), so
    // that NATS comes back to a relay with batches in flight while it reads the next ones.
    for call in 0..BACKLOG_CALLS {
        let ctx = commands::CommandContext::system("test", chrono::Utc::now());
        let rows = (0..domain::values::MAX_BULK_ITEMS).map(|i| roster_tests::plain_member(format!("b{call}-{i}@outage.io"))).collect();
        commands::handlers::user_bulk::bulk_create_users(&store, &ctx, org_id, rows).await.expect("bulk append while NATS is away");
    }
    app.eventually("a write refused during the outage", Duration::from_secs(30), || async { refused.load(Ordering::SeqCst) > 0 }).await;
    nats.restart().await.expect("restart nats");
    // Kill it again while the relay works through the backlog: some batches acknowledged, later
    // ones sent ahead of their acknowledgements, and a tail the killed server may lose.
    let before = stream_count(&app).await;
    app.eventually("the relay to publish part of the backlog", Duration::from_secs(60), || async {
        stream_count(&app).await > before + 1000
    })
    .await;
    nats.kill().await.expect("kill nats again");
    nats.restart().await.expect("restart nats again");
    writer.await.unwrap();

    let expected = log(&app).await;
    let total = expected.len() as u64;
    app.eventually("the relay to catch up", Duration::from_secs(60), || async { stream_count(&app).await >= total }).await;
    let got = read_stream(&app, expected.len()).await;
    let got_ids: Vec<&Value> = got.iter().map(|(_, _, b)| &b["event_id"]).collect();
    let want_ids: Vec<&Value> = expected.iter().map(|e| &e["event_id"]).collect();
    assert_eq!(got_ids, want_ids, "every event once, in log order");
    // And the projections caught up too.
    let head = eventlog::log::head(&app.pool).await.unwrap().unwrap();
    app.eventually("projections to catch up", Duration::from_secs(60), || async {
        projections::checkpoint::slowest(&app.pool).await.unwrap() >= head
    })
    .await;
    let (_, list) = send(app.ps(Method::GET, "/api/groups", &org.token)).await;
    assert_eq!(list["count"], 60);
}

/// Bulk creates appended while NATS is away in the outage test: 2,000 events each.
const BACKLOG_CALLS: usize = 3;

/// A connection to NATS can go silent without closing, as when a firewall or a NAT table drops
/// its state: no reset, no error, nothing more arrives. Each part of Roster that holds one must
/// notice well within the read-your-writes wait, and connect again: the relay by its missing
/// publish acks, each projection runner by the missing idle heartbeats of its pull. So a write
/// made after the silence is still answered from read models that hold it, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_stay_read_your_writes_when_every_nats_connection_goes_silent() {
    let (_nats, proxy) = roster_tests::SilencingProxy::with_own_nats().await;
    // Room for a slow machine (recovery takes about 2.5 s here), yet less than the 15 to 30 s a
    // pull with the client's default heartbeat (15 s; two missed end it) needs to notice.
    let consistency_timeout = Duration::from_secs(12);
    let app = TestApp::spawn_with(Options { nats_url: Some(proxy.url()), consistency_timeout, ..Options::default() }).await;
    let org = app.create_org("Silence").await;
    for round in 0..2 {
        proxy.silence();
        let resp =
            send_raw(app.ps(Method::POST, "/api/groups", &org.token).json(&json!({ "name": format!("after silence {round}") }))).await;
        let status = resp.status();
        let consistency = resp.headers().get("roster-consistency").cloned();
        let body: Value = resp.json().await.expect("json body");
        assert_eq!(status, StatusCode::CREATED, "round {round}: {body}");
        assert_eq!(consistency, None, "round {round}: answered before the read models held the write: {body}");
        let id = body["id"].as_str().expect("group id");
        let (status, group) = send(app.ps(Method::GET, &format!("/api/groups/{id}"), &org.token)).await;
        assert_eq!((status, group["name"].as_str()), (StatusCode::OK, Some(format!("after silence {round}").as_str())), "{group}");
    }
}

/// The relay pipelines its publishes and relies on JetStream refusing a message whose
/// predecessor is not the stream's last (`Nats-Expected-Last-Msg-Id`): check the server does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_refuses_a_message_whose_predecessor_is_missing() {
    let app = TestApp::spawn().await;
    app.create_org("Chain").await;
    let expected = log(&app).await;
    let total = expected.len() as u64;
    app.eventually("the relay to publish everything", Duration::from_secs(20), || async { stream_count(&app).await == total }).await;
    let js = jetstream::new(app.nats().await);
    let subject = format!("{}._.test.x.Probe", app.config.nats.subject_prefix);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "probe-1");
    headers.insert("Nats-Expected-Last-Msg-Id", "not-the-last-one");
    let refused = match js.publish_with_headers(subject.clone(), headers, "{}".into()).await {
        Ok(ack) => ack.await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a message chained to the wrong predecessor must be refused");
    assert_eq!(stream_count(&app).await, total, "nothing was stored");
    let last = expected.last().unwrap()["event_id"].as_str().unwrap().to_string();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "probe-2");
    headers.insert("Nats-Expected-Last-Msg-Id", last.as_str());
    js.publish_with_headers(subject, headers, "{}".into()).await.unwrap().await.expect("chained to the real last message");
    assert_eq!(stream_count(&app).await, total + 1);
}

/// Appends one system event as a raw row (no projection subscribes to its stream type), in the
/// statement's own transaction or the caller's; returns its event id.
async fn append_probe(db: impl sqlx::PgExecutor<'_>) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO events (event_id, org_id, stream_type, stream_id, version, event_type, payload) \
         VALUES ($1, NULL, 'probe', $1, 1, 'Probed', '{}')",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(id.to_string())
}

/// The horizon the log's followers read below (`roster_log_horizon()`, migration 0030), as a full
/// transaction id.
async fn log_horizon(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT roster_log_horizon()").fetch_one(&app.pool).await.unwrap()
}

/// The full transaction id of an open transaction (assigning one if it has none yet).
async fn xid_of(tx: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint").fetch_one(tx).await.unwrap()
}

/// A transaction that appends nothing, such as a projector's batch or a report left open, holds
/// an xid; the followers of the log pass over it (migration 0030), so events that committed after
/// it began still reach NATS, the read models and the audit reads while it stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_that_appends_nothing_holds_no_event_back() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Bystanders").await;
    let mut bystander = app.open_bystander().await;

    // Read-your-writes answers only once the projector has the user, through the relay.
    let user = app.add_user(&org, "late@bystanders.io").await;
    let (horizon, bystander_xid) = (log_horizon(&app).await, xid_of(&mut bystander).await);
    assert!(horizon > bystander_xid, "the horizon {horizon} is held back by the bystander {bystander_xid}");
    let (status, list) = send(app.wd(Method::GET, "/api/users", &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.to_string().contains(user["id"].as_str().unwrap()), "the new user is listed: {list}");
    // The audit reads too: the write's events are there once it has answered.
    let id = user["id"].as_str().unwrap();
    let (status, feed) = send(app.ps(Method::GET, "/events?event_type=UserCreated&limit=1000", &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    assert!(feed["events"].as_array().unwrap().iter().any(|e| e["stream_id"] == id), "the new user's event in /events: {feed}");
    let (status, history) = send(app.ps(Method::GET, &format!("/streams/user/{id}/events"), &org.token)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["events"][0]["event_type"], "UserCreated", "{history}");
    let total = app.event_count().await as u64;
    app.eventually("the relay to publish past the open transaction", Duration::from_secs(20), || async {
        stream_count(&app).await == total
    })
    .await;

    // The bystander has an xid now, so it may no longer append: had it appended, the relay would
    // already have passed rows of its transaction.
    let refused = append_probe(&mut *bystander).await.expect_err("events after other writes are refused");
    let db = refused.as_database_error().expect("a database error");
    assert_eq!(db.code().as_deref(), Some("55000"), "{db}");
    assert!(db.message().contains("events must be the first rows a transaction writes"), "{db}");
    bystander.rollback().await.unwrap();
}

/// An appender still open holds back every event that commits after it, and when it commits its
/// events are published first, in log order: none is skipped by the sharper horizon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_appender_holds_later_events_back_and_loses_none() {
    let app = TestApp::spawn().await;
    app.create_org("Appenders").await;
    let before = app.event_count().await as u64;
    app.eventually("the relay to publish everything", Duration::from_secs(20), || async { stream_count(&app).await == before }).await;

    let mut first = app.pool.begin().await.unwrap();
    let first_id = append_probe(&mut *first).await.unwrap();
    let first_xid = xid_of(&mut first).await;
    let second_id = append_probe(&app.pool).await.unwrap();
    // What the relay reads below now: not past the open appender, so not up to `second`.
    let horizon = log_horizon(&app).await;
    assert!(horizon <= first_xid, "the horizon {horizon} passed the open appender {first_xid}");
    assert_eq!(stream_count(&app).await, before, "an event was published past an open appender");

    first.commit().await.unwrap();
    app.eventually("the relay to publish both", Duration::from_secs(20), || async { stream_count(&app).await == before + 2 }).await;
    let got = read_stream(&app, before as usize + 2).await;
    let tail: Vec<_> = got[before as usize..].iter().map(|(_, _, body)| body["event_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(tail, [first_id, second_id], "log order: the earlier transaction first");
    let expected = log(&app).await;
    assert_eq!(got.iter().map(|(_, _, b)| b).collect::<Vec<_>>(), expected.iter().collect::<Vec<_>>());
}

/// The horizon's decision (`roster_horizon_of`, migration 0042), given the snapshot S taken
/// before the read of pg_locks, the xids passed over there, and the later snapshot S'. The third
/// case is the one that moved the horizon back before 0042: a transaction running at S that
/// finished before pg_locks was read held no lock there, so it was not passed over, and the
/// horizon stopped at it though an earlier horizon had passed it; a live reader that joined the
/// log to NATS then lost the events in between. It cannot be raced on demand, hence the cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_horizon_waits_only_for_transactions_still_running_after_the_lock_read() {
    let app = TestApp::spawn().await;
    let cases = [
        ("100:110:100,105", "{}", "100:112:100,105", 100, "an xid running throughout, not passed over, holds it back"),
        ("100:110:100,105", "{100}", "100:112:100,105", 105, "an xid whose lock a non-appender held is passed over"),
        ("100:110:100,105", "{105}", "105:112:105", 110, "an xid that finished before the lock read (no lock, not running in S') does not"),
        ("100:110:105", "{}", "105:112:105", 105, "an xid whose lock is not in pg_locks yet, still running in S', holds it back"),
        ("110:110:", "{}", "110:112:111", 110, "a transaction newer than S does not count: xmax(S)"),
    ];
    for (s, passed_over, later, expected, what) in cases {
        let got: i64 = sqlx::query_scalar("SELECT roster_horizon_of($1::pg_snapshot, $2::xid[], $3::pg_snapshot)")
            .bind(s)
            .bind(passed_over)
            .bind(later)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(got, expected, "{what}: S {s}, passed over {passed_over}, S' {later}");
    }
}

/// The horizon never moves back while transactions that append nothing come and go, each holding
/// an xid for a moment (projector batches, reports, other databases' writes). Before migration
/// 0042 one that finished between the horizon's snapshot and its read of pg_locks stopped the
/// horizon at its xid, below an earlier horizon that had passed it over: with eight such clients
/// under pgbench, two horizon clients saw it move back within a few hundred calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_horizon_never_moves_back_while_bystanders_come_and_go() {
    const BYSTANDERS: u64 = 6;
    const CALLS: usize = 3000;
    let app = TestApp::spawn().await;
    // The bystanders' own connections, so that they never wait for Roster's or it for them.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(BYSTANDERS as u32)
        .connect(&app.config.database_url)
        .await
        .expect("a pool of their own");
    let stop = Arc::new(AtomicBool::new(false));
    let bystanders: Vec<_> = (1..=BYSTANDERS)
        .map(|i| {
            let (pool, stop) = (pool.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut tx = pool.begin().await.expect("begin");
                    xid_of(&mut tx).await;
                    tokio::time::sleep(Duration::from_micros(300 * i)).await;
                    tx.commit().await.expect("commit");
                }
            })
        })
        .collect();
    let mut last = 0;
    for call in 0..CALLS {
        let horizon = log_horizon(&app).await;
        assert!(horizon >= last, "the horizon moved back from {last} to {horizon} at call {call}");
        last = horizon;
    }
    stop.store(true, Ordering::Relaxed);
    for b in bystanders {
        b.await.expect("a bystander");
    }
}

/// A read that starts over on each new connection (a chat's stream, the notification inbox,
/// `roster events tail`: `workers::ordered`) keeps trying when JetStream refuses its new consumer,
/// and goes on from where it was once JetStream accepts one: nothing lost, nothing twice. Here the
/// stream takes one consumer at most, and the read's old one holds that place until the test
/// removes it; a server still recovering its streams after a restart refuses the same way, but
/// not on demand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_read_whose_new_consumer_is_refused_tries_again() {
    let nats = roster_tests::own_nats().await;
    let (client, connections) = workers::client(&workers::NatsConfig::new(nats.url())).await.expect("client");
    let js = jetstream::new(client.clone());
    let config =
        jetstream::stream::Config { name: "ORDERED".into(), subjects: vec!["read.>".into()], max_consumers: 1, ..Default::default() };
    let stream = js.create_stream(config).await.expect("stream");
    js.publish("read.one", "m1".into()).await.unwrap().await.expect("m1 stored");
    let mut read = workers::ordered::Ordered::start(stream.clone(), "read.>".into(), 1, connections).await.expect("the read");
    let payload =
        |m: Option<Result<jetstream::Message, workers::WorkerError>>| String::from_utf8(m.unwrap().unwrap().payload.to_vec()).unwrap();
    assert_eq!(payload(read.next().await), "m1");
    let old: Vec<String> = stream.consumer_names().map(Result::unwrap).collect().await;
    assert_eq!(old.len(), 1);

    // Refused: the new connection's consumer would be the stream's second.
    // A request sent as the connection is replaced may go unanswered: that one counts nothing.
    let errors = || async { js.query_account().await.ok().map(|a| a.requests.errors) };
    let refused_before = errors().await.expect("account");
    client.force_reconnect().await.expect("reconnect");
    let reading = tokio::spawn(async move { payload(read.next().await) });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while errors().await.is_none_or(|n| n == refused_before) {
        assert!(tokio::time::Instant::now() < deadline, "no consumer refused within 20 s of the new connection");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Accepted once the old consumer is gone (the server would drop it after 30 s idle).
    stream.delete_consumer(&old[0]).await.expect("remove the old consumer");
    js.publish("read.two", "m2".into()).await.unwrap().await.expect("m2 stored");
    let got = match tokio::time::timeout(Duration::from_secs(20), reading).await {
        Ok(got) => got.expect("the read"),
        Err(_) => {
            let left: Vec<_> = stream.consumers().collect().await;
            panic!("m2 not within 20 s; consumers now: {left:?}");
        }
    };
    assert_eq!(got, "m2", "the read goes on after m1, with nothing lost or repeated");
}
