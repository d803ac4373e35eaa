//! Notifications (WorkDrive E41, DESIGN §11): a request to tell some users something over one
//! medium, and the outcome of every delivery, on the notification's own stream.
//!
//! The request is the event the notifier delivers; each delivery's outcome is recorded as
//! `NotificationDelivered` / `NotificationFailed`, keyed by the id of the event that asked for it
//! (the log's `event_id`), the recipient and the medium. The aggregate refuses a second outcome
//! for the same key, so a redelivered request can never be recorded (nor, since the notifier
//! checks first, sent) twice. Onboarding notices (E03) are asked for by the user stream's
//! `UserOnboardingNoticeRecorded`; their outcomes go on a notification stream derived from that
//! event's id ([`onboarding_stream_id`]), which has no request of its own.
//!
//! Field names in errors are the request fields of the WorkDrive dialect (the only one that sends
//! notifications).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::DomainEvent;
use crate::values::{bounded_text, required_text};
use crate::{DomainError, OrgId, UserId};

pub const MAX_TITLE_LEN: usize = 300;
pub const MAX_DESCRIPTION_LEN: usize = 10_000;
/// Recipients of one request (either list).
pub const MAX_RECIPIENTS: usize = 1000;
/// A failure's reason is cut to this many characters before it is recorded.
pub const MAX_ERROR_LEN: usize = 1000;
/// A Message-ID (RFC 5322 allows 998 characters on a line).
pub const MAX_MESSAGE_ID_LEN: usize = 500;

/// How a notification reaches its recipients (spec: Notification medium).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Medium {
    Email,
    Sms,
    Push,
    Inapp,
}

impl Medium {
    pub const ALL: [Medium; 4] = [Medium::Email, Medium::Sms, Medium::Push, Medium::Inapp];

    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Email => "EMAIL",
            Medium::Sms => "SMS",
            Medium::Push => "PUSH",
            Medium::Inapp => "INAPP",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(raw))
            .ok_or_else(|| DomainError::invalid(field, format!("'{raw}' is not a medium; known: EMAIL, SMS, PUSH, INAPP")))
    }
}

/// The notification stream holding the outcomes of the onboarding notice recorded by `event_id`.
pub fn onboarding_stream_id(event_id: Uuid) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("roster:onboarding-notice:{event_id}").as_bytes())
}

/// The notification stream holding the outcomes of the task reminder recorded by `event_id`.
pub fn reminder_stream_id(event_id: Uuid) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("roster:task-reminder:{event_id}").as_bytes())
}

/// What a delivery attempt came to, as the notifier reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The id of the event that asked for the delivery.
    pub event_id: Uuid,
    pub recipient: UserId,
    pub medium: Medium,
    pub attempts: u32,
    pub at: DateTime<Utc>,
    /// `Ok(message_id)` (the Message-ID of a mail, none otherwise) or `Err(reason)`.
    pub result: Result<Option<String>, String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notification {
    pub org_id: Option<OrgId>,
    /// Set on an E41 request's stream; onboarding notices' streams hold outcomes only.
    pub requested: bool,
    pub recipients: BTreeSet<UserId>,
    /// (event id, recipient, medium) of every recorded outcome.
    pub outcomes: BTreeSet<(Uuid, UserId, Medium)>,
    /// Who has it in their in-app inbox, and who has read it there.
    pub inbox: BTreeSet<UserId>,
    pub read: BTreeSet<UserId>,
}

impl Notification {
    pub fn has_outcome(&self, event_id: Uuid, recipient: UserId, medium: Medium) -> bool {
        self.outcomes.contains(&(event_id, recipient, medium))
    }
}

