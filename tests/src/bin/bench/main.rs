//! `scripts/bench`: Roster's write-path benchmark. One run prints one markdown table.
//!
//! What it measures, in this order, all against ONE Postgres cluster and ONE nats-server that it
//! starts itself (durable Postgres by default: fsync and synchronous_commit on, like production):
//!
//! * (d) the raw Postgres limit: `pgbench` doing a one-row INSERT of an event-sized row into a
//!   plain table, at each client count. Every other figure is divided by it.
//! * (a) HTTP `POST /api/users/add` (WorkDrive) through a full in-process Roster (API, relay,
//!   projector), read-your-writes on: a 2xx means the read model already shows the user.
//! * (c) the store alone: `commands::handlers::user::create_user` called directly, with no HTTP
//!   and no relay or projector running on that database, so it is the append path's own ceiling.
//! * (e) the raw Postgres batched limit: `pgbench` inserting `BULK_ROWS` event-sized rows per
//!   transaction (`INSERT ... SELECT ... FROM generate_series`), one client; rows/s.
//! * (f) HTTP `POST /api/users/bulk-create` with `BULK_ROWS`-row calls, one client, read-your-writes
//!   on; users/s, next to (e).
//! * (b) end-to-end lag at half the best HTTP rate and at that rate: writes paced open-loop through the store
//!   on the live Roster's database; for each, commit → visible in every read model (projection
//!   checkpoints, woken by LISTEN) and commit → received by a plain NATS subscriber.
//! * (g) the WorkDrive feed: HTTP `GET /api/posts` (10 per page) for a member of an org holding
//!   `--feed-posts` posts (default 100,000) whose audiences are mixed (public, followers, team,
//!   only-me, named users), appended through the store in batches of `SEED_BATCH` posts (one
//!   transaction each) on the live Roster; every page asks the visibility question in SQL.
//! * (h) message fan-out: `FANOUT_PARTICIPANTS` participants of one group chat each hold its live
//!   stream (`GET /api/group-chats/{id}/stream`, Server-Sent Events) while one of them posts
//!   (`POST /api/{id}/messages`, one at a time); latency from sending the POST to each
//!   participant's receipt of the message, over every (message, participant) pair.
//!
//! Configuration (flags win over environment): `--secs N` / `BENCH_SECS` (per step, default 15),
//! `--lag-secs N` / `BENCH_LAG_SECS` (default 10), `--clients 1,8,32` / `BENCH_CLIENTS`,
//! `--fast-pg` / `BENCH_PG_FAST=1` (fsync off, as in tests), `--feed-posts N` / `BENCH_FEED_POSTS`,
//! `--only-feed` / `BENCH_ONLY=feed` (step (g) alone, e.g. to measure a read-path change),
//! `--only-fanout` / `BENCH_ONLY=fanout` (step (h) alone), `--scale` / `BENCH_ONLY=scale` (the
//! reads, the rebuild and the memory at a million users instead of the steps above: see `scale`;
//! `--scale-users N`, `--scale-groups N`, `--scale-reads N` or `BENCH_SCALE_*` to resize it;
//! `--hold` keeps Postgres, nats-server and Roster up after its report until Ctrl-C, to look into
//! a database of that size, which takes ten minutes to load).
//! `--statements N` / `BENCH_STATEMENTS=N` loads pg_stat_statements and prints, after the report,
//! the N statements each step of (a), (c) and (f) spent the most Postgres time in, per operation
//! (see `statements`). `ROSTER_PG_SETTINGS=name=value,...` adds Postgres settings to the cluster
//! (e.g. `session_preload_libraries=auto_explain,auto_explain.log_min_duration=2ms`; the server
//! log is `pg/server.log` under the run's directory, removed at the end).
//! Progress goes to stderr, the report to stdout. Must run as root or as a user that may run Postgres (devstack handles `runuser`).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use commands::handlers::user::{create_user, CreateUser};
use commands::store::{PendingStream, Plan};
use commands::{CommandContext, Position, Store};
use devstack::{free_port, nats_bin, NatsServer, PgCluster};
use domain::audience::Audience;
use domain::post::{PostContent, PostEvent, PostKind};
use domain::{OrgId, UserId};
use futures::StreamExt;
use projections::checkpoint::{self, CHECKPOINT_CHANNEL};
use roster::{Config, Roles};
use serde_json::{json, Value};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::time::Instant;

mod scale;
mod statements;

// The allocator `roster` runs with (roster/src/main.rs), since Roster runs in this process.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The database Roster runs on (and pgbench's table lives in: same cluster, same database).
const ROSTER_DB: &str = "roster_bench";
/// The database of the store-only measurement: migrated, but no relay or projector reads it.
const STORE_DB: &str = "roster_store_only";
/// Unmeasured warm-up before the HTTP and store series (connections, caches, JIT of the planner).
const WARMUP: Duration = Duration::from_secs(1);
/// Rows per bulk-create call and per raw batched INSERT: WorkDrive's per-call maximum.
const BULK_ROWS: usize = domain::values::MAX_BULK_ITEMS;
/// Clients of the bulk pair (each call already carries `BULK_ROWS` rows).
const BULK_CLIENTS: usize = 1;
/// How long the lag step waits, after its last write, for the read model and NATS to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);
/// Posts in the org of the feed step (g), unless `--feed-posts` says otherwise.
const FEED_POSTS: usize = 100_000;
/// Posts per seeding transaction (one store append each).
const SEED_BATCH: usize = 1000;
/// How long the read model may go without progress while it catches up with the seeded posts.
const SEED_STALL: Duration = Duration::from_secs(60);
/// Participants holding a group chat's live stream in (h).
const FANOUT_PARTICIPANTS: usize = 50;
/// How long (h) waits for the last messages to reach every participant.
const FANOUT_DRAIN: Duration = Duration::from_secs(2);
/// Issue 16's write-path targets, in percent of the raw Postgres rate: HTTP create at the top
/// client count (its stretch goal is 40%), the store's append, and bulk create's users/s.
const HTTP_TARGET_PCT: f64 = 20.0;
const STORE_TARGET_PCT: f64 = 50.0;
const BULK_TARGET_PCT: f64 = 25.0;
/// The scale run's org (issue #16's table): users, groups, and measured requests per read.
const SCALE_USERS: usize = 1_000_000;
const SCALE_GROUPS: usize = 100_000;
const SCALE_READS: usize = 200;

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Settings {
    secs: u64,
    lag_secs: u64,
    clients: Vec<usize>,
    fast_pg: bool,
    feed_posts: usize,
    only_feed: bool,
    only_fanout: bool,
    scale: bool,
    scale_users: usize,
    scale_groups: usize,
    /// Measured requests per read at scale.
    scale_reads: usize,
    /// Statements to list per write step from pg_stat_statements; 0: not loaded.
    statements: usize,
    /// After the report, keep Postgres, nats-server and Roster up until Ctrl-C, to look into them.
    hold: bool,
    /// The command line to print at the top of the report.
    command: String,
}

fn usage() -> &'static str {
    "usage: scripts/bench [--secs N] [--lag-secs N] [--clients 1,8,32] [--fast-pg] [--feed-posts N] [--only-feed] [--only-fanout] [--statements N]\n\
     \x20      scripts/bench --scale [--scale-users N] [--scale-groups N] [--scale-reads N] [--fast-pg] [--hold]\n\
     env: BENCH_SECS (15), BENCH_LAG_SECS (10), BENCH_CLIENTS (1,8,32), BENCH_PG_FAST=1, BENCH_FEED_POSTS (100000), BENCH_ONLY=feed|fanout|scale, BENCH_STATEMENTS (0),\n\
     \x20    BENCH_SCALE_USERS (1000000), BENCH_SCALE_GROUPS (100000), BENCH_SCALE_READS (200)\n\
     --hold: after the --scale report, keep Postgres, nats-server and Roster up (addresses on stderr) until Ctrl-C"
}

