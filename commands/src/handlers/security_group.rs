//! Security groups (WorkDrive E70–E72; creation only through the `roster` CLI). Membership is the
//! user's `security_group`; the group stream mirrors it in the same append (see `membership`).
//! Another org's group is "not found".

use std::collections::HashSet;

use domain::patch::Patch;
use domain::security_group::{NewSecurityGroup, SecurityGroupCommand, SecurityGroupKind};
use domain::{DomainError, OrgId, UserId};
use uuid::Uuid;

use super::membership::Batch;
use super::user_bulk::check_count;
use crate::results::*;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

fn plan(b: &Batch<'_>, id: Uuid) -> Result<Plan<SecurityGroupRef>, CommandError> {
    Ok(Plan { streams: b.pending()?, ..Plan::new(SecurityGroupRef { security_group_id: id }) })
}

async fn existing(b: &mut Batch<'_>, id: Uuid) -> Result<(), CommandError> {
    if !b.security_group_live(id).await? {
        return Err(DomainError::NotFound("security group").into());
    }
    Ok(())
}

/// `roster security-group add`: a new (custom) group in `org`, with no members.
pub async fn create_security_group(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    name: String,
) -> Result<Committed<SecurityGroupRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let (o, _) = store.load::<domain::organization::OrganizationAggregate>(org.0).await?;
            if o.is_none() {
                return Err(DomainError::NotFound("organization").into());
            }
            let mut b = Batch::new(store, org, ctx.actor);
            b.security_groups.fresh(id);
            b.security_groups.decide(
                id,
                SecurityGroupCommand::Create(NewSecurityGroup {
                    id,
                    org_id: org,
                    name: name.clone(),
                    kind: SecurityGroupKind::Custom,
                    created_by: ctx.actor,
                }),
            )?;
            plan(&b, id)
        })
        .await
}

/// E71: moves the users into the group (out of their previous one). A present member is a no-op;
/// an id that is not a live user of the org is a 400 naming `ids[i]`.
pub async fn add_members(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    ids: Vec<UserId>,
) -> Result<Committed<SecurityGroupRef>, CommandError> {
    check_count("ids", ids.len(), "user id")?;
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            for (i, u) in ids.iter().enumerate() {
                b.set_security_group(*u, Patch::Set(id), &format!("ids[{i}]")).await?;
            }
            plan(&b, id)
        })
        .await
}

/// E72: removes the users from the group; they then belong to none. Each must be a member (400
/// naming `ids[i]` otherwise); Administrators keeps its last member. A repeated id counts once.
pub async fn remove_members(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    ids: Vec<UserId>,
) -> Result<Committed<SecurityGroupRef>, CommandError> {
    check_count("ids", ids.len(), "user id")?;
    let mut seen = HashSet::new();
    let ids: Vec<(usize, UserId)> = ids.into_iter().enumerate().filter(|(_, u)| seen.insert(*u)).collect();
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            for (i, u) in &ids {
                let field = format!("ids[{i}]");
                let user = b.user(*u, &field).await?;
                if user.security_group != Some(id) {
                    return Err(DomainError::invalid(field, format!("user {u} is not a member of this security group")).into());
                }
                b.set_security_group(*u, Patch::Clear, &field).await?;
            }
            plan(&b, id)
        })
        .await
}
