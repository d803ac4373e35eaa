//! Roster's HTTP API and process wiring: one router with a module per dialect, the auth and
//! read-your-writes machinery they share, and `start`, which runs the API with the relay and the
//! projection runners in one process.

pub mod app;
pub mod asyncapi;
pub mod auth;
pub mod bus;
pub mod cli;
pub mod consistency;
pub mod dialect;
pub mod error;
pub mod grants;
pub mod nexport;
pub mod openapi;
pub mod portsip;
pub mod publisher;
pub mod roster;
pub mod sunbird;
pub mod workdrive;
pub mod write;

pub use app::{router, start, AppState, Config, Roles, Running};
