//! Security groups (WorkDrive E70–E72). A user belongs to at most one: membership is the user's
//! `security_group` (user stream); the group stream mirrors who joined and left, in the same
//! append, so its decide can keep the rule "Administrators never loses its last member".
//!
//! Every organization starts with two groups, `Administrators` (org-admin rights) and `Users`
//! (where new members go by default); more (`Custom`) come from the `roster` CLI. Their ids are
//! derived from the organization's id, so a command can name them without reading anything.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::values::{required_text, MAX_DEPARTMENT_NAME_LEN};
use crate::{DomainError, OrgId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecurityGroupKind {
    /// Its members are the organization's admins.
    Administrators,
    /// New members join it unless they name another group.
    Users,
    /// Any other group (created with `roster security-group add`).
    Custom,
}

impl SecurityGroupKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            SecurityGroupKind::Administrators => "administrators",
            SecurityGroupKind::Users => "users",
            SecurityGroupKind::Custom => "custom",
        }
    }

    /// The name a built-in group gets.
    pub fn default_name(&self) -> Option<&'static str> {
        match self {
            SecurityGroupKind::Administrators => Some("Administrators"),
            SecurityGroupKind::Users => Some("Users"),
            SecurityGroupKind::Custom => None,
        }
    }
}

/// The id of an organization's built-in group of `kind` (UUIDv5 of the org id).
pub fn builtin_id(org: OrgId, kind: SecurityGroupKind) -> uuid::Uuid {
    uuid::Uuid::new_v5(&org.0, format!("roster:security-group:{}", kind.as_str()).as_bytes())
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroup {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub kind: SecurityGroupKind,
    pub members: BTreeSet<UserId>,
}

#[derive(Debug, Clone)]
pub struct NewSecurityGroup {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub name: String,
    pub kind: SecurityGroupKind,
    pub created_by: Option<UserId>,
}

#[derive(Debug, Clone)]
pub enum SecurityGroupCommand {
    Create(NewSecurityGroup),
    /// Adding a present member emits nothing.
    AddMember {
        actor: Option<UserId>,
        user_id: UserId,
    },
    /// `field` names the request field in the error when the rule is broken.
    RemoveMember {
        actor: Option<UserId>,
        user_id: UserId,
        field: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum SecurityGroupEvent {
    SecurityGroupCreated { id: uuid::Uuid, org_id: OrgId, name: String, kind: SecurityGroupKind, created_by: Option<UserId> },
    SecurityGroupMemberAdded { user_id: UserId, added_by: Option<UserId> },
    SecurityGroupMemberRemoved { user_id: UserId, removed_by: Option<UserId> },
}

impl DomainEvent for SecurityGroupEvent {
    const STREAM_TYPE: &'static str = "security_group";

    fn event_type(&self) -> &'static str {
        match self {
            SecurityGroupEvent::SecurityGroupCreated { .. } => "SecurityGroupCreated",
            SecurityGroupEvent::SecurityGroupMemberAdded { .. } => "SecurityGroupMemberAdded",
            SecurityGroupEvent::SecurityGroupMemberRemoved { .. } => "SecurityGroupMemberRemoved",
        }
    }
}

pub struct SecurityGroupAggregate;

impl esrs::Aggregate for SecurityGroupAggregate {
    const NAME: &'static str = "security group";
    type State = Option<SecurityGroup>;
    type Command = SecurityGroupCommand;
    type Event = SecurityGroupEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        use SecurityGroupEvent::*;
        match command {
            SecurityGroupCommand::Create(new) => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("security group"));
                }
                let name = required_text("name", &new.name, MAX_DEPARTMENT_NAME_LEN)?;
                Ok(vec![SecurityGroupCreated { id: new.id, org_id: new.org_id, name, kind: new.kind, created_by: new.created_by }])
            }
            SecurityGroupCommand::AddMember { actor, user_id } => {
                let g = live(state)?;
                if g.members.contains(&user_id) {
                    return Ok(vec![]);
                }
                Ok(vec![SecurityGroupMemberAdded { user_id, added_by: actor }])
            }
            SecurityGroupCommand::RemoveMember { actor, user_id, field } => {
                let g = live(state)?;
                if !g.members.contains(&user_id) {
                    return Err(DomainError::invalid(field, format!("user {user_id} is not a member of this security group")));
                }
                if g.kind == SecurityGroupKind::Administrators && g.members.len() == 1 {
                    return Err(DomainError::invalid(
                        field,
                        format!("user {user_id} is the last member of Administrators; an organization needs at least one admin"),
                    ));
                }
                Ok(vec![SecurityGroupMemberRemoved { user_id, removed_by: actor }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        use SecurityGroupEvent::*;
        match event {
            SecurityGroupCreated { id, org_id, kind, .. } => Some(SecurityGroup { id, org_id, kind, members: BTreeSet::new() }),
            other => state.map(|mut g| {
                match other {
                    SecurityGroupCreated { .. } => {}
                    SecurityGroupMemberAdded { user_id, .. } => {
                        g.members.insert(user_id);
                    }
                    SecurityGroupMemberRemoved { user_id, .. } => {
                        g.members.remove(&user_id);
                    }
                }
                g
            }),
        }
    }
}

pub fn live(state: &Option<SecurityGroup>) -> Result<&SecurityGroup, DomainError> {
    state.as_ref().ok_or(DomainError::NotFound("security group"))
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn u(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn org() -> OrgId {
        OrgId(uuid::Uuid::from_u128(200))
    }

    fn run(state: Option<SecurityGroup>, cmd: SecurityGroupCommand) -> Result<Option<SecurityGroup>, DomainError> {
        Ok(SecurityGroupAggregate::handle_command(&state, cmd)?.into_iter().fold(state, SecurityGroupAggregate::apply_event))
    }

    fn created(kind: SecurityGroupKind) -> Option<SecurityGroup> {
        run(
            None,
            SecurityGroupCommand::Create(NewSecurityGroup {
                id: builtin_id(org(), kind),
                org_id: org(),
                name: kind.default_name().unwrap_or("Custom").into(),
                kind,
                created_by: None,
            }),
        )
        .unwrap()
    }

    #[test]
    fn builtin_ids_are_per_org_and_per_kind() {
        let other = OrgId(uuid::Uuid::from_u128(201));
        assert_eq!(builtin_id(org(), SecurityGroupKind::Users), builtin_id(org(), SecurityGroupKind::Users));
        assert_ne!(builtin_id(org(), SecurityGroupKind::Users), builtin_id(org(), SecurityGroupKind::Administrators));
        assert_ne!(builtin_id(org(), SecurityGroupKind::Users), builtin_id(other, SecurityGroupKind::Users));
    }

    #[test]
    fn create_needs_a_name_and_happens_once() {
        let err = SecurityGroupAggregate::handle_command(
            &None,
            SecurityGroupCommand::Create(NewSecurityGroup {
                id: uuid::Uuid::from_u128(1),
                org_id: org(),
                name: " ".into(),
                kind: SecurityGroupKind::Custom,
                created_by: None,
            }),
        )
        .unwrap_err();
        assert_eq!(err, DomainError::invalid("name", "must not be empty"));
        let g = created(SecurityGroupKind::Users);
        let again = SecurityGroupCommand::Create(NewSecurityGroup {
            id: uuid::Uuid::from_u128(1),
            org_id: org(),
            name: "X".into(),
            kind: SecurityGroupKind::Custom,
            created_by: None,
        });
        assert_eq!(SecurityGroupAggregate::handle_command(&g, again).unwrap_err(), DomainError::AlreadyExists("security group"));
    }

    #[test]
    fn adding_a_present_member_is_a_no_op_and_removing_a_stranger_is_rejected() {
        let g = run(created(SecurityGroupKind::Users), SecurityGroupCommand::AddMember { actor: None, user_id: u(1) }).unwrap();
        assert!(SecurityGroupAggregate::handle_command(&g, SecurityGroupCommand::AddMember { actor: None, user_id: u(1) })
            .unwrap()
            .is_empty());
        let err = SecurityGroupAggregate::handle_command(
            &g,
            SecurityGroupCommand::RemoveMember { actor: None, user_id: u(9), field: "ids[0]".into() },
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "ids[0]"), "{err:?}");
        // The last member of an ordinary group may leave.
        let g = run(g, SecurityGroupCommand::RemoveMember { actor: None, user_id: u(1), field: "ids[0]".into() }).unwrap().unwrap();
        assert!(g.members.is_empty());
    }

    #[test]
    fn administrators_keeps_its_last_member() {
        let g = run(created(SecurityGroupKind::Administrators), SecurityGroupCommand::AddMember { actor: None, user_id: u(1) }).unwrap();
        let remove = |id| SecurityGroupCommand::RemoveMember { actor: None, user_id: u(id), field: "ids[1]".into() };
        let err = SecurityGroupAggregate::handle_command(&g, remove(1)).unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { ref field, ref message } if field == "ids[1]" && message.contains("last member")),
            "{err:?}"
        );
        let g = run(g, SecurityGroupCommand::AddMember { actor: None, user_id: u(2) }).unwrap();
        let g = run(g, remove(1)).unwrap();
        assert_eq!(g.as_ref().unwrap().members, BTreeSet::from([u(2)]));
        assert!(SecurityGroupAggregate::handle_command(&g, remove(2)).is_err());
    }

    #[test]
    fn a_missing_group_is_not_found() {
        let err =
            SecurityGroupAggregate::handle_command(&None, SecurityGroupCommand::AddMember { actor: None, user_id: u(1) }).unwrap_err();
        assert_eq!(err, DomainError::NotFound("security group"));
    }
}
