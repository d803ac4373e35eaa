//! The `roster` command line: `dev`, `serve`, `rebuild`, `token`, `security-group add`, `projection
//! parked|replay-parked`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use devstack::{NatsServer, PgCluster};
use workers::NatsConfig;

use crate::app::{self, Config, Roles};

#[derive(Parser)]
#[command(name = "roster", version, about = "Roster: an event-sourced multi-tenant directory with many API dialects")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything locally: a private Postgres and nats-server under the data dir (unless
    /// DATABASE_URL and NATS_URL are set), migrations, the super-admin token, API, relay and
    /// projectors. Prints the endpoints as JSON once ready; Ctrl-C stops it all.
    Dev(DevArgs),
    /// Run in production against DATABASE_URL and NATS_URL.
    Serve(ServeArgs),
    /// Replay the log into fresh read-model tables and swap them in while the API serves.
    Rebuild(RebuildArgs),
    /// Mint an access token for the super admin or a user, printed once.
    Token(TokenArgs),
    /// Check the log against the sealer's hash chains and report the first break of each chain
    /// (an event edited, deleted or inserted behind Roster's back). Exits non-zero on a break.
    Verify(VerifyArgs),
    /// Manage an organization's security groups (the API has no endpoint that creates them).
    #[command(name = "security-group", subcommand)]
    SecurityGroup(SecurityGroupCommand),
    /// Follow the event log.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Inspect and repair projections: the events they parked.
    #[command(subcommand)]
    Projection(ProjectionCommand),
}

#[derive(Subcommand)]
enum ProjectionCommand {
    /// List parked events (projection, stream, event, error, time), in log order: events a
    /// projection refused, and the later events of their streams parked behind them.
    Parked(ParkedArgs),
    /// Re-apply parked events in order (per stream, in log order) once their cause is fixed;
    /// reports what now applies and what is still failing (that stays parked, with everything
    /// behind it in its stream). Exits non-zero while something is still failing.
    #[command(name = "replay-parked")]
    ReplayParked(ParkedArgs),
}

#[derive(Args)]
struct ParkedArgs {
    /// Only this projection's parked events.
    #[arg(long)]
    projection: Option<String>,
    /// Only this stream's (an entity id).
    #[arg(long)]
    stream: Option<uuid::Uuid>,
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Print events in log order, one readable line each, then live ones as they happen: the
    /// part NATS no longer holds from the log, the rest from JetStream, each event exactly once.
    Tail(TailArgs),
}

#[derive(Args)]
struct TailArgs {
    /// Only this organization's events.
    #[arg(long)]
    org: Option<uuid::Uuid>,
    /// Start after this position (a `position` or `Roster-Position`); default the log's start.
    #[arg(long)]
    from: Option<String>,
    /// Stop after this many events (default: follow until Ctrl-C).
    #[arg(long)]
    limit: Option<u64>,
    /// Print each event's JSON envelope instead of a line.
    #[arg(long)]
    json: bool,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[arg(long, env = "NATS_URL")]
    nats_url: String,
    #[arg(long, env = "ROSTER_NATS_STREAM", default_value = NatsConfig::DEFAULT_STREAM)]
    nats_stream: String,
    #[arg(long, env = "ROSTER_NATS_SUBJECT_PREFIX", default_value = NatsConfig::DEFAULT_PREFIX)]
    nats_subject_prefix: String,
}

#[derive(Subcommand)]
enum SecurityGroupCommand {
    /// Create a security group in an organization; prints its id.
    Add(SecurityGroupAddArgs),
}

