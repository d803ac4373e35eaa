//! Tasks (WorkDrive E45–E50, DESIGN §11): a piece of work an author sets for users of the org: an
//! article to read, a video to watch, a quiz link, a document or a training course.
//!
//! A task is a `draft` or published (`publish`). Only a published task is assigned (spec E47/E49:
//! "a draft cannot be assigned") and only a draft is changed (E48: "Published status task cannot
//! be updated"). Each assignee marks it done for themselves (Roster). Its author or an org admin
//! changes, assigns and deletes it (spec §3.7 item 67).
//!
//! Reminders come from the task's enforcement template (E40), copied into the task when it names
//! the template (templates are never changed, only deleted, so the copy is what the template
//! said). A reminder `{reminderTime: N, reminderTimeUnit: U}` is due N units before the task's
//! `dueDate`; a task without a due date has no reminders, and `restrict` reminders are not
//! notifications (they would restrict access, which Roster does not do) so they are not copied.
//! The reminder worker appends [`TaskEvent::TaskReminderDue`] once per (task, reminder) for the
//! assignees who have not completed the task yet; a second ask for the same reminder appends
//! nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::DomainEvent;
use crate::library::{Actor, ReminderTimeUnit, ReminderType};
use crate::patch::Patch;
use crate::values::{opt_text, required_text};
use crate::{DomainError, OrgId, UserId};

pub const MAX_TITLE_LEN: usize = 200;
pub const MAX_DESCRIPTION_LEN: usize = 5000;
/// An Article's text.
pub const MAX_CONTENT_LEN: usize = 50_000;
pub const MAX_URL_LEN: usize = 2048;
/// Users assigned to one task.
pub const MAX_ASSIGNEES: usize = 1000;
/// `dueDays`: at most ten years.
pub const MAX_DUE_DAYS: i32 = 3650;
/// `time`, the estimated minutes: at most a year.
pub const MAX_TIME_MINUTES: i32 = 525_600;
/// Reminders copied from a template (its own bound).
pub const MAX_REMINDERS: usize = crate::library::MAX_REMINDERS;
/// A reminder's offset before the due date, in minutes: at most ten years.
pub const MAX_REMINDER_MINUTES: i64 = 10 * 366 * 24 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum TaskType {
    Article,
    Video,
    QuizLink,
    Document,
    TrainingCourse,
}

impl TaskType {
    pub const ALL: [TaskType; 5] = [TaskType::Article, TaskType::Video, TaskType::QuizLink, TaskType::Document, TaskType::TrainingCourse];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Article => "Article",
            TaskType::Video => "Video",
            TaskType::QuizLink => "QuizLink",
            TaskType::Document => "Document",
            TaskType::TrainingCourse => "TrainingCourse",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(raw)).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
            DomainError::invalid(field, format!("'{raw}' is not a task type; known: {}", known.join(", ")))
        })
    }

    /// The field a task of this type must have (spec E46's table).
    pub fn required_field(self) -> &'static str {
        match self {
            TaskType::Article => "content",
            TaskType::Video => "video_id",
            TaskType::QuizLink => "link",
            TaskType::Document => "document_id",
            TaskType::TrainingCourse => "training_course_task_list_id",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Draft,
    Publish,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Draft => "draft",
            TaskStatus::Publish => "publish",
        }
    }

    /// `draft` or `publish`, with the seed's `published` as an alias (spec §3.3 item 24).
    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "draft" => Ok(TaskStatus::Draft),
            "publish" | "published" => Ok(TaskStatus::Publish),
            other => Err(DomainError::invalid(field, format!("'{other}' is not draft or publish"))),
        }
    }
}

/// One reminder of the task's template: due `before_minutes` before the task's due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskReminder {
    /// The reminder's position in its template (what makes it "this reminder" of the task).
    #[schema(minimum = 0, maximum = 49)]
    pub index: i32,
    pub reminder_type: ReminderType,
    #[schema(minimum = 0, maximum = 5_270_400)]
    pub before_minutes: i64,
}

const _: () = assert!(MAX_REMINDERS == 50 && MAX_REMINDER_MINUTES == 5_270_400, "update the bounds of TaskReminder");

