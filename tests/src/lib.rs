//! The integration-test harness: one real Postgres cluster and one real nats-server per test
//! binary (started on free loopback ports), and per test its own database and its own JetStream
//! stream, so tests run in parallel without seeing each other.

use std::sync::OnceLock;
use std::time::Duration;

use devstack::{free_port, NatsServer, PgCluster};
use reqwest::{Method, RequestBuilder, StatusCode};
use roster::{Config, Roles, Running};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, PgPool};

/// Where the shared servers listen.
#[derive(Debug, Clone)]
pub struct Stack {
    pub pg_port: u16,
    pub nats_url: String,
    pub dir: std::path::PathBuf,
}

impl Stack {
    pub fn database_url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.pg_port)
    }
}

static STACK: OnceLock<Result<Stack, String>> = OnceLock::new();

const STACK_DIR_PREFIX: &str = "roster-tests-";
/// Private stacks of tests that restart their servers (`e2e/faults.rs`): `roster-faults-<pid>-<id>`.
pub const PRIVATE_DIR_PREFIX: &str = "roster-faults-";

/// A test process dies with its servers but cannot delete their data (about 1 GB of Postgres and
/// JetStream files): each run removes what runs that have ended left behind, so repeated runs on
/// one machine do not fill its disk.
fn remove_stale_stacks() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let rest = name.to_str().and_then(|n| n.strip_prefix(STACK_DIR_PREFIX).or_else(|| n.strip_prefix(PRIVATE_DIR_PREFIX)));
        let Some(pid) = rest.and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok()) else { continue };
        // Linux: a live process has /proc/<pid>; a recycled pid only delays the clean-up.
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The shared Postgres and nats-server, started on first use. They live on a thread of their own
/// (with its own runtime) so they outlive every test's runtime, and die with the test process.
pub fn stack() -> &'static Stack {
    init_logs();
    let result = STACK.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                remove_stale_stacks();
                let dir = std::env::temp_dir().join(format!("{STACK_DIR_PREFIX}{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                let started = async {
                    let pg = PgCluster::start(&dir.join("pg"), free_port(), true).await.map_err(|e| e.to_string())?;
                    let nats = NatsServer::start(&dir.join("nats"), free_port()).await.map_err(|e| e.to_string())?;
                    Ok::<_, String>((pg, nats))
                }
                .await;
                match started {
                    Ok((pg, nats)) => {
                        let _ = tx.send(Ok(Stack { pg_port: pg.port(), nats_url: nats.url(), dir }));
                        // Keep both servers (and their watchdogs) alive until the process exits.
                        let _keep = (pg, nats);
                        std::future::pending::<()>().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        rx.recv().unwrap_or_else(|_| Err("the test stack thread died".into()))
    });
    match result {
        Ok(s) => s,
        Err(e) => panic!("cannot start the test stack (Postgres + nats-server): {e}"),
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Creates a fresh database on the shared cluster and returns its URL.
pub async fn fresh_database() -> String {
    let stack = stack();
    let name = unique("t_");
    let mut admin = PgConnection::connect(&stack.database_url("postgres")).await.expect("connect to postgres");
    // Concurrent CREATE DATABASE calls can trip over each other's use of template1: retry.
    for attempt in 0.. {
        match sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await {
            Ok(_) => break,
            Err(e) if attempt < 20 && e.to_string().contains("template1") => {
                tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await
            }
            Err(e) => panic!("create database: {e}"),
        }
    }
    stack.database_url(&name)
}

/// `ROSTER_TEST_LOG=debug` (an env-filter) shows Roster's logs in test output.
fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if let Ok(filter) = std::env::var("ROSTER_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter)).with_test_writer().try_init();
        }
    });
}

/// Options for one test's Roster.
#[derive(Debug, Clone)]
pub struct Options {
    pub roles: Roles,
    /// A NATS of the test's own (for tests that kill it); default the shared one.
    pub nats_url: Option<String>,
    /// Reuse a database (to restart Roster over the same log); default a fresh one.
    pub database_url: Option<String>,
    /// Reuse a stream (with the database); default a fresh one.
    pub stream: Option<(String, String)>,
    pub consistency_timeout: Duration,
    /// Where media bytes go; default a directory of the run's temp dir, one per database.
    pub media: Option<api::workdrive::media::MediaBackend>,
    /// How long a login stays locked after too many failed passwords; default the production one.
    pub login_lockout: Option<Duration>,
    /// Copies of the stream on a NATS cluster; default 1.
    pub nats_replicas: usize,
    /// Run the notifier with this configuration; default none (it would append delivery outcomes
    /// to every other test's log).
    pub notifier: Option<workers::notifier::NotifierConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            roles: Roles::ALL,
            nats_url: None,
            database_url: None,
            stream: None,
            consistency_timeout: Duration::from_secs(10),
            media: None,
            login_lockout: None,
            nats_replicas: 1,
            notifier: None,
        }
    }
}

