//! Bulk user commands (WorkDrive E06 bulk-create, E07 bulk-delete): each call is ONE append — all
//! events of all rows, all unique claims, in one transaction — so a call is all or nothing.
//!
//! Every row goes through the single-user decision (`user::decide_create`, the domain's delete);
//! a row's rejection is re-labelled with its index (`data[3].email: …`, `id[2]: user not found`).

use std::collections::{HashMap, HashSet};

use domain::user::{UserAggregate, UserCommand, UserEvent};
use domain::values::MAX_BULK_ITEMS;
use domain::{DomainError, OrgId, UserId};
use esrs::Aggregate;
use uuid::Uuid;

use super::membership::Batch;
use super::user::{decide_create, load_live_many, load_many, referenced, CreateUser};
use super::{email_claim, login_claim, same_org};
use crate::results::*;
use crate::store::{Claim, CredentialWrite, PendingStream, Plan};
use crate::{CommandContext, CommandError, Committed, Store, StoreError};

/// The field a row's claim came from.
fn claim_field(kind: &str, row: &CreateUser) -> &'static str {
    match kind {
        "login" if row.login.is_some() => "user_name",
        _ => "email",
    }
}

fn row_error(i: usize, e: CommandError) -> CommandError {
    match e {
        CommandError::Rejected(d) => CommandError::Rejected(d.within(&format!("data[{i}]"))),
        other => other,
    }
}

/// Checks the size of a bulk call against `MAX_BULK_ITEMS`.
pub fn check_count(field: &str, n: usize, what: &str) -> Result<(), DomainError> {
    if n == 0 {
        return Err(DomainError::invalid(field, format!("must hold at least one {what}")));
    }
    if n > MAX_BULK_ITEMS {
        return Err(DomainError::invalid(field, format!("must hold at most {MAX_BULK_ITEMS} {what}s per call, got {n}")));
    }
    Ok(())
}

/// The claims among `claims` already held by someone, as `(kind, value)`: one primary-key probe
/// per claim (the `LIMIT` keeps the probe a nested loop; a hash join would read every claim of
/// the org).
async fn taken_claims(store: &Store, org: OrgId, claims: &[Claim]) -> Result<HashSet<(String, String)>, StoreError> {
    let kinds: Vec<&str> = claims.iter().map(|c| c.kind).collect();
    let values: Vec<&str> = claims.iter().map(|c| c.value.as_str()).collect();
    let rows = sqlx::query!(
        "SELECT t.kind AS \"kind!\", t.value AS \"value!\" FROM UNNEST($2::text[], $3::text[]) AS t(kind, value) \
         CROSS JOIN LATERAL (SELECT 1 FROM unique_claims uc WHERE uc.scope = $1 AND uc.kind = t.kind AND uc.value = t.value LIMIT 1) AS held",
        org.0,
        &kinds as &[&str],
        &values as &[&str],
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(|r| (r.kind, r.value)).collect())
}

/// The first row whose claim is already held, as a row-labelled rejection.
fn first_taken(rows: &[CreateUser], claims: &[(usize, Claim)], taken: &HashSet<(String, String)>) -> Option<CommandError> {
    claims.iter().find(|(_, c)| taken.contains(&(c.kind.to_string(), c.value.clone()))).map(|(i, c)| {
        let field = claim_field(c.kind, &rows[*i]);
        CommandError::Rejected(DomainError::invalid(format!("data[{i}].{field}"), "is already taken by another user"))
    })
}

