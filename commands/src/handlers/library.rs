//! The intranet's library (WorkDrive E23–E38): one command shape for videos, photos, documents
//! and FAQs. What a command names must exist in the caller's org before the item decides: the
//! audience's users, groups and locations, uploaded files, owners; a category named by a
//! document or an FAQ is created in the same append unless it exists (E32: "or you can create a
//! new category"; FAQs follow documents, so the two knowledge-base kinds behave alike).

use domain::audience::Audience;
use domain::category::{CategoryAggregate, ModuleCode};
use domain::library::{Item, ItemCommand, ItemData};
use domain::media::MediaAggregate;
use domain::{DomainError, DomainEvent, OrgId, UserId};
use esrs::Aggregate;
use uuid::Uuid;

use super::content::{check_audience, ensure_category, existing_category};
use super::membership::{Batch, Streams};
use crate::results::LibraryRef;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// What a library command names, each with its request field.
#[derive(Debug, Clone, Default)]
pub struct References {
    /// The item's new audience (checked with the field `permissions`).
    pub audience: Option<Audience>,
    /// Uploaded files of the org.
    pub files: Vec<(Uuid, String)>,
    /// Uploaded images of the org (a photo's file).
    pub images: Vec<(Uuid, String)>,
    /// Live users of the org.
    pub users: Vec<(UserId, String)>,
    /// A category of the module by name, ensured.
    pub category: Option<(ModuleCode, String)>,
    /// Categories of a module by name, which must exist.
    pub existing_categories: Vec<(ModuleCode, String, String)>,
}

/// The category ids a command's references resolved to.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// The ensured `category`.
    pub category: Option<Uuid>,
    /// The `existing_categories`, in order.
    pub categories: Vec<Uuid>,
}

/// A library aggregate over content `D` (videos, photos, documents, FAQs).
pub trait LibraryAggregate<D: ItemData>: Aggregate<State = Option<Item<D>>, Command = ItemCommand<D>, Error = DomainError>
where
    Self::Event: DomainEvent,
{
}

impl<D: ItemData, A> LibraryAggregate<D> for A
where
    A: Aggregate<State = Option<Item<D>>, Command = ItemCommand<D>, Error = DomainError>,
    A::Event: DomainEvent,
{
}

/// Creates (`create`) or changes library item `id` of `org`: checks `refs`, ensures the category,
/// then decides `command(what they resolved to)` on the item's stream.
pub async fn run<A, D>(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: Uuid,
    create: bool,
    refs: &References,
    command: impl Fn(Resolved) -> ItemCommand<D>,
) -> Result<Committed<LibraryRef>, CommandError>
where
    D: ItemData,
    A: LibraryAggregate<D>,
    A::Event: DomainEvent,
{
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            if let Some(a) = &refs.audience {
                check_audience(&mut b, a, "permissions").await?;
            }
            for (user, field) in &refs.users {
                b.user(*user, field).await?;
            }
            for (file, field) in refs.files.iter().chain(&refs.images) {
                super::media::check_file(store, org, *file, field).await?;
            }
            for (image, field) in &refs.images {
                let (media, _) = store.load::<MediaAggregate>(*image).await?;
                if !media.is_some_and(|m| m.mime.starts_with("image/")) {
                    return Err(DomainError::invalid(field, "must be an uploaded image").into());
                }
            }
            let mut categories = Streams::<CategoryAggregate>::new();
            let category = match &refs.category {
                Some((module, name)) => Some(ensure_category(store, &mut categories, ctx, org, *module, name).await?),
                None => None,
            };
            let mut categories_ids = Vec::with_capacity(refs.existing_categories.len());
            for (module, name, field) in &refs.existing_categories {
                categories_ids.push(existing_category(store, org, *module, name, field).await?);
            }
            let mut items = Streams::<A>::new();
            if create {
                items.fresh(id);
            } else {
                items.state(store, id).await?;
            }
            items.decide(id, command(Resolved { category, categories: categories_ids }))?;
            let mut streams = categories.pending(org)?;
            streams.extend(items.pending(org)?);
            Ok(Plan { streams, ..Plan::new(LibraryRef { id }) })
        })
        .await
}