impl TaskReminder {
    /// A template's reminder as the task keeps it; `None` for one that is not a notification.
    pub fn from_template(index: usize, r: &crate::library::Reminder) -> Option<Self> {
        if r.reminder_type == ReminderType::Restrict {
            return None;
        }
        let per_unit: i64 = match r.reminder_time_unit {
            ReminderTimeUnit::Week => 7 * 24 * 60,
            ReminderTimeUnit::Days => 24 * 60,
            ReminderTimeUnit::Hours => 60,
            ReminderTimeUnit::Minutes => 1,
        };
        let before_minutes = (i64::from(r.reminder_time.max(0)) * per_unit).min(MAX_REMINDER_MINUTES);
        Some(TaskReminder { index: index as i32, reminder_type: r.reminder_type, before_minutes })
    }

    /// When this reminder is due for a task due at `due` (the earliest instant there is, for a
    /// due date so early that the offset would leave the calendar).
    pub fn due_at(&self, due: DateTime<Utc>) -> DateTime<Utc> {
        due.checked_sub_signed(Duration::minutes(self.before_minutes.clamp(0, MAX_REMINDER_MINUTES))).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// What a task says; every event carries the whole of it after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskContent {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    pub task_type: TaskType,
    pub status: TaskStatus,
    /// An Article's text.
    #[schema(max_length = 50000)]
    pub content: Option<String>,
    /// The estimated minutes.
    #[schema(minimum = 0, maximum = 525600)]
    pub time: Option<i32>,
    /// A Video task's video (a library video or an uploaded file).
    pub video_id: Option<Uuid>,
    /// A QuizLink task's link.
    #[schema(max_length = 2048)]
    pub link: Option<String>,
    /// A Document task's knowledge-base document.
    pub document_id: Option<Uuid>,
    /// A TrainingCourse task's course.
    pub training_course_task_list_id: Option<Uuid>,
    /// The enforcement template its reminders come from.
    pub notification_template_id: Option<Uuid>,
    #[schema(minimum = 0, maximum = 3650)]
    pub due_days: Option<i32>,
    /// The task's creation plus `due_days`.
    pub due_date: Option<DateTime<Utc>>,
    #[schema(max_items = 50)]
    pub reminders: Vec<TaskReminder>,
}

const _: () = assert!(
    MAX_TITLE_LEN == 200
        && MAX_DESCRIPTION_LEN == 5000
        && MAX_CONTENT_LEN == 50_000
        && MAX_URL_LEN == 2048
        && MAX_DUE_DAYS == 3650
        && MAX_TIME_MINUTES == 525_600,
    "update the bounds of TaskContent"
);

impl TaskContent {
    /// Trims and bounds every field, requires the title and the type's own field, and derives the
    /// due date from `due_days` and the task's creation.
    pub fn checked(mut self, created_at: DateTime<Utc>) -> Result<Self, DomainError> {
        self.title = required_text("title", &self.title, MAX_TITLE_LEN)?;
        self.description = opt_text("description", self.description, MAX_DESCRIPTION_LEN)?;
        self.content = opt_text("content", self.content, MAX_CONTENT_LEN)?;
        self.link = opt_text("link", self.link, MAX_URL_LEN)?;
        if let Some(t) = self.time {
            if !(0..=MAX_TIME_MINUTES).contains(&t) {
                return Err(DomainError::invalid("time", format!("must be between 0 and {MAX_TIME_MINUTES} minutes")));
            }
        }
        if let Some(d) = self.due_days {
            if !(0..=MAX_DUE_DAYS).contains(&d) {
                return Err(DomainError::invalid("due_days", format!("must be between 0 and {MAX_DUE_DAYS}")));
            }
        }
        let present = match self.task_type {
            TaskType::Article => self.content.is_some(),
            TaskType::Video => self.video_id.is_some(),
            TaskType::QuizLink => self.link.is_some(),
            TaskType::Document => self.document_id.is_some(),
            TaskType::TrainingCourse => self.training_course_task_list_id.is_some(),
        };
        if !present {
            return Err(DomainError::invalid(
                self.task_type.required_field(),
                format!("is required for a task of type {}", self.task_type.as_str()),
            ));
        }
        if self.reminders.len() > MAX_REMINDERS {
            return Err(DomainError::invalid("notification_template_id", format!("a template has at most {MAX_REMINDERS} reminders")));
        }
        if self.notification_template_id.is_none() {
            self.reminders.clear();
        }
        self.due_date = self.due_days.and_then(|d| created_at.checked_add_signed(Duration::days(i64::from(d))));
        Ok(self)
    }
}

/// A change to a draft (E48): `None` / `Keep` keeps a field; the api layer has already turned each
/// field's `null` and empty forms into what they mean. `reminders` comes with a new template.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Patch<String>,
    pub task_type: Option<TaskType>,
    pub status: Option<TaskStatus>,
    pub content: Patch<String>,
    pub time: Patch<i32>,
    pub video_id: Patch<Uuid>,
    pub link: Patch<String>,
    pub document_id: Patch<Uuid>,
    pub training_course_task_list_id: Patch<Uuid>,
    /// The template and its reminders.
    pub notification_template: Patch<(Uuid, Vec<TaskReminder>)>,
    pub due_days: Patch<i32>,
}

