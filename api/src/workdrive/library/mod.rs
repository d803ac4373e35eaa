//! The intranet's library (WorkDrive E23–E38): videos, photos, knowledge-base documents and
//! FAQs, one module per resource. What they share lives here: the direct-access test of a
//! change (an item the caller may not see is "not found", one they see but did not write is
//! 403), the `publish` flag, and rendering the users and files items name.

pub mod courses;
pub mod documents;
pub mod enforcement_templates;
pub mod faqs;
pub mod photos;
pub mod videos;

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{self, get, patch};
use axum::Router;
use chrono::{DateTime, Utc};
use commands::handlers::library::{run, LibraryAggregate, References};
use domain::audience::Audience;
use domain::category::MAX_CATEGORY_LEN;
use domain::library::{Actor, ItemCommand, ItemData, KbHead, KbHeadPatch, MAX_OWNERS, MAX_TAGS};
use domain::patch::Patch;
use domain::UserId;
use domain::{DomainEvent, OrgId};
use projections::content::audience::Reader;
use projections::content::library as read;
use serde::Deserialize;
use utoipa::OpenApi;
use utoipa::ToSchema;
use uuid::Uuid;

use super::content::{audience, OneOrMany, Permissions};
use super::media::{files_by_id, File};
use super::{Error, UserSummary, Write};
use crate::kernel::auth::Principal;
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/videos", get(videos::list_videos).post(videos::create_video))
        .route("/api/videos/{id}", patch(videos::update_video).delete(videos::delete_video))
        .route("/api/photos", get(photos::list_photos).post(photos::create_photo))
        .route("/api/photos/{id}", patch(photos::update_photo).delete(photos::delete_photo))
        .route("/api/documents", get(documents::list_documents).post(documents::create_document))
        .route("/api/documents/{id}", patch(documents::update_document).delete(documents::delete_document))
        .route("/api/faqs", get(faqs::list_faqs).post(faqs::create_faq))
        .route("/api/faqs/{id}", patch(faqs::update_faq).delete(faqs::delete_faq))
        .route("/api/courses", get(courses::list_courses).post(courses::create_course))
        .route("/api/courses/{id}", routing::delete(courses::delete_course))
        .route("/api/enforcement-templates", get(enforcement_templates::list_templates).post(enforcement_templates::create_template))
}

#[derive(OpenApi)]
#[openapi(paths(
    videos::list_videos,
    videos::create_video,
    videos::update_video,
    videos::delete_video,
    photos::list_photos,
    photos::create_photo,
    photos::update_photo,
    photos::delete_photo,
    documents::list_documents,
    documents::create_document,
    documents::update_document,
    documents::delete_document,
    faqs::list_faqs,
    faqs::create_faq,
    faqs::update_faq,
    faqs::delete_faq,
    courses::list_courses,
    courses::create_course,
    courses::delete_course,
    enforcement_templates::list_templates,
    enforcement_templates::create_template,
))]
pub struct Doc;

/// The library item `raw` names, which the caller must be able to see (else "not found", like
/// another tenant's), with who is asking to change it.
async fn changeable(st: &AppState, caller: &Principal, raw: &str, what: &str) -> Result<(Uuid, Actor), ApiError> {
    let reader = super::content::reader(caller)?;
    let id = dialect::uuid_path(raw, what)?;
    if !read::visible(&st.pool, reader, id).await? {
        return Err(ApiError::NotFound(format!("{what} not found")));
    }
    Ok((id, Actor { user: caller.user_id, org: OrgId(reader.org), admin: reader.admin }))
}

/// Deletes the library item `raw` names (its author or an org admin): 204.
async fn delete<A, D>(st: AppState, Write { caller, ctx }: Write, raw: &str, what: &str) -> Result<Response, Error>
where
    D: ItemData,
    A: LibraryAggregate<D>,
    A::Event: DomainEvent,
{
    let (id, actor) = changeable(&st, &caller, raw, what).await?;
    let ctx = ctx?;
    let committed = run::<A, D>(&st.store, &ctx, actor.org, id, false, &References::default(), |_| ItemCommand::Delete { actor }).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(StatusCode::NO_CONTENT.into_response()) }).await?)
}

/// The files a body names, with their fields (absent ids name nothing).
fn files(pairs: &[(Option<Uuid>, &str)]) -> Vec<(Uuid, String)> {
    pairs.iter().filter_map(|(id, field)| id.map(|id| (id, field.to_string()))).collect()
}

/// `sort_direction` (`ASC` or `DESC`, any case) → whether newest come first; absent: `desc_default`.
fn newest_first(raw: Option<&str>, desc_default: bool) -> Result<bool, ApiError> {
    match raw.map(str::trim).unwrap_or("") {
        "" => Ok(desc_default),
        s if s.eq_ignore_ascii_case("desc") => Ok(true),
        s if s.eq_ignore_ascii_case("asc") => Ok(false),
        other => Err(ApiError::invalid("sort_direction", format!("'{other}' is not ASC or DESC"))),
    }
}

/// The `publish` query flag of E32/E33/E36/E37 (absent: not given).
fn publish_flag(raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    raw.map(|flag| super::bool_param("publish", Some(flag))).transpose()
}

/// The users and files a page of items names, each read once.
struct Named {
    users: HashMap<Uuid, UserSummary>,
    files: HashMap<Uuid, File>,
}

impl Named {
    async fn load(st: &AppState, reader: Reader, users: Vec<Uuid>, files: Vec<Uuid>) -> Result<Self, ApiError> {
        let rows = projections::queries::users_by_ids(&st.pool, reader.org, &users).await?;
        let users = rows.iter().map(|u| (u.id, UserSummary::from(u))).collect();
        let files = if files.is_empty() { HashMap::new() } else { files_by_id(st, reader.org, &files).await? };
        Ok(Named { users, files })
    }

