//! Typed configuration: defaults, then a TOML file, then `ITSM_<SECTION>__<KEY>` environment
//! variables (e.g. `ITSM_SERVER__LISTEN=0.0.0.0:8080`). Secrets are never printed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use domain::ticket::TicketPolicy;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// The file read unless `--config` or `ITSM_CONFIG` names another (the quick start writes it).
pub const CONFIG_FILE_DEFAULT: &str = "itsm.toml";

/// Help text listing every setting (shown by `itsm --help`).
pub const CONFIG_HELP: &str = "\
CONFIGURATION
  Read from --config FILE, else $ITSM_CONFIG, else ./itsm.toml (written by deploy/quickstart.sh),
  then overridden by environment variables ITSM_<SECTION>__<KEY>:

  [server]   listen            address to serve on            (default 127.0.0.1:8080)
             body_bytes_max    request body limit in bytes    (default 262144)
  [database] url               PostgreSQL URL of the application role (SELECT/INSERT only)
             owner_url         PostgreSQL URL of the owner role (migrations, operator commands)
             connections_max   pool size                      (default 16)
             acquire_timeout_ms                               (default 5000)
  [nats]     url               NATS URL (relay, live updates, wake-ups) (default nats://127.0.0.1:4222)
             subject_prefix    subjects <prefix>.events.<type>.<id> (default itsm)
             stream            JetStream stream of the relay  (default ITSM_EVENTS)
             max_age_days      how long the stream keeps events (default 30)
             replicas          stream replicas (1; 3 in a NATS cluster)
  [projector] batch_size       events per transaction         (default 1000)
             lease_ttl_ms      takeover after a worker died   (default 5000)
             poll_interval_ms  look for events this often     (default 100)
             audit_checkpoint_interval_s  sign a store checkpoint this often (default 300)
             sla_monitor_interval_ms  record SLA warnings/breaches this often (default 1000)
  [query]    consistency_wait_ms  wait for ?after=<token>     (default 5000)
             page_size_max     largest page of a list         (default 200)
  [crypto]   master_key        base64 of 32 random bytes; wraps the per-person keys
  [log]      format            \"pretty\" or \"json\"          (default pretty)
             filter            tracing filter, e.g. \"info,sqlx=warn\" (RUST_LOG wins)
  [ticket]   reopen_window_s   seconds a resolved ticket may be reopened (default 604800)
             priority_matrix   {impact: {urgency: priority}}
             field_definitions [{key, kind, required, options}]
  [cmdb]     missing_runs_flag flag an asset its inventory source missed this many runs in a row (default 3)
  Example: deploy/itsm.toml.example";

/// A string that never shows in `Debug` output.
#[derive(Clone, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

/// The whole configuration.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub nats: NatsConfig,
    pub projector: ProjectorConfig,
    pub query: QueryConfig,
    pub crypto: CryptoConfig,
    pub log: LogConfig,
    pub ticket: TicketPolicy,
    pub cmdb: CmdbConfig,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CmdbConfig {
    /// Runs in a row an inventory source may miss an asset before the asset is flagged missing.
    pub missing_runs_flag: u32,
}

impl Default for CmdbConfig {
    fn default() -> Self {
        Self {
            missing_runs_flag: command_service::IMPORT_SETTINGS_DEFAULT.missing_runs_flag,
        }
    }
}

impl CmdbConfig {
    /// The import settings of this configuration.
    pub fn imports(&self) -> command_service::assets::import::ImportSettings {
        command_service::assets::import::ImportSettings {
            missing_runs_flag: self.missing_runs_flag.max(1),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub body_bytes_max: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            body_bytes_max: command_service::BODY_BYTES_MAX_DEFAULT,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub owner_url: Secret,
    pub connections_max: u32,
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::default(),
            owner_url: Secret::default(),
            connections_max: 16,
            acquire_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    pub url: String,
    /// Subjects are `<subject_prefix>.events.<aggregate_type>.<aggregate_id>`.
    pub subject_prefix: String,
    /// The JetStream stream the relay publishes to.
    pub stream: String,
    pub max_age_days: u64,
    pub replicas: usize,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            subject_prefix: "itsm".into(),
            stream: "ITSM_EVENTS".into(),
            max_age_days: 30,
            replicas: 1,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectorConfig {
    /// Events per batch (one transaction).
    pub batch_size: u32,
    /// A dead worker's projection is taken over after this long.
    pub lease_ttl_ms: u64,
    /// How often to look for new events when nothing wakes the worker.
    pub poll_interval_ms: u64,
    /// How often the projector signs a store-wide audit checkpoint over the new events.
    pub audit_checkpoint_interval_s: u64,
    /// How often the SLA monitor looks for warnings and breaches that have come.
    pub sla_monitor_interval_ms: u64,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        Self {
            batch_size: 1_000,
            lease_ttl_ms: 5_000,
            poll_interval_ms: 100,
            audit_checkpoint_interval_s: 300,
            sla_monitor_interval_ms: 1_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// How long a read with `?after=<token>` waits for the projections.
    pub consistency_wait_ms: u64,
    /// Largest page a list may ask for.
    pub page_size_max: u32,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            consistency_wait_ms: 5_000,
            page_size_max: 200,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CryptoConfig {
    pub master_key: Secret,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            filter: "info,sqlx=warn,tower_http=info".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Most events one projection batch (one transaction) may hold.
const BATCH_SIZE_MAX: u32 = 10_000;
/// Shortest lease: a worker must renew it well within this, also under load.
const LEASE_TTL_MS_MIN: u64 = 200;

/// Server-side limits on every connection (DESIGN §3: keep transactions short).
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "10s";
const STATEMENT_TIMEOUT: &str = "30s";

impl Config {
    /// Loads the configuration from `path` (if it exists) and the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let path = path.map(Path::to_path_buf).unwrap_or_else(default_path);
        // Only ITSM_<SECTION>__<KEY> variables are settings; ITSM_CONFIG and the deploy
        // scripts' ITSM_PG_PORT and the like are not.
        let env = Env::prefixed("ITSM_")
            .filter(|key| key.as_str().contains("__"))
            .split("__");
        let config: Config = Figment::new()
            .merge(Toml::file(&path))
            .merge(env)
            .extract()?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that would make a worker spin, stall or never apply anything.
    fn validate(&self) -> anyhow::Result<()> {
        let projector = &self.projector;
        anyhow::ensure!(
            (1..=BATCH_SIZE_MAX).contains(&projector.batch_size),
            "projector.batch_size must be 1 to {BATCH_SIZE_MAX}"
        );
        anyhow::ensure!(
            projector.lease_ttl_ms >= LEASE_TTL_MS_MIN,
            "projector.lease_ttl_ms must be at least {LEASE_TTL_MS_MIN}"
        );
        anyhow::ensure!(
            projector.poll_interval_ms >= 1 && projector.poll_interval_ms < projector.lease_ttl_ms,
            "projector.poll_interval_ms must be at least 1 and below projector.lease_ttl_ms"
        );
        anyhow::ensure!(
            projector.sla_monitor_interval_ms >= 10,
            "projector.sla_monitor_interval_ms must be at least 10"
        );
        anyhow::ensure!(
            projector.audit_checkpoint_interval_s >= 1,
            "projector.audit_checkpoint_interval_s must be at least 1"
        );
        anyhow::ensure!(
            self.query.page_size_max >= 1,
            "query.page_size_max must be at least 1"
        );
        anyhow::ensure!(
            self.nats.replicas >= 1 && self.nats.max_age_days >= 1,
            "nats.replicas and nats.max_age_days must be at least 1"
        );
        Ok(())
    }

    /// A pool of the application role.
    pub async fn app_pool(&self) -> anyhow::Result<PgPool> {
        self.pool(&self.database.url, "database.url").await
    }

    /// A pool of the owner role (migrations and operator commands); the application role's
    /// URL when no owner URL is configured.
    pub async fn owner_pool(&self) -> anyhow::Result<PgPool> {
        if self.database.owner_url.expose().is_empty() {
            return self.app_pool().await;
        }
        self.pool(&self.database.owner_url, "database.owner_url")
            .await
    }

    async fn pool(&self, url: &Secret, key: &str) -> anyhow::Result<PgPool> {
        anyhow::ensure!(
            !url.expose().is_empty(),
            "{key} is not set (see `itsm --help`)"
        );
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(|_| anyhow::anyhow!("{key} is not a valid PostgreSQL URL"))?
            .options([
                (
                    "idle_in_transaction_session_timeout",
                    IDLE_IN_TRANSACTION_TIMEOUT,
                ),
                ("statement_timeout", STATEMENT_TIMEOUT),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(self.database.connections_max)
            .acquire_timeout(Duration::from_millis(self.database.acquire_timeout_ms))
            .after_release(|connection, _| Box::pin(outside_any_transaction(connection)))
            .connect_with(options)
            .await?;
        Ok(pool)
    }
}

/// How long the check of a connection coming back to the pool may take.
const RELEASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether a connection coming back to the pool is outside any transaction; one still inside
/// one is closed, not handed on. sqlx 0.8 returns a connection whose `begin()` was cancelled in
/// flight (a client that hung up, a request timeout) with the `BEGIN` done and nothing queued
/// to roll it back (transact-rs/sqlx#4393): the next borrower's statements would run inside that
/// stale transaction and keep their row locks, stalling every writer of those rows until the
/// statement timeout. Seen with browsers reloading pages mid-request (issue 7). Costs one round
/// trip per release.
pub async fn outside_any_transaction(
    connection: &mut sqlx::PgConnection,
) -> Result<bool, sqlx::Error> {
    // Inside a transaction begun earlier its start time is not this statement's. A simple
    // query: in the extended protocol each message restarts the statement's clock.
    let check = sqlx::Executor::fetch_one(
        connection,
        "SELECT transaction_timestamp() <> statement_timestamp() AS stale",
    );
    // A connection that cannot answer within the bound is closed too.
    let row = tokio::time::timeout(RELEASE_CHECK_TIMEOUT, check)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    let stale: bool = sqlx::Row::try_get(&row, "stale")?;
    if stale {
        tracing::warn!("closing a pooled connection left inside a transaction");
    }
    Ok(!stale)
}

fn default_path() -> PathBuf {
    std::env::var_os("ITSM_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CONFIG_FILE_DEFAULT))
}
