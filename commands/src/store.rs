//! The event store: load a stream, append to several streams in one transaction together with
//! unique claims, credential rows and the idempotency record; and the command loop that retries a
//! version conflict once.

use std::future::Future;

use chrono::{DateTime, Utc};
use domain::event::Metadata;
use domain::{DomainEvent, OrgId, TokenId, UserId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::unique_violation;
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
            if let Some(field) = nul_path(payload, String::new()) {
                return Err(StoreError::Unstorable { field });
            }
        }
        Ok(PendingStream { stream_type: E::STREAM_TYPE, stream_id, org_id, expected_version, schema_rev: E::SCHEMA_REV, events })
    }
}

/// The path of the first string (or object key) holding U+0000, which `jsonb` refuses.
fn nul_path(v: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let name = |p: &str| if p.is_empty() { "body".to_string() } else { p.to_string() };
    match v {
        Value::String(s) if s.contains('\0') => Some(name(&path)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| nul_path(x, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains('\0') {
                Some(name(&path))
            } else {
                nul_path(x, p)
            }
        }),
        _ => None,
    }
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

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Store { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Folds a stream into its aggregate state; returns the state and the stream's version.
    pub async fn load<A>(&self, stream_id: Uuid) -> Result<(A::State, i32), StoreError>
    where
        A: esrs::Aggregate,
        A::Event: DomainEvent,
    {
        let rows = sqlx::query!(
            "SELECT version, event_type, schema_rev, payload FROM events WHERE stream_id = $1 AND stream_type = $2 ORDER BY version",
            stream_id,
            <A::Event as DomainEvent>::STREAM_TYPE,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut state = A::State::default();
        let mut version = 0;
        for row in rows {
            let event = <A::Event as DomainEvent>::from_parts(&row.event_type, row.schema_rev, row.payload)?;
            state = A::apply_event(state, event);
            version = row.version;
        }
        Ok((state, version))
    }

    /// The next `number` for a user or group (DESIGN §7); gaps are harmless.
    pub async fn next_number(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(r#"SELECT nextval('entity_number_seq') AS "n!""#).fetch_one(&self.pool).await?)
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

    /// Appends a plan in one transaction. Returns the position of its last event.
    pub async fn append<R: Serialize>(&self, ctx: &CommandContext, plan: &Plan<R>) -> Result<Option<Position>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let position = append_events(&mut tx, ctx, plan).await?;
        write_claims(&mut tx, plan).await?;
        write_credentials(&mut tx, ctx, plan).await?;
        if let Some(key) = &ctx.idempotency_key {
            let inserted = sqlx::query!(
                "INSERT INTO idempotency (scope, key, fingerprint, position_tx, position_gid, result) VALUES ($1, $2, $3, $4, $5, $6)",
                ctx.idempotency_scope(),
                key,
                ctx.fingerprint,
                position.map(|p| p.tx),
                position.map(|p| p.gid),
                serde_json::to_value(&plan.result).map_err(|e| StoreError::StoredResult(e.to_string()))?,
            )
            .execute(&mut *tx)
            .await;
            if let Err(e) = inserted {
                return Err(match unique_violation(&e) {
                    Some("idempotency_pkey") => StoreError::IdempotencyRace,
                    _ => e.into(),
                });
            }
        }
        tx.commit().await?;
        if position.is_some() {
            // Wakes the relay. After the commit, not inside it: a NOTIFY in a transaction takes a
            // database-wide lock held through the commit's fsync, which makes every append wait
            // for the one before. Here it is only a hint; the relay also polls.
            if let Err(e) = sqlx::query!("SELECT pg_notify('roster_events', '')").execute(&self.pool).await {
                tracing::warn!(error = %e, "could not notify the relay; it will poll");
            }
        }
        Ok(position)
    }
}

async fn append_events<R>(
    tx: &mut Transaction<'_, Postgres>,
    ctx: &CommandContext,
    plan: &Plan<R>,
) -> Result<Option<Position>, StoreError> {
    let n: usize = plan.streams.iter().map(|s| s.events.len()).sum();
    if n == 0 {
        return Ok(None);
    }
    let mut event_ids = Vec::with_capacity(n);
    let mut org_ids = Vec::with_capacity(n);
    let mut stream_types = Vec::with_capacity(n);
    let mut stream_ids = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut event_types = Vec::with_capacity(n);
    let mut revs = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    for stream in &plan.streams {
        for (i, (event_type, payload)) in stream.events.iter().enumerate() {
            event_ids.push(event_id(ctx, event_ids.len()));
            org_ids.push(stream.org_id);
            stream_types.push(stream.stream_type);
            stream_ids.push(stream.stream_id);
            versions.push(stream.expected_version + 1 + i as i32);
            event_types.push(*event_type);
            revs.push(stream.schema_rev);
            payloads.push(payload.clone());
        }
    }
    let rows = sqlx::query!(
        r#"INSERT INTO events (event_id, org_id, stream_type, stream_id, version, event_type, schema_rev, payload, metadata, recorded_at)
           SELECT e, o, st, si, v, et, sr, p, $9, $10
           FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::int[], $6::text[], $7::int2[], $8::jsonb[])
                AS t(e, o, st, si, v, et, sr, p)
           RETURNING tx::text::bigint AS "tx!", gid"#,
        &event_ids,
        &org_ids as &[Option<Uuid>],
        &stream_types as &[&str],
        &stream_ids,
        &versions,
        &event_types as &[&str],
        &revs,
        &payloads,
        ctx.metadata(),
        ctx.now,
    )
    .fetch_all(&mut **tx)
    .await;
    let rows = rows.map_err(|e| match unique_violation(&e) {
        Some("events_stream_version_key") => StoreError::VersionConflict,
        // The same request id was appended before: a retry racing its first attempt.
        Some("events_event_id_key") => StoreError::IdempotencyRace,
        _ => e.into(),
    })?;
    Ok(rows.into_iter().map(|r| Position::new(r.tx, r.gid)).max())
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

async fn write_claims<R>(tx: &mut Transaction<'_, Postgres>, plan: &Plan<R>) -> Result<(), StoreError> {
    for r in &plan.releases {
        sqlx::query!(
            "DELETE FROM unique_claims WHERE scope = $1 AND kind = $2 AND value = $3 AND owner_id = $4",
            r.scope,
            r.kind,
            r.value,
            r.owner,
        )
        .execute(&mut **tx)
        .await?;
    }
    if plan.claims.is_empty() {
        return Ok(());
    }
    // A value claimed twice within one command (two rows of a bulk create) is taken too.
    let mut seen = std::collections::HashSet::new();
    for c in &plan.claims {
        if !seen.insert((c.scope, c.kind, c.value.as_str())) {
            return Err(StoreError::ClaimTaken { kind: c.kind.to_string() });
        }
    }
    let scopes: Vec<Uuid> = plan.claims.iter().map(|c| c.scope).collect();
    let kinds: Vec<&str> = plan.claims.iter().map(|c| c.kind).collect();
    let values: Vec<&str> = plan.claims.iter().map(|c| c.value.as_str()).collect();
    let owners: Vec<Uuid> = plan.claims.iter().map(|c| c.owner).collect();
    let inserted = sqlx::query!(
        "INSERT INTO unique_claims (scope, kind, value, owner_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[]) \
         ON CONFLICT DO NOTHING RETURNING scope, kind, value",
        &scopes,
        &kinds as &[&str],
        &values as &[&str],
        &owners,
    )
    .fetch_all(&mut **tx)
    .await?;
    if inserted.len() != plan.claims.len() {
        let got: std::collections::HashSet<(Uuid, &str, &str)> =
            inserted.iter().map(|r| (r.scope, r.kind.as_str(), r.value.as_str())).collect();
        let taken = plan.claims.iter().find(|c| !got.contains(&(c.scope, c.kind, c.value.as_str()))).map(|c| c.kind).unwrap_or("value");
        return Err(StoreError::ClaimTaken { kind: taken.to_string() });
    }
    Ok(())
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
        assert_eq!(nul_path(&json!({"name": "ok", "n": 1, "list": ["a", "b"]}), String::new()), None);
        assert_eq!(nul_path(&json!({"name": "a\u{0}b"}), String::new()).as_deref(), Some("name"));
        assert_eq!(nul_path(&json!({"members": [{"role": "x"}, {"role": "\u{0}"}]}), String::new()).as_deref(), Some("members[1].role"));
        assert_eq!(nul_path(&json!({"values": {"k\u{0}": 1}}), String::new()).as_deref(), Some("values"));
    }
}
