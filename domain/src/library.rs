//! The intranet's library (WorkDrive E23–E38): videos, photos, knowledge-base documents and FAQs.
//!
//! Every library item has one life: created by an author in an org with an audience
//! (`domain::audience`), changed or deleted by its author or an org admin (spec §3.7 item 67),
//! gone after a delete. That life is written once here ([`decide`]); each kind only says what
//! its content is and how a patch changes it ([`ItemData`]). Events carry the item's whole
//! content after the change, so a projector stores what it is told and never merges.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audience::Audience;
use crate::event::DomainEvent;
use crate::patch::Patch;
use crate::values::{bounded_text, check_instant, opt_text, required_text};
use crate::{DomainError, OrgId, UserId};

pub const MAX_TITLE_LEN: usize = 200;
pub const MAX_DESCRIPTION_LEN: usize = 5000;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_LEN: usize = 100;
/// A short label: a template's system event, type and sub-type, a reminder's references.
pub const MAX_LABEL_LEN: usize = 100;
/// Owners of a document or FAQ.
pub const MAX_OWNERS: usize = 100;
/// Question/answer rows of one FAQ.
pub const MAX_QAS: usize = 200;
pub const MAX_QUESTION_LEN: usize = 1000;
pub const MAX_ANSWER_LEN: usize = 10_000;
/// A video's opaque `meta` object, serialized.
pub const MAX_META_BYTES: usize = 4096;
/// A course's opaque form.io `form`, serialized.
pub const MAX_FORM_BYTES: usize = 65_536;
/// A course's task list: entries, and all of them serialized.
pub const MAX_COURSE_TASKS: usize = 200;
pub const MAX_TASKS_BYTES: usize = 65_536;
/// A course's categories.
pub const MAX_COURSE_CATEGORIES: usize = 20;
/// An enforcement template's reminders.
pub const MAX_REMINDERS: usize = 50;

/// Who asks for a change: only the author or an admin of the item's org may change it, and an
/// item of another org is not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    pub org: OrgId,
    pub admin: bool,
}

/// A library item's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<D> {
    pub id: Uuid,
    pub org_id: OrgId,
    pub author: UserId,
    pub data: D,
    pub audience: Audience,
}

/// What a kind of library item is: its content checked, and a patch applied to it.
pub trait ItemData: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    type Patch: Clone + std::fmt::Debug;
    /// The content, trimmed and bounded (every event carries checked content only).
    fn checked(self) -> Result<Self, DomainError>;
    fn patched(self, patch: Self::Patch) -> Result<Self, DomainError>;
}

#[derive(Debug, Clone)]
pub enum ItemCommand<D: ItemData> {
    Create {
        id: Uuid,
        org_id: OrgId,
        author: UserId,
        data: D,
        audience: Audience,
    },
    /// `audience: None` keeps the item's audience.
    Update {
        actor: Actor,
        patch: D::Patch,
        audience: Option<Audience>,
    },
    Delete {
        actor: Actor,
    },
}

/// The outcome of a library command, before each kind names its event.
pub enum Change<D> {
    Created(Item<D>),
    Updated { by: UserId, item: Item<D> },
    Deleted,
}

/// The life every library item shares (see the module's documentation). `what` names the kind
/// in "not found".
pub fn decide<D: ItemData>(state: &Option<Item<D>>, command: ItemCommand<D>, what: &'static str) -> Result<Change<D>, DomainError> {
    let authorized = |actor: &Actor| -> Result<&Item<D>, DomainError> {
        match state {
            Some(item) if item.org_id == actor.org => {
                if item.author == actor.user || actor.admin {
                    Ok(item)
                } else {
                    Err(DomainError::Forbidden(format!("only the author or an admin may change this {what}")))
                }
            }
            _ => Err(DomainError::NotFound(what)),
        }
    };
    match command {
        ItemCommand::Create { .. } if state.is_some() => Err(DomainError::AlreadyExists(what)),
        ItemCommand::Create { id, org_id, author, data, audience } => {
            Ok(Change::Created(Item { id, org_id, author, data: data.checked()?, audience: audience.checked("permissions")? }))
        }
        ItemCommand::Update { actor, patch, audience } => {
            let item = authorized(&actor)?;
            let data = item.data.clone().patched(patch)?.checked()?;
            let audience = match audience {
                Some(a) => a.checked("permissions")?,
                None => item.audience.clone(),
            };
            Ok(Change::Updated { by: actor.user, item: Item { data, audience, ..item.clone() } })
        }
        ItemCommand::Delete { actor } => authorized(&actor).map(|_| Change::Deleted),
    }
}

