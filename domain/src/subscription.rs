//! Subscriptions (NexPort): a user's enrolment in an organization, with an optional expiry date,
//! an enabled/disabled switch, a named status and the user's custom profile field values there.
//! One subscription per (organization, user), through a unique claim.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::profile_field::FieldValue;
use crate::{DomainError, OrgId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SubscriptionStatus {
    Active,
    Pending,
    OnHold,
    Suspended,
    Cancelled,
    Completed,
}

impl SubscriptionStatus {
    /// What an empty status in SetSubscriptionStatus means.
    pub const DEFAULT: SubscriptionStatus = SubscriptionStatus::Active;
    pub const ALL: [SubscriptionStatus; 6] = [
        SubscriptionStatus::Active,
        SubscriptionStatus::Pending,
        SubscriptionStatus::OnHold,
        SubscriptionStatus::Suspended,
        SubscriptionStatus::Cancelled,
        SubscriptionStatus::Completed,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "Active",
            SubscriptionStatus::Pending => "Pending",
            SubscriptionStatus::OnHold => "OnHold",
            SubscriptionStatus::Suspended => "Suspended",
            SubscriptionStatus::Cancelled => "Cancelled",
            SubscriptionStatus::Completed => "Completed",
        }
    }

    /// `""` is the default status; an unknown name is `None` (NexPort: "Subscription Status not found").
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return Some(Self::DEFAULT);
        }
        Self::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub disabled: bool,
    pub status: SubscriptionStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
    pub values: BTreeMap<String, FieldValue>,
}

impl Subscription {
    /// Whether it entitles the user to memberships in the org's groups now.
    pub fn in_force(&self) -> bool {
        !self.disabled && !self.expired
    }
}

#[derive(Debug, Clone)]
pub enum SubscriptionCommand {
    Create {
        org_id: OrgId,
        user_id: UserId,
        expires_at: Option<DateTime<Utc>>,
        actor: Option<UserId>,
    },
    SetDisabled {
        disabled: bool,
        actor: Option<UserId>,
    },
    SetStatus {
        status: SubscriptionStatus,
        now: DateTime<Utc>,
        actor: Option<UserId>,
    },
    /// Sent by the expiry worker once `expires_at` has passed; anything else is a no-op.
    Expire {
        now: DateTime<Utc>,
    },
    /// Values already parsed against their fields' types; `None` clears a value.
    SetFieldValues {
        values: BTreeMap<String, Option<FieldValue>>,
        actor: Option<UserId>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum SubscriptionEvent {
    SubscriptionCreated {
        org_id: OrgId,
        user_id: UserId,
        status: SubscriptionStatus,
        expires_at: Option<DateTime<Utc>>,
        created_by: Option<UserId>,
    },
    SubscriptionDisabled {
        by: Option<UserId>,
    },
    SubscriptionEnabled {
        by: Option<UserId>,
    },
    SubscriptionStatusChanged {
        previous: SubscriptionStatus,
        current: SubscriptionStatus,
        set_at: DateTime<Utc>,
        by: Option<UserId>,
    },
    SubscriptionExpired {
        expires_at: DateTime<Utc>,
        noticed_at: DateTime<Utc>,
    },
    SubscriptionFieldValuesSet {
        /// Key → typed value; `null` cleared the value.
        #[schema(value_type = Object)]
        values: BTreeMap<String, Option<FieldValue>>,
        by: Option<UserId>,
    },
}

impl DomainEvent for SubscriptionEvent {
    const STREAM_TYPE: &'static str = "subscription";

    fn event_type(&self) -> &'static str {
        match self {
            SubscriptionEvent::SubscriptionCreated { .. } => "SubscriptionCreated",
            SubscriptionEvent::SubscriptionDisabled { .. } => "SubscriptionDisabled",
            SubscriptionEvent::SubscriptionEnabled { .. } => "SubscriptionEnabled",
            SubscriptionEvent::SubscriptionStatusChanged { .. } => "SubscriptionStatusChanged",
            SubscriptionEvent::SubscriptionExpired { .. } => "SubscriptionExpired",
            SubscriptionEvent::SubscriptionFieldValuesSet { .. } => "SubscriptionFieldValuesSet",
        }
    }
}

pub struct SubscriptionAggregate;

impl esrs::Aggregate for SubscriptionAggregate {
    const NAME: &'static str = "subscription";
    type State = Option<Subscription>;
    type Command = SubscriptionCommand;
    type Event = SubscriptionEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        if let SubscriptionCommand::Create { org_id, user_id, expires_at, actor } = command {
            if state.is_some() {
                return Err(DomainError::AlreadyExists("subscription"));
            }
            return Ok(vec![SubscriptionEvent::SubscriptionCreated {
                org_id,
                user_id,
                status: SubscriptionStatus::DEFAULT,
                expires_at,
                created_by: actor,
            }]);
        }
        let sub = state.as_ref().ok_or(DomainError::NotFound("subscription"))?;
        Ok(match command {
            SubscriptionCommand::Create { .. } => unreachable!("handled above"),
            SubscriptionCommand::SetDisabled { disabled, actor } => match (sub.disabled, disabled) {
                (false, true) => vec![SubscriptionEvent::SubscriptionDisabled { by: actor }],
                (true, false) => vec![SubscriptionEvent::SubscriptionEnabled { by: actor }],
                _ => vec![],
            },
            SubscriptionCommand::SetStatus { status, now, actor } => {
                vec![SubscriptionEvent::SubscriptionStatusChanged { previous: sub.status, current: status, set_at: now, by: actor }]
            }
            SubscriptionCommand::Expire { now } => match sub.expires_at {
                Some(at) if at <= now && !sub.expired => vec![SubscriptionEvent::SubscriptionExpired { expires_at: at, noticed_at: now }],
                _ => vec![],
            },
            SubscriptionCommand::SetFieldValues { values, actor } => {
                let changed: BTreeMap<String, Option<FieldValue>> =
                    values.into_iter().filter(|(k, v)| sub.values.get(k) != v.as_ref()).collect();
                if changed.is_empty() {
                    vec![]
                } else {
                    vec![SubscriptionEvent::SubscriptionFieldValuesSet { values: changed, by: actor }]
                }
            }
        })
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        if let SubscriptionEvent::SubscriptionCreated { org_id, user_id, status, expires_at, .. } = event {
            return Some(Subscription { org_id, user_id, disabled: false, status, expires_at, expired: false, values: BTreeMap::new() });
        }
        state.map(|mut s| {
            match event {
                SubscriptionEvent::SubscriptionCreated { .. } => {}
                SubscriptionEvent::SubscriptionDisabled { .. } => s.disabled = true,
                SubscriptionEvent::SubscriptionEnabled { .. } => s.disabled = false,
                SubscriptionEvent::SubscriptionStatusChanged { current, .. } => s.status = current,
                SubscriptionEvent::SubscriptionExpired { .. } => s.expired = true,
                SubscriptionEvent::SubscriptionFieldValuesSet { values, .. } => {
                    for (k, v) in values {
                        match v {
                            Some(v) => s.values.insert(k, v),
                            None => s.values.remove(&k),
                        };
                    }
                }
            }
            s
        })
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn created(expires_at: Option<DateTime<Utc>>) -> Option<Subscription> {
        let cmd = SubscriptionCommand::Create {
            org_id: OrgId(uuid::Uuid::from_u128(1)),
            user_id: UserId(uuid::Uuid::from_u128(2)),
            expires_at,
            actor: None,
        };
        SubscriptionAggregate::handle_command(&None, cmd).unwrap().into_iter().fold(None, SubscriptionAggregate::apply_event)
    }

