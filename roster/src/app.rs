//! Process wiring: configuration, the roles, and `start`, which runs the API with the relay and
//! the projection runners in one process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use api::kernel::consistency::Consistency;
use api::workdrive::media::{Media, MediaConfig, MediaSetupError};
use api::AppState;
use commands::Store;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use workers::{NatsConfig, Shutdown};

pub const DEFAULT_CONSISTENCY_TIMEOUT: Duration = Duration::from_millis(5000);

/// Which parts of Roster this process runs (`roster serve --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub relay: bool,
    pub projector: bool,
    /// The tamper-evidence sealer (one active per database, the others stand by).
    pub sealer: bool,
    /// Delivers notifications (one active per stream, the others stand by).
    pub notifier: bool,
}

impl Roles {
    pub const ALL: Roles = Roles { api: true, relay: true, projector: true, sealer: true, notifier: true };
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub nats: NatsConfig,
    pub bind: SocketAddr,
    pub consistency_timeout: Duration,
    pub bootstrap_token: Option<String>,
    pub roles: Roles,
    pub max_db_connections: u32,
    /// Where media bytes live (WorkDrive E75).
    pub media: MediaConfig,
    /// How long a login stays locked after too many failed passwords (NexPort).
    pub login_throttle: commands::throttle::ThrottlePolicy,
    /// How often the subscription expiry worker looks for subscriptions past their date.
    pub expiry_interval: Duration,
    /// How often the task reminder worker looks for reminders that fell due.
    pub task_reminder_interval: Duration,
    /// Where the notifier delivers (SMTP or outbox, webhooks, retries).
    pub notifier: workers::notifier::NotifierConfig,
}

impl Config {
    pub fn new(database_url: impl Into<String>, nats_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            nats: NatsConfig::new(nats_url),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            consistency_timeout: DEFAULT_CONSISTENCY_TIMEOUT,
            bootstrap_token: None,
            roles: Roles::ALL,
            max_db_connections: 40,
            media: MediaConfig::default(),
            login_throttle: commands::throttle::ThrottlePolicy::default(),
            expiry_interval: Duration::from_secs(1),
            task_reminder_interval: Duration::from_secs(1),
            notifier: workers::notifier::NotifierConfig::default(),
        }
    }
}

/// A running Roster: its API address (when it serves one), the first secret token it generated,
/// and the handles to stop it.
pub struct Running {
    pub addr: Option<SocketAddr>,
    pub pool: PgPool,
    pub generated_token: Option<String>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks every part to stop and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] commands::CommandError),
    #[error("{0}")]
    Media(#[from] MediaSetupError),
    #[error("nats: {0}")]
    Nats(#[from] workers::WorkerError),
    #[error("notifier: {0}")]
    Notifier(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Migrates, bootstraps the super admin, and runs the configured roles until `shutdown`.
pub async fn start(cfg: Config) -> Result<Running, StartError> {
    if cfg.roles.notifier {
        cfg.notifier.check().map_err(StartError::Notifier)?;
    }
    let pool = eventlog::db::connect(&cfg.database_url, cfg.max_db_connections, projections::SEARCH_PATH).await?;
    eventlog::db::migrate(&cfg.database_url).await?;
    let (stop, shutdown) = Shutdown::new();
    let mut tasks = Vec::new();

    if cfg.roles.relay {
        let (pool, nats, sd) = (pool.clone(), cfg.nats.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = workers::relay::run(pool, nats, sd).await {
                tracing::error!(error = %e, "relay stopped");
            }
        }));
    }
    // The expiry worker appends events, like the relay it is a singleton of the log side.
    if cfg.roles.relay {
        let (pool, interval, sd) = (pool.clone(), cfg.expiry_interval, shutdown.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = workers::expiry::run(pool, interval, sd).await {
                tracing::error!(error = %e, "subscription expiry worker stopped");
            }
        }));
    }
    // The task reminder worker appends events too: a singleton of the log side, like expiry.
    if cfg.roles.relay {
        let (pool, interval, sd) = (pool.clone(), cfg.task_reminder_interval, shutdown.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = workers::task_reminders::run(pool, interval, sd).await {
                tracing::error!(error = %e, "task reminder worker stopped");
            }
        }));
    }
    if cfg.roles.sealer {
        let (pool, sd) = (pool.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = workers::sealer::run(pool, sd).await {
                tracing::error!(error = %e, "sealer stopped");
            }
        }));
    }
    if cfg.roles.notifier {
        let (pool, nats, notifier, sd) = (pool.clone(), cfg.nats.clone(), cfg.notifier.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = workers::notifier::run(pool, nats, notifier, sd).await {
                tracing::error!(error = %e, "notifier stopped");
            }
        }));
    }
    // The runners of this process wake its read-your-writes waiters directly.
    let advances = projections::checkpoint::Advances::new();
    if cfg.roles.projector {
        for projection in projections::ALL {
            let (pool, nats, advances, sd) = (pool.clone(), cfg.nats.clone(), advances.clone(), shutdown.clone());
            tasks.push(tokio::spawn(async move {
                // A poison event is logged and recorded by the runner itself.
                let _ = workers::runner::run(pool, nats, *projection, advances, sd).await;
            }));
        }
    }

    let mut generated_token = None;
    let mut addr = None;
    if cfg.roles.api {
        let store = Store::new(pool.clone());
        let (token, position) =
            commands::handlers::user::bootstrap_super_admin(&store, chrono::Utc::now(), cfg.bootstrap_token.clone()).await?;
        generated_token = token;
        let consistency = Consistency::start(pool.clone(), &advances, shutdown.clone()).await?;
        // The super admin's token authenticates through the read model: be ready before serving.
        if let Some(p) = position {
            if !consistency.wait(p, cfg.consistency_timeout).await {
                tracing::warn!("the read models have not caught up with the bootstrap yet; is a projector running?");
            }
        }
        let media = Arc::new(Media::open(&cfg.media)?);
        let bus = api::kernel::bus::Bus::connect(&cfg.nats).await?.until(shutdown.clone());
        let state = AppState {
            pool: pool.clone(),
            store,
            consistency,
            tokens: Default::default(),
            consistency_timeout: cfg.consistency_timeout,
            media,
            login_throttle: cfg.login_throttle,
            subject_prefix: cfg.nats.subject_prefix.clone(),
            bus,
        };
        let listener = tokio::net::TcpListener::bind(cfg.bind).await.map_err(|source| StartError::Bind { addr: cfg.bind, source })?;
        addr = listener.local_addr().ok();
        let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let mut sd = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(async move { sd.wait().await }).await {
                tracing::error!(error = %e, "http server stopped");
            }
        }));
    }
    Ok(Running { addr, pool, generated_token, stop, tasks })
}
