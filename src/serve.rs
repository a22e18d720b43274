//! `itsm serve`: the command service, query service, projector and relay in one process, or any
//! of them alone (`--only query --only projector`), so an installation can start on one machine
//! and spread over several.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::ValueEnum;
use command_service::error::ApiError;
use event_store::audit::CheckpointKey;
use event_store::crypto::{MasterKey, PersonalDataVault};
use futures_util::StreamExt;
use projector::assets::AssetProjection;
use projector::metrics::ProjectorMetrics;
use projector::relay::{RelayMetrics, RelaySettings};
use projector::runner::{Runner, RunnerSettings};
use projector::sla::SlaProjection;
use projector::tickets::TicketProjection;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use tokio::sync::{watch, Notify};

use crate::config::Config;

/// How long a graceful shutdown waits for open connections and background tasks.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// A part of the system `itsm serve` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Component {
    /// The HTTP command API.
    Command,
    /// The HTTP query API and live updates.
    Query,
    /// The projection workers.
    Projector,
    /// The relay of events to NATS JetStream.
    Relay,
}

/// Shared by the operations endpoints of the process.
#[derive(Clone, Debug)]
struct Operations {
    pool: PgPool,
    /// Whether this process runs a projector or the relay (then its readiness includes theirs).
    runs_workers: bool,
    command_metrics: Option<Arc<command_service::metrics::Metrics>>,
    registry: Arc<Registry>,
}

impl axum::extract::FromRef<Operations> for PgPool {
    fn from_ref(operations: &Operations) -> PgPool {
        operations.pool.clone()
    }
}

/// The projector's settings from the configuration.
pub fn runner_settings(config: &Config, pool: PgPool) -> RunnerSettings {
    RunnerSettings {
        pool,
        batch_size: config.projector.batch_size,
        lease_ttl: Duration::from_millis(config.projector.lease_ttl_ms),
        poll_interval: Duration::from_millis(config.projector.poll_interval_ms),
        worker: projector::relay::worker_id(),
    }
}

/// The ticket projection's runner.
pub async fn ticket_runner(
    config: &Config,
    pool: PgPool,
    master_key: &MasterKey,
    metrics: Arc<ProjectorMetrics>,
) -> anyhow::Result<Runner> {
    let projection = TicketProjection::new(pool.clone(), PersonalDataVault::new(master_key));
    Ok(Runner::new(runner_settings(config, pool), Arc::new(projection), metrics).await?)
}

/// The SLA clock projection's runner (no keys: clocks use no personal data).
pub async fn sla_runner(
    config: &Config,
    pool: PgPool,
    metrics: Arc<ProjectorMetrics>,
) -> anyhow::Result<Runner> {
    let projection = SlaProjection::new();
    Ok(Runner::new(runner_settings(config, pool), Arc::new(projection), metrics).await?)
}

/// The CMDB projection's runner (assets, relations, sources, imports).
pub async fn asset_runner(
    config: &Config,
    pool: PgPool,
    metrics: Arc<ProjectorMetrics>,
) -> anyhow::Result<Runner> {
    let projection = AssetProjection::new();
    Ok(Runner::new(runner_settings(config, pool), Arc::new(projection), metrics).await?)
}

/// The identity projection's runner (`rm_users`: units, roles, ticket visibility).
pub async fn identity_runner(
    config: &Config,
    pool: PgPool,
    metrics: Arc<ProjectorMetrics>,
) -> anyhow::Result<Runner> {
    let projection = projector::identity::IdentityProjection::new();
    Ok(Runner::new(runner_settings(config, pool), Arc::new(projection), metrics).await?)
}

