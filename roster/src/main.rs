// See the workspace Cargo.toml: glibc's malloc was a quarter of Roster's CPU on the write path.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    roster::main()
}
