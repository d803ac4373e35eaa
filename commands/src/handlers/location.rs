//! Locations (WorkDrive E65–E69). Another org's location is "not found".

use domain::location::LocationCommand;
use domain::patch::Patch;
use domain::{DomainError, OrgId, UserId};
use uuid::Uuid;

use super::membership::Batch;
use crate::results::*;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

fn plan(b: &Batch<'_>, id: Uuid) -> Result<Plan<LocationRef>, CommandError> {
    Ok(Plan { streams: b.pending()?, ..Plan::new(LocationRef { location_id: id }) })
}

async fn existing(b: &mut Batch<'_>, id: Uuid) -> Result<(), CommandError> {
    if !b.location_live(id).await? {
        return Err(DomainError::NotFound("location").into());
    }
    Ok(())
}

/// E65: creates a location.
pub async fn create_location(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    name: String,
) -> Result<Committed<LocationRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            b.locations.fresh(id);
            b.locations.decide(id, LocationCommand::Create { id, org_id: org, name: name.clone(), created_by: ctx.actor })?;
            plan(&b, id)
        })
        .await
}

/// E68: renames a location.
pub async fn rename_location(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    name: String,
) -> Result<Committed<LocationRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            b.locations.decide(id, LocationCommand::Rename { actor: ctx.actor, name: name.clone() })?;
            plan(&b, id)
        })
        .await
}

/// E66: adds members (a user has one location, so adding moves them) and removes members.
pub async fn change_members(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    add: Vec<UserId>,
    remove: Vec<UserId>,
) -> Result<Committed<LocationRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            for (i, u) in add.iter().enumerate() {
                b.set_location(*u, Patch::Set(id), &format!("add_members[{i}]")).await?;
            }
            for (i, u) in remove.iter().enumerate() {
                let field = format!("remove_members[{i}]");
                let user = b.user(*u, &field).await?;
                if user.location != Some(id) {
                    return Err(DomainError::invalid(field, format!("user {u} is not a member of this location")).into());
                }
                b.set_location(*u, Patch::Clear, &field).await?;
            }
            plan(&b, id)
        })
        .await
}

/// E69: deletes a location; its members' `location` is cleared.
pub async fn delete_location(store: &Store, ctx: &CommandContext, org: OrgId, id: Uuid) -> Result<Committed<LocationRef>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            let members = match b.locations.state(store, id).await? {
                Some(l) => l.members.clone(),
                None => Default::default(),
            };
            for u in members {
                if b.user(u, "members").await.is_err() {
                    continue;
                }
                let patch = domain::user::UserPatch { location: Patch::Clear, ..Default::default() };
                b.users.decide(u.0, domain::user::UserCommand::Update { actor, patch })?;
            }
            b.locations.decide(id, LocationCommand::Delete { actor: ctx.actor })?;
            plan(&b, id)
        })
        .await
}
