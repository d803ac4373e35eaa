//! Posts (E11–E14) and news (E15–E18), with Roster's reactions and comments on both (DESIGN §11).
//!
//! Every read and every write on one item first asks whether the caller may see it (the read
//! model's one visibility question): an item the caller may not see is a 404, like another
//! org's, before any author check, so a 403 never tells a stranger that an item exists.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use chrono::{DateTime, Utc};
use commands::handlers::posts::{self as cmd, NewPost, NewsInput, PostChange};
use domain::audience::{Audience, MAX_AUDIENCE_IDS};
use domain::patch::Patch;
use domain::post::{
    LinkPreview, PostContent, PostKind, PostLocation, PostPatch, Reaction, MAX_ADDRESS_LEN, MAX_COMMENT_LEN, MAX_FILES, MAX_LINKS,
    MAX_LINK_PREVIEWS, MAX_MENTIONS, MAX_NEWS_TITLE_LEN, MAX_POST_TEXT_LEN, MAX_TAGS, MAX_TAG_LEN, MAX_URL_LEN,
};
use domain::UserId;
use projections::content::audience::Reader;
use projections::content::posts::{self as read, CommentRow, FeedOrder, PostRow};
use projections::queries;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::content::{reader, OneOrMany, Permissions};
use super::media::{files_by_id, File};
use super::{paging, Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/posts", get(list_posts).post(create_post))
        .route("/api/posts/{id}", patch(update_post).delete(delete_post))
        .route("/api/posts/{id}/reactions", post(react_post).delete(unreact_post))
        .route("/api/posts/{id}/comments", get(comments_post).post(comment_post))
        .route("/api/news", get(list_news).post(create_news))
        .route("/api/news/{id}", patch(update_news).delete(delete_news))
        .route("/api/news/{id}/reactions", post(react_news).delete(unreact_news))
        .route("/api/news/{id}/comments", get(comments_news).post(comment_news))
}

#[derive(OpenApi)]
#[openapi(paths(
    list_posts,
    create_post,
    update_post,
    delete_post,
    react_post,
    unreact_post,
    comments_post,
    comment_post,
    list_news,
    create_news,
    update_news,
    delete_news,
    react_news,
    unreact_news,
    comments_news,
    comment_news
))]
pub struct Doc;

// ----- request shapes -------------------------------------------------------------------------------

/// `{textAddress, coordinates}`; an address that is blank with no coordinates is no location.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationBody {
    #[schema(max_length = 500)]
    pub text_address: Option<String>,
    /// `{lat, lng}` in degrees; `null` or absent is none.
    pub coordinates: Option<domain::post::Coordinates>,
}

/// A post or news item (E12/E13, E16/E17). On a create an absent field means "none" (its
/// default); on a PATCH an absent field is kept, and `null` and the empty value mean what each
/// field says.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostBody {
    /// Who may see it (DESIGN §11). Create: absent or `null` = public. PATCH: absent keeps it,
    /// `null` = public, an object replaces it (its `taggedUsers` too, see `taggedUserIds`).
    #[serde(default)]
    #[schema(value_type = Option<Permissions>)]
    pub permissions: Patch<Permissions>,
    /// The text. `null` and blank mean no text (a post then needs `fileIds` or `gif`).
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub post_text: Patch<String>,
    /// Only `PUBLISHED` (the default); `null` or absent is `PUBLISHED`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "PUBLISHED")]
    pub status: Patch<String>,
    /// Tags (each non-blank, at most 100 characters); a string is one tag; `null` and `[]` mean
    /// none. Repeats are dropped.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub tags: Patch<OneOrMany<String>>,
    /// Mentioned users of the organization (a string is one id); `null` and `[]` mean none.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 1000)]
    pub mention: Patch<OneOrMany<Uuid>>,
    /// Uploaded media of the organization (E75); `null` and `[]` mean none.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 50)]
    pub file_ids: Patch<Vec<Uuid>>,
    /// `null` means none.
    #[serde(default)]
    #[schema(value_type = Option<LocationBody>)]
    pub location: Patch<LocationBody>,
    /// Users of the organization tagged in it (they see it). Merged with `permissions.taggedUsers`:
    /// on a PATCH that sends either, the tagged users become what was sent (`null` = none); a
    /// PATCH that sends neither keeps them.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Uuid>>, max_items = 1000)]
    pub tagged_user_ids: Patch<Vec<Uuid>>,
    /// A GIF's URL; `null` and blank mean none.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub gif: Patch<String>,
    /// Links (each non-blank, at most 2048 characters; a string is one link); `null` and `[]` mean
    /// none.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub links: Patch<OneOrMany<String>>,
    /// Link previews as the client rendered them, stored as given (texts at most 1000
    /// characters, URLs 2048); `null` and `[]` mean none.
    #[serde(default)]
    #[schema(value_type = Option<Vec<LinkPreview>>, max_items = 20)]
    pub link_previews: Patch<Vec<LinkPreview>>,
    /// News only, required on create; a PATCH may not set it to `null` or blank.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 300)]
    pub news_title: Patch<String>,
    /// News only: the name of a category of the NEWS module (E39), required on create; a PATCH may
    /// not set it to `null`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category: Patch<String>,
    /// News only: an uploaded image of the organization (E75); `null` means none.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub cover_image: Patch<Uuid>,
}

