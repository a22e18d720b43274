//! The relay: tails the event store with the gap-free cursor and publishes every event to NATS
//! JetStream, advancing its own checkpoint only after JetStream acknowledged (DESIGN §5).
//!
//! Delivery is at-least-once: a batch that failed (or a worker that died) is published again from
//! the checkpoint. The header `Nats-Msg-Id: <event_id>` lets JetStream drop repeats within its
//! duplicate window; consumers dedupe by event id beyond it. The relay never decodes payloads and
//! never logs them. PostgreSQL stays the record: the checkpoint is never ahead of a PubAck.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, context::PublishError};
use async_nats::HeaderMap;
use event_store::{Cursor, RecordedEvent, StoreError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::checkpoint::{self, Checkpoint, State};
use crate::RELAY;

/// The relay has one generation: it has no read model to rebuild.
const GENERATION: i32 = 1;
/// Version of the relay's checkpoint format.
const VERSION: i32 = 1;
/// JetStream drops a repeated `Nats-Msg-Id` within this window (a retried or overlapping batch).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// The longest wait for a JetStream API reply or a PubAck.
pub const ACK_WAIT: Duration = Duration::from_secs(10);
/// First wait after a failure; doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Header carrying the event's store cursor `<transaction_id>.<global_position>`.
pub const HEADER_CURSOR: &str = "Itsm-Cursor";
/// Header carrying the event's type string (`ticket.opened`).
pub const HEADER_EVENT_TYPE: &str = "Itsm-Event-Type";

/// What the relay needs, from the caller: its I/O and its limits.
#[derive(Clone)]
pub struct RelaySettings {
    /// Connected as the application role.
    pub pool: PgPool,
    pub nats: async_nats::Client,
    /// Subjects are `<subject_prefix>.events.<stream_type>.<stream_id>`.
    pub subject_prefix: String,
    /// JetStream stream name.
    pub stream: String,
    /// How long JetStream keeps a message (the store keeps it forever).
    pub max_age: Duration,
    /// JetStream replicas: 1 on one server, 3 in a cluster.
    pub replicas: usize,
    /// Events read and published per batch (and PubAcks in flight).
    pub batch_size: u32,
    /// How long the lease lasts unless renewed; renewed every third of it.
    pub lease_ttl: Duration,
    /// The longest wait for new events when nobody wakes the relay.
    pub poll_interval: Duration,
    /// Unique per process; names the lease holder.
    pub worker: String,
}

impl RelaySettings {
    /// The documented defaults: prefix `itsm`, stream `ITSM_EVENTS`, 30 days, 1 replica, 500
    /// events a batch, a 5 s lease, a 100 ms poll, and a fresh [`worker_id`].
    pub fn new(pool: PgPool, nats: async_nats::Client) -> RelaySettings {
        RelaySettings {
            pool,
            nats,
            subject_prefix: "itsm".to_owned(),
            stream: "ITSM_EVENTS".to_owned(),
            max_age: Duration::from_secs(30 * 24 * 60 * 60),
            replicas: 1,
            batch_size: 500,
            lease_ttl: Duration::from_secs(5),
            poll_interval: Duration::from_millis(100),
            worker: worker_id(),
        }
    }
}

impl std::fmt::Debug for RelaySettings {
    /// Leaves out the pool and the client: their options can hold passwords and tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelaySettings")
            .field("subject_prefix", &self.subject_prefix)
            .field("stream", &self.stream)
            .field("max_age", &self.max_age)
            .field("replicas", &self.replicas)
            .field("batch_size", &self.batch_size)
            .field("lease_ttl", &self.lease_ttl)
            .field("poll_interval", &self.poll_interval)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

/// `<host>-<pid>-<uuid>`: unique per process, and says where the lease holder runs.
pub fn worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{host}-{}-{}", std::process::id(), Uuid::new_v4().simple())
}

/// The subject an event is published to.
pub fn subject(prefix: &str, event: &RecordedEvent) -> String {
    format!("{prefix}.events.{}.{}", event.stream_type, event.stream_id)
}

/// The stream settings the relay wants, all explicit (DESIGN §5).
pub fn stream_config(settings: &RelaySettings) -> stream::Config {
    stream::Config {
        name: settings.stream.clone(),
        subjects: vec![format!("{}.events.>", settings.subject_prefix)],
        storage: StorageType::File,
        num_replicas: settings.replicas,
        max_age: settings.max_age,
        duplicate_window: DUPLICATE_WINDOW,
        discard: DiscardPolicy::Old,
        retention: RetentionPolicy::Limits,
        ..Default::default()
    }
}

/// Creates the stream when it is missing; updates it when it exists with other settings (and
/// fails, naming the settings, when the server refuses the update, e.g. of the storage type).
pub async fn ensure_stream(
    js: &jetstream::Context,
    settings: &RelaySettings,
) -> anyhow::Result<()> {
    let wanted = stream_config(settings);
    let stream = js
        .get_or_create_stream(wanted.clone())
        .await
        .with_context(|| format!("creating JetStream stream {}", wanted.name))?;
    let differences = differences(&stream.cached_info().config, &wanted);
    if differences.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        stream.name = %wanted.name,
        stream.differences = ?differences,
        "JetStream stream has other settings than configured; updating it"
    );
    js.update_stream(wanted.clone()).await.with_context(|| {
        format!(
            "JetStream stream {} has settings {differences:?} the server will not update; \
             change or recreate the stream by hand",
            wanted.name
        )
    })?;
    Ok(())
}

