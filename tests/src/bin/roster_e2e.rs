//! The `roster` binary, built inside the test package so that end-to-end tests can run Roster as
//! separate processes (`env!("CARGO_BIN_EXE_roster-e2e")`; cargo only sets that variable for the
//! binaries of the package under test). Same entry point as `roster/src/main.rs`.

fn main() -> std::process::ExitCode {
    roster::main()
}
