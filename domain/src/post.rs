//! Posts and news (WorkDrive E11–E18, DESIGN §11): one aggregate, two kinds. A news item is a post
//! with a title, a category of the NEWS module and an optional cover image.
//!
//! Reactions and comments (Roster) live on the post's own stream: a reaction is decided against the
//! post's reactions (one per user and type, a repeat changes nothing) and a deleted post takes
//! them with it.
//!
//! Field names in errors are the request fields of the WorkDrive dialect (the only one that
//! serves posts), so the api layer can hand the content over unchanged.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audience::{Audience, MAX_AUDIENCE_IDS};
use crate::event::DomainEvent;
use crate::values::{bounded_text, required_text};
use crate::{DomainError, OrgId, UserId};

pub const MAX_POST_TEXT_LEN: usize = 10_000;
pub const MAX_NEWS_TITLE_LEN: usize = 300;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_LEN: usize = 100;
pub const MAX_LINKS: usize = 50;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_FILES: usize = 50;
pub const MAX_LINK_PREVIEWS: usize = 20;
pub const MAX_PREVIEW_TEXT_LEN: usize = 1000;
pub const MAX_ADDRESS_LEN: usize = 500;
pub const MAX_COMMENT_LEN: usize = 4000;
/// Mentions are bounded like an audience's lists (they name users of the org, too).
pub const MAX_MENTIONS: usize = MAX_AUDIENCE_IDS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PostKind {
    Post,
    News,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Post => "post",
            PostKind::News => "news",
        }
    }

    /// What a missing post of this kind is called in a 404.
    pub fn what(self) -> &'static str {
        match self {
            PostKind::Post => "post",
            PostKind::News => "news item",
        }
    }
}

/// Roster's reaction types (DESIGN §11): one of each per user and post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reaction {
    Like,
    Love,
    Haha,
    Wow,
    Sad,
    Angry,
}

impl Reaction {
    pub const ALL: [Reaction; 6] = [Reaction::Like, Reaction::Love, Reaction::Haha, Reaction::Wow, Reaction::Sad, Reaction::Angry];

    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::Like => "like",
            Reaction::Love => "love",
            Reaction::Haha => "haha",
            Reaction::Wow => "wow",
            Reaction::Sad => "sad",
            Reaction::Angry => "angry",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        Self::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(raw)).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
            DomainError::invalid(field, format!("'{raw}' is not a reaction; known: {}", known.join(", ")))
        })
    }
}

/// A point on the map (WGS 84 degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coordinates {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostLocation {
    pub text_address: String,
    pub coordinates: Option<Coordinates>,
}

/// A link preview as the client rendered it (stored as data; Roster fetches nothing).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkPreview {
    pub title: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
    pub link: Option<String>,
}

/// What only news carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewsFields {
    pub news_title: String,
    /// The category's name (of the NEWS module) and its id.
    pub category: String,
    pub category_id: Uuid,
    pub cover_image: Option<Uuid>,
}

/// Everything a post says; an update carries the whole of it after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostContent {
    /// Empty when the post has none.
    pub post_text: String,
    pub tags: Vec<String>,
    pub mentions: Vec<UserId>,
    pub file_ids: Vec<Uuid>,
    pub location: Option<PostLocation>,
    pub gif: Option<String>,
    pub links: Vec<String>,
    pub link_previews: Vec<LinkPreview>,
    /// Who may see it; `tagged_users` are the users tagged in it.
    pub audience: Audience,
    pub news: Option<NewsFields>,
}

fn bounded_list<T>(field: &str, v: &[T], max: usize) -> Result<(), DomainError> {
    if v.len() > max {
        return Err(DomainError::invalid(field, format!("must have at most {max} entries")));
    }
    Ok(())
}