/// Declares a library aggregate: its events (`Created` with the author and audience, `Updated`
/// with who changed it, `Deleted`) and the `esrs::Aggregate` that runs [`decide`].
macro_rules! library_aggregate {
    ($aggregate:ident, $event:ident, $data:ty, $stream:literal, $created:ident, $updated:ident, $deleted:ident) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(tag = "type", content = "data")]
        pub enum $event {
            $created { id: Uuid, org_id: OrgId, author: UserId, item: $data, audience: Audience },
            $updated { id: Uuid, by: UserId, item: $data, audience: Audience },
            $deleted { id: Uuid },
        }

        impl DomainEvent for $event {
            const STREAM_TYPE: &'static str = $stream;

            fn event_type(&self) -> &'static str {
                match self {
                    $event::$created { .. } => stringify!($created),
                    $event::$updated { .. } => stringify!($updated),
                    $event::$deleted { .. } => stringify!($deleted),
                }
            }
        }

        pub struct $aggregate;

        impl esrs::Aggregate for $aggregate {
            const NAME: &'static str = $stream;
            type State = Option<Item<$data>>;
            type Command = ItemCommand<$data>;
            type Event = $event;
            type Error = DomainError;

            fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
                Ok(vec![match decide(state, command, $stream)? {
                    Change::Created(i) => {
                        $event::$created { id: i.id, org_id: i.org_id, author: i.author, item: i.data, audience: i.audience }
                    }
                    Change::Updated { by, item: i } => $event::$updated { id: i.id, by, item: i.data, audience: i.audience },
                    Change::Deleted => $event::$deleted { id: state.as_ref().map(|i| i.id).unwrap_or_default() },
                }])
            }

            fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
                match event {
                    $event::$created { id, org_id, author, item, audience } => Some(Item { id, org_id, author, data: item, audience }),
                    $event::$updated { item, audience, .. } => state.map(|s| Item { data: item, audience, ..s }),
                    $event::$deleted { .. } => None,
                }
            }
        }
    };
}

// ----- shared checks ------------------------------------------------------------------------------