/// The names of the settings the relay sets that differ between `actual` and `wanted`.
fn differences(actual: &stream::Config, wanted: &stream::Config) -> Vec<&'static str> {
    let checks = [
        ("subjects", actual.subjects != wanted.subjects),
        ("storage", actual.storage != wanted.storage),
        ("num_replicas", actual.num_replicas != wanted.num_replicas),
        ("max_age", actual.max_age != wanted.max_age),
        (
            "duplicate_window",
            actual.duplicate_window != wanted.duplicate_window,
        ),
        ("discard", actual.discard != wanted.discard),
        ("retention", actual.retention != wanted.retention),
    ];
    checks
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
}

/// The relay's Prometheus metrics; [`RelayMetrics::register`] puts them into the binary's registry.
#[derive(Debug)]
pub struct RelayMetrics {
    pub events_published: Counter,
    /// PubAcks that said "duplicate": events published again after a retry or a takeover.
    pub duplicates: Counter,
    /// Batches that failed (store, checkpoint or JetStream) and were retried.
    pub batch_failures: Counter,
    pub batch_duration_seconds: Histogram,
    /// 1 while this process holds the relay lease.
    pub leader: Gauge,
}

impl Default for RelayMetrics {
    fn default() -> Self {
        let buckets = [
            0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        RelayMetrics {
            events_published: Counter::default(),
            duplicates: Counter::default(),
            batch_failures: Counter::default(),
            batch_duration_seconds: Histogram::new(buckets),
            leader: Gauge::default(),
        }
    }
}

impl RelayMetrics {
    /// Registers the metrics under `itsm_relay_` in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("itsm_relay");
        registry.register(
            "events_published",
            "Events acknowledged by JetStream",
            self.events_published.clone(),
        );
        registry.register(
            "duplicates",
            "Events JetStream acknowledged as duplicates (published again)",
            self.duplicates.clone(),
        );
        registry.register(
            "batch_failures",
            "Batches that failed (store, checkpoint or JetStream) and were retried",
            self.batch_failures.clone(),
        );
        registry.register(
            "batch_duration_seconds",
            "Time to read, publish and acknowledge one batch and advance the checkpoint",
            self.batch_duration_seconds.clone(),
        );
        registry.register(
            "leader",
            "1 while this process holds the relay lease",
            self.leader.clone(),
        );
    }
}

