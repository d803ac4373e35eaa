//! Departments (WorkDrive E58–E63): what they share with locations is `org_unit`'s; the create
//! (with its members) and heads are theirs.

use domain::department::{Department, DepartmentAggregate, DepartmentCommand, NewDepartment};
use domain::patch::Patch;
use domain::user::{User, UserPatch};
use domain::{DomainError, OrgId, UserId};
use uuid::Uuid;

use super::membership::{Batch, Streams};
use super::org_unit::{self, Kind};
use crate::results::*;
use crate::{CommandContext, CommandError, Committed, Store};

/// One entry of `members` / `add` / `addMembers`: `head` is WorkDrive's `isAdmin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInput {
    pub user_id: UserId,
    pub head: bool,
}

/// The department kind of org unit; heads are what only departments have.
pub struct Departments;

impl Kind for Departments {
    type Unit = Department;
    type Aggregate = DepartmentAggregate;
    type Ref = DepartmentRef;
    type Member = MemberInput;

    fn streams<'s>(b: &'s mut Batch<'_>) -> &'s mut Streams<DepartmentAggregate> {
        &mut b.departments
    }

    fn reference(id: Uuid) -> DepartmentRef {
        DepartmentRef { department_id: id }
    }

    fn referenced(r: &DepartmentRef) -> Uuid {
        r.department_id
    }

    fn rename(actor: Option<UserId>, name: String) -> DepartmentCommand {
        DepartmentCommand::Rename { actor, name }
    }

    fn delete(actor: Option<UserId>) -> DepartmentCommand {
        DepartmentCommand::Delete { actor }
    }

    fn of(user: &User) -> Option<Uuid> {
        user.department
    }

    fn cleared(user: &User) -> UserPatch {
        UserPatch { department: Patch::Clear, is_department_head: user.is_department_head.then_some(false), ..Default::default() }
    }

    /// Departments name the whole list (unlike locations, which name the entry).
    fn remove_field(_: usize) -> String {
        "remove_members".into()
    }

    /// `head` also makes the member a head; it never demotes one.
    async fn join(b: &mut Batch<'_>, m: &MemberInput, id: Uuid, i: usize) -> Result<(), CommandError> {
        b.set_department(m.user_id, Patch::Set(id), m.head.then_some(true), &format!("add_members[{i}].id")).await
    }

    /// A leaving head stops being one (the last head cannot leave: the department refuses).
    async fn leave(b: &mut Batch<'_>, user: UserId, field: &str) -> Result<(), CommandError> {
        b.set_department(user, Patch::Clear, Some(false), field).await
    }
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
            org_unit::plan::<Departments>(&b, id)
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
            org_unit::existing::<Departments>(&mut b, id).await?;
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
            org_unit::plan::<Departments>(&b, id)
        })
        .await
}
