//! The event store: load a stream, append to several streams in one transaction together with
//! unique claims, credential rows and the idempotency record; and the command loop that retries a
//! version conflict once.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::event::Metadata;
use domain::security_group::SecurityGroupKind;
use domain::{DomainEvent, OrgId, TokenId, UserId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::{mpsc, oneshot, Semaphore};
use uuid::Uuid;

use crate::error::unique_violation;
use crate::snapshots::{self, Snapshot, Snapshots};
use crate::{CommandError, Position, StoreError};

/// Who asks, through what, and when. Every command carries one.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub org_id: Option<OrgId>,
    pub actor: Option<UserId>,
    pub token_id: Option<TokenId>,
    pub request_id: Option<String>,
    /// `Idempotency-Key` (or Sunbird `params.msgid`): a retry with it appends nothing new.
    pub idempotency_key: Option<String>,
    /// What the request asked for; a reused key with another fingerprint is refused.
    pub fingerprint: String,
    pub dialect: &'static str,
    pub client_addr: Option<String>,
    pub now: DateTime<Utc>,
    /// A conditional write (SCIM `If-Match`): the command applies only while the stream is at one
    /// of these versions. Checked against the version the append itself expects, so a write that
    /// lands between the check and the append is caught by the append's version constraint.
    pub precondition: Option<Precondition>,
}

/// The stream versions a conditional write accepts (an `If-Match` list; `*` is no precondition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precondition {
    pub stream_id: Uuid,
    pub versions: Vec<i32>,
}

impl CommandContext {
    /// A context for work the system does on its own behalf (bootstrap, CLI).
    pub fn system(dialect: &'static str, now: DateTime<Utc>) -> Self {
        CommandContext {
            org_id: None,
            actor: None,
            token_id: None,
            request_id: None,
            idempotency_key: None,
            fingerprint: String::new(),
            dialect,
            client_addr: None,
            now,
            precondition: None,
        }
    }

    fn metadata(&self) -> Value {
        serde_json::to_value(Metadata {
            actor_user_id: self.actor.map(|a| a.0),
            token_id: self.token_id.map(|t| t.0),
            request_id: self.request_id.clone(),
            correlation_id: self.request_id.clone(),
            causation_id: None,
            dialect: Some(self.dialect.to_string()),
            client_addr: self.client_addr.clone(),
        })
        .unwrap_or(Value::Null)
    }

    /// Idempotency records are scoped to the caller, so two clients' keys never collide.
    fn idempotency_scope(&self) -> Uuid {
        self.actor.map(|a| a.0).or(self.org_id.map(|o| o.0)).unwrap_or(Uuid::nil())
    }
}

/// New events for one stream, appended after `expected_version`.
#[derive(Debug, Clone)]
pub struct PendingStream {
    pub stream_type: &'static str,
    pub stream_id: Uuid,
    pub org_id: Option<Uuid>,
    pub expected_version: i32,
    pub schema_rev: i16,
    pub events: Vec<(&'static str, Value)>,
}

impl PendingStream {
    pub fn new<E: DomainEvent>(stream_id: Uuid, org_id: Option<Uuid>, expected_version: i32, events: &[E]) -> Result<Self, StoreError> {
        let events: Vec<(&'static str, serde_json::Value)> = events.iter().map(|e| e.to_parts()).collect::<Result<_, _>>()?;
        for (_, payload) in &events {
            if let Some(field) = nul_path(payload) {
                return Err(StoreError::Unstorable { field });
            }
        }
        Ok(PendingStream { stream_type: E::STREAM_TYPE, stream_id, org_id, expected_version, schema_rev: E::SCHEMA_REV, events })
    }
}

/// The path of the first string (or object key) holding U+0000, which `jsonb` refuses.
///
/// Every event of every command passes through here and almost none holds a NUL, so the search
/// builds no path on the way down (a string per key made it a visible part of a bulk create's
/// CPU); only the path to a NUL found is spelled out.
fn nul_path(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    enum Step<'a> {
        Key(&'a str),
        Index(usize),
    }
    /// Whether `v` holds a NUL; if so, `steps` is the path to the string holding it, or to the
    /// object with such a key.
    fn find<'a>(v: &'a Value, steps: &mut Vec<Step<'a>>) -> bool {
        let within = |step: Step<'a>, x: &'a Value, steps: &mut Vec<Step<'a>>| {
            steps.push(step);
            let found = find(x, steps);
            if !found {
                steps.pop();
            }
            found
        };
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, x)| within(Step::Index(i), x, steps)),
            Value::Object(map) => map.iter().any(|(k, x)| k.contains('\0') || within(Step::Key(k), x, steps)),
            _ => false,
        }
    }
    let mut steps = Vec::new();
    if !find(v, &mut steps) {
        return None;
    }
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Key(k) if path.is_empty() => path.push_str(k),
            Step::Key(k) => {
                path.push('.');
                path.push_str(k);
            }
            Step::Index(i) => {
                let _ = std::fmt::Write::write_fmt(&mut path, format_args!("[{i}]"));
            }
        }
    }
    Some(if path.is_empty() { "body".to_string() } else { path })
}

