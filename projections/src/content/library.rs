//! The intranet's library (WorkDrive E23–E38): videos, photos, documents and FAQs, and the
//! queries that page them. Every query asks the one visibility question (`audience`), and for
//! documents and FAQs also the publication rule: an unpublished item is seen only by its author,
//! its owners and the org's admins.

use chrono::{DateTime, Utc};
use domain::audience::Audience;
use domain::library::{
    CourseEvent, CourseStatus, EnforcementTemplateEvent, FaqKbEvent, KbDocumentEvent, KbHead, PhotoEvent, Qa, VideoEvent,
};
use domain::{OrgId, UserId};
use eventlog::Envelope;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::audience::{self, push_visible, Reader};
use crate::ApplyError;

fn ids<T: Copy>(v: &[T], f: impl Fn(T) -> Uuid) -> Vec<Uuid> {
    v.iter().map(|x| f(*x)).collect()
}

/// Forgets a deleted library item of any kind (ids are unique across kinds), with its grants
/// and, for an FAQ, its rows.
async fn forget(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH v AS (DELETE FROM videos WHERE id = $1), p AS (DELETE FROM photos WHERE id = $1),
              d AS (DELETE FROM kb_documents WHERE id = $1), f AS (DELETE FROM faq_kbs WHERE id = $1),
              r AS (DELETE FROM faq_rows WHERE kb_id = $1), c AS (DELETE FROM courses WHERE id = $1),
              t AS (DELETE FROM enforcement_templates WHERE id = $1)
         DELETE FROM audience WHERE item_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces the grants of an updated item, found with its (org, author); an update of an item
/// the projection does not hold changes nothing.
async fn regrant(conn: &mut PgConnection, id: Uuid, found: Option<(Uuid, Uuid)>, a: &Audience) -> Result<(), sqlx::Error> {
    match found {
        Some((org, author)) => audience::replace(conn, OrgId(org), id, &a.grants(OrgId(org), UserId(author))).await,
        None => Ok(()),
    }
}

pub(super) async fn apply_video(conn: &mut PgConnection, ev: &Envelope, event: VideoEvent) -> Result<(), ApplyError> {
    match event {
        VideoEvent::VideoCreated { id, org_id, author, item: v, audience: a } => {
            sqlx::query!(
                "INSERT INTO videos (id, org_id, author, title, description, source, video_file_id, thumbnail_file_id, meta,
                                     created_at, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $3) ON CONFLICT (id) DO NOTHING",
                id,
                org_id.0,
                author.0,
                v.title,
                v.description,
                v.source.code(),
                v.video_file_id,
                v.thumbnail_file_id,
                v.meta,
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
            audience::replace(conn, org_id, id, &a.grants(org_id, author)).await?;
        }
        VideoEvent::VideoUpdated { id, by, item: v, audience: a } => {
            let row = sqlx::query!(
                "UPDATE videos SET title = $2, description = $3, thumbnail_file_id = $4, updated_at = $5, updated_by = $6
                 WHERE id = $1 RETURNING org_id, author",
                id,
                v.title,
                v.description,
                v.thumbnail_file_id,
                ev.recorded_at,
                by.0,
            )
            .fetch_optional(&mut *conn)
            .await?;
            regrant(conn, id, row.map(|r| (r.org_id, r.author)), &a).await?;
        }
        VideoEvent::VideoDeleted { id } => {
            forget(conn, id).await?;
        }
    }
    Ok(())
}

pub(super) async fn apply_photo(conn: &mut PgConnection, ev: &Envelope, event: PhotoEvent) -> Result<(), ApplyError> {
    match event {
        PhotoEvent::PhotoCreated { id, org_id, author, item: p, audience: a } => {
            sqlx::query!(
                "INSERT INTO photos (id, org_id, author, title, description, file_id, tagged, created_at, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $3) ON CONFLICT (id) DO NOTHING",
                id,
                org_id.0,
                author.0,
                p.title,
                p.description,
                p.file_id,
                &ids(&a.tagged_users, |u| u.0),
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
            audience::replace(conn, org_id, id, &a.grants(org_id, author)).await?;
        }
        PhotoEvent::PhotoUpdated { id, by, item: p, audience: a } => {
            let row = sqlx::query!(
                "UPDATE photos SET title = $2, description = $3, tagged = $4, updated_at = $5, updated_by = $6
                 WHERE id = $1 RETURNING org_id, author",
                id,
                p.title,
                p.description,
                &ids(&a.tagged_users, |u| u.0),
                ev.recorded_at,
                by.0,
            )
            .fetch_optional(&mut *conn)
            .await?;
            regrant(conn, id, row.map(|r| (r.org_id, r.author)), &a).await?;
        }
        PhotoEvent::PhotoDeleted { id } => {
            forget(conn, id).await?;
        }
    }
    Ok(())
}

pub(super) async fn apply_document(conn: &mut PgConnection, ev: &Envelope, event: KbDocumentEvent) -> Result<(), ApplyError> {
    match event {
        KbDocumentEvent::KbDocumentCreated { id, org_id, author, item: d, audience: a } => {
            let h = &d.head;
            sqlx::query!(
                "INSERT INTO kb_documents (id, org_id, author, name, owners, expiry, tags, category_id, published, doc_url, link, doc_id,
                                           created_at, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $3) ON CONFLICT (id) DO NOTHING",
                id,
                org_id.0,
                author.0,
                h.name,
                &ids(&h.owners, |u| u.0),
                h.expiry,
                &h.tags,
                h.category_id,
                h.published,
                d.doc_url,
                d.link,
                d.doc_id,
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
            audience::replace(conn, org_id, id, &a.grants(org_id, author)).await?;
        }
        KbDocumentEvent::KbDocumentUpdated { id, by, item: d, audience: a } => {
            let h = &d.head;
            let row = sqlx::query!(
                "UPDATE kb_documents SET name = $2, owners = $3, expiry = $4, tags = $5, category_id = $6, published = $7,
                        doc_url = $8, link = $9, doc_id = $10, updated_at = $11, updated_by = $12
                 WHERE id = $1 RETURNING org_id, author",
                id,
                h.name,
                &ids(&h.owners, |u| u.0),
                h.expiry,
                &h.tags,
                h.category_id,
                h.published,
                d.doc_url,
                d.link,
                d.doc_id,
                ev.recorded_at,
                by.0,
            )
            .fetch_optional(&mut *conn)
            .await?;
            regrant(conn, id, row.map(|r| (r.org_id, r.author)), &a).await?;
        }
        KbDocumentEvent::KbDocumentDeleted { id } => {
            forget(conn, id).await?;
        }
    }
    Ok(())
}

async fn replace_rows(conn: &mut PgConnection, kb: Uuid, qas: &[Qa]) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM faq_rows WHERE kb_id = $1", kb).execute(&mut *conn).await?;
    let row_ids: Vec<Uuid> = qas.iter().map(|q| q.id).collect();
    let questions: Vec<String> = qas.iter().map(|q| q.question.clone()).collect();
    let answers: Vec<String> = qas.iter().map(|q| q.answer.clone()).collect();
    let descriptions: Vec<Option<String>> = qas.iter().map(|q| q.description.clone()).collect();
    sqlx::query!(
        "INSERT INTO faq_rows (kb_id, id, position, question, answer, description)
         SELECT $1, r.id, r.n::int, r.q, r.a, r.d
         FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS r(id, q, a, d, n)
         ON CONFLICT DO NOTHING",
        kb,
        &row_ids,
        &questions,
        &answers,
        &descriptions as &[Option<String>],
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn json<T: serde::Serialize>(a: &T) -> Result<serde_json::Value, ApplyError> {
    serde_json::to_value(a).map_err(|e| ApplyError::Decode { event_type: "json".into(), source: domain::EventCodecError(e.to_string()) })
}

pub(super) async fn apply_faq(conn: &mut PgConnection, ev: &Envelope, event: FaqKbEvent) -> Result<(), ApplyError> {
    match event {
        FaqKbEvent::FaqKbCreated { id, org_id, author, item: f, audience: a } => {
            let h: &KbHead = &f.head;
            let inserted = sqlx::query!(
                "INSERT INTO faq_kbs (id, org_id, author, name, owners, expiry, tags, category_id, published, audience,
                                      created_at, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $3) ON CONFLICT (id) DO NOTHING",
                id,
                org_id.0,
                author.0,
                h.name,
                &ids(&h.owners, |u| u.0),
                h.expiry,
                &h.tags,
                h.category_id,
                h.published,
                json(&a)?,
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
            if inserted.rows_affected() > 0 {
                replace_rows(conn, id, &f.qas).await?;
            }
            audience::replace(conn, org_id, id, &a.grants(org_id, author)).await?;
        }
        FaqKbEvent::FaqKbUpdated { id, by, item: f, audience: a } => {
            let h = &f.head;
            let row = sqlx::query!(
                "UPDATE faq_kbs SET name = $2, owners = $3, expiry = $4, tags = $5, category_id = $6, published = $7, audience = $8,
                        updated_at = $9, updated_by = $10
                 WHERE id = $1 RETURNING org_id, author",
                id,
                h.name,
                &ids(&h.owners, |u| u.0),
                h.expiry,
                &h.tags,
                h.category_id,
                h.published,
                json(&a)?,
                ev.recorded_at,
                by.0,
            )
            .fetch_optional(&mut *conn)
            .await?;
            if row.is_some() {
                replace_rows(conn, id, &f.qas).await?;
            }
            regrant(conn, id, row.map(|r| (r.org_id, r.author)), &a).await?;
        }
        FaqKbEvent::FaqKbDeleted { id } => {
            forget(conn, id).await?;
        }
    }
    Ok(())
}

pub(super) async fn apply_course(conn: &mut PgConnection, ev: &Envelope, event: CourseEvent) -> Result<(), ApplyError> {
    match event {
        CourseEvent::CourseCreated { id, org_id, author, item: c, audience: a } => {
            let status = match c.status {
                CourseStatus::Draft => "draft",
                CourseStatus::Publish => "publish",
            };
            sqlx::query!(
                "INSERT INTO courses (id, org_id, author, title, description, categories, ord, total_time, due_date, status, file_id,
                                      form, tasks, created_at, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $3) ON CONFLICT (id) DO NOTHING",
                id,
                org_id.0,
                author.0,
                c.title,
                c.description,
                &c.categories,
                c.order,
                c.total_time,
                c.due_date,
                status,
                c.file_id,
                c.form,
                json(&c.tasks)?,
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
            audience::replace(conn, org_id, id, &a.grants(org_id, author)).await?;
        }
        // Courses are never changed (no endpoint changes one); their audience is the org.
        CourseEvent::CourseUpdated { .. } => {}
        CourseEvent::CourseDeleted { id } => {
            forget(conn, id).await?;
        }
    }
    Ok(())
}

pub(super) async fn apply_template(conn: &mut PgConnection, ev: &Envelope, event: EnforcementTemplateEvent) -> Result<(), ApplyError> {
    match event {
        EnforcementTemplateEvent::EnforcementTemplateCreated { id, org_id, author, item: t, audience: a } => {
            sqlx::query!(
                "INSERT INTO enforcement_templates (id, org_id, author, title, system_event, kind, sub_kind, reminders,
                                                    created_at, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $3) ON CONFLICT (id) DO NOTHING",
                id,
                org_id.0,
                author.0,
                t.title,
                t.system_event,
                t.kind,
                t.sub_kind,
                json(&t.reminders)?,
                ev.recorded_at,
            )
            .execute(&mut *conn)
            .await?;
            audience::replace(conn, org_id, id, &a.grants(org_id, author)).await?;
        }
        // Templates are never changed (no endpoint changes one).
        EnforcementTemplateEvent::EnforcementTemplateUpdated { .. } => {}
        EnforcementTemplateEvent::EnforcementTemplateDeleted { id } => {
            forget(conn, id).await?;
        }
    }
    Ok(())
}

// ----- queries ------------------------------------------------------------------------------------

/// Whether `reader` may see library item `id` (any kind) of the reader's org: the direct-access
/// test of a PATCH or DELETE (an item the reader may not see is "not found").
pub async fn visible(pool: &PgPool, reader: Reader, id: Uuid) -> Result<bool, sqlx::Error> {
    let found = sqlx::query!(
        r#"SELECT x.org_id AS "org_id!", x.published AS "published!", x.author AS "author!", x.owners AS "owners!" FROM (
               SELECT org_id, true AS published, author, '{}'::uuid[] AS owners FROM videos WHERE id = $1
               UNION ALL SELECT org_id, true, author, '{}'::uuid[] FROM photos WHERE id = $1
               UNION ALL SELECT org_id, published, author, owners FROM kb_documents WHERE id = $1
               UNION ALL SELECT org_id, published, author, owners FROM faq_kbs WHERE id = $1
               UNION ALL SELECT org_id, true, author, '{}'::uuid[] FROM courses WHERE id = $1) x"#,
        id
    )
    .fetch_optional(pool)
    .await?;
    let Some(x) = found else { return Ok(false) };
    let readable = reader.admin || x.published || x.author == reader.user || x.owners.contains(&reader.user);
    Ok(x.org_id == reader.org && readable && audience::can_see(pool, reader, id).await?)
}

/// One page of `select … FROM from WHERE <where_>` in `order`, and how many rows match: the
/// count and the page ask the same `where_`, so `meta` always agrees with the pages.
async fn page<T>(
    pool: &PgPool,
    select: &str,
    from: &str,
    where_: impl Fn(&mut QueryBuilder<'_, Postgres>),
    order: &str,
    offset: i64,
    limit: i64,
) -> Result<(Vec<T>, i64), sqlx::Error>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let mut count = QueryBuilder::new(format!("SELECT count(*) FROM {from} WHERE "));
    where_(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut q = QueryBuilder::new(format!("SELECT {select} FROM {from} WHERE "));
    where_(&mut q);
    q.push(format!(" ORDER BY {order} LIMIT ")).push_bind(limit).push(" OFFSET ").push_bind(offset);
    Ok((q.build_query_as::<T>().fetch_all(pool).await?, total))
}

/// The org, visibility and (for documents and FAQs) publication tests of item `x`.
fn push_readable(qb: &mut QueryBuilder<'_, Postgres>, reader: Reader, x: &str, published_rule: bool) {
    qb.push(format!("{x}.org_id = ")).push_bind(reader.org).push(" AND ");
    push_visible(qb, reader, &format!("{x}.id"));
    if published_rule {
        qb.push(format!(" AND ({x}.published OR {x}.author = ")).push_bind(reader.user);
        qb.push(" OR ").push_bind(reader.user).push(format!(" = ANY({x}.owners) OR ")).push_bind(reader.admin).push(")");
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct VideoRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub author: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub source: i16,
    pub video_file_id: Option<Uuid>,
    pub thumbnail_file_id: Option<Uuid>,
    pub meta: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct VideoFilter {
    pub id: Option<Uuid>,
    /// Videos of the users the reader follows.
    pub following: bool,
    pub author: Option<Uuid>,
    /// Case-insensitive substring of the title or the description.
    pub search: Option<String>,
}

/// The reader's videos matching `f`, newest first.
pub async fn videos(pool: &PgPool, reader: Reader, f: &VideoFilter, offset: i64, limit: i64) -> Result<(Vec<VideoRow>, i64), sqlx::Error> {
    let where_ = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_readable(qb, reader, "v", false);
        if let Some(id) = f.id {
            qb.push(" AND v.id = ").push_bind(id);
        }
        if f.following {
            qb.push(" AND v.author IN (SELECT followee FROM follows WHERE follower = ").push_bind(reader.user).push(")");
        }
        if let Some(a) = f.author {
            qb.push(" AND v.author = ").push_bind(a);
        }
        if let Some(s) = &f.search {
            let p = crate::search::contains_pattern(s);
            qb.push(" AND (v.title ILIKE ").push_bind(p.clone()).push(" OR v.description ILIKE ").push_bind(p).push(")");
        }
    };
    page(pool, "v.*", "videos v", where_, "v.created_at DESC, v.id DESC", offset, limit).await
}

#[derive(Debug, Clone, FromRow)]
pub struct PhotoRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub author: Uuid,
    pub title: Option<String>,
    pub description: Option<String>,
    pub file_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Uuid,
}

/// E27's `filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhotoScope {
    #[default]
    All,
    /// Of authors the reader follows.
    Friends,
    /// The reader's own.
    OnlyMe,
    /// Tagging the reader.
    Tagged,
    /// Of authors who share a team with the reader (the `team` grant's meaning).
    Team,
}

#[derive(Debug, Clone, Default)]
pub struct PhotoFilter {
    pub id: Option<Uuid>,
    pub scope: PhotoScope,
    pub author: Option<Uuid>,
}

/// The reader's photos matching `f`, newest first.
pub async fn photos(pool: &PgPool, reader: Reader, f: &PhotoFilter, offset: i64, limit: i64) -> Result<(Vec<PhotoRow>, i64), sqlx::Error> {
    let where_ = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_readable(qb, reader, "p", false);
        if let Some(id) = f.id {
            qb.push(" AND p.id = ").push_bind(id);
        }
        match f.scope {
            PhotoScope::All => {}
            PhotoScope::Friends => {
                qb.push(" AND p.author IN (SELECT followee FROM follows WHERE follower = ").push_bind(reader.user).push(")");
            }
            PhotoScope::OnlyMe => {
                qb.push(" AND p.author = ").push_bind(reader.user);
            }
            PhotoScope::Tagged => {
                qb.push(" AND ").push_bind(reader.user).push(" = ANY(p.tagged)");
            }
            PhotoScope::Team => {
                // Every author the reader shares a team with: the reader's "team of X" grants
                // (kind 5) name only those who gave something a team audience (migration 0032).
                qb.push(" AND p.author <> ").push_bind(reader.user);
                qb.push(" AND p.author IN (SELECT content_teammates_of(").push_bind(reader.user).push("))");
            }
        }
        if let Some(a) = f.author {
            qb.push(" AND p.author = ").push_bind(a);
        }
    };
    page(pool, "p.*", "photos p", where_, "p.created_at DESC, p.id DESC", offset, limit).await
}

