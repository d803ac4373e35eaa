//! Conversations (WorkDrive E52–E56, Roster's members endpoints): group chats and rooms, their
//! members, messages, and meetings announced in them. Every user a command names must belong to
//! the caller's org; whether the caller may *see* the conversation is the API's question (404
//! before anything here).

use domain::audience::Audience;
use domain::category::ModuleCode;
use domain::conversation::{
    Conversation, ConversationAggregate, ConversationCommand, ConversationEvent, ConversationInfo, ConversationPatch, GroupType, Member,
    MessageBody, MessageKind,
};
use domain::{DomainError, DomainEvent, OrgId, UserId};
use esrs::Aggregate;
use uuid::Uuid;

use super::calendar::{new_event_streams, occurrence_times, EventInput};
use super::content::{check_files, existing_category};
use super::membership::Batch;
use crate::results::*;
use crate::store::{PendingStream, Plan};
use crate::{CommandContext, CommandError, Committed, Store};

/// A conversation loaded for a decision, and the version its new events follow.
struct Loaded {
    id: Uuid,
    state: Option<Conversation>,
    version: i32,
    events: Vec<ConversationEvent>,
}

/// Loads conversation `id` without its messages. A conversation's stream is mostly messages, and
/// no decision depends on them (`ConversationAggregate` folds none), so replaying them on every
/// post would make posting cost O(messages so far). The partial index of migration 0019 finds
/// the other events directly; the stream's head version (the last message's, usually) comes from
/// the unique `(stream_id, version)` index in the same statement, so state and version are one
/// snapshot and a concurrent append still conflicts on the version as with any stream.
async fn load(store: &Store, id: Uuid) -> Result<Loaded, CommandError> {
    let rows = sqlx::query!(
        r#"SELECT e.event_type, e.schema_rev, e.payload,
                  (SELECT max(h.version) FROM events h WHERE h.stream_id = $1) AS "head!"
           FROM events e
           WHERE e.stream_id = $1 AND e.stream_type = 'conversation' AND e.event_type <> 'MessagePosted'
           ORDER BY e.version"#,
        id,
    )
    .fetch_all(store.pool())
    .await
    .map_err(crate::StoreError::from)?;
    let mut state = None;
    let mut version = 0;
    for row in rows {
        let event = ConversationEvent::from_parts(&row.event_type, row.schema_rev, row.payload).map_err(crate::StoreError::from)?;
        state = ConversationAggregate::apply_event(state, event);
        version = row.head;
    }
    Ok(Loaded { id, state, version, events: Vec::new() })
}

impl Loaded {
    fn fresh(id: Uuid) -> Self {
        Loaded { id, state: None, version: 0, events: Vec::new() }
    }

    /// The live conversation of `org`; "not found" otherwise.
    fn live(&self, org: OrgId) -> Result<&Conversation, CommandError> {
        match &self.state {
            Some(c) if !c.deleted && c.org_id == org => Ok(c),
            _ => Err(DomainError::NotFound("group chat").into()),
        }
    }

    fn decide(&mut self, command: ConversationCommand) -> Result<(), DomainError> {
        for e in ConversationAggregate::handle_command(&self.state, command)? {
            self.state = ConversationAggregate::apply_event(self.state.take(), e.clone());
            self.events.push(e);
        }
        Ok(())
    }

    fn pending(&self, org: OrgId) -> Result<Vec<PendingStream>, CommandError> {
        if self.events.is_empty() {
            return Ok(vec![]);
        }
        Ok(vec![PendingStream::new(self.id, Some(org.0), self.version, &self.events)?])
    }
}

async fn check_members(b: &mut Batch<'_>, members: &[Member], field: &str) -> Result<(), CommandError> {
    for (i, m) in members.iter().enumerate() {
        b.user(m.user, &format!("{field}[{i}].id")).await?;
    }
    Ok(())
}

async fn check_users(b: &mut Batch<'_>, users: &[UserId], field: &str) -> Result<(), CommandError> {
    for (i, u) in users.iter().enumerate() {
        b.user(*u, &format!("{field}[{i}]")).await?;
    }
    Ok(())
}

/// The group chat category `name` (of the GROUP_CHAT module), in its own spelling if it exists.
async fn category(store: &Store, org: OrgId, name: Option<&str>) -> Result<(), CommandError> {
    if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
        existing_category(store, org, ModuleCode::GroupChat, name, "category").await?;
    }
    Ok(())
}

/// E52: a new group chat or room; the creator is a participant and admin.
pub async fn create_conversation(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    creator: UserId,
    group_type: GroupType,
    info: ConversationInfo,
    members: Vec<Member>,
) -> Result<Committed<ConversationRef>, CommandError> {
    let id = Uuid::now_v7();
    // The pure rules first: a missing title is the request's first fault.
    let info = info.checked(group_type)?;
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            check_members(&mut b, &members, "members").await?;
            if let Some(f) = info.file_id {
                check_files(store, org, &[f], "file_id").await?;
            }
            category(store, org, info.category.as_deref()).await?;
            let mut c = Loaded::fresh(id);
            c.decide(ConversationCommand::Create {
                id,
                org_id: org,
                group_type,
                creator,
                now: ctx.now,
                info: info.clone(),
                members: members.clone(),
            })?;
            Ok(Plan { streams: c.pending(org)?, ..Plan::new(ConversationRef { conversation_id: id }) })
        })
        .await
}

