use chrono::{DateTime, Utc};
use domain::user::{NewUser, Profile, Role, User, UserAggregate, UserCommand, UserEvent, UserPatch};
use domain::{DomainError, OrgId, TokenId, UserId};
use esrs::Aggregate;
use serde_json::json;
use uuid::Uuid;

use super::membership::Batch;
use super::{email_claim, hash_password, login_claim, same_org};
use domain::patch::Patch;
use crate::secrets;
use crate::store::{CredentialWrite, PendingStream, Plan};
use crate::{CommandContext, CommandError, Committed, Store};

/// The fixed stream id of the one super admin, so concurrent first starts cannot create two.
pub const SUPER_ADMIN_ID: UserId = UserId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001));

#[derive(Debug, Clone)]
pub struct CreateUser {
    pub email: String,
    pub login: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub profile: Profile,
    pub password: Option<String>,
}

/// Loads a live user of the caller's organization, for references like `reportsTo`.
pub async fn load_live(store: &Store, org: Option<OrgId>, id: UserId, what: &'static str) -> Result<(User, i32), CommandError> {
    let (state, version) = store.load::<UserAggregate>(id.0).await?;
    match state {
        Some(u) if !u.deleted && (org.is_none() || u.org_id == org) => Ok((u, version)),
        _ => Err(DomainError::NotFound(what).into()),
    }
}

async fn check_references(store: &Store, org: OrgId, reports_to: Option<UserId>, teams: &[UserId]) -> Result<(), CommandError> {
    if let Some(boss) = reports_to {
        load_live(store, Some(org), boss, "reportsTo").await?;
    }
    for t in teams {
        load_live(store, Some(org), *t, "addAdditionalTeams").await?;
    }
    Ok(())
}

pub async fn create_user(store: &Store, ctx: &CommandContext, org: OrgId, input: CreateUser) -> Result<Committed, CommandError> {
    let id = UserId(Uuid::now_v7());
    let password_hash = hash_password(input.password.clone()).await?;
    let number = store.next_number().await?;
    store
        .execute(ctx, || async {
            check_references(store, org, input.profile.reports_to, &input.profile.additional_teams).await?;
            let new = NewUser {
                id,
                org_id: Some(org),
                number,
                email: input.email.clone(),
                login: input.login.clone(),
                first_name: input.first_name.clone(),
                last_name: input.last_name.clone(),
                role: input.role,
                profile: input.profile.clone(),
                created_by: ctx.actor,
                with_password: password_hash.is_some(),
            };
            let events = UserAggregate::handle_command(&None, UserCommand::Create(new))?;
            let Some(UserEvent::UserCreated { email, login, .. }) = events.first() else {
                return Err(CommandError::Store(crate::StoreError::Codec(domain::EventCodecError("create emitted no UserCreated".into()))));
            };
            // The new user joins their department (as head when asked) and location on those
            // streams too, in this same append.
            let created = events.iter().cloned().fold(None, UserAggregate::apply_event);
            let mut b = Batch::new(store, org, ctx.actor);
            if let Some(mut user) = created {
                let (department, head) = (user.department.take(), std::mem::take(&mut user.is_department_head));
                let location = user.location.take();
                b.department_change(&user, department.map_or(Patch::Keep, Patch::Set), Patch::Set(head), "department", "isDepartmentHead").await?;
                b.location_change(&user, location.map_or(Patch::Keep, Patch::Set), "location").await?;
            }
            let mut streams = vec![PendingStream::new(id.0, Some(org.0), 0, &events)?];
            streams.extend(b.pending()?);
            Ok(Plan {
                claims: vec![email_claim(org, email, id.0), login_claim(org, login, id.0)],
                credentials: password_hash
                    .iter()
                    .map(|h| CredentialWrite::SetPassword { user_id: id, password_hash: h.clone() })
                    .collect(),
                streams,
                result: json!({ "user_id": id, "number": number }),
                ..Plan::default()
            })
        })
        .await
}

