//! Group chats (WorkDrive E51–E54), Roster's members endpoints, messages (E55 and Roster's read),
//! the live stream of a conversation's messages (Roster, Server-Sent Events) and meetings in a
//! conversation (E56), DESIGN §11.
//!
//! Who may see a group chat: its org unless it is private, and its participants (org admins see
//! everything of their org); anyone else gets 404, like another org's. Messages, the stream and
//! meetings are for participants: a member who may see the chat but is not a participant gets
//! 403. Admins of the chat change, delete it and manage its members (403 for other readers).
//!
//! Decisions the seed leaves open:
//! - `null` in a create is the same as absent. In E53, `null` clears `description`, `fileId` and
//!   `category`, `isPrivate: null` is `false`, `newAdmins`/`removedAdmins: null` are empty, and a
//!   CHAT_GROUP's `title` cannot be cleared. A new admin must already be a participant.
//! - `fileId` and `category` (an existing category of the GROUP_CHAT module, E39) are CHAT_GROUP
//!   only: a ROOM that sends them is refused.
//! - Members: `POST /api/group-chats/{id}/members` `{members: [{id, isAdmin}]}` adds (or makes
//!   admin); `DELETE` with `{userIds: [...]}` removes. A participant may remove themselves; the
//!   last admin cannot be removed.
//! - Messages read newest first in pages of `per_page` (default 10); `cursor` is the id of the
//!   last message of the previous page, `nextCursor` the next page's (`null` at the end).
//! - The stream sends each message as `event: message`, `id:` its log position, `data:` the
//!   Message; a client that reconnects with `Last-Event-ID` gets every message after it, once.
//!   A participant is sent only messages posted after they (last) joined. When the participant is
//!   removed or the chat deleted, the stream sends `event: closed` and ends.
//! - E56 takes E20's body (title, userIds, startDateTime, endDateTime, posterId, duration, ...)
//!   and sets `isMeeting` and `conversationId`. Without `permissions`, a private chat's meeting is
//!   visible to its participants, a public chat's to the org.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use chrono::{DateTime, Utc};
use commands::handlers::conversations as cmd;
use commands::Envelope;
use domain::conversation::{
    ConversationEvent, ConversationInfo, ConversationPatch, GroupType, Member, MessageBody as DomainMessage, MessageKind, MAX_CATEGORY_LEN,
    MAX_DESCRIPTION_LEN, MAX_MENTIONS, MAX_MESSAGE_FILES, MAX_MESSAGE_LEN, MAX_PARTICIPANTS, MAX_TITLE_LEN,
};
use domain::patch::Patch;
use domain::{DomainEvent, UserId};
use futures::StreamExt;
use projections::content::audience::Reader;
use projections::content::conversations::{self as read, ConversationFilter, ConversationRow, MessageRow};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::content::{reader, OneOrMany};
use super::events::EventBody;
use super::media::{files_by_id, File};
use super::{bool_param, paging, Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::kernel::live::{self, Selector, Verdict};
use crate::AppState;

const _: () = assert!(
    MAX_TITLE_LEN == 300
        && MAX_DESCRIPTION_LEN == 4000
        && MAX_CATEGORY_LEN == 200
        && MAX_PARTICIPANTS == 1000
        && MAX_MESSAGE_LEN == 10_000
        && MAX_MESSAGE_FILES == 50
        && MAX_MENTIONS == 100,
    "update the bounds stated in the request shapes"
);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/group-chats", get(list_group_chats).post(create_group_chat).delete(delete_group_chats))
        .route("/api/group-chats/{id}", patch(update_group_chat).delete(delete_group_chat))
        .route("/api/group-chats/{id}/members", post(add_members).delete(remove_members))
        .route("/api/group-chats/{id}/stream", get(stream_messages))
        .route("/api/group-chats/{id}/meetings", post(create_meeting))
        .route("/api/{conversationId}/messages", get(list_messages).post(post_message))
}

#[derive(OpenApi)]
#[openapi(paths(
    list_group_chats,
    create_group_chat,
    update_group_chat,
    delete_group_chats,
    delete_group_chat,
    add_members,
    remove_members,
    list_messages,
    post_message,
    stream_messages,
    create_meeting
))]
pub struct Doc;

