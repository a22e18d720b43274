//! Checkpoints of projections and of the relay: the gap-free cursor, the epoch it belongs to, a
//! lease that says which worker may advance it, and the fenced advance (DESIGN §4).
//!
//! Exactly-once comes from [`advance`]: it moves the cursor only from the value the worker read
//! (`WHERE last_tx = $old AND last_position = $old`), inside the transaction that writes the
//! read-model change. Two workers that both hold a stale lease cannot both commit a batch: the
//! second finds no row to update and rolls back. The lease (no session advisory lock, so it works
//! through poolers and survives nothing but its expiry) only keeps the others from wasting work.

use std::time::Duration;

use chrono::{DateTime, Utc};
use event_store::Cursor;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

/// What a checkpoint row says about its consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Applying events (or waiting for them).
    Running,
    /// Stopped at a poison event; see `error` and `failed_position`.
    Failed,
    /// Replaced by a newer generation; its rows are being removed.
    Retired,
}

impl State {
    fn parse(text: &str) -> State {
        match text {
            "failed" => State::Failed,
            "retired" => State::Retired,
            _ => State::Running,
        }
    }

    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Failed => "failed",
            State::Retired => "retired",
        }
    }
}

/// One consumer's progress.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub name: String,
    pub generation: i32,
    pub version: i32,
    pub system_identifier: i64,
    pub cursor: Cursor,
    pub events_applied: i64,
    pub state: State,
    pub error: Option<String>,
    pub failed_position: Option<i64>,
    pub leader: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
}

// A macro, not a const, so every query is one `concat!`ed literal: no SQL is built at run time.
macro_rules! columns {
    () => {
        "name, generation, version, system_identifier, last_tx, last_position, events_applied, \
         state, error, failed_position, leader, lease_until, last_event_at"
    };
}

fn decode(row: &PgRow) -> Result<Checkpoint, sqlx::Error> {
    Ok(Checkpoint {
        name: row.try_get("name")?,
        generation: row.try_get("generation")?,
        version: row.try_get("version")?,
        system_identifier: row.try_get("system_identifier")?,
        cursor: Cursor {
            transaction_id: row.try_get("last_tx")?,
            global_position: row.try_get("last_position")?,
        },
        events_applied: row.try_get("events_applied")?,
        state: State::parse(row.try_get::<&str, _>("state")?),
        error: row.try_get("error")?,
        failed_position: row.try_get("failed_position")?,
        leader: row.try_get("leader")?,
        lease_until: row.try_get("lease_until")?,
        last_event_at: row.try_get("last_event_at")?,
    })
}

/// The PostgreSQL cluster's identifier: transaction ids (and so cursors) are only comparable
/// within one cluster (DESIGN §3). A physical backup keeps it; a logical restore does not.
pub async fn system_identifier(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT system_identifier FROM pg_control_system()")
        .fetch_one(pool)
        .await
}

/// Makes sure `name` exists (generation 1 at `START`), and gives its active generation.
pub async fn ensure(
    pool: &PgPool,
    name: &str,
    version: i32,
    system_identifier: i64,
) -> Result<i32, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO projections (name, active_generation) VALUES ($1, 1) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        sqlx::query(
            "INSERT INTO projection_checkpoints (name, generation, version, system_identifier) \
             VALUES ($1, 1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(version)
        .bind(system_identifier)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    active_generation(pool, name)
        .await?
        .ok_or_else(|| sqlx::Error::RowNotFound)
}

/// The generation the query side reads, if the projection exists.
pub async fn active_generation<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    name: &str,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar("SELECT active_generation FROM projections WHERE name = $1")
        .bind(name)
        .fetch_optional(executor)
        .await
}