#[derive(Debug, Clone, FromRow)]
pub struct DocumentRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub author: Uuid,
    pub name: String,
    pub owners: Vec<Uuid>,
    pub expiry: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub published: bool,
    pub doc_url: Option<String>,
    pub link: Option<String>,
    pub doc_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Documents and FAQs: one item, or a category (by name, any case).
#[derive(Debug, Clone, Default)]
pub struct KbFilter {
    pub id: Option<Uuid>,
    pub category: Option<String>,
}

fn push_kb_filter(qb: &mut QueryBuilder<'_, Postgres>, x: &str, f: &KbFilter) {
    if let Some(id) = f.id {
        qb.push(format!(" AND {x}.id = ")).push_bind(id);
    }
    if let Some(c) = &f.category {
        qb.push(format!(" AND {x}.category_id IN (SELECT id FROM categories WHERE org_id = {x}.org_id AND lower(category) = lower("));
        qb.push_bind(c.trim().to_string()).push("))");
    }
}

/// The reader's documents matching `f`, newest first.
pub async fn documents(
    pool: &PgPool,
    reader: Reader,
    f: &KbFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<DocumentRow>, i64), sqlx::Error> {
    let where_ = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_readable(qb, reader, "d", true);
        push_kb_filter(qb, "d", f);
    };
    let select = "d.id, d.org_id, d.author, d.name, d.owners, d.expiry, d.tags, d.published, d.doc_url, d.link, d.doc_id,
                  d.created_at, d.updated_at, (SELECT category FROM categories c WHERE c.id = d.category_id) AS category";
    page(pool, select, "kb_documents d", where_, "d.created_at DESC, d.id DESC", offset, limit).await
}