// ----- request shapes -------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberBody {
    /// A user of the organization. Required.
    pub id: Option<Uuid>,
    /// Default false.
    pub is_admin: Option<bool>,
}

/// E52.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupChatBody {
    /// `CHAT_GROUP` or `ROOM`. Required.
    pub group_type: Option<String>,
    /// Required for a CHAT_GROUP.
    #[schema(max_length = 300)]
    pub title: Option<String>,
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    /// Default false (the whole org sees it).
    pub is_private: Option<bool>,
    pub by_request: Option<bool>,
    /// The members besides the creator (who is one, and an admin).
    #[schema(max_items = 1000)]
    pub members: Option<Vec<MemberBody>>,
    /// CHAT_GROUP only: an uploaded file of the organization (the cover).
    pub file_id: Option<Uuid>,
    /// CHAT_GROUP only: an existing category of the GROUP_CHAT module.
    #[schema(max_length = 200)]
    pub category: Option<String>,
}

/// E53; every field optional (see the module docs for `null`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateGroupChatBody {
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_private: Patch<bool>,
    /// Participants who become admins.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 1000)]
    pub new_admins: Patch<Vec<Uuid>>,
    /// Admins who stop being admins; the last admin stays (400).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 1000)]
    pub removed_admins: Patch<Vec<Uuid>>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub file_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub category: Patch<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AddMembersBody {
    #[schema(max_items = 1000)]
    pub members: Option<Vec<MemberBody>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoveMembersBody {
    #[schema(max_items = 1000)]
    pub user_ids: Option<Vec<Uuid>>,
}

/// E55: `message` or `fileId` is required.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageBody {
    #[schema(max_length = 10000)]
    pub message: Option<String>,
    /// Mentioned users of the organization (a string is one id).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 100)]
    pub mention: Option<OneOrMany<Uuid>>,
    /// A message of this conversation.
    pub reply_of_msg_id: Option<Uuid>,
    /// Uploaded files of the organization (the name is singular, the value a list; a string is
    /// one id).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 50)]
    pub file_id: Option<OneOrMany<Uuid>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListQuery {
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
    pub group_type: Option<String>,
    pub my_group_chats: Option<String>,
    pub include_participants: Option<String>,
    pub time: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MessagesQuery {
    pub per_page: Option<String>,
    /// The id of the last message of the previous page.
    pub cursor: Option<String>,
}

// ----- response shapes ------------------------------------------------------------------------------

/// E51's item (spec §1 ConversationSummary), `participants` with `include_participants=true`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub id: Uuid,
    pub group_id: Uuid,
    pub title: Option<String>,
    pub is_channel: bool,
    pub is_private: bool,
    pub by_request: bool,
    pub category: Option<String>,
    pub image: Option<File>,
    /// CHAT_GROUP or ROOM.
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<UserSummary>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationsPage {
    pub conversations: Vec<ConversationSummary>,
    pub meta: PageMeta,
}

/// Spec §1 Conversation (calls, tickets and experts are not part of Roster: always empty).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub created_by: Uuid,
    pub updated_by: Option<Uuid>,
    pub group_id: Uuid,
    #[schema(value_type = Option<Object>)]
    pub last_call: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub scheduled_call: Option<serde_json::Value>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub image: Option<File>,
    pub color: Option<String>,
    pub is_channel: bool,
    pub is_private: bool,
    pub by_request: bool,
    /// CHAT_GROUP or ROOM.
    #[serde(rename = "type")]
    pub kind: String,
    pub category: Option<String>,
    pub new_response_count: i64,
    pub participants: Vec<UserSummary>,
    pub muted: bool,
    #[schema(value_type = Object)]
    pub meta: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub reactions: Vec<serde_json::Value>,
    /// The admins' user ids.
    pub admins: Vec<Uuid>,
}

/// Spec §1 EventMini: the meeting a message of the event kind announces.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventMini {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub created_by: Uuid,
    pub updated_by: Option<Uuid>,
    pub title: String,
    pub location: Option<String>,
    pub start_date_time: DateTime<Utc>,
    pub end_date_time: DateTime<Utc>,
    pub is_meeting: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageFiles {
    pub files: Vec<File>,
}

/// Spec §1 Message (with `mention` a list), plus Roster's `conversationId`, `kind` and `eventId`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub updated_by: Option<Uuid>,
    pub message: String,
    pub is_edited: bool,
    pub reply_of_msg_id: Option<Uuid>,
    pub sender: Option<UserSummary>,
    pub files: MessageFiles,
    pub mention: Vec<UserSummary>,
    #[schema(value_type = Vec<Object>)]
    pub reactions: Vec<serde_json::Value>,
    /// 1 = text, 2 = event.
    #[serde(rename = "type")]
    pub type_code: i32,
    /// `text` or `event`.
    pub kind: String,
    pub replies_count: i64,
    pub event_id: Option<Uuid>,
    /// The meeting, when the caller may see it (and, on the live stream, once it is projected).
    pub event: Option<EventMini>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagesPage {
    pub messages: Vec<Message>,
    /// The `cursor` of the next (older) page; `null` at the end.
    pub next_cursor: Option<Uuid>,
}

// ----- rendering ------------------------------------------------------------------------------------

async fn summaries(st: &AppState, org: Uuid, mut ids: Vec<Uuid>) -> Result<HashMap<Uuid, UserSummary>, ApiError> {
    ids.sort_unstable();
    ids.dedup();
    Ok(projections::queries::users_by_ids(&st.pool, org, &ids).await?.iter().map(|u| (u.id, UserSummary::from(u))).collect())
}

/// Rows with their participants (when asked), admins and covers, in three reads.
async fn render(st: &AppState, org: Uuid, rows: Vec<ConversationRow>, with_people: bool) -> Result<Vec<Conversation>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let parts = read::participants(&st.pool, &ids).await?;
    let people = if with_people { summaries(st, org, parts.iter().map(|p| p.user_id).collect()).await? } else { HashMap::new() };
    let covers: Vec<Uuid> = rows.iter().filter_map(|r| r.file_id).collect();
    let files = files_by_id(st, org, &covers).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine: Vec<_> = parts.iter().filter(|p| p.conversation_id == r.id).collect();
            Conversation {
                id: r.id,
                created_at: r.created_at,
                updated_at: r.updated_at,
                created_by: r.created_by,
                updated_by: r.updated_by,
                group_id: r.id,
                last_call: None,
                scheduled_call: None,
                title: r.title,
                description: r.description,
                image: r.file_id.and_then(|f| files.get(&f).cloned()),
                color: None,
                is_channel: false,
                is_private: r.is_private,
                by_request: r.by_request,
                kind: r.group_type,
                category: r.category,
                new_response_count: 0,
                participants: mine.iter().filter_map(|p| people.get(&p.user_id).cloned()).collect(),
                muted: false,
                meta: serde_json::json!({}),
                reactions: vec![],
                admins: mine.iter().filter(|p| p.is_admin).map(|p| p.user_id).collect(),
            }
        })
        .collect())
}

