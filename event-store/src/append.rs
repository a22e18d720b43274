//! Appending a command's events to one stream: one statement, one transaction, optimistic
//! concurrency on the stream version, the hash chain, and the command id recorded for retries.

use serde_json::Value;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::StoreError;
use crate::hash::{event_hash, HashInput};
use crate::model::{Cursor, Metadata, NewEvent, StoredResult};

/// Events produced by one command for one stream.
#[derive(Debug)]
pub struct AppendRequest<'a> {
    pub stream_type: &'a str,
    pub stream_id: Uuid,
    /// The version the caller decided on; 0 for a new stream.
    pub expected_version: u64,
    /// The hash of the event at `expected_version` ([`crate::hash::GENESIS`] for a new stream).
    pub previous_hash: [u8; 32],
    pub metadata: &'a Metadata,
    pub events: Vec<NewEvent>,
    /// Caller-defined data returned to a retry of the same command.
    pub result: Value,
}

/// The appended events' last version, cursor and hash.
#[derive(Clone, Debug, PartialEq)]
pub struct AppendOutcome {
    pub stored: StoredResult,
    pub last_hash: [u8; 32],
}

// One round trip: the events and the processed command go in one statement. Zero rows come back
// when the event at `expected_version` does not have the caller's `previous_hash` (a stale cache
// or a gap); the unique (stream_id, stream_version) refuses a version that is already taken.
const APPEND_SQL: &str = r#"
WITH new_events AS (
    INSERT INTO events (event_id, stream_type, stream_id, stream_version, event_type, event_version,
                        payload, actor, occurred_at, origin, correlation_id, causation_id, command_id,
                        previous_hash, hash)
    SELECT e.event_id, $1, $2, e.stream_version, e.event_type, e.event_version, e.payload,
           $3, $4, $5, $6, $7, $8, e.previous_hash, e.hash
    FROM UNNEST($9::uuid[], $10::bigint[], $11::text[], $12::int[], $13::jsonb[], $14::bytea[], $15::bytea[])
         WITH ORDINALITY AS e(event_id, stream_version, event_type, event_version, payload, previous_hash, hash, n)
    WHERE $16::bigint = 0
       OR EXISTS (SELECT 1 FROM events p WHERE p.stream_id = $2 AND p.stream_version = $16 AND p.hash = $17)
    ORDER BY e.n
    RETURNING global_position, transaction_id, stream_version
), last_event AS (
    SELECT global_position, transaction_id, stream_version FROM new_events
    ORDER BY stream_version DESC LIMIT 1
), processed AS (
    INSERT INTO processed_commands (command_id, stream_id, last_version, last_position, last_transaction_id, result)
    SELECT $8, $2, stream_version, global_position, transaction_id, $18 FROM last_event
)
SELECT global_position, transaction_id::text::bigint AS transaction_id, stream_version FROM last_event
"#;

/// Appends tried on a record stream before giving up on concurrent appends.
const LOG_APPEND_ATTEMPTS_MAX: usize = 5;

