//! Users, their profile, status, credentials' lifecycle and access tokens.
//!
//! Secrets never appear here: a password change or a token issue is recorded as a fact with no
//! hash; the hashes live in command-side tables written in the same transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::patch::Patch;
use crate::values::{opt_text, optional_text, required_text, Email, Login, MAX_PERSON_NAME_LEN, MAX_TEXT_LEN};
use crate::{DomainError, OrgId, TokenId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Active,
    Archive,
    PreInvited,
    Invited,
    Blocked,
}

impl UserStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            UserStatus::Active => "ACTIVE",
            UserStatus::Archive => "ARCHIVE",
            UserStatus::PreInvited => "PRE_INVITED",
            UserStatus::Invited => "INVITED",
            UserStatus::Blocked => "BLOCKED",
        }
    }

    /// Archived and blocked users are locked out: their tokens and passwords stop working at once.
    pub fn may_sign_in(&self) -> bool {
        !matches!(self, UserStatus::Archive | UserStatus::Blocked)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SuperAdmin,
    OrgAdmin,
    Member,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::OrgAdmin => "org_admin",
            Role::Member => "member",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Restricted,
}

/// The profile fields a create carries (WorkDrive's onboarding form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    pub phone: Option<String>,
    pub designation: Option<String>,
    pub department: Option<uuid::Uuid>,
    pub location: Option<uuid::Uuid>,
    pub reports_to: Option<UserId>,
    pub is_department_head: bool,
    pub skills: Vec<String>,
    pub default_visibility: Option<Visibility>,
    pub security_group: Option<uuid::Uuid>,
    pub additional_teams: Vec<UserId>,
    pub additional_locations: Vec<uuid::Uuid>,
    pub external_user_id: Option<String>,
    /// NexPort's person fields; absent from WorkDrive-era events, hence the defaults.
    #[serde(default)]
    pub middle_name: Option<String>,
    #[serde(default)]
    pub title_prefix: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub contact: ContactInfo,
}

/// A postal address (NexPort `contact_info`); the phone number is the profile's `phone`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactInfo {
    #[serde(default)]
    pub address_line1: Option<String>,
    #[serde(default)]
    pub address_line2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
}

impl ContactInfo {
    fn validate(self, field: &str) -> Result<Self, DomainError> {
        let opt = |name: &str, v: Option<String>| opt_text(&format!("{field}.{name}"), v, MAX_PERSON_NAME_LEN);
        Ok(ContactInfo {
            address_line1: opt("address_line1", self.address_line1)?,
            address_line2: opt("address_line2", self.address_line2)?,
            city: opt("city", self.city)?,
            state: opt("state", self.state)?,
            country: opt("country", self.country)?,
            postal_code: opt("postal_code", self.postal_code)?,
        })
    }
}