#[derive(Args)]
struct SecurityGroupAddArgs {
    /// The organization's id.
    #[arg(long)]
    org: uuid::Uuid,
    /// The group's name.
    #[arg(long)]
    name: String,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[derive(Args, Clone)]
struct Common {
    /// Address the API listens on.
    #[arg(long, env = "ROSTER_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// How long a write waits for the read models before answering `Roster-Consistency: pending`.
    #[arg(long, env = "ROSTER_CONSISTENCY_TIMEOUT_MS", default_value_t = 5000)]
    consistency_timeout_ms: u64,
    /// Install this super-admin token at start (else one is generated on first start and printed once).
    #[arg(long, env = "ROSTER_BOOTSTRAP_TOKEN", hide_env_values = true)]
    bootstrap_token: Option<String>,
    /// JetStream stream name.
    #[arg(long, env = "ROSTER_NATS_STREAM", default_value = NatsConfig::DEFAULT_STREAM)]
    nats_stream: String,
    /// Subject prefix of published events.
    #[arg(long, env = "ROSTER_NATS_SUBJECT_PREFIX", default_value = NatsConfig::DEFAULT_PREFIX)]
    nats_subject_prefix: String,
    /// How long the stream keeps events, in seconds; 0 keeps them forever.
    #[arg(long, env = "ROSTER_NATS_MAX_AGE_SECS", default_value_t = 0)]
    nats_max_age_secs: u64,
    /// How many bytes of events the stream keeps, oldest dropped first; -1 = no limit.
    #[arg(long, env = "ROSTER_NATS_MAX_BYTES", default_value_t = -1, allow_negative_numbers = true)]
    nats_max_bytes: i64,
    /// How many events the stream keeps, oldest dropped first; -1 = no limit.
    #[arg(long, env = "ROSTER_NATS_MAX_MSGS", default_value_t = -1, allow_negative_numbers = true)]
    nats_max_msgs: i64,
    /// How many servers of a NATS cluster keep a copy of the stream (3 on a 3-node cluster).
    #[arg(long, env = "ROSTER_NATS_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    nats_replicas: u8,
    /// Directory for uploaded media (default `$ROSTER_DATA_DIR/media`, `.roster/media`).
    #[arg(long, env = "ROSTER_MEDIA_DIR")]
    media_dir: Option<PathBuf>,
    /// Base of the URLs Roster hands out for uploads and downloads (default: from the request's Host).
    #[arg(long, env = "ROSTER_PUBLIC_URL")]
    public_url: Option<String>,
    /// Store media in this S3-compatible bucket instead of the filesystem (build with `--features api/s3`).
    #[arg(long, env = "ROSTER_MEDIA_S3_BUCKET")]
    media_s3_bucket: Option<String>,
    /// S3 endpoint (MinIO, R2, ...); default AWS.
    #[arg(long, env = "ROSTER_MEDIA_S3_ENDPOINT")]
    media_s3_endpoint: Option<String>,
    #[arg(long, env = "ROSTER_MEDIA_S3_REGION")]
    media_s3_region: Option<String>,
    #[arg(long, env = "ROSTER_MEDIA_S3_ACCESS_KEY_ID", hide_env_values = true)]
    media_s3_access_key_id: Option<String>,
    #[arg(long, env = "ROSTER_MEDIA_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    media_s3_secret_access_key: Option<String>,
    /// Where the notifier sends mail: `smtp://[user:password@]host[:port]`, plain SMTP to a local
    /// relay. Unset: `roster dev` writes `.eml` files to `$ROSTER_DATA_DIR/outbox/`, `serve` records
    /// EMAIL deliveries as failed.
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The `From` of the notifier's mail.
    #[arg(long, env = "ROSTER_MAIL_FROM", default_value = "Roster <roster@localhost>")]
    mail_from: String,
    /// SMS notifications are POSTed (signed JSON) to this URL.
    #[arg(long, env = "ROSTER_SMS_WEBHOOK_URL")]
    sms_webhook_url: Option<String>,
    /// PUSH notifications are POSTed (signed JSON) to this URL.
    #[arg(long, env = "ROSTER_PUSH_WEBHOOK_URL")]
    push_webhook_url: Option<String>,
    /// The key of the webhooks' HMAC-SHA256 `Roster-Signature` (required with a webhook URL).
    #[arg(long, env = "ROSTER_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Attempts at one delivery before it is recorded as failed.
    #[arg(long, env = "ROSTER_NOTIFY_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    notify_max_attempts: u32,
}

impl Common {
    fn media(&self, data_dir: Option<&std::path::Path>) -> api::workdrive::media::MediaConfig {
        use api::workdrive::media::{MediaBackend, MediaConfig};
        let backend = match &self.media_s3_bucket {
            Some(bucket) => MediaBackend::S3 {
                bucket: bucket.clone(),
                endpoint: self.media_s3_endpoint.clone(),
                region: self.media_s3_region.clone(),
                access_key_id: self.media_s3_access_key_id.clone(),
                secret_access_key: self.media_s3_secret_access_key.clone(),
            },
            None => MediaBackend::Local(self.media_dir.clone().unwrap_or_else(|| {
                let data = data_dir
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("ROSTER_DATA_DIR").map(PathBuf::from))
                    .unwrap_or_else(|| PathBuf::from(".roster"));
                data.join("media")
            })),
        };
        MediaConfig { backend, public_url: self.public_url.clone() }
    }
}