/// Appends `events` at the head of a record stream — one whose events record what happened and
/// decide nothing (login records, token issue and revoke), so a concurrent append is no reason
/// to refuse: the events go after whatever is there now. Retries after a version conflict.
pub async fn append_to_log(
    pool: &PgPool,
    stream_type: &str,
    stream_id: Uuid,
    metadata: &Metadata,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome, StoreError> {
    let mut conflict = None;
    for _ in 0..LOG_APPEND_ATTEMPTS_MAX {
        let head = crate::read::stream_head(pool, stream_id).await?;
        let (expected_version, previous_hash) = head.unwrap_or((0, crate::hash::GENESIS));
        let request = AppendRequest {
            stream_type,
            stream_id,
            expected_version,
            previous_hash,
            metadata,
            events: events.clone(),
            result: Value::Object(Default::default()),
        };
        match append(pool, request).await {
            Err(error @ StoreError::VersionConflict { .. }) => conflict = Some(error),
            other => return other,
        }
    }
    Err(conflict.expect("every attempt conflicted"))
}

/// Appends `request.events` atomically after `request.expected_version`.
///
/// Errors: [`StoreError::VersionConflict`] when the stream moved on, [`StoreError::DuplicateCommand`]
/// (with the first result) when the command id was applied before.
#[tracing::instrument(skip_all, fields(stream.id = %request.stream_id, events.count = request.events.len()))]
pub async fn append(
    pool: &PgPool,
    mut request: AppendRequest<'_>,
) -> Result<AppendOutcome, StoreError> {
    assert!(
        !request.events.is_empty(),
        "append needs at least one event"
    );
    let chained = chain(&mut request);
    let row = sqlx::query(APPEND_SQL)
        .bind(request.stream_type)
        .bind(request.stream_id)
        .bind(&request.metadata.actor)
        .bind(request.metadata.occurred_at)
        .bind(&request.metadata.origin)
        .bind(request.metadata.correlation_id)
        .bind(request.metadata.causation_id)
        .bind(request.metadata.command_id)
        .bind(&chained.event_ids)
        .bind(&chained.versions)
        .bind(&chained.types)
        .bind(&chained.type_versions)
        .bind(&chained.payloads)
        .bind(&chained.previous_hashes)
        .bind(&chained.hashes)
        .bind(request.expected_version as i64)
        .bind(request.previous_hash.as_slice())
        .bind(&request.result)
        .fetch_optional(pool)
        .await;
    let conflict = || StoreError::VersionConflict {
        stream_id: request.stream_id,
        expected_version: request.expected_version,
    };
    let row = match row {
        Ok(Some(row)) => row,
        Ok(None) => return Err(conflict()),
        Err(error) => {
            return Err(classify(pool, error, request.metadata.command_id, conflict).await)
        }
    };
    let stored = StoredResult {
        stream_id: request.stream_id,
        last_version: row.try_get::<i64, _>("stream_version")? as u64,
        cursor: Cursor {
            transaction_id: row.try_get("transaction_id")?,
            global_position: row.try_get("global_position")?,
        },
        result: request.result,
    };
    Ok(AppendOutcome {
        stored,
        last_hash: chained.last_hash,
    })
}

struct Chained {
    event_ids: Vec<Uuid>,
    versions: Vec<i64>,
    types: Vec<String>,
    type_versions: Vec<i32>,
    payloads: Vec<Value>,
    previous_hashes: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
    last_hash: [u8; 32],
}

/// Hashes the events into the chain and splits them into the statement's column arrays, moving
/// (not copying) their payloads.
fn chain(request: &mut AppendRequest<'_>) -> Chained {
    let events = std::mem::take(&mut request.events);
    let count = events.len();
    let mut chained = Chained {
        event_ids: Vec::with_capacity(count),
        versions: Vec::with_capacity(count),
        types: Vec::with_capacity(count),
        type_versions: Vec::with_capacity(count),
        payloads: Vec::with_capacity(count),
        previous_hashes: Vec::with_capacity(count),
        hashes: Vec::with_capacity(count),
        last_hash: request.previous_hash,
    };
    for (index, event) in events.into_iter().enumerate() {
        let stream_version = request.expected_version + 1 + index as u64;
        let input = HashInput {
            event_id: event.event_id,
            stream_type: request.stream_type,
            stream_id: request.stream_id,
            stream_version,
            event_type: &event.event_type,
            event_version: event.event_version,
            payload: &event.payload,
            metadata: request.metadata,
        };
        let hash = event_hash(&chained.last_hash, &input);
        chained.event_ids.push(event.event_id);
        chained.versions.push(stream_version as i64);
        chained.types.push(event.event_type);
        chained.type_versions.push(event.event_version as i32);
        chained.payloads.push(event.payload);
        chained.previous_hashes.push(chained.last_hash.to_vec());
        chained.hashes.push(hash.to_vec());
        chained.last_hash = hash;
    }
    chained
}

async fn classify(
    pool: &PgPool,
    error: sqlx::Error,
    command_id: Uuid,
    conflict: impl Fn() -> StoreError,
) -> StoreError {
    let constraint = error
        .as_database_error()
        .and_then(|db| db.constraint())
        .map(str::to_owned);
    match constraint.as_deref() {
        Some("events_stream_version_key") => conflict(),
        Some("events_ticket_number_idx") => StoreError::DuplicateTicketNumber,
        Some("processed_commands_pkey") => match processed_command(pool, command_id).await {
            Ok(Some(stored)) => StoreError::DuplicateCommand(Box::new(stored)),
            Ok(None) => conflict(),
            Err(error) => error,
        },
        _ => StoreError::Database(error),
    }
}

/// The result of an already applied command, if any.
pub async fn processed_command(
    pool: &PgPool,
    command_id: Uuid,
) -> Result<Option<StoredResult>, StoreError> {
    let row = sqlx::query(
        "SELECT stream_id, last_version, last_position, last_transaction_id::text::bigint AS tx, result \
         FROM processed_commands WHERE command_id = $1",
    )
    .bind(command_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(StoredResult {
        stream_id: row.try_get("stream_id")?,
        last_version: row.try_get::<i64, _>("last_version")? as u64,
        cursor: Cursor {
            transaction_id: row.try_get("tx")?,
            global_position: row.try_get("last_position")?,
        },
        result: row.try_get("result")?,
    }))
}
