//! `scripts/bench --scale`: the reads of every dialect, the rebuild and the memory at a million
//! users.
//!
//! Loads `--scale-users` users (default 1,000,000) into one org through WorkDrive bulk create
//! (`BULK_ROWS` per call, spread over departments and locations) and `--scale-groups` groups
//! (default 100,000) appended through the store in batches (the events a create appends: a
//! hundred thousand HTTP creates would make the load the run) and `SCALE_POSTS` posts for the
//! feed (a member whose team is a whole department, and one in none), waits for the read models,
//! vacuums, then measures each read one request at a time; writes `FRESH_USERS` users and
//! `FRESH_GROUPS` groups more and measures the searches again (their trigram indexes then hold
//! the new rows in pending lists, as between two vacuums of a live server); then runs
//! `roster rebuild all`, and reports the process's peak RSS (Roster in-process with the load
//! generator: an upper bound for the server alone).
//! Roster runs without its notifier here; its sealer keeps sealing the loaded log in the
//! background while the reads are measured, as it would on a live server.

use std::sync::Arc;
use std::time::Duration;

use commands::store::{PendingStream, Plan};
use commands::{Position, Store};
use domain::group::{GroupEvent, GroupStatus, MembershipType};
use domain::{GroupId, OrgId, UserId};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::time::Instant;

use super::{bench_context, fmt_ms, fmt_rate, percentile_ms, BoxError, Settings, BULK_ROWS};

/// Departments and locations the users are spread over (a department filter matches 1 in 20).
const DEPARTMENTS: usize = 20;
const LOCATIONS: usize = 10;
/// Unmeasured requests before each read: more than the five after which Postgres may switch a
/// prepared statement to its generic plan, so the measured plan is the one a live server keeps.
const WARMUP_READS: usize = 8;
/// Groups per store append while loading.
const GROUP_BATCH: usize = 1000;
/// How long the read models may go without progress while they catch up with the load.
const CATCH_UP_STALL: Duration = Duration::from_secs(120);
/// The target of every read at this scale (issue #16).
const READ_TARGET_MS: f64 = 10.0;
const FIRST_NAMES: [&str; 8] = ["Ada", "Carla", "Dmitri", "Eve", "Bob", "Lin", "Mo", "Zoe"];
const TEAMS: [&str; 5] = ["Sales", "Ops", "Dev", "Support", "Legal"];
/// Posts for the feed reads, with the audiences of step (g), and how many users wrote them: each
/// author gave some of theirs a team audience, which is what a team member's reads weigh.
const SCALE_POSTS: usize = 10_000;
const SCALE_AUTHORS: usize = 1_000;
/// Users and groups written after the reads, before the searches are measured again without a
/// vacuum in between: about what a few minutes of a busy directory write. At the default million
/// users that is far below the share of a table (10–20%) that brings autovacuum; at 200,000 it
/// reaches the 10% at which an autovacuum ANALYZE comes, which empties the pending lists too.
const FRESH_USERS: usize = 20_000;
const FRESH_GROUPS: usize = 5_000;

/// A spread of hex digits per index, for names no two users share.
fn tag(i: usize) -> String {
    format!("{:08x}", ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32)
}

/// One request of a read, ready to send.
type Read = Box<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>;

/// What a read must find, checked on its first request before it is timed: a lookup that found
/// nothing would time a different query than an identity provider's.
enum Finds {
    Any,
    /// Exactly one resource (SCIM `totalResults`).
    One,
}

impl Finds {
    async fn check(&self, label: &str, read: &Read) -> Result<(), BoxError> {
        if let Finds::One = self {
            let v: Value = read(0).send().await?.json().await?;
            if v["totalResults"] != 1 {
                return Err(format!("{label}: the first request found {} resources, not one: {v}", v["totalResults"]).into());
            }
        }
        Ok(())
    }
}

struct ReadResult {
    label: String,
    p50_ms: f64,
    p99_ms: f64,
    errors: Vec<String>,
    /// The requests behind the p99, slowest first, each sent once more after the measurement:
    /// slow again means the query (its term, its page); fast again means the moment (another
    /// process, a checkpoint, autovacuum), which the Postgres log under the run's directory can
    /// then name by the time.
    slowest: Vec<Slow>,
}

