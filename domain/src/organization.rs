//! Organizations (tenants).

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::patch::Patch;
use crate::values::{optional_text, required_text, Subdomain, MAX_ORG_NAME_LEN, MAX_TEXT_LEN};
use crate::{DomainError, OrgId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Address {
    pub street1: Option<String>,
    pub street2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
}

impl Address {
    /// Each line trimmed and bounded; an empty line is no line.
    pub fn validate(self, field: &str) -> Result<Address, DomainError> {
        let line = |name: &str, v: Option<String>| -> Result<Option<String>, DomainError> {
            match optional_text(&format!("{field}.{name}"), Patch::from(v), MAX_TEXT_LEN)? {
                Patch::Set(s) => Ok(Some(s)),
                _ => Ok(None),
            }
        };
        Ok(Address {
            street1: line("street1", self.street1)?,
            street2: line("street2", self.street2)?,
            city: line("city", self.city)?,
            state: line("state", self.state)?,
            zip: line("zip", self.zip)?,
        })
    }
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
    /// Boxed: a patch of every organization field is much larger than a create.
    Update {
        actor: UserId,
        patch: Box<OrganizationPatch>,
    },
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub legal_name: Option<String>,
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
                let patch = validate_patch(*patch)?;
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
                if let Some(name) = patch.name {
                    org.name = name;
                }
                org
            }),
        }
    }
}

fn validate_patch(patch: OrganizationPatch) -> Result<OrganizationPatch, DomainError> {
    let text = |field: &str, p: Patch<String>| optional_text(field, p, MAX_TEXT_LEN);
    let websites = match patch.websites {
        Patch::Set(sites) => {
            let sites = sites
                .iter()
                .enumerate()
                .map(|(i, w)| required_text(&format!("websites[{i}]"), w, MAX_TEXT_LEN))
                .collect::<Result<Vec<_>, _>>()?;
            // An empty list and `null` mean the same: no websites.
            if sites.is_empty() {
                Patch::Clear
            } else {
                Patch::Set(sites)
            }
        }
        other => other,
    };
    Ok(OrganizationPatch {
        name: patch.name.map(|n| required_text("name", &n, MAX_ORG_NAME_LEN)).transpose()?,
        legal_name: patch.legal_name.map(|n| required_text("legal_name", &n, MAX_TEXT_LEN)).transpose()?,
        websites,
        address: match patch.address {
            Patch::Set(a) => Patch::Set(a.validate("address")?),
            other => other,
        },
        email: text("email", patch.email)?,
        phone: text("phone", patch.phone)?,
        description: text("description", patch.description)?,
        industry: text("industry", patch.industry)?,
        file_id: patch.file_id,
    })
}
