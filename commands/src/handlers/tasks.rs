//! Tasks (WorkDrive E46–E50, Roster's complete) and the reminder worker's command.
//!
//! What a task names must exist in the caller's org before the task decides, each a 400 naming
//! its field: the video (a library video or an uploaded file, spec §1.2), the knowledge-base
//! document, the course, the enforcement template (whose reminders are copied into the task,
//! see `domain::task`) and the assigned users. A task of another org is "not found".
//!
//! Whether the caller may *see* the task is the read side's question, asked by the api layer
//! before it calls here (an invisible task answers 404 before any author check).

use domain::library::{Actor, CourseAggregate, EnforcementTemplateAggregate, KbDocumentAggregate, VideoAggregate};
use domain::media::{check_reference, MediaAggregate};
use domain::patch::Patch;
use domain::task::{authorized, TaskAggregate, TaskCommand, TaskContent, TaskPatch, TaskReminder};
use domain::{DomainError, OrgId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::membership::{Batch, Streams};
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// A task after a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRef {
    pub id: Uuid,
}

/// The library item `id` of `org`, loaded as aggregate `A`, exists.
async fn live_in_org<A, D>(store: &Store, org: OrgId, id: Uuid) -> Result<bool, CommandError>
where
    D: domain::library::ItemData,
    A: esrs::Aggregate<State = Option<domain::library::Item<D>>>,
    A::Event: domain::DomainEvent,
{
    let (state, _) = store.load::<A>(id).await?;
    Ok(state.is_some_and(|i| i.org_id == org))
}

/// Checks what `t` names in `org`; returns the template's reminders when it names one.
async fn check_content(store: &Store, org: OrgId, t: &TaskContent) -> Result<Vec<TaskReminder>, CommandError> {
    if let Some(v) = t.video_id {
        let (media, _) = store.load::<MediaAggregate>(v).await?;
        if media.is_some() {
            check_reference(&media, org, "video_id")?;
        } else if !live_in_org::<VideoAggregate, _>(store, org, v).await? {
            return Err(DomainError::invalid("video_id", format!("no video or uploaded file {v} in this organization")).into());
        }
    }
    if let Some(d) = t.document_id {
        if !live_in_org::<KbDocumentAggregate, _>(store, org, d).await? {
            return Err(DomainError::invalid("document_id", format!("no document {d} in this organization")).into());
        }
    }
    if let Some(c) = t.training_course_task_list_id {
        if !live_in_org::<CourseAggregate, _>(store, org, c).await? {
            return Err(DomainError::invalid("training_course_task_list_id", format!("no course {c} in this organization")).into());
        }
    }
    match t.notification_template_id {
        None => Ok(vec![]),
        Some(id) => template_reminders(store, org, id).await,
    }
}

async fn template_reminders(store: &Store, org: OrgId, id: Uuid) -> Result<Vec<TaskReminder>, CommandError> {
    let (state, _) = store.load::<EnforcementTemplateAggregate>(id).await?;
    match state {
        Some(t) if t.org_id == org => {
            Ok(t.data.reminders.iter().enumerate().filter_map(|(i, r)| TaskReminder::from_template(i, r)).collect())
        }
        _ => Err(DomainError::invalid("notification_template_id", format!("no enforcement template {id} in this organization")).into()),
    }
}

async fn check_users(b: &mut Batch<'_>, ids: &[UserId], field: &str) -> Result<(), CommandError> {
    for (i, u) in ids.iter().enumerate() {
        b.user(*u, &format!("{field}[{i}]")).await?;
    }
    Ok(())
}

fn plan(tasks: &Streams<TaskAggregate>, org: OrgId, id: Uuid) -> Result<Plan<TaskRef>, CommandError> {
    Ok(Plan { streams: tasks.pending(org)?, ..Plan::new(TaskRef { id }) })
}

/// E46 / E47: a new task by `author`, assigned at once to `assignees` when there are any.
pub async fn create_task(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    author: UserId,
    content: TaskContent,
    assignees: Vec<UserId>,
) -> Result<Committed<TaskRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let mut content = content.clone();
            content.reminders = check_content(store, org, &content).await?;
            let mut b = Batch::new(store, org, ctx.actor);
            check_users(&mut b, &assignees, "user_ids").await?;
            let mut tasks = Streams::<TaskAggregate>::new();
            tasks.fresh(id);
            tasks.decide(
                id,
                TaskCommand::Create { id, org_id: org, author, now: ctx.now, content: Box::new(content), assignees: assignees.clone() },
            )?;
            plan(&tasks, org, id)
        })
        .await
}