struct Slow {
    request: usize,
    ms: f64,
    at: chrono::DateTime<chrono::Utc>,
    again_ms: Option<f64>,
}

/// How many of a read's slowest requests `measure` sends again: with 200 measured, the two that
/// decide its p99.
const SLOWEST_RETRIED: usize = 2;

pub(super) async fn run(
    s: &Settings,
    client: &reqwest::Client,
    url: &Arc<str>,
    token: &str,
    pool: &PgPool,
    org: OrgId,
) -> Result<String, BoxError> {
    let started = Instant::now();
    let (departments, locations) = units(client, url, token).await?;
    load_users(client, url, token, &departments, &locations, 0..s.scale_users).await?;
    load_groups(pool, org, 0..s.scale_groups).await?;
    wait_for_read_models(pool).await?;
    // After the catch-up: the readers' creates wait for the read models (read-your-writes).
    let readers = feed_readers(client, url, token, pool, org, &departments).await?;
    sqlx::query(
        "VACUUM (ANALYZE) rm_directory.users, rm_directory.groups, rm_directory.org_user_counts, events, \
         rm_content.posts, rm_content.post_grants, rm_content.post_audience_counts, rm_content.post_audience_sigs, \
         rm_content.audience, rm_content.team_authors",
    )
    .execute(pool)
    .await?;
    let load_secs = started.elapsed().as_secs_f64();

    let reads = reads(s, client, url, token, pool, org, &departments, readers).await?;
    let seal_lag_before = seal_lag(pool).await?;
    let mut results = Vec::new();
    for (label, _, finds, read) in &reads {
        finds.check(label, read).await?;
        eprintln!("bench: scale: {label}, {} requests", s.scale_reads);
        results.push(measure(label, read, s.scale_reads).await);
    }
    let seal_lag_after = seal_lag(pool).await?;
    // The searches again, between two vacuums, where a live server mostly is: the rows written
    // since the last vacuum wait in each GIN index's pending list (up to its
    // `gin_pending_list_limit`), and every search through the index reads the whole list.
    load_users(client, url, token, &departments, &locations, s.scale_users..s.scale_users + FRESH_USERS).await?;
    load_groups(pool, org, s.scale_groups..s.scale_groups + FRESH_GROUPS).await?;
    wait_for_read_models(pool).await?;
    for (label, _, _, read) in reads.iter().filter(|(_, trigram, ..)| *trigram) {
        let label = format!("{label}, after {FRESH_USERS} more users and {FRESH_GROUPS} more groups, no vacuum since");
        eprintln!("bench: scale: {label}, {} requests", s.scale_reads);
        results.push(measure(&label, read, s.scale_reads).await);
    }

    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    eprintln!("bench: scale: roster rebuild all over {events} events");
    let mix: Vec<(String, i64)> =
        sqlx::query_as("SELECT stream_type || '/' || event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC LIMIT 6")
            .fetch_all(pool)
            .await?;
    eprintln!("bench: scale: the log's commonest events: {mix:?}");
    let rebuild_started = Instant::now();
    let mut replayed = 0u64;
    for report in workers::rebuild::rebuild_all(pool, projections::ALL, true).await? {
        eprintln!("bench: scale: rebuilt {report}");
        replayed += report.events;
    }
    let rebuild_secs = rebuild_started.elapsed().as_secs_f64();
    // The log's events per second of the whole `rebuild all`, however many projections read
    // each of them.
    let rebuild_rate = events as f64 / rebuild_secs.max(1e-9);
    let peak_rss_mib = peak_rss_kib().map(|k| k as f64 / 1024.0);

    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!(
        "Scale: {} users in one org ({DEPARTMENTS} departments, {LOCATIONS} locations), {} groups, {events} events; loaded in {load_secs:.0} s. \
         Reads one at a time, {} measured after {WARMUP_READS} unmeasured.",
        s.scale_users, s.scale_groups, s.scale_reads
    ));
    line(String::new());
    line(format!("| read at scale | p50 ms | p99 ms | target p99 < {READ_TARGET_MS:.0} ms |"));
    line("|---|---:|---:|---|".into());
    for r in &results {
        let met = r.errors.is_empty() && r.p99_ms < READ_TARGET_MS;
        line(format!("| {} | {} | {} | {} |", r.label, fmt_ms(r.p50_ms), fmt_ms(r.p99_ms), if met { "met" } else { "**not met**" }));
    }
    line(format!(
        "| `roster rebuild all` (the log's events/s, target ≥ 50,000) | {events} events ({replayed} applied by a projection) in {rebuild_secs:.1} s | {} /s | {} |",
        fmt_rate(rebuild_rate),
        if rebuild_rate >= 50_000.0 { "met" } else { "**not met**" }
    ));
    match peak_rss_mib {
        Some(m) => line(format!(
            "| peak RSS of the bench process (Roster in-process + load generator; target < 512 MiB) | | {m:.0} MiB | {} |",
            if m < 512.0 { "met" } else { "**not met**" }
        )),
        None => line("| peak RSS | | not available (no /proc/self/status) | |".into()),
    }
    line(format!(
        "- The sealer, which runs beside the reads on the same cores, was {seal_lag_before} events behind the log when the first read \
         began and {seal_lag_after} when the last before the fresh rows ended."
    ));
    for r in results.iter().filter(|r| !r.errors.is_empty()) {
        line(format!("- Problem: {}: {} failed requests, e.g. {}", r.label, r.errors.len(), r.errors[0]));
    }
    for r in results.iter().filter(|r| r.p99_ms >= READ_TARGET_MS) {
        let slowest: Vec<String> = r
            .slowest
            .iter()
            .map(|s| {
                let again = s.again_ms.map_or_else(|| "failed".to_string(), fmt_ms);
                format!("request {} took {} ms at {} UTC, {again} ms when sent again", s.request, fmt_ms(s.ms), s.at.format("%H:%M:%S%.3f"))
            })
            .collect();
        line(format!("- {}: {}.", r.label, slowest.join("; ")));
    }
    Ok(out)
}

