//! Reading the log in order: the envelope every reader sees (relay, rebuild, `/events`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::Position;

/// One event as NATS subscribers, projections and the audit API see it (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: Uuid,
    pub position: Position,
    pub org_id: Option<Uuid>,
    pub stream_type: String,
    pub stream_id: Uuid,
    pub version: i32,
    pub event_type: String,
    pub schema_rev: i16,
    pub recorded_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
    pub payload: serde_json::Value,
}

impl Envelope {
    /// The payload in the current shape of its event type (`schema_rev` upcasters), as every
    /// reader outside the sealer sees it; the stored row is never changed.
    pub fn upcast(self) -> Self {
        let (schema_rev, payload) = domain::event::upcast_any(&self.stream_type, &self.event_type, self.schema_rev, self.payload);
        Envelope { schema_rev, payload, ..self }
    }

    /// `<prefix>.<org_id>.<stream_type>.<stream_id>.<event_type>`, `_` for a null org.
    pub fn subject(&self, prefix: &str) -> String {
        let org = self.org_id.map(|o| o.to_string()).unwrap_or_else(|| "_".into());
        format!("{prefix}.{org}.{}.{}.{}", self.stream_type, self.stream_id, self.event_type)
    }

    /// `(stream_type, event_type)` as a `subject` names them, whatever the prefix; `None` for a
    /// subject with fewer tokens. A hint only: the subject says nothing the envelope does not.
    pub fn subject_types(subject: &str) -> Option<(&str, &str)> {
        let mut tokens = subject.rsplit('.');
        let event_type = tokens.next()?;
        let _stream_id = tokens.next()?;
        Some((tokens.next()?, event_type))
    }
}

struct Row {
    gid: i64,
    tx: i64,
    event_id: Uuid,
    org_id: Option<Uuid>,
    stream_type: String,
    stream_id: Uuid,
    version: i32,
    event_type: String,
    schema_rev: i16,
    recorded_at: DateTime<Utc>,
    metadata: serde_json::Value,
    payload: serde_json::Value,
}

impl From<Row> for Envelope {
    fn from(r: Row) -> Self {
        Envelope {
            event_id: r.event_id,
            position: Position::new(r.tx, r.gid),
            org_id: r.org_id,
            stream_type: r.stream_type,
            stream_id: r.stream_id,
            version: r.version,
            event_type: r.event_type,
            schema_rev: r.schema_rev,
            recorded_at: r.recorded_at,
            metadata: r.metadata,
            payload: r.payload,
        }
    }
}

/// How far up the log a read may go: only events of transactions below it, so that no row can
/// commit behind a cursor later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon(Option<i64>);

impl Horizon {
    /// Below the oldest running transaction, taken in the read's own snapshot (DESIGN §3): always
    /// safe and one statement, but any transaction holding an xid holds it back, appending or not.
    pub const OLDEST_RUNNING: Horizon = Horizon(None);
}

/// Below the oldest running transaction that may still append (migration 0030 says how, and why
/// it is safe): what a projector's open batch does not hold back. It never moves back (0042 says
/// how it could before), so a read below it sees every event the relay has published, which
/// read-your-writes waited for. Only a read in a later statement may use it; never pass it to one
/// in the same one.
pub async fn appenders_horizon<'e>(db: impl PgExecutor<'e>) -> Result<Horizon, sqlx::Error> {
    let xid = sqlx::query_scalar!(r#"SELECT roster_log_horizon() AS "xid!""#).fetch_one(db).await?;
    Ok(Horizon(Some(xid)))
}

/// Which of the log's events a reader wants: what a rebuild of a projection reads. The others
/// are passed over in Postgres, never sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection<'a> {
    /// Only these streams' events; `None`: every stream type.
    pub stream_types: Option<&'a [&'a str]>,
    /// Not these event types, unless their stream is one of `but_in_streams`.
    pub except_event_types: &'a [&'a str],
    pub but_in_streams: &'a [Uuid],
}

impl Selection<'_> {
    pub const ALL: Selection<'static> = Selection { stream_types: None, except_event_types: &[], but_in_streams: &[] };
}

/// Events after `after` that `selection` names, in log order, below `horizon`: a row committed
/// later can never appear behind the cursor (DESIGN §3).
pub async fn read_after_of<'e>(
    db: impl PgExecutor<'e>,
    after: Position,
    horizon: Horizon,
    selection: &Selection<'_>,
    limit: i64,
) -> Result<Vec<Envelope>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT gid, tx::text::bigint AS "tx!", event_id, org_id, stream_type, stream_id, version, event_type, schema_rev,
                  recorded_at, metadata, payload
           FROM events
           WHERE (tx, gid) > ($1::text::xid8, $2)
             AND tx < coalesce($7::bigint::text::xid8, pg_snapshot_xmin(pg_current_snapshot()))
             AND ($4::text[] IS NULL OR stream_type = ANY($4))
             AND (event_type <> ALL($5::text[]) OR stream_id = ANY($6::uuid[]))
           ORDER BY tx, gid LIMIT $3"#,
        after.tx.to_string(),
        after.gid,
        limit,
        selection.stream_types as Option<&[&str]>,
        selection.except_event_types as &[&str],
        selection.but_in_streams,
        horizon.0,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Envelope::from).collect())
}