#[derive(Debug, Clone, FromRow)]
pub struct FaqKbRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub author: Uuid,
    pub name: String,
    pub owners: Vec<Uuid>,
    pub expiry: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub published: bool,
    pub audience: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One question/answer row with what E35 shows of its FAQ.
#[derive(Debug, Clone, FromRow)]
pub struct FaqRowRow {
    pub id: Uuid,
    pub kb_id: Uuid,
    pub question: String,
    pub answer: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub owners: Vec<Uuid>,
}

const FAQ_FROM: &str = "faq_rows r JOIN faq_kbs k ON k.id = r.kb_id";

/// The rows of the reader's FAQs matching `f`: newest FAQ first, each FAQ's rows in order.
pub async fn faq_rows(pool: &PgPool, reader: Reader, f: &KbFilter, offset: i64, limit: i64) -> Result<(Vec<FaqRowRow>, i64), sqlx::Error> {
    let where_ = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_readable(qb, reader, "k", true);
        push_kb_filter(qb, "k", f);
    };
    let select = "r.id, r.kb_id, r.question, r.answer, r.description, k.tags, k.owners,
                  (SELECT category FROM categories c WHERE c.id = k.category_id) AS category";
    page(pool, select, FAQ_FROM, where_, "k.created_at DESC, k.id DESC, r.position", offset, limit).await
}

