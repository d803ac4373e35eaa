//! Calendar events (WorkDrive E19–E22): one row per occurrence, their RSVPs, and the reads of
//! `GET /api/events` and the calendar feed. Every read asks the one visibility question in SQL.

use chrono::{DateTime, NaiveDate, Utc};
use domain::calendar::{CalendarEventEvent, EventDetails, SeriesRef};
use domain::{OrgId, UserId};
use eventlog::Envelope;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::audience::{self, Reader};
use crate::ApplyError;

pub(super) async fn apply(conn: &mut PgConnection, ev: &Envelope, event: CalendarEventEvent) -> Result<(), ApplyError> {
    match event {
        CalendarEventEvent::EventScheduled { id, org_id, created_by, details, start, end, series } => {
            write(conn, ev, id, (org_id, created_by, series), &details, (start, end), None).await?;
            audience::replace(conn, org_id, id, &details.grants(org_id, created_by)).await?;
        }
        CalendarEventEvent::EventChanged { id, updated_by, details, start, end } => {
            let Some(row) =
                sqlx::query!("SELECT org_id, created_by FROM calendar_events WHERE id = $1", id).fetch_optional(&mut *conn).await?
            else {
                return Ok(());
            };
            let (org, author) = (OrgId(row.org_id), UserId(row.created_by));
            write(conn, ev, id, (org, author, None), &details, (start, end), Some(updated_by)).await?;
            audience::replace(conn, org, id, &details.grants(org, author)).await?;
        }
        CalendarEventEvent::EventCancelled { id, .. } => {
            sqlx::query!("DELETE FROM calendar_events WHERE id = $1", id).execute(&mut *conn).await?;
            sqlx::query!("DELETE FROM calendar_rsvps WHERE event_id = $1", id).execute(&mut *conn).await?;
            audience::remove(conn, id).await?;
        }
        CalendarEventEvent::EventRsvpGiven { id, user_id, rsvp } => {
            sqlx::query!(
                "INSERT INTO calendar_rsvps (event_id, user_id, rsvp, answered_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (event_id, user_id) DO UPDATE SET rsvp = EXCLUDED.rsvp, answered_at = EXCLUDED.answered_at",
                id,
                user_id.0,
                rsvp.as_str(),
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Writes an occurrence's row: a create inserts it; a change (`updated_by`) meets the existing
/// row and replaces its details, times and updater, leaving its creation columns alone.
async fn write(
    conn: &mut PgConnection,
    ev: &Envelope,
    id: Uuid,
    (org, author, series): (OrgId, UserId, Option<SeriesRef>),
    d: &EventDetails,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    updated_by: Option<UserId>,
) -> Result<(), sqlx::Error> {
    let emails: Vec<String> = d.external_user_emails.iter().map(|e| e.as_str().to_string()).collect();
    let invitees: Vec<Uuid> = d.invitees.iter().map(|u| u.0).collect();
    let (category_id, category) = d.category.clone().map(|c| (c.id, c.name)).unzip();
    sqlx::query!(
        "INSERT INTO calendar_events (id, org_id, created_by, created_at, updated_by, updated_at, title, description, external_links,
             invitees, conference_link, location, start_at, end_at, poster_id, is_virtual, tags, external_user_emails,
             category_id, category, is_meeting, kind, video_preview_ids, duration, conversation_id, time_zone,
             repeat_id, repeat_config, permissions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
             $24, $25, $26, $27, $28, $29)
         ON CONFLICT (id) DO UPDATE SET updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at,
             title = EXCLUDED.title, description = EXCLUDED.description, external_links = EXCLUDED.external_links,
             invitees = EXCLUDED.invitees, conference_link = EXCLUDED.conference_link, location = EXCLUDED.location,
             start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at, poster_id = EXCLUDED.poster_id,
             is_virtual = EXCLUDED.is_virtual, tags = EXCLUDED.tags, external_user_emails = EXCLUDED.external_user_emails,
             category_id = EXCLUDED.category_id, category = EXCLUDED.category, is_meeting = EXCLUDED.is_meeting,
             kind = EXCLUDED.kind, video_preview_ids = EXCLUDED.video_preview_ids, duration = EXCLUDED.duration,
             conversation_id = EXCLUDED.conversation_id, time_zone = EXCLUDED.time_zone, permissions = EXCLUDED.permissions",
        id,
        org.0,
        author.0,
        ev.recorded_at,
        updated_by.map(|u| u.0),
        updated_by.map(|_| ev.recorded_at),
        d.title,
        d.description,
        json(&d.external_links),
        &invitees,
        d.conference_link,
        d.location,
        start,
        end,
        d.poster_id,
        d.is_virtual,
        &d.tags,
        &emails,
        category_id,
        category,
        d.is_meeting,
        d.kind.code(),
        &d.video_preview_ids,
        d.duration,
        d.conversation_id,
        d.time_zone,
        series.map(|s| s.repeat_id),
        series.map(|s| json(&s.repeat)),
        json(&d.audience),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A domain value as JSON (plain data: serializing cannot fail).
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: Option<DateTime<Utc>>,
    pub title: String,
    pub description: Option<String>,
    pub external_links: serde_json::Value,
    pub invitees: Vec<Uuid>,
    pub conference_link: Option<String>,
    pub location: Option<String>,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub poster_id: Option<Uuid>,
    pub is_virtual: bool,
    pub tags: Vec<String>,
    pub external_user_emails: Vec<String>,
    pub category: Option<String>,
    pub is_meeting: bool,
    pub kind: i16,
    pub video_preview_ids: Vec<Uuid>,
    pub duration: Option<i32>,
    pub conversation_id: Option<String>,
    pub time_zone: String,
    pub repeat_id: Option<Uuid>,
    pub repeat_config: Option<serde_json::Value>,
    pub permissions: serde_json::Value,
}

/// Which occurrences a list asks for, relative to `time` or within dates.
#[derive(Debug, Clone, PartialEq)]
pub enum Window {
    /// Not yet started at `time` (plus, with `happening_now`, those under way at `time`), soonest
    /// first; or with `past`, finished by `time` (plus those under way), latest first.
    At { time: DateTime<Utc>, past: bool, happening_now: bool },
    /// Starting on or after `from` and ending on or before `to` (whole days in each event's zone),
    /// soonest first.
    Dates { from: Option<NaiveDate>, to: Option<NaiveDate> },
    /// Every occurrence, soonest first (the calendar feed).
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    pub window: Window,
    pub kind: Option<i16>,
    pub category: Option<String>,
    pub only_meeting: bool,
    pub only_going: bool,
    pub id: Option<Uuid>,
}

impl EventFilter {
    pub fn all() -> Self {
        EventFilter { window: Window::All, kind: None, category: None, only_meeting: false, only_going: false, id: None }
    }
}

const COLUMNS: &str = "e.id, e.org_id, e.created_by, e.created_at, e.updated_by, e.updated_at, e.title, e.description, \
    e.external_links, e.invitees, e.conference_link, e.location, e.start_at, e.end_at, e.poster_id, e.is_virtual, e.tags, \
    e.external_user_emails, e.category, e.is_meeting, e.kind, e.video_preview_ids, e.duration, e.conversation_id, \
    e.time_zone, e.repeat_id, e.repeat_config, e.permissions";

fn push_where(qb: &mut QueryBuilder<'_, Postgres>, reader: Reader, f: &EventFilter) {
    qb.push(" FROM calendar_events e WHERE e.org_id = ").push_bind(reader.org).push(" AND ");
    audience::push_visible(qb, reader, "e.id");
    match &f.window {
        Window::At { time, past, happening_now } => {
            let finished = if *past { "e.end_at < " } else { "e.start_at >= " };
            qb.push(" AND (").push(finished).push_bind(*time);
            if *happening_now {
                qb.push(" OR (e.start_at < ").push_bind(*time).push(" AND e.end_at >= ").push_bind(*time).push(")");
            }
            qb.push(")");
        }
        Window::Dates { from, to } => {
            if let Some(from) = from {
                qb.push(" AND (e.start_at AT TIME ZONE e.time_zone)::date >= ").push_bind(*from);
            }
            if let Some(to) = to {
                qb.push(" AND (e.end_at AT TIME ZONE e.time_zone)::date <= ").push_bind(*to);
            }
        }
        Window::All => {}
    }
    if let Some(kind) = f.kind {
        qb.push(" AND e.kind = ").push_bind(kind);
    }
    if let Some(c) = &f.category {
        qb.push(" AND lower(e.category) = lower(").push_bind(c.trim().to_string()).push(")");
    }
    if f.only_meeting {
        qb.push(" AND e.is_meeting");
    }
    if f.only_going {
        qb.push(" AND EXISTS (SELECT 1 FROM calendar_rsvps r WHERE r.event_id = e.id AND r.rsvp = 'going' AND r.user_id = ")
            .push_bind(reader.user)
            .push(")");
    }
    if let Some(id) = f.id {
        qb.push(" AND e.id = ").push_bind(id);
    }
}

/// One page of the occurrences `reader` may see that match `f`, and how many match.
pub async fn page(pool: &PgPool, reader: Reader, f: &EventFilter, offset: i64, limit: i64) -> Result<(Vec<EventRow>, i64), sqlx::Error> {
    let mut count = QueryBuilder::new("SELECT count(*)");
    push_where(&mut count, reader, f);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS}"));
    push_where(&mut qb, reader, f);
    let order = if matches!(f.window, Window::At { past: true, .. }) { " DESC" } else { "" };
    qb.push(format!(" ORDER BY e.start_at{order}, e.id{order} LIMIT ")).push_bind(limit).push(" OFFSET ").push_bind(offset);
    Ok((qb.build_query_as().fetch_all(pool).await?, total))
}

/// The occurrence `id` if `reader` may see it.
pub async fn visible(pool: &PgPool, reader: Reader, id: Uuid) -> Result<Option<EventRow>, sqlx::Error> {
    let f = EventFilter { id: Some(id), ..EventFilter::all() };
    Ok(page(pool, reader, &f, 0, 1).await?.0.pop())
}

/// Per occurrence: how many are going, and `user`'s answer.
pub async fn rsvp_summary(pool: &PgPool, ids: &[Uuid], user: Uuid) -> Result<Vec<(Uuid, i64, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT i.id AS "id!",
                  (SELECT count(*) FROM calendar_rsvps r WHERE r.event_id = i.id AND r.rsvp = 'going') AS "going!",
                  (SELECT r.rsvp FROM calendar_rsvps r WHERE r.event_id = i.id AND r.user_id = $2) AS mine
           FROM UNNEST($1::uuid[]) AS i(id)"#,
        ids,
        user,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.going, r.mine)).collect())
}

#[derive(Debug, Clone)]
pub struct RsvpRow {
    pub event_id: Uuid,
    pub user_id: Uuid,
    pub rsvp: String,
    pub answered_at: DateTime<Utc>,
}

/// The `limit` most recent answers of each occurrence, newest first.
pub async fn recent_rsvps(pool: &PgPool, ids: &[Uuid], limit: i64) -> Result<Vec<RsvpRow>, sqlx::Error> {
    sqlx::query_as!(
        RsvpRow,
        r#"SELECT event_id AS "event_id!", user_id AS "user_id!", rsvp AS "rsvp!", answered_at AS "answered_at!" FROM (
               SELECT r.*, row_number() OVER (PARTITION BY r.event_id ORDER BY r.answered_at DESC, r.user_id) AS n
               FROM calendar_rsvps r WHERE r.event_id = ANY($1)) x
           WHERE n <= $2 ORDER BY event_id, answered_at DESC, user_id"#,
        ids,
        limit,
    )
    .fetch_all(pool)
    .await
}
