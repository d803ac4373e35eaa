//! NexPort's own entities: role grants, subscriptions and custom profile fields. Callers check
//! permissions and tenancy before calling (the API owns the principal); these handlers keep the
//! invariants: one grant per (user, node, role), one subscription per (org, user), one field per
//! (org, key), and values typed by their field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::group::{GroupAggregate, GroupCommand, MemberRole};
use domain::permission::{GrantRole, NodeKind, RoleGrantAggregate, RoleGrantCommand};
use domain::profile_field::{FieldType, FieldValue, ProfileFieldAggregate, ProfileFieldCommand};
use domain::subscription::{SubscriptionAggregate, SubscriptionCommand, SubscriptionStatus};
use domain::{DomainError, GroupId, OrgId, UserId};
use esrs::Aggregate;
use uuid::Uuid;

use crate::results::*;
use crate::store::{Claim, PendingStream, Plan};
use crate::{CommandContext, CommandError, Committed, Store};

fn grant_claim(org: OrgId, user: UserId, node: Uuid, role: GrantRole, owner: Uuid) -> Claim {
    Claim { scope: org.0, kind: "grant", value: format!("{}/{}/{}", user.0, node, role.as_str()), owner }
}

fn subscription_claim(org: OrgId, user: UserId, owner: Uuid) -> Claim {
    Claim { scope: org.0, kind: "subscription", value: user.0.to_string(), owner }
}

fn field_claim(org: OrgId, key: &str, owner: Uuid) -> Claim {
    Claim { scope: org.0, kind: "key", value: key.to_ascii_lowercase(), owner }
}

/// Gives `user` `role` on `node` (an org or group of `org`'s tenant tree; the caller checked).
pub async fn grant_role(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    user: UserId,
    node: Uuid,
    node_kind: NodeKind,
    role: GrantRole,
) -> Result<Committed<GrantRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let events = RoleGrantAggregate::handle_command(
                &None,
                RoleGrantCommand::Grant { user_id: user, node_id: node, node_kind, role, actor: ctx.actor },
            )?;
            Ok(Plan {
                streams: vec![PendingStream::new(id, Some(org.0), 0, &events)?],
                claims: vec![grant_claim(org, user, node, role, id)],
                ..Plan::new(GrantRef { grant_id: id })
            })
        })
        .await
}

pub async fn revoke_role(store: &Store, ctx: &CommandContext, org: OrgId, grant: Uuid) -> Result<Committed<GrantRef>, CommandError> {
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<RoleGrantAggregate>(grant).await?;
            let g = state.clone().ok_or(DomainError::NotFound("grant"))?;
            let events = RoleGrantAggregate::handle_command(&state, RoleGrantCommand::Revoke { actor: ctx.actor })?;
            Ok(Plan {
                streams: vec![PendingStream::new(grant, Some(org.0), version, &events)?],
                releases: vec![grant_claim(org, g.user_id, g.node_id, g.role, grant)],
                ..Plan::new(GrantRef { grant_id: grant })
            })
        })
        .await
}

pub async fn create_subscription(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    user: UserId,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Committed<SubscriptionRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let (u, _) = store.load::<domain::user::UserAggregate>(user.0).await?;
            if u.is_none_or(|u| u.deleted) {
                return Err(DomainError::NotFound("user").into());
            }
            let events = SubscriptionAggregate::handle_command(
                &None,
                SubscriptionCommand::Create { org_id: org, user_id: user, expires_at, actor: ctx.actor },
            )?;
            Ok(Plan {
                streams: vec![PendingStream::new(id, Some(org.0), 0, &events)?],
                claims: vec![subscription_claim(org, user, id)],
                ..Plan::new(SubscriptionRef { subscription_id: id })
            })
        })
        .await
}

/// Runs one command on a subscription; answers its state afterwards as the result.
async fn on_subscription(
    store: &Store,
    ctx: &CommandContext,
    id: Uuid,
    command: impl Fn() -> SubscriptionCommand,
) -> Result<Committed<SubscriptionChanged>, CommandError> {
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<SubscriptionAggregate>(id).await?;
            let before = state.clone().ok_or(DomainError::NotFound("subscription"))?;
            let events = SubscriptionAggregate::handle_command(&state, command())?;
            let after = events.iter().cloned().fold(state, SubscriptionAggregate::apply_event).unwrap_or(before.clone());
            Ok(Plan {
                streams: vec![PendingStream::new(id, Some(before.org_id.0), version, &events)?],
                ..Plan::new(SubscriptionChanged {
                    subscription_id: id,
                    disabled: after.disabled,
                    previous_status: before.status.as_str().to_string(),
                    current_status: after.status.as_str().to_string(),
                })
            })
        })
        .await
}

pub async fn set_subscription_disabled(
    store: &Store,
    ctx: &CommandContext,
    id: Uuid,
    disabled: bool,
) -> Result<Committed<SubscriptionChanged>, CommandError> {
    on_subscription(store, ctx, id, || SubscriptionCommand::SetDisabled { disabled, actor: ctx.actor }).await
}

pub async fn set_subscription_status(
    store: &Store,
    ctx: &CommandContext,
    id: Uuid,
    status: SubscriptionStatus,
) -> Result<Committed<SubscriptionChanged>, CommandError> {
    on_subscription(store, ctx, id, || SubscriptionCommand::SetStatus { status, now: ctx.now, actor: ctx.actor }).await
}

