//! The projection runner: applies events to a projection in bounded batches, exactly once
//! (DESIGN §4), one active worker per projection (a lease), poison events stop it, and rebuilds
//! run blue-green beside the active generation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use event_store::{read_after, RecordedEvent, StoreError};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{watch, Notify};

use crate::checkpoint::{self, Checkpoint, State};
use crate::metrics::ProjectorMetrics;

/// Why a batch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event at `position` (or, for a failed write, the batch starting there) cannot be
    /// applied — undecodable, breaks a read-model constraint: applying it again gives the same
    /// error, so the projection stops there.
    #[error("event at position {position} cannot be applied: {reason}")]
    Poison { position: i64, reason: String },
    /// The database failed for a reason that may pass (connection lost, serialization).
    #[error(transparent)]
    Transient(#[from] sqlx::Error),
}

impl ApplyError {
    /// A database error while applying a batch starting at `position`: connection, resource
    /// and serialization failures (SQLSTATE classes 08, 40, 53, 57, 58) and errors outside the
    /// database are retried; any other database error would recur, so it stops the projection.
    pub fn from_database(error: sqlx::Error, position: i64) -> ApplyError {
        let Some(code) = error.as_database_error().and_then(|db| db.code()) else {
            return ApplyError::Transient(error);
        };
        match code.get(..2) {
            Some("08" | "40" | "53" | "57" | "58") => ApplyError::Transient(error),
            _ => ApplyError::Poison {
                position,
                reason: error.to_string(),
            },
        }
    }
}

impl From<StoreError> for ApplyError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Database(error) => ApplyError::Transient(error),
            StoreError::Corrupt { position, reason } => ApplyError::Poison { position, reason },
            other => ApplyError::Poison {
                position: 0,
                reason: other.to_string(),
            },
        }
    }
}

/// A read model built from the events.
#[async_trait]
pub trait Projection: Send + Sync + std::fmt::Debug + 'static {
    /// Stable name (checkpoint key).
    fn name(&self) -> &'static str;
    /// Version of the projection code; a higher version than the active generation's starts a
    /// rebuild.
    fn version(&self) -> i32;
    /// Applies `events` (in cursor order) to `generation` inside the caller's transaction.
    async fn apply(
        &self,
        connection: &mut PgConnection,
        generation: i32,
        events: &[RecordedEvent],
    ) -> Result<(), ApplyError>;
    /// Deletes up to `limit` rows of a retired generation; the number deleted (0 when done).
    async fn clear(&self, pool: &PgPool, generation: i32, limit: i64) -> Result<u64, sqlx::Error>;
    /// A digest of every row of `generation` (equal digests = equal read models).
    async fn digest(&self, pool: &PgPool, generation: i32) -> Result<String, sqlx::Error>;
}

/// How a runner works.
#[derive(Clone, Debug)]
pub struct RunnerSettings {
    pub pool: PgPool,
    /// Events per batch (one transaction).
    pub batch_size: u32,
    /// How long a lease lasts without renewal; a dead worker's projection is taken over after it.
    pub lease_ttl: Duration,
    /// How often to look for new events when nothing wakes the runner.
    pub poll_interval: Duration,
    /// This worker's name (unique per process).
    pub worker: String,
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Applied this many events.
    Applied(usize),
    /// Nothing new below the horizon.
    Idle,
    /// Another worker holds the lease (or advanced first).
    Standby,
    /// Stopped: failed at a poison event, retired, or waiting for a rebuild.
    Stopped,
    /// A rebuild caught up and became the active generation (the previous one is retired).
    Swapped { retired: i32 },
}

/// Runs one projection.
#[derive(Debug)]
pub struct Runner {
    settings: RunnerSettings,
    projection: Arc<dyn Projection>,
    metrics: Arc<ProjectorMetrics>,
    system_identifier: i64,
    /// Whether retired generations may still have rows (checked once at start, set by a swap).
    retired_rows_left: AtomicBool,
    /// The active generation and a rebuild under way, as last read (and when).
    generations: std::sync::Mutex<Option<(Instant, i32, Option<i32>)>>,
}

/// Rows deleted per statement when clearing a retired generation.
const CLEAR_ROWS_PER_STEP: i64 = 5_000;
/// How often the runner looks up which generations to work on (a rebuild started elsewhere is
/// picked up within this).
const GENERATIONS_REFRESH: Duration = Duration::from_secs(1);
/// How often the runner samples the age of the oldest writing transaction.
const OLDEST_TRANSACTION_SAMPLE: Duration = Duration::from_secs(5);

