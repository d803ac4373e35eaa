//! Read models: their projectors (event → SQL) and the queries the API runs against them.
//!
//! Every projection owns a Postgres schema and a checkpoint row. Projector SQL names tables
//! unqualified, so the same code fills the live schema (via the connection's search_path) and a
//! fresh one during a rebuild (`SET LOCAL search_path`).

pub mod checkpoint;
pub mod content;
pub mod directory;
pub mod media;
pub mod nexport;
pub mod odata;
pub mod org_units;
pub mod parked;
pub mod portsip;
pub mod publisher;
pub mod queries;
pub mod scim;
pub mod search;
pub mod security_groups;
pub mod sso;

use eventlog::log::Selection;
use eventlog::{Envelope, Position};
use sqlx::PgConnection;
use uuid::Uuid;

/// A projection: its name (checkpoint row, NATS consumer), its schema and the tables it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Projection {
    pub name: &'static str,
    pub schema: &'static str,
    pub tables: &'static [&'static str],
    /// The stream types whose events it applies, when it passes over all others: a rebuild reads
    /// only those. `None`: it reads every event.
    pub stream_types: Option<&'static [&'static str]>,
    /// Event types of those streams it keeps nothing of (but what `after_replay` takes from the
    /// log): a rebuild does not read them.
    pub passes_over: &'static [&'static str],
    /// Tables of `tables` that its projector finds rows of by primary key only (and by unique
    /// constraints for upserts): a rebuild builds their other indexes after the replay, since
    /// no replay statement reads them and one sort at the end costs a fraction of keeping them
    /// row by row. A projector statement that looks rows of one of these up by another column
    /// would scan the table during a rebuild: such a table does not belong here.
    pub keyed_only: &'static [&'static str],
}

pub const DIRECTORY: Projection = Projection {
    name: "directory",
    schema: "rm_directory",
    tables: &[
        "organizations",
        "users",
        "user_search",
        "org_user_counts",
        "unit_user_counts",
        "org_group_counts",
        "groups",
        "group_members",
        "departments",
        "department_heads",
        "locations",
        "sso_entries",
        "security_groups",
        "media",
        "activity_progress",
        "node_closure",
        "role_grants",
        "subscriptions",
        "profile_fields",
        "subscription_field_values",
        "stream_versions",
    ],
    stream_types: Some(directory::STREAM_TYPES),
    passes_over: directory::PASSES_OVER,
    keyed_only: directory::KEYED_ONLY,
};

pub const CONTENT: Projection = Projection {
    name: "content",
    schema: "rm_content",
    tables: &[
        "follows",
        "audience",
        "categories",
        "posts",
        "post_reactions",
        "post_comments",
        "post_grants",
        "post_audience_counts",
        "post_audience_sigs",
        "post_author_sigs",
        "team_authors",
        "calendar_events",
        "calendar_rsvps",
        "videos",
        "photos",
        "kb_documents",
        "faq_kbs",
        "faq_rows",
        "courses",
        "enforcement_templates",
        "conversations",
        "conversation_participants",
        "messages",
        "tasks",
        "task_reminders",
        "notifications",
        "notification_deliveries",
        "notification_inbox",
    ],
    stream_types: Some(content::STREAM_TYPES),
    passes_over: &[],
    keyed_only: &[],
};

/// The schemas of the read models, searched before `public`: what every pool's sessions use
/// (`eventlog::db::connect`), so that projector SQL and queries find the live tables.
pub const SEARCH_PATH: &str = "rm_directory,rm_content,public";

/// Every projection, in the order a rebuild of `all` runs them.
pub const ALL: &[Projection] = &[DIRECTORY, CONTENT];

pub fn by_name(name: &str) -> Option<Projection> {
    ALL.iter().copied().find(|p| p.name == name)
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot decode {event_type}: {source}")]
    Decode { event_type: String, source: domain::EventCodecError },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The typed event of an envelope, upcast to its current shape; one that does not decode is the
/// event's fault (the runner parks it), never the database's.
pub(crate) fn decode<E: domain::DomainEvent>(ev: &Envelope) -> Result<E, ApplyError> {
    E::from_parts_ref(&ev.event_type, ev.schema_rev, &ev.payload)
        .map_err(|source| ApplyError::Decode { event_type: ev.event_type.clone(), source })
}

impl Projection {
    /// Whether applying an event of these types reads more of it than its envelope's ids, types,
    /// version and position: the events of its stream types but those it passes over. The others
    /// only move its checkpoint (and, in the directory, their streams' versions), so the runner
    /// leaves their payload and metadata unparsed, and a rebuild does not read them at all
    /// (`selection`).
    pub fn reads(&self, stream_type: &str, event_type: &str) -> bool {
        self.stream_types.is_none_or(|types| types.contains(&stream_type)) && !self.passes_over.contains(&event_type)
    }

    /// The events a rebuild reads: those of its stream types but the ones it passes over, which
    /// it reads all the same in `parked_streams` (streams with a parked event), where the rebuild
    /// parks every event behind one still refused.
    pub fn selection<'a>(&self, parked_streams: &'a [Uuid]) -> Selection<'a> {
        Selection { stream_types: self.stream_types, except_event_types: self.passes_over, but_in_streams: parked_streams }
    }

    /// As `apply_all`, for a rebuild: it leaves to `after_replay` what that takes from the log
    /// in one statement instead.
    pub async fn replay_all(&self, conn: &mut PgConnection, events: &[&Envelope]) -> Result<(), (usize, ApplyError)> {
        match self.name {
            "directory" => directory::replay_all(conn, events).await,
            _ => self.apply_all(conn, events).await,
        }
    }

    /// What a rebuild that replayed (`replay_all`) `selection`'s events after `after` up to
    /// `through` and left `kept` parked does for the rest, on `conn` (inside its transaction, on
    /// its tables): for the directory, the stream versions of all those events.
    pub async fn after_replay(
        &self,
        conn: &mut PgConnection,
        after: Position,
        through: Position,
        kept: &[Uuid],
    ) -> Result<(), sqlx::Error> {
        match self.name {
            "directory" => directory::record_versions(conn, after, through, kept).await,
            _ => Ok(()),
        }
    }

    /// Applies one event to this projection's tables on `conn` (inside the caller's transaction).
    pub async fn apply(&self, conn: &mut PgConnection, event: &Envelope) -> Result<(), ApplyError> {
        self.apply_all(conn, &[event]).await.map_err(|(_, e)| e)
    }

    /// Applies `events` in log order on `conn` (inside the caller's transaction), with the effect
    /// of applying them one by one; a projection may apply runs of them set-based. On failure: the
    /// index of the event it failed at (for a set-based run, the run's first event) and why.
    #[tracing::instrument(name = "projection.apply", skip_all, fields(projection = self.name, events = events.len()))]
    pub async fn apply_all(&self, conn: &mut PgConnection, events: &[&Envelope]) -> Result<(), (usize, ApplyError)> {
        match self.name {
            "directory" => directory::apply_all(conn, events).await,
            "content" => {
                for (i, event) in events.iter().enumerate() {
                    content::apply(conn, event).await.map_err(|e| (i, e))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
