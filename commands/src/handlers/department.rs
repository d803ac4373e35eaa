//! Departments (WorkDrive E58–E63). Another org's department is "not found".

use domain::department::{DepartmentCommand, NewDepartment};
use domain::patch::Patch;
use domain::{DomainError, OrgId, UserId};
use uuid::Uuid;

use super::membership::Batch;
use crate::results::*;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// One entry of `members` / `add` / `addMembers`: `head` is WorkDrive's `isAdmin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInput {
    pub user_id: UserId,
    pub head: bool,
}

fn plan(b: &Batch<'_>, id: Uuid) -> Result<Plan<DepartmentRef>, CommandError> {
    Ok(Plan { streams: b.pending()?, ..Plan::new(DepartmentRef { department_id: id }) })
}

/// Loads the department and answers "not found" unless it is live in the caller's org.
async fn existing(b: &mut Batch<'_>, id: Uuid) -> Result<(), CommandError> {
    if !b.department_live(id).await? {
        return Err(DomainError::NotFound("department").into());
    }
    Ok(())
}

/// E58: creates a department with its members; at least one must be a head. Members leave the
/// department they were in.
pub async fn create_department(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    name: String,
    members: Vec<MemberInput>,
) -> Result<Committed<DepartmentRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            for (i, m) in members.iter().enumerate() {
                b.user(m.user_id, &format!("members[{i}].id")).await?;
            }
            b.departments.fresh(id);
            b.departments.decide(
                id,
                DepartmentCommand::Create(NewDepartment {
                    id,
                    org_id: org,
                    name: name.clone(),
                    members: members.iter().map(|m| (m.user_id, m.head)).collect(),
                    created_by: ctx.actor,
                }),
            )?;
            for (i, m) in members.iter().enumerate() {
                let head = m.head.then_some(true);
                b.set_department(m.user_id, Patch::Set(id), head, &format!("members[{i}].id")).await?;
            }
            plan(&b, id)
        })
        .await
}

/// E62: renames a department.
pub async fn rename_department(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    name: String,
) -> Result<Committed<DepartmentRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            b.departments.decide(id, DepartmentCommand::Rename { actor: ctx.actor, name: name.clone() })?;
            plan(&b, id)
        })
        .await
}

/// E59: adds heads (moving them into the department if needed) and removes heads (they stay
/// members). Adds run first, so one request can hand the role over.
pub async fn change_heads(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    add: Vec<UserId>,
    remove: Vec<UserId>,
) -> Result<Committed<DepartmentRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            for (i, u) in add.iter().enumerate() {
                b.set_department(*u, Patch::Set(id), Some(true), &format!("add[{i}].id")).await?;
            }
            for u in &remove {
                let user = b.user(*u, "remove").await?;
                if user.department != Some(id) || !user.is_department_head {
                    return Err(DomainError::invalid("remove", format!("user {u} is not a head of this department")).into());
                }
                b.set_department(*u, Patch::Keep, Some(false), "remove").await?;
            }
            plan(&b, id)
        })
        .await
}

/// E60: adds members (moving them from their department; `head` also makes them heads) and
/// removes members (their department becomes empty). The last head cannot be removed.
pub async fn change_members(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    add: Vec<MemberInput>,
    remove: Vec<UserId>,
) -> Result<Committed<DepartmentRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            for (i, m) in add.iter().enumerate() {
                let head = m.head.then_some(true);
                b.set_department(m.user_id, Patch::Set(id), head, &format!("add_members[{i}].id")).await?;
            }
            for u in &remove {
                let user = b.user(*u, "remove_members").await?;
                if user.department != Some(id) {
                    return Err(DomainError::invalid("remove_members", format!("user {u} is not a member of this department")).into());
                }
                b.set_department(*u, Patch::Clear, Some(false), "remove_members").await?;
            }
            plan(&b, id)
        })
        .await
}

/// E63: deletes a department; its members' `department` and `isDepartmentHead` are cleared.
pub async fn delete_department(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
) -> Result<Committed<DepartmentRef>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            existing(&mut b, id).await?;
            let members = match b.departments.state(store, id).await? {
                Some(d) => d.members.clone(),
                None => Default::default(),
            };
            for u in members {
                // A member who is gone (deleted) has nothing left to clear.
                let Ok(user) = b.user(u, "members").await else { continue };
                let patch = domain::user::UserPatch {
                    department: Patch::Clear,
                    is_department_head: user.is_department_head.then_some(false),
                    ..Default::default()
                };
                b.users.decide(u.0, domain::user::UserCommand::Update { actor, patch })?;
            }
            b.departments.decide(id, DepartmentCommand::Delete { actor: ctx.actor })?;
            plan(&b, id)
        })
        .await
}