/// A unique value, held by `owner` within `scope` (an org, or nil for system-wide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub scope: Uuid,
    pub kind: &'static str,
    pub value: String,
    pub owner: Uuid,
}

/// Command-side credential rows written in the same transaction as their events.
#[derive(Debug, Clone)]
pub enum CredentialWrite {
    IssueToken { token_hash: Vec<u8>, token_id: TokenId, user_id: UserId, expires_at: Option<DateTime<Utc>> },
    RevokeToken { token_id: TokenId },
    SetPassword { user_id: UserId, password_hash: String },
}

/// Everything one command writes, decided before the transaction opens. `R` is what the command
/// answers (ids it created...), one type per command (`crate::results`); it is stored as JSON
/// with the idempotency record, so a retry gets the same result back.
#[derive(Debug, Clone)]
pub struct Plan<R = ()> {
    pub streams: Vec<PendingStream>,
    pub claims: Vec<Claim>,
    pub releases: Vec<Claim>,
    pub credentials: Vec<CredentialWrite>,
    pub result: R,
}

impl Default for Plan {
    fn default() -> Self {
        Plan::new(())
    }
}

impl<R> Plan<R> {
    /// A plan that writes nothing yet and answers `result`.
    pub fn new(result: R) -> Self {
        Plan { streams: Vec::new(), claims: Vec::new(), releases: Vec::new(), credentials: Vec::new(), result }
    }

    pub fn is_empty(&self) -> bool {
        self.streams.iter().all(|s| s.events.is_empty())
    }

    /// Whether its append may share a `roster_append` call with other commands' (`Appender`):
    /// not when it releases claims (migration 0041 says why) or writes credential rows, which
    /// need a transaction around the call.
    fn shares_append(&self) -> bool {
        self.releases.is_empty() && self.credentials.is_empty()
    }
}

/// The response the API gave the first time a key was used.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A command that committed (or had committed before, under the same idempotency key).
#[derive(Debug, Clone)]
pub struct Committed<R = ()> {
    /// The log position of its last event; `None` when it changed nothing.
    pub position: Option<Position>,
    pub result: R,
    /// Set when this is a retry of a finished request: answer exactly this.
    pub replayed: Option<StoredResponse>,
    pub is_replay: bool,
}

/// How many `number`s one round trip to the sequence reserves for a process (see `next_number`).
pub const NUMBER_BLOCK: usize = 64;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    /// Numbers taken from the sequence and not handed out yet, in sequence order.
    numbers: Arc<tokio::sync::Mutex<VecDeque<i64>>>,
    relay_wake: RelayWake,
    appender: Appender,
    /// Security groups seen, with their organization and kind, which never change
    /// (`handlers::membership`). A few per organization.
    security_groups: Arc<std::sync::Mutex<HashMap<Uuid, (OrgId, SecurityGroupKind)>>>,
    /// Folded states of long streams (`crate::snapshots`).
    snapshots: Snapshots,
}