const _: () = assert!(
    MAX_POST_TEXT_LEN == 10_000
        && MAX_TAGS == 50
        && MAX_TAG_LEN == 100
        && MAX_FILES == 50
        && MAX_LINKS == 50
        && MAX_URL_LEN == 2048
        && MAX_LINK_PREVIEWS == 20
        && MAX_ADDRESS_LEN == 500
        && MAX_NEWS_TITLE_LEN == 300
        && MAX_COMMENT_LEN == 4000,
    "update the bounds stated in PostBody and CommentBody"
);
const _: () = assert!(read::MAX_REACTION_USERS == 10, "update the description of Post.reactionUsers");

fn status(raw: Patch<String>) -> Result<(), ApiError> {
    match raw {
        Patch::Set(s) if !s.trim().eq_ignore_ascii_case("PUBLISHED") => {
            Err(ApiError::invalid("status", format!("'{}' is not a post status; known: PUBLISHED", s.trim())))
        }
        _ => Ok(()),
    }
}

fn location(l: Option<LocationBody>) -> Option<PostLocation> {
    l.map(|l| PostLocation { text_address: l.text_address.unwrap_or_default(), coordinates: l.coordinates })
}

fn users(ids: Vec<Uuid>) -> Vec<UserId> {
    ids.into_iter().map(UserId).collect()
}

/// `taggedUserIds` ∪ `permissions.taggedUsers`, in that order (the audience drops repeats).
fn merge_tagged(audience: &mut Audience, tagged_user_ids: &[UserId]) {
    let listed = std::mem::take(&mut audience.tagged_users);
    audience.tagged_users = tagged_user_ids.iter().copied().chain(listed).collect();
}

/// The lists whose every entry is looked up are bounded before any lookup.
fn check_lengths(body: &PostBody) -> Result<(), ApiError> {
    let len = |p: &Patch<Vec<Uuid>>| if let Patch::Set(v) = p { v.len() } else { 0 };
    let mentions = if let Patch::Set(OneOrMany::Many(v)) = &body.mention { v.len() } else { 0 };
    for (field, n, max) in [
        ("mention", mentions, MAX_MENTIONS),
        ("taggedUserIds", len(&body.tagged_user_ids), MAX_AUDIENCE_IDS),
        ("fileIds", len(&body.file_ids), MAX_FILES),
    ] {
        if n > max {
            return Err(ApiError::invalid(field, format!("must have at most {max} entries")));
        }
    }
    Ok(())
}

