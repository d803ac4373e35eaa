//! Enforcement templates (E40, and Roster's create): when to remind whom, by which medium.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use commands::handlers::library::{run, References};
use domain::audience::Audience;
use domain::library::{
    EnforcementTemplate as TemplateData, EnforcementTemplateAggregate, ItemCommand, Reminder as ReminderData, ReminderTimeUnit,
    ReminderType, MAX_LABEL_LEN, MAX_REMINDERS, MAX_TITLE_LEN,
};
use projections::content::library::{self as read, TemplateRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::content::reader;
use super::super::{paging, Caller, Error, ErrorBody, Json, PageMeta, Query, Write};
use super::newest_first;
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::AppState;

const _: () = assert!(MAX_TITLE_LEN == 200 && MAX_LABEL_LEN == 100 && MAX_REMINDERS == 50, "update the bounds of the template bodies");

/// The spec's `Reminder`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reminder {
    /// email, push, text or restrict.
    #[schema(value_type = Option<String>)]
    pub reminder_type: Option<String>,
    /// week, days, hours or minutes.
    #[schema(value_type = Option<String>)]
    pub reminder_time_unit: Option<String>,
    #[schema(minimum = 0, maximum = 2147483647)]
    pub reminder_time: Option<i64>,
    #[schema(max_length = 100)]
    pub ref_id: Option<String>,
    #[schema(max_length = 100)]
    pub org_content_template_id: Option<String>,
}

fn name<T: Serialize>(v: T) -> Option<String> {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string))
}

impl From<ReminderData> for Reminder {
    fn from(r: ReminderData) -> Self {
        Reminder {
            reminder_type: name(r.reminder_type),
            reminder_time_unit: name(r.reminder_time_unit),
            reminder_time: Some(r.reminder_time.into()),
            ref_id: r.ref_id,
            org_content_template_id: r.org_content_template_id,
        }
    }
}

/// One of `enum`'s lower-case names, required; a 400 naming `field` otherwise.
fn parse_enum<T: serde::de::DeserializeOwned>(field: &str, raw: Option<&str>, known: &str) -> Result<T, ApiError> {
    let raw =
        raw.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| ApiError::invalid(field, format!("is required: one of {known}")))?;
    serde_json::from_value(serde_json::Value::String(raw.to_lowercase()))
        .map_err(|_| ApiError::invalid(field, format!("'{raw}' is not one of {known}")))
}

impl Reminder {
    fn data(self, i: usize) -> Result<ReminderData, ApiError> {
        let f = |name: &str| format!("reminders[{i}].{name}");
        let time = self.reminder_time.ok_or_else(|| ApiError::invalid(f("reminderTime"), "is required"))?;
        let reminder_time = i32::try_from(time).map_err(|_| ApiError::invalid(f("reminderTime"), "must be between 0 and 2147483647"))?;
        Ok(ReminderData {
            reminder_type: parse_enum::<ReminderType>(&f("reminderType"), self.reminder_type.as_deref(), "email, push, text, restrict")?,
            reminder_time_unit: parse_enum::<ReminderTimeUnit>(
                &f("reminderTimeUnit"),
                self.reminder_time_unit.as_deref(),
                "week, days, hours, minutes",
            )?,
            reminder_time,
            ref_id: self.ref_id,
            org_content_template_id: self.org_content_template_id,
        })
    }
}

/// The spec's `EnforcementTemplate`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnforcementTemplate {
    pub id: Uuid,
    pub title: String,
    pub system_event: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub sub_type: Option<String>,
    pub reminders: Vec<Reminder>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<TemplateRow> for EnforcementTemplate {
    fn from(t: TemplateRow) -> Self {
        let reminders: Vec<ReminderData> = serde_json::from_value(t.reminders).unwrap_or_default();
        EnforcementTemplate {
            id: t.id,
            title: t.title,
            system_event: t.system_event,
            kind: t.kind,
            sub_type: t.sub_kind,
            reminders: reminders.into_iter().map(Reminder::from).collect(),
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplatesPage {
    pub notification_templates: Vec<EnforcementTemplate>,
    pub meta: PageMeta,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TemplatesQuery {
    /// `DESC` (the default: newest first) or `ASC`, by creation.
    pub sort_direction: Option<String>,
    pub cur_page: Option<String>,
    pub per_page: Option<String>,
}

/// E40: one page of the organization's enforcement templates.
#[utoipa::path(get, path = "/api/enforcement-templates", tag = "WorkDrive",
    params(("sort_direction" = Option<String>, Query), ("cur_page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = TemplatesPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_templates(
    State(st): State<AppState>,
    dialect::Caller(caller, _): Caller,
    dialect::Query(q, _): Query<TemplatesQuery>,
) -> Result<Response, Error> {
    let reader = reader(&caller)?;
    let newest = newest_first(q.sort_direction.as_deref(), true)?;
    let (cur_page, per_page, offset) = paging(q.cur_page.as_deref(), q.per_page.as_deref())?;
    let (rows, total) = read::templates(&st.pool, reader, None, newest, offset, per_page).await?;
    let notification_templates = rows.into_iter().map(EnforcementTemplate::from).collect();
    Ok(axum::Json(TemplatesPage { notification_templates, meta: PageMeta::new(cur_page, per_page, total) }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTemplateBody {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 100)]
    pub system_event: Option<String>,
    #[schema(max_length = 100)]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[schema(max_length = 100)]
    pub sub_type: Option<String>,
    #[schema(max_items = 50)]
    pub reminders: Option<Vec<Reminder>>,
}

/// Roster (DESIGN §11, org admin): a new enforcement template, seen by the whole organization.
#[utoipa::path(post, path = "/api/enforcement-templates", tag = "WorkDrive", request_body = CreateTemplateBody,
    responses((status = 201, body = EnforcementTemplate), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_template(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreateTemplateBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let reader = reader(&caller)?;
    let reminders = body.reminders.unwrap_or_default();
    if reminders.len() > MAX_REMINDERS {
        return Err(ApiError::invalid("reminders", format!("must have at most {MAX_REMINDERS} entries")).into());
    }
    let reminders = reminders.into_iter().enumerate().map(|(i, r)| r.data(i)).collect::<Result<Vec<_>, _>>()?;
    let data = TemplateData {
        title: body.title.unwrap_or_default(),
        system_event: body.system_event,
        kind: body.kind,
        sub_kind: body.sub_type,
        reminders,
    };
    let ctx = ctx?;
    let (id, author) = (Uuid::new_v4(), caller.user_id);
    let command = |_| ItemCommand::Create { id, org_id: org, author, data: data.clone(), audience: Audience::public() };
    let committed =
        run::<EnforcementTemplateAggregate, TemplateData>(&st.store, &ctx, org, id, true, &References::default(), command).await?;
    Ok(st
        .respond(&ctx, committed, |st, r| async move {
            let (mut rows, _) = read::templates(&st.pool, reader, Some(r.id), true, 0, 1).await?;
            let template = rows.pop().map(EnforcementTemplate::from).ok_or(ApiError::Internal)?;
            Ok((StatusCode::CREATED, axum::Json(template)).into_response())
        })
        .await?)
}
