//! The write side: the event store on Postgres (append, load, claims, idempotency), credentials,
//! and the command handlers that load streams, run the domain's `decide`, and append.

pub mod db;
pub mod error;
pub mod handlers;
pub mod log;
pub mod position;
pub mod results;
pub mod secrets;
pub mod throttle;
pub mod store;

pub use error::{CommandError, StoreError};
pub use log::Envelope;
pub use position::Position;
pub use store::{CommandContext, Committed, Store};