/// The conversation `raw` names when the caller may see it; 404 otherwise.
async fn visible(st: &AppState, reader: Reader, raw: &str) -> Result<ConversationRow, ApiError> {
    let id = dialect::uuid_path(raw.trim(), "group chat")?;
    read::visible(&st.pool, reader, id).await?.ok_or_else(|| ApiError::NotFound("group chat not found".into()))
}

/// As [`visible`], and the caller must be a participant (403 otherwise).
async fn participating(st: &AppState, reader: Reader, raw: &str) -> Result<ConversationRow, ApiError> {
    let row = visible(st, reader, raw).await?;
    if read::participation(&st.pool, row.id, reader.user).await?.is_none() {
        return Err(ApiError::Forbidden("only participants of this group chat may do this".into()));
    }
    Ok(row)
}

async fn answer_one(st: &AppState, reader: Reader, id: Uuid, status: StatusCode) -> Result<Response, ApiError> {
    let row = read::visible(&st.pool, reader, id).await?.ok_or(ApiError::Internal)?;
    let one = render(st, reader.org, vec![row], true).await?.pop().ok_or(ApiError::Internal)?;
    Ok((status, axum::Json(one)).into_response())
}

fn stored(r: MessageRow) -> DomainMessage {
    DomainMessage {
        kind: if r.kind == "event" { MessageKind::Event } else { MessageKind::Text },
        text: r.message,
        file_ids: r.file_ids,
        mentions: r.mentions.into_iter().map(UserId).collect(),
        reply_of: r.reply_of,
        event_id: r.event_id,
    }
}

