use domain::group::{
    decide_change, decide_create, Activity, Actor, Group, GroupAggregate, GroupChange, GroupCommand, GroupParent, GroupPatch, MemberRole,
    MembershipType, NewGroup, NewMember, OutboundCallerId,
};
use domain::{DomainError, GroupId, OrgId, UserId};
use esrs::Aggregate;
use uuid::Uuid;

use super::same_org;
use super::user::{load_live, load_live_many};
use crate::results::*;
use crate::store::{Claim, PendingStream, Plan};
use crate::{CommandContext, CommandError, Committed, Store};

#[derive(Debug, Clone, Default)]
pub struct CreateGroup {
    pub name: String,
    pub description: Option<String>,
    pub outbound_caller_ids: Vec<OutboundCallerId>,
    pub membership_type: MembershipType,
    pub parent: Option<GroupParent>,
    pub short_name: Option<String>,
    pub tracking: Option<String>,
    pub activities: Vec<Activity>,
    /// A provisioning client's id for the group (SCIM `externalId`).
    pub external_id: Option<String>,
    /// Initial members (checked to be live users of the organization).
    pub members: Vec<NewMember>,
    /// Whether the creator joins the group (Sunbird's rule), and so counts against the
    /// groups-per-user limit.
    pub creator: CreatorMembership,
    /// Over-limit members / activities are dropped and reported in the result's `issues`
    /// instead of refused (Sunbird's rule).
    pub lenient_limits: bool,
}

/// What creating a group does for its creator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CreatorMembership {
    /// The creator is not made a member.
    #[default]
    None,
    /// The creator joins as the first admin. `already_in` is how many groups they belong to
    /// (from the read model): the groups-per-user limit applies to them.
    JoinsAsAdmin { already_in: usize },
}

/// NexPort short names are unique system-wide.
fn short_name_claim(short_name: &str, owner: Uuid) -> Claim {
    Claim { scope: Uuid::nil(), kind: "group_short_name", value: short_name.trim().to_lowercase(), owner }
}

/// Live users of `org` among `users`; the first missing one is reported by `field`.
async fn check_users(store: &Store, org: OrgId, users: &[UserId], field: &str) -> Result<(), CommandError> {
    let found = load_live_many(store, org, users).await?;
    if let Some((i, _)) = users.iter().enumerate().find(|(_, u)| !found.contains_key(u)) {
        return Err(DomainError::NotFoundAt { field: format!("{field}[{i}]"), what: "user" }.into());
    }
    Ok(())
}

/// Creates a group; the result carries `group_id`, `number` and the `issues` of a lenient create.
pub async fn create_group(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    input: CreateGroup,
) -> Result<Committed<GroupCreated>, CommandError> {
    let id = GroupId(Uuid::now_v7());
    let number = store.next_number().await?;
    let mut members = input.members.clone();
    let mut creator_memberships = None;
    if let CreatorMembership::JoinsAsAdmin { already_in } = input.creator {
        let creator = ctx.actor.ok_or_else(|| DomainError::Forbidden("a group needs a creator".into()))?;
        members.retain(|m| m.user_id != creator);
        members.insert(0, NewMember { user_id: creator, role: MemberRole::Admin, visited: true });
        creator_memberships = Some(already_in);
    }
    let users: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
    check_users(store, org, &users, "members").await?;
    // A parent group must be a live group of the same organization (it existed before this one,
    // so the new edge cannot close a cycle).
    if let Some(GroupParent::Group(parent)) = input.parent {
        load_group(store, org, parent).await.map_err(|_| DomainError::NotFoundAt { field: "parent".into(), what: "group" })?;
    }
    store
        .execute(ctx, || async {
            let (events, issues) = decide_create(NewGroup {
                id,
                org_id: org,
                number,
                name: input.name.clone(),
                description: input.description.clone(),
                outbound_caller_ids: input.outbound_caller_ids.clone(),
                created_by: ctx.actor,
                membership_type: input.membership_type,
                parent: input.parent,
                short_name: input.short_name.clone(),
                tracking: input.tracking.clone(),
                activities: input.activities.clone(),
                external_id: input.external_id.clone(),
                members: members.clone(),
                creator_memberships,
                lenient_limits: input.lenient_limits,
            })?;
            let claims = input.short_name.iter().map(|s| short_name_claim(s, id.0)).collect();
            Ok(Plan {
                streams: vec![PendingStream::new(id.0, Some(org.0), 0, &events)?],
                claims,
                ..Plan::new(GroupCreated { group_id: id, number, issues })
            })
        })
        .await
}

/// A live group of the caller's organization, for a dialect to check before deciding.
pub async fn load_group(store: &Store, org: OrgId, id: GroupId) -> Result<Group, CommandError> {
    let (state, _) = store.load::<GroupAggregate>(id.0).await?;
    match state {
        Some(g) if !g.deleted && g.org_id == org => Ok(g),
        _ => Err(DomainError::NotFound("group").into()),
    }
}

