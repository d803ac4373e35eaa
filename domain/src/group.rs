//! Groups: one model behind every dialect's groups (PortSIP, Sunbird, Publisher, NexPort).
//! Names are not unique (DESIGN §7); NexPort's `short_name` is, through a unique claim.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::patch::Patch;
use crate::values::{
    bounded_text, opt_text, optional_text, required_text, MAX_CALLER_ID_LEN, MAX_GROUP_DESCRIPTION_LEN, MAX_GROUP_NAME_LEN, MAX_TEXT_LEN,
};
use crate::{DomainError, GroupId, OrgId, UserId};

pub const MAX_OUTBOUND_CALLER_IDS: usize = 100;
/// Sunbird `max_group_limit`: groups a user may already belong to and still create one.
pub const MAX_GROUPS_PER_USER: usize = 50;
/// Sunbird `max_group_members_limit`, enforced for every dialect.
pub const MAX_MEMBERS_PER_GROUP: usize = 150;
/// Sunbird `max_activity_limit`.
pub const MAX_ACTIVITIES_PER_GROUP: usize = 20;
pub const MAX_SHORT_NAME_LEN: usize = 64;
pub const MAX_TRACKING_LEN: usize = 255;
pub const MAX_ACTIVITY_FIELD_LEN: usize = 255;

/// PortSIP: the caller id a group's members present on one trunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutboundCallerId {
    pub provider_id: String,
    pub caller_id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(MemberRole::Admin),
            "member" => Some(MemberRole::Member),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupStatus {
    #[default]
    Active,
    Suspended,
    Inactive,
}

impl GroupStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            GroupStatus::Active => "active",
            GroupStatus::Suspended => "suspended",
            GroupStatus::Inactive => "inactive",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(GroupStatus::Active),
            "suspended" => Some(GroupStatus::Suspended),
            "inactive" => Some(GroupStatus::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipType {
    #[default]
    InviteOnly,
    Moderated,
}

impl MembershipType {
    pub fn as_str(&self) -> &'static str {
        match self {
            MembershipType::InviteOnly => "invite_only",
            MembershipType::Moderated => "moderated",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "invite_only" => Some(MembershipType::InviteOnly),
            "moderated" => Some(MembershipType::Moderated),
            _ => None,
        }
    }
}

/// Where a group hangs (NexPort): directly under an organization, or under another group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum GroupParent {
    Organization(OrgId),
    Group(GroupId),
}

/// Sunbird: a learning activity attached to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Activity {
    pub fn parse(field: &str, id: &str, kind: &str) -> Result<Self, DomainError> {
        Ok(Activity {
            id: required_text(&format!("{field}.id"), id, MAX_ACTIVITY_FIELD_LEN)?,
            kind: required_text(&format!("{field}.type"), kind, MAX_ACTIVITY_FIELD_LEN)?,
        })
    }
}

/// Who acts on a group: a user, and whether their organization role lets them manage any group
/// (an org admin manages groups made through dialects that have no group admins, like PortSIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    pub org_admin: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub org_id: OrgId,
    pub deleted: bool,
    pub status: GroupStatus,
    pub created_by: Option<UserId>,
    /// Active members only; a removed member leaves this map (the read model keeps the record).
    pub members: BTreeMap<UserId, MemberRole>,
    pub activities: Vec<Activity>,
    pub short_name: Option<String>,
    pub external_id: Option<String>,
}

impl Group {
    fn is_admin(&self, actor: Actor) -> bool {
        actor.org_admin || self.members.get(&actor.user) == Some(&MemberRole::Admin)
    }

