use domain::organization::{AuthMethod, NewOrganization, OrganizationAggregate, OrganizationCommand, OrganizationEvent, OrganizationPatch};
use domain::security_group::{builtin_id, NewSecurityGroup, SecurityGroupAggregate, SecurityGroupCommand, SecurityGroupKind};
use domain::user::{NewUser, Profile, Role, UserAggregate, UserCommand, UserEvent};
use domain::{DomainError, OrgId, TokenId, UserId};
use esrs::Aggregate;
use uuid::Uuid;

use super::{email_claim, hash_password, login_claim};
use crate::results::*;
use crate::secrets;
use crate::store::{Claim, CredentialWrite, PendingStream, Plan};
use crate::{CommandContext, CommandError, Committed, Store, StoreError};

#[derive(Debug, Clone)]
pub struct AdminInput {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreateOrganization {
    pub name: String,
    pub parent_org_id: Option<OrgId>,
    pub auth_method: AuthMethod,
    pub admin: AdminInput,
}

/// Creates the organization, its admin user, its two security groups (`Administrators`, with the
/// admin in it, and `Users`) and the admin's first access token, atomically.
/// Returns the token secret (absent when this is an idempotent replay: it is never stored).
pub async fn create_organization(
    store: &Store,
    ctx: &CommandContext,
    input: CreateOrganization,
) -> Result<(Committed<OrgCreated>, Option<String>), CommandError> {
    let created_by = ctx.actor.ok_or_else(|| DomainError::Forbidden("only the super admin may create organizations".into()))?;
    let org_id = OrgId(Uuid::now_v7());
    let admin_id = UserId(Uuid::now_v7());
    let token_id = TokenId(Uuid::now_v7());
    let secret = secrets::new_token();
    let password_hash = hash_password(input.admin.password.clone()).await?;
    let number = store.next_number().await?;
    let (admins_id, users_id) = (builtin_id(org_id, SecurityGroupKind::Administrators), builtin_id(org_id, SecurityGroupKind::Users));
    let committed = store
        .execute(ctx, || async {
            if let Some(parent) = input.parent_org_id {
                let (p, _) = store.load::<OrganizationAggregate>(parent.0).await?;
                if p.is_none() {
                    return Err(DomainError::NotFound("parent_org_id").into());
                }
            }
            let org_events = OrganizationAggregate::handle_command(
                &None,
                OrganizationCommand::Create(NewOrganization {
                    id: org_id,
                    name: input.name.clone(),
                    parent_org_id: input.parent_org_id,
                    auth_method: input.auth_method.clone(),
                    admin_user_id: admin_id,
                    created_by,
                }),
            )?;
            let Some(OrganizationEvent::OrganizationCreated { subdomain, .. }) = org_events.first() else {
                return Err(CommandError::Store(StoreError::Codec(domain::EventCodecError(
                    "create emitted no OrganizationCreated".into(),
                ))));
            };
            let subdomain = subdomain.clone();
            let new_admin = NewUser {
                id: admin_id,
                org_id: Some(org_id),
                number,
                email: input.admin.email.clone(),
                login: None,
                first_name: input.admin.first_name.clone(),
                last_name: input.admin.last_name.clone(),
                role: Role::OrgAdmin,
                profile: Profile { security_group: Some(admins_id), ..Profile::default() },
                created_by: Some(created_by),
                with_password: password_hash.is_some(),
                supervisor_email: None,
                default_security_group: None,
                blocked: false,
            };
            let mut user_events = UserAggregate::handle_command(&None, UserCommand::Create(new_admin)).map_err(admin_field)?;
            let state = user_events.iter().cloned().fold(None, UserAggregate::apply_event);
            user_events.extend(UserAggregate::handle_command(
                &state,
                UserCommand::IssueToken { token_id, expires_at: None, revoke_others: false },
            )?);
            let Some(UserEvent::UserCreated { email, login, .. }) = user_events.first() else {
                return Err(CommandError::Store(StoreError::Codec(domain::EventCodecError("create emitted no UserCreated".into()))));
            };
            let (email, login) = (email.clone(), login.clone());
            let group = |id, kind: SecurityGroupKind| -> Result<Vec<_>, DomainError> {
                let mut events = SecurityGroupAggregate::handle_command(
                    &None,
                    SecurityGroupCommand::Create(NewSecurityGroup {
                        id,
                        org_id,
                        name: kind.default_name().unwrap_or_default().to_string(),
                        kind,
                        created_by: Some(created_by),
                    }),
                )?;
                if kind == SecurityGroupKind::Administrators {
                    let state = events.iter().cloned().fold(None, SecurityGroupAggregate::apply_event);
                    events.extend(SecurityGroupAggregate::handle_command(
                        &state,
                        SecurityGroupCommand::AddMember { actor: Some(created_by), user_id: admin_id },
                    )?);
                }
                Ok(events)
            };
            let admins_events = group(admins_id, SecurityGroupKind::Administrators)?;
            let users_events = group(users_id, SecurityGroupKind::Users)?;
            let mut credentials = vec![CredentialWrite::IssueToken {
                token_hash: secrets::token_hash(&secret),
                token_id,
                user_id: admin_id,
                expires_at: None,
            }];
            if let Some(h) = &password_hash {
                credentials.push(CredentialWrite::SetPassword { user_id: admin_id, password_hash: h.clone() });
            }
            Ok(Plan {
                streams: vec![
                    PendingStream::new(org_id.0, Some(org_id.0), 0, &org_events)?,
                    PendingStream::new(admins_id, Some(org_id.0), 0, &admins_events)?,
                    PendingStream::new(users_id, Some(org_id.0), 0, &users_events)?,
                    PendingStream::new(admin_id.0, Some(org_id.0), 0, &user_events)?,
                ],
                claims: vec![
                    Claim { scope: Uuid::nil(), kind: "subdomain", value: subdomain.as_str().to_string(), owner: org_id.0 },
                    email_claim(org_id, &email, admin_id.0),
                    login_claim(org_id, &login, admin_id.0),
                ],
                releases: vec![],
                credentials,
                result: OrgCreated { org_id, admin_user_id: admin_id, token_id },
            })
        })
        .await?;
    let secret = (!committed.is_replay).then_some(secret);
    Ok((committed, secret))
}

/// The admin's fields arrive nested under `admin` in WorkDrive's body.
fn admin_field(e: DomainError) -> DomainError {
    match e {
        DomainError::Invalid { field, message } => DomainError::Invalid { field: format!("admin.{field}"), message },
        other => other,
    }
}

pub async fn update_organization(
    store: &Store,
    ctx: &CommandContext,
    org_id: OrgId,
    patch: OrganizationPatch,
) -> Result<Committed<OrgRef>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    store
        .execute(ctx, || async {
            if ctx.org_id != Some(org_id) {
                return Err(DomainError::NotFound("organization").into());
            }
            if let domain::patch::Patch::Set(f) = patch.file_id {
                super::media::check_file(store, org_id, f, "file_id").await?;
            }
            let (state, version) = store.load::<OrganizationAggregate>(org_id.0).await?;
            let events =
                OrganizationAggregate::handle_command(&state, OrganizationCommand::Update { actor, patch: Box::new(patch.clone()) })?;
            Ok(Plan { streams: vec![PendingStream::new(org_id.0, Some(org_id.0), version, &events)?], ..Plan::new(OrgRef { org_id }) })
        })
        .await
}
