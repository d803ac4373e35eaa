//! FAQs (E35–E38): a knowledge-base head with question/answer rows. E35 pages over the rows
//! (each naming its FAQ in `kbId`); PATCH and DELETE name the FAQ. Publication works as for
//! documents, and so does the category (of the FAQ module, created when unknown).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use commands::handlers::library::{run, References, Resolved};
use domain::audience::Audience;
use domain::category::ModuleCode;
use domain::library::{FaqKb, FaqKbAggregate, FaqKbPatch, ItemCommand, KbHead, Qa, QaChange, MAX_ANSWER_LEN, MAX_QAS, MAX_QUESTION_LEN};
use domain::patch::Patch;
use projections::content::audience::Reader;
use projections::content::library::{self as read, FaqRowRow, KbFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::content::{audience, reader, Permissions};
use super::super::{paging, Caller, Error, ErrorBody, Json, PageMeta, Query, UserSummary, Write};
use super::documents::PublishQuery;
use super::{changeable, delete, non_blank, owners, publish_flag, KbHeadInput, KbPatchInput, Named};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

const _: () = assert!(MAX_QAS == 200 && MAX_QUESTION_LEN == 1000 && MAX_ANSWER_LEN == 10_000, "update the bounds of QaInput");

/// The spec's `FaqRow`, with the FAQ it belongs to (`kbId`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaqRow {
    pub id: Uuid,
    pub kb_id: Uuid,
    pub question: String,
    pub answer: String,
    pub description: Option<String>,
    pub category: Option<String>,
    /// The FAQ's tags joined with ", " (a string in the seed's rows).
    pub tags: String,
    pub owners: Vec<Uuid>,
    /// Always `null` (bookmarks are not part of this API).
    #[schema(value_type = Option<Uuid>)]
    pub bookmark_id: Option<Uuid>,
}

