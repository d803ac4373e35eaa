//! Organizations (E08, E09) and access tokens (E10).

use super::*;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub status: String,
    pub subdomain: String,
    pub parent_org_id: Option<Uuid>,
    pub name: String,
    pub legal_name: String,
    pub websites: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub address: Option<serde_json::Value>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub industry: Option<String>,
    pub auth_method: String,
    pub file_id: Option<Uuid>,
    /// The org's logo or media (`fileId`), as the spec's `File`.
    pub file: Option<media::File>,
    /// Only in the answer to `POST /api/organization`: the new org admin's token, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

impl From<OrgRow> for Organization {
    fn from(o: OrgRow) -> Self {
        Organization {
            id: o.id,
            created_at: o.created_at,
            updated_at: o.updated_at,
            created_by: o.created_by,
            updated_by: o.updated_by,
            status: o.status,
            subdomain: o.subdomain,
            parent_org_id: o.parent_org_id,
            name: o.name,
            legal_name: o.legal_name,
            websites: o.websites.and_then(|w| serde_json::from_value(w).ok()),
            address: o.address,
            email: o.email,
            phone: o.phone,
            description: o.description,
            industry: o.industry,
            auth_method: o.auth_method,
            file_id: o.file_id,
            file: None,
            access_token: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminBody {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// Roster extension: lets the admin sign in with a password (PortSIP `/api/login`).
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AuthBody {
    #[schema(inline, example = "internal")]
    pub method: AuthMethod,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrganizationBody {
    pub name: String,
    pub admin: AdminBody,
    #[serde(default)]
    pub auth: Option<AuthBody>,
    #[serde(default)]
    pub parent_org_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOrganizationBody {
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub file_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = String)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = String)]
    pub legal_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub websites: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub address: Patch<Address>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub industry: Patch<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateAccessBody {
    #[schema(format = Uuid)]
    pub user_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    pub user_id: Uuid,
    pub token: String,
}

pub(super) async fn load_org(st: &AppState, id: Uuid) -> Result<OrgRow, ApiError> {
    queries::organization(&st.pool, id).await?.ok_or_else(|| ApiError::NotFound("organization not found".into()))
}

/// An organization as WorkDrive answers it: with its `file` rendered.
pub(super) async fn render_org(st: &AppState, row: OrgRow) -> Result<Organization, ApiError> {
    let file_id = row.file_id;
    let org_id = row.id;
    let mut org = Organization::from(row);
    if let Some(f) = file_id {
        org.file = media::files_by_id(st, org_id, &[f]).await?.remove(&f);
    }
    Ok(org)
}

/// E08: the super admin creates an organization with its admin; the answer carries the admin's token.
#[utoipa::path(post, path = "/api/organization", tag = "WorkDrive",
    request_body = CreateOrganizationBody,
    responses((status = 201, body = Organization), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_organization(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<CreateOrganizationBody>,
) -> Result<Response, Error> {
    caller.require_super_admin()?;
    let ctx = ctx?;
    let input = org_cmd::CreateOrganization {
        name: body.name,
        parent_org_id: body.parent_org_id.map(OrgId),
        auth_method: body.auth.map(|a| a.method).unwrap_or(AuthMethod::Internal),
        admin: org_cmd::AdminInput {
            first_name: body.admin.first_name,
            last_name: body.admin.last_name,
            email: body.admin.email,
            password: body.admin.password,
        },
    };
    let (committed, secret) = org_cmd::create_organization(&st.store, &ctx, input).await?;
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            let row = load_org(&st, result.org_id.0).await?;
            let mut org = render_org(&st, row).await?;
            org.access_token = secret;
            let mut resp = (StatusCode::CREATED, axum::Json(org)).into_response();
            resp.extensions_mut().insert(SecretBearing);
            Ok(resp)
        })
        .await?)
}

/// E09: the organization's creator updates it.
#[utoipa::path(patch, path = "/api/organization/{id}", tag = "WorkDrive",
    params(("id" = Uuid, Path)), request_body = UpdateOrganizationBody,
    responses((status = 200, body = Organization), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_organization(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    Path(id): Path<String>,
    dialect::Json(body, _): Json<UpdateOrganizationBody>,
) -> Result<Response, Error> {
    let id = dialect::uuid_path(&id, "organization")?;
    caller.org()?;
    let ctx = ctx?;
    let patch = OrganizationPatch {
        name: body.name.required("name")?,
        legal_name: body.legal_name.required("legalName")?,
        websites: body.websites,
        address: body.address,
        email: body.email,
        phone: body.phone,
        description: body.description,
        industry: body.industry,
        file_id: body.file_id,
    };
    let committed = org_cmd::update_organization(&st.store, &ctx, OrgId(id), patch).await?;
    Ok(st
        .respond(&ctx, committed, |st, _| async move {
            let row = load_org(&st, id).await?;
            Ok(axum::Json(render_org(&st, row).await?).into_response())
        })
        .await?)
}

/// E10: an org admin issues a new token for a user of the org; the user's older tokens are revoked.
#[utoipa::path(post, path = "/api/token/generate-access", tag = "WorkDrive",
    request_body = GenerateAccessBody,
    responses((status = 201, body = AccessToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn generate_access(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    dialect::Json(body, _): Json<GenerateAccessBody>,
) -> Result<Response, Error> {
    let org = caller.require_org_admin()?;
    let user_id = parse_id(&body.user_id, "userId")?;
    let ctx = ctx?;
    let (committed, secret) = user_cmd::issue_token(&st.store, &ctx, Some(org), UserId(user_id), None, true, None).await?;
    Ok(st
        .respond(&ctx, committed, |_, _| async move {
            let token = secret
                .ok_or_else(|| ApiError::Conflict("this Idempotency-Key already issued a token; a token is shown only once".into()))?;
            let mut resp = (StatusCode::CREATED, axum::Json(AccessToken { user_id, token })).into_response();
            resp.extensions_mut().insert(SecretBearing);
            Ok(resp)
        })
        .await?)
}
