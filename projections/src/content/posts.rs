//! Posts and news (WorkDrive E11–E18) with their reactions and comments.
//!
//! Every read takes a [`Reader`] and asks the one visibility question in SQL, so the feed's pages,
//! its `meta` count and a direct read of one post agree.

use chrono::{DateTime, Utc};
use domain::post::{PostContent, PostEvent, PostKind};
use eventlog::Envelope;
use sqlx::{PgConnection, PgPool, QueryBuilder};
use uuid::Uuid;

use super::audience::{self, Reader};
use crate::ApplyError;

/// How many of the latest reactors a post names (`reactionUsers`).
pub const MAX_REACTION_USERS: i64 = 10;

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

async fn store_content(conn: &mut PgConnection, id: Uuid, updated_at: DateTime<Utc>, c: &PostContent) -> Result<(), ApplyError> {
    let news = c.news.as_ref();
    let mentions: Vec<Uuid> = c.mentions.iter().map(|u| u.0).collect();
    let tagged: Vec<Uuid> = c.audience.tagged_users.iter().map(|u| u.0).collect();
    sqlx::query!(
        "UPDATE posts SET post_text = $2, tags = $3, mentions = $4, file_ids = $5, location = $6, gif = $7, links = $8,
                link_previews = $9, permissions = $10, tagged_users = $11, news_title = $12, category = $13,
                category_id = $14, cover_image = $15, updated_at = $16
         WHERE id = $1",
        id,
        c.post_text,
        &c.tags,
        &mentions,
        &c.file_ids,
        c.location.as_ref().map(json),
        c.gif,
        &c.links,
        json(&c.link_previews),
        json(&c.audience),
        &tagged,
        news.map(|n| n.news_title.clone()),
        news.map(|n| n.category.clone()),
        news.map(|n| n.category_id),
        news.and_then(|n| n.cover_image),
        updated_at,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn apply(conn: &mut PgConnection, _ev: &Envelope, event: PostEvent) -> Result<(), ApplyError> {
    match event {
        PostEvent::PostCreated { id, org_id, kind, author, posted_at, content } => {
            // The row is written empty first so that create and update store content one way.
            sqlx::query!(
                "INSERT INTO posts (id, org_id, kind, author, post_text, tags, mentions, file_ids, links, link_previews,
                                    permissions, tagged_users, posted_at, updated_at)
                 VALUES ($1, $2, $3, $4, '', '{}', '{}', '{}', '{}', '[]', '{}', '{}', $5, $5) ON CONFLICT DO NOTHING",
                id,
                org_id.0,
                kind.as_str(),
                author.0,
                posted_at,
            )
            .execute(&mut *conn)
            .await?;
            store_content(conn, id, posted_at, &content).await?;
            audience::replace(conn, org_id, id, &content.audience.grants(org_id, author)).await?;
            reindex(conn, id, author.0).await?;
        }
        PostEvent::PostUpdated { id, updated_at, content, .. } => {
            store_content(conn, id, updated_at, &content).await?;
            let owner = sqlx::query!("SELECT org_id, author FROM posts WHERE id = $1", id).fetch_optional(&mut *conn).await?;
            if let Some(o) = owner {
                let org = domain::OrgId(o.org_id);
                audience::replace(conn, org, id, &content.audience.grants(org, domain::UserId(o.author))).await?;
                reindex(conn, id, o.author).await?;
            }
        }
        PostEvent::PostDeleted { id, .. } => {
            sqlx::query!("DELETE FROM post_reactions WHERE post_id = $1", id).execute(&mut *conn).await?;
            sqlx::query!("DELETE FROM post_comments WHERE post_id = $1", id).execute(&mut *conn).await?;
            let deleted = sqlx::query_scalar!("DELETE FROM posts WHERE id = $1 RETURNING author", id).fetch_optional(&mut *conn).await?;
            audience::remove(conn, id).await?;
            // Gone already (a redelivery): so are its feed rows.
            if let Some(author) = deleted {
                reindex(conn, id, author).await?;
            }
        }
        PostEvent::PostReacted { id, user, reaction, at } => {
            let added = sqlx::query!(
                "INSERT INTO post_reactions (post_id, user_id, reaction, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                id,
                user.0,
                reaction.as_str(),
                at,
            )
            .execute(&mut *conn)
            .await?;
            if added.rows_affected() > 0 {
                sqlx::query!("UPDATE posts SET reactions_count = reactions_count + 1 WHERE id = $1", id).execute(&mut *conn).await?;
                sync_counts(conn, id).await?;
            }
        }
        PostEvent::PostUnreacted { id, user, reaction } => {
            let removed = sqlx::query!(
                "DELETE FROM post_reactions WHERE post_id = $1 AND user_id = $2 AND reaction = $3",
                id,
                user.0,
                reaction.as_str()
            )
            .execute(&mut *conn)
            .await?;
            if removed.rows_affected() > 0 {
                sqlx::query!("UPDATE posts SET reactions_count = reactions_count - 1 WHERE id = $1", id).execute(&mut *conn).await?;
                sync_counts(conn, id).await?;
            }
        }
        PostEvent::PostCommented { id, comment_id, author, text, at } => {
            let added = sqlx::query!(
                "INSERT INTO post_comments (id, post_id, author, text, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                comment_id,
                id,
                author.0,
                text,
                at,
            )
            .execute(&mut *conn)
            .await?;
            if added.rows_affected() > 0 {
                sqlx::query!("UPDATE posts SET comments_count = comments_count + 1 WHERE id = $1", id).execute(&mut *conn).await?;
                sync_counts(conn, id).await?;
            }
        }
    }
    Ok(())
}

/// Derives the feed's rows of post `id` of `author` (migrations 0021, 0040: `post_grants`, and
/// its audience's share of `post_audience_counts` and `post_author_sigs`) again from `posts` and
/// `audience`: the old ones go, the current ones (none once the post is deleted) come.
/// Recomputing rather than adjusting makes a redelivered event harmless. The signature leaves the
/// author's own grant out (`content_audience_sig`), so it is the same for every author's post of
/// one audience.
async fn reindex(conn: &mut PgConnection, id: Uuid, author: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH old AS (DELETE FROM post_grants WHERE post_id = $1 RETURNING org_id, post_kind, kind, ref),
              s AS (SELECT org_id, post_kind, content_audience_sig(array_agg(kind), array_agg(ref), $2) AS sig
                    FROM old GROUP BY org_id, post_kind),
              mine AS (UPDATE post_author_sigs a SET n = a.n - 1 FROM s
                       WHERE a.org_id = s.org_id AND a.post_kind = s.post_kind AND a.author = $2 AND a.sig = s.sig)
         UPDATE post_audience_counts c SET n = c.n - 1 FROM s
         WHERE c.org_id = s.org_id AND c.post_kind = s.post_kind AND c.sig = s.sig",
        id,
        author,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO post_grants (post_id, kind, ref, org_id, post_kind, posted_at, reactions_count, comments_count)
         SELECT p.id, a.kind, a.ref, p.org_id, p.kind, p.posted_at, p.reactions_count, p.comments_count
         FROM posts p JOIN audience a ON a.item_id = p.id WHERE p.id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "WITH g AS (SELECT org_id, post_kind, array_agg(kind) AS kinds, array_agg(ref) AS refs
                    FROM post_grants WHERE post_id = $1 GROUP BY org_id, post_kind),
              s AS (SELECT g.*, content_audience_sig(g.kinds, g.refs, $2) AS sig FROM g),
              sigs AS (INSERT INTO post_audience_sigs (sig, kind, ref)
                       SELECT s.sig, x.k, x.r FROM s, UNNEST(s.kinds, s.refs) AS x(k, r)
                       WHERE NOT (x.k = 1 AND x.r = $2) ON CONFLICT DO NOTHING),
              mine AS (INSERT INTO post_author_sigs (org_id, post_kind, author, sig, n) SELECT org_id, post_kind, $2, sig, 1 FROM s
                       ON CONFLICT (org_id, post_kind, author, sig) DO UPDATE SET n = post_author_sigs.n + 1)
         INSERT INTO post_audience_counts (org_id, post_kind, sig, n) SELECT org_id, post_kind, sig, 1 FROM s
         ON CONFLICT (org_id, post_kind, sig) DO UPDATE SET n = post_audience_counts.n + 1",
        id,
        author,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Copies the post's reaction and comment counts to its feed rows (the sort keys of orders b, c).
async fn sync_counts(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE post_grants g SET reactions_count = p.reactions_count, comments_count = p.comments_count
         FROM posts p WHERE p.id = $1 AND g.post_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct PostRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub kind: String,
    pub author: Uuid,
    pub post_text: String,
    pub tags: Vec<String>,
    pub mentions: Vec<Uuid>,
    pub file_ids: Vec<Uuid>,
    pub location: Option<serde_json::Value>,
    pub gif: Option<String>,
    pub links: Vec<String>,
    pub link_previews: serde_json::Value,
    pub permissions: serde_json::Value,
    pub tagged_users: Vec<Uuid>,
    pub news_title: Option<String>,
    pub category: Option<String>,
    pub cover_image: Option<Uuid>,
    pub posted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub reactions_count: i32,
    pub comments_count: i32,
}

const COLUMNS: &str = "p.id, p.org_id, p.kind, p.author, p.post_text, p.tags, p.mentions, p.file_ids, p.location, p.gif, p.links,
    p.link_previews, p.permissions, p.tagged_users, p.news_title, p.category, p.cover_image, p.posted_at, p.updated_at,
    p.reactions_count, p.comments_count";

/// The feed orders (E11/E15 `sort_key`): every one ends in `(posted_at, id)`, a total order, so
/// offset pages of one snapshot never skip or repeat an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOrder {
    Recent,
    MostReacted,
    MostCommented,
}

