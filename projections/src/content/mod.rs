//! The `content` projection (DESIGN §11): WorkDrive's intranet content, kept in its own schema
//! (`rm_content`) with its own checkpoint and consumer, so a content event can never hold up or
//! park the directory. Queries read it together with `rm_directory` (authors, readers).
//!
//! Every content type stores who may see an item through [`audience`]; its queries ask the
//! same question with the reader's grants (see `audience::Reader`).

pub mod audience;
pub mod calendar;
pub mod categories;
pub mod conversations;
pub mod follows;
pub mod library;
pub mod notifications;
pub mod posts;
pub mod tasks;

use eventlog::Envelope;
use sqlx::PgConnection;

use crate::{decode, ApplyError};

/// The stream types whose events this projection applies: the live projector passes over every
/// other event, and a rebuild reads only these from the log (most of a directory's log is users
/// and groups, which content keeps nothing of). One list for both, so they cannot disagree.
pub const STREAM_TYPES: &[&str] = &[
    "follow",
    "category",
    "post",
    "calendar_event",
    "video",
    "photo",
    "kb_document",
    "faq_kb",
    "course",
    "enforcement_template",
    "task",
    "notification",
    "conversation",
];

pub async fn apply(conn: &mut PgConnection, ev: &Envelope) -> Result<(), ApplyError> {
    match ev.stream_type.as_str() {
        // What the runner may hand over without its payload (`Projection::reads`).
        stream_type if !crate::CONTENT.reads(stream_type, &ev.event_type) => Ok(()),
        "follow" => follows::apply(conn, ev, decode(ev)?).await,
        "category" => categories::apply(conn, ev, decode(ev)?).await,
        "post" => posts::apply(conn, ev, decode(ev)?).await,
        "calendar_event" => calendar::apply(conn, ev, decode(ev)?).await,
        "video" => library::apply_video(conn, ev, decode(ev)?).await,
        "photo" => library::apply_photo(conn, ev, decode(ev)?).await,
        "kb_document" => library::apply_document(conn, ev, decode(ev)?).await,
        "faq_kb" => library::apply_faq(conn, ev, decode(ev)?).await,
        "course" => library::apply_course(conn, ev, decode(ev)?).await,
        "enforcement_template" => library::apply_template(conn, ev, decode(ev)?).await,
        "task" => tasks::apply(conn, ev, decode(ev)?).await,
        "notification" => notifications::apply(conn, ev, decode(ev)?).await,
        "conversation" => conversations::apply(conn, ev, decode(ev)?).await,
        _ => Ok(()),
    }
}
