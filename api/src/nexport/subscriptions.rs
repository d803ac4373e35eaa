//! Subscriptions and custom profile fields.

use std::collections::BTreeMap;

use axum::response::Response;
use chrono::{DateTime, Utc};
use commands::handlers::nexport as nx_cmd;
use domain::permission::Permission;
use domain::profile_field::{FieldType, FieldValue};
use domain::subscription::SubscriptionStatus;
use domain::{OrgId, UserId};
use projections::nexport::{self as nx, NxSubscription, SubscriptionFilter};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{asker, ok, page, permitted, require, tenant_user, ApiErrorEntity, ApiResponseBase, Call, NxError};
use crate::kernel::error::ApiError;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SubscriptionResponse {
    pub subscription_id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub disabled: bool,
    pub status: String,
    /// Set once the expiry date has passed and the expiry worker recorded it.
    pub expired: bool,
    pub utc_expiration_date: Option<DateTime<Utc>>,
    pub utc_created_date: DateTime<Utc>,
    pub api_error_entity: ApiErrorEntity,
}

impl From<NxSubscription> for SubscriptionResponse {
    fn from(s: NxSubscription) -> Self {
        SubscriptionResponse {
            subscription_id: s.id,
            user_id: s.user_id,
            org_id: s.org_id,
            disabled: s.disabled,
            status: s.status,
            expired: s.expired,
            utc_expiration_date: s.expires_at,
            utc_created_date: s.created_at,
            api_error_entity: ApiErrorEntity::ok(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CreateSubscriptionResponse {
    pub subscription_id: Uuid,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EnableDisableResponse {
    pub disabled: bool,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SubscriptionStatusResponse {
    pub subscription_id: Uuid,
    pub current_status: String,
    pub previous_status: String,
    pub utc_status_date: Option<DateTime<Utc>>,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CustomProfileFieldResponse {
    pub field_id: Uuid,
    pub org_id: Uuid,
    pub key: String,
    pub name: String,
    /// `Text`, `Number`, `Boolean` or `DateTime`.
    #[serde(rename = "type")]
    pub field_type: String,
    pub api_error_entity: ApiErrorEntity,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CustomProfileFieldValueResponse {
    pub subscription_id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub key: String,
    /// The value as text; date-times in UTC (RFC 3339).
    pub value: String,
    pub utc_updated_date: DateTime<Utc>,
    pub api_error_entity: ApiErrorEntity,
}

fn not_found() -> NxError {
    ApiError::NotFound("subscription not found".into()).into()
}

/// A subscription the caller may act on with `perm` (in its org or an ancestor).
async fn subscription_for(
    st: &AppState,
    caller: &crate::kernel::auth::Principal,
    id: Uuid,
    perm: Permission,
) -> Result<NxSubscription, NxError> {
    let s = nx::subscription_by_id(&st.pool, id).await?.ok_or_else(not_found)?;
    require(st, caller, s.org_id, perm, "subscription").await?;
    Ok(s)
}

pub(super) async fn create_subscription(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (org, user) = (p.uuid("org_id")?, p.uuid("user_id")?);
    let expires_at = p.opt_datetime("utc_expiration_date")?;
    require(&st, &caller, org, Permission::AddSubscriptions, "organization").await?;
    tenant_user(&st, &caller, user).await?;
    let ctx = call.context(Some(&caller))?;
    let committed = nx_cmd::create_subscription(&st.store, &ctx, OrgId(org), UserId(user), expires_at).await?;
    Ok(st
        .respond(&ctx, committed, |_, result| async move {
            let subscription_id = result.subscription_id;
            Ok(ok(CreateSubscriptionResponse { subscription_id, api_error_entity: ApiErrorEntity::ok() }))
        })
        .await?)
}

pub(super) async fn get_subscription(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let s = match (p.opt_uuid("subscription_id")?, p.opt_uuid("user_id")?, p.opt_uuid("org_id")?) {
        (Some(id), _, _) => nx::subscription_by_id(&st.pool, id).await?,
        (None, Some(user), Some(org)) => nx::subscription_of(&st.pool, user, org).await?,
        _ => return Err(ApiError::invalid("subscription_id", "subscription_id, or user_id and org_id, is required").into()),
    }
    .ok_or_else(not_found)?;
    require(&st, &caller, s.org_id, Permission::ViewSubscriptions, "subscription").await?;
    Ok(ok(SubscriptionResponse::from(s)))
}

async fn search(st: &AppState, mut filter: SubscriptionFilter, pg: i64, per_page: i64) -> Result<Response, NxError> {
    filter.visible_orgs.sort_unstable();
    filter.visible_orgs.dedup();
    let (rows, total) = nx::search_subscriptions(&st.pool, &filter, per_page, pg * per_page).await?;
    Ok(page(rows.into_iter().map(SubscriptionResponse::from).collect(), total, pg, per_page))
}

pub(super) async fn get_subscriptions(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (pg, per_page) = p.paging()?;
    let user = match (p.opt_uuid("user_id")?, p.opt_str("login")?) {
        (Some(id), _) => id,
        (None, Some(login)) => {
            nx::user_by_login(&st.pool, caller.org()?.0, &login).await?.ok_or_else(|| ApiError::NotFound("user not found".into()))?.id
        }
        (None, None) => return Err(ApiError::invalid("user_id", "user_id or login is required").into()),
    };
    let visible_orgs = permitted(&st, &caller, Permission::ViewSubscriptions).await?;
    search(&st, SubscriptionFilter { visible_orgs, user_ids: Some(vec![user]), ..SubscriptionFilter::default() }, pg, per_page).await
}

pub(super) async fn search_subscriptions(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (pg, per_page) = p.paging()?;
    let filter = SubscriptionFilter {
        visible_orgs: permitted(&st, &caller, Permission::ViewSubscriptions).await?,
        user_ids: p.opt_uuid_list("user_ids")?,
        org_ids: p.opt_uuid_list("org_ids")?,
        expires_before: p.opt_datetime("utc_expires_before")?,
        expires_after: p.opt_datetime("utc_expires_after")?,
        created_before: p.opt_datetime("utc_created_before")?,
        created_after: p.opt_datetime("utc_created_after")?,
    };
    search(&st, filter, pg, per_page).await
}

pub(super) async fn enable_disable_subscription(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let (id, disable) = (p.uuid("subscription_id")?, p.bool("disable")?);
    subscription_for(&st, &caller, id, Permission::UpdateSubscriptions).await?;
    let ctx = call.context(Some(&caller))?;
    let committed = nx_cmd::set_subscription_disabled(&st.store, &ctx, id, disable).await?;
    Ok(st
        .respond(&ctx, committed, |_, result| async move {
            Ok(ok(EnableDisableResponse { disabled: result.disabled, api_error_entity: ApiErrorEntity::ok() }))
        })
        .await?)
}

pub(super) async fn set_subscription_status(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let id = p.uuid("subscription_id")?;
    let raw = p.str_or_empty("status")?.ok_or_else(|| ApiError::invalid("status", "is required (empty means the default status)"))?;
    subscription_for(&st, &caller, id, Permission::UpdateSubscriptions).await?;
    let status = SubscriptionStatus::parse(&raw).ok_or_else(|| {
        let names: Vec<&str> = SubscriptionStatus::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::NotFound(format!("subscription status '{raw}' not found; one of {}", names.join(", ")))
    })?;
    let ctx = call.context(Some(&caller))?;
    let committed = nx_cmd::set_subscription_status(&st.store, &ctx, id, status).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            let s = nx::subscription_by_id(&st.pool, id).await?.ok_or_else(|| ApiError::NotFound("subscription not found".into()))?;
            Ok(ok(SubscriptionStatusResponse {
                subscription_id: id,
                current_status: s.status,
                previous_status: result.previous_status,
                utc_status_date: s.status_set_at,
                api_error_entity: ApiErrorEntity::ok(),
            }))
        })
        .await?)
}

pub(super) async fn get_custom_profile_fields(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let org = p.uuid("org_id")?;
    let field = p.opt_uuid("field_id")?;
    if !nx::access(&st.pool, asker(&caller)?, org, &[]).await?.visible {
        return Err(ApiError::NotFound("organization not found".into()).into());
    }
    let fields = nx::profile_fields(&st.pool, org, field).await?;
    if field.is_some() && fields.is_empty() {
        return Err(ApiError::NotFound("custom profile field not found".into()).into());
    }
    Ok(ok(fields
        .into_iter()
        .map(|f| CustomProfileFieldResponse {
            field_id: f.id,
            org_id: f.org_id,
            key: f.key,
            name: f.name,
            field_type: f.field_type,
            api_error_entity: ApiErrorEntity::ok(),
        })
        .collect::<Vec<_>>()))
}

pub(super) async fn get_custom_profile_field_values(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    let key = p.str("key")?;
    let (subscription, user, org) = (p.opt_uuid("subscription_id")?, p.opt_uuid("user_id")?, p.opt_uuid("org_id")?);
    let mut orgs = permitted(&st, &caller, Permission::ViewUserProfiles).await?;
    if let Some(o) = org {
        require(&st, &caller, o, Permission::ViewUserProfiles, "organization").await?;
        orgs.retain(|x| *x == o);
    }
    let rows = nx::field_values(&st.pool, &orgs, &key, subscription, user).await?;
    let items: Vec<CustomProfileFieldValueResponse> = rows
        .into_iter()
        .filter_map(|r| {
            // Stored typed; shown as text with date-times in UTC.
            let value = serde_json::from_value::<FieldValue>(r.value).ok()?.render();
            Some(CustomProfileFieldValueResponse {
                subscription_id: r.subscription_id,
                user_id: r.user_id,
                org_id: r.org_id,
                key: r.key,
                value,
                utc_updated_date: r.updated_at,
                api_error_entity: ApiErrorEntity::ok(),
            })
        })
        .collect();
    Ok(ok(items))
}

pub(super) async fn set_custom_profile_field_values(st: AppState, call: Call) -> Result<Response, NxError> {
    let caller = call.caller(&st).await?;
    let p = &call.params;
    // The seed calls it the subscriber id; it is the subscription's id.
    let id = match p.opt_uuid("subscriber_id")? {
        Some(id) => id,
        None => p.uuid("subscription_id").map_err(|_| ApiError::invalid("subscriber_id", "is required"))?,
    };
    let values = p.string_map("custom_profile_field_values")?;
    let s = subscription_for(&st, &caller, id, Permission::EditUserProfiles).await?;
    let fields: BTreeMap<String, FieldType> = nx::profile_fields(&st.pool, s.org_id, None)
        .await?
        .into_iter()
        .filter_map(|f| Some((f.key, FieldType::parse("type", &f.field_type).ok()?)))
        .collect();
    let ctx = call.context(Some(&caller))?;
    let committed = nx_cmd::set_field_values(&st.store, &ctx, id, &fields, values).await?;
    Ok(st.respond(&ctx, committed, |_, _| async move { Ok(ok(ApiResponseBase { api_error_entity: ApiErrorEntity::ok() })) }).await?)
}

pub(super) mod doc {
    use std::collections::HashMap;

    use serde::Deserialize;
    use utoipa::ToSchema;
    use uuid::Uuid;

    use super::super::ApiResponseBase;
    use super::{
        CreateSubscriptionResponse, CustomProfileFieldResponse, CustomProfileFieldValueResponse, EnableDisableResponse,
        SubscriptionResponse, SubscriptionStatusResponse,
    };

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct CreateSubscriptionRequest {
        pub org_id: Uuid,
        pub user_id: Uuid,
        /// When the subscription expires; the expiry is recorded (and published) once it passes.
        pub utc_expiration_date: Option<chrono::DateTime<chrono::Utc>>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct SearchSubscriptionsRequest {
        pub page: Option<i64>,
        pub per_page: Option<i64>,
        pub user_ids: Option<Vec<Uuid>>,
        pub org_ids: Option<Vec<Uuid>>,
        pub utc_expires_before: Option<chrono::DateTime<chrono::Utc>>,
        pub utc_expires_after: Option<chrono::DateTime<chrono::Utc>>,
        pub utc_created_before: Option<chrono::DateTime<chrono::Utc>>,
        pub utc_created_after: Option<chrono::DateTime<chrono::Utc>>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct EnableDisableSubscriptionRequest {
        pub subscription_id: Uuid,
        /// `true` disables, `false` enables.
        pub disable: bool,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct SetSubscriptionStatusRequest {
        pub subscription_id: Uuid,
        /// Active, Pending, OnHold, Suspended, Cancelled or Completed; empty = the default (Active).
        pub status: String,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    pub struct SetCustomProfileFieldValuesRequest {
        /// The subscription's id.
        pub subscriber_id: Uuid,
        /// Key → value as text; `null` clears. A wrong type or unknown key is a 422 naming the key.
        pub custom_profile_field_values: HashMap<String, Option<String>>,
    }

    /// Creates a subscription (Add Subscriptions permission); a second one for the same user and
    /// org is refused.
    #[utoipa::path(post, path = "/api/v1/AdminApi/CreateSubscription", tag = "NexPort", request_body = CreateSubscriptionRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = CreateSubscriptionResponse), (status = 403, body = ApiResponseBase),
                  (status = 404, body = ApiResponseBase), (status = 422, body = ApiResponseBase)))]
    pub fn create_subscription() {}

    /// One subscription, by id or by user and org.
    #[utoipa::path(get, path = "/api/v1/AdminApi/GetSubscription", tag = "NexPort",
        params(("access_token" = String, Query), ("subscription_id" = Option<Uuid>, Query), ("user_id" = Option<Uuid>, Query), ("org_id" = Option<Uuid>, Query)),
        responses((status = 200, body = SubscriptionResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn get_subscription() {}

    /// A user's subscriptions, paged.
    #[utoipa::path(get, path = "/api/v1/AdminApi/GetSubscriptions", tag = "NexPort",
        params(("access_token" = String, Query), ("user_id" = Option<Uuid>, Query), ("login" = Option<String>, Query),
               ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
        responses((status = 200, body = Vec<SubscriptionResponse>), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn get_subscriptions() {}

    /// Subscriptions by users, orgs, expiry and creation dates, paged.
    #[utoipa::path(post, path = "/api/v1/AdminApi/SearchSubscriptions", tag = "NexPort", request_body = Option<SearchSubscriptionsRequest>,
        params(("access_token" = String, Query)),
        responses((status = 200, body = Vec<SubscriptionResponse>), (status = 403, body = ApiResponseBase), (status = 422, body = ApiResponseBase)))]
    pub fn search_subscriptions() {}

    /// Enables or disables a subscription (Update Subscriptions permission).
    #[utoipa::path(post, path = "/api/v1/AdminApi/EnableDisableSubscription", tag = "NexPort", request_body = EnableDisableSubscriptionRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = EnableDisableResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn enable_disable_subscription() {}

    /// Sets a subscription's status; answers the previous and current status and the date.
    #[utoipa::path(post, path = "/api/v1/AdminApi/SetSubscriptionStatus", tag = "NexPort", request_body = SetSubscriptionStatusRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = SubscriptionStatusResponse), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn set_subscription_status() {}

    /// The custom profile fields of an organization, or one by id.
    #[utoipa::path(get, path = "/api/v1/AdminApi/GetCustomProfileFields", tag = "NexPort",
        params(("access_token" = String, Query), ("org_id" = Uuid, Query), ("field_id" = Option<Uuid>, Query)),
        responses((status = 200, body = Vec<CustomProfileFieldResponse>), (status = 404, body = ApiResponseBase), (status = 422, body = ApiResponseBase)))]
    pub fn get_custom_profile_fields() {}

    /// Values of one custom field, DateTime values in UTC.
    #[utoipa::path(get, path = "/api/v1/AdminApi/GetCustomProfileFieldValues", tag = "NexPort",
        params(("access_token" = String, Query), ("key" = String, Query), ("subscription_id" = Option<Uuid>, Query),
               ("user_id" = Option<Uuid>, Query), ("org_id" = Option<Uuid>, Query)),
        responses((status = 200, body = Vec<CustomProfileFieldValueResponse>), (status = 403, body = ApiResponseBase),
                  (status = 404, body = ApiResponseBase), (status = 422, body = ApiResponseBase)))]
    pub fn get_custom_profile_field_values() {}

    /// Sets a subscription's custom field values, all or nothing.
    #[utoipa::path(post, path = "/api/v1/AdminApi/SetCustomProfileFieldValues", tag = "NexPort", request_body = SetCustomProfileFieldValuesRequest,
        params(("access_token" = String, Query)),
        responses((status = 200, body = ApiResponseBase), (status = 403, body = ApiResponseBase), (status = 404, body = ApiResponseBase),
                  (status = 422, body = ApiResponseBase)))]
    pub fn set_custom_profile_field_values() {}
}
