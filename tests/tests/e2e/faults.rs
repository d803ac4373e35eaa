//! Fault injection (issue 11, item 4). Roster runs as separate processes of the real binary
//! (`serve --role api` twice, `relay` and a standby relay, `projector`, `sealer`) over a Postgres and a nats-server of
//! the test's own (the shared ones must never be restarted under other tests). Load clients, one
//! per dialect, create groups and users on both API instances, retrying every failed, refused or
//! timed-out write with the same `Idempotency-Key` until it is acknowledged (200/201/202). Under
//! that load each role is SIGKILLed and restarted in turn, then nats-server, then Postgres
//! (`pg_ctl stop -m immediate`, every dialect probed, start again; then a quick immediate
//! restart). Afterwards: every acknowledged write is readable,
//! nothing is doubled, JetStream holds the log's events exactly once in log order, `roster verify`
//! passes and `roster rebuild all` yields the read models the live projector built. While
//! Postgres or NATS is away writes answer 503 with `Retry-After` in their dialect's shape, never
//! a 500.
//!
//! A second test runs Roster (in-process) on a 3-node NATS cluster with stream replicas 3 and
//! kills the stream's leader node under load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devstack::{free_port, NatsServer, PgCluster};
use futures::StreamExt;
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// The `roster` command line (see `tests/src/bin/roster_e2e.rs`).
const ROSTER: &str = env!("CARGO_BIN_EXE_roster-e2e");
/// Writes one load client makes at most; the load stops earlier, once the faults are done.
const MAX_WRITES_PER_CLIENT: usize = 300;
/// How long one write is retried before the test counts it as failed.
const WRITE_DEADLINE: Duration = Duration::from_secs(90);
/// One request's timeout: longer than the pool's acquire timeout (10 s), so a request that waits
/// for a Postgres that is away gets its 503 rather than a client-side timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest pause between two attempts of a write, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Backoff after a refused connection or a cut answer (an API process is down or restarting).
const CONNECTION_BACKOFF: Duration = Duration::from_millis(100);
/// Deadline of every wait on a condition.
const WAIT: Duration = Duration::from_secs(90);
/// Writes acknowledged while a role is down, before it is restarted.
const WRITES_WHILE_DOWN: u64 = 6;
/// Writes answered from caught-up read models after the last fault, before the load stops.
const WRITES_AFTER_FAULTS: u64 = 20;
/// A write past this waits no longer for the read models (it answers 202): keeps kills of the
/// relay or the projector short.
const CONSISTENCY_TIMEOUT_MS: u64 = 2000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Dialect {
    PortSip,
    WorkDrive,
    Publisher,
    NexPort,
    Sunbird,
}

const DIALECTS: [Dialect; 5] = [Dialect::PortSip, Dialect::WorkDrive, Dialect::Publisher, Dialect::NexPort, Dialect::Sunbird];

impl Dialect {
    /// What identifies write `i` of client `n` in the read models: a group's name, a user's email.
    fn ident(self, n: usize, i: usize) -> String {
        match self {
            Dialect::WorkDrive => format!("load-{n}-{i}@faults.example.com"),
            _ => format!("load-{n}-{i}"),
        }
    }

    fn creates_user(self) -> bool {
        self == Dialect::WorkDrive
    }

    /// The create request in this dialect.
    fn create(self, http: &reqwest::Client, base: &str, org: &OrgInfo, ident: &str) -> reqwest::RequestBuilder {
        let token = &org.token;
        match self {
            Dialect::PortSip => http.post(format!("{base}/api/groups")).bearer_auth(token).json(&json!({ "name": ident })),
            Dialect::WorkDrive => http
                .post(format!("{base}/api/users/add"))
                .header("X-API-KEY", token)
                .json(&json!({ "email": ident, "firstName": "Load", "lastName": "Client" })),
            Dialect::Publisher => http.post(format!("{base}/api/2/groups")).bearer_auth(token).json(&json!({ "group": { "name": ident } })),
            Dialect::NexPort => http
                .post(format!("{base}/api/v1/AdminApi/CreateGroup?access_token={token}"))
                .json(&json!({ "name": ident, "short_name": ident, "parent_id": org.id })),
            Dialect::Sunbird => http
                .post(format!("{base}/api/group/v1/create"))
                .header("x-authenticated-user-token", token)
                .json(&json!({ "id": "api.group.create", "ver": "v1", "params": {}, "request": { "name": ident } })),
        }
    }

