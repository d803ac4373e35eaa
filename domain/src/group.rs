//! Groups: one model behind every dialect's groups. Names are not unique (DESIGN §7).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::patch::Patch;
use crate::values::{bounded_text, required_text, MAX_CALLER_ID_LEN, MAX_GROUP_DESCRIPTION_LEN, MAX_GROUP_NAME_LEN};
use crate::{DomainError, GroupId, OrgId, UserId};

pub const MAX_OUTBOUND_CALLER_IDS: usize = 100;

/// PortSIP: the caller id a group's members present on one trunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundCallerId {
    pub provider_id: String,
    pub caller_id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Admin,
    Member,
}

impl MemberRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub org_id: OrgId,
    pub deleted: bool,
    pub members: BTreeMap<UserId, MemberRole>,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub id: GroupId,
    pub org_id: OrgId,
    pub number: i64,
    pub name: String,
    pub description: Option<String>,
    pub outbound_caller_ids: Vec<OutboundCallerId>,
    pub created_by: Option<UserId>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupPatch {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    pub name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    pub description: Patch<String>,
    /// Present = replaces the whole list.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    pub outbound_caller_ids: Patch<Vec<OutboundCallerId>>,
}

#[derive(Debug, Clone)]
pub enum GroupCommand {
    Create(NewGroup),
    Update { actor: Option<UserId>, patch: GroupPatch },
    Delete { actor: Option<UserId> },
    /// Adding a present member with the same role is a no-op (PortSIP: idempotent 200).
    AddMember { actor: Option<UserId>, user_id: UserId, role: MemberRole },
    RemoveMember { actor: Option<UserId>, user_id: UserId },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum GroupEvent {
    GroupCreated {
        id: GroupId,
        org_id: OrgId,
        number: i64,
        name: String,
        description: Option<String>,
        outbound_caller_ids: Vec<OutboundCallerId>,
        created_by: Option<UserId>,
    },
    GroupUpdated {
        #[serde(flatten)]
        patch: GroupPatch,
        updated_by: Option<UserId>,
    },
    GroupDeleted {
        deleted_by: Option<UserId>,
    },
    GroupMemberAdded {
        user_id: UserId,
        role: MemberRole,
        added_by: Option<UserId>,
    },
    GroupMemberRemoved {
        user_id: UserId,
        removed_by: Option<UserId>,
    },
}

impl DomainEvent for GroupEvent {
    const STREAM_TYPE: &'static str = "group";

    fn event_type(&self) -> &'static str {
        match self {
            GroupEvent::GroupCreated { .. } => "GroupCreated",
            GroupEvent::GroupUpdated { .. } => "GroupUpdated",
            GroupEvent::GroupDeleted { .. } => "GroupDeleted",
            GroupEvent::GroupMemberAdded { .. } => "GroupMemberAdded",
            GroupEvent::GroupMemberRemoved { .. } => "GroupMemberRemoved",
        }
    }
}

pub struct GroupAggregate;