#[derive(Args)]
struct DevArgs {
    /// Where the private Postgres cluster and NATS store live.
    #[arg(long, env = "ROSTER_DATA_DIR", default_value = ".roster")]
    data_dir: PathBuf,
    #[arg(long, env = "ROSTER_DEV_PG_PORT", default_value_t = 55432)]
    pg_port: u16,
    #[arg(long, env = "ROSTER_DEV_NATS_PORT", default_value_t = 54222)]
    nats_port: u16,
    /// Use this Postgres instead of starting one (needs NATS_URL too).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Use this NATS instead of starting one (needs DATABASE_URL too).
    #[arg(long, env = "NATS_URL")]
    nats_url: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Copy, Clone, ValueEnum)]
enum Role {
    Api,
    Relay,
    Projector,
    Sealer,
    Notifier,
    All,
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// A NATS server URL, or a cluster's servers comma-separated (`nats://a:4222,nats://b:4222`).
    #[arg(long, env = "NATS_URL")]
    nats_url: String,
    /// Which part to run.
    #[arg(long, value_enum, default_value = "all")]
    role: Role,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct RebuildArgs {
    /// A projection name, or `all`.
    projection: String,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Do not draw the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// Only this organization's chain (default: every chain, system events included).
    #[arg(long)]
    org: Option<uuid::Uuid>,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Do not draw the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false, id = "who")]
struct TokenWho {
    /// Mint a token for the super admin.
    #[arg(long)]
    super_admin: bool,
    /// Mint a token for this user id.
    #[arg(long)]
    user: Option<uuid::Uuid>,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    who: TokenWho,
    /// Expire the token after this many hours (default: never).
    #[arg(long)]
    expires_in_hours: Option<i64>,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Entry point of the `roster` binary.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn,async_nats=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roster: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli, stop_signal(), &mut std::io::stdout())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs one command; long-running ones (`dev`, `serve`) stop when `stop` resolves. What a
/// command prints for the user (endpoints, a token) goes to stdout; logs go to stderr.
pub async fn execute(cli: Cli, stop: impl std::future::Future<Output = ()>, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    match cli.command {
        Command::Dev(a) => dev(a, stop, out).await,
        Command::Serve(a) => serve(a, stop, out).await,
        Command::Rebuild(a) => rebuild(a).await,
        Command::Token(a) => token(a, out).await,
        Command::Verify(a) => verify(a, out).await,
        Command::Events(EventsCommand::Tail(a)) => tail(a, stop, out).await,
        Command::SecurityGroup(SecurityGroupCommand::Add(a)) => security_group_add(a, out).await,
        Command::Projection(ProjectionCommand::Parked(a)) => parked(a, out).await,
        Command::Projection(ProjectionCommand::ReplayParked(a)) => replay_parked(a, out).await,
    }
}