impl Runner {
    /// A runner for `projection`, creating its checkpoint when missing.
    pub async fn new(
        settings: RunnerSettings,
        projection: Arc<dyn Projection>,
        metrics: Arc<ProjectorMetrics>,
    ) -> Result<Runner, sqlx::Error> {
        let system_identifier = checkpoint::system_identifier(&settings.pool).await?;
        checkpoint::ensure(
            &settings.pool,
            projection.name(),
            projection.version(),
            system_identifier,
        )
        .await?;
        Ok(Runner {
            settings,
            projection,
            metrics,
            system_identifier,
            retired_rows_left: AtomicBool::new(true),
            generations: std::sync::Mutex::new(None),
        })
    }

    /// The projection this runner applies.
    pub fn projection(&self) -> &Arc<dyn Projection> {
        &self.projection
    }

    /// One batch on `generation`. `rebuilding` generations swap in when they catch up.
    pub async fn step(&self, generation: i32, rebuilding: bool) -> Result<Step, ApplyError> {
        let name = self.projection.name();
        let settings = &self.settings;
        let Some(checkpoint) = checkpoint::acquire(
            &settings.pool,
            name,
            generation,
            &settings.worker,
            settings.lease_ttl,
        )
        .await?
        else {
            return Ok(Step::Standby);
        };
        if !rebuilding {
            self.metrics.observe_state(name, checkpoint.state);
        }
        if checkpoint.state != State::Running {
            return Ok(Step::Stopped);
        }
        if checkpoint.version > self.projection.version() {
            // Built by newer code (a rolling upgrade): this process must not write into it.
            checkpoint::release(&settings.pool, name, generation, &settings.worker).await?;
            return Ok(Step::Standby);
        }
        if checkpoint.system_identifier != self.system_identifier && rebuilding {
            // A rebuild restored from another cluster: its cursor may skip events. Start over.
            checkpoint::retire(&settings.pool, name, generation).await?;
            return Ok(Step::Stopped);
        }
        if !rebuilding && self.outdated(&checkpoint) {
            let next = checkpoint::start_rebuild(
                &settings.pool,
                name,
                self.projection.version(),
                self.system_identifier,
            )
            .await?;
            tracing::warn!(
                projection = name,
                generation,
                next,
                "the active generation was built by another code version or database cluster; rebuilding"
            );
            if checkpoint.system_identifier != self.system_identifier {
                // Cursors of another cluster may skip events: serve the old rows until the
                // rebuild swaps in, but apply nothing more to them.
                return Ok(Step::Stopped);
            }
        }
        let started = Instant::now();
        let events = match read_after(&settings.pool, checkpoint.cursor, settings.batch_size).await
        {
            Ok(events) => events,
            Err(StoreError::Corrupt { position, reason }) => {
                return self.stop_at(generation, position, &reason).await;
            }
            Err(error) => return Err(error.into()),
        };
        let Some(last) = events.last() else {
            if rebuilding {
                return self.swap(&checkpoint).await;
            }
            self.metrics.observe_caught_up(name);
            return Ok(Step::Idle);
        };
        // Apply first, advance last: the transaction gets its transaction id (which holds back
        // every gap-free reader of the cluster) only with its first write, after the events
        // were decoded, and keeps it for the few statements that follow.
        let mut transaction = settings.pool.begin().await?;
        match self
            .projection
            .apply(&mut transaction, generation, &events)
            .await
        {
            Ok(()) => {}
            Err(ApplyError::Poison { position, reason }) => {
                transaction.rollback().await?;
                return self.stop_at(generation, position, &reason).await;
            }
            Err(transient) => return Err(transient),
        }
        let advanced = checkpoint::advance(
            &mut transaction,
            name,
            generation,
            &settings.worker,
            checkpoint.cursor,
            last.cursor(),
            events.len() as i64,
            last.recorded_at,
            settings.lease_ttl,
        )
        .await?;
        if !advanced {
            // Another worker advanced first (overlapping leases): its batch stands, ours goes.
            transaction.rollback().await?;
            return Ok(Step::Standby);
        }
        transaction.commit().await?;
        self.metrics
            .observe_batch(name, events.len(), started.elapsed(), last, rebuilding);
        Ok(Step::Applied(events.len()))
    }