impl FeedOrder {
    /// The leading sort column before `(posted_at, id)`, if any; both `posts` and `post_grants`
    /// carry it under this name, each with an index in this order (migrations 0014, 0021).
    fn lead(self) -> Option<&'static str> {
        match self {
            FeedOrder::Recent => None,
            FeedOrder::MostReacted => Some("reactions_count"),
            FeedOrder::MostCommented => Some("comments_count"),
        }
    }

    /// `ORDER BY` over the columns of `t` (`posts` names its id `id`, `post_grants` `post_id`).
    fn order_by(self, t: &str, id: &str) -> String {
        match self.lead() {
            None => format!(" ORDER BY {t}.posted_at DESC, {t}.{id} DESC"),
            Some(c) => format!(" ORDER BY {t}.{c} DESC, {t}.posted_at DESC, {t}.{id} DESC"),
        }
    }
}

/// One page of the posts (or news) of the reader's org posted at or before `time` that the reader
/// may see, and how many there are.
///
/// How it stays fast at 100,000 posts (issue #13; plans at 100k posts checked with EXPLAIN ANALYZE):
/// * the count comes from `post_audience_counts` (one row per distinct audience, maintained by the
///   projector): a sum over the audiences sharing a grant with the reader, minus the reader's
///   visible posts newer than `time` (an index range per grant; none for a snapshot taken now). Its
///   cost follows the number of audiences and of posts newer than the snapshot, not of posts.
/// * a member's page is one index scan of `post_grants` per grant they hold, in the page's order,
///   each stopped after `offset + limit` rows (the page can only hold those), merged, de-duplicated
///   (a post reached through two grants is one post) and cut to the page; only the page's rows are
///   read from `posts`. Deep pages cost grants × (offset + limit) index entries.
/// * both use only the grants some post's audience holds (`held_grants`), asked once per request
///   and passed to the page and the count as arrays: listing a member's grants is the dearest step
///   for a member of a large team (its team authors are checked one by one), and the two
///   statements each listed them before. A reader who holds none sees nothing, and is answered
///   without asking for the page or the count.
/// * an admin's page walks the org's index on `posts` in the page's order.
///
/// Pages past the end are not looked for.
pub async fn feed(
    pool: &PgPool,
    reader: Reader,
    kind: PostKind,
    time: DateTime<Utc>,
    order: FeedOrder,
    offset: i64,
    limit: i64,
) -> Result<(Vec<PostRow>, i64), sqlx::Error> {
    let mut page = QueryBuilder::new(format!("SELECT {COLUMNS} FROM posts p"));
    // The count and the page are independent statements bounded by the same `time` (they were
    // two statements before too, never one database snapshot); asking both at once on two
    // connections makes the page cost one round trip, not two.
    if reader.admin {
        page.push(" WHERE p.org_id = ").push_bind(reader.org);
        page.push(" AND p.kind = ").push_bind(kind.as_str());
        page.push(" AND p.posted_at <= ").push_bind(time);
        page.push(order.order_by("p", "id"));
        page.push(" LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
        let (total, rows) = tokio::try_join!(admin_count(pool, reader.org, kind, time), page.build_query_as::<PostRow>().fetch_all(pool))?;
        return Ok((rows, total));
    }
    let grants = held_grants(pool, reader.user).await?;
    if grants.kinds.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let lead = order.lead().map(|c| format!(", x.{c}")).unwrap_or_default();
    page.push(format!(" JOIN (SELECT DISTINCT x.post_id, x.posted_at{lead} FROM UNNEST("));
    page.push_bind(&grants.kinds[..]).push("::smallint[], ").push_bind(&grants.refs[..]);
    page.push(format!(
        "::uuid[]) AS g(kind, ref) CROSS JOIN LATERAL (SELECT x.post_id, x.posted_at{lead} FROM post_grants x WHERE x.org_id = "
    ));
    page.push_bind(reader.org);
    page.push(" AND x.post_kind = ").push_bind(kind.as_str());
    page.push(" AND x.kind = g.kind AND x.ref = g.ref AND x.posted_at <= ").push_bind(time);
    page.push(order.order_by("x", "post_id")).push(" LIMIT ").push_bind(offset.saturating_add(limit)).push(") x");
    page.push(order.order_by("x", "post_id")).push(" LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
    page.push(") s ON p.id = s.post_id");
    page.push(order.order_by("p", "id"));
    let (total, rows) = tokio::try_join!(
        member_count(pool, reader.org, kind, time, reader.user, &grants),
        page.build_query_as::<PostRow>().fetch_all(pool)
    )?;
    Ok((rows, total))
}

/// A reader's grants that some post's audience holds, as the arrays the feed's statements unnest.
struct HeldGrants {
    kinds: Vec<i16>,
    refs: Vec<Uuid>,
}

/// The reader's grants (`content_reader_grants`) less those no audience holds:
/// `post_audience_sigs` lists every grant of every audience, asked one index probe per grant
/// (`LATERAL … LIMIT 1`: as a semi-join, the planner hashed the whole table, every org's
/// audiences). A reader's "team of X" grants name only the teammates who gave something a team
/// audience (migration 0032), never the team. Their own grant stays whatever others grant: an
/// audience's signature leaves its author out (migration 0040), yet the reader's own posts are
/// found through it.
async fn held_grants(pool: &PgPool, reader: Uuid) -> Result<HeldGrants, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT coalesce(array_agg(h.kind), '{}') AS "kinds!", coalesce(array_agg(h.ref), '{}') AS "refs!"
           FROM (WITH mine AS MATERIALIZED (SELECT kind, ref FROM content_reader_grants($1))
                 SELECT g.kind, g.ref FROM mine g WHERE g.kind = 1 AND g.ref = $1
                 UNION SELECT g.kind, g.ref FROM mine g CROSS JOIN LATERAL
                   (SELECT 1 FROM post_audience_sigs s WHERE s.kind = g.kind AND s.ref = g.ref LIMIT 1) held) h"#,
        reader,
    )
    .fetch_one(pool)
    .await?;
    Ok(HeldGrants { kinds: row.kinds, refs: row.refs })
}