fn config(database_url: String, nats_url: String, common: &Common, roles: Roles) -> Config {
    let mut cfg = Config::new(database_url, nats_url);
    cfg.bind = common.bind;
    cfg.consistency_timeout = Duration::from_millis(common.consistency_timeout_ms);
    cfg.bootstrap_token = common.bootstrap_token.clone();
    cfg.roles = roles;
    cfg.nats.stream = common.nats_stream.clone();
    cfg.nats.subject_prefix = common.nats_subject_prefix.clone();
    cfg.nats.max_age = Duration::from_secs(common.nats_max_age_secs);
    cfg.nats.max_bytes = common.nats_max_bytes;
    cfg.nats.max_messages = common.nats_max_msgs;
    cfg.nats.replicas = common.nats_replicas.into();
    cfg.media = common.media(None);
    cfg.notifier.smtp_url = common.smtp_url.clone();
    cfg.notifier.mail_from = common.mail_from.clone();
    cfg.notifier.sms_webhook_url = common.sms_webhook_url.clone();
    cfg.notifier.push_webhook_url = common.push_webhook_url.clone();
    cfg.notifier.webhook_secret = common.webhook_secret.clone();
    cfg.notifier.max_attempts = common.notify_max_attempts;
    cfg
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn dev(a: DevArgs, stop: impl std::future::Future<Output = ()>, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    let mut pg = None;
    let mut nats = None;
    let (database_url, nats_url) = match (a.database_url.clone(), a.nats_url.clone()) {
        (Some(db), Some(n)) => (db, n),
        (None, None) => {
            std::fs::create_dir_all(&a.data_dir)?;
            let data_dir = std::fs::canonicalize(&a.data_dir)?;
            eprintln!(
                "roster dev: starting Postgres on 127.0.0.1:{} and nats-server on 127.0.0.1:{} under {}",
                a.pg_port,
                a.nats_port,
                data_dir.display()
            );
            let cluster = PgCluster::start(&data_dir.join("pg"), a.pg_port, false).await?;
            cluster.create_database("roster").await?;
            let url = cluster.url("roster");
            pg = Some(cluster);
            let server = NatsServer::start(&data_dir.join("nats"), a.nats_port).await?;
            let nurl = server.url();
            nats = Some(server);
            (url, nurl)
        }
        _ => return Err("set both DATABASE_URL and NATS_URL, or neither".into()),
    };
    let mut cfg = config(database_url.clone(), nats_url.clone(), &a.common, Roles::ALL);
    cfg.media = a.common.media(Some(&a.data_dir));
    if cfg.notifier.smtp_url.is_none() {
        cfg.notifier.outbox_dir = Some(a.data_dir.join("outbox"));
    }
    let running = app::start(cfg).await?;
    let api_url = running.addr.map(|addr| format!("http://{addr}")).unwrap_or_default();
    let endpoints = serde_json::json!({
        "api_url": api_url,
        "database_url": database_url,
        "nats_url": nats_url,
        "bootstrap_token": running.generated_token,
    });
    let mut endpoints = endpoints;
    if running.generated_token.is_none() {
        if let Some(o) = endpoints.as_object_mut() {
            o.remove("bootstrap_token");
        }
    }
    std::fs::create_dir_all(&a.data_dir)?;
    std::fs::write(a.data_dir.join("endpoints.json"), serde_json::to_vec_pretty(&endpoints)?)?;
    writeln!(out, "{endpoints}")?;
    out.flush()?;
    if running.generated_token.is_some() {
        eprintln!(
            "roster dev: the super-admin token above is shown only this once; it is also in {}",
            a.data_dir.join("endpoints.json").display()
        );
    }
    eprintln!("roster dev: ready at {api_url} (Ctrl-C to stop)");
    stop.await;
    eprintln!("roster dev: stopping");
    running.shutdown().await;
    if let Some(mut n) = nats {
        let _ = n.kill().await;
    }
    if let Some(mut p) = pg {
        p.stop().await?;
    }
    Ok(())
}

async fn serve(a: ServeArgs, stop: impl std::future::Future<Output = ()>, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    let roles = match a.role {
        Role::Api => Roles { api: true, relay: false, projector: false, sealer: false, notifier: false },
        Role::Relay => Roles { api: false, relay: true, projector: false, sealer: false, notifier: false },
        Role::Projector => Roles { api: false, relay: false, projector: true, sealer: false, notifier: false },
        Role::Sealer => Roles { api: false, relay: false, projector: false, sealer: true, notifier: false },
        Role::Notifier => Roles { api: false, relay: false, projector: false, sealer: false, notifier: true },
        Role::All => Roles::ALL,
    };
    let running = app::start(config(a.database_url, a.nats_url, &a.common, roles)).await?;
    if let Some(token) = &running.generated_token {
        // Printed once, on stdout only, at the first start of a fresh database.
        writeln!(out, "{}", serde_json::json!({ "bootstrap_token": token }))?;
    }
    if let Some(addr) = running.addr {
        tracing::info!(%addr, "serving");
    }
    stop.await;
    running.shutdown().await;
    Ok(())
}

async fn rebuild(a: RebuildArgs) -> Result<(), BoxError> {
    let targets: Vec<projections::Projection> = if a.projection == "all" {
        projections::ALL.to_vec()
    } else {
        let known: Vec<&str> = projections::ALL.iter().map(|p| p.name).collect();
        vec![projections::by_name(&a.projection)
            .ok_or_else(|| format!("unknown projection '{}' (known: {}, or all)", a.projection, known.join(", ")))?]
    };
    // Two connections per projection while it replays (reading the next batch, applying this one).
    let pool = eventlog::db::connect(&a.database_url, 2 * targets.len() as u32 + 2, projections::SEARCH_PATH).await?;
    eventlog::db::migrate(&a.database_url).await?;
    for report in workers::rebuild::rebuild_all(&pool, &targets, !a.quiet).await? {
        eprintln!("rebuilt {report}");
    }
    Ok(())
}

async fn tail(a: TailArgs, stop: impl std::future::Future<Output = ()>, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    let after = match a.from.as_deref() {
        Some(p) => p.parse::<eventlog::Position>().map_err(|e| format!("--from: {e}"))?,
        None => eventlog::Position::START,
    };
    let pool = eventlog::db::connect(&a.database_url, 2, projections::SEARCH_PATH).await?;
    let mut nats = NatsConfig::new(a.nats_url);
    nats.stream = a.nats_stream;
    nats.subject_prefix = a.nats_subject_prefix;
    let (stop_tx, mut shutdown) = workers::Shutdown::new();
    let mut printed = 0u64;
    let mut failed: Option<std::io::Error> = None;
    {
        let follow = workers::tail::follow(&pool, &nats, workers::tail::TailFrom { org: a.org, after }, &mut shutdown, |e| {
            let line = if a.json { serde_json::to_string(&e).unwrap_or_default() } else { workers::tail::one_line(&e) };
            if let Err(err) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                failed = Some(err);
                return false;
            }
            printed += 1;
            a.limit.is_none_or(|n| printed < n)
        });
        tokio::pin!(follow);
        tokio::select! {
            r = &mut follow => r?,
            _ = stop => { let _ = stop_tx.send(true); }
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

async fn verify(a: VerifyArgs, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    use indicatif::{ProgressBar, ProgressStyle};
    let pool = eventlog::db::connect(&a.database_url, 2, projections::SEARCH_PATH).await?;
    eventlog::db::migrate(&a.database_url).await?;
    let total = workers::sealer::events_to_verify(&pool, a.org).await?;
    let bar = if a.quiet { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template("verify [{bar:40}] {pos}/{len} events  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut done_before = 0u64;
    let report = workers::sealer::verify(&pool, a.org, |n| {
        // `n` counts within the whole run; the bar only moves forward.
        if n > done_before {
            bar.inc(n - done_before);
            done_before = n;
        }
    })
    .await?;
    bar.finish_and_clear();
    for b in &report.breaks {
        writeln!(out, "BROKEN {}: {b}", b.kind.as_str())?;
    }
    writeln!(
        out,
        "verified {} events in {} chain(s); {} not sealed yet; {} broken chain(s)",
        report.verified,
        report.chains,
        report.unsealed,
        report.breaks.len()
    )?;
    if report.breaks.is_empty() {
        Ok(())
    } else {
        Err(format!("{} chain(s) broken; the first break: {}", report.breaks.len(), report.breaks[0]).into())
    }
}

async fn token(a: TokenArgs, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    let pool = eventlog::db::connect(&a.database_url, 2, projections::SEARCH_PATH).await?;
    eventlog::db::migrate(&a.database_url).await?;
    let store = commands::Store::new(pool);
    let now = chrono::Utc::now();
    let ctx = commands::CommandContext::system("cli", now);
    let user = match (a.who.super_admin, a.who.user) {
        (true, _) => {
            commands::handlers::user::bootstrap_super_admin(&store, now, None).await.map(|_| commands::handlers::user::SUPER_ADMIN_ID)?
        }
        (false, Some(u)) => domain::UserId(u),
        (false, None) => return Err("give --super-admin or --user <id>".into()),
    };
    let expires_at = a.expires_in_hours.map(|h| now + chrono::Duration::hours(h));
    let (_, secret) = commands::handlers::user::issue_token(&store, &ctx, None, user, expires_at, false, None).await?;
    writeln!(out, "{}", secret.unwrap_or_default())?;
    Ok(())
}

async fn security_group_add(a: SecurityGroupAddArgs, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    let pool = eventlog::db::connect(&a.database_url, 2, projections::SEARCH_PATH).await?;
    eventlog::db::migrate(&a.database_url).await?;
    let store = commands::Store::new(pool);
    let ctx = commands::CommandContext::system("cli", chrono::Utc::now());
    let committed = commands::handlers::security_group::create_security_group(&store, &ctx, domain::OrgId(a.org), a.name).await?;
    let id = committed.result.security_group_id.to_string();
    writeln!(out, "{id}")?;
    Ok(())
}

fn projections_named(name: Option<&str>) -> Result<Vec<projections::Projection>, BoxError> {
    match name {
        None => Ok(projections::ALL.to_vec()),
        Some(n) => {
            let known: Vec<&str> = projections::ALL.iter().map(|p| p.name).collect();
            Ok(vec![projections::by_name(n).ok_or_else(|| format!("unknown projection '{n}' (known: {})", known.join(", ")))?])
        }
    }
}

fn parked_line(p: &projections::parked::Parked) -> String {
    format!(
        "{} {} {}/{} event {} {} at {}, {} attempt(s): {}",
        p.parked_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        p.projection,
        p.stream_type,
        p.stream_id,
        p.event_id,
        p.event_type,
        p.position,
        p.attempts,
        p.error
    )
}

async fn parked(a: ParkedArgs, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    let names = projections_named(a.projection.as_deref())?;
    let pool = eventlog::db::connect(&a.database_url, 2, projections::SEARCH_PATH).await?;
    eventlog::db::migrate(&a.database_url).await?;
    let mut all = Vec::new();
    for p in names {
        all.extend(workers::parked::list(&pool, Some(p.name), a.stream).await?);
    }
    if a.json {
        writeln!(out, "{}", serde_json::to_string(&all)?)?;
    } else {
        for p in &all {
            writeln!(out, "{}", parked_line(p))?;
        }
        writeln!(out, "{} parked event(s)", all.len())?;
    }
    Ok(())
}

async fn replay_parked(a: ParkedArgs, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    let names = projections_named(a.projection.as_deref())?;
    let pool = eventlog::db::connect(&a.database_url, 2, projections::SEARCH_PATH).await?;
    eventlog::db::migrate(&a.database_url).await?;
    let report = workers::parked::replay(&pool, &names, a.stream).await?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        for p in &report.applied {
            writeln!(out, "APPLIED {}", parked_line(p))?;
        }
        for p in &report.failing {
            writeln!(out, "FAILING {}", parked_line(p))?;
        }
        for p in &report.behind {
            writeln!(out, "BEHIND  {}", parked_line(p))?;
        }
        writeln!(
            out,
            "applied {}; still failing {}; still parked behind them {}",
            report.applied.len(),
            report.failing.len(),
            report.behind.len()
        )?;
    }
    if report.failing.is_empty() {
        Ok(())
    } else {
        Err(format!("{} parked event(s) still fail; they and the {} behind them stay parked", report.failing.len(), report.behind.len())
            .into())
    }
}
