//! What each command answers, one type per shape. Each is stored as JSON with the idempotency
//! record (a retry gets it back), and rendered as `result` in a 202 `Accepted` body; the field
//! names are therefore part of both and must not change.

use domain::group::Issue;
use domain::{GroupId, OrgId, TokenId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgCreated {
    pub org_id: OrgId,
    pub admin_user_id: UserId,
    pub token_id: TokenId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgRef {
    pub org_id: OrgId,
}

/// A user and the `number` it was given (DESIGN §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCreated {
    pub user_id: UserId,
    pub number: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRef {
    pub user_id: UserId,
}

/// A token issued to a user; its secret is never part of a stored result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenIssued {
    pub user_id: UserId,
    pub token_id: TokenId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserIds {
    pub user_ids: Vec<UserId>,
}

/// A created group, its `number`, and what a lenient create left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupCreated {
    pub group_id: GroupId,
    pub number: i64,
    pub issues: Vec<Issue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRef {
    pub group_id: GroupId,
}

/// A Sunbird update, and what of it was left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupChanged {
    pub group_id: GroupId,
    pub issues: Vec<Issue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepartmentRef {
    pub department_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationRef {
    pub location_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRef {
    pub security_group_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SsoRef {
    pub sso_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    pub file_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantRef {
    pub grant_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldRef {
    pub field_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRef {
    pub subscription_id: Uuid,
}

/// A subscription after a command, and its status before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionChanged {
    pub subscription_id: Uuid,
    pub disabled: bool,
    pub previous_status: String,
    pub current_status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryRef {
    pub category_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowRef {
    pub follower: UserId,
    pub followee: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostRef {
    pub post_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentRef {
    pub post_id: Uuid,
    pub comment_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRef {
    pub event_id: Uuid,
}

/// A library item (video, photo, document, FAQ) after a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryRef {
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRef {
    pub notification_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRef {
    pub conversation_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationsRef {
    pub conversation_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRef {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
}

/// A meeting created in a conversation (E56): the event and the message announcing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeetingRef {
    pub conversation_id: Uuid,
    pub event_id: Uuid,
    pub message_id: Uuid,
}