pub async fn update_user(store: &Store, ctx: &CommandContext, org: OrgId, id: UserId, patch: UserPatch) -> Result<Committed, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<UserAggregate>(id.0).await?;
            same_org(state.as_ref().and_then(|u| u.org_id), Some(org), "user")?;
            let reports_to = match patch.reports_to {
                domain::patch::Patch::Set(b) => Some(b),
                _ => None,
            };
            check_references(store, org, reports_to, &patch.add_additional_teams).await?;
            let user = state.as_ref().filter(|u| !u.deleted).ok_or(DomainError::NotFound("user"))?;
            // Department and location changes go to those streams too, so their member lists and
            // heads agree with the user; a head who leaves stops being head (never the last one).
            let mut b = Batch::new(store, org, ctx.actor);
            let (department, is_department_head) =
                b.department_change(user, patch.department.clone(), patch.is_department_head.clone(), "department", "isDepartmentHead").await?;
            let location = b.location_change(user, patch.location.clone(), "location").await?;
            let patch = UserPatch { department, is_department_head, location, ..patch.clone() };
            let events = UserAggregate::handle_command(&state, UserCommand::Update { actor, patch })?;
            let mut streams = vec![PendingStream::new(id.0, Some(org.0), version, &events)?];
            streams.extend(b.pending()?);
            Ok(Plan {
                streams,
                result: json!({ "user_id": id }),
                ..Plan::default()
            })
        })
        .await
}

/// Soft delete: the user is archived, their tokens revoked, their email and login freed.
pub async fn delete_user(store: &Store, ctx: &CommandContext, org: OrgId, id: UserId) -> Result<Committed, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<UserAggregate>(id.0).await?;
            same_org(state.as_ref().and_then(|u| u.org_id), Some(org), "user")?;
            let events = UserAggregate::handle_command(&state, UserCommand::Delete { actor })?;
            let user = state.as_ref().ok_or(DomainError::NotFound("user"))?;
            // A deleted user leaves their department and location (the last head cannot go).
            let mut b = Batch::new(store, org, ctx.actor);
            b.department_change(user, Patch::Clear, Patch::Set(false), "id", "id").await?;
            b.location_change(user, Patch::Clear, "id").await?;
            let mut streams = vec![PendingStream::new(id.0, Some(org.0), version, &events)?];
            streams.extend(b.pending()?);
            let credentials = events
                .iter()
                .filter_map(|e| match e {
                    UserEvent::AccessTokenRevoked { token_id } => Some(CredentialWrite::RevokeToken { token_id: *token_id }),
                    _ => None,
                })
                .collect();
            Ok(Plan {
                streams,
                releases: vec![email_claim(org, &user.email, id.0), login_claim(org, &user.login, id.0)],
                credentials,
                result: json!({ "user_id": id }),
                ..Plan::default()
            })
        })
        .await
}

/// Issues an access token for a user of `org` (or the super admin when `org` is `None`).
/// With `revoke_others`, the user's earlier tokens stop working in the same transaction.
/// `secret` lets the bootstrap install a configured token; otherwise a random one is made.
pub async fn issue_token(
    store: &Store,
    ctx: &CommandContext,
    org: Option<OrgId>,
    id: UserId,
    expires_at: Option<DateTime<Utc>>,
    revoke_others: bool,
    secret: Option<String>,
) -> Result<(Committed, Option<String>), CommandError> {
    let token_id = TokenId(Uuid::now_v7());
    let secret = secret.unwrap_or_else(secrets::new_token);
    let hash = secrets::token_hash(&secret);
    let committed = store
        .execute(ctx, || async {
            let (state, version) = store.load::<UserAggregate>(id.0).await?;
            if org.is_some() {
                same_org(state.as_ref().and_then(|u| u.org_id), org, "user")?;
            }
            let events = UserAggregate::handle_command(&state, UserCommand::IssueToken { token_id, expires_at, revoke_others })?;
            let mut credentials: Vec<CredentialWrite> = events
                .iter()
                .filter_map(|e| match e {
                    UserEvent::AccessTokenRevoked { token_id } => Some(CredentialWrite::RevokeToken { token_id: *token_id }),
                    _ => None,
                })
                .collect();
            credentials.push(CredentialWrite::IssueToken { token_hash: hash.clone(), token_id, user_id: id, expires_at });
            let user_org = state.as_ref().and_then(|u| u.org_id).map(|o| o.0);
            Ok(Plan {
                streams: vec![PendingStream::new(id.0, user_org, version, &events)?],
                credentials,
                result: json!({ "user_id": id, "token_id": token_id }),
                ..Plan::default()
            })
        })
        .await?;
    let secret = (!committed.is_replay).then_some(secret);
    Ok((committed, secret))
}