/// The expiry worker's command: records the expiry once its date has passed (a no-op otherwise).
pub async fn expire_subscription(store: &Store, ctx: &CommandContext, id: Uuid) -> Result<Committed<SubscriptionChanged>, CommandError> {
    on_subscription(store, ctx, id, || SubscriptionCommand::Expire { now: ctx.now }).await
}

/// Sets custom field values from their text forms: each key must be a field of the
/// subscription's org and each value must parse as its field's type (the error names the key).
/// `None` clears a value. All or nothing.
pub async fn set_field_values(
    store: &Store,
    ctx: &CommandContext,
    id: Uuid,
    fields: &BTreeMap<String, FieldType>,
    raw: BTreeMap<String, Option<String>>,
) -> Result<Committed<SubscriptionChanged>, CommandError> {
    let mut values = BTreeMap::new();
    for (key, value) in raw {
        let field = format!("custom_profile_field_values.{key}");
        let (canonical, ty) = fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            .ok_or_else(|| DomainError::invalid(&field, "is not a custom profile field of this organization"))?;
        let typed = value.map(|v| FieldValue::parse(&field, *ty, &v)).transpose()?;
        values.insert(canonical.clone(), typed);
    }
    on_subscription(store, ctx, id, || SubscriptionCommand::SetFieldValues { values: values.clone(), actor: ctx.actor }).await
}

pub async fn define_profile_field(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    key: String,
    name: String,
    field_type: FieldType,
) -> Result<Committed<FieldRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let events = ProfileFieldAggregate::handle_command(
                &None,
                ProfileFieldCommand::Define { org_id: org, key: key.clone(), name: name.clone(), field_type, actor: ctx.actor },
            )?;
            Ok(Plan {
                streams: vec![PendingStream::new(id, Some(org.0), 0, &events)?],
                claims: vec![field_claim(org, &key, id)],
                ..Plan::new(FieldRef { field_id: id })
            })
        })
        .await
}

/// The subscription id of (org, user), from its claim (command-side, so always current).
async fn subscription_id_of(store: &Store, org: OrgId, user: UserId) -> Result<Option<Uuid>, CommandError> {
    Ok(sqlx::query_scalar!(
        "SELECT owner_id FROM unique_claims WHERE scope = $1 AND kind = 'subscription' AND value = $2",
        org.0,
        user.0.to_string(),
    )
    .fetch_optional(store.pool())
    .await
    .map_err(crate::StoreError::from)?)
}

/// NexPort CreateMembership: `user` joins every group of `groups` in one transaction, or none.
/// Each group must be live, and the user must hold a subscription in force (not disabled, not
/// expired) in the group's organization; the error names the offending `group_ids[i]`.
pub async fn join_groups(
    store: &Store,
    ctx: &CommandContext,
    user: UserId,
    groups: &[GroupId],
) -> Result<Committed<UserRef>, CommandError> {
    on_groups(store, ctx, user, groups, true).await
}

/// NexPort RemoveMembership: `user` leaves every group of `groups` in one transaction, or none;
/// each must be a membership.
pub async fn leave_groups(
    store: &Store,
    ctx: &CommandContext,
    user: UserId,
    groups: &[GroupId],
) -> Result<Committed<UserRef>, CommandError> {
    on_groups(store, ctx, user, groups, false).await
}

async fn on_groups(
    store: &Store,
    ctx: &CommandContext,
    user: UserId,
    groups: &[GroupId],
    join: bool,
) -> Result<Committed<UserRef>, CommandError> {
    super::user_bulk::check_count("group_ids", groups.len(), "group id")?;
    let mut seen = std::collections::HashSet::new();
    let groups: Vec<(usize, GroupId)> = groups.iter().copied().enumerate().filter(|(_, g)| seen.insert(*g)).collect();
    store
        .execute(ctx, || async {
            let (u, _) = store.load::<domain::user::UserAggregate>(user.0).await?;
            if u.is_none_or(|u| u.deleted) {
                return Err(DomainError::NotFound("user").into());
            }
            let mut streams = Vec::with_capacity(groups.len());
            for (i, id) in &groups {
                let field = format!("group_ids[{i}]");
                let (state, version) = store.load::<GroupAggregate>(id.0).await?;
                let group = match &state {
                    Some(g) if !g.deleted => g,
                    _ => return Err(DomainError::NotFoundAt { field, what: "group" }.into()),
                };
                let command = if join {
                    let in_force = match subscription_id_of(store, group.org_id, user).await? {
                        Some(s) => store.load::<SubscriptionAggregate>(s).await?.0.is_some_and(|s| s.in_force()),
                        None => false,
                    };
                    if !in_force {
                        return Err(
                            DomainError::invalid(field, "the user has no subscription in force in this group's organization").into()
                        );
                    }
                    GroupCommand::AddMember { actor: ctx.actor, user_id: user, role: MemberRole::Member }
                } else {
                    if !group.members.contains_key(&user) {
                        return Err(DomainError::NotFoundAt { field, what: "membership" }.into());
                    }
                    GroupCommand::RemoveMember { actor: ctx.actor, user_id: user }
                };
                let events = GroupAggregate::handle_command(&state, command)?;
                streams.push(PendingStream::new(id.0, Some(group.org_id.0), version, &events)?);
            }
            Ok(Plan { streams, ..Plan::new(UserRef { user_id: user }) })
        })
        .await
}
