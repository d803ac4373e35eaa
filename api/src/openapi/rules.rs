//! What the handlers check of a request that the derived schemas do not say: required and
//! non-null fields, texts that must not be blank, names from a closed list, and the request
//! bodies one Rust type serves with different rules per operation (a create requires what a
//! change may leave out). Applied to the document's JSON, after the typed modifiers; every bound
//! comes from the constant the server checks.

use serde_json::{json, Map, Value};

use super::NOT_BLANK;

/// A change to one property of a component schema.
struct Field {
    schema: &'static str,
    property: &'static str,
    /// Listed in the object's `required`.
    required: bool,
    /// Merged into the property's schema, after `null` is dropped from it.
    patch: Value,
}

/// A field the server requires: present, not `null`, and as `patch` says.
fn required(schema: &'static str, property: &'static str, patch: Value) -> Field {
    Field { schema, property, required: true, patch }
}

/// A field the server may go without, but which must not be `null` when sent (a change that
/// cannot clear it), and as `patch` says.
fn not_null(schema: &'static str, property: &'static str, patch: Value) -> Field {
    Field { schema, property, required: false, patch }
}

/// A text that must not be blank (`domain::values::required_text` trims it), at most `max`
/// characters.
fn text(max: usize) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": NOT_BLANK})
}

/// A list that takes one item as itself (`content::OneOrMany`: `"tags": "a"` is `["a"]`), or
/// `null` for none.
fn one_or_many(item: Value, max: usize) -> Value {
    json!({"anyOf": [{"type": "array", "maxItems": max, "items": item}, item, {"type": "null"}]})
}

/// A string of one of these values.
fn names<S: ToString>(values: impl IntoIterator<Item = S>) -> Value {
    json!({"type": "string", "enum": values.into_iter().map(|v| v.to_string()).collect::<Vec<_>>()})
}

/// Component schemas copied under another name, for a use with rules of its own: (from, to).
const COPIES: &[(&str, &str)] = &[
    // An FAQ's head names it; a document's flat create may take its name from the file.
    ("KbHeadInput", "FaqKbHeadInput"),
];

/// The names a serde enum (de)serializes its variants as.
fn serde_names<T: serde::Serialize>(variants: impl IntoIterator<Item = T>) -> Value {
    names(variants.into_iter().map(|v| serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()))
}