/// How many posts (or news) of the org posted at or before `time` there are.
async fn admin_count(pool: &PgPool, org: Uuid, kind: PostKind, time: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT (SELECT coalesce(sum(c.n), 0) FROM post_audience_counts c WHERE c.org_id = $1 AND c.post_kind = $2)
                - (SELECT count(*) FROM posts p WHERE p.org_id = $1 AND p.kind = $2 AND p.posted_at > $3) AS "total!""#,
        org,
        kind.as_str(),
        time,
    )
    .fetch_one(pool)
    .await
}

/// How many posts (or news) of the org posted at or before `time` `reader`, holding `grants`, may
/// see: the posts of every audience that shares a grant with the reader, and the reader's own
/// posts whose audience shares none (an audience's signature leaves its author out, migration
/// 0040), less those newer than `time`. Its cost follows the audiences the reader meets, which
/// no longer grow with the number of authors.
async fn member_count(
    pool: &PgPool,
    org: Uuid,
    kind: PostKind,
    time: DateTime<Utc>,
    reader: Uuid,
    grants: &HeldGrants,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH g AS MATERIALIZED (SELECT * FROM UNNEST($3::smallint[], $4::uuid[]) AS g(kind, ref)),
                met AS MATERIALIZED (SELECT DISTINCT s.sig FROM post_audience_sigs s JOIN g ON s.kind = g.kind AND s.ref = g.ref)
           SELECT (SELECT coalesce(sum(c.n), 0) FROM post_audience_counts c
                   WHERE c.org_id = $1 AND c.post_kind = $2 AND c.sig IN (SELECT sig FROM met))
                + (SELECT coalesce(sum(a.n), 0) FROM post_author_sigs a
                   WHERE a.org_id = $1 AND a.post_kind = $2 AND a.author = $6 AND a.sig NOT IN (SELECT sig FROM met))
                - (SELECT count(DISTINCT x.post_id) FROM g CROSS JOIN LATERAL
                     (SELECT x.post_id FROM post_grants x WHERE x.org_id = $1 AND x.post_kind = $2
                        AND x.kind = g.kind AND x.ref = g.ref AND x.posted_at > $5) x) AS "total!""#,
        org,
        kind.as_str(),
        &grants.kinds,
        &grants.refs,
        time,
        reader,
    )
    .fetch_one(pool)
    .await
}