    /// Stops `generation` at a poison event (recorded in its checkpoint, logged, counted).
    async fn stop_at(
        &self,
        generation: i32,
        position: i64,
        reason: &str,
    ) -> Result<Step, ApplyError> {
        let name = self.projection.name();
        tracing::error!(
            projection = name,
            generation,
            position,
            %reason,
            "poison event: the projection stops here until `itsm projection resume`"
        );
        checkpoint::fail(&self.settings.pool, name, generation, position, reason).await?;
        let active = checkpoint::active_generation(&self.settings.pool, name).await?;
        if active == Some(generation) {
            self.metrics.observe_state(name, State::Failed);
        }
        Ok(Step::Stopped)
    }

    fn outdated(&self, checkpoint: &Checkpoint) -> bool {
        checkpoint.version < self.projection.version()
            || checkpoint.system_identifier != self.system_identifier
    }

    /// A rebuild that found no more events becomes the active generation, in one transaction
    /// with a fenced (no-op) advance, so a worker that lost its lease cannot swap, and with the
    /// serving checkpoint locked, so it never swaps behind the serving read model.
    async fn swap(&self, checkpoint: &Checkpoint) -> Result<Step, ApplyError> {
        let name = self.projection.name();
        let settings = &self.settings;
        let mut transaction = settings.pool.begin().await?;
        let fenced = checkpoint::advance(
            &mut transaction,
            name,
            checkpoint.generation,
            &settings.worker,
            checkpoint.cursor,
            checkpoint.cursor,
            0,
            checkpoint.last_event_at.unwrap_or_else(Utc::now),
            settings.lease_ttl,
        )
        .await?;
        let retired = checkpoint::active_generation(&settings.pool, name)
            .await?
            .unwrap_or(1);
        if !fenced
            || !checkpoint::swap(
                &mut transaction,
                name,
                checkpoint.generation,
                checkpoint.cursor,
                self.system_identifier,
            )
            .await?
        {
            transaction.rollback().await?;
            return Ok(Step::Idle);
        }
        transaction.commit().await?;
        self.retired_rows_left.store(true, Ordering::Relaxed);
        tracing::info!(
            projection = name,
            generation = checkpoint.generation,
            retired,
            "rebuild caught up; swapped in"
        );
        Ok(Step::Swapped { retired })
    }

    /// Deletes one bounded chunk of a retired generation's rows (so a live projection is never
    /// held up for long); the number deleted, 0 when none are left.
    pub async fn clear_retired_step(&self) -> Result<u64, sqlx::Error> {
        if !self.retired_rows_left.load(Ordering::Relaxed) {
            return Ok(0);
        }
        let retired: Vec<i32> = sqlx::query_scalar(
            "SELECT generation FROM projection_checkpoints WHERE name = $1 AND state = 'retired'",
        )
        .bind(self.projection.name())
        .fetch_all(&self.settings.pool)
        .await?;
        let mut deleted = 0;
        for generation in retired {
            deleted += self
                .projection
                .clear(&self.settings.pool, generation, CLEAR_ROWS_PER_STEP)
                .await?;
        }
        if deleted == 0 {
            self.retired_rows_left.store(false, Ordering::Relaxed);
        }
        Ok(deleted)
    }

    /// Deletes every row of retired generations (after `itsm projection rebuild`).
    pub async fn clear_retired(&self) -> Result<u64, sqlx::Error> {
        self.retired_rows_left.store(true, Ordering::Relaxed);
        let mut deleted = 0;
        loop {
            let rows = self.clear_retired_step().await?;
            if rows == 0 {
                return Ok(deleted);
            }
            deleted += rows;
        }
    }