fn parse_clients(s: &str) -> Result<Vec<usize>, String> {
    let v: Vec<usize> =
        s.split(',').map(|p| p.trim().parse::<usize>().map_err(|_| format!("bad client count {p:?}"))).collect::<Result<_, _>>()?;
    if v.is_empty() || v.contains(&0) {
        return Err("client counts must be positive".into());
    }
    Ok(v)
}

fn settings() -> Result<Settings, String> {
    let env_u64 = |k: &str, default: u64| -> Result<u64, String> {
        match std::env::var(k) {
            Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| format!("{k}={v:?} is not a number")),
            _ => Ok(default),
        }
    };
    let mut s = Settings {
        secs: env_u64("BENCH_SECS", 15)?,
        lag_secs: env_u64("BENCH_LAG_SECS", 10)?,
        clients: match std::env::var("BENCH_CLIENTS") {
            Ok(v) if !v.trim().is_empty() => parse_clients(&v)?,
            _ => vec![1, 8, 32],
        },
        fast_pg: matches!(std::env::var("BENCH_PG_FAST").as_deref(), Ok("1" | "true" | "yes")),
        feed_posts: env_u64("BENCH_FEED_POSTS", FEED_POSTS as u64)? as usize,
        only_feed: matches!(std::env::var("BENCH_ONLY").as_deref(), Ok("feed" | "g")),
        only_fanout: matches!(std::env::var("BENCH_ONLY").as_deref(), Ok("fanout" | "h")),
        scale: matches!(std::env::var("BENCH_ONLY").as_deref(), Ok("scale")),
        scale_users: env_u64("BENCH_SCALE_USERS", SCALE_USERS as u64)? as usize,
        scale_groups: env_u64("BENCH_SCALE_GROUPS", SCALE_GROUPS as u64)? as usize,
        scale_reads: env_u64("BENCH_SCALE_READS", SCALE_READS as u64)? as usize,
        statements: env_u64("BENCH_STATEMENTS", 0)? as usize,
        hold: false,
        command: String::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value\n{}", usage()));
        match a.as_str() {
            "--secs" => s.secs = value("--secs")?.parse().map_err(|_| "--secs: not a number".to_string())?,
            "--lag-secs" => s.lag_secs = value("--lag-secs")?.parse().map_err(|_| "--lag-secs: not a number".to_string())?,
            "--clients" => s.clients = parse_clients(&value("--clients")?)?,
            "--fast-pg" => s.fast_pg = true,
            "--feed-posts" => s.feed_posts = value("--feed-posts")?.parse().map_err(|_| "--feed-posts: not a number".to_string())?,
            "--only-feed" => s.only_feed = true,
            "--only-fanout" => s.only_fanout = true,
            "--scale" => s.scale = true,
            "--scale-users" => s.scale_users = value("--scale-users")?.parse().map_err(|_| "--scale-users: not a number".to_string())?,
            "--scale-groups" => {
                s.scale_groups = value("--scale-groups")?.parse().map_err(|_| "--scale-groups: not a number".to_string())?
            }
            "--scale-reads" => s.scale_reads = value("--scale-reads")?.parse().map_err(|_| "--scale-reads: not a number".to_string())?,
            "--statements" => s.statements = value("--statements")?.parse().map_err(|_| "--statements: not a number".to_string())?,
            "--hold" => s.hold = true,
            "-h" | "--help" => return Err(usage().into()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage())),
        }
    }
    if s.secs == 0 || s.lag_secs == 0 {
        return Err("durations must be at least 1 s".into());
    }
    if s.scale_users == 0 || s.scale_reads == 0 {
        return Err("--scale-users and --scale-reads must be at least 1".into());
    }
    if s.hold && !s.scale {
        return Err("--hold keeps a --scale run's servers up after its report; other runs have nothing to look into".into());
    }
    if s.statements > 0 && (s.scale || s.only_feed || s.only_fanout) {
        return Err("--statements profiles the write steps (a), (c) and (f), which --scale, --only-feed and --only-fanout skip".into());
    }
    if s.statements > 0 && std::env::var("ROSTER_PG_SETTINGS").is_ok_and(|v| v.contains("shared_preload_libraries")) {
        return Err("--statements sets shared_preload_libraries itself; load other libraries with session_preload_libraries".into());
    }
    // scripts/bench passes its own command line; otherwise show how this binary was called. The
    // BENCH_* variables change what runs, so they are part of the command.
    let base = std::env::var("BENCH_COMMAND")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" "));
    let mut vars: Vec<String> =
        std::env::vars().filter(|(k, _)| k.starts_with("BENCH_") && k != "BENCH_COMMAND").map(|(k, v)| format!("{k}={v}")).collect();
    vars.sort();
    vars.push(base);
    s.command = vars.join(" ");
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Measurement results
// ---------------------------------------------------------------------------------------------

/// One measured series point: a rate and a latency distribution.
#[derive(Debug, Clone, Default)]
struct Measured {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Nearest-rank percentile of sorted microsecond samples, in milliseconds.
fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

/// What one operation of a closed-loop step did.
enum Outcome {
    /// Succeeded; `pending` when the answer said the read model was not yet there.
    Ok { pending: bool },
    /// Failed: a short kind to group by (status code, error class) and one example detail.
    Err { kind: String, detail: String },
}

/// A closed-loop step: `clients` tasks, each issuing the next operation when the last answers.
#[derive(Debug, Default)]
struct Step {
    ok: u64,
    pending: u64,
    errors: u64,
    elapsed: Duration,
    lat_us: Vec<u64>,
    /// Error kind → (count, one example).
    error_kinds: BTreeMap<String, (u64, String)>,
}

impl Step {
    fn measured(&mut self) -> Measured {
        self.lat_us.sort_unstable();
        Measured {
            rate: self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9),
            p50_ms: percentile_ms(&self.lat_us, 0.50),
            p99_ms: percentile_ms(&self.lat_us, 0.99),
        }
    }
}

/// Runs `op` from `clients` concurrent tasks for `dur`. Only successes count toward the rate and
/// the latencies; the rate divides by the time until the last in-flight operation finished.
async fn closed_loop<F, Fut>(clients: usize, dur: Duration, op: F) -> Step
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + dur;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut step = Step::default();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match op().await {
                        Outcome::Ok { pending } => {
                            step.ok += 1;
                            step.pending += u64::from(pending);
                            step.lat_us.push(t.elapsed().as_micros() as u64);
                        }
                        Outcome::Err { kind, detail } => {
                            step.errors += 1;
                            step.error_kinds.entry(kind).or_insert((0, detail)).0 += 1;
                        }
                    }
                }
                step
            })
        })
        .collect();
    let mut total = Step::default();
    for t in tasks {
        match t.await {
            Ok(s) => {
                total.ok += s.ok;
                total.pending += s.pending;
                total.errors += s.errors;
                total.lat_us.extend(s.lat_us);
                for (k, (n, d)) in s.error_kinds {
                    total.error_kinds.entry(k).or_insert((0, d)).0 += n;
                }
            }
            Err(e) => {
                total.errors += 1;
                total.error_kinds.entry("client task panicked".into()).or_insert((0, e.to_string())).0 += 1;
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// Unique emails across the whole run (warm-ups included), so no create hits a taken claim.
static EMAIL_SEQ: AtomicU64 = AtomicU64::new(0);

fn next_email(tag: &str) -> String {
    format!("{tag}{}@bench.example.com", EMAIL_SEQ.fetch_add(1, Ordering::Relaxed))
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// (a) HTTP
// ---------------------------------------------------------------------------------------------

/// One `POST /api/users/add` without a password (argon2 would dominate the measurement).
async fn http_add_user(client: reqwest::Client, url: Arc<str>, token: Arc<str>) -> Outcome {
    let body = json!({ "email": next_email("h"), "firstName": "A", "lastName": "B" });
    let resp = match client.post(format!("{url}/api/users/add")).header("X-API-KEY", &*token).json(&body).send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Err { kind: "transport error".into(), detail: e.to_string() },
    };
    let status = resp.status();
    let pending = resp.headers().get("roster-consistency").is_some_and(|v| v.as_bytes() == b"pending");
    // Read the body to the end either way: keep-alive needs it, and errors are reported with it.
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        Outcome::Ok { pending }
    } else {
        Outcome::Err { kind: format!("HTTP {status}"), detail: truncate(&text, 300) }
    }
}

/// One `POST /api/users/bulk-create` of `BULK_ROWS` users; success is a 201 with every user.
async fn http_bulk_create(client: reqwest::Client, url: Arc<str>, token: Arc<str>) -> Outcome {
    let rows: Vec<Value> = (0..BULK_ROWS).map(|_| json!({ "email": next_email("b"), "firstName": "A", "lastName": "B" })).collect();
    let resp = match client
        .post(format!("{url}/api/users/bulk-create"))
        .header("X-API-KEY", &*token)
        .json(&json!({ "data": rows }))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Outcome::Err { kind: "transport error".into(), detail: e.to_string() },
    };
    let status = resp.status();
    let pending = resp.headers().get("roster-consistency").is_some_and(|v| v.as_bytes() == b"pending");
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        Outcome::Ok { pending }
    } else {
        Outcome::Err { kind: format!("HTTP {status}"), detail: truncate(&text, 300) }
    }
}