fn create_input(body: PostBody, kind: PostKind) -> Result<NewPost, ApiError> {
    check_lengths(&body)?;
    status(body.status)?;
    let mut audience = match body.permissions {
        Patch::Set(p) => p.audience()?,
        _ => Audience::public(),
    };
    let tagged_user_ids = users(body.tagged_user_ids.or_default().unwrap_or_default());
    merge_tagged(&mut audience, &tagged_user_ids);
    let news = match kind {
        PostKind::Post => None,
        PostKind::News => Some(NewsInput {
            news_title: body.news_title.required("newsTitle")?.ok_or_else(|| ApiError::invalid("newsTitle", "is required"))?,
            category: body.category.required("category")?.ok_or_else(|| ApiError::invalid("category", "is required"))?,
            cover_image: Option::from_patch(body.cover_image),
        }),
    };
    let content = PostContent {
        post_text: body.post_text.or_default().unwrap_or_default(),
        tags: body.tags.or_default().unwrap_or_default().into_vec(),
        mentions: users(body.mention.or_default().unwrap_or_default().into_vec()),
        file_ids: body.file_ids.or_default().unwrap_or_default(),
        location: location(Option::from_patch(body.location)),
        gif: Option::from_patch(body.gif),
        links: body.links.or_default().unwrap_or_default().into_vec(),
        link_previews: body.link_previews.or_default().unwrap_or_default(),
        audience,
        news: None,
    };
    Ok(NewPost { content, news, tagged_user_ids })
}

/// `Keep` and `Clear` are both "none" on a create.
trait FromPatch<T> {
    fn from_patch(p: Patch<T>) -> Option<T>;
}