/// A string of one of these values in any case: a pattern, since an `enum` listing each casing
/// is one that code generators refuse (its values collide as identifiers).
fn names_any_case<'a>(values: impl IntoIterator<Item = &'a str>) -> Value {
    let alternatives: Vec<String> = values
        .into_iter()
        .map(|v| {
            v.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    json!({"type": "string", "pattern": format!("^({})$", alternatives.join("|"))})
}

/// A request body served by a Rust type that other operations share, with rules of its own: the
/// operation's body gets a copy of `from` named `to`, which `fields()` then changes.
const SPLIT_BODIES: &[(&str, &str, &str, &str)] = &[
    // (method, path, from, to)
    ("post", "/api/tasks", "TaskBody", "CreateTaskBody"),
    ("post", "/api/events", "EventBody", "CreateEventBody"),
    ("post", "/api/events/meeting", "EventBody", "CreateEventBody"),
    ("post", "/api/group-chats/{id}/meetings", "EventBody", "CreateEventBody"),
    // WorkDrive's posts and news share one body; a create has rules of its own, and a news
    // item's change cannot clear its title or category.
    ("post", "/api/posts", "PostBody", "CreatePostBody"),
    ("post", "/api/news", "PostBody", "CreateNewsBody"),
    ("patch", "/api/news/{id}", "PostBody", "NewsPatchBody"),
    // Publisher: a create names no id (spec: `{group:{name, users?}}`); a replace needs a name,
    // an add-users its users.
    ("post", "/api/2/groups", "GroupEnvelopeIn", "NewGroupEnvelopeIn"),
    ("post", "/api/2/groups", "GroupIn", "NewGroupIn"),
    ("put", "/api/2/groups/{id}", "GroupEnvelopeIn", "ReplaceGroupEnvelopeIn"),
    ("put", "/api/2/groups/{id}", "GroupIn", "ReplaceGroupIn"),
    ("put", "/api/2/groups/{id}/users", "GroupEnvelopeIn", "AddUsersEnvelopeIn"),
    ("put", "/api/2/groups/{id}/users", "GroupIn", "AddUsersIn"),
];

fn fields() -> Vec<Field> {
    use domain::values::{MAX_EMAIL_LEN, MAX_GROUP_NAME_LEN, MAX_ORG_NAME_LEN, MAX_PASSWORD_LEN, MAX_PERSON_NAME_LEN, MIN_PASSWORD_LEN};
    let password = || json!({"type": "string", "minLength": MIN_PASSWORD_LEN, "maxLength": MAX_PASSWORD_LEN});
    let email = || {
        let mut t = text(MAX_EMAIL_LEN);
        t["format"] = json!("email");
        t
    };
    let reactions = || names(domain::post::Reaction::ALL.iter().map(|r| r.as_str()));
    let task_types = || names(domain::task::TaskType::ALL.iter().map(|t| t.as_str()));
    use domain::library::{ReminderTimeUnit, ReminderType};
    let tags = || one_or_many(json!({"type": "string"}), domain::library::MAX_TAGS);
    let post_tags = || one_or_many(text(domain::post::MAX_TAG_LEN), domain::post::MAX_TAGS);
    let uuid = || json!({"type": "string", "format": "uuid"});
    let nexport_instant =
        || json!({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "maxLength": 0}, {"type": "null"}]});
    let group_types = || {
        use domain::conversation::GroupType;
        names([GroupType::ChatGroup, GroupType::Room].map(GroupType::as_str))
    };
    vec![
        // WorkDrive: posts' reactions and comments (`posts::react`, `posts::comment`).
        required("ReactionBody", "type", reactions()),
        required("CommentBody", "text", text(domain::post::MAX_COMMENT_LEN)),
        // A knowledge-base head's change may leave the name out, not clear it.
        not_null("KbPatchInput", "name", text(domain::library::MAX_TITLE_LEN)),
        // FAQ rows (`QaInput::new_row`, `domain::library`).
        required("QaInput", "question", text(domain::library::MAX_QUESTION_LEN)),
        required("QaInput", "answer", text(domain::library::MAX_ANSWER_LEN)),
        required("CreateTemplateBody", "title", text(domain::library::MAX_TITLE_LEN)),
        // A user's change may leave a name out, not blank it.
        not_null("UpdateUserBody", "firstName", text(MAX_PERSON_NAME_LEN)),
        not_null("UpdateUserBody", "lastName", text(MAX_PERSON_NAME_LEN)),
        not_null("AddUserBody", "password", password()),
        // The organization and its first admin (`organization::create_organization`).
        required("CreateOrganizationBody", "name", text(MAX_ORG_NAME_LEN)),
        required("AdminBody", "firstName", text(MAX_PERSON_NAME_LEN)),
        required("AdminBody", "lastName", text(MAX_PERSON_NAME_LEN)),
        required("AdminBody", "email", email()),
        not_null("AdminBody", "password", password()),
        required("CreateGroupChatBody", "groupType", group_types()),
        // Tasks: a create names its title and type; a change cannot clear them or the status.
        required("CreateTaskBody", "title", text(domain::task::MAX_TITLE_LEN)),
        required("CreateTaskBody", "task_type", task_types()),
        not_null("TaskBody", "title", text(domain::task::MAX_TITLE_LEN)),
        not_null("TaskBody", "task_type", task_types()),
        // Events: a create names its title and start (`EventBody::into_input`).
        required("CreateEventBody", "title", text(domain::calendar::MAX_TITLE_LEN)),
        required("CreateEventBody", "startDateTime", json!({})),
        // PortSIP: a group's name (`domain::group`), on a create and a change alike.
        required("GroupBody", "name", text(MAX_GROUP_NAME_LEN)),
        // News (`posts::create_input`, `posts::change`): a title and a category of the NEWS module.
        required("CreateNewsBody", "newsTitle", text(domain::post::MAX_NEWS_TITLE_LEN)),
        required("CreateNewsBody", "category", text(domain::category::MAX_CATEGORY_LEN)),
        not_null("NewsPatchBody", "newsTitle", text(domain::post::MAX_NEWS_TITLE_LEN)),
        not_null("NewsPatchBody", "category", text(domain::category::MAX_CATEGORY_LEN)),
        // An FAQ's head and its name are required (`domain::library`); tags: a string is one tag.
        required("CreateFaqBody", "kb", json!({"$ref": "#/components/schemas/FaqKbHeadInput"})),
        required("FaqKbHeadInput", "name", text(domain::library::MAX_TITLE_LEN)),
        not_null("KbHeadInput", "tags", tags()),
        not_null("FaqKbHeadInput", "tags", tags()),
        // Enforcement templates' reminders (`enforcement_templates::Reminder::data`).
        required(
            "Reminder",
            "reminderType",
            serde_names([ReminderType::Email, ReminderType::Push, ReminderType::Text, ReminderType::Restrict]),
        ),
        required(
            "Reminder",
            "reminderTimeUnit",
            serde_names([ReminderTimeUnit::Week, ReminderTimeUnit::Days, ReminderTimeUnit::Hours, ReminderTimeUnit::Minutes]),
        ),
        required("Reminder", "reminderTime", json!({"type": "integer", "minimum": 0, "maximum": i32::MAX})),
        // A repeating event's rule (`events::repeat`).
        required("RepeatBody", "config", json!({"$ref": "#/components/schemas/RepeatConfigBody"})),
        required("RepeatConfigBody", "frequency", {
            // The seed's spellings (`Frequency::to_json`), a number also as a string.
            use domain::calendar::Frequency;
            let seeds = [Frequency::Daily, Frequency::Weekly, Frequency::BiWeekly, Frequency::Monthly].map(Frequency::to_json);
            let numbers: Vec<Value> = seeds.iter().filter(|v| v.is_number()).cloned().collect();
            let texts: Vec<Value> = seeds.iter().map(|v| v.as_str().map_or_else(|| json!(v.to_string()), |s| json!(s))).collect();
            json!({"anyOf": [{"type": "integer", "enum": numbers}, {"type": "string", "enum": texts}]})
        }),
        required("RepeatConfigBody", "ends", json!({"$ref": "#/components/schemas/EndsBody"})),
        required("EndsBody", "config", json!({"$ref": "#/components/schemas/EndsConfigBody"})),
        required("EndsConfigBody", "date", json!({"type": "string", "format": "date"})),
        // PortSIP caller ids (`domain::group`).
        required("CallerId", "provider_id", text(domain::values::MAX_CALLER_ID_LEN)),
        required("CallerId", "caller_id", text(domain::values::MAX_CALLER_ID_LEN)),
        not_null("AddUserBody", "userName", text(domain::values::MAX_LOGIN_LEN)),
        // NexPort reads a blank parameter as absent (`Params::opt_str`), a date-time too.
        not_null("SearchSubscriptionsRequest", "utc_created_after", nexport_instant()),
        not_null("SearchSubscriptionsRequest", "utc_created_before", nexport_instant()),
        not_null("SearchSubscriptionsRequest", "utc_expires_after", nexport_instant()),
        not_null("SearchSubscriptionsRequest", "utc_expires_before", nexport_instant()),
        required(
            "CreateFaqBody",
            "qas",
            json!({"type": "array", "minItems": 1, "maxItems": domain::library::MAX_QAS, "items": {"$ref": "#/components/schemas/QaInput"}}),
        ),
        required(
            "AddMembersBody",
            "members",
            json!({"type": "array", "maxItems": domain::conversation::MAX_PARTICIPANTS, "items": {"$ref": "#/components/schemas/MemberBody"}}),
        ),
        // A post's tags: non-blank, a string is one (`domain::post`).
        not_null("PostBody", "tags", post_tags()),
        not_null("CreatePostBody", "tags", post_tags()),
        not_null("CreateNewsBody", "tags", post_tags()),
        not_null("NewsPatchBody", "tags", post_tags()),
        // Its links (non-blank URLs) and mentions: a string is one too.
        not_null("PostBody", "links", one_or_many(text(domain::post::MAX_URL_LEN), domain::post::MAX_LINKS)),
        not_null("CreatePostBody", "links", one_or_many(text(domain::post::MAX_URL_LEN), domain::post::MAX_LINKS)),
        not_null("CreateNewsBody", "links", one_or_many(text(domain::post::MAX_URL_LEN), domain::post::MAX_LINKS)),
        not_null("NewsPatchBody", "links", one_or_many(text(domain::post::MAX_URL_LEN), domain::post::MAX_LINKS)),
        not_null("PostBody", "mention", one_or_many(uuid(), domain::post::MAX_MENTIONS)),
        not_null("CreatePostBody", "mention", one_or_many(uuid(), domain::post::MAX_MENTIONS)),
        not_null("CreateNewsBody", "mention", one_or_many(uuid(), domain::post::MAX_MENTIONS)),
        not_null("NewsPatchBody", "mention", one_or_many(uuid(), domain::post::MAX_MENTIONS)),
        // A message's mentions and files, a course's categories: a string is one.
        not_null("MessageBody", "mention", one_or_many(uuid(), domain::conversation::MAX_MENTIONS)),
        not_null("MessageBody", "fileId", one_or_many(uuid(), domain::conversation::MAX_MESSAGE_FILES)),
        not_null("CreateCourseBody", "categories", one_or_many(json!({"type": "string"}), domain::library::MAX_COURSE_CATEGORIES)),
        // An SSO entry's file: an id, or empty for none.
        not_null(
            "CreateSsoBody",
            "fileId",
            json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}, {"type": "null"}]}),
        ),
        // Publisher (`publisher::shared::required_name`, `publisher::writes::add_users`).
        required("NewGroupEnvelopeIn", "group", json!({"$ref": "#/components/schemas/NewGroupIn"})),
        required("NewGroupIn", "name", text(MAX_GROUP_NAME_LEN)),
        required("ReplaceGroupEnvelopeIn", "group", json!({"$ref": "#/components/schemas/ReplaceGroupIn"})),
        required("ReplaceGroupIn", "name", text(MAX_GROUP_NAME_LEN)),
        required("AddUsersEnvelopeIn", "group", json!({"$ref": "#/components/schemas/AddUsersIn"})),
        required("AddUsersIn", "users", json!({"type": "array", "items": {"type": "string"}})),
    ]
}