/// One running Roster over its own database and stream, with an HTTP client.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub super_token: String,
    pub pool: PgPool,
    pub config: Config,
    running: Option<Running>,
}

/// An organization made through `POST /api/organization`, with its admin's token.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub admin_id: String,
    pub token: String,
    pub subdomain: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(opts: Options) -> TestApp {
        let database_url = match opts.database_url {
            Some(u) => u,
            None => fresh_database().await,
        };
        let nats_url = opts.nats_url.unwrap_or_else(|| stack().nats_url.clone());
        let mut config = Config::new(database_url, nats_url);
        let (stream, prefix) = opts.stream.unwrap_or_else(|| {
            let id = uuid::Uuid::new_v4().simple().to_string();
            (format!("T_{id}"), format!("t{id}.events"))
        });
        config.nats.stream = stream;
        config.nats.subject_prefix = prefix;
        config.nats.ack_wait = Duration::from_secs(2);
        config.nats.replicas = opts.nats_replicas;
        config.bind = "127.0.0.1:0".parse().expect("loopback address");
        config.consistency_timeout = opts.consistency_timeout;
        config.roles = opts.roles;
        config.max_db_connections = 20;
        if let Some(lockout) = opts.login_lockout {
            config.login_throttle.lockout = lockout;
        }
        // Media bytes under the run's temp dir, one directory per database (a restart over the
        // same log finds its files again).
        let db_name = config.database_url.rsplit('/').next().unwrap_or("db").to_string();
        config.media.backend =
            opts.media.unwrap_or_else(|| api::workdrive::media::MediaBackend::Local(stack().dir.join("media").join(db_name)));
        match opts.notifier {
            Some(n) => config.notifier = n,
            None => config.roles.notifier = false,
        }
        let super_token = commands::secrets::new_token();
        config.bootstrap_token = Some(super_token.clone());
        let running = roster::start(config.clone()).await.expect("start roster");
        let url = running.addr.map(|a| format!("http://{a}")).unwrap_or_default();
        let pool = running.pool.clone();
        TestApp { url, client: reqwest::Client::new(), super_token, pool, config, running: Some(running) }
    }

    /// Stops this Roster (API, relay, projectors); the database and stream stay.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// Options that start another Roster over this one's database and stream.
    pub fn same_log(&self) -> Options {
        Options {
            database_url: Some(self.config.database_url.clone()),
            nats_url: Some(self.config.nats.url.clone()),
            stream: Some((self.config.nats.stream.clone(), self.config.nats.subject_prefix.clone())),
            media: Some(self.config.media.backend.clone()),
            ..Options::default()
        }
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    /// A WorkDrive request (token in `X-API-KEY`).
    pub fn wd(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.req(method, path).header("X-API-KEY", token)
    }

    /// A NexPort AdminApi call (`POST /api/v1/AdminApi/<op>?access_token=…`).
    pub fn nx(&self, op: &str, token: &str) -> RequestBuilder {
        self.req(Method::POST, &format!("/api/v1/AdminApi/{op}?access_token={token}"))
    }

    /// A PortSIP (or Roster) request (token as Bearer).
    pub fn ps(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.req(method, path).bearer_auth(token)
    }

    /// Creates an organization with an admin who has a password (`password1`).
    pub async fn create_org(&self, name: &str) -> Org {
        let email = format!("admin@{}.example.com", name.to_lowercase().replace(' ', ""));
        let body = json!({
            "name": name,
            "admin": { "firstName": "Ada", "lastName": "Admin", "email": email, "password": "password1" },
            "auth": { "method": "internal" },
        });
        let (status, v) = send(self.wd(Method::POST, "/api/organization", &self.super_token).json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "create org: {v}");
        let id = v["id"].as_str().expect("org id").to_string();
        let token = v["accessToken"].as_str().expect("admin token").to_string();
        let subdomain = v["subdomain"].as_str().expect("subdomain").to_string();
        let (_, users) = send(self.wd(Method::GET, "/api/users", &token)).await;
        let admin_id = users["users"][0]["id"].as_str().expect("admin user").to_string();
        Org { id, admin_id, token, subdomain }
    }

    /// Adds a member through WorkDrive; returns the created user.
    pub async fn add_user(&self, org: &Org, email: &str) -> Value {
        let body = json!({ "email": email, "firstName": "Firstname", "lastName": "Lastname", "password": "password1" });
        let (status, v) = send(self.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "add user: {v}");
        v
    }

    /// An access token for `user_id` of `org`, minted by the org's admin (WorkDrive).
    pub async fn token_for(&self, org: &Org, user_id: &str) -> String {
        let (status, t) = send(self.wd(Method::POST, "/api/token/generate-access", &org.token).json(&json!({ "userId": user_id }))).await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        t["token"].as_str().expect("token").to_string()
    }

    /// A new member of `org` ([`TestApp::add_user`]: an incomplete profile and no supervisor, so no
    /// onboarding notice is mailed) and their token: (id, token).
    pub async fn member(&self, org: &Org, email: &str) -> (String, String) {
        let id = self.add_user(org, email).await["id"].as_str().expect("user id").to_string();
        let token = self.token_for(org, &id).await;
        (id, token)
    }

    /// Creates a group through PortSIP; returns its PortSIP id.
    pub async fn create_group(&self, org: &Org, name: &str) -> String {
        let (status, v) = send(self.ps(Method::POST, "/api/groups", &org.token).json(&json!({ "name": name }))).await;
        assert_eq!(status, StatusCode::CREATED, "create group: {v}");
        v["id"].as_str().expect("group id").to_string()
    }

    /// Number of rows in the event log.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&self.pool).await.expect("count events")
    }

    /// An open transaction that holds an xid and appends nothing, as a projector's batch or a
    /// report left open does; it lasts until it is dropped or ended.
    pub async fn open_bystander(&self) -> sqlx::Transaction<'static, sqlx::Postgres> {
        let mut bystander = self.pool.begin().await.expect("begin");
        sqlx::query("SELECT pg_current_xact_id()").execute(&mut *bystander).await.expect("an xid");
        bystander
    }

    /// A client of this app's NATS.
    pub async fn nats(&self) -> async_nats::Client {
        async_nats::connect(&self.config.nats.url).await.expect("connect to nats")
    }

    /// Waits (with a deadline, never a fixed sleep) until `check` holds.
    pub async fn eventually<F, Fut>(&self, what: &str, timeout: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check().await {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Every projection has applied every event of the log committed so far.
///
/// Not against `log::head`: that stops below any transaction still open in the cluster (another
/// test's too), so it could call the projections caught up before the event just appended. The
/// newest committed position is the right bar: the relay publishes an event only once every
/// appending transaction below it ended, so a checkpoint past it is past every committed event.
pub async fn projections_caught_up(pool: &PgPool) -> bool {
    let newest: Result<Option<(i64, i64)>, _> =
        sqlx::query_as("SELECT tx::text::bigint, gid FROM events ORDER BY tx DESC, gid DESC LIMIT 1").fetch_optional(pool).await;
    let head = match newest {
        Ok(Some((tx, gid))) => eventlog::Position::new(tx, gid),
        Ok(None) => return true,
        Err(_) => return false,
    };
    matches!(projections::checkpoint::slowest(pool).await, Ok(p) if p >= head)
}

/// Every row of every read-model table (`projections::ALL`), each table's rows as sorted JSON
/// text: two calls compare equal exactly when the read models hold the same rows, which is what
/// a rebuild from the log must reproduce.
pub async fn read_model_rows(pool: &PgPool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in projections::ALL {
        for table in p.tables {
            let sql = format!(
                "SELECT coalesce(jsonb_agg(x ORDER BY x::text), '[]'::jsonb)::text FROM (SELECT to_jsonb(t) AS x FROM {}.{table} t) s",
                p.schema
            );
            let rows: String = sqlx::query_scalar(&sql).fetch_one(pool).await.expect("read a read-model table");
            out.push((format!("{}.{table}", p.schema), rows));
        }
    }
    out
}

/// Asserts two `read_model_rows` snapshots hold the same rows. On a difference it names every
/// table that differs with its row counts and a few rows found on one side only, rather than
/// printing whole tables: a CI log keeps the end of a failure, and two dumps of a table would
/// push out everything that says what went wrong.
pub fn assert_same_read_models(before: &[(String, String)], after: &[(String, String)], what: &str) {
    const SHOWN: usize = 3;
    let rows = |text: &str| -> Vec<Value> { serde_json::from_str::<Vec<Value>>(text).unwrap_or_default() };
    let mut differences = Vec::new();
    for ((table, a), (_, b)) in before.iter().zip(after) {
        if a == b {
            continue;
        }
        let (a, b) = (rows(a), rows(b));
        let only =
            |x: &[Value], y: &[Value]| -> Vec<String> { x.iter().filter(|r| !y.contains(r)).take(SHOWN).map(|r| r.to_string()).collect() };
        differences.push(format!(
            "{table}: {} rows before, {} after; only before: {:?}; only after: {:?}",
            a.len(),
            b.len(),
            only(&a, &b),
            only(&b, &a)
        ));
    }
    assert!(differences.is_empty(), "the read models differ after {what}:\n{}", differences.join("\n"));
}

/// Sends a request; returns the status and the JSON body (`Null` when empty or not JSON).
/// A command-line tool that scripts/install-deps installs from PyPI: on `PATH`, or in
/// `~/.local/bin` where pip puts it for a user without a writable site-packages.
pub fn pypi_tool(name: &str) -> String {
    let home_bin = std::env::var("HOME").map(|h| format!("{h}/.local/bin/{name}")).unwrap_or_default();
    if std::path::Path::new(&home_bin).exists() {
        home_bin
    } else {
        name.to_string()
    }
}

pub async fn send(rb: RequestBuilder) -> (StatusCode, Value) {
    let resp = rb.send().await.expect("http request");
    let status = resp.status();
    let bytes = resp.bytes().await.expect("http body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Sends a request; returns the whole response for header checks.
pub async fn send_raw(rb: RequestBuilder) -> reqwest::Response {
    rb.send().await.expect("http request")
}

/// A nats-server of the calling test's own, for a test that kills, restarts or configures it (the
/// shared one serves every other test). Killed when dropped.
pub async fn own_nats() -> NatsServer {
    let dir = stack().dir.join(format!("nats-{}", uuid::Uuid::new_v4().simple()));
    NatsServer::start(&dir, free_port()).await.expect("own nats")
}

/// A TCP proxy on loopback that can make every connection through it go silent at once: no byte
/// passes either way any more, yet neither end sees the connection close, as when a firewall or a
/// NAT table drops a connection's state without a reset. Connections made after that pass
/// normally. Only keepalives or timeouts of the ends themselves can tell.
pub struct SilencingProxy {
    pub port: u16,
    /// Bumped by [`SilencingProxy::silence`]: a connection made under an older value is silent.
    generation: tokio::sync::watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl SilencingProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: std::net::SocketAddr) -> SilencingProxy {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let gen = generation.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut watch = gen.subscribe();
                let born = *watch.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                        _ = watch.wait_for(|g| *g > born) => {}
                    }
                    // Silent: hold both sockets open, forwarding nothing, until the proxy goes.
                    let _ = watch.wait_for(|_| false).await;
                    drop((inbound, outbound));
                });
            }
        });
        SilencingProxy { port, generation, accept }
    }

    /// A NATS server of the caller's own (going silent is not for the shared one, which every
    /// other test uses), and a proxy to it.
    pub async fn with_own_nats() -> (NatsServer, SilencingProxy) {
        let nats = own_nats().await;
        let proxy = SilencingProxy::start(([127, 0, 0, 1], nats.port()).into()).await;
        (nats, proxy)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Every connection open now goes silent for good; later ones pass.
    pub fn silence(&self) {
        self.generation.send_modify(|g| *g += 1);
    }
}