/// One message to render: as stored, or as just posted (the live stream renders from the event).
struct Posted {
    id: Uuid,
    conversation_id: Uuid,
    sender: Uuid,
    at: DateTime<Utc>,
    replies: i64,
    body: DomainMessage,
}

impl From<MessageRow> for Posted {
    fn from(r: MessageRow) -> Self {
        Posted {
            id: r.id,
            conversation_id: r.conversation_id,
            sender: r.sender,
            at: r.created_at,
            replies: i64::from(r.replies_count),
            body: stored(r),
        }
    }
}

async fn render_messages(st: &AppState, reader: Reader, posted: Vec<Posted>) -> Result<Vec<Message>, ApiError> {
    let people = summaries(
        st,
        reader.org,
        posted.iter().flat_map(|p| std::iter::once(p.sender).chain(p.body.mentions.iter().map(|u| u.0))).collect(),
    )
    .await?;
    let file_ids: Vec<Uuid> = posted.iter().flat_map(|p| p.body.file_ids.iter().copied()).collect();
    // Most messages carry no file: no read for them (the live stream renders once per participant).
    let files = if file_ids.is_empty() { HashMap::new() } else { files_by_id(st, reader.org, &file_ids).await? };
    let mut events = HashMap::new();
    for id in posted.iter().filter_map(|p| p.body.event_id) {
        if let Some(e) = projections::content::calendar::visible(&st.pool, reader, id).await? {
            events.insert(id, e);
        }
    }
    Ok(posted
        .into_iter()
        .map(|p| Message {
            id: p.id,
            conversation_id: p.conversation_id,
            created_at: p.at,
            updated_at: p.at,
            created_by: p.sender,
            updated_by: None,
            message: p.body.text,
            is_edited: false,
            reply_of_msg_id: p.body.reply_of,
            sender: people.get(&p.sender).cloned(),
            files: MessageFiles { files: p.body.file_ids.iter().filter_map(|f| files.get(f).cloned()).collect() },
            mention: p.body.mentions.iter().filter_map(|u| people.get(&u.0).cloned()).collect(),
            reactions: vec![],
            type_code: if p.body.kind == MessageKind::Event { 2 } else { 1 },
            kind: p.body.kind.as_str().to_string(),
            replies_count: p.replies,
            event_id: p.body.event_id,
            event: p.body.event_id.and_then(|id| events.remove(&id)).map(|e| EventMini {
                id: e.id,
                created_at: e.created_at,
                updated_at: e.updated_at,
                created_by: e.created_by,
                updated_by: e.updated_by,
                title: e.title,
                location: e.location,
                start_date_time: e.start_at,
                end_date_time: e.end_at,
                is_meeting: e.is_meeting,
            }),
        })
        .collect())
}

// ----- parsing --------------------------------------------------------------------------------------

fn members(field: &str, v: Vec<MemberBody>) -> Result<Vec<Member>, ApiError> {
    if v.len() > MAX_PARTICIPANTS {
        return Err(ApiError::invalid(field, format!("must have at most {MAX_PARTICIPANTS} entries")));
    }
    v.into_iter()
        .enumerate()
        .map(|(i, m)| {
            let user = m.id.ok_or_else(|| ApiError::invalid(format!("{field}[{i}].id"), "is required"))?;
            Ok(Member { user: UserId(user), is_admin: m.is_admin.unwrap_or(false) })
        })
        .collect()
}

fn users(field: &str, v: Vec<Uuid>) -> Result<Vec<UserId>, ApiError> {
    if v.len() > MAX_PARTICIPANTS {
        return Err(ApiError::invalid(field, format!("must have at most {MAX_PARTICIPANTS} entries")));
    }
    Ok(v.into_iter().map(UserId).collect())
}