/// Keywords merged into a component schema itself: rules across its fields.
fn schema_rules() -> Vec<(&'static str, Value)> {
    use domain::conversation::GroupType;
    use domain::post::{MAX_FILES, MAX_POST_TEXT_LEN, MAX_URL_LEN};
    // An absolute http(s) URL (`domain::sso::parse_url`; the pattern is the plain part of what
    // it takes: a host, a port of at most four digits, printable ASCII after).
    let url = || {
        json!({"type": "string", "maxLength": domain::sso::MAX_URL_LEN,
            "pattern": "^[hH][tT][tT][pP][sS]?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,4})?([/?#][!-~]*)?$"})
    };
    // Empty or `null` is none.
    let optional_url = || json!({"anyOf": [url(), {"type": "string", "maxLength": 0}, {"type": "null"}]});
    vec![
        // A QUICK_LINK needs its link; an SSO entry its four URLs (`domain::sso`, `SsoCommand::Create`).
        (
            "CreateSsoBody",
            json!({"required": ["type"], "properties": {
                "type": names(["QUICK_LINK", "SSO"]),
                "name": {"type": ["string", "null"], "maxLength": domain::sso::MAX_SSO_NAME_LEN},
                "order": {"type": ["integer", "null"], "minimum": 0, "maximum": i32::MAX},
                "link": optional_url(), "authorizationURI": optional_url(), "tokenURI": optional_url(),
                "refreshURI": optional_url(), "loginURL": optional_url()},
            "oneOf": [
                {"required": ["link"], "properties": {"type": names(["QUICK_LINK"]), "link": url()}},
                {"required": ["authorizationURI", "tokenURI", "refreshURI", "loginURL"],
                 "properties": {"type": names(["SSO"]), "authorizationURI": url(), "tokenURI": url(), "refreshURI": url(), "loginURL": url()}},
            ]}),
        ),
        // EMAIL goes to `emails`, every other medium to `receiverUserIds`; the other list stays
        // empty (`notifications::recipients`).
        ("SendNotificationBody", {
            use domain::notification::{Medium, MAX_RECIPIENTS};
            let none = || json!({"type": ["array", "null"], "maxItems": 0, "items": {"type": "string"}});
            let others = Medium::ALL.into_iter().filter(|m| *m != Medium::Email).map(Medium::as_str);
            json!({"oneOf": [
                {"required": ["emails"], "properties": {"medium": names([Medium::Email.as_str()]), "receiverUserIds": none(),
                    "emails": {"type": "array", "minItems": 1, "maxItems": MAX_RECIPIENTS, "items": {"type": "string", "format": "email"}}}},
                {"required": ["receiverUserIds"], "properties": {"medium": names(others), "emails": none(),
                    "receiverUserIds": {"type": "array", "minItems": 1, "maxItems": MAX_RECIPIENTS, "items": {"type": "string", "format": "uuid"}}}},
            ]})
        }),
        // A CHAT_GROUP needs its title; a ROOM has no cover (`domain::conversation`).
        (
            "CreateGroupChatBody",
            json!({"oneOf": [
                {"required": ["title"], "properties": {"groupType": names([GroupType::ChatGroup.as_str()]),
                    "title": text(domain::conversation::MAX_TITLE_LEN)}},
                {"properties": {"groupType": names([GroupType::Room.as_str()]), "fileId": {"type": "null"}}},
            ]}),
        ),
        // E55: a message needs text or files.
        (
            "MessageBody",
            json!({"anyOf": [
                {"required": ["message"], "properties": {"message": text(domain::conversation::MAX_MESSAGE_LEN)}},
                {"required": ["fileId"], "properties": {"fileId": {"type": "array", "minItems": 1, "items": {"type": "string", "format": "uuid"}}}},
            ]}),
        ),
        // A post needs text, a file or a gif (`domain::post::PostContent::checked`).
        (
            "CreatePostBody",
            json!({"anyOf": [
                {"required": ["postText"], "properties": {"postText": text(MAX_POST_TEXT_LEN)}},
                {"required": ["fileIds"], "properties": {"fileIds": {"type": "array", "minItems": 1, "maxItems": MAX_FILES, "items": {"type": "string", "format": "uuid"}}}},
                {"required": ["gif"], "properties": {"gif": text(MAX_URL_LEN)}},
            ]}),
        ),
    ]
}