/// Why a batch was not relayed.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    /// The event can never be published; retrying would stop the relay silently.
    #[error("event at position {position} cannot be relayed: {reason}")]
    Poison { position: i64, reason: &'static str },
    #[error("reading the event store failed")]
    Store(#[from] StoreError),
    #[error("checkpoint query failed")]
    Database(#[from] sqlx::Error),
    #[error("publishing to JetStream failed")]
    Publish(#[from] PublishError),
    #[error("encoding an event failed")]
    Encode(#[from] serde_json::Error),
}

/// Runs the relay until `shutdown` turns true (or its sender is dropped): standby while another
/// process holds the lease, otherwise relay batch after batch, then release the lease.
#[tracing::instrument(name = "relay", skip_all, fields(relay.worker = %settings.worker))]
pub async fn run(
    settings: RelaySettings,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    metrics: Option<Arc<RelayMetrics>>,
) -> anyhow::Result<()> {
    assert!(settings.batch_size > 0, "relay batch_size must be positive");
    let js = jetstream::ContextBuilder::new()
        .timeout(ACK_WAIT)
        .max_ack_inflight(settings.batch_size as usize)
        .backpressure_on_inflight(true)
        .build(settings.nats.clone());
    let mut relay = Relay {
        metrics: metrics.unwrap_or_default(),
        lease: None,
        failed_reported: false,
        backoff: BACKOFF_MIN,
        settings,
        js,
    };
    if relay.prepare(&mut shutdown).await {
        relay.relay_until(&wake, &mut shutdown).await;
    }
    relay.release().await
}

/// The lease this worker holds, with the checkpoint as of its last renewal or advance.
struct Lease {
    checkpoint: Checkpoint,
    /// When to renew it (and re-read the checkpoint): a third into its time, or at once after
    /// a failed batch.
    renew_at: Instant,
}

/// What one step did, which says how long to wait before the next.
enum Step {
    Relayed,
    Idle,
    Standby,
}

struct Relay {
    settings: RelaySettings,
    js: jetstream::Context,
    metrics: Arc<RelayMetrics>,
    lease: Option<Lease>,
    failed_reported: bool,
    backoff: Duration,
}

impl Relay {
    /// Makes sure the stream and the checkpoint exist, retrying until they do; `false` if
    /// shutdown came first.
    async fn prepare(&mut self, shutdown: &mut watch::Receiver<bool>) -> bool {
        while !stopping(shutdown) {
            match self.prepare_once().await {
                Ok(()) => {
                    self.backoff = BACKOFF_MIN;
                    return true;
                }
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "relay cannot start yet");
                    let wait = self.next_backoff();
                    pause(wait, None, shutdown).await;
                }
            }
        }
        false
    }

    async fn prepare_once(&self) -> anyhow::Result<()> {
        ensure_stream(&self.js, &self.settings).await?;
        let system_identifier = checkpoint::system_identifier(&self.settings.pool).await?;
        checkpoint::ensure(&self.settings.pool, RELAY, VERSION, system_identifier).await?;
        Ok(())
    }

    async fn relay_until(&mut self, wake: &Notify, shutdown: &mut watch::Receiver<bool>) {
        while !stopping(shutdown) {
            // Registered before the step, so an append during the step is not missed
            // (`notify_waiters` stores no permit).
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.step().await {
                Ok(Step::Relayed) => self.backoff = BACKOFF_MIN,
                Ok(Step::Idle) => {
                    tokio::select! {
                        () = tokio::time::sleep(self.settings.poll_interval) => {}
                        () = &mut notified => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Ok(Step::Standby) => pause(self.settings.lease_ttl / 3, None, shutdown).await,
                Err(error) => {
                    self.handle_failure(error).await;
                    let wait = self.next_backoff();
                    pause(wait, None, shutdown).await;
                }
            }
        }
    }

    /// One batch: renew the lease if due, read after the checkpoint, publish, await every PubAck,
    /// then advance the checkpoint.
    async fn step(&mut self) -> Result<Step, RelayError> {
        let Some(checkpoint) = self.renew_lease().await? else {
            return Ok(Step::Standby);
        };
        if checkpoint.state != State::Running {
            self.report_stopped(&checkpoint);
            return Ok(Step::Standby);
        }
        self.failed_reported = false;
        let started = Instant::now();
        let events = event_store::read_after(
            &self.settings.pool,
            checkpoint.cursor,
            self.settings.batch_size,
        )
        .await?;
        let Some(last) = events.last() else {
            return Ok(Step::Idle);
        };
        self.publish(&events).await?;
        self.advance(checkpoint.cursor, last, events.len()).await?;
        self.metrics
            .batch_duration_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(Step::Relayed)
    }

    /// The held lease's checkpoint; takes or renews the lease once a third of its time passed.
    async fn renew_lease(&mut self) -> Result<Option<Checkpoint>, RelayError> {
        if let Some(lease) = &self.lease {
            if Instant::now() < lease.renew_at {
                return Ok(Some(lease.checkpoint.clone()));
            }
        }
        let renew_at = Instant::now() + self.settings.lease_ttl / 3;
        let acquired = checkpoint::acquire(
            &self.settings.pool,
            RELAY,
            GENERATION,
            &self.settings.worker,
            self.settings.lease_ttl,
        )
        .await?;
        let checkpoint = match acquired {
            Some(checkpoint) => self.check_epoch(checkpoint).await?,
            None => None,
        };
        self.set_lease(checkpoint.clone().map(|checkpoint| Lease {
            checkpoint,
            renew_at,
        }));
        Ok(checkpoint)
    }

    fn set_lease(&mut self, lease: Option<Lease>) {
        match (&self.lease, &lease) {
            (None, Some(lease)) => tracing::info!(
                relay.cursor = %lease.checkpoint.cursor,
                "took the relay lease"
            ),
            (Some(_), None) => tracing::info!("lost the relay lease; standing by"),
            _ => {}
        }
        self.metrics.leader.set(i64::from(lease.is_some()));
        self.lease = lease;
    }

    /// A checkpoint from another PostgreSQL cluster (a logical restore) holds transaction ids
    /// that mean nothing here: start a new epoch from the first event (DESIGN §3). Consumers
    /// dedupe the events published again. `None` if another worker got there first.
    async fn check_epoch(&self, checkpoint: Checkpoint) -> Result<Option<Checkpoint>, RelayError> {
        let current = checkpoint::system_identifier(&self.settings.pool).await?;
        if checkpoint.system_identifier == current {
            return Ok(Some(checkpoint));
        }
        tracing::warn!(
            checkpoint.system_identifier = checkpoint.system_identifier,
            database.system_identifier = current,
            "the relay checkpoint belongs to another PostgreSQL cluster; relaying again from the \
             first event"
        );
        let updated = sqlx::query(
            "UPDATE projection_checkpoints \
             SET system_identifier = $4, last_tx = 0, last_position = 0, \
                 updated_at = clock_timestamp() \
             WHERE name = $1 AND generation = $2 AND leader = $3 AND system_identifier <> $4",
        )
        .bind(RELAY)
        .bind(GENERATION)
        .bind(&self.settings.worker)
        .bind(current)
        .execute(&self.settings.pool)
        .await?
        .rows_affected();
        Ok((updated == 1).then_some(Checkpoint {
            system_identifier: current,
            cursor: Cursor::START,
            ..checkpoint
        }))
    }

    fn report_stopped(&mut self, checkpoint: &Checkpoint) {
        if !self.failed_reported {
            tracing::error!(
                relay.state = checkpoint.state.as_str(),
                relay.failed_position = checkpoint.failed_position,
                "the relay is stopped; fix the cause and run `itsm projection resume relay`"
            );
            self.failed_reported = true;
        }
    }

    /// Publishes the whole batch, then awaits every PubAck: all in flight at once.
    async fn publish(&self, events: &[RecordedEvent]) -> Result<(), RelayError> {
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            acks.push(self.publish_one(event).await?);
        }
        for ack in acks {
            let ack = ack.await?;
            if ack.duplicate {
                self.metrics.duplicates.inc();
            }
        }
        self.metrics.events_published.inc_by(events.len() as u64);
        Ok(())
    }

    async fn publish_one(&self, event: &RecordedEvent) -> Result<PublishAckFuture, RelayError> {
        let poison = |reason| RelayError::Poison {
            position: event.global_position,
            reason,
        };
        if !is_subject_token(&event.stream_type) {
            return Err(poison("its stream type is not a NATS subject token"));
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            event.event_id.to_string(),
        );
        headers.insert(HEADER_CURSOR, event.cursor().to_string());
        headers.insert(HEADER_EVENT_TYPE, event.event_type.as_str());
        let body = serde_json::to_vec(event)?;
        let subject = subject(&self.settings.subject_prefix, event);
        match self
            .js
            .publish_with_headers(subject, headers, body.into())
            .await
        {
            Err(error) if error.kind() == PublishErrorKind::MaxPayloadExceeded => {
                Err(poison("it is larger than the NATS server's max_payload"))
            }
            other => Ok(other?),
        }
    }

    /// The fenced advance, a single UPDATE (its own transaction). `false` from it means another
    /// worker advanced meanwhile: the lease is gone, and the next step re-reads the checkpoint.
    async fn advance(
        &mut self,
        from: Cursor,
        last: &RecordedEvent,
        count: usize,
    ) -> Result<(), RelayError> {
        let mut connection = self.settings.pool.acquire().await?;
        let renew_at = Instant::now() + self.settings.lease_ttl / 3;
        let advanced = checkpoint::advance(
            &mut connection,
            RELAY,
            GENERATION,
            &self.settings.worker,
            from,
            last.cursor(),
            count as i64,
            last.recorded_at,
            self.settings.lease_ttl,
        )
        .await?;
        if !advanced {
            tracing::warn!("another relay advanced the checkpoint first; re-reading it");
            self.set_lease(None);
            return Ok(());
        }
        if let Some(lease) = &mut self.lease {
            lease.renew_at = renew_at;
            lease.checkpoint.cursor = last.cursor();
            lease.checkpoint.events_applied += count as i64;
            lease.checkpoint.last_event_at = Some(last.recorded_at);
        }
        Ok(())
    }

    /// Logs a failed step once; a poison event stops the relay, anything else is retried from
    /// the checkpoint (a missing stream is created again first).
    async fn handle_failure(&mut self, error: RelayError) {
        if let Some(lease) = &mut self.lease {
            lease.renew_at = Instant::now();
        }
        if let RelayError::Poison { position, .. } = &error {
            return self.stop_at_poison(*position, &error).await;
        }
        self.metrics.batch_failures.inc();
        tracing::warn!(
            error = %error,
            error.source = std::error::Error::source(&error).map(ToString::to_string),
            relay.backoff_ms = self.backoff.as_millis() as u64,
            "relay batch failed; retrying from the checkpoint"
        );
        let stream_missing = matches!(&error, RelayError::Publish(error)
            if error.kind() == PublishErrorKind::StreamNotFound);
        if stream_missing {
            if let Err(error) = ensure_stream(&self.js, &self.settings).await {
                tracing::warn!(error = format!("{error:#}"), "recreating the stream failed");
            }
        }
    }

    async fn stop_at_poison(&self, position: i64, error: &RelayError) {
        tracing::error!(error = %error, "stopping the relay at a poison event");
        let reason = error.to_string();
        let failed =
            checkpoint::fail(&self.settings.pool, RELAY, GENERATION, position, &reason).await;
        if let Err(error) = failed {
            tracing::warn!(error = %error, "recording the relay's failure failed");
        }
    }

    fn next_backoff(&mut self) -> Duration {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        wait
    }

    /// Gives the lease up so a standby takes over at once.
    async fn release(&mut self) -> anyhow::Result<()> {
        self.metrics.leader.set(0);
        if self.lease.take().is_some() {
            tracing::info!("releasing the relay lease");
        }
        checkpoint::release(
            &self.settings.pool,
            RELAY,
            GENERATION,
            &self.settings.worker,
        )
        .await
        .context("releasing the relay lease")
    }
}

/// Whether `token` can be one token of a subject (no separator, wildcard or whitespace).
fn is_subject_token(token: &str) -> bool {
    !token.is_empty()
        && !token
            .chars()
            .any(|c| c == '.' || c == '*' || c == '>' || c.is_whitespace())
}

/// True once shutdown was asked for, or nobody can ask any more (the sender is gone).
fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Waits `duration`, or until woken (when `wake` is given) or shutdown changes.
async fn pause(duration: Duration, wake: Option<&Notify>, shutdown: &mut watch::Receiver<bool>) {
    let woken = async {
        match wake {
            Some(wake) => wake.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        () = woken => {}
        _ = shutdown.changed() => {}
    }
}
