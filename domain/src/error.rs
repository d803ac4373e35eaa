//! Why a command was rejected.
//!
//! Field names the domain originates are snake_case and dialect-neutral; a dialect's error
//! renderer spells them (see api/src/kernel/error.rs). A field name handed in by a dialect (its
//! own request field, `ids[3]`, `data[2]`) is already the client's spelling and is kept as given.

use thiserror::Error;

/// Why a command was rejected by a rule. Never a storage failure: those live in the `commands` layer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A field failed validation; `field` is a path of neutral names (see [`FIELD_NAMES`]) or a
    /// name a dialect handed in.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The entity does not exist (or is deleted).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// One item of a batch names an entity that does not exist: `field` says which item
    /// (`id[3]`), so a client of a 1,000-item call knows what to fix.
    #[error("{field}: {what} not found")]
    NotFoundAt { field: String, what: &'static str },
    /// The entity already exists (a create on a used stream id).
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A unique value is already held by another entity (email, login, subdomain, short name).
    #[error("{field} is already taken")]
    Taken { field: String },
    /// The actor may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid { field: field.into(), message: message.into() }
    }

    /// Re-labels a field error with the batch item it is about: `email` → `data[3].email`. A
    /// reference to a missing entity inside an item is the item's fault: a 400 naming the field.
    pub fn within(self, item: &str) -> Self {
        match self {
            DomainError::Invalid { field, message } => DomainError::Invalid { field: format!("{item}.{field}"), message },
            DomainError::Taken { field } => DomainError::Taken { field: format!("{item}.{field}") },
            DomainError::NotFound(what) => {
                DomainError::Invalid { field: format!("{item}.{what}"), message: "not found in this organization".into() }
            }
            DomainError::NotFoundAt { field, what } => DomainError::NotFoundAt { field: format!("{item}.{field}"), what },
            other => other,
        }
    }
}

/// Every field name `domain` and `commands` originate (in errors, and as the subject of a
/// [`DomainError::NotFound`] about a reference), by the area that emits it. A dialect's spelling
/// table must cover the areas its clients can reach; its tests check that against this list.
pub mod fields {
    pub const USER: &[&str] = &[
        "add_additional_teams",
        "address_line1",
        "address_line2",
        "availability",
        "bio",
        "city",
        "contact_info",
        "country",
        "cover_file_id",
        "data",
        "department",
        "designation",
        "email",
        "external_user_id",
        "file_id",
        "first_name",
        "id",
        "is_department_head",
        "last_name",
        "login",
        "middle_name",
        "nickname",
        "org_id",
        "phone",
        "postal_code",
        "reports_to",
        "skill",
        "state",
        "title_prefix",
        "user_name",
    ];
    /// Issuing a user a token (a dialect's sign-in).
    pub const TOKEN: &[&str] = &["user_id"];
    /// Reported by a member's client (Sunbird's activity aggregate).
    pub const ACTIVITY: &[&str] = &["activity_id", "activity_type", "completed_count"];
    pub const ORGANIZATION: &[&str] = &[
        "address",
        "admin",
        "city",
        "file_id",
        "legal_name",
        "name",
        "parent_org_id",
        "state",
        "street1",
        "street2",
        "subdomain",
        "websites",
        "zip",
    ];
    pub const SSO: &[&str] = &[
        "authorization_uri",
        "department_id",
        "file_id",
        "link",
        "location_id",
        "login_url",
        "name",
        "order",
        "refresh_uri",
        "token_uri",
        "type",
    ];
    pub const MEDIA: &[&str] = &["content_type", "file", "key", "mime", "module_code", "name"];
    /// Departments, locations and security groups.
    pub const ORG_UNIT: &[&str] = &["add", "add_members", "id", "members", "name", "remove", "remove_members"];
    pub const GROUP: &[&str] = &["activities", "description", "groups", "members", "name", "parent", "status", "tracking"];
    /// A group's external id (set by a SCIM provisioning client).
    pub const EXTERNAL_ID: &[&str] = &["external_id"];
    /// A group's short name (NexPort's groups have one).
    pub const SHORT_NAME: &[&str] = &["group_short_name", "short_name"];
    /// A group's outbound caller ids (PortSIP's user groups).
    pub const CALLER_ID: &[&str] = &["caller_id", "description", "display_name", "outbound_caller_ids", "provider_id"];
    /// NexPort's grants, subscriptions and custom profile fields (also served by Roster's API).
    pub const DIRECTORY: &[&str] = &["grant", "key", "name", "subscription"];
    /// WorkDrive's content (DESIGN §11): audiences, categories, following.
    pub const CONTENT: &[&str] = &[
        "by_request",
        "category",
        "color",
        "conference_link",
        "content",
        "conversation_id",
        "cover_image",
        "description",
        "doc_id",
        "doc_url",
        "document_id",
        "due_date",
        "due_days",
        "emails",
        "end_date_time",
        "event_id",
        "external_link",
        "external_user_emails",
        "file_ids",
        "groups",
        "id",
        "is_private",
        "link",
        "link_previews",
        "locations",
        "medium",
        "new_admins",
        "new_qas",
        "news_title",
        "notification_template_id",
        "org_content_template_id",
        "owner_ids",
        "post_text",
        "poster_id",
        "receiver_user_ids",
        "ref_id",
        "reminder_time",
        "remove_ids",
        "remove_question_ids",
        "removed_admins",
        "reply_of_msg_id",
        "start_date_time",
        "status",
        "sub_type",
        "system_event",
        "tagged_user_ids",
        "tagged_users",
        "task_type",
        "time",
        "time_zone",
        "title",
        "total_time",
        "training_course_task_list_id",
        "updated_qas",
        "user_ids",
        "users",
        "video_file_id",
        "video_id",
        "video_preview_ids",
    ];
}

/// All of [`fields`], area by area.
pub const FIELD_NAMES: &[&[&str]] = &[
    fields::USER,
    fields::TOKEN,
    fields::ACTIVITY,
    fields::ORGANIZATION,
    fields::SSO,
    fields::MEDIA,
    fields::ORG_UNIT,
    fields::GROUP,
    fields::SHORT_NAME,
    fields::EXTERNAL_ID,
    fields::CALLER_ID,
    fields::DIRECTORY,
    fields::CONTENT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_names_the_batch_item() {
        let e = DomainError::invalid("email", "must be an email address").within("data[3]");
        assert_eq!(e.to_string(), "data[3].email: must be an email address");
        assert_eq!(DomainError::Taken { field: "email".into() }.within("data[1]").to_string(), "data[1].email is already taken");
        assert_eq!(
            DomainError::NotFound("reports_to").within("data[0]"),
            DomainError::invalid("data[0].reports_to", "not found in this organization")
        );
        assert_eq!(DomainError::Forbidden("no".into()).within("data[0]"), DomainError::Forbidden("no".into()));
    }

    #[test]
    fn originated_field_names_are_snake_case() {
        for name in FIELD_NAMES.iter().copied().flatten() {
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{name} is not snake_case");
        }
    }
}