/// Properties a body's schema must not name: (component schema, property).
const ABSENT: &[(&str, &str)] = &[
    ("NewGroupIn", "id"),
    ("AddUsersIn", "id"),
    // A post ignores News' fields (spec E12: "copied from News → ignore them").
    ("PostBody", "newsTitle"),
    ("PostBody", "category"),
    ("PostBody", "coverImage"),
    ("CreatePostBody", "newsTitle"),
    ("CreatePostBody", "category"),
    ("CreatePostBody", "coverImage"),
];

/// Sunbird's request envelopes, one per operation: (public path, component name, the schema of
/// `request`), from what each handler reads (`sunbird::groups`, `sunbird::membership`,
/// `sunbird::activity`).
fn sunbird_requests() -> Vec<(&'static str, &'static str, Value)> {
    use domain::group::{GroupStatus, MemberRole, MembershipType, MAX_ACTIVITY_FIELD_LEN};
    use domain::values::MAX_GROUP_NAME_LEN;
    let uuid = || json!({"type": "string", "format": "uuid"});
    let id_text = || json!({"type": "string", "minLength": 1, "pattern": NOT_BLANK});
    let nullable = |mut v: Value| {
        v["type"] = json!([v["type"].clone(), "null"]);
        v
    };
    let roles = || nullable(names([MemberRole::Admin, MemberRole::Member].iter().map(MemberRole::as_str)));
    let membership_type = || nullable(names([MembershipType::InviteOnly, MembershipType::Moderated].iter().map(MembershipType::as_str)));
    let member = || json!({"type": "object", "required": ["userId"], "properties": {"userId": uuid(), "role": roles()}});
    let members = || json!({"type": ["array", "null"], "items": member()});
    let activity = || {
        json!({"type": "object", "required": ["id", "type"],
            "properties": {"id": text(MAX_ACTIVITY_FIELD_LEN), "type": text(MAX_ACTIVITY_FIELD_LEN)}})
    };
    let activities = || json!({"type": ["array", "null"], "items": activity()});
    let description = || json!({"type": ["string", "null"]});
    let statuses = [GroupStatus::Active, GroupStatus::Suspended, GroupStatus::Inactive];
    vec![
        (
            "/api/group/v1/create",
            "SunbirdCreateGroupRequest",
            json!({"type": "object", "required": ["name"], "properties": {
                "name": text(MAX_GROUP_NAME_LEN), "description": description(), "membershipType": membership_type(),
                "members": members(), "activities": activities()}}),
        ),
        (
            "/api/group/v1/update",
            "SunbirdUpdateGroupRequest",
            json!({"type": "object", "required": ["groupId"], "properties": {
                "groupId": id_text(), "name": text(MAX_GROUP_NAME_LEN), "description": description(),
                "membershipType": membership_type(),
                // Other values are ignored, as in the source.
                "status": {"type": ["string", "null"], "examples": statuses.iter().map(GroupStatus::as_str).collect::<Vec<_>>()},
                "members": {"type": ["object", "null"], "properties": {
                    "add": members(), "edit": members(), "remove": {"type": ["array", "null"], "items": uuid()}}},
                "activities": {"type": ["object", "null"], "properties": {
                    "add": activities(), "remove": {"type": ["array", "null"], "items": id_text()}}}}}),
        ),
        (
            "/api/group/v1/list",
            "SunbirdListGroupsRequest",
            json!({"type": "object", "required": ["filters"], "properties": {
                "filters": {"type": "object", "required": ["userId"], "properties": {"userId": uuid()}}}}),
        ),
        (
            "/api/group/v1/delete",
            "SunbirdDeleteGroupRequest",
            json!({"type": "object", "required": ["groupId"], "properties": {"groupId": id_text()}}),
        ),
        (
            "/api/group/membership/v1/update",
            "SunbirdMembershipRequest",
            json!({"type": "object", "required": ["userId", "groups"], "properties": {
                "userId": uuid(),
                "groups": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["groupId", "visited"],
                    "properties": {"groupId": uuid(), "visited": {"type": "boolean"}}}}}}),
        ),
        (
            "/api/data/v1/group/activity/agg",
            "SunbirdActivityAggRequest",
            json!({"type": "object", "required": ["groupId", "activityId", "activityType"], "properties": {
                "groupId": uuid(), "activityId": id_text(), "activityType": id_text()}}),
        ),
    ]
}