/// One FAQ the reader may see, and all its rows in order.
pub async fn faq(pool: &PgPool, reader: Reader, id: Uuid) -> Result<Option<(FaqKbRow, Vec<FaqRowRow>)>, sqlx::Error> {
    let f = KbFilter { id: Some(id), category: None };
    let where_ = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_readable(qb, reader, "k", true);
        push_kb_filter(qb, "k", &f);
    };
    let select = "k.id, k.org_id, k.author, k.name, k.owners, k.expiry, k.tags, k.published, k.audience, k.created_at, k.updated_at,
                  (SELECT category FROM categories c WHERE c.id = k.category_id) AS category";
    let (mut kbs, _) = page::<FaqKbRow>(pool, select, "faq_kbs k", where_, "k.id", 0, 1).await?;
    let Some(kb) = kbs.pop() else { return Ok(None) };
    let (rows, _) = faq_rows(pool, reader, &f, 0, i64::from(i32::MAX)).await?;
    Ok(Some((kb, rows)))
}

#[derive(Debug, Clone, FromRow)]
pub struct CourseRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub author: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub categories: Vec<String>,
    pub ord: i32,
    pub total_time: i32,
    pub due_date: Option<DateTime<Utc>>,
    pub status: String,
    pub file_id: Option<Uuid>,
    pub form: Option<serde_json::Value>,
    pub tasks: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The reader's courses (one, or all), by creation (`newest_first` or oldest first).
