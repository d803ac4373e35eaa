//! Calendar events (WorkDrive E19–E22), Roster's RSVP and the calendar feed (DESIGN §11).
//!
//! Decisions the seed leaves open:
//! - `startDateTime` is required on create; an absent `endDateTime` is the start plus `duration`
//!   minutes (or the start itself). Both are ISO-8601 instants with an offset.
//! - `null` in a create is the same as absent. In a PATCH, `null` clears an optional field
//!   (description, links, poster, category, duration, ...), resets a list or flag to empty/false,
//!   `permissions: null` is public again, and `null` is refused for `title` and the times;
//!   `repeat` cannot be changed by a PATCH (400 when set; delete the series and create it anew),
//!   `null` leaves it.
//! - `timeZone` defaults to UTC: organizations carry no zone yet.
//! - `externalEvents`: Roster imports no external calendars, so every event has
//!   `isExternalEvent: false` and the flag (checked as a boolean) changes nothing.
//! - E19 without dates lists the events that have not started at `time` (default now), soonest
//!   first; `include_happening_now` adds those under way at `time`; `onlyPast` lists those finished
//!   by `time`, latest first. `fromDate`/`toDate` replace that window (and `onlyPast` /
//!   `include_happening_now` with it): start on or after `fromDate`, end on or before `toDate`,
//!   whole days in each event's own zone.
//! - The feed `GET /api/events.ics` takes the token as `X-API-KEY` or as `?token=` (calendar apps
//!   cannot set headers); only this route reads the query parameter.

use std::collections::HashMap;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use commands::handlers::calendar::{self as cmd, EventInput};
use domain::calendar::{
    self, Editor, EventDetails, EventPatch, ExternalLink, Frequency, Repeat, Rsvp, Scope, MAX_CONVERSATION_ID_LEN, MAX_DESCRIPTION_LEN,
    MAX_LINK_LEN, MAX_LIST_LEN, MAX_LOCATION_LEN, MAX_OCCURRENCES, MAX_TAG_LEN, MAX_TITLE_LEN,
};
use domain::category::ModuleCode;
use domain::patch::Patch;
use domain::values::Email;
use domain::UserId;
use projections::content::audience::Reader;
use projections::content::calendar::{self as read, EventFilter, EventRow, Window};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::content::{audience, reader, Permissions};
use super::media::File;
use super::{bool_param, paging, Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

/// How many recent answers `include_recent_rsvps` puts in `rsvpUsers`.
pub const RECENT_RSVPS: i64 = 10;
/// The most events one calendar feed holds (soonest first).
pub const MAX_FEED_EVENTS: i64 = 5000;

const _: () = assert!(
    MAX_TITLE_LEN == 500
        && MAX_DESCRIPTION_LEN == 4096
        && MAX_LINK_LEN == 2048
        && MAX_LOCATION_LEN == 1000
        && MAX_LIST_LEN == 100
        && MAX_TAG_LEN == 100
        && MAX_CONVERSATION_ID_LEN == 200
        && MAX_OCCURRENCES == 366,
    "update the bounds of EventBody"
);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/events", get(list_events).post(create_event))
        .route("/api/events/meeting", post(create_event))
        .route("/api/events/{id}", patch(update_event).delete(delete_event))
        .route("/api/events/{id}/rsvp", post(rsvp))
        .route("/api/events.ics", get(feed).layer(middleware::from_fn(token_from_query)))
}

#[derive(OpenApi)]
#[openapi(paths(list_events, create_event, create_meeting, update_event, delete_event, rsvp, feed))]
pub struct Doc;

// ----- request ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LinkBody {
    #[serde(default)]
    #[schema(max_length = 500)]
    pub title: Option<String>,
    #[schema(max_length = 2048)]
    pub url: Option<String>,
}