fn opt<T>(p: Patch<T>) -> Option<Option<T>> {
    match p {
        Patch::Keep => None,
        Patch::Clear => Some(None),
        Patch::Set(v) => Some(Some(v)),
    }
}

impl UpdateGroupChatBody {
    fn into_patch(self) -> Result<ConversationPatch, ApiError> {
        Ok(ConversationPatch {
            title: opt(self.title),
            description: opt(self.description),
            is_private: opt(self.is_private).map(|v| v.unwrap_or(false)),
            file_id: opt(self.file_id),
            category: opt(self.category),
            new_admins: users("newAdmins", self.new_admins.or_default().unwrap_or_default())?,
            removed_admins: users("removedAdmins", self.removed_admins.or_default().unwrap_or_default())?,
        })
    }
}

/// E54's ids: repeated (`id=a&id=b`) or comma-separated (`id=a,b`), each a UUID.
fn delete_ids(query: Option<&str>) -> Result<Vec<Uuid>, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or_default()).map_err(|_| ApiError::invalid("id", "the query string is malformed"))?;
    let mut ids = Vec::new();
    for raw in pairs.iter().filter(|(k, _)| k == "id" || k == "id[]").flat_map(|(_, v)| v.split(',')) {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let id = Uuid::parse_str(raw).map_err(|_| ApiError::invalid("id", format!("must be a UUID, got '{raw}'")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(ApiError::invalid("id", "is required: one or more group chat ids"));
    }
    if ids.len() > MAX_PARTICIPANTS {
        return Err(ApiError::invalid("id", format!("must have at most {MAX_PARTICIPANTS} entries")));
    }
    Ok(ids)
}

// ----- endpoints ------------------------------------------------------------------------------------

/// E51: one page of the group chats the caller may see, newest first.
#[utoipa::path(get, path = "/api/group-chats", tag = "WorkDrive",
    params(("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query), ("group_type" = Option<String>, Query, description = "CHAT_GROUP or ROOM"),
        ("my_group_chats" = Option<bool>, Query, description = "only those the caller participates in"),
        ("include_participants" = Option<bool>, Query), ("time" = Option<DateTime<Utc>>, Query, description = "created at or before")),
    responses((status = 200, body = ConversationsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_group_chats(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<ListQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let group_type = q.group_type.as_deref().map(str::trim).filter(|s| !s.is_empty());
    // Sent empty, it is not a date-time (what the document says it is), so it is refused.
    let time = match q.time.as_deref().map(str::trim) {
        Some(raw) => {
            let at = DateTime::parse_from_rfc3339(raw)
                .map_err(|_| ApiError::invalid("time", format!("must be an ISO-8601 date-time with an offset, got '{raw}'")))?;
            Some(domain::values::check_instant("time", at.with_timezone(&Utc)).map_err(ApiError::from)?)
        }
        None => None,
    };
    let filter = ConversationFilter {
        group_type: group_type
            .map(|g| GroupType::parse("group_type", g))
            .transpose()
            .map_err(ApiError::from)?
            .map(|g| g.as_str().to_string()),
        mine: bool_param("my_group_chats", q.my_group_chats.as_deref())?,
        time,
    };
    let with_people = bool_param("include_participants", q.include_participants.as_deref())?;
    let (rows, total) = read::page(&st.pool, reader, &filter, offset, per_page).await?;
    let conversations = render(&st, reader.org, rows, with_people)
        .await?
        .into_iter()
        .map(|c| ConversationSummary {
            id: c.id,
            group_id: c.group_id,
            title: c.title,
            is_channel: false,
            is_private: c.is_private,
            by_request: c.by_request,
            category: c.category,
            image: c.image,
            kind: c.kind,
            created_at: c.created_at,
            participants: with_people.then_some(c.participants),
        })
        .collect();
    Ok(axum::Json(ConversationsPage { conversations, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

/// E52: a new group chat or room; the caller becomes a participant and its admin.
#[utoipa::path(post, path = "/api/group-chats", tag = "WorkDrive", request_body = CreateGroupChatBody,
    responses((status = 201, body = Conversation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_group_chat(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreateGroupChatBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let raw_type = body.group_type.ok_or_else(|| ApiError::invalid("groupType", "is required: CHAT_GROUP or ROOM"))?;
    let group_type = GroupType::parse("groupType", &raw_type).map_err(ApiError::from)?;
    let info = ConversationInfo {
        title: body.title,
        description: body.description,
        is_private: body.is_private.unwrap_or(false),
        by_request: body.by_request.unwrap_or(false),
        file_id: body.file_id,
        category: body.category,
    };
    let members = members("members", body.members.unwrap_or_default())?;
    let ctx = ctx?;
    let committed = cmd::create_conversation(&st.store, &ctx, caller.org()?, caller.user_id, group_type, info, members).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer_one(&st, reader, r.conversation_id, StatusCode::CREATED).await }).await?)
}

/// E53: changes a group chat (its admins; 403 for other readers). Answers it with `admins`.
#[utoipa::path(patch, path = "/api/group-chats/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = UpdateGroupChatBody,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_group_chat(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<UpdateGroupChatBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = visible(&st, reader, &id).await?;
    let patch = body.into_patch()?;
    let ctx = ctx?;
    let committed = cmd::update_conversation(&st.store, &ctx, caller.org()?, caller.user_id, row.id, patch).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer_one(&st, reader, r.conversation_id, StatusCode::OK).await }).await?)
}

async fn delete(st: AppState, write: Write, ids: Vec<Uuid>) -> Result<Response, Error> {
    let Write { caller, ctx } = write;
    let reader = reader(&caller)?;
    for id in &ids {
        read::visible(&st.pool, reader, *id).await?.ok_or_else(|| ApiError::NotFound(format!("group chat {id} not found")))?;
    }
    let ctx = ctx?;
    let committed = cmd::delete_conversations(&st.store, &ctx, caller.org()?, caller.user_id, ids).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}

/// E54: deletes group chats, all or none (an admin of each): `id` repeated or comma-separated.
#[utoipa::path(delete, path = "/api/group-chats", tag = "WorkDrive",
    params(("id" = Vec<Uuid>, Query, description = "repeated (id=a&id=b) or comma-separated (id=a,b)")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_group_chats(State(st): State<AppState>, write: Write, RawQuery(query): RawQuery) -> Result<Response, Error> {
    let ids = delete_ids(query.as_deref())?;
    delete(st, write, ids).await
}

/// E54's alias for one group chat (spec §2 E54).
#[utoipa::path(delete, path = "/api/group-chats/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_group_chat(State(st): State<AppState>, write: Write, Path(id): Path<String>) -> Result<Response, Error> {
    let id = dialect::uuid_path(id.trim(), "group chat")?;
    delete(st, write, vec![id]).await
}

/// Roster (DESIGN §11): the chat's admins add members (`isAdmin` makes a new or existing
/// participant an admin). Answers the conversation.
#[utoipa::path(post, path = "/api/group-chats/{id}/members", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = AddMembersBody,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn add_members(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<AddMembersBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = visible(&st, reader, &id).await?;
    let members = members("members", body.members.ok_or_else(|| ApiError::invalid("members", "is required"))?)?;
    let ctx = ctx?;
    let committed = cmd::add_members(&st.store, &ctx, caller.org()?, caller.user_id, row.id, members).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer_one(&st, reader, r.conversation_id, StatusCode::OK).await }).await?)
}