// ---------------------------------------------------------------------------------------------
// (c) the store alone
// ---------------------------------------------------------------------------------------------

/// The context the WorkDrive handler would build for the org admin, minus the HTTP bits.
fn bench_context(org: OrgId) -> CommandContext {
    let mut ctx = CommandContext::system("bench", chrono::Utc::now());
    ctx.org_id = Some(org);
    ctx
}

fn new_user(tag: &str) -> CreateUser {
    roster_tests::plain_member(next_email(tag))
}

async fn store_add_user(store: Store, org: OrgId) -> Outcome {
    match create_user(&store, &bench_context(org), org, new_user("s")).await {
        Ok(_) => Outcome::Ok { pending: false },
        Err(e) => {
            let detail = e.to_string();
            Outcome::Err { kind: truncate(&detail, 60), detail: truncate(&detail, 300) }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (g) the feed
// ---------------------------------------------------------------------------------------------

/// A new member of the org and a token of theirs.
async fn http_member(client: &reqwest::Client, url: &str, admin_token: &str) -> Result<(UserId, Arc<str>), BoxError> {
    http_member_with(client, url, admin_token, json!({})).await
}

/// `http_member` with more fields of `POST /api/users/add` (e.g. a department, whose heads the
/// member then reports to).
async fn http_member_with(client: &reqwest::Client, url: &str, admin_token: &str, more: Value) -> Result<(UserId, Arc<str>), BoxError> {
    let mut body = json!({ "email": next_email("feed"), "firstName": "Feed", "lastName": "Member" });
    if let (Some(body), Some(more)) = (body.as_object_mut(), more.as_object()) {
        body.extend(more.clone());
    }
    let v: Value = client.post(format!("{url}/api/users/add")).header("X-API-KEY", admin_token).json(&body).send().await?.json().await?;
    let id: uuid::Uuid = v["id"].as_str().ok_or_else(|| format!("add member: {v}"))?.parse()?;
    let body = json!({ "userId": id });
    let t: Value =
        client.post(format!("{url}/api/token/generate-access")).header("X-API-KEY", admin_token).json(&body).send().await?.json().await?;
    let token = t["token"].as_str().ok_or_else(|| format!("token: {t}"))?;
    Ok((UserId(id), token.into()))
}

/// `n` posts, five by each of `authors` in turn, their audiences cycling through public, the
/// author's followers (`reader` follows the first author), the author's team, only-me and a named
/// user (`reader`); returns once the read model holds them all. They are appended straight through
/// the store, `SEED_BATCH` streams per transaction (the events a `create_post` would append; the
/// command path's one-post transactions would make the seeding dominate the run). Two posts share
/// each millisecond, so pages meet ties on time.
async fn seed_posts(store: &Store, pool: &PgPool, org: OrgId, authors: &[UserId], reader: UserId, n: usize) -> Result<(), BoxError> {
    let nobody = Audience { public: false, ..Audience::public() };
    let audiences = [
        Audience::public(),
        Audience { friends: true, ..nobody.clone() },
        Audience { team: true, ..nobody.clone() },
        Audience { only_me: true, ..nobody.clone() },
        Audience { users: vec![reader], ..nobody },
    ];
    let now = chrono::Utc::now();
    let first = now - chrono::Duration::milliseconds((n / 2) as i64 + 1000);
    let mut i = 0;
    while i < n {
        let mut plan = Plan::new(());
        for j in i..(i + SEED_BATCH).min(n) {
            let id = uuid::Uuid::now_v7();
            let content = PostContent { audience: audiences[j % audiences.len()].clone(), ..PostContent::text(format!("post {j}")) };
            let posted_at = first + chrono::Duration::milliseconds((j / 2) as i64);
            let author = authors[j / audiences.len() % authors.len()];
            let created = PostEvent::PostCreated { id, org_id: org, kind: PostKind::Post, author, posted_at, content };
            plan.streams.push(PendingStream::new(id, Some(org.0), 0, &[created])?);
        }
        i += plan.streams.len();
        store.append(&bench_context(org), &plan).await?;
    }
    let (mut last, mut progressed) = (-1i64, Instant::now());
    loop {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_content.posts WHERE org_id = $1").bind(org.0).fetch_one(pool).await?;
        if count as usize >= n {
            return Ok(());
        }
        if count > last {
            (last, progressed) = (count, Instant::now());
        } else if progressed.elapsed() > SEED_STALL {
            return Err(format!("only {count} of {n} posts reached the read model").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Step (g): seeds the posts, then measures a member's first feed page at each client count.
async fn feed_step(
    s: &Settings,
    client: &reqwest::Client,
    url: &Arc<str>,
    token: &str,
    admin_pool: &PgPool,
    org: OrgId,
) -> Result<BTreeMap<usize, Step>, BoxError> {
    eprintln!("bench: (g) seeding {} posts", s.feed_posts);
    let (author, _) = http_member(client, url, token).await?;
    let (reader, reader_token) = http_member(client, url, token).await?;
    let follow = client.post(format!("{url}/api/users/{}/follow", author.0)).header("X-API-KEY", &*reader_token).send().await?;
    if !follow.status().is_success() {
        return Err(format!("follow: HTTP {}", follow.status()).into());
    }
    let t = Instant::now();
    seed_posts(&Store::new(admin_pool.clone()), admin_pool, org, &[author], reader, s.feed_posts).await?;
    eprintln!("bench: (g) seeded in {:.1} s", t.elapsed().as_secs_f64());
    // A fast seeding outruns autovacuum, and the planner would then judge the feed's index scans
    // on the statistics of empty tables; a live org's tables have been analyzed.
    sqlx::query("VACUUM (ANALYZE) rm_content.posts, rm_content.post_grants, rm_content.post_audience_counts, rm_content.post_audience_sigs, rm_content.audience")
        .execute(admin_pool)
        .await?;
    let feed_op = {
        let (client, url, token) = (client.clone(), url.clone(), reader_token.clone());
        move || http_feed(client.clone(), url.clone(), token.clone())
    };
    closed_loop(8, WARMUP, feed_op.clone()).await;
    let mut feed: BTreeMap<usize, Step> = BTreeMap::new();
    for &n in &s.clients {
        pg_checkpoint(admin_pool).await;
        eprintln!("bench: (g) HTTP GET /api/posts, {n} clients, {} s", s.secs);
        feed.insert(n, closed_loop(n, Duration::from_secs(s.secs), feed_op.clone()).await);
    }
    Ok(feed)
}

/// One page of the feed.
async fn http_feed(client: reqwest::Client, url: Arc<str>, token: Arc<str>) -> Outcome {
    match client.get(format!("{url}/api/posts?per_page=10")).header("X-API-KEY", &*token).send().await {
        Ok(r) if r.status().is_success() => {
            let _ = r.bytes().await;
            Outcome::Ok { pending: false }
        }
        Ok(r) => {
            let status = r.status();
            Outcome::Err { kind: format!("HTTP {status}"), detail: truncate(&r.text().await.unwrap_or_default(), 300) }
        }
        Err(e) => Outcome::Err { kind: "request".into(), detail: truncate(&e.to_string(), 300) },
    }
}

// ---------------------------------------------------------------------------------------------
// (h) message fan-out
// ---------------------------------------------------------------------------------------------

/// What (h) measured: messages/s posted and post → receipt latency; `missing` receipts never came.
struct Fanout {
    measured: Measured,
    messages: u64,
    missing: usize,
}

/// One participant's live stream: records, for every message it receives, the time since its POST
/// was sent (messages say `fanout <n>`).
fn fanout_reader(
    mut resp: reqwest::Response,
    sent: Arc<Mutex<HashMap<u64, Instant>>>,
    lat: Arc<Mutex<Vec<u64>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(bytes)) = resp.chunk().await {
            let now = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
                let Ok(m) = serde_json::from_str::<Value>(data) else { continue };
                let seq = m["message"].as_str().and_then(|t| t.strip_prefix("fanout ")).and_then(|n| n.parse::<u64>().ok());
                let t0 = seq.and_then(|n| sent.lock().ok()?.get(&n).copied());
                if let (Some(t0), Ok(mut lat)) = (t0, lat.lock()) {
                    lat.push(now.duration_since(t0).as_micros() as u64);
                }
            }
        }
    })
}

async fn fanout_step(client: &reqwest::Client, url: &str, admin_token: &str, dur: Duration) -> Result<Fanout, BoxError> {
    let mut members = Vec::with_capacity(FANOUT_PARTICIPANTS);
    for _ in 0..FANOUT_PARTICIPANTS {
        members.push(http_member(client, url, admin_token).await?);
    }
    let poster_token = members[0].1.clone();
    let others: Vec<Value> = members[1..].iter().map(|(id, _)| json!({ "id": id.0 })).collect();
    let body = json!({ "groupType": "CHAT_GROUP", "title": "Fan-out", "members": others });
    let v: Value =
        client.post(format!("{url}/api/group-chats")).header("X-API-KEY", &*poster_token).json(&body).send().await?.json().await?;
    let chat = v["id"].as_str().ok_or_else(|| format!("create group chat: {v}"))?.to_string();
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let lat: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut readers = Vec::with_capacity(FANOUT_PARTICIPANTS);
    for (_, token) in &members {
        let resp = client.get(format!("{url}/api/group-chats/{chat}/stream")).header("X-API-KEY", &**token).send().await?;
        if !resp.status().is_success() {
            return Err(format!("stream: HTTP {}", resp.status()).into());
        }
        readers.push(fanout_reader(resp, sent.clone(), lat.clone()));
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        if let Ok(mut s) = sent.lock() {
            s.insert(n, Instant::now());
        }
        let r = client
            .post(format!("{url}/api/{chat}/messages"))
            .header("X-API-KEY", &*poster_token)
            .json(&json!({ "message": format!("fanout {n}") }))
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(format!("post message: HTTP {}", r.status()).into());
        }
        let _ = r.bytes().await;
        n += 1;
    }
    let elapsed = start.elapsed();
    tokio::time::sleep(FANOUT_DRAIN).await;
    for r in readers {
        r.abort();
    }
    let mut lat = lat.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_unstable();
    let missing = (n as usize * FANOUT_PARTICIPANTS).saturating_sub(lat.len());
    Ok(Fanout {
        measured: Measured { rate: n as f64 / elapsed.as_secs_f64(), p50_ms: percentile_ms(&lat, 0.50), p99_ms: percentile_ms(&lat, 0.99) },
        messages: n,
        missing,
    })
}

// ---------------------------------------------------------------------------------------------
// (d) pgbench
// ---------------------------------------------------------------------------------------------

/// A JSON payload shaped like a UserCreated payload, padded to about 600 bytes. pgbench treats
/// `:name` as a variable (and `-M prepared` fails on an unknown one), so every `":` gets a space
/// after it.
fn raw_payload() -> String {
    let mut v = json!({
        "id": "0190b0c4-7f3a-7a1e-9d2b-4a6f1c2e3d4b",
        "org_id": "0190b0c4-7f3a-7a1e-9d2b-4a6f1c2e3d4c",
        "number": "1234567",
        "email": "someone.with.a.name@bench.example.com",
        "login": "someone.with.a.name@bench.example.com",
        "first_name": "Firstname",
        "last_name": "Lastname",
        "role": "member",
        "status": "invited",
        "created_by": "0190b0c4-7f3a-7a1e-9d2b-4a6f1c2e3d4d",
        "profile": { "phone": "+1 555 0100", "designation": "Engineer", "skills": ["a", "b"] },
        "pad": ""
    });
    let len = serde_json::to_string(&v).map(|s| s.len()).unwrap_or(0);
    v["pad"] = Value::String("x".repeat(600usize.saturating_sub(len)));
    serde_json::to_string(&v).unwrap_or_default().replace("\":", "\": ")
}

fn raw_metadata() -> String {
    json!({
        "actor_user_id": "0190b0c4-7f3a-7a1e-9d2b-4a6f1c2e3d4d",
        "request_id": "5f0c6f0e-8a3b-4c1d-9e2f-0a1b2c3d4e5f",
        "correlation_id": "5f0c6f0e-8a3b-4c1d-9e2f-0a1b2c3d4e5f",
        "dialect": "workdrive",
        "client_addr": "127.0.0.1"
    })
    .to_string()
    .replace("\":", "\": ")
}

const RAW_TABLE: &str = "CREATE TABLE IF NOT EXISTS public.bench_raw (\
    gid bigserial PRIMARY KEY, event_id uuid NOT NULL, org_id uuid, stream_type text, stream_id uuid, \
    version int, event_type text, payload jsonb, metadata jsonb, recorded_at timestamptz DEFAULT now())";

/// The pgbench script: one INSERT, one row, one implicit transaction.
fn raw_script() -> String {
    format!(
        "INSERT INTO public.bench_raw (event_id, org_id, stream_type, stream_id, version, event_type, payload, metadata) \
         VALUES (gen_random_uuid(), '0190b0c4-7f3a-7a1e-9d2b-4a6f1c2e3d4c'::uuid, 'user', gen_random_uuid(), 1, \
         'UserCreated', '{}'::jsonb, '{}'::jsonb);\n",
        raw_payload(),
        raw_metadata()
    )
}

/// The batched pgbench script: `BULK_ROWS` event-sized rows in one INSERT, one transaction.
fn raw_bulk_script() -> String {
    format!(
        "INSERT INTO public.bench_raw (event_id, org_id, stream_type, stream_id, version, event_type, payload, metadata) \
         SELECT gen_random_uuid(), '0190b0c4-7f3a-7a1e-9d2b-4a6f1c2e3d4c'::uuid, 'user', gen_random_uuid(), 1, \
         'UserCreated', '{}'::jsonb, '{}'::jsonb FROM generate_series(1, {BULK_ROWS});\n",
        raw_payload(),
        raw_metadata()
    )
}

/// `pgbench -n -M prepared -T secs -c N -j min(N,2)` with per-transaction logs (for p50/p99).
/// `tag` keeps each script's logs apart.
async fn pgbench(pg: &PgCluster, script: &Path, log_dir: &Path, tag: &str, clients: usize, secs: u64) -> Result<Measured, BoxError> {
    let prefix = log_dir.join(format!("{tag}-c{clients}"));
    let args: Vec<String> = vec![
        "-n".into(),
        "-M".into(),
        "prepared".into(),
        "-T".into(),
        secs.to_string(),
        "-c".into(),
        clients.to_string(),
        "-j".into(),
        clients.min(2).to_string(),
        "-f".into(),
        script.display().to_string(),
        "-l".into(),
        format!("--log-prefix={}", prefix.display()),
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        pg.port().to_string(),
        "-U".into(),
        "postgres".into(),
        ROSTER_DB.into(),
    ];
    let out = tokio::process::Command::new(pg.bin_dir().join("pgbench"))
        .args(&args)
        .current_dir(log_dir)
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(format!("pgbench -c {clients} failed ({}):\n{text}", out.status).into());
    }
    // "tps = 1234.567890 (without initial connection time)"
    let tps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = ").and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse::<f64>().ok()))
        .ok_or_else(|| format!("no `tps = ` line in pgbench output:\n{text}"))?;
    if let Some(failed) = text.lines().find(|l| l.contains("number of failed transactions") && !l.contains(": 0 ")) {
        eprintln!("bench: pgbench -c {clients}: {}", failed.trim());
    }
    // Log lines: client_id transaction_no latency_us script_no epoch_s epoch_us (one file per thread).
    let mut lat_us = Vec::new();
    let file_prefix = prefix.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for entry in std::fs::read_dir(log_dir)?.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&format!("{file_prefix}.")) {
            continue;
        }
        let body = std::fs::read_to_string(entry.path())?;
        lat_us.extend(body.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()));
        let _ = std::fs::remove_file(entry.path());
    }
    lat_us.sort_unstable();
    Ok(Measured { rate: tps, p50_ms: percentile_ms(&lat_us, 0.50), p99_ms: percentile_ms(&lat_us, 0.99) })
}