/// The org's departments, each headed by a user of its own (a department needs a head, and a
/// user heads one department at most), and its locations.
async fn units(client: &reqwest::Client, url: &str, token: &str) -> Result<(Vec<String>, Vec<String>), BoxError> {
    let mut departments = Vec::new();
    for i in 0..DEPARTMENTS {
        let head = json!({"email": format!("head{i}@example.com"), "firstName": "Head", "lastName": format!("Of{i}")});
        let head = created_id(client.post(format!("{url}/api/users/add")).header("X-API-KEY", token).json(&head)).await?;
        let body = json!({"name": format!("Department {i}"), "members": [{"id": head, "isAdmin": true}]});
        departments.push(created_id(client.post(format!("{url}/api/departments")).header("X-API-KEY", token).json(&body)).await?);
    }
    let mut locations = Vec::new();
    for i in 0..LOCATIONS {
        let body = json!({"name": format!("Location {i}")});
        locations.push(created_id(client.post(format!("{url}/api/locations")).header("X-API-KEY", token).json(&body)).await?);
    }
    Ok((departments, locations))
}

/// The feed's readers at scale, and `SCALE_POSTS` posts for them by `SCALE_AUTHORS` authors: one
/// reader in department 0, whose head every member of it reports to, so their team is the whole
/// department (the first author is there too, and about one in `DEPARTMENTS` of the others); one in
/// no department, whose team is themselves. Returns their tokens.
async fn feed_readers(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    pool: &PgPool,
    org: OrgId,
    departments: &[String],
) -> Result<(Arc<str>, Arc<str>), BoxError> {
    let in_department = json!({ "department": departments[0] });
    let (author, _) = super::http_member_with(client, url, token, in_department.clone()).await?;
    let (reader, in_team) = super::http_member_with(client, url, token, in_department).await?;
    let (_, alone) = super::http_member(client, url, token).await?;
    // The others from the loaded users, an arbitrary but repeatable pick across the departments.
    let others: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM rm_directory.users WHERE org_id = $1 AND NOT deleted ORDER BY md5(id::text) LIMIT $2")
            .bind(org.0)
            .bind(SCALE_AUTHORS as i64 - 1)
            .fetch_all(pool)
            .await?;
    let authors: Vec<UserId> = std::iter::once(author).chain(others.into_iter().map(UserId)).collect();
    eprintln!("bench: scale: seeding {SCALE_POSTS} posts by {} authors", authors.len());
    super::seed_posts(&Store::new(pool.clone()), pool, org, &authors, reader, SCALE_POSTS).await?;
    Ok((in_team, alone))
}

