//! What departments and locations share: an org unit is a named, deletable part of one
//! organization whose membership is the user's own field (user stream), mirrored on the unit's
//! stream so that a delete knows whom to clear and concurrent changes conflict on its version.
//! Each kind keeps its own stream type, event names and payloads (logs already hold them); the
//! rules live here once.

use std::collections::BTreeSet;

use crate::values::required_text;
use crate::{DomainError, UserId};

/// A department or a location, as far as the shared rules see it.
pub trait OrgUnit {
    /// The kind's name in errors ("department", "location").
    const KIND: &'static str;
    /// The longest name the kind accepts.
    const MAX_NAME_LEN: usize;

    fn deleted(&self) -> bool;
    fn members(&self) -> &BTreeSet<UserId>;
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