/// `repeat` (spec §1 RepeatInput): `{config: {type: "frequency", frequency, ends: {config: {type: "on", date}}}}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct RepeatBody {
    pub config: Option<RepeatConfigBody>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct RepeatConfigBody {
    /// 86400 (daily), 604800 (weekly), 1209600 (every two weeks) or `"monthly"`; in the event's zone.
    #[schema(value_type = Object, example = 604800)]
    pub frequency: Option<serde_json::Value>,
    pub ends: Option<EndsBody>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EndsBody {
    pub config: Option<EndsConfigBody>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EndsConfigBody {
    /// The last day (`YYYY-MM-DD`, whole day in the event's zone); at most 366 occurrences.
    pub date: Option<String>,
}

/// E20's fields; every one optional in a PATCH (E21). See the module docs for `null`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventBody {
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 500)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 4096)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<LinkBody>>, max_items = 100)]
    pub external_link: Patch<Vec<LinkBody>>,
    /// Invitees: users of the organization; they always see the event.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 100)]
    pub user_ids: Patch<Vec<Uuid>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub conference_link: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub location: Patch<String>,
    /// ISO-8601 with an offset. Required on create.
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub start_date_time: Patch<String>,
    /// ISO-8601 with an offset, not before the start (also read as `endtDateTime`).
    #[serde(default, alias = "endtDateTime")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub end_date_time: Patch<String>,
    /// An uploaded file of the organization.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub poster_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_virtual: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 100)]
    pub tags: Patch<Vec<String>>,
    /// EVENT (2, default) or LIVESTREAM (3), by code or name.
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<String>, example = "2")]
    pub kind: Patch<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 100)]
    pub external_user_emails: Patch<Vec<String>>,
    /// An existing category of the EVENT module, by name.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_meeting: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<RepeatBody>)]
    pub repeat: Patch<RepeatBody>,
    /// Uploaded files of the organization (also read as `videoPreviewIds`).
    #[serde(default, alias = "videoPreviewIds")]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 100)]
    pub video_previews: Patch<Vec<Uuid>>,
    /// Minutes, 0 or more.
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub duration: Patch<i32>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub conversation_id: Patch<String>,
    /// An IANA zone name (Roster); default UTC.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Europe/Berlin")]
    pub time_zone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Permissions>)]
    pub permissions: Patch<Permissions>,
}

fn instant(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let at = DateTime::parse_from_rfc3339(raw.trim())
        .map_err(|_| ApiError::invalid(field, format!("must be an ISO-8601 date-time with an offset, got '{raw}'")))?;
    Ok(domain::values::check_instant(field, at.with_timezone(&Utc))?)
}

fn date(field: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    let d = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, format!("must be a date YYYY-MM-DD, got '{raw}'")))?;
    Ok(domain::values::check_instant(field, d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())?.date_naive())
}

fn kind(field: &str, raw: &serde_json::Value) -> Result<ModuleCode, ApiError> {
    let m = match raw {
        serde_json::Value::Number(n) => ModuleCode::parse(field, &n.to_string())?,
        serde_json::Value::String(s) => ModuleCode::parse(field, s)?,
        _ => return Err(ApiError::invalid(field, "must be a module code number or name")),
    };
    if EVENT_KINDS.contains(&m) {
        Ok(m)
    } else {
        Err(ApiError::invalid(field, "must be EVENT (2) or LIVESTREAM (3)"))
    }
}

/// The module codes an event is of (its `type`, a list's `filter`), by code or name.
pub(crate) const EVENT_KINDS: [ModuleCode; 2] = [ModuleCode::Event, ModuleCode::Livestream];

fn repeat(body: RepeatBody) -> Result<Repeat, ApiError> {
    let config = body.config.ok_or_else(|| ApiError::invalid("repeat.config", "is required"))?;
    let frequency = match config.frequency {
        Some(serde_json::Value::Number(n)) => Frequency::parse("repeat.config.frequency", &n.to_string())?,
        Some(serde_json::Value::String(s)) => Frequency::parse("repeat.config.frequency", &s)?,
        _ => return Err(ApiError::invalid("repeat.config.frequency", "is required: 86400, 604800, 1209600 or monthly")),
    };
    let raw =
        config.ends.and_then(|e| e.config).and_then(|c| c.date).ok_or_else(|| ApiError::invalid(calendar::ENDS_FIELD, "is required"))?;
    // A date-time is read as its date.
    let day = raw.get(..10).unwrap_or(&raw);
    Ok(Repeat { frequency, ends_on: date(calendar::ENDS_FIELD, day)? })
}

