//! Posts and news (WorkDrive E12–E14, E16–E18) and their reactions and comments (Roster,
//! DESIGN §11). Every id a post names (mentions, tagged users, its audience, files, the news
//! category and cover) must belong to the caller's org; a post of another org, of the other kind,
//! or deleted is "not found".
//!
//! Whether the caller may *see* the post is the read side's question, asked by the api layer
//! before it calls here (an invisible post answers 404 before any author check).

use domain::category::ModuleCode;
use domain::post::{NewsFields, Post, PostAggregate, PostCommand, PostContent, PostKind, PostPatch, Reaction};
use domain::{DomainError, OrgId, UserId};
use uuid::Uuid;

use super::content::{check_audience, check_files, existing_category};
use super::media::check_file;
use super::membership::{Batch, Streams};
use crate::results::*;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// What only a news item's request carries: its category by name, resolved here.
#[derive(Debug, Clone)]
pub struct NewsInput {
    pub news_title: String,
    pub category: String,
    pub cover_image: Option<Uuid>,
}

/// A create: the content without its news fields, the news fields, and the request's
/// `taggedUserIds` (already merged into `content.audience.tagged_users`, checked under their own name).
#[derive(Debug, Clone)]
pub struct NewPost {
    pub content: PostContent,
    pub news: Option<NewsInput>,
    pub tagged_user_ids: Vec<UserId>,
}

/// An update: the patch without its category (a name, resolved here).
#[derive(Debug, Clone, Default)]
pub struct PostChange {
    pub patch: PostPatch,
    pub category: Option<String>,
}

async fn check_users(b: &mut Batch<'_>, ids: &[UserId], field: &str) -> Result<(), CommandError> {
    for (i, u) in ids.iter().enumerate() {
        b.user(*u, &format!("{field}[{i}]")).await?;
    }
    Ok(())
}

async fn news_category(store: &Store, org: OrgId, name: &str) -> Result<Uuid, CommandError> {
    existing_category(store, org, ModuleCode::News, name, "category").await
}

/// The post stream `id`, live, of `org` and `kind`; "not found" otherwise.
async fn existing<'a>(
    posts: &'a mut Streams<PostAggregate>,
    store: &Store,
    org: OrgId,
    kind: PostKind,
    id: Uuid,
) -> Result<&'a Post, CommandError> {
    match posts.state(store, id).await? {
        Some(p) if !p.deleted && p.org_id == org && p.kind == kind => Ok(p),
        _ => Err(DomainError::NotFound(kind.what()).into()),
    }
}

fn plan(posts: &Streams<PostAggregate>, org: OrgId, post_id: Uuid) -> Result<Plan<PostRef>, CommandError> {
    Ok(Plan { streams: posts.pending(org)?, ..Plan::new(PostRef { post_id }) })
}

/// E12 / E16: a new post or news item by the caller.
pub async fn create_post(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    author: UserId,
    kind: PostKind,
    new: NewPost,
) -> Result<Committed<PostRef>, CommandError> {
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            let mut content = new.content.clone();
            let mut b = Batch::new(store, org, ctx.actor);
            check_users(&mut b, &content.mentions, "mention").await?;
            check_users(&mut b, &new.tagged_user_ids, "tagged_user_ids").await?;
            check_audience(&mut b, &content.audience, "permissions").await?;
            check_files(store, org, &content.file_ids, "file_ids").await?;
            content.news = match (&new.news, kind) {
                (Some(n), PostKind::News) => {
                    // The title is checked first: a missing title is the news item's first fault.
                    domain::values::required_text("news_title", &n.news_title, domain::post::MAX_NEWS_TITLE_LEN)?;
                    let category_id = news_category(store, org, &n.category).await?;
                    if let Some(cover) = n.cover_image {
                        check_file(store, org, cover, "cover_image").await?;
                    }
                    Some(NewsFields {
                        news_title: n.news_title.clone(),
                        category: n.category.trim().to_string(),
                        category_id,
                        cover_image: n.cover_image,
                    })
                }
                _ => None,
            };
            let mut posts = Streams::<PostAggregate>::new();
            posts.fresh(id);
            posts.decide(id, PostCommand::Create { id, org_id: org, kind, author, now: ctx.now, content: Box::new(content) })?;
            plan(&posts, org, id)
        })
        .await
}

