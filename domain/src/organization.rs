//! Organizations (tenants).

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::patch::Patch;
use crate::values::{bounded_text, required_text, Subdomain, MAX_ORG_NAME_LEN, MAX_TEXT_LEN};
use crate::{DomainError, OrgId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Address {
    pub street1: Option<String>,
    pub street2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    Internal,
    Ldap,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub subdomain: Subdomain,
    pub parent_org_id: Option<OrgId>,
    pub admin_user_id: UserId,
}

pub struct OrganizationAggregate;

#[derive(Debug, Clone)]
pub enum OrganizationCommand {
    Create(NewOrganization),
    Update { actor: UserId, patch: OrganizationPatch },
}

#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub id: OrgId,
    pub name: String,
    pub parent_org_id: Option<OrgId>,
    pub auth_method: AuthMethod,
    pub admin_user_id: UserId,
    pub created_by: UserId,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrganizationPatch {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub legal_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>)]
    pub websites: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Address>)]
    pub address: Patch<Address>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub industry: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub file_id: Patch<uuid::Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum OrganizationEvent {
    OrganizationCreated {
        id: OrgId,
        name: String,
        subdomain: Subdomain,
        legal_name: String,
        parent_org_id: Option<OrgId>,
        auth_method: AuthMethod,
        admin_user_id: UserId,
        created_by: UserId,
    },
    OrganizationUpdated {
        #[serde(flatten)]
        patch: OrganizationPatch,
        updated_by: UserId,
    },
}

impl DomainEvent for OrganizationEvent {
    const STREAM_TYPE: &'static str = "organization";

    fn event_type(&self) -> &'static str {
        match self {
            OrganizationEvent::OrganizationCreated { .. } => "OrganizationCreated",
            OrganizationEvent::OrganizationUpdated { .. } => "OrganizationUpdated",
        }
    }
}

impl esrs::Aggregate for OrganizationAggregate {
    const NAME: &'static str = "organization";
    type State = Option<Organization>;
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            OrganizationCommand::Create(new) => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("organization"));
                }
                let name = required_text("name", &new.name, MAX_ORG_NAME_LEN)?;
                let subdomain = Subdomain::from_name(&name)?;
                Ok(vec![OrganizationEvent::OrganizationCreated {
                    id: new.id,
                    legal_name: name.clone(),
                    name,
                    subdomain,
                    parent_org_id: new.parent_org_id,
                    auth_method: new.auth_method,
                    admin_user_id: new.admin_user_id,
                    created_by: new.created_by,
                }])
            }
            OrganizationCommand::Update { actor, patch } => {
                let org = state.as_ref().ok_or(DomainError::NotFound("organization"))?;
                if org.admin_user_id != actor {
                    return Err(DomainError::Forbidden("only the organization's creator may update it".into()));
                }
                let patch = validate_patch(patch)?;
                Ok(vec![OrganizationEvent::OrganizationUpdated { patch, updated_by: actor }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match event {
            OrganizationEvent::OrganizationCreated { id, name, subdomain, parent_org_id, admin_user_id, .. } => {
                Some(Organization { id, name, subdomain, parent_org_id, admin_user_id })
            }
            OrganizationEvent::OrganizationUpdated { patch, .. } => state.map(|mut org| {
                if let Patch::Set(name) = patch.name {
                    org.name = name;
                }
                org
            }),
        }
    }
}

fn validate_patch(patch: OrganizationPatch) -> Result<OrganizationPatch, DomainError> {
    if matches!(patch.name, Patch::Clear) {
        return Err(DomainError::invalid("name", "must not be null"));
    }
    let name = match patch.name {
        Patch::Set(n) => Patch::Set(required_text("name", &n, MAX_ORG_NAME_LEN)?),
        other => other,
    };
    let text = |field: &str, p: Patch<String>| -> Result<Patch<String>, DomainError> {
        match p {
            Patch::Set(v) => Ok(Patch::Set(bounded_text(field, &v, MAX_TEXT_LEN)?)),
            other => Ok(other),
        }
    };
    Ok(OrganizationPatch {
        name,
        legal_name: text("legalName", patch.legal_name)?,
        email: text("email", patch.email)?,
        phone: text("phone", patch.phone)?,
        description: text("description", patch.description)?,
        industry: text("industry", patch.industry)?,
        ..patch
    })
}