fn links(v: Vec<LinkBody>) -> Vec<ExternalLink> {
    v.into_iter().map(|l| ExternalLink { title: l.title.unwrap_or_default(), url: l.url.unwrap_or_default() }).collect()
}

fn emails(v: Vec<String>) -> Result<Vec<Email>, ApiError> {
    v.iter().enumerate().map(|(i, e)| Ok(Email::parse(&format!("externalUserEmails[{i}]"), e)?)).collect()
}

fn users(v: Vec<Uuid>) -> Vec<UserId> {
    v.into_iter().map(UserId).collect()
}

fn set<T>(p: Patch<T>) -> Option<T> {
    match p {
        Patch::Set(v) => Some(v),
        _ => None,
    }
}

impl EventBody {
    pub(crate) fn into_input(self) -> Result<EventInput, ApiError> {
        let title = set(self.title).ok_or_else(|| ApiError::invalid("title", "is required"))?;
        let start = instant("startDateTime", &set(self.start_date_time).ok_or_else(|| ApiError::invalid("startDateTime", "is required"))?)?;
        let duration = set(self.duration);
        let end = match set(self.end_date_time) {
            Some(raw) => instant("endDateTime", &raw)?,
            None => start + chrono::Duration::minutes(duration.unwrap_or(0).clamp(0, calendar::MAX_DURATION_MINUTES).into()),
        };
        let details = EventDetails {
            title,
            description: set(self.description),
            external_links: links(set(self.external_link).unwrap_or_default()),
            invitees: users(set(self.user_ids).unwrap_or_default()),
            conference_link: set(self.conference_link),
            location: set(self.location),
            poster_id: set(self.poster_id),
            is_virtual: set(self.is_virtual).unwrap_or(false),
            tags: set(self.tags).unwrap_or_default(),
            external_user_emails: emails(set(self.external_user_emails).unwrap_or_default())?,
            category: None,
            is_meeting: set(self.is_meeting).unwrap_or(false),
            kind: set(self.kind).map(|k| kind("type", &k)).transpose()?.unwrap_or(ModuleCode::Event),
            video_preview_ids: set(self.video_previews).unwrap_or_default(),
            duration,
            conversation_id: set(self.conversation_id),
            time_zone: set(self.time_zone).unwrap_or_else(|| "UTC".into()),
            audience: audience(set(self.permissions))?,
        }
        .checked()?;
        Ok(EventInput { details, category: set(self.category), start, end, repeat: set(self.repeat).map(repeat).transpose()? })
    }

    fn into_patch(self) -> Result<(EventPatch, Patch<String>), ApiError> {
        if let Patch::Set(_) = self.repeat {
            return Err(ApiError::invalid("repeat", "a series' recurrence cannot be changed; delete it and create it anew"));
        }
        let patch = EventPatch {
            title: self.title.required("title")?,
            description: self.description,
            external_links: self.external_link.or_default().map(links),
            invitees: self.user_ids.or_default().map(users),
            conference_link: self.conference_link,
            location: self.location,
            poster_id: self.poster_id,
            is_virtual: self.is_virtual.or_default(),
            tags: self.tags.or_default(),
            external_user_emails: self.external_user_emails.or_default().map(emails).transpose()?,
            category: Patch::Keep,
            is_meeting: self.is_meeting.or_default(),
            kind: match self.kind {
                Patch::Set(k) => Some(kind("type", &k)?),
                Patch::Clear => Some(ModuleCode::Event),
                Patch::Keep => None,
            },
            video_preview_ids: self.video_previews.or_default(),
            duration: self.duration,
            conversation_id: self.conversation_id,
            time_zone: match self.time_zone {
                Patch::Clear => Some("UTC".into()),
                other => set(other),
            },
            audience: match self.permissions {
                Patch::Keep => None,
                other => Some(audience(set(other))?),
            },
            start: self.start_date_time.required("startDateTime")?.map(|s| instant("startDateTime", &s)).transpose()?,
            end: self.end_date_time.required("endDateTime")?.map(|s| instant("endDateTime", &s)).transpose()?,
        };
        Ok((patch, self.category))
    }
}

// ----- response --------------------------------------------------------------------------------------

