use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::user::{NewUser, Profile, Role, User, UserAggregate, UserCommand, UserEvent, UserPatch};
use domain::values::Email;
use domain::{DomainError, DomainEvent, OrgId, TokenId, UserId};
use esrs::Aggregate;
use uuid::Uuid;

use super::membership::Batch;
use super::{email_claim, hash_password, login_claim, same_org};
use crate::results::*;
use crate::secrets;
use crate::store::{Claim, CredentialWrite, PendingStream, Plan};
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
    /// Created BLOCKED (SCIM `active: false`).
    pub blocked: bool,
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
        load_live(store, Some(org), boss, "reports_to").await?;
    }
    for t in teams {
        load_live(store, Some(org), *t, "add_additional_teams").await?;
    }
    Ok(())
}

/// Users' states (`None` for a stream with no events) and stream versions, in one query.
pub async fn load_many(store: &Store, ids: &[Uuid]) -> Result<HashMap<Uuid, (Option<User>, i32)>, CommandError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        "SELECT stream_id, version, event_type, schema_rev, payload FROM events \
         WHERE stream_id = ANY($1) AND stream_type = $2 ORDER BY stream_id, version",
        &ids,
        <UserEvent as DomainEvent>::STREAM_TYPE,
    )
    .fetch_all(store.pool())
    .await?;
    let mut states: HashMap<Uuid, (Option<User>, i32)> = HashMap::new();
    for row in rows {
        let event = UserEvent::from_parts(&row.event_type, row.schema_rev, row.payload).map_err(crate::StoreError::from)?;
        let entry = states.entry(row.stream_id).or_insert((None, 0));
        entry.0 = UserAggregate::apply_event(entry.0.take(), event);
        entry.1 = row.version;
    }
    Ok(states)
}

/// Live users of `org` among `ids`, each with its stream version, loaded in one query. Missing,
/// deleted and other tenants' users are simply absent.
pub async fn load_live_many(store: &Store, org: OrgId, ids: &[UserId]) -> Result<HashMap<UserId, (User, i32)>, CommandError> {
    let ids: Vec<Uuid> = ids.iter().map(|u| u.0).collect();
    Ok(load_many(store, &ids)
        .await?
        .into_iter()
        .filter_map(|(id, (state, version))| match state {
            Some(u) if !u.deleted && u.org_id == Some(org) => Some((UserId(id), (u, version))),
            _ => None,
        })
        .collect())
}

/// The users a create refers to (`reportsTo`, `addAdditionalTeams`), to load before deciding.
pub(crate) fn referenced(profile: &Profile) -> impl Iterator<Item = UserId> + '_ {
    profile.reports_to.iter().chain(profile.additional_teams.iter()).copied()
}

/// Checks a create's references against the loaded live users; returns the supervisor's email.
fn resolve_references(refs: &HashMap<UserId, (User, i32)>, profile: &Profile) -> Result<Option<Email>, DomainError> {
    let boss = match profile.reports_to {
        Some(b) => Some(refs.get(&b).map(|(u, _)| u.email.clone()).ok_or(DomainError::NotFound("reports_to"))?),
        None => None,
    };
    if profile.additional_teams.iter().any(|t| !refs.contains_key(t)) {
        return Err(DomainError::NotFound("add_additional_teams"));
    }
    Ok(boss)
}

/// The single-create decision, shared by `create_user` and the bulk create: checks the references,
/// lets the domain decide, and names the unique claims (email and login in the org).
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide_create(
    ctx: &CommandContext,
    org: OrgId,
    id: UserId,
    number: i64,
    input: &CreateUser,
    with_password: bool,
    refs: &HashMap<UserId, (User, i32)>,
    default_security_group: Option<Uuid>,
) -> Result<(Vec<UserEvent>, Vec<Claim>), CommandError> {
    let supervisor_email = resolve_references(refs, &input.profile)?;
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
        with_password,
        supervisor_email,
        default_security_group,
        blocked: input.blocked,
    };
    let events = UserAggregate::handle_command(&None, UserCommand::Create(new))?;
    let Some(UserEvent::UserCreated { email, login, .. }) = events.first() else {
        return Err(CommandError::Store(crate::StoreError::Codec(domain::EventCodecError("create emitted no UserCreated".into()))));
    };
    let claims = vec![email_claim(org, email, id.0), login_claim(org, login, id.0)];
    Ok((events, claims))
}

pub async fn create_user(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    input: CreateUser,
) -> Result<Committed<UserCreated>, CommandError> {
    let id = UserId(Uuid::now_v7());
    let password_hash = hash_password(input.password.clone()).await?;
    let number = store.next_number().await?;
    store
        .execute(ctx, || async {
            let mut b = Batch::new(store, org, ctx.actor);
            let mut input = input.clone();
            b.default_supervisors(&mut input.profile).await?;
            let refs = load_live_many(store, org, &referenced(&input.profile).collect::<Vec<_>>()).await?;
            let default_group = b.default_security_group().await?;
            let (events, claims) = decide_create(ctx, org, id, number, &input, password_hash.is_some(), &refs, default_group)?;
            // The new user joins their department (as head when asked), location and security
            // group (`Users` unless named) on those streams too, in this same append.
            b.join_units(&events, "").await?;
            let mut streams = vec![PendingStream::new(id.0, Some(org.0), 0, &events)?];
            streams.extend(b.pending()?);
            Ok(Plan {
                claims,
                credentials: password_hash.iter().map(|h| CredentialWrite::SetPassword { user_id: id, password_hash: h.clone() }).collect(),
                streams,
                ..Plan::new(UserCreated { user_id: id, number })
            })
        })
        .await
}