/// E06: creates up to `MAX_BULK_ITEMS` users in one transaction. Passwords are not accepted here
/// (hashing a thousand of them would hold the call for many seconds); rows carry none.
/// The result is `{"user_ids": [...]}` in row order.
pub async fn bulk_create_users(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    rows: Vec<CreateUser>,
) -> Result<Committed<UserIds>, CommandError> {
    check_count("data", rows.len(), "user")?;
    if let Some(i) = rows.iter().position(|r| r.password.is_some()) {
        return Err(DomainError::invalid(
            format!("data[{i}].password"),
            "is not accepted by bulk-create; create the user with POST /api/users/add to set one",
        )
        .into());
    }
    let ids: Vec<UserId> = rows.iter().map(|_| UserId(Uuid::now_v7())).collect();
    let numbers = store.next_numbers(rows.len()).await?;
    if numbers.len() != rows.len() {
        return Err(CommandError::Store(StoreError::Codec(domain::EventCodecError("the number sequence answered short".into()))));
    }
    let plan = || async {
        let mut units = Batch::new(store, org, ctx.actor);
        let mut rows = rows.clone();
        for row in &mut rows {
            units.default_supervisors(&mut row.profile).await?;
        }
        let wanted: Vec<UserId> = rows.iter().flat_map(|r| referenced(&r.profile)).collect();
        let refs = load_live_many(store, org, &wanted).await?;
        let mut streams = Vec::with_capacity(rows.len());
        let mut claims: Vec<(usize, Claim)> = Vec::with_capacity(rows.len() * 2);
        let mut seen: HashMap<(&'static str, String), usize> = HashMap::new();
        let default_group = units.default_security_group().await?;
        for (i, row) in rows.iter().enumerate() {
            let (events, row_claims) =
                decide_create(ctx, org, ids[i], numbers[i], row, false, &refs, default_group).map_err(|e| row_error(i, e))?;
            units.join_units(&events, &format!("data[{i}].")).await?;
            for c in row_claims {
                if let Some(first) = seen.get(&(c.kind, c.value.clone())) {
                    let field = claim_field(c.kind, row);
                    let first_field = claim_field(c.kind, &rows[*first]);
                    return Err(DomainError::invalid(
                        format!("data[{i}].{field}"),
                        format!("duplicates data[{first}].{first_field} in this call"),
                    )
                    .into());
                }
                // A row's login equal to its own email is one value, claimed once per kind.
                seen.insert((c.kind, c.value.clone()), i);
                claims.push((i, c));
            }
            streams.push(PendingStream::new(ids[i].0, Some(org.0), 0, &events)?);
        }
        streams.extend(units.pending()?);
        let only_claims: Vec<Claim> = claims.iter().map(|(_, c)| c.clone()).collect();
        Ok((Plan { streams, claims: only_claims, ..Plan::new(UserIds { user_ids: ids.clone() }) }, claims, rows))
    };
    // The append refuses a taken value by itself (`unique_claims_pkey`), so the claims are looked
    // up only then, to name the first row holding one: a call that succeeds costs no lookup.
    let result = store.execute(ctx, || async { plan().await.map(|(p, _, _)| p) }).await;
    match result {
        Err(CommandError::Rejected(DomainError::Taken { field })) => {
            let (plan, claims, rows) = plan().await?;
            Err(first_taken(&rows, &claims, &taken_claims(store, org, &plan.claims).await?)
                .unwrap_or(CommandError::Rejected(DomainError::Taken { field })))
        }
        other => other,
    }
}

/// E07: soft-deletes up to `MAX_BULK_ITEMS` users of `org` in one transaction (each as
/// `DELETE /api/users/{id}` would: archived, tokens revoked, email and login freed). A repeated id
/// counts once. An id that is not a live user of `org` rejects the whole call (404, naming it).
pub async fn bulk_delete_users(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    ids: Vec<UserId>,
) -> Result<Committed<UserIds>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    check_count("id", ids.len(), "user id")?;
    let mut seen = HashSet::new();
    let ids: Vec<(usize, UserId)> = ids.into_iter().enumerate().filter(|(_, id)| seen.insert(*id)).collect();
    store
        .execute(ctx, || async {
            let uuids: Vec<Uuid> = ids.iter().map(|(_, id)| id.0).collect();
            let mut states = load_many(store, &uuids).await?;
            let mut plan = Plan::new(UserIds { user_ids: ids.iter().map(|(_, id)| *id).collect() });
            let mut units = Batch::new(store, org, ctx.actor);
            for (i, id) in &ids {
                let not_found = || DomainError::NotFoundAt { field: format!("id[{i}]"), what: "user" };
                let (state, version) = states.remove(&id.0).unwrap_or((None, 0));
                same_org(state.as_ref().and_then(|u| u.org_id), Some(org), "user").map_err(|_| not_found())?;
                let events = UserAggregate::handle_command(&state, UserCommand::Delete { actor }).map_err(|e| match e {
                    DomainError::NotFound(_) => not_found(),
                    DomainError::Forbidden(m) => DomainError::Forbidden(format!("id[{i}]: {m}")),
                    other => other.within(&format!("id[{i}]")),
                })?;
                let user = state.as_ref().ok_or_else(not_found)?;
                units.leave_units(user, &format!("id[{i}]")).await?;
                plan.credentials.extend(events.iter().filter_map(|e| match e {
                    UserEvent::AccessTokenRevoked { token_id } => Some(CredentialWrite::RevokeToken { token_id: *token_id }),
                    _ => None,
                }));
                plan.releases.push(email_claim(org, &user.email, id.0));
                plan.releases.push(login_claim(org, &user.login, id.0));
                plan.streams.push(PendingStream::new(id.0, Some(org.0), version, &events)?);
            }
            plan.streams.extend(units.pending()?);
            Ok(plan)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_named_in_the_message() {
        assert!(check_count("data", MAX_BULK_ITEMS, "user").is_ok());
        let err = check_count("data", MAX_BULK_ITEMS + 1, "user").unwrap_err();
        assert_eq!(err.to_string(), format!("data: must hold at most {MAX_BULK_ITEMS} users per call, got {}", MAX_BULK_ITEMS + 1));
        assert!(check_count("id", 0, "user id").is_err());
    }
}
