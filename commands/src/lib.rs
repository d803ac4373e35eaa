//! The write side: the event store on Postgres (append, load, claims, idempotency), credentials,
//! and the command handlers that load streams, run the domain's `decide`, and append.

pub mod error;
pub mod handlers;
pub mod results;
pub mod secrets;
pub mod snapshots;
pub mod store;
pub mod throttle;

pub use error::{CommandError, StoreError};
// Re-exported so that the api and the tests, which name them through `commands`, need not change.
pub use eventlog::{log, Envelope, Position};
pub use store::{CommandContext, Committed, Precondition, Store};
