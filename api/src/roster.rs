//! Roster's own endpoints: health, readiness, the OpenAPI document, and `/events`, the caller's
//! organization's events in log order with the same envelope as on NATS.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use commands::{log, Envelope, Position};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::kernel::dialect::{self, Dialect, IntBounds};
use crate::kernel::error::ApiError;
use crate::AppState;

pub struct Roster;

impl Dialect for Roster {
    const NAME: &'static str = "roster";
    const TAG: &'static str = "Roster";
    const ERROR_SCHEMA: Option<&'static str> = Some("RosterError");
    const QUERY_INTS: &'static [IntBounds] = &[EVENTS_LIMIT];

    /// Bearer, or WorkDrive's header: a token is valid everywhere.
    fn token(parts: &axum::http::request::Parts) -> Option<&str> {
        crate::kernel::auth::bearer(parts).or_else(|| crate::kernel::auth::api_key(parts))
    }

    fn render(err: &ApiError) -> Response {
        let code = match err {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Invalid { .. } => "bad_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::Internal => "internal",
            ApiError::Unavailable => "unavailable",
        };
        err.decorate((err.status(), axum::Json(RosterError { error: code.into(), message: err.message() })).into_response())
    }
}

type Error = dialect::Error<Roster>;
type Caller = dialect::Caller<Roster>;
type Query<T> = dialect::Query<T, Roster>;

pub const DEFAULT_EVENTS_LIMIT: i64 = 100;
pub const MAX_EVENTS_LIMIT: i64 = 1000;
const EVENTS_LIMIT: IntBounds = IntBounds { name: "limit", min: 1, max: MAX_EVENTS_LIMIT };

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .route("/asyncapi.json", get(asyncapi))
        .route("/metrics", get(metrics))
        .route("/events", get(events))
        .route("/streams/{stream_type}/{stream_id}/events", get(stream_events))
        .route("/streams/{stream_type}/{stream_id}", get(stream_state))
        .route("/streams/{stream_type}/{stream_id}/diff", get(stream_diff))
        .route("/streams/{stream_type}/{stream_id}/members/{user_id}", get(member_on))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterError {
    pub error: String,
    pub message: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "Roster", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionStatus {
    pub name: String,
    pub position: String,
    pub status: String,
    /// Events parked (and waiting for `roster projection replay-parked`); the projection goes on
    /// with every other stream, so they do not make the service unready.
    pub parked_events: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub projections: Vec<ProjectionStatus>,
}

/// Readiness: Postgres answers and every projection can make progress. Parked streams do not
/// count (DESIGN §4): a load balancer must not take every API instance out for one bad stream;
/// only a stopped projection (a message that is not an event at all) does.
#[utoipa::path(get, path = "/readyz", tag = "Roster",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(st): State<AppState>) -> Response {
    let read =
        async { Ok::<_, sqlx::Error>((projections::checkpoint::all(&st.pool).await?, projections::parked::counts(&st.pool).await?)) };
    match read.await {
        Ok((rows, parked)) => {
            let projections: Vec<ProjectionStatus> = rows
                .into_iter()
                .map(|(name, cp)| {
                    let parked_events = parked.get(&name).copied().unwrap_or(0);
                    ProjectionStatus { name, position: cp.position.to_string(), status: cp.status, parked_events }
                })
                .collect();
            let ready = projections.iter().all(|p| p.status == "running");
            let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            (status, axum::Json(Readiness { ready, projections })).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Readiness { ready: false, projections: vec![] })).into_response()
        }
    }
}

/// The OpenAPI 3.1 document of every route, generated from the handlers.
#[utoipa::path(get, path = "/openapi.json", tag = "Roster", responses((status = 200, description = "OpenAPI document")))]
pub async fn openapi() -> Response {
    axum::Json(crate::openapi::document()).into_response()
}