/// A user's answer to an event (spec §1 RsvpUser).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RsvpUser {
    #[serde(flatten)]
    pub user: UserSummary,
    /// When the user was invited (the event's creation), for invitees.
    pub invited: Option<DateTime<Utc>>,
    pub rsvp: String,
    pub answered_at: DateTime<Utc>,
}

/// Spec §1 Event, plus Roster's own fields (`isMeeting`, `userIds`, `timeZone`, ...).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub created_by: Uuid,
    pub updated_by: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub external_link: serde_json::Value,
    /// Always false: Roster imports no external calendars.
    pub is_external_event: bool,
    pub conference_link: Option<String>,
    pub location: Option<String>,
    pub start_date_time: DateTime<Utc>,
    pub end_date_time: DateTime<Utc>,
    pub is_virtual: bool,
    pub event_source: &'static str,
    pub poster: Option<File>,
    /// How many answered "going".
    pub going: i64,
    pub my_rsvp: Option<String>,
    pub my_checkin: Option<DateTime<Utc>>,
    pub comments: i64,
    pub tags: Vec<String>,
    #[schema(value_type = Vec<String>)]
    pub reactions: Vec<serde_json::Value>,
    /// EVENT or LIVESTREAM.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub category: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub livestream: Option<serde_json::Value>,
    pub rsvp_users: Vec<RsvpUser>,
    pub creator: Option<UserSummary>,
    pub external_attendees: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub repeat_config: Option<serde_json::Value>,
    pub repeat_id: Option<Uuid>,
    pub is_meeting: bool,
    pub user_ids: Vec<Uuid>,
    pub video_previews: Vec<File>,
    pub duration: Option<i32>,
    pub conversation_id: Option<String>,
    pub time_zone: String,
    #[schema(value_type = Object)]
    pub permissions: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<Event>,
    pub meta: PageMeta,
}

/// The seed's RepeatInput shape, from the stored `Repeat`.
fn repeat_config(raw: &serde_json::Value) -> serde_json::Value {
    let Ok(r) = serde_json::from_value::<Repeat>(raw.clone()) else { return serde_json::Value::Null };
    serde_json::json!({"config": {"type": "frequency", "frequency": r.frequency.to_json(),
        "ends": {"config": {"type": "on", "date": r.ends_on.to_string()}}}})
}

/// The stored audience in the request's spelling (`onlyMe`, `taggedUsers`).
fn permissions(raw: &serde_json::Value) -> serde_json::Value {
    let Ok(a) = serde_json::from_value::<domain::audience::Audience>(raw.clone()) else { return serde_json::Value::Null };
    serde_json::json!({"public": a.public, "friends": a.friends, "team": a.team, "onlyMe": a.only_me, "users": a.users,
        "groups": a.groups, "locations": a.locations, "taggedUsers": a.tagged_users})
}

