//! Command handlers: load what the decision needs, let the domain decide, plan the append.
//!
//! Ids and secrets are made before `Store::execute` so a conflict retry reuses them, and another
//! tenant's entity is reported as not found, exactly like a missing one.

pub mod calendar;
pub mod content;
pub mod conversations;
pub mod department;
pub mod group;
pub mod library;
pub mod location;
pub mod media;
pub(crate) mod membership;
pub mod nexport;
pub mod notification;
pub mod org_unit;
pub mod organization;
pub mod posts;
pub mod security_group;
pub mod sso;
pub mod tasks;
pub mod user;
pub mod user_bulk;

use domain::{DomainError, OrgId};
use uuid::Uuid;

use crate::store::Claim;

pub(crate) fn email_claim(org: OrgId, email: &domain::values::Email, owner: Uuid) -> Claim {
    Claim { scope: org.0, kind: "email", value: email.normalized(), owner }
}

pub(crate) fn login_claim(org: OrgId, login: &domain::values::Login, owner: Uuid) -> Claim {
    Claim { scope: org.0, kind: "login", value: login.normalized(), owner }
}

/// The entity exists in the caller's organization; anything else is "not found".
pub(crate) fn same_org(entity_org: Option<OrgId>, caller_org: Option<OrgId>, what: &'static str) -> Result<(), DomainError> {
    match caller_org {
        None => Ok(()),
        Some(org) if entity_org == Some(org) => Ok(()),
        Some(_) => Err(DomainError::NotFound(what)),
    }
}

/// Hashes a password on a blocking thread (argon2id takes tens of milliseconds of CPU).
pub(crate) async fn hash_password(password: Option<String>) -> Result<Option<String>, crate::CommandError> {
    let Some(pw) = password else { return Ok(None) };
    domain::values::check_password("password", &pw)?;
    let failed = |e: String| crate::CommandError::Store(crate::StoreError::Hashing(e));
    let hashed = tokio::task::spawn_blocking(move || crate::secrets::hash_password(&pw))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))?;
    Ok(Some(hashed))
}