impl<T> FromPatch<T> for Option<T> {
    fn from_patch(p: Patch<T>) -> Option<T> {
        match p {
            Patch::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// A nullable field of a PATCH: absent keeps, `null` clears, a value sets.
fn nullable<T>(p: Patch<T>) -> Option<Option<T>> {
    match p {
        Patch::Keep => None,
        Patch::Clear => Some(None),
        Patch::Set(v) => Some(Some(v)),
    }
}

fn change_input(body: PostBody, kind: PostKind) -> Result<PostChange, ApiError> {
    check_lengths(&body)?;
    status(body.status)?;
    let tagged_sent = !body.tagged_user_ids.is_keep() || !body.permissions.is_keep();
    let tagged_user_ids = users(body.tagged_user_ids.or_default().unwrap_or_default());
    let mut audience = match body.permissions {
        Patch::Keep => None,
        Patch::Clear => Some(Audience::public()),
        Patch::Set(p) => Some(p.audience()?),
    };
    let tagged_users = tagged_sent.then(|| {
        let mut merged = audience.clone().unwrap_or_else(|| Audience { tagged_users: vec![], ..Audience::public() });
        merge_tagged(&mut merged, &tagged_user_ids);
        merged.tagged_users
    });
    if let Some(a) = audience.as_mut() {
        a.tagged_users = vec![];
    }
    let (news_title, category, cover_image) = match kind {
        PostKind::Post => (None, None, None),
        PostKind::News => (body.news_title.required("newsTitle")?, body.category.required("category")?, nullable(body.cover_image)),
    };
    let patch = PostPatch {
        post_text: body.post_text.or_default(),
        tags: body.tags.or_default().map(OneOrMany::into_vec),
        mentions: body.mention.or_default().map(|m| users(m.into_vec())),
        file_ids: body.file_ids.or_default(),
        location: nullable(body.location).map(location),
        gif: nullable(body.gif),
        links: body.links.or_default().map(OneOrMany::into_vec),
        link_previews: body.link_previews.or_default(),
        audience,
        tagged_users,
        news_title,
        category: None,
        cover_image,
    };
    Ok(PostChange { patch, category })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReactionBody {
    /// One of like, love, haha, wow, sad, angry.
    #[serde(rename = "type")]
    pub reaction: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentBody {
    /// Required, at most 4000 characters.
    #[schema(max_length = 4000)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedQuery {
    /// Snapshot bound (ISO-8601): only items posted at or before it; default now.
    pub time: Option<String>,
    pub per_page: Option<String>,
    pub cur_page: Option<String>,
    /// `a` recent (default), `b` most reacted, `c` most commented; ties by recent.
    pub sort_key: Option<String>,
}

fn feed_order(raw: Option<&str>) -> Result<FeedOrder, ApiError> {
    match raw.map(str::trim) {
        None | Some("") | Some("a") | Some("A") => Ok(FeedOrder::Recent),
        Some("b") | Some("B") => Ok(FeedOrder::MostReacted),
        Some("c") | Some("C") => Ok(FeedOrder::MostCommented),
        Some(other) => Err(ApiError::invalid("sort_key", format!("must be a, b or c, got '{other}'"))),
    }
}

fn snapshot(raw: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    // Absent: now. Sent, it must be a date-time (empty is not one).
    let Some(raw) = raw.map(str::trim) else { return Ok(Utc::now()) };
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| ApiError::invalid("time", format!("must be an ISO-8601 date-time such as 2022-12-16T06:47:09.531Z, got '{raw}'")))?;
    Ok(domain::values::check_instant("time", at.with_timezone(&Utc))?)
}

// ----- response shapes ------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ReactionCount {
    /// like, love, haha, wow, sad or angry.
    #[serde(rename = "type")]
    pub reaction: String,
    pub count: i64,
}

/// The item's audience as sent (Roster).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionsView {
    pub public: bool,
    pub friends: bool,
    pub team: bool,
    pub only_me: bool,
    pub users: Vec<Uuid>,
    pub groups: Vec<Uuid>,
    pub locations: Vec<Uuid>,
    pub tagged_users: Vec<Uuid>,
}

impl From<Audience> for PermissionsView {
    fn from(a: Audience) -> Self {
        PermissionsView {
            public: a.public,
            friends: a.friends,
            team: a.team,
            only_me: a.only_me,
            users: a.users.into_iter().map(|u| u.0).collect(),
            groups: a.groups,
            locations: a.locations,
            tagged_users: a.tagged_users.into_iter().map(|u| u.0).collect(),
        }
    }
}

/// Spec §1 `Post` (`files` and `linkPreviews` as arrays), plus Roster's `status`, `updatedAt` and
/// `permissions`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    pub id: Uuid,
    pub post_text: String,
    pub status: &'static str,
    pub posted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub comments_count: i64,
    /// The author.
    pub user: Option<UserSummary>,
    pub files: Vec<File>,
    #[schema(value_type = Vec<LinkPreview>)]
    pub link_previews: serde_json::Value,
    pub tags: Vec<String>,
    /// Counts per reaction type (types nobody used are left out).
    pub reactions: Vec<ReactionCount>,
    pub mentions: Vec<UserSummary>,
    pub tagged_users: Vec<UserSummary>,
    pub gif: Option<String>,
    pub links: Vec<String>,
    /// The latest users who reacted (at most 10), latest first.
    pub reaction_users: Vec<UserSummary>,
    #[schema(value_type = Option<PostLocation>)]
    pub location: Option<serde_json::Value>,
    pub permissions: PermissionsView,
}

/// Spec §1 `NewsItem`: a `Post` (with `postText`, a Roster addition) plus the news fields.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewsItem {
    #[serde(flatten)]
    pub post: Post,
    pub news_title: String,
    pub category: String,
    pub cover_image: Option<File>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostsPage {
    pub posts: Vec<Post>,
    pub meta: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewsPage {
    pub news: Vec<NewsItem>,
    pub meta: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: Uuid,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// The commenter.
    pub user: Option<UserSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentsPage {
    pub comments: Vec<Comment>,
    pub meta: PageMeta,
}

/// The rendered items, news or posts, in the rows' order.
enum Items {
    Posts(Vec<Post>),
    News(Vec<NewsItem>),
}

impl Items {
    fn one(self) -> Result<Response, ApiError> {
        Ok(match self {
            Items::Posts(mut v) => axum::Json(v.pop().ok_or(ApiError::Internal)?).into_response(),
            Items::News(mut v) => axum::Json(v.pop().ok_or(ApiError::Internal)?).into_response(),
        })
    }

    fn page(self, meta: PageMeta) -> Response {
        match self {
            Items::Posts(posts) => axum::Json(PostsPage { posts, meta }).into_response(),
            Items::News(news) => axum::Json(NewsPage { news, meta }).into_response(),
        }
    }
}

async fn summaries(st: &AppState, org: Uuid, ids: Vec<Uuid>) -> Result<HashMap<Uuid, UserSummary>, ApiError> {
    let mut ids = ids;
    ids.sort_unstable();
    ids.dedup();
    Ok(queries::users_by_ids(&st.pool, org, &ids).await?.iter().map(|u| (u.id, UserSummary::from(u))).collect())
}

/// Renders rows of one kind with everything they reference. The lookups do not depend on each
/// other, so they run at once on separate connections: a page costs the latency of its slowest
/// lookup, plus one more only when a reactor is nobody the rows already name.
async fn render(st: &AppState, org: Uuid, kind: PostKind, rows: Vec<PostRow>) -> Result<Items, ApiError> {
    if rows.is_empty() {
        return Ok(match kind {
            PostKind::Post => Items::Posts(Vec::new()),
            PostKind::News => Items::News(Vec::new()),
        });
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let named_people: Vec<Uuid> = rows
        .iter()
        .flat_map(|r| std::iter::once(r.author).chain(r.mentions.iter().copied()).chain(r.tagged_users.iter().copied()))
        .collect();
    let file_ids: Vec<Uuid> = rows.iter().flat_map(|r| r.file_ids.iter().copied().chain(r.cover_image)).collect();
    let (reaction_counts, reaction_users, mut people, files) = tokio::try_join!(
        async { read::reaction_counts(&st.pool, &ids).await.map_err(ApiError::from) },
        async { read::reaction_users(&st.pool, &ids).await.map_err(ApiError::from) },
        summaries(st, org, named_people),
        files_by_id(st, org, &file_ids),
    )?;
    let mut counts: HashMap<Uuid, Vec<ReactionCount>> = HashMap::new();
    for c in reaction_counts {
        counts.entry(c.post_id).or_default().push(ReactionCount { reaction: c.reaction, count: c.count });
    }
    let mut reactors: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (post, user) in reaction_users {
        reactors.entry(post).or_default().push(user);
    }
    let unknown: Vec<Uuid> = reactors.values().flatten().copied().filter(|u| !people.contains_key(u)).collect();
    if !unknown.is_empty() {
        people.extend(summaries(st, org, unknown).await?);
    }
    let named = |ids: &[Uuid]| ids.iter().filter_map(|u| people.get(u).cloned()).collect::<Vec<_>>();
    let mut posts = Vec::with_capacity(rows.len());
    let mut news = Vec::new();
    for r in rows {
        let audience: Audience = serde_json::from_value(r.permissions.clone()).map_err(|_| ApiError::Internal)?;
        let post = Post {
            id: r.id,
            post_text: r.post_text,
            status: "PUBLISHED",
            posted_at: r.posted_at,
            updated_at: r.updated_at,
            comments_count: i64::from(r.comments_count),
            user: people.get(&r.author).cloned(),
            files: r.file_ids.iter().filter_map(|f| files.get(f).cloned()).collect(),
            link_previews: r.link_previews,
            tags: r.tags,
            reactions: counts.remove(&r.id).unwrap_or_default(),
            mentions: named(&r.mentions),
            tagged_users: named(&r.tagged_users),
            gif: r.gif,
            links: r.links,
            reaction_users: named(reactors.get(&r.id).map(Vec::as_slice).unwrap_or_default()),
            location: r.location,
            permissions: audience.into(),
        };
        match kind {
            PostKind::Post => posts.push(post),
            PostKind::News => news.push(NewsItem {
                post,
                news_title: r.news_title.unwrap_or_default(),
                category: r.category.unwrap_or_default(),
                cover_image: r.cover_image.and_then(|f| files.get(&f).cloned()),
            }),
        }
    }
    Ok(match kind {
        PostKind::Post => Items::Posts(posts),
        PostKind::News => Items::News(news),
    })
}

/// The item `raw` names, when the reader may see it; 404 otherwise.
async fn visible(st: &AppState, reader: Reader, kind: PostKind, raw: &str) -> Result<PostRow, ApiError> {
    let not_found = || ApiError::NotFound(format!("{} not found", kind.what()));
    let id = Uuid::parse_str(raw).map_err(|_| not_found())?;
    read::visible(&st.pool, reader, kind, id).await?.ok_or_else(not_found)
}

async fn answer_one(st: &AppState, reader: Reader, kind: PostKind, id: Uuid, status: StatusCode) -> Result<Response, ApiError> {
    let row = read::visible(&st.pool, reader, kind, id).await?.ok_or(ApiError::Internal)?;
    let mut response = render(st, reader.org, kind, vec![row]).await?.one()?;
    *response.status_mut() = status;
    Ok(response)
}

// ----- shared handlers ------------------------------------------------------------------------------

async fn list(st: AppState, caller: Caller, q: FeedQuery, kind: PostKind) -> Result<Response, Error> {
    let dialect::Caller(caller, _) = caller;
    let reader = reader(&caller)?;
    let time = snapshot(q.time.as_deref())?;
    let order = feed_order(q.sort_key.as_deref())?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let (rows, total) = read::feed(&st.pool, reader, kind, time, order, offset, per_page).await?;
    Ok(render(&st, reader.org, kind, rows).await?.page(PageMeta::new(cur_page, per_page, total)))
}

async fn create(st: AppState, write: Write, body: PostBody, kind: PostKind) -> Result<Response, Error> {
    let Write { caller, ctx } = write;
    let reader = reader(&caller)?;
    let input = create_input(body, kind)?;
    let ctx = ctx?;
    let committed = cmd::create_post(&st.store, &ctx, caller.org()?, caller.user_id, kind, input).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer_one(&st, reader, kind, r.post_id, StatusCode::CREATED).await }).await?)
}

async fn update(st: AppState, write: Write, id: String, body: PostBody, kind: PostKind) -> Result<Response, Error> {
    let Write { caller, ctx } = write;
    let reader = reader(&caller)?;
    let row = visible(&st, reader, kind, &id).await?;
    let change = change_input(body, kind)?;
    let ctx = ctx?;
    let committed = cmd::update_post(&st.store, &ctx, caller.org()?, kind, row.id, reader.admin, change).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer_one(&st, reader, kind, r.post_id, StatusCode::OK).await }).await?)
}