impl From<FaqRowRow> for FaqRow {
    fn from(r: FaqRowRow) -> Self {
        FaqRow {
            id: r.id,
            kb_id: r.kb_id,
            question: r.question,
            answer: r.answer,
            description: r.description,
            category: r.category,
            tags: r.tags.join(", "),
            owners: r.owners,
            bookmark_id: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FaqRowsPage {
    pub data: Vec<FaqRow>,
    pub meta: PageMeta,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FaqsQuery {
    /// A category name (any case).
    pub category: Option<String>,
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
}

/// E35: one page of the question/answer rows of the FAQs the caller may see: newest FAQ first,
/// each FAQ's rows in order.
#[utoipa::path(get, path = "/api/faqs", tag = "WorkDrive",
    params(("category" = Option<String>, Query), ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = FaqRowsPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_faqs(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<FaqsQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let filter = KbFilter { id: None, category: non_blank(q.category) };
    let (rows, total) = read::faq_rows(&st.pool, reader, &filter, offset, per_page).await?;
    let data = rows.into_iter().map(FaqRow::from).collect();
    Ok(axum::Json(FaqRowsPage { data, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

/// An FAQ's head as E36/E37 answer it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaqKbOut {
    pub id: Uuid,
    pub name: String,
    pub owners: Vec<UserSummary>,
    pub expiry: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub is_published: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QaOut {
    pub id: Uuid,
    pub question: String,
    pub answer: String,
    pub description: Option<String>,
}

/// The permissions an FAQ was given (the request's `Permissions`, every member present).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionsOut {
    pub public: bool,
    pub friends: bool,
    pub team: bool,
    pub only_me: bool,
    pub users: Vec<Uuid>,
    pub groups: Vec<Uuid>,
    pub locations: Vec<Uuid>,
    pub tagged_users: Vec<Uuid>,
}

impl From<Audience> for PermissionsOut {
    fn from(a: Audience) -> Self {
        let ids = |v: Vec<domain::UserId>| v.into_iter().map(|u| u.0).collect();
        PermissionsOut {
            public: a.public,
            friends: a.friends,
            team: a.team,
            only_me: a.only_me,
            users: ids(a.users),
            groups: a.groups,
            locations: a.locations,
            tagged_users: ids(a.tagged_users),
        }
    }
}

/// E36/E37's answer: the stored FAQ.
#[derive(Debug, Serialize, ToSchema)]
pub struct Faq {
    pub kb: FaqKbOut,
    pub qas: Vec<QaOut>,
    pub permissions: PermissionsOut,
}

async fn answer(st: AppState, reader: Reader, id: Uuid, status: StatusCode) -> Result<Response, ApiError> {
    let (kb, rows) = read::faq(&st.pool, reader, id).await?.ok_or(ApiError::Internal)?;
    let named = Named::load(&st, reader, kb.owners.clone(), vec![]).await?;
    let audience: Audience = serde_json::from_value(kb.audience).map_err(|_| ApiError::Internal)?;
    let faq = Faq {
        kb: FaqKbOut {
            id: kb.id,
            owners: owners(&named, &kb.owners),
            name: kb.name,
            expiry: kb.expiry,
            tags: kb.tags,
            category: kb.category,
            is_published: kb.published,
            created_by: kb.author,
            created_at: kb.created_at,
            updated_at: kb.updated_at,
        },
        qas: rows.into_iter().map(|r| QaOut { id: r.id, question: r.question, answer: r.answer, description: r.description }).collect(),
        permissions: audience.into(),
    };
    Ok((status, axum::Json(faq)).into_response())
}

/// One question and its answer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QaInput {
    /// Required on a new row.
    #[schema(min_length = 1, max_length = 1000)]
    pub question: Option<String>,
    /// Required on a new row.
    #[schema(min_length = 1, max_length = 10000)]
    pub answer: Option<String>,
    /// Blank or `null` means none.
    #[schema(max_length = 5000)]
    pub description: Option<String>,
}

impl QaInput {
    fn new_row(self) -> Qa {
        Qa {
            id: Uuid::new_v4(),
            question: self.question.unwrap_or_default(),
            answer: self.answer.unwrap_or_default(),
            description: self.description,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateFaqBody {
    pub kb: Option<KbHeadInput>,
    /// At least one row.
    #[schema(min_items = 1, max_items = 200)]
    pub qas: Option<Vec<QaInput>>,
    pub permissions: Option<Permissions>,
}

/// E36: a new FAQ with its rows; an unknown `kb.category` is created for the FAQ module.
#[utoipa::path(post, path = "/api/faqs", tag = "WorkDrive", request_body = CreateFaqBody, params(("publish" = Option<bool>, Query)),
    responses((status = 201, body = Faq), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_faq(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Query(q, _): Query<PublishQuery>,
    dialect::Json(body, _): Json<CreateFaqBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let published = publish_flag(q.publish.as_deref())?.unwrap_or(false);
    let audience = audience(body.permissions)?;
    let new = body.kb.unwrap_or_default().into_new(caller.user_id, published);
    let qas: Vec<Qa> = body.qas.unwrap_or_default().into_iter().map(QaInput::new_row).collect();
    let refs = References {
        audience: Some(audience.clone()),
        users: new.owners,
        category: new.category.map(|c| (ModuleCode::Faq, c)),
        ..Default::default()
    };
    let ctx = ctx?;
    let (id, org, author) = (Uuid::new_v4(), domain::OrgId(reader.org), caller.user_id);
    let command = |r: Resolved| {
        let data = FaqKb { head: KbHead { category_id: r.category, ..new.head.clone() }, qas: qas.clone() };
        ItemCommand::Create { id, org_id: org, author, data, audience: audience.clone() }
    };
    let committed = run::<FaqKbAggregate, FaqKb>(&st.store, &ctx, org, id, true, &refs, command).await?;
    Ok(st.respond(&ctx, committed, |st, r| answer(st, reader, r.id, StatusCode::CREATED)).await?)
}

/// A change to one row of this FAQ.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QaUpdateInput {
    pub id: Uuid,
    /// Absent or `null` keeps.
    #[schema(max_length = 1000)]
    pub question: Option<String>,
    /// Absent or `null` keeps.
    #[schema(max_length = 10000)]
    pub answer: Option<String>,
    /// Absent keeps; `null` or blank clears.
    #[schema(value_type = Option<String>, max_length = 5000)]
    #[serde(default)]
    pub description: Patch<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateFaqBody {
    pub kb: Option<KbPatchInput>,
    /// Rows of this FAQ to change (alias `updatedQas`).
    #[serde(rename = "updatedQAs", alias = "updatedQas")]
    pub updated_qas: Option<Vec<QaUpdateInput>>,
    /// Rows to add (aliases `newQAs`, `qas`).
    #[serde(rename = "newQas", alias = "newQAs", alias = "qas")]
    pub new_qas: Option<Vec<QaInput>>,
    /// Rows of this FAQ to remove.
    pub remove_question_ids: Option<Vec<Uuid>>,
    /// Used when `kb.permissions` is absent; `null` means the whole org.
    #[schema(value_type = Option<Permissions>)]
    #[serde(default)]
    pub permissions: Patch<Permissions>,
}

/// E37: changes an FAQ and its rows (its author or an org admin). Rows are removed, then
/// changed, then added; an FAQ left without rows is a 400.
#[utoipa::path(patch, path = "/api/faqs/{id}", tag = "WorkDrive", request_body = UpdateFaqBody,
    params(("id" = Uuid, Path, description = "the FAQ (kb) id"), ("publish" = Option<bool>, Query)),
    responses((status = 200, body = Faq), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_faq(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(raw): Path<String>,
    dialect::Query(q, _): Query<PublishQuery>,
    dialect::Json(body, _): Json<UpdateFaqBody>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let flat = KbPatchInput { permissions: body.permissions, ..Default::default() };
    let change = KbPatchInput::merge(body.kb, flat, publish_flag(q.publish.as_deref())?)?;
    let refs = References {
        audience: change.audience.clone(),
        users: change.owners,
        category: change.category.map(|c| (ModuleCode::Faq, c)),
        ..Default::default()
    };
    let updated = body
        .updated_qas
        .unwrap_or_default()
        .into_iter()
        .map(|u| QaChange { id: u.id, question: u.question, answer: u.answer, description: u.description })
        .collect();
    let patch = FaqKbPatch {
        head: change.head,
        updated,
        added: body.new_qas.unwrap_or_default().into_iter().map(QaInput::new_row).collect(),
        removed: body.remove_question_ids.unwrap_or_default(),
    };
    let (id, actor) = changeable(&st, &caller, &raw, "faq").await?;
    let ctx = ctx?;
    let command = |r: Resolved| {
        let mut patch = patch.clone();
        if let Some(c) = r.category {
            patch.head.category_id = Patch::Set(c);
        }
        ItemCommand::Update { actor, patch, audience: change.audience.clone() }
    };
    let committed = run::<FaqKbAggregate, FaqKb>(&st.store, &ctx, actor.org, id, false, &refs, command).await?;
    Ok(st.respond(&ctx, committed, |st, r| answer(st, reader, r.id, StatusCode::OK)).await?)
}

/// E38: deletes an FAQ and its rows (its author or an org admin); `id` is the FAQ (kb) id.
#[utoipa::path(delete, path = "/api/faqs/{id}", tag = "WorkDrive", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_faq(State(st): State<AppState>, write: Write, Path(raw): Path<String>) -> Result<Response, Error> {
    delete::<FaqKbAggregate, FaqKb>(st, write, &raw, "faq").await
}