// ---------------------------------------------------------------------------------------------
// (b) end-to-end lag
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Lag {
    offered_rate: f64,
    achieved_rate: f64,
    writes: usize,
    write_errors: BTreeMap<String, u64>,
    visible: Measured,
    received: Measured,
    /// Writes never seen in the read model / on NATS within the catch-up deadline.
    not_visible: usize,
    not_received: usize,
}

/// Paces `rate` creates per second for `dur` through the store on the live Roster's database, and
/// times each commit's arrival in the read models (checkpoints) and at a NATS subscriber.
async fn lag_step(store: Store, db_url: &str, nats_url: &str, prefix: &str, org: OrgId, rate: f64, dur: Duration) -> Result<Lag, BoxError> {
    // NATS side: a plain core subscription, as a downstream service would have. Every arrival is
    // stamped on receipt and keyed by its Roster-Position header.
    let nats = async_nats::connect(nats_url).await?;
    let mut sub = nats.subscribe(format!("{prefix}.>")).await?;
    nats.flush().await?; // the subscription is registered before the first write
    let received: Arc<Mutex<HashMap<Position, Instant>>> = Arc::default();
    let nats_task = {
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let now = Instant::now();
                let pos = msg.headers.as_ref().and_then(|h| h.get("Roster-Position")).and_then(|v| v.as_str().parse::<Position>().ok());
                if let Some(pos) = pos {
                    received.lock().expect("lock").entry(pos).or_insert(now);
                }
            }
        })
    };

    // Read-model side: the slowest projection checkpoint, re-read on every NOTIFY (and every
    // 100 ms in case a notification is missed). It only grows, so the log stays sorted.
    let cp_pool = eventlog::db::connect(db_url, 2, projections::SEARCH_PATH).await?;
    let mut listener = PgListener::connect_with(&cp_pool).await?;
    listener.listen(CHECKPOINT_CHANNEL).await?;
    let first = checkpoint::slowest(&cp_pool).await?;
    let visible: Arc<Mutex<Vec<(Instant, Position)>>> = Arc::new(Mutex::new(vec![(Instant::now(), first)]));
    let cp_task = {
        let visible = visible.clone();
        tokio::spawn(async move {
            let mut last = first;
            loop {
                match tokio::time::timeout(Duration::from_millis(100), listener.recv()).await {
                    Ok(Ok(_)) => while listener.next_buffered().is_some() {},
                    Ok(Err(e)) => {
                        eprintln!("bench: checkpoint listener: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(_) => {}
                }
                // Stamped after the read: the checkpoint was visible by then at the latest.
                match checkpoint::slowest(&cp_pool).await {
                    Ok(pos) if pos > last => {
                        visible.lock().expect("lock").push((Instant::now(), pos));
                        last = pos;
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("bench: reading checkpoints: {e}"),
                }
            }
        })
    };

    // Open loop: write i starts at start + i/rate whether or not earlier ones have answered, so a
    // slow commit shows up as lag rather than lowering the offered rate.
    let total = (rate * dur.as_secs_f64()).round().max(1.0) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut writes = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            let committed = create_user(&store, &bench_context(org), org, new_user("l")).await;
            let t0 = Instant::now(); // the append returns right after COMMIT
            committed.map(|c| (t0, c.position)).map_err(|e| e.to_string())
        }));
    }
    let mut lag = Lag { offered_rate: rate, ..Lag::default() };
    let mut commits = Vec::with_capacity(total);
    for w in writes {
        match w.await {
            Ok(Ok((t0, Some(pos)))) => commits.push((t0, pos)),
            Ok(Ok((_, None))) => *lag.write_errors.entry("committed without a position".into()).or_default() += 1,
            Ok(Err(e)) => *lag.write_errors.entry(truncate(&e, 120)).or_default() += 1,
            Err(e) => *lag.write_errors.entry(format!("task: {e}")).or_default() += 1,
        }
    }
    let last_commit = commits.iter().map(|(t, _)| *t).max().unwrap_or(start);
    lag.writes = commits.len();
    lag.achieved_rate = commits.len() as f64 / (last_commit - start).as_secs_f64().max(1e-9);

    // Let both sides catch up with the last write (bounded).
    let max_pos = commits.iter().map(|(_, p)| *p).max().unwrap_or_default();
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let seen_all = {
            let v = visible.lock().expect("lock");
            let r = received.lock().expect("lock");
            v.last().is_some_and(|(_, p)| *p >= max_pos) && commits.iter().all(|(_, p)| r.contains_key(p))
        };
        if seen_all || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nats_task.abort();
    cp_task.abort();

    // Lags. A stamp earlier than t0 means the observer ran before the writer task was polled
    // again after COMMIT: count it as 0.
    let visible = visible.lock().expect("lock").clone();
    let received = received.lock().expect("lock").clone();
    let (mut vis_us, mut rec_us) = (Vec::new(), Vec::new());
    for (t0, pos) in &commits {
        let i = visible.partition_point(|(_, p)| p < pos);
        match visible.get(i) {
            Some((t, _)) => vis_us.push(t.saturating_duration_since(*t0).as_micros() as u64),
            None => lag.not_visible += 1,
        }
        match received.get(pos) {
            Some(t) => rec_us.push(t.saturating_duration_since(*t0).as_micros() as u64),
            None => lag.not_received += 1,
        }
    }
    vis_us.sort_unstable();
    rec_us.sort_unstable();
    let measured = |v: &[u64]| Measured { rate: lag.achieved_rate, p50_ms: percentile_ms(v, 0.5), p99_ms: percentile_ms(v, 0.99) };
    lag.visible = measured(&vis_us);
    lag.received = measured(&rec_us);
    Ok(lag)
}

