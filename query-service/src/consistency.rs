//! Read-your-writes: a read with `?after=<token>` waits until the ticket projection's active
//! checkpoint has passed the token (the cursor a command returned), up to a bound.
//!
//! However many requests wait, the checkpoint is read at most once per [`POLL_INTERVAL`]: the
//! waiter that finds the last reading stale refreshes it and shares the result through a `watch`
//! channel, on which the others sleep. No background task runs while nobody waits.

use std::time::Duration;

use command_service::error::ApiError;
use event_store::Cursor;
use sqlx::PgPool;
use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

/// How often waiters read the checkpoint (all waiters together).
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The ticket projection's progress as last read, shared by every waiter of a process.
#[derive(Debug)]
pub struct Consistency {
    pool: PgPool,
    current: watch::Sender<Option<Cursor>>,
    /// When the checkpoint was last read; held by the one waiter reading it.
    last_read: Mutex<Option<Instant>>,
}

impl Consistency {
    pub fn new(pool: PgPool) -> Consistency {
        Consistency {
            pool,
            current: watch::Sender::new(None),
            last_read: Mutex::new(None),
        }
    }

    /// Waits until the projection passed `token` (nothing to wait for without one); 503 with
    /// `Retry-After` after `wait`.
    pub async fn wait(&self, token: Option<Cursor>, wait: Duration) -> Result<(), ApiError> {
        let Some(token) = token else {
            return Ok(());
        };
        let started = Instant::now();
        if self.wait_until(token, started + wait).await? {
            return Ok(());
        }
        let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Err(ApiError::NotYetConsistent { waited_ms })
    }

    /// Whether the projection passed `token` before `deadline`.
    pub async fn wait_until(&self, token: Cursor, deadline: Instant) -> Result<bool, ApiError> {
        let mut receiver = self.current.subscribe();
        loop {
            if passed(*receiver.borrow_and_update(), token) {
                return Ok(true);
            }
            self.refresh().await?;
            if passed(*receiver.borrow_and_update(), token) {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let nap_until = deadline.min(now + POLL_INTERVAL);
            // Woken early when another waiter's reading changed the value.
            let _ = tokio::time::timeout_at(nap_until, receiver.changed()).await;
        }
    }

    /// Reads the active checkpoint unless someone did within `POLL_INTERVAL`.
    async fn refresh(&self) -> Result<(), ApiError> {
        let mut last_read = self.last_read.lock().await;
        if last_read.is_some_and(|at| at.elapsed() < POLL_INTERVAL) {
            return Ok(());
        }
        let checkpoint = projector::checkpoint::active(&self.pool, projector::TICKETS)
            .await
            .map_err(|error| ApiError::Unexpected(error.into()))?;
        *last_read = Some(Instant::now());
        let cursor = checkpoint.map(|checkpoint| checkpoint.cursor);
        self.current.send_if_modified(|current| {
            let changed = *current != cursor;
            *current = cursor;
            changed
        });
        Ok(())
    }
}

fn passed(current: Option<Cursor>, token: Cursor) -> bool {
    current.is_some_and(|cursor| cursor >= token)
}