pub async fn courses(
    pool: &PgPool,
    reader: Reader,
    id: Option<Uuid>,
    newest_first: bool,
    offset: i64,
    limit: i64,
) -> Result<(Vec<CourseRow>, i64), sqlx::Error> {
    let where_ = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_readable(qb, reader, "c", false);
        if let Some(id) = id {
            qb.push(" AND c.id = ").push_bind(id);
        }
    };
    let select = "c.id, c.org_id, c.author, c.title, c.description, c.ord, c.total_time, c.due_date, c.status, c.file_id, c.form,
                  c.tasks, c.created_at, c.updated_at,
                  ARRAY(SELECT k.category FROM unnest(c.categories) WITH ORDINALITY AS u(cid, n)
                        JOIN categories k ON k.id = u.cid ORDER BY u.n) AS categories";
    let order = if newest_first { "c.created_at DESC, c.id DESC" } else { "c.created_at, c.id" };
    page(pool, select, "courses c", where_, order, offset, limit).await
}

#[derive(Debug, Clone, FromRow)]
pub struct TemplateRow {
    pub id: Uuid,
    pub title: String,
    pub system_event: Option<String>,
    pub kind: Option<String>,
    pub sub_kind: Option<String>,
    pub reminders: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// The reader's enforcement templates (one, or all), by creation.
pub async fn templates(
    pool: &PgPool,
    reader: Reader,
    id: Option<Uuid>,
    newest_first: bool,
    offset: i64,
    limit: i64,
) -> Result<(Vec<TemplateRow>, i64), sqlx::Error> {
    let where_ = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_readable(qb, reader, "t", false);
        if let Some(id) = id {
            qb.push(" AND t.id = ").push_bind(id);
        }
    };
    let select = "t.id, t.title, t.system_event, t.kind, t.sub_kind, t.reminders, t.created_at";
    let order = if newest_first { "t.created_at DESC, t.id DESC" } else { "t.created_at, t.id" };
    page(pool, select, "enforcement_templates t", where_, order, offset, limit).await
}