/// E48: changes a draft (its author or an org admin). A new template's reminders are read here.
pub async fn update_task(
    store: &Store,
    ctx: &CommandContext,
    actor: Actor,
    id: Uuid,
    patch: TaskPatch,
) -> Result<Committed<TaskRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut tasks = Streams::<TaskAggregate>::new();
            // A stranger to the task learns nothing about the references they sent.
            authorized(tasks.state(store, id).await?, &actor)?;
            let mut patch = patch.clone();
            let names = TaskContent {
                video_id: set(&patch.video_id),
                document_id: set(&patch.document_id),
                training_course_task_list_id: set(&patch.training_course_task_list_id),
                notification_template_id: None,
                ..placeholder()
            };
            check_content(store, actor.org, &names).await?;
            if let Patch::Set((template, _)) = patch.notification_template {
                patch.notification_template = Patch::Set((template, template_reminders(store, actor.org, template).await?));
            }
            tasks.decide(id, TaskCommand::Update { actor, patch: Box::new(patch) })?;
            plan(&tasks, actor.org, id)
        })
        .await
}

fn set<T: Clone>(p: &Patch<T>) -> Option<T> {
    match p {
        Patch::Set(v) => Some(v.clone()),
        _ => None,
    }
}

/// Content naming nothing, to check a patch's references with [`check_content`].
fn placeholder() -> TaskContent {
    TaskContent {
        title: String::new(),
        description: None,
        task_type: domain::task::TaskType::Article,
        status: domain::task::TaskStatus::Draft,
        content: None,
        time: None,
        video_id: None,
        link: None,
        document_id: None,
        training_course_task_list_id: None,
        notification_template_id: None,
        due_days: None,
        due_date: None,
        reminders: vec![],
    }
}

/// E49: assigns `add` and unassigns `remove` (a published task; its author or an org admin).
pub async fn assign_task(
    store: &Store,
    ctx: &CommandContext,
    actor: Actor,
    id: Uuid,
    add: Vec<UserId>,
    remove: Vec<UserId>,
) -> Result<Committed<TaskRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut tasks = Streams::<TaskAggregate>::new();
            authorized(tasks.state(store, id).await?, &actor)?;
            let mut b = Batch::new(store, actor.org, ctx.actor);
            check_users(&mut b, &add, "user_ids").await?;
            tasks.decide(id, TaskCommand::Assign { actor, add: add.clone(), remove: remove.clone() })?;
            plan(&tasks, actor.org, id)
        })
        .await
}

/// Roster: assignee `user` marks task `id` done (again: nothing new).
pub async fn complete_task(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    user: UserId,
    id: Uuid,
) -> Result<Committed<TaskRef>, CommandError> {
    on_task(store, ctx, org, id, || TaskCommand::Complete { user, org, now: ctx.now }).await
}

/// E50: deletes a task (its author or an org admin).
pub async fn delete_task(store: &Store, ctx: &CommandContext, actor: Actor, id: Uuid) -> Result<Committed<TaskRef>, CommandError> {
    on_task(store, ctx, actor.org, id, || TaskCommand::Delete { actor }).await
}

/// The reminder worker's command: reminder `index` of task `id` is due (appends nothing when it
/// is not due yet, went out already, or everyone assigned has completed the task).
pub async fn remind_task(store: &Store, ctx: &CommandContext, id: Uuid, index: i32) -> Result<Committed<TaskRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut tasks = Streams::<TaskAggregate>::new();
            let Some(org) = tasks.state(store, id).await?.as_ref().map(|t| t.org_id) else {
                return Err(DomainError::NotFound("task").into());
            };
            tasks.decide(id, TaskCommand::Remind { index, now: ctx.now })?;
            plan(&tasks, org, id)
        })
        .await
}

async fn on_task(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    command: impl Fn() -> TaskCommand,
) -> Result<Committed<TaskRef>, CommandError> {
    store
        .execute(ctx, || async {
            let mut tasks = Streams::<TaskAggregate>::new();
            tasks.state(store, id).await?;
            tasks.decide(id, command())?;
            plan(&tasks, org, id)
        })
        .await
}