/// E53: changes a group chat (its admins only).
pub async fn update_conversation(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    actor: UserId,
    id: Uuid,
    patch: ConversationPatch,
) -> Result<Committed<ConversationRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut c = load(store, id).await?;
            // A non-admin learns nothing about the references they sent.
            c.live(org)?.check_admin(actor)?;
            let mut b = Batch::new(store, org, ctx.actor);
            check_users(&mut b, &patch.new_admins, "new_admins").await?;
            if let Some(Some(f)) = patch.file_id {
                check_files(store, org, &[f], "file_id").await?;
            }
            if let Some(Some(name)) = &patch.category {
                category(store, org, Some(name)).await?;
            }
            c.decide(ConversationCommand::Update { actor, now: ctx.now, patch: Box::new(patch.clone()) })?;
            Ok(Plan { streams: c.pending(org)?, ..Plan::new(ConversationRef { conversation_id: id }) })
        })
        .await
}

/// E54: deletes group chats, all or none (an admin of each).
pub async fn delete_conversations(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    actor: UserId,
    ids: Vec<Uuid>,
) -> Result<Committed<ConversationsRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut streams = Vec::new();
            for id in &ids {
                let mut c = load(store, *id).await?;
                c.live(org)?;
                c.decide(ConversationCommand::Delete { actor })?;
                streams.extend(c.pending(org)?);
            }
            Ok(Plan { streams, ..Plan::new(ConversationsRef { conversation_ids: ids.clone() }) })
        })
        .await
}

/// Roster: admins add members (or make participants admins).
pub async fn add_members(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    actor: UserId,
    id: Uuid,
    members: Vec<Member>,
) -> Result<Committed<ConversationRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut c = load(store, id).await?;
            c.live(org)?.check_admin(actor)?;
            let mut b = Batch::new(store, org, ctx.actor);
            check_members(&mut b, &members, "members").await?;
            c.decide(ConversationCommand::AddMembers { actor, now: ctx.now, members: members.clone() })?;
            Ok(Plan { streams: c.pending(org)?, ..Plan::new(ConversationRef { conversation_id: id }) })
        })
        .await
}

/// Roster: admins remove members; a participant may remove themselves.
pub async fn remove_members(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    actor: UserId,
    id: Uuid,
    users: Vec<UserId>,
) -> Result<Committed<ConversationRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut c = load(store, id).await?;
            c.live(org)?;
            c.decide(ConversationCommand::RemoveMembers { actor, now: ctx.now, users: users.clone() })?;
            Ok(Plan { streams: c.pending(org)?, ..Plan::new(ConversationRef { conversation_id: id }) })
        })
        .await
}

/// E55: a participant posts a message (the API has checked that `reply_of` is of this conversation).
pub async fn post_message(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    sender: UserId,
    id: Uuid,
    message: MessageBody,
) -> Result<Committed<MessageRef>, CommandError> {
    let message_id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let mut c = load(store, id).await?;
            if !c.live(org)?.is_participant(sender) {
                return Err(DomainError::Forbidden("only participants may post in this group chat".into()).into());
            }
            let mut b = Batch::new(store, org, ctx.actor);
            check_users(&mut b, &message.mentions, "mention").await?;
            check_files(store, org, &message.file_ids, "file_id").await?;
            c.decide(ConversationCommand::Post { sender, message_id, now: ctx.now, message: Box::new(message.clone()) })?;
            Ok(Plan { streams: c.pending(org)?, ..Plan::new(MessageRef { conversation_id: id, message_id }) })
        })
        .await
}

/// E56: a participant creates a meeting (E20's command, `isMeeting`, `conversationId` set) and
/// announces it in the conversation with a message of the event kind, in one append.
/// `audience_given`: the request set `permissions` (otherwise see below).
pub async fn create_meeting(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    author: UserId,
    id: Uuid,
    mut input: EventInput,
    audience_given: bool,
) -> Result<Committed<MeetingRef>, CommandError> {
    let event_id = Uuid::now_v7();
    let message_id = Uuid::now_v7();
    input.details.is_meeting = true;
    input.details.conversation_id = Some(id.to_string());
    let times = occurrence_times(&input)?;
    store
        .execute(ctx, || async {
            let mut c = load(store, id).await?;
            let conversation = c.live(org)?;
            if !conversation.is_participant(author) {
                return Err(DomainError::Forbidden("only participants may create a meeting in this group chat".into()).into());
            }
            let mut input = input.clone();
            // A private chat's meeting is its participants' (as of now) unless the request said
            // who may see it; a public chat's is the org's, like any event's default.
            if conversation.info.is_private && !audience_given {
                input.details.audience =
                    Audience { public: false, users: conversation.participants.iter().copied().collect(), ..Audience::public() };
            }
            let mut streams = new_event_streams(store, ctx, org, author, &input, event_id, &times).await?;
            let message = MessageBody { kind: MessageKind::Event, event_id: Some(event_id), ..MessageBody::text("") };
            c.decide(ConversationCommand::Post { sender: author, message_id, now: ctx.now, message: Box::new(message) })?;
            streams.extend(c.pending(org)?);
            Ok(Plan { streams, ..Plan::new(MeetingRef { conversation_id: id, event_id, message_id }) })
        })
        .await
}