    /// `body` is this dialect's documented error shape, saying 503.
    fn unavailable_shape(self, body: &Value) -> bool {
        match self {
            Dialect::PortSip => body["errors"][0]["code"] == "SERVICE_UNAVAILABLE",
            Dialect::WorkDrive => body["statusCode"] == 503 && body["message"].is_string(),
            Dialect::Publisher => body["error"]["code"] == 503 && body["error"]["message"].is_string(),
            Dialect::NexPort => body["api_error_entity"]["error_code"].as_i64().is_some_and(|c| c != 0),
            Dialect::Sunbird => body["responseCode"] == 503 && body["params"]["status"] == "failed" && body["params"]["err"].is_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct OrgInfo {
    id: String,
    token: String,
}

/// What the load clients saw.
#[derive(Default)]
struct Tally {
    /// Every write started: (dialect, ident).
    attempted: Mutex<Vec<(Dialect, String)>>,
    /// Writes answered 200/201/202.
    acked: Mutex<Vec<(Dialect, String)>>,
    acked_n: AtomicU64,
    /// Writes answered after the read models caught up (no `Roster-Consistency` marker, not 202):
    /// read-your-writes works, so the API follows the checkpoints again after a fault.
    fresh_n: AtomicU64,
    requests: AtomicU64,
    /// 503s with `Retry-After` in the dialect's shape.
    unavailable: AtomicU64,
    unavailable_by_dialect: Mutex<HashMap<String, u64>>,
    /// What must not happen: a 500, a 503 without `Retry-After` or in a foreign shape, an
    /// unexpected 4xx, a write given up.
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn acked(&self) -> u64 {
        self.acked_n.load(Ordering::SeqCst)
    }

    fn fresh(&self) -> u64 {
        self.fresh_n.load(Ordering::SeqCst)
    }

    fn unavailable(&self) -> u64 {
        self.unavailable.load(Ordering::SeqCst)
    }

    fn fail(&self, what: String) {
        eprintln!("faults: {what}");
        self.failures.lock().unwrap().push(what);
    }
}

/// One load client: writes in `dialect` over every API instance in turn until told to stop.
async fn load_client(n: usize, dialect: Dialect, bases: Arc<Vec<String>>, org: Arc<OrgInfo>, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().expect("http client");
    // Sunbird's creator joins each group, and a user belongs to at most MAX_GROUPS_PER_USER: stay
    // under it (with room for the probes), or a fast run meets the limit instead of the faults.
    let writes = match dialect {
        Dialect::Sunbird => MAX_WRITES_PER_CLIENT.min(domain::group::MAX_GROUPS_PER_USER - 5),
        _ => MAX_WRITES_PER_CLIENT,
    };
    for i in 0..writes {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let ident = dialect.ident(n, i);
        let key = format!("load-{n}-{i}");
        tally.attempted.lock().unwrap().push((dialect, ident.clone()));
        let deadline = Instant::now() + WRITE_DEADLINE;
        for attempt in 0usize.. {
            let base = &bases[(i + attempt) % bases.len()];
            tally.requests.fetch_add(1, Ordering::SeqCst);
            let sent = dialect.create(&http, base, &org, &ident).header("Idempotency-Key", &key).send().await;
            let backoff = match sent {
                Err(_) => CONNECTION_BACKOFF,
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after =
                        resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|s| s.trim().parse::<u64>().ok());
                    let pending = status == StatusCode::ACCEPTED || resp.headers().contains_key("roster-consistency");
                    match resp.bytes().await {
                        // The answer was cut (the process died mid-answer): ask again.
                        Err(_) => CONNECTION_BACKOFF,
                        Ok(bytes) => {
                            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            match status.as_u16() {
                                200..=202 => {
                                    tally.acked.lock().unwrap().push((dialect, ident.clone()));
                                    tally.acked_n.fetch_add(1, Ordering::SeqCst);
                                    if !pending {
                                        tally.fresh_n.fetch_add(1, Ordering::SeqCst);
                                    }
                                    break;
                                }
                                503 => {
                                    if retry_after.is_none() || !dialect.unavailable_shape(&body) {
                                        tally.fail(format!("{dialect:?} 503 without Retry-After or in a foreign shape: {body}"));
                                    }
                                    tally.unavailable.fetch_add(1, Ordering::SeqCst);
                                    *tally.unavailable_by_dialect.lock().unwrap().entry(format!("{dialect:?}")).or_default() += 1;
                                    Duration::from_secs(retry_after.unwrap_or(1)).min(MAX_BACKOFF)
                                }
                                // Two attempts of one key raced each other: the next one replays.
                                409 => CONNECTION_BACKOFF,
                                _ if status.is_server_error() => {
                                    tally.fail(format!("{dialect:?} answered {status}: {body}"));
                                    MAX_BACKOFF
                                }
                                _ => {
                                    tally.fail(format!("{dialect:?} answered {status} to {ident}: {body}"));
                                    break;
                                }
                            }
                        }
                    }
                }
            };
            if Instant::now() >= deadline {
                tally.fail(format!("{dialect:?} write {ident} not acknowledged within {WRITE_DEADLINE:?}"));
                break;
            }
            tokio::time::sleep(backoff).await;
        }
    }
}

/// One Roster process of the real binary; its output goes to a log file next to the stack.
struct Proc {
    name: String,
    /// The API's base URL, for an API process.
    serves: Option<String>,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn new(dir: &Path, name: &str, args: Vec<String>, serves: Option<&String>) -> Proc {
        Proc { name: name.into(), serves: serves.cloned(), args, log: dir.join(format!("{name}.log")), child: None }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("process log");
        let err = log.try_clone().expect("process log");
        let child = Command::new(ROSTER)
            .args(&self.args)
            .env("RUST_LOG", "info,sqlx=warn,async_nats=warn")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
    }