// ---------------------------------------------------------------------------------------------
// Setup helpers
// ---------------------------------------------------------------------------------------------

/// First line of `program args` (stdout, else stderr), for the machine facts.
fn version_of(program: &Path, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text).lines().next().unwrap_or("").trim().to_string()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("unknown ({} did not answer)", program.display()))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The filesystem holding `path` ("ext4 on /dev/vda"): with fsync on, its flush cost is what the
/// durable figures measure.
fn filesystem_of(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1])).then(|| (f[1].len(), format!("{} on {}", f[2], f[0])))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
        .unwrap_or_else(|| "unknown filesystem".into())
}

/// Creates an organization through the WorkDrive API; returns its id and the admin's token.
async fn create_org(client: &reqwest::Client, url: &str, super_token: &str) -> Result<(OrgId, String), BoxError> {
    let body = json!({
        "name": "Bench Org",
        "admin": { "firstName": "Ada", "lastName": "Admin", "email": "admin@bench.example.com", "password": "password1" },
        "auth": { "method": "internal" },
    });
    let resp = client.post(format!("{url}/api/organization")).header("X-API-KEY", super_token).json(&body).send().await?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("create org: HTTP {status}: {v}").into());
    }
    let id: uuid::Uuid = v["id"].as_str().ok_or("create org: no id")?.parse()?;
    let token = v["accessToken"].as_str().ok_or("create org: no accessToken")?.to_string();
    Ok((OrgId(id), token))
}