async fn delete(st: AppState, write: Write, id: String, kind: PostKind) -> Result<Response, Error> {
    let Write { caller, ctx } = write;
    let reader = reader(&caller)?;
    let row = visible(&st, reader, kind, &id).await?;
    let ctx = ctx?;
    let committed = cmd::delete_post(&st.store, &ctx, caller.org()?, kind, row.id, reader.admin).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}

async fn react(st: AppState, write: Write, id: String, body: ReactionBody, kind: PostKind, add: bool) -> Result<Response, Error> {
    let Write { caller, ctx } = write;
    let reader = reader(&caller)?;
    let row = visible(&st, reader, kind, &id).await?;
    let raw = body.reaction.filter(|s| !s.trim().is_empty()).ok_or_else(|| ApiError::invalid("type", "is required"))?;
    let reaction = Reaction::parse("type", &raw).map_err(ApiError::from)?;
    let ctx = ctx?;
    let committed = cmd::set_reaction(&st.store, &ctx, caller.org()?, kind, row.id, caller.user_id, reaction, add).await?;
    Ok(st.respond(&ctx, committed, |st, r| async move { answer_one(&st, reader, kind, r.post_id, StatusCode::OK).await }).await?)
}

async fn comments(st: AppState, caller: Caller, id: String, q: super::PageQuery, kind: PostKind) -> Result<Response, Error> {
    let dialect::Caller(caller, _) = caller;
    let reader = reader(&caller)?;
    let row = visible(&st, reader, kind, &id).await?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let (rows, total) = read::comments(&st.pool, row.id, offset, per_page).await?;
    let comments = render_comments(&st, reader.org, rows).await?;
    Ok(axum::Json(CommentsPage { comments, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

async fn render_comments(st: &AppState, org: Uuid, rows: Vec<CommentRow>) -> Result<Vec<Comment>, ApiError> {
    let people = summaries(st, org, rows.iter().map(|c| c.author).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|c| Comment { id: c.id, text: c.text, created_at: c.created_at, user: people.get(&c.author).cloned() })
        .collect())
}

async fn comment(st: AppState, write: Write, id: String, body: CommentBody, kind: PostKind) -> Result<Response, Error> {
    let Write { caller, ctx } = write;
    let reader = reader(&caller)?;
    let row = visible(&st, reader, kind, &id).await?;
    let text = body.text.ok_or_else(|| ApiError::invalid("text", "is required"))?;
    let ctx = ctx?;
    let committed = cmd::comment(&st.store, &ctx, caller.org()?, kind, row.id, caller.user_id, text).await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            let row = read::comment(&st.pool, r.comment_id).await?.ok_or(ApiError::Internal)?;
            let mut one = render_comments(&st, reader.org, vec![row]).await?;
            Ok((StatusCode::CREATED, axum::Json(one.pop().ok_or(ApiError::Internal)?)).into_response())
        })
        .await?)
}