/// Runs one group command against a group of the caller's organization.
async fn on_group(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    command: impl Fn() -> GroupCommand,
) -> Result<Committed<GroupRef>, CommandError> {
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<GroupAggregate>(id.0).await?;
            same_org(state.as_ref().map(|g| g.org_id), Some(org), "group")?;
            let events = GroupAggregate::handle_command(&state, command())?;
            let releases = match (&state, events.last()) {
                (Some(g), Some(domain::group::GroupEvent::GroupDeleted { .. })) => {
                    g.short_name.iter().map(|s| short_name_claim(s, id.0)).collect()
                }
                _ => vec![],
            };
            Ok(Plan {
                streams: vec![PendingStream::new(id.0, Some(org.0), version, &events)?],
                releases,
                ..Plan::new(GroupRef { group_id: id })
            })
        })
        .await
}

pub async fn update_group(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    patch: GroupPatch,
) -> Result<Committed<GroupRef>, CommandError> {
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<GroupAggregate>(id.0).await?;
            same_org(state.as_ref().map(|g| g.org_id), Some(org), "group")?;
            let events = GroupAggregate::handle_command(&state, GroupCommand::Update { actor: ctx.actor, patch: patch.clone() })?;
            // A changed short name moves its system-wide claim in the same transaction.
            let old = state.as_ref().and_then(|g| g.short_name.clone());
            let (mut claims, mut releases) = (vec![], vec![]);
            if let Some(domain::group::GroupEvent::GroupUpdated { patch: applied, .. }) = events.first() {
                if !applied.short_name.is_keep() {
                    releases.extend(old.iter().map(|s| short_name_claim(s, id.0)));
                    if let domain::patch::Patch::Set(s) = &applied.short_name {
                        claims.push(short_name_claim(s, id.0));
                    }
                }
            }
            Ok(Plan {
                streams: vec![PendingStream::new(id.0, Some(org.0), version, &events)?],
                claims,
                releases,
                ..Plan::new(GroupRef { group_id: id })
            })
        })
        .await
}

pub async fn delete_group(store: &Store, ctx: &CommandContext, org: OrgId, id: GroupId) -> Result<Committed<GroupRef>, CommandError> {
    on_group(store, ctx, org, id, || GroupCommand::Delete { actor: ctx.actor }).await
}

/// Sunbird delete: only the creator (or an org admin).
pub async fn delete_group_as_creator(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    actor: Actor,
) -> Result<Committed<GroupRef>, CommandError> {
    on_group(store, ctx, org, id, || GroupCommand::DeleteAsCreator { actor }).await
}

pub async fn add_member(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    user: UserId,
    role: MemberRole,
) -> Result<Committed<GroupRef>, CommandError> {
    // Check the group first so an unknown group is reported as such, not as an unknown user.
    load_group(store, org, id).await?;
    load_live(store, Some(org), user, "user").await?;
    on_group(store, ctx, org, id, || GroupCommand::AddMember { actor: ctx.actor, user_id: user, role }).await
}

pub async fn remove_member(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    user: UserId,
) -> Result<Committed<GroupRef>, CommandError> {
    on_group(store, ctx, org, id, || GroupCommand::RemoveMember { actor: ctx.actor, user_id: user }).await
}

/// Sunbird update: one transaction for fields, members and activities; the result's `issues`
/// list what was not applied. Added members must be live users of the organization.
pub async fn change_group(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    actor: Actor,
    change: GroupChange,
) -> Result<Committed<GroupChanged>, CommandError> {
    if let Some(m) = &change.members {
        let users: Vec<UserId> = m.add.iter().map(|(u, _)| *u).collect();
        check_users(store, org, &users, "members.add").await?;
    }
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<GroupAggregate>(id.0).await?;
            same_org(state.as_ref().map(|g| g.org_id), Some(org), "group")?;
            let group = match &state {
                Some(g) if !g.deleted => g,
                _ => return Err(DomainError::NotFound("group").into()),
            };
            let (events, issues) = decide_change(group, actor, change.clone())?;
            let releases = match events.last() {
                Some(domain::group::GroupEvent::GroupDeleted { .. }) => {
                    group.short_name.iter().map(|s| short_name_claim(s, id.0)).collect()
                }
                _ => vec![],
            };
            Ok(Plan {
                streams: vec![PendingStream::new(id.0, Some(org.0), version, &events)?],
                releases,
                ..Plan::new(GroupChanged { group_id: id, issues })
            })
        })
        .await
}

/// Publisher and SCIM PUT: the name and exactly these members (and SCIM's `externalId`, which a
/// group without one may be given).
pub async fn replace_group(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    name: String,
    members: Vec<UserId>,
    external_id: Option<String>,
) -> Result<Committed<GroupRef>, CommandError> {
    check_users(store, org, &members, "users").await?;
    on_group(store, ctx, org, id, || GroupCommand::Replace {
        actor: ctx.actor,
        name: name.clone(),
        members: members.clone(),
        external_id: external_id.clone(),
    })
    .await
}

/// Publisher add-users: a union with the present members.
pub async fn add_members(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    members: Vec<UserId>,
) -> Result<Committed<GroupRef>, CommandError> {
    check_users(store, org, &members, "users").await?;
    on_group(store, ctx, org, id, || GroupCommand::AddMembers { actor: ctx.actor, members: members.clone() }).await
}

/// Sunbird membership update: a member marks a group visited.
pub async fn set_visited(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: GroupId,
    user: UserId,
    visited: bool,
) -> Result<Committed<GroupRef>, CommandError> {
    on_group(store, ctx, org, id, || GroupCommand::SetVisited { user_id: user, visited }).await
}
