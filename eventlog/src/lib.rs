//! The event log as every layer reads it: the envelope, the log position, reads in log order, and
//! connecting to and migrating the database. Under `commands` (which appends), `projections` and
//! `workers` (which read).

pub mod db;
pub mod log;
pub mod position;

pub use log::Envelope;
pub use position::Position;