/// One event of a stream, as `Store::load` folds it.
struct StreamRow {
    version: i32,
    gid: i64,
    event_type: String,
    schema_rev: i16,
    payload: Value,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Store {
            relay_wake: RelayWake::start(pool.clone()),
            appender: Appender::start(pool.clone()),
            pool,
            numbers: Arc::default(),
            security_groups: Arc::default(),
            snapshots: Snapshots::default(),
        }
    }

    /// The organization and kind of security group `id`, if this store has seen it.
    pub(crate) fn security_group_facts(&self, id: Uuid) -> Option<(OrgId, SecurityGroupKind)> {
        self.security_groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&id).copied()
    }

    pub(crate) fn remember_security_group(&self, id: Uuid, facts: (OrgId, SecurityGroupKind)) {
        self.security_groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(id, facts);
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many events the snapshots this store keeps have folded, all together (`snapshots`).
    pub fn kept_snapshot_events(&self) -> i64 {
        self.snapshots.events()
    }

    /// Folds a stream into its aggregate state; returns the state and the stream's version. A long
    /// stream is folded on from its kept snapshot (`snapshots`): only the events after it are read.
    pub async fn load<A>(&self, stream_id: Uuid) -> Result<(A::State, i32), StoreError>
    where
        A: esrs::Aggregate,
        A::Event: DomainEvent,
        A::State: Clone + Send + Sync + 'static,
    {
        let stream_type = <A::Event as DomainEvent>::STREAM_TYPE;
        let kept = self.snapshots.get(stream_type, stream_id).and_then(|s| Some((s.version, s.gid, s.state::<A::State>()?)));
        if let Some((version, gid, state)) = kept {
            let rows = self.events_from(stream_id, stream_type, version).await?;
            // The snapshot's last event must still be the first row; otherwise the log is not the
            // one it was folded from, and the stream is read whole.
            if rows.first().is_some_and(|r| r.version == version && r.gid == gid) {
                return self.fold::<A>(stream_id, state, version, gid, &rows[1..]);
            }
            self.snapshots.forget(stream_type, stream_id);
        }
        let rows = self.events_from(stream_id, stream_type, 1).await?;
        self.fold::<A>(stream_id, A::State::default(), 0, 0, &rows)
    }

    /// A stream's events from version `from` on, in order.
    async fn events_from(&self, stream_id: Uuid, stream_type: &str, from: i32) -> Result<Vec<StreamRow>, StoreError> {
        Ok(sqlx::query_as!(
            StreamRow,
            "SELECT version, gid, event_type, schema_rev, payload FROM events \
             WHERE stream_id = $1 AND stream_type = $2 AND version >= $3 ORDER BY version",
            stream_id,
            stream_type,
            from,
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Folds `rows` into `state` (at `version`, last event `gid`) and keeps the result when it
    /// moved on and the stream is long enough to be worth it.
    fn fold<A>(
        &self,
        stream_id: Uuid,
        mut state: A::State,
        mut version: i32,
        mut gid: i64,
        rows: &[StreamRow],
    ) -> Result<(A::State, i32), StoreError>
    where
        A: esrs::Aggregate,
        A::Event: DomainEvent,
        A::State: Clone + Send + Sync + 'static,
    {
        for row in rows {
            let event = <A::Event as DomainEvent>::from_parts_ref(&row.event_type, row.schema_rev, &row.payload)?;
            state = A::apply_event(state, event);
            (version, gid) = (row.version, row.gid);
        }
        if !rows.is_empty() && version >= snapshots::MIN_EVENTS {
            self.snapshots.put(<A::Event as DomainEvent>::STREAM_TYPE, stream_id, Snapshot::new(version, gid, state.clone()));
        }
        Ok((state, version))
    }

    /// The next `number` for a user or group (DESIGN §7). Numbers are reserved from the sequence
    /// `NUMBER_BLOCK` at a time and handed out from memory, so a create costs no round trip for
    /// its number. They stay unique (the sequence never repeats a value) and rise in the order one
    /// store hands them out (one fetch at a time, under the lock); what a process reserved and
    /// never handed out becomes a gap, which DESIGN §7 allows, and two processes' numbers
    /// interleave, so across processes a number tells identity, not creation order.
    pub async fn next_number(&self) -> Result<i64, StoreError> {
        let mut reserved = self.numbers.lock().await;
        if reserved.is_empty() {
            let mut block = self.next_numbers(NUMBER_BLOCK).await?;
            block.sort_unstable();
            reserved.extend(block);
        }
        Ok(reserved.pop_front().ok_or(sqlx::Error::RowNotFound)?)
    }

    /// `n` fresh numbers straight from the sequence, in one round trip (a bulk create's rows).
    pub async fn next_numbers(&self, n: usize) -> Result<Vec<i64>, StoreError> {
        // Callers ask for at most a bulk call's rows (`domain::values::MAX_BULK_ITEMS`).
        Ok(sqlx::query_scalar!(r#"SELECT nextval('entity_number_seq') AS "n!" FROM generate_series(1, $1::int)"#, n as i32)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Runs a command: answers a known idempotency key from its record; otherwise builds the plan
    /// (loading and deciding), appends it, and on a version conflict rebuilds and retries once.
    #[tracing::instrument(name = "store.execute", skip_all, fields(dialect = ctx.dialect, org = ?ctx.org_id, request_id = ctx.request_id.as_deref()))]
    pub async fn execute<R, F, Fut>(&self, ctx: &CommandContext, mut build: F) -> Result<Committed<R>, CommandError>
    where
        R: Serialize + DeserializeOwned,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Plan<R>, CommandError>>,
    {
        if let Some(done) = self.find_idempotent(ctx).await? {
            return Ok(done);
        }
        for attempt in 0..2 {
            let plan = build().await?;
            if let Some(pre) = &ctx.precondition {
                self.check_precondition(pre, &plan).await?;
            }
            let started = std::time::Instant::now();
            let appended = self.append(ctx, &plan).await;
            telemetry::observe(&telemetry::metrics().append_duration, started.elapsed());
            if matches!(appended, Err(StoreError::VersionConflict)) {
                telemetry::metrics().append_conflicts.inc();
            }
            match appended {
                Ok(position) => {
                    return Ok(Committed { position, result: plan.result, replayed: None, is_replay: false });
                }
                Err(StoreError::VersionConflict) if attempt == 0 => {
                    tracing::debug!("version conflict, retrying once");
                }
                Err(StoreError::VersionConflict) => return Err(CommandError::Conflict),
                Err(StoreError::IdempotencyRace) => {
                    return self.find_idempotent(ctx).await?.ok_or(CommandError::Conflict);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CommandError::Conflict)
    }

    /// The version a conditional write is decided against: the one its plan appends after, or,
    /// when the plan leaves the stream alone (nothing to change), the stream's current version.
    /// After a version conflict the retry rebuilds the plan from the newer state and fails here.
    async fn check_precondition<R>(&self, pre: &Precondition, plan: &Plan<R>) -> Result<(), CommandError> {
        let version = match plan.streams.iter().find(|s| s.stream_id == pre.stream_id) {
            Some(stream) => stream.expected_version,
            None => self.stream_version(pre.stream_id).await?,
        };
        if pre.versions.contains(&version) {
            Ok(())
        } else {
            Err(CommandError::PreconditionFailed { current: version })
        }
    }

    /// The version of a stream's last event (0 for a stream with none).
    pub async fn stream_version(&self, stream_id: Uuid) -> Result<i32, StoreError> {
        Ok(sqlx::query_scalar!(r#"SELECT COALESCE(max(version), 0) AS "v!" FROM events WHERE stream_id = $1"#, stream_id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn find_idempotent<R: DeserializeOwned>(&self, ctx: &CommandContext) -> Result<Option<Committed<R>>, CommandError> {
        let Some(key) = &ctx.idempotency_key else { return Ok(None) };
        let rec = sqlx::query!(
            "SELECT fingerprint, position_tx, position_gid, result, response_status, response_headers, response_body \
             FROM idempotency WHERE scope = $1 AND key = $2",
            ctx.idempotency_scope(),
            key,
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(rec) = rec else { return Ok(None) };
        if rec.fingerprint != ctx.fingerprint {
            return Err(CommandError::IdempotencyMismatch);
        }
        let replayed = match (rec.response_status, rec.response_body) {
            (Some(status), Some(body)) => Some(StoredResponse {
                status: status as u16,
                headers: rec.response_headers.and_then(|h| serde_json::from_value(h).ok()).unwrap_or_default(),
                body,
            }),
            _ => None,
        };
        let position = rec.position_tx.zip(rec.position_gid).map(|(tx, gid)| Position::new(tx, gid));
        let result = serde_json::from_value(rec.result).map_err(|e| StoreError::StoredResult(e.to_string()))?;
        Ok(Some(Committed { position, result, replayed, is_replay: true }))
    }

    /// Records the answer given to an idempotent request, so a retry gets the very same bytes.
    pub async fn save_response(&self, ctx: &CommandContext, response: &StoredResponse) -> Result<(), StoreError> {
        let Some(key) = &ctx.idempotency_key else { return Ok(()) };
        sqlx::query!(
            "UPDATE idempotency SET response_status = $3, response_headers = $4, response_body = $5 \
             WHERE scope = $1 AND key = $2 AND response_status IS NULL",
            ctx.idempotency_scope(),
            key,
            response.status as i32,
            serde_json::to_value(&response.headers).unwrap_or(Value::Null),
            &response.body,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Appends a plan atomically and returns the position of its last event. The events, claims
    /// and idempotency record go in one call of `roster_append` (migrations 0025, 0041): one round
    /// trip, atomic as one statement, shared with the appends of other commands that arrive at the
    /// same time (`Appender`). Credential rows, which few commands write, join it in a
    /// transaction of its own.
    pub async fn append<R: Serialize>(&self, ctx: &CommandContext, plan: &Plan<R>) -> Result<Option<Position>, StoreError> {
        let call = AppendCall::new(ctx, plan)?;
        let position = if plan.shares_append() {
            self.appender.append(&self.pool, call).await?
        } else if plan.credentials.is_empty() {
            call.run_alone(&self.pool).await?
        } else {
            let mut tx = self.pool.begin().await?;
            let position = call.run_alone(&mut *tx).await?;
            write_credentials(&mut tx, ctx, plan).await?;
            tx.commit().await?;
            position
        };
        if position.is_some() {
            self.relay_wake.commit();
        }
        Ok(position)
    }

    /// Appends several commands' plans, each atomically, with the answers appending them one by
    /// one in this order would give: in one `roster_append` call when none of them writes
    /// credentials or releases a claim (see `Appender`), else one after another. What `append`
    /// does with the commands that arrive together, for a caller that holds them at once.
    pub async fn append_all<R: Serialize>(&self, commands: &[(&CommandContext, &Plan<R>)]) -> Vec<Result<Option<Position>, StoreError>> {
        let shared = commands.iter().all(|(_, plan)| plan.shares_append());
        let calls = shared.then(|| commands.iter().map(|(ctx, plan)| AppendCall::new(ctx, plan)).collect::<Result<Vec<_>, _>>());
        let together = match calls {
            Some(Ok(calls)) => append_group(&self.pool, calls).await,
            // A command that goes alone, or one its own checks refuse: each answers for itself.
            _ => {
                let mut answers = Vec::with_capacity(commands.len());
                for (ctx, plan) in commands {
                    answers.push(self.append(ctx, plan).await);
                }
                return answers;
            }
        };
        if together.iter().any(|a| matches!(a, Ok(Some(_)))) {
            self.relay_wake.commit();
        }
        together
    }
}

/// Wakes the relay after appends: a NOTIFY on `roster_events`, sent by a task of its own after
/// the commit, never inside it (a NOTIFY in a transaction takes a database-wide lock held through
/// the commit's fsync, which makes every append wait for the one before) and never on the
/// request's path. Wakes coalesce: commits that land while a NOTIFY is being sent are covered by
/// the next one, which is sent after them, so each commit is followed by at least one NOTIFY.
/// Only a hint either way: the relay also polls.
#[derive(Clone)]
struct RelayWake {
    /// Holds at most one pending wake; `None` outside a Tokio runtime (the relay then polls).
    pending: Option<tokio::sync::mpsc::Sender<()>>,
}

impl RelayWake {
    fn start(pool: PgPool) -> Self {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return RelayWake { pending: None } };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        // Ends when the last clone of its store is dropped.
        runtime.spawn(async move {
            while rx.recv().await.is_some() {
                if let Err(e) = sqlx::query!("SELECT pg_notify('roster_events', '')").execute(&pool).await {
                    tracing::warn!(error = %e, "could not notify the relay; it will poll");
                }
            }
        });
        RelayWake { pending: Some(tx) }
    }

    fn commit(&self) {
        // Full: a wake is pending already and will be sent after this commit.
        if let Some(tx) = &self.pending {
            let _ = tx.try_send(());
        }
    }
}

/// At most this many commands share one `roster_append` call...
pub const GROUP_COMMANDS: usize = 64;
/// ...and at most this many events, unless one command alone has more (a bulk create), which
/// then goes alone. Bounds the statement a group makes.
pub const GROUP_EVENTS: usize = 2_048;
/// `roster_append` calls one store runs at once through its `Appender`. Measured on 2 cores
/// (`scripts/bench`, the store at 32 clients): 1 call at a time appended 3,458–4,137 commands/s,
/// 2 at a time 3,975–4,760, 4 3,400–3,582, 8 2,899–3,204 (two runs each, or four). More calls at
/// once make smaller groups, and did worse.
pub const APPENDS_IN_FLIGHT: usize = 2;

/// Group commit: the appends of concurrent commands, sent as one `roster_append` call.
///
/// Why: most of a single command's append is paid per call, not per event. One command's call
/// took about 0.66 ms of Postgres time for two events and two claims; a bulk create's, about
/// 0.02 ms per event and per claim (the function call, each statement's executor start-up and a
/// commit are paid once). Under load, the commands waiting for an append share those.
///
/// How: at most `APPENDS_IN_FLIGHT` calls run at once. An append that finds a call free goes at
/// once, alone, so a lone command waits for nobody. Otherwise it queues, and a task
/// (`take_groups`) sends everything queued, up to `GROUP_COMMANDS` (and `GROUP_EVENTS`), in the
/// next call that frees up: under load the queue fills while the calls run.
///
/// Why each command's answer is the one it would get alone (`append_group`): a call is one
/// statement, so a group that breaks any constraint stores nothing, and its commands are then
/// appended one by one in queue order, each with its own answer. Grouping changes how many
/// commands share a transaction, never whether one commits. A group that meets no constraint is
/// equal to its commands one by one in any order: their streams' versions and their claims are
/// pairwise distinct (else a constraint would fail), and no grouped command releases a claim
/// another could want (`Plan::shares_append`; migration 0041 says why). A grouped call that
/// fails without a word from Postgres (a lost connection) may have committed: appended again
/// alone, each command then meets its own event ids (`events_event_id_key`), so nothing is
/// appended twice, and the command answers as a retry of itself does (`Store::execute`).
#[derive(Clone)]
struct Appender {
    /// `None` outside a Tokio runtime: every append then goes alone.
    queue: Option<mpsc::Sender<Queued>>,
    /// The calls not running (`APPENDS_IN_FLIGHT` in all).
    free: Arc<Semaphore>,
}

struct Queued {
    call: AppendCall,
    answer: oneshot::Sender<Result<Option<Position>, StoreError>>,
}

impl Appender {
    fn start(pool: PgPool) -> Self {
        let free = Arc::new(Semaphore::new(APPENDS_IN_FLIGHT));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return Appender { queue: None, free } };
        // Holds what waits for a free call; each sender waits for its answer, so the queue never
        // holds more than the commands in flight.
        let (tx, rx) = mpsc::channel(GROUP_COMMANDS * APPENDS_IN_FLIGHT);
        // Ends when the last clone of its store is dropped.
        runtime.spawn(take_groups(pool, rx, free.clone()));
        Appender { queue: Some(tx), free }
    }

    async fn append(&self, pool: &PgPool, call: AppendCall) -> Result<Option<Position>, StoreError> {
        let Some(queue) = &self.queue else { return call.run_alone(pool).await };
        // A call is free and nobody waits for one (the semaphore is fair: a free call goes to
        // `take_groups` first when it waits): append now, from this task, alone. A lone command
        // pays no hand-over to the task (handed over, the store alone at 1 client appended about a
        // fifth fewer commands a second: `scripts/bench`).
        if let Ok(_call) = self.free.try_acquire() {
            telemetry::metrics().append_group_commands.observe(1.0);
            return call.run_alone(pool).await;
        }
        let (answer, answered) = oneshot::channel();
        match queue.send(Queued { call, answer }).await {
            // Dropped unanswered only when the task's runtime shut down mid-call.
            Ok(()) => answered.await.unwrap_or(Err(StoreError::Db(sqlx::Error::WorkerCrashed))),
            // The task is gone with the runtime that started it (a store outliving it).
            Err(mpsc::error::SendError(queued)) => queued.call.run_alone(pool).await,
        }
    }
}

/// Takes the queue's commands in groups, one group per free call. It holds a free call while
/// the queue is empty, so the first command queued goes at once.
async fn take_groups(pool: PgPool, mut queue: mpsc::Receiver<Queued>, free: Arc<Semaphore>) {
    // Taken from the queue but left for the next group, which it would have made too large.
    let mut left: Option<Queued> = None;
    loop {
        let Ok(slot) = free.clone().acquire_owned().await else { return };
        let first = match left.take() {
            Some(q) => q,
            None => match queue.recv().await {
                Some(q) => q,
                None => return,
            },
        };
        let mut events = first.call.events();
        let mut group = vec![first];
        while group.len() < GROUP_COMMANDS {
            let Ok(q) = queue.try_recv() else { break };
            if events + q.call.events() > GROUP_EVENTS {
                left = Some(q);
                break;
            }
            events += q.call.events();
            group.push(q);
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            let (calls, answers): (Vec<_>, Vec<_>) = group.into_iter().map(|q| (q.call, q.answer)).unzip();
            for (answer, result) in answers.into_iter().zip(append_group(&pool, calls).await) {
                // The command's caller may have gone (a dropped request); its append stands.
                let _ = answer.send(result);
            }
            drop(slot);
        });
    }
}

/// Appends `calls` in one `roster_append` call, or, if that fails, one by one in order (see
/// `Appender` for why the answers are those of one by one either way).
async fn append_group(pool: &PgPool, mut calls: Vec<AppendCall>) -> Vec<Result<Option<Position>, StoreError>> {
    telemetry::metrics().append_group_commands.observe(calls.len() as f64);
    if calls.len() == 1 {
        let call = calls.pop().expect("one call");
        return vec![call.run_alone(pool).await];
    }
    let mut together = calls[0].clone();
    for call in &calls[1..] {
        together.extend(call);
    }
    match together.run(pool).await {
        Ok(row) => row.last_gids.iter().map(|gid| Ok(row.last_tx.zip(*gid).map(|(tx, gid)| Position::new(tx, gid)))).collect(),
        Err(e) => {
            tracing::debug!(error = %e, commands = calls.len(), "a grouped append failed; appending its commands one by one");
            let mut answers = Vec::with_capacity(calls.len());
            for call in calls {
                answers.push(call.run_alone(pool).await);
            }
            answers
        }
    }
}

/// The arguments of a `roster_append` call, column by column: one command's, or several
/// commands' one after another (`extend`).
#[derive(Clone)]
struct AppendCall {
    /// The command (1-based, as the function indexes `metas`) of each event.
    event_commands: Vec<i32>,
    event_ids: Vec<Uuid>,
    org_ids: Vec<Option<Uuid>>,
    stream_types: Vec<&'static str>,
    stream_ids: Vec<Uuid>,
    versions: Vec<i32>,
    event_types: Vec<&'static str>,
    revs: Vec<i16>,
    payloads: Vec<Value>,
    /// Per command.
    metas: Vec<Value>,
    recorded: Vec<DateTime<Utc>>,
    releases: ClaimColumns,
    claims: ClaimColumns,
    idempotency: IdempotencyColumns,
}

#[derive(Clone, Default)]
struct ClaimColumns {
    scopes: Vec<Uuid>,
    kinds: Vec<&'static str>,
    values: Vec<String>,
    owners: Vec<Uuid>,
}

impl ClaimColumns {
    fn of(claims: &[Claim]) -> Self {
        ClaimColumns {
            scopes: claims.iter().map(|c| c.scope).collect(),
            kinds: claims.iter().map(|c| c.kind).collect(),
            values: claims.iter().map(|c| c.value.clone()).collect(),
            owners: claims.iter().map(|c| c.owner).collect(),
        }
    }

    fn extend(&mut self, other: &ClaimColumns) {
        self.scopes.extend_from_slice(&other.scopes);
        self.kinds.extend_from_slice(&other.kinds);
        self.values.extend_from_slice(&other.values);
        self.owners.extend_from_slice(&other.owners);
    }
}

/// The idempotency records, one per command that has a key.
#[derive(Clone, Default)]
struct IdempotencyColumns {
    commands: Vec<i32>,
    scopes: Vec<Uuid>,
    keys: Vec<String>,
    fingerprints: Vec<String>,
    results: Vec<Value>,
}

/// What `roster_append` returns: the transaction, and each command's last event.
struct Appended {
    last_tx: Option<i64>,
    last_gids: Vec<Option<i64>>,
}

impl AppendCall {
    fn new<R: Serialize>(ctx: &CommandContext, plan: &Plan<R>) -> Result<Self, StoreError> {
        // A value claimed twice within one command (two rows of a bulk create) is taken too.
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = plan.claims.iter().find(|c| !seen.insert((c.scope, c.kind, c.value.as_str()))) {
            return Err(StoreError::ClaimTaken { kind: twice.kind.to_string() });
        }
        let mut idempotency = IdempotencyColumns::default();
        if let Some(key) = &ctx.idempotency_key {
            idempotency.commands.push(1);
            idempotency.scopes.push(ctx.idempotency_scope());
            idempotency.keys.push(key.clone());
            idempotency.fingerprints.push(ctx.fingerprint.clone());
            idempotency.results.push(serde_json::to_value(&plan.result).map_err(|e| StoreError::StoredResult(e.to_string()))?);
        }
        let n: usize = plan.streams.iter().map(|s| s.events.len()).sum();
        let mut call = AppendCall {
            event_commands: vec![1; n],
            event_ids: Vec::with_capacity(n),
            org_ids: Vec::with_capacity(n),
            stream_types: Vec::with_capacity(n),
            stream_ids: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            event_types: Vec::with_capacity(n),
            revs: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            metas: vec![ctx.metadata()],
            recorded: vec![ctx.now],
            releases: ClaimColumns::of(&plan.releases),
            claims: ClaimColumns::of(&plan.claims),
            idempotency,
        };
        for stream in &plan.streams {
            for (i, (event_type, payload)) in stream.events.iter().enumerate() {
                call.event_ids.push(event_id(ctx, call.event_ids.len()));
                call.org_ids.push(stream.org_id);
                call.stream_types.push(stream.stream_type);
                call.stream_ids.push(stream.stream_id);
                call.versions.push(stream.expected_version + 1 + i as i32);
                call.event_types.push(event_type);
                call.revs.push(stream.schema_rev);
                call.payloads.push(payload.clone());
            }
        }
        Ok(call)
    }

    fn events(&self) -> usize {
        self.event_ids.len()
    }

    /// Adds `other`'s command after this call's.
    fn extend(&mut self, other: &AppendCall) {
        let offset = self.metas.len() as i32;
        self.event_commands.extend(other.event_commands.iter().map(|c| c + offset));
        self.event_ids.extend_from_slice(&other.event_ids);
        self.org_ids.extend_from_slice(&other.org_ids);
        self.stream_types.extend_from_slice(&other.stream_types);
        self.stream_ids.extend_from_slice(&other.stream_ids);
        self.versions.extend_from_slice(&other.versions);
        self.event_types.extend_from_slice(&other.event_types);
        self.revs.extend_from_slice(&other.revs);
        self.payloads.extend_from_slice(&other.payloads);
        self.metas.extend_from_slice(&other.metas);
        self.recorded.extend_from_slice(&other.recorded);
        self.releases.extend(&other.releases);
        self.claims.extend(&other.claims);
        let i = &mut self.idempotency;
        i.commands.extend(other.idempotency.commands.iter().map(|c| c + offset));
        i.scopes.extend_from_slice(&other.idempotency.scopes);
        i.keys.extend_from_slice(&other.idempotency.keys);
        i.fingerprints.extend_from_slice(&other.idempotency.fingerprints);
        i.results.extend_from_slice(&other.idempotency.results);
    }

    /// This one command's append, its failures named by their constraint.
    async fn run_alone(self, db: impl sqlx::PgExecutor<'_>) -> Result<Option<Position>, StoreError> {
        let row = self.run(db).await.map_err(|e| match unique_violation(&e) {
            Some("events_stream_version_key") => StoreError::VersionConflict,
            // The same key's events or record are there already: a retry racing its first attempt
            // (event ids derive from the key).
            Some("events_event_id_key" | "idempotency_pkey") => StoreError::IdempotencyRace,
            Some("unique_claims_pkey") => StoreError::ClaimTaken { kind: taken_kind(&e).unwrap_or("value").to_string() },
            _ => e.into(),
        })?;
        Ok(row.last_tx.zip(row.last_gids.first().copied().flatten()).map(|(tx, gid)| Position::new(tx, gid)))
    }

    async fn run(&self, db: impl sqlx::PgExecutor<'_>) -> Result<Appended, sqlx::Error> {
        let row = sqlx::query!(
            r#"SELECT last_tx, last_gids AS "last_gids!: Vec<Option<i64>>" FROM roster_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"#,
            &self.event_commands,
            &self.event_ids,
            &self.org_ids as &[Option<Uuid>],
            &self.stream_types as &[&str],
            &self.stream_ids,
            &self.versions,
            &self.event_types as &[&str],
            &self.revs,
            &self.payloads,
            &self.metas,
            &self.recorded,
            &self.releases.scopes,
            &self.releases.kinds as &[&str],
            &self.releases.values,
            &self.releases.owners,
            &self.claims.scopes,
            &self.claims.kinds as &[&str],
            &self.claims.values,
            &self.claims.owners,
            &self.idempotency.commands,
            &self.idempotency.scopes,
            &self.idempotency.keys,
            &self.idempotency.fingerprints,
            &self.idempotency.results,
        )
        .fetch_one(db)
        .await?;
        Ok(Appended { last_tx: row.last_tx, last_gids: row.last_gids })
    }
}

/// The kind of the claim `roster_append` found taken: it says so in the error's DETAIL.
fn taken_kind(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?.detail(),
        _ => None,
    }
}

/// Event ids derive from the idempotency key when there is one, so a retry could never append a
/// second copy even if its record were lost; otherwise they are fresh time-ordered ids.
fn event_id(ctx: &CommandContext, index: usize) -> Uuid {
    match &ctx.idempotency_key {
        Some(key) => {
            let name = format!("{}/{}/{}", ctx.idempotency_scope(), key, index);
            Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
        }
        None => Uuid::now_v7(),
    }
}

async fn write_credentials<R>(tx: &mut Transaction<'_, Postgres>, ctx: &CommandContext, plan: &Plan<R>) -> Result<(), StoreError> {
    for c in &plan.credentials {
        match c {
            CredentialWrite::IssueToken { token_hash, token_id, user_id, expires_at } => {
                sqlx::query!(
                    "INSERT INTO access_tokens (token_hash, token_id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
                    token_hash,
                    token_id.0,
                    user_id.0,
                    *expires_at,
                    ctx.now,
                )
                .execute(&mut **tx)
                .await?;
            }
            CredentialWrite::RevokeToken { token_id } => {
                sqlx::query!("UPDATE access_tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL", token_id.0, ctx.now)
                    .execute(&mut **tx)
                    .await?;
            }
            CredentialWrite::SetPassword { user_id, password_hash } => {
                sqlx::query!(
                    "INSERT INTO credentials (user_id, password_hash, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = EXCLUDED.updated_at",
                    user_id.0,
                    password_hash,
                    ctx.now,
                )
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::nul_path;

    #[test]
    fn a_nul_anywhere_in_a_payload_is_found_and_named() {
        assert_eq!(nul_path(&json!({"name": "ok", "n": 1, "list": ["a", "b"]})), None);
        assert_eq!(nul_path(&json!({"name": "a\u{0}b"})).as_deref(), Some("name"));
        assert_eq!(nul_path(&json!({"members": [{"role": "x"}, {"role": "\u{0}"}]})).as_deref(), Some("members[1].role"));
        assert_eq!(nul_path(&json!({"values": {"k\u{0}": 1}})).as_deref(), Some("values"));
        assert_eq!(nul_path(&json!({"k\u{0}": 1})).as_deref(), Some("body"));
        assert_eq!(nul_path(&json!("\u{0}")).as_deref(), Some("body"));
        assert_eq!(nul_path(&json!([["a"], ["b", "\u{0}"]])).as_deref(), Some("[1][1]"));
        assert_eq!(nul_path(&json!({"a": [{"b": {"c": "x"}}], "d": {"e": ["y", "z\u{0}"]}})).as_deref(), Some("d.e[1]"));
    }
}