    fn is_creator(&self, actor: Actor) -> bool {
        actor.org_admin || self.created_by == Some(actor.user)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewMember {
    pub user_id: UserId,
    pub role: MemberRole,
    pub visited: bool,
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
    pub membership_type: MembershipType,
    /// Fixed at creation (no update changes it), so the org/group tree can never get a cycle.
    pub parent: Option<GroupParent>,
    pub short_name: Option<String>,
    pub tracking: Option<String>,
    pub activities: Vec<Activity>,
    /// A provisioning client's id for the group (SCIM `externalId`).
    pub external_id: Option<String>,
    /// Initial members; the creator, when listed, first.
    pub members: Vec<NewMember>,
    /// How many groups the creator already belongs to, when the dialect limits it (Sunbird).
    pub creator_memberships: Option<usize>,
    /// Over-limit members / activities are dropped with a report (Sunbird) instead of refused.
    pub lenient_limits: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    /// Present = replaces the whole list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<OutboundCallerId>)]
    pub outbound_caller_ids: Option<Vec<OutboundCallerId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = GroupStatus)]
    pub status: Option<GroupStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = MembershipType)]
    pub membership_type: Option<MembershipType>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub short_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub tracking: Patch<String>,
    /// Present = replaces the whole list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<Activity>)]
    pub activities: Option<Vec<Activity>>,
    /// A provisioning client's id for a group created without one; set once (SCIM `immutable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub external_id: Option<String>,
}

/// Sunbird's member changes of one update.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberChanges {
    pub add: Vec<(UserId, MemberRole)>,
    pub edit: Vec<(UserId, MemberRole)>,
    pub remove: Vec<UserId>,
}

impl MemberChanges {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.edit.is_empty() && self.remove.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityChanges {
    pub add: Vec<Activity>,
    pub remove: Vec<String>,
}

/// One Sunbird update: field patch, member changes and activity changes, decided together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupChange {
    pub patch: GroupPatch,
    pub members: Option<MemberChanges>,
    pub activities: Option<ActivityChanges>,
}

/// Why a change is refused before anything is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The group is suspended and the request neither reactivates it nor is a member leaving.
    Suspended,
    AdminRequired,
    CreatorRequired,
    MemberRequired,
}

impl Denial {
    pub fn into_error(self) -> DomainError {
        match self {
            Denial::Suspended => DomainError::invalid("status", "the group is suspended"),
            Denial::AdminRequired => DomainError::Forbidden("group administrator rights required".into()),
            Denial::CreatorRequired => DomainError::Forbidden("only the group's creator may do this".into()),
            Denial::MemberRequired => DomainError::Forbidden("only an active member of the group may do this".into()),
        }
    }
}

/// A part of a change that was not applied, reported next to the success (Sunbird's `error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "issue", content = "user_id", rename_all = "snake_case")]
pub enum Issue {
    MemberExists(UserId),
    MemberNotFound(UserId),
    TooManyMembers,
    TooManyActivities,
}

