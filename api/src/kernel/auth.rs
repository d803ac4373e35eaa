//! Tokens → principals. Every dialect finds the token in its own place (DESIGN §6) and then
//! calls `authenticate`; a token is valid in every dialect.

use axum::http::request::Parts;
use domain::user::Role;
use domain::{OrgId, TokenId, UserId};

use crate::kernel::error::ApiError;
use crate::AppState;

/// Who is calling.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub token_id: TokenId,
    pub user_id: UserId,
    pub org_id: Option<OrgId>,
    pub role: Role,
}

impl Principal {
    /// The caller's organization; the super admin has none and gets 403 on org-scoped routes.
    pub fn org(&self) -> Result<OrgId, ApiError> {
        self.org_id.ok_or_else(|| ApiError::Forbidden("the super admin belongs to no organization; use an organization's token".into()))
    }

    pub fn is_org_admin(&self) -> bool {
        self.role == Role::OrgAdmin
    }

    pub fn require_org_admin(&self) -> Result<OrgId, ApiError> {
        let org = self.org()?;
        if !self.is_org_admin() {
            return Err(ApiError::Forbidden("only an organization admin may do this".into()));
        }
        Ok(org)
    }

    pub fn require_super_admin(&self) -> Result<(), ApiError> {
        if self.role != Role::SuperAdmin {
            return Err(ApiError::Forbidden("only the super admin may do this".into()));
        }
        Ok(())
    }
}

/// `Authorization: Bearer <token>`.
pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_header(&parts.headers)
}

/// `Authorization: Bearer <token>` from a header map.
pub fn bearer_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty())
}

/// WorkDrive's `X-API-KEY`.
pub fn api_key(parts: &Parts) -> Option<&str> {
    parts.headers.get("x-api-key")?.to_str().ok().map(str::trim).filter(|t| !t.is_empty())
}

pub async fn authenticate(st: &AppState, token: Option<&str>) -> Result<Principal, ApiError> {
    let token = token.ok_or_else(|| ApiError::Unauthorized("missing access token".into()))?;
    let hash = commands::secrets::token_hash(token);
    let p = projections::queries::principal_by_token_hash(&st.pool, &hash, chrono::Utc::now())
        .await?
        .ok_or_else(|| ApiError::Unauthorized("invalid, expired or revoked access token".into()))?;
    let role = match p.role.as_str() {
        "super_admin" => Role::SuperAdmin,
        "org_admin" => Role::OrgAdmin,
        _ => Role::Member,
    };
    Ok(Principal { token_id: TokenId(p.token_id), user_id: UserId(p.user_id), org_id: p.org_id.map(OrgId), role })
}

/// The sign-in candidate whose argon2id hash `password` matches, checked off the async threads
/// (each check is deliberately CPU-heavy).
pub async fn match_password(
    candidates: Vec<projections::queries::LoginCandidate>,
    password: String,
) -> Result<Option<projections::queries::LoginCandidate>, ApiError> {
    tokio::task::spawn_blocking(move || candidates.into_iter().find(|c| commands::secrets::verify_password(&password, &c.password_hash)))
        .await
        .map_err(|_| ApiError::Internal)
}
