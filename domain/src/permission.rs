//! NexPort's named permissions, the roles that bundle them, and role grants.
//!
//! A grant gives one user one role on one directory node (an organization or a group); it holds on
//! that node and on every descendant. Each grant is its own stream, so granting to many users at
//! once never contends on one hot stream; the pair (user, node, role) is unique through a claim.

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::{DomainError, UserId};

/// A permission as NexPort names it ("From PermissionAttribute on Role Properties").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    CreateUsers,
    ViewUsers,
    EditUsers,
    ViewUserProfiles,
    EditUserProfiles,
    ViewGroups,
    AddGroup,
    AddMembership,
    RemoveMembership,
    ViewSubscriptions,
    AddSubscriptions,
    UpdateSubscriptions,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::CreateUsers,
        Permission::ViewUsers,
        Permission::EditUsers,
        Permission::ViewUserProfiles,
        Permission::EditUserProfiles,
        Permission::ViewGroups,
        Permission::AddGroup,
        Permission::AddMembership,
        Permission::RemoveMembership,
        Permission::ViewSubscriptions,
        Permission::AddSubscriptions,
        Permission::UpdateSubscriptions,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Permission::CreateUsers => "CreateUsers",
            Permission::ViewUsers => "ViewUsers",
            Permission::EditUsers => "EditUsers",
            Permission::ViewUserProfiles => "ViewUserProfiles",
            Permission::EditUserProfiles => "EditUserProfiles",
            Permission::ViewGroups => "ViewGroups",
            Permission::AddGroup => "AddGroup",
            Permission::AddMembership => "AddMembership",
            Permission::RemoveMembership => "RemoveMembership",
            Permission::ViewSubscriptions => "ViewSubscriptions",
            Permission::AddSubscriptions => "AddSubscriptions",
            Permission::UpdateSubscriptions => "UpdateSubscriptions",
        }
    }

    /// Accepts the attribute name with or without spaces and in any case ("Create Users",
    /// "createusers"), since the seed writes both forms.
    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let wanted: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        Permission::ALL.into_iter().find(|p| p.as_str().to_ascii_lowercase() == wanted).ok_or_else(|| {
            let names: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
            DomainError::invalid(field, format!("unknown permission '{raw}'; one of {}", names.join(", ")))
        })
    }

    /// The roles that carry this permission: a check looks for a grant of any of them.
    pub fn roles(&self) -> Vec<GrantRole> {
        GrantRole::ALL.into_iter().filter(|r| r.permissions().contains(self)).collect()
    }
}

/// A named bundle of permissions. Org admins (members of the org's `Administrators` security
/// group) hold `Administrator` on their organization without a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum GrantRole {
    Administrator,
    UserManager,
    GroupManager,
    SubscriptionManager,
    Viewer,
}

impl GrantRole {
    pub const ALL: [GrantRole; 5] =
        [GrantRole::Administrator, GrantRole::UserManager, GrantRole::GroupManager, GrantRole::SubscriptionManager, GrantRole::Viewer];

    pub fn as_str(&self) -> &'static str {
        match self {
            GrantRole::Administrator => "Administrator",
            GrantRole::UserManager => "UserManager",
            GrantRole::GroupManager => "GroupManager",
            GrantRole::SubscriptionManager => "SubscriptionManager",
            GrantRole::Viewer => "Viewer",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        GrantRole::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(raw.trim())).ok_or_else(|| {
            let names: Vec<&str> = GrantRole::ALL.iter().map(|r| r.as_str()).collect();
            DomainError::invalid(field, format!("unknown role '{raw}'; one of {}", names.join(", ")))
        })
    }

    pub fn permissions(&self) -> &'static [Permission] {
        use Permission::*;
        match self {
            GrantRole::Administrator => &Permission::ALL,
            GrantRole::UserManager => &[CreateUsers, ViewUsers, EditUsers, ViewUserProfiles, EditUserProfiles],
            GrantRole::GroupManager => &[ViewGroups, AddGroup, AddMembership, RemoveMembership],
            GrantRole::SubscriptionManager => &[ViewSubscriptions, AddSubscriptions, UpdateSubscriptions],
            GrantRole::Viewer => &[ViewUsers, ViewUserProfiles, ViewGroups, ViewSubscriptions],
        }
    }
}

