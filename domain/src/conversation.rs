//! Conversations: WorkDrive group chats and rooms (E51–E54, Roster's members endpoints) and the
//! messages posted in them (E55, E56), DESIGN §11.
//!
//! A message is an event on its conversation's stream (`MessagePosted`), so the conversation's
//! NATS subject carries its messages in order with the membership changes that decide who may
//! read them. Deciding a command needs only participants and admins: [`ConversationAggregate`]
//! folds no message into its state, so the command side may load the stream without its
//! messages (see `commands::handlers::conversations`).
//!
//! Field names in errors are the request fields of the WorkDrive dialect, in snake_case.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::DomainEvent;
use crate::values::opt_text;
use crate::{DomainError, OrgId, UserId};

pub const MAX_TITLE_LEN: usize = 300;
pub const MAX_DESCRIPTION_LEN: usize = 4000;
pub const MAX_CATEGORY_LEN: usize = 200;
/// At most this many participants (and so members named by one request).
pub const MAX_PARTICIPANTS: usize = 1000;
pub const MAX_MESSAGE_LEN: usize = 10_000;
pub const MAX_MESSAGE_FILES: usize = 50;
pub const MAX_MENTIONS: usize = 100;

/// E52's `groupType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupType {
    ChatGroup,
    Room,
}

impl GroupType {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::ChatGroup => "CHAT_GROUP",
            GroupType::Room => "ROOM",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "CHAT_GROUP" => Ok(GroupType::ChatGroup),
            "ROOM" => Ok(GroupType::Room),
            other => Err(DomainError::invalid(field, format!("'{other}' is not a group type; known: CHAT_GROUP, ROOM"))),
        }
    }
}

/// What a conversation says about itself; an update carries the whole of it after the change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationInfo {
    /// Required for a CHAT_GROUP.
    #[schema(max_length = 300)]
    pub title: Option<String>,
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    /// Private: only participants (and org admins) see it; otherwise the whole org.
    pub is_private: bool,
    pub by_request: bool,
    /// The cover: an uploaded file of the org (CHAT_GROUP only).
    pub file_id: Option<Uuid>,
    /// A category name (CHAT_GROUP only).
    #[schema(max_length = 200)]
    pub category: Option<String>,
}

impl ConversationInfo {
    /// Trims and bounds every text (blank is none) and applies the group type's rules.
    pub fn checked(mut self, kind: GroupType) -> Result<Self, DomainError> {
        self.title = opt_text("title", self.title, MAX_TITLE_LEN)?;
        self.description = opt_text("description", self.description, MAX_DESCRIPTION_LEN)?;
        self.category = opt_text("category", self.category, MAX_CATEGORY_LEN)?;
        match kind {
            GroupType::ChatGroup if self.title.is_none() => return Err(DomainError::invalid("title", "is required for a CHAT_GROUP")),
            GroupType::Room if self.file_id.is_some() => return Err(DomainError::invalid("file_id", "only a CHAT_GROUP has a cover")),
            GroupType::Room if self.category.is_some() => return Err(DomainError::invalid("category", "only a CHAT_GROUP has a category")),
            _ => {}
        }
        Ok(self)
    }
}

/// A change to a conversation (E53): `None` keeps a field; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct ConversationPatch {
    pub title: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub is_private: Option<bool>,
    pub file_id: Option<Option<Uuid>>,
    pub category: Option<Option<String>>,
    /// Participants who become admins.
    pub new_admins: Vec<UserId>,
    /// Admins who stop being admins (they stay participants).
    pub removed_admins: Vec<UserId>,
}

/// A member named by a create or an add: the user, and whether they administer the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Member {
    pub user: UserId,
    pub is_admin: bool,
}

/// What a message is: text (with files), or the announcement of a meeting (E56).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    Event,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Event => "event",
        }
    }
}