impl TaskContent {
    fn patched(mut self, p: TaskPatch) -> Self {
        if let Some(t) = p.title {
            self.title = t;
        }
        p.description.apply_to(&mut self.description);
        if let Some(t) = p.task_type {
            self.task_type = t;
        }
        if let Some(s) = p.status {
            self.status = s;
        }
        p.content.apply_to(&mut self.content);
        p.time.apply_to(&mut self.time);
        p.video_id.apply_to(&mut self.video_id);
        p.link.apply_to(&mut self.link);
        p.document_id.apply_to(&mut self.document_id);
        p.training_course_task_list_id.apply_to(&mut self.training_course_task_list_id);
        match p.notification_template {
            Patch::Keep => {}
            Patch::Clear => {
                self.notification_template_id = None;
                self.reminders.clear();
            }
            Patch::Set((id, reminders)) => {
                self.notification_template_id = Some(id);
                self.reminders = reminders;
            }
        }
        p.due_days.apply_to(&mut self.due_days);
        self
    }
}

/// A task's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Uuid,
    pub org_id: OrgId,
    pub author: UserId,
    pub created_at: DateTime<Utc>,
    pub content: TaskContent,
    pub assignees: Vec<UserId>,
    pub completed: BTreeSet<UserId>,
    /// Indexes of the reminders already due (appended once each).
    pub reminded: BTreeSet<i32>,
}

impl Task {
    /// Assignees who have not completed the task, in assignment order.
    pub fn pending(&self) -> Vec<UserId> {
        self.assignees.iter().copied().filter(|u| !self.completed.contains(u)).collect()
    }
}

#[derive(Debug, Clone)]
pub enum TaskCommand {
    /// E46/E47: `assignees` non-empty assigns at once (and requires a published task).
    Create { id: Uuid, org_id: OrgId, author: UserId, now: DateTime<Utc>, content: Box<TaskContent>, assignees: Vec<UserId> },
    /// E48: a draft only.
    Update { actor: Actor, patch: Box<TaskPatch> },
    /// E49: a published task only.
    Assign { actor: Actor, add: Vec<UserId>, remove: Vec<UserId> },
    /// Roster: an assignee marks the task done (again: nothing new).
    Complete { user: UserId, org: OrgId, now: DateTime<Utc> },
    /// The reminder worker: reminder `index` is due at `now` (not yet, already done, or nobody
    /// left to remind: nothing).
    Remind { index: i32, now: DateTime<Utc> },
    /// E50.
    Delete { actor: Actor },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum TaskEvent {
    TaskCreated {
        id: Uuid,
        org_id: OrgId,
        author: UserId,
        created_at: DateTime<Utc>,
        task: TaskContent,
    },
    TaskUpdated {
        id: Uuid,
        by: UserId,
        task: TaskContent,
    },
    /// Who was added and removed, and every assignee after the change.
    TaskAssigned {
        id: Uuid,
        by: UserId,
        #[schema(max_items = 1000)]
        added: Vec<UserId>,
        #[schema(max_items = 1000)]
        removed: Vec<UserId>,
        #[schema(max_items = 1000)]
        assignees: Vec<UserId>,
    },
    TaskCompleted {
        id: Uuid,
        user: UserId,
        completed_at: DateTime<Utc>,
    },
    /// Reminder `reminder_index` of the task's template is due: tell `assignees` (those who have
    /// not completed it) that the task titled `title` is due at `due_date`, by `reminder_type`.
    TaskReminderDue {
        id: Uuid,
        org_id: OrgId,
        #[schema(minimum = 0, maximum = 49)]
        reminder_index: i32,
        reminder_type: ReminderType,
        #[schema(max_items = 1000)]
        assignees: Vec<UserId>,
        #[schema(min_length = 1, max_length = 200)]
        title: String,
        due_date: DateTime<Utc>,
        remind_at: DateTime<Utc>,
        notification_template_id: Option<Uuid>,
    },
    TaskDeleted {
        id: Uuid,
    },
}

impl DomainEvent for TaskEvent {
    const STREAM_TYPE: &'static str = "task";