// ----- posts ----------------------------------------------------------------------------------------

/// E11: the caller's feed of posts: those of their org posted at or before `time` that they may see.
#[utoipa::path(get, path = "/api/posts", tag = "WorkDrive",
    params(("time" = Option<String>, Query, description = "snapshot bound, ISO-8601; default now"),
        ("per_page" = Option<i64>, Query, description = "default 10, at most 1000"), ("cur_page" = Option<i64>, Query, description = "page inside the snapshot, default 1"),
        ("sort_key" = Option<String>, Query, description = "a recent (default), b most reacted, c most commented")),
    responses((status = 200, body = PostsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_posts(State(st): State<AppState>, caller: Caller, dialect::Query(q, _): Query<FeedQuery>) -> Result<Response, Error> {
    list(st, caller, q, PostKind::Post).await
}

/// E12: a new post by the caller; it needs `postText`, `fileIds` or a `gif`.
#[utoipa::path(post, path = "/api/posts", tag = "WorkDrive", request_body = PostBody,
    responses((status = 201, body = Post), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_post(State(st): State<AppState>, write: Write, dialect::Json(body, _): Json<PostBody>) -> Result<Response, Error> {
    create(st, write, body, PostKind::Post).await
}

/// E13: changes a post (its author or an org admin: 403 for others who see it, 404 for those who do not).
#[utoipa::path(patch, path = "/api/posts/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = PostBody,
    responses((status = 200, body = Post), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_post(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<PostBody>,
) -> Result<Response, Error> {
    update(st, write, id, body, PostKind::Post).await
}

/// E14: deletes a post (its author or an org admin), with its reactions and comments.
#[utoipa::path(delete, path = "/api/posts/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_post(State(st): State<AppState>, write: Write, Path(id): Path<String>) -> Result<Response, Error> {
    delete(st, write, id, PostKind::Post).await
}

/// Roster: the caller reacts to a post they may see (one of each type; repeating changes nothing).
#[utoipa::path(post, path = "/api/posts/{id}/reactions", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = ReactionBody,
    responses((status = 200, body = Post), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn react_post(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<ReactionBody>,
) -> Result<Response, Error> {
    react(st, write, id, body, PostKind::Post, true).await
}

/// Roster: the caller takes back a reaction (none is not an error).
#[utoipa::path(delete, path = "/api/posts/{id}/reactions", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = ReactionBody,
    responses((status = 200, body = Post), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn unreact_post(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<ReactionBody>,
) -> Result<Response, Error> {
    react(st, write, id, body, PostKind::Post, false).await
}

/// Roster: one page of a post's comments, oldest first.
#[utoipa::path(get, path = "/api/posts/{id}/comments", tag = "WorkDrive",
    params(("id" = Uuid, Path), ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = CommentsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn comments_post(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    dialect::Query(q, _): Query<super::PageQuery>,
) -> Result<Response, Error> {
    comments(st, caller, id, q, PostKind::Post).await
}

/// Roster: the caller comments on a post they may see.
#[utoipa::path(post, path = "/api/posts/{id}/comments", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = CommentBody,
    responses((status = 201, body = Comment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn comment_post(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<CommentBody>,
) -> Result<Response, Error> {
    comment(st, write, id, body, PostKind::Post).await
}

// ----- news -----------------------------------------------------------------------------------------

/// E15: the caller's news feed (as E11).
#[utoipa::path(get, path = "/api/news", tag = "WorkDrive",
    params(("time" = Option<String>, Query, description = "snapshot bound, ISO-8601; default now"),
        ("per_page" = Option<i64>, Query, description = "default 10, at most 1000"), ("cur_page" = Option<i64>, Query, description = "page inside the snapshot, default 1"),
        ("sort_key" = Option<String>, Query, description = "a recent (default), b most reacted, c most commented")),
    responses((status = 200, body = NewsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_news(State(st): State<AppState>, caller: Caller, dialect::Query(q, _): Query<FeedQuery>) -> Result<Response, Error> {
    list(st, caller, q, PostKind::News).await
}

/// E16: a news item by the caller; `newsTitle` and a NEWS `category` are required.
#[utoipa::path(post, path = "/api/news", tag = "WorkDrive", request_body = PostBody,
    responses((status = 201, body = NewsItem), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_news(State(st): State<AppState>, write: Write, dialect::Json(body, _): Json<PostBody>) -> Result<Response, Error> {
    create(st, write, body, PostKind::News).await
}

/// E17: changes a news item (its author or an org admin).
#[utoipa::path(patch, path = "/api/news/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = PostBody,
    responses((status = 200, body = NewsItem), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_news(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<PostBody>,
) -> Result<Response, Error> {
    update(st, write, id, body, PostKind::News).await
}

/// E18: deletes a news item (its author or an org admin).
#[utoipa::path(delete, path = "/api/news/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_news(State(st): State<AppState>, write: Write, Path(id): Path<String>) -> Result<Response, Error> {
    delete(st, write, id, PostKind::News).await
}

/// Roster: the caller reacts to a news item they may see.
#[utoipa::path(post, path = "/api/news/{id}/reactions", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = ReactionBody,
    responses((status = 200, body = NewsItem), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn react_news(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<ReactionBody>,
) -> Result<Response, Error> {
    react(st, write, id, body, PostKind::News, true).await
}

/// Roster: the caller takes back a reaction to a news item.
#[utoipa::path(delete, path = "/api/news/{id}/reactions", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = ReactionBody,
    responses((status = 200, body = NewsItem), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn unreact_news(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<ReactionBody>,
) -> Result<Response, Error> {
    react(st, write, id, body, PostKind::News, false).await
}

/// Roster: one page of a news item's comments, oldest first.
#[utoipa::path(get, path = "/api/news/{id}/comments", tag = "WorkDrive",
    params(("id" = Uuid, Path), ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = CommentsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn comments_news(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    dialect::Query(q, _): Query<super::PageQuery>,
) -> Result<Response, Error> {
    comments(st, caller, id, q, PostKind::News).await
}

/// Roster: the caller comments on a news item they may see.
#[utoipa::path(post, path = "/api/news/{id}/comments", tag = "WorkDrive", params(("id" = Uuid, Path)), request_body = CommentBody,
    responses((status = 201, body = Comment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn comment_news(
    State(st): State<AppState>,
    write: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<CommentBody>,
) -> Result<Response, Error> {
    comment(st, write, id, body, PostKind::News).await
}