    /// SIGKILL, and wait for it to be gone.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Panics (with the log's tail) if the process has exited.
    fn assert_running(&mut self) {
        let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!("{} exited ({status}):\n{}", self.name, tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
    }
}

/// While Postgres or NATS is away: a write in `dialect` answers 503 with `Retry-After`, in the
/// dialect's error shape (asked until it does: the API notices a lost connection a moment after
/// it is lost). Returns the body.
async fn probe_unavailable(http: &reqwest::Client, base: &str, org: &OrgInfo, dialect: Dialect, outage: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    for n in 0.. {
        let ident = format!("probe-{outage}-{dialect:?}-{n}").to_lowercase();
        let ident = if dialect.creates_user() { format!("{ident}@faults.example.com") } else { ident };
        if let Ok(resp) = dialect.create(http, base, org, &ident).send().await {
            let status = resp.status();
            let retry_after = resp.headers().contains_key(RETRY_AFTER);
            let body: Value = resp.json().await.unwrap_or_default();
            assert!(
                !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                "{dialect:?} answered {status} while {outage} is away: {body}"
            );
            if status == StatusCode::SERVICE_UNAVAILABLE {
                assert!(retry_after, "{dialect:?} 503 without Retry-After while {outage} is away");
                assert!(dialect.unavailable_shape(&body), "{dialect:?} 503 not in its shape while {outage} is away: {body}");
                return body;
            }
        }
        assert!(Instant::now() < deadline, "{dialect:?} never answered 503 while {outage} was away");
        tokio::time::sleep(CONNECTION_BACKOFF).await;
    }
    unreachable!()
}

/// Every dialect answers 503 in its shape while `outage` is away.
async fn probe_every_dialect(http: &reqwest::Client, base: &str, org: &OrgInfo, outage: &str) {
    futures::future::join_all(DIALECTS.iter().map(|d| probe_unavailable(http, base, org, *d, outage))).await;
}

/// A directory for a stack of the test's own; what a killed run leaves behind, the next run removes.
fn private_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("{}{}-{}", roster_tests::PRIVATE_DIR_PREFIX, std::process::id(), uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

/// Waits (with a deadline) until `check` holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn healthy(http: &reqwest::Client, base: &str) -> bool {
    matches!(http.get(format!("{base}/healthz")).send().await, Ok(r) if r.status() == StatusCode::OK)
}

/// Creates an organization through WorkDrive (once the stack is up and caught up: its answer
/// carries the admin's token, which a replay would not).
async fn create_org(http: &reqwest::Client, base: &str, super_token: &str) -> OrgInfo {
    let body = json!({
        "name": "Faults", "admin": { "firstName": "F", "lastName": "Admin", "email": "admin@faults.example.com" },
        "auth": { "method": "internal" },
    });
    let deadline = Instant::now() + WAIT;
    loop {
        let resp =
            http.post(format!("{base}/api/organization")).header("X-API-KEY", super_token).json(&body).send().await.expect("create org");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or_default();
        // 503: the API has not reached NATS yet, and nothing was done.
        if status == StatusCode::SERVICE_UNAVAILABLE && Instant::now() < deadline {
            tokio::time::sleep(CONNECTION_BACKOFF).await;
            continue;
        }
        assert_eq!(status, StatusCode::CREATED, "create org: {v}");
        return OrgInfo { id: v["id"].as_str().expect("org id").into(), token: v["accessToken"].as_str().expect("admin token").into() };
    }
}

/// Event ids in log order.
async fn log_event_ids(pool: &PgPool) -> Vec<String> {
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT event_id FROM events ORDER BY tx, gid").fetch_all(pool).await.expect("read the log");
    ids.into_iter().map(|id| id.to_string()).collect()
}

/// Event ids (`Nats-Msg-Id`) in stream order.
async fn stream_event_ids(nats_urls: &[String], stream: &str) -> Vec<String> {
    let client = async_nats::connect(nats_urls).await.expect("connect to nats");
    let js = async_nats::jetstream::new(client);
    // Right after a node of a cluster died, JetStream's API may time out while the cluster elects
    // new leaders: ask again until a deadline.
    let deadline = Instant::now() + WAIT;
    let (total, mut messages) = loop {
        let attempt = async {
            let mut stream = js.get_stream(stream).await.map_err(|e| e.to_string())?;
            let total = stream.info().await.map_err(|e| e.to_string())?.state.messages;
            let consumer =
                stream.create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default()).await.map_err(|e| e.to_string())?;
            let messages = consumer.messages().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((total, messages))
        };
        match attempt.await {
            Ok(got) => break got,
            Err(e) => {
                assert!(Instant::now() < deadline, "reading the stream: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let mut ids = Vec::with_capacity(total as usize);
    while (ids.len() as u64) < total {
        let m =
            tokio::time::timeout(WAIT, messages.next()).await.expect("the stream's messages").expect("more messages").expect("a message");
        let id = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.as_str().to_string()).unwrap_or_default();
        ids.push(id);
    }
    ids
}

/// Asserts the stream holds the log's events exactly once, in log order.
fn assert_stream_is_the_log(log: &[String], stream: &[String]) {
    let mut seen = std::collections::HashSet::new();
    let doubled: Vec<&String> = stream.iter().filter(|id| !seen.insert(*id)).collect();
    assert!(doubled.is_empty(), "events published twice: {doubled:?}");
    if log != stream {
        let first = log.iter().zip(stream).position(|(a, b)| a != b).unwrap_or(log.len().min(stream.len()));
        panic!(
            "the stream is not the log: {} events in the log, {} in the stream, first difference at {first}: log {:?}, stream {:?}",
            log.len(),
            stream.len(),
            log.get(first),
            stream.get(first)
        );
    }
}

/// How many rows of the read models carry each ident (a group's name, a user's email).
async fn read_model_counts(pool: &PgPool) -> HashMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, count(*) FROM rm_directory.groups GROUP BY name UNION ALL SELECT email, count(*) FROM rm_directory.users GROUP BY email",
    )
    .fetch_all(pool)
    .await
    .expect("read models");
    rows.into_iter().collect()
}

/// Creation events in the log naming each of `idents` (as a JSON string).
async fn log_counts(pool: &PgPool, idents: &[String]) -> HashMap<String, usize> {
    let payloads: Vec<String> = sqlx::query_scalar("SELECT payload::text FROM events WHERE event_type IN ('GroupCreated', 'UserCreated')")
        .fetch_all(pool)
        .await
        .expect("log");
    let wanted: std::collections::HashSet<&String> = idents.iter().collect();
    let mut counts = HashMap::new();
    for p in payloads {
        let v: Value = serde_json::from_str(&p).unwrap_or_default();
        // The name or email field, wherever the payload nests it.
        let mut found = std::collections::HashSet::new();
        collect_strings(&v, &mut |s| {
            if wanted.contains(&s.to_string()) {
                found.insert(s.to_string());
            }
        });
        for s in found {
            *counts.entry(s).or_insert(0) += 1;
        }
    }
    counts
}

fn collect_strings(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, f)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, f)),
        _ => {}
    }
}

