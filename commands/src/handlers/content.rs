//! What every WorkDrive content command shares (DESIGN §11): an audience may only name users,
//! security groups and locations of the caller's org; categories are per org and module; and
//! following, which gives `friends` audiences their members. The content types' own handlers
//! (posts, events, ...) build on these.

use domain::audience::Audience;
use domain::category::{self, CategoryAggregate, CategoryCommand, ModuleCode, NewCategory};
use domain::follow::{self, FollowAggregate, FollowCommand};
use domain::{DomainError, OrgId, UserId};
use uuid::Uuid;

use super::membership::{Batch, Streams};
use crate::results::*;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// Every id an audience names belongs to the batch's org: a 400 naming the entry
/// (`permissions.users[2]`) otherwise. `field` is the audience's request field.
pub(crate) async fn check_audience(b: &mut Batch<'_>, audience: &Audience, field: &str) -> Result<(), CommandError> {
    for (list, ids) in [("users", &audience.users), ("tagged_users", &audience.tagged_users)] {
        for (i, u) in ids.iter().enumerate() {
            b.user(*u, &format!("{field}.{list}[{i}]")).await?;
        }
    }
    for (i, g) in audience.groups.iter().enumerate() {
        if !b.security_group_live(*g).await? {
            return Err(DomainError::invalid(format!("{field}.groups[{i}]"), format!("no security group {g} in this organization")).into());
        }
    }
    for (i, l) in audience.locations.iter().enumerate() {
        if !b.location_live(*l).await? {
            return Err(DomainError::invalid(format!("{field}.locations[{i}]"), format!("no location {l} in this organization")).into());
        }
    }
    Ok(())
}

/// Each id names an uploaded file of `org` (spec §1.2); a 400 naming `field[i]` otherwise.
pub(crate) async fn check_files(store: &Store, org: OrgId, ids: &[Uuid], field: &str) -> Result<(), CommandError> {
    for (i, id) in ids.iter().enumerate() {
        super::media::check_file(store, org, *id, &format!("{field}[{i}]")).await?;
    }
    Ok(())
}

/// The id of the existing category `name` of `module` in `org`; a 400 naming `field` otherwise.
pub(crate) async fn existing_category(
    store: &Store,
    org: OrgId,
    module: ModuleCode,
    name: &str,
    field: &str,
) -> Result<Uuid, CommandError> {
    let id = category::stream_id(org, module, name);
    match store.load::<CategoryAggregate>(id).await?.0 {
        Some(c) if c.org_id == org => Ok(id),
        _ => Err(DomainError::invalid(field, format!("no {} category '{}' in this organization", module.name(), name.trim())).into()),
    }
}

/// The id of category `name` of `module` in `org`, created by this command's append unless it
/// exists (E32: "or you can create a new category"). Add `categories.pending(org)` to the plan.
pub(crate) async fn ensure_category(
    store: &Store,
    categories: &mut Streams<CategoryAggregate>,
    ctx: &CommandContext,
    org: OrgId,
    module: ModuleCode,
    name: &str,
) -> Result<Uuid, CommandError> {
    let id = category::stream_id(org, module, name);
    categories.state(store, id).await?;
    let new = NewCategory { id, org_id: org, module_code: module, category: name.to_string(), color: None, created_by: ctx.actor };
    categories.decide(id, CategoryCommand::Ensure(new))?;
    Ok(id)
}

/// `POST /api/categories` (Roster, org admin): a new category of a module. A name the module
/// already has (in any case) is taken.
pub async fn create_category(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    module: ModuleCode,
    name: String,
    color: Option<String>,
) -> Result<Committed<CategoryRef>, CommandError> {
    let id = category::stream_id(org, module, &name);
    store
        .execute(ctx, || async {
            let mut categories = Streams::<CategoryAggregate>::new();
            categories.state(store, id).await?;
            let new =
                NewCategory { id, org_id: org, module_code: module, category: name.clone(), color: color.clone(), created_by: ctx.actor };
            categories.decide(id, CategoryCommand::Create(new))?;
            Ok(Plan { streams: categories.pending(org)?, ..Plan::new(CategoryRef { category_id: id }) })
        })
        .await
}

/// `POST /api/users/{id}/follow` (`follow = true`) and `DELETE` (false): the caller follows or
/// stops following a user of their org. Repeating either changes nothing. `field` names the
/// followee in the request.
pub async fn set_following(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    follower: UserId,
    followee: UserId,
    follow: bool,
    field: &str,
) -> Result<Committed<FollowRef>, CommandError> {
    let id = follow::stream_id(follower, followee);
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            if follow {
                // The followee is the resource the path names: a stranger is "not found".
                // Unfollowing someone who has since left the org is still allowed.
                match b.user(followee, field).await {
                    Err(CommandError::Rejected(_)) => return Err(DomainError::NotFound("user").into()),
                    other => other?,
                };
            }
            let mut follows = Streams::<FollowAggregate>::new();
            follows.state(store, id).await?;
            let command = if follow {
                FollowCommand::Follow { org_id: org, follower, followee, field: field.to_string() }
            } else {
                FollowCommand::Unfollow { follower, followee }
            };
            follows.decide(id, command)?;
            Ok(Plan { streams: follows.pending(org)?, ..Plan::new(FollowRef { follower, followee }) })
        })
        .await
}