/// Renders rows as the Event shape, with their authors, media and answers, in three reads.
async fn render(st: &AppState, reader: Reader, rows: Vec<EventRow>, recent: bool) -> Result<Vec<Event>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let summary: HashMap<Uuid, (i64, Option<String>)> =
        read::rsvp_summary(&st.pool, &ids, reader.user).await?.into_iter().map(|(id, going, mine)| (id, (going, mine))).collect();
    let answers = if recent { read::recent_rsvps(&st.pool, &ids, RECENT_RSVPS).await? } else { vec![] };
    let mut people: Vec<Uuid> = rows.iter().map(|r| r.created_by).chain(answers.iter().map(|a| a.user_id)).collect();
    people.sort_unstable();
    people.dedup();
    let users: HashMap<Uuid, UserSummary> =
        projections::queries::users_by_ids(&st.pool, reader.org, &people).await?.iter().map(|u| (u.id, UserSummary::from(u))).collect();
    let media: Vec<Uuid> = rows.iter().flat_map(|r| r.poster_id.into_iter().chain(r.video_preview_ids.iter().copied())).collect();
    let files = super::media::files_by_id(st, reader.org, &media).await?;
    let mut by_event: HashMap<Uuid, Vec<RsvpUser>> = HashMap::new();
    for a in answers {
        let Some(user) = users.get(&a.user_id).cloned() else { continue };
        let row = rows.iter().find(|r| r.id == a.event_id);
        let invited = row.filter(|r| r.invitees.contains(&a.user_id)).map(|r| r.created_at);
        by_event.entry(a.event_id).or_default().push(RsvpUser { user, invited, rsvp: a.rsvp, answered_at: a.answered_at });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let (going, my_rsvp) = summary.get(&r.id).cloned().unwrap_or((0, None));
            Event {
                id: r.id,
                created_at: r.created_at,
                updated_at: r.updated_at,
                created_by: r.created_by,
                updated_by: r.updated_by,
                title: r.title,
                description: r.description,
                external_link: r.external_links,
                is_external_event: false,
                conference_link: r.conference_link,
                location: r.location,
                start_date_time: r.start_at,
                end_date_time: r.end_at,
                is_virtual: r.is_virtual,
                event_source: "roster",
                poster: r.poster_id.and_then(|p| files.get(&p).cloned()),
                going,
                my_rsvp,
                my_checkin: None,
                comments: 0,
                tags: r.tags,
                reactions: vec![],
                kind: ModuleCode::from_code(r.kind.into()).map_or("EVENT", ModuleCode::name),
                category: r.category,
                livestream: None,
                rsvp_users: by_event.remove(&r.id).unwrap_or_default(),
                creator: users.get(&r.created_by).cloned(),
                external_attendees: r.external_user_emails,
                repeat_config: r.repeat_config.as_ref().map(repeat_config),
                repeat_id: r.repeat_id,
                is_meeting: r.is_meeting,
                user_ids: r.invitees,
                video_previews: r.video_preview_ids.iter().filter_map(|p| files.get(p).cloned()).collect(),
                duration: r.duration,
                conversation_id: r.conversation_id,
                time_zone: r.time_zone,
                permissions: permissions(&r.permissions),
            }
        })
        .collect())
}

/// The occurrence `id` as `reader` sees it: another org's, a deleted or an invisible one is 404.
pub(crate) async fn one(st: &AppState, reader: Reader, id: Uuid) -> Result<Event, ApiError> {
    let row = read::visible(&st.pool, reader, id).await?.ok_or_else(|| ApiError::NotFound("event not found".into()))?;
    render(st, reader, vec![row], true).await?.pop().ok_or(ApiError::Internal)
}

// ----- endpoints -------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventListQuery {
    pub time: Option<String>,
    #[serde(rename = "per_page")]
    pub per_page: Option<String>,
    #[serde(rename = "cur_page")]
    pub cur_page: Option<String>,
    pub external_events: Option<String>,
    pub filter: Option<String>,
    pub category: Option<String>,
    pub only_past: Option<String>,
    #[serde(rename = "include_happening_now")]
    pub include_happening_now: Option<String>,
    pub only_meeting: Option<String>,
    pub only_going: Option<String>,
    pub from_date: Option<String>,
    pub to_date: Option<String>,
    #[serde(rename = "include_recent_rsvps")]
    pub include_recent_rsvps: Option<String>,
}

