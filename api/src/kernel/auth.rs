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
    let now = chrono::Utc::now();
    // Taken before the read: a change applied meanwhile leaves the entry stale from the start.
    let generation = st.consistency.principals_generation();
    if let Some(p) = st.tokens.get(&hash, generation, now) {
        return Ok(p);
    }
    let p = projections::queries::principal_by_token_hash(&st.pool, &hash, now)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("invalid, expired or revoked access token".into()))?;
    let role = match p.role.as_str() {
        "super_admin" => Role::SuperAdmin,
        "org_admin" => Role::OrgAdmin,
        _ => Role::Member,
    };
    let principal = Principal { token_id: TokenId(p.token_id), user_id: UserId(p.user_id), org_id: p.org_id.map(OrgId), role };
    st.tokens.put(hash, principal.clone(), p.expires_at, generation);
    Ok(principal)
}

/// The principals of tokens in use, so that a request costs no database read to authenticate.
///
/// An entry stands for `principal_by_token_hash`'s answer for as long as that answer cannot have
/// changed, which is what keeps a cached token exactly as live as an uncached one:
/// - Everything the answer depends on changes by an event (`queries::may_change_principals`: a
///   revocation, a user's deletion, status, role or security group...) but the clock, and the
///   entry keeps the token's expiry and checks it on every use.
/// - An entry holds the `principals_generation` read *before* its database read. The read-your-
///   writes listener moves the generation on once such an event is applied and before it wakes
///   the write that appended it; so an entry read before the change never matches again, and the
///   write revoking a token answers only once this process refuses the token.
/// - Another process learns of the change from the projector's NOTIFY, a few milliseconds later:
///   the same window in which its read models lag, and closed by `Roster-Min-Position` like it.
///
/// Refusals are not cached: an unknown token always costs its read, and a token issued after a
/// refusal works at once.
#[derive(Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<Vec<u8>, Cached>>,
}

struct Cached {
    principal: Principal,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    generation: u64,
}

impl TokenCache {
    /// Tokens kept at most; past it, entries of older generations go, then all.
    pub const MAX_ENTRIES: usize = 10_000;

    fn get(&self, hash: &[u8], generation: u64, now: chrono::DateTime<chrono::Utc>) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let c = entries.get(hash)?;
        let live = c.generation == generation && c.expires_at.is_none_or(|at| at > now);
        live.then(|| c.principal.clone())
    }

    fn put(&self, hash: Vec<u8>, principal: Principal, expires_at: Option<chrono::DateTime<chrono::Utc>>, generation: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, c| c.generation == generation);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash, Cached { principal, expires_at, generation });
    }
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