/// Roster (DESIGN §11): the chat's admins remove members (a participant may remove themselves);
/// the last admin stays (400). A removed participant's live stream ends. Answers the conversation
/// (404 when the caller removed themselves from a private chat).
#[utoipa::path(delete, path = "/api/group-chats/{id}/members", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = RemoveMembersBody,
    responses((status = 200, body = Conversation), (status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn remove_members(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<RemoveMembersBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = visible(&st, reader, &id).await?;
    let users = users("userIds", body.user_ids.ok_or_else(|| ApiError::invalid("userIds", "is required"))?)?;
    let ctx = ctx?;
    let committed = cmd::remove_members(&st.store, &ctx, caller.org()?, caller.user_id, row.id, users).await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            // The caller who left a private chat may no longer see it.
            match read::visible(&st.pool, reader, r.conversation_id).await? {
                Some(_) => answer_one(&st, reader, r.conversation_id, StatusCode::OK).await,
                None => Ok(StatusCode::NO_CONTENT.into_response()),
            }
        })
        .await?)
}

/// Roster (DESIGN §11): a page of the conversation's messages, newest first (participants only).
#[utoipa::path(get, path = "/api/{conversationId}/messages", tag = "WorkDrive",
    params(("conversationId" = Uuid, Path), ("per_page" = Option<i64>, Query), ("cursor" = Option<Uuid>, Query, description = "the previous page's nextCursor")),
    responses((status = 200, body = MessagesPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_messages(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    Path(id): Path<String>,
    dialect::Query(q, _): Query<MessagesQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = participating(&st, reader, &id).await?;
    let (_, per_page, _) = paging(None, q.per_page.as_deref())?;
    let cursor = match q.cursor.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            let id = Uuid::parse_str(raw).map_err(|_| ApiError::invalid("cursor", "must be a nextCursor this endpoint returned"))?;
            read::message(&st.pool, row.id, id).await?.ok_or_else(|| ApiError::invalid("cursor", "no message of this conversation"))?;
            Some(id)
        }
        None => None,
    };
    // One more than a page tells whether another page follows.
    let mut rows = read::messages(&st.pool, row.id, cursor, per_page + 1).await?;
    let more = rows.len() as i64 > per_page;
    rows.truncate(per_page as usize);
    let next_cursor = if more { rows.last().map(|r| r.id) } else { None };
    let messages = render_messages(&st, reader, rows.into_iter().map(Posted::from).collect()).await?;
    Ok(axum::Json(MessagesPage { messages, next_cursor }).into_response())
}