/// The checkpoint of the generation the query side reads.
pub async fn active(pool: &PgPool, name: &str) -> Result<Option<Checkpoint>, sqlx::Error> {
    let sql = "SELECT c.name, c.generation, c.version, c.system_identifier, c.last_tx, \
        c.last_position, c.events_applied, c.state, c.error, c.failed_position, c.leader, \
        c.lease_until, c.last_event_at \
        FROM projection_checkpoints c JOIN projections p \
          ON p.name = c.name AND p.active_generation = c.generation \
        WHERE c.name = $1";
    sqlx::query(sql)
        .bind(name)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// One generation's checkpoint.
pub async fn load(
    pool: &PgPool,
    name: &str,
    generation: i32,
) -> Result<Option<Checkpoint>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM projection_checkpoints WHERE name = $1 AND generation = $2"
    );
    sqlx::query(sql)
        .bind(name)
        .bind(generation)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Every checkpoint, by name and generation.
pub async fn all(pool: &PgPool) -> Result<Vec<Checkpoint>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM projection_checkpoints ORDER BY name, generation"
    );
    sqlx::query(sql)
        .fetch_all(pool)
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// Takes or renews the lease of `(name, generation)` for `worker` when it is free, expired or
/// already `worker`'s, and gives the checkpoint; `None` while another worker holds it.
pub async fn acquire(
    pool: &PgPool,
    name: &str,
    generation: i32,
    worker: &str,
    ttl: Duration,
) -> Result<Option<Checkpoint>, sqlx::Error> {
    let sql = concat!(
        "UPDATE projection_checkpoints \
         SET leader = $3, lease_until = clock_timestamp() + make_interval(secs => $4) \
         WHERE name = $1 AND generation = $2 \
           AND (leader IS NULL OR leader = $3 OR lease_until < clock_timestamp()) \
         RETURNING ",
        columns!()
    );
    sqlx::query(sql)
        .bind(name)
        .bind(generation)
        .bind(worker)
        .bind(ttl.as_secs_f64())
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Gives up `worker`'s lease (on shutdown), so another worker takes over at once.
pub async fn release(
    pool: &PgPool,
    name: &str,
    generation: i32,
    worker: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints SET leader = NULL, lease_until = NULL \
         WHERE name = $1 AND generation = $2 AND leader = $3",
    )
    .bind(name)
    .bind(generation)
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(())
}

/// The fenced advance, inside the caller's transaction: moves the cursor from `from` to `to` only
/// if it still is `from` and the consumer is running, and renews `worker`'s lease. `false`
/// means another worker advanced it first: the caller must roll back.
#[allow(
    clippy::too_many_arguments,
    reason = "one fenced UPDATE with its parameters"
)]
pub async fn advance(
    connection: &mut PgConnection,
    name: &str,
    generation: i32,
    worker: &str,
    from: Cursor,
    to: Cursor,
    applied: i64,
    last_event_at: DateTime<Utc>,
    ttl: Duration,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE projection_checkpoints \
         SET last_tx = $5, last_position = $6, events_applied = events_applied + $7, \
             last_event_at = $8, leader = $3, \
             lease_until = clock_timestamp() + make_interval(secs => $9), \
             updated_at = clock_timestamp() \
         WHERE name = $1 AND generation = $2 AND state = 'running' \
           AND last_tx = $4 AND last_position = $10",
    )
    .bind(name)
    .bind(generation)
    .bind(worker)
    .bind(from.transaction_id)
    .bind(to.transaction_id)
    .bind(to.global_position)
    .bind(applied)
    .bind(last_event_at)
    .bind(ttl.as_secs_f64())
    .bind(from.global_position)
    .execute(connection)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Stops `(name, generation)` at a poison event: it stays stopped (and `/readyz` says so) until an
/// operator fixes the cause and runs `itsm projection resume`.
pub async fn fail(
    pool: &PgPool,
    name: &str,
    generation: i32,
    position: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints \
         SET state = 'failed', error = $3, failed_position = $4, updated_at = clock_timestamp() \
         WHERE name = $1 AND generation = $2 AND state = 'running'",
    )
    .bind(name)
    .bind(generation)
    .bind(error)
    .bind(position)
    .execute(pool)
    .await?;
    Ok(())
}

/// Lets a failed `(name, generation)` run again (it retries the event it stopped at).
/// `itsm projection resume` calls it for every failed generation of a projection.
pub async fn resume(pool: &PgPool, name: &str, generation: i32) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE projection_checkpoints \
         SET state = 'running', error = NULL, failed_position = NULL, updated_at = clock_timestamp() \
         WHERE name = $1 AND generation = $2 AND state = 'failed'",
    )
    .bind(name)
    .bind(generation)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// The generation being built beside the active one, if a rebuild is under way.
