//! Knowledge-base documents (E31–E34). A document is published only when asked (`publish`); an
//! unpublished one is seen by its author, its owners and the org's admins alone.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use commands::handlers::library::{run, References, Resolved};
use domain::category::ModuleCode;
use domain::library::{ItemCommand, KbDocument, KbDocumentAggregate, KbDocumentPatch, KbHead, MAX_URL_LEN};
use domain::patch::Patch;
use projections::content::audience::Reader;
use projections::content::library::{self as read, DocumentRow, KbFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::content::{audience, reader, Permissions};
use super::super::media::File;
use super::super::{paging, Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use super::{changeable, delete, files, non_blank, owners, publish_flag, KbHeadInput, KbPatchInput, Named};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

const _: () = assert!(MAX_URL_LEN == 2048, "update the bounds of the document bodies");

/// The spec's `Document` (KB doc), with where it is (`docUrl`, `link`, `docId` and its `file`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub id: Uuid,
    pub name: String,
    /// Always `{}` (the seed documents no members).
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub is_published: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub expiry: Option<DateTime<Utc>>,
    pub file: Option<File>,
    pub doc_id: Option<Uuid>,
    pub doc_url: Option<String>,
    pub link: Option<String>,
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub owners: Vec<UserSummary>,
    /// Always `null` (bookmarks are not part of this API).
    #[schema(value_type = Option<Uuid>)]
    pub bookmark_id: Option<Uuid>,
    /// Always empty (link previews are not fetched).
    #[schema(value_type = Vec<Object>)]
    pub link_preview: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentsPage {
    pub docs: Vec<Document>,
    pub meta: PageMeta,
}

async fn render(st: &AppState, reader: Reader, rows: Vec<DocumentRow>) -> Result<Vec<Document>, ApiError> {
    let users = rows.iter().flat_map(|d| d.owners.clone()).collect();
    let named = Named::load(st, reader, users, rows.iter().filter_map(|d| d.doc_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|d| Document {
            id: d.id,
            owners: owners(&named, &d.owners),
            name: d.name,
            metadata: serde_json::json!({}),
            is_published: d.published,
            created_at: d.created_at,
            updated_at: d.updated_at,
            created_by: d.author,
            expiry: d.expiry,
            file: named.file(d.doc_id),
            doc_id: d.doc_id,
            doc_url: d.doc_url,
            link: d.link,
            tags: d.tags,
            category: d.category,
            bookmark_id: None,
            link_preview: vec![],
        })
        .collect())
}

async fn answer(st: AppState, reader: Reader, id: Uuid, status: StatusCode) -> Result<Response, ApiError> {
    let (rows, _) = read::documents(&st.pool, reader, &KbFilter { id: Some(id), category: None }, 0, 1).await?;
    let doc = render(&st, reader, rows).await?.pop().ok_or(ApiError::Internal)?;
    Ok((status, axum::Json(doc)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DocumentsQuery {
    /// A category name (any case).
    pub category: Option<String>,
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
}

/// E31: one page of the documents the caller may see, newest first.
#[utoipa::path(get, path = "/api/documents", tag = "WorkDrive",
    params(("category" = Option<String>, Query), ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = DocumentsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_documents(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<DocumentsQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let filter = KbFilter { id: None, category: non_blank(q.category) };
    let (rows, total) = read::documents(&st.pool, reader, &filter, offset, per_page).await?;
    let docs = render(&st, reader, rows).await?;
    Ok(axum::Json(DocumentsPage { docs, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PublishQuery {
    /// Publish now (`true`) or keep unpublished; absent on a create means unpublished.
    pub publish: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateDocumentBody {
    #[serde(flatten, deserialize_with = "crate::kernel::strict_json::flattened")]
    pub head: KbHeadInput,
    /// An external URL (alias `docURL`). One of `docId`, `docUrl` or `link` is required.
    #[schema(max_length = 2048)]
    #[serde(alias = "docURL")]
    pub doc_url: Option<String>,
    #[schema(max_length = 2048)]
    pub link: Option<String>,
    /// An uploaded file.
    pub doc_id: Option<Uuid>,
    pub permissions: Option<Permissions>,
}

/// E32: a new document; an unknown `category` is created for the DOCUMENT module.
#[utoipa::path(post, path = "/api/documents", tag = "WorkDrive", request_body = CreateDocumentBody, params(("publish" = Option<bool>, Query)),
    responses((status = 201, body = Document), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_document(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Query(q, _): Query<PublishQuery>,
    dialect::Json(body, _): Json<CreateDocumentBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let published = publish_flag(q.publish.as_deref())?.unwrap_or(false);
    let audience = audience(body.permissions)?;
    let new = body.head.into_new(caller.user_id, published);
    let refs = References {
        audience: Some(audience.clone()),
        files: files(&[(body.doc_id, "docId")]),
        users: new.owners,
        category: new.category.map(|c| (ModuleCode::Document, c)),
        ..Default::default()
    };
    let data = KbDocument { head: new.head, doc_url: body.doc_url, link: body.link, doc_id: body.doc_id };
    let ctx = ctx?;
    let (id, org, author) = (Uuid::new_v4(), domain::OrgId(reader.org), caller.user_id);
    let command = |r: Resolved| {
        let data = KbDocument { head: KbHead { category_id: r.category, ..data.head.clone() }, ..data.clone() };
        ItemCommand::Create { id, org_id: org, author, data, audience: audience.clone() }
    };
    let committed = run::<KbDocumentAggregate, KbDocument>(&st.store, &ctx, org, id, true, &refs, command).await?;
    Ok(st.respond(&ctx, committed, |st, r| answer(st, reader, r.id, StatusCode::CREATED)).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDocumentBody {
    /// The nested form; each member it holds wins over the same flat member.
    pub kb: Option<KbPatchInput>,
    #[serde(flatten, deserialize_with = "crate::kernel::strict_json::flattened")]
    pub flat: KbPatchInput,
    /// Absent keeps; `null` clears.
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub doc_id: Patch<Uuid>,
    /// Absent keeps; `null` or blank clears (alias `docURL`).
    #[schema(value_type = Option<String>, max_length = 2048)]
    #[serde(default, alias = "docURL")]
    pub doc_url: Patch<String>,
}

/// E33: changes a document (its author or an org admin). A `publish` query flag overrides
/// `kb.isPublished`; a change that leaves no `docId`, `docUrl` or `link` is a 400.
#[utoipa::path(patch, path = "/api/documents/{id}", tag = "WorkDrive", request_body = UpdateDocumentBody,
    params(("id" = Uuid, Path), ("publish" = Option<bool>, Query)),
    responses((status = 200, body = Document), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_document(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(raw): Path<String>,
    dialect::Query(q, _): Query<PublishQuery>,
    dialect::Json(body, _): Json<UpdateDocumentBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let change = KbPatchInput::merge(body.kb, body.flat, publish_flag(q.publish.as_deref())?)?;
    let doc_file = match body.doc_id {
        Patch::Set(id) => Some(id),
        _ => None,
    };
    let refs = References {
        audience: change.audience.clone(),
        files: files(&[(doc_file, "docId")]),
        users: change.owners,
        category: change.category.map(|c| (ModuleCode::Document, c)),
        ..Default::default()
    };
    let patch = KbDocumentPatch { head: change.head, doc_url: body.doc_url, link: change.link, doc_id: body.doc_id };
    let (id, actor) = changeable(&st, &caller, &raw, "document").await?;
    let ctx = ctx?;
    let command = |r: Resolved| {
        let mut patch = patch.clone();
        if let Some(c) = r.category {
            patch.head.category_id = Patch::Set(c);
        }
        ItemCommand::Update { actor, patch, audience: change.audience.clone() }
    };
    let committed = run::<KbDocumentAggregate, KbDocument>(&st.store, &ctx, actor.org, id, false, &refs, command).await?;
    Ok(st.respond(&ctx, committed, |st, r| answer(st, reader, r.id, StatusCode::OK)).await?)
}

/// E34: deletes a document (its author or an org admin).
#[utoipa::path(delete, path = "/api/documents/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_document(State(st): State<AppState>, write: Write, Path(raw): Path<String>) -> Result<Response, Error> {
    delete::<KbDocumentAggregate, KbDocument>(st, write, &raw, "document").await
}
