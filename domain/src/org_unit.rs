//! What departments and locations share: an org unit is a named, deletable part of one
//! organization whose membership is the user's own field (user stream), mirrored on the unit's
//! stream so that a delete knows whom to clear and concurrent changes conflict on its version.
//! Each kind keeps its own stream type, event names and payloads (logs already hold them); the
//! rules live here once.

use std::collections::BTreeSet;

use crate::values::required_text;
use crate::{DomainError, OrgId, UserId};

/// A department or a location, as far as the shared rules see it.
pub trait OrgUnit {
    /// The kind's name in errors ("department", "location").
    const KIND: &'static str;
    /// The longest name the kind accepts.
    const MAX_NAME_LEN: usize;
    /// The kind's own events, which name each shared `Change` in the kind's words.
    type Event: From<Change>;

    fn org_id(&self) -> Option<OrgId>;
    fn deleted(&self) -> bool;
    fn members(&self) -> &BTreeSet<UserId>;
}

/// What the shared decisions below decide, before a kind names it: each kind's event type keeps
/// its own names (`DepartmentCreated`, `LocationCreated`, ...) and payloads, because logs
/// already hold them, and converts from these one to one.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Created { id: uuid::Uuid, org_id: OrgId, name: String, by: Option<UserId> },
    Renamed { name: String, by: Option<UserId> },
    MemberAdded { user_id: UserId, by: Option<UserId> },
    MemberRemoved { user_id: UserId, by: Option<UserId> },
    Deleted { by: Option<UserId> },
}

/// The unit, unless it was never created or is deleted (both answer "not found").
pub fn live<U: OrgUnit>(state: &Option<U>) -> Result<&U, DomainError> {
    match state {
        Some(u) if !u.deleted() => Ok(u),
        _ => Err(DomainError::NotFound(U::KIND)),
    }
}

/// A valid name for a unit of kind `U`.
pub fn name<U: OrgUnit>(raw: &str) -> Result<String, DomainError> {
    required_text("name", raw, U::MAX_NAME_LEN)
}

/// Whether adding `user` changes anything: adding a present member is a no-op.
pub fn joins<U: OrgUnit>(unit: &U, user: UserId) -> bool {
    !unit.members().contains(&user)
}

/// Removing `user` needs them to be a member; `field` names the request field in the error.
pub fn check_member<U: OrgUnit>(unit: &U, user: UserId, field: &str) -> Result<(), DomainError> {
    if unit.members().contains(&user) {
        Ok(())
    } else {
        Err(DomainError::invalid(field, format!("user {user} is not a member of this {}", U::KIND)))
    }
}

/// The event creating unit `id`, unless its stream already exists.
pub fn create<U: OrgUnit>(
    state: &Option<U>,
    id: uuid::Uuid,
    org_id: OrgId,
    raw_name: &str,
    created_by: Option<UserId>,
) -> Result<U::Event, DomainError> {
    if state.is_some() {
        return Err(DomainError::AlreadyExists(U::KIND));
    }
    Ok(Change::Created { id, org_id, name: name::<U>(raw_name)?, by: created_by }.into())
}

pub fn rename<U: OrgUnit>(state: &Option<U>, actor: Option<UserId>, raw_name: &str) -> Result<U::Event, DomainError> {
    live(state)?;
    Ok(Change::Renamed { name: name::<U>(raw_name)?, by: actor }.into())
}

/// Adding a present member emits nothing.
pub fn add_member<U: OrgUnit>(unit: &U, user: UserId, actor: Option<UserId>) -> Option<U::Event> {
    joins(unit, user).then(|| Change::MemberAdded { user_id: user, by: actor }.into())
}

pub fn remove_member<U: OrgUnit>(unit: &U, user: UserId, actor: Option<UserId>, field: &str) -> Result<U::Event, DomainError> {
    check_member(unit, user, field)?;
    Ok(Change::MemberRemoved { user_id: user, by: actor }.into())
}

pub fn delete<U: OrgUnit>(state: &Option<U>, actor: Option<UserId>) -> Result<U::Event, DomainError> {
    live(state)?;
    Ok(Change::Deleted { by: actor }.into())
}

/// Whether `state` is a live unit of `org`: another org's unit is as good as missing.
pub fn live_in<U: OrgUnit>(state: &Option<U>, org: OrgId) -> bool {
    matches!(state, Some(u) if !u.deleted() && u.org_id() == Some(org))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::department::Department;
    use crate::location::Location;

    #[test]
    fn both_kinds_share_the_rules_and_name_themselves_in_errors() {
        let u = UserId(uuid::Uuid::from_u128(1));
        let gone = Some(Location { deleted: true, ..Location::default() });
        assert_eq!(live(&gone).unwrap_err(), DomainError::NotFound("location"));
        assert_eq!(live::<Department>(&None).unwrap_err(), DomainError::NotFound("department"));
        let d = Department { members: [u].into(), ..Department::default() };
        assert!(!joins(&d, u) && check_member(&d, u, "f").is_ok());
        let err = check_member(&Location::default(), u, "remove_members[0]").unwrap_err();
        assert_eq!(err, DomainError::invalid("remove_members[0]", format!("user {u} is not a member of this location")));
        assert!(name::<Location>("  ").is_err() && name::<Department>("Ops").is_ok());
    }
}
