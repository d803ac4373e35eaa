//! End-to-end tests: every test starts a real Roster over a real Postgres and a real nats-server
//! (see `roster_tests`), talks to it over HTTP, and reads NATS and the database directly.

mod audit;
mod cli;
mod content;
mod contract;
mod delivery;
mod departments;
mod events;
mod faults;
mod fuzz_findings;
mod group_chats;
mod group_dialects;
mod library;
mod locations;
mod media;
mod nexport;
mod notifications;
mod parking;
mod portsip;
mod posts;
mod publisher;
mod roster_api;
mod scim;
mod security_groups;
mod sso;
mod store;
mod sunbird;
mod tasks;
mod tenancy;
mod users_bulk;
mod workdrive;