#[derive(Debug, Clone)]
pub enum NotificationCommand {
    /// E41. `recipients_field` names the request's list for errors (`emails` or `receiver_user_ids`).
    Send {
        id: Uuid,
        org_id: OrgId,
        sender: UserId,
        now: DateTime<Utc>,
        title: String,
        description: String,
        medium: Medium,
        recipients: Vec<UserId>,
        recipients_field: String,
    },
    Record {
        outcome: Box<Outcome>,
    },
    MarkRead {
        user: UserId,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum NotificationEvent {
    NotificationRequested {
        id: Uuid,
        org_id: OrgId,
        sender: UserId,
        title: String,
        /// Empty when the request had none.
        description: String,
        medium: Medium,
        recipients: Vec<UserId>,
        requested_at: DateTime<Utc>,
    },
    /// One recipient got it. `event_id` is the event that asked for it; `message_id` is the
    /// mail's Message-ID (EMAIL only).
    NotificationDelivered {
        id: Uuid,
        event_id: Uuid,
        recipient: UserId,
        medium: Medium,
        message_id: Option<String>,
        attempts: u32,
        at: DateTime<Utc>,
    },
    /// One recipient could not be reached (after `attempts` tries), or is no longer in the
    /// audience (`attempts` 0). Carries no secret: the reason is the transport's answer.
    NotificationFailed { id: Uuid, event_id: Uuid, recipient: UserId, medium: Medium, attempts: u32, error: String, at: DateTime<Utc> },
    /// Roster: the recipient has read it in their inbox.
    NotificationRead { id: Uuid, user: UserId, at: DateTime<Utc> },
}

impl DomainEvent for NotificationEvent {
    const STREAM_TYPE: &'static str = "notification";

    fn event_type(&self) -> &'static str {
        match self {
            NotificationEvent::NotificationRequested { .. } => "NotificationRequested",
            NotificationEvent::NotificationDelivered { .. } => "NotificationDelivered",
            NotificationEvent::NotificationFailed { .. } => "NotificationFailed",
            NotificationEvent::NotificationRead { .. } => "NotificationRead",
        }
    }
}

/// Bounded, and without NUL (which Postgres cannot store): a transport's answer is not ours to trust.
fn truncate(s: &str, max: usize) -> String {
    s.chars().filter(|c| *c != '\0').take(max).collect()
}

pub struct NotificationAggregate;

/// A notification stream's id: outcome-only streams (onboarding notices) have no earlier event
/// naming it, so every command carries it.
pub type StreamId = Uuid;

impl NotificationAggregate {
    /// Decides on stream `id` (the aggregate's state does not hold its own id on outcome-only
    /// streams).
    pub fn decide(id: StreamId, state: &Notification, command: NotificationCommand) -> Result<Vec<NotificationEvent>, DomainError> {
        match command {
            NotificationCommand::Send { id: new_id, org_id, sender, now, title, description, medium, recipients, recipients_field } => {
                if state.requested {
                    return Err(DomainError::AlreadyExists("notification"));
                }
                let title = required_text("title", &title, MAX_TITLE_LEN)?;
                let description = bounded_text("description", description.trim(), MAX_DESCRIPTION_LEN)?;
                if recipients.is_empty() {
                    return Err(DomainError::invalid(recipients_field, format!("is required when medium is {}", medium.as_str())));
                }
                if recipients.len() > MAX_RECIPIENTS {
                    return Err(DomainError::invalid(recipients_field, format!("must have at most {MAX_RECIPIENTS} entries")));
                }
                let mut seen = BTreeSet::new();
                let recipients: Vec<UserId> = recipients.into_iter().filter(|r| seen.insert(*r)).collect();
                Ok(vec![NotificationEvent::NotificationRequested {
                    id: new_id,
                    org_id,
                    sender,
                    title,
                    description,
                    medium,
                    recipients,
                    requested_at: now,
                }])
            }
            NotificationCommand::Record { outcome } => {
                let Outcome { event_id, recipient, medium, attempts, at, result } = *outcome;
                if state.has_outcome(event_id, recipient, medium) {
                    return Ok(vec![]);
                }
                Ok(vec![match result {
                    Ok(message_id) => NotificationEvent::NotificationDelivered {
                        id,
                        event_id,
                        recipient,
                        medium,
                        message_id: message_id.map(|m| truncate(&m, MAX_MESSAGE_ID_LEN)),
                        attempts,
                        at,
                    },
                    Err(error) => {
                        let error = truncate(error.trim(), MAX_ERROR_LEN);
                        let error = if error.is_empty() { "unknown error".to_string() } else { error };
                        NotificationEvent::NotificationFailed { id, event_id, recipient, medium, attempts, error, at }
                    }
                }])
            }
            NotificationCommand::MarkRead { user, now } => {
                if !state.inbox.contains(&user) {
                    return Err(DomainError::NotFound("notification"));
                }
                if state.read.contains(&user) {
                    return Ok(vec![]);
                }
                Ok(vec![NotificationEvent::NotificationRead { id, user, at: now }])
            }
        }
    }
}

impl esrs::Aggregate for NotificationAggregate {
    const NAME: &'static str = "notification";
    type State = Notification;
    /// The stream id rides along: outcome-only streams carry it in no earlier event.
    type Command = (StreamId, NotificationCommand);
    type Event = NotificationEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, (id, command): Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        NotificationAggregate::decide(id, state, command)
    }