/// A message as posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageBody {
    pub kind: MessageKind,
    /// Empty when the message has none (then it has files, or is an event).
    #[schema(max_length = 10000)]
    pub text: String,
    #[schema(max_items = 50)]
    pub file_ids: Vec<Uuid>,
    #[schema(max_items = 100)]
    pub mentions: Vec<UserId>,
    /// The message of this conversation it answers.
    pub reply_of: Option<Uuid>,
    /// The calendar event a message of the event kind announces.
    pub event_id: Option<Uuid>,
}

fn dedup<T: Ord + Copy>(v: Vec<T>) -> Vec<T> {
    let mut seen = BTreeSet::new();
    v.into_iter().filter(|x| seen.insert(*x)).collect()
}

impl MessageBody {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        MessageBody { kind: MessageKind::Text, text: text.into(), file_ids: vec![], mentions: vec![], reply_of: None, event_id: None }
    }

    /// Bounds and de-duplicates; a text message needs `message` or `fileId`, an event one its event.
    pub fn checked(mut self) -> Result<Self, DomainError> {
        self.text = crate::values::bounded_text("message", self.text.trim(), MAX_MESSAGE_LEN)?;
        if self.file_ids.len() > MAX_MESSAGE_FILES {
            return Err(DomainError::invalid("file_id", format!("must have at most {MAX_MESSAGE_FILES} entries")));
        }
        if self.mentions.len() > MAX_MENTIONS {
            return Err(DomainError::invalid("mention", format!("must have at most {MAX_MENTIONS} entries")));
        }
        self.file_ids = dedup(self.file_ids);
        self.mentions = dedup(self.mentions);
        match self.kind {
            MessageKind::Text if self.text.is_empty() && self.file_ids.is_empty() => {
                Err(DomainError::invalid("message", "a message needs text (message) or files (fileId)"))
            }
            MessageKind::Event if self.event_id.is_none() => Err(DomainError::invalid("event_id", "is required")),
            _ => Ok(self),
        }
    }
}

/// The state commands decide on: no messages (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: Uuid,
    pub org_id: OrgId,
    pub group_type: GroupType,
    pub created_by: UserId,
    pub info: ConversationInfo,
    pub participants: BTreeSet<UserId>,
    pub admins: BTreeSet<UserId>,
    pub deleted: bool,
}

impl Conversation {
    pub fn is_participant(&self, user: UserId) -> bool {
        self.participants.contains(&user)
    }