/// The post (or news item) `id` of the reader's org, when the reader may see it. The org is
/// compared with `IS NOT DISTINCT FROM` so that only the primary key serves the lookup, never
/// `posts_commented_idx`; see `queries::user`.
pub async fn visible(pool: &PgPool, reader: Reader, kind: PostKind, id: Uuid) -> Result<Option<PostRow>, sqlx::Error> {
    sqlx::query_as!(
        PostRow,
        "SELECT p.id, p.org_id, p.kind, p.author, p.post_text, p.tags, p.mentions, p.file_ids, p.location, p.gif, p.links,
                p.link_previews, p.permissions, p.tagged_users, p.news_title, p.category, p.cover_image, p.posted_at,
                p.updated_at, p.reactions_count, p.comments_count
         FROM posts p
         WHERE p.id = $1 AND p.org_id IS NOT DISTINCT FROM $2 AND p.kind = $3
           AND ($4 OR EXISTS (SELECT 1 FROM audience a WHERE a.item_id = p.id
                AND (a.kind, a.ref) IN (SELECT kind, ref FROM content_reader_grants($5))))",
        id,
        reader.org,
        kind.as_str(),
        reader.admin,
        reader.user,
    )
    .fetch_optional(pool)
    .await
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReactionCount {
    pub post_id: Uuid,
    pub reaction: String,
    pub count: i64,
}

/// How many reactions of each type the posts have.
pub async fn reaction_counts(pool: &PgPool, posts: &[Uuid]) -> Result<Vec<ReactionCount>, sqlx::Error> {
    sqlx::query_as!(
        ReactionCount,
        r#"SELECT post_id, reaction, count(*) AS "count!" FROM post_reactions WHERE post_id = ANY($1)
           GROUP BY post_id, reaction ORDER BY post_id, reaction"#,
        posts
    )
    .fetch_all(pool)
    .await
}

/// The latest [`MAX_REACTION_USERS`] users who reacted to each post, latest first: `(post, user)`.
pub async fn reaction_users(pool: &PgPool, posts: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT post_id AS "post_id!", user_id AS "user_id!" FROM (
             SELECT post_id, user_id, row_number() OVER (PARTITION BY post_id ORDER BY max(created_at) DESC, user_id) AS n
             FROM post_reactions WHERE post_id = ANY($1) GROUP BY post_id, user_id) r
           WHERE n <= $2 ORDER BY post_id, n"#,
        posts,
        MAX_REACTION_USERS,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.post_id, r.user_id)).collect())
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommentRow {
    pub id: Uuid,
    pub post_id: Uuid,
    pub author: Uuid,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// One page of a post's comments, oldest first, and how many there are.
pub async fn comments(pool: &PgPool, post: Uuid, offset: i64, limit: i64) -> Result<(Vec<CommentRow>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM post_comments WHERE post_id = $1"#, post).fetch_one(pool).await?;
    let rows = sqlx::query_as!(
        CommentRow,
        "SELECT id, post_id, author, text, created_at FROM post_comments WHERE post_id = $1
         ORDER BY created_at, id LIMIT $2 OFFSET $3",
        post,
        limit,
        offset,
    )
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// One comment.
pub async fn comment(pool: &PgPool, id: Uuid) -> Result<Option<CommentRow>, sqlx::Error> {
    sqlx::query_as!(CommentRow, "SELECT id, post_id, author, text, created_at FROM post_comments WHERE id = $1", id)
        .fetch_optional(pool)
        .await
}
