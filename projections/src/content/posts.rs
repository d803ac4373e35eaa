//! Posts and news (WorkDrive E11–E18) with their reactions and comments.
//!
//! Every read takes a [`Reader`] and asks the one visibility question in SQL, so the feed's pages,
//! its `meta` count and a direct read of one post agree.

use chrono::{DateTime, Utc};
use domain::post::{PostContent, PostEvent, PostKind};
use eventlog::Envelope;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
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
            audience::replace(conn, id, &content.audience.grants(org_id, author)).await?;
        }
        PostEvent::PostUpdated { id, updated_at, content, .. } => {
            store_content(conn, id, updated_at, &content).await?;
            let owner = sqlx::query!("SELECT org_id, author FROM posts WHERE id = $1", id).fetch_optional(&mut *conn).await?;
            if let Some(o) = owner {
                audience::replace(conn, id, &content.audience.grants(domain::OrgId(o.org_id), domain::UserId(o.author))).await?;
            }
        }
        PostEvent::PostDeleted { id, .. } => {
            sqlx::query!("DELETE FROM post_reactions WHERE post_id = $1", id).execute(&mut *conn).await?;
            sqlx::query!("DELETE FROM post_comments WHERE post_id = $1", id).execute(&mut *conn).await?;
            sqlx::query!("DELETE FROM posts WHERE id = $1", id).execute(&mut *conn).await?;
            audience::remove(conn, id).await?;
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
            }
        }
    }
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
    fn sql(self) -> &'static str {
        match self {
            FeedOrder::Recent => " ORDER BY p.posted_at DESC, p.id DESC",
            FeedOrder::MostReacted => " ORDER BY p.reactions_count DESC, p.posted_at DESC, p.id DESC",
            FeedOrder::MostCommented => " ORDER BY p.comments_count DESC, p.posted_at DESC, p.id DESC",
        }
    }
}

fn feed_filter<'a>(qb: &mut QueryBuilder<'a, Postgres>, reader: Reader, kind: PostKind, time: DateTime<Utc>) {
    qb.push(" FROM posts p WHERE p.org_id = ").push_bind(reader.org);
    qb.push(" AND p.kind = ").push_bind(kind.as_str());
    qb.push(" AND p.posted_at <= ").push_bind(time);
    qb.push(" AND ");
    audience::push_visible(qb, reader, "p.id");
}

/// One page of the posts (or news) of the reader's org posted at or before `time` that the reader
/// may see, and how many there are.
pub async fn feed(
    pool: &PgPool,
    reader: Reader,
    kind: PostKind,
    time: DateTime<Utc>,
    order: FeedOrder,
    offset: i64,
    limit: i64,
) -> Result<(Vec<PostRow>, i64), sqlx::Error> {
    let mut count = QueryBuilder::new("SELECT count(*)");
    feed_filter(&mut count, reader, kind, time);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut page = QueryBuilder::new(format!("SELECT {COLUMNS}"));
    feed_filter(&mut page, reader, kind, time);
    page.push(order.sql()).push(" LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
    let rows = page.build_query_as::<PostRow>().fetch_all(pool).await?;
    Ok((rows, total))
}

/// The post (or news item) `id` of the reader's org, when the reader may see it.
pub async fn visible(pool: &PgPool, reader: Reader, kind: PostKind, id: Uuid) -> Result<Option<PostRow>, sqlx::Error> {
    sqlx::query_as!(
        PostRow,
        "SELECT p.id, p.org_id, p.kind, p.author, p.post_text, p.tags, p.mentions, p.file_ids, p.location, p.gif, p.links,
                p.link_previews, p.permissions, p.tagged_users, p.news_title, p.category, p.cover_image, p.posted_at,
                p.updated_at, p.reactions_count, p.comments_count
         FROM posts p
         WHERE p.id = $1 AND p.org_id = $2 AND p.kind = $3
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