    fn event_type(&self) -> &'static str {
        match self {
            TaskEvent::TaskCreated { .. } => "TaskCreated",
            TaskEvent::TaskUpdated { .. } => "TaskUpdated",
            TaskEvent::TaskAssigned { .. } => "TaskAssigned",
            TaskEvent::TaskCompleted { .. } => "TaskCompleted",
            TaskEvent::TaskReminderDue { .. } => "TaskReminderDue",
            TaskEvent::TaskDeleted { .. } => "TaskDeleted",
        }
    }
}

fn dedup(v: Vec<UserId>) -> Vec<UserId> {
    let mut seen = BTreeSet::new();
    v.into_iter().filter(|u| seen.insert(*u)).collect()
}

/// The task, if `actor` may change it: another org's is not found, someone else's forbidden.
pub fn authorized<'a>(state: &'a Option<Task>, actor: &Actor) -> Result<&'a Task, DomainError> {
    match state {
        Some(t) if t.org_id == actor.org => {
            if t.author == actor.user || actor.admin {
                Ok(t)
            } else {
                Err(DomainError::Forbidden("only the author or an admin may change this task".into()))
            }
        }
        _ => Err(DomainError::NotFound("task")),
    }
}

fn assignment(by: UserId, t: &Task, add: Vec<UserId>, remove: Vec<UserId>) -> Result<Option<TaskEvent>, DomainError> {
    let add = dedup(add);
    let remove = dedup(remove);
    if t.content.status == TaskStatus::Draft && !add.is_empty() {
        return Err(DomainError::invalid("user_ids", "a draft task cannot be assigned; publish it first"));
    }
    let added: Vec<UserId> = add.into_iter().filter(|u| !t.assignees.contains(u) && !remove.contains(u)).collect();
    let removed: Vec<UserId> = remove.into_iter().filter(|u| t.assignees.contains(u)).collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(None);
    }
    let mut assignees: Vec<UserId> = t.assignees.iter().copied().filter(|u| !removed.contains(u)).collect();
    assignees.extend(added.iter().copied());
    if assignees.len() > MAX_ASSIGNEES {
        return Err(DomainError::invalid("user_ids", format!("a task has at most {MAX_ASSIGNEES} assignees")));
    }
    Ok(Some(TaskEvent::TaskAssigned { id: t.id, by, added, removed, assignees }))
}

pub struct TaskAggregate;