    fn user(&self, id: Uuid) -> Option<UserSummary> {
        self.users.get(&id).cloned()
    }

    fn file(&self, id: Option<Uuid>) -> Option<File> {
        id.and_then(|id| self.files.get(&id).cloned())
    }
}

/// What a document's or an FAQ's create names of its knowledge-base head (E32 flat, E36 `kb`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KbHeadInput {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Users of the org; absent, `null` or empty: the author.
    #[schema(max_items = 100)]
    pub owner_ids: Option<Vec<Uuid>>,
    pub expiry: Option<DateTime<Utc>>,
    /// A string is one tag; blank tags are dropped, repeats kept once.
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    #[serde(default)]
    pub tags: OneOrMany<String>,
    /// A category name of the module; an unknown one is created. Blank means none.
    #[schema(max_length = 100)]
    pub category: Option<String>,
}

const _: () = assert!(MAX_OWNERS == 100 && MAX_TAGS == 50 && MAX_CATEGORY_LEN == 100, "update the bounds of KbHeadInput");

/// A knowledge-base head to create, the category to ensure, and the owners to check.
struct NewKb {
    head: KbHead,
    category: Option<String>,
    owners: Vec<(UserId, String)>,
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

impl KbHeadInput {
    fn into_new(self, author: UserId, published: bool) -> NewKb {
        let mut owners: Vec<UserId> = self.owner_ids.unwrap_or_default().into_iter().map(UserId).collect();
        if owners.is_empty() {
            owners.push(author);
        }
        let refs = owners.iter().enumerate().map(|(i, u)| (*u, format!("ownerIds[{i}]"))).collect();
        let head = KbHead {
            name: self.name.unwrap_or_default(),
            owners,
            expiry: self.expiry,
            tags: self.tags.into_vec(),
            category_id: None,
            published,
        };
        NewKb { head, category: non_blank(self.category), owners: refs }
    }
}

/// What a document's or an FAQ's PATCH says of its head, nested under `kb` or flat (E33, E37).
/// Absent members keep.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KbPatchInput {
    /// `null` is refused.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    #[serde(default)]
    pub name: Patch<String>,
    #[schema(max_items = 100)]
    pub new_owner_ids: Option<Vec<Uuid>>,
    pub remove_owner_ids: Option<Vec<Uuid>>,
    /// `null` clears.
    #[schema(value_type = Option<DateTime<Utc>>)]
    #[serde(default)]
    pub expiry: Patch<DateTime<Utc>>,
    /// `null` clears.
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    #[serde(default)]
    pub tags: Patch<OneOrMany<String>>,
    /// `null` or blank clears; an unknown name is created.
    #[schema(value_type = Option<String>, max_length = 100)]
    #[serde(default)]
    pub category: Patch<String>,
    /// Documents only; `null` or blank clears.
    #[schema(value_type = Option<String>, max_length = 2048)]
    #[serde(default)]
    pub link: Patch<String>,
    /// `null` is refused; a `publish` query flag overrides it.
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub is_published: Patch<bool>,
    /// `null` means the whole org.
    #[schema(value_type = Option<Permissions>)]
    #[serde(default)]
    pub permissions: Patch<Permissions>,
}

/// `a` unless it is absent.
fn first<T>(a: Patch<T>, b: Patch<T>) -> Patch<T> {
    if a.is_keep() {
        b
    } else {
        a
    }
}

/// A knowledge-base head's change, with the category to ensure, the audience and the owners to check.
struct KbChange {
    head: KbHeadPatch,
    category: Option<String>,
    audience: Option<Audience>,
    link: Patch<String>,
    owners: Vec<(UserId, String)>,
}

impl KbPatchInput {
    /// `kb` (the nested form) wins over the flat aliases, member by member; `publish` over both.
    fn merge(kb: Option<KbPatchInput>, flat: KbPatchInput, publish: Option<bool>) -> Result<KbChange, ApiError> {
        let kb = kb.unwrap_or_default();
        let or_list = |a: Option<Vec<Uuid>>, b: Option<Vec<Uuid>>| a.or(b).unwrap_or_default();
        let new_owners: Vec<UserId> = or_list(kb.new_owner_ids, flat.new_owner_ids).into_iter().map(UserId).collect();
        let remove_owners = or_list(kb.remove_owner_ids, flat.remove_owner_ids).into_iter().map(UserId).collect();
        let owners = new_owners.iter().enumerate().map(|(i, u)| (*u, format!("newOwnerIds[{i}]"))).collect();
        let (category, category_id) = match first(kb.category, flat.category) {
            Patch::Set(c) if !c.trim().is_empty() => (Some(c), Patch::Keep),
            Patch::Keep => (None, Patch::Keep),
            _ => (None, Patch::Clear),
        };
        let published = match publish {
            Some(p) => Some(p),
            None => first(kb.is_published, flat.is_published).required("isPublished")?,
        };
        let audience = match first(kb.permissions, flat.permissions) {
            Patch::Keep => None,
            Patch::Clear => Some(audience(None)?),
            Patch::Set(p) => Some(p.audience()?),
        };
        let head = KbHeadPatch {
            name: first(kb.name, flat.name).required("name")?,
            new_owners,
            remove_owners,
            expiry: first(kb.expiry, flat.expiry),
            tags: first(kb.tags, flat.tags).or_default().map(OneOrMany::into_vec),
            category_id,
            published,
        };
        Ok(KbChange { head, category, audience, link: first(kb.link, flat.link), owners })
    }
}

/// The owners of an item, as users.
fn owners(named: &Named, ids: &[Uuid]) -> Vec<UserSummary> {
    ids.iter().filter_map(|id| named.user(*id)).collect()
}