/// WorkDrive E03 (b): with no `reportsTo`, the admins of the user's location — or, when it has
/// none, the heads of their department — become the boss: the first is `reportsTo`, the others
/// join `additional_teams`. The admins of `additional_locations` become supervisors too.
/// Everyone is listed in a stable order (ids), and nobody supervises themselves.
pub fn default_supervisors(
    profile: &mut Profile,
    location_admins: &[UserId],
    department_heads: &[UserId],
    additional_location_admins: &[UserId],
) {
    let mut extra: Vec<UserId> = Vec::new();
    if profile.reports_to.is_none() {
        let bosses = if location_admins.is_empty() { department_heads } else { location_admins };
        if let Some((first, rest)) = bosses.split_first() {
            profile.reports_to = Some(*first);
            extra.extend_from_slice(rest);
        }
    }
    extra.extend_from_slice(additional_location_admins);
    for s in extra {
        if Some(s) != profile.reports_to && !profile.additional_teams.contains(&s) {
            profile.additional_teams.push(s);
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub org_id: Option<OrgId>,
    pub number: i64,
    pub email: String,
    pub login: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub profile: Profile,
    pub created_by: Option<UserId>,
    /// Whether the command also sets a password (its hash is stored outside the event).
    pub with_password: bool,
    /// The email of `profile.reports_to`, as loaded by the handler: the onboarding notice names it
    /// when the notice goes to the supervisor.
    pub supervisor_email: Option<Email>,
    /// The group the user joins when `profile.security_group` is absent (the org's `Users`).
    /// The onboarding notice still counts `securityGroup` as missing: the client did not choose.
    pub default_security_group: Option<uuid::Uuid>,
    /// Created BLOCKED (a provisioning client's inactive user): no sign-in until unblocked.
    pub blocked: bool,
}

/// Who the onboarding notice of a new member is for (WorkDrive E03 side effect (a)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingRecipient {
    /// The profile is complete: the user is invited directly.
    User,
    /// The profile misses onboarding fields: the supervisor (`reportsTo`) completes them first.
    Supervisor,
    /// The profile misses onboarding fields and there is no supervisor: nobody is notified yet.
    Nobody,
}

/// WorkDrive's availability: 1 = ACTIVE, 0 = AWAY.
pub const MIN_AVAILABILITY: i32 = 0;
pub const MAX_AVAILABILITY: i32 = 1;

/// The onboarding fields whose absence sends the notice to the supervisor, in the client's names.
pub const ONBOARDING_FIELDS: [&str; 3] = ["securityGroup", "designation", "defaultVisibility"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub last_name: Option<String>,
    /// A new email moves the user's email claim in the same transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub email: Option<Email>,
    /// A new login (SCIM's `userName`) moves the user's login claim in the same transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub login: Option<Login>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub middle_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub title_prefix: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub nickname: Patch<String>,
    /// Present = replaces the whole address.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<ContactInfo>)]
    pub contact: Patch<ContactInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = UserStatus)]
    pub status: Option<UserStatus>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool)]
    pub is_expert: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i32)]
    pub availability: Option<i32>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub file_id: Patch<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub cover_file_id: Patch<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<UserId>)]
    pub reports_to: Patch<UserId>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub designation: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub bio: Patch<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool)]
    pub is_department_head: Option<bool>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub department: Patch<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub location: Patch<uuid::Uuid>,
    /// The user's security group (E71/E72 move users; the group stream mirrors it).
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub security_group: Patch<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_additional_teams: Vec<UserId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_additional_teams: Vec<UserId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_additional_locations: Vec<uuid::Uuid>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        *self == UserPatch::default()
    }
}