/// SCIM's request bodies (RFC 7643/7644), stated as far as the handlers check them: a User's
/// `userName`, a Group's `displayName`, a PatchOp's and a BulkRequest's `Operations`.
fn scim_bodies() -> Vec<(&'static str, &'static [&'static str], Value)> {
    use crate::scim::discovery::BULK_MAX_OPERATIONS;
    use crate::scim::patch::MAX_OPERATIONS;
    use domain::values::{MAX_GROUP_NAME_LEN, MAX_LOGIN_LEN};
    // The directory needs an email: `userName` is one, or `emails` holds one (`scim::users`).
    let user = json!({"type": "object", "required": ["userName"], "properties": {"userName": text(MAX_LOGIN_LEN)}, "anyOf": [
        {"properties": {"userName": {"format": "email"}}},
        {"required": ["emails"], "properties": {"emails": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["value"], "properties": {"value": {"type": "string", "format": "email"}}}}}},
    ]});
    let group = json!({"type": "object", "required": ["displayName"], "properties": {"displayName": text(MAX_GROUP_NAME_LEN)}});
    let patch = json!({"type": "object", "required": ["Operations"], "properties": {"Operations": {
        "type": "array", "minItems": 1, "maxItems": MAX_OPERATIONS,
    // `remove` needs a path; `add` and `replace` a value, an object of attributes when there is
    // no path (`scim::patch::parse_ops`; a blank path is none).
    "items": {"type": "object", "required": ["op"], "properties": {"path": {"type": ["string", "null"]}}, "anyOf": [
        {"required": ["path"], "properties": {"op": names_any_case(["remove"]), "path": {"type": "string", "pattern": NOT_BLANK}}},
        {"required": ["path", "value"], "properties": {"op": names_any_case(["add", "replace"]),
            "path": {"type": "string", "pattern": NOT_BLANK}, "value": {"type": ["string", "number", "boolean", "object", "array"], "items": {}}}},
        {"required": ["value"], "properties": {"op": names_any_case(["add", "replace"]),
            "path": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^[ \\t\\r\\n]*$"}]}, "value": {"type": "object"}}},
    ]}}}});
    let bulk = json!({"type": "object", "required": ["Operations"], "properties": {"Operations": {
        "type": "array", "maxItems": BULK_MAX_OPERATIONS, "items": {"type": "object"}}}});
    vec![
        ("/scim/v2/Users", &["post"], user.clone()),
        ("/scim/v2/Users/{id}", &["put"], user),
        ("/scim/v2/Groups", &["post"], group.clone()),
        ("/scim/v2/Groups/{id}", &["put"], group),
        ("/scim/v2/Users/{id}", &["patch"], patch.clone()),
        ("/scim/v2/Groups/{id}", &["patch"], patch),
        ("/scim/v2/Bulk", &["post"], bulk),
    ]
}

/// Parameters (query, header or path) whose values the server takes from a pattern or a list:
/// (path, parameter, schema), every method of the path alike.
fn parameters() -> Vec<(&'static str, &'static str, Value)> {
    // A position a stream sent as an item's `id:` (`kernel::live::last_event_id`).
    let position = || json!({"type": "string", "pattern": commands::Position::PATTERN});
    // `a` recent, `b` most reacted, `c` most commented, any case; empty is the default.
    let feed_order = || names_any_case(["", "a", "b", "c"]);
    // EVENT or LIVESTREAM, by name (any case) or code; empty is none (`events::kind`).
    let event_kinds = || {
        let kinds = crate::workdrive::events::EVENT_KINDS;
        let by_name = kinds.iter().map(|m| m.name().to_string());
        names(std::iter::once(String::new()).chain(by_name).chain(kinds.iter().map(|m| m.code().to_string())))
    };
    let task_filters = || names(std::iter::once("").chain(crate::workdrive::tasks::TASK_FILTERS));
    // Which occurrences of a series (`domain::calendar::Scope::parse`, any case; empty: this one).
    let scopes = || names_any_case(["", "following", "all"]);
    // Publisher's `sort`: keys by comma, `-` descending, `+` (or a space) ascending (`publisher::list::order_by`).
    let sort = || {
        let key = "[ ]*[-+]?[ ]*(name|created|updated|id)[ ]*";
        json!({"type": "string", "pattern": format!("^({key})?(,({key})?)*$")})
    };
    // Ids repeated in the query, added to the body's (`commands::handlers::user_bulk::check_count`
    // bounds them together).
    let query_ids = || json!({"type": "array", "maxItems": domain::values::MAX_BULK_ITEMS, "items": {"type": "string", "format": "uuid"}});
    // Publisher's date ranges (`publisher::list::date_range`): a keyword, or two whole days (the
    // pattern takes the days every month has); blank is none.
    let date_range = || {
        let day = "[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])";
        json!({"type": "string", "pattern": format!(
            "^([ ]*|[lL][aA][sS][tT]([wW][eE][eE][kK]|[mM][oO][nN][tT][hH]|[yY][eE][aA][rR])|{day},{day})$")})
    };
    vec![
        ("/api/2/groups", "createdDate", date_range()),
        ("/api/2/groups", "modifiedDate", date_range()),
        // A message of the conversation, or empty for the newest.
        (
            "/api/{conversationId}/messages",
            "cursor",
            json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}]}),
        ),
        ("/api/users/bulk-delete", "id", query_ids()),
        ("/api/security_groups/{groupId}/members", "ids", query_ids()),
        ("/api/events/{id}", "repeat", scopes()),
        ("/api/2/groups", "sort", sort()),
        // Any positive code that fits the i64 the handler reads.
        ("/api/media", "moduleCode", json!({"type": "integer", "minimum": 1, "maximum": i64::MAX})),
        ("/api/events", "filter", event_kinds()),
        ("/api/tasks", "filter", task_filters()),
        ("/api/notifications/stream", "Last-Event-ID", position()),
        ("/api/group-chats/{id}/stream", "Last-Event-ID", position()),
        ("/api/posts", "sort_key", feed_order()),
        ("/api/news", "sort_key", feed_order()),
        // A file name: not blank, no control characters (`domain::media`, `MediaCommand::Reserve`).
        (
            "/api/media",
            "name",
            json!({
                "type": "string",
                "minLength": 1,
                "maxLength": domain::media::MAX_FILE_NAME_LEN,
                "pattern": r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
            }),
        ),
        (
            "/api/groups/{id}/members/{extension_number}",
            "extension_number",
            json!({"type": "string", "pattern": crate::portsip::extension_pattern()}),
        ),
    ]
}

