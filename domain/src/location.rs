//! Locations (WorkDrive E64–E69). Membership is the user's `location` field (user stream); the
//! location stream mirrors who joined and left, in the same transaction, so a delete knows whom
//! to clear and concurrent changes conflict on the location's version.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::org_unit::{self, live, Change, OrgUnit};
use crate::values::MAX_LOCATION_NAME_LEN;
use crate::{DomainError, OrgId, UserId};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location {
    pub id: uuid::Uuid,
    pub org_id: Option<OrgId>,
    pub deleted: bool,
    pub members: BTreeSet<UserId>,
}

impl OrgUnit for Location {
    const KIND: &'static str = "location";
    const MAX_NAME_LEN: usize = MAX_LOCATION_NAME_LEN;
    type Event = LocationEvent;

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

impl From<Change> for LocationEvent {
    fn from(change: Change) -> Self {
        match change {
            Change::Created { id, org_id, name, by } => LocationEvent::LocationCreated { id, org_id, name, created_by: by },
            Change::Renamed { name, by } => LocationEvent::LocationUpdated { name, updated_by: by },
            Change::MemberAdded { user_id, by } => LocationEvent::LocationMemberAdded { user_id, added_by: by },
            Change::MemberRemoved { user_id, by } => LocationEvent::LocationMemberRemoved { user_id, removed_by: by },
            Change::Deleted { by } => LocationEvent::LocationDeleted { deleted_by: by },
        }
    }
}

#[derive(Debug, Clone)]
pub enum LocationCommand {
    Create {
        id: uuid::Uuid,
        org_id: OrgId,
        name: String,
        created_by: Option<UserId>,
    },
    Rename {
        actor: Option<UserId>,
        name: String,
    },
    /// Adding a present member is a no-op.
    AddMember {
        actor: Option<UserId>,
        user_id: UserId,
    },
    /// `field` names the request field in the error.
    RemoveMember {
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
pub enum LocationEvent {
    LocationCreated { id: uuid::Uuid, org_id: OrgId, name: String, created_by: Option<UserId> },
    LocationUpdated { name: String, updated_by: Option<UserId> },
    LocationMemberAdded { user_id: UserId, added_by: Option<UserId> },
    LocationMemberRemoved { user_id: UserId, removed_by: Option<UserId> },
    LocationDeleted { deleted_by: Option<UserId> },
}

impl DomainEvent for LocationEvent {
    const STREAM_TYPE: &'static str = "location";

    fn event_type(&self) -> &'static str {
        match self {
            LocationEvent::LocationCreated { .. } => "LocationCreated",
            LocationEvent::LocationUpdated { .. } => "LocationUpdated",
            LocationEvent::LocationMemberAdded { .. } => "LocationMemberAdded",
            LocationEvent::LocationMemberRemoved { .. } => "LocationMemberRemoved",
            LocationEvent::LocationDeleted { .. } => "LocationDeleted",
        }
    }
}

pub struct LocationAggregate;

impl esrs::Aggregate for LocationAggregate {
    const NAME: &'static str = "location";
    type State = Option<Location>;
    type Command = LocationCommand;
    type Event = LocationEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        // A location has no rules of its own: every decision is the org unit's.
        let event = match command {
            LocationCommand::Create { id, org_id, name, created_by } => org_unit::create(state, id, org_id, &name, created_by)?,
            LocationCommand::Rename { actor, name } => org_unit::rename(state, actor, &name)?,
            LocationCommand::AddMember { actor, user_id } => match org_unit::add_member(live(state)?, user_id, actor) {
                Some(joined) => joined,
                None => return Ok(vec![]),
            },
            LocationCommand::RemoveMember { actor, user_id, field } => org_unit::remove_member(live(state)?, user_id, actor, &field)?,
            LocationCommand::Delete { actor } => org_unit::delete(state, actor)?,
        };
        Ok(vec![event])
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        use LocationEvent::*;
        match event {
            LocationCreated { id, org_id, .. } => Some(Location { id, org_id: Some(org_id), ..Location::default() }),
            other => state.map(|mut l| {
                match other {
                    LocationCreated { .. } | LocationUpdated { .. } => {}
                    LocationMemberAdded { user_id, .. } => {
                        l.members.insert(user_id);
                    }
                    LocationMemberRemoved { user_id, .. } => {
                        l.members.remove(&user_id);
                    }
                    LocationDeleted { .. } => l.deleted = true,
                }
                l
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn run(state: Option<Location>, cmd: LocationCommand) -> Result<Option<Location>, DomainError> {
        Ok(LocationAggregate::handle_command(&state, cmd)?.into_iter().fold(state, LocationAggregate::apply_event))
    }

    fn created() -> Option<Location> {
        run(
            None,
            LocationCommand::Create {
                id: uuid::Uuid::from_u128(1),
                org_id: OrgId(uuid::Uuid::from_u128(2)),
                name: "Berlin".into(),
                created_by: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn name_is_required_and_bounded() {
        let err = LocationAggregate::handle_command(&created(), LocationCommand::Rename { actor: None, name: "".into() }).unwrap_err();
        assert_eq!(err, DomainError::invalid("name", "must not be empty"));
        let long = "x".repeat(MAX_LOCATION_NAME_LEN + 1);
        let err = LocationAggregate::handle_command(&created(), LocationCommand::Rename { actor: None, name: long }).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "name"));
    }

    #[test]
    fn members_join_once_and_strangers_cannot_leave() {
        let u = UserId(uuid::Uuid::from_u128(5));
        let l = run(created(), LocationCommand::AddMember { actor: None, user_id: u }).unwrap();
        assert!(LocationAggregate::handle_command(&l, LocationCommand::AddMember { actor: None, user_id: u }).unwrap().is_empty());
        let l = run(l, LocationCommand::RemoveMember { actor: None, user_id: u, field: "remove_members".into() }).unwrap();
        let err = LocationAggregate::handle_command(
            &l,
            LocationCommand::RemoveMember { actor: None, user_id: u, field: "remove_members".into() },
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "remove_members"));
    }

    #[test]
    fn a_deleted_location_is_not_found() {
        let l = run(created(), LocationCommand::Delete { actor: None }).unwrap();
        assert_eq!(
            LocationAggregate::handle_command(&l, LocationCommand::Delete { actor: None }).unwrap_err(),
            DomainError::NotFound("location")
        );
    }
}