/// E55: a participant posts a message (`message` or `fileId` required; 403 for other readers).
#[utoipa::path(post, path = "/api/{conversationId}/messages", tag = "WorkDrive", params(("conversationId" = Uuid, Path)), request_body = MessageBody,
    responses((status = 201, body = Message), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn post_message(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<MessageBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = participating(&st, reader, &id).await?;
    let mentions = body.mention.unwrap_or_default().into_vec();
    let file_ids = body.file_id.unwrap_or_default().into_vec();
    if mentions.len() > MAX_MENTIONS {
        return Err(ApiError::invalid("mention", format!("must have at most {MAX_MENTIONS} entries")).into());
    }
    if file_ids.len() > MAX_MESSAGE_FILES {
        return Err(ApiError::invalid("fileId", format!("must have at most {MAX_MESSAGE_FILES} entries")).into());
    }
    if let Some(parent) = body.reply_of_msg_id {
        read::message(&st.pool, row.id, parent)
            .await?
            .ok_or_else(|| ApiError::invalid("replyOfMsgId", format!("no message {parent} in this conversation")))?;
    }
    let message = DomainMessage {
        kind: MessageKind::Text,
        text: body.message.unwrap_or_default(),
        file_ids,
        mentions: mentions.into_iter().map(UserId).collect(),
        reply_of: body.reply_of_msg_id,
        event_id: None,
    }
    .checked()
    .map_err(ApiError::from)?;
    let ctx = ctx?;
    let committed = cmd::post_message(&st.store, &ctx, caller.org()?, caller.user_id, row.id, message).await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            let row = read::message(&st.pool, r.conversation_id, r.message_id).await?.ok_or(ApiError::Internal)?;
            let one = render_messages(&st, reader, vec![row.into()]).await?.pop().ok_or(ApiError::Internal)?;
            Ok((StatusCode::CREATED, axum::Json(one)).into_response())
        })
        .await?)
}