async fn created_id(req: reqwest::RequestBuilder) -> Result<String, BoxError> {
    let resp = req.send().await?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    match v["id"].as_str() {
        Some(id) if status.is_success() => Ok(id.to_string()),
        _ => Err(format!("create: HTTP {status}: {v}").into()),
    }
}

/// The users numbered `users`, through WorkDrive bulk create, with a progress line every 20 calls.
async fn load_users(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    departments: &[String],
    locations: &[String],
    users: std::ops::Range<usize>,
) -> Result<(), BoxError> {
    let started = Instant::now();
    let mut done = users.start;
    while done < users.end {
        let rows: Vec<Value> = (done..(done + BULK_ROWS).min(users.end))
            .map(|i| {
                json!({
                    "email": format!("user{i}@example{}.com", i % 97),
                    "firstName": format!("{}{}", FIRST_NAMES[i % FIRST_NAMES.len()], i % 100),
                    "lastName": format!("Garcia{}", tag(i)),
                    "department": departments[i % departments.len()],
                    "location": locations[i % locations.len()],
                    // As an identity provider that provisions users keeps its own ids.
                    "externalUserId": format!("ext-{i}"),
                })
            })
            .collect();
        let n = rows.len();
        let resp =
            client.post(format!("{url}/api/users/bulk-create")).header("X-API-KEY", token).json(&json!({"data": rows})).send().await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("bulk create at user {done}: HTTP {status}: {}", resp.text().await.unwrap_or_default()).into());
        }
        let _ = resp.bytes().await;
        done += n;
        if (done / BULK_ROWS).is_multiple_of(20) || done == users.end {
            let rate = (done - users.start) as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let eta = (users.end - done) as f64 / rate.max(1e-9);
            eprintln!("bench: scale: {done}/{} users, {rate:.0} users/s, ETA {eta:.0} s", users.end);
        }
    }
    Ok(())
}

/// The groups numbered `groups`, as the events a create appends, `GROUP_BATCH` per transaction.
async fn load_groups(pool: &PgPool, org: OrgId, groups: std::ops::Range<usize>) -> Result<(), BoxError> {
    let store = Store::new(pool.clone());
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT nextval('entity_number_seq') FROM generate_series(1, $1)")
        .bind(groups.len() as i64)
        .fetch_all(pool)
        .await?;
    for (batch, chunk) in numbers.chunks(GROUP_BATCH).enumerate() {
        let mut plan = Plan::new(());
        for (j, number) in chunk.iter().enumerate() {
            let i = groups.start + batch * GROUP_BATCH + j;
            let id = uuid::Uuid::now_v7();
            let created = GroupEvent::GroupCreated {
                id: GroupId(id),
                org_id: org,
                number: *number,
                name: format!("Group {} {i}", TEAMS[i % TEAMS.len()]),
                description: Some(format!("about team {}", tag(i))),
                outbound_caller_ids: vec![],
                created_by: None,
                status: GroupStatus::default(),
                membership_type: MembershipType::default(),
                parent: None,
                short_name: None,
                tracking: None,
                activities: vec![],
                external_id: Some(format!("ext-g{i}")),
            };
            plan.streams.push(PendingStream::new(id, Some(org.0), 0, &[created])?);
        }
        store.append(&bench_context(org), &plan).await?;
    }
    eprintln!("bench: scale: groups {}..{} appended", groups.start, groups.end);
    Ok(())
}

