//! Roster's HTTP API and process wiring: one router with a module per dialect, the auth and
//! read-your-writes machinery they share, and `start`, which runs the API with the relay and the
//! projection runners in one process.

pub mod app;
pub mod asyncapi;
pub mod cli;
pub mod devstack;
pub mod grants;
pub mod kernel;
pub mod nexport;
pub mod openapi;
pub mod portsip;
pub mod publisher;
pub mod roster;
pub mod sunbird;
pub mod workdrive;

pub use app::{router, start, AppState, Config, Roles, Running};
