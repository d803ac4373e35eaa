//! The `roster` binary as a library: its command line (`dev`, `serve`, `rebuild`, ...) and the
//! process wiring that runs the API, the relay, the projection runners and the sealer. The test
//! harness starts Roster in-process through [`start`], and runs the command line through
//! [`cli::execute`].

pub mod app;
pub mod cli;

pub use app::{start, Config, Roles, Running, StartError, DEFAULT_CONSISTENCY_TIMEOUT};
pub use cli::main;
