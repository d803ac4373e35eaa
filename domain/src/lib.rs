//! Roster's domain: ids, validated values, aggregates and their events.
//!
//! Pure and synchronous: no IO, no clock, no randomness. Commands carry `now` and any new ids, so
//! replaying the same events always yields the same state.

pub mod audience;
pub mod calendar;
pub mod category;
pub mod conversation;
pub mod department;
pub mod error;
pub mod event;
pub mod follow;
pub mod group;
pub mod history;
pub mod ids;
pub mod library;
pub mod location;
pub mod media;
pub mod notification;
pub mod org_unit;
pub mod organization;
pub mod patch;
pub mod permission;
pub mod post;
pub mod profile_field;
pub mod security_group;
pub mod sso;
pub mod subscription;
pub mod task;
pub mod user;
pub mod values;

pub use error::DomainError;
pub use event::{DomainEvent, EventCodecError};
pub use ids::{GroupId, OrgId, TokenId, UserId};