    fn apply_event(mut state: Self::State, event: Self::Event) -> Self::State {
        match event {
            NotificationEvent::NotificationRequested { org_id, recipients, .. } => {
                state.org_id = Some(org_id);
                state.requested = true;
                state.recipients = recipients.into_iter().collect();
            }
            NotificationEvent::NotificationDelivered { event_id, recipient, medium, .. } => {
                state.outcomes.insert((event_id, recipient, medium));
                if medium == Medium::Inapp {
                    state.inbox.insert(recipient);
                }
            }
            NotificationEvent::NotificationFailed { event_id, recipient, medium, .. } => {
                state.outcomes.insert((event_id, recipient, medium));
            }
            NotificationEvent::NotificationRead { user, .. } => {
                state.read.insert(user);
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;
    use proptest::prelude::*;

    use super::*;

    fn u(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn send(title: &str, recipients: Vec<UserId>) -> NotificationCommand {
        NotificationCommand::Send {
            id: Uuid::from_u128(7),
            org_id: OrgId(Uuid::from_u128(1)),
            sender: u(2),
            now: Utc::now(),
            title: title.into(),
            description: " d ".into(),
            medium: Medium::Inapp,
            recipients,
            recipients_field: "receiver_user_ids".into(),
        }
    }

    fn run(state: &Notification, cmd: NotificationCommand) -> Result<Vec<NotificationEvent>, DomainError> {
        NotificationAggregate::handle_command(state, (Uuid::from_u128(7), cmd))
    }

    fn fold(state: Notification, events: Vec<NotificationEvent>) -> Notification {
        events.into_iter().fold(state, NotificationAggregate::apply_event)
    }

    fn outcome(event: u128, who: u128, medium: Medium, result: Result<Option<String>, String>) -> NotificationCommand {
        NotificationCommand::Record {
            outcome: Box::new(Outcome { event_id: Uuid::from_u128(event), recipient: u(who), medium, attempts: 1, at: Utc::now(), result }),
        }
    }

    #[test]
    fn a_request_needs_a_title_and_recipients() {
        let s = Notification::default();
        assert_eq!(run(&s, send(" ", vec![u(3)])).unwrap_err(), DomainError::invalid("title", "must not be empty"));
        assert_eq!(run(&s, send("t", vec![])).unwrap_err(), DomainError::invalid("receiver_user_ids", "is required when medium is INAPP"));
        let events = run(&s, send(" t ", vec![u(3), u(3), u(4)])).unwrap();
        let NotificationEvent::NotificationRequested { title, description, recipients, .. } = &events[0] else { panic!() };
        assert_eq!((title.as_str(), description.as_str(), recipients.len()), ("t", "d", 2));
        let s = fold(s, events);
        assert_eq!(run(&s, send("t", vec![u(3)])).unwrap_err(), DomainError::AlreadyExists("notification"));
    }

    #[test]
    fn media_parse_by_name() {
        assert_eq!(Medium::parse("medium", " email ").unwrap(), Medium::Email);
        assert!(Medium::parse("medium", "FAX").is_err());
    }

    proptest! {
        /// Whatever the notifier reports, and however often, each (event, recipient, medium) has
        /// exactly one recorded outcome: the first.
        #[test]
        fn one_outcome_per_event_recipient_and_medium(ops in proptest::collection::vec((0u128..3, 0u128..3, 0usize..4, any::<bool>()), 0..40)) {
            let mut state = Notification::default();
            let mut model = BTreeSet::new();
            for (event, who, m, ok) in ops {
                let medium = Medium::ALL[m];
                let result = if ok { Ok(None) } else { Err("down".to_string()) };
                let events = run(&state, outcome(event, who, medium, result)).unwrap();
                prop_assert_eq!(events.len(), usize::from(model.insert((event, who, m))));
                state = fold(state, events);
            }
            prop_assert_eq!(state.outcomes.len(), model.len());
        }
    }

    #[test]
    fn only_an_inapp_recipient_marks_it_read_and_once() {
        let s = fold(Notification::default(), run(&Notification::default(), send("t", vec![u(3)])).unwrap());
        let read = |who| NotificationCommand::MarkRead { user: u(who), now: Utc::now() };
        assert_eq!(run(&s, read(3)).unwrap_err(), DomainError::NotFound("notification"));
        let s = fold(s.clone(), run(&s, outcome(9, 3, Medium::Inapp, Ok(None))).unwrap());
        assert_eq!(run(&s, read(4)).unwrap_err(), DomainError::NotFound("notification"));
        let s = fold(s.clone(), run(&s, read(3)).unwrap());
        assert!(run(&s, read(3)).unwrap().is_empty());
    }

    #[test]
    fn failures_are_bounded_and_never_blank() {
        let s = Notification::default();
        let events = run(&s, outcome(1, 2, Medium::Sms, Err("x".repeat(MAX_ERROR_LEN * 2)))).unwrap();
        let NotificationEvent::NotificationFailed { error, .. } = &events[0] else { panic!() };
        assert_eq!(error.chars().count(), MAX_ERROR_LEN);
        let events = run(&s, outcome(1, 2, Medium::Sms, Err("  ".into()))).unwrap();
        let NotificationEvent::NotificationFailed { error, .. } = &events[0] else { panic!() };
        assert_eq!(error, "unknown error");
    }
}