    #[test]
    fn expiry_happens_once_and_only_after_the_date() {
        let s = created(Some(at("2026-05-01T00:00:00Z")));
        assert!(SubscriptionAggregate::handle_command(&s, SubscriptionCommand::Expire { now: at("2026-04-30T23:59:59Z") })
            .unwrap()
            .is_empty());
        let events = SubscriptionAggregate::handle_command(&s, SubscriptionCommand::Expire { now: at("2026-05-01T00:00:00Z") }).unwrap();
        assert_eq!(events.len(), 1);
        let s = events.into_iter().fold(s, SubscriptionAggregate::apply_event);
        assert!(!s.as_ref().unwrap().in_force());
        assert!(SubscriptionAggregate::handle_command(&s, SubscriptionCommand::Expire { now: at("2026-06-01T00:00:00Z") })
            .unwrap()
            .is_empty());
        assert!(SubscriptionAggregate::handle_command(&created(None), SubscriptionCommand::Expire { now: at("2999-01-01T00:00:00Z") })
            .unwrap()
            .is_empty());
    }

    #[test]
    fn disabling_twice_records_one_change() {
        let s = created(None);
        let off = SubscriptionAggregate::handle_command(&s, SubscriptionCommand::SetDisabled { disabled: true, actor: None }).unwrap();
        let s = off.into_iter().fold(s, SubscriptionAggregate::apply_event);
        assert!(SubscriptionAggregate::handle_command(&s, SubscriptionCommand::SetDisabled { disabled: true, actor: None })
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_empty_status_is_the_default_and_unknown_ones_are_none() {
        assert_eq!(SubscriptionStatus::parse(""), Some(SubscriptionStatus::Active));
        assert_eq!(SubscriptionStatus::parse("onhold"), Some(SubscriptionStatus::OnHold));
        assert_eq!(SubscriptionStatus::parse("Asleep"), None);
    }
}