/// Runs a closed-loop step; with `--statements`, between a reset of pg_stat_statements and a read
/// of `database`'s costliest statements per completed operation.
async fn measure_statements(
    s: &Settings,
    admin: &PgPool,
    database: &str,
    step: impl Future<Output = Step>,
) -> Result<(Step, Option<String>), BoxError> {
    if s.statements == 0 {
        return Ok((step.await, None));
    }
    statements::reset(admin).await?;
    let st = step.await;
    let table = statements::top(admin, database, st.ok, s.statements).await?;
    Ok((st, Some(table)))
}

/// `CHECKPOINT` before each step, so a checkpoint triggered by the previous step's WAL does not
/// land in the middle of the next one (matters with a durable cluster).
async fn pg_checkpoint(pool: &PgPool) {
    if let Err(e) = sqlx::query("CHECKPOINT").execute(pool).await {
        eprintln!("bench: CHECKPOINT failed: {e}");
    }
}

async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await.unwrap_or(0)
}

fn fmt_rate(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.0}")
    } else {
        "—".into()
    }
}

fn fmt_ms(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "—".into()
    }
}

fn fmt_ratio(x: f64, raw: Option<&Measured>) -> String {
    match raw {
        Some(r) if r.rate > 0.0 => format!("{:.1}%", 100.0 * x / r.rate),
        _ => "—".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/// Set while `--hold` keeps everything up: Ctrl-C then ends the hold, not the run.
static HOLDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Resolves on a Ctrl-C that is not ending a `--hold`.
async fn interrupted() {
    loop {
        let _ = tokio::signal::ctrl_c().await;
        if !HOLDING.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
    }
}

/// With `--hold`, waits for Ctrl-C with everything still up, saying where it is.
async fn hold(s: &Settings, roster: &str, db_url: &str, nats: &NatsServer) {
    if !s.hold {
        return;
    }
    HOLDING.store(true, std::sync::atomic::Ordering::SeqCst);
    eprintln!("bench: --hold: Roster at {roster}, its database at {db_url}, nats-server at {}; Ctrl-C stops them", nats.url());
    let _ = tokio::signal::ctrl_c().await;
}

/// Stops Roster, then closes the bench's own pools and the servers under it.
async fn stop(running: roster::Running, pools: &[&PgPool], nats: NatsServer, pg: &mut PgCluster) -> Result<(), BoxError> {
    eprintln!("bench: stopping");
    running.shutdown().await;
    for pool in pools {
        pool.close().await;
    }
    drop(nats);
    pg.stop().await?;
    Ok(())
}

async fn run(s: &Settings, dir: &Path) -> Result<(), BoxError> {
    let step = Duration::from_secs(s.secs);
    eprintln!("bench: starting Postgres ({}) and nats-server under {}", if s.fast_pg { "fsync off" } else { "durable" }, dir.display());
    let mut pg = PgCluster::start(&dir.join("pg"), free_port(), s.fast_pg).await?;
    let nats = NatsServer::start(&dir.join("nats"), free_port()).await?;
    pg.create_database(ROSTER_DB).await?;
    pg.create_database(STORE_DB).await?;

    // Machine facts, printed with the report.
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let pg_version = version_of(&pg.bin_dir().join("postgres"), &["--version"]);
    let nats_version = nats_bin().map(|b| version_of(&b, &["--version"])).unwrap_or_else(|e| e.to_string());

    // A full Roster with production defaults (pool size, 5 s consistency timeout), in-process.
    let db_url = pg.url(ROSTER_DB);
    let mut cfg = Config::new(db_url.clone(), nats.url());
    cfg.bind = "127.0.0.1:0".parse()?;
    let super_token = commands::secrets::new_token();
    cfg.bootstrap_token = Some(super_token.clone());
    // At scale every created user is owed an onboarding notice, which the notifier would be
    // delivering (and failing: no SMTP here) through the whole measurement.
    cfg.roles = if s.scale { Roles { notifier: false, ..Roles::ALL } } else { Roles::ALL };
    let prefix = cfg.nats.subject_prefix.clone();
    let running = roster::start(cfg).await?;
    let url: Arc<str> = format!("http://{}", running.addr.ok_or("roster started without an API address")?).into();
    let client = reqwest::Client::builder().tcp_nodelay(true).pool_max_idle_per_host(256).build()?;
    let (org, token) = create_org(&client, &url, &super_token).await?;
    let token: Arc<str> = token.into();
    // Six: the scale step's `rebuild all` replays both projections at once, two connections each.
    let admin_pool = eventlog::db::connect(&db_url, 6, projections::SEARCH_PATH).await?;

    if s.only_fanout {
        eprintln!("bench: (h) message fan-out to {FANOUT_PARTICIPANTS} live streams, {} s", s.secs);
        let fanout = fanout_step(&client, &url, &token, Duration::from_secs(s.secs)).await?;
        println!("# Roster fan-out benchmark (step (h) alone)\n\nCommand: `{}`\nMachine: nproc {nproc} ({}); {pg_version} ({}); Roster in-process.\n", s.command, cpu_model(), if s.fast_pg { "fsync off" } else { "durable" });
        println!("| measurement | messages | rate (messages/s) | p50 ms | p99 ms | receipts missing |\n|---|---:|---:|---:|---:|---:|");
        println!(
            "| (h) POST /api/{{id}}/messages → SSE receipt at each of {FANOUT_PARTICIPANTS} participants | {} | {} | {} | {} | {} |",
            fanout.messages,
            fmt_rate(fanout.measured.rate),
            fmt_ms(fanout.measured.p50_ms),
            fmt_ms(fanout.measured.p99_ms),
            fanout.missing
        );
        return stop(running, &[&admin_pool], nats, &mut pg).await;
    }
    if s.scale {
        let report = scale::run(s, &client, &url, &token, &admin_pool, org).await?;
        println!(
            "# Roster at scale\n\nCommand: `{}`\nMachine: nproc {nproc} ({}); {pg_version} ({}); Roster in-process.\n",
            s.command,
            cpu_model(),
            if s.fast_pg { "fsync off" } else { "durable" }
        );
        print!("{report}");
        hold(s, &url, &db_url, &nats).await;
        return stop(running, &[&admin_pool], nats, &mut pg).await;
    }
    if s.only_feed {
        let mut feed = feed_step(s, &client, &url, &token, &admin_pool, org).await?;
        println!("# Roster feed benchmark (step (g) alone)\n\nCommand: `{}`\nMachine: nproc {nproc} ({}); {pg_version} ({}); Roster in-process.\n", s.command, cpu_model(), if s.fast_pg { "fsync off" } else { "durable" });
        println!("| measurement | clients | rate (ops/s) | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|");
        for (n, st) in feed.iter_mut() {
            let m = st.measured();
            println!(
                "| (g) HTTP GET /api/posts, 10 per page, over {} posts | {n} | {} | {} | {} |",
                s.feed_posts,
                fmt_rate(m.rate),
                fmt_ms(m.p50_ms),
                fmt_ms(m.p99_ms)
            );
            if st.errors > 0 {
                println!("- Problem: {} errors: {:?}", st.errors, st.error_kinds);
            }
        }
        return stop(running, &[&admin_pool], nats, &mut pg).await;
    }

    // (d) raw Postgres: the table and script live next to Roster's events, in the same database
    // (schema-qualified: Roster's sessions put the read-model schema first in search_path).
    sqlx::query(RAW_TABLE).execute(&admin_pool).await?;
    let script = dir.join("raw_insert.sql");
    std::fs::write(&script, raw_script())?;
    let log_dir = dir.join("pgbench");
    std::fs::create_dir_all(&log_dir)?;
    let mut raw: BTreeMap<usize, Measured> = BTreeMap::new();
    for &n in &s.clients {
        pg_checkpoint(&admin_pool).await;
        eprintln!("bench: (d) pgbench one-row INSERT, {n} clients, {} s", s.secs);
        raw.insert(n, pgbench(&pg, &script, &log_dir, "raw", n, s.secs).await?);
    }
    // (e) raw Postgres, batched: BULK_ROWS rows per transaction; rows/s = tx/s × BULK_ROWS.
    let bulk_script = dir.join("raw_bulk_insert.sql");
    std::fs::write(&bulk_script, raw_bulk_script())?;
    pg_checkpoint(&admin_pool).await;
    eprintln!("bench: (e) pgbench {BULK_ROWS}-row INSERT, {BULK_CLIENTS} client, {} s", s.secs);
    let mut raw_bulk = pgbench(&pg, &bulk_script, &log_dir, "raw-bulk", BULK_CLIENTS, s.secs).await?;
    raw_bulk.rate *= BULK_ROWS as f64;

    // (a) HTTP, read-your-writes on.
    let http_op = {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        move || http_add_user(client.clone(), url.clone(), token.clone())
    };
    eprintln!("bench: (a) warm-up");
    closed_loop(8, WARMUP, http_op.clone()).await;
    // (step, its statements table) for `--statements`.
    let mut statement_tables: Vec<(String, String)> = Vec::new();
    if s.statements > 0 {
        statements::install(&admin_pool).await?;
    }
    let mut http: BTreeMap<usize, Step> = BTreeMap::new();
    for &n in &s.clients {
        pg_checkpoint(&admin_pool).await;
        eprintln!("bench: (a) HTTP POST /api/users/add, {n} clients, {} s", s.secs);
        let (st, table) = measure_statements(s, &admin_pool, ROSTER_DB, closed_loop(n, step, http_op.clone())).await?;
        statement_tables.extend(table.map(|t| (format!("(a) HTTP POST /api/users/add, {n} clients, per create"), t)));
        http.insert(n, st);
    }

    // (f) HTTP bulk-create, BULK_ROWS rows per call, read-your-writes on.
    let bulk_op = {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        move || http_bulk_create(client.clone(), url.clone(), token.clone())
    };
    eprintln!("bench: (f) warm-up");
    closed_loop(1, WARMUP, bulk_op.clone()).await;
    pg_checkpoint(&admin_pool).await;
    eprintln!("bench: (f) HTTP POST /api/users/bulk-create, {BULK_ROWS}-row calls, {BULK_CLIENTS} client, {} s", s.secs);
    let (mut bulk_step, table) = measure_statements(s, &admin_pool, ROSTER_DB, closed_loop(BULK_CLIENTS, step, bulk_op)).await?;
    statement_tables.extend(table.map(|t| (format!("(f) HTTP POST /api/users/bulk-create, {BULK_ROWS}-row calls, per call"), t)));
    let mut http_bulk = bulk_step.measured();
    http_bulk.rate *= BULK_ROWS as f64;

    // (c) the store alone, on a database no relay or projector reads.
    let max_clients = s.clients.iter().copied().max().unwrap_or(1);
    let store_pool = eventlog::db::connect(&pg.url(STORE_DB), max_clients as u32 + 8, projections::SEARCH_PATH).await?;
    eventlog::db::migrate(&pg.url(STORE_DB)).await?;
    let store_only = Store::new(store_pool.clone());
    let store_op = {
        let store = store_only.clone();
        move || store_add_user(store.clone(), org)
    };
    eprintln!("bench: (c) warm-up");
    closed_loop(8, WARMUP, store_op.clone()).await;
    let mut store_steps: BTreeMap<usize, Step> = BTreeMap::new();
    let mut events_per_command = f64::NAN;
    for &n in &s.clients {
        pg_checkpoint(&admin_pool).await;
        eprintln!("bench: (c) store create_user, {n} clients, {} s", s.secs);
        let before = event_count(&store_pool).await;
        let (st, table) = measure_statements(s, &admin_pool, STORE_DB, closed_loop(n, step, store_op.clone())).await?;
        statement_tables.extend(table.map(|t| (format!("(c) store create_user, {n} clients, per command"), t)));
        let appended = event_count(&store_pool).await - before;
        if st.ok > 0 {
            events_per_command = appended as f64 / st.ok as f64;
        }
        store_steps.insert(n, st);
    }

    // (b) lag at half the best HTTP rate and at that rate, through the store on the live Roster's
    // database (issue 16 asks for both).
    let http_measured: BTreeMap<usize, Measured> = http.iter_mut().map(|(n, st)| (*n, st.measured())).collect();
    let best_http = http_measured.values().map(|m| m.rate).fold(0.0, f64::max);
    let live_store = Store::new(eventlog::db::connect(&db_url, 32, projections::SEARCH_PATH).await?);
    let mut lags: Vec<(&str, Lag)> = Vec::new();
    for (load, share) in [("half load", 0.5), ("the top HTTP rate", 1.0)] {
        let lag_rate = (best_http * share).max(1.0);
        pg_checkpoint(&admin_pool).await;
        eprintln!("bench: (b) lag at {lag_rate:.0} writes/s ({load}) for {} s", s.lag_secs);
        lags.push((
            load,
            lag_step(live_store.clone(), &db_url, &nats.url(), &prefix, org, lag_rate, Duration::from_secs(s.lag_secs)).await?,
        ));
    }

    // (g) the feed of a member, over posts of mixed audiences.
    let mut feed = feed_step(s, &client, &url, &token, &admin_pool, org).await?;

    // (h) message fan-out to participants holding the live stream.
    eprintln!("bench: (h) message fan-out to {FANOUT_PARTICIPANTS} live streams, {} s", s.secs);
    let fanout = fanout_step(&client, &url, &token, step).await?;

    // Event sizes, to show the raw row is comparable with what Roster appends.
    let sizes: Option<(f64, f64)> = sqlx::query_as(
        "SELECT avg(octet_length(payload::text))::float8, avg(octet_length(metadata::text))::float8 FROM events WHERE event_type = 'UserCreated'",
    )
    .fetch_one(&admin_pool)
    .await
    .ok();

    // ------------------------------------------------------------------ the report
    let store_measured: BTreeMap<usize, Measured> = store_steps.iter_mut().map(|(n, st)| (*n, st.measured())).collect();
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line("# Roster write-path benchmark".into());
    line(String::new());
    line(format!("Command: `{}`", s.command));
    line(format!(
        "Machine: nproc {nproc} ({}); {pg_version} ({}, data on {}); {nats_version}; Roster in-process (API + relay + projector), load generator in the same process.",
        cpu_model(),
        if s.fast_pg { "fsync off, synchronous_commit off" } else { "durable: fsync on, synchronous_commit on" },
        filesystem_of(dir)
    ));
    line(format!(
        "Steps: {} s each at {} clients; lag {} s paced. Raw row: {} B payload + {} B metadata; Roster UserCreated: {} B payload + {} B metadata (avg).",
        s.secs,
        s.clients.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("/"),
        s.lag_secs,
        raw_payload().len(),
        raw_metadata().len(),
        sizes.map(|(p, _)| format!("{p:.0}")).unwrap_or_else(|| "?".into()),
        sizes.map(|(_, m)| format!("{m:.0}")).unwrap_or_else(|| "?".into()),
    ));
    line(String::new());
    line("| measurement | clients | rate (ops/s) | p50 ms | p99 ms | ratio to raw INSERT at same clients |".into());
    line("|---|---:|---:|---:|---:|---:|".into());
    for (n, m) in &raw {
        line(format!(
            "| (d) raw Postgres: pgbench one-row INSERT (tx/s) | {n} | {} | {} | {} | 100% |",
            fmt_rate(m.rate),
            fmt_ms(m.p50_ms),
            fmt_ms(m.p99_ms)
        ));
    }
    for (n, m) in &http_measured {
        line(format!(
            "| (a) HTTP POST /api/users/add, read-your-writes (2xx/s) | {n} | {} | {} | {} | {} |",
            fmt_rate(m.rate),
            fmt_ms(m.p50_ms),
            fmt_ms(m.p99_ms),
            fmt_ratio(m.rate, raw.get(n))
        ));
    }
    for (n, m) in &store_measured {
        line(format!(
            "| (c) store create_user, no HTTP (commands/s) | {n} | {} | {} | {} | {} |",
            fmt_rate(m.rate),
            fmt_ms(m.p50_ms),
            fmt_ms(m.p99_ms),
            fmt_ratio(m.rate, raw.get(n))
        ));
    }
    line(format!(
        "| (e) raw Postgres: pgbench {BULK_ROWS}-row INSERT per tx (rows/s; ms per tx) | {BULK_CLIENTS} | {} | {} | {} | 100% of (e) |",
        fmt_rate(raw_bulk.rate),
        fmt_ms(raw_bulk.p50_ms),
        fmt_ms(raw_bulk.p99_ms)
    ));
    line(format!(
        "| (f) HTTP POST /api/users/bulk-create, {BULK_ROWS}-row calls, read-your-writes (users/s; ms per call) | {BULK_CLIENTS} | {} | {} | {} | {} of (e) |",
        fmt_rate(http_bulk.rate),
        fmt_ms(http_bulk.p50_ms),
        fmt_ms(http_bulk.p99_ms),
        fmt_ratio(http_bulk.rate, Some(&raw_bulk))
    ));
    for (_, lag) in &lags {
        for (leg, m) in [("visible in read model", &lag.visible), ("received by NATS subscriber", &lag.received)] {
            line(format!(
                "| (b) lag commit → {leg} | paced {:.0}/s | {} | {} | {} | — |",
                lag.offered_rate,
                fmt_rate(m.rate),
                fmt_ms(m.p50_ms),
                fmt_ms(m.p99_ms)
            ));
        }
    }
    for (n, st) in feed.iter_mut() {
        let m = st.measured();
        line(format!(
            "| (g) HTTP GET /api/posts, 10 per page, a member's feed over {} posts of mixed audiences (pages/s) | {n} | {} | {} | {} | — |",
            s.feed_posts,
            fmt_rate(m.rate),
            fmt_ms(m.p50_ms),
            fmt_ms(m.p99_ms)
        ));
    }
    line(format!(
        "| (h) message fan-out, POST /api/{{id}}/messages → SSE receipt at each of {FANOUT_PARTICIPANTS} participants (messages/s) | 1 | {} | {} | {} | — |",
        fmt_rate(fanout.measured.rate),
        fmt_ms(fanout.measured.p50_ms),
        fmt_ms(fanout.measured.p99_ms)
    ));
    line(String::new());

    // Targets (issue 16's table): each rate as a share of its raw Postgres counterpart.
    let top = max_clients;
    for (what, got, raw_rate, target) in [
        (format!("HTTP create-user at {top} clients ÷ raw one-row INSERT"), http_measured.get(&top), raw.get(&top), HTTP_TARGET_PCT),
        (format!("store append at {top} clients ÷ raw one-row INSERT"), store_measured.get(&top), raw.get(&top), STORE_TARGET_PCT),
        (format!("bulk create users/s ÷ raw {BULK_ROWS}-row INSERT rows/s"), Some(&http_bulk), Some(&raw_bulk), BULK_TARGET_PCT),
    ] {
        match (got, raw_rate) {
            (Some(g), Some(r)) if r.rate > 0.0 => {
                let pct = 100.0 * g.rate / r.rate;
                line(format!(
                    "- Target: {what} ≥ {target:.0}%: {:.0} / {:.0} = {pct:.1}% — **{}**",
                    g.rate,
                    r.rate,
                    if pct >= target { "met" } else { "not met" }
                ));
            }
            _ => line(format!("- Target: {what}: not measured")),
        }
    }
    for (load, lag) in &lags {
        let worst_p99 = lag.visible.p99_ms.max(lag.received.p99_ms);
        let lag_ok = worst_p99.is_finite() && worst_p99 < 100.0 && lag.not_visible == 0 && lag.not_received == 0;
        line(format!(
            "- Target: end-to-end p99 < 100 ms at {load} ({:.0}/s): read model {} ms, NATS {} ms — **{}**",
            lag.offered_rate,
            fmt_ms(lag.visible.p99_ms),
            fmt_ms(lag.received.p99_ms),
            if lag_ok { "met" } else { "not met" }
        ));
    }

    let fan_ok = fanout.measured.p99_ms.is_finite() && fanout.measured.p99_ms < 50.0 && fanout.missing == 0;
    line(format!(
        "- Target: message fan-out p99 < 50 ms at {FANOUT_PARTICIPANTS} participants: {} ms over {} messages, {} receipts missing — **{}**",
        fmt_ms(fanout.measured.p99_ms),
        fanout.messages,
        fanout.missing,
        if fan_ok { "met" } else { "not met" }
    ));

    // Anything that went wrong, precisely.
    line(String::new());
    let mut notes = Vec::new();
    let bulk_steps: BTreeMap<usize, Step> = [(BULK_CLIENTS, std::mem::take(&mut bulk_step))].into_iter().collect();
    for (label, steps) in
        [("(a) HTTP", &http), ("(c) store", &store_steps), ("(f) HTTP bulk-create", &bulk_steps), ("(g) HTTP feed", &feed)]
    {
        for (n, st) in steps.iter() {
            if st.errors > 0 || st.pending > 0 {
                let kinds: Vec<String> = st.error_kinds.iter().map(|(k, (c, d))| format!("{c}× {k}: {d}")).collect();
                notes.push(format!(
                    "{label} at {n} clients: {} ok, {} errors, {} answered `Roster-Consistency: pending`{}{}",
                    st.ok,
                    st.errors,
                    st.pending,
                    if kinds.is_empty() { "" } else { "; " },
                    kinds.join("; ")
                ));
            }
        }
    }
    for (load, lag) in &lags {
        if !lag.write_errors.is_empty() || lag.not_visible > 0 || lag.not_received > 0 {
            notes.push(format!(
                "(b) at {load}: {} writes; errors {:?}; {} never visible and {} never received within {} s",
                lag.writes,
                lag.write_errors,
                lag.not_visible,
                lag.not_received,
                CATCH_UP.as_secs()
            ));
        }
    }
    if notes.is_empty() {
        line("No errors: every request answered 2xx, with the read model already consistent.".into());
    } else {
        for n in notes {
            line(format!("- Problem: {n}"));
        }
    }
    line(format!(
        "Notes: (c) counts commands ({events_per_command:.2} events each) on a database with no relay or projector; \
         (e)/(f) one client, {BULK_ROWS} rows per transaction / call ((f) appends 2 events per user: UserCreated and \
         UserOnboardingNoticeRecorded; (e) 1 row per user); \
         (b) writes through the store on the live Roster, open loop, t0 = the append's return after COMMIT; \
         latencies are per successful operation (pgbench: per transaction, from its -l log)."
    ));
    print!("{out}");
    if !statement_tables.is_empty() {
        println!("\n## Postgres time per operation, by statement (pg_stat_statements, top {})\n", s.statements);
        for (label, table) in &statement_tables {
            println!("### {label}\n\n{table}");
        }
    }

    // Orderly stop: Roster first (it holds connections), then the servers.
    stop(running, &[&admin_pool, &store_pool], nats, &mut pg).await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Roster's own warnings and errors (relay, projector, HTTP 5xx) reach stderr during the run.
    tracing_subscriber::fmt()
        // sqlx's slow-statement warnings would flag the bench's own CHECKPOINTs: errors only.
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,sqlx::query=error".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();

    if settings.statements > 0 {
        // Read by devstack when it starts the cluster; set before any thread exists.
        let extra = std::env::var("ROSTER_PG_SETTINGS").unwrap_or_default();
        let all =
            if extra.trim().is_empty() { statements::PG_SETTINGS.to_string() } else { format!("{extra},{}", statements::PG_SETTINGS) };
        std::env::set_var("ROSTER_PG_SETTINGS", all);
    }
    // Under the temp dir: Postgres runs as `postgres` when we are root and must reach its data dir.
    let dir: PathBuf = std::env::temp_dir().join(format!("roster-bench-{}", std::process::id()));
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // On Ctrl-C the run future is dropped, which drops the cluster and nats-server (their Drop
    // stops them; their watchdogs cover a harder death).
    let result = rt.block_on(async {
        tokio::select! {
            r = run(&settings, &dir) => r,
            () = interrupted() => Err("interrupted".into()),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