#[derive(Debug, Clone)]
pub enum UserCommand {
    Create(NewUser),
    Update { actor: UserId, patch: UserPatch },
    Delete { actor: UserId },
    SetPassword { actor: Option<UserId> },
    IssueToken { token_id: TokenId, expires_at: Option<DateTime<Utc>>, revoke_others: bool },
    RecordActivityProgress { activity_id: String, activity_type: String, completed_count: i64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum UserEvent {
    UserCreated {
        id: UserId,
        org_id: Option<OrgId>,
        number: i64,
        email: Email,
        login: Login,
        first_name: String,
        last_name: String,
        role: Role,
        status: UserStatus,
        profile: Profile,
        created_by: Option<UserId>,
    },
    UserUpdated {
        #[serde(flatten)]
        patch: UserPatch,
        updated_by: UserId,
    },
    UserDeleted {
        deleted_by: UserId,
    },
    UserPasswordSet {
        set_by: Option<UserId>,
    },
    AccessTokenIssued {
        token_id: TokenId,
        expires_at: Option<DateTime<Utc>>,
    },
    AccessTokenRevoked {
        token_id: TokenId,
    },
    /// Who is emailed about a new member's onboarding, and why: the notifier delivers it (when
    /// there is a recipient) and records the outcome on `notification::onboarding_stream_id` of
    /// this event's id. Carries no secret (no token, no password).
    UserOnboardingNoticeRecorded {
        recipient: OnboardingRecipient,
        recipient_user_id: Option<UserId>,
        recipient_email: Option<Email>,
        /// Which of `ONBOARDING_FIELDS` were missing (empty when the profile is complete).
        missing_fields: Vec<String>,
        reason: String,
    },
    /// Sunbird: how far the user got in one learning activity (feeds the group activity aggregates).
    UserActivityProgressRecorded {
        activity_id: String,
        activity_type: String,
        completed_count: i64,
    },
}

impl DomainEvent for UserEvent {
    const STREAM_TYPE: &'static str = "user";

    fn event_type(&self) -> &'static str {
        match self {
            UserEvent::UserCreated { .. } => "UserCreated",
            UserEvent::UserUpdated { .. } => "UserUpdated",
            UserEvent::UserDeleted { .. } => "UserDeleted",
            UserEvent::UserPasswordSet { .. } => "UserPasswordSet",
            UserEvent::AccessTokenIssued { .. } => "AccessTokenIssued",
            UserEvent::AccessTokenRevoked { .. } => "AccessTokenRevoked",
            UserEvent::UserOnboardingNoticeRecorded { .. } => "UserOnboardingNoticeRecorded",
            UserEvent::UserActivityProgressRecorded { .. } => "UserActivityProgressRecorded",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub org_id: Option<OrgId>,
    pub email: Email,
    pub login: Login,
    pub role: Role,
    pub status: UserStatus,
    pub deleted: bool,
    pub additional_teams: BTreeSet<UserId>,
    pub active_tokens: BTreeSet<TokenId>,
    /// Membership lives here; the department and location streams mirror it.
    pub department: Option<uuid::Uuid>,
    pub location: Option<uuid::Uuid>,
    pub is_department_head: bool,
    /// At most one security group; the group stream mirrors it.
    pub security_group: Option<uuid::Uuid>,
}

pub struct UserAggregate;

impl esrs::Aggregate for UserAggregate {
    const NAME: &'static str = "user";
    type State = Option<User>;
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            UserCommand::Create(new) => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("user"));
                }
                create(new)
            }
            UserCommand::Update { actor, patch } => {
                let user = live(state)?;
                let patch = validate_patch(user, patch)?;
                Ok(vec![UserEvent::UserUpdated { patch, updated_by: actor }])
            }
            UserCommand::Delete { actor } => {
                let user = live(state)?;
                if user.id == actor {
                    return Err(DomainError::Forbidden("a user cannot delete themselves".into()));
                }
                let mut events: Vec<UserEvent> =
                    user.active_tokens.iter().map(|t| UserEvent::AccessTokenRevoked { token_id: *t }).collect();
                events.push(UserEvent::UserDeleted { deleted_by: actor });
                Ok(events)
            }
            UserCommand::SetPassword { actor } => {
                live(state)?;
                Ok(vec![UserEvent::UserPasswordSet { set_by: actor }])
            }
            UserCommand::IssueToken { token_id, expires_at, revoke_others } => {
                let user = live(state)?;
                if !user.status.may_sign_in() {
                    return Err(DomainError::invalid("user_id", format!("user is {}", user.status.as_str())));
                }
                let mut events = Vec::new();
                if revoke_others {
                    events.extend(user.active_tokens.iter().map(|t| UserEvent::AccessTokenRevoked { token_id: *t }));
                }
                events.push(UserEvent::AccessTokenIssued { token_id, expires_at });
                Ok(events)
            }
            UserCommand::RecordActivityProgress { activity_id, activity_type, completed_count } => {
                live(state)?;
                if completed_count < 0 {
                    return Err(DomainError::invalid("completed_count", "must not be negative"));
                }
                Ok(vec![UserEvent::UserActivityProgressRecorded {
                    activity_id: crate::values::required_text("activity_id", &activity_id, crate::group::MAX_ACTIVITY_FIELD_LEN)?,
                    activity_type: crate::values::required_text("activity_type", &activity_type, crate::group::MAX_ACTIVITY_FIELD_LEN)?,
                    completed_count,
                }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match event {
            UserEvent::UserCreated { id, org_id, email, login, role, status, profile, .. } => Some(User {
                id,
                org_id,
                email,
                login,
                role,
                status,
                deleted: false,
                department: profile.department,
                location: profile.location,
                is_department_head: profile.is_department_head,
                security_group: profile.security_group,
                additional_teams: profile.additional_teams.into_iter().collect(),
                active_tokens: BTreeSet::new(),
            }),
            other => state.map(|mut user| {
                match other {
                    UserEvent::UserCreated { .. } => {}
                    UserEvent::UserUpdated { patch, .. } => {
                        if let Some(status) = patch.status {
                            user.status = status;
                        }
                        if let Some(email) = patch.email {
                            user.email = email;
                        }
                        if let Some(login) = patch.login {
                            user.login = login;
                        }
                        patch.department.apply_to(&mut user.department);
                        patch.location.apply_to(&mut user.location);
                        patch.security_group.apply_to(&mut user.security_group);
                        if let Some(h) = patch.is_department_head {
                            user.is_department_head = h;
                        }
                        user.additional_teams.extend(patch.add_additional_teams);
                        for t in &patch.remove_additional_teams {
                            user.additional_teams.remove(t);
                        }
                    }
                    UserEvent::UserDeleted { .. } => {
                        user.deleted = true;
                        user.status = UserStatus::Archive;
                    }
                    UserEvent::UserPasswordSet { .. }
                    | UserEvent::UserOnboardingNoticeRecorded { .. }
                    | UserEvent::UserActivityProgressRecorded { .. } => {}
                    UserEvent::AccessTokenIssued { token_id, .. } => {
                        user.active_tokens.insert(token_id);
                    }
                    UserEvent::AccessTokenRevoked { token_id } => {
                        user.active_tokens.remove(&token_id);
                    }
                }
                user
            }),
        }
    }
}

fn live(state: &Option<User>) -> Result<&User, DomainError> {
    match state {
        Some(u) if !u.deleted => Ok(u),
        _ => Err(DomainError::NotFound("user")),
    }
}

fn create(new: NewUser) -> Result<Vec<UserEvent>, DomainError> {
    let email = Email::parse("email", &new.email)?;
    let login = match &new.login {
        Some(l) => Login::parse("user_name", l)?,
        None => Login::parse("email", email.as_str())?,
    };
    let first_name = required_text("first_name", &new.first_name, MAX_PERSON_NAME_LEN)?;
    let last_name = required_text("last_name", &new.last_name, MAX_PERSON_NAME_LEN)?;
    let profile = validate_profile(new.profile)?;
    if new.org_id.is_none() && new.role != Role::SuperAdmin {
        return Err(DomainError::invalid("org_id", "only the super admin belongs to no organization"));
    }
    // WorkDrive's onboarding rule: without a security group, designation and visibility the
    // invitation goes to the supervisor first, so the user starts pre-invited.
    let missing_fields: Vec<String> =
        [profile.security_group.is_none(), profile.designation.is_none(), profile.default_visibility.is_none()]
            .iter()
            .zip(ONBOARDING_FIELDS)
            .filter(|(missing, _)| **missing)
            .map(|(_, f)| f.to_string())
            .collect();
    let complete = missing_fields.is_empty();
    let profile = Profile { security_group: profile.security_group.or(new.default_security_group), ..profile };
    let notice = (new.role == Role::Member)
        .then(|| onboarding_notice(new.id, &email, profile.reports_to, new.supervisor_email.clone(), missing_fields));
    let status = match new.role {
        _ if new.blocked => UserStatus::Blocked,
        Role::SuperAdmin | Role::OrgAdmin => UserStatus::Active,
        Role::Member if complete => UserStatus::Invited,
        Role::Member => UserStatus::PreInvited,
    };
    let mut events = vec![UserEvent::UserCreated {
        id: new.id,
        org_id: new.org_id,
        number: new.number,
        email,
        login,
        first_name,
        last_name,
        role: new.role,
        status,
        profile,
        created_by: new.created_by,
    }];
    if new.with_password {
        events.push(UserEvent::UserPasswordSet { set_by: new.created_by });
    }
    events.extend(notice);
    Ok(events)
}

/// Decides who would get the onboarding email of a new member (spec E03 side effect (a)).
fn onboarding_notice(
    id: UserId,
    email: &Email,
    reports_to: Option<UserId>,
    supervisor_email: Option<Email>,
    missing_fields: Vec<String>,
) -> UserEvent {
    let (recipient, recipient_user_id, recipient_email, reason) = match (missing_fields.is_empty(), reports_to) {
        (true, _) => {
            (OnboardingRecipient::User, Some(id), Some(email.clone()), "the profile is complete: the user is invited directly".to_string())
        }
        (false, Some(boss)) => (
            OnboardingRecipient::Supervisor,
            Some(boss),
            supervisor_email,
            format!("{} missing: the supervisor (reportsTo) completes the onboarding", missing_fields.join(", ")),
        ),
        (false, None) => (
            OnboardingRecipient::Nobody,
            None,
            None,
            format!("{} missing and no supervisor (reportsTo): nobody to notify until one is set", missing_fields.join(", ")),
        ),
    };
    UserEvent::UserOnboardingNoticeRecorded { recipient, recipient_user_id, recipient_email, missing_fields, reason }
}

fn validate_profile(p: Profile) -> Result<Profile, DomainError> {
    let skills = p
        .skills
        .iter()
        .enumerate()
        .map(|(i, s)| required_text(&format!("skill[{i}]"), s, MAX_PERSON_NAME_LEN))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Profile {
        phone: opt_text("phone", p.phone, MAX_TEXT_LEN)?,
        designation: opt_text("designation", p.designation, MAX_TEXT_LEN)?,
        external_user_id: opt_text("external_user_id", p.external_user_id, MAX_TEXT_LEN)?,
        middle_name: opt_text("middle_name", p.middle_name, MAX_PERSON_NAME_LEN)?,
        title_prefix: opt_text("title_prefix", p.title_prefix, MAX_PERSON_NAME_LEN)?,
        nickname: opt_text("nickname", p.nickname, MAX_PERSON_NAME_LEN)?,
        contact: p.contact.clone().validate("contact_info")?,
        skills,
        ..p
    })
}

fn validate_patch(user: &User, patch: UserPatch) -> Result<UserPatch, DomainError> {
    let name = |field: &str, v: Option<String>| v.map(|v| required_text(field, &v, MAX_PERSON_NAME_LEN)).transpose();
    let text = |field: &str, p: Patch<String>| optional_text(field, p, MAX_TEXT_LEN);
    let short = |field: &str, p: Patch<String>| optional_text(field, p, MAX_PERSON_NAME_LEN);
    if patch.reports_to == Patch::Set(user.id) {
        return Err(DomainError::invalid("reports_to", "a user cannot report to themselves"));
    }
    if patch.add_additional_teams.contains(&user.id) {
        return Err(DomainError::invalid("add_additional_teams", "a user cannot join their own team"));
    }
    if let Some(a) = patch.availability {
        if !(MIN_AVAILABILITY..=MAX_AVAILABILITY).contains(&a) {
            return Err(DomainError::invalid("availability", format!("must be between {MIN_AVAILABILITY} and {MAX_AVAILABILITY}")));
        }
    }
    Ok(UserPatch {
        middle_name: short("middle_name", patch.middle_name)?,
        title_prefix: short("title_prefix", patch.title_prefix)?,
        nickname: short("nickname", patch.nickname)?,
        contact: match patch.contact {
            Patch::Set(c) => Patch::Set(c.validate("contact_info")?),
            other => other,
        },
        first_name: name("first_name", patch.first_name)?,
        last_name: name("last_name", patch.last_name)?,
        phone: text("phone", patch.phone)?,
        designation: text("designation", patch.designation)?,
        bio: text("bio", patch.bio)?,
        ..patch
    })
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn new_user() -> NewUser {
        NewUser {
            id: UserId(uuid::Uuid::from_u128(1)),
            org_id: Some(OrgId(uuid::Uuid::from_u128(9))),
            number: 1000,
            email: "Ann@Example.com".into(),
            login: None,
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            role: Role::Member,
            profile: Profile::default(),
            created_by: None,
            with_password: false,
            supervisor_email: None,
            default_security_group: None,
            blocked: false,
        }
    }

    #[test]
    fn default_supervisors_prefer_location_admins_then_department_heads() {
        let u = |n: u128| UserId(uuid::Uuid::from_u128(n));
        let mut p = Profile::default();
        default_supervisors(&mut p, &[u(1), u(2)], &[u(3)], &[u(2), u(4)]);
        assert_eq!(p.reports_to, Some(u(1)));
        assert_eq!(p.additional_teams, vec![u(2), u(4)]);

        let mut p = Profile::default();
        default_supervisors(&mut p, &[], &[u(3), u(5)], &[]);
        assert_eq!((p.reports_to, p.additional_teams), (Some(u(3)), vec![u(5)]));

        let mut p = Profile { reports_to: Some(u(9)), ..Profile::default() };
        default_supervisors(&mut p, &[u(1)], &[u(3)], &[]);
        assert_eq!((p.reports_to, p.additional_teams), (Some(u(9)), vec![]), "an explicit reportsTo wins");

        let mut p = Profile::default();
        default_supervisors(&mut p, &[], &[], &[]);
        assert_eq!(p.reports_to, None, "no admins, no boss");
    }

    fn fold(events: Vec<UserEvent>) -> Option<User> {
        events.into_iter().fold(None, UserAggregate::apply_event)
    }

    #[test]
    fn create_defaults_login_to_email_and_pre_invites_incomplete_profiles() {
        let events = UserAggregate::handle_command(&None, UserCommand::Create(new_user())).unwrap();
        let user = fold(events).unwrap();
        assert_eq!(user.login.as_str(), "Ann@Example.com");
        assert_eq!(user.status, UserStatus::PreInvited);
    }

    #[test]
    fn onboarding_notice_goes_to_the_user_when_complete_else_to_the_supervisor() {
        let events = UserAggregate::handle_command(&None, UserCommand::Create(new_user())).unwrap();
        let Some(UserEvent::UserOnboardingNoticeRecorded { recipient, recipient_user_id, missing_fields, .. }) = events.last() else {
            panic!("no notice: {events:?}")
        };
        assert_eq!(*recipient, OnboardingRecipient::Nobody);
        assert_eq!(*recipient_user_id, None);
        assert_eq!(missing_fields, &ONBOARDING_FIELDS.map(String::from).to_vec());

        let boss = UserId(uuid::Uuid::from_u128(7));
        let mut with_boss = new_user();
        with_boss.profile.reports_to = Some(boss);
        with_boss.profile.designation = Some("Engineer".into());
        with_boss.supervisor_email = Some(Email::parse("email", "boss@example.com").unwrap());
        let events = UserAggregate::handle_command(&None, UserCommand::Create(with_boss)).unwrap();
        let Some(UserEvent::UserOnboardingNoticeRecorded { recipient, recipient_user_id, recipient_email, missing_fields, reason }) =
            events.last()
        else {
            panic!("no notice: {events:?}")
        };
        assert_eq!(*recipient, OnboardingRecipient::Supervisor);
        assert_eq!(*recipient_user_id, Some(boss));
        assert_eq!(recipient_email.as_ref().map(Email::as_str), Some("boss@example.com"));
        assert_eq!(missing_fields, &vec!["securityGroup".to_string(), "defaultVisibility".to_string()]);
        assert!(reason.contains("securityGroup, defaultVisibility missing"), "{reason}");

        let mut complete = new_user();
        complete.profile.security_group = Some(uuid::Uuid::from_u128(3));
        complete.profile.designation = Some("Engineer".into());
        complete.profile.default_visibility = Some(Visibility::Public);
        let events = UserAggregate::handle_command(&None, UserCommand::Create(complete)).unwrap();
        let Some(UserEvent::UserOnboardingNoticeRecorded { recipient, recipient_user_id, recipient_email, .. }) = events.last() else {
            panic!("no notice: {events:?}")
        };
        assert_eq!(*recipient, OnboardingRecipient::User);
        assert_eq!(*recipient_user_id, Some(UserId(uuid::Uuid::from_u128(1))));
        assert_eq!(recipient_email.as_ref().map(Email::as_str), Some("Ann@Example.com"));
        assert_eq!(fold(events).unwrap().status, UserStatus::Invited);
    }

    #[test]
    fn the_default_security_group_is_joined_but_still_counts_as_missing() {
        let users = uuid::Uuid::from_u128(77);
        let mut new = new_user();
        new.default_security_group = Some(users);
        let events = UserAggregate::handle_command(&None, UserCommand::Create(new)).unwrap();
        let Some(UserEvent::UserOnboardingNoticeRecorded { missing_fields, .. }) = events.last() else { panic!("no notice: {events:?}") };
        assert!(missing_fields.contains(&"securityGroup".to_string()));
        let user = fold(events).unwrap();
        assert_eq!(user.security_group, Some(users));
        assert_eq!(user.status, UserStatus::PreInvited);
        // A chosen group wins over the default.
        let mut chosen = new_user();
        chosen.default_security_group = Some(users);
        chosen.profile.security_group = Some(uuid::Uuid::from_u128(78));
        let user = fold(UserAggregate::handle_command(&None, UserCommand::Create(chosen)).unwrap()).unwrap();
        assert_eq!(user.security_group, Some(uuid::Uuid::from_u128(78)));
    }

    #[test]
    fn admins_get_no_onboarding_notice() {
        let mut admin = new_user();
        admin.role = Role::OrgAdmin;
        let events = UserAggregate::handle_command(&None, UserCommand::Create(admin)).unwrap();
        assert!(!events.iter().any(|e| matches!(e, UserEvent::UserOnboardingNoticeRecorded { .. })));
    }

    #[test]
    fn second_create_is_rejected() {
        let state = fold(UserAggregate::handle_command(&None, UserCommand::Create(new_user())).unwrap());
        let err = UserAggregate::handle_command(&state, UserCommand::Create(new_user())).unwrap_err();
        assert_eq!(err, DomainError::AlreadyExists("user"));
    }

    #[test]
    fn delete_revokes_tokens_and_hides_the_user() {
        let mut events = UserAggregate::handle_command(&None, UserCommand::Create(new_user())).unwrap();
        let state = fold(events.clone());
        let issue = UserCommand::IssueToken { token_id: TokenId(uuid::Uuid::from_u128(5)), expires_at: None, revoke_others: false };
        events.extend(UserAggregate::handle_command(&state, issue).unwrap());
        let state = fold(events.clone());
        let del = UserAggregate::handle_command(&state, UserCommand::Delete { actor: UserId(uuid::Uuid::from_u128(2)) }).unwrap();
        assert!(matches!(del[0], UserEvent::AccessTokenRevoked { .. }));
        events.extend(del);
        let state = fold(events);
        assert!(UserAggregate::handle_command(
            &state,
            UserCommand::Update { actor: UserId(uuid::Uuid::from_u128(2)), patch: UserPatch::default() }
        )
        .is_err());
    }

    #[test]
    fn patch_rejects_blank_names_naming_the_field() {
        // A name cannot be cleared at all (`Option`, not `Patch`): each dialect refuses `null`
        // when it parses the request; a blank name is refused here.
        let state = fold(UserAggregate::handle_command(&None, UserCommand::Create(new_user())).unwrap());
        let patch = UserPatch { first_name: Some("  ".into()), ..Default::default() };
        let err = UserAggregate::handle_command(&state, UserCommand::Update { actor: UserId(uuid::Uuid::nil()), patch }).unwrap_err();
        assert_eq!(err, DomainError::invalid("first_name", "must not be empty"));
    }
}