    /// Builds a new generation from the first event until it is the active one (or joins a
    /// rebuild under way), then deletes the retired rows. `progress` sees each batch's checkpoint.
    pub async fn rebuild(&self, progress: impl Fn(&Checkpoint)) -> Result<i32, ApplyError> {
        let name = self.projection.name();
        let settings = &self.settings;
        let generation = checkpoint::start_rebuild(
            &settings.pool,
            name,
            self.projection.version(),
            self.system_identifier,
        )
        .await?;
        loop {
            match self.step(generation, true).await? {
                Step::Swapped { .. } => break,
                Step::Applied(_) => {
                    if let Some(checkpoint) =
                        checkpoint::load(&settings.pool, name, generation).await?
                    {
                        progress(&checkpoint);
                    }
                }
                Step::Stopped => {
                    let checkpoint = checkpoint::load(&settings.pool, name, generation).await?;
                    let active = checkpoint::active_generation(&settings.pool, name).await?;
                    if active == Some(generation) {
                        break;
                    }
                    return Err(ApplyError::Poison {
                        position: checkpoint
                            .as_ref()
                            .and_then(|checkpoint| checkpoint.failed_position)
                            .unwrap_or(0),
                        reason: checkpoint
                            .and_then(|checkpoint| checkpoint.error)
                            .unwrap_or_else(|| "the rebuild stopped".to_owned()),
                    });
                }
                Step::Idle | Step::Standby => {
                    if checkpoint::active_generation(&settings.pool, name).await?
                        == Some(generation)
                    {
                        break;
                    }
                    tokio::time::sleep(settings.poll_interval).await;
                }
            }
        }
        checkpoint::release(&settings.pool, name, generation, &settings.worker).await?;
        self.clear_retired().await?;
        Ok(generation)
    }

    /// Applies the active generation (and a rebuild under way) until `shutdown` turns true;
    /// `wake` (a command appended, a NATS message arrived) ends a wait early.
    pub async fn run(&self, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
        let name = self.projection.name();
        let settings = &self.settings;
        let mut last_sample = Instant::now() - OLDEST_TRANSACTION_SAMPLE;
        let mut generations_held: Vec<i32> = Vec::new();
        while !*shutdown.borrow() {
            // Registered before the round, so an append during the round is not missed.
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if last_sample.elapsed() >= OLDEST_TRANSACTION_SAMPLE {
                last_sample = Instant::now();
                self.sample_oldest_transaction().await;
            }
            let (worked, wait) = match self.round(&mut generations_held).await {
                Ok(outcome) => outcome,
                Err(error) => {
                    tracing::warn!(projection = name, %error, "projection step failed; retrying");
                    (false, settings.lease_ttl / 5)
                }
            };
            if worked {
                continue;
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
        for generation in generations_held {
            let _ = checkpoint::release(&settings.pool, name, generation, &settings.worker).await;
        }
    }

    /// One round over the active generation and a rebuild under way: whether anything was
    /// applied, and how long to wait otherwise.
    async fn round(&self, held: &mut Vec<i32>) -> Result<(bool, Duration), ApplyError> {
        let name = self.projection.name();
        let pool = &self.settings.pool;
        let cached = *self.generations.lock().expect("not poisoned");
        let (active, rebuild) = match cached {
            Some((read_at, active, rebuild)) if read_at.elapsed() < GENERATIONS_REFRESH => {
                (active, rebuild)
            }
            _ => {
                let active = checkpoint::ensure(
                    pool,
                    name,
                    self.projection.version(),
                    self.system_identifier,
                )
                .await?;
                let rebuild = checkpoint::pending_rebuild(pool, name).await?;
                *self.generations.lock().expect("not poisoned") =
                    Some((Instant::now(), active, rebuild));
                (active, rebuild)
            }
        };
        let mut worked = false;
        let mut standby = false;
        for (generation, rebuilding) in
            std::iter::once((active, false)).chain(rebuild.map(|generation| (generation, true)))
        {
            match self.step(generation, rebuilding).await? {
                Step::Applied(_) => worked = true,
                Step::Swapped { .. } => {
                    worked = true;
                    *self.generations.lock().expect("not poisoned") = None;
                }
                Step::Standby => standby = true,
                Step::Idle => {}
                Step::Stopped => *self.generations.lock().expect("not poisoned") = None,
            }
            if !held.contains(&generation) {
                held.push(generation);
            }
        }
        if self.clear_retired_step().await? > 0 {
            worked = true;
        }
        let wait = if standby {
            self.settings.lease_ttl / 3
        } else {
            self.settings.poll_interval
        };
        Ok((worked, wait))
    }

    async fn sample_oldest_transaction(&self) {
        let age: Result<f64, _> = sqlx::query_scalar(
            "SELECT COALESCE(EXTRACT(epoch FROM max(clock_timestamp() - xact_start)), 0)::float8 \
             FROM pg_stat_activity WHERE backend_xid IS NOT NULL",
        )
        .fetch_one(&self.settings.pool)
        .await;
        if let Ok(age) = age {
            self.metrics.oldest_writing_transaction_seconds.set(age);
        }
    }
}