/// The AsyncAPI 3.1 document of the NATS stream: every subject and every event type with its
/// payload schema, generated from the domain's event types (docs/subscribers.md).
#[utoipa::path(get, path = "/asyncapi.json", tag = "Roster", responses((status = 200, description = "AsyncAPI 3.1 document")))]
pub async fn asyncapi(State(st): State<AppState>) -> Response {
    axum::Json(crate::asyncapi::document(&st.subject_prefix)).into_response()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EventsQuery {
    /// A position from a previous page's `next` (or a `Roster-Position`); absent = from the start.
    pub after: Option<String>,
    pub limit: Option<String>,
    pub stream_type: Option<String>,
    pub stream_id: Option<String>,
    pub event_type: Option<String>,
    /// Only events caused by this user.
    pub actor: Option<String>,
    /// Only events recorded at or after this RFC 3339 time.
    pub from: Option<String>,
    /// Only events recorded before this RFC 3339 time.
    pub to: Option<String>,
}

/// Absent is none; sent, it must be a UUID (empty is not one).
fn uuid_param(field: &str, raw: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    raw.map(|s| Uuid::parse_str(s).map_err(|_| ApiError::invalid(field, "must be a UUID"))).transpose()
}

/// Absent is none; sent, it must be an RFC 3339 time (empty is not one).
fn time_param(field: &str, raw: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    raw.map(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| ApiError::invalid(field, format!("must be an RFC 3339 time like 2026-01-31T12:00:00Z, got '{s}'")))
    })
    .transpose()
}

/// The NATS envelope of one event (DESIGN §4).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventEnvelope {
    pub event_id: Uuid,
    /// Opaque; compare only by handing it back.
    pub position: String,
    pub org_id: Option<Uuid>,
    pub stream_type: String,
    pub stream_id: Uuid,
    pub version: i32,
    pub event_type: String,
    pub schema_rev: i16,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    #[schema(value_type = Vec<EventEnvelope>)]
    pub events: Vec<Envelope>,
    /// Pass as `after` to continue; equals the request's `after` when nothing new arrived.
    pub next: Option<String>,
    /// True when the page is full and more events may follow at once.
    pub has_more: bool,
}