fn tags(field: &str, tags: Vec<String>) -> Result<Vec<String>, DomainError> {
    if tags.len() > MAX_TAGS {
        return Err(DomainError::invalid(field, format!("must have at most {MAX_TAGS} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, t) in tags.iter().enumerate() {
        // A blank tag is no tag; a repeated one is the same tag.
        if let Some(t) = opt_text(&format!("{field}[{i}]"), Some(t.clone()), MAX_TAG_LEN)? {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    Ok(out)
}

fn owners(field: &str, owners: Vec<UserId>) -> Result<Vec<UserId>, DomainError> {
    let mut out: Vec<UserId> = Vec::with_capacity(owners.len());
    for o in owners {
        if !out.contains(&o) {
            out.push(o);
        }
    }
    if out.len() > MAX_OWNERS {
        return Err(DomainError::invalid(field, format!("must have at most {MAX_OWNERS} entries")));
    }
    Ok(out)
}

fn expiry(at: Option<DateTime<Utc>>) -> Result<Option<DateTime<Utc>>, DomainError> {
    at.map(|at| check_instant("expiry", at)).transpose()
}

/// A client's opaque JSON value, stored as given: bounded in size, without NUL (jsonb cannot hold
/// U+0000; see `values::bounded_text`).
fn opaque_json(field: &str, v: serde_json::Value, max_bytes: usize) -> Result<serde_json::Value, DomainError> {
    let text = v.to_string();
    if text.len() > max_bytes {
        return Err(DomainError::invalid(field, format!("must be at most {max_bytes} bytes of JSON")));
    }
    if text.contains("\\u0000") {
        return Err(DomainError::invalid(field, "must not contain NUL (U+0000) characters"));
    }
    Ok(v)
}

/// An optional opaque JSON object (`null` is none).
fn opaque_object(field: &str, v: Option<serde_json::Value>, max_bytes: usize) -> Result<Option<serde_json::Value>, DomainError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(m @ serde_json::Value::Object(_)) => opaque_json(field, m, max_bytes).map(Some),
        Some(_) => Err(DomainError::invalid(field, "must be an object")),
    }
}

fn url(field: &str, v: Option<String>) -> Result<Option<String>, DomainError> {
    opt_text(field, v, MAX_URL_LEN)
}

/// What a knowledge-base item (a document or an FAQ) shares: its name, owners, expiry, tags,
/// category and whether it is published. An unpublished item is seen only by its owners, its
/// author and the org's admins, whatever its audience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KbHead {
    pub name: String,
    pub owners: Vec<UserId>,
    pub expiry: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    /// A category of the module (documents or FAQs).
    pub category_id: Option<Uuid>,
    pub published: bool,
}

/// A change to a [`KbHead`]: absent members keep.
#[derive(Debug, Clone, Default)]
pub struct KbHeadPatch {
    pub name: Option<String>,
    pub new_owners: Vec<UserId>,
    pub remove_owners: Vec<UserId>,
    pub expiry: Patch<DateTime<Utc>>,
    pub tags: Option<Vec<String>>,
    pub category_id: Patch<Uuid>,
    pub published: Option<bool>,
}

impl KbHead {
    fn checked(self) -> Result<Self, DomainError> {
        Ok(KbHead {
            name: required_text("name", &self.name, MAX_TITLE_LEN)?,
            owners: owners("owner_ids", self.owners)?,
            expiry: expiry(self.expiry)?,
            tags: tags("tags", self.tags)?,
            ..self
        })
    }

    fn patched(mut self, p: KbHeadPatch) -> Self {
        if let Some(name) = p.name {
            self.name = name;
        }
        self.owners.retain(|o| !p.remove_owners.contains(o));
        self.owners.extend(p.new_owners);
        p.expiry.apply_to(&mut self.expiry);
        if let Some(tags) = p.tags {
            self.tags = tags;
        }
        p.category_id.apply_to(&mut self.category_id);
        if let Some(published) = p.published {
            self.published = published;
        }
        self
    }
}

// ----- videos (E23–E26) ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VideoSource {
    Youtube = 1,
    Vimeo = 2,
    Custom = 3,
    Recording = 4,
}

impl VideoSource {
    pub const ALL: [VideoSource; 4] = [VideoSource::Youtube, VideoSource::Vimeo, VideoSource::Custom, VideoSource::Recording];

    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| i64::from(s.code()) == code)
    }

    /// An uploaded file (custom, recording) rather than an external page (YouTube, Vimeo).
    pub fn is_upload(self) -> bool {
        matches!(self, VideoSource::Custom | VideoSource::Recording)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Video {
    pub title: String,
    pub description: Option<String>,
    pub source: VideoSource,
    /// The uploaded video; set exactly when the source is an upload.
    pub video_file_id: Option<Uuid>,
    pub thumbnail_file_id: Option<Uuid>,
    /// The client's opaque object; for YouTube and Vimeo it holds the page in `url`.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default)]
pub struct VideoPatch {
    pub title: Option<String>,
    pub description: Patch<String>,
    pub thumbnail_file_id: Patch<Uuid>,
}

impl ItemData for Video {
    type Patch = VideoPatch;

    fn checked(self) -> Result<Self, DomainError> {
        let meta = opaque_object("meta", self.meta, MAX_META_BYTES)?;
        let url = meta.as_ref().and_then(|m| m.get("url"));
        if self.source.is_upload() && self.video_file_id.is_none() {
            return Err(DomainError::invalid("video_file_id", "is required for a CUSTOM or RECORDING video"));
        }
        if !self.source.is_upload() {
            match url.and_then(|u| u.as_str()).map(str::trim) {
                Some(u) if !u.is_empty() => {
                    bounded_text("meta.url", u, MAX_URL_LEN)?;
                }
                _ => return Err(DomainError::invalid("meta.url", "is required for a YOUTUBE or VIMEO video")),
            }
        }
        Ok(Video {
            title: required_text("title", &self.title, MAX_TITLE_LEN)?,
            description: opt_text("description", self.description, MAX_DESCRIPTION_LEN)?,
            video_file_id: self.video_file_id.filter(|_| self.source.is_upload()),
            meta,
            ..self
        })
    }

    fn patched(mut self, p: VideoPatch) -> Result<Self, DomainError> {
        if let Some(title) = p.title {
            self.title = title;
        }
        p.description.apply_to(&mut self.description);
        p.thumbnail_file_id.apply_to(&mut self.thumbnail_file_id);
        Ok(self)
    }
}

library_aggregate!(VideoAggregate, VideoEvent, Video, "video", VideoCreated, VideoUpdated, VideoDeleted);

// ----- photos (E27–E30) ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Photo {
    pub title: Option<String>,
    pub description: Option<String>,
    /// The uploaded image.
    pub file_id: Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct PhotoPatch {
    pub title: Patch<String>,
    pub description: Patch<String>,
}

impl ItemData for Photo {
    type Patch = PhotoPatch;

    fn checked(self) -> Result<Self, DomainError> {
        Ok(Photo {
            title: opt_text("title", self.title, MAX_TITLE_LEN)?,
            description: opt_text("description", self.description, MAX_DESCRIPTION_LEN)?,
            ..self
        })
    }

    fn patched(mut self, p: PhotoPatch) -> Result<Self, DomainError> {
        p.title.apply_to(&mut self.title);
        p.description.apply_to(&mut self.description);
        Ok(self)
    }
}

library_aggregate!(PhotoAggregate, PhotoEvent, Photo, "photo", PhotoCreated, PhotoUpdated, PhotoDeleted);

// ----- knowledge-base documents (E31–E34) --------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KbDocument {
    pub head: KbHead,
    /// Where the document is: at least one of an external URL, a link or an uploaded file.
    pub doc_url: Option<String>,
    pub link: Option<String>,
    pub doc_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default)]