async fn wait_for_read_models(pool: &PgPool) -> Result<(), BoxError> {
    let mut last = None;
    let mut progressed = Instant::now();
    loop {
        if roster_tests::projections_caught_up(pool).await {
            return Ok(());
        }
        let at = projections::checkpoint::slowest(pool).await.ok();
        if at != last {
            (last, progressed) = (at, Instant::now());
        } else if progressed.elapsed() > CATCH_UP_STALL {
            return Err(format!("the read models stopped at {at:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The reads of the table, each varying its term or page per request so no two in a row
/// are the same query, and the WorkDrive feed of the two `feed_readers`; each with whether a
/// trigram index answers it.
#[allow(clippy::too_many_arguments)]
async fn reads(
    s: &Settings,
    client: &reqwest::Client,
    url: &Arc<str>,
    token: &str,
    pool: &PgPool,
    org: OrgId,
    departments: &[String],
    (in_team, alone): (Arc<str>, Arc<str>),
) -> Result<Vec<(String, bool, Finds, Read)>, BoxError> {
    let member = |member_token: Arc<str>| {
        let (client, url) = (client.clone(), url.clone());
        move |i: usize| client.get(format!("{url}/api/posts?per_page=10&cur_page={}", 1 + i % 5)).header("X-API-KEY", &*member_token)
    };
    let wd = {
        let (client, url, token) = (client.clone(), url.clone(), token.to_string());
        move |path: String| client.get(format!("{url}{path}")).header("X-API-KEY", token.as_str())
    };
    let bearer = {
        let (client, url, token) = (client.clone(), url.clone(), token.to_string());
        move |path: String| client.get(format!("{url}{path}")).bearer_auth(token.as_str())
    };
    // SCIM, as an identity provider asks before it writes a user or group: one filter (request
    // `i`'s), a page of 20.
    let scim = {
        let (client, url, token) = (client.clone(), url.clone(), token.to_string());
        move |resource: &'static str, filter: Box<dyn Fn(usize) -> String + Send + Sync>| -> Read {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            Box::new(move |i| {
                let filter = filter(i);
                client.get(format!("{url}/scim/v2/{resource}")).query(&[("filter", filter.as_str()), ("count", "20")]).bearer_auth(&token)
            })
        }
    };
    // A user and a group spread over all of them, request by request.
    let (users, groups) = (s.scale_users.max(1), s.scale_groups.max(1));
    let user_at = move |i: usize| (i * 7919) % users;
    let group_at = move |i: usize| (i * 7919) % groups;
    let nexport = {
        let (client, url, token) = (client.clone(), url.clone(), token.to_string());
        move |body: Value| client.post(format!("{url}/api/v1/AdminApi/GetUsers?access_token={token}")).json(&body)
    };
    // Groups by id, as Entra ID checks a membership (`id eq "…" and members[value eq "…"]`).
    let group_ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM rm_directory.groups WHERE org_id = $1 ORDER BY id LIMIT 200")
        .bind(org.0)
        .fetch_all(pool)
        .await?;
    let last_page = (s.scale_users / 20).max(1);
    let depts = departments.to_vec();
    // Cursors spread over the org's log, from its middle to near its end.
    let positions: Vec<String> =
        sqlx::query_as::<_, (i64, i64)>("SELECT tx::text::bigint, gid FROM events WHERE org_id = $1 ORDER BY tx, gid OFFSET $2 LIMIT 1")
            .bind(org.0)
            .bind((s.scale_users / 2) as i64)
            .fetch_optional(pool)
            .await?
            .map(|(tx, gid)| vec![Position::new(tx, gid).to_string()])
            .unwrap_or_else(|| vec![Position::START.to_string()]);
    // SCIM cursors (RFC 9865) of 50 pages in the middle of the user list, as the server makes
    // them: where an identity provider's import by cursor is halfway.
    let middle: Vec<(chrono::DateTime<chrono::Utc>, uuid::Uuid)> = sqlx::query_as(
        "SELECT created_at, id FROM rm_directory.users WHERE org_id = $1 AND NOT deleted ORDER BY created_at, id OFFSET $2 LIMIT 1000",
    )
    .bind(org.0)
    .bind((s.scale_users / 2) as i64)
    .fetch_all(pool)
    .await?;
    let order = api::scim::cursor::order_tag(None, false);
    let cursors: Vec<String> = middle
        .iter()
        .step_by(20)
        .map(|&(created_at, id)| api::scim::cursor::encode(&order, &projections::scim::After { sort: None, created_at, id }))
        .collect();
    // A list too short for a middle (a tiny `--scale-users`): its first cursor page.
    let cursors = if cursors.is_empty() { vec![String::new()] } else { cursors };
    let reads: Vec<(String, bool, Finds, Read)> = vec![
        (
            "WorkDrive GET /api/users, first page of 20".into(),
            false,
            Finds::Any,
            Box::new({
                let wd = wd.clone();
                move |_| wd("/api/users?per_page=20".into())
            }),
        ),
        (
            "WorkDrive GET /api/users, a page near the end".into(),
            false,
            Finds::Any,
            Box::new({
                let wd = wd.clone();
                move |i| wd(format!("/api/users?per_page=20&cur_page={}", last_page - i % 50))
            }),
        ),
        (
            "WorkDrive GET /api/users?department=…, first page".into(),
            false,
            Finds::Any,
            Box::new({
                let wd = wd.clone();
                move |i| wd(format!("/api/users?per_page=20&department={}", depts[i % depts.len()]))
            }),
        ),
        (
            "PortSIP GET /api/groups?filter=startswith(name,…)".into(),
            false,
            Finds::Any,
            Box::new({
                let bearer = bearer.clone();
                move |i| bearer(format!("/api/groups?top=20&filter=startswith(name,'Group {} {}')", TEAMS[i % TEAMS.len()], 10 + i % 90))
            }),
        ),
        (
            "PortSIP GET /api/groups?orderby=name desc".into(),
            false,
            Finds::Any,
            Box::new({
                let bearer = bearer.clone();
                move |i| bearer(format!("/api/groups?top=20&skip={}&orderby=name desc", (i % 10) * 20))
            }),
        ),
        (
            "PortSIP GET /api/groups?search=…".into(),
            true,
            Finds::Any,
            Box::new({
                let bearer = bearer.clone();
                move |i| bearer(format!("/api/groups?top=20&search={}", tag(i * 7919).get(..4).unwrap_or("abcd")))
            }),
        ),
        (
            "Publisher GET /api/2/groups?search=…&sort=-name".into(),
            true,
            Finds::Any,
            Box::new({
                let bearer = bearer.clone();
                move |i| bearer(format!("/api/2/groups?limit=20&sort=-name&search={} {}", TEAMS[i % TEAMS.len()], 100 + i % 900))
            }),
        ),
        (
            "NexPort GetUsers, partial match".into(),
            true,
            Finds::Any,
            Box::new({
                let nexport = nexport.clone();
                move |i| {
                    nexport(
                        json!({"search_term": format!("{}{}", FIRST_NAMES[i % FIRST_NAMES.len()].to_lowercase(), 10 + i % 90), "per_page": 20, "page": 0}),
                    )
                }
            }),
        ),
        (
            format!(
                "WorkDrive GET /api/posts, pages 1–5 of 10, a member of a {}-user department (their team), {SCALE_AUTHORS} team authors",
                s.scale_users / DEPARTMENTS
            ),
            false,
            Finds::Any,
            Box::new(member(in_team)),
        ),
        ("WorkDrive GET /api/posts, pages 1–5 of 10, a member of no department".into(), false, Finds::Any, Box::new(member(alone))),
        (
            "SCIM GET /Users?filter=userName eq \"…\"".into(),
            false,
            Finds::One,
            scim("Users", Box::new(move |i| format!("userName eq \"user{0}@example{1}.com\"", user_at(i), user_at(i) % 97))),
        ),
        (
            "SCIM GET /Users?filter=externalId eq \"…\"".into(),
            false,
            Finds::One,
            scim("Users", Box::new(move |i| format!("externalId eq \"ext-{}\"", user_at(i)))),
        ),
        (
            "SCIM GET /Users?filter=emails.value eq \"…\"".into(),
            true,
            Finds::One,
            scim("Users", Box::new(move |i| format!("emails.value eq \"USER{0}@example{1}.com\"", user_at(i), user_at(i) % 97))),
        ),
        (
            "SCIM GET /Users?filter=name.familyName sw \"…\"".into(),
            true,
            Finds::Any,
            scim("Users", Box::new(move |i| format!("name.familyName sw \"garcia{}\"", tag(user_at(i)).get(..4).unwrap_or("abcd")))),
        ),
        (
            "SCIM GET /Users, first page of 20".into(),
            false,
            Finds::Any,
            Box::new({
                let bearer = bearer.clone();
                move |_| bearer("/scim/v2/Users?count=20".into())
            }),
        ),
        (
            // As an identity provider's full import ends: the last pages of the list.
            "SCIM GET /Users, a page near the end".into(),
            false,
            Finds::Any,
            Box::new({
                let bearer = bearer.clone();
                move |i| bearer(format!("/scim/v2/Users?count=20&startIndex={}", users.saturating_sub(20 * (i % 50)).max(1)))
            }),
        ),
        (
            "SCIM GET /Users?cursor=…, a page in the middle of the list".into(),
            false,
            Finds::Any,
            Box::new({
                let bearer = bearer.clone();
                move |i| bearer(format!("/scim/v2/Users?count=20&cursor={}", cursors[i % cursors.len()]))
            }),
        ),
        (
            "SCIM GET /Groups?filter=displayName eq \"…\"".into(),
            true,
            Finds::One,
            scim("Groups", Box::new(move |i| format!("displayName eq \"group {} {}\"", TEAMS[group_at(i) % TEAMS.len()], group_at(i)))),
        ),
        (
            "SCIM GET /Groups?filter=externalId eq \"…\"".into(),
            false,
            Finds::One,
            scim("Groups", Box::new(move |i| format!("externalId eq \"ext-g{}\"", group_at(i)))),
        ),
        (
            "SCIM GET /Groups?filter=id eq \"…\"&excludedAttributes=members".into(),
            false,
            Finds::One,
            Box::new({
                let by_id = scim(
                    "Groups",
                    Box::new(move |i| format!("id eq \"{}\"", group_ids.get(i % group_ids.len().max(1)).copied().unwrap_or_default())),
                );
                move |i| by_id(i).query(&[("excludedAttributes", "members")])
            }),
        ),
        (
            "GET /events, a deep cursor, 100 events".into(),
            false,
            Finds::Any,
            Box::new({
                let wd = wd.clone();
                move |i| wd(format!("/events?limit=100&after={}", positions[i % positions.len()]))
            }),
        ),
    ];
    Ok(reads)
}

/// Sends `n` requests of a read, one at a time, after `WARMUP_READS` unmeasured ones; then the
/// `SLOWEST_RETRIED` slowest of them once more.
async fn measure(label: &str, read: &Read, n: usize) -> ReadResult {
    let mut timed: Vec<(u64, usize, chrono::DateTime<chrono::Utc>)> = Vec::with_capacity(n);
    let mut errors = Vec::new();
    for i in 0..WARMUP_READS + n {
        let (at, t) = (chrono::Utc::now(), Instant::now());
        let outcome = send(read, i).await;
        if i < WARMUP_READS {
            continue;
        }
        match outcome {
            Ok(()) => timed.push((t.elapsed().as_micros() as u64, i, at)),
            Err(e) => errors.push(e),
        }
    }
    timed.sort_unstable_by_key(|&(us, ..)| std::cmp::Reverse(us));
    let mut slowest = Vec::new();
    for &(us, request, at) in timed.iter().take(SLOWEST_RETRIED) {
        let t = Instant::now();
        let again_ms = send(read, request).await.ok().map(|()| t.elapsed().as_secs_f64() * 1000.0);
        slowest.push(Slow { request, ms: us as f64 / 1000.0, at, again_ms });
    }
    // `timed` is slowest first; the percentiles want it fastest first.
    let lat_us: Vec<u64> = timed.iter().rev().map(|&(us, ..)| us).collect();
    ReadResult { label: label.to_string(), p50_ms: percentile_ms(&lat_us, 0.5), p99_ms: percentile_ms(&lat_us, 0.99), errors, slowest }
}

/// Request `i` of a read, its body read to the end.
async fn send(read: &Read, i: usize) -> Result<(), String> {
    match read(i).send().await {
        Ok(resp) if resp.status().is_success() => resp.bytes().await.map(|_| ()).map_err(|e| e.to_string()),
        Ok(resp) => Err(format!("HTTP {}: {}", resp.status(), resp.text().await.unwrap_or_default().chars().take(200).collect::<String>())),
        Err(e) => Err(e.to_string()),
    }
}

/// How many of the log's events the sealer has not sealed yet.
async fn seal_lag(pool: &PgPool) -> Result<i64, BoxError> {
    let sealed = workers::sealer::sealed_head(pool).await?;
    let horizon = eventlog::log::appenders_horizon(pool).await?;
    Ok(eventlog::log::lag_after(pool, sealed, horizon).await?.0)
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