/// Checks the end state; returns (acknowledged, lost, doubled).
async fn assert_nothing_lost_or_doubled(pool: &PgPool, tally: &Tally) -> (usize, usize, usize) {
    let acked = tally.acked.lock().unwrap().clone();
    let attempted = tally.attempted.lock().unwrap().clone();
    let rm = read_model_counts(pool).await;
    let idents: Vec<String> = attempted.iter().map(|(_, i)| i.clone()).collect();
    let in_log = log_counts(pool, &idents).await;
    let lost: Vec<&String> = acked.iter().map(|(_, i)| i).filter(|i| rm.get(*i).copied().unwrap_or(0) == 0).collect();
    let doubled: Vec<&String> =
        idents.iter().filter(|i| rm.get(*i).copied().unwrap_or(0) > 1 || in_log.get(*i).copied().unwrap_or(0) > 1).collect();
    let users = attempted.iter().filter(|(d, _)| d.creates_user()).count();
    eprintln!(
        "faults: {} writes attempted ({users} users, {} groups), {} acknowledged, {} lost, {} doubled",
        attempted.len(),
        attempted.len() - users,
        acked.len(),
        lost.len(),
        doubled.len()
    );
    assert!(lost.is_empty(), "acknowledged writes not readable: {lost:?}");
    assert!(doubled.is_empty(), "writes applied twice: {doubled:?}");
    (acked.len(), lost.len(), doubled.len())
}