/// What a grant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Organization,
    Group,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleGrant {
    pub user_id: UserId,
    pub node_id: uuid::Uuid,
    pub role: GrantRole,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub enum RoleGrantCommand {
    Grant { user_id: UserId, node_id: uuid::Uuid, node_kind: NodeKind, role: GrantRole, actor: Option<UserId> },
    Revoke { actor: Option<UserId> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum RoleGrantEvent {
    RoleGranted { user_id: UserId, node_id: uuid::Uuid, node_kind: NodeKind, role: GrantRole, granted_by: Option<UserId> },
    RoleRevoked { revoked_by: Option<UserId> },
}

impl DomainEvent for RoleGrantEvent {
    const STREAM_TYPE: &'static str = "role_grant";

    fn event_type(&self) -> &'static str {
        match self {
            RoleGrantEvent::RoleGranted { .. } => "RoleGranted",
            RoleGrantEvent::RoleRevoked { .. } => "RoleRevoked",
        }
    }
}

pub struct RoleGrantAggregate;

impl esrs::Aggregate for RoleGrantAggregate {
    const NAME: &'static str = "role_grant";
    type State = Option<RoleGrant>;
    type Command = RoleGrantCommand;
    type Event = RoleGrantEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            RoleGrantCommand::Grant { user_id, node_id, node_kind, role, actor } => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("grant"));
                }
                Ok(vec![RoleGrantEvent::RoleGranted { user_id, node_id, node_kind, role, granted_by: actor }])
            }
            RoleGrantCommand::Revoke { actor } => match state {
                Some(g) if !g.revoked => Ok(vec![RoleGrantEvent::RoleRevoked { revoked_by: actor }]),
                _ => Err(DomainError::NotFound("grant")),
            },
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match event {
            RoleGrantEvent::RoleGranted { user_id, node_id, role, .. } => Some(RoleGrant { user_id, node_id, role, revoked: false }),
            RoleGrantEvent::RoleRevoked { .. } => state.map(|g| RoleGrant { revoked: true, ..g }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_parse_with_spaces_and_any_case() {
        assert_eq!(Permission::parse("permission", "Create Users").unwrap(), Permission::CreateUsers);
        assert_eq!(Permission::parse("permission", "addmembership").unwrap(), Permission::AddMembership);
        let err = Permission::parse("permission", "FlyPlanes").unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "permission"), "{err:?}");
    }

    #[test]
    fn every_permission_is_held_by_the_administrator_role() {
        for p in Permission::ALL {
            assert!(p.roles().contains(&GrantRole::Administrator), "{p:?}");
        }
        assert_eq!(Permission::AddGroup.roles(), vec![GrantRole::Administrator, GrantRole::GroupManager]);
    }

    #[test]
    fn a_grant_is_revoked_once() {
        use esrs::Aggregate;
        let grant = RoleGrantCommand::Grant {
            user_id: UserId(uuid::Uuid::from_u128(1)),
            node_id: uuid::Uuid::from_u128(2),
            node_kind: NodeKind::Organization,
            role: GrantRole::Viewer,
            actor: None,
        };
        let state = RoleGrantAggregate::handle_command(&None, grant).unwrap().into_iter().fold(None, RoleGrantAggregate::apply_event);
        let revoked = RoleGrantAggregate::handle_command(&state, RoleGrantCommand::Revoke { actor: None })
            .unwrap()
            .into_iter()
            .fold(state, RoleGrantAggregate::apply_event);
        assert_eq!(
            RoleGrantAggregate::handle_command(&revoked, RoleGrantCommand::Revoke { actor: None }).unwrap_err(),
            DomainError::NotFound("grant")
        );
    }
}