/// E13 / E17: changes a post (its author or an org admin; `admin` says the caller is one).
pub async fn update_post(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    kind: PostKind,
    id: Uuid,
    admin: bool,
    change: PostChange,
) -> Result<Committed<PostRef>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    store
        .execute(ctx, || async {
            let mut posts = Streams::<PostAggregate>::new();
            // A stranger to the post learns nothing about the references they sent.
            existing(&mut posts, store, org, kind, id).await?.check_owner(actor, admin)?;
            let mut patch = change.patch.clone();
            let mut b = Batch::new(store, org, ctx.actor);
            if let Some(m) = &patch.mentions {
                check_users(&mut b, m, "mention").await?;
            }
            if let Some(t) = &patch.tagged_users {
                check_users(&mut b, t, "tagged_user_ids").await?;
            }
            if let Some(a) = &patch.audience {
                check_audience(&mut b, a, "permissions").await?;
            }
            if let Some(f) = &patch.file_ids {
                check_files(store, org, f, "file_ids").await?;
            }
            if kind == PostKind::News {
                if let Some(name) = &change.category {
                    patch.category = Some((name.trim().to_string(), news_category(store, org, name).await?));
                }
                if let Some(Some(cover)) = patch.cover_image {
                    check_file(store, org, cover, "cover_image").await?;
                }
            }
            posts.decide(id, PostCommand::Update { actor, admin, now: ctx.now, patch: Box::new(patch) })?;
            plan(&posts, org, id)
        })
        .await
}

/// Decides `command` on the live post `id` (delete, reactions, comments: nothing else to load).
async fn decide_on<R>(
    store: &Store,
    ctx: &CommandContext,
    (org, kind, id): (OrgId, PostKind, Uuid),
    result: R,
    command: impl Fn() -> PostCommand,
) -> Result<Committed<R>, CommandError>
where
    R: Clone + serde::Serialize + serde::de::DeserializeOwned,
{
    store
        .execute(ctx, || async {
            let mut posts = Streams::<PostAggregate>::new();
            existing(&mut posts, store, org, kind, id).await?;
            posts.decide(id, command())?;
            Ok(Plan { streams: posts.pending(org)?, ..Plan::new(result.clone()) })
        })
        .await
}

/// E14 / E18: deletes a post (its author or an org admin).
pub async fn delete_post(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    kind: PostKind,
    id: Uuid,
    admin: bool,
) -> Result<Committed<PostRef>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    decide_on(store, ctx, (org, kind, id), PostRef { post_id: id }, || PostCommand::Delete { actor, admin }).await
}

/// Roster: the caller adds (`add`) or takes back a reaction; repeating either changes nothing.
#[allow(clippy::too_many_arguments)]
pub async fn set_reaction(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    kind: PostKind,
    id: Uuid,
    user: UserId,
    reaction: Reaction,
    add: bool,
) -> Result<Committed<PostRef>, CommandError> {
    decide_on(store, ctx, (org, kind, id), PostRef { post_id: id }, || {
        if add {
            PostCommand::React { user, reaction, now: ctx.now }
        } else {
            PostCommand::Unreact { user, reaction }
        }
    })
    .await
}

/// Roster: the caller comments on a post.
pub async fn comment(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    kind: PostKind,
    id: Uuid,
    author: UserId,
    text: String,
) -> Result<Committed<CommentRef>, CommandError> {
    let comment_id = Uuid::now_v7();
    decide_on(store, ctx, (org, kind, id), CommentRef { post_id: id, comment_id }, || PostCommand::Comment {
        comment_id,
        author,
        text: text.clone(),
        now: ctx.now,
    })
    .await
}
