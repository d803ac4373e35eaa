//! Following (Roster, DESIGN §11): `POST` / `DELETE /api/users/{id}/follow`. Followers are the
//! audience of `friends` items, and give videos' `isFollowing` and photos' `friends_photos` their
//! meaning.
//!
//! One stream per (follower, followee) pair, its id derived from the two, so following is a
//! command on one small stream that conflicts only with itself, and a repeated follow or unfollow
//! changes nothing.

use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::{DomainError, OrgId, UserId};

/// The stream of `follower` following `followee` (UUIDv5 of the pair).
pub fn stream_id(follower: UserId, followee: UserId) -> uuid::Uuid {
    uuid::Uuid::new_v5(&follower.0, format!("roster:follow:{}", followee.0).as_bytes())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Follow {
    pub following: bool,
}

#[derive(Debug, Clone)]
pub enum FollowCommand {
    /// `field` names the followee in the request, for the error when following oneself.
    Follow {
        org_id: OrgId,
        follower: UserId,
        followee: UserId,
        field: String,
    },
    Unfollow {
        follower: UserId,
        followee: UserId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum FollowEvent {
    UserFollowed { org_id: OrgId, follower: UserId, followee: UserId },
    UserUnfollowed { follower: UserId, followee: UserId },
}

impl DomainEvent for FollowEvent {
    const STREAM_TYPE: &'static str = "follow";

    fn event_type(&self) -> &'static str {
        match self {
            FollowEvent::UserFollowed { .. } => "UserFollowed",
            FollowEvent::UserUnfollowed { .. } => "UserUnfollowed",
        }
    }
}

pub struct FollowAggregate;

impl esrs::Aggregate for FollowAggregate {
    const NAME: &'static str = "follow";
    type State = Follow;
    type Command = FollowCommand;
    type Event = FollowEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            FollowCommand::Follow { field, follower, followee, .. } if follower == followee => {
                Err(DomainError::invalid(field, "a user cannot follow themselves"))
            }
            FollowCommand::Follow { .. } if state.following => Ok(vec![]),
            FollowCommand::Unfollow { .. } if !state.following => Ok(vec![]),
            FollowCommand::Follow { org_id, follower, followee, .. } => Ok(vec![FollowEvent::UserFollowed { org_id, follower, followee }]),
            FollowCommand::Unfollow { follower, followee } => Ok(vec![FollowEvent::UserUnfollowed { follower, followee }]),
        }
    }

    fn apply_event(_: Self::State, event: Self::Event) -> Self::State {
        match event {
            FollowEvent::UserFollowed { .. } => Follow { following: true },
            FollowEvent::UserUnfollowed { .. } => Follow { following: false },
        }
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn u(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn follow(a: u128, b: u128) -> FollowCommand {
        FollowCommand::Follow { org_id: OrgId(uuid::Uuid::from_u128(9)), follower: u(a), followee: u(b), field: "id".into() }
    }

    #[test]
    fn follow_and_unfollow_change_something_only_once() {
        let s = Follow::default();
        assert!(FollowAggregate::handle_command(&s, FollowCommand::Unfollow { follower: u(1), followee: u(2) }).unwrap().is_empty());
        let events = FollowAggregate::handle_command(&s, follow(1, 2)).unwrap();
        assert_eq!(events.len(), 1);
        let s = events.into_iter().fold(s, FollowAggregate::apply_event);
        assert!(FollowAggregate::handle_command(&s, follow(1, 2)).unwrap().is_empty());
        assert_eq!(FollowAggregate::handle_command(&s, FollowCommand::Unfollow { follower: u(1), followee: u(2) }).unwrap().len(), 1);
    }

    #[test]
    fn nobody_follows_themselves_and_pairs_have_their_own_stream() {
        assert_eq!(
            FollowAggregate::handle_command(&Follow::default(), follow(1, 1)).unwrap_err(),
            DomainError::invalid("id", "a user cannot follow themselves")
        );
        assert_ne!(stream_id(u(1), u(2)), stream_id(u(2), u(1)));
    }
}