pub struct KbDocumentPatch {
    pub head: KbHeadPatch,
    pub doc_url: Patch<String>,
    pub link: Patch<String>,
    pub doc_id: Patch<Uuid>,
}

impl ItemData for KbDocument {
    type Patch = KbDocumentPatch;

    fn checked(self) -> Result<Self, DomainError> {
        let doc = KbDocument {
            head: self.head.checked()?,
            doc_url: url("doc_url", self.doc_url)?,
            link: url("link", self.link)?,
            doc_id: self.doc_id,
        };
        if doc.doc_url.is_none() && doc.link.is_none() && doc.doc_id.is_none() {
            return Err(DomainError::invalid("doc_id", "a document needs one of docId, docUrl or link"));
        }
        Ok(doc)
    }

    fn patched(mut self, p: KbDocumentPatch) -> Result<Self, DomainError> {
        self.head = self.head.patched(p.head);
        p.doc_url.apply_to(&mut self.doc_url);
        p.link.apply_to(&mut self.link);
        p.doc_id.apply_to(&mut self.doc_id);
        Ok(self)
    }
}

library_aggregate!(
    KbDocumentAggregate,
    KbDocumentEvent,
    KbDocument,
    "kb_document",
    KbDocumentCreated,
    KbDocumentUpdated,
    KbDocumentDeleted
);

// ----- FAQs (E35–E38) -----------------------------------------------------------------------------

/// One question and its answer; `id` is the row's (made by the command).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Qa {
    pub id: Uuid,
    pub question: String,
    pub answer: String,
    pub description: Option<String>,
}