pub(super) fn apply(doc: &mut Value) {
    for (from, to) in COPIES {
        let copy = doc.pointer(&format!("/components/schemas/{from}")).unwrap_or_else(|| panic!("COPIES names {from}")).clone();
        doc["components"]["schemas"][*to] = copy;
    }
    for (method, path, from, to) in SPLIT_BODIES {
        split_body(doc, method, path, from, to);
    }
    for f in fields() {
        apply_field(doc, &f);
    }
    for (name, rules) in schema_rules() {
        let schema =
            doc.pointer_mut(&format!("/components/schemas/{}", escape(name))).unwrap_or_else(|| panic!("schema_rules() names {name}"));
        let (Some(schema), Value::Object(rules)) = (schema.as_object_mut(), rules) else { continue };
        for (key, value) in rules {
            match (key.as_str(), schema.get_mut(&key), value) {
                // Properties and required fields add to the schema's own.
                ("properties", Some(Value::Object(own)), Value::Object(more)) => own.extend(more),
                ("required", Some(Value::Array(own)), Value::Array(more)) => {
                    let new: Vec<Value> = more.into_iter().filter(|m| !own.contains(m)).collect();
                    own.extend(new);
                }
                (_, _, value) => {
                    schema.insert(key, value);
                }
            }
        }
    }
    // Publisher's XML lists users as `<users><user>n</user>...</users>` (`publisher::body::XmlUsersIn`).
    for name in ["GroupIn", "NewGroupIn", "ReplaceGroupIn", "AddUsersIn"] {
        let users = doc.pointer_mut(&format!("/components/schemas/{name}/properties/users")).unwrap_or_else(|| panic!("{name}.users"));
        users["xml"] = json!({"wrapped": true});
        users["items"]["xml"] = json!({"name": "user"});
        doc["components"]["schemas"][name]["xml"] = json!({"name": "group"});
    }
    for (schema, property) in ABSENT {
        let properties = doc.pointer_mut(&format!("/components/schemas/{}/properties", escape(schema))).and_then(Value::as_object_mut);
        let removed = properties.and_then(|p| p.remove(*property));
        assert!(removed.is_some(), "ABSENT names {schema}.{property}, not in the document");
    }
    // Only `request` is read (spec/sunbird-groups.md): the envelope's other members take any value.
    let envelope = {
        let mut e = doc.pointer("/components/schemas/SunbirdRequest").expect("Sunbird's envelope").clone();
        for key in ["id", "ver", "ts", "params"] {
            e["properties"][key] = json!({"description": "Not read; any value."});
        }
        e
    };
    for (public, name, request) in sunbird_requests() {
        let mut schema = envelope.clone();
        schema["properties"]["request"] = request;
        doc["components"]["schemas"][name] = schema;
        let aliases = crate::sunbird::ALIASES.iter().find(|(p, _)| *p == public).map(|(_, a)| *a).unwrap_or_default();
        for path in std::iter::once(public).chain(aliases.iter().copied()) {
            let item = doc.pointer_mut(&format!("/paths/{}", escape(path))).unwrap_or_else(|| panic!("{path} is not in the document"));
            for op in item.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                if let Some(content) = op.pointer_mut("/requestBody/content/application~1json") {
                    content["schema"] = json!({"$ref": format!("#/components/schemas/{name}")});
                }
            }
        }
    }
    for (path, methods, schema) in scim_bodies() {
        for method in methods {
            let content = doc
                .pointer_mut(&format!("/paths/{}/{method}/requestBody/content", escape(path)))
                .and_then(Value::as_object_mut)
                .unwrap_or_else(|| panic!("{method} {path} has no request body"));
            for c in content.values_mut() {
                c["schema"] = schema.clone();
            }
        }
    }
    // NexPort's SearchSubscriptions takes a JSON object when it takes a body (`body: must be a JSON object`).
    for method in ["get", "post"] {
        if let Some(body) = doc
            .pointer_mut(&format!("/paths/~1api~1v1~1AdminApi~1SearchSubscriptions/{method}/requestBody/content/application~1json/schema"))
        {
            drop_null(body);
        }
    }
    // An upload is a multipart form; without one, `POST /api/media` is a reservation (E75).
    let upload = doc.pointer_mut("/paths/~1api~1media/post/requestBody").expect("POST /api/media takes a body");
    upload["required"] = json!(false);
    for c in upload["content"].as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
        drop_null(&mut c["schema"]);
    }
    for (path, name, schema) in parameters() {
        let item = doc
            .pointer_mut(&format!("/paths/{}", escape(path)))
            .unwrap_or_else(|| panic!("parameters() names {path}, not in the document"));
        let mut found = false;
        for op in item.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
            for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if p["name"] == name {
                    p["schema"] = schema.clone();
                    found = true;
                }
            }
        }
        assert!(found, "parameters() names {path} {name}, not a parameter there");
    }
}

