//! Conversations (WorkDrive E51–E56): group chats and rooms, their participants and messages.
//!
//! Who may see a conversation is stored as audience grants (the org unless private, and every
//! participant), so lists ask the one visibility question in SQL. Participation is a separate
//! question (posting, reading messages, the live stream) answered by `conversation_participants`.

use chrono::{DateTime, Utc};
use domain::audience::Grant;
use domain::conversation::{ConversationEvent, ConversationInfo};
use domain::{OrgId, UserId};
use eventlog::{Envelope, Position};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::audience::{self, Reader};
use crate::ApplyError;

/// Rewrites a conversation's grants from its stored row and participants.
async fn regrant(conn: &mut PgConnection, id: Uuid) -> Result<(), ApplyError> {
    let Some(row) = sqlx::query!("SELECT org_id, is_private FROM conversations WHERE id = $1", id).fetch_optional(&mut *conn).await? else {
        return Ok(());
    };
    let users =
        sqlx::query_scalar!("SELECT user_id FROM conversation_participants WHERE conversation_id = $1", id).fetch_all(&mut *conn).await?;
    let mut grants: Vec<Grant> = users.into_iter().map(|u| Grant::User(UserId(u))).collect();
    if !row.is_private {
        grants.push(Grant::Org(OrgId(row.org_id)));
    }
    audience::replace(conn, OrgId(row.org_id), id, &grants).await?;
    Ok(())
}