fn dedup<T: Ord + Clone>(v: Vec<T>) -> Vec<T> {
    let mut seen = BTreeSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

/// An optional text of a nested object: trimmed, bounded, blank is none.
fn opt(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, DomainError> {
    crate::values::opt_text(field, v, max)
}

impl PostContent {
    /// A public post saying `text` and nothing else.
    pub fn text(text: impl Into<String>) -> Self {
        PostContent {
            post_text: text.into(),
            tags: vec![],
            mentions: vec![],
            file_ids: vec![],
            location: None,
            gif: None,
            links: vec![],
            link_previews: vec![],
            audience: Audience::public(),
            news: None,
        }
    }

    /// Trims, bounds and de-duplicates every field, and applies the kind's rules: a post needs
    /// text, a file or a gif; a news item needs a title.
    pub fn checked(mut self, kind: PostKind) -> Result<Self, DomainError> {
        self.post_text = bounded_text("post_text", self.post_text.trim(), MAX_POST_TEXT_LEN)?;
        bounded_list("tags", &self.tags, MAX_TAGS)?;
        let mut tags = Vec::with_capacity(self.tags.len());
        for (i, t) in self.tags.iter().enumerate() {
            tags.push(required_text(&format!("tags[{i}]"), t, MAX_TAG_LEN)?);
        }
        self.tags = dedup(tags);
        bounded_list("mention", &self.mentions, MAX_MENTIONS)?;
        self.mentions = dedup(self.mentions);
        bounded_list("file_ids", &self.file_ids, MAX_FILES)?;
        self.file_ids = dedup(self.file_ids);
        if let Some(loc) = self.location.take() {
            let text_address = bounded_text("location.textAddress", loc.text_address.trim(), MAX_ADDRESS_LEN)?;
            if let Some(c) = loc.coordinates {
                if !(-90.0..=90.0).contains(&c.lat) {
                    return Err(DomainError::invalid("location.coordinates.lat", "must be between -90 and 90"));
                }
                if !(-180.0..=180.0).contains(&c.lng) {
                    return Err(DomainError::invalid("location.coordinates.lng", "must be between -180 and 180"));
                }
            }
            // A location with neither an address nor coordinates is no location.
            if !text_address.is_empty() || loc.coordinates.is_some() {
                self.location = Some(PostLocation { text_address, coordinates: loc.coordinates });
            }
        }
        self.gif = opt("gif", self.gif, MAX_URL_LEN)?;
        bounded_list("links", &self.links, MAX_LINKS)?;
        let mut links = Vec::with_capacity(self.links.len());
        for (i, l) in self.links.iter().enumerate() {
            links.push(required_text(&format!("links[{i}]"), l, MAX_URL_LEN)?);
        }
        self.links = dedup(links);
        bounded_list("link_previews", &self.link_previews, MAX_LINK_PREVIEWS)?;
        for (i, p) in std::mem::take(&mut self.link_previews).into_iter().enumerate() {
            let f = |name: &str| format!("link_previews[{i}].{name}");
            self.link_previews.push(LinkPreview {
                title: opt(&f("title"), p.title, MAX_PREVIEW_TEXT_LEN)?,
                description: opt(&f("description"), p.description, MAX_PREVIEW_TEXT_LEN)?,
                image: opt(&f("image"), p.image, MAX_URL_LEN)?,
                link: opt(&f("link"), p.link, MAX_URL_LEN)?,
            });
        }
        self.audience = self.audience.checked("permissions")?;
        match (kind, self.news.take()) {
            (PostKind::Post, _) => {
                if self.post_text.is_empty() && self.file_ids.is_empty() && self.gif.is_none() {
                    return Err(DomainError::invalid("post_text", "a post needs text, a file (fileIds) or a gif"));
                }
            }
            (PostKind::News, None) => return Err(DomainError::invalid("news_title", "is required")),
            (PostKind::News, Some(n)) => {
                let news_title = required_text("news_title", &n.news_title, MAX_NEWS_TITLE_LEN)?;
                self.news = Some(NewsFields { news_title, ..n });
            }
        }
        Ok(self)
    }
}

/// A change to a post: `None` keeps a field; the api layer has already turned each field's `null`
/// and empty forms into the value they mean.
#[derive(Debug, Clone, Default)]
pub struct PostPatch {
    pub post_text: Option<String>,
    pub tags: Option<Vec<String>>,
    pub mentions: Option<Vec<UserId>>,
    pub file_ids: Option<Vec<Uuid>>,
    pub location: Option<Option<PostLocation>>,
    pub gif: Option<Option<String>>,
    pub links: Option<Vec<String>>,
    pub link_previews: Option<Vec<LinkPreview>>,
    /// A new audience; its `tagged_users` are replaced only by `tagged_users`.
    pub audience: Option<Audience>,
    pub tagged_users: Option<Vec<UserId>>,
    pub news_title: Option<String>,
    /// The category's name and id.
    pub category: Option<(String, Uuid)>,
    pub cover_image: Option<Option<Uuid>>,
}

impl PostPatch {
    fn apply(self, mut c: PostContent) -> PostContent {
        fn set<T>(slot: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *slot = v;
            }
        }
        set(&mut c.post_text, self.post_text);
        set(&mut c.tags, self.tags);
        set(&mut c.mentions, self.mentions);
        set(&mut c.file_ids, self.file_ids);
        set(&mut c.location, self.location);
        set(&mut c.gif, self.gif);
        set(&mut c.links, self.links);
        set(&mut c.link_previews, self.link_previews);
        let tagged = std::mem::take(&mut c.audience.tagged_users);
        set(&mut c.audience, self.audience);
        c.audience.tagged_users = self.tagged_users.unwrap_or(tagged);
        if let Some(n) = c.news.as_mut() {
            set(&mut n.news_title, self.news_title);
            if let Some((name, id)) = self.category {
                n.category = name;
                n.category_id = id;
            }
            set(&mut n.cover_image, self.cover_image);
        }
        c
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: Uuid,
    pub org_id: OrgId,
    pub kind: PostKind,
    pub author: UserId,
    pub content: PostContent,
    pub deleted: bool,
    pub reactions: BTreeSet<(UserId, Reaction)>,
}

#[derive(Debug, Clone)]
pub enum PostCommand {
    Create {
        id: Uuid,
        org_id: OrgId,
        kind: PostKind,
        author: UserId,
        now: DateTime<Utc>,
        content: Box<PostContent>,
    },
    /// `admin`: the actor administers the post's org (may change anyone's post).
    Update {
        actor: UserId,
        admin: bool,
        now: DateTime<Utc>,
        patch: Box<PostPatch>,
    },
    Delete {
        actor: UserId,
        admin: bool,
    },
    React {
        user: UserId,
        reaction: Reaction,
        now: DateTime<Utc>,
    },
    Unreact {
        user: UserId,
        reaction: Reaction,
    },
    Comment {
        comment_id: Uuid,
        author: UserId,
        text: String,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum PostEvent {
    PostCreated {
        id: Uuid,
        org_id: OrgId,
        kind: PostKind,
        author: UserId,
        posted_at: DateTime<Utc>,
        content: PostContent,
    },
    /// The whole content after the change.
    PostUpdated {
        id: Uuid,
        actor: UserId,
        updated_at: DateTime<Utc>,
        content: PostContent,
    },
    PostDeleted {
        id: Uuid,
        actor: UserId,
    },
    PostReacted {
        id: Uuid,
        user: UserId,
        reaction: Reaction,
        at: DateTime<Utc>,
    },
    PostUnreacted {
        id: Uuid,
        user: UserId,
        reaction: Reaction,
    },
    PostCommented {
        id: Uuid,
        comment_id: Uuid,
        author: UserId,
        text: String,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PostEvent {
    const STREAM_TYPE: &'static str = "post";

    fn event_type(&self) -> &'static str {
        match self {
            PostEvent::PostCreated { .. } => "PostCreated",
            PostEvent::PostUpdated { .. } => "PostUpdated",
            PostEvent::PostDeleted { .. } => "PostDeleted",
            PostEvent::PostReacted { .. } => "PostReacted",
            PostEvent::PostUnreacted { .. } => "PostUnreacted",
            PostEvent::PostCommented { .. } => "PostCommented",
        }
    }
}

pub struct PostAggregate;

fn live(state: &Option<Post>) -> Result<&Post, DomainError> {
    match state {
        Some(p) if !p.deleted => Ok(p),
        _ => Err(DomainError::NotFound("post")),
    }
}

impl Post {
    /// Only the author or an admin of the org (`admin`) may change or delete a post.
    pub fn check_owner(&self, actor: UserId, admin: bool) -> Result<(), DomainError> {
        if self.author != actor && !admin {
            return Err(DomainError::Forbidden(format!("only its author or an org admin may change this {}", self.kind.what())));
        }
        Ok(())
    }
}

impl esrs::Aggregate for PostAggregate {
    const NAME: &'static str = "post";
    type State = Option<Post>;
    type Command = PostCommand;
    type Event = PostEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            PostCommand::Create { id, org_id, kind, author, now, content } => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("post"));
                }
                Ok(vec![PostEvent::PostCreated { id, org_id, kind, author, posted_at: now, content: content.checked(kind)? }])
            }
            PostCommand::Update { actor, admin, now, patch } => {
                let p = live(state)?;
                p.check_owner(actor, admin)?;
                let content = patch.apply(p.content.clone()).checked(p.kind)?;
                if content == p.content {
                    return Ok(vec![]);
                }
                Ok(vec![PostEvent::PostUpdated { id: p.id, actor, updated_at: now, content }])
            }
            PostCommand::Delete { actor, admin } => {
                let p = live(state)?;
                p.check_owner(actor, admin)?;
                Ok(vec![PostEvent::PostDeleted { id: p.id, actor }])
            }
            PostCommand::React { user, reaction, now } => {
                let p = live(state)?;
                if p.reactions.contains(&(user, reaction)) {
                    return Ok(vec![]);
                }
                Ok(vec![PostEvent::PostReacted { id: p.id, user, reaction, at: now }])
            }
            PostCommand::Unreact { user, reaction } => {
                let p = live(state)?;
                if !p.reactions.contains(&(user, reaction)) {
                    return Ok(vec![]);
                }
                Ok(vec![PostEvent::PostUnreacted { id: p.id, user, reaction }])
            }
            PostCommand::Comment { comment_id, author, text, now } => {
                let p = live(state)?;
                let text = required_text("text", &text, MAX_COMMENT_LEN)?;
                Ok(vec![PostEvent::PostCommented { id: p.id, comment_id, author, text, at: now }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match (state, event) {
            (_, PostEvent::PostCreated { id, org_id, kind, author, content, .. }) => {
                Some(Post { id, org_id, kind, author, content, deleted: false, reactions: BTreeSet::new() })
            }
            (Some(mut p), PostEvent::PostUpdated { content, .. }) => {
                p.content = content;
                Some(p)
            }
            (Some(mut p), PostEvent::PostDeleted { .. }) => {
                p.deleted = true;
                Some(p)
            }
            (Some(mut p), PostEvent::PostReacted { user, reaction, .. }) => {
                p.reactions.insert((user, reaction));
                Some(p)
            }
            (Some(mut p), PostEvent::PostUnreacted { user, reaction, .. }) => {
                p.reactions.remove(&(user, reaction));
                Some(p)
            }
            (state, _) => state,
        }
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;
    use proptest::prelude::*;

    use super::*;

    fn u(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn content(text: &str) -> PostContent {
        PostContent::text(text)
    }

    fn created(kind: PostKind, c: PostContent) -> Option<Post> {
        let cmd = PostCommand::Create {
            id: Uuid::from_u128(7),
            org_id: OrgId(Uuid::from_u128(1)),
            kind,
            author: u(2),
            now: Utc::now(),
            content: Box::new(c),
        };
        PostAggregate::handle_command(&None, cmd).unwrap().into_iter().fold(None, PostAggregate::apply_event)
    }

    fn run(state: &Option<Post>, cmd: PostCommand) -> Result<Vec<PostEvent>, DomainError> {
        PostAggregate::handle_command(state, cmd)
    }

    #[test]
    fn a_post_needs_text_a_file_or_a_gif_and_news_a_title() {
        assert_eq!(
            content("  ").checked(PostKind::Post).unwrap_err(),
            DomainError::invalid("post_text", "a post needs text, a file (fileIds) or a gif")
        );
        assert!(PostContent { gif: Some(" g ".into()), ..content("") }.checked(PostKind::Post).is_ok());
        assert!(PostContent { file_ids: vec![Uuid::from_u128(3)], ..content("") }.checked(PostKind::Post).is_ok());
        assert_eq!(content("").checked(PostKind::News).unwrap_err(), DomainError::invalid("news_title", "is required"));
        let news = NewsFields { news_title: " T ".into(), category: "c".into(), category_id: Uuid::nil(), cover_image: None };
        let checked = PostContent { news: Some(news), ..content("") }.checked(PostKind::News).unwrap();
        assert_eq!(checked.news.unwrap().news_title, "T", "news needs no text");
    }

    #[test]
    fn only_the_author_or_an_admin_changes_or_deletes() {
        let p = created(PostKind::Post, content("hi"));
        let patch = || Box::new(PostPatch { post_text: Some("new".into()), ..PostPatch::default() });
        assert!(matches!(
            run(&p, PostCommand::Update { actor: u(9), admin: false, now: Utc::now(), patch: patch() }),
            Err(DomainError::Forbidden(_))
        ));
        assert_eq!(run(&p, PostCommand::Update { actor: u(9), admin: true, now: Utc::now(), patch: patch() }).unwrap().len(), 1);
        assert!(
            run(&p, PostCommand::Update { actor: u(2), admin: false, now: Utc::now(), patch: Box::default() }).unwrap().is_empty(),
            "no change, no event"
        );
        let cleared = Box::new(PostPatch { post_text: Some(String::new()), ..PostPatch::default() });
        assert!(
            run(&p, PostCommand::Update { actor: u(2), admin: false, now: Utc::now(), patch: cleared }).is_err(),
            "the post rule holds on update"
        );
        assert!(matches!(run(&p, PostCommand::Delete { actor: u(9), admin: false }), Err(DomainError::Forbidden(_))));
        let gone = run(&p, PostCommand::Delete { actor: u(2), admin: false }).unwrap().into_iter().fold(p, PostAggregate::apply_event);
        assert_eq!(run(&gone, PostCommand::Delete { actor: u(2), admin: false }).unwrap_err(), DomainError::NotFound("post"));
    }

    #[test]
    fn tagged_users_are_kept_unless_a_patch_names_them() {
        let tagged = Audience { tagged_users: vec![u(5)], ..Audience::public() };
        let p = created(PostKind::Post, PostContent { audience: tagged, ..content("hi") }).unwrap();
        let only_me = PostPatch { audience: Some(Audience { only_me: true, ..Audience::public() }), ..PostPatch::default() };
        assert_eq!(only_me.apply(p.content.clone()).audience.tagged_users, vec![u(5)]);
        let retag = PostPatch { tagged_users: Some(vec![]), ..PostPatch::default() };
        assert!(retag.apply(p.content).audience.tagged_users.is_empty());
    }

    proptest! {
        #[test]
        fn reactions_are_one_per_user_and_type(ops in proptest::collection::vec((1u128..4, 0usize..6, any::<bool>()), 0..30)) {
            let mut state = created(PostKind::Post, content("hi"));
            let mut model = BTreeSet::new();
            for (user, r, add) in ops {
                let (user, reaction) = (u(user), Reaction::ALL[r]);
                let cmd = if add { PostCommand::React { user, reaction, now: Utc::now() } } else { PostCommand::Unreact { user, reaction } };
                let events = run(&state, cmd).unwrap();
                let changed = if add { model.insert((user, reaction)) } else { model.remove(&(user, reaction)) };
                prop_assert_eq!(events.len(), usize::from(changed));
                state = events.into_iter().fold(state, PostAggregate::apply_event);
            }
            prop_assert_eq!(state.unwrap().reactions, model);
        }
    }

    #[test]
    fn reactions_parse_by_name_and_comments_are_bounded() {
        assert_eq!(Reaction::parse("type", " LIKE ").unwrap(), Reaction::Like);
        assert!(Reaction::parse("type", "meh").is_err());
        let p = created(PostKind::Post, content("hi"));
        let comment = |text: String| PostCommand::Comment { comment_id: Uuid::nil(), author: u(3), text, now: Utc::now() };
        assert!(run(&p, comment(" ".into())).is_err());
        assert!(run(&p, comment("c".repeat(MAX_COMMENT_LEN + 1))).is_err());
        assert_eq!(run(&p, comment("nice".into())).unwrap().len(), 1);
    }
}
