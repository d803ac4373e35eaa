//! SSO entries and quick links (WorkDrive E74). A location or department level names a live unit
//! of the caller's org (400 otherwise); only org admins create admin, location and department
//! entries.

use domain::sso::{SsoAggregate, SsoCommand, SsoInput, SsoLevel};
use domain::{DomainError, OrgId};
use uuid::Uuid;

use super::membership::{Batch, Streams};
use crate::results::*;
use crate::store::Plan;
use crate::{CommandContext, CommandError, Committed, Store};

/// E74: creates one entry at `level`. `by_admin` says whether the caller is an org admin.
pub async fn create_sso(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    level: SsoLevel,
    input: SsoInput,
    by_admin: bool,
) -> Result<Committed<SsoRef>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    let id = Uuid::now_v7();
    store
        .execute(ctx, || async {
            // The decide checks rights first (a member learns nothing about which units exist),
            // then the fields; then the unit must be live in the caller's org.
            let mut entries: Streams<SsoAggregate> = Streams::new();
            entries.fresh(id);
            entries.decide(id, SsoCommand::Create { id, org_id: org, level, input: input.clone(), created_by: actor, by_admin })?;
            let mut b = Batch::new(store, org, ctx.actor);
            match level {
                SsoLevel::Location(l) if !b.location_live(l).await? => {
                    return Err(DomainError::invalid("location_id", format!("no location {l} in this organization")).into());
                }
                SsoLevel::Department(d) if !b.department_live(d).await? => {
                    return Err(DomainError::invalid("department_id", format!("no department {d} in this organization")).into());
                }
                _ => {}
            }
            if let Some(file) = input.file_id {
                super::media::check_file(store, org, file, "file_id").await?;
            }
            Ok(Plan { streams: entries.pending(org)?, ..Plan::new(SsoRef { sso_id: id }) })
        })
        .await
}