pub async fn pending_rebuild(pool: &PgPool, name: &str) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT max(c.generation) FROM projection_checkpoints c JOIN projections p \
           ON p.name = c.name WHERE c.name = $1 AND c.generation > p.active_generation \
           AND c.state = 'running'",
    )
    .bind(name)
    .fetch_one(pool)
    .await
}

/// Starts building the next generation of `name` from the first event (or gives the one already
/// under way). The active generation keeps serving until [`swap`].
pub async fn start_rebuild(
    pool: &PgPool,
    name: &str,
    version: i32,
    system_identifier: i64,
) -> Result<i32, sqlx::Error> {
    if let Some(generation) = pending_rebuild(pool, name).await? {
        return Ok(generation);
    }
    // A rebuild that stopped at a poison event is given up: the new one starts from the first
    // event (with the code that now runs).
    sqlx::query(
        "UPDATE projection_checkpoints c SET state = 'retired', leader = NULL, lease_until = NULL, \
         updated_at = clock_timestamp() FROM projections p \
         WHERE p.name = c.name AND c.name = $1 AND c.generation > p.active_generation \
           AND c.state = 'failed'",
    )
    .bind(name)
    .execute(pool)
    .await?;
    sqlx::query_scalar(
        "INSERT INTO projection_checkpoints (name, generation, version, system_identifier) \
         SELECT $1, max(generation) + 1, $2, $3 FROM projection_checkpoints WHERE name = $1 \
         RETURNING generation",
    )
    .bind(name)
    .bind(version)
    .bind(system_identifier)
    .fetch_one(pool)
    .await
}

/// Retires a generation that is not active (a rebuild of another cluster, see `Runner::step`).
pub async fn retire(pool: &PgPool, name: &str, generation: i32) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints c SET state = 'retired', leader = NULL, lease_until = NULL, \
         updated_at = clock_timestamp() FROM projections p \
         WHERE p.name = c.name AND c.name = $1 AND c.generation = $2 \
           AND c.generation <> p.active_generation",
    )
    .bind(name)
    .bind(generation)
    .execute(pool)
    .await?;
    Ok(())
}

/// Makes `to` the active generation of `name` in the caller's transaction and retires the
/// others. The serving generation's checkpoint row is locked first and compared: if it is ahead of
/// `to` (in the same cluster), nothing changes and `false` comes back, so a consistency token the
/// serving read model passed stays passed. `false` also if `to` is already active.
pub async fn swap(
    connection: &mut PgConnection,
    name: &str,
    to: i32,
    to_cursor: Cursor,
    system_identifier: i64,
) -> Result<bool, sqlx::Error> {
    let serving = sqlx::query(
        "SELECT c.generation, c.last_tx, c.last_position, c.system_identifier \
         FROM projection_checkpoints c JOIN projections p \
           ON p.name = c.name AND p.active_generation = c.generation \
         WHERE c.name = $1 FOR UPDATE OF c, p",
    )
    .bind(name)
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(serving) = serving {
        let generation: i32 = serving.try_get("generation")?;
        let cursor = Cursor {
            transaction_id: serving.try_get("last_tx")?,
            global_position: serving.try_get("last_position")?,
        };
        let cluster: i64 = serving.try_get("system_identifier")?;
        if generation >= to || (cluster == system_identifier && cursor > to_cursor) {
            return Ok(false);
        }
    }
    let updated = sqlx::query(
        "UPDATE projections SET active_generation = $2 WHERE name = $1 AND active_generation < $2",
    )
    .bind(name)
    .bind(to)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if updated == 1 {
        sqlx::query(
            "UPDATE projection_checkpoints SET state = 'retired', leader = NULL, \
             lease_until = NULL, updated_at = clock_timestamp() \
             WHERE name = $1 AND generation < $2 AND state <> 'retired'",
        )
        .bind(name)
        .bind(to)
        .execute(connection)
        .await?;
    }
    Ok(updated == 1)
}