pub async fn set_password(store: &Store, ctx: &CommandContext, org: Option<OrgId>, id: UserId, password: String) -> Result<Committed, CommandError> {
    let hash = hash_password(Some(password)).await?.unwrap_or_default();
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<UserAggregate>(id.0).await?;
            if org.is_some() {
                same_org(state.as_ref().and_then(|u| u.org_id), org, "user")?;
            }
            let events = UserAggregate::handle_command(&state, UserCommand::SetPassword { actor: ctx.actor })?;
            let user_org = state.as_ref().and_then(|u| u.org_id).map(|o| o.0);
            Ok(Plan {
                streams: vec![PendingStream::new(id.0, user_org, version, &events)?],
                credentials: vec![CredentialWrite::SetPassword { user_id: id, password_hash: hash.clone() }],
                result: json!({ "user_id": id }),
                ..Plan::default()
            })
        })
        .await
}

/// First start: creates the super admin if missing and makes sure a token works for it.
/// With `configured` (ROSTER_BOOTSTRAP_TOKEN) that token is installed if new; otherwise a token is
/// generated only when the super admin is created, and returned to be printed once.
pub async fn bootstrap_super_admin(store: &Store, now: DateTime<Utc>, configured: Option<String>) -> Result<(Option<String>, Option<crate::Position>), CommandError> {
    let ctx = CommandContext::system("bootstrap", now);
    let created = store
        .execute(&ctx, || async {
            let (state, _) = store.load::<UserAggregate>(SUPER_ADMIN_ID.0).await?;
            if state.is_some() {
                return Ok(Plan::default());
            }
            let new = NewUser {
                id: SUPER_ADMIN_ID,
                org_id: None,
                number: 0,
                email: "superadmin@roster.invalid".into(),
                login: Some("superadmin".into()),
                first_name: "Super".into(),
                last_name: "Admin".into(),
                role: Role::SuperAdmin,
                profile: Profile::default(),
                created_by: None,
                with_password: false,
            };
            let events = UserAggregate::handle_command(&None, UserCommand::Create(new))?;
            Ok(Plan { streams: vec![PendingStream::new(SUPER_ADMIN_ID.0, None, 0, &events)?], ..Plan::default() })
        })
        .await?;
    let just_created = created.position.is_some();
    match configured {
        Some(secret) => {
            let known = sqlx::query_scalar!("SELECT token_id FROM access_tokens WHERE token_hash = $1", secrets::token_hash(&secret))
                .fetch_optional(store.pool())
                .await?;
            if known.is_some() {
                return Ok((None, created.position));
            }
            let (c, _) = issue_token(store, &ctx, None, SUPER_ADMIN_ID, None, false, Some(secret)).await?;
            Ok((None, c.position.or(created.position)))
        }
        None if just_created => {
            let (c, secret) = issue_token(store, &ctx, None, SUPER_ADMIN_ID, None, false, None).await?;
            Ok((secret, c.position))
        }
        None => Ok((None, created.position)),
    }
}