async fn store_info(conn: &mut PgConnection, id: Uuid, info: &ConversationInfo) -> Result<(), ApplyError> {
    sqlx::query!(
        "UPDATE conversations SET title = $2, description = $3, is_private = $4, by_request = $5, file_id = $6, category = $7
         WHERE id = $1",
        id,
        info.title,
        info.description,
        info.is_private,
        info.by_request,
        info.file_id,
        info.category,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn join(conn: &mut PgConnection, id: Uuid, users: &[Uuid], admins: &[Uuid], at: Position) -> Result<(), ApplyError> {
    // A user named again keeps their joining position (and gains admin when named so).
    sqlx::query!(
        "INSERT INTO conversation_participants (conversation_id, user_id, is_admin, joined_tx, joined_gid)
         SELECT $1, u, u = ANY($3), $4, $5 FROM (SELECT DISTINCT u FROM UNNEST($2::uuid[]) AS t(u)) d
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET is_admin = conversation_participants.is_admin OR EXCLUDED.is_admin",
        id,
        users,
        admins,
        at.tx,
        at.gid,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn apply(conn: &mut PgConnection, ev: &Envelope, event: ConversationEvent) -> Result<(), ApplyError> {
    match event {
        ConversationEvent::ConversationCreated { id, org_id, group_type, created_by, created_at, info, participants, admins } => {
            sqlx::query!(
                "INSERT INTO conversations (id, org_id, group_type, is_private, by_request, created_by, created_at)
                 VALUES ($1, $2, $3, false, false, $4, $5) ON CONFLICT DO NOTHING",
                id,
                org_id.0,
                group_type.as_str(),
                created_by.0,
                created_at,
            )
            .execute(&mut *conn)
            .await?;
            store_info(conn, id, &info).await?;
            let users: Vec<Uuid> = participants.iter().chain(admins.iter()).map(|u| u.0).collect();
            let admins: Vec<Uuid> = admins.iter().map(|u| u.0).collect();
            join(conn, id, &users, &admins, ev.position).await?;
            regrant(conn, id).await?;
        }
        ConversationEvent::ConversationUpdated { id, actor, updated_at, info, admins } => {
            store_info(conn, id, &info).await?;
            sqlx::query!("UPDATE conversations SET updated_by = $2, updated_at = $3 WHERE id = $1", id, actor.0, updated_at)
                .execute(&mut *conn)
                .await?;
            let admins: Vec<Uuid> = admins.iter().map(|u| u.0).collect();
            sqlx::query!("UPDATE conversation_participants SET is_admin = (user_id = ANY($2)) WHERE conversation_id = $1", id, &admins)
                .execute(&mut *conn)
                .await?;
            regrant(conn, id).await?;
        }
        ConversationEvent::ConversationDeleted { id, .. } => {
            sqlx::query!("DELETE FROM messages WHERE conversation_id = $1", id).execute(&mut *conn).await?;
            sqlx::query!("DELETE FROM conversation_participants WHERE conversation_id = $1", id).execute(&mut *conn).await?;
            sqlx::query!("DELETE FROM conversations WHERE id = $1", id).execute(&mut *conn).await?;
            audience::remove(conn, id).await?;
        }
        ConversationEvent::ParticipantsAdded { id, users, admins, .. } => {
            let all: Vec<Uuid> = users.iter().chain(admins.iter()).map(|u| u.0).collect();
            let admins: Vec<Uuid> = admins.iter().map(|u| u.0).collect();
            join(conn, id, &all, &admins, ev.position).await?;
            regrant(conn, id).await?;
        }
        ConversationEvent::ParticipantsRemoved { id, users, .. } => {
            let users: Vec<Uuid> = users.iter().map(|u| u.0).collect();
            sqlx::query!("DELETE FROM conversation_participants WHERE conversation_id = $1 AND user_id = ANY($2)", id, &users)
                .execute(&mut *conn)
                .await?;
            regrant(conn, id).await?;
        }
        ConversationEvent::MessagePosted { id, message_id, sender, at, message } => {
            let org = sqlx::query_scalar!("SELECT org_id FROM conversations WHERE id = $1", id).fetch_optional(&mut *conn).await?;
            let Some(org) = org else { return Ok(()) };
            let mentions: Vec<Uuid> = message.mentions.iter().map(|u| u.0).collect();
            let added = sqlx::query!(
                "INSERT INTO messages (id, conversation_id, org_id, sender, kind, message, file_ids, mentions, reply_of, event_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
                message_id,
                id,
                org,
                sender.0,
                message.kind.as_str(),
                message.text,
                &message.file_ids,
                &mentions,
                message.reply_of,
                message.event_id,
                at,
            )
            .execute(&mut *conn)
            .await?;
            if let (Some(parent), true) = (message.reply_of, added.rows_affected() > 0) {
                sqlx::query!("UPDATE messages SET replies_count = replies_count + 1 WHERE id = $1 AND conversation_id = $2", parent, id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct ConversationRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub group_type: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub is_private: bool,
    pub by_request: bool,
    pub file_id: Option<Uuid>,
    pub category: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "c.id, c.org_id, c.group_type, c.title, c.description, c.is_private, c.by_request, c.file_id, c.category,
    c.created_by, c.created_at, c.updated_by, c.updated_at";

/// E51's filters.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub group_type: Option<String>,
    /// Only those the reader participates in.
    pub mine: bool,
    /// Created at or before.
    pub time: Option<DateTime<Utc>>,
}

fn list_filter(qb: &mut QueryBuilder<'_, Postgres>, reader: Reader, f: &ConversationFilter) {
    qb.push(" FROM conversations c WHERE c.org_id = ").push_bind(reader.org);
    if let Some(t) = &f.group_type {
        qb.push(" AND c.group_type = ").push_bind(t.clone());
    }
    if let Some(t) = f.time {
        qb.push(" AND c.created_at <= ").push_bind(t);
    }
    if f.mine {
        qb.push(" AND EXISTS (SELECT 1 FROM conversation_participants p WHERE p.conversation_id = c.id AND p.user_id = ")
            .push_bind(reader.user)
            .push(")");
    }
    qb.push(" AND ");
    audience::push_visible(qb, reader, "c.id");
}

/// One page of the conversations of the reader's org the reader may see, newest first, and how
/// many there are.
pub async fn page(
    pool: &PgPool,
    reader: Reader,
    filter: &ConversationFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<ConversationRow>, i64), sqlx::Error> {
    let mut count = QueryBuilder::new("SELECT count(*)");
    list_filter(&mut count, reader, filter);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut page = QueryBuilder::new(format!("SELECT {COLUMNS}"));
    list_filter(&mut page, reader, filter);
    page.push(" ORDER BY c.created_at DESC, c.id DESC LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
    let rows = page.build_query_as::<ConversationRow>().fetch_all(pool).await?;
    Ok((rows, total))
}

/// The conversation `id` of the reader's org, when the reader may see it.
pub async fn visible(pool: &PgPool, reader: Reader, id: Uuid) -> Result<Option<ConversationRow>, sqlx::Error> {
    sqlx::query_as!(
        ConversationRow,
        "SELECT c.id, c.org_id, c.group_type, c.title, c.description, c.is_private, c.by_request, c.file_id, c.category,
                c.created_by, c.created_at, c.updated_by, c.updated_at
         FROM conversations c
         WHERE c.id = $1 AND c.org_id = $2
           AND ($3 OR EXISTS (SELECT 1 FROM audience a WHERE a.item_id = c.id
                AND (a.kind, a.ref) IN (SELECT kind, ref FROM content_reader_grants($4))))",
        id,
        reader.org,
        reader.admin,
        reader.user,
    )
    .fetch_optional(pool)
    .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantRow {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub is_admin: bool,
    pub joined: Position,
}

/// The participants of these conversations, admins first, then by user id.
pub async fn participants(pool: &PgPool, conversations: &[Uuid]) -> Result<Vec<ParticipantRow>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT conversation_id, user_id, is_admin, joined_tx, joined_gid FROM conversation_participants
         WHERE conversation_id = ANY($1) ORDER BY conversation_id, is_admin DESC, user_id",
        conversations,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ParticipantRow {
            conversation_id: r.conversation_id,
            user_id: r.user_id,
            is_admin: r.is_admin,
            joined: Position::new(r.joined_tx, r.joined_gid),
        })
        .collect())
}

/// `user`'s participation in `conversation` now: since which position, if any.
pub async fn participation(pool: &PgPool, conversation: Uuid, user: Uuid) -> Result<Option<Position>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT joined_tx, joined_gid FROM conversation_participants WHERE conversation_id = $1 AND user_id = $2",
        conversation,
        user,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Position::new(r.joined_tx, r.joined_gid)))
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub sender: Uuid,
    pub kind: String,
    pub message: String,
    pub file_ids: Vec<Uuid>,
    pub mentions: Vec<Uuid>,
    pub reply_of: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub replies_count: i32,
    pub created_at: DateTime<Utc>,
}

/// Up to `limit` messages of a conversation, newest first, older than the message `before` when
/// given (the cursor: ties on the time are broken by id, so pages neither skip nor repeat).
pub async fn messages(pool: &PgPool, conversation: Uuid, before: Option<Uuid>, limit: i64) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        "SELECT m.id, m.conversation_id, m.sender, m.kind, m.message, m.file_ids, m.mentions, m.reply_of, m.event_id,
                m.replies_count, m.created_at
         FROM messages m
         WHERE m.conversation_id = $1
           AND ($2::uuid IS NULL OR (m.created_at, m.id) < (SELECT b.created_at, b.id FROM messages b WHERE b.id = $2))
         ORDER BY m.created_at DESC, m.id DESC LIMIT $3",
        conversation,
        before,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// The message `id` when it belongs to `conversation`.
pub async fn message(pool: &PgPool, conversation: Uuid, id: Uuid) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        "SELECT id, conversation_id, sender, kind, message, file_ids, mentions, reply_of, event_id, replies_count, created_at
         FROM messages WHERE id = $1 AND conversation_id = $2",
        id,
        conversation,
    )
    .fetch_optional(pool)
    .await
}