impl Drop for SilencingProxy {
    fn drop(&mut self) {
        // Dropping the sender ends every connection's wait, which closes its sockets.
        self.accept.abort();
    }
}

/// An SMTP server on loopback (PyPI `aiosmtpd`, installed by scripts/install-deps) that keeps every
/// mail it accepts as a file of a Maildir. Killed when dropped.
pub struct SmtpSink {
    pub port: u16,
    pub dir: std::path::PathBuf,
    child: Option<tokio::process::Child>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let dir = stack().dir.join("smtp").join(uuid::Uuid::new_v4().simple().to_string());
        // aiosmtpd's Maildir creates its cur/new/tmp only with the directory itself.
        std::fs::create_dir_all(dir.parent().expect("parent")).expect("smtp sink dir");
        let mut sink = SmtpSink { port: free_port(), dir, child: None };
        sink.restart().await;
        sink
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, on the same port and Maildir) and waits until it accepts.
    pub async fn restart(&mut self) {
        let child = tokio::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/install-deps installs it)");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "aiosmtpd did not start on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server: the port refuses connections until `restart`.
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Every mail received so far, raw.
    pub fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else { return vec![] };
        let mut mails: Vec<String> = entries.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect();
        mails.sort();
        mails
    }
}

/// One request a [`WebhookSink`] received.
#[derive(Debug, Clone)]
pub struct Hook {
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
}