/// A JSON pointer's escaping of one key.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn split_body(doc: &mut Value, method: &str, path: &str, from: &str, to: &str) {
    let schemas = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut).expect("components");
    if !schemas.contains_key(to) {
        let copy = schemas.get(from).unwrap_or_else(|| panic!("SPLIT_BODIES names {from}, not in the document")).clone();
        schemas.insert(to.to_string(), copy);
    }
    let op = doc
        .pointer_mut(&format!("/paths/{}/{method}", escape(path)))
        .unwrap_or_else(|| panic!("SPLIT_BODIES names {method} {path}, not in the document"));
    let mut found = false;
    for content in op.pointer_mut("/requestBody/content").and_then(Value::as_object_mut).into_iter().flat_map(|m| m.values_mut()) {
        if content.pointer("/schema/$ref").and_then(Value::as_str) == Some(&format!("#/components/schemas/{from}")) {
            content["schema"]["$ref"] = json!(format!("#/components/schemas/{to}"));
            found = true;
        }
    }
    assert!(found, "SPLIT_BODIES: {method} {path} does not take {from}");
}

fn apply_field(doc: &mut Value, f: &Field) {
    let schema = doc
        .pointer_mut(&format!("/components/schemas/{}", escape(f.schema)))
        .unwrap_or_else(|| panic!("fields() names {}, not in the document", f.schema));
    let holder = holder(schema, f.property).unwrap_or_else(|| panic!("fields() names {}.{}, not in the document", f.schema, f.property));
    let property = &mut holder["properties"][f.property];
    drop_null(property);
    if let (Some(target), Some(patch)) = (property.as_object_mut(), f.patch.as_object()) {
        if ["type", "anyOf", "oneOf", "$ref", "enum"].iter().any(|k| patch.contains_key(*k)) {
            // The patch says what the value is: what said it before goes (its words stay).
            target.retain(|k, _| matches!(k.as_str(), "description" | "example" | "examples"));
        }
        target.extend(patch.clone());
    }
    if f.required {
        let required = holder.as_object_mut().expect("an object schema").entry("required").or_insert_with(|| json!([]));
        let list = required.as_array_mut().expect("required is a list");
        if !list.iter().any(|r| r == f.property) {
            list.push(json!(f.property));
        }
    }
}