    pub fn check_admin(&self, actor: UserId) -> Result<(), DomainError> {
        if !self.admins.contains(&actor) {
            return Err(DomainError::Forbidden("only an admin of this group chat may do this".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub enum ConversationCommand {
    /// The creator becomes a participant and an admin whatever `members` says.
    Create {
        id: Uuid,
        org_id: OrgId,
        group_type: GroupType,
        creator: UserId,
        now: DateTime<Utc>,
        info: ConversationInfo,
        members: Vec<Member>,
    },
    Update {
        actor: UserId,
        now: DateTime<Utc>,
        patch: Box<ConversationPatch>,
    },
    Delete {
        actor: UserId,
    },
    /// Admins add members (an existing participant named as admin becomes one).
    AddMembers {
        actor: UserId,
        now: DateTime<Utc>,
        members: Vec<Member>,
    },
    /// Admins remove members; anyone may remove themselves (leave). Never the last admin.
    RemoveMembers {
        actor: UserId,
        now: DateTime<Utc>,
        users: Vec<UserId>,
    },
    Post {
        sender: UserId,
        message_id: Uuid,
        now: DateTime<Utc>,
        message: Box<MessageBody>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum ConversationEvent {
    ConversationCreated {
        id: Uuid,
        org_id: OrgId,
        group_type: GroupType,
        created_by: UserId,
        created_at: DateTime<Utc>,
        info: ConversationInfo,
        participants: Vec<UserId>,
        admins: Vec<UserId>,
    },
    /// The whole info and admin list after the change.
    ConversationUpdated {
        id: Uuid,
        actor: UserId,
        updated_at: DateTime<Utc>,
        info: ConversationInfo,
        admins: Vec<UserId>,
    },
    ConversationDeleted {
        id: Uuid,
        actor: UserId,
    },
    /// `users` join (those already participants are not named); `admins` (new or existing
    /// participants) become admins.
    ParticipantsAdded {
        id: Uuid,
        actor: UserId,
        at: DateTime<Utc>,
        users: Vec<UserId>,
        admins: Vec<UserId>,
    },
    ParticipantsRemoved {
        id: Uuid,
        actor: UserId,
        at: DateTime<Utc>,
        users: Vec<UserId>,
    },
    MessagePosted {
        id: Uuid,
        message_id: Uuid,
        sender: UserId,
        at: DateTime<Utc>,
        message: MessageBody,
    },
}

/// The event type of a message; the command side loads a conversation without them.
pub const MESSAGE_POSTED: &str = "MessagePosted";

impl DomainEvent for ConversationEvent {
    const STREAM_TYPE: &'static str = "conversation";

    fn event_type(&self) -> &'static str {
        match self {
            ConversationEvent::ConversationCreated { .. } => "ConversationCreated",
            ConversationEvent::ConversationUpdated { .. } => "ConversationUpdated",
            ConversationEvent::ConversationDeleted { .. } => "ConversationDeleted",
            ConversationEvent::ParticipantsAdded { .. } => "ParticipantsAdded",
            ConversationEvent::ParticipantsRemoved { .. } => "ParticipantsRemoved",
            ConversationEvent::MessagePosted { .. } => MESSAGE_POSTED,
        }
    }
}

pub struct ConversationAggregate;

fn live(state: &Option<Conversation>) -> Result<&Conversation, DomainError> {
    match state {
        Some(c) if !c.deleted => Ok(c),
        _ => Err(DomainError::NotFound("group chat")),
    }
}

fn bounded_members(field: &str, n: usize) -> Result<(), DomainError> {
    if n > MAX_PARTICIPANTS {
        return Err(DomainError::invalid(field, format!("must have at most {MAX_PARTICIPANTS} entries")));
    }
    Ok(())
}

impl esrs::Aggregate for ConversationAggregate {
    const NAME: &'static str = "conversation";
    type State = Option<Conversation>;
    type Command = ConversationCommand;
    type Event = ConversationEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            ConversationCommand::Create { id, org_id, group_type, creator, now, info, members } => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("group chat"));
                }
                bounded_members("members", members.len())?;
                let info = info.checked(group_type)?;
                let mut participants = vec![creator];
                let mut admins = vec![creator];
                for m in members {
                    participants.push(m.user);
                    if m.is_admin {
                        admins.push(m.user);
                    }
                }
                let participants = dedup(participants);
                bounded_members("members", participants.len())?;
                Ok(vec![ConversationEvent::ConversationCreated {
                    id,
                    org_id,
                    group_type,
                    created_by: creator,
                    created_at: now,
                    info,
                    participants,
                    admins: dedup(admins),
                }])
            }
            ConversationCommand::Update { actor, now, patch } => {
                let c = live(state)?;
                c.check_admin(actor)?;
                let p = *patch;
                let mut info = c.info.clone();
                if let Some(t) = p.title {
                    if t.as_deref().is_none_or(|t| t.trim().is_empty()) && c.group_type == GroupType::ChatGroup {
                        return Err(DomainError::invalid("title", "a CHAT_GROUP keeps a title"));
                    }
                    info.title = t;
                }
                if let Some(d) = p.description {
                    info.description = d;
                }
                if let Some(v) = p.is_private {
                    info.is_private = v;
                }
                if let Some(f) = p.file_id {
                    info.file_id = f;
                }
                if let Some(cat) = p.category {
                    info.category = cat;
                }
                let info = info.checked(c.group_type)?;
                bounded_members("new_admins", p.new_admins.len())?;
                bounded_members("removed_admins", p.removed_admins.len())?;
                let mut admins = c.admins.clone();
                for (i, u) in p.new_admins.iter().enumerate() {
                    if !c.participants.contains(u) {
                        return Err(DomainError::invalid(
                            format!("new_admins[{i}]"),
                            format!("{u} is not a participant of this group chat"),
                        ));
                    }
                    admins.insert(*u);
                }
                for u in &p.removed_admins {
                    admins.remove(u);
                }
                if admins.is_empty() {
                    return Err(DomainError::invalid("removed_admins", "a group chat keeps at least one admin"));
                }
                if info == c.info && admins == c.admins {
                    return Ok(vec![]);
                }
                Ok(vec![ConversationEvent::ConversationUpdated {
                    id: c.id,
                    actor,
                    updated_at: now,
                    info,
                    admins: admins.into_iter().collect(),
                }])
            }
            ConversationCommand::Delete { actor } => {
                let c = live(state)?;
                c.check_admin(actor)?;
                Ok(vec![ConversationEvent::ConversationDeleted { id: c.id, actor }])
            }
            ConversationCommand::AddMembers { actor, now, members } => {
                let c = live(state)?;
                c.check_admin(actor)?;
                bounded_members("members", members.len())?;
                let users = dedup(members.iter().map(|m| m.user).filter(|u| !c.participants.contains(u)).collect());
                let admins = dedup(members.iter().filter(|m| m.is_admin && !c.admins.contains(&m.user)).map(|m| m.user).collect());
                bounded_members("members", c.participants.len() + users.len())?;
                if users.is_empty() && admins.is_empty() {
                    return Ok(vec![]);
                }
                Ok(vec![ConversationEvent::ParticipantsAdded { id: c.id, actor, at: now, users, admins }])
            }
            ConversationCommand::RemoveMembers { actor, now, users } => {
                let c = live(state)?;
                if users.iter().any(|u| *u != actor) {
                    c.check_admin(actor)?;
                }
                bounded_members("user_ids", users.len())?;
                let users = dedup(users.into_iter().filter(|u| c.participants.contains(u)).collect());
                if users.is_empty() {
                    return Ok(vec![]);
                }
                if c.admins.iter().all(|a| users.contains(a)) {
                    return Err(DomainError::invalid("user_ids", "a group chat keeps at least one admin"));
                }
                Ok(vec![ConversationEvent::ParticipantsRemoved { id: c.id, actor, at: now, users }])
            }
            ConversationCommand::Post { sender, message_id, now, message } => {
                let c = live(state)?;
                if !c.is_participant(sender) {
                    return Err(DomainError::Forbidden("only participants may post in this group chat".into()));
                }
                let message = message.checked()?;
                Ok(vec![ConversationEvent::MessagePosted { id: c.id, message_id, sender, at: now, message }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match (state, event) {
            (_, ConversationEvent::ConversationCreated { id, org_id, group_type, created_by, info, participants, admins, .. }) => {
                Some(Conversation {
                    id,
                    org_id,
                    group_type,
                    created_by,
                    info,
                    participants: participants.into_iter().collect(),
                    admins: admins.into_iter().collect(),
                    deleted: false,
                })
            }
            (Some(mut c), ConversationEvent::ConversationUpdated { info, admins, .. }) => {
                c.info = info;
                c.admins = admins.into_iter().collect();
                Some(c)
            }
            (Some(mut c), ConversationEvent::ConversationDeleted { .. }) => {
                c.deleted = true;
                Some(c)
            }
            (Some(mut c), ConversationEvent::ParticipantsAdded { users, admins, .. }) => {
                c.participants.extend(users);
                c.participants.extend(admins.iter().copied());
                c.admins.extend(admins);
                Some(c)
            }
            (Some(mut c), ConversationEvent::ParticipantsRemoved { users, .. }) => {
                for u in users {
                    c.participants.remove(&u);
                    c.admins.remove(&u);
                }
                Some(c)
            }
            // Messages change nothing a command decides on.
            (state, _) => state,
        }
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;
    use proptest::prelude::*;

    use super::*;

    fn u(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn created(members: Vec<Member>) -> Option<Conversation> {
        let cmd = ConversationCommand::Create {
            id: Uuid::from_u128(7),
            org_id: OrgId(Uuid::from_u128(1)),
            group_type: GroupType::ChatGroup,
            creator: u(1),
            now: Utc::now(),
            info: ConversationInfo { title: Some("t".into()), ..Default::default() },
            members,
        };
        ConversationAggregate::handle_command(&None, cmd).unwrap().into_iter().fold(None, ConversationAggregate::apply_event)
    }

    fn run(state: &Option<Conversation>, cmd: ConversationCommand) -> Result<Vec<ConversationEvent>, DomainError> {
        ConversationAggregate::handle_command(state, cmd)
    }

    #[test]
    fn the_creator_is_participant_and_admin_and_a_chat_group_needs_a_title() {
        let c = created(vec![Member { user: u(2), is_admin: false }]).unwrap();
        assert!(c.participants.contains(&u(1)) && c.admins.contains(&u(1)) && !c.admins.contains(&u(2)));
        let untitled = ConversationInfo { title: Some("  ".into()), ..Default::default() };
        assert_eq!(
            untitled.clone().checked(GroupType::ChatGroup).unwrap_err(),
            DomainError::invalid("title", "is required for a CHAT_GROUP")
        );
        assert!(untitled.checked(GroupType::Room).is_ok());
    }

    #[test]
    fn the_last_admin_stays() {
        let c = created(vec![Member { user: u(2), is_admin: false }]);
        let patch = ConversationPatch { removed_admins: vec![u(1)], ..Default::default() };
        assert!(matches!(
            run(&c, ConversationCommand::Update { actor: u(1), now: Utc::now(), patch: Box::new(patch) }),
            Err(DomainError::Invalid { .. })
        ));
        assert!(run(&c, ConversationCommand::RemoveMembers { actor: u(1), now: Utc::now(), users: vec![u(1)] }).is_err());
        let patch = ConversationPatch { new_admins: vec![u(2)], removed_admins: vec![u(1)], ..Default::default() };
        assert_eq!(run(&c, ConversationCommand::Update { actor: u(1), now: Utc::now(), patch: Box::new(patch) }).unwrap().len(), 1);
        let patch = ConversationPatch { new_admins: vec![u(2)], ..Default::default() };
        assert!(matches!(
            run(&c, ConversationCommand::Update { actor: u(2), now: Utc::now(), patch: Box::new(patch) }),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn only_participants_post_and_a_message_needs_text_or_files() {
        let c = created(vec![]);
        let post =
            |sender, m: MessageBody| ConversationCommand::Post { sender, message_id: Uuid::nil(), now: Utc::now(), message: Box::new(m) };
        assert!(matches!(run(&c, post(u(9), MessageBody::text("hi"))), Err(DomainError::Forbidden(_))));
        assert!(run(&c, post(u(1), MessageBody::text("  "))).is_err());
        assert!(run(&c, post(u(1), MessageBody { file_ids: vec![Uuid::nil()], ..MessageBody::text("") })).is_ok());
        assert!(run(&c, post(u(1), MessageBody::text("x".repeat(MAX_MESSAGE_LEN + 1)))).is_err());
    }

    proptest! {
        /// Whatever admins add and remove, a live group chat keeps an admin who is a participant.
        #[test]
        fn there_is_always_an_admin_among_participants(ops in proptest::collection::vec((0u8..3, 1u128..5, any::<bool>()), 0..40)) {
            let mut state = created(vec![]);
            for (op, who, flag) in ops {
                let now = Utc::now();
                let cmd = match op {
                    0 => ConversationCommand::AddMembers { actor: u(1), now, members: vec![Member { user: u(who), is_admin: flag }] },
                    1 => ConversationCommand::RemoveMembers { actor: u(who), now, users: vec![u(who)] },
                    _ => ConversationCommand::Update { actor: u(who), now, patch: Box::new(ConversationPatch {
                        removed_admins: vec![u(who)], ..Default::default() }) },
                };
                if let Ok(events) = run(&state, cmd) {
                    state = events.into_iter().fold(state, ConversationAggregate::apply_event);
                }
                let c = state.as_ref().unwrap();
                prop_assert!(!c.admins.is_empty());
                prop_assert!(c.admins.is_subset(&c.participants));
            }
        }
    }
}