#[derive(Debug, Clone)]
pub enum GroupCommand {
    Create(NewGroup),
    Update {
        actor: Option<UserId>,
        patch: GroupPatch,
    },
    Delete {
        actor: Option<UserId>,
    },
    /// Adding a present member with the same role is a no-op (PortSIP: idempotent 200).
    AddMember {
        actor: Option<UserId>,
        user_id: UserId,
        role: MemberRole,
    },
    RemoveMember {
        actor: Option<UserId>,
        user_id: UserId,
    },
    /// Sunbird update, with its permission rules.
    Change {
        actor: Actor,
        change: GroupChange,
    },
    /// Sunbird delete: the creator only.
    DeleteAsCreator {
        actor: Actor,
    },
    /// Publisher PUT: the name and the whole member list.
    Replace {
        actor: Option<UserId>,
        name: String,
        members: Vec<UserId>,
        /// SCIM's `externalId`: may be given for a group that has none; never changed.
        external_id: Option<String>,
    },
    /// Publisher add-users: a union with the present members.
    AddMembers {
        actor: Option<UserId>,
        members: Vec<UserId>,
    },
    /// Sunbird membership update: the member marks the group visited (or not).
    SetVisited {
        user_id: UserId,
        visited: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
        // Fields added with the one group model; older events decode with the defaults.
        #[serde(default)]
        status: GroupStatus,
        #[serde(default)]
        membership_type: MembershipType,
        #[serde(default)]
        parent: Option<GroupParent>,
        #[serde(default)]
        short_name: Option<String>,
        #[serde(default)]
        tracking: Option<String>,
        #[serde(default)]
        activities: Vec<Activity>,
        /// The provisioning client's own id for the group (SCIM `externalId`), fixed at creation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
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
        #[serde(default)]
        visited: bool,
    },
    GroupMemberUpdated {
        user_id: UserId,
        #[serde(default)]
        role: Option<MemberRole>,
        #[serde(default)]
        visited: Option<bool>,
        updated_by: Option<UserId>,
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
            GroupEvent::GroupMemberUpdated { .. } => "GroupMemberUpdated",
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
                Ok(decide_create(new)?.0)
            }
            GroupCommand::Update { actor, patch } => {
                live(state)?;
                let patch = validate_patch(patch)?;
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
                match group.members.get(&user_id) {
                    Some(r) if *r == role => Ok(vec![]),
                    Some(_) => Ok(vec![GroupEvent::GroupMemberUpdated { user_id, role: Some(role), visited: None, updated_by: actor }]),
                    None => {
                        check_member_count(group.members.len() + 1)?;
                        Ok(vec![GroupEvent::GroupMemberAdded { user_id, role, added_by: actor, visited: false }])
                    }
                }
            }
            GroupCommand::RemoveMember { actor, user_id } => {
                let group = live(state)?;
                if !group.members.contains_key(&user_id) {
                    return Err(DomainError::NotFound("member"));
                }
                Ok(vec![GroupEvent::GroupMemberRemoved { user_id, removed_by: actor }])
            }
            GroupCommand::Change { actor, change } => Ok(decide_change(live(state)?, actor, change)?.0),
            GroupCommand::DeleteAsCreator { actor } => {
                let group = live(state)?;
                if !group.is_creator(actor) {
                    return Err(Denial::CreatorRequired.into_error());
                }
                Ok(vec![GroupEvent::GroupDeleted { deleted_by: Some(actor.user) }])
            }
            GroupCommand::Replace { actor, name, members, external_id } => {
                let group = live(state)?;
                let name = required_text("name", &name, MAX_GROUP_NAME_LEN)?;
                let wanted = dedup(members);
                check_member_count(wanted.len())?;
                let external_id = match (opt_text("external_id", external_id, MAX_TEXT_LEN)?, &group.external_id) {
                    (Some(new), Some(old)) if new != *old => {
                        return Err(DomainError::invalid("external_id", "is set once and cannot be changed"));
                    }
                    (Some(new), None) => Some(new),
                    _ => None,
                };
                let patch = GroupPatch { name: Some(name), external_id, ..GroupPatch::default() };
                let mut events = vec![GroupEvent::GroupUpdated { patch, updated_by: actor }];
                for u in group.members.keys().filter(|u| !wanted.contains(u)) {
                    events.push(GroupEvent::GroupMemberRemoved { user_id: *u, removed_by: actor });
                }
                for u in wanted.into_iter().filter(|u| !group.members.contains_key(u)) {
                    events.push(GroupEvent::GroupMemberAdded { user_id: u, role: MemberRole::Member, added_by: actor, visited: false });
                }
                Ok(events)
            }
            GroupCommand::AddMembers { actor, members } => {
                let group = live(state)?;
                let new: Vec<UserId> = dedup(members).into_iter().filter(|u| !group.members.contains_key(u)).collect();
                check_member_count(group.members.len() + new.len())?;
                Ok(new
                    .into_iter()
                    .map(|user_id| GroupEvent::GroupMemberAdded { user_id, role: MemberRole::Member, added_by: actor, visited: false })
                    .collect())
            }
            GroupCommand::SetVisited { user_id, visited } => {
                let group = live(state)?;
                if !group.members.contains_key(&user_id) {
                    return Err(DomainError::NotFound("member"));
                }
                Ok(vec![GroupEvent::GroupMemberUpdated { user_id, role: None, visited: Some(visited), updated_by: Some(user_id) }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match event {
            GroupEvent::GroupCreated { id, org_id, created_by, status, activities, short_name, external_id, .. } => Some(Group {
                id,
                org_id,
                deleted: false,
                status,
                created_by,
                members: BTreeMap::new(),
                activities,
                short_name,
                external_id,
            }),
            other => state.map(|mut g| {
                match other {
                    GroupEvent::GroupCreated { .. } => {}
                    GroupEvent::GroupUpdated { patch, .. } => {
                        if let Some(s) = patch.status {
                            g.status = s;
                        }
                        if let Some(a) = patch.activities {
                            g.activities = a;
                        }
                        patch.short_name.apply_to(&mut g.short_name);
                        if patch.external_id.is_some() {
                            g.external_id = patch.external_id;
                        }
                    }
                    GroupEvent::GroupDeleted { .. } => g.deleted = true,
                    GroupEvent::GroupMemberAdded { user_id, role, .. } => {
                        g.members.insert(user_id, role);
                    }
                    GroupEvent::GroupMemberUpdated { user_id, role, .. } => {
                        if let (Some(r), Some(m)) = (role, g.members.get_mut(&user_id)) {
                            *m = r;
                        }
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

fn dedup(users: Vec<UserId>) -> Vec<UserId> {
    let mut seen = std::collections::BTreeSet::new();
    users.into_iter().filter(|u| seen.insert(*u)).collect()
}

fn check_member_count(n: usize) -> Result<(), DomainError> {
    if n > MAX_MEMBERS_PER_GROUP {
        return Err(DomainError::invalid("members", format!("a group has at most {MAX_MEMBERS_PER_GROUP} members")));
    }
    Ok(())
}

fn validate_short_name(raw: &str) -> Result<String, DomainError> {
    required_text("short_name", raw, MAX_SHORT_NAME_LEN)
}

fn validate_activities(field: &str, activities: Vec<Activity>) -> Result<Vec<Activity>, DomainError> {
    activities.into_iter().enumerate().map(|(i, a)| Activity::parse(&format!("{field}[{i}]"), &a.id, &a.kind)).collect()
}

fn validate_patch(patch: GroupPatch) -> Result<GroupPatch, DomainError> {
    let activities = match patch.activities {
        Some(a) => {
            if a.len() > MAX_ACTIVITIES_PER_GROUP {
                return Err(DomainError::invalid("activities", format!("a group has at most {MAX_ACTIVITIES_PER_GROUP} activities")));
            }
            Some(validate_activities("activities", a)?)
        }
        None => None,
    };
    Ok(GroupPatch {
        name: patch.name.map(|n| required_text("name", &n, MAX_GROUP_NAME_LEN)).transpose()?,
        description: optional_text("description", patch.description, MAX_GROUP_DESCRIPTION_LEN)?,
        outbound_caller_ids: patch.outbound_caller_ids.map(validate_caller_ids).transpose()?,
        status: patch.status,
        membership_type: patch.membership_type,
        short_name: match patch.short_name {
            Patch::Set(s) => Patch::Set(validate_short_name(&s)?),
            other => other,
        },
        tracking: optional_text("tracking", patch.tracking, MAX_TRACKING_LEN)?,
        activities,
        // Only a replace sets it (once); an update through any other path leaves it alone.
        external_id: None,
    })
}

/// Decides a create: the events, and what was dropped at the limits (when `lenient_limits`).
pub fn decide_create(new: NewGroup) -> Result<(Vec<GroupEvent>, Vec<Issue>), DomainError> {
    if let Some(n) = new.creator_memberships {
        if n >= MAX_GROUPS_PER_USER {
            return Err(DomainError::invalid("groups", format!("a user belongs to at most {MAX_GROUPS_PER_USER} groups")));
        }
    }
    let mut issues = Vec::new();
    let mut activities = validate_activities("activities", new.activities)?;
    if activities.len() > MAX_ACTIVITIES_PER_GROUP {
        if !new.lenient_limits {
            return Err(DomainError::invalid("activities", format!("a group has at most {MAX_ACTIVITIES_PER_GROUP} activities")));
        }
        activities.clear();
        issues.push(Issue::TooManyActivities);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut members: Vec<NewMember> = new.members.into_iter().filter(|m| seen.insert(m.user_id)).collect();
    if members.len() > MAX_MEMBERS_PER_GROUP {
        if !new.lenient_limits {
            check_member_count(members.len())?;
        }
        // Sunbird stores no member then; the creator (first) stays admin so someone can manage the group.
        members.retain(|m| Some(m.user_id) == new.created_by);
        issues.push(Issue::TooManyMembers);
    }
    let mut events = vec![GroupEvent::GroupCreated {
        id: new.id,
        org_id: new.org_id,
        number: new.number,
        name: required_text("name", &new.name, MAX_GROUP_NAME_LEN)?,
        description: new.description.map(|d| bounded_text("description", &d, MAX_GROUP_DESCRIPTION_LEN)).transpose()?,
        outbound_caller_ids: validate_caller_ids(new.outbound_caller_ids)?,
        created_by: new.created_by,
        status: GroupStatus::Active,
        membership_type: new.membership_type,
        parent: match new.parent {
            // An organization parent is the group's own; a group parent was checked by the handler.
            Some(GroupParent::Organization(o)) if o != new.org_id => {
                return Err(DomainError::invalid("parent", "must be the group's own organization or one of its groups"))
            }
            other => other,
        },
        short_name: new.short_name.map(|s| validate_short_name(&s)).transpose()?,
        tracking: new.tracking.map(|t| bounded_text("tracking", &t, MAX_TRACKING_LEN)).transpose()?,
        activities,
        external_id: opt_text("external_id", new.external_id, MAX_TEXT_LEN)?,
    }];
    events.extend(members.into_iter().map(|m| GroupEvent::GroupMemberAdded {
        user_id: m.user_id,
        role: m.role,
        added_by: new.created_by,
        visited: m.visited,
    }));
    Ok((events, issues))
}

/// Sunbird's permission rules for one update (UpdateGroupActor): a member may always leave; a
/// suspended group only takes its reactivation; `inactive` is the creator's; the rest needs an
/// admin, except activity changes, which any active member may make.
pub fn authorize_change(group: &Group, actor: Actor, change: &GroupChange) -> Result<(), Denial> {
    let p = &change.patch;
    let fields_changed = p.name.is_some() || !p.description.is_keep() || p.membership_type.is_some() || p.status.is_some();
    let is_exit = !fields_changed
        && change.activities.is_none()
        && change.members.as_ref().is_some_and(|m| m.add.is_empty() && m.edit.is_empty() && m.remove == [actor.user]);
    if is_exit {
        return if group.members.contains_key(&actor.user) { Ok(()) } else { Err(Denial::MemberRequired) };
    }
    let status = p.status;
    if group.status == GroupStatus::Suspended && matches!(status, None | Some(GroupStatus::Suspended)) {
        return Err(Denial::Suspended);
    }
    if status == Some(GroupStatus::Inactive) {
        return if group.is_creator(actor) { Ok(()) } else { Err(Denial::CreatorRequired) };
    }
    if fields_changed || change.members.is_some() {
        return if group.is_admin(actor) { Ok(()) } else { Err(Denial::AdminRequired) };
    }
    if change.activities.is_some() && !group.is_admin(actor) && !group.members.contains_key(&actor.user) {
        return Err(Denial::MemberRequired);
    }
    Ok(())
}

/// Decides a Sunbird update: events and the per-member / limit issues to report.
pub fn decide_change(group: &Group, actor: Actor, change: GroupChange) -> Result<(Vec<GroupEvent>, Vec<Issue>), DomainError> {
    authorize_change(group, actor, &change).map_err(Denial::into_error)?;
    let by = Some(actor.user);
    if change.patch.status == Some(GroupStatus::Inactive) {
        // Kept for old Sunbird apps: `inactive` is a hard delete.
        return Ok((vec![GroupEvent::GroupDeleted { deleted_by: by }], vec![]));
    }
    let mut issues = Vec::new();
    let mut patch = validate_patch(change.patch)?;
    if let Some(a) = change.activities {
        let add = validate_activities("activities.add", a.add)?;
        let mut next: Vec<Activity> = group.activities.iter().filter(|x| !a.remove.contains(&x.id)).cloned().collect();
        for x in add {
            if !next.iter().any(|y| y.id == x.id) {
                next.push(x);
            }
        }
        if next.len() > MAX_ACTIVITIES_PER_GROUP {
            issues.push(Issue::TooManyActivities);
        } else if next != group.activities {
            patch.activities = Some(next);
        }
    }
    let mut events = Vec::new();
    if patch != GroupPatch::default() {
        events.push(GroupEvent::GroupUpdated { patch, updated_by: by });
    }
    if let Some(m) = change.members {
        let mut add = Vec::new();
        for (u, role) in m.add {
            if group.members.contains_key(&u) {
                issues.push(Issue::MemberExists(u));
            } else if !add.iter().any(|(x, _)| *x == u) {
                add.push((u, role));
            }
        }
        let mut remove = Vec::new();
        for u in m.remove {
            if !group.members.contains_key(&u) {
                issues.push(Issue::MemberNotFound(u));
            } else if !remove.contains(&u) {
                remove.push(u);
            }
        }
        let mut edit = Vec::new();
        for (u, role) in m.edit {
            match group.members.get(&u) {
                None => issues.push(Issue::MemberNotFound(u)),
                Some(r) if *r == role => {}
                Some(_) => edit.push((u, role)),
            }
        }
        if group.members.len() + add.len() - remove.len() > MAX_MEMBERS_PER_GROUP {
            // Sunbird applies no member change at all then.
            issues.push(Issue::TooManyMembers);
        } else {
            events.extend(add.into_iter().map(|(user_id, role)| GroupEvent::GroupMemberAdded {
                user_id,
                role,
                added_by: by,
                visited: false,
            }));
            events.extend(edit.into_iter().map(|(user_id, role)| GroupEvent::GroupMemberUpdated {
                user_id,
                role: Some(role),
                visited: None,
                updated_by: by,
            }));
            events.extend(remove.into_iter().map(|user_id| GroupEvent::GroupMemberRemoved { user_id, removed_by: by }));
        }
    }
    Ok((events, issues))
}

fn validate_caller_ids(ids: Vec<OutboundCallerId>) -> Result<Vec<OutboundCallerId>, DomainError> {
    if ids.len() > MAX_OUTBOUND_CALLER_IDS {
        return Err(DomainError::invalid("outbound_caller_ids", format!("must have at most {MAX_OUTBOUND_CALLER_IDS} entries")));
    }
    ids.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |f: &str| format!("outbound_caller_ids[{i}].{f}");
            Ok(OutboundCallerId {
                provider_id: required_text(&field("provider_id"), &c.provider_id, MAX_CALLER_ID_LEN)?,
                caller_id: required_text(&field("caller_id"), &c.caller_id, MAX_CALLER_ID_LEN)?,
                description: c.description.map(|d| bounded_text(&field("description"), &d, MAX_GROUP_DESCRIPTION_LEN)).transpose()?,
                display_name: c.display_name.map(|d| bounded_text(&field("display_name"), &d, MAX_GROUP_DESCRIPTION_LEN)).transpose()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    const CREATOR: u128 = 10_000;

    fn uid(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn new_group(members: Vec<NewMember>) -> NewGroup {
        NewGroup {
            id: GroupId(uuid::Uuid::from_u128(1)),
            org_id: OrgId(uuid::Uuid::from_u128(2)),
            number: 7,
            name: "Sales".into(),
            description: None,
            outbound_caller_ids: vec![],
            created_by: Some(uid(CREATOR)),
            membership_type: MembershipType::InviteOnly,
            parent: None,
            short_name: None,
            tracking: None,
            activities: vec![],
            external_id: None,
            members,
            creator_memberships: None,
            lenient_limits: true,
        }
    }

    #[test]
    fn a_group_hangs_only_under_its_own_organization() {
        let own = new_group(vec![]);
        let org = own.org_id;
        assert!(decide_create(NewGroup { parent: Some(GroupParent::Organization(org)), ..own.clone() }).is_ok());
        let other = OrgId(uuid::Uuid::from_u128(99));
        let err = decide_create(NewGroup { parent: Some(GroupParent::Organization(other)), ..own }).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "parent"), "{err:?}");
    }

    fn fold(state: Option<Group>, events: Vec<GroupEvent>) -> Option<Group> {
        events.into_iter().fold(state, GroupAggregate::apply_event)
    }

    fn created() -> Option<Group> {
        fold(None, GroupAggregate::handle_command(&None, GroupCommand::Create(new_group(vec![]))).unwrap())
    }

    /// A group made by user 100 (admin) with members 1..n.
    fn sunbird_group(n: u128) -> Group {
        let mut members = vec![NewMember { user_id: uid(CREATOR), role: MemberRole::Admin, visited: true }];
        members.extend((1..=n).map(|i| NewMember { user_id: uid(i), role: MemberRole::Member, visited: false }));
        fold(None, decide_create(new_group(members)).unwrap().0).unwrap()
    }

    fn actor(n: u128) -> Actor {
        Actor { user: uid(n), org_admin: false }
    }

    #[test]
    fn adding_an_existing_member_twice_emits_nothing() {
        let u = uid(3);
        let add = || GroupCommand::AddMember { actor: None, user_id: u, role: MemberRole::Member };
        let state = fold(created(), GroupAggregate::handle_command(&created(), add()).unwrap());
        assert!(GroupAggregate::handle_command(&state, add()).unwrap().is_empty());
    }

    #[test]
    fn caller_id_errors_name_the_entry() {
        let bad = OutboundCallerId { provider_id: "p".into(), caller_id: "".into(), description: None, display_name: None };
        let patch = GroupPatch { outbound_caller_ids: Some(vec![bad]), ..Default::default() };
        let err = GroupAggregate::handle_command(&created(), GroupCommand::Update { actor: None, patch }).unwrap_err();
        assert_eq!(err, DomainError::invalid("outbound_caller_ids[0].caller_id", "must not be empty"));
    }

    #[test]
    fn removing_a_non_member_is_not_found() {
        let err = GroupAggregate::handle_command(&created(), GroupCommand::RemoveMember { actor: None, user_id: uid(4) }).unwrap_err();
        assert_eq!(err, DomainError::NotFound("member"));
    }

    #[test]
    fn events_written_before_the_one_model_still_decode_with_defaults() {
        let old = serde_json::json!({"id": uuid::Uuid::from_u128(1), "org_id": uuid::Uuid::from_u128(2), "number": 3,
            "name": "Old", "description": null, "outbound_caller_ids": [], "created_by": null});
        match GroupEvent::from_parts("GroupCreated", 1, old).unwrap() {
            GroupEvent::GroupCreated { status, membership_type, parent, short_name, activities, .. } => {
                assert_eq!((status, membership_type, parent, short_name), (GroupStatus::Active, MembershipType::InviteOnly, None, None));
                assert!(activities.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let added = serde_json::json!({"user_id": uuid::Uuid::from_u128(4), "role": "admin", "added_by": null});
        assert!(matches!(
            GroupEvent::from_parts("GroupMemberAdded", 1, added).unwrap(),
            GroupEvent::GroupMemberAdded { visited: false, .. }
        ));
    }

    #[test]
    fn create_keeps_150_members_and_drops_all_but_the_creator_at_151() {
        assert_eq!(sunbird_group(MAX_MEMBERS_PER_GROUP as u128 - 1).members.len(), MAX_MEMBERS_PER_GROUP);
        let mut members = vec![NewMember { user_id: uid(CREATOR), role: MemberRole::Admin, visited: true }];
        members.extend((1..=MAX_MEMBERS_PER_GROUP as u128).map(|i| NewMember {
            user_id: uid(i),
            role: MemberRole::Member,
            visited: false,
        }));
        let (events, issues) = decide_create(new_group(members)).unwrap();
        assert_eq!(issues, vec![Issue::TooManyMembers]);
        let g = fold(None, events).unwrap();
        assert_eq!(g.members.into_iter().collect::<Vec<_>>(), vec![(uid(CREATOR), MemberRole::Admin)]);
    }

    #[test]
    fn create_refuses_a_creator_at_the_groups_per_user_limit() {
        let mut new = new_group(vec![]);
        new.creator_memberships = Some(MAX_GROUPS_PER_USER - 1);
        assert!(decide_create(new.clone()).is_ok());
        new.creator_memberships = Some(MAX_GROUPS_PER_USER);
        assert_eq!(decide_create(new).unwrap_err(), DomainError::invalid("groups", "a user belongs to at most 50 groups"));
    }

    #[test]
    fn activities_beyond_the_limit_are_reported_not_stored() {
        let g = sunbird_group(1);
        let acts = |n: usize| (0..n).map(|i| Activity { id: format!("do_{i}"), kind: "Course".into() }).collect::<Vec<_>>();
        let change = |n| GroupChange { activities: Some(ActivityChanges { add: acts(n), remove: vec![] }), ..Default::default() };
        let (events, issues) = decide_change(&g, actor(1), change(MAX_ACTIVITIES_PER_GROUP)).unwrap();
        assert!(issues.is_empty());
        assert_eq!(fold(Some(g.clone()), events).unwrap().activities.len(), MAX_ACTIVITIES_PER_GROUP);
        let (events, issues) = decide_change(&g, actor(1), change(MAX_ACTIVITIES_PER_GROUP + 1)).unwrap();
        assert_eq!((events, issues), (vec![], vec![Issue::TooManyActivities]));
    }

    #[test]
    fn members_may_leave_but_only_admins_change_and_only_the_creator_deactivates() {
        let g = sunbird_group(2);
        let leave = GroupChange { members: Some(MemberChanges { remove: vec![uid(1)], ..Default::default() }), ..Default::default() };
        assert_eq!(authorize_change(&g, actor(1), &leave), Ok(()));
        let kick = GroupChange { members: Some(MemberChanges { remove: vec![uid(2)], ..Default::default() }), ..Default::default() };
        assert_eq!(authorize_change(&g, actor(1), &kick), Err(Denial::AdminRequired));
        assert_eq!(authorize_change(&g, actor(CREATOR), &kick), Ok(()));
        let rename = GroupChange { patch: GroupPatch { name: Some("x".into()), ..Default::default() }, ..Default::default() };
        assert_eq!(authorize_change(&g, actor(2), &rename), Err(Denial::AdminRequired));
        assert_eq!(
            authorize_change(&g, actor(999), &GroupChange { activities: Some(ActivityChanges::default()), ..Default::default() }),
            Err(Denial::MemberRequired)
        );
        let off = GroupChange { patch: GroupPatch { status: Some(GroupStatus::Inactive), ..Default::default() }, ..Default::default() };
        let mut promoted = g.clone();
        promoted.members.insert(uid(1), MemberRole::Admin);
        assert_eq!(authorize_change(&promoted, actor(1), &off), Err(Denial::CreatorRequired));
        assert_eq!(decide_change(&g, actor(CREATOR), off).unwrap().0, vec![GroupEvent::GroupDeleted { deleted_by: Some(uid(CREATOR)) }]);
    }

    #[test]
    fn a_suspended_group_takes_only_its_reactivation_or_a_member_leaving() {
        let mut g = sunbird_group(1);
        g.status = GroupStatus::Suspended;
        let rename = GroupChange { patch: GroupPatch { name: Some("x".into()), ..Default::default() }, ..Default::default() };
        assert_eq!(authorize_change(&g, actor(CREATOR), &rename), Err(Denial::Suspended));
        let on = GroupChange { patch: GroupPatch { status: Some(GroupStatus::Active), ..Default::default() }, ..Default::default() };
        assert_eq!(authorize_change(&g, actor(CREATOR), &on), Ok(()));
        let leave = GroupChange { members: Some(MemberChanges { remove: vec![uid(1)], ..Default::default() }), ..Default::default() };
        assert_eq!(authorize_change(&g, actor(1), &leave), Ok(()));
    }

    #[test]
    fn member_updates_report_existing_and_unknown_users_and_stop_at_the_limit() {
        let g = sunbird_group(MAX_MEMBERS_PER_GROUP as u128 - 2);
        let add = |users: Vec<u128>| GroupChange {
            members: Some(MemberChanges {
                add: users.into_iter().map(|u| (uid(u), MemberRole::Member)).collect(),
                edit: vec![(uid(50_000), MemberRole::Admin)],
                remove: vec![],
            }),
            ..Default::default()
        };
        let (events, issues) = decide_change(&g, actor(CREATOR), add(vec![1, 20_000])).unwrap();
        assert_eq!(issues, vec![Issue::MemberExists(uid(1)), Issue::MemberNotFound(uid(50_000))]);
        assert_eq!(fold(Some(g.clone()), events).unwrap().members.len(), MAX_MEMBERS_PER_GROUP);
        let (events, issues) = decide_change(&g, actor(CREATOR), add(vec![20_000, 20_001])).unwrap();
        assert!(events.is_empty());
        assert!(issues.contains(&Issue::TooManyMembers));
        let err =
            GroupAggregate::handle_command(&Some(g), GroupCommand::AddMembers { actor: None, members: vec![uid(20_000), uid(20_001)] })
                .unwrap_err();
        assert_eq!(err, DomainError::invalid("members", "a group has at most 150 members"));
    }

    #[test]
    fn replace_sets_exactly_the_given_members() {
        let g = sunbird_group(2);
        let events = GroupAggregate::handle_command(
            &Some(g.clone()),
            GroupCommand::Replace { actor: None, name: "New".into(), members: vec![uid(2), uid(3)], external_id: None },
        )
        .unwrap();
        let after = fold(Some(g), events).unwrap();
        assert_eq!(after.members.keys().copied().collect::<Vec<_>>(), vec![uid(2), uid(3)]);
    }
}