/// A webhook receiver on loopback: keeps every request and answers `status` (200 unless changed).
pub struct WebhookSink {
    pub url: String,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Hook>>>,
    pub status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookSink {
    pub async fn start() -> WebhookSink {
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let status = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(200));
        let (r, s) = (received.clone(), status.clone());
        let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
            let (r, s) = (r.clone(), s.clone());
            async move {
                r.lock().expect("hooks").push(Hook { headers, body });
                StatusCode::from_u16(s.load(std::sync::atomic::Ordering::SeqCst)).unwrap_or(StatusCode::OK)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind webhook sink");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookSink { url, received, status, task }
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.received.lock().expect("hooks").clone()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseItem {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

/// How long `SseStream::next` waits for one event.
const SSE_EVENT_WAIT: Duration = Duration::from_secs(60);

/// A plain HTTP client reading `text/event-stream` (Roster's live streams).
pub struct SseStream {
    resp: reqwest::Response,
    buf: String,
}

impl SseStream {
    /// Sends `rb` (with `Last-Event-ID` when given) and checks it answered a stream.
    pub async fn open(mut rb: RequestBuilder, last_event_id: Option<&str>) -> SseStream {
        if let Some(id) = last_event_id {
            rb = rb.header("Last-Event-ID", id);
        }
        let resp = rb.send().await.expect("the stream request");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        SseStream { resp, buf: String::new() }
    }

    /// The next event; `None` when the server ended the stream. Panics after 30 s of silence
    /// (twice the server's keep-alive, axum's default 15 s, which an idle stream must send), and
    /// after `SSE_EVENT_WAIT` without an event: keep-alives alone would otherwise keep a test
    /// waiting for an event that never comes until CI's own limit.
    pub async fn next(&mut self) -> Option<SseItem> {
        let deadline = tokio::time::Instant::now() + SSE_EVENT_WAIT;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut item = SseItem { id: None, event: "message".into(), data: String::new() };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        item.id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        item.event = v.trim().to_string();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        item.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Some(item);
                }
                continue; // a keep-alive comment
            }
            let silence = tokio::time::Instant::now() + Duration::from_secs(30);
            match tokio::time::timeout_at(silence.min(deadline), self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(Ok(None)) => return None,
                Ok(Err(e)) => panic!("stream failed: {e}"),
                Err(_) if tokio::time::Instant::now() >= deadline => panic!("no event within {SSE_EVENT_WAIT:?} (keep-alives only)"),
                Err(_) => panic!("nothing, not even a keep-alive, within 30 s"),
            }
        }
    }

    /// The next event, which must be an `event` with an id and JSON data: (id, data).
    pub async fn expect(&mut self, event: &str) -> (String, Value) {
        let item = self.next().await.unwrap_or_else(|| panic!("a {event}"));
        assert_eq!(item.event, event, "{item:?}");
        (item.id.expect("an id"), serde_json::from_str(&item.data).unwrap())
    }
}

/// A group creation with only what a test sets (its ids, number and name), for tests that append
/// groups straight through the store.
pub fn group_created(id: domain::GroupId, org: domain::OrgId, number: i64, name: String) -> domain::group::GroupEvent {
    domain::group::GroupEvent::GroupCreated {
        id,
        org_id: org,
        number,
        name,
        description: None,
        outbound_caller_ids: vec![],
        created_by: None,
        status: Default::default(),
        membership_type: Default::default(),
        parent: None,
        short_name: None,
        tracking: None,
        activities: vec![],
        external_id: None,
    }
}

/// A member with an email and nothing else a test or the bench needs to set, for those that
/// create users straight through the command handlers.
pub fn plain_member(email: String) -> commands::handlers::user::CreateUser {
    commands::handlers::user::CreateUser {
        email,
        login: None,
        first_name: "A".into(),
        last_name: "B".into(),
        role: domain::user::Role::Member,
        profile: domain::user::Profile::default(),
        password: None,
        blocked: false,
    }
}
