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

use crate::dialect::{self, Dialect};
use crate::error::ApiError;
use crate::AppState;

pub struct Roster;

impl Dialect for Roster {
    const NAME: &'static str = "roster";

    /// Bearer, or WorkDrive's header: a token is valid everywhere.
    fn token(parts: &axum::http::request::Parts) -> Option<&str> {
        crate::auth::bearer(parts).or_else(|| crate::auth::api_key(parts))
    }

    fn render(err: &ApiError) -> Response {
        let code = match err {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Invalid { .. } => "bad_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::Internal => "internal",
        };
        (err.status(), axum::Json(RosterError { error: code.into(), message: err.message() })).into_response()
    }
}

type Error = dialect::Error<Roster>;
type Caller = dialect::Caller<Roster>;
type Query<T> = dialect::Query<T, Roster>;

pub const DEFAULT_EVENTS_LIMIT: i64 = 100;
pub const MAX_EVENTS_LIMIT: i64 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .route("/events", get(events))
        .route("/streams/{stream_type}/{stream_id}/events", get(stream_events))
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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub projections: Vec<ProjectionStatus>,
}

/// Readiness: Postgres answers and no projection is stopped by a poison event.
#[utoipa::path(get, path = "/readyz", tag = "Roster",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(st): State<AppState>) -> Response {
    match projections::checkpoint::all(&st.pool).await {
        Ok(rows) => {
            let projections: Vec<ProjectionStatus> = rows
                .into_iter()
                .map(|(name, cp)| ProjectionStatus { name, position: cp.position.to_string(), status: cp.status })
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

fn uuid_param(field: &str, raw: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|s| Uuid::parse_str(s).map_err(|_| ApiError::invalid(field, "must be a UUID")))
        .transpose()
}

fn time_param(field: &str, raw: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
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
pub async fn events(State(st): State<AppState>, dialect::Caller(caller, _): Caller, dialect::Query(q, _): Query<EventsQuery>) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let after = match q.after.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => s.parse::<Position>().map_err(|e| ApiError::invalid("after", e.to_string()))?,
        None => Position::START,
    };
    let limit = dialect::int_param("limit", q.limit.as_deref(), DEFAULT_EVENTS_LIMIT, 1, MAX_EVENTS_LIMIT)?;
    let filter = log::LogFilter {
        stream_type: q.stream_type.filter(|s| !s.is_empty()),
        stream_id: uuid_param("stream_id", q.stream_id.as_deref())?,
        event_type: q.event_type.filter(|s| !s.is_empty()),
        actor: uuid_param("actor", q.actor.as_deref())?,
        since: time_param("from", q.from.as_deref())?,
        until: time_param("to", q.to.as_deref())?,
    };
    let events = log::read_org_after(&st.pool, org.0, after, &filter, limit).await?;
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
    let not_found = || ApiError::NotFound(format!("{stream_type} {stream_id} not found"));
    let id = Uuid::parse_str(&stream_id).map_err(|_| not_found())?;
    let events = log::read_stream(&st.pool, org.0, &stream_type, id).await?;
    if events.is_empty() {
        return Err(not_found().into());
    }
    Ok(axum::Json(StreamHistory { events }).into_response())
}