/// The caller's organization's events in log order, cursor-paged. Org admins only.
#[utoipa::path(get, path = "/events", tag = "Roster",
    params(("after" = Option<String>, Query), ("limit" = Option<i64>, Query), ("stream_type" = Option<String>, Query),
           ("stream_id" = Option<Uuid>, Query), ("event_type" = Option<String>, Query), ("actor" = Option<Uuid>, Query),
           ("from" = Option<String>, Query, description = "RFC 3339"), ("to" = Option<String>, Query, description = "RFC 3339")),
    responses((status = 200, body = EventPage), (status = 400, body = RosterError), (status = 401, body = RosterError), (status = 403, body = RosterError)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn events(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<EventsQuery>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let after = match q.after.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => s.parse::<Position>().map_err(|e| ApiError::invalid("after", e.to_string()))?,
        None => Position::START,
    };
    let limit = dialect::int_param(EVENTS_LIMIT, q.limit.as_deref(), DEFAULT_EVENTS_LIMIT)?;
    let filter = log::LogFilter {
        stream_type: q.stream_type.filter(|s| !s.is_empty()),
        stream_id: uuid_param("stream_id", q.stream_id.as_deref())?,
        event_type: q.event_type.filter(|s| !s.is_empty()),
        actor: uuid_param("actor", q.actor.as_deref())?,
        since: time_param("from", q.from.as_deref())?,
        until: time_param("to", q.to.as_deref())?,
    };
    // Below the appenders' horizon: every event of a write that has answered (migration 0030).
    let horizon = log::appenders_horizon(&st.pool).await?;
    let events: Vec<Envelope> =
        log::read_org_after(&st.pool, org.0, after, horizon, &filter, limit).await?.into_iter().map(Envelope::upcast).collect();
    let has_more = events.len() as i64 == limit;
    let next = Some(events.last().map(|e| e.position).unwrap_or(after).to_string());
    Ok(axum::Json(EventPage { events, next, has_more }).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StreamHistory {
    #[schema(value_type = Vec<EventEnvelope>)]
    pub events: Vec<Envelope>,
}

/// One entity's full history (every event of its stream, in version order), each event showing
/// who did it, through which dialect and request. Org admins only; another org's entity is 404.
#[utoipa::path(get, path = "/streams/{stream_type}/{stream_id}/events", tag = "Roster",
    params(("stream_type" = String, Path, description = "e.g. user, group, organization"), ("stream_id" = Uuid, Path)),
    responses((status = 200, body = StreamHistory), (status = 401, body = RosterError), (status = 403, body = RosterError), (status = 404, body = RosterError)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn stream_events(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    axum::extract::Path((stream_type, stream_id)): axum::extract::Path<(String, String)>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let events = history(&st, org.0, &stream_type, &stream_id).await?;
    Ok(axum::Json(StreamHistory { events }).into_response())
}

/// One gauge family of the Prometheus text exposition.
/// Seconds since `oldest` (the oldest event a reader has not handled), 0 when caught up.
fn behind(oldest: Option<chrono::DateTime<chrono::Utc>>) -> f64 {
    oldest.map(|t| (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0).unwrap_or(0.0)
}

/// Prometheus metrics (text format 0.0.4, names in `telemetry`): HTTP answers and their
/// durations by dialect and route; append latency and conflicts; relay publish and projection
/// apply latency, batch sizes; how far the sealer, every projection and the relay are behind the
/// log, in events and in seconds; parked events; the DB pool; the NATS connection.
/// Unauthenticated like `/healthz`: counts and ages only, no tenant data.
#[utoipa::path(get, path = "/metrics", tag = "Roster", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(st): State<AppState>) -> Result<Response, Error> {
    // What the process counted as it went is in the registry; what the database knows is
    // sampled now.
    let m = telemetry::metrics();
    // One horizon for every figure, read before them (it must come from an earlier statement).
    let horizon = log::appenders_horizon(&st.pool).await?;
    let sealed = workers::sealer::sealed_head(&st.pool).await?;
    let (n, oldest) = log::lag_after(&st.pool, sealed, horizon).await?;
    m.seal_lag_events.set(n as f64);
    m.seal_lag_seconds.set(behind(oldest));
    let parked = projections::parked::counts(&st.pool).await?;
    for p in projections::ALL {
        let cp = projections::checkpoint::read(&st.pool, p.name).await?;
        let (n, oldest) = log::lag_after(&st.pool, cp.position, horizon).await?;
        let labels = telemetry::ProjectionLabels { projection: p.name };
        m.projection_lag_events.get_or_create(&labels).set(n as f64);
        m.projection_lag_seconds.get_or_create(&labels).set(behind(oldest));
        m.projection_parked_events.get_or_create(&labels).set(parked.get(p.name).copied().unwrap_or(0) as f64);
    }
    // Only the streams this database's relay publishes to now (a stream it left shows no more).
    m.relay_lag_events.clear();
    m.relay_lag_seconds.clear();
    for (stream, cursor) in workers::relay::cursors(&st.pool).await? {
        let (n, oldest) = log::lag_after(&st.pool, cursor, horizon).await?;
        let labels = telemetry::StreamLabels { stream };
        m.relay_lag_events.get_or_create(&labels).set(n as f64);
        m.relay_lag_seconds.get_or_create(&labels).set(behind(oldest));
    }
    let (size, idle) = (st.pool.size() as f64, st.pool.num_idle() as f64);
    m.db_pool_connections.get_or_create(&telemetry::PoolLabels { state: "in_use" }).set(size - idle);
    m.db_pool_connections.get_or_create(&telemetry::PoolLabels { state: "idle" }).set(idle);
    m.nats_connected.set(if st.bus.reachable() { 1.0 } else { 0.0 });
    Ok(([(axum::http::header::CONTENT_TYPE, telemetry::CONTENT_TYPE)], m.encode()).into_response())
}

/// The stream id of a `/streams/{stream_type}/{stream_id}` path, or `None` when the path can name
/// no stream: an id that is no UUID, or a type holding U+0000 (which Postgres cannot compare, so
/// the lookup would fail as a 500 instead of finding nothing).
fn stream_key(stream_type: &str, stream_id: &str) -> Option<Uuid> {
    if stream_type.contains('\0') {
        return None;
    }
    Uuid::parse_str(stream_id).ok()
}

/// A stream's events in version order, payloads as the read path shows them; 404 when `org` has
/// no such stream.
async fn history(st: &AppState, org: Uuid, stream_type: &str, stream_id: &str) -> Result<Vec<Envelope>, ApiError> {
    let not_found = || ApiError::NotFound(format!("{} {stream_id} not found", stream_type.escape_debug()));
    let id = stream_key(stream_type, stream_id).ok_or_else(not_found)?;
    // Below the appenders' horizon: every event of a write that has answered (migration 0030).
    let horizon = log::appenders_horizon(&st.pool).await?;
    let events = log::read_stream(&st.pool, org, stream_type, id, horizon).await?;
    if events.is_empty() {
        return Err(not_found());
    }
    Ok(events.into_iter().map(Envelope::upcast).collect())
}

/// A stream's events for a fold.
async fn recorded(st: &AppState, org: Uuid, stream_type: &str, stream_id: &str) -> Result<Vec<domain::history::Recorded>, ApiError> {
    Ok(history(st, org, stream_type, stream_id)
        .await?
        .into_iter()
        .map(|e| domain::history::Recorded { event_type: e.event_type, recorded_at: e.recorded_at, payload: e.payload })
        .collect())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AsOfQuery {
    /// RFC 3339; absent = now.
    pub as_of: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityState {
    pub stream_type: String,
    pub stream_id: String,
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// How many of the stream's events the state folds.
    pub version: usize,
    /// The entity's fields then (see `domain::history`): creation fields, updates applied,
    /// `deleted`, a group's `members` (user id → role).
    #[schema(value_type = Object)]
    pub state: serde_json::Value,
}

/// Time travel: an entity's state at `as_of`, folded from its stream's events recorded at or
/// before that instant. Users and groups have their own fold; other streams the generic one.
/// Org admins only; an entity of another org, or not created yet at `as_of`, is 404.
#[utoipa::path(get, path = "/streams/{stream_type}/{stream_id}", tag = "Roster",
    params(("stream_type" = String, Path, description = "user, group, ..."), ("stream_id" = Uuid, Path),
           ("as_of" = Option<String>, Query, description = "RFC 3339; default now")),
    responses((status = 200, body = EntityState), (status = 400, body = RosterError), (status = 401, body = RosterError),
              (status = 403, body = RosterError), (status = 404, body = RosterError)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn stream_state(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    axum::extract::Path((stream_type, stream_id)): axum::extract::Path<(String, String)>,
    dialect::Query(q, _): Query<AsOfQuery>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let as_of = time_param("as_of", q.as_of.as_deref())?.unwrap_or_else(chrono::Utc::now);
    let events = recorded(&st, org.0, &stream_type, &stream_id).await?;
    let upto = domain::history::up_to(&events, as_of);
    let state = domain::history::fold(&stream_type, upto)
        .ok_or_else(|| ApiError::NotFound(format!("{stream_type} {stream_id} did not exist at {}", as_of.to_rfc3339())))?;
    Ok(axum::Json(EntityState { stream_type, stream_id, as_of, version: upto.len(), state }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DiffQuery {
    /// RFC 3339 (required).
    pub from: Option<String>,
    /// RFC 3339; absent = now.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChange {
    /// Dotted for nested fields (`members.<user id>`).
    pub field: String,
    /// `null`: absent or unset at `from`.
    #[schema(value_type = Object)]
    pub old: serde_json::Value,
    #[schema(value_type = Object)]
    pub new: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityDiff {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    pub changes: Vec<FieldChange>,
}

/// What changed in an entity between two instants: every field whose folded value differs
/// (old and new), sorted by field. An entity not created yet at `from` diffs from nothing.
#[utoipa::path(get, path = "/streams/{stream_type}/{stream_id}/diff", tag = "Roster",
    params(("stream_type" = String, Path), ("stream_id" = Uuid, Path),
           ("from" = String, Query, description = "RFC 3339"), ("to" = Option<String>, Query, description = "RFC 3339; default now")),
    responses((status = 200, body = EntityDiff), (status = 400, body = RosterError), (status = 401, body = RosterError),
              (status = 403, body = RosterError), (status = 404, body = RosterError)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn stream_diff(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    axum::extract::Path((stream_type, stream_id)): axum::extract::Path<(String, String)>,
    dialect::Query(q, _): Query<DiffQuery>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let from = time_param("from", q.from.as_deref())?.ok_or_else(|| ApiError::invalid("from", "is required (an RFC 3339 time)"))?;
    let to = time_param("to", q.to.as_deref())?.unwrap_or_else(chrono::Utc::now);
    if to < from {
        return Err(ApiError::invalid("to", "must not be before from").into());
    }
    let events = recorded(&st, org.0, &stream_type, &stream_id).await?;
    let old = domain::history::fold(&stream_type, domain::history::up_to(&events, from));
    let new = domain::history::fold(&stream_type, domain::history::up_to(&events, to));
    let changes = domain::history::diff(old.as_ref(), new.as_ref())
        .into_iter()
        .map(|c| FieldChange { field: c.field, old: c.old, new: c.new })
        .collect();
    Ok(axum::Json(EntityDiff { from, to, changes }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OnQuery {
    /// A date (`2026-01-31`, the whole UTC day) or an RFC 3339 instant.
    pub on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipStretch {
    pub from: chrono::DateTime<chrono::Utc>,
    /// Absent while still a member.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipOn {
    pub group_id: String,
    pub user_id: String,
    pub on: String,
    /// Whether the user was a member at any moment of `on` (a date) or at that instant.
    pub member: bool,
    /// Every stretch of membership in the group's history.
    pub memberships: Vec<MembershipStretch>,
}

/// "Was user U a member of group G on D?", answered from the group's events: `member` is true
/// when a stretch of membership overlaps the day (a date) or contains the instant (a time).
/// Only `group` streams have members.
#[utoipa::path(get, path = "/streams/{stream_type}/{stream_id}/members/{user_id}", tag = "Roster",
    params(("stream_type" = String, Path, description = "group"), ("stream_id" = Uuid, Path), ("user_id" = Uuid, Path),
           ("on" = String, Query, description = "a date (YYYY-MM-DD, UTC) or an RFC 3339 time")),
    responses((status = 200, body = MembershipOn), (status = 400, body = RosterError), (status = 401, body = RosterError),
              (status = 403, body = RosterError), (status = 404, body = RosterError)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn member_on(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    axum::extract::Path((stream_type, stream_id, user_id)): axum::extract::Path<(String, String, String)>,
    dialect::Query(q, _): Query<OnQuery>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    if stream_type != "group" {
        return Err(ApiError::NotFound(format!("{stream_type} streams have no members; use group")).into());
    }
    let raw =
        q.on.filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::invalid("on", "is required (a date like 2026-01-31 or an RFC 3339 time)"))?;
    let (start, end) = match chrono::NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
        Ok(day) => {
            let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
            (start, start + chrono::Duration::days(1))
        }
        Err(_) => {
            let t = chrono::DateTime::parse_from_rfc3339(&raw)
                .map_err(|_| ApiError::invalid("on", format!("must be a date like 2026-01-31 or an RFC 3339 time, got '{raw}'")))?
                .with_timezone(&chrono::Utc);
            (t, t + chrono::Duration::microseconds(1))
        }
    };
    let user = Uuid::parse_str(&user_id).map_err(|_| ApiError::invalid("user_id", "must be a UUID"))?;
    let events = recorded(&st, org.0, &stream_type, &stream_id).await?;
    let stretches = domain::history::memberships(&events, &user.to_string());
    let member = domain::history::member_during(&stretches, start, end).is_some();
    let memberships = stretches.into_iter().map(|m| MembershipStretch { from: m.from, until: m.until }).collect();
    Ok(axum::Json(MembershipOn { group_id: stream_id, user_id: user.to_string(), on: raw, member, memberships }).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roster's API is snake_case and reaches the domain only through grants.
    #[test]
    fn roster_meets_only_one_word_domain_field_names() {
        crate::kernel::fields::assert_covers(Roster::FIELD_NAMES, &[domain::error::fields::DIRECTORY]);
    }
}