impl esrs::Aggregate for TaskAggregate {
    const NAME: &'static str = "task";
    type State = Option<Task>;
    type Command = TaskCommand;
    type Event = TaskEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            TaskCommand::Create { .. } if state.is_some() => Err(DomainError::AlreadyExists("task")),
            TaskCommand::Create { id, org_id, author, now, content, assignees } => {
                let task = content.checked(now)?;
                if task.status == TaskStatus::Draft && !assignees.is_empty() {
                    return Err(DomainError::invalid("status", "a draft task cannot be assigned (userIds); publish it"));
                }
                let created = Task {
                    id,
                    org_id,
                    author,
                    created_at: now,
                    content: task.clone(),
                    assignees: vec![],
                    completed: BTreeSet::new(),
                    reminded: BTreeSet::new(),
                };
                let mut events = vec![TaskEvent::TaskCreated { id, org_id, author, created_at: now, task }];
                events.extend(assignment(author, &created, assignees, vec![])?);
                Ok(events)
            }
            TaskCommand::Update { actor, patch } => {
                let t = authorized(state, &actor)?;
                if t.content.status == TaskStatus::Publish {
                    return Err(DomainError::invalid("status", "a published task cannot be updated"));
                }
                let task = t.content.clone().patched(*patch).checked(t.created_at)?;
                Ok(vec![TaskEvent::TaskUpdated { id: t.id, by: actor.user, task }])
            }
            TaskCommand::Assign { actor, add, remove } => {
                let t = authorized(state, &actor)?;
                Ok(assignment(actor.user, t, add, remove)?.into_iter().collect())
            }
            TaskCommand::Complete { user, org, now } => match state {
                Some(t) if t.org_id == org => {
                    if !t.assignees.contains(&user) {
                        return Err(DomainError::Forbidden("only an assignee may complete this task".into()));
                    }
                    if t.completed.contains(&user) {
                        return Ok(vec![]);
                    }
                    Ok(vec![TaskEvent::TaskCompleted { id: t.id, user, completed_at: now }])
                }
                _ => Err(DomainError::NotFound("task")),
            },
            TaskCommand::Remind { index, now } => {
                let Some(t) = state else { return Err(DomainError::NotFound("task")) };
                let (Some(due), Some(r)) = (t.content.due_date, t.content.reminders.iter().find(|r| r.index == index)) else {
                    return Ok(vec![]);
                };
                let pending = t.pending();
                if t.reminded.contains(&index) || pending.is_empty() || r.due_at(due) > now {
                    return Ok(vec![]);
                }
                Ok(vec![TaskEvent::TaskReminderDue {
                    id: t.id,
                    org_id: t.org_id,
                    reminder_index: index,
                    reminder_type: r.reminder_type,
                    assignees: pending,
                    title: t.content.title.clone(),
                    due_date: due,
                    remind_at: r.due_at(due),
                    notification_template_id: t.content.notification_template_id,
                }])
            }
            TaskCommand::Delete { actor } => {
                let t = authorized(state, &actor)?;
                Ok(vec![TaskEvent::TaskDeleted { id: t.id }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match event {
            TaskEvent::TaskCreated { id, org_id, author, created_at, task } => Some(Task {
                id,
                org_id,
                author,
                created_at,
                content: task,
                assignees: vec![],
                completed: BTreeSet::new(),
                reminded: BTreeSet::new(),
            }),
            TaskEvent::TaskUpdated { task, .. } => state.map(|t| Task { content: task, ..t }),
            TaskEvent::TaskAssigned { removed, assignees, .. } => state.map(|mut t| {
                // A user taken off and assigned again starts over.
                for u in &removed {
                    t.completed.remove(u);
                }
                t.assignees = assignees;
                t
            }),
            TaskEvent::TaskCompleted { user, .. } => state.map(|mut t| {
                t.completed.insert(user);
                t
            }),
            TaskEvent::TaskReminderDue { reminder_index, .. } => state.map(|mut t| {
                t.reminded.insert(reminder_index);
                t
            }),
            TaskEvent::TaskDeleted { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap()
    }

    fn content(task_type: TaskType, status: TaskStatus) -> TaskContent {
        TaskContent {
            title: " Read ".into(),
            description: None,
            task_type,
            status,
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

    fn fold(state: Option<Task>, events: Vec<TaskEvent>) -> Option<Task> {
        events.into_iter().fold(state, TaskAggregate::apply_event)
    }

    fn field(r: Result<Vec<TaskEvent>, DomainError>) -> String {
        match r {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_type_requires_its_field() {
        for t in TaskType::ALL {
            let create = TaskCommand::Create {
                id: id(1),
                org_id: OrgId(id(2)),
                author: UserId(id(3)),
                now: at(0),
                content: Box::new(content(t, TaskStatus::Draft)),
                assignees: vec![],
            };
            assert_eq!(field(TaskAggregate::handle_command(&None, create)), t.required_field());
        }
        assert_eq!(TaskStatus::parse("status", " Published ").unwrap(), TaskStatus::Publish);
        assert_eq!(TaskType::parse("task_type", "quizlink").unwrap(), TaskType::QuizLink);
    }

    #[test]
    fn drafts_are_not_assigned_and_published_tasks_not_updated() {
        let mut c = content(TaskType::Article, TaskStatus::Draft);
        c.content = Some("text".into());
        c.due_days = Some(2);
        let create = |c: TaskContent, assignees: Vec<UserId>| TaskCommand::Create {
            id: id(1),
            org_id: OrgId(id(2)),
            author: UserId(id(3)),
            now: at(0),
            content: Box::new(c),
            assignees,
        };
        assert_eq!(field(TaskAggregate::handle_command(&None, create(c.clone(), vec![UserId(id(4))]))), "status");
        let draft = fold(None, TaskAggregate::handle_command(&None, create(c.clone(), vec![])).unwrap());
        assert_eq!(draft.as_ref().unwrap().content.due_date, Some(at(48)));
        let actor = Actor { user: UserId(id(3)), org: OrgId(id(2)), admin: false };
        let assign = TaskCommand::Assign { actor, add: vec![UserId(id(4))], remove: vec![] };
        assert_eq!(field(TaskAggregate::handle_command(&draft, assign)), "user_ids");
        let publish = TaskPatch { status: Some(TaskStatus::Publish), ..Default::default() };
        let published =
            fold(draft.clone(), TaskAggregate::handle_command(&draft, TaskCommand::Update { actor, patch: Box::new(publish) }).unwrap());
        let again = TaskCommand::Update { actor, patch: Box::new(TaskPatch::default()) };
        assert_eq!(field(TaskAggregate::handle_command(&published, again)), "status");
        let stranger = Actor { user: UserId(id(9)), ..actor };
        assert!(matches!(
            TaskAggregate::handle_command(&published, TaskCommand::Delete { actor: stranger }),
            Err(DomainError::Forbidden(_))
        ));
        let other_org = Actor { org: OrgId(id(8)), ..actor };
        assert_eq!(
            TaskAggregate::handle_command(&published, TaskCommand::Delete { actor: other_org }).unwrap_err(),
            DomainError::NotFound("task")
        );
    }

    #[test]
    fn a_reminder_is_due_once_for_those_who_have_not_completed() {
        let mut c = content(TaskType::QuizLink, TaskStatus::Publish);
        c.link = Some("https://quiz".into());
        c.due_days = Some(1);
        c.notification_template_id = Some(id(7));
        c.reminders = vec![TaskReminder { index: 0, reminder_type: ReminderType::Email, before_minutes: 60 }];
        let (a, b) = (UserId(id(4)), UserId(id(5)));
        let create = TaskCommand::Create {
            id: id(1),
            org_id: OrgId(id(2)),
            author: UserId(id(3)),
            now: at(0),
            content: Box::new(c),
            assignees: vec![a, b],
        };
        let task = fold(None, TaskAggregate::handle_command(&None, create).unwrap());
        assert_eq!(task.as_ref().unwrap().assignees, vec![a, b]);
        assert!(TaskAggregate::handle_command(&task, TaskCommand::Remind { index: 0, now: at(22) }).unwrap().is_empty());
        let task = fold(
            task.clone(),
            TaskAggregate::handle_command(&task, TaskCommand::Complete { user: a, org: OrgId(id(2)), now: at(1) }).unwrap(),
        );
        let due = TaskAggregate::handle_command(&task, TaskCommand::Remind { index: 0, now: at(23) }).unwrap();
        assert!(
            matches!(&due[..], [TaskEvent::TaskReminderDue { assignees, due_date, .. }] if *assignees == vec![b] && *due_date == at(24))
        );
        let task = fold(task, due);
        assert!(TaskAggregate::handle_command(&task, TaskCommand::Remind { index: 0, now: at(30) }).unwrap().is_empty());
        let stranger = TaskCommand::Complete { user: UserId(id(9)), org: OrgId(id(2)), now: at(1) };
        assert!(matches!(TaskAggregate::handle_command(&task, stranger), Err(DomainError::Forbidden(_))));
    }

    proptest::proptest! {
        /// Whatever a client sends, parsing answers a value or a 400 naming the field, and a
        /// checked task is bounded, names its type's field and is due `due_days` after creation.
        #[test]
        fn any_input_is_a_bounded_task_or_a_named_field_error(
            raw_type in ".{0,20}", raw_status in ".{0,12}", title in ".{0,210}", text in proptest::option::of(".{0,30}"),
            due_days in proptest::option::of(-5i32..4000), type_index in 0usize..5,
        ) {
            if let Err(e) = TaskType::parse("task_type", &raw_type) {
                let named = matches!(e, DomainError::Invalid { ref field, .. } if field == "task_type");
                proptest::prop_assert!(named);
            }
            if let Err(e) = TaskStatus::parse("status", &raw_status) {
                let named = matches!(e, DomainError::Invalid { ref field, .. } if field == "status");
                proptest::prop_assert!(named);
            }
            let task_type = TaskType::ALL[type_index];
            let mut c = content(task_type, TaskStatus::Draft);
            c.title = title;
            c.content = text.clone();
            c.link = text;
            c.due_days = due_days;
            match c.checked(at(0)) {
                Ok(t) => {
                    proptest::prop_assert!(!t.title.is_empty() && t.title.chars().count() <= MAX_TITLE_LEN);
                    proptest::prop_assert!(matches!(task_type, TaskType::Article | TaskType::QuizLink));
                    proptest::prop_assert_eq!(t.due_date, t.due_days.map(|d| at(24 * i64::from(d))));
                }
                Err(DomainError::Invalid { field, .. }) => {
                    proptest::prop_assert!(["title", "content", "link", "due_days", task_type.required_field()].contains(&field.as_str()));
                }
                Err(other) => proptest::prop_assert!(false, "{other:?}"),
            }
        }
    }
}