async fn roster(args: &[&str]) -> Result<String, String> {
    let out = Command::new(ROSTER).args(args).env("RUST_LOG", "warn").output().await.map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_processes_survive_kills_and_restarts_of_every_part() {
    let dir = private_dir();
    // Durable (fsync, synchronous_commit): an immediate stop must not lose an acknowledged write.
    let mut pg = PgCluster::start(&dir.join("pg"), free_port(), false).await.expect("start postgres");
    pg.create_database("roster").await.expect("create database");
    let db = pg.url("roster");
    let mut nats = NatsServer::start(&dir.join("nats"), free_port()).await.expect("start nats-server");
    let super_token = commands::secrets::new_token();
    let stream = "FAULTS_EVENTS".to_string();
    let media = dir.join("media").display().to_string();

    let args = |role: &str, port: Option<u16>| -> Vec<String> {
        let mut a: Vec<String> = [
            "serve",
            "--role",
            role,
            "--database-url",
            &db,
            "--nats-url",
            &nats.url(),
            "--nats-stream",
            &stream,
            "--nats-subject-prefix",
            "faults.events",
            "--bootstrap-token",
            &super_token,
            "--media-dir",
            &media,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(["--consistency-timeout-ms".into(), CONSISTENCY_TIMEOUT_MS.to_string()]);
        if let Some(p) = port {
            a.extend(["--bind".into(), format!("127.0.0.1:{p}")]);
        }
        a
    };
    let (port1, port2) = (free_port(), free_port());
    let bases = Arc::new(vec![format!("http://127.0.0.1:{port1}"), format!("http://127.0.0.1:{port2}")]);
    let mut procs = vec![
        Proc::new(&dir, "api-1", args("api", Some(port1)), Some(&bases[0])),
        Proc::new(&dir, "relay", args("relay", None), None),
        // A standby: it takes the relay's advisory lock when the active one dies.
        Proc::new(&dir, "relay-standby", args("relay", None), None),
        Proc::new(&dir, "projector", args("projector", None), None),
        Proc::new(&dir, "sealer", args("sealer", None), None),
        Proc::new(&dir, "api-2", args("api", Some(port2)), Some(&bases[1])),
    ];
    let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap();
    // The first API instance migrates and seeds the super admin before the others start.
    procs[0].start();
    until("api-1 to answer", || healthy(&http, &bases[0])).await;
    for p in &mut procs[1..] {
        p.start();
    }
    until("api-2 to answer", || healthy(&http, &bases[1])).await;
    let pool = eventlog::db::connect(&db, 4, projections::SEARCH_PATH).await.expect("connect");
    until("the read models to follow the log", || roster_tests::projections_caught_up(&pool)).await;
    let org = Arc::new(create_org(&http, &bases[0], &super_token).await);

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = DIALECTS
        .iter()
        .enumerate()
        .map(|(n, d)| tokio::spawn(load_client(n, *d, bases.clone(), org.clone(), tally.clone(), stop.clone())))
        .collect();
    until("the load to get going", || async { tally.acked() >= WRITES_WHILE_DOWN }).await;

    let mut faults = Vec::new();
    // Each role: SIGKILL, some writes while it is down, restart, and everything catches up.
    for proc in &mut procs {
        let before = tally.acked();
        proc.kill().await;
        let name = proc.name.clone();
        until(&format!("writes acknowledged while {name} is down"), || async { tally.acked() >= before + WRITES_WHILE_DOWN }).await;
        proc.start();
        if let Some(base) = proc.serves.clone() {
            until(&format!("{name} to answer again"), || healthy(&http, &base)).await;
        }
        until(&format!("the read models to catch up after {name} restarted"), || roster_tests::projections_caught_up(&pool)).await;
        faults.push(format!("SIGKILL {name}"));
    }

    // NATS away: writes answer 503 until it is back; nothing else restarts.
    let before = tally.unavailable();
    nats.kill().await.expect("kill nats-server");
    probe_every_dialect(&http, &bases[0], &org, "nats").await;
    until("a 503 to the load while NATS is away", || async { tally.unavailable() > before }).await;
    nats.restart().await.expect("restart nats-server");
    until("the read models to catch up after NATS restarted", || roster_tests::projections_caught_up(&pool)).await;
    faults.push("SIGKILL nats-server".into());
    let during_nats = tally.unavailable() - before;

    // Postgres away: the same, and every process reconnects by itself.
    let before = tally.unavailable();
    pg.stop_immediate().await.expect("stop postgres");
    let roster_own = async {
        // Roster's own dialect, a read: nothing can be read either.
        let resp = http.get(format!("{}/events", bases[1])).bearer_auth(&org.token).send().await.expect("GET /events");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key(RETRY_AFTER));
        let body: Value = resp.json().await.unwrap_or_default();
        assert_eq!(body["error"], "unavailable", "{body}");
    };
    tokio::join!(probe_every_dialect(&http, &bases[0], &org, "postgres"), roster_own);
    until("a 503 to the load while Postgres is away", || async { tally.unavailable() > before }).await;
    pg.start_again().await.expect("start postgres");
    until("the read models to catch up after Postgres restarted", || roster_tests::projections_caught_up(&pool)).await;
    faults.push("pg_ctl stop -m immediate, probes, start".into());
    let during_pg = tally.unavailable() - before;

    // And a quick restart, back within the pools' acquire timeout: sessions (and the relay's and
    // the sealer's advisory locks) are cut while the pools and listeners reconnect by themselves.
    let before = tally.acked();
    pg.stop_immediate().await.expect("stop postgres");
    pg.start_again().await.expect("start postgres");
    until("writes acknowledged after a quick Postgres restart", || async { tally.acked() >= before + WRITES_WHILE_DOWN }).await;
    until("the read models to catch up after a quick Postgres restart", || roster_tests::projections_caught_up(&pool)).await;
    faults.push("pg_ctl restart -m immediate".into());

    let before = tally.fresh();
    until("writes answered from caught-up read models after the last fault", || async { tally.fresh() >= before + WRITES_AFTER_FAULTS })
        .await;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.expect("load client");
    }
    for p in &mut procs {
        p.assert_running();
    }
    until("the read models to catch up with the last write", || roster_tests::projections_caught_up(&pool)).await;

    let failures = tally.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{} failures, first: {:?}", failures.len(), &failures[..failures.len().min(5)]);
    let (acked, lost, doubled) = assert_nothing_lost_or_doubled(&pool, &tally).await;

    let log = log_event_ids(&pool).await;
    let in_stream = stream_event_ids(&[nats.url()], &stream).await;
    assert_stream_is_the_log(&log, &in_stream);

    roster(&["verify", "--quiet", "--database-url", &db]).await.expect("roster verify");
    let live = roster_tests::read_model_rows(&pool).await;
    roster(&["rebuild", "all", "--quiet", "--database-url", &db]).await.expect("roster rebuild all");
    let rebuilt = roster_tests::read_model_rows(&pool).await;
    roster_tests::assert_same_read_models(&live, &rebuilt, "`roster rebuild all`");

    eprintln!(
        "faults: injected {} ({}); {} requests; {acked} writes acknowledged, {lost} lost, {doubled} doubled; \
         503s: {} while NATS was away, {} while Postgres was away, by dialect {:?}; {} events in the log and the stream",
        faults.len(),
        faults.join(", "),
        tally.requests.load(Ordering::SeqCst),
        during_nats,
        during_pg,
        tally.unavailable_by_dialect.lock().unwrap(),
        log.len()
    );
    for p in &mut procs {
        p.kill().await;
    }
    drop(pool);
    let _ = nats.kill().await;
    let _ = pg.stop_immediate().await;
    // `ROSTER_TEST_KEEP=1` keeps the processes' logs and the servers' data for a look.
    if std::env::var_os("ROSTER_TEST_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_nats_cluster_loses_a_node_under_load_and_nothing_is_lost() {
    let dir = private_dir();
    let mut nodes = NatsServer::start_cluster(&dir, 3).await.expect("start a 3-node NATS cluster");
    let urls: Vec<String> = nodes.iter().map(NatsServer::url).collect();
    let app = roster_tests::TestApp::spawn_with(roster_tests::Options {
        nats_url: Some(urls.join(",")),
        nats_replicas: 3,
        consistency_timeout: Duration::from_millis(CONSISTENCY_TIMEOUT_MS),
        ..Default::default()
    })
    .await;
    let pool = app.pool.clone();
    // The cluster elects its JetStream leader, then the relay creates the R3 stream.
    until("the read models to follow the log over the cluster", || roster_tests::projections_caught_up(&pool)).await;
    let http = reqwest::Client::new();
    let org = Arc::new(create_org(&http, &app.url, &app.super_token).await);

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let bases = Arc::new(vec![app.url.clone()]);
    let clients: Vec<_> = [Dialect::PortSip, Dialect::WorkDrive, Dialect::Sunbird]
        .iter()
        .enumerate()
        .map(|(n, d)| tokio::spawn(load_client(n, *d, bases.clone(), org.clone(), tally.clone(), stop.clone())))
        .collect();
    until("the load to get going", || async { tally.acked() >= WRITES_WHILE_DOWN }).await;

    // Kill the node leading the stream: the others elect a new leader and keep every copy.
    let client = async_nats::connect(urls.as_slice()).await.expect("connect to the cluster");
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(&app.config.nats.stream).await.expect("the stream");
    assert_eq!(stream.info().await.expect("stream info").config.num_replicas, 3, "the stream has three copies");
    // Kill it once both followers hold everything, so the kill tests failover, not catch-up.
    let deadline = Instant::now() + WAIT;
    let leader = loop {
        let info = stream.info().await.expect("stream info");
        if let Some(cluster) = info.cluster.as_ref() {
            if cluster.replicas.len() == 2 && cluster.replicas.iter().all(|r| r.current) {
                if let Some(leader) = cluster.leader.clone() {
                    break leader;
                }
            }
        }
        assert!(Instant::now() < deadline, "the stream never had a leader and two current followers: {:?}", info.cluster);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let victim = nodes.iter().position(|n| n.name() == leader).expect("the leader is one of our nodes");
    nodes[victim].kill().await.expect("kill the leader node");
    let before = tally.fresh();
    until("writes answered from caught-up read models after a node died", || async { tally.fresh() >= before + WRITES_AFTER_FAULTS }).await;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.expect("load client");
    }
    until("the read models to catch up with the last write", || roster_tests::projections_caught_up(&pool)).await;

    let failures = tally.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{} failures, first: {:?}", failures.len(), &failures[..failures.len().min(5)]);
    let (acked, lost, doubled) = assert_nothing_lost_or_doubled(&pool, &tally).await;
    let survivors: Vec<String> = nodes.iter().enumerate().filter(|(i, _)| *i != victim).map(|(_, n)| n.url()).collect();
    let log = log_event_ids(&pool).await;
    assert_stream_is_the_log(&log, &stream_event_ids(&survivors, &app.config.nats.stream).await);
    eprintln!(
        "faults (NATS cluster): killed the stream leader {leader}; {acked} writes acknowledged, {lost} lost, {doubled} doubled; {} 503s; {} events",
        tally.unavailable(),
        log.len()
    );
    app.stop().await;
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