/// The runner of the projection called `name`.
pub async fn runner_of(
    name: &str,
    config: &Config,
    pool: PgPool,
    master_key: &MasterKey,
    metrics: Arc<ProjectorMetrics>,
) -> anyhow::Result<Runner> {
    match name {
        projector::TICKETS => ticket_runner(config, pool, master_key, metrics).await,
        projector::sla::SLA => sla_runner(config, pool, metrics).await,
        projector::assets::ASSETS => asset_runner(config, pool, metrics).await,
        projector::identity::IDENTITY => identity_runner(config, pool, metrics).await,
        other => anyhow::bail!(
            "unknown projection {other:?}; known: {}, {}, {}, {}",
            projector::TICKETS,
            projector::sla::SLA,
            projector::assets::ASSETS,
            projector::identity::IDENTITY
        ),
    }
}

/// Runs the chosen components until Ctrl-C or SIGTERM.
pub async fn serve(
    config: Config,
    master_key: MasterKey,
    only: Vec<Component>,
    listen: Option<String>,
    shutdown_signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<ExitCode> {
    let runs = |component| only.is_empty() || only.contains(&component);
    let pool = config
        .app_pool()
        .await
        .context("connecting to PostgreSQL")?;
    master_key.check_against(&pool).await?;
    let (stop, stopped) = watch::channel(false);
    let mut wake = Arc::new(Notify::new());
    let mut registry = Registry::default();
    let mut tasks = tokio::task::JoinSet::new();
    let nats = if runs(Component::Relay) || runs(Component::Query) || runs(Component::Projector) {
        match async_nats::connect(&config.nats.url).await {
            Ok(client) => Some(client),
            Err(error) if !runs(Component::Relay) => {
                tracing::warn!(%error, "NATS unreachable: no live updates, projector polls");
                None
            }
            Err(error) => return Err(error).context("connecting to NATS"),
        }
    } else {
        None
    };

    let mut api = Router::new();
    let mut command_metrics = None;
    let mut command_tickets = None;
    if runs(Component::Command) {
        let state = command_service::AppState::new(command_service::Settings {
            pool: pool.clone(),
            master_key: master_key.clone(),
            policy: config.ticket.clone(),
            body_bytes_max: config.server.body_bytes_max,
        })
        .with_imports(config.cmdb.imports());
        let defined = command_service::assets::seed_default_classes(&pool)
            .await
            .map_err(|error| anyhow::anyhow!("defining the default asset classes: {error}"))?;
        if defined > 0 {
            tracing::info!(
                asset_classes.defined = defined,
                "default asset classes defined"
            );
        }
        wake = state.tickets.appended();
        command_tickets = Some(state.tickets.clone());
        command_metrics = Some(state.metrics.clone());
        api = api.merge(command_service::routes(state));
    }
    if runs(Component::Query) {
        let state = query_service::AppState::new(query_service::Settings {
            pool: pool.clone(),
            nats: nats.clone(),
            subject_prefix: config.nats.subject_prefix.clone(),
            consistency_wait: Duration::from_millis(config.query.consistency_wait_ms),
            page_size_max: config.query.page_size_max,
            reopen_window: config.ticket.reopen_window,
            auditing: Some(Arc::new(query_service::audit::Auditing {
                vault: PersonalDataVault::new(&master_key),
                public_key: CheckpointKey::derive(&master_key).public_key(),
            })),
        });
        api = api.merge(query_service::routes(state));
    }
    if runs(Component::Projector) {
        let metrics = Arc::new(ProjectorMetrics::default());
        metrics.register(&mut registry);
        let runner = ticket_runner(&config, pool.clone(), &master_key, metrics.clone()).await?;
        let sla = sla_runner(&config, pool.clone(), metrics.clone()).await?;
        let assets = asset_runner(&config, pool.clone(), metrics.clone()).await?;
        let identity = identity_runner(&config, pool.clone(), metrics).await?;
        if let Some(client) = &nats {
            // Another process's appends reach us through the relay's messages: wake up early.
            let subject = format!("{}.events.>", config.nats.subject_prefix);
            let mut messages = client.subscribe(subject).await?;
            let (wake, mut stopped) = (wake.clone(), stopped.clone());
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(_) => wake.notify_waiters(),
                            None => break,
                        },
                        _ = stopped.changed() => break,
                    }
                }
            });
        }
        let (wake_tickets, runner_stopped) = (wake.clone(), stopped.clone());
        tasks.spawn(async move { runner.run(wake_tickets, runner_stopped).await });
        let (wake_sla, sla_stopped) = (wake.clone(), stopped.clone());
        tasks.spawn(async move { sla.run(wake_sla, sla_stopped).await });
        let (wake_assets, assets_stopped) = (wake.clone(), stopped.clone());
        tasks.spawn(async move { assets.run(wake_assets, assets_stopped).await });
        let (wake_identity, identity_stopped) = (wake.clone(), stopped.clone());
        tasks.spawn(async move { identity.run(wake_identity, identity_stopped).await });
        let interval = Duration::from_secs(config.projector.audit_checkpoint_interval_s);
        // The monitor records through the command path: the command service's own where it
        // runs in this process (one ticket cache, its metrics), else one of its own.
        let monitor_tickets = command_tickets.clone().unwrap_or_else(|| {
            Arc::new(command_service::tickets::TicketService::new(
                pool.clone(),
                PersonalDataVault::new(&master_key),
                config.ticket.clone(),
                Arc::new(command_service::metrics::Metrics::default()),
            ))
        });
        tasks.spawn(projector::sla_monitor::run(
            monitor_tickets,
            pool.clone(),
            Duration::from_millis(config.projector.sla_monitor_interval_ms),
            stopped.clone(),
        ));
        let audit_metrics = AuditMetrics::default();
        audit_metrics.register(&mut registry);
        tasks.spawn(checkpoint_periodically(
            pool.clone(),
            CheckpointKey::derive(&master_key),
            interval,
            audit_metrics,
            stopped.clone(),
        ));
    }
    if runs(Component::Relay) {
        let client = nats.clone().context("the relay needs NATS")?;
        let metrics = Arc::new(RelayMetrics::default());
        metrics.register(&mut registry);
        let settings = RelaySettings {
            pool: pool.clone(),
            nats: client,
            subject_prefix: config.nats.subject_prefix.clone(),
            stream: config.nats.stream.clone(),
            max_age: Duration::from_secs(config.nats.max_age_days * 86_400),
            replicas: config.nats.replicas,
            batch_size: config.projector.batch_size.min(1_000),
            lease_ttl: Duration::from_millis(config.projector.lease_ttl_ms),
            poll_interval: Duration::from_millis(config.projector.poll_interval_ms),
            worker: projector::relay::worker_id(),
        };
        let (wake, stopped) = (wake.clone(), stopped.clone());
        tasks.spawn(async move {
            if let Err(error) = projector::relay::run(settings, wake, stopped, Some(metrics)).await
            {
                tracing::error!(%error, "the relay stopped");
            }
        });
    }

    let operations = Operations {
        pool: pool.clone(),
        runs_workers: runs(Component::Projector) || runs(Component::Relay),
        command_metrics,
        registry: Arc::new(registry),
    };
    let router = command_service::edge(
        api.merge(
            Router::new()
                .route("/healthz", get(healthz))
                .route("/readyz", get(readyz))
                .route("/metrics", get(metrics))
                .route("/api/v1/openapi.json", get(openapi_document))
                .with_state(operations),
        ),
        pool.clone(),
    );
    let listen = listen.unwrap_or_else(|| config.server.listen.clone());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let components: Vec<&str> = [
        Component::Command,
        Component::Query,
        Component::Projector,
        Component::Relay,
    ]
    .into_iter()
    .filter(|component| runs(*component))
    .filter_map(|component| component.to_possible_value())
    .map(|value| value.get_name().to_owned())
    .map(|name| &*name.leak())
    .collect();
    tracing::info!(listen = %listener.local_addr()?, ?components, "serving");
    let (draining, drain_started) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown_signal.await;
        let _ = stop.send(true);
        let _ = draining.send(());
    };
    let server = command_service::serve(listener, router, shutdown);
    tokio::pin!(server);
    // Requests in flight finish; live streams (SSE) never do by themselves, so the drain is bounded.
    tokio::select! {
        served = &mut server => served?,
        () = async {
            if drain_started.await.is_ok() {
                tokio::time::sleep(DRAIN_LIMIT).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => tracing::info!("closing connections still open after the drain limit"),
    }
    if tokio::time::timeout(DRAIN_LIMIT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!("background tasks did not stop within the drain limit");
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Metrics of the audit checkpointer (prefix `itsm_audit`).
#[derive(Clone, Debug, Default)]
struct AuditMetrics {
    checkpoint_sequence: Gauge,
    checkpoint_events: Gauge,
    checkpoint_failures: Counter,
}

impl AuditMetrics {
    fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("itsm_audit");
        registry.register(
            "checkpoint_sequence",
            "Sequence number of the last store checkpoint this process signed",
            self.checkpoint_sequence.clone(),
        );
        registry.register(
            "checkpoint_events",
            "Events covered by the last store checkpoint this process signed",
            self.checkpoint_events.clone(),
        );
        registry.register(
            "checkpoint_failures",
            "Checkpoints not written (a failing database, or an event whose hash does not match its content: run `itsm audit verify`)",
            self.checkpoint_failures.clone(),
        );
    }
}

/// Appends a signed store checkpoint every `interval` (several processes may try: the sequence
/// number lets only one of them write each checkpoint).
async fn checkpoint_periodically(
    pool: PgPool,
    key: CheckpointKey,
    interval: Duration,
    metrics: AuditMetrics,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stopped.borrow() {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => continue,
        }
        match event_store::audit::write_checkpoint(&pool, &key, chrono::Utc::now()).await {
            Ok(Some(checkpoint)) => {
                metrics.checkpoint_sequence.set(checkpoint.sequence);
                metrics.checkpoint_events.set(checkpoint.event_count);
                tracing::info!(
                    sequence = checkpoint.sequence,
                    events = checkpoint.event_count,
                    "audit checkpoint signed"
                );
            }
            Ok(None) => {}
            Err(error) => {
                metrics.checkpoint_failures.inc();
                tracing::error!(%error, "audit checkpoint not written");
            }
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and, on a process that runs projector or relay, none of
/// them is stopped at a poison event (a command or query node stays in the load balancer: the
/// metric `itsm_projector_failed` and `itsm projection status` show it there).
async fn readyz(State(operations): State<Operations>) -> Result<&'static str, ApiError> {
    let failed: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(name || ' generation ' || generation, ', ') \
         FROM projection_checkpoints WHERE state = 'failed'",
    )
    .fetch_one(&operations.pool)
    .await
    .map_err(|_| ApiError::Unavailable)?;
    match failed {
        Some(stopped) if operations.runs_workers => {
            tracing::debug!(%stopped, "not ready: stopped at a poison event");
            Err(ApiError::Unavailable)
        }
        _ => Ok("ready"),
    }
}

/// The OpenAPI document of the whole HTTP API (commands and queries).
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut document = command_service::openapi::ApiDoc::openapi();
    document.merge(query_service::openapi::document());
    document.info.title = "ITSM API".to_owned();
    document.info.description = Some(
        "Commands that change tickets (every change is an immutable event) and queries over the \
         read models. Errors are RFC 9457 problem+json, German by default (`Accept-Language: en` \
         for English)."
            .to_owned(),
    );
    document
}

async fn openapi_document(_actor: command_service::auth::Actor) -> Response {
    match openapi().to_pretty_json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Prometheus text of every component in this process (one exposition, one `# EOF`).
async fn metrics(
    State(operations): State<Operations>,
    _actor: command_service::auth::Actor,
) -> Response {
    let mut text = String::new();
    if let Some(command) = &operations.command_metrics {
        text.push_str(command.render().trim_end_matches("# EOF\n"));
    }
    let mut rest = String::new();
    if prometheus_client::encoding::text::encode(&mut rest, &operations.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    text.push_str(&rest);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
