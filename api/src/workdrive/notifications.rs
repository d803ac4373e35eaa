//! Notifications: E41 `POST /api/notifications/send` (DESIGN §11), the caller's in-app inbox
//! `GET /api/notifications`, `POST /api/notifications/{id}/read` and its live form
//! `GET /api/notifications/stream` (Roster; Server-Sent Events, resumable with `Last-Event-ID`).
//!
//! E41 only records the request (`NotificationRequested`) and answers 202: the `notifier` worker
//! delivers it and records each outcome. Recipients are named by email (medium EMAIL) or by user id
//! (every other medium); each must be a live user of the caller's org, else 400 naming the entry.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use commands::handlers::notification::{self as cmd, NewNotification};
use commands::Envelope;
use domain::notification::{Medium, NotificationEvent, MAX_DESCRIPTION_LEN, MAX_RECIPIENTS, MAX_TITLE_LEN};
use domain::values::Email;
use domain::DomainEvent;
use domain::UserId;
use futures::StreamExt;
use projections::content::notifications as read;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{bool_param, paging, Caller, Error, ErrorBody, Json, PageMeta, Query, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::kernel::live::{self, Selector, Verdict};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/notifications/send", post(send_notification))
        .route("/api/notifications", get(list_notifications))
        .route("/api/notifications/{id}/read", post(read_notification))
        .route("/api/notifications/stream", get(stream_notifications))
}

#[derive(OpenApi)]
#[openapi(paths(send_notification, list_notifications, read_notification, stream_notifications))]
pub struct Doc;

fn medium_schema() -> utoipa::openapi::Object {
    crate::openapi::names_schema(Medium::ALL.iter().map(|m| m.as_str()))
}