pub async fn update_user(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: UserId,
    patch: UserPatch,
) -> Result<Committed<UserRef>, CommandError> {
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
            // Pictures are uploaded files of the org (uploads never change once recorded).
            if let domain::patch::Patch::Set(f) = patch.file_id {
                super::media::check_file(store, org, f, "file_id").await?;
            }
            if let domain::patch::Patch::Set(f) = patch.cover_file_id {
                super::media::check_file(store, org, f, "cover_file_id").await?;
            }
            let user = state.as_ref().filter(|u| !u.deleted).ok_or(DomainError::NotFound("user"))?;
            // Department and location changes go to those streams too, so their member lists and
            // heads agree with the user; a head who leaves stops being head (never the last one).
            let mut b = Batch::new(store, org, ctx.actor);
            let (department, is_department_head) =
                b.department_change(user, patch.department.clone(), patch.is_department_head, "department", "is_department_head").await?;
            let location = b.location_change(user, patch.location.clone(), "location").await?;
            let patch = UserPatch { department, is_department_head, location, ..patch.clone() };
            let events = UserAggregate::handle_command(&state, UserCommand::Update { actor, patch })?;
            // A new email or login takes its claim and frees the old one in this same transaction.
            let (mut claims, mut releases) = (vec![], vec![]);
            if let Some(UserEvent::UserUpdated { patch: UserPatch { email: Some(new_email), .. }, .. }) = events.first() {
                if new_email.normalized() != user.email.normalized() {
                    claims.push(email_claim(org, new_email, id.0));
                    releases.push(email_claim(org, &user.email, id.0));
                }
            }
            if let Some(UserEvent::UserUpdated { patch: UserPatch { login: Some(new_login), .. }, .. }) = events.first() {
                if new_login.normalized() != user.login.normalized() {
                    claims.push(login_claim(org, new_login, id.0));
                    releases.push(login_claim(org, &user.login, id.0));
                }
            }
            let mut streams = vec![PendingStream::new(id.0, Some(org.0), version, &events)?];
            streams.extend(b.pending()?);
            Ok(Plan { claims, releases, streams, ..Plan::new(UserRef { user_id: id }) })
        })
        .await
}

/// Soft delete: the user is archived, their tokens revoked, their email and login freed.
pub async fn delete_user(store: &Store, ctx: &CommandContext, org: OrgId, id: UserId) -> Result<Committed<UserRef>, CommandError> {
    let actor = ctx.actor.ok_or_else(|| DomainError::Forbidden("sign in first".into()))?;
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<UserAggregate>(id.0).await?;
            same_org(state.as_ref().and_then(|u| u.org_id), Some(org), "user")?;
            let events = UserAggregate::handle_command(&state, UserCommand::Delete { actor })?;
            let user = state.as_ref().ok_or(DomainError::NotFound("user"))?;
            let mut b = Batch::new(store, org, ctx.actor);
            b.leave_units(user, "id").await?;
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
                ..Plan::new(UserRef { user_id: id })
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
) -> Result<(Committed<TokenIssued>, Option<String>), CommandError> {
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
                ..Plan::new(TokenIssued { user_id: id, token_id })
            })
        })
        .await?;
    let secret = (!committed.is_replay).then_some(secret);
    Ok((committed, secret))
}

pub async fn set_password(
    store: &Store,
    ctx: &CommandContext,
    org: Option<OrgId>,
    id: UserId,
    password: String,
) -> Result<Committed<UserRef>, CommandError> {
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
                ..Plan::new(UserRef { user_id: id })
            })
        })
        .await
}

/// First start: creates the super admin if missing and makes sure a token works for it.
/// With `configured` (ROSTER_BOOTSTRAP_TOKEN) that token is installed if new; otherwise a token is
/// generated only when the super admin is created, and returned to be printed once.
pub async fn bootstrap_super_admin(
    store: &Store,
    now: DateTime<Utc>,
    configured: Option<String>,
) -> Result<(Option<String>, Option<crate::Position>), CommandError> {
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
                supervisor_email: None,
                default_security_group: None,
                blocked: false,
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

/// Sunbird: records a user's progress in one learning activity (there is no public write API for
/// it; tests and importers call this).
pub async fn record_activity_progress(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    id: UserId,
    activity_id: String,
    activity_type: String,
    completed_count: i64,
) -> Result<Committed<UserRef>, CommandError> {
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<UserAggregate>(id.0).await?;
            same_org(state.as_ref().and_then(|u| u.org_id), Some(org), "user")?;
            let command = UserCommand::RecordActivityProgress {
                activity_id: activity_id.clone(),
                activity_type: activity_type.clone(),
                completed_count,
            };
            let events = UserAggregate::handle_command(&state, command)?;
            Ok(Plan { streams: vec![PendingStream::new(id.0, Some(org.0), version, &events)?], ..Plan::new(UserRef { user_id: id }) })
        })
        .await
}