/// How many of the log's events `selection` names (a rebuild's progress bar).
pub async fn count_of<'e>(db: impl PgExecutor<'e>, selection: &Selection<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM events
           WHERE ($1::text[] IS NULL OR stream_type = ANY($1))
             AND (event_type <> ALL($2::text[]) OR stream_id = ANY($3::uuid[]))"#,
        selection.stream_types as Option<&[&str]>,
        selection.except_event_types as &[&str],
        selection.but_in_streams,
    )
    .fetch_one(db)
    .await
}

/// The log's rows with these event ids (in no particular order), as stored.
pub async fn read_by_ids<'e>(db: impl PgExecutor<'e>, ids: &[Uuid]) -> Result<Vec<Envelope>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT gid, tx::text::bigint AS "tx!", event_id, org_id, stream_type, stream_id, version, event_type, schema_rev,
                  recorded_at, metadata, payload
           FROM events WHERE event_id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Envelope::from).collect())
}

/// Filters of the audit read; every one is optional but the org.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub stream_type: Option<String>,
    pub stream_id: Option<Uuid>,
    pub event_type: Option<String>,
    /// The user who caused the event (`metadata.actor_user_id`).
    pub actor: Option<Uuid>,
    /// Recorded at or after.
    pub since: Option<DateTime<Utc>>,
    /// Recorded before.
    pub until: Option<DateTime<Utc>>,
}

/// One organization's events after `after`, in log order, below `horizon` (the `/events` endpoint).
pub async fn read_org_after<'e>(
    db: impl PgExecutor<'e>,
    org_id: Uuid,
    after: Position,
    horizon: Horizon,
    filter: &LogFilter,
    limit: i64,
) -> Result<Vec<Envelope>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT gid, tx::text::bigint AS "tx!", event_id, org_id, stream_type, stream_id, version, event_type, schema_rev,
                  recorded_at, metadata, payload
           FROM events
           WHERE org_id = $1 AND (tx, gid) > ($2::text::xid8, $3)
             AND tx < coalesce($11::bigint::text::xid8, pg_snapshot_xmin(pg_current_snapshot()))
             AND ($4::text IS NULL OR stream_type = $4) AND ($5::uuid IS NULL OR stream_id = $5)
             AND ($6::text IS NULL OR event_type = $6)
             AND ($7::uuid IS NULL OR metadata->>'actor_user_id' = $7::text)
             AND ($8::timestamptz IS NULL OR recorded_at >= $8) AND ($9::timestamptz IS NULL OR recorded_at < $9)
           ORDER BY tx, gid LIMIT $10"#,
        org_id,
        after.tx.to_string(),
        after.gid,
        filter.stream_type.as_deref(),
        filter.stream_id,
        filter.event_type.as_deref(),
        filter.actor,
        filter.since,
        filter.until,
        limit,
        horizon.0,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Envelope::from).collect())
}

/// One entity's whole history in `org` below `horizon`, in version order (the audit view of a
/// stream).
pub async fn read_stream<'e>(
    db: impl PgExecutor<'e>,
    org_id: Uuid,
    stream_type: &str,
    stream_id: Uuid,
    horizon: Horizon,
) -> Result<Vec<Envelope>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT gid, tx::text::bigint AS "tx!", event_id, org_id, stream_type, stream_id, version, event_type, schema_rev,
                  recorded_at, metadata, payload
           FROM events
           WHERE org_id = $1 AND stream_type = $2 AND stream_id = $3
             AND tx < coalesce($4::bigint::text::xid8, pg_snapshot_xmin(pg_current_snapshot()))
           ORDER BY version"#,
        org_id,
        stream_type,
        stream_id,
        horizon.0,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Envelope::from).collect())
}

/// The position of the newest event visible to readers, for progress reports.
pub async fn head<'e>(db: impl PgExecutor<'e>) -> Result<Option<Position>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT tx::text::bigint AS "tx!", gid FROM events WHERE tx < pg_snapshot_xmin(pg_current_snapshot())
           ORDER BY tx DESC, gid DESC LIMIT 1"#
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Position::new(r.tx, r.gid)))
}

/// Every event of one organization (`None`: the system events) below `horizon`, in log order: the
/// chain the sealer seals and `roster verify` walks.
pub async fn read_chain<'e>(db: impl PgExecutor<'e>, org_id: Option<Uuid>, horizon: Horizon) -> Result<Vec<Envelope>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT gid, tx::text::bigint AS "tx!", event_id, org_id, stream_type, stream_id, version, event_type, schema_rev,
                  recorded_at, metadata, payload
           FROM events
           WHERE org_id IS NOT DISTINCT FROM $1 AND tx < coalesce($2::bigint::text::xid8, pg_snapshot_xmin(pg_current_snapshot()))
           ORDER BY tx, gid"#,
        org_id,
        horizon.0,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Envelope::from).collect())
}

/// How far a reader at `after` is behind the log below `horizon`: the events after it, and when
/// the oldest of them was recorded (`None` when it is caught up). Pass the appenders' horizon
/// (`appenders_horizon`): below the oldest running transaction, any transaction left open would
/// hide what a stalled reader has not handled and report it caught up.
pub async fn lag_after<'e>(
    db: impl PgExecutor<'e>,
    after: Position,
    horizon: Horizon,
) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "n!", min(recorded_at) AS oldest FROM events
           WHERE (tx, gid) > ($1::text::xid8, $2) AND tx < coalesce($3::bigint::text::xid8, pg_snapshot_xmin(pg_current_snapshot()))"#,
        after.tx.to_string(),
        after.gid,
        horizon.0,
    )
    .fetch_one(db)
    .await?;
    Ok((row.n, row.oldest))
}