impl esrs::Aggregate for GroupAggregate {
    const NAME: &'static str = "group";
    type State = Option<Group>;
    type Command = GroupCommand;
    type Event = GroupEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            GroupCommand::Create(new) => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("group"));
                }
                Ok(vec![GroupEvent::GroupCreated {
                    id: new.id,
                    org_id: new.org_id,
                    number: new.number,
                    name: required_text("name", &new.name, MAX_GROUP_NAME_LEN)?,
                    description: new
                        .description
                        .map(|d| bounded_text("description", &d, MAX_GROUP_DESCRIPTION_LEN))
                        .transpose()?,
                    outbound_caller_ids: validate_caller_ids(new.outbound_caller_ids)?,
                    created_by: new.created_by,
                }])
            }
            GroupCommand::Update { actor, patch } => {
                live(state)?;
                let name = match patch.name {
                    Patch::Clear => return Err(DomainError::invalid("name", "must not be null")),
                    Patch::Set(n) => Patch::Set(required_text("name", &n, MAX_GROUP_NAME_LEN)?),
                    Patch::Keep => Patch::Keep,
                };
                let description = match patch.description {
                    Patch::Set(d) => Patch::Set(bounded_text("description", &d, MAX_GROUP_DESCRIPTION_LEN)?),
                    other => other,
                };
                let outbound_caller_ids = match patch.outbound_caller_ids {
                    Patch::Set(ids) => Patch::Set(validate_caller_ids(ids)?),
                    other => other,
                };
                let patch = GroupPatch { name, description, outbound_caller_ids };
                if patch == GroupPatch::default() {
                    return Ok(vec![]);
                }
                Ok(vec![GroupEvent::GroupUpdated { patch, updated_by: actor }])
            }
            GroupCommand::Delete { actor } => {
                live(state)?;
                Ok(vec![GroupEvent::GroupDeleted { deleted_by: actor }])
            }
            GroupCommand::AddMember { actor, user_id, role } => {
                let group = live(state)?;
                if group.members.get(&user_id) == Some(&role) {
                    return Ok(vec![]);
                }
                Ok(vec![GroupEvent::GroupMemberAdded { user_id, role, added_by: actor }])
            }
            GroupCommand::RemoveMember { actor, user_id } => {
                let group = live(state)?;
                if !group.members.contains_key(&user_id) {
                    return Err(DomainError::NotFound("member"));
                }
                Ok(vec![GroupEvent::GroupMemberRemoved { user_id, removed_by: actor }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match event {
            GroupEvent::GroupCreated { id, org_id, .. } => {
                Some(Group { id, org_id, deleted: false, members: BTreeMap::new() })
            }
            other => state.map(|mut g| {
                match other {
                    GroupEvent::GroupCreated { .. } | GroupEvent::GroupUpdated { .. } => {}
                    GroupEvent::GroupDeleted { .. } => g.deleted = true,
                    GroupEvent::GroupMemberAdded { user_id, role, .. } => {
                        g.members.insert(user_id, role);
                    }
                    GroupEvent::GroupMemberRemoved { user_id, .. } => {
                        g.members.remove(&user_id);
                    }
                }
                g
            }),
        }
    }
}

fn live(state: &Option<Group>) -> Result<&Group, DomainError> {
    match state {
        Some(g) if !g.deleted => Ok(g),
        _ => Err(DomainError::NotFound("group")),
    }
}

fn validate_caller_ids(ids: Vec<OutboundCallerId>) -> Result<Vec<OutboundCallerId>, DomainError> {
    if ids.len() > MAX_OUTBOUND_CALLER_IDS {
        return Err(DomainError::invalid(
            "outbound_caller_ids",
            format!("must have at most {MAX_OUTBOUND_CALLER_IDS} entries"),
        ));
    }
    ids.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |f: &str| format!("outbound_caller_ids[{i}].{f}");
            Ok(OutboundCallerId {
                provider_id: required_text(&field("provider_id"), &c.provider_id, MAX_CALLER_ID_LEN)?,
                caller_id: required_text(&field("caller_id"), &c.caller_id, MAX_CALLER_ID_LEN)?,
                description: c
                    .description
                    .map(|d| bounded_text(&field("description"), &d, MAX_GROUP_DESCRIPTION_LEN))
                    .transpose()?,
                display_name: c
                    .display_name
                    .map(|d| bounded_text(&field("display_name"), &d, MAX_GROUP_DESCRIPTION_LEN))
                    .transpose()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn created() -> Option<Group> {
        let new = NewGroup {
            id: GroupId(uuid::Uuid::from_u128(1)),
            org_id: OrgId(uuid::Uuid::from_u128(2)),
            number: 7,
            name: "Sales".into(),
            description: None,
            outbound_caller_ids: vec![],
            created_by: None,
        };
        GroupAggregate::handle_command(&None, GroupCommand::Create(new))
            .unwrap()
            .into_iter()
            .fold(None, GroupAggregate::apply_event)
    }

    #[test]
    fn adding_an_existing_member_twice_emits_nothing() {
        let u = UserId(uuid::Uuid::from_u128(3));
        let add = || GroupCommand::AddMember { actor: None, user_id: u, role: MemberRole::Member };
        let state = GroupAggregate::handle_command(&created(), add())
            .unwrap()
            .into_iter()
            .fold(created(), GroupAggregate::apply_event);
        assert!(GroupAggregate::handle_command(&state, add()).unwrap().is_empty());
    }

    #[test]
    fn caller_id_errors_name_the_entry() {
        let bad = OutboundCallerId { provider_id: "p".into(), caller_id: "".into(), description: None, display_name: None };
        let patch = GroupPatch { outbound_caller_ids: Patch::Set(vec![bad]), ..Default::default() };
        let err = GroupAggregate::handle_command(&created(), GroupCommand::Update { actor: None, patch }).unwrap_err();
        assert_eq!(err, DomainError::invalid("outbound_caller_ids[0].caller_id", "must not be empty"));
    }

    #[test]
    fn removing_a_non_member_is_not_found() {
        let err = GroupAggregate::handle_command(
            &created(),
            GroupCommand::RemoveMember { actor: None, user_id: UserId(uuid::Uuid::from_u128(4)) },
        )
        .unwrap_err();
        assert_eq!(err, DomainError::NotFound("member"));
    }
}