/// What the stream makes of one event of the conversation, at the moment it would push it: the
/// caller's participation is asked again each time (DESIGN §11, one visibility rule).
async fn push(st: AppState, reader: Reader, conversation: Uuid, e: Envelope) -> Result<Verdict<SseEvent>, ApiError> {
    let closed = |why: &str| Verdict::End(Some(SseEvent::default().event("closed").data(why)));
    let event = ConversationEvent::from_parts(&e.event_type, e.schema_rev, e.payload).map_err(|err| {
        tracing::warn!(error = %err, "live stream: undecodable conversation event");
        ApiError::Internal
    })?;
    match event {
        ConversationEvent::ConversationDeleted { .. } => Ok(closed("deleted")),
        ConversationEvent::ParticipantsRemoved { users, .. } if users.contains(&UserId(reader.user)) => {
            // A removal the caller has since been re-added after is history, not the end.
            match read::participation(&st.pool, conversation, reader.user).await? {
                Some(joined) if joined > e.position => Ok(Verdict::Skip),
                _ => Ok(closed("removed")),
            }
        }
        ConversationEvent::MessagePosted { id, message_id, sender, at, message } => {
            match read::participation(&st.pool, conversation, reader.user).await? {
                None => Ok(closed("removed")),
                Some(joined) if e.position <= joined => Ok(Verdict::Skip),
                Some(_) => {
                    let posted = Posted { id: message_id, conversation_id: id, sender: sender.0, at, replies: 0, body: message };
                    let one = render_messages(&st, reader, vec![posted]).await?.pop().ok_or(ApiError::Internal)?;
                    let item =
                        SseEvent::default().id(e.position.to_string()).event("message").json_data(&one).map_err(|_| ApiError::Internal)?;
                    Ok(Verdict::Send(item))
                }
            }
        }
        _ => Ok(Verdict::Skip),
    }
}

/// Roster (DESIGN §11): the conversation's new messages as Server-Sent Events (participants
/// only), `id:` each message's position; with `Last-Event-ID`, first every message after it,
/// however old. Ends with `event: closed` when the caller is removed or the chat deleted.
#[utoipa::path(get, path = "/api/group-chats/{id}/stream", tag = "WorkDrive",
    params(("id" = Uuid, Path), ("Last-Event-ID" = Option<String>, Header, description = "the id of the last event received")),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "event: message, data: Message"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn stream_messages(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let after = live::last_event_id(&headers)?;
    let row = participating(&st, reader, &id).await?;
    let conversation = row.id;
    let selector = Selector::stream(reader.org, domain::conversation::ConversationEvent::STREAM_TYPE, conversation);
    let state = st.clone();
    let items = live::follow(&st, selector, after, move |e| push(state.clone(), reader, conversation, e)).await?;
    Ok(Sse::new(items.map(Ok::<_, Infallible>)).keep_alive(KeepAlive::default()).into_response())
}

/// E56: a participant creates a meeting in the conversation (E20's body; `isMeeting` and
/// `conversationId` are set) and it is announced there with a message of the event kind.
/// Answers the event.
#[utoipa::path(post, path = "/api/group-chats/{id}/meetings", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = EventBody,
    responses((status = 201, body = super::events::Event), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_meeting(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<EventBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let row = participating(&st, reader, &id).await?;
    let audience_given = matches!(body.permissions, Patch::Set(_));
    let input = body.into_input()?;
    let ctx = ctx?;
    let committed = cmd::create_meeting(&st.store, &ctx, caller.org()?, caller.user_id, row.id, input, audience_given).await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            Ok((StatusCode::CREATED, axum::Json(super::events::one(&st, reader, r.event_id).await?)).into_response())
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_ids_are_repeated_or_comma_separated() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(delete_ids(Some(&format!("id={a}&id={b}"))).unwrap(), vec![a, b]);
        assert_eq!(delete_ids(Some(&format!("id={a},{b},{a}"))).unwrap(), vec![a, b]);
        assert!(delete_ids(None).is_err());
        assert!(delete_ids(Some("id=nope")).is_err());
    }

    #[test]
    fn a_patch_reads_null_as_clear_and_absent_as_keep() {
        let body: UpdateGroupChatBody = serde_json::from_str(r#"{"description": null, "isPrivate": null, "newAdmins": null}"#).unwrap();
        let p = body.into_patch().unwrap();
        assert_eq!(p.description, Some(None));
        assert_eq!(p.is_private, Some(false));
        assert_eq!(p.title, None);
        assert!(p.new_admins.is_empty());
    }
}