/// The object schema (the schema itself or one of its `allOf` parts) that declares `property`.
fn holder<'a>(schema: &'a mut Value, property: &str) -> Option<&'a mut Value> {
    let declares = |s: &Value| s.get("properties").and_then(|p| p.get(property)).is_some();
    if declares(schema) {
        return Some(schema);
    }
    let parts = schema.get_mut("allOf")?.as_array_mut()?;
    let i = parts.iter().position(declares)?;
    Some(&mut parts[i])
}

/// `null` is no longer a value of this schema: `type: [T, null]` becomes `type: T`, and a
/// `oneOf`/`anyOf` loses its `{type: null}` (and collapses to its one remaining alternative).
fn drop_null(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else { return };
    if let Some(types) = obj.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            obj.insert("type".into(), only);
        }
    }
    for key in ["oneOf", "anyOf"] {
        let Some(items) = obj.get_mut(key).and_then(Value::as_array_mut) else { continue };
        items.retain(|i| i.get("type") != Some(&json!("null")));
        if items.len() == 1 {
            let only = items.remove(0);
            obj.remove(key);
            let rest: Map<String, Value> = std::mem::take(obj);
            if let Value::Object(mut alt) = only {
                // The property's own words (its description) win over the alternative's.
                alt.extend(rest);
                *obj = alt;
            }
        }
    }
}
