//! Locations (WorkDrive E65–E69): everything but the create is `org_unit`'s.

use domain::location::{Location, LocationAggregate, LocationCommand};
use domain::patch::Patch;
use domain::user::{User, UserPatch};
use domain::{OrgId, UserId};
use uuid::Uuid;

use super::membership::{Batch, Streams};
use super::org_unit::{self, Kind};
use crate::results::*;
use crate::{CommandContext, CommandError, Committed, Store};

/// The location kind of org unit.
pub struct Locations;

impl Kind for Locations {
    type Unit = Location;
    type Aggregate = LocationAggregate;
    type Ref = LocationRef;
    /// A user id: a location has no roles.
    type Member = UserId;

    fn streams<'s>(b: &'s mut Batch<'_>) -> &'s mut Streams<LocationAggregate> {
        &mut b.locations
    }

    fn reference(id: Uuid) -> LocationRef {
        LocationRef { location_id: id }
    }

    fn referenced(r: &LocationRef) -> Uuid {
        r.location_id
    }

    fn rename(actor: Option<UserId>, name: String) -> LocationCommand {
        LocationCommand::Rename { actor, name }
    }

    fn delete(actor: Option<UserId>) -> LocationCommand {
        LocationCommand::Delete { actor }
    }

    fn of(user: &User) -> Option<Uuid> {
        user.location
    }

    fn cleared(_: &User) -> UserPatch {
        UserPatch { location: Patch::Clear, ..Default::default() }
    }

    fn remove_field(i: usize) -> String {
        format!("remove_members[{i}]")
    }

    async fn join(b: &mut Batch<'_>, user: &UserId, id: Uuid, i: usize) -> Result<(), CommandError> {
        b.set_location(*user, Patch::Set(id), &format!("add_members[{i}]")).await
    }

    async fn leave(b: &mut Batch<'_>, user: UserId, field: &str) -> Result<(), CommandError> {
        b.set_location(user, Patch::Clear, field).await
    }
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
            org_unit::plan::<Locations>(&b, id)
        })
        .await
}
