use domain::group::{GroupAggregate, GroupCommand, GroupPatch, MemberRole, NewGroup, OutboundCallerId};
use domain::{DomainError, GroupId, OrgId, UserId};
use esrs::Aggregate;
use serde_json::json;
use uuid::Uuid;

use super::same_org;
use super::user::load_live;
use crate::store::{PendingStream, Plan};
use crate::{CommandContext, CommandError, Committed, Store};

#[derive(Debug, Clone)]
pub struct CreateGroup {
    pub name: String,
    pub description: Option<String>,
    pub outbound_caller_ids: Vec<OutboundCallerId>,
}

pub async fn create_group(store: &Store, ctx: &CommandContext, org: OrgId, input: CreateGroup) -> Result<Committed, CommandError> {
    let id = GroupId(Uuid::now_v7());
    let number = store.next_number().await?;
    store
        .execute(ctx, || async {
            let events = GroupAggregate::handle_command(
                &None,
                GroupCommand::Create(NewGroup {
                    id,
                    org_id: org,
                    number,
                    name: input.name.clone(),
                    description: input.description.clone(),
                    outbound_caller_ids: input.outbound_caller_ids.clone(),
                    created_by: ctx.actor,
                }),
            )?;
            Ok(Plan {
                streams: vec![PendingStream::new(id.0, Some(org.0), 0, &events)?],
                result: json!({ "group_id": id, "number": number }),
                ..Plan::default()
            })
        })
        .await
}

/// Runs one group command against a group of the caller's organization.
async fn on_group(store: &Store, ctx: &CommandContext, org: OrgId, id: GroupId, command: impl Fn() -> GroupCommand) -> Result<Committed, CommandError> {
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<GroupAggregate>(id.0).await?;
            same_org(state.as_ref().map(|g| g.org_id), Some(org), "group")?;
            let events = GroupAggregate::handle_command(&state, command())?;
            Ok(Plan {
                streams: vec![PendingStream::new(id.0, Some(org.0), version, &events)?],
                result: json!({ "group_id": id }),
                ..Plan::default()
            })
        })
        .await
}

pub async fn update_group(store: &Store, ctx: &CommandContext, org: OrgId, id: GroupId, patch: GroupPatch) -> Result<Committed, CommandError> {
    on_group(store, ctx, org, id, || GroupCommand::Update { actor: ctx.actor, patch: patch.clone() }).await
}

pub async fn delete_group(store: &Store, ctx: &CommandContext, org: OrgId, id: GroupId) -> Result<Committed, CommandError> {
    on_group(store, ctx, org, id, || GroupCommand::Delete { actor: ctx.actor }).await
}

pub async fn add_member(store: &Store, ctx: &CommandContext, org: OrgId, id: GroupId, user: UserId, role: MemberRole) -> Result<Committed, CommandError> {
    // Check the group first so an unknown group is reported as such, not as an unknown user.
    let (state, _) = store.load::<GroupAggregate>(id.0).await?;
    match state {
        Some(g) if !g.deleted && g.org_id == org => {}
        _ => return Err(DomainError::NotFound("group").into()),
    }
    load_live(store, Some(org), user, "user").await?;
    on_group(store, ctx, org, id, || GroupCommand::AddMember { actor: ctx.actor, user_id: user, role }).await
}

pub async fn remove_member(store: &Store, ctx: &CommandContext, org: OrgId, id: GroupId, user: UserId) -> Result<Committed, CommandError> {
    on_group(store, ctx, org, id, || GroupCommand::RemoveMember { actor: ctx.actor, user_id: user }).await
}
