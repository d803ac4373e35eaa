//! Departments (WorkDrive E57–E63). Membership itself is the user's `department` field (user
//! stream); the department stream mirrors who joined and left, in the same transaction, so that
//! its decide can check "at least one head" and "a head is a member", and a delete knows whom to
//! clear. Heads live here.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::org_unit::{self, live, Change, OrgUnit};
use crate::values::MAX_DEPARTMENT_NAME_LEN;
use crate::{DomainError, OrgId, UserId};

/// The most members one create may name.
pub const MAX_DEPARTMENT_MEMBERS_PER_COMMAND: usize = 1000;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Department {
    pub id: uuid::Uuid,
    pub org_id: Option<OrgId>,
    pub deleted: bool,
    pub members: BTreeSet<UserId>,
    pub heads: BTreeSet<UserId>,
}

impl OrgUnit for Department {
    const KIND: &'static str = "department";
    const MAX_NAME_LEN: usize = MAX_DEPARTMENT_NAME_LEN;
    type Event = DepartmentEvent;

    fn org_id(&self) -> Option<OrgId> {
        self.org_id
    }

    fn deleted(&self) -> bool {
        self.deleted
    }

    fn members(&self) -> &BTreeSet<UserId> {
        &self.members
    }
}

impl From<Change> for DepartmentEvent {
    fn from(change: Change) -> Self {
        match change {
            Change::Created { id, org_id, name, by } => DepartmentEvent::DepartmentCreated { id, org_id, name, created_by: by },
            Change::Renamed { name, by } => DepartmentEvent::DepartmentUpdated { name, updated_by: by },
            Change::MemberAdded { user_id, by } => DepartmentEvent::DepartmentMemberAdded { user_id, added_by: by },
            Change::MemberRemoved { user_id, by } => DepartmentEvent::DepartmentMemberRemoved { user_id, removed_by: by },
            Change::Deleted { by } => DepartmentEvent::DepartmentDeleted { deleted_by: by },
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewDepartment {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub name: String,
    /// `(user, head)`; at least one head is required.
    pub members: Vec<(UserId, bool)>,
    pub created_by: Option<UserId>,
}

#[derive(Debug, Clone)]
pub enum DepartmentCommand {
    Create(NewDepartment),
    Rename {
        actor: Option<UserId>,
        name: String,
    },
    /// Adds the user (if not a member) and, with `head`, makes them a head. Never demotes.
    AddMember {
        actor: Option<UserId>,
        user_id: UserId,
        head: bool,
    },
    /// `field` names the request field in the error when the rule is broken.
    RemoveMember {
        actor: Option<UserId>,
        user_id: UserId,
        field: String,
    },
    RemoveHead {
        actor: Option<UserId>,
        user_id: UserId,
        field: String,
    },
    Delete {
        actor: Option<UserId>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum DepartmentEvent {
    DepartmentCreated { id: uuid::Uuid, org_id: OrgId, name: String, created_by: Option<UserId> },
    DepartmentUpdated { name: String, updated_by: Option<UserId> },
    DepartmentMemberAdded { user_id: UserId, added_by: Option<UserId> },
    DepartmentMemberRemoved { user_id: UserId, removed_by: Option<UserId> },
    DepartmentHeadAdded { user_id: UserId, added_by: Option<UserId> },
    DepartmentHeadRemoved { user_id: UserId, removed_by: Option<UserId> },
    DepartmentDeleted { deleted_by: Option<UserId> },
}

impl DomainEvent for DepartmentEvent {
    const STREAM_TYPE: &'static str = "department";

    fn event_type(&self) -> &'static str {
        match self {
            DepartmentEvent::DepartmentCreated { .. } => "DepartmentCreated",
            DepartmentEvent::DepartmentUpdated { .. } => "DepartmentUpdated",
            DepartmentEvent::DepartmentMemberAdded { .. } => "DepartmentMemberAdded",
            DepartmentEvent::DepartmentMemberRemoved { .. } => "DepartmentMemberRemoved",
            DepartmentEvent::DepartmentHeadAdded { .. } => "DepartmentHeadAdded",
            DepartmentEvent::DepartmentHeadRemoved { .. } => "DepartmentHeadRemoved",
            DepartmentEvent::DepartmentDeleted { .. } => "DepartmentDeleted",
        }
    }
}

pub struct DepartmentAggregate;

impl esrs::Aggregate for DepartmentAggregate {
    const NAME: &'static str = "department";
    type State = Option<Department>;
    type Command = DepartmentCommand;
    type Event = DepartmentEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        use DepartmentEvent::*;
        match command {
            DepartmentCommand::Create(new) => {
                let created = org_unit::create(state, new.id, new.org_id, &new.name, new.created_by)?;
                if new.members.len() > MAX_DEPARTMENT_MEMBERS_PER_COMMAND {
                    return Err(DomainError::invalid("members", format!("must have at most {MAX_DEPARTMENT_MEMBERS_PER_COMMAND} entries")));
                }
                if !new.members.iter().any(|(_, head)| *head) {
                    return Err(DomainError::invalid("members", "a department needs at least one head: mark a member with isAdmin: true"));
                }
                let by = new.created_by;
                let mut events = vec![created];
                let mut members = BTreeSet::new();
                let mut heads = BTreeSet::new();
                for (u, _) in &new.members {
                    if members.insert(*u) {
                        events.push(DepartmentMemberAdded { user_id: *u, added_by: by });
                    }
                }
                for (u, head) in &new.members {
                    if *head && heads.insert(*u) {
                        events.push(DepartmentHeadAdded { user_id: *u, added_by: by });
                    }
                }
                Ok(events)
            }
            DepartmentCommand::Rename { actor, name } => Ok(vec![org_unit::rename(state, actor, &name)?]),
            DepartmentCommand::AddMember { actor, user_id, head } => {
                let d = live(state)?;
                let mut events: Vec<_> = org_unit::add_member(d, user_id, actor).into_iter().collect();
                if head && !d.heads.contains(&user_id) {
                    events.push(DepartmentHeadAdded { user_id, added_by: actor });
                }
                Ok(events)
            }
            DepartmentCommand::RemoveMember { actor, user_id, field } => {
                let d = live(state)?;
                let left = org_unit::remove_member(d, user_id, actor, &field)?;
                let mut events = Vec::new();
                // A head who leaves stops being a head, which the last one may not.
                if d.heads.contains(&user_id) {
                    check_not_last_head(d, user_id, &field)?;
                    events.push(DepartmentHeadRemoved { user_id, removed_by: actor });
                }
                events.push(left);
                Ok(events)
            }
            DepartmentCommand::RemoveHead { actor, user_id, field } => {
                let d = live(state)?;
                if !d.heads.contains(&user_id) {
                    return Err(DomainError::invalid(field, format!("user {user_id} is not a head of this department")));
                }
                check_not_last_head(d, user_id, &field)?;
                Ok(vec![DepartmentHeadRemoved { user_id, removed_by: actor }])
            }
            DepartmentCommand::Delete { actor } => Ok(vec![org_unit::delete(state, actor)?]),
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        use DepartmentEvent::*;
        match event {
            DepartmentCreated { id, org_id, .. } => Some(Department { id, org_id: Some(org_id), ..Department::default() }),
            other => state.map(|mut d| {
                match other {
                    DepartmentCreated { .. } | DepartmentUpdated { .. } => {}
                    DepartmentMemberAdded { user_id, .. } => {
                        d.members.insert(user_id);
                    }
                    DepartmentMemberRemoved { user_id, .. } => {
                        d.members.remove(&user_id);
                        d.heads.remove(&user_id);
                    }
                    DepartmentHeadAdded { user_id, .. } => {
                        d.heads.insert(user_id);
                    }
                    DepartmentHeadRemoved { user_id, .. } => {
                        d.heads.remove(&user_id);
                    }
                    DepartmentDeleted { .. } => d.deleted = true,
                }
                d
            }),
        }
    }
}

fn check_not_last_head(d: &Department, user_id: UserId, field: &str) -> Result<(), DomainError> {
    if d.heads.len() == 1 && d.heads.contains(&user_id) {
        return Err(DomainError::invalid(
            field,
            format!("user {user_id} is the only head of department {}; a department needs at least one head", d.id),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn u(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn run(state: Option<Department>, cmd: DepartmentCommand) -> Result<Option<Department>, DomainError> {
        Ok(DepartmentAggregate::handle_command(&state, cmd)?.into_iter().fold(state, DepartmentAggregate::apply_event))
    }

    fn created(members: Vec<(UserId, bool)>) -> Result<Option<Department>, DomainError> {
        run(
            None,
            DepartmentCommand::Create(NewDepartment {
                id: uuid::Uuid::from_u128(100),
                org_id: OrgId(uuid::Uuid::from_u128(200)),
                name: "Engineering".into(),
                members,
                created_by: None,
            }),
        )
    }

    #[test]
    fn create_requires_a_head() {
        let err = created(vec![(u(1), false)]).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "members"), "{err:?}");
        let d = created(vec![(u(1), true), (u(2), false)]).unwrap().unwrap();
        assert_eq!(d.members.len(), 2);
        assert_eq!(d.heads, BTreeSet::from([u(1)]));
    }

    #[test]
    fn create_rejects_a_blank_name_naming_the_field() {
        let err = DepartmentAggregate::handle_command(
            &None,
            DepartmentCommand::Create(NewDepartment {
                id: uuid::Uuid::from_u128(1),
                org_id: OrgId(uuid::Uuid::from_u128(2)),
                name: "  ".into(),
                members: vec![(u(1), true)],
                created_by: None,
            }),
        )
        .unwrap_err();
        assert_eq!(err, DomainError::invalid("name", "must not be empty"));
    }

    #[test]
    fn the_last_head_cannot_leave_or_be_demoted() {
        let d = created(vec![(u(1), true), (u(2), false)]).unwrap();
        let leave = DepartmentCommand::RemoveMember { actor: None, user_id: u(1), field: "department".into() };
        let err = DepartmentAggregate::handle_command(&d, leave).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "department"));
        let demote = DepartmentCommand::RemoveHead { actor: None, user_id: u(1), field: "remove".into() };
        assert!(DepartmentAggregate::handle_command(&d, demote).is_err());
        // With a second head, the first may go; a head who leaves stops being a head.
        let d = run(d, DepartmentCommand::AddMember { actor: None, user_id: u(2), head: true }).unwrap();
        let d = run(d, DepartmentCommand::RemoveMember { actor: None, user_id: u(1), field: "x".into() }).unwrap().unwrap();
        assert_eq!(d.heads, BTreeSet::from([u(2)]));
        assert_eq!(d.members, BTreeSet::from([u(2)]));
    }

    #[test]
    fn adding_a_present_member_emits_nothing_and_removing_a_stranger_is_rejected() {
        let d = created(vec![(u(1), true)]).unwrap();
        assert!(DepartmentAggregate::handle_command(&d, DepartmentCommand::AddMember { actor: None, user_id: u(1), head: true })
            .unwrap()
            .is_empty());
        let err = DepartmentAggregate::handle_command(
            &d,
            DepartmentCommand::RemoveMember { actor: None, user_id: u(9), field: "remove_members".into() },
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "remove_members"));
    }

    #[test]
    fn a_deleted_department_is_not_found() {
        let d = created(vec![(u(1), true)]).unwrap();
        let d = run(d, DepartmentCommand::Delete { actor: None }).unwrap();
        let err = DepartmentAggregate::handle_command(&d, DepartmentCommand::Rename { actor: None, name: "X".into() }).unwrap_err();
        assert_eq!(err, DomainError::NotFound("department"));
    }
}
