//! What the department and location handlers share (WorkDrive E57–E69): a unit is renamed,
//! deleted and has members added and removed the same way; only the streams, commands and the
//! user's field differ, and `Kind` names those. Another org's unit is "not found".
//!
//! Membership itself is the user's field (department / location), so joining and leaving go
//! through `Batch`, which keeps the user stream and the unit's stream in one append.

use std::future::Future;

use domain::org_unit::{self, OrgUnit};
use domain::user::{User, UserCommand, UserPatch};
use domain::{DomainError, DomainEvent, OrgId, UserId};
use esrs::Aggregate;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::membership::{Batch, Streams};
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// A kind of org unit, as the command handlers see it.
pub trait Kind: Send + Sync + 'static {
    type Unit: OrgUnit<Event = <Self::Aggregate as Aggregate>::Event> + Clone + Send + Sync;
    type Aggregate: Aggregate<State = Option<Self::Unit>, Error = DomainError, Event: DomainEvent + Clone + Send, Command: Send>;
    /// What a handler returns: the unit's id, under the kind's own field name.
    type Ref: Serialize + DeserializeOwned + Send;
    /// One entry of `addMembers` (a department's entry may also make a head).
    type Member: Send + Sync;

    fn streams<'s>(b: &'s mut Batch<'_>) -> &'s mut Streams<Self::Aggregate>;
    fn reference(id: Uuid) -> Self::Ref;
    fn referenced(r: &Self::Ref) -> Uuid;
    fn rename(actor: Option<UserId>, name: String) -> <Self::Aggregate as Aggregate>::Command;
    fn delete(actor: Option<UserId>) -> <Self::Aggregate as Aggregate>::Command;

    /// The unit the user is in (their own field).
    fn of(user: &User) -> Option<Uuid>;
    /// What the unit's delete clears on a former member.
    fn cleared(user: &User) -> UserPatch;
    /// The request field naming entry `i` of `removeMembers` in errors.
    fn remove_field(i: usize) -> String;
    /// Moves entry `i` of `addMembers` into unit `id`, on both streams.
    fn join(b: &mut Batch<'_>, member: &Self::Member, id: Uuid, i: usize) -> impl Future<Output = Result<(), CommandError>> + Send;
    /// Takes the user out of their unit, on both streams.
    fn leave(b: &mut Batch<'_>, user: UserId, field: &str) -> impl Future<Output = Result<(), CommandError>> + Send;
}

/// Whether `id` is a live unit of the batch's org.
pub(crate) async fn live<K: Kind>(b: &mut Batch<'_>, id: Uuid) -> Result<bool, CommandError> {
    let org = b.org;
    let store = b.store;
    Ok(org_unit::live_in(K::streams(b).state(store, id).await?, org))
}

/// Loads the unit and answers "not found" unless it is live in the caller's org.
pub(crate) async fn existing<K: Kind>(b: &mut Batch<'_>, id: Uuid) -> Result<(), CommandError> {
    if !live::<K>(b, id).await? {
        return Err(DomainError::NotFound(K::Unit::KIND).into());
    }
    Ok(())
}

pub(crate) fn plan<K: Kind>(b: &Batch<'_>, id: Uuid) -> Result<Plan<K::Ref>, CommandError> {
    Ok(Plan { streams: b.pending()?, ..Plan::new(K::reference(id)) })
}

/// E62 / E68: renames a unit.
pub async fn rename<K: Kind>(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    name: String,
) -> Result<Committed<K::Ref>, CommandError> {
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing::<K>(&mut b, id).await?;
            K::streams(&mut b).decide(id, K::rename(ctx.actor, name.clone()))?;
            plan::<K>(&b, id)
        })
        .await
}

/// E60 / E66: adds members (a user is in one unit of a kind, so adding moves them) and removes
/// members. Adds run first.
pub async fn change_members<K: Kind>(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    add: Vec<K::Member>,
    remove: Vec<UserId>,
) -> Result<Committed<K::Ref>, CommandError> {
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing::<K>(&mut b, id).await?;
            for (i, m) in add.iter().enumerate() {
                K::join(&mut b, m, id, i).await?;
            }
            for (i, u) in remove.iter().enumerate() {
                let field = K::remove_field(i);
                let user = b.user(*u, &field).await?;
                if K::of(&user) != Some(id) {
                    return Err(DomainError::invalid(field, format!("user {u} is not a member of this {}", K::Unit::KIND)).into());
                }
                K::leave(&mut b, *u, &field).await?;
            }
            plan::<K>(&b, id)
        })
        .await
}

/// E63 / E69: deletes a unit and clears it on its members, in the same append.
pub async fn delete<K: Kind>(store: &Store, ctx: &CommandContext, org: OrgId, id: Uuid) -> Result<Committed<K::Ref>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing::<K>(&mut b, id).await?;
            let members = match K::streams(&mut b).state(store, id).await? {
                Some(unit) => unit.members().clone(),
                None => Default::default(),
            };
            for u in members {
                // A member who is gone (deleted) has nothing left to clear.
                let Ok(user) = b.user(u, "members").await else { continue };
                b.users.decide(u.0, UserCommand::Update { actor, patch: K::cleared(&user) })?;
            }
            K::streams(&mut b).decide(id, K::delete(ctx.actor))?;
            plan::<K>(&b, id)
        })
        .await
}