fn present(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// E19: one page of the occurrences the caller may see (see the module docs for the window).
#[utoipa::path(get, path = "/api/events", tag = "WorkDrive",
    params(("time" = Option<DateTime<Utc>>, Query), ("per_page" = Option<i64>, Query), ("cur_page" = Option<i64>, Query),
        ("externalEvents" = Option<bool>, Query), ("filter" = Option<String>, Query, description = "EVENT or LIVESTREAM, code or name"),
        ("category" = Option<String>, Query), ("onlyPast" = Option<bool>, Query), ("include_happening_now" = Option<bool>, Query),
        ("onlyMeeting" = Option<bool>, Query), ("onlyGoing" = Option<bool>, Query), ("fromDate" = Option<String>, Query),
        ("toDate" = Option<String>, Query), ("include_recent_rsvps" = Option<bool>, Query)),
    responses((status = 200, body = EventsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_events(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<EventListQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    bool_param("externalEvents", q.external_events.as_deref())?;
    let past = bool_param("onlyPast", q.only_past.as_deref())?;
    let happening_now = bool_param("include_happening_now", q.include_happening_now.as_deref())?;
    // A date-time sent empty is not one (the document says date-time), unlike the text filters.
    let time = q.time.as_deref().map(|t| instant("time", t.trim())).transpose()?.unwrap_or_else(Utc::now);
    let from = q.from_date.as_deref().map(|d| date("fromDate", d)).transpose()?;
    let to = q.to_date.as_deref().map(|d| date("toDate", d)).transpose()?;
    let window = if from.is_some() || to.is_some() { Window::Dates { from, to } } else { Window::At { time, past, happening_now } };
    let filter = EventFilter {
        window,
        kind: present(&q.filter).map(|f| kind("filter", &serde_json::Value::String(f.into()))).transpose()?.map(ModuleCode::code),
        category: present(&q.category).map(str::to_string),
        only_meeting: bool_param("onlyMeeting", q.only_meeting.as_deref())?,
        only_going: bool_param("onlyGoing", q.only_going.as_deref())?,
        id: None,
    };
    let recent = bool_param("include_recent_rsvps", q.include_recent_rsvps.as_deref())?;
    let (rows, total) = read::page(&st.pool, reader, &filter, offset, per_page).await?;
    let events = render(&st, reader, rows, recent).await?;
    Ok(axum::Json(EventsPage { events, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

async fn create(st: AppState, Write { caller, ctx }: Write, body: EventBody) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let input = body.into_input()?;
    let ctx = ctx?;
    let committed = cmd::create_event(&st.store, &ctx, caller.org()?, caller.user_id, input).await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            Ok((StatusCode::CREATED, axum::Json(one(&st, reader, r.event_id).await?)).into_response())
        })
        .await?)
}

/// E20: a new event, meeting (`isMeeting`) or livestream (`type`); with `repeat`, a series whose
/// occurrences (at most 366) keep their wall-clock time in `timeZone`. Answers the first occurrence.
#[utoipa::path(post, path = "/api/events/meeting", tag = "WorkDrive", request_body = EventBody,
    responses((status = 201, body = Event), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_meeting(State(st): State<AppState>, write: Write, dialect::Json(body, _): Json<EventBody>) -> Result<Response, Error> {
    create(st, write, body).await
}

/// E20's alias (spec §3 14).
#[utoipa::path(post, path = "/api/events", tag = "WorkDrive", request_body = EventBody,
    responses((status = 201, body = Event), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_event(State(st): State<AppState>, write: Write, dialect::Json(body, _): Json<EventBody>) -> Result<Response, Error> {
    create(st, write, body).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RepeatQuery {
    /// `all` | `following` (this occurrence included); absent: this occurrence only.
    pub repeat: Option<String>,
}

/// The occurrence a write names, if the caller may see it (404 otherwise), and who edits.
async fn target(st: &AppState, caller: &crate::kernel::auth::Principal, raw: &str) -> Result<(Uuid, Reader, Editor), ApiError> {
    let reader = reader(caller)?;
    let id = dialect::uuid_path(raw, "event")?;
    read::visible(&st.pool, reader, id).await?.ok_or_else(|| ApiError::NotFound("event not found".into()))?;
    Ok((id, reader, Editor { user: caller.user_id, admin: caller.is_org_admin() }))
}

/// E21: changes the occurrence, or with `repeat` the following ones or the whole series (the
/// author or an org admin; 403 for other readers).
#[utoipa::path(patch, path = "/api/events/{id}", tag = "WorkDrive", request_body = EventBody,
    params(("id" = Uuid, Path), ("repeat" = Option<String>, Query)),
    responses((status = 200, body = Event), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_event(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Query(q, _): Query<RepeatQuery>,
    dialect::Json(body, _): Json<EventBody>,
) -> Result<Response, Error> {
    let scope = Scope::parse("repeat", q.repeat.as_deref())?;
    let (patch, category) = body.into_patch()?;
    let (id, reader, editor) = target(&st, &caller, &id).await?;
    let ctx = ctx?;
    let committed = cmd::update_event(&st.store, &ctx, caller.org()?, editor, id, patch, category, scope).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { Ok(axum::Json(one(&st, reader, r.event_id).await?).into_response()) }).await?)
}

/// E22: deletes the occurrence, or with `repeat` the following ones or the whole series.
#[utoipa::path(delete, path = "/api/events/{id}", tag = "WorkDrive", params(("id" = Uuid, Path), ("repeat" = Option<String>, Query)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_event(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Query(q, _): Query<RepeatQuery>,
) -> Result<Response, Error> {
    let scope = Scope::parse("repeat", q.repeat.as_deref())?;
    let (id, _, editor) = target(&st, &caller, &id).await?;
    let ctx = ctx?;
    let committed = cmd::delete_event(&st.store, &ctx, caller.org()?, editor, id, scope).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RsvpBody {
    /// `going` | `maybe` | `declined`.
    #[schema(schema_with = rsvp_schema, required = true)]
    pub rsvp: Option<String>,
}

fn rsvp_schema() -> utoipa::openapi::Object {
    crate::openapi::names_schema(Rsvp::ALL.iter().map(|r| r.as_str()))
}

/// Roster (DESIGN §11): the caller answers one occurrence they may see; a new answer replaces the
/// previous one. Answers the event.
#[utoipa::path(post, path = "/api/events/{id}/rsvp", tag = "WorkDrive", request_body = RsvpBody, params(("id" = Uuid, Path)),
    responses((status = 200, body = Event), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn rsvp(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<RsvpBody>,
) -> Result<Response, Error> {
    let answer =
        Rsvp::parse("rsvp", body.rsvp.as_deref().ok_or_else(|| ApiError::invalid("rsvp", "is required: going, maybe or declined"))?)?;
    let (id, reader, _) = target(&st, &caller, &id).await?;
    let ctx = ctx?;
    let committed = cmd::rsvp(&st.store, &ctx, caller.org()?, caller.user_id, id, answer).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { Ok(axum::Json(one(&st, reader, r.event_id).await?).into_response()) }).await?)
}

/// The feed's token may come as `?token=` (calendar apps cannot set headers): it becomes the
/// `X-API-KEY` the usual authentication reads, unless the request has one.
async fn token_from_query(mut req: Request, next: Next) -> Response {
    let token = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok()?.into_iter().find(|(k, _)| k == "token").map(|(_, v)| v));
    if let Some(value) = token.and_then(|t| HeaderValue::from_str(&t).ok()) {
        req.headers_mut().entry("x-api-key").or_insert(value);
    }
    next.run(req).await
}

/// Roster: the caller's visible events (at most 5000, soonest first) as an iCalendar feed that
/// calendar apps subscribe to; the token as `X-API-KEY` or `?token=`.
#[utoipa::path(get, path = "/api/events.ics", tag = "WorkDrive", params(("token" = Option<String>, Query, description = "the access token, for clients that cannot send X-API-KEY")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn feed(State(st): State<AppState>, dialect::Caller(caller, _): Caller) -> Result<Response, Error> {
    use icalendar::{Component, EventLike};
    let reader = reader(&caller)?;
    let (rows, _) = read::page(&st.pool, reader, &EventFilter::all(), 0, MAX_FEED_EVENTS).await?;
    let mut cal = icalendar::Calendar::new();
    cal.name("Roster events");
    for r in rows {
        let mut e = icalendar::Event::new();
        e.uid(&r.id.to_string()).summary(&r.title).starts(r.start_at).ends(r.end_at).timestamp(r.updated_at.unwrap_or(r.created_at));
        if let Some(d) = &r.description {
            e.description(d);
        }
        if let Some(l) = &r.location {
            e.location(l);
        }
        if let Some(u) = &r.conference_link {
            e.url(u);
        }
        cal.push(e.done());
    }
    let body = cal.done().to_string();
    Ok(([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_refuses_null_titles_and_times_and_any_new_recurrence() {
        let body: EventBody = serde_json::from_str(r#"{"title": null}"#).unwrap();
        assert!(body.into_patch().is_err());
        let body: EventBody = serde_json::from_str(r#"{"repeat": {"config": {}}}"#).unwrap();
        assert!(body.into_patch().is_err());
        let body: EventBody = serde_json::from_str(r#"{"endtDateTime": "2026-01-01T10:00:00Z", "tags": null}"#).unwrap();
        let (patch, _) = body.into_patch().unwrap();
        assert_eq!(patch.tags, Some(vec![]));
        assert!(patch.end.is_some());
    }
}