impl Qa {
    fn checked(self, item: &str) -> Result<Self, DomainError> {
        let f = |name: &str| format!("{item}.{name}");
        Ok(Qa {
            id: self.id,
            question: required_text(&f("question"), &self.question, MAX_QUESTION_LEN)?,
            answer: required_text(&f("answer"), &self.answer, MAX_ANSWER_LEN)?,
            description: opt_text(&f("description"), self.description, MAX_DESCRIPTION_LEN)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaqKb {
    pub head: KbHead,
    pub qas: Vec<Qa>,
}

/// A change to one row: absent members keep.
#[derive(Debug, Clone)]
pub struct QaChange {
    pub id: Uuid,
    pub question: Option<String>,
    pub answer: Option<String>,
    pub description: Patch<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FaqKbPatch {
    pub head: KbHeadPatch,
    /// Rows of this FAQ (`updatedQAs`); an id of another FAQ is a 400 naming it.
    pub updated: Vec<QaChange>,
    /// New rows, appended (`newQas`).
    pub added: Vec<Qa>,
    /// Rows of this FAQ to remove (`removeQuestionIds`).
    pub removed: Vec<Uuid>,
}

impl ItemData for FaqKb {
    type Patch = FaqKbPatch;

    fn checked(self) -> Result<Self, DomainError> {
        if self.qas.is_empty() {
            return Err(DomainError::invalid("qas", "an FAQ needs at least one question"));
        }
        if self.qas.len() > MAX_QAS {
            return Err(DomainError::invalid("qas", format!("must have at most {MAX_QAS} entries")));
        }
        let qas = self.qas.into_iter().enumerate().map(|(i, qa)| qa.checked(&format!("qas[{i}]"))).collect::<Result<_, _>>()?;
        Ok(FaqKb { head: self.head.checked()?, qas })
    }

    fn patched(mut self, p: FaqKbPatch) -> Result<Self, DomainError> {
        self.head = self.head.patched(p.head);
        for (i, id) in p.removed.iter().enumerate() {
            if !self.qas.iter().any(|qa| qa.id == *id) {
                return Err(DomainError::invalid(format!("remove_question_ids[{i}]"), format!("no question {id} in this FAQ")));
            }
        }
        self.qas.retain(|qa| !p.removed.contains(&qa.id));
        for (i, c) in p.updated.into_iter().enumerate() {
            let item = format!("updated_qas[{i}]");
            let qa = self
                .qas
                .iter_mut()
                .find(|qa| qa.id == c.id)
                .ok_or_else(|| DomainError::invalid(format!("{item}.id"), format!("no question {} in this FAQ", c.id)))?;
            if let Some(q) = c.question {
                qa.question = q;
            }
            if let Some(a) = c.answer {
                qa.answer = a;
            }
            c.description.apply_to(&mut qa.description);
            *qa = qa.clone().checked(&item)?;
        }
        for (i, qa) in p.added.into_iter().enumerate() {
            self.qas.push(qa.checked(&format!("new_qas[{i}]"))?);
        }
        Ok(self)
    }
}

library_aggregate!(FaqKbAggregate, FaqKbEvent, FaqKb, "faq_kb", FaqKbCreated, FaqKbUpdated, FaqKbDeleted);

// ----- courses (E43, E44, Roster's create) --------------------------------------------------------

/// A course's status (the seed's task status; `published` is accepted as `publish` by the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CourseStatus {
    Draft,
    Publish,
}

/// A course (the seed's "task list"): seen by the whole org; created by its admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Course {
    pub title: String,
    pub description: Option<String>,
    /// Categories of the COURSE module.
    pub categories: Vec<Uuid>,
    #[schema(minimum = 0)]
    pub order: i32,
    /// The estimated duration, in minutes.
    #[schema(minimum = 0)]
    pub total_time: i32,
    pub due_date: Option<DateTime<Utc>>,
    pub status: CourseStatus,
    pub file_id: Option<Uuid>,
    /// The client's form.io form, stored as given.
    #[schema(value_type = Option<Object>)]
    pub form: Option<serde_json::Value>,
    /// The course's tasks as the client sent them (titles or objects).
    #[schema(value_type = Vec<Object>)]
    pub tasks: Vec<serde_json::Value>,
}

/// Courses are never changed, only deleted (E44).
#[derive(Debug, Clone, Default)]
pub struct NoPatch;

impl ItemData for Course {
    type Patch = NoPatch;

    fn checked(self) -> Result<Self, DomainError> {
        for (field, n) in [("order", self.order), ("total_time", self.total_time)] {
            if n < 0 {
                return Err(DomainError::invalid(field, "must be 0 or more"));
            }
        }
        if self.categories.len() > MAX_COURSE_CATEGORIES {
            return Err(DomainError::invalid("categories", format!("must have at most {MAX_COURSE_CATEGORIES} entries")));
        }
        if self.tasks.len() > MAX_COURSE_TASKS {
            return Err(DomainError::invalid("tasks", format!("must have at most {MAX_COURSE_TASKS} entries")));
        }
        let tasks = opaque_json("tasks", serde_json::Value::Array(self.tasks), MAX_TASKS_BYTES)?;
        Ok(Course {
            title: required_text("title", &self.title, MAX_TITLE_LEN)?,
            description: opt_text("description", self.description, MAX_DESCRIPTION_LEN)?,
            due_date: self.due_date.map(|d| check_instant("due_date", d)).transpose()?,
            form: opaque_object("form", self.form, MAX_FORM_BYTES)?,
            tasks: match tasks {
                serde_json::Value::Array(t) => t,
                _ => vec![],
            },
            ..self
        })
    }

    fn patched(self, _: NoPatch) -> Result<Self, DomainError> {
        Ok(self)
    }
}

library_aggregate!(CourseAggregate, CourseEvent, Course, "course", CourseCreated, CourseUpdated, CourseDeleted);

// ----- enforcement templates (E40, Roster's create) -----------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReminderType {
    Email,
    Push,
    Text,
    Restrict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReminderTimeUnit {
    Week,
    Days,
    Hours,
    Minutes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reminder {
    pub reminder_type: ReminderType,
    pub reminder_time_unit: ReminderTimeUnit,
    #[schema(minimum = 0)]
    pub reminder_time: i32,
    pub ref_id: Option<String>,
    pub org_content_template_id: Option<String>,
}

/// An enforcement (notification) template: when to remind whom of what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnforcementTemplate {
    pub title: String,
    pub system_event: Option<String>,
    pub kind: Option<String>,
    pub sub_kind: Option<String>,
    pub reminders: Vec<Reminder>,
}

impl ItemData for EnforcementTemplate {
    type Patch = NoPatch;

    fn checked(self) -> Result<Self, DomainError> {
        if self.reminders.len() > MAX_REMINDERS {
            return Err(DomainError::invalid("reminders", format!("must have at most {MAX_REMINDERS} entries")));
        }
        let mut reminders = Vec::with_capacity(self.reminders.len());
        for (i, r) in self.reminders.into_iter().enumerate() {
            let f = |name: &str| format!("reminders[{i}].{name}");
            if r.reminder_time < 0 {
                return Err(DomainError::invalid(f("reminder_time"), "must be 0 or more"));
            }
            reminders.push(Reminder {
                ref_id: opt_text(&f("ref_id"), r.ref_id, MAX_LABEL_LEN)?,
                org_content_template_id: opt_text(&f("org_content_template_id"), r.org_content_template_id, MAX_LABEL_LEN)?,
                ..r
            });
        }
        Ok(EnforcementTemplate {
            title: required_text("title", &self.title, MAX_TITLE_LEN)?,
            system_event: opt_text("system_event", self.system_event, MAX_LABEL_LEN)?,
            kind: opt_text("type", self.kind, MAX_LABEL_LEN)?,
            sub_kind: opt_text("sub_type", self.sub_kind, MAX_LABEL_LEN)?,
            reminders,
        })
    }

    fn patched(self, _: NoPatch) -> Result<Self, DomainError> {
        Ok(self)
    }
}

library_aggregate!(
    EnforcementTemplateAggregate,
    EnforcementTemplateEvent,
    EnforcementTemplate,
    "enforcement_template",
    EnforcementTemplateCreated,
    EnforcementTemplateUpdated,
    EnforcementTemplateDeleted
);

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn photo() -> Photo {
        Photo { title: Some(" Beach ".into()), description: None, file_id: id(9) }
    }

    fn created() -> Option<Item<Photo>> {
        let create =
            ItemCommand::Create { id: id(1), org_id: OrgId(id(2)), author: UserId(id(3)), data: photo(), audience: Audience::public() };
        PhotoAggregate::handle_command(&None, create).unwrap().into_iter().fold(None, PhotoAggregate::apply_event)
    }

    #[test]
    fn only_the_author_or_an_admin_of_the_org_changes_an_item() {
        let state = created();
        assert_eq!(state.as_ref().unwrap().data.title.as_deref(), Some("Beach"));
        let actor = |user: u128, org: u128, admin: bool| Actor { user: UserId(id(user)), org: OrgId(id(org)), admin };
        let delete = |a: Actor| PhotoAggregate::handle_command(&state, ItemCommand::Delete { actor: a });
        assert!(matches!(delete(actor(4, 2, false)), Err(DomainError::Forbidden(_))));
        assert_eq!(delete(actor(4, 5, true)).unwrap_err(), DomainError::NotFound("photo"));
        assert!(delete(actor(3, 2, false)).is_ok() && delete(actor(4, 2, true)).is_ok());
        let gone = delete(actor(3, 2, false)).unwrap().into_iter().fold(state.clone(), PhotoAggregate::apply_event);
        assert_eq!(
            PhotoAggregate::handle_command(&gone, ItemCommand::Delete { actor: actor(3, 2, false) }).unwrap_err(),
            DomainError::NotFound("photo")
        );
    }

    #[test]
    fn a_video_names_its_upload_or_its_page() {
        let video = |source, file: Option<Uuid>, meta: serde_json::Value| {
            Video { title: "t".into(), description: None, source, video_file_id: file, thumbnail_file_id: None, meta: Some(meta) }.checked()
        };
        let field = |r: Result<Video, DomainError>| match r {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(video(VideoSource::Custom, None, serde_json::json!({}))), "video_file_id");
        assert_eq!(field(video(VideoSource::Youtube, None, serde_json::json!({ "url": " " }))), "meta.url");
        assert_eq!(field(video(VideoSource::Vimeo, None, serde_json::json!([1]))), "meta");
        assert!(video(VideoSource::Youtube, Some(id(1)), serde_json::json!({ "url": "https://y" })).unwrap().video_file_id.is_none());
        assert!(video(VideoSource::Recording, Some(id(1)), serde_json::json!({})).is_ok());
    }

    #[test]
    fn faq_rows_are_changed_by_id_of_this_faq_only() {
        let head = KbHead {
            name: "n".into(),
            owners: vec![],
            expiry: None,
            tags: vec![" a ".into(), "a".into(), "".into()],
            category_id: None,
            published: true,
        };
        let qa = |n: u128| Qa { id: id(n), question: "q".into(), answer: "a".into(), description: None };
        let faq = FaqKb { head, qas: vec![qa(1), qa(2)] }.checked().unwrap();
        assert_eq!(faq.head.tags, vec!["a".to_string()]);
        let err = faq.clone().patched(FaqKbPatch { removed: vec![id(1), id(7)], ..Default::default() }).unwrap_err();
        assert_eq!(err, DomainError::invalid("remove_question_ids[1]", format!("no question {} in this FAQ", id(7))));
        let left = faq.clone().patched(FaqKbPatch { removed: vec![id(1)], added: vec![qa(3)], ..Default::default() }).unwrap();
        assert_eq!(left.qas.iter().map(|q| q.id).collect::<Vec<_>>(), vec![id(2), id(3)]);
        let empty = faq.patched(FaqKbPatch { removed: vec![id(1), id(2)], ..Default::default() }).unwrap().checked();
        assert!(matches!(empty, Err(DomainError::Invalid { field, .. }) if field == "qas"));
    }

    #[test]
    fn courses_and_templates_bound_what_they_store() {
        let course = Course {
            title: "c".into(),
            description: None,
            categories: vec![],
            order: 0,
            total_time: 0,
            due_date: None,
            status: CourseStatus::Draft,
            file_id: None,
            form: None,
            tasks: vec![serde_json::json!("Read")],
        };
        assert!(course.clone().checked().is_ok());
        let field = |r: Result<Course, DomainError>| match r {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(Course { total_time: -1, ..course.clone() }.checked()), "total_time");
        assert_eq!(field(Course { form: Some(serde_json::json!({ "k": "\u{0}" })), ..course.clone() }.checked()), "form");
        assert_eq!(field(Course { tasks: vec![serde_json::json!("x".repeat(MAX_TASKS_BYTES))], ..course }.checked()), "tasks");
        let reminder = Reminder {
            reminder_type: ReminderType::Push,
            reminder_time_unit: ReminderTimeUnit::Hours,
            reminder_time: -1,
            ref_id: None,
            org_content_template_id: None,
        };
        let template = EnforcementTemplate { title: "t".into(), system_event: None, kind: None, sub_kind: None, reminders: vec![reminder] };
        assert_eq!(template.checked().unwrap_err(), DomainError::invalid("reminders[0].reminder_time", "must be 0 or more"));
    }
}