/// E41's body. `null` and absent mean the same everywhere: no description, no list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendNotificationBody {
    /// The subject; required, at most 300 characters.
    #[schema(max_length = 300)]
    pub title: Option<String>,
    /// At most 10000 characters.
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// `EMAIL`, `SMS`, `PUSH` or `INAPP`; required.
    #[schema(schema_with = medium_schema, required = true)]
    pub medium: Option<String>,
    /// Medium EMAIL only, and then required: the emails of users of the caller's organization.
    #[schema(max_items = 1000)]
    pub emails: Option<Vec<String>>,
    /// Every other medium, and then required: user ids of the caller's organization. The seed's
    /// table spells it `recieverUserIds`; both spellings are accepted.
    #[serde(alias = "recieverUserIds")]
    #[schema(value_type = Option<Vec<uuid::Uuid>>, max_items = 1000)]
    pub receiver_user_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendNotificationAnswer {
    pub success: bool,
    /// The notification's id (Roster): its outcomes are on this stream in `/events`.
    pub notification_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxItem {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub sender: Uuid,
    pub delivered_at: DateTime<Utc>,
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<read::InboxRow> for InboxItem {
    fn from(r: read::InboxRow) -> Self {
        InboxItem {
            id: r.id,
            title: r.title,
            description: r.description,
            sender: r.sender,
            delivered_at: r.delivered_at,
            read: r.read_at.is_some(),
            read_at: r.read_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub notifications: Vec<InboxItem>,
    pub meta: PageMeta,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InboxQuery {
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
    /// `true`: only what the caller has not read yet.
    pub unread: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Success {
    pub success: bool,
}

fn non_empty(v: Option<Vec<String>>) -> Vec<String> {
    v.unwrap_or_default()
}

/// The request's recipients as user ids of `org`, each with the field that named it.
async fn recipients(
    st: &AppState,
    org: Uuid,
    medium: Medium,
    body: &SendNotificationBody,
) -> Result<(Vec<(UserId, String)>, String), ApiError> {
    let emails = non_empty(body.emails.clone());
    let ids = non_empty(body.receiver_user_ids.clone());
    let (used, unused) =
        if medium == Medium::Email { ("emails", ("receiver_user_ids", &ids)) } else { ("receiver_user_ids", ("emails", &emails)) };
    if !unused.1.is_empty() {
        let which = if medium == Medium::Email { "only with a medium other than EMAIL" } else { "only with medium EMAIL" };
        return Err(ApiError::invalid(unused.0, format!("is used {which}")));
    }
    let list = if medium == Medium::Email { &emails } else { &ids };
    if list.len() > MAX_RECIPIENTS {
        return Err(ApiError::invalid(used, format!("must have at most {MAX_RECIPIENTS} entries")));
    }
    if medium != Medium::Email {
        let mut out = Vec::with_capacity(ids.len());
        for (i, raw) in ids.iter().enumerate() {
            let field = format!("receiver_user_ids[{i}]");
            let id = Uuid::parse_str(raw.trim()).map_err(|_| ApiError::invalid(&field, format!("must be a UUID, got '{raw}'")))?;
            out.push((UserId(id), field));
        }
        return Ok((out, used.into()));
    }
    let mut parsed = Vec::with_capacity(emails.len());
    for (i, raw) in emails.iter().enumerate() {
        let field = format!("emails[{i}]");
        let email = Email::parse(&field, raw).map_err(ApiError::from)?;
        parsed.push((email.normalized(), field));
    }
    let wanted: Vec<String> = parsed.iter().map(|(e, _)| e.clone()).collect();
    let found: HashMap<String, Uuid> = read::users_by_email(&st.pool, org, &wanted).await?.into_iter().collect();
    let mut out = Vec::with_capacity(parsed.len());
    for (email, field) in parsed {
        let id = found.get(&email).ok_or_else(|| ApiError::invalid(&field, "no user with this email in this organization"))?;
        out.push((UserId(*id), field));
    }
    Ok((out, used.into()))
}

/// E41: tells users of the caller's organization something, by EMAIL, SMS, PUSH or INAPP. The
/// answer (202) means the request is recorded; the notifier delivers it and records each outcome
/// (`NotificationDelivered` / `NotificationFailed`) on the notification's stream.
#[utoipa::path(post, path = "/api/notifications/send", tag = "WorkDrive", request_body = SendNotificationBody,
    responses((status = 202, body = SendNotificationAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn send_notification(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<SendNotificationBody>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let title = body.title.clone().filter(|t| !t.trim().is_empty()).ok_or_else(|| ApiError::invalid("title", "is required"))?;
    if title.trim().chars().count() > MAX_TITLE_LEN {
        return Err(ApiError::invalid("title", format!("must be at most {MAX_TITLE_LEN} characters")).into());
    }
    let description = body.description.clone().unwrap_or_default();
    if description.trim().chars().count() > MAX_DESCRIPTION_LEN {
        return Err(ApiError::invalid("description", format!("must be at most {MAX_DESCRIPTION_LEN} characters")).into());
    }
    let raw_medium = body.medium.clone().filter(|m| !m.trim().is_empty()).ok_or_else(|| ApiError::invalid("medium", "is required"))?;
    let medium = Medium::parse("medium", &raw_medium).map_err(ApiError::from)?;
    let (recipients, recipients_field) = recipients(&st, org.0, medium, &body).await?;
    let ctx = ctx?;
    let new = NewNotification { title, description, medium, recipients, recipients_field };
    let committed = cmd::send(&st.store, &ctx, org, caller.user_id, new).await?;
    Ok(st
        .respond(&ctx, committed, |_, r| async move {
            let answer = SendNotificationAnswer { success: true, notification_id: r.notification_id };
            Ok((StatusCode::ACCEPTED, axum::Json(answer)).into_response())
        })
        .await?)
}

/// Roster: the caller's in-app inbox (what INAPP notifications reached them), newest first.
#[utoipa::path(get, path = "/api/notifications", tag = "WorkDrive",
    params(("cur_page" = Option<i64>, Query, description = "default 1"), ("per_page" = Option<i64>, Query, description = "default 10, at most 1000"),
        ("unread" = Option<bool>, Query, description = "only unread ones")),
    responses((status = 200, body = InboxPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_notifications(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<InboxQuery>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let unread = bool_param("unread", q.unread.as_deref())?;
    let (rows, total) = read::inbox(&st.pool, org.0, caller.user_id.0, unread, offset, per_page).await?;
    let notifications = rows.into_iter().map(InboxItem::from).collect();
    Ok(axum::Json(InboxPage { notifications, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

/// Roster: the caller marks a notification of their inbox read (again: no change). One that is
/// not in their inbox is 404.
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 200, body = Success), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn read_notification(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let id = Uuid::parse_str(id.trim()).map_err(|_| ApiError::NotFound("notification not found".into()))?;
    let ctx = ctx?;
    let committed = cmd::mark_read(&st.store, &ctx, org, caller.user_id, id).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(axum::Json(Success { success: true }).into_response()) }).await?)
}

/// What the inbox stream makes of one delivery: the caller's in-app ones only, rendered from the
/// inbox once the read models have it (the SSE push and `GET /api/notifications` show the same).
async fn push(st: AppState, org: Uuid, user: Uuid, e: Envelope) -> Result<Verdict<SseEvent>, ApiError> {
    let Ok(NotificationEvent::NotificationDelivered { id, recipient, medium: Medium::Inapp, .. }) =
        NotificationEvent::from_parts(&e.event_type, e.schema_rev, e.payload)
    else {
        return Ok(Verdict::Skip);
    };
    if recipient.0 != user {
        return Ok(Verdict::Skip);
    }
    // The stream may see the event before the content projection has applied it. If the
    // projection is still behind when the wait ends, the stream ends rather than skip the item:
    // the client resumes after the last item it got (`Last-Event-ID`) and gets this one then.
    let applied = st.consistency.wait(e.position, st.consistency_timeout).await;
    let Some(row) = read::inbox_item(&st.pool, org, user, id).await? else {
        return Ok(if applied { Verdict::Skip } else { Verdict::End(None) });
    };
    let item = SseEvent::default()
        .id(e.position.to_string())
        .event("notification")
        .json_data(InboxItem::from(row))
        .map_err(|_| ApiError::Internal)?;
    Ok(Verdict::Send(item))
}

/// Roster (DESIGN §11): the caller's in-app notifications as Server-Sent Events, as they are
/// delivered (`event: notification`, `data:` the inbox item, `id:` its log position); with
/// `Last-Event-ID`, first every delivery after it, however old, then the live ones. The stream
/// ends when a delivery is not in the inbox within the consistency timeout; the client resumes.
#[utoipa::path(get, path = "/api/notifications/stream", tag = "WorkDrive",
    params(("Last-Event-ID" = Option<String>, Header, description = "the id of the last event received")),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "event: notification, data: InboxItem"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn stream_notifications(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    headers: axum::http::HeaderMap,
) -> Result<Response, Error> {
    let org = caller.org()?.0;
    let user = caller.user_id.0;
    let after = live::last_event_id(&headers)?;
    let selector = Selector {
        org,
        stream_type: Some(NotificationEvent::STREAM_TYPE.into()),
        stream_id: None,
        event_type: Some("NotificationDelivered".into()),
    };
    let state = st.clone();
    let items = live::follow(&st, selector, after, move |e| push(state.clone(), org, user, e)).await?;
    Ok(Sse::new(items.map(Ok::<_, Infallible>)).keep_alive(KeepAlive::default()).into_response())
}
