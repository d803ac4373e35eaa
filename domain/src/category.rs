//! Module codes (WorkDrive E42) and the categories of each module (E39; created by org admins with
//! `POST /api/categories`, Roster, and automatically by document uploads, E32).
//!
//! A category is named per organization and module, case-insensitively: its stream id is derived
//! from the three, so "create unless it exists" (a document naming a new category) is one
//! idempotent command, and two creates of one name meet on one stream instead of racing.

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::values::{bounded_text, required_text};
use crate::{DomainError, OrgId, UserId};

pub const MAX_CATEGORY_LEN: usize = 100;
pub const MAX_COLOR_LEN: usize = 32;

/// WorkDrive's module codes. The seed documents only POST=1; DESIGN §11 fixes the rest (the seed's
/// example creates an event with `"2"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ModuleCode {
    Post = 1,
    Event = 2,
    Livestream = 3,
    Faq = 4,
    Course = 5,
    News = 6,
    Document = 7,
    Video = 8,
    Photo = 9,
    GroupChat = 10,
}

impl ModuleCode {
    pub const ALL: [ModuleCode; 10] = [
        ModuleCode::Post,
        ModuleCode::Event,
        ModuleCode::Livestream,
        ModuleCode::Faq,
        ModuleCode::Course,
        ModuleCode::News,
        ModuleCode::Document,
        ModuleCode::Video,
        ModuleCode::Photo,
        ModuleCode::GroupChat,
    ];

    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn name(self) -> &'static str {
        match self {
            ModuleCode::Post => "POST",
            ModuleCode::Event => "EVENT",
            ModuleCode::Livestream => "LIVESTREAM",
            ModuleCode::Faq => "FAQ",
            ModuleCode::Course => "COURSE",
            ModuleCode::News => "NEWS",
            ModuleCode::Document => "DOCUMENT",
            ModuleCode::Video => "VIDEO",
            ModuleCode::Photo => "PHOTO",
            ModuleCode::GroupChat => "GROUP_CHAT",
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|m| i64::from(m.code()) == code)
    }

    /// A module code as clients send it: the number (`2`, `"2"`) or the name (`"EVENT"`, any case).
    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let found = match raw.parse::<i64>() {
            Ok(n) => Self::from_code(n),
            Err(_) => Self::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(raw)),
        };
        found.ok_or_else(|| {
            let known: Vec<String> = Self::ALL.iter().map(|m| format!("{}={}", m.name(), m.code())).collect();
            DomainError::invalid(field, format!("'{raw}' is not a module code; known: {}", known.join(", ")))
        })
    }
}

/// The stream of category `name` of `module` in `org` (UUIDv5; the name compared case-insensitively).
pub fn stream_id(org: OrgId, module: ModuleCode, name: &str) -> uuid::Uuid {
    let key = format!("roster:category:{}:{}", module.code(), name.trim().to_lowercase());
    uuid::Uuid::new_v5(&org.0, key.as_bytes())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub org_id: OrgId,
    pub module_code: ModuleCode,
    pub category: String,
}

#[derive(Debug, Clone)]
pub struct NewCategory {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub module_code: ModuleCode,
    pub category: String,
    pub color: Option<String>,
    pub created_by: Option<UserId>,
}

#[derive(Debug, Clone)]
pub enum CategoryCommand {
    /// A create of a name that exists is refused (`category` is taken).
    Create(NewCategory),
    /// Creates the category unless it exists (a document naming a new category, E32).
    Ensure(NewCategory),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum CategoryEvent {
    CategoryCreated {
        id: uuid::Uuid,
        org_id: OrgId,
        module_code: ModuleCode,
        category: String,
        color: Option<String>,
        created_by: Option<UserId>,
    },
}

impl DomainEvent for CategoryEvent {
    const STREAM_TYPE: &'static str = "category";

    fn event_type(&self) -> &'static str {
        match self {
            CategoryEvent::CategoryCreated { .. } => "CategoryCreated",
        }
    }
}

pub struct CategoryAggregate;

impl esrs::Aggregate for CategoryAggregate {
    const NAME: &'static str = "category";
    type State = Option<Category>;
    type Command = CategoryCommand;
    type Event = CategoryEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        let (new, ensure) = match command {
            CategoryCommand::Create(new) => (new, false),
            CategoryCommand::Ensure(new) => (new, true),
        };
        let category = required_text("category", &new.category, MAX_CATEGORY_LEN)?;
        // Blank means no color, like every optional text field.
        let color =
            new.color.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(|c| bounded_text("color", c, MAX_COLOR_LEN)).transpose()?;
        match state {
            Some(_) if ensure => Ok(vec![]),
            Some(_) => Err(DomainError::Taken { field: "category".into() }),
            None => Ok(vec![CategoryEvent::CategoryCreated {
                id: new.id,
                org_id: new.org_id,
                module_code: new.module_code,
                category,
                color,
                created_by: new.created_by,
            }]),
        }
    }

    fn apply_event(_: Self::State, event: Self::Event) -> Self::State {
        match event {
            CategoryEvent::CategoryCreated { org_id, module_code, category, .. } => Some(Category { org_id, module_code, category }),
        }
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn new(name: &str) -> NewCategory {
        let org = OrgId(uuid::Uuid::from_u128(1));
        NewCategory {
            id: stream_id(org, ModuleCode::News, name),
            org_id: org,
            module_code: ModuleCode::News,
            category: name.into(),
            color: None,
            created_by: None,
        }
    }

    #[test]
    fn module_codes_parse_from_numbers_and_names() {
        assert_eq!(ModuleCode::parse("type", "2").unwrap(), ModuleCode::Event);
        assert_eq!(ModuleCode::parse("type", " livestream ").unwrap(), ModuleCode::Livestream);
        assert!(ModuleCode::parse("type", "11").is_err() && ModuleCode::parse("type", "POSTS").is_err());
        for m in ModuleCode::ALL {
            assert_eq!(ModuleCode::from_code(m.code().into()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!(m.name()));
        }
    }

    #[test]
    fn a_name_is_one_category_per_module_whatever_its_case() {
        let org = OrgId(uuid::Uuid::from_u128(1));
        assert_eq!(stream_id(org, ModuleCode::News, "Sales "), stream_id(org, ModuleCode::News, "sales"));
        assert_ne!(stream_id(org, ModuleCode::News, "sales"), stream_id(org, ModuleCode::Document, "sales"));
        let created = CategoryAggregate::handle_command(&None, CategoryCommand::Create(new("Sales"))).unwrap();
        let state = created.into_iter().fold(None, CategoryAggregate::apply_event);
        assert_eq!(
            CategoryAggregate::handle_command(&state, CategoryCommand::Create(new("sales"))).unwrap_err(),
            DomainError::Taken { field: "category".into() }
        );
        assert!(CategoryAggregate::handle_command(&state, CategoryCommand::Ensure(new("SALES"))).unwrap().is_empty());
        assert!(CategoryAggregate::handle_command(&None, CategoryCommand::Create(new("  "))).is_err());
    }
}
